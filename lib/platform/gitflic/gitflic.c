/* gitflic.c - the GitFlic module: the GitFlic CI/CD REST API (providers.md §7, seed 002).
 *
 * Auth: Authorization: token <token>.  Base: the credential's url or gitflic.api_url
 * (default https://api.gitflic.ru; self-hosted https://host/rest-api): the API root
 * itself, nothing is appended.  Lists are Spring HATEOAS pages,
 * {"_embedded":{"<name>List":[...]},"page":{"size","totalElements","totalPages",
 * "number"}} with ?page= (0-based) and ?size=: farm asks for `limit` items a page and
 * follows pages only while the platform gives fewer (FARM_GITFLIC_MAX_PAGES at most),
 * so a list costs one request of the 500 an hour gitflic.ru allows.  An empty list may
 * come without "_embedded".  Errors: a JSON "message" when present.
 * A project is "owner/project" (one path parameter, %2F-encoded); a pipeline is its
 * localId (a number).  Both are checked before any upstream call.
 */
#include "gitflic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "event.h"
#include "watch.h"
#include "webhook.h"
#include "banned.h"

static int gitflic_auth(struct farm_provider_call *c, json_t *value, const char **hdr)
{
	return farm_platform_token_auth(c, value, "token", "Authorization: token %s", hdr);
}

int farm_gitflic_project_ok(const char *s, char *why, size_t cap)
{
	if (!farm_platform_pair_ok(s)) {
		snprintf(why, cap, "project must be owner/project (URL-encoded in a path: "
				   "owner%%2Fproject; letters, digits, . _ -)");
		return 0;
	}
	return 1;
}

static int local_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n && n <= 18 && strspn(s, "0123456789") == n && !(n > 1 && s[0] == '0');
}

/* "/project/<owner>/<project>/cicd/pipeline" (the aliases are checked: no encoding
 * needed). */
static const char *base_path(struct farm_provider_call *c, const char *project)
{
	return farm_arena_printf(c->arena, "/project/%s/cicd/pipeline", project);
}

/* Follows the HATEOAS pages of `path` (no query) collecting _embedded.<list> into
 * *out, up to `limit` items. */
static int read_pages(struct farm_provider_call *c, const char *path, const char *list,
		      long limit, const char *what, json_t **out)
{
	json_t *all = json_array(), *page = NULL, *item;
	int rc = FARM_OK;

	*out = NULL;
	if (!all)
		return farm_provider_nomem(c);
	for (long n = 0; n < FARM_GITFLIC_MAX_PAGES; n++) {
		const char *p = farm_arena_printf(c->arena, "%s?page=%ld&size=%ld", path, n, limit);
		json_t *emb, *items, *meta;
		json_int_t total;
		size_t k, got;

		if (!p) {
			rc = farm_provider_nomem(c);
			break;
		}
		if ((rc = farm_provider_get_json(c, p, what, 0, &page)) != FARM_OK)
			break;
		emb = json_object_get(page, "_embedded");
		items = json_object_get(emb, list);
		meta = json_object_get(page, "page");
		if (!json_is_object(page) || (emb && !json_is_object(emb)) ||
		    (emb && !json_is_array(items)) || (meta && !json_is_object(meta))) {
			rc = farm_provider_fail(c, FARM_PO_GARBAGE, NULL, what);
			break;
		}
		json_array_foreach(items, k, item)
		{
			if ((long)json_array_size(all) < limit)
				json_array_append(all, item);
		}
		total = json_integer_value(json_object_get(meta, "totalPages"));
		got = json_array_size(items);
		json_decref(page);
		page = NULL;
		if ((long)json_array_size(all) >= limit || !got || n + 1 >= total)
			break;
	}
	json_decref(page);
	if (rc != FARM_OK) {
		json_decref(all);
		return rc;
	}
	*out = all;
	return FARM_OK;
}

/* ---- reads ------------------------------------------------------------------------ */

