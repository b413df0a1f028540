/* store.h - farm's one gateway to Berkeley DB 5.3, and lib/store/'s one public header.
 * Only the files of lib/store/ include db.h (through store-int.h, which lists them:
 * store-env.c, store-txn.c, store-table.c, store-outbox.c, store-backup.c).
 *
 * One transactional environment under state_dir, shared by every process:
 * the farm-fcgi master opens it first with FARM_STORE_MASTER (runs normal recovery),
 * then forks workers that open their own handle; the daemons (eventd, wsd, runner,
 * farmctl) open it like workers.  Dead processes are handled with failchk: the master
 * calls farm_store_failchk() after reaping a child; FARM_E_RECOVER means every
 * process must close its handle and the master must reopen with recovery.
 *
 * Recovery must run alone: a process that attached during it would work on regions
 * recovery is about to remove, and its buffer pool could later write stale pages over
 * recovered ones.  So every handle holds a shared POSIX lock on "<dir>/env.lock" for
 * its whole life, and a FARM_STORE_MASTER open takes it exclusively: an open waits
 * while recovery runs (up to FARM_STORE_LOCK_WAIT_MS, then FARM_E_UNAVAIL), and
 * recovery refuses to start while anyone is attached (FARM_E_CONFLICT naming the pid)
 * unless FARM_STORE_EVICT lets it kill them first (the farm-fcgi master's recovery:
 * their supervisors start them again, and they wait for the recovery to end).
 *
 * Record values of org-scoped tables begin with a small header naming the org, so
 * one secondary index per such table ("by org") serves listing without a scan.
 * All handles are free-threaded (DB_THREAD).
 */
#ifndef FARM_STORE_H
#define FARM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct farm_store; /* one per process */
struct farm_txn;   /* one transaction; valid only inside farm_store_run's callback */

enum farm_store_flags {
	FARM_STORE_MASTER = 1 << 0,  /* run recovery at open; owner of checkpoints */
	FARM_STORE_NOSYNC = 1 << 1,  /* DB_TXN_WRITE_NOSYNC (tests/bench only; never default) */
	FARM_STORE_SMALL_LOGS = 1 << 2, /* 128 KiB log files when the env is created
					   (tests only: makes log removal observable) */
	FARM_STORE_EVICT = 1 << 3,   /* with MASTER: SIGKILL every other attached process */
	/* Replication (farm_store_repl_set; ignored while it is off): */
	FARM_STORE_REPL_LISTENER = 1 << 4, /* this process is the node's repmgr listener:
					      the environment only, no database opened */
	FARM_STORE_REPL_PASSIVE = 1 << 5,  /* no repmgr in this process: reads and status
					      only (farmctl replication status) */
};

#define FARM_STORE_LOCK_WAIT_MS 120000

enum farm_table {
	FARM_T_META = 0,   /* small key → value (counters, key versions) */
	FARM_T_CREDS,      /* credential id → [org header] sealed record (org-indexed) */
	FARM_T_CATALOG,    /* org\0componentId → link record (org-indexed) */
	FARM_T_PIPELINES,  /* pipeline id → record (org-indexed) */
	FARM_T_RUNS,       /* run id → record (org-indexed) */
	FARM_T_DEDUPE,     /* webhook delivery key → event outbox seq (redelivery check) */
	FARM_T_EVENTS,     /* event id (8-byte big-endian) → event JSON (history) */
	FARM_T_BOARD,      /* org\0platform\0project → latest run (org-indexed; lib/events/board.h) */
	FARM_T_AUDIT,      /* record id (8-byte big-endian) → audit record (org-indexed; lib/audit/audit.h) */
	FARM_T_RUNIDX,     /* runs index: latest state of every run, newest first (org-indexed; lib/events/runidx.h) */
	FARM_T__COUNT
};

/* Replication (lib/store/store-repl.c, docs/replication.md).  Process-wide, set once
 * before the first farm_store_open; `local` NULL or "" keeps replication off (a
 * single node, nothing changes).  Copies what it needs.  FARM_E_CONFIG with err->msg
 * for a malformed site list or policy. */
