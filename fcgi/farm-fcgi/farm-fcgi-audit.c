/* farm-fcgi-audit.c - GET /api/v1/audit (admin: the caller's org, newest first,
 * paged with ?limit=&before=), and the one place the handlers fill an audit record
 * from their request (lib/audit/audit.h says what is written where). */
#include "farm-fcgi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "log.h"
#include "banned.h"

#define AUDIT_LIMIT_DEFAULT 50

int farm_fcgi_audit(const struct farm_req *r, struct farm_audit *a, const char *action,
		    const char *platform, const char *target, const char *cred_id)
{
	const struct farm_app *app = r->app;

	memset(a, 0, sizeof(*a));
	a->sub = r->claims.sub[0] ? r->claims.sub : NULL;
	a->org = farm_req_org(r);
	a->action = action;
	a->platform = platform;
	a->target = target;
	a->cred_id = cred_id;
	a->req_id = r->id;
	return app->conf.audit_enabled;
}

int farm_fcgi_audit_begin(struct farm_req *r, const char *action, const char *platform,
			  const char *target, const char *cred_id, uint64_t *id)
{
	struct farm_app *app = r->app;
	struct farm_audit a;
	int rc;

	*id = 0;
	if (!farm_fcgi_audit(r, &a, action, platform, target, cred_id))
		return FARM_OK;
	if ((rc = farm_audit_add(app->store, &a, id)) != FARM_OK)
		farm_req_store_fail(r, rc);
	return rc;
}

void farm_fcgi_audit_end(struct farm_req *r, uint64_t id, int outcome)
{
	struct farm_app *app = r->app;

	if (id && farm_audit_finish(app->store, id,
				    outcome == FARM_OK ? FARM_AUDIT_OK : FARM_AUDIT_FAILED) != FARM_OK)
		farm_log(FARM_LOG_WARN, r->id, 0, "audit record %llu: outcome not written",
			 (unsigned long long)id);
}

/* A whole decimal number in 1..max; FARM_E_INVAL otherwise. */
static int parse_num(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return FARM_E_INVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
			return FARM_E_INVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < 1)
		return FARM_E_INVAL;
	*out = v;
	return FARM_OK;
}

int farm_h_audit_list(struct farm_req *r)
{
	struct farm_app *app = r->app;
	const char *ql = farm_req_query(r, "limit"), *qb = farm_req_query(r, "before");
	uint64_t limit = AUDIT_LIMIT_DEFAULT, before = 0, next = 0;
	json_t *page = NULL;
	char hdr[24], *hval;
	int rc;

	if (ql && parse_num(ql, FARM_AUDIT_LIMIT_MAX, &limit) != FARM_OK)
		return farm_req_fail(r, FARM_E_INVAL, "limit must be an integer from 1 to %d",
				     FARM_AUDIT_LIMIT_MAX);
	if (qb && parse_num(qb, INT64_MAX, &before) != FARM_OK)
		return farm_req_fail(r, FARM_E_INVAL,
				     "before must be an audit record id (a positive integer)");
	rc = farm_audit_page(app->store, farm_req_org(r), before, (size_t)limit, &page, &next);
	if (rc != FARM_OK)
		return farm_req_store_fail(r, rc);
	/* The next page: ?before=<this>; absent on the last page. */
	if (next) {
		snprintf(hdr, sizeof(hdr), "%llu", (unsigned long long)next);
		if (!(hval = farm_arena_strdup(r->arena, hdr)) ||
		    farm_req_header(r, "X-Farm-Next-Before", hval) != FARM_OK) {
			json_decref(page);
			return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
		}
	}
	return farm_req_json(r, 200, page);
}
