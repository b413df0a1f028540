/* farm-fcgi-runs.c - one vocabulary across platforms (platforms.md §5): GET /platforms
 * and the runs API, answered from the descriptors (lib/platform/platform.h) without
 * naming a platform.
 *
 *   GET  /api/v1/platforms                       every platform in registry order
 *   GET  /api/v1/runs?platform=&project=&limit=  farm's stored history, reduced to the
 *                                                latest state of each run, newest first
 *   GET  /api/v1/runs/:platform/:runId           the run, read live (cached like every read)
 *   POST /api/v1/runs/:platform/:runId/rerun     201 the new run (202 when not started yet)
 *   POST /api/v1/runs/:platform/:runId/cancel    202
 *   GET  /api/v1/runs/:platform/:runId/log       text/plain, capped at runs.log_max
 *
 * Order of checks on /runs/:platform/:runId: unknown platform 404; the operation
 * missing from the descriptor 405 naming the platform (a log: 404 saying so); a runId
 * that does not parse 400; then the credential (?credentialId= or the org's latest of
 * the type: none or another org's 404), and only then the platform.
 */
#include "farm-fcgi.h"
#include "farm-fcgi-pcall.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "creds.h"
#include "events.h"
#include "event.h"
#include "log.h"
#include "platform.h"
#include "provider.h"
#include "runidx.h"
#include "banned.h"

#define RUNS_LIMIT_DEFAULT 20
#define RUNS_LIMIT_MAX 100
#define RUNS_PER_TXN 256 /* history events read by one read transaction */

/* ---- GET /platforms ------------------------------------------------------------------ */

struct configured {
	const char *org;
	unsigned have; /* bit i: the org has a credential of farm_platforms[i] */
};

static int configured_txn(struct farm_txn *t, void *arg)
{
	struct configured *c = arg;

	c->have = 0;
	for (size_t i = 0; farm_platforms[i] && i < 32; i++) {
		json_t *rec = NULL;
		int notfound = 0;
		int rc = farm_creds_pick(t, c->org, farm_platforms[i]->up.type, NULL, &rec, &notfound);

		if (rc != FARM_OK)
			return rc;
		if (rec)
			c->have |= 1u << i;
		json_decref(rec);
	}
	return FARM_OK;
}

