/* event.c - webhook bodies → the normalised `ci.build.updated` data, status table,
 * timestamps.  The field mapping for each provider is documented in event.h. */
#include "event.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "json.h"
#include "banned.h"

/* Longest dedupe key produced; longer provider ids are refused as malformed. */
#define DEDUPE_KEY_MAX 512

/* ---- status normalisation (providers.md §9.2) ----------------------------------- */

struct status_row {
	const char *provider;
	const char *kind;
	const char *word; /* a leading '*' matches any prefix: "*_anime" */
	const char *status;
};

static const struct status_row status_table[] = {
    /* Argo CD operationState.phase; no operation → use health. */
    {"argocd", "phase", "Running", "running"},
    {"argocd", "phase", "Terminating", "running"},
    {"argocd", "phase", "Succeeded", "success"},
    {"argocd", "phase", "Failed", "failed"},
    {"argocd", "phase", "Error", "error"},
    /* Argo CD health.status; Suspended/Missing are "not healthy, not failed". */
    {"argocd", "health", "Progressing", "running"},
    {"argocd", "health", "Healthy", "success"},
    {"argocd", "health", "Degraded", "failed"},
    {"argocd", "health", "Suspended", "unstable"},
    {"argocd", "health", "Missing", "unstable"},
    {"argocd", "health", "Unknown", "unknown"},
    /* Argo CD sync.status (secondary). */
    {"argocd", "sync", "Synced", "success"},
    {"argocd", "sync", "OutOfSync", "unstable"},
    {"argocd", "sync", "Unknown", "unknown"},

    /* CircleCI workflow status; on_hold waits for an approval → queued. */
    {"circleci", "workflow", "on_hold", "queued"},
    {"circleci", "workflow", "running", "running"},
    {"circleci", "workflow", "failing", "running"},
    {"circleci", "workflow", "success", "success"},
    {"circleci", "workflow", "failed", "failed"},
    {"circleci", "workflow", "canceled", "canceled"},
    {"circleci", "workflow", "error", "error"},
    {"circleci", "workflow", "unauthorized", "error"},
    {"circleci", "workflow", "not_run", "unknown"},
    /* CircleCI pipeline state (before any workflow exists). */
    {"circleci", "pipeline", "created", "queued"},
    {"circleci", "pipeline", "pending", "queued"},
    {"circleci", "pipeline", "setup-pending", "queued"},
    {"circleci", "pipeline", "setup", "queued"},
    {"circleci", "pipeline", "errored", "error"},
    /* CircleCI job status. */
    {"circleci", "job", "queued", "queued"},
    {"circleci", "job", "not_running", "queued"},
    {"circleci", "job", "blocked", "queued"},
    {"circleci", "job", "on_hold", "queued"},
    {"circleci", "job", "running", "running"},
    {"circleci", "job", "success", "success"},
    {"circleci", "job", "failed", "failed"},
    {"circleci", "job", "timedout", "failed"},
    {"circleci", "job", "canceled", "canceled"},
    {"circleci", "job", "terminated-unknown", "canceled"},
    {"circleci", "job", "infrastructure_fail", "error"},
    {"circleci", "job", "unauthorized", "error"},
    {"circleci", "job", "not_run", "unknown"},
    {"circleci", "job", "retried", "unknown"},

    /* Jenkins build result (building:true / result:null is "running": caller's call). */
    {"jenkins", "result", "SUCCESS", "success"},
    {"jenkins", "result", "FAILURE", "failed"},
    {"jenkins", "result", "ABORTED", "canceled"},
    {"jenkins", "result", "UNSTABLE", "unstable"},
    {"jenkins", "result", "NOT_BUILT", "unknown"},
    /* Jenkins job color. */
    {"jenkins", "color", "*_anime", "running"},
    {"jenkins", "color", "blue", "success"},
    {"jenkins", "color", "red", "failed"},
    {"jenkins", "color", "aborted", "canceled"},
    {"jenkins", "color", "yellow", "unstable"},
    {"jenkins", "color", "notbuilt", "unknown"},
    {"jenkins", "color", "grey", "unknown"},
    {"jenkins", "color", "disabled", "unknown"},
    /* Jenkins Notification plugin: phase, or status once the result is known. */
    {"jenkins", "notification", "QUEUED", "queued"},
    {"jenkins", "notification", "STARTED", "running"},
    {"jenkins", "notification", "SUCCESS", "success"},
    {"jenkins", "notification", "FAILURE", "failed"},
    {"jenkins", "notification", "ABORTED", "canceled"},
    {"jenkins", "notification", "UNSTABLE", "unstable"},
    {"jenkins", "notification", "NOT_BUILT", "unknown"},

    /* Travis CI v3 build state (queued is a job-level state). */
    {"travisci", "build", "created", "queued"},
    {"travisci", "build", "received", "queued"},
    {"travisci", "build", "queued", "queued"},
    {"travisci", "build", "started", "running"},
    {"travisci", "build", "passed", "success"},
    {"travisci", "build", "failed", "failed"},
    {"travisci", "build", "canceled", "canceled"},
    {"travisci", "build", "errored", "error"},
    /* Travis CI webhook status_message (plus state "started"). */
    {"travisci", "webhook", "Pending", "queued"},
    {"travisci", "webhook", "started", "running"},
    {"travisci", "webhook", "Passed", "success"},
    {"travisci", "webhook", "Fixed", "success"},
    {"travisci", "webhook", "Failed", "failed"},
    {"travisci", "webhook", "Broken", "failed"},
    {"travisci", "webhook", "Still Failing", "failed"},
    {"travisci", "webhook", "Canceled", "canceled"},
    {"travisci", "webhook", "Errored", "error"},

    /* Codefresh build status; pending-approval waits for a human → queued. */
    {"codefresh", "build", "pending", "queued"},
    {"codefresh", "build", "elected", "queued"},
    {"codefresh", "build", "delayed", "queued"},
    {"codefresh", "build", "pending-approval", "queued"},
    {"codefresh", "build", "running", "running"},
    {"codefresh", "build", "terminating", "running"},
    {"codefresh", "build", "success", "success"},
    {"codefresh", "build", "terminated", "canceled"},
    {"codefresh", "build", "error", "error"},

    /* Semaphore pipeline state / result (failed + an infrastructure result_reason is
     * "error": that needs two fields, so the caller decides it). */
    {"semaphore", "pipeline", "initializing", "queued"},
    {"semaphore", "pipeline", "pending", "queued"},
    {"semaphore", "pipeline", "queuing", "queued"},
    {"semaphore", "pipeline", "running", "running"},
    {"semaphore", "pipeline", "stopping", "running"},
    {"semaphore", "pipeline", "passed", "success"},
    {"semaphore", "pipeline", "failed", "failed"},
    {"semaphore", "pipeline", "stopped", "canceled"},
    {"semaphore", "pipeline", "canceled", "canceled"},

    /* GitFlic pipeline status; MANUAL waits for an action → queued. */
    {"gitflic", "pipeline", "CREATED", "queued"},
    {"gitflic", "pipeline", "PENDING", "queued"},
    {"gitflic", "pipeline", "WAITING_FOR_RESOURCE", "queued"},
    {"gitflic", "pipeline", "SCHEDULED", "queued"},
    {"gitflic", "pipeline", "PREPARING", "queued"},
    {"gitflic", "pipeline", "MANUAL", "queued"},
    {"gitflic", "pipeline", "RUNNING", "running"},
    {"gitflic", "pipeline", "SUCCESS", "success"},
    {"gitflic", "pipeline", "FAILED", "failed"},
    {"gitflic", "pipeline", "CANCELED", "canceled"},
    {"gitflic", "pipeline", "WARNING", "unstable"},
    {"gitflic", "pipeline", "SKIPPED", "unknown"},

    /* Candor run ("running" stands for the dashboard's running:true). */
    {"candor", "run", "running", "running"},
    {"candor", "run", "Passed", "success"},
    {"candor", "run", "Failed", "failed"},
    {"candor", "run", "Error", "error"},
};

