/* store-table.c - the tables of store.h: get, put, delete and scan inside a
 * transaction, the org header of org-scoped records and their "by org" secondary
 * index, and the counters of FARM_T_META.
 *
 * Org-scoped records (creds, catalog, pipelines, runs) are stored as
 *   [u16 big-endian org length | org bytes | payload]
 * with length 0xFFFF meaning "no org".  Each has a DB_DUPSORT secondary whose key is
 * the org bytes, or the single byte 0x00 for "no org": an org is a non-empty C string,
 * so that key cannot collide with a real one.
 */
#include "store-int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

const struct store_table store_tables[FARM_T__COUNT] = {
	[FARM_T_META] = {"meta.db", NULL},
	[FARM_T_CREDS] = {"creds.db", "creds-org.db"},
	[FARM_T_CATALOG] = {"catalog.db", "catalog-org.db"},
	[FARM_T_PIPELINES] = {"pipelines.db", "pipelines-org.db"},
	[FARM_T_RUNS] = {"runs.db", "runs-org.db"},
	[FARM_T_DEDUPE] = {"dedupe.db", NULL},
	[FARM_T_EVENTS] = {"events.db", NULL},
	[FARM_T_BOARD] = {"board.db", "board-org.db"},
	[FARM_T_AUDIT] = {"audit.db", "audit-org.db"},
	[FARM_T_RUNIDX] = {"runidx.db", "runidx-org.db"},
};

const unsigned char store_no_org_key[1] = {0};

/* Secondary key callback: the org named in the record's header. */
int store_org_key(DB *sdb, const DBT *key, const DBT *data, DBT *result)
{
	const unsigned char *p = data->data;
	size_t n;

	(void)sdb;
	(void)key;
	if (data->size < 2)
		return EINVAL;
	n = (size_t)p[0] << 8 | p[1];
	memset(result, 0, sizeof(*result));
	if (n == STORE_NO_ORG) {
		result->data = (void *)store_no_org_key;
		result->size = sizeof(store_no_org_key);
		return 0;
	}
	if (n == 0 || n > data->size - 2)
		return EINVAL;
	result->data = (unsigned char *)data->data + 2;
	result->size = (u_int32_t)n;
	return 0;
}

/* The primary database of `tab` for a live transaction, or NULL. */
static DB *txn_db(struct farm_txn *t, enum farm_table tab)
{
	if (!t || !t->tid || (unsigned)tab >= FARM_T__COUNT)
		return NULL;
	return t->s->db[tab];
}

static int store_is_org_table(enum farm_table tab)
{
	return (unsigned)tab < FARM_T__COUNT && store_tables[tab].org_file != NULL;
}

/* Parses the org header of a stored value: *org (NULL for no org) of *olen bytes,
 * payload at *off.  FARM_E_DB when the header does not fit the value. */
static int store_hdr(const void *data, size_t size, const char **org, size_t *olen,
		     size_t *off)
{
	const unsigned char *p = data;
	size_t n;

	if (size < 2)
		return FARM_E_DB;
	n = (size_t)p[0] << 8 | p[1];
	if (n == STORE_NO_ORG) {
		*org = NULL;
		*olen = 0;
		*off = 2;
		return FARM_OK;
	}
	if (n == 0 || n > size - 2)
		return FARM_E_DB;
	*org = (const char *)p + 2;
	*olen = n;
	*off = 2 + n;
	return FARM_OK;
}

static void store_key(DBT *k, const void *key, size_t klen)
{
	memset(k, 0, sizeof(*k));
	k->data = (void *)key;
	k->size = (u_int32_t)klen;
}

int farm_txn_get(struct farm_txn *t, enum farm_table tab, const void *key, size_t klen,
		 void **val, size_t *vlen, int rmw)
{
	DB *db = txn_db(t, tab);
	const char *org;
	size_t olen, off;
	DBT k, d;
	int rc, code;

	if (val)
		*val = NULL;
	if (vlen)
		*vlen = 0;
	if (!db || !val || !vlen || (!key && klen) || klen > UINT32_MAX)
		return FARM_E_INVAL;
	store_key(&k, key, klen);
	memset(&d, 0, sizeof(d));
	d.flags = DB_DBT_MALLOC;
	if (rmw)
		txn_hand_over(t);
	if ((rc = db->get(db, t->tid, &k, &d, rmw ? DB_RMW : 0)) != 0)
		return txn_fail(t, rc);
	off = 0;
	if (store_is_org_table(tab)) {
		if ((code = store_hdr(d.data, d.size, &org, &olen, &off)) != FARM_OK) {
			free(d.data);
			return code;
		}
		memmove(d.data, (unsigned char *)d.data + off, d.size - off);
	}
	if (!d.data && !(d.data = malloc(1)))
		return FARM_E_NOMEM;
	*val = d.data;
	*vlen = d.size - off;
	return FARM_OK;
}

