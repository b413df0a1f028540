/* semaphore.c - the Semaphore module: Semaphore 2.0 API v1alpha (providers.md §6,
 * seed 004).
 *
 * Auth: Authorization: Token <token> (and the User-Agent the docs ask for).  Base: the
 * credential's url (required: https://<org>.semaphoreci.com or a self-hosted server)
 * plus /api/v1alpha.  Lists are JSON arrays of at most 30 items; the next page is the
 * rel="next" URL of the `link` header, followed (never built) while it stays on the
 * credential's API and the same endpoint, up to FARM_SEMAPHORE_MAX_PAGES pages or the
 * limit.  Errors: bodies are not documented; a JSON "message" is shown when present.
 * Ids (project, workflow, pipeline) are UUIDs: anything else is refused (400) before
 * any upstream call.
 */
#include "semaphore.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "event.h"
#include "webhook.h"
#include "banned.h"

#define API_ROOT "/api/v1alpha"

static int semaphore_auth(struct farm_provider_call *c, json_t *value, const char **hdr)
{
	if (farm_platform_token_auth(c, value, "token", "Authorization: Token %s", hdr) < 0)
		return -1;
	hdr[1] = "User-Agent: SemaphoreCI v2.0 Client";
	return 2;
}

int farm_semaphore_id_ok(const char *s)
{
	if (!s || strlen(s) != 36)
		return 0;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

int farm_semaphore_link_next(const char *link, char *out, size_t cap)
{
	const char *p = link;

	out[0] = '\0';
	while (p && *p) {
		const char *lt = strchr(p, '<'), *gt, *params, *end;

		if (!lt || !(gt = strchr(lt + 1, '>')))
			return 0;
		params = gt + 1;
		end = strchr(params, '<');
		if (!end)
			end = params + strlen(params);
		/* rel="next", rel=next, or "next" among space-separated rel values */
		for (const char *r = params; r < end; r++) {
			size_t rest = (size_t)(end - r);
			if (rest >= 4 && !strncasecmp(r, "rel=", 4)) {
				const char *v = r + 4;
				size_t vl = strcspn(v, ";,<");
				if (v + vl > end)
					vl = (size_t)(end - v);
				for (const char *w = v; w + 4 <= v + vl; w++)
					if (!strncasecmp(w, "next", 4) &&
					    (w == v || w[-1] == '"' || w[-1] == ' ') &&
					    (w + 4 == v + vl || w[4] == '"' || w[4] == ' ')) {
						size_t ul = (size_t)(gt - lt - 1);
						if (!ul || ul >= cap)
							return 0;
						memcpy(out, lt + 1, ul);
						out[ul] = '\0';
						return 1;
					}
			}
		}
		p = end;
	}
	return 0;
}

/* The path (below the API root) of a next-page URL, when it stays on the credential's
 * API (scheme aside: a proxy may rewrite it) and on `endpoint`; else NULL. */
static const char *next_path(struct farm_provider_call *c, const char *next, const char *endpoint)
{
	json_t *value = farm_provider_value(c);
	const char *u = json_string_value(json_object_get(value, "url")), *a, *b;
	size_t ul, el = strlen(endpoint);

	if (!u)
		return NULL;
	a = strstr(u, "://");
	b = strstr(next, "://");
	if (!a || !b)
		return NULL;
	a += 3;
	b += 3;
	ul = strlen(a);
	while (ul && a[ul - 1] == '/')
		ul--;
	if (strncasecmp(a, b, ul) || strncmp(b + ul, API_ROOT, sizeof(API_ROOT) - 1))
		return NULL;
	b += ul + sizeof(API_ROOT) - 1;
	if (strncmp(b, endpoint, el) || (b[el] != '?' && b[el] != '\0'))
		return NULL;
	for (const char *q = b; *q; q++)
		if ((unsigned char)*q <= 0x20 || *q == 0x7f || *q == '#' || *q == '\\')
			return NULL;
	return farm_arena_strdup(c->arena, b);
}

/* ---- reads ------------------------------------------------------------------------ */

struct list_in {
	const char *project;
	long limit;
};

static int rd_pipelines(struct farm_provider_call *c, const void *arg, json_t **out)
{
	const struct list_in *in = arg;
	const char *enc = farm_provider_pct(c->arena, in->project);
	const char *path = enc ? farm_arena_printf(c->arena, "/pipelines?project_id=%s", enc) : NULL;
	const char *what = farm_arena_printf(c->arena, "project '%s'", in->project);
	char next[2048];
	json_t *all = json_array(), *item;
	int rc = FARM_OK;

	*out = NULL;
	if (!path || !what || !all) {
		json_decref(all);
		return farm_provider_nomem(c);
	}
	for (int page = 0; page < FARM_SEMAPHORE_MAX_PAGES && path; page++) {
		struct farm_provider_resp r;
		int outcome;
		size_t k;

		if ((rc = farm_provider_send(c, "GET", path, NULL, 0, NULL, NULL, 0, &r)) != FARM_OK)
			break;
		outcome = r.outcome;
		if (outcome == FARM_PO_OK && !json_is_array(r.json))
			outcome = FARM_PO_GARBAGE;
		path = NULL;
		if (outcome == FARM_PO_OK && r.link[0] &&
		    farm_semaphore_link_next(r.link, next, sizeof(next)) &&
		    !(path = next_path(c, next, "/pipelines")))
			outcome = FARM_PO_GARBAGE; /* a next page off the credential's API */
		if (outcome != FARM_PO_OK) {
			rc = farm_provider_fail(c, outcome, &r, what);
			farm_provider_resp_clear(&r);
			break;
		}
		json_array_foreach(r.json, k, item)
		{
			if ((long)json_array_size(all) < in->limit)
				json_array_append(all, item);
		}
		farm_provider_resp_clear(&r);
		if ((long)json_array_size(all) >= in->limit)
			break;
	}
	if (rc != FARM_OK) {
		json_decref(all);
		return rc;
	}
	*out = all;
	return FARM_OK;
}

static int rd_pipeline(struct farm_provider_call *c, const void *arg, json_t **out)
{
	const char *id = arg;
	const char *path = farm_arena_printf(c->arena, "/pipelines/%s?detailed=true", id);
	const char *what = farm_arena_printf(c->arena, "pipeline '%s'", id);
	int rc;

	if (!path || !what)
		return farm_provider_nomem(c);
	if ((rc = farm_provider_get_json(c, path, what, 0, out)) != FARM_OK)
		return rc;
	if (!json_is_object(json_object_get(*out, "pipeline"))) {
		json_decref(*out);
		*out = NULL;
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, what);
	}
	return FARM_OK;
}

