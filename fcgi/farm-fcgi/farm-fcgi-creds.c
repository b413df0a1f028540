/* farm-fcgi-creds.c - /api/v1/integrations/credentials (seed 000).
 *
 * GET lists the caller's org (JWT); POST, PATCH and DELETE need the admin role.
 * Another org's id is answered exactly like a missing one (404).
 */
#include "farm-fcgi.h"

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "clock.h"
#include "json.h"
#include "creds.h"
#include "log.h"
#include "platform.h"
#include "banned.h"

/* ---- list ---- */

/* Every committed write bumps the pool-wide generation in the shared scoreboard
 * before it is acknowledged.  A list reads the generation first and, when this
 * thread already answered the same org at the same generation, reuses that answer
 * instead of scanning the org's records; a list that starts after a write was
 * acknowledged always sees the new generation.  Only public fields are cached, and
 * the counter lives outside the database so writers never queue on it. */
#define LIST_CACHE_SLOTS 8

struct farm_list_cache {
	struct {
		char *org; /* NULL slot unused; "" + has_org=0 for the no-org scope */
		int has_org;
		uint64_t gen;
		char *body;
		size_t len;
		unsigned long long used;
	} slot[LIST_CACHE_SLOTS];
	unsigned long long tick;
};

void farm_creds_cache_free(struct farm_list_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < LIST_CACHE_SLOTS; i++) {
		free(c->slot[i].org);
		free(c->slot[i].body);
	}
	free(c);
}

struct list_ctx {
	json_t *items;
	const char *org;
	uint64_t gen;
	struct farm_list_cache *cache;
};

static int list_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct list_ctx *c = arg;
	json_t *rec = json_loadb(val, vlen, 0, NULL);

	(void)key;
	(void)klen;
	if (rec) {
		json_array_append_new(c->items, farm_creds_public(rec));
		json_decref(rec);
	}
	return FARM_OK;
}

static void bump_gen(struct farm_app *app)
{
	__atomic_add_fetch(&app->board->creds_gen, 1, __ATOMIC_RELEASE);
}

static int cache_find(struct farm_list_cache *c, const char *org, uint64_t gen)
{
	for (int i = 0; c && i < LIST_CACHE_SLOTS; i++)
		if (c->slot[i].org && c->slot[i].gen == gen && c->slot[i].has_org == (org != NULL) &&
		    strcmp(c->slot[i].org, org ? org : "") == 0)
			return i;
	return -1;
}

static void cache_put(struct farm_list_cache *c, const char *org, uint64_t gen, const char *body,
		      size_t len)
{
	int victim = 0;
	char *o, *b;

	if (!c)
		return;
	for (int i = 1; i < LIST_CACHE_SLOTS; i++)
		if (c->slot[i].used < c->slot[victim].used)
			victim = i;
	o = strdup(org ? org : "");
	b = malloc(len + 1);
	if (!o || !b) {
		free(o);
		free(b);
		return;
	}
	memcpy(b, body, len);
	b[len] = '\0';
	free(c->slot[victim].org);
	free(c->slot[victim].body);
	c->slot[victim].org = o;
	c->slot[victim].has_org = org != NULL;
	c->slot[victim].gen = gen;
	c->slot[victim].body = b;
	c->slot[victim].len = len;
	c->slot[victim].used = ++c->tick;
}

static int list_txn(struct farm_txn *t, void *arg)
{
	struct list_ctx *c = arg;

	json_array_clear(c->items); /* a deadlock retry starts over */
	return farm_txn_scan(t, FARM_T_CREDS, c->org, 0, list_cb, c);
}

static int cmp_created(const void *pa, const void *pb)
{
	json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	int c = strcmp(json_string_value(json_object_get(a, "createdAt")),
		       json_string_value(json_object_get(b, "createdAt")));

	return c ? c
		 : strcmp(json_string_value(json_object_get(a, "id")),
			  json_string_value(json_object_get(b, "id")));
}

