/* pipeline.c - pipeline and run validation, paths, the run queue key, log path and
 * events (pipeline.h).  Image references and tags: image.c; the engine's argv:
 * engine.c; catalog ids: catalog.c. */
#include "pipeline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.h"
#include "json.h"
#include "provider.h"
#include "banned.h"

/* ---- small helpers ------------------------------------------------------------------- */

static void add_err(json_t *errors, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_err(json_t *errors, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(errors, farm_json_message(msg));
}

/* Adds "property X should not exist" for each member of obj not in allowed. */
static int unknown_props(json_t *obj, const char *const *allowed, const char *where,
			 json_t *errors)
{
	const char *k;
	json_t *v;
	int n = 0;

	json_object_foreach(obj, k, v)
	{
		size_t i;
		for (i = 0; allowed[i]; i++)
			if (!strcmp(k, allowed[i]))
				break;
		if (!allowed[i]) {
			add_err(errors, "property %s%.200s should not exist", where, k);
			n++;
		}
	}
	return n;
}

/* A JSON string without NUL, 1..max bytes; its text or NULL. */
static const char *str_of(json_t *v, size_t max)
{
	const char *s = json_string_value(v);

	if (!s || !*s || strlen(s) != json_string_length(v) || strlen(s) > max)
		return NULL;
	return s;
}

/* ---- paths ----------------------------------------------------------------------------- */

int farm_pipeline_path_norm(const char *in, size_t len, char *out, size_t cap, const char **why)
{
	size_t o = 0, i = 0;

	*why = NULL;
	if (cap < 2) {
		*why = "is too long";
		return 0;
	}
	if (memchr(in, '\0', len)) {
		*why = "must not contain a NUL character";
		return 0;
	}
	if (len && in[0] == '/') {
		*why = "must be a relative path, not an absolute one";
		return 0;
	}
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)in[k];
		if (c < 0x20 || c == 0x7f) {
			*why = "must not contain control characters";
			return 0;
		}
		if (c == '\\') {
			*why = "must not contain a backslash";
			return 0;
		}
	}
	while (i < len) {
		size_t start = i, n;
		while (i < len && in[i] != '/')
			i++;
		n = i - start;
		if (i < len)
			i++; /* the '/' */
		if (n == 0 || (n == 1 && in[start] == '.'))
			continue;
		if (n == 2 && in[start] == '.' && in[start + 1] == '.') {
			*why = "must not contain '..' (it would leave the workspace)";
			return 0;
		}
		if (o + (o ? 1 : 0) + n + 1 > cap || o + n + 1 > FARM_PIPELINE_PATH_MAX) {
			*why = "is too long";
			return 0;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, in + start, n);
		o += n;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return 1;
}

/* ---- pipeline validation ---------------------------------------------------------- */

static const char *const body_keys[] = {"name", "workspace", "stages", NULL};
static const char *const stage_keys[] = {"name", "type", "config", NULL};
static const char *const config_keys[] = {"engine",   "dockerfile", "context", "tag",
					  "push",     "registry",   "tlsVerify", "timeout",
					  NULL};

/* A path member: absent → def; else normalised.  NULL (and an error) when bad. */
static json_t *path_member(json_t *cfg, const char *key, const char *def, const char *where,
			   json_t *errors)
{
	json_t *v = json_object_get(cfg, key);
	char buf[FARM_PIPELINE_PATH_MAX + 1];
	const char *why;

	if (!v || json_is_null(v))
		return def ? json_string(def) : json_null();
	if (!json_is_string(v) || json_string_length(v) > FARM_PIPELINE_PATH_MAX) {
		add_err(errors, "%s%s must be a string of at most %d characters", where, key,
			FARM_PIPELINE_PATH_MAX);
		return NULL;
	}
	if (!farm_pipeline_path_norm(json_string_value(v), json_string_length(v), buf, sizeof(buf),
				     &why)) {
		add_err(errors, "%s%s %s", where, key, why);
		return NULL;
	}
	return json_string(buf);
}

/* ---- the candor stage: a Candor runner's plan (providers.md §8.2) ------------------ */

static const char *const candor_keys[] = {"name", "type", "credentialId", "stages", "archive",
					  NULL};
static const char *const candor_stage_keys[] = {"name", "image", "runtime", "environment",
						"script", NULL};

