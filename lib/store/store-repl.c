/* store-repl.c - several nodes on Berkeley DB 5.3's replication manager (repmgr).
 *
 * Off unless farm_store_repl_set() was given a local site (replication.local): then
 * every environment this process opens is a replicated one (DB_INIT_REP), the sites
 * are configured before DB_ENV->open, and:
 *
 *   - one process per node is repmgr's "replication process" (the listener): the
 *     farm-fcgi master's replication child, which opens with FARM_STORE_REPL_LISTENER,
 *     starts repmgr with elections and holds "<dir>/repl.lock" (its pid) while it
 *     runs.  It opens no database: it only carries the node's replication traffic.
 *   - every other process (pool workers, farm-eventd, farm-wsd, farm-runner,
 *     farmctl, the master's checkpoint child) starts repmgr as a subordinate: repmgr
 *     opens its outgoing connections there, so that the log records of a transaction
 *     committed in that process reach the replicas (their acknowledgements: farm's
 *     own, store-acks.c).  A subordinate refuses to start while no listener
 *     runs (FARM_E_UNAVAIL), so that a short-lived process never takes the listener
 *     role in its place.
 *
 * The group is formed from the configuration: the local site and every peer are
 * DB_LEGACY sites, so the first start of a node writes that membership without
 * needing a group creator; replication.join instead asks the peers (bootstrap
 * helpers) to add this node to a running group.  docs/replication.md says how to
 * operate it.
 *
 * Outcomes: a write on a replica fails in Berkeley DB with EACCES ("read-only"),
 * mapped to FARM_E_NOTMASTER (store_code); a commit that the replicas its policy asks
 * did not acknowledge within replication.ack_timeout returns FARM_E_TIMEOUT instead of
 * FARM_OK (farm's wait, store-acks.c, for quorum, all and one; for the other
 * policies Berkeley DB's, which fires DB_EVENT_REP_PERM_FAILED in the committing
 * thread).
 */
#include "store-int.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

enum {
	REPL_MAX_SITES = 16,
	REPL_HOST_MAX = 256,
	REPL_THREADS = 3, /* message threads of the listener */
};

struct repl_site {
	char host[REPL_HOST_MAX];
	unsigned port;
};

static struct {
	int on;
	struct repl_site local;
	struct repl_site peers[REPL_MAX_SITES];
	int npeers;
	int priority;
	int ack_policy;
	int farm_acks; /* the commit waits in store-acks.c, not in Berkeley DB */
	unsigned ack_timeout_ms;
	int join;
	int strict_2site;
} repl;

/* This process is the node's listener (it holds repl.lock: never opened again here,
 * a close would drop the lock). */
static int is_listener;
/* repmgr runs in this process (listener or subordinate): connection states are this
 * process's own connections, which a subordinate opens to every site. */
static int started;

/* Set by DB_EVENT_REP_PERM_FAILED in the thread whose commit was not acknowledged. */
static _Thread_local int perm_failed;

/* This process is (becoming) the listener: its repmgr sockets get TCP_USER_TIMEOUT.
 * Set before repmgr_start, whose threads connect at once. */
static int timeouts;

/* DB_REP_HANDLE_DEAD seen in this process (farm_store_repl_stale). */
static int handles_dead;

/* The listener's step-down clock (farm_store_repl_check): since when this master has
 * seen fewer than a majority of the group connected; 0 while it sees enough. */
static uint64_t short_since_ms;

/* --- TCP_NODELAY on repmgr's connections ----------------------------------------------
 *
 * Berkeley DB 5.3's repmgr never sets TCP_NODELAY.  A commit's log record and the
 * replica's acknowledgement are small messages, so Nagle's algorithm holds one back
 * until the peer's delayed ACK (40 ms on Linux): every commit waited ~45 ms for its
 * quorum (sequential credential writes on 3 nodes: 45-55 ms each against ~5 ms on one;
 * 65 writes/s from 16 clients).  libdb calls connect() and accept() through the
 * dynamic linker, so this file's definitions, in the executable, come first: while
 * replication is on they set TCP_NODELAY on every TCP socket the process connects or
 * accepts (libcurl and ZeroMQ set it themselves anyway) and call libc's. */