static int word_matches(const char *pattern, const char *word)
{
	size_t plen, wlen;

	if (pattern[0] != '*')
		return strcasecmp(pattern, word) == 0;
	plen = strlen(pattern + 1);
	wlen = strlen(word);
	return wlen > plen && strcasecmp(word + wlen - plen, pattern + 1) == 0;
}

const char *farm_event_status(const char *provider, const char *kind, const char *word)
{
	size_t i;

	if (!provider || !kind || !word)
		return "unknown";
	for (i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++) {
		const struct status_row *r = &status_table[i];

		if (strcasecmp(r->provider, provider) == 0 && strcasecmp(r->kind, kind) == 0 &&
		    word_matches(r->word, word))
			return r->status;
	}
	return "unknown";
}

/* ---- timestamps ----------------------------------------------------------------- */

/* Formatting is farm_clock_iso's (clock.c); parsing is here. */
#define EPOCH_MS_MAX FARM_CLOCK_ISO_MS_MAX

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

/* Reads exactly n decimal digits at s[*i]. */
static int digits(const char *s, size_t len, size_t *i, size_t n, unsigned *v)
{
	size_t k;

	if (len - *i < n)
		return 0;
	*v = 0;
	for (k = 0; k < n; k++) {
		char c = s[*i + k];

		if (c < '0' || c > '9')
			return 0;
		*v = *v * 10 + (unsigned)(c - '0');
	}
	*i += n;
	return 1;
}

