/* store-acks.c - farm's own acknowledgement wait for replicated commits.
 *
 * Berkeley DB 5.3 waits for a commit's acknowledgements inside DB_TXN->commit, before
 * it releases the transaction's page locks: the writers of one page (the last leaf of
 * the credentials and events tables, the outbox's root) queued behind each other's
 * round trip to the replicas, and a 3-node master wrote 0.10-0.24 x what one node
 * writes (docs/replication.md, "Where a replicated write's time goes").  So, for the
 * policies quorum, all and one, Berkeley DB's own policy is `none` (the commit sends
 * its record and returns) and the committing thread waits here, after its locks were
 * released, until enough replicas wrote the commit record: a 2xx still means what it
 * meant (the write reached the policy's replicas), a commit they do not acknowledge
 * within replication.ack_timeout still answers FARM_E_TIMEOUT (504).
 *
 *   - Each replica's listener runs a reporter thread: while the node is a replica it
 *     reads the highest commit record this node wrote (rep_stat's st_max_perm_lsn,
 *     the LSN Berkeley DB's own acknowledgement carries: the record is in this node's
 *     log, flushed to its disk after it was applied) whenever a log file of
 *     the state dir is written (inotify), and sends it with the generation to the
 *     master on a repmgr channel (DB_EID_MASTER: whoever is master at the send); at
 *     least every ACKS_HEARTBEAT_MS too, so that a report lost with a connection or
 *     sent before a failover is repeated.
 *   - The master's listener receives the reports (repmgr_msg_dispatch) and writes
 *     each replica's (generation, LSN, electable) into "<dir>/repl.acks", a page
 *     mapped shared by every process of the node; then it bumps the page's futex word.
 *   - A committing thread (store-txn.c) takes its commit's LSN and generation from
 *     the commit token (DB_TXN->set_commit_token) and waits on that word until enough
 *     replicas reported that generation and at least that LSN, as Berkeley DB's
 *     got_acks counts them: quorum = electable replicas for a majority with the
 *     master (one replica in a group of two unless 2SITE_STRICT), all = every other
 *     site, one = any one.  It fails at once when the master's listener sees fewer
 *     replicas connected than it needs, as Berkeley DB did when it could not send to
 *     enough sites.
 * The other policies (all_available, all_peers, one_peer, none) keep Berkeley DB's
 * own wait inside the commit.
 */
#include "store-int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

enum {
	ACKS_SLOTS = 16,           /* replicas a master keeps reports of */
	ACKS_SITE_MAX = 64,        /* a replica's "host:port" as it names itself */
	ACKS_FILE_SIZE = 4096,     /* "<dir>/repl.acks" */
	ACKS_HEARTBEAT_MS = 250,   /* a replica reports at least this often */
	ACKS_WAIT_SLICE_MS = 50,   /* a waiter looks at the connected count this often */
	ACKS_ASK_TIMEOUT_US = 500000, /* a replica's question to the master */
	ACKS_MSG_LEN = 18 + ACKS_SITE_MAX,
};

/* One replica's last report.  Written only by the master's listener (its message
 * threads, under acks_mutex); `seq` is odd while a write is under way. */
struct acks_slot {
	_Atomic uint32_t seq;
	_Atomic uint32_t gen, file, offset, electable;
	char site[ACKS_SITE_MAX];
};

struct acks_table {
	_Atomic uint32_t version;  /* futex word: bumped after each report written */
	_Atomic uint32_t waiters;  /* threads about to wait on `version` */
	_Atomic int32_t connected; /* replicas connected to the master's listener, -1: unknown */
	_Atomic uint32_t caught_up_gen; /* a replica: has the master's last commit of this
					   generation (farm_store_repl_status) */
	struct acks_slot slot[ACKS_SLOTS];
};

_Static_assert(sizeof(struct acks_table) <= ACKS_FILE_SIZE, "repl.acks holds the table");

static const char acks_magic[4] = {'f', 'a', 'k', '1'};

/* The listener's table (the dispatch callback has only the environment). */
static struct acks_table *listener_table;
static pthread_mutex_t acks_mutex = PTHREAD_MUTEX_INITIALIZER;

