/* codefresh.c - the Codefresh module: the Codefresh API of classic pipelines
 * (providers.md §5, seed 001).
 *
 * Auth: "Authorization: <API key>", the bare key without a scheme word.  Base: the
 * credential's url (default codefresh.api_url, https://g.codefresh.io) plus /api.
 * A pipeline is named "project/pipeline" and travels as one %2F-encoded segment.
 * Builds (Codefresh calls them workflows) are read with GET /builds/<id>; a pipeline's
 * builds with GET /workflow?pipeline=<pipeline id>&limit=&page=1 after the pipeline's
 * id is read from GET /pipelines/<name> (the list is {"workflows":{"docs":[...]}}).
 * A run answers the new build id as a JSON string; a restart is GET
 * /builds/rebuild/<id> (the new id, alike); a cancel terminates the build's progress:
 * DELETE /progress/<build.progress>.  Errors carry {"message"}.
 *
 * Codefresh has no signed outbound webhook: a pipeline hook (on_finish, ...) calls
 * POST /webhooks/codefresh[/:credentialId] with {"buildId"} and a shared token, and
 * farm reads the build itself (webhook.reads_run).  Every build farm triggers,
 * restarts or cancels, or sees queued or running, is watched by farm-runner's poller
 * until it ends (platform.h, struct farm_platform_poll; watch.h).
 */
#include "codefresh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "watch.h"
#include "banned.h"

#define DEFAULT_URL "https://g.codefresh.io"
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
#define PART_MAX 128

static int codefresh_auth(struct farm_provider_call *c, json_t *value, const char **hdr)
{
	const char *tok = json_string_value(json_object_get(value, "token"));

	if (tok && !*tok) /* an empty token is refused here, before any call */
		return -1;
	return farm_platform_token_auth(c, value, "token", "Authorization: %s", hdr);
}

int farm_provider_codefresh_id_ok(const char *id, char *why, size_t cap)
{
	if (!id || strlen(id) != 24 || strspn(id, "0123456789abcdef") != 24) {
		snprintf(why, cap, "build id must be a Codefresh build id (24 hex digits)");
		return 0;
	}
	return 1;
}

static int part_ok(const char *p, size_t n)
{
	return n && n <= PART_MAX && strspn(p, NAME_CHARS) >= n && !(n == 1 && p[0] == '.') &&
	       !(n == 2 && p[0] == '.' && p[1] == '.');
}

int farm_provider_codefresh_name_ok(const char *name, char *why, size_t cap)
{
	const char *slash = name ? strchr(name, '/') : NULL;

	if (!slash || !part_ok(name, (size_t)(slash - name)) ||
	    !part_ok(slash + 1, strlen(slash + 1)) || strchr(slash + 1, '/')) {
		snprintf(why, cap, "pipeline must be project/pipeline (letters, digits, '.', '_', "
				   "'-'; at most %d each)", PART_MAX);
		return 0;
	}
	return 1;
}

/* ---- reads ------------------------------------------------------------------------- */

int farm_provider_codefresh_build(struct farm_provider_call *c, const char *id, json_t **out)
{
	char why[128], *path, *what;
	int rc;

	*out = NULL;
	if (!farm_provider_codefresh_id_ok(id, why, sizeof(why)))
		return farm_provider_bad_input(c, "%s", why);
	path = farm_arena_printf(c->arena, "/builds/%s", id);
	what = farm_arena_printf(c->arena, "build %s", id);
	if (!path || !what)
		return farm_provider_nomem(c);
	if ((rc = farm_provider_get_json(c, path, what, 0, out)) != FARM_OK)
		return rc;
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	}
	return FARM_OK;
}

struct builds_in {
	const char *pipeline; /* NULL: every build of the account */
	long limit;
};

