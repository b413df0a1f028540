/* argocd-app.c - what farm makes of an Argo CD Application: its normalised status,
 * the CI/CD summary, the Notifications webhook body, and the observation shared by the
 * webhook receiver and the poller (one change, one event).
 */
#include "argocd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "event.h"
#include "json.h"
#include "pipeline.h"
#include "store.h"
#include "banned.h"

/* json_string of s, or null. */
static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

const char *farm_provider_argocd_status(const char *health, const char *sync, const char *phase,
					int op_running, const char **word)
{
	const char *w = NULL, *s;

	if (op_running || (phase && (!strcasecmp(phase, "Running") ||
				     !strcasecmp(phase, "Terminating")))) {
		w = phase && *phase ? phase : "Running";
		s = "running";
	} else if (phase && (!strcasecmp(phase, "Failed") || !strcasecmp(phase, "Error"))) {
		w = phase;
		s = farm_event_status("argocd", "phase", phase);
	} else if (health) {
		w = health;
		s = farm_event_status("argocd", "health", health);
		if (!strcmp(s, "success") && sync &&
		    !strcmp(farm_event_status("argocd", "sync", sync), "unstable")) {
			w = sync;
			s = "unstable";
		}
	} else if (sync) {
		w = sync;
		s = farm_event_status("argocd", "sync", sync);
	} else {
		s = "unknown";
	}
	if (word)
		*word = w;
	return s;
}

/* obj[k1][k2]... as a string, or NULL. */
static const char *path_str(json_t *o, const char *k1, const char *k2, const char *k3)
{
	o = json_object_get(o, k1);
	if (k2)
		o = json_object_get(o, k2);
	if (k3)
		o = json_object_get(o, k3);
	return json_string_value(o);
}

json_t *farm_provider_argocd_summary(json_t *app)
{
	json_t *st = json_object_get(app, "status"), *op = json_object_get(st, "operationState");
	const char *health = path_str(st, "health", "status", NULL);
	const char *sync = path_str(st, "sync", "status", NULL);
	const char *rev = path_str(st, "sync", "revision", NULL);
	const char *phase = path_str(op, "phase", NULL, NULL);
	const char *target = path_str(app, "spec", "source", "targetRevision");
	const char *word = NULL, *status;
	json_t *o = json_object_get(app, "operation");
	int running = json_is_object(o) && json_object_size(o) > 0;

	if (!rev) {
		json_t *revs = json_object_get(json_object_get(st, "sync"), "revisions");
		rev = json_string_value(json_array_get(revs, 0));
	}
	if (!target) {
		json_t *srcs = json_object_get(json_object_get(app, "spec"), "sources");
		target = path_str(json_array_get(srcs, 0), "targetRevision", NULL, NULL);
	}
	status = farm_provider_argocd_status(health, sync, phase, running, &word);
	return json_pack("{s:{s:s?,s:s?},s:{s:s?,s:s?},s:{s:s?,s:s?,s:s?,s:s?},s:s,s:s?,s:s?,s:s?,"
			 "s:s?}",
			 "health", "status", health, "message",
			 path_str(st, "health", "message", NULL), "sync", "status", sync, "revision",
			 rev, "operation", "phase", phase, "startedAt",
			 path_str(op, "startedAt", NULL, NULL), "finishedAt",
			 path_str(op, "finishedAt", NULL, NULL), "message",
			 path_str(op, "message", NULL, NULL), "status", status, "providerStatus",
			 word, "project", path_str(app, "spec", "project", NULL), "targetRevision",
			 target, "reconciledAt", path_str(st, "reconciledAt", NULL, NULL));
}