struct farm_store_repl_conf {
	const char *local;      /* "host:port" repmgr listens on */
	const char *peers;      /* "host:port,host:port": the other sites */
	int priority;           /* election priority (0 = never master) */
	const char *ack_policy; /* quorum (default), all, all_available, all_peers, one,
				   one_peer, none */
	unsigned ack_timeout_ms; /* a commit not acknowledged in time fails (FARM_E_TIMEOUT) */
	int join;               /* join a running group through the peers (else: the peers
				   form the initial group) */
	int strict_2site;       /* DB_REPMGR_CONF_2SITE_STRICT */
};
int farm_store_repl_set(const struct farm_store_repl_conf *c, struct farm_error *err);
int farm_store_repl_on(void);
/* The Berkeley DB constant of an ack policy name, or -1. */
int farm_store_repl_policy(const char *name);

/* FARM_OK when this node accepts writes (the master, or replication off);
 * FARM_E_NOTMASTER on a replica or while no master is known. */
int farm_store_writable(struct farm_store *s);

enum { FARM_REPL_NONE = 0, FARM_REPL_MASTER, FARM_REPL_REPLICA };
#define FARM_REPL_MAX_PEERS 16
struct farm_repl_peer {
	char addr[280];
	int connected; /* 1/0; -1 unknown (no repmgr in this process: PASSIVE) */
};
struct farm_repl_status {
	int enabled, role, startup_done, listener;
	int master_eid, self_eid;
	char local[280], master[280]; /* master: "" while none is known */
	uint32_t generation, elections;
	uint32_t lsn_file, lsn_offset; /* end of this node's log */
	int npeers;
	struct farm_repl_peer peers[FARM_REPL_MAX_PEERS];
};
int farm_store_repl_status(struct farm_store *s, struct farm_repl_status *out);
const char *farm_repl_role_name(int role);

/* The listener only, every ~100 ms: a master that has seen fewer than a majority of
 * the group connected for FARM_REPL_STEPDOWN_MS steps down to a replica (Berkeley DB
 * 5.3 keeps a cut-off master master until it meets the new one).  1 when it stepped
 * down now, 2 when the master has just lost its majority (the clock starts), 0 when
 * nothing changed, a FARM_E_* when stepping down failed. */
#define FARM_REPL_STEPDOWN_MS 2000
int farm_store_repl_check(struct farm_store *s);
/* The listener, every ~100 ms: a node short of space (farm_store_space) stands at
 * priority 0 (it never wins an election), and a master short of it for
 * FARM_REPL_STEPDOWN_MS steps down if a peer is connected, so that the group elects a
 * node with room (its own writes answer 507 meanwhile); with room again, the
 * configured priority.  1 when
 * it stepped down now, 2 when the master has just run short (the clock starts), 3
 * when it has room again, 0 when nothing changed, a FARM_E_* when a step failed. */
int farm_store_repl_space_check(struct farm_store *s);
/* The listener: 1 while this master sees fewer than a majority (its step-down clock
 * runs, or the step-down is under way). */
int farm_store_repl_minority(void);

/* 1 once Berkeley DB said, in this process, that replication rolled back committed
 * transactions under its open handles (DB_REP_HANDLE_DEAD: the process must close
 * and reopen them; every use answers FARM_E_RECOVER until then).  Cleared by
 * farm_store_open. */
int farm_store_repl_stale(void);
/* The same, after one cheap read of a handle of `s` (a process that would otherwise
 * find out only at its next request). */
int farm_store_repl_probe(struct farm_store *s);

/* Removes host:port from the group's membership (DB_SITE->remove; store-repl-ops.c):
 * elections and quorum acknowledgements no longer count it.  Needs repmgr running in
 * this process (opened without FARM_STORE_REPL_PASSIVE). */
int farm_store_repl_remove(struct farm_store *s, const char *site, struct farm_error *err);
/* This node is stopping: its last checkpoint (as master) skips the checkpoint delay
 * that gives the replicas time to flush first (store-repl-ops.c).  FARM_OK when
 * replication is off. */
int farm_store_repl_stopping(struct farm_store *s);
/* The end of this node's log (file << 32 | offset), 0 when unknown: it moves with
 * every write, replicated ones included (caches key on it). */
uint64_t farm_store_log_end(struct farm_store *s);

/* Opens (creating if needed) the environment in `dir`.  On success *out is new,
 * free with farm_store_close().  On failure err->msg says what and where. */