/* A string without NUL or control characters (tab allowed when `tab`), 1..max bytes. */
static const char *text_of(json_t *v, size_t max, int tab)
{
	const char *s = str_of(v, max);

	if (!s)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && !(tab && *p == '\t')) || *p == 0x7f)
			return NULL;
	return s;
}

/* An optional array (absent or null: fine) of 0..max strings each checked by text_of;
 * env: each "KEY=value" with a KEY of [A-Za-z_][A-Za-z0-9_]*. */
static void string_list(json_t *obj, const char *key, size_t max, size_t len, int env,
			const char *where, json_t *errors)
{
	json_t *v = json_object_get(obj, key), *e;
	size_t i;

	if (!v || json_is_null(v))
		return;
	if (!json_is_array(v) || json_array_size(v) > max) {
		add_err(errors, "%s%s must be an array of at most %zu strings", where, key, max);
		return;
	}
	json_array_foreach(v, i, e)
	{
		const char *s = text_of(e, len, 1);
		size_t k;
		if (!s) {
			add_err(errors, "%s%s[%zu] must be a string of 1 to %zu characters without "
					"control characters", where, key, i, len);
			return;
		}
		if (!env)
			continue;
		k = strcspn(s, "=");
		if (!s[k] || !k || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					     "0123456789_") != k || (s[0] >= '0' && s[0] <= '9')) {
			add_err(errors, "%s%s[%zu] must be KEY=value (KEY: letters, digits and '_', "
					"not starting with a digit)", where, key, i);
			return;
		}
	}
}

static void check_candor_stage(json_t *st, const char *where, json_t *errors, json_t *stages)
{
	size_t before = json_array_size(errors), i;
	json_t *v, *plan_stages, *s, *archive, *out;
	const char *name = "Candor", *cred;
	char w[96];

	unknown_props(st, candor_keys, where, errors);
	if ((v = json_object_get(st, "name")) && !json_is_null(v) &&
	    !(name = str_of(v, FARM_PIPELINE_NAME_MAX)))
		add_err(errors, "%sname must be a string of 1 to %d characters", where,
			FARM_PIPELINE_NAME_MAX);
	cred = json_string_value(json_object_get(st, "credentialId"));
	if (!cred || !*cred || strlen(cred) > 64 ||
	    strspn(cred, "0123456789abcdefABCDEF-") != strlen(cred))
		add_err(errors, "%scredentialId must be the id of a Candor credential", where);
	plan_stages = json_object_get(st, "stages");
	if (!json_is_array(plan_stages) || json_array_size(plan_stages) < 1 ||
	    json_array_size(plan_stages) > FARM_PIPELINE_CANDOR_STAGES_MAX) {
		add_err(errors, "%sstages must be an array of 1 to %d Candor stages", where,
			FARM_PIPELINE_CANDOR_STAGES_MAX);
	} else {
		json_array_foreach(plan_stages, i, s)
		{
			snprintf(w, sizeof(w), "%sstages[%zu].", where, i);
			if (!json_is_object(s)) {
				add_err(errors, "%sstages[%zu] must be an object", where, i);
				continue;
			}
			unknown_props(s, candor_stage_keys, w, errors);
			if (!text_of(json_object_get(s, "name"), FARM_PIPELINE_NAME_MAX, 0))
				add_err(errors, "%sname must be a string of 1 to %d characters", w,
					FARM_PIPELINE_NAME_MAX);
			if (!text_of(json_object_get(s, "image"), FARM_PIPELINE_IMAGE_MAX, 0))
				add_err(errors, "%simage must be a string of 1 to %d characters", w,
					FARM_PIPELINE_IMAGE_MAX);
			v = json_object_get(s, "runtime");
			if (v && !json_is_null(v) && !text_of(v, 128, 0))
				add_err(errors, "%sruntime must be a string of 1 to 128 characters", w);
			string_list(s, "environment", 256, 4096, 1, w, errors);
			string_list(s, "script", 1024, 65536, 0, w, errors);
		}
	}
	archive = json_object_get(st, "archive");
	if (archive && !json_is_null(archive)) {
		string_list(st, "archive", 256, FARM_PIPELINE_PATH_MAX, 0, where, errors);
	}
	if (json_array_size(errors) != before)
		return;
	out = json_pack("{s:s,s:s,s:s,s:O,s:O}", "name", name, "type", "candor", "credentialId",
			cred, "stages", plan_stages, "archive",
			archive ? archive : json_null());
	if (!out || json_array_append_new(stages, out) != 0)
		add_err(errors, "out of memory");
}