static json_t *platform_json(struct farm_app *app, const struct farm_platform *pl, int configured)
{
	json_t *o = json_object(), *caps = json_array(), *fields = json_array(), *trigger = NULL;
	unsigned bits = farm_platform_capabilities(pl);
	int bad = !o || !caps || !fields;

	for (size_t i = 0; !bad && farm_platform_capability_names[i]; i++)
		if (bits & (1u << i))
			bad |= json_array_append_new(caps, json_string(farm_platform_capability_names[i]));
	for (const struct farm_cred_field *f = pl->fields; !bad && f && f->name; f++) {
		const char *def = NULL;
		json_t *fo;

		/* A URL field the platform does not require defaults to its configured API
		 * base (platforms.md §2: "url (default https://...)"). */
		if ((f->flags & FARM_CRED_URL) && !(f->flags & FARM_CRED_REQUIRED))
			def = farm_fcgi_platform_api_url(app, pl);
		fo = json_pack("{s:s, s:s, s:b, s:b, s:b, s:o}", "name", f->name, "type", "string",
			       "required", !!(f->flags & FARM_CRED_REQUIRED), "secret",
			       !!(f->flags & FARM_CRED_SECRET), "url", !!(f->flags & FARM_CRED_URL),
			       "default", def ? json_string(def) : json_null());
		bad |= !fo || json_array_append_new(fields, fo);
	}
	/* The generic opt-in the credential validator accepts for this platform
	 * (lib/creds/creds.h FARM_CREDS_POLL): a boolean, false when left out. */
	if (!bad && farm_platform_poll_optin(pl))
		bad |= json_array_append_new(
		    fields, json_pack("{s:s, s:s, s:b, s:b, s:b, s:b}", "name", "poll", "type",
				      "boolean", "required", 0, "secret", 0, "url", 0, "default", 0));
	/* The route that starts a run (the console's Trigger button), or null. */
	for (const struct farm_platform_route *rt = pl->routes; !bad && rt && rt->method; rt++)
		if (rt->flags & FARM_PLATFORM_TRIGGER) {
			trigger = json_pack("{s:s, s:s++}", "method", rt->method, "path", "/api/v1/",
					    pl->up.type, rt->path);
			bad |= !trigger;
			break;
		}
	if (!bad)
		bad |= json_object_set_new(o, "type", json_string(pl->up.type)) ||
		       json_object_set_new(o, "name", json_string(pl->up.title)) ||
		       json_object_set_new(o, "configured", json_boolean(configured)) ||
		       json_object_set(o, "capabilities", caps) ||
		       json_object_set_new(o, "runId", json_string(pl->run_id ? pl->run_id : "")) ||
		       json_object_set(o, "credentialFields", fields) ||
		       json_object_set(o, "trigger", trigger ? trigger : json_null());
	json_decref(trigger);
	json_decref(caps);
	json_decref(fields);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int farm_h_platforms(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct configured c = {farm_req_org(r), 0};
	json_t *out;
	int rc;

	if ((rc = farm_store_run(app->store, configured_txn, &c)) != FARM_OK)
		return farm_req_store_fail(r, rc);
	if (!(out = json_array()))
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	for (size_t i = 0; farm_platforms[i]; i++) {
		json_t *p = platform_json(app, farm_platforms[i], i < 32 && (c.have & (1u << i)));

		if (!p || json_array_append_new(out, p)) {
			json_decref(out);
			return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
		}
	}
	return farm_req_json(r, 200, out);
}

/* ---- GET /runs: the stored history, latest state of each run ------------------------- */

/* A stored event is compact JSON written by Jansson: a member the caller filters on
 * appears in it as `"<name>":<value as Jansson encodes it>`.  Events without every
 * needle are skipped before they are parsed (a needle is necessary, not sufficient:
 * the parse decides). */
#define SCAN_NEEDLES 2

struct scan {
	const char *org, *platform, *project;
	char *needle[SCAN_NEEDLES]; /* malloc, NULL-padded */
	char *org_needle;           /* `"orgId":"<org>"`; an event of no org is everyone's */
	size_t limit;
	uint64_t first, last; /* the history's bounds */
	uint64_t from, to;    /* this transaction reads ids to..from, downwards */
	json_t *runs;         /* the answer, newest first */
	json_t *seen;         /* "<provider> <buildId>" -> true */
};

static int bounds_txn(struct farm_txn *t, void *arg)
{
	struct scan *s = arg;
	int rc = farm_events_first(t, &s->first);

	return rc == FARM_OK ? farm_events_last(t, &s->last) : rc;
}

/* The run object of a stored event: its data without id and receivedAt, or NULL when
 * the event is no platform's run, not the caller's, or does not match the filter. */
static json_t *run_of_event(const struct scan *s, json_t *seen, const char *json, size_t len,
			    char key[])
{
	json_t *ev, *data, *run = NULL;
	const char *prov, *bid, *proj;

	static const char no_org[] = "\"orgId\":null";

	for (size_t i = 0; i < SCAN_NEEDLES && s->needle[i]; i++)
		if (!memmem(json, len, s->needle[i], strlen(s->needle[i])))
			return NULL;
	if (s->org_needle && !memmem(json, len, s->org_needle, strlen(s->org_needle)) &&
	    !memmem(json, len, no_org, sizeof(no_org) - 1))
		return NULL;
	ev = json_loadb(json, len, 0, NULL);
	data = json_object_get(ev, "data");
	prov = json_string_value(json_object_get(data, "provider"));
	bid = json_string_value(json_object_get(data, "buildId"));
	proj = json_string_value(json_object_get(data, "project"));
	if (!json_is_object(data) || !prov || !bid ||
	    strcmp(json_string_value(json_object_get(ev, "event")) ?: "", FARM_EVENT_BUILD_UPDATED) ||
	    !farm_events_visible(s->org, json_string_value(json_object_get(data, "orgId"))) ||
	    !farm_platform_find(prov) || (s->platform && strcmp(prov, s->platform)) ||
	    (s->project && (!proj || strcmp(proj, s->project))))
		goto out;
	snprintf(key, FARM_EVENT_FIELD_MAX * 2 + 80, "%s %s", prov, bid);
	if (json_object_get(seen, key))
		goto out;
	run = json_deep_copy(data);
	if (run) {
		json_object_del(run, "id");
		json_object_del(run, "receivedAt");
	}
out:
	json_decref(ev);
	return run;
}

/* `"<name>":<value JSON-encoded as Jansson does>`, new; NULL when out of memory. */
static char *needle(const char *name, const char *value)
{
	json_t *v = json_string(value);
	char *enc = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL, *out = NULL;

	if (enc && asprintf(&out, "\"%s\":%s", name, enc) < 0)
		out = NULL;
	free(enc);
	json_decref(v);
	return out;
}

static int scan_txn(struct farm_txn *t, void *arg)
{
	struct scan *s = arg;
	char *key = malloc(FARM_EVENT_FIELD_MAX * 2 + 80);
	json_t *runs = json_array(), *seen = json_object();
	int rc = FARM_OK;

	/* A deadlock retry starts over from the state before this transaction. */
	if (!key || !runs || !seen || json_array_extend(runs, s->runs) ||
	    json_object_update(seen, s->seen)) {
		rc = FARM_E_NOMEM;
		goto out;
	}
	for (uint64_t id = s->to; id >= s->from && json_array_size(runs) < s->limit; id--) {
		char *json = NULL;
		size_t len = 0;
		json_t *run;

		rc = farm_events_get(t, id, &json, &len);
		if (rc == FARM_E_NOTFOUND) { /* pruned meanwhile */
			rc = FARM_OK;
			if (id == 0)
				break;
			continue;
		}
		if (rc != FARM_OK)
			goto out;
		if ((run = run_of_event(s, seen, json, len, key)) &&
		    (json_array_append_new(runs, run) || json_object_set_new(seen, key, json_true())))
			rc = FARM_E_NOMEM;
		free(json);
		if (rc != FARM_OK || id == 0)
			break;
	}
out:
	free(key);
	if (rc == FARM_OK) {
		json_decref(s->runs);
		json_decref(s->seen);
		s->runs = runs;
		s->seen = seen;
	} else {
		json_decref(runs);
		json_decref(seen);
	}
	return rc;
}

/* ---- GET /runs from the runs index (lib/events/runidx.h) ------------------------------ */

struct ix {
	const char *org, *platform, *project;
	size_t limit;
	json_t *runs;
};

static int ix_keep(json_t *row)
{
	/* The platform must be one farm knows (as the scan's farm_platform_find). */
	return farm_platform_find(json_string_value(json_object_get(row, "provider"))) != NULL;
}

static int ix_newer(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "eventId"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "eventId"));

	return x > y ? -1 : x < y;
}

