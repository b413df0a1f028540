/* circleci.c - the CircleCI module: CircleCI API v2 (providers.md §2).
 *
 * Auth: Circle-Token: <token>.  Base: the credential's url (CircleCI server) or
 * circleci.api_url, plus /api/v2.  Lists are {"items":[...],"next_page_token"}: the
 * token goes back as ?page-token=, followed up to FARM_CIRCLECI_MAX_PAGES pages.
 * Errors: {"message":"..."}.
 */
#include "circleci.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"
#include "webhook.h"
#include "crypto.h"
#include "banned.h"

static int circleci_auth(struct farm_provider_call *c, json_t *value, const char **hdr)
{
	return farm_platform_token_auth(c, value, "token", "Circle-Token: %s", hdr);
}

int farm_provider_circleci_slug_ok(const char *slug, char *why, size_t cap)
{
	static const char *const vcs[] = {"gh", "github", "bb", "bitbucket", "circleci"};
	const char *a = slug ? strchr(slug, '/') : NULL;
	size_t vl = a ? (size_t)(a - slug) : 0;
	int known = 0;

	for (size_t i = 0; a && i < sizeof(vcs) / sizeof(vcs[0]); i++)
		if (strlen(vcs[i]) == vl && !strncmp(slug, vcs[i], vl))
			known = 1;
	if (!known || !farm_platform_pair_ok(a + 1)) {
		snprintf(why, cap, "slug must be gh/org/repo or bb/org/repo (URL-encoded, e.g. "
				   "gh%%2Forg%%2Frepo)");
		return 0;
	}
	return 1;
}

/* "https://github.com/org/repo(.git)", "git@github.com:org/repo.git",
 * "ssh://git@bitbucket.org/org/repo" ... -> "gh/org/repo" / "bb/org/repo". */
int farm_provider_circleci_slug_of(const char *url, char *out, size_t cap)
{
	static const struct {
		const char *host, *vcs;
	} hosts[] = {{"github.com", "gh"}, {"www.github.com", "gh"},
		     {"bitbucket.org", "bb"}, {"www.bitbucket.org", "bb"}};
	const char *p = url, *vcs = NULL, *org, *repo, *end;
	size_t ol, rl;

	if (!url)
		return 0;
	if (!strncasecmp(p, "https://", 8))
		p += 8;
	else if (!strncasecmp(p, "http://", 7))
		p += 7;
	else if (!strncasecmp(p, "ssh://", 6))
		p += 6;
	else if (!strncasecmp(p, "git://", 6))
		p += 6;
	if (!strncasecmp(p, "git@", 4))
		p += 4;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t hl = strlen(hosts[i].host);
		if (!strncasecmp(p, hosts[i].host, hl) && (p[hl] == '/' || p[hl] == ':')) {
			vcs = hosts[i].vcs;
			p += hl + 1;
			break;
		}
	}
	if (!vcs)
		return 0;
	org = p;
	if (!(repo = strchr(org, '/')))
		return 0;
	ol = (size_t)(repo - org);
	repo++;
	end = repo + strcspn(repo, "/");
	rl = (size_t)(end - repo);
	if (*end == '/' && end[1] != '\0') /* .../tree/main and the like: not a repository URL */
		return 0;
	if (rl > 4 && !strncmp(end - 4, ".git", 4))
		rl -= 4;
	if (!farm_platform_name_ok(org, ol) || !farm_platform_name_ok(repo, rl) || ol + rl + 5 > cap)
		return 0;
	snprintf(out, cap, "%s/%.*s/%.*s", vcs, (int)ol, org, (int)rl, repo);
	return 1;
}

/* A repository URL reduced for comparison: no scheme, user, "www.", ".git" or
 * trailing '/', lower case. */
static void norm_repo(const char *u, char *out, size_t cap)
{
	const char *p = u, *at;
	size_t n;

	p += strncasecmp(p, "https://", 8) == 0 ? 8 : strncasecmp(p, "http://", 7) == 0 ? 7 : 0;
	if ((at = strchr(p, '@')) && at < p + strcspn(p, "/"))
		p = at + 1;
	if (!strncasecmp(p, "www.", 4))
		p += 4;
	n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	if (n > 4 && !strncasecmp(p + n - 4, ".git", 4))
		n -= 4;
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)(p[i] == ':' ? '/' : p[i]));
	out[n] = '\0';
}

