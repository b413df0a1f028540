/* audit.c - the audit records (audit.h): written with or before the action they
 * record, paged newest first per org, swept by age. */
#include "audit.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "banned.h"

#define AUDIT_SEQ "audit.seq" /* the FARM_T_META counter of record ids */

static void be64_put(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t be64_get(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

int farm_audit_txn_add(struct farm_txn *t, const struct farm_audit *a, uint64_t *id)
{
	unsigned char key[8];
	char at[FARM_CLOCK_ISO_LEN];
	json_t *rec = NULL;
	char *s = NULL;
	uint64_t seq = 0;
	int rc;

	if (id)
		*id = 0;
	if (!t || !a || !a->action)
		return FARM_E_INVAL;
	if ((rc = farm_txn_next_seq(t, AUDIT_SEQ, &seq)) != FARM_OK)
		return rc;
	farm_clock_iso(farm_clock_ms(), at);
	rec = json_object();
	if (!rec || json_object_set_new(rec, "id", json_integer((json_int_t)seq)) ||
	    json_object_set_new(rec, "at", json_string(at)) ||
	    json_object_set_new(rec, "sub", str_or_null(a->sub)) ||
	    json_object_set_new(rec, "orgId", str_or_null(a->org)) ||
	    json_object_set_new(rec, "action", json_string(a->action)) ||
	    json_object_set_new(rec, "platform", str_or_null(a->platform)) ||
	    json_object_set_new(rec, "target", str_or_null(a->target)) ||
	    json_object_set_new(rec, "credentialId", str_or_null(a->cred_id)) ||
	    json_object_set_new(rec, "status",
				json_string(a->status ? a->status : FARM_AUDIT_OK)) ||
	    json_object_set_new(rec, "requestId", str_or_null(a->req_id)) ||
	    !(s = json_dumps(rec, JSON_COMPACT))) {
		rc = FARM_E_NOMEM;
		goto out;
	}
	be64_put(key, seq);
	rc = farm_txn_put(t, FARM_T_AUDIT, key, sizeof(key), a->org, s, strlen(s), 1);
	if (rc == FARM_OK && id)
		*id = seq;
out:
	farm_json_free(s);
	json_decref(rec);
	return rc;
}

struct add_arg {
	const struct farm_audit *a;
	uint64_t id;
};

static int add_txn(struct farm_txn *t, void *arg)
{
	struct add_arg *p = arg;

	return farm_audit_txn_add(t, p->a, &p->id);
}

int farm_audit_add(struct farm_store *s, const struct farm_audit *a, uint64_t *id)
{
	struct farm_audit pending;
	struct add_arg p = {&pending, 0};
	int rc;

	if (id)
		*id = 0;
	if (!a)
		return FARM_E_INVAL;
	pending = *a;
	if (!pending.status)
		pending.status = FARM_AUDIT_PENDING;
	rc = farm_store_run(s, add_txn, &p);
	if (rc == FARM_OK && id)
		*id = p.id;
	return rc;
}

struct finish_arg {
	uint64_t id;
	const char *status;
};

static int finish_txn(struct farm_txn *t, void *arg)
{
	struct finish_arg *f = arg;
	unsigned char key[8];
	void *v = NULL;
	size_t vlen = 0;
	char *org = NULL, *s = NULL;
	json_t *rec = NULL;
	int found = 0, rc;

	be64_put(key, f->id);
	if ((rc = farm_txn_get(t, FARM_T_AUDIT, key, sizeof(key), &v, &vlen, 1)) != FARM_OK)
		goto out;
	if ((rc = farm_txn_get_org(t, FARM_T_AUDIT, key, sizeof(key), &org, &found)) != FARM_OK)
		goto out;
	if (!found) {
		rc = FARM_E_NOTFOUND;
		goto out;
	}
	if (!(rec = json_loadb(v, vlen, 0, NULL))) {
		rc = FARM_E_DB;
		goto out;
	}
	if (json_object_set_new(rec, "status", json_string(f->status)) ||
	    !(s = json_dumps(rec, JSON_COMPACT))) {
		rc = FARM_E_NOMEM;
		goto out;
	}
	rc = farm_txn_put(t, FARM_T_AUDIT, key, sizeof(key), org, s, strlen(s), 0);
out:
	farm_json_free(s);
	json_decref(rec);
	free(org);
	free(v);
	return rc;
}

int farm_audit_finish(struct farm_store *s, uint64_t id, const char *status)
{
	struct finish_arg f = {id, status};

	if (!s || !id || !status)
		return FARM_E_INVAL;
	return farm_store_run_lazy(s, finish_txn, &f);
}

/* ---- pages ---- */

struct page_arg {
	const char *org;
	int all;
	uint64_t before;
	size_t limit;
	json_t *items;
	uint64_t last; /* id of the last record taken */
	int more;      /* a record beyond the page exists */
};

static int page_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct page_arg *p = arg;
	json_t *rec;

	if (klen != 8)
		return FARM_E_DB;
	if (json_array_size(p->items) == p->limit) {
		p->more = 1;
		return 1;
	}
	if (!(rec = json_loadb(val, vlen, 0, NULL)))
		return FARM_E_DB;
	json_array_append_new(p->items, rec);
	p->last = be64_get(key);
	return FARM_OK;
}

static int page_txn(struct farm_txn *t, void *arg)
{
	struct page_arg *p = arg;
	unsigned char key[8];

	json_array_clear(p->items); /* a deadlock retry starts over */
	p->last = 0;
	p->more = 0;
	be64_put(key, p->before);
	return farm_txn_scan_back(t, FARM_T_AUDIT, p->org, p->all ? FARM_SCAN_ALL : 0,
				  p->before ? key : NULL, sizeof(key), page_cb, p);
}

static int page_run(struct farm_store *s, struct page_arg *p, json_t **out, uint64_t *next)
{
	int rc;

	*out = NULL;
	*next = 0;
	if (!s || p->limit < 1 || p->limit > FARM_AUDIT_LIMIT_MAX)
		return FARM_E_INVAL;
	if (!(p->items = json_array()))
		return FARM_E_NOMEM;
	if ((rc = farm_store_run(s, page_txn, p)) != FARM_OK) {
		json_decref(p->items);
		return rc;
	}
	*out = p->items;
	*next = p->more ? p->last : 0;
	return FARM_OK;
}

int farm_audit_page(struct farm_store *s, const char *org, uint64_t before, size_t limit,
		    json_t **out, uint64_t *next)
{
	struct page_arg p = {org, 0, before, limit, NULL, 0, 0};

	return page_run(s, &p, out, next);
}

int farm_audit_page_all(struct farm_store *s, uint64_t before, size_t limit, json_t **out,
			uint64_t *next)
{
	struct page_arg p = {NULL, 1, before, limit, NULL, 0, 0};

	return page_run(s, &p, out, next);
}

/* ---- retention ---- */

struct sweep_arg {
	char cutoff[FARM_CLOCK_ISO_LEN];
	unsigned char keys[FARM_AUDIT_SWEEP_TXN][8];
	size_t n, want;
	int done; /* met a record at or after the cutoff, or the end */
};

static int sweep_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct sweep_arg *w = arg;
	json_t *rec, *at;
	int old;

	if (w->n == w->want)
		return 1;
	if (klen != 8 || !(rec = json_loadb(val, vlen, 0, NULL)))
		return FARM_E_DB;
	at = json_object_get(rec, "at");
	/* ISO 8601 UTC text of one fixed width sorts as the instants it names. */
	old = json_is_string(at) && strcmp(json_string_value(at), w->cutoff) < 0;
	json_decref(rec);
	if (!old) {
		w->done = 1;
		return 1;
	}
	memcpy(w->keys[w->n++], key, 8);
	return FARM_OK;
}