static int rd_builds(struct farm_provider_call *c, const void *arg, json_t **out)
{
	const struct builds_in *b = arg;
	json_t *pl = NULL, *page = NULL, *docs;
	const char *pid = NULL, *enc;
	char *path, *what;
	int rc;

	*out = NULL;
	if (b->pipeline) {
		enc = farm_provider_pct(c->arena, b->pipeline); /* project%2Fpipeline */
		path = enc ? farm_arena_printf(c->arena, "/pipelines/%s", enc) : NULL;
		what = farm_arena_printf(c->arena, "pipeline '%s'", b->pipeline);
		if (!path || !what)
			return farm_provider_nomem(c);
		if ((rc = farm_provider_get_json(c, path, what, 0, &pl)) != FARM_OK)
			return rc;
		pid = json_string_value(json_object_get(json_object_get(pl, "metadata"), "id"));
		if (!pid || !*pid || strlen(pid) > 64) {
			json_decref(pl);
			return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
		}
		enc = farm_provider_pct(c->arena, pid);
		path = enc ? farm_arena_printf(c->arena, "/workflow?limit=%ld&page=1&pipeline=%s",
					       b->limit, enc)
			   : NULL;
		json_decref(pl);
	} else {
		path = farm_arena_printf(c->arena, "/workflow?limit=%ld&page=1", b->limit);
	}
	if (!path)
		return farm_provider_nomem(c);
	if ((rc = farm_provider_get_json(c, path, NULL, 0, &page)) != FARM_OK)
		return rc;
	docs = json_object_get(json_object_get(page, "workflows"), "docs");
	if (!json_is_array(docs)) {
		json_decref(page);
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	}
	/* One page of `limit` (Codefresh caps nothing below 100); never more than asked. */
	while (json_array_size(docs) > (size_t)b->limit)
		json_array_remove(docs, json_array_size(docs) - 1);
	*out = json_incref(docs);
	json_decref(page);
	return FARM_OK;
}

static int rd_build(struct farm_provider_call *c, const void *arg, json_t **out)
{
	return farm_provider_codefresh_build(c, arg, out);
}

/* The builds in a list answer (JSON text) that are not final, as run ids to watch. */
static json_t *unfinished(const char *text, size_t len, int one)
{
	json_t *v = json_loadb(text, len, 0, NULL), *list, *w = NULL, *b;
	size_t i;

	list = one ? json_pack("[O]", v) : json_incref(v);
	json_array_foreach(list, i, b)
	{
		const char *id = json_string_value(json_object_get(b, "id"));
		const char *st = farm_event_status("codefresh", "build",
						   json_string_value(json_object_get(b, "status")));
		char why[128];

		if (!id || !farm_provider_codefresh_id_ok(id, why, sizeof(why)) ||
		    farm_watch_final(st) || !strcmp(st, "unknown"))
			continue;
		if (!w)
			w = json_array();
		json_array_append_new(w, json_string(id));
	}
	json_decref(list);
	json_decref(v);
	return w;
}

/* Only what the platform answered now (not a cached answer) starts a watch. */
static void watch_fresh(struct farm_provider_call *c, struct farm_platform_out *o, int one)
{
	if (o->text && (!c->cache_state || strcmp(c->cache_state, "hit")))
		o->watch = unfinished(o->text, o->len, one);
}

/* ---- writes ------------------------------------------------------------------------ */

/* The new build id a run or a restart answers: a JSON string (or the bare id). */
static int new_id(struct farm_provider_call *c, struct farm_provider_resp *r, const char *what,
		  json_t **out)
{
	json_t *j = r->body ? json_loadb(r->body, r->len, JSON_DECODE_ANY, NULL) : NULL;
	char why[128], id[32] = "";
	int rc;

	if (json_is_string(j) && json_string_length(j) < sizeof(id))
		snprintf(id, sizeof(id), "%s", json_string_value(j));
	else if (!j && r->body && r->len == 24)
		snprintf(id, sizeof(id), "%.24s", r->body);
	json_decref(j);
	if (r->outcome == FARM_PO_OK && farm_provider_codefresh_id_ok(id, why, sizeof(why))) {
		*out = json_pack("{s:s}", "buildId", id);
		return *out ? FARM_OK : farm_provider_nomem(c);
	}
	rc = farm_provider_fail(c, r->outcome == FARM_PO_OK ? FARM_PO_GARBAGE : r->outcome, r,
				what);
	return rc;
}