/* ---- writes ----------------------------------------------------------------------- */

/* A git reference as Semaphore takes it: refs/heads/X, refs/tags/X, refs/pull/N; a
 * bare name is a branch.  No "..", no space, none of ~^:?*[\ and no "//". */
static const char *reference_of(struct farm_arena *a, json_t *v)
{
	const char *s = json_string_value(v);

	if (!farm_platform_text_ok(v, 255) || strstr(s, "..") || strstr(s, "//") ||
	    strpbrk(s, " ~^:?*[\\") || s[0] == '/' || s[strlen(s) - 1] == '/' ||
	    s[strlen(s) - 1] == '.')
		return NULL;
	if (!strncmp(s, "refs/", 5)) {
		if (strncmp(s, "refs/heads/", 11) && strncmp(s, "refs/tags/", 10) &&
		    strncmp(s, "refs/pull/", 10))
			return NULL;
		return (s[strcspn(s + 5, "/") + 6] != '\0') ? s : NULL;
	}
	return farm_arena_printf(a, "refs/heads/%s", s);
}

static int hex_ok(json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = s ? strlen(s) : 0;

	return n >= 7 && n <= 64 && json_string_length(v) == n && strspn(s, "0123456789abcdefABCDEF") == n;
}

/* POST /plumber-workflows, form-encoded as the API's documentation sends it. */
static int run_workflow(struct farm_provider_call *c, json_t *in, json_t **out)
{
	static const char *const keys[] = {"projectId", "reference", "commitSha", "pipelineFile"};
	struct farm_provider_resp r;
	json_t *v;
	const char *k, *ref, *form, *what;
	int rc, outcome;

	*out = NULL;
	if (!json_is_object(in))
		return farm_provider_bad_input(c, "request body must be a JSON object with "
						  "projectId and reference");
	json_object_foreach(in, k, v)
	{
		size_t i;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && strcmp(k, keys[i]); i++)
			;
		if (i == sizeof(keys) / sizeof(keys[0]))
			return farm_provider_bad_input(c, "property %.100s should not exist", k);
	}
	if (!farm_semaphore_id_ok(json_string_value(json_object_get(in, "projectId"))))
		return farm_provider_bad_input(c, "projectId must be a Semaphore project id (UUID)");
	if (!(ref = reference_of(c->arena, json_object_get(in, "reference"))))
		return farm_provider_bad_input(c, "reference must be a branch name or "
						  "refs/heads/<branch>, refs/tags/<tag>, "
						  "refs/pull/<number> (at most 255 characters)");
	form = farm_arena_printf(c->arena, "project_id=%s&reference=%s",
				 json_string_value(json_object_get(in, "projectId")),
				 farm_provider_pct(c->arena, ref));
	if ((v = json_object_get(in, "commitSha"))) {
		if (!hex_ok(v))
			return farm_provider_bad_input(c, "commitSha must be 7 to 64 hex digits");
		form = form ? farm_arena_printf(c->arena, "%s&commit_sha=%s", form,
						json_string_value(v)) : NULL;
	}
	if ((v = json_object_get(in, "pipelineFile"))) {
		const char *f = json_string_value(v);
		if (!farm_platform_text_ok(v, 255) || strstr(f, "..") || f[0] == '/')
			return farm_provider_bad_input(c, "pipelineFile must be a relative path in the "
							  "repository (at most 255 characters, no ..)");
		form = form ? farm_arena_printf(c->arena, "%s&pipeline_file=%s", form,
						farm_provider_pct(c->arena, f)) : NULL;
	}
	what = farm_arena_printf(c->arena, "project '%s'",
				 json_string_value(json_object_get(in, "projectId")));
	if (!form || !what)
		return farm_provider_nomem(c);
	rc = farm_provider_send(c, "POST", "/plumber-workflows", NULL, 0,
				"application/x-www-form-urlencoded", form, strlen(form), &r);
	if (rc != FARM_OK)
		return rc;
	outcome = r.outcome;
	if (outcome == FARM_PO_OK &&
	    (!json_is_string(json_object_get(r.json, "workflow_id")) ||
	     !json_is_string(json_object_get(r.json, "pipeline_id"))))
		outcome = FARM_PO_GARBAGE;
	if (outcome != FARM_PO_OK) {
		rc = farm_provider_fail(c, outcome, &r, what);
		farm_provider_resp_clear(&r);
		return rc;
	}
	*out = json_pack("{s:O,s:O}", "workflowId", json_object_get(r.json, "workflow_id"),
			 "pipelineId", json_object_get(r.json, "pipeline_id"));
	farm_provider_resp_clear(&r);
	return *out ? FARM_OK : farm_provider_nomem(c);
}