struct list_in {
	const char *project;
	long limit;
};

static int rd_pipelines(struct farm_provider_call *c, const void *arg, json_t **out)
{
	const struct list_in *in = arg;
	const char *path = base_path(c, in->project);
	const char *what = farm_arena_printf(c->arena, "project '%s'", in->project);

	if (!path || !what)
		return farm_provider_nomem(c);
	return read_pages(c, path, "restPipelineModelList", in->limit, what, out);
}

struct one_in {
	const char *project, *local_id;
};

static int rd_pipeline(struct farm_provider_call *c, const void *arg, json_t **out)
{
	const struct one_in *in = arg;
	const char *path = farm_arena_printf(c->arena, "/project/%s/cicd/pipeline/%s", in->project,
					     in->local_id);
	const char *jobs = path ? farm_arena_printf(c->arena, "%s/jobs", path) : NULL;
	const char *what = farm_arena_printf(c->arena, "pipeline %s#%s", in->project, in->local_id);
	json_t *list = NULL;
	int rc;

	*out = NULL;
	if (!jobs || !what)
		return farm_provider_nomem(c);
	if ((rc = farm_provider_get_json(c, path, what, 0, out)) != FARM_OK)
		return rc;
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, what);
	}
	if ((rc = read_pages(c, jobs, "restPipelineJobModelList", 100, what, &list)) != FARM_OK ||
	    json_object_set_new(*out, "jobs", list)) {
		json_decref(*out);
		*out = NULL;
		return rc != FARM_OK ? rc : farm_provider_nomem(c);
	}
	return FARM_OK;
}

/* ---- writes ----------------------------------------------------------------------- */

/* The start body (seed 002): {"refName"?, "isTag"?, "variables"?: [{"key","value"}]}.
 * isTag is required upstream with refName: farm sends false (a branch) when the caller
 * names a ref without it; isTag without refName is refused. */
