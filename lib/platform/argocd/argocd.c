/* argocd.c - the Argo CD module: Argo CD's REST API (grpc-gateway v1; providers.md §1).
 *
 * Auth: Authorization: Bearer <token>.  Errors: {"error","code","message"}.
 * Without ?project= Argo CD answers 403 "permission denied" both for a missing
 * application and for one the token may not see, so on a named application 403
 * means "not found" to farm; on the list it means the token was refused.
 * "another operation is already in progress" (FailedPrecondition, HTTP 400) and a
 * sync window block (403) are conflicts (409).
 */
#include "argocd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "banned.h"

static int argocd_auth(struct farm_provider_call *c, json_t *value, const char **hdr)
{
	return farm_platform_token_auth(c, value, "token", "Authorization: Bearer %s", hdr);
}

static void argocd_message(const char *body, size_t len, json_t *json, char *out, size_t cap)
{
	const char *m = json_string_value(json_object_get(json, "message"));

	(void)body;
	(void)len;
	if (!m || !*m)
		m = json_string_value(json_object_get(json, "error"));
	snprintf(out, cap, "%s", m ? m : "");
}

int farm_provider_argocd_name_ok(const char *name, char *why, size_t cap)
{
	size_t n = name ? strlen(name) : 0;

	/* A Kubernetes object name (RFC 1123 subdomain): what Argo CD accepts. */
	if (!n) {
		snprintf(why, cap, "application name must not be empty");
		return 0;
	}
	if (n > 253) {
		snprintf(why, cap, "application name must be at most 253 characters");
		return 0;
	}
	if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-.") != n || name[0] == '-' ||
	    name[0] == '.' || name[n - 1] == '-' || name[n - 1] == '.' || strstr(name, "..")) {
		snprintf(why, cap, "application name must be lower-case letters, digits, '-' and "
				   "'.', starting and ending with a letter or digit");
		return 0;
	}
	return 1;
}

int farm_provider_argocd_list(struct farm_provider_call *c, json_t **out)
{
	json_t *list = NULL, *items;
	int rc;

	*out = NULL;
	rc = farm_provider_get_json(c, "/api/v1/applications", NULL, 0, &list);
	if (rc != FARM_OK)
		return rc;
	items = json_object_get(list, "items");
	if (!json_is_object(list) || (items && !json_is_array(items) && !json_is_null(items))) {
		json_decref(list);
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	}
	/* Argo CD leaves "items" out (or null) when there is none. */
	*out = json_is_array(items) ? json_incref(items) : json_array();
	json_decref(list);
	return FARM_OK;
}

int farm_provider_argocd_get(struct farm_provider_call *c, const char *name, json_t **out)
{
	char why[200], *what, *path;
	const char *enc;
	int rc;

	*out = NULL;
	if (!farm_provider_argocd_name_ok(name, why, sizeof(why)))
		return farm_provider_bad_input(c, "%s", why);
	enc = farm_provider_pct(c->arena, name);
	what = farm_arena_printf(c->arena, "application '%s'", name);
	path = enc ? farm_arena_printf(c->arena, "/api/v1/applications/%s", enc) : NULL;
	if (!path || !what)
		return farm_provider_nomem(c);
	rc = farm_provider_get_json(c, path, what, FARM_PROVIDER_FORBIDDEN_IS_NOTFOUND, out);
	if (rc == FARM_OK && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return farm_provider_fail(c, FARM_PO_GARBAGE, NULL, NULL);
	}
	return rc;
}

