/* farm-fcgi-worker.c - one worker process: `threads` accepting threads around
 * libfcgi's FCGX_Accept_r, stopped gracefully through a wake pipe.
 *
 * libfcgi blocks in accept(2) and installs its own signal handlers, so a thread in
 * FCGX_Accept_r cannot be stopped by a signal.  Instead the listening socket is
 * non-blocking and each thread polls it (or the nginx connection it keeps, with
 * fastcgi_keep_conn) together with the wake pipe.  On stop a thread finishes its
 * request, stops accepting, and serves its kept connection until nginx closes it
 * (nginx closes idle upstream connections first, so no request is caught in a
 * close race) or the drain deadline passes.
 */
#include "farm-fcgi.h"

#include <errno.h>
#include <fcntl.h>
#include <fcgiapp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "banned.h"

#define DRAIN_MS 5000

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

/* Reads the body (at most body_limit bytes kept; the rest is read and dropped so a
 * kept connection stays in sync).  Returns 0, or 413 when too large. */
static int read_body(struct farm_app *app, FCGX_Request *req, struct farm_req *r)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
	long long want = 0;
	char *end, *buf;
	char sink[8192];
	long long got = 0;

	if (cl && *cl) {
		want = strtoll(cl, &end, 10);
		if (*end || want < 0)
			want = 0;
	}
	if (want > app->conf.body_limit) {
		int n;
		while ((n = FCGX_GetStr(sink, sizeof(sink), req->in)) > 0)
			;
		r->body_len = (size_t)want;
		r->body = "";
		return 413;
	}
	buf = farm_arena_alloc(r->arena, (size_t)want + 1);
	if (!buf)
		return 500;
	while (got < want) {
		int n = FCGX_GetStr(buf + got, (int)(want - got), req->in);
		if (n <= 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	r->body = buf;
	r->body_len = (size_t)got;
	return 0;
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
	if (rc == 413)
		farm_req_error(&r, 413, "request body exceeds %ld bytes", app->conf.body_limit);
	else if (rc)
		farm_req_error(&r, 500, "out of memory");
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

static void *accept_thread(void *arg)
{
	struct farm_thr *t = arg;
	struct farm_app *app = t->app;
	FCGX_Request req;

	if (FCGX_InitRequest(&req, app->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "FCGX_InitRequest failed");
		return NULL;
	}
	for (;;) {
		struct pollfd pfd[2];
		int stopping = __atomic_load_n(&worker_stopping, __ATOMIC_ACQUIRE);
		int timeout = -1, n;

		if (stopping) {
			int64_t left = drain_deadline_ms - now_ms();
			if (req.ipcFd < 0)
				break;
			if (left <= 0) {
				FCGX_Free(&req, 1);
				break;
			}
			timeout = (int)left;
		}
		pfd[0].fd = req.ipcFd >= 0 ? req.ipcFd : app->listen_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = app->wake_fd;
		pfd[1].events = POLLIN;
		n = poll(pfd, stopping ? 1 : 2, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			farm_log(FARM_LOG_ERROR, NULL, errno, "poll");
			break;
		}
		if (n == 0)
			continue;
		if (!stopping && (pfd[1].revents & POLLIN))
			continue; /* woken to stop: the loop's head switches to draining */
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (FCGX_Accept_r(&req) < 0)
			continue; /* EAGAIN: another thread took it; or nginx closed a kept conn */
		handle(t, &req);
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, 1);
	return NULL;
}

int farm_worker_main(struct farm_app *app)
{
	struct farm_slot *slot = &app->board->slot[app->slot];
	pthread_t *tids = NULL;
	struct farm_thr *thr = NULL;
	long n = app->conf.threads, started = 0;
	int wake[2] = {-1, -1};
	sigset_t set;
	int sig = 0, rc = 1;
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

	if (pipe2(wake, O_CLOEXEC) < 0) {
		farm_log(FARM_LOG_ERROR, NULL, errno, "pipe");
		return 1;
	}
	app->wake_fd = wake[0];
	tids = calloc((size_t)n, sizeof(*tids));
	thr = calloc((size_t)n, sizeof(*thr));
	if (!tids || !thr)
		goto out;
	farm_crypto_random(&seed, sizeof(seed));
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
	drain_deadline_ms = now_ms() + DRAIN_MS;
	__atomic_store_n(&worker_stopping, 1, __ATOMIC_RELEASE);
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
		}
	free(thr);
	free(tids);
	close(wake[0]);
	close(wake[1]);
	return rc;
}
