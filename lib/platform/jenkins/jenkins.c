/* jenkins.c - the Jenkins module: the Jenkins remote access API (providers.md §3).
 *
 * Auth: HTTP Basic username:apiToken, sent preemptively.  Jobs in folders are
 * job/<a>/job/<b>, each segment percent-encoded.  The job list asks for
 * FARM_JENKINS_FOLDER_DEPTH levels of folders in one tree= request and flattens
 * them into "folder/job" names.  Triggers POST build (or buildWithParameters with a
 * form body); when Jenkins answers 403 asking for a CSRF crumb, the crumb is fetched
 * from /crumbIssuer/api/json and the POST retried once with it (and the session
 * cookie the crumb belongs to).  Jenkins errors are HTML pages: the message is read
 * from Jetty's MESSAGE cell or the title.
 */
#include "jenkins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "event.h"
#include "banned.h"

#define MAX_SEGS 10
#define MAX_SEG_LEN 255

static int jenkins_auth(struct farm_provider_call *c, json_t *value, const char **hdr)
{
	const char *user = json_string_value(json_object_get(value, "username"));
	const char *tok = json_string_value(json_object_get(value, "apiToken"));
	char *pair, *b64 = NULL;
	size_t plen;

	if (!user || !tok || strchr(user, ':'))
		return -1;
	pair = farm_arena_printf(c->arena, "%s:%s", user, tok);
	if (!pair)
		return -1;
	plen = strlen(pair);
	if (farm_b64_encode(pair, plen, &b64) != FARM_OK) {
		farm_crypto_wipe(pair, plen);
		return -1;
	}
	farm_crypto_wipe(pair, plen);
	hdr[0] = farm_arena_printf(c->arena, "Authorization: Basic %s", b64);
	farm_crypto_free_secret(b64, strlen(b64) + 1);
	return hdr[0] ? 1 : -1;
}

/* Text between `open` and `close` in body, HTML entities decoded, into out. */
static int html_between(const char *body, size_t len, const char *open, const char *close,
			char *out, size_t cap)
{
	const char *p = body ? strstr(body, open) : NULL, *e;
	size_t o = 0;

	if (!p || (size_t)(p - body) >= len)
		return 0;
	p += strlen(open);
	if (!(e = strstr(p, close)))
		return 0;
	while (p < e && o + 1 < cap) {
		static const struct {
			const char *ent;
			char ch;
		} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'},
			    {"&#39;", '\''}, {"&apos;", '\''}};
		size_t i, n = sizeof(ents) / sizeof(ents[0]);
		for (i = 0; i < n; i++)
			if (!strncmp(p, ents[i].ent, strlen(ents[i].ent)))
				break;
		if (i < n) {
			out[o++] = ents[i].ch;
			p += strlen(ents[i].ent);
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return 1;
}

static void jenkins_message(const char *body, size_t len, json_t *json, char *out, size_t cap)
{
	const char *m = json_string_value(json_object_get(json, "message"));

	out[0] = '\0';
	if (m) {
		snprintf(out, cap, "%s", m);
		return;
	}
	if (html_between(body, len, "<th>MESSAGE:</th><td>", "</td>", out, cap))
		return;
	if (html_between(body, len, "<title>", "</title>", out, cap)) {
		/* Jetty: "Error 400 message" */
		if (!strncmp(out, "Error ", 6) && strlen(out) > 10)
			memmove(out, out + 10, strlen(out + 10) + 1);
	}
}

char *farm_provider_jenkins_job_path(struct farm_arena *a, const char *name, char *why,
				     size_t cap)
{
	char *out;
	const char *p = name;
	int segs = 0;

	if (!name || !*name) {
		snprintf(why, cap, "job name must not be empty");
		return NULL;
	}
	if (strlen(name) > 1024) {
		snprintf(why, cap, "job name must be at most 1024 characters");
		return NULL;
	}
	out = farm_arena_strdup(a, "");
	while (out) {
		size_t n = strcspn(p, "/");
		char *seg, *enc;
		if (++segs > MAX_SEGS) {
			snprintf(why, cap, "job name must have at most %d folder levels", MAX_SEGS);
			return NULL;
		}
		if (n == 0 || n > MAX_SEG_LEN || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			snprintf(why, cap, "job name segments must be 1..%d characters and not "
					   "'.' or '..'", MAX_SEG_LEN);
			return NULL;
		}
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
				snprintf(why, cap, "job name must not contain control characters");
				return NULL;
			}
		seg = farm_arena_strndup(a, p, n);
		enc = seg ? farm_provider_pct(a, seg) : NULL;
		out = enc ? farm_arena_printf(a, "%s/job/%s", out, enc) : NULL;
		p += n;
		if (!*p)
			break;
		p++;
		if (!*p) {
			snprintf(why, cap, "job name must not end with '/'");
			return NULL;
		}
	}
	if (!out)
		snprintf(why, cap, "out of memory");
	return out;
}