/* Copies the sync options farm passes on, checking their types. */
static int sync_body(struct farm_provider_call *c, const char *name, json_t *in, json_t **out)
{
	static const char *const known[] = {"revision", "prune",     "dryRun",
					    "strategy", "resources", "syncOptions"};
	json_t *b = json_object(), *v;
	const char *k;

	*out = NULL;
	if (!b)
		return farm_provider_nomem(c);
	json_object_set_new(b, "name", json_string(name));
	if (in && !json_is_object(in)) {
		json_decref(b);
		return farm_provider_bad_input(c, "request body must be a JSON object");
	}
	json_object_foreach(in, k, v)
	{
		size_t i;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(k, known[i]))
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			json_decref(b);
			return farm_provider_bad_input(c, "property %.100s should not exist", k);
		}
	}
	if ((v = json_object_get(in, "revision"))) {
		if (!json_is_string(v) || json_string_length(v) > 255) {
			json_decref(b);
			return farm_provider_bad_input(c, "revision must be a string of at most 255 "
							  "characters");
		}
		json_object_set(b, "revision", v);
	}
	const char *bools[] = {"prune", "dryRun"};
	for (size_t i = 0; i < 2; i++)
		if ((v = json_object_get(in, bools[i]))) {
			if (!json_is_boolean(v)) {
				json_decref(b);
				return farm_provider_bad_input(c, "%s must be a boolean", bools[i]);
			}
			json_object_set(b, bools[i], v);
		}
	if ((v = json_object_get(in, "strategy"))) {
		/* {"apply":{"force":bool}} or {"hook":{"force":bool}} */
		json_t *kind = json_object_get(v, "apply") ? json_object_get(v, "apply")
							   : json_object_get(v, "hook");
		if (!json_is_object(v) || json_object_size(v) != 1 || !json_is_object(kind) ||
		    (json_object_get(kind, "force") &&
		     !json_is_boolean(json_object_get(kind, "force")))) {
			json_decref(b);
			return farm_provider_bad_input(c, "strategy must be {\"apply\":{\"force\":"
							  "bool}} or {\"hook\":{\"force\":bool}}");
		}
		json_object_set(b, "strategy", v);
	}
	if ((v = json_object_get(in, "resources"))) {
		size_t i;
		json_t *res;
		if (!json_is_array(v) || json_array_size(v) > 1000) {
			json_decref(b);
			return farm_provider_bad_input(c, "resources must be an array");
		}
		json_array_foreach(v, i, res)
		{
			const char *fields[] = {"group", "kind", "name", "namespace"};
			int bad = !json_is_object(res) || !json_is_string(json_object_get(res, "kind")) ||
				  !json_is_string(json_object_get(res, "name"));
			for (size_t f = 0; !bad && f < 4; f++) {
				json_t *fv = json_object_get(res, fields[f]);
				bad = fv && !json_is_string(fv);
			}
			if (bad) {
				json_decref(b);
				return farm_provider_bad_input(
					c, "resources[%zu] must be {group,kind,name,namespace} with "
					   "string values (kind and name required)", i);
			}
		}
		json_object_set(b, "resources", v);
	}
	if ((v = json_object_get(in, "syncOptions"))) {
		/* Argo CD wants {"items":[...]}; a bare array is accepted too. */
		json_t *items = json_is_array(v) ? v : json_object_get(v, "items");
		size_t i;
		json_t *it;
		int bad = !json_is_array(items) || (json_is_object(v) && json_object_size(v) != 1);
		json_array_foreach(items, i, it) bad |= !json_is_string(it);
		if (bad) {
			json_decref(b);
			return farm_provider_bad_input(c, "syncOptions must be an array of strings "
							  "or {\"items\":[strings]}");
		}
		json_object_set_new(b, "syncOptions", json_pack("{s:O}", "items", items));
	}
	*out = b;
	return FARM_OK;
}

