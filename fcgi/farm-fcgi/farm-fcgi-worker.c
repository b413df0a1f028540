/* farm-fcgi-worker.c - one worker process: `threads` threads serving requests with
 * libfcgi, stopped gracefully through a wake pipe.
 *
 * libfcgi blocks in accept(2) and installs its own signal handlers, so a thread in
 * FCGX_Accept_r cannot be stopped by a signal.  Instead farm accepts connections
 * itself from a non-blocking listening socket, and the threads wait in one epoll set
 * for new connections, for requests on kept ones, and for the wake pipe (see
 * "connections" below).  On stop the threads finish their requests, stop accepting,
 * and serve the kept connections until nginx closes them or the drain deadline
 * passes.
 */
#include "farm-fcgi.h"

#include <errno.h>
#include <fcntl.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gate.h"
#include "log.h"
#include "banned.h"

#define DRAIN_MS 5000
/* A stopping worker leaves once no request has been served for this long (and none is
 * being served): its kept connections are idle.  docs/replication.md, "A master's
 * stop": the other nodes' nginx keep connections to a master's pool (their write
 * upstream) and close them only after their keepalive timeout, so the drain waited
 * its whole DRAIN_MS for them on every master's worker (5 s against < 1.3 s on a
 * replica, whose connections came from its own, stopping, nginx). */
#define DRAIN_IDLE_MS 200

static volatile int worker_stopping;
static volatile int64_t drain_deadline_ms;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static const char *fcgi_getenv(void *ctx, const char *name)
{
	FCGX_Request *req = ctx;

	return FCGX_GetParam(name, req->envp);
}

static int fcgi_write(void *ctx, const void *buf, size_t len)
{
	FCGX_Request *req = ctx;

	return FCGX_PutStr(buf, (int)len, req->out) == (int)len ? 0 : -1;
}

static void make_reqid(struct farm_thr *t, struct farm_req *r)
{
	const char *nid = farm_req_env(r, "REQUEST_ID"); /* nginx's $request_id */
	static const char hex[] = "0123456789abcdef";
	size_t i;

	if (nid && strlen(nid) >= 16 && strspn(nid, hex) >= 16) {
		memcpy(r->id, nid, 16);
		r->id[16] = '\0';
		return;
	}
	/* xorshift64*: request ids need uniqueness, not secrecy. */
	t->rnd ^= t->rnd >> 12;
	t->rnd ^= t->rnd << 25;
	t->rnd ^= t->rnd >> 27;
	unsigned long long v = t->rnd * 2685821657736338717ULL;
	for (i = 0; i < 16; i++, v >>= 4)
		r->id[i] = hex[v & 15];
	r->id[16] = '\0';
}

/* Reads the request's FCGI_STDIN to its end (the empty record that closes it) and
 * drops what is left.
 *
 * A kept connection must be left exactly at the end of the request: a body read up
 * to CONTENT_LENGTH and no further leaves that closing record unread whenever the
 * body arrived in several reads (any body nginx buffered to a file: it sends the
 * closing record in a write of its own).  The connection, parked again, then woke a
 * thread at once with those 8 stale bytes; libfcgi's FCGX_Accept_r took them for a
 * protocol error and closed the connection, racing nginx, which had already taken it
 * from its keepalive cache for the next request: "upstream prematurely closed
 * connection", a 502 (503 to the client) for 2-7 of 200 deliveries of 200-900 KB
 * (t/t3400-large-bodies.sh). */
static void read_to_eof(FCGX_Stream *in)
{
	char sink[8192];

	while (FCGX_GetStr(sink, sizeof(sink), in) > 0)
		;
}

/* Reads the body (at most body_limit bytes kept; the rest is read and dropped so a
 * kept connection stays in sync).  Returns 0, FARM_E_TOOBIG or FARM_E_NOMEM. */
