/* farm-fcgi-catalog.c - catalog components linked to their deployment (an object of
 * the platform whose descriptor has a deploy hook, platform.h) and the component
 * page's CI/CD tab.
 *
 *   GET    /api/v1/catalog/components            the org's links (JWT)
 *   GET    /api/v1/catalog/components/:id        one link, 404 when none (JWT)
 *   PATCH  /api/v1/catalog/components/:id        {"<field>":"<target>"|null} (admin)
 *   GET    /api/v1/catalog/components/:id/cicd   live status of the linked target (JWT)
 *
 * A link lives in FARM_T_CATALOG under "o<org>\0<id>" (or "n\0<id>" without org), so
 * two orgs may use the same component id and neither sees the other's.  The CI/CD tab
 * reads the target through the platform's deploy view (cached like every read) with
 * the org's credential of that platform (the most recently updated, or ?credentialId=).
 * The link's member ("<field>") and what a valid target is are the descriptor's.
 *
 * The platform's webhook, if any, is its module's, received by farm-fcgi-webhooks.c
 * like every platform's.
 */
#include "farm-fcgi.h"
#include "farm-fcgi-pcall.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cache.h"
#include "clock.h"
#include "creds.h"
#include "event.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "pipeline.h"
#include "platform.h"
#include "provider.h"
#include "webhook.h"
#include "banned.h"

#define KEY_MAX (2 + FARM_CLAIM_MAX + FARM_PIPELINE_COMPONENT_MAX + 8)

/* ---- links ------------------------------------------------------------------------- */

/* The component id of the path, checked; NULL when an error was answered. */
static const char *component_param(struct farm_req *r)
{
	const char *id = r->params[0], *why;

	if (!farm_pipeline_component_id_ok(id, strlen(id), &why)) {
		farm_req_fail(r, FARM_E_INVAL, "%s", why);
		return NULL;
	}
	return id;
}

struct link_io {
	const char *key;
	size_t klen;
	const char *org, *id;
	const char *field; /* patch: the deploy field */
	json_t *set;      /* patch: the target (string) or null */
	json_t *link;     /* out: the stored link, or NULL */
	int existed;
	const struct farm_req *r;      /* patch: the caller, for the audit record */
	const char *platform;          /* patch: the deployer's type */
};

static int link_get_txn(struct farm_txn *t, void *arg)
{
	struct link_io *l = arg;
	void *val = NULL;
	size_t vlen = 0;
	int rc;

	json_decref(l->link);
	l->link = NULL;
	rc = farm_txn_get(t, FARM_T_CATALOG, l->key, l->klen, &val, &vlen, 0);
	if (rc == FARM_E_NOTFOUND)
		return FARM_OK;
	if (rc == FARM_OK && !(l->link = json_loadb(val, vlen, 0, NULL)))
		rc = FARM_E_DB;
	free(val);
	return rc;
}

static int link_patch_txn(struct farm_txn *t, void *arg)
{
	struct link_io *l = arg;
	json_t *old = NULL, *rec = NULL;
	void *val = NULL;
	size_t vlen = 0;
	char now[25], *s = NULL;
	int rc;

	json_decref(l->link);
	l->link = NULL;
	l->existed = 0;
	rc = farm_txn_get(t, FARM_T_CATALOG, l->key, l->klen, &val, &vlen, 1);
	if (rc == FARM_OK)
		old = json_loadb(val, vlen, 0, NULL);
	else if (rc != FARM_E_NOTFOUND)
		goto out;
	l->existed = rc == FARM_OK;
	if (json_is_null(l->set)) {
		rc = l->existed ? farm_txn_del(t, FARM_T_CATALOG, l->key, l->klen) : FARM_OK;
		goto audit;
	}
	farm_clock_iso(farm_clock_ms(), now);
	rec = json_pack("{s:s,s:O,s:s?,s:s,s:s}", "id", l->id, l->field, l->set, "orgId", l->org,
			"createdAt",
			json_string_value(json_object_get(old, "createdAt"))
				? json_string_value(json_object_get(old, "createdAt"))
				: now,
			"updatedAt", now);
	rc = FARM_E_NOMEM;
	if (!rec || !(s = json_dumps(rec, JSON_COMPACT)))
		goto out;
	rc = farm_txn_put(t, FARM_T_CATALOG, l->key, l->klen, l->org, s, strlen(s), 0);
	if (rc == FARM_OK) {
		l->link = rec;
		rec = NULL;
	}
audit:
	/* A link and an unlink alike: catalog.link of the component. */
	if (rc == FARM_OK) {
		struct farm_audit a;
		if (farm_fcgi_audit(l->r, &a, "catalog.link", l->platform, l->id, NULL))
			rc = farm_audit_txn_add(t, &a, NULL);
	}
out:
	farm_json_free(s);
	json_decref(rec);
	json_decref(old);
	free(val);
	return rc;
}