int farm_store_open(struct farm_store **out, const char *dir, unsigned flags,
		    struct farm_error *err);

/* NULL-safe.  Closes every database and the environment. */
void farm_store_close(struct farm_store *s);

/* Forgets a handle without calling Berkeley DB: for a process that is about to run
 * recovery after a dead process left the environment unusable (closing could block
 * on a mutex the dead process held).  The region mappings leak until exit. */
void farm_store_abandon(struct farm_store *s);

/* Takes the shared env.lock again: a replication listener's Berkeley DB opens and
 * closes every file of the environment home during an internal init, which drops
 * the process's POSIX locks on env.lock (store-repl.c). */
int farm_store_relock(struct farm_store *s);

/* Master only: check the environment after a child process died.
 * FARM_OK, or FARM_E_RECOVER when full recovery is needed. */
int farm_store_failchk(struct farm_store *s);

/* Checkpoint and remove log files no longer needed (bounded log directory). */
int farm_store_checkpoint(struct farm_store *s);

/* FARM_OK, or FARM_E_NOSPACE when the filesystem holding the environment has less
 * free space than writes keep in reserve: the buffer pool's size plus 1 MiB, so that
 * every page the cache holds dirty can still be written (a cache full of pages that
 * cannot be written makes every transaction wait seconds for a buffer, and the
 * checkpoint for ever).  Writes (farm_txn_put, farm_txn_outbox_append,
 * farm_txn_next_seq; not farm_txn_del, which frees) refuse with FARM_E_NOSPACE below
 * it, so the disk that fills up is answered 507 before Berkeley DB meets ENOSPC.
 * One statvfs(2). */
int farm_store_space(struct farm_store *s);
/* The same answer for the environment in dir, without a handle (a pool whose
 * environment is down asks it before recovering a replicated node). */
int farm_store_space_dir(const char *dir);

/* Cheap liveness check for /health: FARM_OK or FARM_E_RECOVER/FARM_E_DB. */
int farm_store_ping(struct farm_store *s);

/* Run `fn` inside a transaction; commit if it returns FARM_OK, abort otherwise.
 * Deadlock victims are retried (bounded).  Returns fn's result or a store error.
 * A FARM_OK return means the commit is durable (synchronous unless NOSYNC).
 * `fn` may therefore run more than once: it must not carry state over from an
 * aborted attempt.  After a deadlock or an unexpected store error inside the
 * transaction it is aborted even if `fn` returned FARM_OK (FARM_E_DEADLOCK once the
 * retries are spent).  Do not call farm_store_run from inside `fn`. */
typedef int (*farm_store_fn)(struct farm_txn *txn, void *arg);
int farm_store_run(struct farm_store *s, farm_store_fn fn, void *arg);
/* The same, but a commit returns without waiting for the log to be on disk: it
 * becomes durable with the next durable commit of any process (or the checkpoint),
 * and a crash before that undoes it.  Only for writes whose loss is harmless and
 * whose answer does not depend on them (an audit record's outcome, lib/audit). */
int farm_store_run_lazy(struct farm_store *s, farm_store_fn fn, void *arg);

/* Inside a transaction.  `*val` is new (malloc), free with free(); the org header
 * of org-scoped tables is stripped on get and written by put.
 * FARM_E_NOTFOUND when absent.  get with `rmw` takes a write lock. */
int farm_txn_get(struct farm_txn *t, enum farm_table tab, const void *key, size_t klen,
		 void **val, size_t *vlen, int rmw);
/* `org` may be NULL (the "no org" scope) for org-scoped tables; ignored for others.
 * `noover`: FARM_E_EXISTS if the key is present. */
int farm_txn_put(struct farm_txn *t, enum farm_table tab, const void *key, size_t klen,
		 const char *org, const void *val, size_t vlen, int noover);
int farm_txn_del(struct farm_txn *t, enum farm_table tab, const void *key, size_t klen);
/* For org-scoped tables: the org stored with the record (new string or NULL for
 * no org) — used to answer another org's record exactly like a missing one. */
int farm_txn_get_org(struct farm_txn *t, enum farm_table tab, const void *key, size_t klen,
		     char **org, int *found);