static int expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || s[*i] != c)
		return 0;
	(*i)++;
	return 1;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

int farm_event_iso8601_parse(const char *s, size_t len, long long *epoch_ms)
{
	unsigned y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0;
	long long offset_min = 0, t;
	size_t i = 0;

	if (!s || !epoch_ms)
		return FARM_E_INVAL;
	if (!digits(s, len, &i, 4, &y) || !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &mo) ||
	    !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &d))
		return FARM_E_INVAL;
	if (i >= len || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
		return FARM_E_INVAL;
	i++;
	if (!digits(s, len, &i, 2, &h) || !expect(s, len, &i, ':') || !digits(s, len, &i, 2, &mi) ||
	    !expect(s, len, &i, ':') || !digits(s, len, &i, 2, &sec))
		return FARM_E_INVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
		return FARM_E_INVAL;

	if (i < len && s[i] == '.') {
		unsigned scale = 100, nd = 0;

		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			ms += (unsigned)(s[i] - '0') * scale;
			scale /= 10;
			i++;
			nd++;
		}
		if (nd == 0)
			return FARM_E_INVAL;
	}

	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1;

		i++;
		if (!digits(s, len, &i, 2, &oh))
			return FARM_E_INVAL;
		if (i < len) {
			expect(s, len, &i, ':');
			if (!digits(s, len, &i, 2, &om))
				return FARM_E_INVAL;
		}
		if (oh > 23 || om > 59)
			return FARM_E_INVAL;
		offset_min = sign * (long long)(oh * 60 + om);
	}
	if (i != len)
		return FARM_E_INVAL;

	t = days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + sec;
	t -= offset_min * 60;
	*epoch_ms = t * 1000 + ms;
	return FARM_OK;
}

int farm_event_iso8601_norm(const char *s, size_t len, char out[FARM_EVENT_TS_LEN])
{
	long long ms;
	int rc;

	if (!out)
		return FARM_E_INVAL;
	out[0] = '\0';
	rc = farm_event_iso8601_parse(s, len, &ms);
	if (rc != FARM_OK)
		return rc;
	return farm_clock_iso(ms, out);
}

/* ---- building the event --------------------------------------------------------- */