/* Checks one stage; appends the normalised stage to `stages` when it is good. */
static void check_stage(json_t *st, size_t idx, json_t *errors, json_t *stages)
{
	char where[64];
	json_t *cfg, *out = NULL, *ocfg = NULL, *v, *ctx = NULL, *df = NULL;
	const char *type, *engine = "docker", *tag = NULL, *registry = NULL;
	size_t before = json_array_size(errors);
	int push = 0, tls = 1;
	json_int_t timeout = 0;

	snprintf(where, sizeof(where), "stages[%zu].", idx);
	if (!json_is_object(st)) {
		add_err(errors, "stages[%zu] must be an object", idx);
		return;
	}
	type = json_string_value(json_object_get(st, "type"));
	if (type && !strcmp(type, "candor")) {
		check_candor_stage(st, where, errors, stages);
		return;
	}
	unknown_props(st, stage_keys, where, errors);
	if (!str_of(json_object_get(st, "name"), FARM_PIPELINE_NAME_MAX))
		add_err(errors, "%sname must be a string of 1 to %d characters", where,
			FARM_PIPELINE_NAME_MAX);
	if (!type || strcmp(type, "build") != 0)
		add_err(errors, "%stype must be one of: build, candor", where);
	cfg = json_object_get(st, "config");
	if (!json_is_object(cfg)) {
		add_err(errors, "%sconfig must be an object", where);
		return;
	}
	snprintf(where, sizeof(where), "stages[%zu].config.", idx);
	unknown_props(cfg, config_keys, where, errors);

	if ((v = json_object_get(cfg, "engine")) && !json_is_null(v)) {
		engine = json_string_value(v);
		if (!farm_pipeline_engine_known(engine)) {
			add_err(errors, "%sengine must be one of: docker, buildah, podman", where);
			engine = "docker";
		}
	}
	v = json_object_get(cfg, "tag");
	if (!v || json_is_null(v)) {
		add_err(errors, "%stag is required", where);
	} else if (!(tag = str_of(v, FARM_PIPELINE_TAG_MAX))) {
		add_err(errors, "%stag must be a string of 1 to %d characters", where,
			FARM_PIPELINE_TAG_MAX);
	}
	if ((v = json_object_get(cfg, "push")) && !json_is_null(v)) {
		if (!json_is_boolean(v))
			add_err(errors, "%spush must be a boolean", where);
		else
			push = json_is_true(v);
	}
	if ((v = json_object_get(cfg, "tlsVerify")) && !json_is_null(v)) {
		if (!json_is_boolean(v))
			add_err(errors, "%stlsVerify must be a boolean", where);
		else
			tls = json_is_true(v);
	}
	v = json_object_get(cfg, "registry");
	if (v && !json_is_null(v)) {
		registry = str_of(v, FARM_PIPELINE_REGISTRY_MAX);
		if (!registry || !farm_pipeline_registry_ok(registry)) {
			add_err(errors, "%sregistry must be host[:port][/namespace] without a scheme",
				where);
			registry = NULL;
		}
	} else if (push) {
		add_err(errors, "%sregistry is required when push is true", where);
	}
	if ((v = json_object_get(cfg, "timeout")) && !json_is_null(v)) {
		timeout = json_is_integer(v) ? json_integer_value(v) : 0;
		if (timeout < 1 || timeout > FARM_PIPELINE_TIMEOUT_MAX)
			add_err(errors, "%stimeout must be an integer from 1 to %d (seconds)", where,
				FARM_PIPELINE_TIMEOUT_MAX);
	}
	ctx = path_member(cfg, "context", ".", where, errors);
	if (ctx) {
		json_t *dv = json_object_get(cfg, "dockerfile");
		if (!dv || json_is_null(dv)) {
			/* Like `docker build` without -f: the Dockerfile of the context. */
			const char *c = json_string_value(ctx);
			char buf[FARM_PIPELINE_PATH_MAX + 16];
			snprintf(buf, sizeof(buf), "%s%s", strcmp(c, ".") ? c : "",
				 strcmp(c, ".") ? "/Dockerfile" : "Dockerfile");
			df = json_string(buf);
		} else {
			df = path_member(cfg, "dockerfile", NULL, where, errors);
			if (df && !strcmp(json_string_value(df), ".")) {
				add_err(errors, "%sdockerfile must name a file in the workspace", where);
				json_decref(df);
				df = NULL;
			}
		}
	} else {
		/* still report a bad dockerfile */
		json_decref(path_member(cfg, "dockerfile", "Dockerfile", where, errors));
	}
	if (tag) {
		/* The template must render, and render to a reference, for a plausible run. */
		char buf[FARM_PIPELINE_IMAGE_MAX + 1], why[200];
		int rc = farm_pipeline_tag_render(tag, "0", "0000000", buf, FARM_PIPELINE_TAG_MAX + 1,
						  why, sizeof(why));
		if (rc != FARM_OK)
			add_err(errors, "%stag: %s", where, why);
		else if (!farm_pipeline_ref_ok(buf))
			add_err(errors,
				"%stag must render to an image reference: lower-case name components "
				"separated by '/', then an optional :tag",
				where);
	}
	if (json_array_size(errors) != before)
		goto out;
	ocfg = json_pack("{s:s,s:O,s:O,s:s,s:b,s:s?,s:b}", "engine", engine, "dockerfile", df,
			 "context", ctx, "tag", tag, "push", push, "registry", registry, "tlsVerify",
			 tls);
	if (ocfg) {
		json_object_set_new(ocfg, "timeout", timeout ? json_integer(timeout) : json_null());
		if (!registry)
			json_object_set_new(ocfg, "registry", json_null());
	}
	out = ocfg ? json_pack("{s:O,s:s,s:o}", "name", json_object_get(st, "name"), "type", "build",
			       "config", ocfg)
		   : NULL;
	if (!out || json_array_append_new(stages, out) != 0)
		add_err(errors, "out of memory");
out:
	json_decref(ctx);
	json_decref(df);
}