/* POST /plumber-workflows/:id/reschedule?request_token=<a fresh UUID>: every call a
 * new rerun (the token is Semaphore's idempotency key: reusing one would not rerun). */
static int rerun_workflow(struct farm_provider_call *c, const char *id, json_t **out)
{
	struct farm_provider_resp r;
	char tok[37];
	const char *path, *what;
	int rc, outcome;

	*out = NULL;
	if (farm_crypto_uuid4(tok) != FARM_OK)
		return farm_provider_nomem(c);
	path = farm_arena_printf(c->arena, "/plumber-workflows/%s/reschedule?request_token=%s", id,
				 tok);
	what = farm_arena_printf(c->arena, "workflow '%s'", id);
	if (!path || !what)
		return farm_provider_nomem(c);
	if ((rc = farm_provider_send(c, "POST", path, NULL, 0, NULL, NULL, 0, &r)) != FARM_OK)
		return rc;
	outcome = r.outcome;
	if (outcome == FARM_PO_OK && (!json_is_string(json_object_get(r.json, "wf_id")) ||
				      !json_is_string(json_object_get(r.json, "ppl_id"))))
		outcome = FARM_PO_GARBAGE;
	if (outcome != FARM_PO_OK) {
		rc = farm_provider_fail(c, outcome, &r, what);
		farm_provider_resp_clear(&r);
		return rc;
	}
	*out = json_pack("{s:O,s:O}", "workflowId", json_object_get(r.json, "wf_id"), "pipelineId",
			 json_object_get(r.json, "ppl_id"));
	farm_provider_resp_clear(&r);
	return *out ? FARM_OK : farm_provider_nomem(c);
}