/* Fills l's key from the caller's org and the component id. */
static int link_key(struct farm_req *r, struct link_io *l, const char *id)
{
	char *key = farm_arena_alloc(r->arena, KEY_MAX);
	int n;

	memset(l, 0, sizeof(*l));
	l->org = farm_req_org(r);
	l->id = id;
	n = key ? farm_pipeline_catalog_key(l->org, id, key, KEY_MAX) : FARM_E_NOMEM;
	if (n < 0)
		return farm_req_fail(r, FARM_E_INTERNAL, "cannot build the key");
	l->key = key;
	l->klen = (size_t)n;
	return 0;
}

/* The platform of catalog links; NULL when an error was answered. */
static const struct farm_platform *deployer(struct farm_req *r)
{
	const struct farm_platform *p = farm_platform_deployer();

	if (!p)
		farm_req_fail(r, FARM_E_NOTFOUND, "No platform takes catalog links");
	return p;
}

static int not_linked(struct farm_req *r, const struct farm_platform *p, const char *id)
{
	return farm_req_fail(r, FARM_E_NOTFOUND, "Component %s is not linked to %s", id, p->deploy->object);
}

/* Reads the link of component `id` (the :id parameter, NULL when it was refused) into
 * l and its platform into *p; 0, or the status of the error answered. */
static int link_load(struct farm_req *r, const char *id, const struct farm_platform **p,
		     struct link_io *l)
{
	struct farm_app *app = r->app;
	int rc;

	if (!id || !(*p = deployer(r)) || link_key(r, l, id))
		return r->status;
	rc = farm_store_run(app->store, link_get_txn, l);
	if (rc != FARM_OK) {
		json_decref(l->link);
		return farm_req_store_fail(r, rc);
	}
	if (!l->link)
		return not_linked(r, *p, id);
	return 0;
}

int farm_h_catalog_get(struct farm_req *r)
{
	const char *id = component_param(r);
	const struct farm_platform *p;
	struct link_io l;
	int rc;

	if ((rc = link_load(r, id, &p, &l)))
		return rc;
	return farm_req_json(r, 200, l.link);
}