int farm_h_creds_list(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct farm_thr *thr = r->thr;
	struct list_ctx c = {NULL, farm_req_org(r), 0, NULL};
	size_t n;
	json_t **v, *sorted;
	char *body;
	int rc, hit;

	if (thr && !thr->creds_cache)
		thr->creds_cache = calloc(1, sizeof(*thr->creds_cache));
	c.cache = thr ? thr->creds_cache : NULL;
	c.gen = __atomic_load_n(&app->board->creds_gen, __ATOMIC_ACQUIRE);
	/* Replicated, the master's writes reach this node without passing through its
	 * pool: the end of the log, read first, is part of the generation. */
	if (farm_store_repl_on())
		c.gen = c.gen * 1000003u ^ farm_store_log_end(app->store);
	/* A hit needs no transaction at all. */
	if ((hit = cache_find(c.cache, c.org, c.gen)) >= 0) {
		c.cache->slot[hit].used = ++c.cache->tick;
		r->text = farm_arena_strndup(r->arena, c.cache->slot[hit].body,
					     c.cache->slot[hit].len);
		if (!r->text)
			return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
		r->text_len = c.cache->slot[hit].len;
		r->content_type = "application/json; charset=utf-8";
		r->status = 200;
		return 200;
	}
	c.items = json_array();
	rc = farm_store_run(app->store, list_txn, &c);
	if (rc != FARM_OK) {
		json_decref(c.items);
		return farm_req_store_fail(r, rc);
	}
	/* Oldest first, like the seed platform's ORDER BY createdAt. */
	n = json_array_size(c.items);
	v = farm_arena_alloc(r->arena, (n ? n : 1) * sizeof(*v));
	for (size_t i = 0; v && i < n; i++)
		v[i] = json_array_get(c.items, i);
	if (v)
		qsort(v, n, sizeof(*v), cmp_created);
	sorted = json_array();
	for (size_t i = 0; v && i < n; i++)
		json_array_append(sorted, v[i]);
	json_decref(c.items);
	body = json_dumps(sorted, JSON_COMPACT);
	if (body) {
		cache_put(c.cache, c.org, c.gen, body, strlen(body));
		farm_json_free(body);
	}
	return farm_req_json(r, 200, sorted);
}

/* ---- create ---- */

static const char *const create_keys[] = {"type", "name", "value"};
static const char *const patch_keys[] = {"type", "name", "value"};

static void unknown_props(json_t *in, const char *const *allowed, size_t n, json_t *errors)
{
	const char *k;
	json_t *v;

	json_object_foreach(in, k, v)
	{
		size_t i;
		for (i = 0; i < n; i++)
			if (!strcmp(k, allowed[i]))
				break;
		if (i == n) {
			char msg[300];
			snprintf(msg, sizeof(msg), "property %.200s should not exist", k);
			json_array_append_new(errors, farm_json_message(msg));
		}
	}
}

struct put_arg {
	json_t *rec;
	const char *org;
	int noover;
	const struct farm_req *r; /* the caller, for the audit record */
};

static int put_txn(struct farm_txn *t, void *arg)
{
	struct put_arg *p = arg;
	const char *id = json_string_value(json_object_get(p->rec, "id"));
	char *s = json_dumps(p->rec, JSON_COMPACT);
	int rc;

	if (!s)
		return FARM_E_NOMEM;
	rc = farm_txn_put(t, FARM_T_CREDS, id, strlen(id), p->org, s, strlen(s), p->noover);
	farm_json_free(s);
	if (rc == FARM_OK) {
		struct farm_audit a;
		if (farm_fcgi_audit(p->r, &a, "credential.create",
				    json_string_value(json_object_get(p->rec, "type")), id, id))
			rc = farm_audit_txn_add(t, &a, NULL);
	}
	return rc;
}