static int repo_matches(json_t *pipeline, const char *want)
{
	json_t *vcs = json_object_get(pipeline, "vcs");
	const char *fields[] = {"target_repository_url", "origin_repository_url"};
	char got[2100];

	for (size_t i = 0; i < 2; i++) {
		const char *u = json_string_value(json_object_get(vcs, fields[i]));
		if (!u)
			continue;
		norm_repo(u, got, sizeof(got));
		if (!strcmp(got, want))
			return 1;
	}
	return 0;
}

static char *slug_path(struct farm_arena *a, const char *slug)
{
	char *s = farm_arena_strdup(a, slug), *out = farm_arena_strdup(a, "/project");
	char *save = NULL;

	for (char *seg = s ? strtok_r(s, "/", &save) : NULL; seg && out;
	     seg = strtok_r(NULL, "/", &save)) {
		const char *enc = farm_provider_pct(a, seg);
		out = enc ? farm_arena_printf(a, "%s/%s", out, enc) : NULL;
	}
	return s ? out : NULL;
}

int farm_provider_circleci_pipelines(struct farm_provider_call *c, const char *vcs_url,
				     json_t **out)
{
	char slug[256], want[2100];
	const char *base = "/pipeline", *what = NULL, *token = NULL;
	json_t *all = json_array(), *page = NULL;
	int filter = 0, rc = FARM_OK;

	*out = NULL;
	if (!all)
		return farm_provider_nomem(c);
	if (vcs_url && *vcs_url) {
		size_t n = strlen(vcs_url);
		int ctl = 0;
		for (size_t i = 0; i < n; i++)
			ctl |= (unsigned char)vcs_url[i] < 0x20 || vcs_url[i] == 0x7f;
		if (n > 2048 || ctl) {
			json_decref(all);
			return farm_provider_bad_input(c, "vcsUrl must be a repository URL of at "
							  "most 2048 characters");
		}
		if (farm_provider_circleci_slug_of(vcs_url, slug, sizeof(slug))) {
			char *p = slug_path(c->arena, slug);
			base = p ? farm_arena_printf(c->arena, "%s/pipeline", p) : NULL;
			what = farm_arena_printf(c->arena, "project '%s'", slug);
			if (!base || !what) {
				json_decref(all);
				return farm_provider_nomem(c);
			}
		} else {
			norm_repo(vcs_url, want, sizeof(want));
			filter = 1;
		}
	}
	for (int i = 0; i < FARM_CIRCLECI_MAX_PAGES; i++) {
		const char *path = base, *enc;
		json_t *items, *item, *next;
		size_t k;

		if (token) {
			enc = farm_provider_pct(c->arena, token);
			path = enc ? farm_arena_printf(c->arena, "%s?page-token=%s", base, enc) : NULL;
			if (!path) {
				rc = farm_provider_nomem(c);
				break;
			}
		}
		if ((rc = farm_provider_get_json(c, path, what, 0, &page)) != FARM_OK)
			break;
		items = json_object_get(page, "items");
		next = json_object_get(page, "next_page_token");
		if (!json_is_array(items) || (next && !json_is_null(next) && !json_is_string(next))) {
			rc = farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
			break;
		}
		json_array_foreach(items, k, item)
		{
			if (!filter || repo_matches(item, want))
				json_array_append(all, item);
		}
		token = json_string_value(next);
		token = token && *token ? farm_arena_strdup(c->arena, token) : NULL;
		json_decref(page);
		page = NULL;
		if (!token)
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

static int trigger_body(struct farm_provider_call *c, json_t *in, json_t **out)
{
	json_t *b = json_object(), *v, *params;
	const char *k;

	*out = NULL;
	if (!b)
		return farm_provider_nomem(c);
	json_object_foreach(in, k, v)
	{
		if (strcmp(k, "branch") && strcmp(k, "tag") && strcmp(k, "parameters")) {
			json_decref(b);
			return farm_provider_bad_input(c, "property %.100s should not exist", k);
		}
	}
	if (json_object_get(in, "branch") && json_object_get(in, "tag")) {
		json_decref(b);
		return farm_provider_bad_input(c, "give either branch or tag, not both");
	}
	const char *refs[] = {"branch", "tag"};
	for (size_t i = 0; i < 2; i++)
		if ((v = json_object_get(in, refs[i]))) {
			if (!farm_platform_text_ok(v, 255)) {
				json_decref(b);
				return farm_provider_bad_input(c, "%s must be a non-empty string of at "
								  "most 255 characters", refs[i]);
			}
			json_object_set(b, refs[i], v);
		}
	if ((params = json_object_get(in, "parameters"))) {
		if (!json_is_object(params) || json_object_size(params) > 100) {
			json_decref(b);
			return farm_provider_bad_input(c, "parameters must be an object of at most "
							  "100 entries");
		}
		json_object_foreach(params, k, v)
		{
			if (!*k || strlen(k) > 128 ||
			    !(json_is_boolean(v) || json_is_integer(v) ||
			      (json_is_string(v) && json_string_length(v) <= 512))) {
				json_decref(b);
				return farm_provider_bad_input(
					c, "parameters: keys of 1..128 characters, values strings "
					   "(at most 512 characters), integers or booleans");
			}
		}
		json_object_set(b, "parameters", params);
	}
	*out = b;
	return FARM_OK;
}

int farm_provider_circleci_trigger(struct farm_provider_call *c, const char *slug, json_t *body,
				   json_t **out)
{
	struct farm_provider_resp r;
	json_t *req = NULL, *j;
	char why[200], *path, *what;
	int rc, outcome;

	*out = NULL;
	if (!farm_provider_circleci_slug_ok(slug, why, sizeof(why)))
		return farm_provider_bad_input(c, "%s", why);
	if (body && !json_is_object(body))
		return farm_provider_bad_input(c, "request body must be a JSON object");
	if ((rc = trigger_body(c, body, &req)) != FARM_OK)
		return rc;
	path = slug_path(c->arena, slug);
	path = path ? farm_arena_printf(c->arena, "%s/pipeline", path) : NULL;
	what = farm_arena_printf(c->arena, "project '%s'", slug);
	if ((rc = farm_platform_post_json(c, path, what, req, &r)) != FARM_OK)
		return rc;
	outcome = r.outcome;
	j = r.json;
	if (outcome == FARM_PO_OK && (!json_is_object(j) || !json_is_string(json_object_get(j, "id"))))
		outcome = FARM_PO_GARBAGE;
	if (outcome != FARM_PO_OK) {
		rc = farm_provider_fail(c, outcome, &r, what);
		farm_provider_resp_clear(&r);
		return rc;
	}
	*out = json_pack("{s:O,s:O,s:O,s:O}", "id", json_object_get(j, "id"), "number",
			 json_object_get(j, "number") ? json_object_get(j, "number") : json_null(),
			 "state",
			 json_object_get(j, "state") ? json_object_get(j, "state") : json_null(),
			 "created_at",
			 json_object_get(j, "created_at") ? json_object_get(j, "created_at")
							  : json_null());
	farm_provider_resp_clear(&r);
	return *out ? FARM_OK : farm_provider_nomem(c);
}

/* Mapping (body fields as in providers.md):
 *   CircleCI workflow-completed: project = project.slug, name = workflow.name,
 *     number = pipeline.number, status from workflow.status,
 *     url = workflow.url, startedAt = workflow.created_at, finishedAt = workflow.stopped_at.
 *   CircleCI job-completed: name = job.name, number = job.number,
 *     status from job.status, startedAt/finishedAt = job.started_at/stopped_at,
 *     url = workflow.url (the payload carries no job URL).
 *   Both: buildId = pipeline.id, the run's runId (platforms.md §5), so that every
 *     workflow and job of one pipeline is the same run; name says which workflow or job.
 *     branch/commitSha = pipeline.vcs.branch/revision, else (GitLab, GitHub App)
 *     pipeline.trigger_parameters.git.branch/checkout_sha.  Dedupe key "circleci:<id>"
 *     (the delivery id, one per workflow or job notification, never the buildId).
 */
/* ---- webhook payload -> event (lib/events/event.h) ------------------------------------------------------------------- */

int farm_event_from_circleci(const void *body, size_t len, json_t **data, char **dedupe_key,
			     struct farm_error *err)
{
	json_t *root = NULL, *ev = NULL, *wf, *job, *pipe, *vcs, *git, *unit;
	const char *type, *id, *word, *branch, *sha;
	char *key = NULL;
	long long num;
	int rc, is_job, nomem = 0, too_long = 0;

	rc = farm_event_out_init(data, dedupe_key, err);
	if (rc != FARM_OK)
		return rc;
	rc = farm_event_load("CircleCI", body, len, &root, err);
	if (rc != FARM_OK)
		return rc;

	type = farm_event_str(json_object_get(root, "type"));
	if (!type) {
		rc = farm_error_set(err, FARM_E_INVAL, "CircleCI payload has no \"type\"");
		goto out;
	}
	is_job = strcmp(type, "job-completed") == 0;
	if (!is_job && strcmp(type, "workflow-completed") != 0) {
		rc = farm_error_set(err, FARM_E_NOTFOUND,
				    "CircleCI event type is not workflow-completed or "
				    "job-completed: nothing to emit");
		goto out;
	}
	id = farm_event_str(json_object_get(root, "id"));
	if (!id) {
		rc = farm_error_set(err, FARM_E_INVAL, "CircleCI payload has no delivery \"id\"");
		goto out;
	}
	wf = json_object_get(root, "workflow");
	job = json_object_get(root, "job");
	pipe = json_object_get(root, "pipeline");
	unit = is_job ? job : wf;
	if (!json_is_object(unit)) {
		rc = farm_error_set(err, FARM_E_INVAL, "CircleCI %s payload has no \"%s\" object",
				    type, is_job ? "job" : "workflow");
		goto out;
	}

	ev = farm_event_new("circleci");
	if (!ev) {
		nomem = 1;
		goto done;
	}
	farm_event_set_str(ev, "project", farm_event_str(json_object_get(json_object_get(root, "project"), "slug")),
		&nomem);
	farm_event_set_str(ev, "name", farm_event_str(json_object_get(unit, "name")), &nomem);
	farm_event_set_str(ev, "buildId", farm_event_str(json_object_get(pipe, "id")), &nomem);
	if (farm_event_int(json_object_get(is_job ? job : pipe, "number"), &num))
		farm_event_set(ev, "number", json_integer(num), &nomem);
	word = farm_event_str(json_object_get(unit, "status"));
	farm_event_set_str(ev, "status", farm_event_status("circleci", is_job ? "job" : "workflow", word),
		&nomem);
	farm_event_set_str(ev, "providerStatus", word, &nomem);

	vcs = json_object_get(pipe, "vcs");
	git = json_object_get(json_object_get(pipe, "trigger_parameters"), "git");
	branch = farm_event_str(json_object_get(vcs, "branch"));
	if (!branch)
		branch = farm_event_str(json_object_get(git, "branch"));
	sha = farm_event_str(json_object_get(vcs, "revision"));
	if (!sha)
		sha = farm_event_str(json_object_get(git, "checkout_sha"));
	farm_event_set_str(ev, "branch", branch, &nomem);
	farm_event_set_str(ev, "commitSha", sha, &nomem);
	farm_event_set_str(ev, "url", farm_event_str(json_object_get(wf, "url")), &nomem);
	farm_event_set_ts(ev, "startedAt", json_object_get(unit, is_job ? "started_at" : "created_at"),
	       &nomem);
	farm_event_set_ts(ev, "finishedAt", json_object_get(unit, "stopped_at"), &nomem);

	key = farm_event_key(&too_long, "circleci:%s", id);
done:
	rc = farm_event_finish(ev, key, nomem, too_long, data, dedupe_key, "CircleCI", err);
out:
	json_decref(root);
	return rc;
}

/* ---- runs (platforms.md §5): runId = the pipeline id ------------------------------------
 *
 * A pipeline has no pass/fail of its own (its `state` only says whether its config
 * was read): the run's status comes from its workflows, the latest of each name (a
 * rerun adds a workflow of the same name to the same pipeline).  Before any workflow
 * exists, the pipeline's state ("created" -> queued, "errored" -> error). */

static int run_parse(const char *id, char *why, size_t cap)
{
	size_t n = strlen(id);
	int ok = n == 36;

	for (size_t i = 0; ok && i < n; i++) {
		int want_dash = i == 8 || i == 13 || i == 18 || i == 23;
		ok = want_dash ? id[i] == '-' : isxdigit((unsigned char)id[i]) != 0;
	}
	if (!ok)
		snprintf(why, cap, "a CircleCI runId is a pipeline id (a UUID)");
	return !ok;
}

/* The pipeline and its latest workflow of each name (*wfs new, an array). */
static int pipeline_read(struct farm_provider_call *c, const char *id, json_t **pipe,
			 json_t **wfs)
{
	char *what = farm_arena_printf(c->arena, "pipeline %s", id);
	json_t *page = NULL, *items, *w, *latest = NULL;
	const char *k;
	size_t i;
	int rc;

	*pipe = *wfs = NULL;
	if (!what)
		return farm_provider_nomem(c);
	rc = farm_provider_get_json(c, farm_arena_printf(c->arena, "/pipeline/%s", id), what, 0,
				    pipe);
	if (rc != FARM_OK)
		return rc;
	rc = farm_provider_get_json(c, farm_arena_printf(c->arena, "/pipeline/%s/workflow", id),
				    what, 0, &page);
	if (rc != FARM_OK)
		goto fail;
	items = json_object_get(page, "items");
	if (!json_is_object(*pipe) || !json_is_array(items)) {
		rc = farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
		goto fail;
	}
	if (!(latest = json_object()) || !(*wfs = json_array()))
		goto oom;
	json_array_foreach(items, i, w) {
		const char *name = json_string_value(json_object_get(w, "name"));
		const char *at = json_string_value(json_object_get(w, "created_at"));
		json_t *had;
		const char *had_at;

		if (!name)
			continue;
		had = json_object_get(latest, name);
		had_at = json_string_value(json_object_get(had, "created_at"));
		/* ISO 8601 UTC of one form compare as strings. */
		if (!had || (at && (!had_at || strcmp(at, had_at) > 0)))
			if (json_object_set(latest, name, w))
				goto oom;
	}
	json_object_foreach(latest, k, w)
		if (json_array_append(*wfs, w))
			goto oom;
	json_decref(latest);
	json_decref(page);
	return FARM_OK;
oom:
	rc = farm_provider_nomem(c);
fail:
	json_decref(latest);
	json_decref(page);
	json_decref(*pipe);
	json_decref(*wfs);
	*pipe = *wfs = NULL;
	return rc;
}

/* The run's status from its workflows: the first normalised status in this order
 * that any workflow has (one running workflow makes the run running; otherwise the
 * worst outcome wins). */
static const char *const status_rank[] = {"running", "queued", "error",   "failed",
					  "canceled", "unstable", "unknown", "success"};

static int run_of(struct farm_provider_call *c, json_t *pipe, json_t *wfs, json_t **run)
{
	json_t *ev = farm_event_new("circleci"), *w, *vcs = json_object_get(pipe, "vcs");
	const char *status = NULL, *word = NULL, *finished = NULL, *name = NULL;
	long long num;
	size_t i, best = sizeof(status_rank) / sizeof(status_rank[0]);
	int nomem = !ev, all_stopped = json_array_size(wfs) > 0;

	json_array_foreach(wfs, i, w) {
		const char *ws = json_string_value(json_object_get(w, "status"));
		const char *st = farm_event_status("circleci", "workflow", ws);
		const char *stop = json_string_value(json_object_get(w, "stopped_at"));

		for (size_t k = 0; k < best; k++)
			if (!strcmp(status_rank[k], st)) {
				best = k;
				status = st;
				word = ws;
			}
		if (!stop)
			all_stopped = 0;
		else if (!finished || strcmp(stop, finished) > 0)
			finished = stop;
		name = json_string_value(json_object_get(w, "name"));
	}
	if (!json_array_size(wfs)) {
		word = json_string_value(json_object_get(pipe, "state"));
		status = farm_event_status("circleci", "pipeline", word);
	}
	farm_event_set_str(ev, "project", farm_event_str(json_object_get(pipe, "project_slug")),
			   &nomem);
	/* One workflow names the run; several are named by none of them. */
	farm_event_set_str(ev, "name", json_array_size(wfs) == 1 ? name : NULL, &nomem);
	farm_event_set_str(ev, "buildId", farm_event_str(json_object_get(pipe, "id")), &nomem);
	if (farm_event_int(json_object_get(pipe, "number"), &num))
		farm_event_set(ev, "number", json_integer(num), &nomem);
	farm_event_set_str(ev, "status", status, &nomem);
	farm_event_set_str(ev, "providerStatus", word, &nomem);
	farm_event_set_str(ev, "branch", farm_event_str(json_object_get(vcs, "branch")), &nomem);
	farm_event_set_str(ev, "commitSha", farm_event_str(json_object_get(vcs, "revision")), &nomem);
	farm_event_set_ts(ev, "startedAt", json_object_get(pipe, "created_at"), &nomem);
	if (all_stopped && finished) {
		json_t *f = json_string(finished);
		farm_event_set_ts(ev, "finishedAt", f, &nomem);
		json_decref(f);
	}
	if (nomem) {
		json_decref(ev);
		return farm_provider_nomem(c);
	}
	*run = ev;
	return FARM_OK;
}

static int run_get(struct farm_provider_call *c, const char *id, json_t **run)
{
	json_t *pipe, *wfs;
	int rc;

	*run = NULL;
	if ((rc = pipeline_read(c, id, &pipe, &wfs)) != FARM_OK)
		return rc;
	rc = run_of(c, pipe, wfs, run);
	json_decref(pipe);
	json_decref(wfs);
	return rc;
}

/* POST /workflow/:id/<action> with body, expecting 202. */
static int workflow_action(struct farm_provider_call *c, const char *wid, const char *action,
			   const char *body)
{
	struct farm_provider_resp r;
	char *path = farm_arena_printf(c->arena, "/workflow/%s/%s", wid, action);
	char *what = farm_arena_printf(c->arena, "workflow %s", wid);
	int rc;

	if (!path || !what)
		return farm_provider_nomem(c);
	rc = farm_provider_send(c, "POST", path, NULL, 0, body ? "application/json" : NULL, body,
				body ? strlen(body) : 0, &r);
	if (rc != FARM_OK)
		return rc;
	rc = farm_provider_fail(c, r.outcome, &r, what);
	farm_provider_resp_clear(&r);
	return rc;
}

/* Reruns every workflow of the pipeline (the latest of each name), whole; the new
 * workflows belong to the same pipeline, so the new run keeps the runId. */
static int run_rerun(struct farm_provider_call *c, const char *id, json_t **run)
{
	json_t *pipe, *wfs, *w;
	size_t i;
	int rc = FARM_OK;

	*run = NULL;
	if ((rc = pipeline_read(c, id, &pipe, &wfs)) != FARM_OK)
		return rc;
	if (!json_array_size(wfs))
		rc = farm_provider_bad_input(c, "CircleCI pipeline %s has no workflow to rerun", id);
	json_array_foreach(wfs, i, w) {
		if (rc != FARM_OK)
			break;
		rc = workflow_action(c, json_string_value(json_object_get(w, "id")), "rerun",
				     "{\"from_failed\":false}");
	}
	json_decref(pipe);
	json_decref(wfs);
	return rc == FARM_OK ? run_get(c, id, run) : rc;
}

/* Cancels the pipeline's workflows that have not ended (running, failing, on_hold);
 * none: 409. */
static int run_cancel(struct farm_provider_call *c, const char *id)
{
	json_t *pipe, *wfs, *w;
	size_t i, n = 0;
	int rc;

	if ((rc = pipeline_read(c, id, &pipe, &wfs)) != FARM_OK)
		return rc;
	json_array_foreach(wfs, i, w) {
		const char *st = farm_event_status(
			"circleci", "workflow", json_string_value(json_object_get(w, "status")));

		if (strcmp(st, "running") && strcmp(st, "queued"))
			continue;
		n++;
		if ((rc = workflow_action(c, json_string_value(json_object_get(w, "id")), "cancel",
					  NULL)) != FARM_OK)
			break;
	}
	json_decref(pipe);
	json_decref(wfs);
	if (rc == FARM_OK && !n) {
		return farm_provider_refuse(c, FARM_E_CONFLICT,
					    "CircleCI pipeline %s has no running workflow to cancel", id);
	}
	return rc;
}

/* CircleCI API v2 has no log of a job: no log hook (GET .../log answers 404). */
static const struct farm_platform_runs circleci_runs = {
	.parse = run_parse,
	.get = run_get,
	.rerun = run_rerun,
	.cancel = run_cancel,
};

/* ---- the module ------------------------------------------------------------------ */

static int rd_pipelines(struct farm_provider_call *c, const void *vcs, json_t **out)
{
	return farm_provider_circleci_pipelines(c, vcs, out);
}

static int op_pipelines(struct farm_provider_call *c, const struct farm_platform_in *in,
			struct farm_platform_out *o)
{
	const char *vcs = in->query(in->qarg, "vcsUrl");

	return farm_platform_read(c, farm_arena_printf(c->arena, "circleci.pipelines %s",
						       vcs ? vcs : ""),
				  rd_pipelines, vcs, o);
}

static int op_trigger(struct farm_provider_call *c, const struct farm_platform_in *in,
		      struct farm_platform_out *o)
{
	int rc = farm_provider_circleci_trigger(c, in->params[0], in->body, &o->json);

	o->status = 201;
	if (rc == FARM_OK)
		o->log = farm_arena_printf(c->arena, "circleci: pipeline triggered on %s",
					   in->params[0]);
	return rc;
}

#define HMAC_SHA256_LEN 32

/* ---- webhook signature ------------------------------------------------------------------ */

/* 1 when the hex text `sig` (n chars) decodes to exactly `mac`; 0 otherwise. */
static int v1_matches(const char *sig, size_t n, const unsigned char mac[HMAC_SHA256_LEN],
		      int *nomem)
{
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	int rc, eq = 0;

	if (n != 2 * HMAC_SHA256_LEN)
		return 0;
	rc = farm_hex_decode(sig, n, &raw, &rawlen);
	if (rc == FARM_E_NOMEM)
		*nomem = 1;
	if (rc != FARM_OK)
		goto out;
	if (rawlen == HMAC_SHA256_LEN)
		eq = farm_crypto_memeq(raw, mac, HMAC_SHA256_LEN);
out:
	farm_crypto_free_secret(raw, rawlen);
	return eq;
}

int farm_webhook_circleci_verify(const char *sig_header, const void *secret, size_t slen,
				 const void *body, size_t blen)
{
	unsigned char mac[HMAC_SHA256_LEN];
	const char *p, *end;
	size_t hlen;
	int rc, matched = 0, nomem = 0;

	if (!sig_header || !secret || slen == 0 || (!body && blen))
		return FARM_E_AUTH;
	hlen = strnlen(sig_header, FARM_WEBHOOK_SIG_HEADER_MAX + 1);
	if (hlen == 0 || hlen > FARM_WEBHOOK_SIG_HEADER_MAX)
		return FARM_E_AUTH;

	rc = farm_crypto_hmac_sha256(secret, slen, body ? body : "", blen, mac);
	if (rc != FARM_OK)
		goto out;

	/* Every entry is examined, whether or not an earlier one matched. */
	p = sig_header;
	end = sig_header + hlen;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *item_end = comma ? comma : end;
		const char *ver = p, *eq;
		size_t item_len = (size_t)(item_end - p), vlen;

		eq = memchr(ver, '=', item_len);
		if (eq) {
			const char *sig = eq + 1;
			size_t siglen = (size_t)(item_end - sig);

			vlen = (size_t)(eq - ver);
			farm_webhook_trim_ows(&ver, &vlen);
			farm_webhook_trim_ows(&sig, &siglen);
			if (vlen == 2 && memcmp(ver, "v1", 2) == 0)
				matched |= v1_matches(sig, siglen, mac, &nomem);
		}
		p = item_end + (comma ? 1 : 0);
	}
	if (matched)
		rc = FARM_OK;
	else
		rc = nomem ? FARM_E_NOMEM : FARM_E_AUTH;
out:
	farm_crypto_wipe(mac, sizeof(mac));
	return rc;
}

/* circleci-signature: v1=<hex HMAC-SHA256 of the raw body> (providers.md §2). */
static int hook_verify(const struct farm_platform_delivery *d, char **payload, size_t *plen,
		       char *why, size_t cap)
{
	*payload = NULL;
	if (!d->secret || !*d->secret) {
		snprintf(why, cap, "no CircleCI webhook secret configured");
		return FARM_E_AUTH;
	}
	if (farm_webhook_circleci_verify(d->header(d->arg, "HTTP_CIRCLECI_SIGNATURE"), d->secret,
					 strlen(d->secret), d->body, d->len) != FARM_OK) {
		snprintf(why, cap, "bad or missing circleci-signature");
		return FARM_E_AUTH;
	}
	return FARM_OK;
}

static const struct farm_platform_webhook circleci_webhook = {
	.conf_secret = "webhook.circleci.secret",
	.verify = hook_verify,
	.map = farm_event_from_circleci,
};

static const struct farm_cred_field circleci_fields[] = {
	{"token", FARM_CRED_REQUIRED | FARM_CRED_SECRET},
	{"url", FARM_CRED_URL},
	{"webhookSecret", FARM_CRED_SECRET},
	{NULL, 0},
};

static const struct farm_platform_route circleci_routes[] = {
	{"GET", "/pipelines", FARM_PLATFORM_AUTH | FARM_PLATFORM_LIST, NULL, op_pipelines},
	{"POST", "/pipelines/:slug/trigger", FARM_PLATFORM_ADMIN | FARM_PLATFORM_JSON | FARM_PLATFORM_TRIGGER, NULL,
	 op_trigger},
	{NULL, NULL, 0, NULL, NULL},
};

static const struct farm_platform_conf circleci_conf[] = {
	{"circleci.api_url", "https://circleci.com", 0, "CircleCI API base", FARM_CONF_URL, 0, 0},
	{"webhook.circleci.secret", "", 1, "HMAC secret of POST /webhooks/circleci",
	 FARM_CONF_STR, 0, 0},
	{NULL, NULL, 0, NULL, FARM_CONF_STR, 0, 0},
};

static const struct farm_platform_status circleci_statuses[] = {
	{"workflow", "on_hold", "queued"},
	{"workflow", "running", "running"},
	{"workflow", "failing", "running"},
	{"workflow", "success", "success"},
	{"workflow", "failed", "failed"},
	{"workflow", "canceled", "canceled"},
	{"workflow", "error", "error"},
	{"workflow", "unauthorized", "error"},
	{"workflow", "not_run", "unknown"},
	{"pipeline", "created", "queued"},
	{"pipeline", "pending", "queued"},
	{"pipeline", "setup-pending", "queued"},
	{"pipeline", "setup", "queued"},
	{"pipeline", "errored", "error"},
	{"job", "queued", "queued"},
	{"job", "not_running", "queued"},
	{"job", "blocked", "queued"},
	{"job", "on_hold", "queued"},
	{"job", "running", "running"},
	{"job", "success", "success"},
	{"job", "failed", "failed"},
	{"job", "timedout", "failed"},
	{"job", "canceled", "canceled"},
	{"job", "terminated-unknown", "canceled"},
	{"job", "infrastructure_fail", "error"},
	{"job", "unauthorized", "error"},
	{"job", "not_run", "unknown"},
	{"job", "retried", "unknown"},
	{NULL, NULL, NULL},
};

const struct farm_platform farm_platform_circleci = {
	.up = {
		.type = "circleci",
		.title = "CircleCI",
		.api_root = "/api/v2",
		.url_required = 0,
		.auth = circleci_auth,
		.message = farm_platform_message,
	},
	.fields = circleci_fields,
	.conf = circleci_conf,
	.routes = circleci_routes,
	.statuses = circleci_statuses,
	.webhook = &circleci_webhook,
	.run_id = "pipeline id",
	.runs = &circleci_runs,
};
