/* farm-fcgi-health.c - GET /api/v1/health: can the stack serve? */
#include "farm-fcgi.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "gate.h"
#include "banned.h"

/* The daemons' lock files, kept open for the life of the worker process. */
static int lock_eventd = -1, lock_wsd = -1;
static pthread_mutex_t lock_mu = PTHREAD_MUTEX_INITIALIZER;

static int daemon_running(const struct farm_app *app, const char *name, int *fd)
{
	int rc;

	if (__atomic_load_n(fd, __ATOMIC_ACQUIRE) >= 0)
		return farm_events_lock_held_fd(app->conf.state_dir, name, fd);
	pthread_mutex_lock(&lock_mu);
	int f = *fd;
	rc = farm_events_lock_held_fd(app->conf.state_dir, name, &f);
	__atomic_store_n(fd, f, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock_mu);
	return rc;
}

/* "ok", "full" or "failing": the free space writes keep in reserve
 * (farm_store_space), and the master's last checkpoint (it writes the cached pages
 * and removes old logs, so it fails with the disk). */
static const char *storage_state(const struct farm_app *app)
{
	int ckpt = __atomic_load_n(&app->board->storage, __ATOMIC_RELAXED);

	if (ckpt == FARM_E_NOSPACE || farm_store_space(app->store) == FARM_E_NOSPACE)
		return "full";
	return ckpt == FARM_OK ? "ok" : "failing";
}

json_t *farm_fcgi_repl_json(struct farm_store *store)
{
	struct farm_repl_status st;
	json_t *peers;
	char lsn[32];
	int caught_up;

	if (!farm_store_repl_on() || farm_store_repl_status(store, &st) != FARM_OK)
		return NULL;
	peers = json_array();
	for (int i = 0; i < st.npeers; i++)
		json_array_append_new(peers, json_pack("{s:s,s:b}", "site", st.peers[i].addr,
						       "connected", st.peers[i].connected));
	snprintf(lsn, sizeof(lsn), "%u/%u", (unsigned)st.lsn_file, (unsigned)st.lsn_offset);
	/* A replica short of space may not be able to write the master's next log records
	 * (Berkeley DB then panics its environment: docs/replication.md, "Disk full on
	 * one node"): it does not claim to be caught up. */
	caught_up = st.role == FARM_REPL_MASTER ||
		    (st.startup_done && farm_store_space(store) != FARM_E_NOSPACE);
	return json_pack("{s:s,s:s,s:s?,s:b,s:b,s:b,s:s,s:I,s:I,s:o}", "role",
			 farm_repl_role_name(st.role), "site", st.local, "master",
			 *st.master ? st.master : NULL, "writable", st.role == FARM_REPL_MASTER,
			 "caughtUp", caught_up, "listener",
			 st.listener, "lsn", lsn, "generation", (json_int_t)st.generation,
			 "elections", (json_int_t)st.elections, "peers", peers);
}

int farm_h_health(struct farm_req *r)
{
	struct farm_app *app = r->app;
	json_t *checks = json_object();
	int ok = 1, rc;

	rc = farm_store_ping(app->store);
	json_object_set_new(checks, "database", json_string(rc == FARM_OK ? "ok" : farm_strerror(rc)));
	if (rc != FARM_OK)
		ok = 0;
	/* A full disk leaves the database answering (reads work) while writes get 507. */
	json_object_set_new(checks, "storage", json_string(storage_state(app)));
	ok &= strcmp(json_string_value(json_object_get(checks, "storage")), "ok") == 0;
	/* The event pipeline: farm-eventd ("sidecar") and farm-wsd ("bridge") each hold
	 * a lock file in state_dir while they run; farm-wsd takes its lock only once it
	 * listens (and drops it first when stopping), so "bridge ok" means a WebSocket
	 * opened now is accepted (t/t3110).  A part whose endpoint is configured
	 * empty is not deployed and not checked.  Webhooks never depend on this answer:
	 * with eventd down they still store their events, which wait in the outbox. */
	if (app->conf.events_pub && *app->conf.events_pub) {
		rc = daemon_running(app, FARM_EVENTS_LOCK_EVENTD, &lock_eventd);
		json_object_set_new(checks, "sidecar", json_string(rc == 1 ? "ok" : "down"));
		ok &= rc == 1;
	}
	if (app->conf.wsd_listen && *app->conf.wsd_listen) {
		rc = daemon_running(app, FARM_EVENTS_LOCK_WSD, &lock_wsd);
		json_object_set_new(checks, "bridge", json_string(rc == 1 ? "ok" : "down"));
		ok &= rc == 1;
	}
	/* Replicated: the node's repmgr listener runs (role and master are reported, a
	 * replica is healthy: it serves reads and passes writes on). */
	json_t *repl = farm_fcgi_repl_json(app->store);
	if (farm_store_repl_on()) {
		int up = repl && json_is_true(json_object_get(repl, "listener"));
		json_object_set_new(checks, "replication", json_string(up ? "ok" : "down"));
		ok &= up;
	}
	if (!ok) {
		json_t *failing = json_array();
		const char *k;
		json_t *v;
		json_object_foreach(checks, k, v)
			if (strcmp(json_string_value(v), "ok") != 0)
				json_array_append_new(failing, json_string(k));
		int st = farm_err_http_status(FARM_E_UNAVAIL);

		return farm_req_json(r, st,
				     json_pack("{s:i,s:s,s:s,s:o,s:o,s:o*}", "statusCode", st,
					       "status", "error", "error", farm_http_reason(st),
					       "failing", failing, "checks", checks, "replication",
					       repl));
	}
	return farm_req_json(r, 200, json_pack("{s:s,s:o,s:o*}", "status", "ok", "checks", checks,
					       "replication", repl));
}

/* GET /api/v1/__debug/sleep?ms=N: holds a request in flight (graceful-stop and
 * watchdog tests).  Answers 404 like any unknown path unless debug_routes = yes. */
int farm_h_debug_sleep(struct farm_req *r)
{
	struct farm_app *app = r->app;
	const char *ms = farm_req_query(r, "ms");
	long n = ms ? strtol(ms, NULL, 10) : 0;
	struct timespec ts;

	if (!app->conf.debug_routes)
		return farm_req_fail(r, FARM_E_NOTFOUND, "Cannot GET /api/v1/__debug/sleep");
	if (n < 0 || n > 60000)
		return farm_req_fail(r, FARM_E_INVAL, "ms must be within 0..60000");
	ts.tv_sec = n / 1000;
	ts.tv_nsec = (n % 1000) * 1000000L;
	farm_gate_block();
	while (nanosleep(&ts, &ts) < 0)
		;
	farm_gate_unblock();
	return farm_req_json(r, 200, json_pack("{s:i}", "slept", (int)n));
}