static int is_folder_class(const char *cls)
{
	return cls && (strstr(cls, "Folder") || strstr(cls, "MultiBranchProject"));
}

static json_t *last_build(json_t *b)
{
	if (!json_is_object(b))
		return json_null();
	return json_pack("{s:O,s:O,s:O,s:O}", "number",
			 json_object_get(b, "number") ? json_object_get(b, "number") : json_null(),
			 "result",
			 json_object_get(b, "result") ? json_object_get(b, "result") : json_null(),
			 "timestamp",
			 json_object_get(b, "timestamp") ? json_object_get(b, "timestamp") : json_null(),
			 "duration",
			 json_object_get(b, "duration") ? json_object_get(b, "duration") : json_null());
}

static int flatten(json_t *jobs, const char *prefix, json_t *out, int depth)
{
	size_t i;
	json_t *j;

	json_array_foreach(jobs, i, j)
	{
		const char *name = json_string_value(json_object_get(j, "name"));
		json_t *sub = json_object_get(j, "jobs"), *item;
		char *full;

		if (!name)
			continue;
		if (prefix) {
			size_t n = strlen(prefix) + 1 + strlen(name) + 1;
			if (!(full = malloc(n)))
				return -1;
			snprintf(full, n, "%s/%s", prefix, name);
		} else if (!(full = strdup(name))) {
			return -1;
		}
		if (json_is_array(sub)) {
			int rc = depth < FARM_JENKINS_FOLDER_DEPTH + 1 ? flatten(sub, full, out, depth + 1)
								       : 0;
			free(full);
			if (rc)
				return rc;
			continue;
		}
		if (is_folder_class(json_string_value(json_object_get(j, "_class")))) {
			free(full); /* a folder deeper than we asked for: nothing to show */
			continue;
		}
		item = json_pack("{s:s,s:O,s:O,s:o}", "name", full, "url",
				 json_object_get(j, "url") ? json_object_get(j, "url") : json_null(),
				 "color",
				 json_object_get(j, "color") ? json_object_get(j, "color") : json_null(),
				 "lastBuild", last_build(json_object_get(j, "lastBuild")));
		free(full);
		if (!item || json_array_append_new(out, item))
			return -1;
	}
	return 0;
}

