/* farm-fcgi.h - state shared by the farm-fcgi master, its workers and handlers. */
#ifndef FARM_FCGI_H
#define FARM_FCGI_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "conf.h"
#include "crypto.h"
#include "req.h"
#include "router.h"
#include "store.h"

#define FARM_MAX_WORKERS 512

/* The scoreboard: one shared (MAP_SHARED) page set written by workers and read by
 * the master and the status endpoint.  Counters are updated with atomics. */
struct farm_slot {
	pid_t pid;
	int generation;
	uint64_t requests;   /* served by this worker */
	uint32_t active;     /* requests in progress */
	uint32_t draining;
	int64_t started;     /* Unix seconds the worker started */
	int64_t busy_since_ms; /* oldest in-progress request start, 0 when idle */
};

struct farm_scoreboard {
	uint64_t accepted;           /* every request, every worker */
	uint64_t slow_requests;
	uint64_t max_children_reached;
	uint64_t respawns, recoveries, killed_stuck;
	int64_t started;
	uint64_t creds_gen;          /* bumped after every committed credential write */
	int32_t storage;             /* the master's last checkpoint: FARM_OK, or the
				      * FARM_E_* it failed with (FARM_E_NOSPACE: full) */
	int32_t repl_ready;          /* replication child: 0 not running, 1 listening,
				      * 2 master or caught-up replica (farm-fcgi.c) */
	int32_t repl_minority;       /* replication child: this master sees fewer than
				      * a majority (it is stepping down): no write */
	struct farm_slot slot[FARM_MAX_WORKERS];
};

struct farm_cache;
struct farm_httpc;

struct farm_app {
	struct farm_conf conf;
	struct farm_store *store;         /* this process's handle */
	struct farm_keyring *keyring;
	struct farm_scoreboard *board;    /* shared */
	int slot;                         /* this worker's scoreboard slot */
	int listen_fd;
	int wake_fd;                      /* readable when the worker must stop accepting */
	struct farm_dispatch dispatch;
	struct farm_cache *cache;         /* shared platform cache (lib/platform/cache.h), or NULL */
};

/* Per accepting thread. */
struct farm_list_cache;
struct farm_board_cache;

struct farm_thr {
	struct farm_app *app;
	struct farm_arena *arena;
	void *zmq_push;                   /* nudges to farm-eventd (lazily created) */
	void *http;                       /* provider HTTP client (lazily created) */
	unsigned long long rnd;
	struct farm_list_cache *creds_cache; /* see farm-fcgi-creds.c */
	struct farm_board_cache *board_cache; /* see farm-fcgi-board.c */
};

/* farm-fcgi-routes.c: the route table: farm's own rows, then every platform
 * descriptor's rows (under /api/v1/<type>) and webhook paths, built once; *n rows.
 * NULL when out of memory. */
const struct farm_route *farm_routes_table(size_t *n);

struct farm_platform;
struct farm_platform_route;
/* What a generated platform route stands for; farm_routes_platform_row(r->route)
 * finds it (NULL for farm's own routes). */
struct farm_fcgi_platform_row {
	const struct farm_platform *platform;
	const struct farm_platform_route *route; /* NULL for a webhook path */
};
const struct farm_fcgi_platform_row *farm_routes_platform_row(const struct farm_route *rt);

/* farm-fcgi-routedump.c: `farm-fcgi --routes`: "METHOD PATTERN FLAGS" lines (flags
 * auth,admin,json,body,adminloc or -); 0, or 1 when the table is missing or stdout fails. */
int farm_routes_print(FILE *fp, const struct farm_route *table, size_t n);

/* farm-fcgi-worker.c: runs a worker process until told to stop; returns exit code. */
int farm_worker_main(struct farm_app *app);
/* threads.running resolved: 1..threads threads of a worker running at once. */
int farm_running_slots(const struct farm_conf *conf);

/* Handlers (farm-fcgi-*.c) */
int farm_h_health(struct farm_req *r);
/* The replication state for /health and /farm-status (new reference), or NULL when
 * replication is off. */
json_t *farm_fcgi_repl_json(struct farm_store *store);
int farm_h_debug_sleep(struct farm_req *r);
int farm_h_creds_list(struct farm_req *r);
/* Frees a thread's credential list cache (NULL-safe). */
void farm_creds_cache_free(struct farm_list_cache *c);
/* farm-fcgi-board.c: the board, cctray, the history for pollers. */
int farm_h_board_projects(struct farm_req *r);
int farm_h_board_cctray(struct farm_req *r);
int farm_h_events_list(struct farm_req *r);

