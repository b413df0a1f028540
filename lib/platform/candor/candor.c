/* candor.c - the Candor CI module: the dashboard backend's API (providers.md §8.1,
 * seed 003).
 *
 * Auth: a cookie session.  POST <url>/login {"username","password"} answers 200 and
 * a session cookie; every other call sends it.  A session belongs to one credential:
 * it is kept in this process (a FastCGI worker, farm-runner) in a small table keyed
 * by SHA-256 of (credential id, url, username, password), so two credentials — of
 * one org or of two — never share one, and a credential whose value changes logs in
 * anew.  The cookie is only in that table (wiped when dropped) and in the request's
 * arena.  An answer 401 or 403 to a call made with a kept session drops it, logs in
 * again and repeats the call ONCE (an expired session gets 403); a 401/403 with a
 * session just obtained is the answer.  Worker processes each keep their own
 * sessions (a fork starts with none), so a pool of N workers may hold N sessions per
 * credential.
 *
 * Routes: the pipelines list and one pipeline (passed through, without its
 * `trigger` token), a trigger (the token is read from the pipeline, then POST
 * /trigger/<token> with the parameters as the JSON body: 200 → 202 {"started":true},
 * 204 constraints not met and 400 already running → 409), a run's log (text/plain).
 */
#include "candor.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto.h"
#include "event.h"
#include "banned.h"

#define SESSIONS_MAX 64
#define COOKIE_MAX 1024
#define TOKEN_MAX 256

/* ---- ids ------------------------------------------------------------------------------ */

int farm_candor_pipeline_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	return n >= 1 && n <= FARM_CANDOR_ID_MAX && strspn(id, "0123456789") == n && id[0] != '0';
}