static struct {
	pthread_t thread;
	int running;
	_Atomic int stop;
	struct acks_table *table; /* this node's */
	char site[ACKS_SITE_MAX];
} reporter;

/* Maps "<dir>/repl.acks", creating it zeroed if needed (any process may: growing an
 * empty file to the same size twice is harmless).  Its block is allocated now: a store
 * into a hole of a full filesystem would be a SIGBUS. */
static struct acks_table *acks_map(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	void *map;
	int f, n;

	n = snprintf(path, sizeof(path), "%s/repl.acks", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	if ((f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return NULL;
	if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_size < ACKS_FILE_SIZE && ftruncate(f, ACKS_FILE_SIZE) != 0)) {
		close(f);
		return NULL;
	}
	(void)posix_fallocate(f, 0, ACKS_FILE_SIZE);
	map = mmap(NULL, ACKS_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	close(f);
	return map == MAP_FAILED ? NULL : map;
}

void store_acks_unmap(struct farm_store *s)
{
	if (s && s->acks) {
		if (s->acks == listener_table)
			listener_table = NULL;
		munmap(s->acks, ACKS_FILE_SIZE);
		s->acks = NULL;
	}
}

/* --- the master: reports in ---------------------------------------------------------- */

static void acks_record(struct acks_table *t, const char *site, uint32_t gen, uint32_t file,
			uint32_t offset, uint32_t electable)
{
	struct acks_slot *e = NULL, *oldest = NULL;

	pthread_mutex_lock(&acks_mutex);
	for (int i = 0; i < ACKS_SLOTS && !e; i++) {
		struct acks_slot *x = &t->slot[i];
		if (!strncmp(x->site, site, ACKS_SITE_MAX))
			e = x;
		else if (!oldest || atomic_load(&x->gen) < atomic_load(&oldest->gen))
			oldest = x; /* an empty slot has generation 0 */
	}
	if (!e) {
		/* A new replica: the slot of the oldest generation (a node long gone). */
		e = oldest;
		atomic_fetch_add(&e->seq, 1);
		atomic_store(&e->gen, 0);
		snprintf(e->site, sizeof(e->site), "%s", site);
		atomic_fetch_add(&e->seq, 1);
	}
	/* Reports of one replica may cross (message threads): never move backwards
	 * within a generation. */
	if (gen > atomic_load(&e->gen) ||
	    (gen == atomic_load(&e->gen) &&
	     ((uint64_t)file << 32 | offset) >=
		     ((uint64_t)atomic_load(&e->file) << 32 | atomic_load(&e->offset)))) {
		atomic_fetch_add(&e->seq, 1);
		atomic_store(&e->gen, gen);
		atomic_store(&e->file, file);
		atomic_store(&e->offset, offset);
		atomic_store(&e->electable, electable);
		atomic_fetch_add(&e->seq, 1);
	}
	pthread_mutex_unlock(&acks_mutex);
	atomic_fetch_add(&t->version, 1);
	if (atomic_load(&t->waiters))
		syscall(SYS_futex, &t->version, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* A replica that asked (its start-up not marked done): the master's generation and
 * last commit record, 12 bytes; nothing when this node is not the master. */
static void acks_answer(DB_ENV *env, DB_CHANNEL *ch)
{
	DB_REP_STAT *st = NULL;
	unsigned char buf[12];
	DBT d;
	int master;

	if (env->rep_stat(env, &st, 0) != 0 || !st) {
		ch->send_msg(ch, NULL, 0, 0);
		return;
	}
	master = st->st_status == DB_REP_MASTER;
	store_be32_put(buf, st->st_gen);
	store_be32_put(buf + 4, st->st_max_perm_lsn.file);
	store_be32_put(buf + 8, st->st_max_perm_lsn.offset);
	free(st);
	memset(&d, 0, sizeof(d));
	d.data = buf;
	d.size = sizeof(buf);
	ch->send_msg(ch, master ? &d : NULL, master ? 1 : 0, 0);
}

/* repmgr's message threads of the listener: a replica's report. */
static void acks_dispatch(DB_ENV *env, DB_CHANNEL *ch, DBT *msg, u_int32_t nmsg,
			  u_int32_t flags)
{
	const unsigned char *p;
	char site[ACKS_SITE_MAX];
	size_t len;

	if (flags & DB_REPMGR_NEED_RESPONSE)
		acks_answer(env, ch);
	if (nmsg != 1 || !msg || msg->size < 18 || !listener_table)
		return;
	p = msg->data;
	len = p[17];
	if (memcmp(p, acks_magic, 4) || len == 0 || len >= ACKS_SITE_MAX ||
	    msg->size != 18 + len)
		return;
	memcpy(site, p + 18, len);
	site[len] = '\0';
	acks_record(listener_table, site, store_be32_get(p + 4), store_be32_get(p + 8), store_be32_get(p + 12), p[16]);
}

/* --- a replica: reports out ----------------------------------------------------------- */

/* Sends this node's highest written commit to the master when it moved (or `force`).
 * 1 when a report went out. */
static int acks_report(DB_ENV *env, DB_CHANNEL **ch, uint64_t *sent, uint32_t *sent_gen,
		       int force)
{
	DB_REP_STAT *st = NULL;
	unsigned char buf[ACKS_MSG_LEN];
	u_int32_t prio = 0;
	uint32_t gen;
	uint64_t lsn;
	size_t len;
	DBT d;
	int client, started, ask, rc;

	if (env->rep_stat(env, &st, 0) != 0 || !st)
		return 0;
	client = st->st_status == DB_REP_CLIENT;
	gen = st->st_gen;
	lsn = (uint64_t)st->st_max_perm_lsn.file << 32 | st->st_max_perm_lsn.offset;
	started = st->st_startup_complete != 0;
	free(st);
	if (!client || lsn == 0 || (!force && gen == *sent_gen && lsn == *sent))
		return 0;
	/* Start-up not marked done: ask (below) rather than tell. */
	ask = !started && atomic_load(&reporter.table->caught_up_gen) != gen;
	if (!*ch && env->repmgr_channel(env, DB_EID_MASTER, ch, 0) != 0) {
		*ch = NULL;
		return 0;
	}
	(void)env->rep_get_priority(env, &prio);
	len = strlen(reporter.site);
	memcpy(buf, acks_magic, 4);
	store_be32_put(buf + 4, gen);
	store_be32_put(buf + 8, (uint32_t)(lsn >> 32));
	store_be32_put(buf + 12, (uint32_t)lsn);
	buf[16] = prio > 0;
	buf[17] = (unsigned char)len;
	memcpy(buf + 18, reporter.site, len);
	memset(&d, 0, sizeof(d));
	d.data = buf;
	d.size = (u_int32_t)(18 + len);
	if (ask) {
		DBT r;

		memset(&r, 0, sizeof(r));
		r.flags = DB_DBT_MALLOC;
		if ((rc = (*ch)->send_request(*ch, &d, 1, &r, ACKS_ASK_TIMEOUT_US, 0)) != 0)
			goto failed;
		/* Berkeley DB marks a replica's start-up done at the first live log
		 * record after its catch-up, and with bulk transfer the end of a
		 * catch-up is not marked otherwise: a node that caught up with an idle
		 * group waited for the group's next write.  It has caught up when it
		 * has the master's last commit record. */
		if (r.size == 12 && store_be32_get(r.data) == gen &&
		    ((uint64_t)store_be32_get((unsigned char *)r.data + 4) << 32 |
		     store_be32_get((unsigned char *)r.data + 8)) <= lsn)
			atomic_store(&reporter.table->caught_up_gen, gen);
		free(r.data);
	} else if ((rc = (*ch)->send_msg(*ch, &d, 1, 0)) != 0)
		goto failed;
	*sent = lsn;
	*sent_gen = gen;
	return 1;
failed:
	/* No master now (DB_REP_UNAVAIL), or the connection the channel keeps to it is
	 * gone (its process restarted, a master that stepped down and came back): the
	 * next report opens a new channel, and so new connections.  A channel that kept
	 * a dead connection to a master lost every report (t9510: a new master's
	 * writes all 504).  Not sent: the heartbeat sends it again. */
	(*ch)->close(*ch, 0);
	*ch = NULL;
	return 0;
}

/* A write to log.NNNNNNNNNN in the inotify buffer?  (Also drains it.) */
static int acks_log_written(int ifd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int hit = 0;
	ssize_t n;

	while ((n = read(ifd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;
			if (ev->len && !strncmp(ev->name, "log.", 4))
				hit = 1;
			p += sizeof(*ev) + ev->len;
		}
	return hit;
}

/* The reporter.  Berkeley DB writes a commit record to the log file, then marks it
 * the highest written (max_perm_lsn): after a write is seen, the mark is read at
 * once and again 50, 200 and 1,000 us later, so that a report follows the record by
 * well under a millisecond; a write meanwhile starts over. */
static void *acks_reporter(void *arg)
{
	static const unsigned again_us[] = {50, 200, 1000};
	struct farm_store *s = arg;
	DB_CHANNEL *ch = NULL;
	uint64_t sent = 0, last_ms = 0;
	uint32_t sent_gen = 0;
	int ifd;

	if ((ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0 ||
	    inotify_add_watch(ifd, s->dir, IN_MODIFY) < 0)
		fprintf(stderr, "store: replication acks: no inotify watch on %s (%s): "
				"reports every %d ms only\n",
			s->dir, strerror(errno), ACKS_HEARTBEAT_MS);
	while (!atomic_load(&reporter.stop)) {
		struct pollfd pf = {.fd = ifd, .events = POLLIN};
		uint64_t now = store_now_ms();
		int force = now - last_ms >= ACKS_HEARTBEAT_MS;

		if (acks_report(s->env, &ch, &sent, &sent_gen, force) && force)
			last_ms = now;
		else if (force)
			last_ms = now; /* nothing to say (a master, or no master): later */
		if (poll(&pf, ifd >= 0 ? 1 : 0, ACKS_HEARTBEAT_MS) > 0 && acks_log_written(ifd)) {
			acks_report(s->env, &ch, &sent, &sent_gen, 0);
			for (size_t i = 0; i < sizeof(again_us) / sizeof(again_us[0]); i++) {
				struct timespec ts = {0, (long)again_us[i] * 1000};
				nanosleep(&ts, NULL);
				acks_report(s->env, &ch, &sent, &sent_gen, 0);
			}
		}
	}
	if (ch)
		ch->close(ch, 0);
	if (ifd >= 0)
		close(ifd);
	return NULL;
}

/* --- the listener: both sides ----------------------------------------------------------- */

int store_acks_listener_begin(struct farm_store *s, const char *local_site)
{
	int rc;

	if (!(s->acks = acks_map(s->dir)))
		return EIO;
	listener_table = s->acks;
	atomic_store(&s->acks->connected, -1);
	atomic_store(&s->acks->caught_up_gen, 0); /* until this start's catch-up */
	snprintf(reporter.site, sizeof(reporter.site), "%s", local_site);
	if ((rc = s->env->repmgr_msg_dispatch(s->env, acks_dispatch, 0)) != 0)
		return rc;
	return 0;
}

int store_acks_listener_start(struct farm_store *s)
{
	reporter.table = s->acks;
	atomic_store(&reporter.stop, 0);
	if (pthread_create(&reporter.thread, NULL, acks_reporter, s) != 0)
		return ENOMEM;
	reporter.running = 1;
	return 0;
}

void store_acks_listener_stop(void)
{
	if (!reporter.running)
		return;
	atomic_store(&reporter.stop, 1);
	pthread_join(reporter.thread, NULL);
	reporter.running = 0;
}

int store_acks_caught_up(struct farm_store *s, uint32_t gen)
{
	if (!s || gen == 0 || (!s->acks && !(s->acks = acks_map(s->dir))))
		return 0;
	return atomic_load(&s->acks->caught_up_gen) == gen;
}

void store_acks_connected(struct farm_store *s, int n)
{
	if (s && s->acks)
		atomic_store(&s->acks->connected, n);
}

/* --- a committing thread -------------------------------------------------------------- */

/* Acknowledgements a commit needs under `policy` in a group of `nsites` (Berkeley DB's
 * __repmgr_send counts them so), and whether only electable replicas count. */
static unsigned acks_needed(int policy, u_int32_t nsites, int strict_2site, int *electable)
{
	unsigned nclients = nsites > 1 ? nsites - 1 : 0;

	*electable = 0;
	switch (policy) {
	case DB_REPMGR_ACKS_QUORUM:
		*electable = 1;
		return nclients > 1 || strict_2site ? nclients / 2 : nclients;
	case DB_REPMGR_ACKS_ALL:
		return nclients;
	case DB_REPMGR_ACKS_ONE:
		return nclients > 0;
	default:
		return 0;
	}
}

/* Whether the reports in t acknowledge (gen, lsn): `need` of them, electable ones only
 * if `electable` (quorum); or, as Berkeley DB's got_acks has it, every replica of the
 * group (nclients) reported in this generation and none of the electable ones lacks
 * the commit (a group whose replicas all have priority 0 has no peer to wait for). */
static int acks_enough(struct acks_table *t, uint32_t gen, uint64_t lsn, unsigned need,
		       int electable, unsigned nclients)
{
	unsigned acked = 0, known = 0, unacked_peers = 0;

	for (int i = 0; i < ACKS_SLOTS; i++) {
		struct acks_slot *e = &t->slot[i];
		uint32_t seq, g, f, o, el;
		int has;

		do {
			seq = atomic_load(&e->seq);
			g = atomic_load(&e->gen);
			f = atomic_load(&e->file);
			o = atomic_load(&e->offset);
			el = atomic_load(&e->electable);
		} while ((seq & 1) || seq != atomic_load(&e->seq));
		if (g != gen)
			continue;
		known++;
		has = ((uint64_t)f << 32 | o) >= lsn;
		if (has && (el || !electable))
			acked++;
		if (!has && el)
			unacked_peers++;
	}
	return acked >= need || (electable && known >= nclients && !unacked_peers);
}

int store_acks_wait(struct farm_store *s, const DB_TXN_TOKEN *token, int policy,
		    int strict_2site, unsigned timeout_ms)
{
	const unsigned char *p = token->buf;
	uint32_t gen = store_be32_get(p + 4);
	uint64_t lsn = (uint64_t)store_be32_get(p + 12) << 32 | store_be32_get(p + 16), deadline;
	u_int32_t nsites = 0;
	unsigned need;
	int electable;

	/* The token (txn.c, __txn_build_token): version, generation, envid, LSN file and
	 * offset, 32 bits each in network order.  A transaction that wrote nothing has
	 * the LSN 0: nothing to acknowledge. */
	if (lsn == 0 || gen == 0)
		return FARM_OK;
	if (s->env->rep_get_nsites(s->env, &nsites) != 0)
		return FARM_E_UNAVAIL;
	if (!(need = acks_needed(policy, nsites, strict_2site, &electable)))
		return FARM_OK;
	if (!s->acks && !(s->acks = acks_map(s->dir)))
		return FARM_E_IO;
	deadline = store_now_ms() + timeout_ms;
	for (;;) {
		struct acks_table *t = s->acks;
		uint32_t v = atomic_load(&t->version);
		int32_t connected;
		uint64_t now;

		if (acks_enough(t, gen, lsn, need, electable, nsites - 1))
			return FARM_OK;
		connected = atomic_load(&t->connected);
		if (connected >= 0 && (unsigned)connected < need)
			return FARM_E_TIMEOUT; /* could not reach enough replicas */
		if ((now = store_now_ms()) >= deadline)
			return FARM_E_TIMEOUT;
		{
			uint64_t left = deadline - now;
			struct timespec ts;

			if (left > ACKS_WAIT_SLICE_MS)
				left = ACKS_WAIT_SLICE_MS;
			ts.tv_sec = 0;
			ts.tv_nsec = (long)left * 1000000;
			atomic_fetch_add(&t->waiters, 1);
			/* Returns at once if a report came since `v` was read. */
			syscall(SYS_futex, &t->version, FUTEX_WAIT, v, &ts, NULL, 0);
			atomic_fetch_sub(&t->waiters, 1);
		}
	}
}