static int read_body(struct farm_app *app, FCGX_Request *req, struct farm_req *r)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
	long long want = 0;
	char *end, *buf;
	long long got = 0;

	if (cl && *cl) {
		want = strtoll(cl, &end, 10);
		if (*end || want < 0)
			want = 0;
	}
	if (want > app->conf.body_limit) {
		read_to_eof(req->in);
		r->body_len = (size_t)want;
		r->body = "";
		return FARM_E_TOOBIG;
	}
	buf = farm_arena_alloc(r->arena, (size_t)want + 1);
	if (!buf) {
		read_to_eof(req->in);
		return FARM_E_NOMEM;
	}
	while (got < want) {
		int n = FCGX_GetStr(buf + got, (int)(want - got), req->in);
		if (n <= 0)
			break;
		got += n;
	}
	read_to_eof(req->in);
	buf[got] = '\0';
	r->body = buf;
	r->body_len = (size_t)got;
	return 0;
}

/* Methods that never write: served by any node of a replication group. */
static int is_read(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS");
}

static void handle(struct farm_thr *t, FCGX_Request *req)
{
	struct farm_app *app = t->app;
	struct farm_slot *slot = &app->board->slot[app->slot];
	struct farm_req r;
	int64_t t0 = now_ms();
	int rc;

	memset(&r, 0, sizeof(r));
	r.arena = t->arena;
	r.app = app;
	r.thr = t;
	r.getenv = fcgi_getenv;
	r.env_ctx = req;
	r.method = FCGX_GetParam("REQUEST_METHOD", req->envp);
	r.uri = FCGX_GetParam("REQUEST_URI", req->envp);
	r.query = FCGX_GetParam("QUERY_STRING", req->envp);
	if (!r.method)
		r.method = "GET";
	if (!r.query)
		r.query = "";
	make_reqid(t, &r);

	__atomic_add_fetch(&app->board->accepted, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&slot->requests, 1, __ATOMIC_RELAXED);
	if (__atomic_add_fetch(&slot->active, 1, __ATOMIC_RELAXED) == 1)
		__atomic_store_n(&slot->busy_since_ms, wall_ms(), __ATOMIC_RELAXED);

	rc = read_body(app, req, &r);
	if (rc == FARM_E_TOOBIG)
		farm_req_fail(&r, rc, "request body exceeds %ld bytes", app->conf.body_limit);
	else if (rc)
		farm_req_fail(&r, rc, "out of memory");
	else if (!is_read(r.method) && farm_store_writable(app->store) == FARM_E_NOTMASTER)
		/* Replicated, and this node is a replica: nothing ran, nothing was written;
		 * nginx sends the request to the next node (docs/replication.md). */
		farm_req_fail(&r, FARM_E_NOTMASTER,
			      "this node is a replica: writes go to the master; nothing was written");
	else if (!is_read(r.method) && farm_store_repl_on() &&
		 farm_store_space(app->store) == FARM_E_NOSPACE)
		/* A replicated master short of space (it steps down: its listener's
		 * role change blocks new transactions meanwhile, up to a checkpoint's
		 * delay): 507 at once, as the write itself would (docs/replication.md). */
		farm_req_fail(&r, FARM_E_NOSPACE,
			      "no space left on this node's disk: nothing was written");
	else if (!is_read(r.method) &&
		 __atomic_load_n(&app->board->repl_minority, __ATOMIC_RELAXED))
		/* A master cut off from the majority (stepping down): a commit could not
		 * be acknowledged and would be rolled back at the heal. */
		farm_req_fail(&r, FARM_E_NOTMASTER,
			      "this node lost the majority of its replication group: writes go "
			      "to the master; nothing was written");
	else
		farm_req_dispatch(&app->dispatch, &r);
	if (r.status >= 500)
		farm_log(FARM_LOG_WARN, r.id, 0, "%s %.*s -> %d", r.method,
			 (int)strcspn(r.uri ? r.uri : "", "?"), r.uri ? r.uri : "", r.status);
	if (farm_req_emit(&r, fcgi_write, req) != FARM_OK)
		farm_log(FARM_LOG_INFO, r.id, 0, "client went away before the response was sent");

	int64_t el = now_ms() - t0;
	if (app->conf.request_slowlog_timeout > 0 && el >= app->conf.request_slowlog_timeout * 1000) {
		__atomic_add_fetch(&app->board->slow_requests, 1, __ATOMIC_RELAXED);
		/* The query string is never logged: it may carry an access token. */
		farm_log(FARM_LOG_WARN, r.id, 0, "slow request: %s %.*s took %lld ms", r.method,
			 (int)strcspn(r.uri ? r.uri : "", "?"), r.uri ? r.uri : "", (long long)el);
	}
	if (__atomic_sub_fetch(&slot->active, 1, __ATOMIC_RELAXED) == 0)
		__atomic_store_n(&slot->busy_since_ms, 0, __ATOMIC_RELAXED);
	farm_req_reset(&r);
}

