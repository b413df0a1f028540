/* farm-fcgi-status.c - GET /farm-status: the operator's view of a running farm,
 * in the spirit of php-fpm's pm.status_path.
 *
 *   pool      accepted requests, workers and threads (active/idle/draining), the
 *             listen queue, max children reached, slow requests, respawns,
 *             recoveries, workers killed by request_terminate_timeout
 *   storage   Berkeley DB transactions (commits, aborts), deadlocks, log files,
 *             outbox depth (events not yet taken by farm-eventd)
 *   events    farm-eventd ("sidecar"), farm-wsd ("bridge") and farm-runner liveness
 *             (the lock each holds in state_dir), connected WebSocket clients
 *
 * JSON by default; Prometheus text exposition with ?format=prometheus or when the
 * Accept header names text/plain (what Prometheus sends).  The path is outside
 * /api/v1: nginx reaches it only through its own `location = /farm-status`, which
 * allows loopback clients only (nginx/farm-locations.conf).  No secret, token or
 * request detail ever appears here: only counters.
 *
 * Listen queue: the number of connections the kernel has accepted on the pool's
 * socket that no worker thread has taken yet, and the backlog limit.  For a unix
 * socket this is what `ss -xl` shows as Recv-Q/Send-Q, asked of the kernel over
 * NETLINK_SOCK_DIAG (UNIX_DIAG_RQLEN); for TCP it is TCP_INFO's tcpi_unacked /
 * tcpi_sacked on the listening socket.  null when the kernel does not say.
 */
#include "farm-fcgi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "events.h"
#include "log.h"
#include "banned.h"

/* The lock farm-runner holds in state_dir while it runs (fcgi/farm-runner/farm-runner.c). */
#define STATUS_RUNNER_LOCK "runner"

/* TCP_LISTEN in the kernel's socket state numbering (include/net/tcp_states.h). */
#define STATUS_TCP_LISTEN 10
#define STATUS_TCP_ESTABLISHED 1

struct status_snap {
	/* pool */
	uint64_t accepted, slow, max_children, respawns, recoveries, killed_stuck;
	long workers_conf, threads_conf;
	long w_active, w_idle, w_draining;
	uint64_t t_active;
	long t_idle;
	long long listen_queue, listen_queue_len; /* -1: unknown */
	int64_t started, now;
	/* storage */
	int store_ok;
	const char *store_error;
	struct farm_store_stats st;
	/* events: 1 up, 0 down, -1 not configured, -2 cannot tell */
	int sidecar, bridge, runner;
	long long ws_clients; /* -1: unknown */
};

/* The kernel's view of a listening unix socket, found by inode. */
static int unix_queue(int fd, long long *queue, long long *len)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} msg;
	union {
		struct nlmsghdr nlh;
		char buf[8192];
	} resp;
	struct sockaddr_nl nladdr = {.nl_family = AF_NETLINK};
	struct stat st;
	ssize_t n;
	int nl = -1, rc = -1;

	if (fstat(fd, &st) < 0)
		return -1;
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -1;
	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;
	msg.nlh.nlmsg_seq = 1;
	msg.req.sdiag_family = AF_UNIX;
	msg.req.udiag_states = 1U << STATUS_TCP_LISTEN;
	msg.req.udiag_ino = (unsigned)st.st_ino;
	msg.req.udiag_show = UDIAG_SHOW_RQLEN;
	msg.req.udiag_cookie[0] = msg.req.udiag_cookie[1] = ~0U; /* no cookie */
	if (sendto(nl, &msg, sizeof(msg), 0, (struct sockaddr *)&nladdr, sizeof(nladdr)) < 0)
		goto out;
	n = recv(nl, resp.buf, sizeof(resp.buf), 0);
	for (struct nlmsghdr *h = &resp.nlh; n > 0 && NLMSG_OK(h, (unsigned)n);
	     h = NLMSG_NEXT(h, n)) {
		struct unix_diag_msg *m;
		struct rtattr *a;
		int alen;

		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			break; /* NLMSG_ERROR (no such socket, or no sock_diag) or DONE */
		m = NLMSG_DATA(h);
		if (m->udiag_ino != (unsigned)st.st_ino)
			continue;
		alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
		for (a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
			if (a->rta_type == UNIX_DIAG_RQLEN &&
			    RTA_PAYLOAD(a) >= sizeof(struct unix_diag_rqlen)) {
				struct unix_diag_rqlen q;
				memcpy(&q, RTA_DATA(a), sizeof(q));
				*queue = q.udiag_rqueue;
				*len = q.udiag_wqueue;
				rc = 0;
			}
		}
		break;
	}