int farm_pipeline_check(json_t *in, json_t *errors, json_t **out)
{
	json_t *stages, *ws = NULL, *norm = NULL, *v;
	size_t before = json_array_size(errors), i;

	*out = NULL;
	if (!json_is_object(in)) {
		add_err(errors, "the body must be a JSON object");
		return 1;
	}
	unknown_props(in, body_keys, "", errors);
	v = json_object_get(in, "name");
	if (!v)
		add_err(errors, "name is required");
	else if (!str_of(v, FARM_PIPELINE_NAME_MAX))
		add_err(errors, "name must be a string of 1 to %d characters", FARM_PIPELINE_NAME_MAX);
	ws = path_member(in, "workspace", ".", "", errors);
	stages = json_object_get(in, "stages");
	norm = json_array();
	if (!stages) {
		add_err(errors, "stages is required");
	} else if (!json_is_array(stages) || json_array_size(stages) < 1 ||
		   json_array_size(stages) > FARM_PIPELINE_STAGES_MAX) {
		add_err(errors, "stages must be an array of 1 to %d stages", FARM_PIPELINE_STAGES_MAX);
	} else {
		json_array_foreach(stages, i, v) check_stage(v, i, errors, norm);
	}
	if (json_array_size(errors) == before && ws && norm) {
		*out = json_pack("{s:O,s:O,s:O}", "name", json_object_get(in, "name"), "workspace", ws,
				 "stages", norm);
		if (!*out)
			add_err(errors, "out of memory");
	}
	json_decref(ws);
	json_decref(norm);
	return (int)(json_array_size(errors) - before);
}

/* ---- run validation ------------------------------------------------------------------ */

static const char *const run_keys[] = {"version", "commitSha", NULL};