/* --- connections ---------------------------------------------------------------------
 *
 * nginx keeps its upstream connections open between requests (fastcgi_keep_conn on,
 * keepalive in the upstream block).  A kept connection is not tied to a thread: after
 * its request the thread parks it in the worker's epoll set (EPOLLONESHOT) and any
 * thread takes it up when nginx sends the next request on it; a new connection is
 * parked the same way as soon as it is accepted, so no thread waits on a silent one.  Threads count
 * concurrent requests, not connections, so nginx may keep as many idle connections as
 * it likes without starving new ones of a thread.  The set also holds the listening
 * socket (EPOLLEXCLUSIVE: a new connection wakes one worker process, not all) and the
 * wake pipe.
 *
 * libfcgi is given a socket that never listens: farm accepts connections itself and
 * hands libfcgi an open one in FCGX_Request.ipcFd, with keepConnection set so that the
 * FCGX_Finish_r that opens FCGX_Accept_r does not close it.  When nginx has closed
 * the connection, libfcgi closes it and its own accept fails at once: FCGX_Accept_r
 * returns < 0 with ipcFd < 0.  Both fields sit below fcgiapp.h's "don't use" line;
 * they are unchanged since libfcgi 2.4.0 (2002) and test t0000 covers this use. */

static int pool_ep = -1;         /* the worker's epoll set */
static int dead_listen = -1;     /* what libfcgi believes it accepts on */
static _Atomic long open_conns;  /* connections accepted and not yet closed */
static _Atomic int listen_off;   /* the listening socket left the set (stopping) */
static _Atomic long serving;      /* threads serving a request now */
static _Atomic int64_t served_ms; /* when the last request ended (now_ms) */