/* A webhook's flat word: a string (empty or "<no value>" = absent) or null. */
static int flat_word(json_t *in, const char *key, const char **out, struct farm_error *err)
{
	json_t *v = json_object_get(in, key);
	const char *s;

	*out = NULL;
	if (!v || json_is_null(v))
		return FARM_OK;
	if (!json_is_string(v) || json_string_length(v) > 1024 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return farm_error_set(err, FARM_E_INVAL, "%s must be a string", key);
	s = json_string_value(v);
	if (*s && strcmp(s, "<no value>") != 0)
		*out = s;
	return FARM_OK;
}

int farm_provider_argocd_webhook(const void *body, size_t len, json_t **out,
				 struct farm_error *err)
{
	static const char *const flat[] = {"health",  "sync",	"phase",   "revision",
					   "startedAt", "finishedAt", "message", "project"};
	const char *w[8] = {0}, *name = NULL;
	json_error_t je;
	json_t *in, *app, *made = NULL, *sum = NULL;
	char why[200];
	int rc;

	*out = NULL;
	if (len > FARM_EVENT_BODY_MAX)
		return farm_error_set(err, FARM_E_TOOBIG, "body over %d bytes", FARM_EVENT_BODY_MAX);
	in = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!in)
		return farm_error_set(err, FARM_E_INVAL, "malformed JSON at line %d, column %d "
							 "(byte %d): %s",
				      je.line, je.column, je.position, farm_json_error_reason(&je));
	rc = FARM_E_INVAL;
	if (!json_is_object(in)) {
		farm_error_set(err, rc, "the body must be a JSON object");
		goto out;
	}
	app = json_object_get(in, "app");
	if (!app && json_is_object(json_object_get(in, "metadata")))
		app = in; /* a bare Application */
	if (json_is_object(app)) {
		name = path_str(app, "metadata", "name", NULL);
	} else if (json_is_string(app)) {
		name = json_string_value(app);
		for (size_t i = 0; i < 8; i++)
			if ((rc = flat_word(in, flat[i], &w[i], err)) != FARM_OK)
				goto out;
		rc = FARM_E_INVAL;
		/* The flat words, shaped as an Application for one code path. */
		made = json_pack("{s:{s:s?},s:{s:{s:s?},s:{s:s?,s:s?},s:{s:s?,s:s?,s:s?,s:s?}}}",
				 "spec", "project", w[7], "status", "health", "status", w[0], "sync",
				 "status", w[1], "revision", w[3], "operationState", "phase", w[2],
				 "startedAt", w[4], "finishedAt", w[5], "message", w[6]);
		if (!made) {
			rc = farm_error_set(err, FARM_E_NOMEM, "out of memory");
			goto out;
		}
		app = made;
	} else {
		farm_error_set(err, rc, "app must be the application's name or object");
		goto out;
	}
	if (!name || !farm_provider_argocd_name_ok(name, why, sizeof(why))) {
		farm_error_set(err, rc, "%s", name ? why : "no application name in the body");
		goto out;
	}
	sum = farm_provider_argocd_summary(app);
	if (!sum || json_object_set_new(sum, "app", json_string(name)) != 0) {
		rc = farm_error_set(err, FARM_E_NOMEM, "out of memory");
		goto out;
	}
	*out = sum;
	sum = NULL;
	rc = FARM_OK;
out:
	json_decref(sum);
	json_decref(made);
	json_decref(in);
	return rc;
}

#define OBS_PREFIX "argocd.obs:"

/* A timestamp as the event carries it (ms precision), or NULL. */
static json_t *iso_or_null(const char *s)
{
	char buf[FARM_EVENT_TS_LEN];

	if (!s || farm_event_iso8601_norm(s, strlen(s), buf) != FARM_OK)
		return json_null();
	return json_string(buf);
}

static json_t *observe_event(const char *org, const char *cred_id, const char *app,
			     json_t *summary, const char *source, const char *now_iso)
{
	const char *rev = path_str(summary, "sync", "revision", NULL);
	json_t *data = json_object(), *op = json_object_get(summary, "operation");
	int bad = !data;

	/* buildId is the runId (platforms.md §5): the application's name; the revision is
	 * commitSha.  One event per change of the stored observation (below), not per buildId. */
	bad |= json_object_set_new(data, "id", json_null());
	bad |= json_object_set_new(data, "provider", json_string("argocd"));
	bad |= json_object_set_new(data, "orgId", str_or_null(org));
	bad |= json_object_set_new(data, "credentialId", str_or_null(cred_id));
	bad |= json_object_set_new(data, "project",
				   str_or_null(path_str(summary, "project", NULL, NULL)));
	bad |= json_object_set_new(data, "name", json_string(app));
	bad |= json_object_set_new(data, "buildId", json_string(app));
	bad |= json_object_set_new(data, "number", json_null());
	bad |= json_object_set(data, "status", json_object_get(summary, "status"));
	bad |= json_object_set_new(data, "providerStatus",
				   str_or_null(path_str(summary, "providerStatus", NULL, NULL)));
	bad |= json_object_set_new(data, "branch",
				   str_or_null(path_str(summary, "targetRevision", NULL, NULL)));
	bad |= json_object_set_new(data, "commitSha", str_or_null(rev));
	bad |= json_object_set_new(data, "url", json_null());
	bad |= json_object_set_new(data, "startedAt",
				   iso_or_null(path_str(op, "startedAt", NULL, NULL)));
	bad |= json_object_set_new(data, "finishedAt",
				   iso_or_null(path_str(op, "finishedAt", NULL, NULL)));
	bad |= json_object_set_new(data, "receivedAt", str_or_null(now_iso));
	bad |= json_object_set_new(data, "health",
				   str_or_null(path_str(summary, "health", "status", NULL)));
	bad |= json_object_set_new(data, "sync",
				   str_or_null(path_str(summary, "sync", "status", NULL)));
	bad |= json_object_set_new(data, "phase", str_or_null(path_str(op, "phase", NULL, NULL)));
	bad |= json_object_set_new(data, "source", str_or_null(source));
	if (bad) {
		json_decref(data);
		return NULL;
	}
	return json_pack("{s:s,s:o}", "event", FARM_EVENT_BUILD_UPDATED, "data", data);
}