static int start_body(struct farm_provider_call *c, json_t *in, json_t **out)
{
	json_t *b, *v, *vars;
	const char *k;
	size_t i;

	*out = NULL;
	if (in && !json_is_object(in))
		return farm_provider_bad_input(c, "request body must be a JSON object");
	json_object_foreach(in, k, v)
	{
		if (strcmp(k, "refName") && strcmp(k, "isTag") && strcmp(k, "variables"))
			return farm_provider_bad_input(c, "property %.100s should not exist", k);
	}
	if (!(b = json_object()))
		return farm_provider_nomem(c);
	if ((v = json_object_get(in, "refName"))) {
		const char *s = json_string_value(v);
		if (!farm_platform_text_ok(v, 255) || strstr(s, "..") || strpbrk(s, " ~^:?*[\\") ||
		    s[0] == '/' || s[0] == '-') {
			json_decref(b);
			return farm_provider_bad_input(c, "refName must be a branch or tag name of at "
							  "most 255 characters");
		}
		json_object_set(b, "refName", v);
		json_object_set(b, "isTag", json_object_get(in, "isTag") ? json_object_get(in, "isTag")
									 : json_false());
	}
	if ((v = json_object_get(in, "isTag")) && (!json_is_boolean(v) || !json_object_get(in, "refName"))) {
		json_decref(b);
		return farm_provider_bad_input(c, "isTag must be true or false, and comes with refName");
	}
	if ((vars = json_object_get(in, "variables"))) {
		if (!json_is_array(vars) || json_array_size(vars) > 100) {
			json_decref(b);
			return farm_provider_bad_input(c, "variables must be an array of at most 100 "
							  "{\"key\", \"value\"} objects");
		}
		json_array_foreach(vars, i, v)
		{
			json_t *key = json_object_get(v, "key"), *val = json_object_get(v, "value");
			const char *ks = json_string_value(key);
			if (!json_is_object(v) || json_object_size(v) != 2 || !farm_platform_text_ok(key, 128) ||
			    strspn(ks, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
				    strlen(ks) ||
			    !json_is_string(val) || json_string_length(val) > 4096) {
				json_decref(b);
				return farm_provider_bad_input(
					c, "variables: each {\"key\": name of 1..128 letters, digits or _, "
					   "\"value\": a string of at most 4096 characters}");
			}
		}
		json_object_set(b, "variables", vars);
	}
	*out = b;
	return FARM_OK;
}

static int start_pipeline(struct farm_provider_call *c, const char *project, json_t *in,
			  json_t **out)
{
	struct farm_provider_resp r;
	json_t *req;
	const char *path = farm_arena_printf(c->arena, "/project/%s/cicd/pipeline/start", project);
	const char *what = farm_arena_printf(c->arena, "project '%s'", project);
	int rc, outcome;

	*out = NULL;
	if ((rc = start_body(c, in, &req)) != FARM_OK)
		return rc;
	if ((rc = farm_platform_post_json(c, path, what, req, &r)) != FARM_OK)
		return rc;
	outcome = r.outcome;
	if (outcome == FARM_PO_OK && !json_is_object(r.json))
		outcome = FARM_PO_GARBAGE;
	if (outcome != FARM_PO_OK) {
		rc = farm_provider_fail(c, outcome, &r, what);
		farm_provider_resp_clear(&r);
		return rc;
	}
	*out = r.json;
	r.json = NULL;
	farm_provider_resp_clear(&r);
	return FARM_OK;
}

/* POST .../cicd/pipeline/<localId>/<verb> (restart, cancel): 202 {project, localId}. */
static int pipeline_action(struct farm_provider_call *c, const char *project, const char *id,
			   const char *verb, json_t **out)
{
	struct farm_provider_resp r;
	const char *path = farm_arena_printf(c->arena, "/project/%s/cicd/pipeline/%s/%s", project,
					     id, verb);
	const char *what = farm_arena_printf(c->arena, "pipeline %s#%s", project, id);
	int rc;

	*out = NULL;
	if (!path || !what)
		return farm_provider_nomem(c);
	if ((rc = farm_provider_send(c, "POST", path, NULL, 0, NULL, NULL, 0, &r)) != FARM_OK)
		return rc;
	if (r.outcome != FARM_PO_OK) {
		rc = farm_provider_fail(c, r.outcome, &r, what);
		farm_provider_resp_clear(&r);
		return rc;
	}
	farm_provider_resp_clear(&r);
	*out = json_pack("{s:s,s:I,s:s}", "project", project, "localId",
			 (json_int_t)strtoll(id, NULL, 10), "runId",
			 farm_arena_printf(c->arena, "%s#%s", project, id));
	return *out ? FARM_OK : farm_provider_nomem(c);
}

/* ---- webhook ---------------------------------------------------------------------- */

/* Gitflic-Webhook-Secret carries the configured secret verbatim (no HMAC). */
static int hook_verify(const struct farm_platform_delivery *d, char **payload, size_t *plen,
		       char *why, size_t cap)
{
	const char *got = d->header(d->arg, "HTTP_GITFLIC_WEBHOOK_SECRET");

	*payload = NULL;
	*plen = 0;
	if (!d->secret || !*d->secret) {
		snprintf(why, cap, "no GitFlic webhook secret configured");
		return FARM_E_AUTH;
	}
	if (!got || farm_webhook_token_verify(got, strlen(got), d->secret, strlen(d->secret)) !=
			    FARM_OK) {
		snprintf(why, cap, "bad or missing Gitflic-Webhook-Secret");
		return FARM_E_AUTH;
	}
	return FARM_OK;
}

static const char *obj_str(json_t *o, const char *k)
{
	return farm_event_str(json_object_get(o, k));
}

/* Mapping.  GitFlic documents the common fields (action, project_id, project{alias,
 * owner_alias, http_transport_url, ...}) but not a pipeline event's own (providers.md
 * §7.4: NOT FOUND), so farm reads its pipeline from "pipeline" (the REST Pipeline
 * object: id, localId, status, ref, commitId, createdAt, startedAt, finishedAt) or,
 * failing that, from the top level.  status from pipeline.status, else from the
 * action (PIPELINE_NEW queued, PIPELINE_SUCCESS success, PIPELINE_FAIL failed,
 * PIPELINE_WARNING unstable); project = owner_alias/alias; buildId (runId) =
 * owner/project#localId; number = localId; name = "pipeline #<localId>"; url = the
 * project's web page (http_transport_url without .git) + /cicd/pipeline/<localId>.
 * Redelivery key "gitflic:<buildId>:<action>:<status>".  TEST_WEBHOOK and actions
 * that are not PIPELINE_* report nothing. */
int farm_event_from_gitflic(const void *body, size_t len, json_t **data, char **dedupe_key,
			    struct farm_error *err)
{
	static const struct {
		const char *action, *status;
	} actions[] = {{"PIPELINE_NEW", "queued"},
		       {"PIPELINE_SUCCESS", "success"},
		       {"PIPELINE_FAIL", "failed"},
		       {"PIPELINE_WARNING", "unstable"}};
	json_t *root = NULL, *ev = NULL, *pl, *proj;
	const char *action, *owner, *alias, *word, *status = NULL, *web;
	char *key = NULL, project[256], id[280];
	long long lid;
	int rc, nomem = 0, too_long = 0;

	if ((rc = farm_event_out_init(data, dedupe_key, err)) != FARM_OK)
		return rc;
	if ((rc = farm_event_load("GitFlic", body, len, &root, err)) != FARM_OK)
		return rc;
	action = obj_str(root, "action");
	if (!action) {
		rc = farm_error_set(err, FARM_E_INVAL, "GitFlic payload has no \"action\"");
		goto out;
	}
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(action, actions[i].action))
			status = actions[i].status;
	if (!status) {
		rc = farm_error_set(err, FARM_E_NOTFOUND,
				    "GitFlic event %.64s is not about a pipeline: nothing to emit",
				    action);
		goto out;
	}
	proj = json_object_get(root, "project");
	owner = obj_str(proj, "owner_alias");
	alias = obj_str(proj, "alias");
	pl = json_object_get(root, "pipeline");
	if (!json_is_object(pl))
		pl = root;
	if (!owner || !alias || strlen(owner) > 100 || strlen(alias) > 100) {
		rc = farm_error_set(err, FARM_E_INVAL,
				    "GitFlic payload has no project.owner_alias and project.alias");
		goto out;
	}
	snprintf(project, sizeof(project), "%.100s/%.100s", owner, alias);
	if (!farm_platform_pair_ok(project) ||
	    !farm_event_int(json_object_get(pl, "localId"), &lid) || lid < 0) {
		rc = farm_error_set(err, FARM_E_INVAL, "GitFlic payload has no valid project "
						       "aliases and pipeline localId");
		goto out;
	}
	snprintf(id, sizeof(id), "%s#%lld", project, lid);
	word = obj_str(pl, "status");
	if (word)
		status = farm_event_status("gitflic", "pipeline", word);
	else
		word = action;

	if (!(ev = farm_event_new("gitflic"))) {
		nomem = 1;
		goto done;
	}
	farm_event_set_str(ev, "project", project, &nomem);
	farm_event_set_str(ev, "buildId", id, &nomem);
	farm_event_set(ev, "number", json_integer(lid), &nomem);
	{
		char name[40];
		snprintf(name, sizeof(name), "pipeline #%lld", lid);
		farm_event_set_str(ev, "name", name, &nomem);
	}
	farm_event_set_str(ev, "status", status, &nomem);
	farm_event_set_str(ev, "providerStatus", word, &nomem);
	farm_event_set_str(ev, "branch", obj_str(pl, "ref"), &nomem);
	farm_event_set_str(ev, "commitSha", obj_str(pl, "commitId"), &nomem);
	web = obj_str(proj, "http_transport_url");
	if (web && (!strncmp(web, "https://", 8) || !strncmp(web, "http://", 7)) &&
	    strlen(web) < 1024 && !strpbrk(web, "?#\"<> ")) {
		size_t wl = strlen(web);
		char url[1200];
		if (wl > 4 && !strcmp(web + wl - 4, ".git"))
			wl -= 4;
		snprintf(url, sizeof(url), "%.*s/cicd/pipeline/%lld", (int)wl, web, lid);
		farm_event_set_str(ev, "url", url, &nomem);
	}
	farm_event_set_ts(ev, "startedAt", json_object_get(pl, "startedAt"), &nomem);
	farm_event_set_ts(ev, "finishedAt", json_object_get(pl, "finishedAt"), &nomem);
	key = farm_event_key(&too_long, "gitflic:%s:%s:%s", id, action, word);
done:
	rc = farm_event_finish(ev, key, nomem, too_long, data, dedupe_key, "GitFlic", err);
out:
	json_decref(root);
	return rc;
}