/* The org's runs and the org-less ones (everyone's), each walk stopping at `limit`
 * rows, merged newest first: one read transaction, at most 2 x limit rows read past
 * those of platforms farm does not know. */
static int ix_txn(struct farm_txn *t, void *arg)
{
	struct ix *x = arg;
	json_t *mine = json_array(), *none = json_array(), *all = json_array();
	json_t **v = NULL;
	uint64_t first = 0;
	size_t n = 0, i;
	int rc = FARM_E_NOMEM;

	if (!mine || !none || !all)
		goto out;
	if ((rc = farm_events_first(t, &first)) != FARM_OK)
		goto out;
	if (!first)
		goto done; /* an empty history lists nothing */
	if ((x->org && (rc = farm_runidx_list(t, x->org, x->platform, x->project, first, x->limit,
					       ix_keep, mine)) != FARM_OK) ||
	    (rc = farm_runidx_list(t, NULL, x->platform, x->project, first, x->limit, ix_keep,
				   none)) != FARM_OK)
		goto out;
	rc = FARM_E_NOMEM;
	n = json_array_size(mine) + json_array_size(none);
	if (n && !(v = calloc(n, sizeof(*v))))
		goto out;
	for (i = 0; i < json_array_size(mine); i++)
		v[i] = json_array_get(mine, i);
	for (size_t j = 0; j < json_array_size(none); j++)
		v[i + j] = json_array_get(none, j);
	if (n)
		qsort(v, n, sizeof(*v), ix_newer);
	for (i = 0; i < n && i < x->limit; i++) {
		json_object_del(v[i], "eventId");
		if (json_array_append(all, v[i]))
			goto out;
	}
done:
	json_decref(x->runs);
	x->runs = all;
	all = NULL;
	rc = FARM_OK;
out:
	free(v);
	json_decref(mine);
	json_decref(none);
	json_decref(all);
	return rc;
}