/* PATCH /pipelines/:id {"terminate_request": true} (seed 004's Stop Pipeline). */
static int stop_pipeline(struct farm_provider_call *c, const char *id, json_t **out)
{
	static const char body[] = "{\"terminate_request\":true}";
	struct farm_provider_resp r;
	const char *path = farm_arena_printf(c->arena, "/pipelines/%s", id);
	const char *what = farm_arena_printf(c->arena, "pipeline '%s'", id);
	int rc;

	*out = NULL;
	if (!path || !what)
		return farm_provider_nomem(c);
	rc = farm_provider_send(c, "PATCH", path, NULL, 0, "application/json", body,
				sizeof(body) - 1, &r);
	if (rc != FARM_OK)
		return rc;
	if (r.outcome != FARM_PO_OK) {
		rc = farm_provider_fail(c, r.outcome, &r, what);
		farm_provider_resp_clear(&r);
		return rc;
	}
	farm_provider_resp_clear(&r);
	*out = json_pack("{s:s,s:b}", "pipelineId", id, "stopRequested", 1);
	return *out ? FARM_OK : farm_provider_nomem(c);
}

/* The normalised status of a pipeline: its state until it is done, then its result
 * ("failed" for an infrastructure result_reason is "error"); *word the word used. */
static const char *pipeline_status(const char *state, const char *result, const char *reason,
				   const char **word)
{
	int done = state && !strcasecmp(state, "done");
	const char *st;

	*word = done ? result : state;
	st = farm_event_status("semaphore", "pipeline", *word);
	if (done && result && !strcasecmp(result, "failed") && reason &&
	    (!strcasecmp(reason, "malformed") || !strcasecmp(reason, "stuck") ||
	     !strcasecmp(reason, "internal")))
		st = "error";
	return st;
}

/* ---- webhook ---------------------------------------------------------------------- */

#define HMAC_LEN 32

int farm_webhook_semaphore_verify(const char *sig, const void *secret, size_t slen,
				  const void *body, size_t blen)
{
	unsigned char mac[HMAC_LEN], *raw = NULL;
	size_t n, rawlen = 0;
	int rc;

	if (!sig || !secret || !slen || (!body && blen))
		return FARM_E_AUTH;
	n = strnlen(sig, 200);
	if (n >= 7 && !strncasecmp(sig, "sha256=", 7)) {
		sig += 7;
		n -= 7;
	}
	if (n != 2 * HMAC_LEN)
		return FARM_E_AUTH;
	if ((rc = farm_crypto_hmac_sha256(secret, slen, body ? body : "", blen, mac)) != FARM_OK)
		goto out;
	rc = farm_hex_decode(sig, n, &raw, &rawlen);
	if (rc == FARM_OK)
		rc = rawlen == HMAC_LEN && farm_crypto_memeq(raw, mac, HMAC_LEN) ? FARM_OK
										  : FARM_E_AUTH;
	else if (rc != FARM_E_NOMEM)
		rc = FARM_E_AUTH;
	farm_crypto_free_secret(raw, rawlen);
out:
	farm_crypto_wipe(mac, sizeof(mac));
	return rc;
}

#define WEBHOOK_ID_MAX 128