static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* --- TCP_USER_TIMEOUT on repmgr's connections -------------------------------------------
 *
 * A master does not monitor heartbeats (only replicas do), and over a cut link its TCP
 * connections to the replicas stay established: what it sends is retransmitted with
 * an exponential back-off for ~15 minutes.  It therefore saw its peers as connected for
 * as long as the cut lasted, could not know it had lost its quorum, and after the heal
 * met the new master only when a retransmission happened to get through (130 s seen):
 * only then came DB_EVENT_REP_DUPMASTER.  With TCP_USER_TIMEOUT, a connection whose
 * data (the master's heartbeats, every 0.5 s) stays unacknowledged this long is closed
 * by the kernel with ETIMEDOUT, repmgr marks the site disconnected and reconnects every
 * DB_REP_CONNECTION_RETRY; the timeout bounds a connect() (SYN retries) too, so a
 * connection is made again within about a second of the heal.  An idle connection has
 * no data to time out: keepalive probes it every second (the user timeout then decides
 * when it is dead).  Only repmgr's sockets (those connected to a peer's repmgr port,
 * and those accepted on this node's), and only in the listener, whose view of the
 * group decides the step-down (farm_store_repl_check): a subordinate's connection to
 * a frozen (SIGSTOP) replica, closed by the timeout of its zero window and made again,
 * held up that process's commits for several seconds each (504s in t9500's frozen-
 * replica test), where a connection left congested did not. */
enum { REPL_TCP_USER_TIMEOUT_MS = 3000 };

static void user_timeout(int fd)
{
	unsigned ms = REPL_TCP_USER_TIMEOUT_MS;
	int on = 1, idle = 1, intvl = 1, cnt = 3;

	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
	/* A site may have two connections (one each way) and repmgr sends on one: the
	 * idle one has nothing to time out, so keepalive probes it every second. */
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static unsigned sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

static int peer_port(unsigned port)
{
	for (int i = 0; i < repl.npeers; i++)
		if (repl.peers[i].port == port)
			return 1;
	return 0;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "connect");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (repl.on && sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)) {
		nodelay(fd);
		if (timeouts && peer_port(sa_port(sa)))
			user_timeout(fd);
	}
	return real(fd, sa, len);
}

int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	static int (*real)(int, struct sockaddr *, socklen_t *);
	int c;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "accept");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	c = real(fd, sa, len);
	if (c >= 0 && repl.on) {
		struct sockaddr_storage me;
		socklen_t mlen = sizeof(me);

		nodelay(c); /* EOPNOTSUPP on a unix socket: nothing happens */
		if (timeouts && getsockname(fd, (struct sockaddr *)&me, &mlen) == 0 &&
		    sa_port((struct sockaddr *)&me) == repl.local.port)
			user_timeout(c); /* accepted on this node's repmgr port */
	}
	return c;
}

static int parse_site(const char *s, size_t len, struct repl_site *out)
{
	const char *colon = NULL;
	char port[8];
	long p;
	char *end;

	for (size_t i = 0; i < len; i++)
		if (s[i] == ':')
			colon = s + i;
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(out->host) ||
	    (size_t)(s + len - colon - 1) >= sizeof(port) || s + len - colon - 1 == 0)
		return FARM_E_INVAL;
	memcpy(out->host, s, (size_t)(colon - s));
	out->host[colon - s] = '\0';
	memcpy(port, colon + 1, (size_t)(s + len - colon - 1));
	port[s + len - colon - 1] = '\0';
	p = strtol(port, &end, 10);
	if (*end || p < 1 || p > 65535)
		return FARM_E_INVAL;
	out->port = (unsigned)p;
	return FARM_OK;
}

int farm_store_repl_policy(const char *name)
{
	static const struct {
		const char *name;
		int policy;
	} t[] = {
		{"quorum", DB_REPMGR_ACKS_QUORUM},
		{"all", DB_REPMGR_ACKS_ALL},
		{"all_available", DB_REPMGR_ACKS_ALL_AVAILABLE},
		{"all_peers", DB_REPMGR_ACKS_ALL_PEERS},
		{"one", DB_REPMGR_ACKS_ONE},
		{"one_peer", DB_REPMGR_ACKS_ONE_PEER},
		{"none", DB_REPMGR_ACKS_NONE},
	};

	for (size_t i = 0; name && i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(name, t[i].name))
			return t[i].policy;
	return -1;
}

