/* runidx.c - the runs index (see runidx.h). */
#include "runidx.h"

#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "events.h"
#include "json.h"

#include "banned.h"

#define KEY_MAX (2 + 0xFFFF + 1 + 2 * (FARM_RUNIDX_FIELD_MAX + 1) + 8)

struct key {
	unsigned char *p;
	size_t len;
};

static void add(struct key *k, const void *s, size_t n)
{
	memcpy(k->p + k->len, s, n);
	k->len += n;
}

static void add_str(struct key *k, const char *s, size_t n)
{
	add(k, s, n);
	k->p[k->len++] = '\0';
}

static void add_scope(struct key *k, const char *org, char kind)
{
	k->len = 0;
	k->p[k->len++] = org ? 'o' : '-';
	if (org)
		add(k, org, strlen(org));
	k->p[k->len++] = '\0';
	k->p[k->len++] = (unsigned char)kind;
}

static void add_id(struct key *k, uint64_t id)
{
	unsigned char b[8];

	farm_events_key(id, b);
	add(k, b, sizeof(b));
}

static int ok_field(json_t *v)
{
	return json_is_string(v) && json_string_length(v) <= FARM_RUNIDX_FIELD_MAX &&
	       !memchr(json_string_value(v), 0, json_string_length(v));
}

/* The four order keys of a row (project may be NULL: no 'j'/'b' rows). */
static int order_keys(struct farm_txn *t, const char *org, const char *prov, const char *proj,
		      uint64_t id, const char *org_hdr, const char *val, size_t vlen, int del)
{
	struct key k = {malloc(KEY_MAX), 0};
	int rc = FARM_OK;

	if (!k.p)
		return FARM_E_NOMEM;
	for (int i = 0; i < 4 && rc == FARM_OK; i++) {
		static const char kinds[] = "apjb";

		if (i >= 2 && !proj)
			break;
		add_scope(&k, org, kinds[i]);
		if (i == 1 || i == 3)
			add_str(&k, prov, strlen(prov));
		if (i >= 2)
			add_str(&k, proj, strlen(proj));
		add_id(&k, id);
		if (del) {
			rc = farm_txn_del(t, FARM_T_RUNIDX, k.p, k.len);
			if (rc == FARM_E_NOTFOUND)
				rc = FARM_OK;
		} else {
			rc = farm_txn_put(t, FARM_T_RUNIDX, k.p, k.len, org_hdr, val, vlen, 0);
		}
	}
	free(k.p);
	return rc;
}

static void global_key(uint64_t id, unsigned char g[10])
{
	g[0] = 0x01;
	g[1] = 'g';
	farm_events_key(id, g + 2);
}

/* Deletes the run whose lookup key is `rk` (its rows and its 'g' row). */
static int drop_run(struct farm_txn *t, const unsigned char *rk, size_t rklen, int keep_lookup)
{
	void *v = NULL;
	size_t vlen = 0;
	json_t *row = NULL, *jorg;
	const char *org;
	unsigned char g[10];
	json_int_t eid;
	int rc = farm_txn_get(t, FARM_T_RUNIDX, rk, rklen, &v, &vlen, 1);

	if (rc == FARM_E_NOTFOUND)
		return FARM_OK;
	if (rc != FARM_OK)
		return rc;
	row = json_loadb(v, vlen, 0, NULL);
	free(v);
	jorg = json_object_get(row, "orgId");
	org = json_is_string(jorg) ? json_string_value(jorg) : NULL;
	eid = json_integer_value(json_object_get(row, "eventId"));
	rc = FARM_E_DB;
	if (!json_is_object(row) || eid <= 0 ||
	    !json_is_string(json_object_get(row, "provider")))
		goto out;
	rc = order_keys(t, org, json_string_value(json_object_get(row, "provider")),
			ok_field(json_object_get(row, "project"))
				? json_string_value(json_object_get(row, "project"))
				: NULL,
			(uint64_t)eid, NULL, NULL, 0, 1);
	global_key((uint64_t)eid, g);
	if (rc == FARM_OK && (rc = farm_txn_del(t, FARM_T_RUNIDX, g, sizeof(g))) == FARM_E_NOTFOUND)
		rc = FARM_OK;
	if (rc == FARM_OK && !keep_lookup)
		rc = farm_txn_del(t, FARM_T_RUNIDX, rk, rklen);
out:
	json_decref(row);
	return rc;
}

int farm_runidx_put(struct farm_txn *t, const char *event, json_t *data, uint64_t id)
{
	json_t *prov = json_object_get(data, "provider"), *bid = json_object_get(data, "buildId");
	json_t *proj = json_object_get(data, "project"), *jorg = json_object_get(data, "orgId");
	const char *org = json_is_string(jorg) ? json_string_value(jorg) : NULL;
	struct key rk = {NULL, 0};
	unsigned char g[10];
	char *val = NULL;
	int rc;

	if (!event || strcmp(event, FARM_EVENT_BUILD_UPDATED) || !json_is_object(data) || !ok_field(prov) ||
	    !json_string_length(prov) || !ok_field(bid) || (org && (!*org || strlen(org) > 0xFFFF)) ||
	    id > (uint64_t)INT64_MAX || id == 0)
		return FARM_OK; /* no run to index: it stays in the history */
	if (!(rk.p = malloc(KEY_MAX)))
		return FARM_E_NOMEM;
	add_scope(&rk, org, 'r');
	add_str(&rk, json_string_value(prov), json_string_length(prov));
	add(&rk, json_string_value(bid), json_string_length(bid));
	if ((rc = drop_run(t, rk.p, rk.len, 1)) != FARM_OK)
		goto out;
	rc = FARM_E_NOMEM;
	if (!(val = farm_events_row(data, id)))
		goto out;
	global_key(id, g);
	if ((rc = farm_txn_put(t, FARM_T_RUNIDX, rk.p, rk.len, org, val, strlen(val), 0)) !=
		    FARM_OK ||
	    (rc = farm_txn_put(t, FARM_T_RUNIDX, g, sizeof(g), NULL, rk.p, rk.len, 0)) != FARM_OK)
		goto out;
	rc = order_keys(t, org, json_string_value(prov), ok_field(proj) ? json_string_value(proj) : NULL,
			id, org, (const char *)rk.p, rk.len, 0);
out:
	farm_json_free(val);
	free(rk.p);
	return rc;
}