int farm_txn_put(struct farm_txn *t, enum farm_table tab, const void *key, size_t klen,
		 const char *org, const void *val, size_t vlen, int noover)
{
	DB *db = txn_db(t, tab);
	unsigned char *buf = NULL;
	size_t olen = 0, hdr;
	DBT k, d;
	int rc;

	if (!db || (!key && klen) || (!val && vlen) || klen > UINT32_MAX)
		return FARM_E_INVAL;
	if (store_room(t) != FARM_OK)
		return FARM_E_NOSPACE;
	store_key(&k, key, klen);
	memset(&d, 0, sizeof(d));
	if (!store_is_org_table(tab)) {
		if (vlen > UINT32_MAX)
			return FARM_E_TOOBIG;
		d.data = (void *)val;
		d.size = (u_int32_t)vlen;
	} else {
		if (org && ((olen = strlen(org)) == 0 || olen > STORE_ORG_MAX))
			return FARM_E_INVAL;
		hdr = 2 + olen;
		if (vlen > UINT32_MAX - hdr)
			return FARM_E_TOOBIG;
		if (!(buf = malloc(hdr + vlen)))
			return FARM_E_NOMEM;
		buf[0] = org ? (unsigned char)(olen >> 8) : 0xFF;
		buf[1] = org ? (unsigned char)olen : 0xFF;
		if (olen)
			memcpy(buf + 2, org, olen);
		if (vlen)
			memcpy(buf + hdr, val, vlen);
		d.data = buf;
		d.size = (u_int32_t)(hdr + vlen);
	}
	txn_hand_over(t);
	rc = db->put(db, t->tid, &k, &d, noover ? DB_NOOVERWRITE : 0);
	free(buf);
	return rc ? txn_fail(t, rc) : FARM_OK;
}

int farm_txn_del(struct farm_txn *t, enum farm_table tab, const void *key, size_t klen)
{
	DB *db = txn_db(t, tab);
	DBT k;
	int rc;

	if (!db || (!key && klen) || klen > UINT32_MAX)
		return FARM_E_INVAL;
	store_key(&k, key, klen);
	txn_hand_over(t);
	rc = db->del(db, t->tid, &k, 0);
	return rc ? txn_fail(t, rc) : FARM_OK;
}

int farm_txn_get_org(struct farm_txn *t, enum farm_table tab, const void *key, size_t klen,
		     char **org, int *found)
{
	DB *db = txn_db(t, tab);
	const char *o;
	size_t olen, off;
	DBT k, d;
	int rc, code;

	if (org)
		*org = NULL;
	if (found)
		*found = 0;
	if (!db || !store_is_org_table(tab) || !org || !found || (!key && klen) ||
	    klen > UINT32_MAX)
		return FARM_E_INVAL;
	store_key(&k, key, klen);
	memset(&d, 0, sizeof(d));
	d.flags = DB_DBT_MALLOC;
	rc = db->get(db, t->tid, &k, &d, 0);
	if (rc == DB_NOTFOUND)
		return FARM_OK;
	if (rc != 0)
		return txn_fail(t, rc);
	code = store_hdr(d.data, d.size, &o, &olen, &off);
	if (code == FARM_OK && o && !(*org = strndup(o, olen)))
		code = FARM_E_NOMEM;
	if (code == FARM_OK)
		*found = 1;
	free(d.data);
	return code;
}