/* ---- runs (platforms.md §5): runId = owner/project#localId ------------------------- */

/* Splits "owner/project#localId" into the arena: 0 when it is not one. */
static int run_split(struct farm_arena *a, const char *id, const char **project,
		     const char **local)
{
	const char *hash = id ? strrchr(id, '#') : NULL;
	char *p;

	if (!hash || !local_id_ok(hash + 1) || !(p = farm_arena_strdup(a, id)))
		return 0;
	p[hash - id] = '\0';
	if (!farm_platform_pair_ok(p))
		return 0;
	*project = p;
	*local = p + (hash - id) + 1;
	return 1;
}

static int run_parse(const char *id, char *why, size_t cap)
{
	const char *hash = strrchr(id, '#');
	char project[256];

	if (!hash || !local_id_ok(hash + 1) || (size_t)(hash - id) >= sizeof(project)) {
		snprintf(why, cap, "a GitFlic runId is owner/project#localId");
		return 1;
	}
	snprintf(project, sizeof(project), "%.*s", (int)(hash - id), id);
	if (!farm_gitflic_project_ok(project, why, cap)) {
		snprintf(why, cap, "a GitFlic runId is owner/project#localId");
		return 1;
	}
	return 0;
}

/* The web page of a pipeline: the API root without its API part (api.gitflic.ru is
 * served as gitflic.ru; a self-hosted /rest-api is the site root). */