out:
	close(nl);
	return rc;
}

static void listen_queue(int fd, long long *queue, long long *len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	*queue = *len = -1;
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_UNIX) {
		if (unix_queue(fd, queue, len) < 0)
			*queue = *len = -1;
	} else if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
		struct tcp_info ti;
		socklen_t tl = sizeof(ti);
		memset(&ti, 0, sizeof(ti));
		/* On a listening socket: unacked = accept queue, sacked = backlog. */
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 &&
		    ti.tcpi_state == STATUS_TCP_LISTEN) {
			*queue = ti.tcpi_unacked;
			*len = ti.tcpi_sacked;
		}
	}
}

/* Established TCP connections whose local end is the bridge's listen address: with
 * nginx in front, one per connected WebSocket client.  -1 when it cannot be told
 * (no IPv4 host:port, /proc/net/tcp unreadable). */
static long long ws_clients(const char *addr)
{
	const char *colon = addr ? strrchr(addr, ':') : NULL;
	char host[64], line[512];
	struct in_addr ia;
	unsigned long port;
	char *end;
	FILE *fp;
	long long n = 0;

	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host))
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (!strcmp(host, "localhost"))
		memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535 || inet_pton(AF_INET, host, &ia) != 1)
		return -1;
	fp = fopen("/proc/net/tcp", "re");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long laddr, lport, st;
		char *p = strchr(line, ':');
		/* "  sl  local_address rem_address st ...": "0: 0100007F:1F9B 00000000:0000 0A" */
		if (!p)
			continue;
		laddr = strtoul(p + 1, &end, 16);
		if (*end != ':')
			continue;
		lport = strtoul(end + 1, &end, 16);
		strtoul(end, &end, 16); /* remote address */
		if (*end != ':')
			continue;
		strtoul(end + 1, &end, 16); /* remote port */
		st = strtoul(end, &end, 16);
		/* The kernel prints the address's bytes as one native-endian word. */
		if (st == STATUS_TCP_ESTABLISHED && lport == port &&
		    (ia.s_addr == 0 || laddr == (unsigned long)ia.s_addr))
			n++;
	}
	fclose(fp);
	return n;
}

static int pipeline_state(const char *endpoint, const char *dir, const char *lock)
{
	int rc;

	if (!endpoint || !*endpoint)
		return -1;
	rc = farm_events_lock_held(dir, lock);
	return rc == 1 ? 1 : rc == 0 ? 0 : -2;
}

/* The runner has no endpoint to configure: "disabled" until it has run once here
 * (its lock file exists), then up or down. */
static int runner_state(const char *dir)
{
	char path[4096];
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s.lock", dir, STATUS_RUNNER_LOCK) >=
		    sizeof(path) ||
	    access(path, F_OK) != 0)
		return -1;
	rc = farm_events_lock_held(dir, STATUS_RUNNER_LOCK);
	return rc == 1 ? 1 : rc == 0 ? 0 : -2;
}

static void snapshot(struct farm_app *app, struct status_snap *s)
{
	const struct farm_scoreboard *b = app->board;
	long live = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	s->accepted = __atomic_load_n(&b->accepted, __ATOMIC_RELAXED);
	s->slow = __atomic_load_n(&b->slow_requests, __ATOMIC_RELAXED);
	s->max_children = __atomic_load_n(&b->max_children_reached, __ATOMIC_RELAXED);
	s->respawns = __atomic_load_n(&b->respawns, __ATOMIC_RELAXED);
	s->recoveries = __atomic_load_n(&b->recoveries, __ATOMIC_RELAXED);
	s->killed_stuck = __atomic_load_n(&b->killed_stuck, __ATOMIC_RELAXED);
	s->workers_conf = app->conf.workers;
	s->threads_conf = app->conf.threads;
	for (int i = 0; i < FARM_MAX_WORKERS; i++) {
		const struct farm_slot *sl = &b->slot[i];
		pid_t pid = __atomic_load_n(&sl->pid, __ATOMIC_RELAXED);
		uint32_t active = __atomic_load_n(&sl->active, __ATOMIC_RELAXED);
		if (pid <= 0)
			continue;
		s->t_active += active;
		if (__atomic_load_n(&sl->draining, __ATOMIC_RELAXED)) {
			s->w_draining++;
			continue;
		}
		live++;
		if (active)
			s->w_active++;
		else
			s->w_idle++;
	}
	/* Threads of draining workers no longer accept: only live workers have idle ones. */
	s->t_idle = live * app->conf.threads;
	for (int i = 0; i < FARM_MAX_WORKERS; i++) {
		const struct farm_slot *sl = &b->slot[i];
		if (__atomic_load_n(&sl->pid, __ATOMIC_RELAXED) > 0 &&
		    !__atomic_load_n(&sl->draining, __ATOMIC_RELAXED))
			s->t_idle -= (long)__atomic_load_n(&sl->active, __ATOMIC_RELAXED);
	}
	if (s->t_idle < 0)
		s->t_idle = 0;
	listen_queue(app->listen_fd, &s->listen_queue, &s->listen_queue_len);
	s->started = b->started;
	s->now = time(NULL);

	rc = farm_store_stats(app->store, &s->st);
	s->store_ok = rc == FARM_OK;
	s->store_error = rc == FARM_OK ? NULL : farm_strerror(rc);

	s->sidecar = pipeline_state(app->conf.events_pub, app->conf.state_dir,
				    FARM_EVENTS_LOCK_EVENTD);
	s->bridge = pipeline_state(app->conf.wsd_listen, app->conf.state_dir, FARM_EVENTS_LOCK_WSD);
	s->ws_clients = s->bridge == -1 ? -1 : ws_clients(app->conf.wsd_listen);
	s->runner = runner_state(app->conf.state_dir);
}

