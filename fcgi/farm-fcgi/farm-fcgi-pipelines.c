/* farm-fcgi-pipelines.c - pipelines with the OCI image build stage, and their runs.
 *
 *   POST /api/v1/pipelines                          create (admin)        201
 *   GET  /api/v1/pipelines[/:id]                    the org's pipelines (JWT)
 *   POST /api/v1/pipelines/:id/runs                 queue a run (admin)   202 at once
 *   GET  /api/v1/pipelines/:id/runs[/:runId]        runs, newest first / one run (JWT)
 *   GET  /api/v1/pipelines/:id/runs/:runId/log      the run's log, text/plain (JWT)
 *
 * Nothing here builds anything: queuing a run is one transaction (the run record,
 * its entry in the run queue, the pipeline's run counter and the "queued"
 * ci.build.updated event in the outbox), then farm-eventd is nudged.  farm-runner
 * takes queued runs from the database and executes them (fcgi/farm-runner/farm-runner.c).
 * Validation and every record shape: lib/pipeline/pipeline.h.  Another org's pipeline or run
 * is answered exactly like a missing one.
 */
#include "farm-fcgi.h"

#include "creds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "clock.h"
#include "crypto.h"
#include "json.h"
#include "log.h"
#include "pipeline.h"
#include "banned.h"

#define ID_MAX 64

static int pipeline_missing(struct farm_req *r, const char *id)
{
	return farm_req_fail(r, FARM_E_NOTFOUND, "Pipeline %.64s not found", id);
}

static int run_missing(struct farm_req *r, const char *id)
{
	return farm_req_fail(r, FARM_E_NOTFOUND, "Run %.64s not found", id);
}

/* Reads one org-scoped record: *rec new, or NULL when missing or another org's. */
static int get_scoped(struct farm_txn *t, enum farm_table tab, const char *id, const char *org,
		      int rmw, json_t **rec)
{
	*rec = NULL;
	if (strlen(id) > ID_MAX)
		return FARM_OK;
	return farm_scoped_get(t, tab, id, org, rmw, rec);
}

static int put_json(struct farm_txn *t, enum farm_table tab, const char *id, const char *org,
		    json_t *rec, int noover)
{
	char *s = json_dumps(rec, JSON_COMPACT);
	int rc;

	if (!s)
		return FARM_E_NOMEM;
	rc = farm_txn_put(t, tab, id, strlen(id), org, s, strlen(s), noover);
	farm_json_free(s);
	return rc;
}

/* ---- pipelines ------------------------------------------------------------------------ */

struct put_io {
	const char *id, *org;
	json_t *rec;
};

static int create_txn(struct farm_txn *t, void *arg)
{
	struct put_io *p = arg;

	return put_json(t, FARM_T_PIPELINES, p->id, p->org, p->rec, 1);
}

int farm_h_pipelines_create(struct farm_req *r)
{
	struct farm_app *app = r->app;
	json_t *errors = json_array(), *def = NULL;
	struct put_io p = {0};
	char id[37], now[25];
	int rc;

	if (!errors)
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	if (farm_pipeline_check(r->in, errors, &def))
		return farm_req_fail_list(r, FARM_E_INVAL, errors);
	json_decref(errors);
	if (farm_crypto_uuid4(id) != FARM_OK) {
		json_decref(def);
		return farm_req_fail(r, FARM_E_CRYPTO, "cannot generate an id");
	}
	farm_clock_iso(farm_clock_ms(), now);
	p.id = id;
	p.org = farm_req_org(r);
	p.rec = json_pack("{s:s,s:O,s:O,s:O,s:s?,s:s,s:s,s:i}", "id", id, "name",
			  json_object_get(def, "name"), "workspace", json_object_get(def, "workspace"),
			  "stages", json_object_get(def, "stages"), "orgId", p.org, "createdAt", now,
			  "updatedAt", now, "runs", 0);
	json_decref(def);
	if (!p.rec)
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	if (!p.org)
		json_object_set_new(p.rec, "orgId", json_null());
	rc = farm_store_run(app->store, create_txn, &p);
	if (rc != FARM_OK) {
		json_decref(p.rec);
		return farm_req_store_fail(r, rc);
	}
	farm_log(FARM_LOG_INFO, r->id, 0, "pipeline %s created", id);
	return farm_req_json(r, 201, p.rec);
}