/* The members of `data`, in the order of the contract. */
static const char *const event_fields[] = {
    "provider",	      "project", "name",      "buildId", "number",    "status",
    "providerStatus", "branch",	 "commitSha", "url",	 "startedAt", "finishedAt",
};

static json_t *event_new(const char *provider)
{
	json_t *o = json_object();
	size_t i;

	if (!o)
		return NULL;
	for (i = 0; i < sizeof(event_fields) / sizeof(event_fields[0]); i++) {
		if (json_object_set_new(o, event_fields[i], json_null()) != 0)
			goto fail;
	}
	if (json_object_set_new(o, "provider", json_string(provider)) != 0 ||
	    json_object_set_new(o, "status", json_string("unknown")) != 0)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* The string of v when it is a non-empty JSON string, else NULL. */
static const char *str_of(json_t *v)
{
	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	return json_string_value(v);
}

/* An integer from a JSON integer or a string of 1-18 decimal digits. */
static int int_of(json_t *v, long long *out)
{
	const char *s;
	size_t n, i;
	long long x = 0;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 1;
	}
	s = str_of(v);
	if (!s)
		return 0;
	n = json_string_length(v);
	if (n > 18)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		x = x * 10 + (s[i] - '0');
	}
	*out = x;
	return 1;
}

/* A deferred-error setter: the first allocation failure sticks in *nomem. */
static void set(json_t *o, const char *key, json_t *v, int *nomem)
{
	if (json_object_set_new(o, key, v) != 0)
		*nomem = 1;
}

/* Sets key to the string s, or leaves it null when s is NULL. */
static void set_str(json_t *o, const char *key, const char *s, int *nomem)
{
	if (s)
		set(o, key, json_string(s), nomem);
}

/* Sets key to the normalised timestamp in v; leaves it null when v is not one. */
static void set_ts(json_t *o, const char *key, json_t *v, int *nomem)
{
	char ts[FARM_EVENT_TS_LEN];

	if (!json_is_string(v) ||
	    farm_event_iso8601_norm(json_string_value(v), json_string_length(v), ts) != FARM_OK)
		return;
	set(o, key, json_string(ts), nomem);
}

static void set_ts_ms(json_t *o, const char *key, long long ms, int *nomem)
{
	char ts[FARM_EVENT_TS_LEN];

	if (farm_clock_iso(ms, ts) == FARM_OK)
		set(o, key, json_string(ts), nomem);
}