int farm_store_repl_set(const struct farm_store_repl_conf *c, struct farm_error *err)
{
	const char *p;

	memset(&repl, 0, sizeof(repl));
	if (!c || !c->local || !*c->local)
		return FARM_OK;
	if (parse_site(c->local, strlen(c->local), &repl.local) != FARM_OK)
		return farm_error_set(err, FARM_E_CONFIG,
				      "replication.local must be host:port");
	for (p = c->peers ? c->peers : ""; *p;) {
		size_t n = strcspn(p, ", ");
		if (n) {
			if (repl.npeers >= REPL_MAX_SITES)
				return farm_error_set(err, FARM_E_CONFIG,
						      "replication.peers: at most %d peers",
						      REPL_MAX_SITES);
			if (parse_site(p, n, &repl.peers[repl.npeers]) != FARM_OK)
				return farm_error_set(err, FARM_E_CONFIG,
						      "replication.peers must be host:port,...");
			repl.npeers++;
		}
		p += n;
		p += strspn(p, ", ");
	}
	if ((repl.ack_policy = farm_store_repl_policy(c->ack_policy ? c->ack_policy
								    : "quorum")) < 0)
		return farm_error_set(err, FARM_E_CONFIG,
				      "replication.ack_policy: quorum, all, all_available, "
				      "all_peers, one, one_peer or none");
	repl.farm_acks = repl.ack_policy == DB_REPMGR_ACKS_QUORUM ||
			 repl.ack_policy == DB_REPMGR_ACKS_ALL || repl.ack_policy == DB_REPMGR_ACKS_ONE;
	repl.priority = c->priority;
	repl.ack_timeout_ms = c->ack_timeout_ms ? c->ack_timeout_ms : 2000;
	repl.join = c->join;
	repl.strict_2site = c->strict_2site;
	repl.on = 1;
	return FARM_OK;
}

int farm_store_repl_on(void)
{
	return repl.on;
}

static void store_repl_event(DB_ENV *env, u_int32_t event, void *info)
{
	(void)env;
	(void)info;
	switch (event) {
	case DB_EVENT_REP_PERM_FAILED:
		perm_failed = 1;
		break;
	case DB_EVENT_REP_MASTER:
		fprintf(stderr, "store: replication: this node is the master\n");
		break;
	case DB_EVENT_REP_CLIENT:
		fprintf(stderr, "store: replication: this node is a replica\n");
		break;
	case DB_EVENT_REP_NEWMASTER:
		fprintf(stderr, "store: replication: new master (site %d)\n",
			info ? *(int *)info : -1);
		break;
	case DB_EVENT_REP_ELECTED:
		fprintf(stderr, "store: replication: won an election\n");
		break;
	case DB_EVENT_REP_ELECTION_FAILED:
		fprintf(stderr, "store: replication: election failed (no quorum yet)\n");
		break;
	case DB_EVENT_REP_STARTUPDONE:
		fprintf(stderr, "store: replication: caught up with the master\n");
		break;
	case DB_EVENT_REP_DUPMASTER:
		fprintf(stderr, "store: replication: two masters seen; this one steps down\n");
		break;
	case DB_EVENT_REP_INIT_DONE:
		fprintf(stderr, "store: replication: internal init done\n");
		break;
	case DB_EVENT_REP_JOIN_FAILURE:
		fprintf(stderr, "store: replication: could not join the group\n");
		break;
	default:
		break;
	}
}

static int site_config(DB_ENV *env, const struct repl_site *site, int local)
{
	DB_SITE *ds = NULL;
	int rc;

	if ((rc = env->repmgr_site(env, site->host, site->port, &ds, 0)) != 0)
		return rc;
	if (local)
		rc = ds->set_config(ds, DB_LOCAL_SITE, 1);
	if (rc == 0 && !repl.join)
		rc = ds->set_config(ds, DB_LEGACY, 1);
	if (rc == 0 && !local && repl.join)
		rc = ds->set_config(ds, DB_BOOTSTRAP_HELPER, 1);
	if (rc == 0 && !local)
		rc = ds->set_config(ds, DB_REPMGR_PEER, 1);
	ds->close(ds);
	return rc;
}