int farm_provider_argocd_sync(struct farm_provider_call *c, const char *name, json_t *body,
			      json_t **out)
{
	struct farm_provider_resp r;
	json_t *req = NULL;
	char why[200], *path, *what;
	const char *enc;
	int rc, outcome;

	*out = NULL;
	if (!farm_provider_argocd_name_ok(name, why, sizeof(why)))
		return farm_provider_bad_input(c, "%s", why);
	if ((rc = sync_body(c, name, body, &req)) != FARM_OK)
		return rc;
	enc = farm_provider_pct(c->arena, name);
	path = enc ? farm_arena_printf(c->arena, "/api/v1/applications/%s/sync", enc) : NULL;
	what = farm_arena_printf(c->arena, "application '%s'", name);
	if ((rc = farm_platform_post_json(c, path, what, req, &r)) != FARM_OK)
		return rc;
	outcome = r.outcome;
	if (strstr(r.message, "another operation is already in progress") ||
	    strstr(r.message, "blocked by sync window"))
		outcome = FARM_PO_CONFLICT;
	else if (outcome == FARM_PO_REFUSED && r.status == 403)
		outcome = FARM_PO_NOTFOUND; /* "permission denied": missing or not visible */
	else if (outcome == FARM_PO_OK && !json_is_object(r.json))
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

/* ---- the module ------------------------------------------------------------------ */

static int rd_apps(struct farm_provider_call *c, const void *a, json_t **out)
{
	(void)a;
	return farm_provider_argocd_list(c, out);
}

static int rd_app(struct farm_provider_call *c, const void *name, json_t **out)
{
	return farm_provider_argocd_get(c, name, out);
}

static int op_apps(struct farm_provider_call *c, const struct farm_platform_in *in,
		   struct farm_platform_out *o)
{
	return farm_platform_read(c, "argocd.applications", rd_apps, NULL, o);
}

static int op_app(struct farm_provider_call *c, const struct farm_platform_in *in,
		  struct farm_platform_out *o)
{
	return farm_platform_read(c, farm_arena_printf(c->arena, "argocd.application %s",
						       in->params[0]),
				  rd_app, in->params[0], o);
}

static int op_sync(struct farm_provider_call *c, const struct farm_platform_in *in,
		   struct farm_platform_out *o)
{
	int rc = farm_provider_argocd_sync(c, in->params[0], in->body, &o->json);

	if (rc == FARM_OK)
		o->log = farm_arena_printf(c->arena, "argocd: sync of %s requested", in->params[0]);
	return rc;
}

/* ---- runs (platforms.md §5): runId = the application's name ------------------------
 *
 * An application's run is its current state (the last operation, health and sync);
 * a rerun is a sync with Argo CD's defaults, a cancel terminates the running
 * operation.  Argo CD keeps no log of an operation: no log hook. */

static int run_parse(const char *id, char *why, size_t cap)
{
	return !farm_provider_argocd_name_ok(id, why, cap);
}

static int run_of_app(struct farm_provider_call *c, const char *name, json_t *app, json_t **run)
{
	json_t *sum = farm_provider_argocd_summary(app);

	*run = sum ? farm_provider_argocd_run(name, sum) : NULL;
	json_decref(sum);
	return *run ? FARM_OK : farm_provider_nomem(c);
}

static int run_get(struct farm_provider_call *c, const char *id, json_t **run)
{
	json_t *app = NULL;
	int rc;

	*run = NULL;
	if ((rc = farm_provider_argocd_get(c, id, &app)) == FARM_OK)
		rc = run_of_app(c, id, app, run);
	json_decref(app);
	return rc;
}

static int run_rerun(struct farm_provider_call *c, const char *id, json_t **run)
{
	json_t *app = NULL;
	int rc;

	*run = NULL;
	if ((rc = farm_provider_argocd_sync(c, id, NULL, &app)) == FARM_OK)
		rc = run_of_app(c, id, app, run);
	json_decref(app);
	return rc;
}

/* DELETE /api/v1/applications/:name/operation.  No operation running: Argo CD's
 * FailedPrecondition (400) "Unable to terminate operation. No operation is in
 * progress" becomes 409. */
static int run_cancel(struct farm_provider_call *c, const char *id)
{
	struct farm_provider_resp r;
	const char *enc = farm_provider_pct(c->arena, id);
	char *path = enc ? farm_arena_printf(c->arena, "/api/v1/applications/%s/operation", enc)
			 : NULL;
	char *what = farm_arena_printf(c->arena, "application '%s'", id);
	int rc, outcome;

	if (!path || !what)
		return farm_provider_nomem(c);
	if ((rc = farm_provider_send(c, "DELETE", path, NULL, 0, NULL, NULL, 0, &r)) != FARM_OK)
		return rc;
	outcome = r.outcome;
	if (strcasestr(r.message, "no operation is in progress"))
		outcome = FARM_PO_CONFLICT;
	else if (outcome == FARM_PO_REFUSED && r.status == 403)
		outcome = FARM_PO_NOTFOUND; /* "permission denied": missing or not visible */
	rc = farm_provider_fail(c, outcome, &r, what);
	farm_provider_resp_clear(&r);
	return rc;
}

static const struct farm_platform_runs argocd_runs = {
	.parse = run_parse,
	.get = run_get,
	.rerun = run_rerun,
	.cancel = run_cancel,
};

/* Argo CD Notifications' webhook service: X-Farm-Token or the Basic password. */
static int hook_verify(const struct farm_platform_delivery *d, char **payload, size_t *plen,
		       char *why, size_t cap)
{
	*payload = NULL;
	if (!d->secret || !*d->secret) {
		snprintf(why, cap, "%s", d->cred_id ? "no webhookSecret in that argocd credential"
						    : "no Argo CD webhook token configured");
		return FARM_E_AUTH;
	}
	if (farm_platform_token_verify(d, 0) != FARM_OK) {
		snprintf(why, cap, "bad or missing Argo CD token");
		return FARM_E_AUTH;
	}
	return FARM_OK;
}

/* The delivery -> the application's summary (argocd-app.c). */
static int hook_map(const void *body, size_t len, json_t **fields, char **key,
		    struct farm_error *perr)
{
	*key = NULL;
	return farm_provider_argocd_webhook(body, len, fields, perr);
}

/* One stored observation per application, shared with farm-runner's poller. */
static int hook_observe(struct farm_txn *t, const char *org, const char *cred_id, json_t *sum,
			const char *now, int *emitted)
{
	return farm_provider_argocd_observe(t, org, cred_id,
					    json_string_value(json_object_get(sum, "app")), sum,
					    "webhook", now, emitted);
}

static const struct farm_platform_webhook argocd_webhook = {
	.conf_secret = "webhook.argocd.token",
	.verify = hook_verify,
	.map = hook_map,
	.observe = hook_observe,
};

static const struct farm_cred_field argocd_fields[] = {
	{"url", FARM_CRED_REQUIRED | FARM_CRED_URL},
	{"token", FARM_CRED_REQUIRED | FARM_CRED_SECRET},
	{"webhookSecret", FARM_CRED_SECRET},
	{NULL, 0},
};

static const struct farm_platform_route argocd_routes[] = {
	{"GET", "/applications", FARM_PLATFORM_AUTH | FARM_PLATFORM_LIST, NULL, op_apps},
	{"GET", "/applications/:name", FARM_PLATFORM_AUTH, NULL, op_app},
	{"POST", "/applications/:name/sync", FARM_PLATFORM_ADMIN | FARM_PLATFORM_JSON | FARM_PLATFORM_TRIGGER, NULL,
	 op_sync},
	{NULL, NULL, 0, NULL, NULL},
};

static const struct farm_platform_conf argocd_conf[] = {
	{"webhook.argocd.token", "", 1, "shared token of POST /webhooks/argocd", FARM_CONF_STR, 0, 0},
	{"argocd.poll_interval", "30", 0, "seconds between polls of linked Argo CD apps (0 = off)",
	 FARM_CONF_INT, 0, 86400},
	{NULL, NULL, 0, NULL, FARM_CONF_STR, 0, 0},
};

static const struct farm_platform_status argocd_statuses[] = {
	{"phase", "Running", "running"},
	{"phase", "Terminating", "running"},
	{"phase", "Succeeded", "success"},
	{"phase", "Failed", "failed"},
	{"phase", "Error", "error"},
	{"health", "Progressing", "running"},
	{"health", "Healthy", "success"},
	{"health", "Degraded", "failed"},
	{"health", "Suspended", "unstable"},
	{"health", "Missing", "unstable"},
	{"health", "Unknown", "unknown"},
	{"sync", "Synced", "success"},
	{"sync", "OutOfSync", "unstable"},
	{"sync", "Unknown", "unknown"},
	{NULL, NULL, NULL},
};

const struct farm_platform farm_platform_argocd = {
	.up = {
		.type = "argocd",
		.title = "Argo CD",
		.api_root = "",
		.url_required = 1,
		.auth = argocd_auth,
		.message = argocd_message,
	},
	.fields = argocd_fields,
	.conf = argocd_conf,
	.deploy = &farm_argocd_deploy,
	.routes = argocd_routes,
	.statuses = argocd_statuses,
	.webhook = &argocd_webhook,
	.run_id = "app",
	.runs = &argocd_runs,
};
