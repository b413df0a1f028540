/* store-outbox.c - the durable outbox of not-yet-published events (store.h): its
 * Recno shards, append, and the consumer's peek, merge by stamp and drop.
 *
 * Why Recno and not Queue for the outbox: a Queue holds fixed-length records, and
 * events are variable JSON up to ~16 KiB, so Queue would mean either 16 KiB per entry
 * or a second Btree of payloads written alongside.  Recno stores variable-length
 * records directly.  DB_RENUMBER matters: without it a deleted record leaves a
 * placeholder that every later DB_FIRST must step over (pop would get slower for
 * ever); with it, a pop removes record 1 and the tree's per-page record counts keep
 * DB_FIRST and the depth (DB_FAST_STAT) O(log n).
 *
 * Why shards: maintaining those counts write-locks the path from the root on every
 * append, held until commit, so the writers of one Recno pass one at a time (a
 * webhook burst waited for that lock in 3 of 4 transactions).  The outbox is
 * STORE_OUTBOX_SHARDS Recno files; each thread appends to one of them (chosen once
 * per thread, round robin), so writers mostly meet only a few others.
 *
 * Order across shards: each record starts with a stamp, the wall clock in ns read
 * inside DB_APPEND (store_stamp, the append callback), while the shard's root is
 * locked: within a shard, record order is stamp order.  An event whose transaction
 * began after another's commit has the larger stamp.  farm_store_outbox_peek reads
 * all shards in one transaction with read locks held to its end, which is a
 * consistent cut (an append cannot commit into a shard already read to its end), and
 * merges by stamp; when a shard has more than was read, nothing stamped after its
 * last read entry is taken from the others this time.  So an event never goes out
 * before one that was committed before it began.  A wall clock stepped back can
 * reorder the events around the step (the consumer clamps each shard's stamps so they
 * never go back); it cannot lose or repeat one. */
#include "store-int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

void store_outbox_file(int k, char *buf, size_t cap)
{
	if (k == 0)
		snprintf(buf, cap, "outbox.db"); /* the one outbox before shards: kept */
	else
		snprintf(buf, cap, "outbox-%d.db", k);
}

/* DB_APPEND's callback: runs with the new record's page path write-locked, so the
 * stamps of one shard rise with its record numbers. */
int store_stamp(DB *db, DBT *data, db_recno_t recno)
{
	unsigned char *p = data->data;
	struct timespec ts;

	(void)db;
	(void)recno;
	if (data->size < STORE_STAMP_LEN || p[0] != 0)
		return EINVAL;
	clock_gettime(CLOCK_REALTIME, &ts);
	store_be64_put(p + 1, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
	return 0;
}

/* --- outbox and counters ----------------------------------------------------------- */

/* A Recno key: the record number is returned (DB_APPEND) or read into *recno. */
static void store_recno_key(DBT *k, db_recno_t *recno)
{
	memset(k, 0, sizeof(*k));
	k->data = recno;
	k->ulen = sizeof(*recno);
	k->flags = DB_DBT_USERMEM;
}

/* The shard this thread appends to: round robin over the threads of the process,
 * started at a place that differs between processes. */
static int store_my_shard(void)
{
	static atomic_uint next;
	static _Thread_local int mine = -1;

	if (mine < 0)
		mine = (int)((atomic_fetch_add(&next, 1) + (unsigned)getpid()) %
			     STORE_OUTBOX_SHARDS);
	return mine;
}

/* Stamp of a stored entry (0 for an entry from before the shards: oldest) and where
 * its payload starts. */
static uint64_t store_entry_stamp(const unsigned char *p, size_t len, size_t *off)
{
	if (len < STORE_STAMP_LEN || p[0] != 0) {
		*off = 0;
		return 0;
	}
	*off = STORE_STAMP_LEN;
	return store_be64_get(p + 1);
}

int farm_txn_outbox_append(struct farm_txn *t, const void *val, size_t vlen)
{
	db_recno_t recno = 0;
	unsigned char *buf;
	DB *db;
	DBT k, d;
	int rc;

	if (!t || !t->tid || !val || vlen == 0)
		return FARM_E_INVAL;
	if (vlen > UINT32_MAX - STORE_STAMP_LEN)
		return FARM_E_TOOBIG;
	if (store_room(t) != FARM_OK)
		return FARM_E_NOSPACE;
	if (!(buf = malloc(vlen + STORE_STAMP_LEN)))
		return FARM_E_NOMEM;
	memset(buf, 0, STORE_STAMP_LEN); /* store_stamp fills in the time */
	memcpy(buf + STORE_STAMP_LEN, val, vlen);
	store_recno_key(&k, &recno);
	memset(&d, 0, sizeof(d));
	d.data = buf;
	d.size = (u_int32_t)(vlen + STORE_STAMP_LEN);
	db = t->s->outbox[store_my_shard()];
	txn_hand_over(t);
	rc = db->put(db, t->tid, &k, &d, DB_APPEND);
	free(buf);
	return rc ? txn_fail(t, rc) : FARM_OK;
}

/* Copies the payload of a record read with DB_DBT_MALLOC to the front of its buffer. */
static void *store_entry_take(DBT *d, size_t *len, uint64_t *stamp)
{
	size_t off;

	*stamp = store_entry_stamp(d->data, d->size, &off);
	*len = d->size - off;
	if (off)
		memmove(d->data, (unsigned char *)d->data + off, *len);
	return d->data;
}

void farm_outbox_batch_clear(struct farm_outbox_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->e[i].val);
	b->n = 0;
	memset(b->take, 0, sizeof(b->take));
}