static int parse_limit(const char *v, long *out)
{
	size_t n = v ? strlen(v) : 0;

	if (!n || n > 3 || strspn(v, "0123456789") != n)
		return FARM_E_INVAL;
	*out = strtol(v, NULL, 10);
	return *out >= 1 && *out <= RUNS_LIMIT_MAX ? FARM_OK : FARM_E_INVAL;
}

int farm_h_runs_history(struct farm_req *r)
{
	struct farm_app *app = r->app;
	const char *ql = farm_req_query(r, "limit");
	struct scan s = {farm_req_org(r), farm_req_query(r, "platform"), farm_req_query(r, "project"),
			 {NULL}, NULL, RUNS_LIMIT_DEFAULT, 0, 0, 0, 0, NULL, NULL};
	long limit = RUNS_LIMIT_DEFAULT;
	int rc;

	if (s.platform && !farm_platform_find(s.platform))
		return farm_req_fail(r, FARM_E_NOTFOUND, "unknown platform '%.64s'", s.platform);
	if (s.project && (!*s.project || strlen(s.project) > FARM_EVENT_FIELD_MAX))
		return farm_req_fail(r, FARM_E_INVAL, "project must be 1 to %d bytes",
				     FARM_EVENT_FIELD_MAX);
	if (ql && parse_limit(ql, &limit) != FARM_OK)
		return farm_req_fail(r, FARM_E_INVAL, "limit must be an integer from 1 to %d",
				     RUNS_LIMIT_MAX);
	s.limit = (size_t)limit;
	if (app->conf.runs_index) {
		struct ix x = {s.org, s.platform, s.project, s.limit, NULL};

		if ((rc = farm_store_run(app->store, ix_txn, &x)) != FARM_OK) {
			json_decref(x.runs);
			goto fail;
		}
		return farm_req_json(r, 200, x.runs);
	}
	{
		size_t k = 0;
		int nomem = 0;

		if (s.org)
			nomem |= !(s.org_needle = needle("orgId", s.org));
		if (s.platform)
			nomem |= !(s.needle[k++] = needle("provider", s.platform));
		if (s.project)
			nomem |= !(s.needle[k++] = needle("project", s.project));
		if (nomem) {
			rc = FARM_E_NOMEM;
			goto fail;
		}
	}
	if (!(s.runs = json_array()) || !(s.seen = json_object())) {
		rc = FARM_E_NOMEM;
		goto fail;
	}
	if ((rc = farm_store_run(app->store, bounds_txn, &s)) != FARM_OK)
		goto fail;
	/* Newest first, RUNS_PER_TXN events a transaction, until the page is full or the
	 * retained history is read (events.history bounds the scan). */
	for (uint64_t to = s.last; s.first && to >= s.first && json_array_size(s.runs) < s.limit;) {
		s.to = to;
		s.from = to - s.first >= RUNS_PER_TXN - 1 ? to - (RUNS_PER_TXN - 1) : s.first;
		if ((rc = farm_store_run(app->store, scan_txn, &s)) != FARM_OK)
			goto fail;
		if (s.from <= s.first)
			break;
		to = s.from - 1;
	}
	json_decref(s.seen);
	for (size_t i = 0; i < SCAN_NEEDLES; i++)
		free(s.needle[i]);
	free(s.org_needle);
	return farm_req_json(r, 200, s.runs);
fail:
	for (size_t i = 0; i < SCAN_NEEDLES; i++)
		free(s.needle[i]);
	free(s.org_needle);
	json_decref(s.runs);
	json_decref(s.seen);
	if (rc == FARM_E_NOMEM)
		return farm_req_fail(r, rc, "out of memory");
	return farm_req_store_fail(r, rc);
}

/* ---- /runs/:platform/:runId ------------------------------------------------------------ */

enum run_op { OP_GET, OP_RERUN, OP_CANCEL, OP_LOG };

static const char *const op_name[] = {"reading runs", "rerun", "cancel", "run logs"};