static int sweep_txn(struct farm_txn *t, void *arg)
{
	struct sweep_arg *w = arg;
	int rc;

	w->n = 0;
	w->done = 0;
	if ((rc = farm_txn_scan(t, FARM_T_AUDIT, NULL, FARM_SCAN_ALL, sweep_cb, w)) != FARM_OK)
		return rc;
	if (w->n < w->want)
		w->done = 1;
	for (size_t i = 0; i < w->n; i++)
		if ((rc = farm_txn_del(t, FARM_T_AUDIT, w->keys[i], 8)) != FARM_OK)
			return rc;
	return FARM_OK;
}

int farm_audit_sweep(struct farm_store *s, long long cutoff_ms, size_t max, size_t *removed)
{
	struct sweep_arg *w;
	size_t total = 0;
	int rc = FARM_OK;

	if (removed)
		*removed = 0;
	if (!s)
		return FARM_E_INVAL;
	if (!(w = calloc(1, sizeof(*w))))
		return FARM_E_NOMEM;
	if (farm_clock_iso(cutoff_ms, w->cutoff) != FARM_OK) {
		free(w);
		return FARM_E_INVAL;
	}
	while (total < max) {
		w->want = max - total < FARM_AUDIT_SWEEP_TXN ? max - total : FARM_AUDIT_SWEEP_TXN;
		if ((rc = farm_store_run(s, sweep_txn, w)) != FARM_OK)
			break;
		total += w->n;
		if (w->done)
			break;
	}
	free(w);
	if (removed)
		*removed = total;
	return rc;
}