static int store_entry_cmp(const void *a, const void *b)
{
	const struct farm_outbox_entry *x = a, *y = b;

	if (x->stamp != y->stamp)
		return x->stamp < y->stamp ? -1 : 1;
	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Reads up to `per` entries of shard k into b (from b->n on), stamps clamped to rise
 * from b->floor[k]; *last is the stamp of the last one read, *more whether the shard
 * holds more than that. */
static int store_peek_shard(struct farm_store *s, DB_TXN *tid, int k, size_t per,
			    struct farm_outbox_batch *b, uint64_t *last, int *more)
{
	uint64_t floor = b->floor[k];
	db_recno_t recno = 0;
	DBC *c = NULL;
	DBT key, d;
	int rc, crc;
	size_t i;

	*more = 0;
	if ((rc = s->outbox[k]->cursor(s->outbox[k], tid, &c, 0)) != 0)
		return rc;
	for (i = 0; i <= per; i++) {
		struct farm_outbox_entry *e = &b->e[b->n];

		store_recno_key(&key, &recno);
		memset(&d, 0, sizeof(d));
		if (i == per)
			d.flags = DB_DBT_PARTIAL; /* only whether there is one more */
		else
			d.flags = DB_DBT_MALLOC;
		if ((rc = c->get(c, &key, &d, i == 0 ? DB_FIRST : DB_NEXT)) != 0)
			break;
		if (i == per) {
			*more = 1;
			break;
		}
		e->val = store_entry_take(&d, &e->len, &e->stamp);
		if (e->stamp < floor)
			e->stamp = floor;
		floor = e->stamp;
		e->shard = k;
		e->pos = i;
		b->n++;
	}
	*last = floor;
	if (rc == DB_NOTFOUND)
		rc = 0;
	crc = c->close(c);
	return rc ? rc : crc;
}

int farm_store_outbox_peek(struct farm_store *s, size_t per, struct farm_outbox_batch *b)
{
	uint64_t last, bound;
	size_t i, keep;
	DB_TXN *tid = NULL;
	int rc = 0, attempt, k, more;

	if (!s || !b || per == 0 || per > FARM_OUTBOX_PER_SHARD)
		return FARM_E_INVAL;
	farm_outbox_batch_clear(b);
	for (attempt = 0;; attempt++) {
		STORE_LOCKOUT_RETRY(rc, s->env->txn_begin(s->env, NULL, &tid, 0));
		if (rc != 0)
			return store_code(rc);
		/* A shard with more than was read bounds what the others may give now. */
		bound = UINT64_MAX;
		for (k = 0; k < STORE_OUTBOX_SHARDS && rc == 0; k++)
			if ((rc = store_peek_shard(s, tid, k, per, b, &last, &more)) == 0 &&
			    more && last < bound)
				bound = last;
		/* Read-only: no commit record.  No wait for the log either: the consumer's
		 * own commit comes after these in the log and is made durable. */
		if (rc == 0)
			rc = tid->commit(tid, DB_TXN_NOSYNC);
		else
			tid->abort(tid);
		if (rc == 0)
			break;
		farm_outbox_batch_clear(b);
		if (!store_is_deadlock(rc) || attempt + 1 >= STORE_RETRIES)
			return store_code(rc);
		store_backoff(attempt);
	}
	for (i = keep = 0; i < b->n; i++) {
		if (b->e[i].stamp > bound) {
			free(b->e[i].val);
			continue;
		}
		b->take[b->e[i].shard]++;
		b->e[keep++] = b->e[i];
	}
	b->n = keep;
	qsort(b->e, b->n, sizeof(b->e[0]), store_entry_cmp);
	return FARM_OK;
}

/* Removing the entries the batch holds is safe at any later time: appends only add
 * at a shard's end, and the one consumer (farm-eventd holds eventd.lock) is the only
 * remover, so each shard's first take[k] records are still the ones read. */
int farm_txn_outbox_drop(struct farm_txn *t, const struct farm_outbox_batch *b)
{
	db_recno_t recno = 0;
	DBC *c = NULL;
	DBT key, d;
	int rc = 0, crc, k;

	if (!t || !t->tid || !b)
		return FARM_E_INVAL;
	txn_hand_over(t);
	for (k = 0; k < STORE_OUTBOX_SHARDS && rc == 0; k++) {
		if (b->take[k] == 0)
			continue;
		if ((rc = t->s->outbox[k]->cursor(t->s->outbox[k], t->tid, &c, 0)) != 0)
			break;
		store_recno_key(&key, &recno);
		memset(&d, 0, sizeof(d));
		d.flags = DB_DBT_PARTIAL; /* the record is not needed: read none of it */
		for (size_t i = 0; i < b->take[k] && rc == 0; i++)
			if ((rc = c->get(c, &key, &d, DB_FIRST | DB_RMW)) == 0)
				rc = c->del(c, 0);
		crc = c->close(c);
		if (rc == 0)
			rc = crc;
	}
	return rc ? txn_fail(t, rc) : FARM_OK;
}

/* The consumer's merge on one entry, in the caller's transaction: the head of every
 * shard, the oldest of them removed. */
int farm_txn_outbox_pop(struct farm_txn *t, void **val, size_t *vlen)
{
	struct farm_outbox_batch *b;
	uint64_t last;
	int rc = 0, more;

	if (val)
		*val = NULL;
	if (vlen)
		*vlen = 0;
	if (!t || !t->tid || !val || !vlen)
		return FARM_E_INVAL;
	if (!(b = calloc(1, sizeof(*b))))
		return FARM_E_NOMEM;
	for (int k = 0; k < STORE_OUTBOX_SHARDS && rc == 0; k++)
		rc = store_peek_shard(t->s, t->tid, k, 1, b, &last, &more);
	if (rc != 0) {
		rc = txn_fail(t, rc);
	} else if (b->n == 0) {
		rc = FARM_E_NOTFOUND;
	} else {
		qsort(b->e, b->n, sizeof(b->e[0]), store_entry_cmp);
		b->take[b->e[0].shard] = 1;
		rc = farm_txn_outbox_drop(t, b);
	}
	if (rc == FARM_OK) {
		*val = b->e[0].val;
		*vlen = b->e[0].len;
		b->e[0].val = NULL;
	}
	farm_outbox_batch_clear(b);
	free(b);
	return rc;
}

void farm_outbox_batch_done(struct farm_outbox_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->e[i].stamp > b->floor[b->e[i].shard])
			b->floor[b->e[i].shard] = b->e[i].stamp;
	farm_outbox_batch_clear(b);
}