/* Formats a new string (malloc), or NULL when out of memory or over DEDUPE_KEY_MAX. */
static char *key_fmt(int *too_long, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *key_fmt(int *too_long, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	*too_long = 0;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	if (n > DEDUPE_KEY_MAX) {
		*too_long = 1;
		return NULL;
	}
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* Parses a body that must be a JSON object of at most FARM_EVENT_BODY_MAX bytes. */
static int load_object(const char *provider, const void *body, size_t len, json_t **root,
		       struct farm_error *err)
{
	json_error_t jerr;

	*root = NULL;
	if (!body && len)
		return farm_error_set(err, FARM_E_INVAL, "%s payload: no body", provider);
	if (len > FARM_EVENT_BODY_MAX)
		return farm_error_set(err, FARM_E_TOOBIG, "%s payload is larger than %d bytes",
				      provider, FARM_EVENT_BODY_MAX);
	*root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!*root)
		return farm_error_set(err, FARM_E_INVAL,
				      "%s payload: malformed JSON at line %d, column %d "
				      "(byte %d): %s",
				      provider, jerr.line, jerr.column, jerr.position,
				      farm_json_error_reason(&jerr));
	if (!json_is_object(*root)) {
		json_decref(*root);
		*root = NULL;
		return farm_error_set(err, FARM_E_INVAL, "%s payload is not a JSON object",
				      provider);
	}
	return FARM_OK;
}

/* Hands data and key to the caller, or frees them and reports why. */
static int finish(json_t *data, char *key, int nomem, int too_long, json_t **out_data,
		  char **out_key, const char *provider, struct farm_error *err)
{
	if (data && key && !nomem) {
		*out_data = data;
		*out_key = key;
		return FARM_OK;
	}
	json_decref(data);
	free(key);
	if (too_long)
		return farm_error_set(err, FARM_E_INVAL, "%s payload: delivery id too long",
				      provider);
	return farm_error_set(err, FARM_E_NOMEM, "%s payload: out of memory", provider);
}

static int out_init(json_t **data, char **dedupe_key, struct farm_error *err)
{
	if (data)
		*data = NULL;
	if (dedupe_key)
		*dedupe_key = NULL;
	if (!data || !dedupe_key)
		return farm_error_set(err, FARM_E_INVAL, "no output pointer");
	return FARM_OK;
}

/* ---- CircleCI ------------------------------------------------------------------- */

int farm_event_from_circleci(const void *body, size_t len, json_t **data, char **dedupe_key,
			     struct farm_error *err)
{
	json_t *root = NULL, *ev = NULL, *wf, *job, *pipe, *vcs, *git, *unit;
	const char *type, *id, *word, *branch, *sha;
	char *key = NULL;
	long long num;
	int rc, is_job, nomem = 0, too_long = 0;

	rc = out_init(data, dedupe_key, err);
	if (rc != FARM_OK)
		return rc;
	rc = load_object("CircleCI", body, len, &root, err);
	if (rc != FARM_OK)
		return rc;

	type = str_of(json_object_get(root, "type"));
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
	id = str_of(json_object_get(root, "id"));
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

	ev = event_new("circleci");
	if (!ev) {
		nomem = 1;
		goto done;
	}
	set_str(ev, "project", str_of(json_object_get(json_object_get(root, "project"), "slug")),
		&nomem);
	set_str(ev, "name", str_of(json_object_get(unit, "name")), &nomem);
	set_str(ev, "buildId", str_of(json_object_get(unit, "id")), &nomem);
	if (int_of(json_object_get(is_job ? job : pipe, "number"), &num))
		set(ev, "number", json_integer(num), &nomem);
	word = str_of(json_object_get(unit, "status"));
	set_str(ev, "status", farm_event_status("circleci", is_job ? "job" : "workflow", word),
		&nomem);
	set_str(ev, "providerStatus", word, &nomem);

	vcs = json_object_get(pipe, "vcs");
	git = json_object_get(json_object_get(pipe, "trigger_parameters"), "git");
	branch = str_of(json_object_get(vcs, "branch"));
	if (!branch)
		branch = str_of(json_object_get(git, "branch"));
	sha = str_of(json_object_get(vcs, "revision"));
	if (!sha)
		sha = str_of(json_object_get(git, "checkout_sha"));
	set_str(ev, "branch", branch, &nomem);
	set_str(ev, "commitSha", sha, &nomem);
	set_str(ev, "url", str_of(json_object_get(wf, "url")), &nomem);
	set_ts(ev, "startedAt", json_object_get(unit, is_job ? "started_at" : "created_at"),
	       &nomem);
	set_ts(ev, "finishedAt", json_object_get(unit, "stopped_at"), &nomem);

	key = key_fmt(&too_long, "circleci:%s", id);
done:
	rc = finish(ev, key, nomem, too_long, data, dedupe_key, "CircleCI", err);
out:
	json_decref(root);
	return rc;
}

/* ---- Jenkins -------------------------------------------------------------------- */

static int hexdigit(char h)
{
	if (h >= '0' && h <= '9')
		return h - '0';
	if (h >= 'a' && h <= 'f')
		return h - 'a' + 10;
	if (h >= 'A' && h <= 'F')
		return h - 'A' + 10;
	return -1;
}

/* The full job name from a Notification-plugin job url: "job/a/job/b%20c/" → "a/b c".
 * *out is new (malloc).  FARM_E_INVAL when the url does not have that shape. */
static int jenkins_full_name(const char *url, char **out)
{
	size_t n = strlen(url), i = 0, o = 0;
	char *name;

	*out = NULL;
	name = malloc(n + 1);
	if (!name)
		return FARM_E_NOMEM;
	while (i < n) {
		if (n - i < 4 || memcmp(url + i, "job/", 4) != 0)
			goto bad;
		i += 4;
		if (i >= n || url[i] == '/')
			goto bad;
		if (o > 0)
			name[o++] = '/';
		while (i < n && url[i] != '/') {
			char c = url[i];

			if (c == '%') {
				int hi = i + 2 < n ? hexdigit(url[i + 1]) : -1;
				int lo = i + 2 < n ? hexdigit(url[i + 2]) : -1;

				if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
					goto bad;
				c = (char)(hi * 16 + lo);
				i += 2;
			}
			name[o++] = c;
			i++;
		}
		if (i < n)
			i++; /* the '/' after the segment */
	}
	if (o == 0)
		goto bad;
	name[o] = '\0';
	*out = name;
	return FARM_OK;
bad:
	free(name);
	return FARM_E_INVAL;
}

static const char *strip_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 && s[n] ? s + n : s;
}