int farm_pipeline_run_check(json_t *pipeline, json_t *in, json_t *errors, json_t **stages)
{
	size_t before = json_array_size(errors), i;
	const char *version = NULL, *sha = NULL;
	json_t *st, *v, *res = NULL;

	*stages = NULL;
	if (!json_is_object(in)) {
		add_err(errors, "the body must be a JSON object");
		return 1;
	}
	unknown_props(in, run_keys, "", errors);
	v = json_object_get(in, "version");
	if (!v)
		add_err(errors, "version is required");
	else if (!farm_pipeline_version_ok(version = str_of(v, FARM_PIPELINE_VERSION_MAX)))
		add_err(errors, "version must be 1 to %d letters, digits, '_', '.' or '-', not "
				"starting with '.' or '-'",
			FARM_PIPELINE_VERSION_MAX);
	v = json_object_get(in, "commitSha");
	if (!v)
		add_err(errors, "commitSha is required");
	else if (!farm_pipeline_sha_ok(sha = str_of(v, FARM_PIPELINE_SHA_MAX)))
		add_err(errors, "commitSha must be %d to %d hexadecimal digits", FARM_PIPELINE_SHA_MIN,
			FARM_PIPELINE_SHA_MAX);
	if (json_array_size(errors) != before)
		return (int)(json_array_size(errors) - before);

	res = json_array();
	json_array_foreach(json_object_get(pipeline, "stages"), i, st)
	{
		json_t *cfg = json_object_get(st, "config"), *rs;

		if (!strcmp(json_string_value(json_object_get(st, "type")) ?: "", "candor")) {
			/* the runner's plan, sent as it is; the runner's answer fills "runner" */
			rs = json_pack("{s:O,s:s,s:s,s:O,s:n,s:n,s:n,s:n,s:{s:O},s:n}", "name",
				       json_object_get(st, "name"), "type", "candor", "status",
				       "pending", "credentialId", json_object_get(st, "credentialId"),
				       "startedAt", "finishedAt", "error", "exitCode", "plan", "stages",
				       json_object_get(st, "stages"), "runner");
			if (rs && json_is_array(json_object_get(st, "archive")))
				json_object_set(json_object_get(rs, "plan"), "archive",
						json_object_get(st, "archive"));
			if (!rs || json_array_append_new(res, rs) != 0)
				add_err(errors, "out of memory");
			continue;
		}
		const char *tmpl = json_string_value(json_object_get(cfg, "tag"));
		const char *reg = json_string_value(json_object_get(cfg, "registry"));
		int push = json_is_true(json_object_get(cfg, "push"));
		char tag[FARM_PIPELINE_TAG_MAX + 1], image[FARM_PIPELINE_IMAGE_MAX + 1], why[200];
		int rc = tmpl ? farm_pipeline_tag_render(tmpl, version, sha, tag, sizeof(tag), why,
							 sizeof(why))
			      : FARM_E_INVAL;

		if (rc != FARM_OK) {
			add_err(errors, "stages[%zu].config.tag: %s", i, tmpl ? why : "missing");
			continue;
		}
		if (push && reg)
			snprintf(image, sizeof(image), "%s/%s", reg, tag);
		else
			snprintf(image, sizeof(image), "%s", tag);
		if (!farm_pipeline_ref_ok(tag) || !farm_pipeline_ref_ok(image)) {
			add_err(errors, "stages[%zu].config.tag renders to '%s', which is not a valid "
					"image reference",
				i, image);
			continue;
		}
		rs = json_pack("{s:O,s:O,s:s,s:s,s:s,s:n,s:n,s:n,s:n,s:O}", "name",
			       json_object_get(st, "name"), "type", json_object_get(st, "type"),
			       "status", "pending", "tag", tag, "image", image, "startedAt",
			       "finishedAt", "error", "exitCode", "config", cfg);
		if (!rs || json_array_append_new(res, rs) != 0)
			add_err(errors, "out of memory");
	}
	if (json_array_size(errors) != before) {
		json_decref(res);
		return (int)(json_array_size(errors) - before);
	}
	*stages = res;
	return 0;
}