int farm_h_creds_create(struct farm_req *r)
{
	struct farm_app *app = r->app;
	json_t *errors = json_array();
	json_t *type = json_object_get(r->in, "type");
	json_t *value = json_object_get(r->in, "value");
	json_t *rec = NULL;
	const char *org = farm_req_org(r);
	const struct farm_platform *pl = NULL;
	char id[37], now[25];
	int rc;

	unknown_props(r->in, create_keys, 3, errors);
	if (!type)
		json_array_append_new(errors, json_string("type is required"));
	else if (!(pl = farm_platform_find(json_string_value(type))))
		json_array_append_new(errors, json_pack("s++", "type must be one of: ",
							 farm_platform_types(), ""));
	farm_creds_check_name(json_object_get(r->in, "name"), errors);
	farm_creds_check_value_opts(json_string_value(type), pl ? pl->fields : NULL,
				    farm_platform_poll_optin(pl) ? FARM_CREDS_POLL : 0, value, errors);
	if (json_array_size(errors))
		return farm_req_fail_list(r, FARM_E_INVAL, errors);
	json_decref(errors);

	if (farm_crypto_uuid4(id) != FARM_OK)
		return farm_req_fail(r, FARM_E_INTERNAL, "cannot generate an id");
	farm_clock_iso(farm_clock_ms(), now);
	rec = json_pack("{s:s,s:O,s:O,s:s?,s:s,s:s}", "id", id, "type", type, "name",
			json_object_get(r->in, "name"), "orgId", org, "createdAt", now, "updatedAt",
			now);
	if (!rec)
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	if (!org)
		json_object_set_new(rec, "orgId", json_null());
	rc = farm_creds_seal(app->keyring, rec, value);
	if (rc == FARM_OK) {
		struct put_arg p = {rec, org, 1, r};
		rc = farm_store_run(app->store, put_txn, &p);
		if (rc == FARM_OK)
			bump_gen(app);
		if (rc != FARM_OK) {
			json_decref(rec);
			return farm_req_store_fail(r, rc);
		}
	} else {
		json_decref(rec);
		return farm_req_fail(r, FARM_E_INTERNAL, "cannot seal the credential");
	}
	farm_log(FARM_LOG_INFO, r->id, 0, "credential %s (%s) created", id, json_string_value(type));
	farm_req_json(r, 201, farm_creds_public(rec));
	json_decref(rec);
	return 201;
}

/* ---- patch ---- */

struct patch_arg {
	struct farm_req *r;
	const char *id;
	json_t *errors; /* validation failures found inside the txn */
	json_t *result;
	int notfound;
};

/* The value fields of a stored record's type (NULL for a type no module knows). */
static const struct farm_cred_field *fields_of(json_t *rec)
{
	const struct farm_platform *pl =
		farm_platform_find(json_string_value(json_object_get(rec, "type")));

	return pl ? pl->fields : NULL;
}

static int patch_txn(struct farm_txn *t, void *arg)
{
	struct patch_arg *p = arg;
	struct farm_req *r = p->r;
	struct farm_app *app = r->app;
	const char *org = farm_req_org(r);
	json_t *in = r->in, *rec = NULL, *value = json_object_get(in, "value");
	json_t *type = json_object_get(in, "type");
	char *s = NULL;
	char now[25];
	int rc;

	json_decref(p->result);
	p->result = NULL;
	p->notfound = 0;
	/* Write-locked: another org's record reads as a missing one. */
	if ((rc = farm_scoped_get(t, FARM_T_CREDS, p->id, org, 1, &rec)) != FARM_OK)
		goto out;
	if (!rec) {
		p->notfound = 1;
		rc = FARM_E_NOTFOUND;
		goto out;
	}
	if (type && !json_equal(type, json_object_get(rec, "type"))) {
		json_array_append_new(p->errors, json_string("type cannot be changed"));
		rc = FARM_E_INVAL;
		goto out;
	}
	if (value && farm_creds_check_value_opts(
			     json_string_value(json_object_get(rec, "type")), fields_of(rec),
			     farm_platform_poll_optin(farm_platform_find(json_string_value(
				     json_object_get(rec, "type"))))
				     ? FARM_CREDS_POLL
				     : 0,
			     value, p->errors)) {
		rc = FARM_E_INVAL;
		goto out;
	}
	if (json_object_get(in, "name"))
		json_object_set(rec, "name", json_object_get(in, "name"));
	if (value && (rc = farm_creds_seal(app->keyring, rec, value)) != FARM_OK)
		goto out;
	farm_clock_iso(farm_clock_ms(), now);
	json_object_set_new(rec, "updatedAt", json_string(now));
	s = json_dumps(rec, JSON_COMPACT);
	if (!s) {
		rc = FARM_E_NOMEM;
		goto out;
	}
	rc = farm_txn_put(t, FARM_T_CREDS, p->id, strlen(p->id), org, s, strlen(s), 0);
	if (rc == FARM_OK) {
		struct farm_audit a;
		if (farm_fcgi_audit(r, &a, "credential.update",
				    json_string_value(json_object_get(rec, "type")), p->id, p->id))
			rc = farm_audit_txn_add(t, &a, NULL);
	}
	if (rc == FARM_OK)
		p->result = farm_creds_public(rec);
out:
	farm_json_free(s);
	json_decref(rec);
	return rc;
}