static int pool_set_open(struct farm_app *app)
{
	struct epoll_event ev;

	if ((pool_ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	if ((dead_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.fd = app->listen_fd;
	if (epoll_ctl(pool_ep, EPOLL_CTL_ADD, app->listen_fd, &ev) != 0)
		return -1;
	ev.events = EPOLLIN;
	ev.data.fd = app->wake_fd;
	return epoll_ctl(pool_ep, EPOLL_CTL_ADD, app->wake_fd, &ev);
}

static void pool_set_close(void)
{
	if (pool_ep >= 0)
		close(pool_ep);
	if (dead_listen >= 0)
		close(dead_listen);
	pool_ep = dead_listen = -1;
}

/* Puts fd (back) in the set, to be taken up by one thread when it is readable. */
static int park(int fd, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLONESHOT;
	ev.data.fd = fd;
	return epoll_ctl(pool_ep, op, fd, &ev);
}

/* Takes a new connection from the (non-blocking) listening socket and parks it: no
 * thread ever blocks on a connection that has not sent a request yet. */
static void take_new(struct farm_app *app)
{
	int fd = accept4(app->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return; /* EAGAIN: another worker took it */
	if (park(fd, EPOLL_CTL_ADD) != 0) {
		farm_log(FARM_LOG_WARN, NULL, errno, "cannot watch an nginx connection");
		close(fd);
		return;
	}
	atomic_fetch_add(&open_conns, 1);
}

/* Serves the request nginx sent on fd, then parks fd again (or it was closed). */
static void serve_conn(struct farm_thr *t, FCGX_Request *req, int fd)
{
	atomic_fetch_add(&serving, 1);
	req->ipcFd = fd;
	req->keepConnection = 1;
	if (FCGX_Accept_r(req) >= 0) {
		handle(t, req);
		FCGX_Finish_r(req);
	}
	atomic_store(&served_ms, now_ms());
	atomic_fetch_sub(&serving, 1);
	if (req->ipcFd < 0) { /* closed: by nginx, after an error, or not kept */
		atomic_fetch_sub(&open_conns, 1);
		return;
	}
	fd = req->ipcFd;
	req->ipcFd = -1; /* before parking: another thread may take it up at once */
	if (park(fd, EPOLL_CTL_MOD) != 0) {
		farm_log(FARM_LOG_WARN, NULL, errno, "cannot keep an nginx connection");
		close(fd);
		atomic_fetch_sub(&open_conns, 1);
	}
}

static void *accept_thread(void *arg)
{
	struct farm_thr *t = arg;
	struct farm_app *app = t->app;
	FCGX_Request req;
	char c;

	if (FCGX_InitRequest(&req, dead_listen, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "FCGX_InitRequest failed");
		return NULL;
	}
	farm_gate_enter();
	for (;;) {
		struct epoll_event ev;
		int stopping, timeout = 1000, n;

		farm_gate_settle();
		stopping = __atomic_load_n(&worker_stopping, __ATOMIC_ACQUIRE);

		if (stopping) {
			/* Stop accepting; serve the kept connections until nginx closes
			 * them (a stopping nginx closes idle ones first, so no request is
			 * caught in a close race), the drain deadline passes, or no request
			 * came for DRAIN_IDLE_MS since the stop began (an nginx that is not
			 * stopping, another node's or a reload's, keeps its idle
			 * connections: they close with the process, and nginx resends a
			 * request that meets a closed kept connection on a new one). */
			int64_t at = now_ms(), left = drain_deadline_ms - at;
			int64_t quiet = atomic_load(&served_ms), began = drain_deadline_ms - DRAIN_MS;
			if (!atomic_exchange(&listen_off, 1))
				epoll_ctl(pool_ep, EPOLL_CTL_DEL, app->listen_fd, NULL);
			if (atomic_load(&open_conns) <= 0 || left <= 0)
				break;
			if (quiet < began)
				quiet = began;
			if (atomic_load(&serving) == 0 && at - quiet >= DRAIN_IDLE_MS)
				break;
			timeout = left < 50 ? (int)left : 50;
		}
		/* One event per call: a thread takes exactly what it will handle, so a
		 * request costs one epoll_wait and one re-arm (with several events per
		 * call, the connections a thread could not serve had to be re-armed for
		 * the others, five extra epoll_ctl per request under load). */
		n = epoll_wait(pool_ep, &ev, 1, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			farm_log(FARM_LOG_ERROR, NULL, errno, "epoll_wait");
			break;
		}
		if (n > 0 && ev.data.fd == app->wake_fd) {
			/* One byte per thread was written: take one, so that the pipe is
			 * empty (and quiet) once every thread has seen it. */
			if (read(app->wake_fd, &c, 1) < 0 && errno != EAGAIN)
				farm_log(FARM_LOG_WARN, NULL, errno, "wake pipe");
		} else if (n > 0 && ev.data.fd != app->listen_fd) {
			serve_conn(t, &req, ev.data.fd); /* a kept connection with a request */
		} else if (!stopping) {
			/* A new connection (or a timeout: the one worker that EPOLLEXCLUSIVE
			 * woke may have been stopping). */
			take_new(app);
		}
	}
	farm_gate_leave();
	FCGX_Free(&req, 1);
	return NULL;
}

/* How many of a worker's threads run request code at once (threads.running; see gate.h
 * and farm.conf(5)).  Auto: the CPUs shared out among the workers, so that the pool as a
 * whole keeps about one running thread per CPU and the threads past that wait at the
 * gate instead of in the run queue, ahead of nginx (measurements: docs/operations.md,
 * "Threads").  Never more than `threads`. */
int farm_running_slots(const struct farm_conf *conf)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN), slots = conf->threads_running;

	if (slots == 0) {
		if (cpus < 1)
			cpus = 1;
		slots = (cpus + conf->workers - 1) / conf->workers;
	}
	return (int)(slots < conf->threads ? slots : conf->threads);
}

int farm_worker_main(struct farm_app *app)
{
	struct farm_slot *slot = &app->board->slot[app->slot];
	pthread_t *tids = NULL;
	struct farm_thr *thr = NULL;
	long n = app->conf.threads, started = 0;
	int wake[2] = {-1, -1};
	sigset_t set;
	int sig = 0, rc = 1, running, stale = 0;
	uint64_t seed = 0;

	if (FCGX_Init() != 0) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "FCGX_Init failed");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		farm_log(FARM_LOG_ERROR, NULL, errno, "pipe");
		return 1;
	}
	app->wake_fd = wake[0];
	if (pool_set_open(app) != 0) {
		farm_log(FARM_LOG_ERROR, NULL, errno, "epoll");
		goto out;
	}
	tids = calloc((size_t)n, sizeof(*tids));
	thr = calloc((size_t)n, sizeof(*thr));
	if (!tids || !thr)
		goto out;
	farm_crypto_random(&seed, sizeof(seed));
	running = farm_running_slots(&app->conf);
	farm_gate_init(running < n ? running : 0); /* every thread running: no gate */
	for (long i = 0; i < n; i++) {
		thr[i].app = app;
		thr[i].arena = farm_arena_new(32768);
		thr[i].rnd = seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1)) ^ (uint64_t)getpid();
		if (!thr[i].rnd)
			thr[i].rnd = 1;
		if (!thr[i].arena || pthread_create(&tids[i], NULL, accept_thread, &thr[i]) != 0) {
			farm_log(FARM_LOG_ERROR, NULL, 0, "cannot start thread %ld", i);
			break;
		}
		started++;
	}

	/* Wait for a stop request: SIGTERM/SIGINT/SIGQUIT from the master, or the
	 * request budget (max_requests) being spent. */
	for (;;) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		siginfo_t si;
		sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT)
			break;
		if (getppid() == 1) {
			farm_log(FARM_LOG_WARN, NULL, 0, "master is gone; stopping");
			break;
		}
		if (farm_store_repl_probe(app->store)) {
			/* Replication rolled back committed transactions under this process's
			 * database handles (a master that stepped down, docs/replication.md):
			 * every use of them fails until they are reopened, so a new worker
			 * takes over, as when max_requests is reached, without the drain (its
			 * kept connections could only answer 503; nginx retries a request
			 * whose kept connection closed on a new one). */
			farm_log(FARM_LOG_WARN, NULL, 0,
				 "replication rolled back this node's databases; recycling");
			kill(getppid(), SIGUSR1);
			stale = 1;
			break;
		}
		if (app->conf.max_requests > 0 &&
		    __atomic_load_n(&slot->requests, __ATOMIC_RELAXED) >=
			    (uint64_t)app->conf.max_requests) {
			farm_log(FARM_LOG_INFO, NULL, 0, "served %llu requests; recycling",
				 (unsigned long long)slot->requests);
			kill(getppid(), SIGUSR1); /* the master starts a replacement now */
			break;
		}
	}
	__atomic_store_n(&slot->draining, 1, __ATOMIC_RELAXED);
	drain_deadline_ms = now_ms() + (stale ? 0 : DRAIN_MS);
	__atomic_store_n(&worker_stopping, 1, __ATOMIC_RELEASE);
	farm_gate_open();
	for (long i = 0; i < started; i++)
		if (write(wake[1], "x", 1) < 0)
			farm_log(FARM_LOG_WARN, NULL, errno, "wake pipe");
	for (long i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	rc = 0;
out:
	if (thr)
		for (long i = 0; i < n; i++) {
			farm_arena_free(thr[i].arena);
			farm_creds_cache_free(thr[i].creds_cache);
			farm_board_cache_free(thr[i].board_cache);
		}
	free(thr);
	free(tids);
	pool_set_close();
	close(wake[0]);
	close(wake[1]);
	return rc;
}