/* Hands one record to a scan callback, header stripped.  FARM_OK: go on; 1: stop. */
static int store_scan_one(enum farm_table tab, const DBT *k, const DBT *d,
			  farm_store_scan_fn cb, void *arg)
{
	const char *org;
	size_t olen, off = 0;
	int code;

	if (store_is_org_table(tab) &&
	    (code = store_hdr(d->data, d->size, &org, &olen, &off)) != FARM_OK)
		return code;
	code = cb(k->data, k->size, (const unsigned char *)d->data + off, d->size - off, arg);
	return code > 0 ? 1 : code;
}

int farm_txn_scan(struct farm_txn *t, enum farm_table tab, const char *org, unsigned how,
		  farm_store_scan_fn cb, void *arg)
{
	int all = !!(how & FARM_SCAN_ALL);
	u_int32_t cflags = (how & FARM_SCAN_COMMITTED) ? DB_READ_COMMITTED : 0;
	DB *db = txn_db(t, tab);
	DBC *c = NULL;
	DBT k, pk, d;
	size_t olen = 0;
	u_int32_t flag;
	int rc, crc, code = FARM_OK;

	if (!db || !cb || (!all && !store_is_org_table(tab)))
		return FARM_E_INVAL;
	if (!all && org && ((olen = strlen(org)) == 0 || olen > STORE_ORG_MAX))
		return FARM_E_INVAL;
	memset(&k, 0, sizeof(k));
	memset(&pk, 0, sizeof(pk));
	memset(&d, 0, sizeof(d));
	k.flags = pk.flags = d.flags = DB_DBT_REALLOC;
	if (all) {
		if ((rc = db->cursor(db, t->tid, &c, cflags)) != 0)
			return txn_fail(t, rc);
		for (flag = DB_FIRST; (rc = c->get(c, &k, &d, flag)) == 0; flag = DB_NEXT)
			if ((code = store_scan_one(tab, &k, &d, cb, arg)) != FARM_OK)
				break;
	} else {
		DB *sdb = t->s->org[tab];

		/* The secondary key, in a malloc'ed buffer DB_DBT_REALLOC may replace. */
		if (!(k.data = malloc(org ? olen : 1)))
			return FARM_E_NOMEM;
		memcpy(k.data, org ? (const void *)org : (const void *)store_no_org_key,
		       org ? olen : 1);
		k.size = (u_int32_t)(org ? olen : 1);
		if ((rc = sdb->cursor(sdb, t->tid, &c, cflags)) != 0) {
			free(k.data);
			return txn_fail(t, rc);
		}
		/* Duplicates (primary keys) are sorted bytewise: primary key order. */
		for (flag = DB_SET; (rc = c->pget(c, &k, &pk, &d, flag)) == 0;
		     flag = DB_NEXT_DUP)
			if ((code = store_scan_one(tab, &pk, &d, cb, arg)) != FARM_OK)
				break;
	}
	crc = c->close(c);
	if (rc == 0 || rc == DB_NOTFOUND)
		rc = crc;
	if (rc != 0)
		code = txn_fail(t, rc);
	else if (code == 1)
		code = FARM_OK;
	free(k.data);
	free(pk.data);
	free(d.data);
	return code;
}

/* Positions c (on the "by org" secondary) at the last duplicate of `skey` whose primary
 * key is below `before` (or the last duplicate at all when before is NULL). */
static int scan_back_start(DBC *c, DBT *k, DBT *pk, DBT *d, const void *before, size_t blen)
{
	int rc;

	if (before) {
		/* The first duplicate >= before, then one back; past the last: the last. */
		if (!(pk->data = realloc(pk->data, blen ? blen : 1)))
			return ENOMEM;
		memcpy(pk->data, before, blen);
		pk->size = (u_int32_t)blen;
		rc = c->pget(c, k, pk, d, DB_GET_BOTH_RANGE);
		if (rc == 0)
			return c->pget(c, k, pk, d, DB_PREV_DUP);
		if (rc != DB_NOTFOUND)
			return rc;
	}
	/* The org's last duplicate: its first, then the next org's first, one back. */
	if ((rc = c->pget(c, k, pk, d, DB_SET)) != 0)
		return rc;
	rc = c->pget(c, k, pk, d, DB_NEXT_NODUP);
	if (rc == 0)
		return c->pget(c, k, pk, d, DB_PREV);
	if (rc != DB_NOTFOUND)
		return rc;
	return c->pget(c, k, pk, d, DB_LAST);
}