static json_t *maybe_int(long long v)
{
	return v < 0 ? json_null() : json_integer(v);
}

static const char *state_word(int st)
{
	switch (st) {
	case 1: return "up";
	case 0: return "down";
	case -1: return "disabled";
	default: return "unknown";
	}
}

static json_t *status_json(const struct status_snap *s)
{
	json_t *pool, *storage, *events;

	pool = json_pack("{s:I,s:{s:i,s:i,s:i,s:i},s:{s:I,s:i,s:i},s:o,s:o,s:I,s:I,s:I,s:I,s:I}",
			 "accepted", (json_int_t)s->accepted,
			 "workers", "configured", (int)s->workers_conf, "active", (int)s->w_active,
			 "idle", (int)s->w_idle, "draining", (int)s->w_draining,
			 "threads", "active", (json_int_t)s->t_active, "idle", (int)s->t_idle,
			 "per_worker", (int)s->threads_conf,
			 "listen_queue", maybe_int(s->listen_queue),
			 "listen_queue_len", maybe_int(s->listen_queue_len),
			 "max_children_reached", (json_int_t)s->max_children,
			 "slow_requests", (json_int_t)s->slow,
			 "respawns", (json_int_t)s->respawns,
			 "recoveries", (json_int_t)s->recoveries,
			 "killed_stuck", (json_int_t)s->killed_stuck);
	if (s->store_ok)
		storage = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "status", "ok", "txn_commits",
				    (json_int_t)s->st.txn_commits, "txn_aborts",
				    (json_int_t)s->st.txn_aborts, "deadlocks",
				    (json_int_t)s->st.deadlocks, "log_files",
				    (json_int_t)s->st.log_files, "outbox_depth",
				    (json_int_t)s->st.outbox_depth);
	else
		storage = json_pack("{s:s}", "status", s->store_error);
	events = json_pack("{s:s,s:s,s:s,s:o}", "sidecar", state_word(s->sidecar), "bridge",
			   state_word(s->bridge), "runner", state_word(s->runner),
			   "websocket_clients", maybe_int(s->ws_clients));
	return json_pack("{s:s,s:I,s:I,s:o,s:o,s:o}", "version", farm_daemon_version(),
			 "start_time", (json_int_t)s->started,
			 "uptime", (json_int_t)(s->now - s->started), "pool", pool, "storage",
			 storage, "events", events);
}

/* One metric family: HELP, TYPE, then the sample(s). */
static void prom(FILE *fp, const char *name, const char *type, const char *help, long long v)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	if (v >= 0)
		fprintf(fp, "%s %lld\n", name, v);
}