/* Verifies, and hands map() the delivery id with the body: "<id>\n<body>". */
static int hook_verify(const struct farm_platform_delivery *d, char **payload, size_t *plen,
		       char *why, size_t cap)
{
	const char *id = d->header(d->arg, "HTTP_X_SEMAPHORE_WEBHOOK_ID");
	size_t il = 0;
	char *p;

	*payload = NULL;
	if (!d->secret || !*d->secret) {
		snprintf(why, cap, "no Semaphore webhook secret configured");
		return FARM_E_AUTH;
	}
	if (farm_webhook_semaphore_verify(d->header(d->arg, "HTTP_X_SEMAPHORE_SIGNATURE_256"),
					  d->secret, strlen(d->secret), d->body,
					  d->len) != FARM_OK) {
		snprintf(why, cap, "bad or missing X-Semaphore-Signature-256");
		return FARM_E_AUTH;
	}
	/* An id that is not a short printable token is no redelivery key: the pipeline's
	 * state is used instead. */
	if (id) {
		il = strlen(id);
		for (size_t i = 0; i < il; i++)
			if ((unsigned char)id[i] <= 0x20 || id[i] == 0x7f)
				il = 0;
		if (il > WEBHOOK_ID_MAX)
			il = 0;
	}
	if (!(p = malloc(il + 1 + d->len + 1)))
		return FARM_E_NOMEM;
	memcpy(p, id ? id : "", il);
	p[il] = '\n';
	memcpy(p + il + 1, d->body, d->len);
	p[il + 1 + d->len] = '\0';
	*payload = p;
	*plen = il + 1 + d->len;
	return FARM_OK;
}

static const char *obj_str(json_t *o, const char *k)
{
	return farm_event_str(json_object_get(o, k));
}

/* Mapping (providers.md §6.3 payload):
 *   project = project.name, name = pipeline.name, buildId = pipeline.id (runId),
 *   status from pipeline.state, or pipeline.result once the state is done ("failed"
 *   with result_reason malformed, stuck or internal is "error"), providerStatus = that
 *   word, branch = revision.branch.name (a pull request's branch_name, a tag's name),
 *   commitSha = revision.commit_sha, startedAt = pipeline.running_at, finishedAt =
 *   pipeline.done_at once done, url = the workflow page when the organisation is on
 *   semaphoreci.com.  Redelivery key "semaphore:<X-Semaphore-Webhook-Id>", else
 *   "semaphore:<pipeline id>:<state>:<result>". */
int farm_event_from_semaphore(const void *body, size_t len, json_t **data, char **dedupe_key,
			      struct farm_error *err)
{
	const char *nl = body ? memchr(body, '\n', len) : NULL;
	json_t *root = NULL, *ev = NULL, *pl, *rev, *pr, *tag, *wf;
	const char *pid, *state, *result, *reason, *word, *status, *branch, *org, *wid;
	char *key = NULL;
	size_t il;
	int rc, nomem = 0, too_long = 0, done;

	if ((rc = farm_event_out_init(data, dedupe_key, err)) != FARM_OK)
		return rc;
	if (!nl)
		return farm_error_set(err, FARM_E_INVAL, "Semaphore delivery without a body");
	il = (size_t)(nl - (const char *)body);
	if ((rc = farm_event_load("Semaphore", nl + 1, len - il - 1, &root, err)) != FARM_OK)
		return rc;
	pl = json_object_get(root, "pipeline");
	if (!json_is_object(pl) || !(pid = obj_str(pl, "id"))) {
		rc = farm_error_set(err, FARM_E_INVAL, "Semaphore payload has no pipeline.id");
		goto out;
	}
	state = obj_str(pl, "state");
	result = obj_str(pl, "result");
	reason = obj_str(pl, "result_reason");
	done = state && !strcasecmp(state, "done");
	status = pipeline_status(state, result, reason, &word);