struct list_io {
	const char *org, *pipeline; /* runs: only this pipeline's */
	json_t *items;
};

static int list_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct list_io *l = arg;
	json_t *rec = json_loadb(val, vlen, 0, NULL);
	const char *pid = json_string_value(json_object_get(rec, "pipelineId"));

	(void)key;
	(void)klen;
	if (!rec)
		return FARM_OK;
	if (l->pipeline && (!pid || strcmp(pid, l->pipeline) != 0)) {
		json_decref(rec);
		return FARM_OK;
	}
	json_array_append_new(l->items, l->pipeline ? farm_pipeline_run_public(rec) : json_incref(rec));
	json_decref(rec);
	return FARM_OK;
}

static int pipelines_scan_txn(struct farm_txn *t, void *arg)
{
	struct list_io *l = arg;

	json_array_clear(l->items);
	return farm_txn_scan(t, FARM_T_PIPELINES, l->org, 0, list_cb, l);
}

/* Sorting by one member (an integer or a string), then by id. */
struct sort_by {
	const char *member;
	int desc;
};

static int cmp_member(const void *pa, const void *pb, void *arg)
{
	const struct sort_by *s = arg;
	json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	json_t *va = json_object_get(a, s->member), *vb = json_object_get(b, s->member);
	const char *ia = json_string_value(json_object_get(a, "id"));
	const char *ib = json_string_value(json_object_get(b, "id"));
	int c;

	if (json_is_integer(va) && json_is_integer(vb))
		c = json_integer_value(va) < json_integer_value(vb)   ? -1
		    : json_integer_value(va) > json_integer_value(vb) ? 1
								      : 0;
	else
		c = strcmp(json_string_value(va) ? json_string_value(va) : "",
			   json_string_value(vb) ? json_string_value(vb) : "");
	if (!c)
		c = strcmp(ia ? ia : "", ib ? ib : "");
	return s->desc ? -c : c;
}