json_t *farm_provider_argocd_run(const char *app, json_t *summary)
{
	json_t *ev = observe_event(NULL, NULL, app, summary, NULL, NULL);
	json_t *run = json_incref(json_object_get(ev, "data"));

	json_decref(ev);
	if (!run)
		return NULL;
	json_object_del(run, "id");
	json_object_del(run, "orgId");
	json_object_del(run, "credentialId");
	json_object_del(run, "receivedAt");
	json_object_del(run, "source");
	return run;
}

int farm_provider_argocd_observe(struct farm_txn *t, const char *org, const char *cred_id,
				 const char *app, json_t *summary, const char *source,
				 const char *now_iso, int *emitted)
{
	json_t *op = json_object_get(summary, "operation"), *fp = NULL, *old = NULL, *ev = NULL;
	char key[sizeof(OBS_PREFIX) + 2 * 512];
	char *fps = NULL, *evs = NULL;
	void *val = NULL;
	size_t vlen = 0, pl = sizeof(OBS_PREFIX) - 1;
	int kl, rc;

	*emitted = 0;
	if (!app)
		return FARM_E_INVAL;
	memcpy(key, OBS_PREFIX, pl);
	kl = farm_pipeline_catalog_key(org, app, key + pl, sizeof(key) - pl);
	if (kl < 0)
		return kl;
	fp = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?}", "health",
		       path_str(summary, "health", "status", NULL), "sync",
		       path_str(summary, "sync", "status", NULL), "phase",
		       path_str(op, "phase", NULL, NULL), "revision",
		       path_str(summary, "sync", "revision", NULL), "finishedAt",
		       path_str(op, "finishedAt", NULL, NULL));
	if (!fp)
		return FARM_E_NOMEM;
	rc = farm_txn_get(t, FARM_T_META, key, pl + (size_t)kl, &val, &vlen, 1);
	if (rc == FARM_OK)
		old = json_loadb(val, vlen, 0, NULL);
	else if (rc != FARM_E_NOTFOUND)
		goto out;
	rc = FARM_OK;
	if (old && json_equal(old, fp))
		goto out; /* nothing changed */
	rc = FARM_E_NOMEM;
	fps = json_dumps(fp, JSON_COMPACT | JSON_SORT_KEYS);
	ev = observe_event(org, cred_id, app, summary, source, now_iso);
	evs = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	if (!fps || !evs)
		goto out;
	rc = farm_txn_put(t, FARM_T_META, key, pl + (size_t)kl, NULL, fps, strlen(fps), 0);
	if (rc == FARM_OK)
		rc = farm_txn_outbox_append(t, evs, strlen(evs));
	if (rc == FARM_OK)
		*emitted = 1;
out:
	free(val);
	free(fps);
	free(evs);
	json_decref(ev);
	json_decref(old);
	json_decref(fp);
	return rc;
}

/* ---- the descriptor's deploy hooks (platform.h) ---------------------------------------- */

static int deploy_view(struct farm_provider_call *c, const char *name, json_t **out)
{
	json_t *app = NULL;
	int rc;

	*out = NULL;
	rc = farm_provider_argocd_get(c, name, &app);
	if (rc != FARM_OK)
		return rc;
	*out = farm_provider_argocd_summary(app);
	json_decref(app);
	return *out ? FARM_OK : farm_provider_nomem(c);
}

static long deploy_poll_interval(const struct farm_conf *conf)
{
	return farm_conf_num(conf, "argocd.poll_interval");
}

const struct farm_platform_deploy farm_argocd_deploy = {
	.field = "argocdApp",
	.object = "an Argo CD application",
	.target_ok = farm_provider_argocd_name_ok,
	.view = deploy_view,
	.poll_interval = deploy_poll_interval,
	.observe = farm_provider_argocd_observe,
};
