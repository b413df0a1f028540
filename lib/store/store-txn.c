/* store-txn.c - transactions: farm_store_run's retries of deadlock victims, the
 * group commit that makes a commit durable, and the hand-over of the worker's gate
 * slot (gate.h) by a transaction that writes or waits for another's flush.
 */
#include "store-int.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gate.h"
#include "banned.h"

/* A transaction that writes takes write locks, and may wait for another's: from its
 * first write to its end it runs outside the worker's running-thread gate (gate.h).
 * A read-only one stays inside: it is short, and handing the slot on costs a wake-up. */
void txn_hand_over(struct farm_txn *t)
{
	if (t->handed && !*t->handed) {
		*t->handed = 1;
		farm_gate_block();
	}
}

/* Maps a Berkeley DB return inside a transaction and records what forbids a commit. */
int txn_fail(struct farm_txn *t, int rc)
{
	int code = store_code(rc);

	if (store_is_deadlock(rc))
		t->deadlock = 1;
	else if (code != FARM_OK && code != FARM_E_NOTFOUND && code != FARM_E_EXISTS &&
		 t->fatal == FARM_OK)
		t->fatal = code;
	return code;
}

/* --- transactions ------------------------------------------------------------------ */

/* Group commit.  A durable commit (DB_TXN_SYNC) keeps every page lock of the
 * transaction until its own fsync returned, so writers of one page (the outbox's root,
 * an org's page of a secondary index, the last leaf of a small table) queue behind one
 * fsync each.  Instead the commit writes its record to the log buffer and releases the
 * locks (DB_TXN_NOSYNC), then log_flush makes the log durable up to its end:
 * concurrent committers share one flush, and the caller returns only after its record
 * is on disk, so an acknowledged write survives a crash as before.
 *
 * Released early, the locks let other transactions read the commit before it is
 * durable.  Should its process die before the flush, recovery rolls it back, and an
 * answer built on that read would describe a state that never was (t1100 saw it: a
 * DELETE retried by nginx answered 404 for a record recovery then kept).  So every
 * transaction, read-only or aborted too, returns only once the log is durable to
 * where it was when the transaction ended: whatever it saw is on disk by then.
 * When nothing is pending, log_flush returns without writing.
 *
 * The threads of one process take turns at log_flush themselves: one calls it, the
 * others sleep on a futex word and are all woken together when it returns.  Left to
 * Berkeley DB, every waiter queues on the log region's mutex and each flush releases
 * them one at a time, a context switch each (a webhook burst on 2 cores spent most of
 * its off-CPU time in that chain); a mutex and condition variable of ours would make
 * the woken threads queue again for the mutex.  A flush started after a thread took
 * its ticket covers that thread: log_flush(NULL) writes the whole log as it is when
 * called, and the ticket was taken after the thread's commit record was in it. */