/* Iterate records of one org (org-scoped tables, via the secondary index), or every
 * record of a table with FARM_SCAN_ALL (then `org` is ignored), in key order.
 * FARM_SCAN_COMMITTED reads each record as committed and keeps no lock on what it
 * has passed (degree 2): for sweeps of big tables, which would otherwise hold a lock
 * per page and block writers until commit.
 * `cb` returns FARM_OK to continue, 1 to stop, or an error which aborts the scan. */
enum { FARM_SCAN_ALL = 1, FARM_SCAN_COMMITTED = 2 };
typedef int (*farm_store_scan_fn)(const void *key, size_t klen, const void *val,
				  size_t vlen, void *arg);
int farm_txn_scan(struct farm_txn *t, enum farm_table tab, const char *org, unsigned how,
		  farm_store_scan_fn cb, void *arg);
/* One org's records of an org-scoped table in DESCENDING key order, starting with the
 * greatest key below `before` (blen bytes; NULL: from the greatest): a cursor walk
 * of the "by org" index, not a scan (pages of newest-first lists keyed by a counter).
 * With FARM_SCAN_ALL in `how`, every record of the table the same way (org ignored).
 * `cb` as for farm_txn_scan. */
int farm_txn_scan_back(struct farm_txn *t, enum farm_table tab, const char *org, unsigned how,
		       const void *before, size_t blen, farm_store_scan_fn cb, void *arg);

/* Durable outbox of not-yet-published events: FARM_OUTBOX_SHARDS Berkeley DB Recno
 * files (lib/store/store-outbox.c explains the shards and their order).
 * append: inside the caller's transaction (so an event is stored atomically with
 * whatever produced it).  pop: the oldest entry, removed in the same transaction
 * (tests; the consumer uses peek/drop). */
enum { FARM_OUTBOX_SHARDS = 8, FARM_OUTBOX_PER_SHARD = 32 };
int farm_txn_outbox_append(struct farm_txn *t, const void *val, size_t vlen);
int farm_txn_outbox_pop(struct farm_txn *t, void **val, size_t *vlen); /* NOTFOUND if empty */

/* The consumer's way.  farm_store_outbox_peek reads up to `per` (<= PER_SHARD) entries
 * of every shard in a transaction of its own and leaves in `b` those that may go out
 * now, oldest first (b->e[0..n)), holding no lock afterwards.  The caller then, in
 * its transaction, stores them and calls farm_txn_outbox_drop (which removes exactly
 * those), commits, and calls farm_outbox_batch_done; after a failed transaction,
 * farm_outbox_batch_clear.  Keep `b` across rounds (floor[] is its memory). */
struct farm_outbox_entry {
	void *val; /* malloc'd payload */
	size_t len;
	uint64_t stamp;
	int shard;
	size_t pos;
};
struct farm_outbox_batch {
	size_t n;
	struct farm_outbox_entry e[FARM_OUTBOX_SHARDS * FARM_OUTBOX_PER_SHARD];
	size_t take[FARM_OUTBOX_SHARDS];   /* entries of each shard in e[] */
	uint64_t floor[FARM_OUTBOX_SHARDS]; /* each shard's last stamp taken */
};
int farm_store_outbox_peek(struct farm_store *s, size_t per, struct farm_outbox_batch *b);
int farm_txn_outbox_drop(struct farm_txn *t, const struct farm_outbox_batch *b);
void farm_outbox_batch_done(struct farm_outbox_batch *b);
void farm_outbox_batch_clear(struct farm_outbox_batch *b);
int farm_store_outbox_depth(struct farm_store *s, uint64_t *depth);

/* Monotonic counter in FARM_T_META named `name`: *out = previous + 1. */
int farm_txn_next_seq(struct farm_txn *t, const char *name, uint64_t *out);

/* Hot backup of the live environment into `target` (created; must be empty), then
 * catastrophic recovery in the target so it is a consistent environment. */
int farm_store_backup(struct farm_store *s, const char *target, struct farm_error *err);

/* db_verify every database file in a stopped environment directory (a backup copy). */
int farm_store_verify_dir(const char *dir, struct farm_error *err);

struct farm_store_stats {
	uint64_t txn_commits, txn_aborts, deadlocks, outbox_depth;
	uint64_t log_files;
	uint64_t log_flushes; /* log writes made durable (fsyncs of the log), since creation */
};
int farm_store_stats(struct farm_store *s, struct farm_store_stats *st);

#endif