/* The platform and its hook for op, the runId checked; NULL when an answer is made. */
static const struct farm_platform *run_target(struct farm_req *r, enum run_op op)
{
	const struct farm_platform *pl = farm_platform_find(r->params[0]);
	const struct farm_platform_runs *h;
	char why[256];
	int have;

	if (!pl) {
		farm_req_fail(r, FARM_E_NOTFOUND, "unknown platform '%.64s'", r->params[0]);
		return NULL;
	}
	h = pl->runs;
	have = h && h->parse &&
	       (op == OP_GET ? !!h->get : op == OP_RERUN ? !!h->rerun : op == OP_CANCEL ? !!h->cancel
									    : !!h->log);
	if (!have) {
		if (op == OP_LOG)
			farm_req_fail(r, FARM_E_NOTFOUND, "%s has no run logs", pl->up.title);
		else
			farm_req_fail(r, FARM_E_METHOD, "%s does not support %s", pl->up.title,
				      op_name[op]);
		return NULL;
	}
	if (h->parse(r->params[1], why, sizeof(why))) {
		farm_req_fail(r, FARM_E_INVAL, "%s", why);
		return NULL;
	}
	return pl;
}

/* Adds the caller's orgId and the credential's id after "provider". */
static json_t *run_object(struct farm_req *r, struct farm_pcall *pc, json_t *fields)
{
	json_t *o = json_object();
	const char *org = farm_req_org(r), *k;
	json_t *v;

	if (!o)
		return NULL;
	if (json_object_set(o, "provider", json_object_get(fields, "provider") ?: json_null()) ||
	    json_object_set_new(o, "orgId", org ? json_string(org) : json_null()) ||
	    json_object_set_new(o, "credentialId", json_string(pc->c.cred_id))) {
		json_decref(o);
		return NULL;
	}
	json_object_foreach(fields, k, v)
		if (!json_object_get(o, k) && json_object_set(o, k, v)) {
			json_decref(o);
			return NULL;
		}
	return o;
}

/* Sets up the call; 1 when an answer was made. */
static int run_begin(struct farm_req *r, const struct farm_platform *pl, struct farm_pcall *pc)
{
	int b = farm_pcall_begin(r, pl->up.type, pc);

	if (b == FARM_PCALL_NONE)
		farm_req_fail(r, FARM_E_NOTFOUND, "No %s credential configured for this organization",
			      pl->up.type);
	return b != FARM_PCALL_OK;
}

struct get_in {
	const struct farm_platform *pl;
	const char *run_id;
};

static int rd_run(struct farm_provider_call *c, const void *arg, json_t **out)
{
	const struct get_in *g = arg;

	return g->pl->runs->get(c, g->run_id, out);
}

/* A run read or started queued or running (its event fields, borrowed) is watched
 * until it ends when its platform or credential asks for it (farm_watch_wanted). */
static void watch_unfinished(struct farm_req *r, const struct farm_platform *pl,
			     struct farm_pcall *pc, json_t *fields)
{
	const char *st = json_string_value(json_object_get(fields, "status"));
	json_t *id = json_object_get(fields, "buildId"), *runs;

	if (!json_is_string(id) || !st || (strcmp(st, "queued") && strcmp(st, "running")))
		return;
	if (pc->c.cache_state && !strcmp(pc->c.cache_state, "hit"))
		return; /* only what the platform answered now */
	if (!(runs = json_pack("[O]", id)))
		return;
	farm_fcgi_watch_runs(r, pl, pc, runs);
	json_decref(runs);
}

int farm_h_run_one(struct farm_req *r)
{
	const struct farm_platform *pl = run_target(r, OP_GET);
	struct get_in g = {pl, r->params[1]};
	struct farm_pcall pc;
	char *text = NULL, *key;
	size_t len = 0;
	json_t *fields, *run;
	int rc;

	if (!pl || run_begin(r, pl, &pc))
		return r->status;
	key = farm_arena_printf(r->arena, "%s.run %s", pl->up.type, r->params[1]);
	rc = key ? farm_provider_read(&pc.c, key, rd_run, &g, &text, &len) : farm_provider_nomem(&pc.c);
	if (rc != FARM_OK)
		return farm_pcall_answer(r, &pc, rc, 200, NULL);
	fields = json_loadb(text, len, 0, NULL);
	free(text);
	watch_unfinished(r, pl, &pc, fields);
	run = fields ? run_object(r, &pc, fields) : NULL;
	json_decref(fields);
	if (!run)
		rc = farm_provider_nomem(&pc.c);
	return farm_pcall_answer(r, &pc, rc, 200, run);
}