/* The run body: {"branch"?, "sha"?, "variables"?: {K: "V"}, "trigger"?}. */
static int check_run_body(json_t *body, char *why, size_t cap)
{
	const char *k;
	json_t *v;

	json_object_foreach(body, k, v)
	{
		if (!strcmp(k, "variables")) {
			const char *vk;
			json_t *vv;
			if (!json_is_object(v) || json_object_size(v) > 200) {
				snprintf(why, cap, "variables must be an object of at most 200 strings");
				return 1;
			}
			json_object_foreach(v, vk, vv)
			{
				if (!*vk || strlen(vk) > 255 || !json_is_string(vv) ||
				    json_string_length(vv) > 65536 ||
				    strlen(json_string_value(vv)) != json_string_length(vv)) {
					snprintf(why, cap, "variables must map names (1..255 "
							   "characters) to strings");
					return 1;
				}
			}
		} else if (!strcmp(k, "branch") || !strcmp(k, "sha") || !strcmp(k, "trigger")) {
			if (!json_is_string(v) || !json_string_length(v) ||
			    json_string_length(v) > 1024 ||
			    strlen(json_string_value(v)) != json_string_length(v)) {
				snprintf(why, cap, "%s must be a string of 1..1024 characters", k);
				return 1;
			}
		} else {
			snprintf(why, cap, "property %.100s should not exist", k);
			return 1;
		}
	}
	return 0;
}

