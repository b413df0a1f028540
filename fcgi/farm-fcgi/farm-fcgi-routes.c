/* farm-fcgi-routes.c - every route of the API, in one table: farm's own rows below,
 * then the rows of every platform descriptor in the registry (lib/platform/platform.h),
 * generated once under /api/v1/<type> and all answered by farm_h_platform, and for
 * every platform with a webhook POST /api/v1/webhooks/<type>[/:credentialId], all
 * answered by farm_h_webhook (no JWT: each platform's own proof). */
#include "farm-fcgi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "banned.h"

#define AUTH FARM_ROUTE_AUTH
#define ADMIN (FARM_ROUTE_AUTH | FARM_ROUTE_ADMIN)
#define JSON FARM_ROUTE_JSON

static const struct farm_route own_routes[] = {
	{"GET", "/api/v1/health", farm_h_health, 0},
	{"GET", "/api/v1/__debug/sleep", farm_h_debug_sleep, 0},

	{"GET", "/api/v1/integrations/credentials", farm_h_creds_list, AUTH},
	{"POST", "/api/v1/integrations/credentials", farm_h_creds_create, ADMIN | JSON},
	{"PATCH", "/api/v1/integrations/credentials/:id", farm_h_creds_patch, ADMIN | JSON},
	{"DELETE", "/api/v1/integrations/credentials/:id", farm_h_creds_delete, ADMIN},

	/* Operators only, outside /api/v1: nginx's `location = /farm-status` (loopback). */
	{"GET", "/farm-status", farm_h_status, 0},

	/* Catalog links to Argo CD and the CI/CD tab (farm-fcgi-catalog.c). */
	{"GET", "/api/v1/catalog/components", farm_h_catalog_list, AUTH},
	{"GET", "/api/v1/catalog/components/:id", farm_h_catalog_get, AUTH},
	{"PATCH", "/api/v1/catalog/components/:id", farm_h_catalog_patch, ADMIN | JSON},
	{"GET", "/api/v1/catalog/components/:id/cicd", farm_h_catalog_cicd, AUTH},

	/* Pipelines and runs; farm-runner executes them (farm-fcgi-pipelines.c). */
	{"GET", "/api/v1/pipelines", farm_h_pipelines_list, AUTH},
	{"POST", "/api/v1/pipelines", farm_h_pipelines_create, ADMIN | JSON},
	{"GET", "/api/v1/pipelines/:id", farm_h_pipeline_get, AUTH},
	{"GET", "/api/v1/pipelines/:id/runs", farm_h_runs_list, AUTH},
	{"POST", "/api/v1/pipelines/:id/runs", farm_h_runs_create, ADMIN | JSON},
	{"GET", "/api/v1/pipelines/:id/runs/:runId", farm_h_run_get, AUTH},
	{"GET", "/api/v1/pipelines/:id/runs/:runId/log", farm_h_run_log, AUTH},

	/* The board and the history for pollers (farm-fcgi-board.c).  cctray.xml checks
	 * its own auth: Bearer, or the JWT as HTTP Basic password. */
	{"GET", "/api/v1/projects", farm_h_board_projects, AUTH},
	{"GET", "/api/v1/cctray.xml", farm_h_board_cctray, 0},
	{"GET", "/api/v1/events", farm_h_events_list, AUTH},

	/* Who did what in the caller's org (farm-fcgi-audit.c, lib/audit/audit.h). */
	{"GET", "/api/v1/audit", farm_h_audit_list, ADMIN},
};

#define NOWN (sizeof(own_routes) / sizeof(own_routes[0]))

static struct farm_route *table;
static size_t ntable;
static struct farm_fcgi_platform_row *rows_of; /* rows_of[i - NOWN] goes with table[i] */
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* Appends one generated row; 0 when out of memory. */
static int add(struct farm_route *t, const char *method, char *pattern, farm_handler h,
	       unsigned flags)
{
	if (!pattern)
		return 0;
	t->method = method;
	t->pattern = pattern;
	t->handler = h;
	t->flags = flags;
	return 1;
}

/* prefix + type + path, new (kept for the process's life); NULL when out of memory. */
static char *pattern(const char *prefix, const char *type, const char *path)
{
	char *p;

	return asprintf(&p, "%s%s%s", prefix, type, path) < 0 ? NULL : p;
}

static void table_build(void)
{
	size_t n = NOWN, k = NOWN;
	struct farm_fcgi_platform_row *rows;
	struct farm_route *t;

	for (size_t i = 0; farm_platforms[i]; i++) {
		for (const struct farm_platform_route *rt = farm_platforms[i]->routes; rt && rt->method;
		     rt++)
			n++;
		n += farm_platforms[i]->webhook ? 2 : 0;
	}
	t = calloc(n, sizeof(*t));
	rows = calloc(n - NOWN + 1, sizeof(*rows));
	if (!t || !rows)
		goto fail;
	memcpy(t, own_routes, sizeof(own_routes));
	for (size_t i = 0; farm_platforms[i]; i++) {
		const struct farm_platform *pl = farm_platforms[i];
		const char *ty = pl->up.type;
		for (const struct farm_platform_route *rt = pl->routes; rt && rt->method; rt++) {
			rows[k - NOWN] = (struct farm_fcgi_platform_row){pl, rt};
			if (!add(&t[k++], rt->method, pattern("/api/v1/", ty, rt->path), farm_h_platform,
				 (rt->flags & FARM_PLATFORM_ADMIN) ? AUTH | FARM_ROUTE_ADMIN : AUTH))
				goto fail;
		}
		if (!pl->webhook)
			continue;
		for (int with_id = 0; with_id < 2; with_id++) {
			rows[k - NOWN] = (struct farm_fcgi_platform_row){pl, NULL};
			if (!add(&t[k++], "POST",
				 pattern("/api/v1/webhooks/", ty, with_id ? "/:credentialId" : ""),
				 farm_h_webhook, FARM_ROUTE_BODY))
				goto fail;
		}
	}
	table = t;
	ntable = n;
	rows_of = rows;
	return; /* kept for the process's life */
fail:
	free(t);
	free(rows);
}

const struct farm_route *farm_routes_table(size_t *n)
{
	pthread_once(&table_once, table_build);
	*n = ntable;
	return table;
}

const struct farm_fcgi_platform_row *farm_routes_platform_row(const struct farm_route *rt)
{
	if (!table || !rt || rt < table + NOWN || rt >= table + ntable)
		return NULL;
	return &rows_of[rt - table - NOWN];
}