/* Before DB_ENV->open: DB_INIT_REP's settings.  0 or a Berkeley DB error. */
int store_repl_configure(DB_ENV *env, u_int32_t *oflags)
{
	int rc;

	if (!repl.on)
		return 0;
	*oflags |= DB_INIT_REP;
	/* Commits made on this node write their record without an fsync: store-txn.c
	 * flushes its own commits explicitly (the group commit), whatever this flag says.
	 * (A replica applying the master's commits flushes its log after each, fsync
	 * included, unless DB_TXN_NOSYNC: this flag does not change that.) */
	if ((rc = env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1)) != 0)
		return rc;
	if ((rc = env->set_event_notify(env, store_repl_event)) != 0 ||
	    (rc = site_config(env, &repl.local, 1)) != 0)
		return rc;
	for (int i = 0; i < repl.npeers; i++)
		if ((rc = site_config(env, &repl.peers[i], 0)) != 0)
			return rc;
	/* With farm's acknowledgements (store-acks.c) Berkeley DB waits for none: the
	 * commit releases its locks first, then waits there. */
	if ((rc = env->repmgr_set_ack_policy(env, repl.farm_acks ? DB_REPMGR_ACKS_NONE
								 : repl.ack_policy)) != 0 ||
	    (rc = env->rep_set_priority(env, (u_int32_t)repl.priority)) != 0 ||
	    (rc = env->rep_set_timeout(env, DB_REP_ACK_TIMEOUT, repl.ack_timeout_ms * 1000)) != 0 ||
	    (rc = env->rep_set_timeout(env, DB_REP_ELECTION_TIMEOUT, 2000000)) != 0 ||
	    (rc = env->rep_set_timeout(env, DB_REP_ELECTION_RETRY, 1000000)) != 0 ||
	    (rc = env->rep_set_timeout(env, DB_REP_CONNECTION_RETRY, 1000000)) != 0 ||
	    (rc = env->rep_set_timeout(env, DB_REP_HEARTBEAT_SEND, 500000)) != 0 ||
	    (rc = env->rep_set_timeout(env, DB_REP_HEARTBEAT_MONITOR, 2000000)) != 0 ||
	    /* A master's checkpoint waits this long after telling the replicas to sync
	     * their caches, before it writes the checkpoint record, holding the
	     * environment meanwhile, so a step-down (farm_store_repl_check) may wait for
	     * it.  Shorter delays (0, 5 s) made the replicas' acks miss ack_timeout around
	     * a checkpoint (2 of 60 writes 504 in most runs of t9500's frozen-replica
	     * step): Berkeley DB's default, explicitly. */
	    (rc = env->rep_set_timeout(env, DB_REP_CHECKPOINT_DELAY, 30000000)) != 0 ||
	    (rc = env->rep_set_config(env, DB_REPMGR_CONF_2SITE_STRICT,
				      repl.strict_2site ? 1 : 0)) != 0 ||
	    /* A call meeting a lockout returns DB_REP_LOCKOUT instead of sleeping in
	     * steps of 5 s: farm retries it in short steps (store_lockout_sleep).  The
	     * setting is the region's: the recovering process that creates it sets it. */
	    (rc = env->rep_set_config(env, DB_REP_CONF_NOWAIT, 1)) != 0 ||
	    /* Bulk transfer: the master gathers a transaction's log records (and those
	     * of others committing meanwhile) and sends them as one message when a
	     * commit is written, instead of one message per record: a replica wakes
	     * and writes once per commit.  bench-replication's writes to a 3-node
	     * master: 538 against 344/s without (farm's acks, same day). */
	    (rc = env->rep_set_config(env, DB_REP_CONF_BULK, 1)) != 0)
		return rc;
	return 0;
}

/* 1 when a live process holds "<dir>/repl.lock" (the listener). */
static int listener_alive(const char *dir)
{
	char path[PATH_MAX];
	struct flock l;
	int fd, alive = 0;

	if (snprintf(path, sizeof(path), "%s/repl.lock", dir) >= (int)sizeof(path))
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	memset(&l, 0, sizeof(l));
	l.l_type = F_WRLCK;
	l.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &l) == 0 && l.l_type != F_UNLCK && l.l_pid > 0)
		alive = 1;
	close(fd);
	return alive;
}