int farm_event_from_jenkins(const void *body, size_t len, json_t **data, char **dedupe_key,
			    struct farm_error *err)
{
	json_t *root = NULL, *ev = NULL, *build, *scm;
	const char *name, *phase, *status, *url, *branch, *project;
	char *full = NULL, *key = NULL, *build_id = NULL;
	long long number, ts, dur;
	int rc, nomem = 0, too_long = 0, done_phase;

	rc = out_init(data, dedupe_key, err);
	if (rc != FARM_OK)
		return rc;
	rc = load_object("Jenkins", body, len, &root, err);
	if (rc != FARM_OK)
		return rc;

	name = str_of(json_object_get(root, "name"));
	build = json_object_get(root, "build");
	if (!name || !json_is_object(build)) {
		rc = farm_error_set(err, FARM_E_INVAL,
				    "Jenkins payload needs \"name\" and a \"build\" object "
				    "(Notification plugin JSON format)");
		goto out;
	}
	if (!int_of(json_object_get(build, "number"), &number)) {
		rc = farm_error_set(err, FARM_E_INVAL, "Jenkins payload has no build \"number\"");
		goto out;
	}
	phase = str_of(json_object_get(build, "phase"));
	if (!phase) {
		rc = farm_error_set(err, FARM_E_INVAL, "Jenkins payload has no build \"phase\"");
		goto out;
	}

	/* Inside folders `name` is the short name; the job url spells the full one. */
	url = str_of(json_object_get(root, "url"));
	if (url && jenkins_full_name(url, &full) == FARM_E_NOMEM) {
		nomem = 1;
		goto done;
	}
	project = full ? full : name;

	ev = event_new("jenkins");
	if (!ev) {
		nomem = 1;
		goto done;
	}
	set_str(ev, "project", project, &nomem);
	set_str(ev, "name", name, &nomem);
	build_id = key_fmt(&too_long, "%s#%lld", project, number);
	if (!build_id) {
		nomem = !too_long;
		goto done;
	}
	set_str(ev, "buildId", build_id, &nomem);
	set(ev, "number", json_integer(number), &nomem);

	status = str_of(json_object_get(build, "status"));
	set_str(ev, "status", farm_event_status("jenkins", "notification", status ? status : phase),
		&nomem);
	set_str(ev, "providerStatus", status ? status : phase, &nomem);

	scm = json_object_get(build, "scm");
	branch = str_of(json_object_get(scm, "branch"));
	if (branch)
		branch = strip_prefix(strip_prefix(branch, "refs/heads/"), "origin/");
	set_str(ev, "branch", branch, &nomem);
	set_str(ev, "commitSha", str_of(json_object_get(scm, "commit")), &nomem);
	set_str(ev, "url", str_of(json_object_get(build, "full_url")), &nomem);