	if (!(ev = farm_event_new("semaphore"))) {
		nomem = 1;
		goto done;
	}
	rev = json_object_get(root, "revision");
	pr = json_object_get(rev, "pull_request");
	tag = json_object_get(rev, "tag");
	wf = json_object_get(root, "workflow");
	branch = obj_str(json_object_get(rev, "branch"), "name");
	if (!branch)
		branch = obj_str(pr, "branch_name");
	if (!branch)
		branch = obj_str(tag, "name");
	farm_event_set_str(ev, "project", obj_str(json_object_get(root, "project"), "name"), &nomem);
	farm_event_set_str(ev, "name", obj_str(pl, "name"), &nomem);
	farm_event_set_str(ev, "buildId", pid, &nomem);
	farm_event_set_str(ev, "status", status, &nomem);
	farm_event_set_str(ev, "providerStatus", word, &nomem);
	farm_event_set_str(ev, "branch", branch, &nomem);
	farm_event_set_str(ev, "commitSha", obj_str(rev, "commit_sha"), &nomem);
	org = obj_str(json_object_get(root, "organization"), "name");
	wid = obj_str(wf, "id");
	if (org && wid && farm_semaphore_id_ok(wid) && farm_semaphore_id_ok(pid) &&
	    strspn(org, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(org) &&
	    strlen(org) <= 63) {
		char url[256];
		snprintf(url, sizeof(url), "https://%s.semaphoreci.com/workflows/%s?pipeline_id=%s",
			 org, wid, pid);
		farm_event_set_str(ev, "url", url, &nomem);
	}
	farm_event_set_ts(ev, "startedAt", json_object_get(pl, "running_at"), &nomem);
	if (done)
		farm_event_set_ts(ev, "finishedAt", json_object_get(pl, "done_at"), &nomem);
	if (il)
		key = farm_event_key(&too_long, "semaphore:%.*s", (int)il, (const char *)body);
	else
		key = farm_event_key(&too_long, "semaphore:%s:%s:%s", pid, state ? state : "",
				     result ? result : "");
done:
	rc = farm_event_finish(ev, key, nomem, too_long, data, dedupe_key, "Semaphore", err);
out:
	json_decref(root);
	return rc;
}

/* ---- runs (platforms.md §5): runId = the pipeline id ------------------------------ */

static int run_parse(const char *id, char *why, size_t cap)
{
	if (!farm_semaphore_id_ok(id)) {
		snprintf(why, cap, "a Semaphore runId is a pipeline id (a UUID)");
		return 1;
	}
	return 0;
}

/* A describe timestamp, or NULL for Semaphore's "not yet" (the epoch). */
static json_t *when(json_t *v)
{
	const char *s = json_string_value(v);

	return s && strncmp(s, "1970-01-01", 10) ? v : NULL;
}

/* The describe answer's pipeline -> a run (project is the project id: the pipeline
 * does not name its project; url the workflow page on the credential's host). */
static int run_of_pipeline(struct farm_provider_call *c, json_t *pl, json_t **run)
{
	const char *id = obj_str(pl, "ppl_id"), *wf = obj_str(pl, "wf_id"), *word, *state, *u;
	json_t *value = farm_provider_value(c), *ev;
	int nomem = 0, done;

	*run = NULL;
	if (!value)
		return c->err.code;
	if (!farm_semaphore_id_ok(id))
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	state = obj_str(pl, "state");
	done = state && !strcasecmp(state, "done");
	if (!(ev = farm_event_new("semaphore")))
		return farm_provider_nomem(c);
	farm_event_set_str(ev, "project", obj_str(pl, "project_id"), &nomem);
	farm_event_set_str(ev, "name", obj_str(pl, "name"), &nomem);
	farm_event_set_str(ev, "buildId", id, &nomem);
	farm_event_set_str(ev, "status",
			   pipeline_status(state, obj_str(pl, "result"), obj_str(pl, "result_reason"),
					   &word),
			   &nomem);
	farm_event_set_str(ev, "providerStatus", word, &nomem);
	farm_event_set_str(ev, "branch", obj_str(pl, "branch_name"), &nomem);
	farm_event_set_str(ev, "commitSha", obj_str(pl, "commit_sha"), &nomem);
	u = json_string_value(json_object_get(value, "url"));
	if (u && farm_semaphore_id_ok(wf)) {
		size_t ul = strlen(u);
		while (ul && u[ul - 1] == '/')
			ul--;
		farm_event_set_str(ev, "url",
				   farm_arena_printf(c->arena, "%.*s/workflows/%s?pipeline_id=%s",
						     (int)ul, u, wf, id),
				   &nomem);
	}
	farm_event_set_ts(ev, "startedAt", when(json_object_get(pl, "running_at")), &nomem);
	if (done)
		farm_event_set_ts(ev, "finishedAt", when(json_object_get(pl, "done_at")), &nomem);
	if (nomem) {
		json_decref(ev);
		return farm_provider_nomem(c);
	}
	*run = ev;
	return FARM_OK;
}

static int pipeline_get(struct farm_provider_call *c, const char *id, json_t **pl)
{
	const char *path = farm_arena_printf(c->arena, "/pipelines/%s", id);
	const char *what = farm_arena_printf(c->arena, "pipeline '%s'", id);
	json_t *d = NULL;
	int rc;

	*pl = NULL;
	if (!path || !what)
		return farm_provider_nomem(c);
	if ((rc = farm_provider_get_json(c, path, what, 0, &d)) != FARM_OK)
		return rc;
	if (!json_is_object(json_object_get(d, "pipeline"))) {
		json_decref(d);
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, what);
	}
	*pl = json_incref(json_object_get(d, "pipeline"));
	json_decref(d);
	return FARM_OK;
}