int farm_provider_jenkins_jobs(struct farm_provider_call *c, json_t **out)
{
	static const char leaf[] = "name,url,color,lastBuild[number,result,timestamp,duration]";
	char tree[1024];
	size_t n;
	json_t *root = NULL, *list;
	const char *enc;
	char *path;
	int rc;

	*out = NULL;
	/* jobs[L,jobs[L,jobs[...]]] with FARM_JENKINS_FOLDER_DEPTH levels of folders */
	n = (size_t)snprintf(tree, sizeof(tree), "jobs[%s", leaf);
	for (int d = 0; d < FARM_JENKINS_FOLDER_DEPTH && n < sizeof(tree); d++)
		n += (size_t)snprintf(tree + n, sizeof(tree) - n, ",jobs[%s", leaf);
	for (int d = 0; d <= FARM_JENKINS_FOLDER_DEPTH && n < sizeof(tree); d++)
		n += (size_t)snprintf(tree + n, sizeof(tree) - n, "]");
	enc = farm_provider_pct(c->arena, tree);
	path = enc ? farm_arena_printf(c->arena, "/api/json?tree=%s", enc) : NULL;
	if (!path)
		return farm_provider_nomem(c);
	if ((rc = farm_provider_get_json(c, path, NULL, 0, &root)) != FARM_OK)
		return rc;
	list = json_array();
	if (!json_is_object(root) || !json_is_array(json_object_get(root, "jobs"))) {
		json_decref(root);
		json_decref(list);
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	}
	if (!list || flatten(json_object_get(root, "jobs"), NULL, list, 0)) {
		json_decref(root);
		json_decref(list);
		return farm_provider_nomem(c);
	}
	json_decref(root);
	*out = list;
	return FARM_OK;
}

static int by_number_desc(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "number"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "number"));

	return x < y ? 1 : x > y ? -1 : 0;
}

int farm_provider_jenkins_builds(struct farm_provider_call *c, const char *name, long limit,
				 json_t **out)
{
	char why[200], *jp, *path, *tree, *what;
	const char *enc;
	json_t *job = NULL, *builds, *b, **v, *list;
	size_t i, n;
	int rc;

	*out = NULL;
	if (limit < 1 || limit > 100)
		return farm_provider_bad_input(c, "limit must be within 1..100");
	if (!(jp = farm_provider_jenkins_job_path(c->arena, name, why, sizeof(why))))
		return farm_provider_bad_input(c, "%s", why);
	tree = farm_arena_printf(c->arena, "builds[number,result,building,timestamp,duration,url]"
					   "{0,%ld}", limit);
	enc = tree ? farm_provider_pct(c->arena, tree) : NULL;
	path = enc ? farm_arena_printf(c->arena, "%s/api/json?tree=%s", jp, enc) : NULL;
	what = farm_arena_printf(c->arena, "job '%s'", name);
	if (!path || !what)
		return farm_provider_nomem(c);
	if ((rc = farm_provider_get_json(c, path, what, 0, &job)) != FARM_OK)
		return rc;
	builds = json_object_get(job, "builds");
	if (!json_is_array(builds)) {
		int folder = json_is_object(job) &&
			     is_folder_class(json_string_value(json_object_get(job, "_class")));
		json_decref(job);
		if (folder)
			return farm_provider_bad_input(c, "Jenkins item '%s' is a folder, not a job",
						       name);
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	}
	n = json_array_size(builds);
	v = farm_arena_alloc(c->arena, (n ? n : 1) * sizeof(*v));
	list = json_array();
	if (!v || !list) {
		json_decref(job);
		json_decref(list);
		return farm_provider_nomem(c);
	}
	json_array_foreach(builds, i, b) v[i] = b;
	qsort(v, n, sizeof(*v), by_number_desc); /* newest first, whatever the order */
	for (i = 0; i < n && i < (size_t)limit; i++) {
		json_t *o = v[i], *building = json_object_get(o, "building");
		json_t *item = json_pack(
			"{s:O,s:O,s:b,s:O,s:O,s:O}", "number",
			json_object_get(o, "number") ? json_object_get(o, "number") : json_null(),
			"result", json_object_get(o, "result") ? json_object_get(o, "result") : json_null(),
			"building", json_is_true(building), "timestamp",
			json_object_get(o, "timestamp") ? json_object_get(o, "timestamp") : json_null(),
			"duration",
			json_object_get(o, "duration") ? json_object_get(o, "duration") : json_null(),
			"url", json_object_get(o, "url") ? json_object_get(o, "url") : json_null());
		if (!item || json_array_append_new(list, item)) {
			json_decref(job);
			json_decref(list);
			return farm_provider_nomem(c);
		}
	}
	json_decref(job);
	*out = list;
	return FARM_OK;
}