int farm_h_catalog_patch(struct farm_req *r)
{
	struct farm_app *app = r->app;
	const char *id = component_param(r), *k, *field;
	const struct farm_platform *p;
	json_t *errors, *v, *set;
	struct link_io l;
	char why[200];
	int rc;

	if (!id || !(p = deployer(r)))
		return r->status;
	field = p->deploy->field;
	errors = json_array();
	json_object_foreach(r->in, k, v)
	{
		if (strcmp(k, field) != 0) {
			snprintf(why, sizeof(why), "property %.150s should not exist", k);
			json_array_append_new(errors, json_string(why));
		}
	}
	set = json_object_get(r->in, field);
	if (!set) {
		snprintf(why, sizeof(why), "%s is required: %s name, or null to unlink", field,
			 p->deploy->object);
		json_array_append_new(errors, json_string(why));
	} else if (!json_is_null(set) && !json_is_string(set)) {
		snprintf(why, sizeof(why), "%s must be a string or null", field);
		json_array_append_new(errors, json_string(why));
	} else if (json_is_string(set) &&
		   strlen(json_string_value(set)) != json_string_length(set)) {
		snprintf(why, sizeof(why), "%s must not contain NUL", field);
		json_array_append_new(errors, json_string(why));
	} else if (json_is_string(set) &&
		   !p->deploy->target_ok(json_string_value(set), why, sizeof(why))) {
		json_array_append_new(errors, json_string(why));
	}
	if (json_array_size(errors))
		return farm_req_fail_list(r, FARM_E_INVAL, errors);
	json_decref(errors);
	if (link_key(r, &l, id))
		return r->status;
	l.field = field;
	l.set = set;
	l.r = r;
	l.platform = p->up.type;
	rc = farm_store_run(app->store, link_patch_txn, &l);
	if (rc != FARM_OK) {
		json_decref(l.link);
		return farm_req_store_fail(r, rc);
	}
	if (json_is_null(set)) {
		farm_log(FARM_LOG_INFO, r->id, 0, "component %s unlinked", id);
		return farm_req_json(r, 200, json_pack("{s:s,s:n}", "id", id, field));
	}
	farm_log(FARM_LOG_INFO, r->id, 0, "component %s linked to %s %s", id, p->up.type,
		 json_string_value(set));
	return farm_req_json(r, 200, l.link);
}

struct list_io {
	const char *org;
	json_t *items;
};

static int list_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct list_io *l = arg;
	json_t *rec = json_loadb(val, vlen, 0, NULL);

	(void)key;
	(void)klen;
	if (rec)
		json_array_append_new(l->items, rec);
	return FARM_OK;
}

static int list_txn(struct farm_txn *t, void *arg)
{
	struct list_io *l = arg;

	json_array_clear(l->items);
	return farm_txn_scan(t, FARM_T_CATALOG, l->org, 0, list_cb, l);
}

int farm_h_catalog_list(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct list_io l = {farm_req_org(r), json_array()};
	int rc;

	if (!l.items)
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	rc = farm_store_run(app->store, list_txn, &l);
	if (rc != FARM_OK) {
		json_decref(l.items);
		return farm_req_store_fail(r, rc);
	}
	return farm_req_json(r, 200, l.items); /* key order: by component id */
}

/* ---- the CI/CD tab ---------------------------------------------------------------- */

int farm_h_catalog_cicd(struct farm_req *r)
{
	const char *id = component_param(r), *name;
	const struct farm_platform *p;
	struct farm_pcall pc;
	struct link_io l;
	json_t *sum = NULL;
	int rc;

	if ((rc = link_load(r, id, &p, &l)))
		return rc;
	name = farm_arena_strdup(r->arena,
				 json_string_value(json_object_get(l.link, p->deploy->field)));
	json_decref(l.link);
	if (!name)
		return farm_req_fail(r, FARM_E_INTERNAL, "the link is unreadable");

	/* The same credential choice and cache identity as the platform's own read. */
	switch (farm_pcall_begin(r, p->up.type, &pc)) {
	case FARM_PCALL_ANSWERED:
		return r->status;
	case FARM_PCALL_NONE:
		return farm_req_fail(r, FARM_E_NOTFOUND, "No %s credential configured for this "
					      "organization",
				      p->up.type);
	}
	rc = p->deploy->view(&pc.c, name, &sum);
	if (rc != FARM_OK)
		return farm_pcall_answer(r, &pc, rc, 0, NULL);
	if (json_object_set_new(sum, "component", json_string(id)) ||
	    json_object_set_new(sum, p->deploy->field, json_string(name)) ||
	    json_object_set_new(sum, "credentialId", json_string(pc.c.cred_id))) {
		json_decref(sum);
		farm_pcall_end(&pc);
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	}
	return farm_pcall_answer(r, &pc, FARM_OK, 200, sum);
}