/* After DB_ENV->open.  The listener starts repmgr with elections; any other process
 * as a subordinate, and only while a listener runs. */
int store_repl_start(struct farm_store *s, unsigned flags, struct farm_error *err)
{
	int rc;

	if (!repl.on)
		return FARM_OK;
	handles_dead = 0; /* this open's handles are new */
	if (flags & FARM_STORE_REPL_LISTENER) {
		/* A listener that died left its pid in the region: failchk clears it. */
		s->env->failchk(s->env, 0);
		timeouts = 1;
		if (repl.farm_acks) {
			char site[REPL_HOST_MAX + 8];
			snprintf(site, sizeof(site), "%s:%u", repl.local.host, repl.local.port);
			if ((rc = store_acks_listener_begin(s, site)) != 0)
				return farm_error_set(err, store_code(rc),
						      "store: replication acks: %s", db_strerror(rc));
		}
		rc = s->env->repmgr_start(s->env, REPL_THREADS, DB_REP_ELECTION);
		if (rc == DB_REP_IGNORE)
			return farm_error_set(err, FARM_E_CONFLICT,
					      "store: another process is the replication listener");
		if (rc != 0)
			return farm_error_set(err, store_code(rc), "store: repmgr_start: %s",
					      db_strerror(rc));
		is_listener = started = 1;
		if (repl.farm_acks && (rc = store_acks_listener_start(s)) != 0)
			return farm_error_set(err, FARM_E_NOMEM,
					      "store: replication acks: no reporter thread");
		return FARM_OK;
	}
	if (flags & FARM_STORE_REPL_PASSIVE)
		return FARM_OK;
	if (!listener_alive(s->dir))
		return farm_error_set(err, FARM_E_UNAVAIL,
				      "store: the replication process of this node is not running");
	rc = s->env->repmgr_start(s->env, 0, DB_REP_CLIENT);
	if (rc != 0 && rc != DB_REP_IGNORE)
		return farm_error_set(err, store_code(rc), "store: repmgr_start (subordinate): %s",
				      db_strerror(rc));
	started = 1;
	return FARM_OK;
}

void store_repl_handles_dead(void)
{
	__atomic_store_n(&handles_dead, 1, __ATOMIC_RELAXED);
}

int farm_store_repl_stale(void)
{
	return __atomic_load_n(&handles_dead, __ATOMIC_RELAXED);
}

int farm_store_repl_probe(struct farm_store *s)
{
	DB_TXN *tid = NULL;
	DBT key, val;
	char k = 0;
	int rc;

	if (!repl.on || !s || !s->db[FARM_T_META] || farm_store_repl_stale())
		return farm_store_repl_stale();
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	key.data = &k;
	key.size = 1;
	val.flags = DB_DBT_USERMEM; /* nothing is copied: ulen 0 */
	/* In a transaction: without one, a get meeting a lockout of operations sleeps 5 s
	 * (__db_rep_enter) before it returns a deadlock; with one, at once (the next
	 * probe looks again). */
	STORE_LOCKOUT_RETRY(rc, s->env->txn_begin(s->env, NULL, &tid, 0));
	if (rc != 0)
		return farm_store_repl_stale();
	rc = s->db[FARM_T_META]->get(s->db[FARM_T_META], tid, &key, &val, 0);
	if (rc == DB_REP_HANDLE_DEAD)
		store_repl_handles_dead();
	tid->abort(tid);
	return farm_store_repl_stale();
}

/* This master becomes a replica.  Berkeley DB 5.3's repmgr lets a running listener
 * change its role only while elections are off (__repmgr_restart): they are turned
 * off, the role set to client, and turned on again, which makes repmgr look for a
 * master (an election among the others).  1, or a FARM_E_*. */
static int step_down(struct farm_store *s)
{
	int rc, on;

	if ((rc = s->env->rep_set_config(s->env, DB_REPMGR_CONF_ELECTIONS, 0)) == 0) {
		rc = s->env->repmgr_start(s->env, 0, DB_REP_CLIENT);
		on = s->env->rep_set_config(s->env, DB_REPMGR_CONF_ELECTIONS, 1);
		if (rc == 0)
			rc = on;
	}
	return rc == 0 ? 1 : store_code(rc);
}