static int store_durable(struct farm_txn *t, int code)
{
	struct farm_store *s = t->s;
	struct store_flush *f = &s->flush;
	uint64_t ticket, upto;
	uint32_t seen;
	int rc, idle;

	if (code == FARM_E_RECOVER || (s->flags & FARM_STORE_NOSYNC))
		return code;
	ticket = atomic_fetch_add(&f->asked, 1) + 1;
	for (;;) {
		seen = atomic_load(&f->done);
		if (atomic_load(&f->covered) >= ticket)
			break;
		idle = 0;
		if (atomic_compare_exchange_strong(&f->running, &idle, 1)) {
			upto = atomic_load(&f->asked);
			STORE_LOCKOUT_RETRY(rc, s->env->log_flush(s->env, NULL));
			atomic_store(&f->rc, rc);
			atomic_store(&f->covered, upto);
			atomic_store(&f->running, 0);
			atomic_fetch_add(&f->done, 1);
			syscall(SYS_futex, &f->done, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
			continue;
		}
		/* Another thread's flush is on the disk: wait outside the gate. */
		txn_hand_over(t);
		/* Returns at once if a flush ended since `seen` was read. */
		syscall(SYS_futex, &f->done, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
	}
	rc = atomic_load(&f->rc); /* of the flush that covered us, or a later one: as strict */
	return rc != 0 ? store_code(rc) : code;
}

static int store_commit_local(struct farm_store *s, struct farm_txn *t, int lazy)
{
	int rc;

	if (s->flags & FARM_STORE_NOSYNC) /* benchmarks: DB_TXN_WRITE_NOSYNC */
		return store_code(t->tid->commit(t->tid, 0)); /* the handle is gone after it */
	if (lazy) /* durable with the next flush (farm_store_run_lazy) */
		return store_code(t->tid->commit(t->tid, DB_TXN_NOSYNC));
	/* (A transaction that wrote nothing has no commit record: NOSYNC changes nothing.) */
	if ((rc = t->tid->commit(t->tid, DB_TXN_NOSYNC)) != 0)
		return store_code(rc);
	return store_durable(t, FARM_OK);
}

/* Replicated, a commit is acknowledged by the replicas its policy asks.  For quorum,
 * all and one the thread waits after the commit released its locks, and after its
 * flush (store-acks.c: the replicas write the record meanwhile); for the other
 * policies Berkeley DB waits inside DB_TXN->commit (store-repl.c) and, when the acks
 * did not come within the ack timeout, still commits locally and says so only by an
 * event in this thread.  Either way the caller gets FARM_E_TIMEOUT, never a FARM_OK
 * for a write a failover may lose.  A lazy commit waits for nothing. */
static int store_commit(struct farm_store *s, struct farm_txn *t, int lazy)
{
	DB_TXN_TOKEN token;
	unsigned timeout_ms = 0;
	int rc, policy = 0, strict = 0, acks;

	acks = !lazy && store_repl_farm_acks(&policy, &strict, &timeout_ms) &&
	       t->tid->set_commit_token(t->tid, &token) == 0;
	store_repl_commit_begin();
	rc = store_commit_local(s, t, lazy);
	if (!store_repl_commit_acked() && rc == FARM_OK)
		return FARM_E_TIMEOUT;
	if (rc != FARM_OK || !acks)
		return rc;
	txn_hand_over(t); /* the wait is outside the worker's gate */
	return store_acks_wait(s, &token, policy, strict, timeout_ms);
}

static int store_run(struct farm_store *s, farm_store_fn fn, void *arg, int *handed, int lazy)
{
	struct farm_txn t;
	unsigned lockout_ms = 0;
	int attempt, rc, res;

	for (attempt = 0;; attempt++) {
		memset(&t, 0, sizeof(t));
		t.s = s;
		t.handed = handed;
		/* A replication lockout (store_lockout_sleep): the wait is outside the gate,
		 * and costs no attempt. */
		while ((rc = s->env->txn_begin(s->env, NULL, &t.tid, 0)) == DB_REP_LOCKOUT) {
			txn_hand_over(&t);
			store_lockout_sleep(&lockout_ms);
		}
		if (rc != 0)
			return store_code(rc);
		/* Each lost round raises the priority (default 100): the detector picks
		 * victims among the lowest, so a retried transaction is not starved. */
		if (attempt > 0 && (rc = t.tid->set_priority(t.tid, 100u + (u_int32_t)attempt)) != 0) {
			t.tid->abort(t.tid);
			return store_code(rc);
		}
		res = fn(&t, arg);
		if (res == FARM_OK && !t.deadlock && t.fatal == FARM_OK)
			return store_commit(s, &t, lazy);
		rc = t.tid->abort(t.tid);
		if (t.fatal == FARM_E_RECOVER || store_code(rc) == FARM_E_RECOVER)
			return FARM_E_RECOVER;
		if (t.deadlock) {
			if (attempt + 1 >= STORE_RETRIES)
				return FARM_E_DEADLOCK;
			txn_hand_over(&t); /* the back-off sleeps */
			store_backoff(attempt);
			continue;
		}
		return store_durable(&t, res != FARM_OK ? res : t.fatal);
	}
}

/* The gate slot given away at a first write or a wait for another's flush comes back
 * here, counted at once (gate.h).  With the whole transaction outside the gate, a
 * proxied request handed its slot on twice (credential read, platform call), which
 * cost a quarter of the uncached throughput; with only the flush wait outside it,
 * page-lock waits kept their slots and webhook ingest on 1 x 32 fell by a tenth
 * (docs/operations.md). */
int farm_store_run(struct farm_store *s, farm_store_fn fn, void *arg)
{
	int rc, handed = 0;

	if (!s || !fn)
		return FARM_E_INVAL;
	rc = store_run(s, fn, arg, &handed, 0);
	if (handed)
		farm_gate_unblock();
	return rc;
}

int farm_store_run_lazy(struct farm_store *s, farm_store_fn fn, void *arg)
{
	int rc, handed = 0;

	if (!s || !fn)
		return FARM_E_INVAL;
	rc = store_run(s, fn, arg, &handed, 1);
	if (handed)
		farm_gate_unblock();
	return rc;
}