/* Replicated, in a transaction: without one, DB->stat meeting a lockout of operations
 * sleeps 5 s before it returns a deadlock (__db_rep_enter); with one, at once, and the
 * next txn_begin waits the lockout out (store_lockout_sleep). */
static int store_outbox_stat(struct farm_store *s, int k, DB_BTREE_STAT **sp)
{
	DB_TXN *tid = NULL;
	unsigned lockout_ms = 0;
	int rc, attempt;

	if (!farm_store_repl_on())
		return s->outbox[k]->stat(s->outbox[k], NULL, sp, DB_FAST_STAT);
	for (attempt = 0;; attempt++) {
		STORE_LOCKOUT_RETRY(rc, s->env->txn_begin(s->env, NULL, &tid, 0));
		if (rc != 0)
			return rc;
		rc = s->outbox[k]->stat(s->outbox[k], tid, sp, DB_FAST_STAT);
		tid->abort(tid);
		if (!store_is_deadlock(rc) || attempt + 1 >= STORE_RETRIES)
			return rc;
		store_lockout_sleep(&lockout_ms);
	}
}

int farm_store_outbox_depth(struct farm_store *s, uint64_t *depth)
{
	DB_BTREE_STAT *sp = NULL;
	int rc;

	if (depth)
		*depth = 0;
	if (!s || !depth)
		return FARM_E_INVAL;
	/* Exact for a renumbering Recno: the root page carries the record count. */
	for (int k = 0; k < STORE_OUTBOX_SHARDS; k++) {
		if ((rc = store_outbox_stat(s, k, &sp)) != 0)
			return store_code(rc);
		*depth += sp->bt_nkeys;
		free(sp);
	}
	return FARM_OK;
}