static int uuid_ok(const char *s)
{
	if (!s || strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

int farm_pipeline_log_path(const char *state_dir, const char *run_id, char *out, size_t cap)
{
	int n;

	if (!state_dir || !*state_dir || !uuid_ok(run_id))
		return FARM_E_INVAL;
	n = snprintf(out, cap, "%s/runs/%s.log", state_dir, run_id);
	if (n < 0 || (size_t)n >= cap)
		return FARM_E_TOOBIG;
	return FARM_OK;
}

/* ---- queue and events ----------------------------------------------------------------- */

int farm_pipeline_queue_key(long long created_ms, const char *run_id, char *out, size_t cap)
{
	int n;

	if (!uuid_ok(run_id) || created_ms < 0)
		return FARM_E_INVAL;
	n = snprintf(out, cap, FARM_PIPELINE_QUEUE_PREFIX "%016llx:%s",
		     (unsigned long long)created_ms, run_id);
	if (n < 0 || (size_t)n >= cap)
		return FARM_E_TOOBIG;
	return n;
}

/* json_string of s, or null. */
static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* A run with candor stages: the event's providerStatus is the last Candor runner's
 * word (Passed, Failed, Error) and "stages" lists every Candor stage that ran,
 * {"name","status","providerStatus","exitCode"}, status normalised (providers.md
 * §9.2: Passed success, Failed failed, Error error, Skipped unknown).  Nonzero when
 * out of memory. */
static int candor_event(json_t *run, json_t *data)
{
	json_t *st, *list = NULL, *s;
	const char *word = NULL;
	size_t i, k;
	int bad = 0;

	json_array_foreach(json_object_get(run, "stages"), i, st)
	{
		json_t *runner = json_object_get(st, "runner");
		if (!json_is_object(runner))
			continue;
		if (json_string_value(json_object_get(runner, "status")))
			word = json_string_value(json_object_get(runner, "status"));
		if (!list && !(list = json_array()))
			return 1;
		json_array_foreach(json_object_get(runner, "stages"), k, s)
		{
			const char *w = json_string_value(json_object_get(s, "status"));
			json_t *code = json_object_get(s, "exitCode");
			json_t *o = json_pack("{s:O,s:s,s:s?,s:O}", "name",
					      json_object_get(s, "name") ?: json_null(), "status",
					      farm_event_status("candor", "stage", w), "providerStatus",
					      w, "exitCode", json_is_integer(code) ? code : json_null());
			if (!o || json_array_append_new(list, o))
				bad = 1;
		}
	}
	if (!list)
		return 0;
	bad |= json_object_set_new(data, "stages", list);
	if (word)
		bad |= json_object_set_new(data, "providerStatus", json_string(word));
	return bad;
}

json_t *farm_pipeline_run_event(json_t *run, const char *now_iso)
{
	const char *pid = json_string_value(json_object_get(run, "pipelineId"));
	const char *rid = json_string_value(json_object_get(run, "id"));
	const char *status = json_string_value(json_object_get(run, "status"));
	json_t *data, *num = json_object_get(run, "number");
	char url[200];
	int bad;

	if (!pid || !rid || !status)
		return NULL;
	snprintf(url, sizeof(url), "/api/v1/pipelines/%s/runs/%s", pid, rid);
	data = json_object();
	if (!data)
		return NULL;
	bad = json_object_set_new(data, "id", json_null());
	bad |= json_object_set_new(data, "provider", json_string("farm"));
	bad |= json_object_set(data, "orgId", json_object_get(run, "orgId")
						       ? json_object_get(run, "orgId")
						       : json_null());
	bad |= json_object_set_new(data, "credentialId", json_null());
	bad |= json_object_set_new(data, "project", json_string(pid));
	bad |= json_object_set_new(
		data, "name", str_or_null(json_string_value(json_object_get(run, "pipelineName"))));
	bad |= json_object_set_new(data, "buildId", json_string(rid));
	bad |= json_object_set(data, "number", json_is_integer(num) ? num : json_null());
	bad |= json_object_set_new(data, "status", json_string(status));
	bad |= json_object_set_new(data, "providerStatus", json_string(status));
	bad |= json_object_set_new(data, "branch", json_null());
	bad |= json_object_set_new(
		data, "commitSha", str_or_null(json_string_value(json_object_get(run, "commitSha"))));
	bad |= json_object_set_new(data, "url", json_string(url));
	bad |= json_object_set_new(
		data, "startedAt", str_or_null(json_string_value(json_object_get(run, "startedAt"))));
	bad |= json_object_set_new(
		data, "finishedAt", str_or_null(json_string_value(json_object_get(run, "finishedAt"))));
	bad |= json_object_set_new(data, "receivedAt", str_or_null(now_iso));
	bad |= json_object_set_new(
		data, "version", str_or_null(json_string_value(json_object_get(run, "version"))));
	bad |= json_object_set_new(data, "error",
				   str_or_null(json_string_value(json_object_get(run, "error"))));
	bad |= candor_event(run, data);
	if (bad) {
		json_decref(data);
		return NULL;
	}
	return json_pack("{s:s,s:o}", "event", FARM_EVENT_BUILD_UPDATED, "data", data);
}

json_t *farm_pipeline_run_public(json_t *run)
{
	json_t *p = json_deep_copy(run);

	if (p)
		json_object_del(p, "queueKey");
	return p;
}