static const char *web_url(struct farm_provider_call *c, const char *project, long long lid)
{
	json_t *value = farm_provider_value(c);
	const char *u = json_string_value(json_object_get(value, "url")), *host;
	size_t n;

	if (!u || !*u)
		u = c->conf_base;
	if (!u || (strncmp(u, "https://", 8) && strncmp(u, "http://", 7)) || strpbrk(u, "?#"))
		return NULL;
	n = strlen(u);
	while (n > 8 && u[n - 1] == '/')
		n--;
	if (n > 9 && !strncmp(u + n - 9, "/rest-api", 9))
		n -= 9;
	host = strstr(u, "://") + 3;
	if (!strncmp(host, "api.gitflic.ru", 14) && (host[14] == '/' || !host[14]))
		return farm_arena_printf(c->arena, "%.*sgitflic.ru%.*s/project/%s/cicd/pipeline/%lld",
					 (int)(host - u), u, (int)(n - (size_t)(host + 14 - u)),
					 host + 14, project, lid);
	return farm_arena_printf(c->arena, "%.*s/project/%s/cicd/pipeline/%lld", (int)n, u,
				 project, lid);
}

static int run_get(struct farm_provider_call *c, const char *id, json_t **run)
{
	const char *project, *local, *path, *what, *word;
	json_t *pl = NULL, *ev = NULL;
	long long lid;
	char name[40];
	int rc, nomem = 0;

	*run = NULL;
	if (!run_split(c->arena, id, &project, &local))
		return farm_provider_bad_input(c, "a GitFlic runId is owner/project#localId");
	path = farm_arena_printf(c->arena, "/project/%s/cicd/pipeline/%s", project, local);
	what = farm_arena_printf(c->arena, "pipeline %s", id);
	if (!path || !what)
		return farm_provider_nomem(c);
	/* One uncached exchange: GET /runs wraps this read in the shared cache itself, and
	 * a poller must see the platform, not the cache. */
	{
		struct farm_provider_resp r;
		int outcome;

		if ((rc = farm_provider_send(c, "GET", path, NULL, 0, NULL, NULL, 0, &r)) != FARM_OK)
			return rc;
		outcome = r.outcome;
		if (outcome == FARM_PO_OK &&
		    (!json_is_object(r.json) || !farm_event_int(json_object_get(r.json, "localId"), &lid)))
			outcome = FARM_PO_GARBAGE;
		if (outcome != FARM_PO_OK) {
			rc = farm_provider_fail(c, outcome, &r, what);
			farm_provider_resp_clear(&r);
			return rc;
		}
		pl = r.json;
		r.json = NULL;
		farm_provider_resp_clear(&r);
	}
	word = obj_str(pl, "status");
	snprintf(name, sizeof(name), "pipeline #%lld", lid);
	if (!(ev = farm_event_new("gitflic"))) {
		json_decref(pl);
		return farm_provider_nomem(c);
	}
	farm_event_set_str(ev, "project", project, &nomem);
	farm_event_set_str(ev, "name", name, &nomem);
	farm_event_set_str(ev, "buildId", id, &nomem);
	farm_event_set(ev, "number", json_integer(lid), &nomem);
	farm_event_set_str(ev, "status", farm_event_status("gitflic", "pipeline", word), &nomem);
	farm_event_set_str(ev, "providerStatus", word, &nomem);
	farm_event_set_str(ev, "branch", obj_str(pl, "ref"), &nomem);
	farm_event_set_str(ev, "commitSha", obj_str(pl, "commitId"), &nomem);
	farm_event_set_str(ev, "url", web_url(c, project, lid), &nomem);
	farm_event_set_ts(ev, "startedAt", json_object_get(pl, "startedAt"), &nomem);
	farm_event_set_ts(ev, "finishedAt", json_object_get(pl, "finishedAt"), &nomem);
	json_decref(pl);
	if (nomem) {
		json_decref(ev);
		return farm_provider_nomem(c);
	}
	*run = ev;
	return FARM_OK;
}