/* Step down a master that lost its quorum (store.h).  Berkeley DB 5.3's repmgr lets a
 * running listener change its role only while elections are off (__repmgr_restart):
 * they are turned off, the role set to client, and turned on again, which makes
 * repmgr look for a master (an election, which this side of a partition cannot win;
 * after the heal it finds the new master and syncs with it, rolling back what it
 * committed unacknowledged).  A group that a lone master may serve (one site; two
 * sites without 2SITE_STRICT) never steps down. */
int farm_store_repl_check(struct farm_store *s)
{
	DB_REP_STAT *st = NULL;
	DB_REPMGR_SITE *list = NULL;
	u_int count = 0, connected = 0, nsites, need;
	int master;

	if (!repl.on || !is_listener || !s || !s->env)
		return 0;
	if (s->env->rep_stat(s->env, &st, 0) != 0 || !st)
		return 0;
	master = st->st_status == DB_REP_MASTER;
	free(st);
	if (!master || s->env->repmgr_site_list(s->env, &count, &list) != 0) {
		store_acks_connected(s, -1);
		short_since_ms = 0;
		return 0;
	}
	for (u_int i = 0; i < count; i++)
		connected += list[i].status == DB_REPMGR_CONNECTED;
	free(list);
	store_acks_connected(s, (int)connected);
	nsites = count + 1;
	need = nsites / 2; /* peers for a majority with this site */
	if (nsites == 2 && !repl.strict_2site)
		need = 0;
	if (connected >= need) {
		short_since_ms = 0;
		return 0;
	}
	if (!short_since_ms) {
		short_since_ms = store_now_ms();
		return 2;
	}
	if (store_now_ms() - short_since_ms < FARM_REPL_STEPDOWN_MS)
		return 0;
	short_since_ms = 0;
	return step_down(s);
}

/* The listener: a master short of space gives the group to a node with room
 * (store.h).  full_since_ms: since when this master has been short of space. */
static uint64_t full_since_ms;
static int full_priority0;

int farm_store_repl_space_check(struct farm_store *s)
{
	DB_REP_STAT *st = NULL;
	DB_REPMGR_SITE *list = NULL;
	u_int count = 0, connected = 0;
	int master, full, rc;

	if (!repl.on || !is_listener || !s || !s->env)
		return 0;
	full = farm_store_space(s) == FARM_E_NOSPACE;
	if (!full) {
		full_since_ms = 0;
		if (!full_priority0)
			return 0;
		/* Room again: this node may be elected again. */
		if ((rc = s->env->rep_set_priority(s->env, (u_int32_t)repl.priority)) != 0)
			return store_code(rc);
		full_priority0 = 0;
		return 3;
	}
	if (!full_priority0) {
		/* A site of priority 0 never wins an election (a replica short of space
		 * does not stand either). */
		if ((rc = s->env->rep_set_priority(s->env, 0)) != 0)
			return store_code(rc);
		full_priority0 = 1;
	}
	if (s->env->rep_stat(s->env, &st, 0) != 0 || !st)
		return 0;
	master = st->st_status == DB_REP_MASTER;
	free(st);
	if (!master) {
		full_since_ms = 0;
		return 0;
	}
	if (!full_since_ms) {
		full_since_ms = store_now_ms();
		return 2;
	}
	if (store_now_ms() - full_since_ms < FARM_REPL_STEPDOWN_MS)
		return 0;
	/* Nobody to hand over to (one site, or no peer connected): it stays the master
	 * and answers 507, as a single node does. */
	if (s->env->repmgr_site_list(s->env, &count, &list) != 0)
		return 0;
	for (u_int i = 0; i < count; i++)
		connected += list[i].status == DB_REPMGR_CONNECTED;
	free(list);
	if (!connected)
		return 0;
	full_since_ms = 0;
	return step_down(s);
}

int farm_store_repl_minority(void)
{
	return short_since_ms != 0;
}

void store_repl_commit_begin(void)
{
	perm_failed = 0;
}