	done_phase = strcasecmp(phase, "COMPLETED") == 0 || strcasecmp(phase, "FINALIZED") == 0;
	if (int_of(json_object_get(build, "timestamp"), &ts) && ts > 0) {
		set_ts_ms(ev, "startedAt", ts, &nomem);
		if (done_phase && int_of(json_object_get(build, "duration"), &dur) && dur > 0 &&
		    dur <= EPOCH_MS_MAX - ts)
			set_ts_ms(ev, "finishedAt", ts + dur, &nomem);
	}

	key = key_fmt(&too_long, "jenkins:%s:%lld:%s", project, number, phase);
done:
	rc = finish(ev, key, nomem, too_long, data, dedupe_key, "Jenkins", err);
out:
	free(build_id);
	free(full);
	json_decref(root);
	return rc;
}

/* ---- Travis CI ------------------------------------------------------------------ */

int farm_event_from_travis(const void *payload, size_t len, json_t **data, char **dedupe_key,
			   struct farm_error *err)
{
	json_t *root = NULL, *ev = NULL, *repo;
	const char *state, *msg, *owner, *rname, *pstatus = NULL, *status = "unknown";
	char *key = NULL, *project = NULL, idbuf[24];
	long long id, num;
	int rc, nomem = 0, too_long = 0;

	rc = out_init(data, dedupe_key, err);
	if (rc != FARM_OK)
		return rc;
	rc = load_object("Travis CI", payload, len, &root, err);
	if (rc != FARM_OK)
		return rc;

	if (!int_of(json_object_get(root, "id"), &id) || id < 0) {
		rc = farm_error_set(err, FARM_E_INVAL, "Travis CI payload has no build \"id\"");
		goto out;
	}
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	state = str_of(json_object_get(root, "state"));
	msg = str_of(json_object_get(root, "status_message"));

	ev = event_new("travisci");
	if (!ev) {
		nomem = 1;
		goto done;
	}
	repo = json_object_get(root, "repository");
	owner = str_of(json_object_get(repo, "owner_name"));
	rname = str_of(json_object_get(repo, "name"));
	if (owner && rname) {
		project = key_fmt(&too_long, "%s/%s", owner, rname);
		if (!project && !too_long)
			nomem = 1;
		set_str(ev, "project", project, &nomem);
	} else {
		set_str(ev, "project", str_of(json_object_get(repo, "slug")), &nomem);
	}
	set_str(ev, "name", rname, &nomem);
	set_str(ev, "buildId", idbuf, &nomem);
	if (int_of(json_object_get(root, "number"), &num))
		set(ev, "number", json_integer(num), &nomem);

	/* "started" comes only as a state (its status_message says Pending); otherwise the
	 * status_message is the finer word (Fixed, Broken, Still Failing), and the state
	 * is the fallback. */
	if (state && strcasecmp(state, "started") == 0) {
		status = farm_event_status("travisci", "webhook", state);
		pstatus = state;
	} else if (msg && strcmp(farm_event_status("travisci", "webhook", msg), "unknown") != 0) {
		status = farm_event_status("travisci", "webhook", msg);
		pstatus = msg;
	} else if (state) {
		status = farm_event_status("travisci", "build", state);
		pstatus = state;
	} else {
		pstatus = msg;
	}
	set_str(ev, "status", status, &nomem);
	set_str(ev, "providerStatus", pstatus, &nomem);
	set_str(ev, "branch", str_of(json_object_get(root, "branch")), &nomem);
	set_str(ev, "commitSha", str_of(json_object_get(root, "commit")), &nomem);
	set_str(ev, "url", str_of(json_object_get(root, "build_url")), &nomem);
	set_ts(ev, "startedAt", json_object_get(root, "started_at"), &nomem);
	set_ts(ev, "finishedAt", json_object_get(root, "finished_at"), &nomem);

	if (!too_long)
		key = key_fmt(&too_long, "travisci:%s:%s", idbuf, state ? state : "-");
done:
	rc = finish(ev, key, nomem, too_long, data, dedupe_key, "Travis CI", err);
out:
	free(project);
	json_decref(root);
	return rc;
}