/* GitFlic restarts a pipeline in place: the new run keeps its localId, read again
 * after the restart. */
static int run_rerun(struct farm_provider_call *c, const char *id, json_t **run)
{
	const char *project, *local;
	json_t *out = NULL;
	int rc;

	*run = NULL;
	if (!run_split(c->arena, id, &project, &local))
		return farm_provider_bad_input(c, "a GitFlic runId is owner/project#localId");
	if ((rc = pipeline_action(c, project, local, "restart", &out)) != FARM_OK)
		return rc;
	json_decref(out);
	return run_get(c, id, run);
}

static int run_cancel(struct farm_provider_call *c, const char *id)
{
	const char *project, *local;
	json_t *out = NULL;
	int rc;

	if (!run_split(c->arena, id, &project, &local))
		return farm_provider_bad_input(c, "a GitFlic runId is owner/project#localId");
	rc = pipeline_action(c, project, local, "cancel", &out);
	json_decref(out);
	return rc;
}

/* Runs farm started, restarted or cancelled are watched by farm-runner's poller until
 * they end (the webhook may not be pointed at farm); the read is run_get, and
 * gitflic.poll_rate keeps the reads within gitflic.ru's 500 requests an hour. */
static const struct farm_platform_poll gitflic_poll = {
	.read = run_get,
	.rate_key = "gitflic.poll_rate",
};