/* A new array of items' elements sorted by `member`. */
static json_t *sorted(struct farm_req *r, json_t *items, const char *member, int desc)
{
	struct sort_by by = {member, desc};
	size_t n = json_array_size(items);
	json_t **v = farm_arena_alloc(r->arena, (n ? n : 1) * sizeof(*v)), *out = json_array();

	if (!v || !out) {
		json_decref(out);
		return json_incref(items);
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(items, i);
	qsort_r(v, n, sizeof(*v), cmp_member, &by);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	return out;
}

int farm_h_pipelines_list(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct list_io l = {farm_req_org(r), NULL, json_array()};
	json_t *out;
	int rc;

	if (!l.items)
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	rc = farm_store_run(app->store, pipelines_scan_txn, &l);
	if (rc != FARM_OK) {
		json_decref(l.items);
		return farm_req_store_fail(r, rc);
	}
	out = sorted(r, l.items, "createdAt", 0);
	json_decref(l.items);
	return farm_req_json(r, 200, out);
}

struct get_io {
	enum farm_table tab;
	const char *id, *org;
	json_t *rec;
};

static int get_txn(struct farm_txn *t, void *arg)
{
	struct get_io *g = arg;

	json_decref(g->rec);
	return get_scoped(t, g->tab, g->id, g->org, 0, &g->rec);
}

int farm_h_pipeline_get(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct get_io g = {FARM_T_PIPELINES, r->params[0], farm_req_org(r), NULL};
	int rc = farm_store_run(app->store, get_txn, &g);

	if (rc != FARM_OK) {
		json_decref(g.rec);
		return farm_req_store_fail(r, rc);
	}
	if (!g.rec)
		return pipeline_missing(r, g.id);
	return farm_req_json(r, 200, g.rec);
}

/* ---- runs -------------------------------------------------------------------------------- */

struct queue_io {
	struct farm_req *r;
	const char *pid, *org;
	json_t *errors;   /* validation problems (cleared at every attempt) */
	json_t *run;      /* out: the queued run */
	int missing;
};

static int queue_txn(struct farm_txn *t, void *arg)
{
	struct queue_io *q = arg;
	json_t *pl = NULL, *stages = NULL, *run = NULL, *ev = NULL;
	char id[37], now[25], qkey[128], *evs = NULL;
	long long ms = farm_clock_ms();
	json_int_t number;
	int rc;

	json_decref(q->run);
	q->run = NULL;
	q->missing = 0;
	json_array_clear(q->errors);
	if ((rc = get_scoped(t, FARM_T_PIPELINES, q->pid, q->org, 1, &pl)) != FARM_OK)
		goto out;
	if (!pl) {
		q->missing = 1;
		rc = FARM_E_NOTFOUND;
		goto out;
	}
	if (farm_pipeline_run_check(pl, q->r->in, q->errors, &stages)) {
		rc = FARM_E_INVAL;
		goto out;
	}
	rc = FARM_E_NOMEM;
	if (farm_crypto_uuid4(id) != FARM_OK ||
	    farm_pipeline_queue_key(ms, id, qkey, sizeof(qkey)) < 0)
		goto out;
	farm_clock_iso(ms, now);
	number = json_integer_value(json_object_get(pl, "runs")) + 1;
	run = json_pack("{s:s,s:s,s:O,s:I,s:O,s:O,s:s,s:n,s:O,s:s?,s:s,s:n,s:n,s:O,s:s}", "id", id,
			"pipelineId", q->pid, "pipelineName", json_object_get(pl, "name"), "number",
			number, "version", json_object_get(q->r->in, "version"), "commitSha",
			json_object_get(q->r->in, "commitSha"), "status", "queued", "error",
			"workspace", json_object_get(pl, "workspace"), "orgId", q->org, "createdAt",
			now, "startedAt", "finishedAt", "stages", stages, "queueKey", qkey);
	if (!run)
		goto out;
	if (!q->org)
		json_object_set_new(run, "orgId", json_null());
	json_object_set_new(pl, "runs", json_integer(number));
	ev = farm_pipeline_run_event(run, now);
	if (!ev || !(evs = json_dumps(ev, JSON_COMPACT)))
		goto out;
	if ((rc = put_json(t, FARM_T_PIPELINES, q->pid, q->org, pl, 0)) != FARM_OK ||
	    (rc = put_json(t, FARM_T_RUNS, id, q->org, run, 1)) != FARM_OK ||
	    (rc = farm_txn_put(t, FARM_T_META, qkey, strlen(qkey), NULL, "queued", 6, 1)) !=
		    FARM_OK ||
	    (rc = farm_txn_outbox_append(t, evs, strlen(evs))) != FARM_OK)
		goto out;
	{
		struct farm_audit a;
		if (farm_fcgi_audit(q->r, &a, "pipeline.run", NULL, q->pid, NULL) &&
		    (rc = farm_audit_txn_add(t, &a, NULL)) != FARM_OK)
			goto out;
	}
	q->run = run;
	run = NULL;
out:
	farm_json_free(evs);
	json_decref(ev);
	json_decref(run);
	json_decref(stages);
	json_decref(pl);
	return rc;
}

int farm_h_runs_create(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct queue_io q = {r, r->params[0], farm_req_org(r), json_array(), NULL, 0};
	const char *rid;
	char *loc;
	int rc;

	if (!q.errors)
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	rc = farm_store_run(app->store, queue_txn, &q);
	if (q.missing) {
		json_decref(q.errors);
		return pipeline_missing(r, q.pid);
	}
	if (rc == FARM_E_INVAL && json_array_size(q.errors))
		return farm_req_fail_list(r, FARM_E_INVAL, q.errors);
	json_decref(q.errors);
	if (rc != FARM_OK) {
		json_decref(q.run);
		return farm_req_store_fail(r, rc);
	}
	rid = json_string_value(json_object_get(q.run, "id"));
	loc = farm_arena_printf(r->arena, "/api/v1/pipelines/%s/runs/%s", q.pid, rid);
	if (loc)
		farm_req_header(r, "Location", loc);
	farm_log(FARM_LOG_INFO, r->id, 0, "pipeline %s: run %s queued", q.pid, rid);
	farm_fcgi_nudge_eventd(r);
	rc = farm_req_json(r, 202, farm_pipeline_run_public(q.run));
	json_decref(q.run);
	return rc;
}

static int runs_scan_txn(struct farm_txn *t, void *arg)
{
	struct list_io *l = arg;
	json_t *pl = NULL;
	int rc;

	json_array_clear(l->items);
	if ((rc = get_scoped(t, FARM_T_PIPELINES, l->pipeline, l->org, 0, &pl)) != FARM_OK)
		return rc;
	if (!pl)
		return FARM_E_NOTFOUND;
	json_decref(pl);
	return farm_txn_scan(t, FARM_T_RUNS, l->org, 0, list_cb, l);
}

int farm_h_runs_list(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct list_io l = {farm_req_org(r), r->params[0], json_array()};
	json_t *out;
	int rc;

	if (!l.items)
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	rc = farm_store_run(app->store, runs_scan_txn, &l);
	if (rc != FARM_OK) {
		json_decref(l.items);
		return rc == FARM_E_NOTFOUND ? pipeline_missing(r, l.pipeline) : farm_req_store_fail(r, rc);
	}
	out = sorted(r, l.items, "number", 1);
	json_decref(l.items);
	return farm_req_json(r, 200, out);
}

/* The run of the path, of the caller's org and of the path's pipeline; NULL when an
 * answer was given. */
static json_t *load_run(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct get_io g = {FARM_T_RUNS, r->params[1], farm_req_org(r), NULL};
	const char *pid;
	int rc = farm_store_run(app->store, get_txn, &g);

	if (rc != FARM_OK) {
		json_decref(g.rec);
		farm_req_store_fail(r, rc);
		return NULL;
	}
	pid = json_string_value(json_object_get(g.rec, "pipelineId"));
	if (!g.rec || !pid || strcmp(pid, r->params[0]) != 0) {
		json_decref(g.rec);
		run_missing(r, g.id);
		return NULL;
	}
	return g.rec;
}

int farm_h_run_get(struct farm_req *r)
{
	json_t *run = load_run(r);
	int rc;

	if (!run)
		return r->status;
	rc = farm_req_json(r, 200, farm_pipeline_run_public(run));
	json_decref(run);
	return rc;
}

int farm_h_run_log(struct farm_req *r)
{
	struct farm_app *app = r->app;
	json_t *run = load_run(r);
	char path[4096], *buf = NULL;
	struct stat st;
	size_t want, got = 0;
	int fd = -1;

	if (!run)
		return r->status;
	if (farm_pipeline_log_path(app->conf.state_dir,
				   json_string_value(json_object_get(run, "id")), path,
				   sizeof(path)) != FARM_OK) {
		json_decref(run);
		return farm_req_fail(r, FARM_E_INTERNAL, "the run has no log path");
	}
	json_decref(run);
	r->content_type = "text/plain; charset=utf-8";
	r->status = 200;
	r->text = "";
	r->text_len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 200; /* queued: nothing written yet */
		farm_log(FARM_LOG_ERROR, r->id, errno, "run log %s", path);
		return farm_req_fail(r, FARM_E_IO, "the run's log cannot be read");
	}
	want = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size : 0;
	if (want > (size_t)FARM_PIPELINE_LOG_MAX + 65536)
		want = (size_t)FARM_PIPELINE_LOG_MAX + 65536;
	if (want && !(buf = farm_arena_alloc(r->arena, want))) {
		close(fd);
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	}
	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	r->text = buf ? buf : "";
	r->text_len = got;
	return 200;
}