int farm_candor_run_id_ok(const char *run)
{
	size_t n = run ? strlen(run) : 0;

	return n >= 1 && n <= FARM_CANDOR_RUN_ID_MAX &&
	       strspn(run, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* ---- sessions (this process) ------------------------------------------------------ */

struct session {
	unsigned char key[32]; /* SHA-256 of id \0 url \0 username \0 password */
	char cookie[COOKIE_MAX];
	unsigned long used; /* clock of the last use, for eviction */
	int live;
};

static struct session sessions[SESSIONS_MAX];
static unsigned long session_clock;
static pthread_mutex_t session_mu = PTHREAD_MUTEX_INITIALIZER;

void farm_candor_sessions_clear(void)
{
	pthread_mutex_lock(&session_mu);
	farm_crypto_wipe(sessions, sizeof(sessions));
	pthread_mutex_unlock(&session_mu);
}

/* The session key of the call's credential; 0, or -1 when the value lacks a field. */
static int session_key(struct farm_provider_call *c, json_t *value, unsigned char key[32])
{
	const char *parts[4] = {c->cred_id ? c->cred_id : "",
				json_string_value(json_object_get(value, "url")),
				json_string_value(json_object_get(value, "username")),
				json_string_value(json_object_get(value, "password"))};
	size_t n = 0, o = 0;
	char *buf;
	int rc;

	for (int i = 0; i < 4; i++) {
		if (!parts[i])
			return -1;
		n += strlen(parts[i]) + 1;
	}
	if (!(buf = malloc(n)))
		return -1;
	for (int i = 0; i < 4; i++) {
		size_t l = strlen(parts[i]) + 1;
		memcpy(buf + o, parts[i], l);
		o += l;
	}
	rc = farm_crypto_sha256(buf, n, key);
	farm_crypto_free_secret(buf, n);
	return rc == FARM_OK ? 0 : -1;
}

/* Copies the kept cookie of key into out; 1 when there is one. */
static int session_get(const unsigned char key[32], char *out, size_t cap)
{
	int found = 0;

	pthread_mutex_lock(&session_mu);
	for (size_t i = 0; i < SESSIONS_MAX; i++)
		if (sessions[i].live && farm_crypto_memeq(sessions[i].key, key, 32)) {
			snprintf(out, cap, "%s", sessions[i].cookie);
			sessions[i].used = ++session_clock;
			found = 1;
			break;
		}
	pthread_mutex_unlock(&session_mu);
	return found;
}

static void session_put(const unsigned char key[32], const char *cookie)
{
	struct session *s = NULL;

	pthread_mutex_lock(&session_mu);
	for (size_t i = 0; i < SESSIONS_MAX && !s; i++)
		if (sessions[i].live && farm_crypto_memeq(sessions[i].key, key, 32))
			s = &sessions[i];
	for (size_t i = 0; i < SESSIONS_MAX && !s; i++)
		if (!sessions[i].live)
			s = &sessions[i];
	if (!s) { /* full: the least recently used goes */
		s = &sessions[0];
		for (size_t i = 1; i < SESSIONS_MAX; i++)
			if (sessions[i].used < s->used)
				s = &sessions[i];
	}
	farm_crypto_wipe(s, sizeof(*s));
	memcpy(s->key, key, 32);
	snprintf(s->cookie, sizeof(s->cookie), "%s", cookie);
	s->used = ++session_clock;
	s->live = 1;
	pthread_mutex_unlock(&session_mu);
}

/* Drops key's session when it is still `cookie` (another thread may have renewed it). */
static void session_drop(const unsigned char key[32], const char *cookie)
{
	pthread_mutex_lock(&session_mu);
	for (size_t i = 0; i < SESSIONS_MAX; i++)
		if (sessions[i].live && farm_crypto_memeq(sessions[i].key, key, 32) &&
		    !strcmp(sessions[i].cookie, cookie))
			farm_crypto_wipe(&sessions[i], sizeof(sessions[i]));
	pthread_mutex_unlock(&session_mu);
}

/* ---- the exchange -------------------------------------------------------------------- */

/* The dashboard takes no header of its own: the session cookie is added per call. */
static int candor_auth(struct farm_provider_call *c, json_t *value, const char **hdr)
{
	(void)c;
	(void)value;
	(void)hdr;
	return 0;
}

/* Express answers errors as text ("No log could be found") or {"message"}. */
static void candor_message(const char *body, size_t len, json_t *json, char *out, size_t cap)
{
	const char *m = json_string_value(json_object_get(json, "message"));

	out[0] = '\0';
	if (m)
		snprintf(out, cap, "%s", m);
	else if (!json && body && len && body[0] != '<')
		snprintf(out, cap, "%.*s", (int)(len < cap ? len : cap - 1), body);
}

/* POST /login: a new session cookie into cookie.  FARM_OK, or c->err set. */
static int login(struct farm_provider_call *c, json_t *value, char *cookie, size_t cap)
{
	struct farm_provider_resp r;
	json_t *body;
	char *text;
	int rc, outcome;

	body = json_pack("{s:O,s:O}", "username", json_object_get(value, "username"), "password",
			 json_object_get(value, "password"));
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return farm_provider_nomem(c);
	rc = farm_provider_send(c, "POST", "/login", NULL, 0, "application/json", text,
				strlen(text), &r);
	farm_crypto_free_secret(text, strlen(text) + 1);
	if (rc != FARM_OK)
		return rc;
	outcome = r.outcome;
	if (outcome == FARM_PO_OK && !r.cookies[0])
		outcome = FARM_PO_GARBAGE; /* a login without a session */
	if (outcome != FARM_PO_OK) {
		rc = farm_provider_fail(c, outcome, &r, NULL);
		farm_provider_resp_clear(&r);
		return rc;
	}
	snprintf(cookie, cap, "%s", r.cookies);
	farm_provider_resp_clear(&r);
	return FARM_OK;
}

/* Removes the session cookie, whole and each pair's value, from a platform message
 * (an echoed Cookie header). */
static void redact_cookie(char *msg, size_t cap, const char *cookie)
{
	json_t *v = json_object();
	const char *p = cookie;
	char k[16];
	int i = 0;

	if (!v)
		return;
	json_object_set_new(v, "cookie", json_string(cookie));
	while (p && *p && i < 32) {
		const char *eq = strchr(p, '='), *end = strstr(p, "; ");
		if (!eq || (end && end < eq))
			break;
		snprintf(k, sizeof(k), "v%d", i++);
		json_object_set_new(v, k, json_stringn(eq + 1, end ? (size_t)(end - eq - 1)
								  : strlen(eq + 1)));
		p = end ? end + 2 : NULL;
	}
	farm_provider_redact(msg, cap, v);
	json_decref(v); /* Jansson's allocator wipes it (farm_json_init) */
}

/* One call with the credential's session (see the top of the file).  FARM_OK when r
 * holds an outcome; else c->err is set.  *fresh: the session was obtained for this
 * call (a 401/403 then means what it says). */
static int candor_send(struct farm_provider_call *c, const char *method, const char *path,
		       const char *ctype, const void *body, size_t len,
		       struct farm_provider_resp *r)
{
	unsigned char key[32];
	char cookie[COOKIE_MAX];
	const char *hdr[1];
	json_t *value;
	int fresh = 0, rc;

	memset(r, 0, sizeof(*r));
	if (!(value = farm_provider_value(c)))
		return FARM_E_CRYPTO;
	if (session_key(c, value, key))
		return farm_provider_nomem(c);
	for (int attempt = 0;; attempt++) {
		if (!session_get(key, cookie, sizeof(cookie))) {
			if ((rc = login(c, value, cookie, sizeof(cookie))) != FARM_OK)
				goto out;
			session_put(key, cookie);
			fresh = 1;
		}
		if (!(hdr[0] = farm_arena_printf(c->arena, "Cookie: %s", cookie))) {
			rc = farm_provider_nomem(c);
			goto out;
		}
		rc = farm_provider_send(c, method, path, hdr, 1, ctype, body, len, r);
		farm_crypto_wipe((char *)hdr[0], strlen(hdr[0]));
		if (rc != FARM_OK)
			goto out;
		if (r->status != 401 && r->status != 403) {
			redact_cookie(r->message, sizeof(r->message), cookie);
			break;
		}
		/* Refused with a session just obtained: the answer itself (a private
		 * pipeline), and the session stays.  Refused with a kept one: it may have
		 * expired (Candor answers 403), so it goes and the call is made again once. */
		if (fresh || attempt > 0) {
			redact_cookie(r->message, sizeof(r->message), cookie);
			break;
		}
		session_drop(key, cookie);
		farm_provider_resp_clear(r);
	}
	rc = FARM_OK;
out:
	farm_crypto_wipe(cookie, sizeof(cookie));
	farm_crypto_wipe(key, sizeof(key));
	return rc;
}

/* GET path as JSON through the session.  FARM_OK with *out new, or c->err set.
 * A 403 after a fresh login means the user may not see the object: 404. */
static int candor_get_json(struct farm_provider_call *c, const char *path, const char *what,
			   json_t **out)
{
	struct farm_provider_resp r;
	int rc, outcome;

	*out = NULL;
	if ((rc = candor_send(c, "GET", path, NULL, NULL, 0, &r)) != FARM_OK)
		return rc;
	outcome = r.outcome;
	if (outcome == FARM_PO_OK && !r.json)
		outcome = FARM_PO_GARBAGE;
	if (outcome == FARM_PO_REFUSED && r.status == 403 && what)
		outcome = FARM_PO_NOTFOUND; /* private, and the user is not assigned */
	if (outcome != FARM_PO_OK) {
		rc = farm_provider_fail(c, outcome, &r, what);
		farm_provider_resp_clear(&r);
		return rc;
	}
	if (r.status != 200)
		c->uncacheable = 1;
	*out = r.json;
	r.json = NULL;
	farm_provider_resp_clear(&r);
	return FARM_OK;
}

/* ---- operations ------------------------------------------------------------------------ */

static int rd_pipelines(struct farm_provider_call *c, const void *a, json_t **out)
{
	long limit = *(const long *)a;
	json_t *list = NULL;
	int rc;

	if ((rc = candor_get_json(c, "/api/pipelines", NULL, &list)) != FARM_OK)
		return rc;
	if (!json_is_array(list)) {
		json_decref(list);
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	}
	while (json_array_size(list) > (size_t)limit)
		json_array_remove(list, json_array_size(list) - 1);
	*out = list;
	return FARM_OK;
}

static char *pipeline_path(struct farm_provider_call *c, const char *id)
{
	return farm_arena_printf(c->arena, "/api/pipelines/%s", id);
}

static int rd_pipeline(struct farm_provider_call *c, const void *a, json_t **out)
{
	const char *id = a;
	char *path = pipeline_path(c, id), *what = farm_arena_printf(c->arena, "pipeline %s", id);
	json_t *p = NULL;
	int rc;

	if (!path || !what)
		return farm_provider_nomem(c);
	if ((rc = candor_get_json(c, path, what, &p)) != FARM_OK)
		return rc;
	if (!json_is_object(p)) {
		json_decref(p);
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	}
	/* The trigger token starts runs (the wiki's webhook URL): not for every reader. */
	json_object_del(p, "trigger");
	*out = p;
	return FARM_OK;
}

static const char *str_or_null(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int farm_candor_run_read(struct farm_provider_call *c, const char *pipeline_id,
			 const char *run_id, json_t **out)
{
	json_t *p = NULL, *runs, *run = NULL, *ev = NULL, *r;
	const char *word, *name;
	char *build_id;
	size_t i;
	int rc, nomem = 0;
	long long ms;

	*out = NULL;
	if (!farm_candor_pipeline_id_ok(pipeline_id) || !farm_candor_run_id_ok(run_id))
		return farm_provider_bad_input(c, "a Candor run is <pipelineId>#<runId>");
	if ((rc = rd_pipeline(c, pipeline_id, &p)) != FARM_OK)
		return rc;
	runs = json_object_get(p, "lastRuns");
	/* "last" while the pipeline runs: that run (Candor stores a run, and names it,
	 * only once it ended) */
	if (!strcmp(run_id, "last") && json_is_true(json_object_get(p, "running")))
		runs = NULL;
	json_array_foreach(runs, i, r)
	{
		const char *id = str_or_null(r, "id");
		if (!id)
			continue;
		if (!strcmp(run_id, "last") || !strcmp(id, run_id)) {
			run = r;
			break;
		}
	}
	if (!run && !(strcmp(run_id, "last") == 0 && json_is_true(json_object_get(p, "running")))) {
		json_decref(p);
		return farm_provider_fail(c, FARM_PO_NOTFOUND, NULL,
					  farm_arena_printf(c->arena, "run %s of pipeline %s",
							    run_id, pipeline_id));
	}
	name = str_or_null(p, "name");
	word = run ? str_or_null(run, "status") : NULL;
	ev = farm_event_new("candor");
	build_id = farm_arena_printf(c->arena, "%s#%s", pipeline_id,
				     run ? str_or_null(run, "id") : run_id);
	if (!ev || !build_id) {
		nomem = 1;
		goto done;
	}
	farm_event_set_str(ev, "project", pipeline_id, &nomem);
	farm_event_set_str(ev, "name", name, &nomem);
	farm_event_set_str(ev, "buildId", build_id, &nomem);
	farm_event_set(ev, "number", json_null(), &nomem);
	farm_event_set_str(ev, "status", word ? farm_event_status("candor", "run", word) : "running",
			   &nomem);
	farm_event_set_str(ev, "providerStatus", word ? word : "running", &nomem);
	if (run && farm_event_int(json_object_get(run, "start"), &ms) && ms > 0)
		farm_event_set_ts_ms(ev, "startedAt", ms, &nomem);
	else
		farm_event_set(ev, "startedAt", json_null(), &nomem);
	if (run && farm_event_int(json_object_get(run, "finish"), &ms) && ms > 0)
		farm_event_set_ts_ms(ev, "finishedAt", ms, &nomem);
	else
		farm_event_set(ev, "finishedAt", json_null(), &nomem);
	farm_event_set(ev, "stages",
		       json_incref(json_object_get(run, "stages") ? json_object_get(run, "stages")
								  : json_array()),
		       &nomem);
done:
	json_decref(p);
	if (nomem) {
		json_decref(ev);
		return farm_provider_nomem(c);
	}
	*out = ev;
	return FARM_OK;
}

static int trigger(struct farm_provider_call *c, const char *id, json_t *params, json_t **out)
{
	struct farm_provider_resp r;
	json_t *p = NULL;
	const char *tok;
	char *path = pipeline_path(c, id), *what = farm_arena_printf(c->arena, "pipeline %s", id);
	char *text = NULL;
	int rc, outcome;

	*out = NULL;
	if (!path || !what)
		return farm_provider_nomem(c);
	if ((rc = candor_get_json(c, path, what, &p)) != FARM_OK)
		return rc;
	tok = json_string_value(json_object_get(p, "trigger"));
	if (tok && !strcmp(tok, "hidden")) {
		/* only users assigned to the pipeline see its token and may trigger it */
		json_decref(p);
		farm_provider_fail(c, FARM_PO_REFUSED, NULL, NULL);
		snprintf(c->err.msg, sizeof(c->err.msg),
			 "Candor: the credential's user is not assigned to pipeline %s, so it "
			 "cannot trigger it", id);
		return FARM_E_UPSTREAM;
	}
	if (!tok || !*tok || strlen(tok) > TOKEN_MAX ||
	    strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~") !=
		    strlen(tok)) {
		json_decref(p);
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	}
	path = farm_arena_printf(c->arena, "/trigger/%s", tok);
	json_decref(p);
	text = json_dumps(params ? params : json_object(), JSON_COMPACT);
	if (!path || !text) {
		free(text);
		return farm_provider_nomem(c);
	}
	rc = candor_send(c, "POST", path, "application/json", text, strlen(text), &r);
	free(text);
	farm_crypto_wipe(path, strlen(path));
	if (rc != FARM_OK)
		return rc;
	outcome = r.outcome;
	if (r.status == 200) {
		farm_provider_resp_clear(&r);
		*out = json_pack("{s:b}", "started", 1);
		return *out ? FARM_OK : farm_provider_nomem(c);
	}
	if (r.status == 204 || r.status == 400) {
		long st = r.status;
		farm_provider_resp_clear(&r);
		farm_provider_fail(c, FARM_PO_CONFLICT, NULL, NULL);
		snprintf(c->err.msg, sizeof(c->err.msg),
			 st == 204 ? "Candor did not start pipeline %s: the pipeline's constraints "
				     "were not met (HTTP 204)"
				   : "Candor did not start pipeline %s: it is already running "
				     "(HTTP 400)",
			 id);
		return FARM_E_UPSTREAM;
	}
	if (outcome == FARM_PO_OK)
		outcome = FARM_PO_GARBAGE; /* another 2xx: not documented */
	rc = farm_provider_fail(c, outcome, &r, what);
	farm_provider_resp_clear(&r);
	return rc;
}

static int run_log(struct farm_provider_call *c, const char *id, const char *run,
		   struct farm_platform_out *o)
{
	struct farm_provider_resp r;
	char *path = farm_arena_printf(c->arena, "/api/runs/%s/%s/log", id, run);
	char *what = farm_arena_printf(c->arena, "log of run %s of pipeline %s", run, id);
	int rc, outcome;

	if (!path || !what)
		return farm_provider_nomem(c);
	if ((rc = candor_send(c, "GET", path, NULL, NULL, 0, &r)) != FARM_OK)
		return rc;
	outcome = r.outcome;
	if (outcome == FARM_PO_REFUSED && r.status == 403)
		outcome = FARM_PO_NOTFOUND;
	if (outcome == FARM_PO_OK && r.status != 200)
		outcome = FARM_PO_GARBAGE;
	if (outcome != FARM_PO_OK) {
		rc = farm_provider_fail(c, outcome, &r, what);
		farm_provider_resp_clear(&r);
		return rc;
	}
	o->text = malloc(r.len + 1);
	if (!o->text) {
		farm_provider_resp_clear(&r);
		return farm_provider_nomem(c);
	}
	memcpy(o->text, r.body ? r.body : "", r.len);
	o->text[r.len] = '\0';
	o->len = r.len;
	o->ctype = "text/plain; charset=utf-8";
	farm_provider_resp_clear(&r);
	return FARM_OK;
}

/* ---- runs (platforms.md §5: runId = pipelineId#runId) ----------------------------------- */

/* Splits "pid#rid" into the arena; 0, or nonzero with why. */
static int split_run(struct farm_arena *a, const char *run_id, char **pid, char **rid,
		     char *why, size_t cap)
{
	const char *h = run_id ? strchr(run_id, '#') : NULL;

	*pid = *rid = NULL;
	if (!h || !farm_candor_run_id_ok(h + 1) || (size_t)(h - run_id) > FARM_CANDOR_ID_MAX) {
		snprintf(why, cap, "a Candor runId is <pipelineId>#<runId>");
		return 1;
	}
	if (a && (!(*pid = farm_arena_strndup(a, run_id, (size_t)(h - run_id))) ||
		  !(*rid = farm_arena_strdup(a, h + 1)))) {
		snprintf(why, cap, "out of memory");
		return 1;
	}
	if (!a) {
		char buf[FARM_CANDOR_ID_MAX + 1];
		memcpy(buf, run_id, (size_t)(h - run_id));
		buf[h - run_id] = '\0';
		if (!farm_candor_pipeline_id_ok(buf)) {
			snprintf(why, cap, "a Candor runId is <pipelineId>#<runId>");
			return 1;
		}
		return 0;
	}
	if (!farm_candor_pipeline_id_ok(*pid)) {
		snprintf(why, cap, "a Candor runId is <pipelineId>#<runId>");
		return 1;
	}
	return 0;
}

int farm_candor_runs_parse(const char *run_id, char *why, size_t cap)
{
	char *pid, *rid;

	return split_run(NULL, run_id, &pid, &rid, why, cap);
}

int farm_candor_runs_get(struct farm_provider_call *c, const char *run_id, json_t **run)
{
	char why[128], *pid, *rid;

	*run = NULL;
	if (split_run(c->arena, run_id, &pid, &rid, why, sizeof(why)))
		return farm_provider_bad_input(c, "%s", why);
	return farm_candor_run_read(c, pid, rid, run);
}

int farm_candor_runs_rerun(struct farm_provider_call *c, const char *run_id, json_t **run)
{
	char why[128], *pid, *rid;
	json_t *started = NULL;
	int rc, nomem = 0;

	*run = NULL;
	if (split_run(c->arena, run_id, &pid, &rid, why, sizeof(why)))
		return farm_provider_bad_input(c, "%s", why);
	/* Candor restarts nothing: the pipeline is triggered again (providers.md §9.1),
	 * and it names no run id until the run ended. */
	if ((rc = trigger(c, pid, NULL, &started)) != FARM_OK)
		return rc;
	json_decref(started);
	if (!(*run = farm_event_new("candor")))
		return farm_provider_nomem(c);
	farm_event_set_str(*run, "project", pid, &nomem);
	farm_event_set(*run, "buildId", json_null(), &nomem);
	farm_event_set_str(*run, "status", "running", &nomem);
	farm_event_set_str(*run, "providerStatus", "running", &nomem);
	if (nomem) {
		json_decref(*run);
		*run = NULL;
		return farm_provider_nomem(c);
	}
	return FARM_OK;
}

int farm_candor_runs_log(struct farm_provider_call *c, const char *run_id, size_t cap,
			 char **text, size_t *len, int *truncated)
{
	struct farm_platform_out o = {0};
	char why[128], *pid, *rid;
	int rc;

	*text = NULL;
	*len = 0;
	*truncated = 0;
	if (split_run(c->arena, run_id, &pid, &rid, why, sizeof(why)))
		return farm_provider_bad_input(c, "%s", why);
	if ((rc = run_log(c, pid, rid, &o)) != FARM_OK)
		return rc;
	if (o.len > cap) {
		o.len = cap;
		o.text[cap] = '\0';
		*truncated = 1;
	}
	*text = o.text;
	*len = o.len;
	return FARM_OK;
}

/* ---- the module ------------------------------------------------------------------------ */

static int check_list(const struct farm_platform_in *in, char *why, size_t cap)
{
	long limit;

	return farm_platform_number(in, "limit", 20, 1, 100, &limit, why, cap);
}

static int op_pipelines(struct farm_provider_call *c, const struct farm_platform_in *in,
			struct farm_platform_out *o)
{
	char why[8];
	long limit;

	farm_platform_number(in, "limit", 20, 1, 100, &limit, why, sizeof(why));
	return farm_platform_read(c, farm_arena_printf(c->arena, "candor.pipelines %ld", limit),
				  rd_pipelines, &limit, o);
}

static int check_id(const struct farm_platform_in *in, char *why, size_t cap)
{
	if (!farm_candor_pipeline_id_ok(in->params[0])) {
		snprintf(why, cap, "pipeline id must be a positive whole number");
		return 1;
	}
	return 0;
}

static int op_pipeline(struct farm_provider_call *c, const struct farm_platform_in *in,
		       struct farm_platform_out *o)
{
	return farm_platform_read(c, farm_arena_printf(c->arena, "candor.pipeline %s",
						       in->params[0]),
				  rd_pipeline, in->params[0], o);
}

static int op_trigger(struct farm_provider_call *c, const struct farm_platform_in *in,
		      struct farm_platform_out *o)
{
	int rc = trigger(c, in->params[0], in->body, &o->json);

	o->status = 202;
	if (rc == FARM_OK)
		o->log = farm_arena_printf(c->arena, "candor: pipeline %s triggered", in->params[0]);
	return rc;
}

static int check_log(const struct farm_platform_in *in, char *why, size_t cap)
{
	if (check_id(in, why, cap))
		return 1;
	if (!farm_candor_run_id_ok(in->params[1])) {
		snprintf(why, cap, "runId must be 'last' or 1 to %d of A-Z a-z 0-9 _ -",
			 FARM_CANDOR_RUN_ID_MAX);
		return 1;
	}
	return 0;
}

static int op_log(struct farm_provider_call *c, const struct farm_platform_in *in,
		  struct farm_platform_out *o)
{
	return run_log(c, in->params[0], in->params[1], o);
}

static const struct farm_cred_field candor_fields[] = {
	{"url", FARM_CRED_REQUIRED | FARM_CRED_URL},
	{"username", FARM_CRED_REQUIRED},
	{"password", FARM_CRED_REQUIRED | FARM_CRED_SECRET},
	{"webhookSecret", FARM_CRED_SECRET},
	{"runnerUrl", FARM_CRED_URL},
	{"runnerToken", FARM_CRED_SECRET},
	{NULL, 0},
};

static const struct farm_platform_route candor_routes[] = {
	{"GET", "/pipelines", FARM_PLATFORM_AUTH | FARM_PLATFORM_LIST, check_list, op_pipelines},
	{"GET", "/pipelines/:id", FARM_PLATFORM_AUTH, check_id, op_pipeline},
	{"POST", "/pipelines/:id/trigger",
	 FARM_PLATFORM_ADMIN | FARM_PLATFORM_JSON | FARM_PLATFORM_TRIGGER, check_id, op_trigger},
	{"GET", "/pipelines/:id/runs/:runId/log", FARM_PLATFORM_AUTH, check_log, op_log},
	{NULL, NULL, 0, NULL, NULL},
};

static const struct farm_platform_status candor_statuses[] = {
	{"run", "Passed", "success"},
	{"run", "Failed", "failed"},
	{"run", "Error", "error"},
	{"run", "running", "running"},
	{"stage", "Passed", "success"},
	{"stage", "Success", "success"},
	{"stage", "Failed", "failed"},
	{"stage", "Error", "error"},
	{"stage", "Skipped", "unknown"},
	{NULL, NULL, NULL},
};

/* No cancel: Candor cannot stop a run. */
static const struct farm_platform_runs candor_runs = {
	.parse = farm_candor_runs_parse,
	.get = farm_candor_runs_get,
	.rerun = farm_candor_runs_rerun,
	.log = farm_candor_runs_log,
};

const struct farm_platform farm_platform_candor = {
	.up = {
		.type = "candor",
		.title = "Candor",
		.api_root = "",
		.url_required = 1,
		.auth = candor_auth,
		.message = candor_message,
	},
	.fields = candor_fields,
	.routes = candor_routes,
	.statuses = candor_statuses,
	.run_id = "pipelineId#runId",
	.runs = &candor_runs,
};