/* No log hook: seed 002 documents no log endpoint (GET /runs/gitflic/:id/log is 405). */
static const struct farm_platform_runs gitflic_runs = {
	.parse = run_parse,
	.get = run_get,
	.rerun = run_rerun,
	.cancel = run_cancel,
};

/* ---- the module ------------------------------------------------------------------ */

static int check_list(const struct farm_platform_in *in, char *why, size_t cap)
{
	long n;

	if (!farm_gitflic_project_ok(in->query(in->qarg, "project"), why, cap))
		return 1;
	return farm_platform_number(in, "limit", 20, 1, 100, &n, why, cap);
}

static int op_pipelines(struct farm_provider_call *c, const struct farm_platform_in *in,
			struct farm_platform_out *o)
{
	struct list_in l = {in->query(in->qarg, "project"), 20};
	char why[8];

	farm_platform_number(in, "limit", 20, 1, 100, &l.limit, why, sizeof(why));
	return farm_platform_read(c, farm_arena_printf(c->arena, "gitflic.pipelines %ld %s", l.limit,
						       l.project),
				  rd_pipelines, &l, o);
}

static int check_project(const struct farm_platform_in *in, char *why, size_t cap)
{
	return !farm_gitflic_project_ok(in->params[0], why, cap);
}

static int check_pipeline(const struct farm_platform_in *in, char *why, size_t cap)
{
	if (!farm_gitflic_project_ok(in->params[0], why, cap))
		return 1;
	if (!local_id_ok(in->params[1])) {
		snprintf(why, cap, "localId must be a pipeline number");
		return 1;
	}
	return 0;
}

static int op_pipeline(struct farm_provider_call *c, const struct farm_platform_in *in,
		       struct farm_platform_out *o)
{
	struct one_in one = {in->params[0], in->params[1]};

	return farm_platform_read(c, farm_arena_printf(c->arena, "gitflic.pipeline %s %s",
						       one.project, one.local_id),
				  rd_pipeline, &one, o);
}

static int op_start(struct farm_provider_call *c, const struct farm_platform_in *in,
		    struct farm_platform_out *o)
{
	int rc = start_pipeline(c, in->params[0], in->body, &o->json);
	long long lid;

	o->status = 201;
	if (rc == FARM_OK) {
		o->log = farm_arena_printf(c->arena, "gitflic: pipeline started on %s",
					   in->params[0]);
		if (farm_event_int(json_object_get(o->json, "localId"), &lid) && lid >= 0)
			o->watch = json_pack("[s]", farm_arena_printf(c->arena, "%s#%lld",
								      in->params[0], lid));
	}
	return rc;
}

static int op_restart(struct farm_provider_call *c, const struct farm_platform_in *in,
		      struct farm_platform_out *o)
{
	int rc = pipeline_action(c, in->params[0], in->params[1], "restart", &o->json);

	o->status = 202;
	if (rc == FARM_OK) {
		o->log = farm_arena_printf(c->arena, "gitflic: restart of %s#%s requested",
					   in->params[0], in->params[1]);
		o->watch = json_pack("[O]", json_object_get(o->json, "runId"));
	}
	return rc;
}

static int op_cancel(struct farm_provider_call *c, const struct farm_platform_in *in,
		     struct farm_platform_out *o)
{
	int rc = pipeline_action(c, in->params[0], in->params[1], "cancel", &o->json);

	o->status = 202;
	if (rc == FARM_OK) {
		o->log = farm_arena_printf(c->arena, "gitflic: cancel of %s#%s requested",
					   in->params[0], in->params[1]);
		o->watch = json_pack("[O]", json_object_get(o->json, "runId"));
	}
	return rc;
}

/* A delivery is an observation of the run, the one the poller keeps too (watch.h):
 * a change is emitted once whether the webhook or the poll saw it first, and a
 * redelivery (same status) emits nothing.  So no redelivery key. */