/* farm-fcgi-audit.c: GET /audit, and the audit record of a request's action (its
 * caller, org and request id from r; the strings borrowed for the write). */
struct farm_audit;
int farm_h_audit_list(struct farm_req *r);
/* Fills *a; returns 0 when audit.enabled is off (then write nothing). */
int farm_fcgi_audit(const struct farm_req *r, struct farm_audit *a, const char *action,
		    const char *platform, const char *target, const char *cred_id);
/* An upstream action (trigger, sync, restart, rerun, cancel): call _begin after the
 * credential is picked and before the platform is called; on FARM_OK (*id set, 0
 * when audit is off) make the call, then _end with its outcome (FARM_OK or not).
 * Otherwise the failure has been answered (503/507): do not call the platform. */
int farm_fcgi_audit_begin(struct farm_req *r, const char *action, const char *platform,
			  const char *target, const char *cred_id, uint64_t *id);
void farm_fcgi_audit_end(struct farm_req *r, uint64_t id, int outcome);
/* Frees a thread's board answer cache (NULL-safe). */
void farm_board_cache_free(struct farm_board_cache *c);
int farm_h_creds_create(struct farm_req *r);
int farm_h_creds_patch(struct farm_req *r);
int farm_h_creds_delete(struct farm_req *r);
/* farm-fcgi-webhooks.c: POST /api/v1/webhooks/<type>[/:credentialId], the one
 * receiver of every platform with a webhook. */
int farm_h_webhook(struct farm_req *r);
/* farm-fcgi-status.c: GET /farm-status (JSON, or Prometheus text with ?format=prometheus) */
int farm_h_status(struct farm_req *r);

/* farm-fcgi-providers.c: the platform endpoints, every descriptor's rows.
 * farm_providers_init: in the master before the workers (libcurl, the shared cache).
 * farm_providers_http: this thread's HTTP client (lib/platform/httpc.h), created on first use.
 * farm_h_platform: the one handler of every platform row.
 * farm_fcgi_platform_api_url: the configured API base of a platform ("<type>.api_url"),
 * or NULL when it has none. */
int farm_providers_init(struct farm_app *app);
struct farm_httpc *farm_providers_http(struct farm_req *r);
int farm_h_platform(struct farm_req *r);
const char *farm_fcgi_platform_api_url(const struct farm_app *app, const struct farm_platform *pl);

/* farm-fcgi-webhooks.c: wakes farm-eventd after an event was committed to the
 * outbox (every handler that appends to it calls this; never blocks). */
void farm_fcgi_nudge_eventd(struct farm_req *r);
/* The credential named by a webhook's /:credentialId: it must exist and be of `type`;
 * *value is its opened value (new; Jansson's allocator wipes it), *org its orgId in the
 * request arena or NULL.  A rotated keyring is rebuilt (farm_keys_open_cred).
 * FARM_E_NOTFOUND for a missing, other-type or unopenable credential; else a store
 * error. */
int farm_fcgi_hook_cred(struct farm_req *r, const char *cred_id, const char *type,
			json_t **value, char **org);

/* farm-fcgi-catalog.c: catalog links to Argo CD applications and the CI/CD tab. */
int farm_h_catalog_list(struct farm_req *r);
int farm_h_catalog_get(struct farm_req *r);
int farm_h_catalog_patch(struct farm_req *r);
int farm_h_catalog_cicd(struct farm_req *r);
/* farm-fcgi-pipelines.c: pipelines and their runs (farm-runner executes them). */
int farm_h_pipelines_list(struct farm_req *r);
int farm_h_pipelines_create(struct farm_req *r);
int farm_h_pipeline_get(struct farm_req *r);
int farm_h_runs_list(struct farm_req *r);
int farm_h_runs_create(struct farm_req *r);
int farm_h_run_get(struct farm_req *r);
int farm_h_run_log(struct farm_req *r);
/* farm-fcgi-runs.c: GET /platforms and the runs of every platform (platforms.md §5). */
int farm_h_platforms(struct farm_req *r);
int farm_h_runs_history(struct farm_req *r);
int farm_h_run_one(struct farm_req *r);
int farm_h_run_rerun(struct farm_req *r);
int farm_h_run_cancel(struct farm_req *r);
int farm_h_run_platform_log(struct farm_req *r);

#endif