static void prom_text(FILE *fp, const struct status_snap *s)
{
	prom(fp, "farm_start_time_seconds", "gauge", "Unix time the pool master started.",
	     s->started);
	prom(fp, "farm_pool_accepted_requests_total", "counter", "Requests accepted by the pool.",
	     (long long)s->accepted);
	fprintf(fp, "# HELP farm_pool_workers Worker processes by state.\n"
		    "# TYPE farm_pool_workers gauge\n"
		    "farm_pool_workers{state=\"active\"} %ld\n"
		    "farm_pool_workers{state=\"idle\"} %ld\n"
		    "farm_pool_workers{state=\"draining\"} %ld\n",
		s->w_active, s->w_idle, s->w_draining);
	prom(fp, "farm_pool_workers_configured", "gauge", "The workers setting.", s->workers_conf);
	fprintf(fp, "# HELP farm_pool_threads Accepting threads by state.\n"
		    "# TYPE farm_pool_threads gauge\n"
		    "farm_pool_threads{state=\"active\"} %llu\n"
		    "farm_pool_threads{state=\"idle\"} %ld\n",
		(unsigned long long)s->t_active, s->t_idle);
	prom(fp, "farm_pool_listen_queue", "gauge",
	     "Connections waiting in the listen socket's accept queue.", s->listen_queue);
	prom(fp, "farm_pool_listen_queue_len", "gauge", "The listen socket's backlog limit.",
	     s->listen_queue_len);
	prom(fp, "farm_pool_max_children_reached_total", "counter",
	     "Times a worker could not be started because every slot was taken.",
	     (long long)s->max_children);
	prom(fp, "farm_pool_slow_requests_total", "counter",
	     "Requests slower than request_slowlog_timeout.", (long long)s->slow);
	prom(fp, "farm_pool_respawns_total", "counter", "Workers started to replace exited ones.",
	     (long long)s->respawns);
	prom(fp, "farm_pool_recoveries_total", "counter",
	     "Pool restarts with database recovery (crash or emergency restart).",
	     (long long)s->recoveries);
	prom(fp, "farm_pool_killed_stuck_total", "counter",
	     "Workers killed by request_terminate_timeout.", (long long)s->killed_stuck);
	prom(fp, "farm_store_up", "gauge", "1 when the database answers.", s->store_ok);
	if (s->store_ok) {
		prom(fp, "farm_store_txn_commits_total", "counter", "Committed transactions.",
		     (long long)s->st.txn_commits);
		prom(fp, "farm_store_txn_aborts_total", "counter", "Aborted transactions.",
		     (long long)s->st.txn_aborts);
		prom(fp, "farm_store_deadlocks_total", "counter", "Deadlocks resolved.",
		     (long long)s->st.deadlocks);
		prom(fp, "farm_store_log_files", "gauge", "Transaction log files on disk.",
		     (long long)s->st.log_files);
		prom(fp, "farm_outbox_depth", "gauge", "Events waiting for farm-eventd.",
		     (long long)s->st.outbox_depth);
	}
	if (s->sidecar >= 0)
		prom(fp, "farm_sidecar_up", "gauge", "1 when farm-eventd runs.", s->sidecar);
	if (s->bridge >= 0)
		prom(fp, "farm_bridge_up", "gauge", "1 when farm-wsd runs.", s->bridge);
	if (s->runner >= 0)
		prom(fp, "farm_runner_up", "gauge", "1 when farm-runner runs.", s->runner);
	if (s->ws_clients >= 0)
		prom(fp, "farm_websocket_clients", "gauge",
		     "Connections to the WebSocket bridge (one per client behind nginx).",
		     s->ws_clients);
}

static int wants_prometheus(struct farm_req *r)
{
	const char *f = farm_req_query(r, "format");
	const char *accept = farm_req_env(r, "HTTP_ACCEPT");

	if (f)
		return !strcmp(f, "prometheus") || !strcmp(f, "text");
	return accept && strstr(accept, "text/plain") != NULL;
}

int farm_h_status(struct farm_req *r)
{
	struct status_snap s;
	const char *f = farm_req_query(r, "format");
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	if (f && strcmp(f, "json") && strcmp(f, "prometheus") && strcmp(f, "text"))
		return farm_req_fail(r, FARM_E_INVAL, "format must be json or prometheus");
	snapshot(r->app, &s);
	farm_req_header(r, "Cache-Control", "no-store");
	if (!wants_prometheus(r)) {
		json_t *j = status_json(&s), *repl = farm_fcgi_repl_json(((struct farm_app *)r->app)->store);
		if (j && repl)
			json_object_set_new(j, "replication", repl);
		else
			json_decref(repl);
		return farm_req_json(r, 200, j);
	}
	fp = open_memstream(&buf, &len);
	if (!fp)
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	prom_text(fp, &s);
	if (fclose(fp) != 0 || !buf) {
		free(buf);
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	}
	r->text = farm_arena_strndup(r->arena, buf, len);
	free(buf);
	if (!r->text)
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	r->text_len = len;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	r->status = 200;
	return r->status;
}