static int run_get(struct farm_provider_call *c, const char *id, json_t **run)
{
	json_t *pl = NULL;
	int rc;

	*run = NULL;
	if ((rc = pipeline_get(c, id, &pl)) == FARM_OK)
		rc = run_of_pipeline(c, pl, run);
	json_decref(pl);
	return rc;
}

/* The pipeline's workflow rerun (a fresh request_token); the new run is the new
 * workflow's pipeline, read once. */
static int run_rerun(struct farm_provider_call *c, const char *id, json_t **run)
{
	json_t *pl = NULL, *started = NULL;
	const char *wf;
	int rc;

	*run = NULL;
	if ((rc = pipeline_get(c, id, &pl)) != FARM_OK)
		return rc;
	wf = obj_str(pl, "wf_id");
	if (!farm_semaphore_id_ok(wf))
		rc = farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	else if ((rc = rerun_workflow(c, wf, &started)) == FARM_OK) {
		const char *np = json_string_value(json_object_get(started, "pipelineId"));
		rc = farm_semaphore_id_ok(np) ? run_get(c, np, run)
					       : farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	}
	json_decref(started);
	json_decref(pl);
	return rc;
}

static int run_cancel(struct farm_provider_call *c, const char *id)
{
	json_t *out = NULL;
	int rc = stop_pipeline(c, id, &out);

	json_decref(out);
	return rc;
}

/* No log hook: Semaphore serves job logs outside its API root (<org>/jobs/:id/
 * plain_logs.json), one per job; GET /runs/semaphore/:id/log is a 404 (docs/runs.md). */
static const struct farm_platform_runs semaphore_runs = {
	.parse = run_parse,
	.get = run_get,
	.rerun = run_rerun,
	.cancel = run_cancel,
};

/* ---- the module ------------------------------------------------------------------ */

static int check_list(const struct farm_platform_in *in, char *why, size_t cap)
{
	long n;

	if (!farm_semaphore_id_ok(in->query(in->qarg, "projectId"))) {
		snprintf(why, cap, "projectId must be a Semaphore project id (UUID)");
		return 1;
	}
	return farm_platform_number(in, "limit", 20, 1, 100, &n, why, cap);
}

static int op_pipelines(struct farm_provider_call *c, const struct farm_platform_in *in,
			struct farm_platform_out *o)
{
	struct list_in l = {in->query(in->qarg, "projectId"), 20};
	char why[8];

	farm_platform_number(in, "limit", 20, 1, 100, &l.limit, why, sizeof(why));
	return farm_platform_read(c, farm_arena_printf(c->arena, "semaphore.pipelines %ld %s",
						       l.limit, l.project),
				  rd_pipelines, &l, o);
}

static int check_id(const struct farm_platform_in *in, char *why, size_t cap)
{
	if (!farm_semaphore_id_ok(in->params[0])) {
		snprintf(why, cap, "id must be a Semaphore id (UUID)");
		return 1;
	}
	return 0;
}

static int op_pipeline(struct farm_provider_call *c, const struct farm_platform_in *in,
		       struct farm_platform_out *o)
{
	return farm_platform_read(c, farm_arena_printf(c->arena, "semaphore.pipeline %s",
						       in->params[0]),
				  rd_pipeline, in->params[0], o);
}

static int op_run(struct farm_provider_call *c, const struct farm_platform_in *in,
		  struct farm_platform_out *o)
{
	int rc = run_workflow(c, in->body, &o->json);