static int do_run(struct farm_provider_call *c, const char *name, json_t *body, json_t **out)
{
	struct farm_provider_resp r;
	const char *enc = farm_provider_pct(c->arena, name);
	char *path = enc ? farm_arena_printf(c->arena, "/pipelines/run/%s", enc) : NULL;
	char *what = farm_arena_printf(c->arena, "pipeline '%s'", name);
	char *text = json_dumps(body ? body : json_object(), JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	*out = NULL;
	if (!path || !what || !text) {
		free(text);
		return farm_provider_nomem(c);
	}
	rc = farm_provider_send(c, "POST", path, NULL, 0, "application/json", text, strlen(text),
				&r);
	free(text);
	if (rc != FARM_OK)
		return rc;
	rc = new_id(c, &r, what, out);
	farm_provider_resp_clear(&r);
	return rc;
}

static int do_restart(struct farm_provider_call *c, const char *id, json_t **out)
{
	struct farm_provider_resp r;
	char *path = farm_arena_printf(c->arena, "/builds/rebuild/%s", id);
	char *what = farm_arena_printf(c->arena, "build %s", id);
	int rc;

	*out = NULL;
	if (!path || !what)
		return farm_provider_nomem(c);
	if ((rc = farm_provider_send(c, "GET", path, NULL, 0, NULL, NULL, 0, &r)) != FARM_OK)
		return rc;
	rc = new_id(c, &r, what, out);
	farm_provider_resp_clear(&r);
	return rc;
}

static int do_cancel(struct farm_provider_call *c, const char *id, json_t **out)
{
	struct farm_provider_resp r;
	json_t *b = NULL;
	const char *progress, *st;
	char *path, *what = farm_arena_printf(c->arena, "build %s", id);
	int rc;

	*out = NULL;
	if ((rc = farm_provider_codefresh_build(c, id, &b)) != FARM_OK)
		return rc;
	st = json_string_value(json_object_get(b, "status"));
	if (farm_watch_final(farm_event_status("codefresh", "build", st))) {
		c->err.code = FARM_E_CONFLICT;
		c->err.status = 409;
		snprintf(c->err.msg, sizeof(c->err.msg), "Codefresh build %s has already ended (%s)",
			 id, st);
		json_decref(b);
		return FARM_E_CONFLICT;
	}
	progress = json_string_value(json_object_get(b, "progress"));
	if (!progress || !*progress || strlen(progress) > 64 ||
	    strspn(progress, NAME_CHARS) != strlen(progress)) {
		json_decref(b);
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	}
	path = farm_arena_printf(c->arena, "/progress/%s", progress);
	json_decref(b);
	if (!path || !what)
		return farm_provider_nomem(c);
	if ((rc = farm_provider_send(c, "DELETE", path, NULL, 0, NULL, NULL, 0, &r)) != FARM_OK)
		return rc;
	if (r.outcome != FARM_PO_OK) {
		rc = farm_provider_fail(c, r.outcome, &r, what);
		farm_provider_resp_clear(&r);
		return rc;
	}
	farm_provider_resp_clear(&r);
	*out = json_pack("{s:s,s:s}", "buildId", id, "status", "terminating");
	return *out ? FARM_OK : farm_provider_nomem(c);
}

/* ---- the build as an event (lib/events/event.h) ------------------------------------- */

json_t *farm_provider_codefresh_fields(json_t *b, const char *base)
{
	const char *id = farm_event_str(json_object_get(b, "id"));
	const char *st = farm_event_str(json_object_get(b, "status"));
	const char *project = farm_event_str(json_object_get(b, "pipelineName"));
	const char *slash;
	json_t *ev;
	int nomem = 0;
	size_t n;

	if (!id)
		return NULL;
	if (!project)
		project = farm_event_str(json_object_get(b, "serviceName"));
	if (!(ev = farm_event_new("codefresh")))
		return NULL;
	slash = project ? strrchr(project, '/') : NULL;
	farm_event_set_str(ev, "project", project, &nomem);
	farm_event_set_str(ev, "name", slash && slash[1] ? slash + 1 : project, &nomem);
	farm_event_set_str(ev, "buildId", id, &nomem);
	farm_event_set_str(ev, "status", farm_event_status("codefresh", "build", st), &nomem);
	farm_event_set_str(ev, "providerStatus", st, &nomem);
	farm_event_set_str(ev, "branch", farm_event_str(json_object_get(b, "branchName")), &nomem);
	farm_event_set_str(ev, "commitSha", farm_event_str(json_object_get(b, "revision")), &nomem);
	if (base) {
		n = strlen(base);
		while (n > 8 && base[n - 1] == '/')
			n--;
		char url[1200];
		snprintf(url, sizeof(url), "%.*s/build/%s", (int)(n < 1024 ? n : 1024), base, id);
		farm_event_set_str(ev, "url", url, &nomem);
	}
	farm_event_set_ts(ev, "startedAt", json_object_get(b, "started"), &nomem);
	farm_event_set_ts(ev, "finishedAt", json_object_get(b, "finished"), &nomem);
	if (nomem) {
		json_decref(ev);
		return NULL;
	}
	return ev;
}

/* The web root of the credential (its url, else codefresh.api_url). */
static const char *web_root(struct farm_provider_call *c)
{
	json_t *v = farm_provider_value(c);
	const char *u = json_string_value(json_object_get(v, "url"));

	return u && *u ? u : c->conf_base ? c->conf_base : DEFAULT_URL;
}

static int poll_read(struct farm_provider_call *c, const char *run_id, json_t **fields)
{
	json_t *b = NULL;
	int rc;

	*fields = NULL;
	if ((rc = farm_provider_codefresh_build(c, run_id, &b)) != FARM_OK)
		return rc;
	*fields = farm_provider_codefresh_fields(b, web_root(c));
	json_decref(b);
	return *fields ? FARM_OK : farm_provider_nomem(c);
}

/* ---- runs (platforms.md §5): runId = the build id ------------------------------------ */

static int runs_parse(const char *run_id, char *why, size_t cap)
{
	return !farm_provider_codefresh_id_ok(run_id, why, cap);
}

static int runs_get(struct farm_provider_call *c, const char *run_id, json_t **run)
{
	return poll_read(c, run_id, run);
}

/* A restart is a new build: read it (pending, most likely) as the new run. */
static int runs_rerun(struct farm_provider_call *c, const char *run_id, json_t **run)
{
	json_t *ans = NULL;
	int rc;

	*run = NULL;
	if ((rc = do_restart(c, run_id, &ans)) != FARM_OK)
		return rc;
	rc = poll_read(c, json_string_value(json_object_get(ans, "buildId")), run);
	json_decref(ans);
	return rc;
}

static int runs_cancel(struct farm_provider_call *c, const char *run_id)
{
	json_t *ans = NULL;
	int rc = do_cancel(c, run_id, &ans);

	json_decref(ans);
	return rc;
}

static const struct farm_platform_runs codefresh_runs = {
	.parse = runs_parse,
	.get = runs_get,
	.rerun = runs_rerun,
	.cancel = runs_cancel,
	/* log: Codefresh serves build logs per step from its progress, not as one text
	 * (providers.md §5 names no log call): none, GET /runs/.../log answers 404. */
};

/* ---- the module ------------------------------------------------------------------ */

static int check_builds(const struct farm_platform_in *in, char *why, size_t cap)
{
	const char *p = in->query(in->qarg, "pipeline");
	long limit;

	if (farm_platform_number(in, "limit", 20, 1, 100, &limit, why, cap))
		return 1;
	return p && !farm_provider_codefresh_name_ok(p, why, cap);
}

static int op_builds(struct farm_provider_call *c, const struct farm_platform_in *in,
		     struct farm_platform_out *o)
{
	struct builds_in b = {in->query(in->qarg, "pipeline"), 20};
	char why[8];
	int rc;

	farm_platform_number(in, "limit", 20, 1, 100, &b.limit, why, sizeof(why));
	rc = farm_platform_read(c, farm_arena_printf(c->arena, "codefresh.builds %ld %s", b.limit,
						     b.pipeline ? b.pipeline : ""),
				rd_builds, &b, o);
	if (rc == FARM_OK)
		watch_fresh(c, o, 0);
	return rc;
}

static int check_id(const struct farm_platform_in *in, char *why, size_t cap)
{
	return !farm_provider_codefresh_id_ok(in->params[0], why, cap);
}

static int op_build(struct farm_provider_call *c, const struct farm_platform_in *in,
		    struct farm_platform_out *o)
{
	int rc = farm_platform_read(c, farm_arena_printf(c->arena, "codefresh.build %s",
							 in->params[0]),
				    rd_build, in->params[0], o);

	if (rc == FARM_OK)
		watch_fresh(c, o, 1);
	return rc;
}

static int check_run(const struct farm_platform_in *in, char *why, size_t cap)
{
	if (!farm_provider_codefresh_name_ok(in->params[0], why, cap))
		return 1;
	return check_run_body(in->body, why, cap);
}

/* A build id answered by an action, watched until the build ends. */
static void watch_answer(struct farm_platform_out *o)
{
	o->watch = json_pack("[O]", json_object_get(o->json, "buildId"));
}

static int op_run(struct farm_provider_call *c, const struct farm_platform_in *in,
		  struct farm_platform_out *o)
{
	int rc = do_run(c, in->params[0], in->body, &o->json);

	o->status = 201;
	if (rc == FARM_OK) {
		watch_answer(o);
		o->log = farm_arena_printf(c->arena, "codefresh: run of %s started: build %s",
					   in->params[0],
					   json_string_value(json_object_get(o->json, "buildId")));
	}
	return rc;
}

static int op_restart(struct farm_provider_call *c, const struct farm_platform_in *in,
		      struct farm_platform_out *o)
{
	int rc = do_restart(c, in->params[0], &o->json);

	o->status = 201;
	if (rc == FARM_OK) {
		watch_answer(o);
		o->log = farm_arena_printf(c->arena, "codefresh: build %s restarted as %s",
					   in->params[0],
					   json_string_value(json_object_get(o->json, "buildId")));
	}
	return rc;
}

static int op_cancel(struct farm_provider_call *c, const struct farm_platform_in *in,
		     struct farm_platform_out *o)
{
	int rc = do_cancel(c, in->params[0], &o->json);

	o->status = 202;
	if (rc == FARM_OK) {
		watch_answer(o);
		o->log = farm_arena_printf(c->arena, "codefresh: build %s terminating",
					   in->params[0]);
	}
	return rc;
}

/* A pipeline hook's call: any presented token (?token=, X-Farm-Token, the Basic
 * password) equal to the secret. */
static int hook_verify(const struct farm_platform_delivery *d, char **payload, size_t *plen,
		       char *why, size_t cap)
{
	(void)plen;
	*payload = NULL;
	if (!d->secret || !*d->secret) {
		snprintf(why, cap, "no Codefresh webhook token configured");
		return FARM_E_AUTH;
	}
	if (farm_platform_token_verify(d, 1) != FARM_OK) {
		snprintf(why, cap, "bad or missing Codefresh token");
		return FARM_E_AUTH;
	}
	return FARM_OK;
}

/* {"buildId": "<id>"}: names the build farm then reads. */
static int hook_map(const void *body, size_t len, json_t **fields, char **key,
		    struct farm_error *err)
{
	json_t *root = NULL;
	const char *id;
	char why[128];
	int rc;

	*fields = NULL;
	*key = NULL;
	if ((rc = farm_event_load("Codefresh", body, len, &root, err)) != FARM_OK)
		return rc;
	id = json_string_value(json_object_get(root, "buildId"));
	if (!id) {
		rc = farm_error_set(err, FARM_E_INVAL, "Codefresh hook body needs \"buildId\"");
	} else if (!farm_provider_codefresh_id_ok(id, why, sizeof(why))) {
		rc = farm_error_set(err, FARM_E_INVAL, "%s", why);
	} else {
		*fields = json_pack("{s:s,s:s}", "provider", "codefresh", "buildId", id);
		rc = *fields ? FARM_OK : farm_error_set(err, FARM_E_NOMEM, "out of memory");
	}
	json_decref(root);
	return rc;
}

static const struct farm_platform_webhook codefresh_webhook = {
	.conf_secret = "webhook.codefresh.token",
	.verify = hook_verify,
	.map = hook_map,
	.reads_run = 1,
};

static const struct farm_platform_poll codefresh_poll = {
	.read = poll_read,
	.rate_key = "codefresh.poll_rate",
};

static const struct farm_cred_field codefresh_fields[] = {
	{"token", FARM_CRED_REQUIRED | FARM_CRED_SECRET},
	{"url", FARM_CRED_URL},
	{"webhookSecret", FARM_CRED_SECRET},
	{NULL, 0},
};

static const struct farm_platform_route codefresh_routes[] = {
	{"GET", "/builds", FARM_PLATFORM_AUTH | FARM_PLATFORM_LIST, check_builds, op_builds},
	{"GET", "/builds/:id", FARM_PLATFORM_AUTH, check_id, op_build},
	{"POST", "/builds/:id/cancel", FARM_PLATFORM_ADMIN, check_id, op_cancel},
	{"POST", "/builds/:id/restart", FARM_PLATFORM_ADMIN, check_id, op_restart},
	{"POST", "/pipelines/:name/run",
	 FARM_PLATFORM_ADMIN | FARM_PLATFORM_JSON | FARM_PLATFORM_TRIGGER, check_run, op_run},
	{NULL, NULL, 0, NULL, NULL},
};

static const struct farm_platform_conf codefresh_conf[] = {
	{"codefresh.api_url", DEFAULT_URL, 0, "Codefresh base URL (farm adds /api)",
	 FARM_CONF_URL, 0, 0},
	{"codefresh.poll_rate", "60", 0,
	 "reads a minute the poller may make with one Codefresh credential", FARM_CONF_INT, 1,
	 6000},
	{"webhook.codefresh.token", "", 1, "shared token of POST /webhooks/codefresh",
	 FARM_CONF_STR, 0, 0},
	{NULL, NULL, 0, NULL, FARM_CONF_STR, 0, 0},
};

/* providers.md §9.2; pending-approval waits for a human: queued. */
static const struct farm_platform_status codefresh_statuses[] = {
	{"build", "pending", "queued"},
	{"build", "elected", "queued"},
	{"build", "delayed", "queued"},
	{"build", "pending-approval", "queued"},
	{"build", "running", "running"},
	{"build", "terminating", "running"},
	{"build", "success", "success"},
	{"build", "terminated", "canceled"},
	{"build", "error", "error"},
	{NULL, NULL, NULL},
};

const struct farm_platform farm_platform_codefresh = {
	.up = {
		.type = "codefresh",
		.title = "Codefresh",
		.api_root = "/api",
		.url_required = 0,
		.auth = codefresh_auth,
		.message = farm_platform_message,
	},
	.fields = codefresh_fields,
	.conf = codefresh_conf,
	.routes = codefresh_routes,
	.statuses = codefresh_statuses,
	.webhook = &codefresh_webhook,
	.run_id = "build id",
	.poll = &codefresh_poll,
	.runs = &codefresh_runs,
};