/* The primary's record below `before` (or its last), for a walk of every org. */
static int scan_back_all_start(DBC *c, DBT *k, DBT *d, const void *before, size_t blen)
{
	int rc;

	if (before) {
		if (!(k->data = realloc(k->data, blen)))
			return ENOMEM;
		memcpy(k->data, before, blen);
		k->size = (u_int32_t)blen;
		rc = c->get(c, k, d, DB_SET_RANGE);
		if (rc == 0)
			return c->get(c, k, d, DB_PREV);
		if (rc != DB_NOTFOUND)
			return rc;
	}
	return c->get(c, k, d, DB_LAST);
}

int farm_txn_scan_back(struct farm_txn *t, enum farm_table tab, const char *org, unsigned how,
		       const void *before, size_t blen, farm_store_scan_fn cb, void *arg)
{
	int all = !!(how & FARM_SCAN_ALL);
	DB *db = txn_db(t, tab);
	DBC *c = NULL;
	DBT k, pk, d;
	const void *want;
	size_t olen = 0, wlen;
	int rc, crc, code = FARM_OK;

	if (!db || !cb || !store_is_org_table(tab) || (before && (!blen || blen > UINT32_MAX)))
		return FARM_E_INVAL;
	if (!all && org && ((olen = strlen(org)) == 0 || olen > STORE_ORG_MAX))
		return FARM_E_INVAL;
	want = org ? (const void *)org : (const void *)store_no_org_key;
	wlen = org ? olen : 1;
	memset(&k, 0, sizeof(k));
	memset(&pk, 0, sizeof(pk));
	memset(&d, 0, sizeof(d));
	k.flags = pk.flags = d.flags = DB_DBT_REALLOC;
	if (all) {
		if ((rc = db->cursor(db, t->tid, &c, 0)) != 0)
			return txn_fail(t, rc);
		for (rc = scan_back_all_start(c, &k, &d, before, blen); rc == 0;
		     rc = c->get(c, &k, &d, DB_PREV))
			if ((code = store_scan_one(tab, &k, &d, cb, arg)) != FARM_OK)
				break;
		goto close;
	}
	if (!(k.data = malloc(wlen)))
		return FARM_E_NOMEM;
	memcpy(k.data, want, wlen);
	k.size = (u_int32_t)wlen;
	if ((rc = t->s->org[tab]->cursor(t->s->org[tab], t->tid, &c, 0)) != 0) {
		free(k.data);
		return txn_fail(t, rc);
	}
	/* DB_PREV (not DB_PREV_DUP) after a jump may land on another org: checked below. */
	for (rc = scan_back_start(c, &k, &pk, &d, before, blen); rc == 0;
	     rc = c->pget(c, &k, &pk, &d, DB_PREV_DUP)) {
		if (k.size != wlen || memcmp(k.data, want, wlen) != 0) {
			rc = DB_NOTFOUND;
			break;
		}
		if ((code = store_scan_one(tab, &pk, &d, cb, arg)) != FARM_OK)
			break;
	}
close:
	crc = c->close(c);
	if (rc == 0 || rc == DB_NOTFOUND)
		rc = crc;
	if (rc != 0)
		code = txn_fail(t, rc);
	else if (code == 1)
		code = FARM_OK;
	free(k.data);
	free(pk.data);
	free(d.data);
	return code;
}

int farm_txn_next_seq(struct farm_txn *t, const char *name, uint64_t *out)
{
	unsigned char buf[8];
	void *v = NULL;
	size_t vlen = 0;
	uint64_t prev = 0;
	int code;

	if (out)
		*out = 0;
	if (!t || !name || !*name || !out)
		return FARM_E_INVAL;
	code = farm_txn_get(t, FARM_T_META, name, strlen(name), &v, &vlen, 1);
	if (code == FARM_OK) {
		if (vlen != sizeof(buf)) {
			free(v);
			return FARM_E_DB;
		}
		prev = store_be64_get(v);
		free(v);
	} else if (code != FARM_E_NOTFOUND) {
		return code;
	}
	if (prev == UINT64_MAX)
		return FARM_E_TOOBIG;
	store_be64_put(buf, prev + 1);
	code = farm_txn_put(t, FARM_T_META, name, strlen(name), NULL, buf, sizeof(buf), 0);
	if (code == FARM_OK)
		*out = prev + 1;
	return code;
}