	o->status = 201;
	if (rc == FARM_OK) {
		o->log = farm_arena_printf(c->arena, "semaphore: workflow %s started",
					   json_string_value(json_object_get(o->json, "workflowId")));
		/* Watched when the credential asks for polling (farm_platform_poll_optin). */
		if (json_is_string(json_object_get(o->json, "pipelineId")))
			o->watch = json_pack("[O]", json_object_get(o->json, "pipelineId"));
	}
	return rc;
}

static int op_rerun(struct farm_provider_call *c, const struct farm_platform_in *in,
		    struct farm_platform_out *o)
{
	int rc = rerun_workflow(c, in->params[0], &o->json);

	o->status = 201;
	if (rc == FARM_OK) {
		o->log = farm_arena_printf(c->arena, "semaphore: workflow %s rerun as %s",
					   in->params[0],
					   json_string_value(json_object_get(o->json, "workflowId")));
		if (json_is_string(json_object_get(o->json, "pipelineId")))
			o->watch = json_pack("[O]", json_object_get(o->json, "pipelineId"));
	}
	return rc;
}

static int op_stop(struct farm_provider_call *c, const struct farm_platform_in *in,
		   struct farm_platform_out *o)
{
	int rc = stop_pipeline(c, in->params[0], &o->json);

	o->status = 202;
	if (rc == FARM_OK)
		o->log = farm_arena_printf(c->arena, "semaphore: stop of pipeline %s requested",
					   in->params[0]);
	return rc;
}

static const struct farm_platform_webhook semaphore_webhook = {
	.conf_secret = "webhook.semaphore.secret",
	.verify = hook_verify,
	.map = farm_event_from_semaphore,
};

static const struct farm_cred_field semaphore_fields[] = {
	{"token", FARM_CRED_REQUIRED | FARM_CRED_SECRET},
	{"url", FARM_CRED_REQUIRED | FARM_CRED_URL},
	{"webhookSecret", FARM_CRED_SECRET},
	{NULL, 0},
};

static const struct farm_platform_route semaphore_routes[] = {
	{"GET", "/pipelines", FARM_PLATFORM_AUTH | FARM_PLATFORM_LIST, check_list, op_pipelines},
	{"GET", "/pipelines/:id", FARM_PLATFORM_AUTH, check_id, op_pipeline},
	{"POST", "/pipelines/:id/stop", FARM_PLATFORM_ADMIN, check_id, op_stop},
	{"POST", "/workflows", FARM_PLATFORM_ADMIN | FARM_PLATFORM_JSON | FARM_PLATFORM_TRIGGER, NULL,
	 op_run},
	{"POST", "/workflows/:id/rerun", FARM_PLATFORM_ADMIN, check_id, op_rerun},
	{NULL, NULL, 0, NULL, NULL},
};

static const struct farm_platform_conf semaphore_conf[] = {
	{"webhook.semaphore.secret", "", 1,
	 "HMAC secret of POST /webhooks/semaphore (the org secret's WEBHOOK_SECRET)",
	 FARM_CONF_STR, 0, 0},
	{NULL, NULL, 0, NULL, FARM_CONF_STR, 0, 0},
};

static const struct farm_platform_status semaphore_statuses[] = {
	{"pipeline", "initializing", "queued"},
	{"pipeline", "pending", "queued"},
	{"pipeline", "queuing", "queued"},
	{"pipeline", "running", "running"},
	{"pipeline", "stopping", "running"},
	{"pipeline", "passed", "success"},
	{"pipeline", "failed", "failed"},
	{"pipeline", "stopped", "canceled"},
	{"pipeline", "canceled", "canceled"},
	{NULL, NULL, NULL},
};

const struct farm_platform farm_platform_semaphore = {
	.up = {
		.type = "semaphore",
		.title = "Semaphore",
		.api_root = API_ROOT,
		.url_required = 1,
		.auth = semaphore_auth,
		.message = farm_platform_message,
	},
	.fields = semaphore_fields,
	.conf = semaphore_conf,
	.routes = semaphore_routes,
	.statuses = semaphore_statuses,
	.webhook = &semaphore_webhook,
	.run_id = "pipeline id",
	.runs = &semaphore_runs,
};