/* A write went to the platform: cached reads of this credential may be stale. */
static void written(struct farm_req *r, struct farm_pcall *pc)
{
	struct farm_app *app = r->app;

	if (app->cache && pc->c.cred_id && pc->c.upstream_calls)
		farm_cache_invalidate(app->cache, pc->c.cred_id);
}

static int run_action(struct farm_req *r, enum run_op op)
{
	const struct farm_platform *pl = run_target(r, op);
	const char *run_id = r->params[1];
	struct farm_pcall pc;
	json_t *fields = NULL, *out = NULL;
	uint64_t audit_id = 0;
	int rc, status;

	if (!pl || run_begin(r, pl, &pc))
		return r->status;
	/* The audit record: durable before the upstream call, its outcome after
	 * (lib/audit/audit.h); a store failure has been answered, nothing is sent. */
	if (farm_fcgi_audit_begin(r, op == OP_RERUN ? "rerun" : "cancel", pl->up.type, run_id,
				  pc.c.cred_id, &audit_id) != FARM_OK) {
		farm_pcall_end(&pc);
		return r->status;
	}
	farm_log(FARM_LOG_INFO, r->id, 0, "%s: %s of run %s requested", pl->up.type, op_name[op],
		 run_id);
	if (op == OP_RERUN)
		rc = pl->runs->rerun(&pc.c, run_id, &fields);
	else
		rc = pl->runs->cancel(&pc.c, run_id);
	farm_fcgi_audit_end(r, audit_id, rc);
	written(r, &pc);
	if (rc != FARM_OK) {
		json_decref(fields);
		return farm_pcall_answer(r, &pc, rc, 200, NULL);
	}
	if (op == OP_RERUN) {
		watch_unfinished(r, pl, &pc, fields);
		out = run_object(r, &pc, fields);
		/* Not started yet (a queued item the platform did not start within the
		 * bound): 202, the run without a buildId. */
		status = json_is_string(json_object_get(fields, "buildId")) ? 201 : 202;
	} else {
		out = json_pack("{s:s, s:s, s:s}", "provider", pl->up.type, "buildId", run_id,
				"status", "cancel requested");
		status = 202;
	}
	json_decref(fields);
	if (!out)
		rc = farm_provider_nomem(&pc.c);
	return farm_pcall_answer(r, &pc, rc, status, out);
}

int farm_h_run_rerun(struct farm_req *r)
{
	return run_action(r, OP_RERUN);
}

int farm_h_run_cancel(struct farm_req *r)
{
	return run_action(r, OP_CANCEL);
}

#define TRUNC_MARK "\n[farm: log truncated at %zu bytes; runs.log_max]\n"

int farm_h_run_platform_log(struct farm_req *r)
{
	struct farm_app *app = r->app;
	const struct farm_platform *pl = run_target(r, OP_LOG);
	size_t cap = (size_t)app->conf.runs_log_max, len = 0;
	struct farm_pcall pc;
	char *text = NULL, *body, capbuf[24];
	int rc, truncated = 0, n;

	if (!pl || run_begin(r, pl, &pc))
		return r->status;
	rc = pl->runs->log(&pc.c, r->params[1], cap, &text, &len, &truncated);
	if (rc != FARM_OK) {
		free(text);
		return farm_pcall_answer(r, &pc, rc, 200, NULL);
	}
	if (len > cap) { /* a hook that gave more than asked */
		len = cap;
		truncated = 1;
	}
	body = farm_arena_alloc(r->arena, len + sizeof(TRUNC_MARK) + 24);
	if (!body) {
		free(text);
		return farm_pcall_answer(r, &pc, farm_provider_nomem(&pc.c), 200, NULL);
	}
	memcpy(body, text, len);
	free(text);
	if (truncated && (n = snprintf(body + len, sizeof(TRUNC_MARK) + 24, TRUNC_MARK, cap)) > 0)
		len += (size_t)n;
	snprintf(capbuf, sizeof(capbuf), "%zu", cap);
	farm_req_header(r, "X-Farm-Log-Cap", farm_arena_strdup(r->arena, capbuf));
	farm_req_header(r, "X-Farm-Log-Truncated", truncated ? "true" : "false");
	r->text = body;
	r->text_len = len;
	r->content_type = "text/plain; charset=utf-8";
	r->status = 200;
	farm_pcall_end(&pc);
	return 200;
}