/* "k=v&k2=v2" from an object of scalars, in the arena; NULL with c->err set. */
static char *form_of(struct farm_provider_call *c, json_t *params)
{
	const char *k;
	json_t *v;
	char *out = farm_arena_strdup(c->arena, "");

	if (!json_is_object(params) || json_object_size(params) > 100) {
		farm_provider_bad_input(c, "parameters must be an object of at most 100 entries");
		return NULL;
	}
	json_object_foreach(params, k, v)
	{
		char num[64];
		const char *s, *ek, *ev;
		if (!*k || strlen(k) > 255) {
			farm_provider_bad_input(c, "parameter names must be 1..255 characters");
			return NULL;
		}
		if (json_is_string(v) && json_string_length(v) <= 65536 &&
		    strlen(json_string_value(v)) == json_string_length(v))
			s = json_string_value(v);
		else if (json_is_integer(v))
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v)),
				s = num;
		else if (json_is_real(v))
			snprintf(num, sizeof(num), "%.17g", json_real_value(v)), s = num;
		else if (json_is_boolean(v))
			s = json_is_true(v) ? "true" : "false";
		else {
			farm_provider_bad_input(c, "parameter %.100s must be a string, number or "
						   "boolean", k);
			return NULL;
		}
		ek = farm_provider_pct(c->arena, k);
		ev = farm_provider_pct(c->arena, s);
		out = ek && ev && out ? farm_arena_printf(c->arena, "%s%s%s=%s", out, *out ? "&" : "",
							  ek, ev)
				      : NULL;
		if (!out) {
			farm_provider_nomem(c);
			return NULL;
		}
	}
	return out;
}