static int hook_map(const void *body, size_t len, json_t **fields, char **key,
		    struct farm_error *perr)
{
	int rc = farm_event_from_gitflic(body, len, fields, key, perr);

	free(*key);
	*key = NULL;
	return rc;
}

static int hook_observe(struct farm_txn *t, const char *org, const char *cred_id,
			json_t *fields, const char *now, int *emitted)
{
	return farm_watch_observe(t, "gitflic", org, cred_id, fields, now, farm_clock_ms(),
				  emitted);
}

static const struct farm_platform_webhook gitflic_webhook = {
	.conf_secret = "webhook.gitflic.secret",
	.verify = hook_verify,
	.map = hook_map,
	.observe = hook_observe,
};

static const struct farm_cred_field gitflic_fields[] = {
	{"token", FARM_CRED_REQUIRED | FARM_CRED_SECRET},
	{"url", FARM_CRED_URL},
	{"webhookSecret", FARM_CRED_SECRET},
	{NULL, 0},
};

static const struct farm_platform_route gitflic_routes[] = {
	{"GET", "/pipelines", FARM_PLATFORM_AUTH | FARM_PLATFORM_LIST, check_list, op_pipelines},
	{"POST", "/pipelines/:project/start",
	 FARM_PLATFORM_ADMIN | FARM_PLATFORM_JSON | FARM_PLATFORM_TRIGGER, check_project, op_start},
	{"GET", "/pipelines/:project/:localId", FARM_PLATFORM_AUTH, check_pipeline, op_pipeline},
	{"POST", "/pipelines/:project/:localId/restart", FARM_PLATFORM_ADMIN, check_pipeline,
	 op_restart},
	{"POST", "/pipelines/:project/:localId/cancel", FARM_PLATFORM_ADMIN, check_pipeline,
	 op_cancel},
	{NULL, NULL, 0, NULL, NULL},
};

static const struct farm_platform_conf gitflic_conf[] = {
	{"gitflic.api_url", "https://api.gitflic.ru", 0,
	 "GitFlic API root (self-hosted: https://host/rest-api)", FARM_CONF_URL, 0, 0},
	{"gitflic.poll_rate", "8", 0,
	 "reads a minute the poller may make with one GitFlic credential (8 = 480 an hour, "
	 "under gitflic.ru's 500)",
	 FARM_CONF_INT, 1, 600},
	{"webhook.gitflic.secret", "", 1, "Gitflic-Webhook-Secret of POST /webhooks/gitflic",
	 FARM_CONF_STR, 0, 0},
	{NULL, NULL, 0, NULL, FARM_CONF_STR, 0, 0},
};

static const struct farm_platform_status gitflic_statuses[] = {
	{"pipeline", "CREATED", "queued"},
	{"pipeline", "PENDING", "queued"},
	{"pipeline", "WAITING_FOR_RESOURCE", "queued"},
	{"pipeline", "SCHEDULED", "queued"},
	{"pipeline", "PREPARING", "queued"},
	{"pipeline", "MANUAL", "queued"},
	{"pipeline", "RUNNING", "running"},
	{"pipeline", "SUCCESS", "success"},
	{"pipeline", "FAILED", "failed"},
	{"pipeline", "CANCELED", "canceled"},
	{"pipeline", "WARNING", "unstable"},
	{"pipeline", "SKIPPED", "unknown"},
	{NULL, NULL, NULL},
};

const struct farm_platform farm_platform_gitflic = {
	.up = {
		.type = "gitflic",
		.title = "GitFlic",
		.api_root = "",
		.url_required = 0,
		.auth = gitflic_auth,
		.message = farm_platform_message,
	},
	.fields = gitflic_fields,
	.conf = gitflic_conf,
	.routes = gitflic_routes,
	.statuses = gitflic_statuses,
	.webhook = &gitflic_webhook,
	.run_id = "owner/project#localId",
	.poll = &gitflic_poll,
	.runs = &gitflic_runs,
};