struct old {
	uint64_t first;
	size_t n, max;
	unsigned char **k;
	size_t *klen;
};

static int old_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct old *o = arg;
	const unsigned char *k = key;
	uint64_t id = 0;

	if (klen != 10 || k[0] != 0x01 || k[1] != 'g' || o->n >= o->max ||
	    farm_events_key_id(k + 2, 8, &id) != FARM_OK || id >= o->first)
		return 1;
	if (!(o->k[o->n] = malloc(vlen ? vlen : 1)))
		return FARM_E_NOMEM;
	memcpy(o->k[o->n], val, vlen);
	o->klen[o->n++] = vlen;
	return FARM_OK;
}

int farm_runidx_prune(struct farm_txn *t, uint64_t first, size_t max)
{
	struct old o = {first, 0, max, calloc(max ? max : 1, sizeof(char *)),
			calloc(max ? max : 1, sizeof(size_t))};
	int rc = FARM_E_NOMEM;

	if (!o.k || !o.klen)
		goto out;
	rc = farm_txn_scan(t, FARM_T_RUNIDX, NULL, FARM_SCAN_ALL, old_cb, &o);
	for (size_t i = 0; rc == FARM_OK && i < o.n; i++)
		rc = drop_run(t, o.k[i], o.klen[i], 0);
out:
	for (size_t i = 0; o.k && i < o.n; i++)
		free(o.k[i]);
	free(o.k);
	free(o.klen);
	return rc;
}

int farm_runidx_backfill(struct farm_txn *t, size_t per, int *more, size_t *put)
{
	return farm_events_backfill(t, FARM_RUNIDX_FILLED_KEY, per, farm_runidx_put, more, put);
}

struct walk {
	struct farm_txn *t;
	const unsigned char *prefix;
	size_t plen;
	uint64_t first;
	size_t limit;
	int (*keep)(json_t *row);
	json_t *runs;
};

static int walk_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct walk *w = arg;
	uint64_t id = 0;
	json_t *row;
	void *v = NULL;
	size_t n = 0;
	int rc;

	if (klen != w->plen + 8 || memcmp(key, w->prefix, w->plen) != 0)
		return 1; /* past the prefix (or a longer key of another filter) */
	if (farm_events_key_id((const unsigned char *)key + w->plen, 8, &id) != FARM_OK ||
	    id < w->first)
		return 1; /* older than the history: so is everything after it */
	/* The order row holds the run's lookup key: its row is the run's current state. */
	rc = farm_txn_get(w->t, FARM_T_RUNIDX, val, vlen, &v, &n, 0);
	if (rc == FARM_E_NOTFOUND)
		return FARM_OK;
	if (rc != FARM_OK)
		return rc;
	row = json_loadb(v, n, 0, NULL);
	free(v);
	if (!json_is_object(row) || (w->keep && !w->keep(row)))
		json_decref(row);
	else if (json_array_append_new(w->runs, row) != 0)
		return FARM_E_NOMEM;
	return json_array_size(w->runs) >= w->limit ? 1 : FARM_OK;
}

int farm_runidx_list(struct farm_txn *t, const char *org, const char *platform,
		     const char *project, uint64_t first, size_t limit,
		     int (*keep)(json_t *row), json_t *runs)
{
	struct key k = {malloc(KEY_MAX), 0};
	struct walk w = {t, NULL, 0, first, limit, keep, runs};
	int rc;

	if (!k.p)
		return FARM_E_NOMEM;
	if ((org && (!*org || strlen(org) > 0xFFFF)) ||
	    (platform && strlen(platform) > FARM_RUNIDX_FIELD_MAX) ||
	    (project && strlen(project) > FARM_RUNIDX_FIELD_MAX)) {
		free(k.p);
		return FARM_E_INVAL;
	}
	add_scope(&k, org, platform ? (project ? 'b' : 'p') : (project ? 'j' : 'a'));
	if (platform)
		add_str(&k, platform, strlen(platform));
	if (project)
		add_str(&k, project, strlen(project));
	w.prefix = k.p;
	w.plen = k.len;
	/* Walk down from just past the prefix: prefix + 8 bytes of 0xFF, one more. */
	memset(k.p + k.len, 0xFF, 9);
	rc = json_array_size(runs) >= limit
		     ? FARM_OK
		     : farm_txn_scan_back(t, FARM_T_RUNIDX, NULL, FARM_SCAN_ALL, k.p, k.len + 9,
					  walk_cb, &w);
	free(k.p);
	return rc == 1 ? FARM_OK : rc;
}