int farm_h_creds_patch(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct patch_arg p = {r, r->params[0], json_array(), NULL, 0};
	int rc;

	unknown_props(r->in, patch_keys, 3, p.errors);
	if (json_object_get(r->in, "name"))
		farm_creds_check_name(json_object_get(r->in, "name"), p.errors);
	if (!json_object_get(r->in, "name") && !json_object_get(r->in, "value"))
		json_array_append_new(p.errors, json_string("nothing to update: give name and/or value"));
	if (json_array_size(p.errors))
		return farm_req_fail_list(r, FARM_E_INVAL, p.errors);
	rc = farm_store_run(app->store, patch_txn, &p);
	if (rc == FARM_OK)
		bump_gen(app);
	if (p.notfound) {
		json_decref(p.errors);
		return farm_req_fail(r, FARM_E_NOTFOUND, "Credential %s not found", p.id);
	}
	if (rc == FARM_E_INVAL && json_array_size(p.errors))
		return farm_req_fail_list(r, FARM_E_INVAL, p.errors);
	json_decref(p.errors);
	if (rc != FARM_OK) {
		json_decref(p.result);
		return farm_req_store_fail(r, rc);
	}
	farm_log(FARM_LOG_INFO, r->id, 0, "credential %s updated", p.id);
	return farm_req_json(r, 200, p.result);
}

/* ---- delete ---- */

struct del_arg {
	const char *id, *org;
	int notfound;
	const struct farm_req *r;
};

static int del_txn(struct farm_txn *t, void *arg)
{
	struct del_arg *d = arg;
	char *stored_org = NULL;
	json_t *rec = NULL;
	void *v = NULL;
	size_t vlen = 0;
	struct farm_audit a;
	int found = 0, rc;

	d->notfound = 0;
	rc = farm_txn_get_org(t, FARM_T_CREDS, d->id, strlen(d->id), &stored_org, &found);
	if (rc != FARM_OK && rc != FARM_E_NOTFOUND)
		goto out;
	if (!found || !farm_creds_same_org(stored_org, d->org)) {
		d->notfound = 1;
		rc = FARM_E_NOTFOUND;
		goto out;
	}
	/* The type, for the audit record's platform (write-locked: it goes next). */
	if ((rc = farm_txn_get(t, FARM_T_CREDS, d->id, strlen(d->id), &v, &vlen, 1)) != FARM_OK)
		goto out;
	rec = json_loadb(v, vlen, 0, NULL);
	if ((rc = farm_txn_del(t, FARM_T_CREDS, d->id, strlen(d->id))) != FARM_OK)
		goto out;
	if (farm_fcgi_audit(d->r, &a, "credential.delete",
			    json_string_value(json_object_get(rec, "type")), d->id, d->id))
		rc = farm_audit_txn_add(t, &a, NULL);
out:
	json_decref(rec);
	free(v);
	free(stored_org);
	return rc;
}

int farm_h_creds_delete(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct del_arg d = {r->params[0], farm_req_org(r), 0, r};
	int rc = farm_store_run(app->store, del_txn, &d);

	if (rc == FARM_OK)
		bump_gen(app);

	if (d.notfound)
		return farm_req_fail(r, FARM_E_NOTFOUND, "Credential %s not found", d.id);
	if (rc != FARM_OK)
		return farm_req_store_fail(r, rc);
	farm_log(FARM_LOG_INFO, r->id, 0, "credential %s deleted", d.id);
	r->status = 204;
	return 204;
}