int store_repl_commit_acked(void)
{
	int f = perm_failed;

	perm_failed = 0;
	return !f;
}

int store_repl_farm_acks(int *policy, int *strict_2site, unsigned *timeout_ms)
{
	if (!repl.on || !repl.farm_acks)
		return 0;
	*policy = repl.ack_policy;
	*strict_2site = repl.strict_2site;
	*timeout_ms = repl.ack_timeout_ms;
	return 1;
}

int farm_store_writable(struct farm_store *s)
{
	DB_REP_STAT *st = NULL;
	int master;

	if (!repl.on)
		return FARM_OK;
	if (!s || !s->env)
		return FARM_E_INVAL;
	if (s->env->rep_stat(s->env, &st, 0) != 0 || !st)
		return FARM_E_UNAVAIL;
	master = st->st_status == DB_REP_MASTER;
	free(st);
	return master ? FARM_OK : FARM_E_NOTMASTER;
}

int farm_store_repl_status(struct farm_store *s, struct farm_repl_status *out)
{
	DB_REP_STAT *st = NULL;
	DB_REPMGR_SITE *list = NULL;
	DB_LOG_STAT *ls = NULL;
	u_int count = 0;
	int rc;

	if (!s || !out)
		return FARM_E_INVAL;
	memset(out, 0, sizeof(*out));
	if (!repl.on)
		return FARM_OK;
	out->enabled = 1;
	snprintf(out->local, sizeof(out->local), "%s:%u", repl.local.host, repl.local.port);
	out->listener = is_listener || listener_alive(s->dir);
	if ((rc = s->env->rep_stat(s->env, &st, 0)) != 0)
		return store_code(rc);
	out->role = st->st_status == DB_REP_MASTER   ? FARM_REPL_MASTER
		    : st->st_status == DB_REP_CLIENT ? FARM_REPL_REPLICA
						     : FARM_REPL_NONE;
	out->startup_done = st->st_startup_complete != 0 ||
			    (st->st_status == DB_REP_CLIENT && repl.farm_acks &&
			     store_acks_caught_up(s, st->st_gen));
	out->generation = st->st_gen;
	out->elections = st->st_elections;
	out->master_eid = st->st_master;
	out->self_eid = st->st_env_id;
	out->lsn_file = st->st_next_lsn.file;
	out->lsn_offset = st->st_next_lsn.offset;
	free(st);
	STORE_LOCKOUT_RETRY(rc, s->env->log_stat(s->env, &ls, 0));
	if (rc == 0 && ls) {
		out->lsn_file = ls->st_cur_file;
		out->lsn_offset = ls->st_cur_offset;
		free(ls);
	}
	if (out->role == FARM_REPL_MASTER)
		snprintf(out->master, sizeof(out->master), "%s", out->local);
	if (s->env->repmgr_site_list(s->env, &count, &list) == 0) {
		for (u_int i = 0; i < count; i++) {
			struct farm_repl_peer *p;
			if ((int)list[i].eid == out->master_eid && out->role != FARM_REPL_MASTER)
				snprintf(out->master, sizeof(out->master), "%s:%u", list[i].host,
					 list[i].port);
			if (out->npeers >= FARM_REPL_MAX_PEERS)
				continue;
			p = &out->peers[out->npeers++];
			snprintf(p->addr, sizeof(p->addr), "%s:%u", list[i].host, list[i].port);
			p->connected = !started ? -1 : list[i].status == DB_REPMGR_CONNECTED;
		}
		free(list);
	}
	return FARM_OK;
}

uint64_t farm_store_log_end(struct farm_store *s)
{
	DB_LOG_STAT *ls = NULL;
	uint64_t v;
	int rc;

	if (!s || !s->env)
		return 0;
	STORE_LOCKOUT_RETRY(rc, s->env->log_stat(s->env, &ls, 0));
	if (rc != 0 || !ls)
		return 0;
	v = (uint64_t)ls->st_cur_file << 32 | ls->st_cur_offset;
	free(ls);
	return v;
}

const char *farm_repl_role_name(int role)
{
	switch (role) {
	case FARM_REPL_MASTER:
		return "master";
	case FARM_REPL_REPLICA:
		return "replica";
	default:
		return "none";
	}
}