/* The crumb header line ("Jenkins-Crumb: ..."), or NULL when Jenkins has none. */
static char *fetch_crumb(struct farm_provider_call *c, char *cookies, size_t cookies_cap)
{
	struct farm_provider_resp r;
	const char *field, *crumb;
	char *line = NULL;

	if (farm_provider_send(c, "GET", "/crumbIssuer/api/json", NULL, 0, NULL, NULL, 0, &r) !=
	    FARM_OK)
		return NULL;
	field = json_string_value(json_object_get(r.json, "crumbRequestField"));
	crumb = json_string_value(json_object_get(r.json, "crumb"));
	if (r.outcome == FARM_PO_OK && field && crumb && *field && *crumb && strlen(field) <= 64 &&
	    strlen(crumb) <= 512 &&
	    strspn(field, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
		    strlen(field) &&
	    strspn(crumb, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.") ==
		    strlen(crumb)) {
		line = farm_arena_printf(c->arena, "%s: %s", field, crumb);
		snprintf(cookies, cookies_cap, "%s", r.cookies);
	}
	farm_provider_resp_clear(&r);
	return line;
}

static long queue_id(const char *location)
{
	const char *p = strstr(location, "/queue/item/");
	char *end;
	long id;

	if (!p)
		return -1;
	id = strtol(p + 12, &end, 10);
	if (end == p + 12 || (*end && strcmp(end, "/")) || id < 0)
		return -1;
	return id;
}

int farm_provider_jenkins_build(struct farm_provider_call *c, const char *name, json_t *params,
				json_t **out)
{
	struct farm_provider_resp r;
	char why[200], *jp, *path, *what, *form = NULL;
	const char *hdrs[2];
	char cookies[1024];
	size_t nh = 0;
	long id;
	int rc, outcome;

	*out = NULL;
	if (!(jp = farm_provider_jenkins_job_path(c->arena, name, why, sizeof(why))))
		return farm_provider_bad_input(c, "%s", why);
	if (params && !(form = form_of(c, params)))
		return FARM_E_INVAL;
	path = farm_arena_printf(c->arena, "%s/%s", jp, params ? "buildWithParameters" : "build");
	what = farm_arena_printf(c->arena, "job '%s'", name);
	if (!path || !what)
		return farm_provider_nomem(c);
	for (int attempt = 0;; attempt++) {
		rc = farm_provider_send(c, "POST", path, hdrs, nh,
					form ? "application/x-www-form-urlencoded" : NULL, form,
					form ? strlen(form) : 0, &r);
		if (rc != FARM_OK)
			return rc;
		if (attempt == 0 && r.status == 403 &&
		    (strcasestr(r.message, "crumb") || (r.body && strcasestr(r.body, "crumb")))) {
			char *line = fetch_crumb(c, cookies, sizeof(cookies));
			if (line) {
				farm_provider_resp_clear(&r);
				hdrs[nh++] = line;
				if (*cookies)
					hdrs[nh++] = farm_arena_printf(c->arena, "Cookie: %s", cookies);
				farm_crypto_wipe(cookies, sizeof(cookies));
				if (!hdrs[nh - 1])
					return farm_provider_nomem(c);
				continue;
			}
		}
		break;
	}
	outcome = r.outcome;
	/* 201, or 303 when an identical item already waits in the queue. */
	if ((r.status == 201 || r.status == 303 || r.status == 200) &&
	    (id = queue_id(r.location)) >= 0 &&
	    strspn(r.location, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			       "-._~:/?#[]@!$&'()*+,;=%") == strlen(r.location)) {
		*out = json_pack("{s:I,s:s}", "queueId", (json_int_t)id, "queueUrl", r.location);
		farm_provider_resp_clear(&r);
		return *out ? FARM_OK : farm_provider_nomem(c);
	}
	if (outcome == FARM_PO_OK)
		outcome = FARM_PO_GARBAGE; /* no queue item to point at */
	rc = farm_provider_fail(c, outcome, &r, what);
	farm_provider_resp_clear(&r);
	return rc;
}

/* Mapping (body fields as in providers.md):
 *   Jenkins (Notification plugin): project = full job name from the job `url`
 *     ("job/a/job/b/" → "a/b"; else `name`), name = `name`, buildId = "<project>#<number>",
 *     number = build.number, status from build.status, else from build.phase
 *     (QUEUED → queued, STARTED → running), url = build.full_url, branch = build.scm.branch
 *     without a leading "refs/heads/" or "origin/", commitSha = build.scm.commit,
 *     startedAt = build.timestamp (epoch ms), finishedAt = timestamp + duration once the
 *     phase is COMPLETED or FINALIZED.  Dedupe key "jenkins:<project>:<number>:<phase>".
 */
/* ---- webhook payload -> event (lib/events/event.h) -------------------------------------------------------------------- */

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

	rc = farm_event_out_init(data, dedupe_key, err);
	if (rc != FARM_OK)
		return rc;
	rc = farm_event_load("Jenkins", body, len, &root, err);
	if (rc != FARM_OK)
		return rc;

	name = farm_event_str(json_object_get(root, "name"));
	build = json_object_get(root, "build");
	if (!name || !json_is_object(build)) {
		rc = farm_error_set(err, FARM_E_INVAL,
				    "Jenkins payload needs \"name\" and a \"build\" object "
				    "(Notification plugin JSON format)");
		goto out;
	}
	if (!farm_event_int(json_object_get(build, "number"), &number)) {
		rc = farm_error_set(err, FARM_E_INVAL, "Jenkins payload has no build \"number\"");
		goto out;
	}
	phase = farm_event_str(json_object_get(build, "phase"));
	if (!phase) {
		rc = farm_error_set(err, FARM_E_INVAL, "Jenkins payload has no build \"phase\"");
		goto out;
	}

	/* Inside folders `name` is the short name; the job url spells the full one. */
	url = farm_event_str(json_object_get(root, "url"));
	if (url && jenkins_full_name(url, &full) == FARM_E_NOMEM) {
		nomem = 1;
		goto done;
	}
	project = full ? full : name;

	ev = farm_event_new("jenkins");
	if (!ev) {
		nomem = 1;
		goto done;
	}
	farm_event_set_str(ev, "project", project, &nomem);
	farm_event_set_str(ev, "name", name, &nomem);
	build_id = farm_event_key(&too_long, "%s#%lld", project, number);
	if (!build_id) {
		nomem = !too_long;
		goto done;
	}
	farm_event_set_str(ev, "buildId", build_id, &nomem);
	farm_event_set(ev, "number", json_integer(number), &nomem);

	status = farm_event_str(json_object_get(build, "status"));
	farm_event_set_str(ev, "status", farm_event_status("jenkins", "notification", status ? status : phase),
		&nomem);
	farm_event_set_str(ev, "providerStatus", status ? status : phase, &nomem);

	scm = json_object_get(build, "scm");
	branch = farm_event_str(json_object_get(scm, "branch"));
	if (branch)
		branch = strip_prefix(strip_prefix(branch, "refs/heads/"), "origin/");
	farm_event_set_str(ev, "branch", branch, &nomem);
	farm_event_set_str(ev, "commitSha", farm_event_str(json_object_get(scm, "commit")), &nomem);
	farm_event_set_str(ev, "url", farm_event_str(json_object_get(build, "full_url")), &nomem);

	done_phase = strcasecmp(phase, "COMPLETED") == 0 || strcasecmp(phase, "FINALIZED") == 0;
	if (farm_event_int(json_object_get(build, "timestamp"), &ts) && ts > 0) {
		farm_event_set_ts_ms(ev, "startedAt", ts, &nomem);
		if (done_phase && farm_event_int(json_object_get(build, "duration"), &dur) && dur > 0 &&
		    dur <= FARM_EVENT_EPOCH_MS_MAX - ts)
			farm_event_set_ts_ms(ev, "finishedAt", ts + dur, &nomem);
	}

	key = farm_event_key(&too_long, "jenkins:%s:%lld:%s", project, number, phase);
done:
	rc = farm_event_finish(ev, key, nomem, too_long, data, dedupe_key, "Jenkins", err);
out:
	free(build_id);
	free(full);
	json_decref(root);
	return rc;
}

/* ---- the module ------------------------------------------------------------------ */

struct builds_in {
	const char *name;
	long limit;
};

static int rd_jobs(struct farm_provider_call *c, const void *a, json_t **out)
{
	(void)a;
	return farm_provider_jenkins_jobs(c, out);
}

static int rd_builds(struct farm_provider_call *c, const void *a, json_t **out)
{
	const struct builds_in *b = a;

	return farm_provider_jenkins_builds(c, b->name, b->limit, out);
}

static int op_jobs(struct farm_provider_call *c, const struct farm_platform_in *in,
		   struct farm_platform_out *o)
{
	return farm_platform_read(c, "jenkins.jobs", rd_jobs, NULL, o);
}

static int check_builds(const struct farm_platform_in *in, char *why, size_t cap)
{
	long limit;

	return farm_platform_number(in, "limit", 20, 1, 100, &limit, why, cap);
}

static int op_builds(struct farm_provider_call *c, const struct farm_platform_in *in,
		     struct farm_platform_out *o)
{
	struct builds_in b = {in->params[0], 20};
	char why[8];

	farm_platform_number(in, "limit", 20, 1, 100, &b.limit, why, sizeof(why));
	return farm_platform_read(c, farm_arena_printf(c->arena, "jenkins.builds %ld %s", b.limit,
						       b.name),
				  rd_builds, &b, o);
}

/* The body of a build: nothing, or {"parameters": {...}}. */
static int check_build(const struct farm_platform_in *in, char *why, size_t cap)
{
	json_t *params = json_object_get(in->body, "parameters");
	const char *k;
	json_t *v;

	json_object_foreach(in->body, k, v)
	{
		if (strcmp(k, "parameters")) {
			snprintf(why, cap, "property %.100s should not exist", k);
			return 1;
		}
	}
	if (params && !json_is_object(params)) {
		snprintf(why, cap, "parameters must be an object");
		return 1;
	}
	return 0;
}

static int op_build(struct farm_provider_call *c, const struct farm_platform_in *in,
		    struct farm_platform_out *o)
{
	int rc = farm_provider_jenkins_build(c, in->params[0],
					     json_object_get(in->body, "parameters"), &o->json);

	o->status = 201;
	if (rc == FARM_OK)
		o->log = farm_arena_printf(c->arena, "jenkins: build of %s queued", in->params[0]);
	return rc;
}

/* The Notification plugin's call: any presented token (?token=, X-Farm-Token, the
 * Basic password) equal to the secret. */
static int hook_verify(const struct farm_platform_delivery *d, char **payload, size_t *plen,
		       char *why, size_t cap)
{
	*payload = NULL;
	if (!d->secret || !*d->secret) {
		snprintf(why, cap, "no Jenkins webhook token configured");
		return FARM_E_AUTH;
	}
	if (farm_platform_token_verify(d, 1) != FARM_OK) {
		snprintf(why, cap, "bad or missing Jenkins token");
		return FARM_E_AUTH;
	}
	return FARM_OK;
}

static const struct farm_platform_webhook jenkins_webhook = {
	.conf_secret = "webhook.jenkins.token",
	.verify = hook_verify,
	.map = farm_event_from_jenkins,
};

static const struct farm_cred_field jenkins_fields[] = {
	{"url", FARM_CRED_REQUIRED | FARM_CRED_URL},
	{"username", FARM_CRED_REQUIRED},
	{"apiToken", FARM_CRED_REQUIRED | FARM_CRED_SECRET},
	{"webhookSecret", FARM_CRED_SECRET},
	{NULL, 0},
};

static const struct farm_platform_route jenkins_routes[] = {
	{"GET", "/jobs", FARM_PLATFORM_AUTH | FARM_PLATFORM_LIST, NULL, op_jobs},
	{"GET", "/jobs/:name/builds", FARM_PLATFORM_AUTH | FARM_PLATFORM_LIST, check_builds,
	 op_builds},
	{"POST", "/jobs/:name/build", FARM_PLATFORM_ADMIN | FARM_PLATFORM_JSON | FARM_PLATFORM_TRIGGER, check_build,
	 op_build},
	{NULL, NULL, 0, NULL, NULL},
};

static const struct farm_platform_conf jenkins_conf[] = {
	{"webhook.jenkins.token", "", 1, "shared token of POST /webhooks/jenkins", FARM_CONF_STR,
	 0, 0},
	{NULL, NULL, 0, NULL, FARM_CONF_STR, 0, 0},
};

static const struct farm_platform_status jenkins_statuses[] = {
	{"result", "SUCCESS", "success"},
	{"result", "FAILURE", "failed"},
	{"result", "ABORTED", "canceled"},
	{"result", "UNSTABLE", "unstable"},
	{"result", "NOT_BUILT", "unknown"},
	{"color", "*_anime", "running"},
	{"color", "blue", "success"},
	{"color", "red", "failed"},
	{"color", "aborted", "canceled"},
	{"color", "yellow", "unstable"},
	{"color", "notbuilt", "unknown"},
	{"color", "grey", "unknown"},
	{"color", "disabled", "unknown"},
	{"notification", "QUEUED", "queued"},
	{"notification", "STARTED", "running"},
	{"notification", "SUCCESS", "success"},
	{"notification", "FAILURE", "failed"},
	{"notification", "ABORTED", "canceled"},
	{"notification", "UNSTABLE", "unstable"},
	{"notification", "NOT_BUILT", "unknown"},
	{NULL, NULL, NULL},
};

const struct farm_platform farm_platform_jenkins = {
	.up = {
		.type = "jenkins",
		.title = "Jenkins",
		.api_root = "",
		.url_required = 1,
		.auth = jenkins_auth,
		.message = jenkins_message,
	},
	.fields = jenkins_fields,
	.conf = jenkins_conf,
	.routes = jenkins_routes,
	.statuses = jenkins_statuses,
	.webhook = &jenkins_webhook,
	.run_id = "job#number",
};
