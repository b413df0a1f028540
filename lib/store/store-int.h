/* store-int.h - what the files of lib/store/ share; not part of the API (store.h is).
 * Only lib/store/ includes it, and with it db.h.
 *
 *   store-env.c     the environment: open/close, env.lock, failchk, checkpoint, ping,
 *                   statistics; Berkeley DB errors -> FARM_E_*; deadlock back-off
 *   store-txn.c     farm_store_run: transactions, deadlock retries, group commit
 *   store-table.c   the tables: org header, "by org" secondaries, get/put/del/scan,
 *                   FARM_T_META counters
 *   store-outbox.c  the event outbox: Recno shards, append, peek/merge/drop
 *   store-backup.c  hot backup and db_verify of a stopped copy
 *   store-repl.c    replication (repmgr): sites, listener/subordinates, role, status
 *   store-acks.c    farm's acknowledgement wait: replicas' reports, the shared table
 *
 * The names below are internal to lib/store/ (prefix store_ / txn_).
 */
#ifndef FARM_STORE_INT_H
#define FARM_STORE_INT_H

#include <db.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

enum {
	STORE_THREADS = 256,             /* thread control blocks (all processes) */
	STORE_TXNS = 512,                /* concurrently active transactions */
	/* Locks and lock objects.  The lock region is sized from these, and every process
	 * touches most of it: at 20,000 a pool worker's RSS carried 1.3 MiB of it, at 5,000
	 * 0.5 MiB.  A webhook burst on 2 x 16 threads peaks at ~360 locks; an org's list
	 * holds one per page it reads (degree 3); the one sweep of a whole table
	 * (farm-eventd's of redelivery keys) reads FARM_SCAN_COMMITTED, holding none. */
	STORE_LOCKS = 5000,
	STORE_LOCKERS = 1000,            /* peak ~150 in the same burst */
	STORE_CACHE = 16 << 20,          /* shared buffer pool */
	STORE_LOG_BUF = 256 << 10,       /* in-memory log buffer */
	STORE_LOG_MAX = 4 << 20,         /* log file size */
	STORE_SMALL_LOG_BUF = 32 << 10,  /* FARM_STORE_SMALL_LOGS: a file must hold 4 buffers */
	STORE_SMALL_LOG_MAX = 128 << 10,
	STORE_RETRIES = 10,              /* attempts of a deadlocked transaction */
	STORE_NO_ORG = 0xFFFF,           /* org length meaning "no org" */
	STORE_ORG_MAX = 0xFFFE,
};

struct store_table {
	const char *file;
	const char *org_file; /* its "by org" secondary, or NULL when not org-scoped */
};
extern const struct store_table store_tables[FARM_T__COUNT]; /* store-table.c */
/* The secondary key of "no org" records. */
extern const unsigned char store_no_org_key[1];

/* The outbox's shards and the stamp that starts each entry (store-outbox.c). */
enum {
	STORE_OUTBOX_SHARDS = FARM_OUTBOX_SHARDS,
	STORE_STAMP_LEN = 9, /* 0x00 | u64 big-endian ns; a JSON entry never starts with 0 */
};

struct farm_store {
	DB_ENV *env;
	DB *db[FARM_T__COUNT];
	DB *org[FARM_T__COUNT]; /* secondaries; NULL for tables without an org */
	DB *outbox[STORE_OUTBOX_SHARDS];
	unsigned flags;
	int lock_fd; /* "<dir>/env.lock": shared, or exclusive for recovery */
	char *dir;         /* the environment home */
	uint64_t reserve;  /* free bytes writes leave in dir's filesystem (store_room) */
	struct acks_table *acks; /* "<dir>/repl.acks" mapped (store-acks.c), or NULL */
	struct store_flush { /* in-process group commit: store_durable */
		_Atomic uint64_t asked;   /* tickets handed out: one per store_durable call */
		_Atomic uint64_t covered; /* every ticket up to this one is durable */
		_Atomic uint32_t done;    /* futex word: bumped when a log_flush returns */
		atomic_int running;       /* a thread of this process is in log_flush */
		atomic_int rc;            /* what the last log_flush returned */
	} flush;
};

/* One transaction.  `deadlock` and `fatal` remember what a callback may have ignored:
 * after either, the transaction is aborted whatever the callback returns. */
struct farm_txn {
	struct farm_store *s;
	DB_TXN *tid;
	int deadlock; /* DB_LOCK_DEADLOCK / DB_LOCK_NOTGRANTED seen: abort and retry */
	int fatal;    /* first unexpected error (FARM_E_*): abort, never commit */
	int *handed;  /* this run gave its gate slot away (farm_store_run) */
};

/* store-env.c */
int store_code(int rc); /* Berkeley DB return -> FARM_E_* */
int store_is_deadlock(int rc);
void store_errcall(const DB_ENV *env, const char *pfx, const char *msg);
void store_msgcall(const DB_ENV *env, const char *msg);
void store_backoff(int attempt);
/* A replicated environment runs with DB_REP_CONF_NOWAIT (store-repl.c): a call that
 * meets a replication lockout returns DB_REP_LOCKOUT at once.  store_lockout_sleep
 * sleeps before the next try: 2 ms, doubling to 50 ms (*wait_ms keeps the step).
 * STORE_LOCKOUT_RETRY(rc, call) repeats `call` until it returns something else, with
 * no bound: Berkeley DB's own wait (steps of 5 s or 1 s) had none either. */
void store_lockout_sleep(unsigned *wait_ms);
#define STORE_LOCKOUT_RETRY(rc, call)                                                   \
	do {                                                                            \
		unsigned lockout_ms_ = 0;                                               \
		while (((rc) = (call)) == DB_REP_LOCKOUT)                               \
			store_lockout_sleep(&lockout_ms_);                              \
	} while (0)
/* Before a write that may grow the files: FARM_E_NOSPACE (and the transaction can no
 * longer commit) when the filesystem has less than s->reserve free. */
int store_room(struct farm_txn *t);

/* store-repl.c */
int store_repl_configure(DB_ENV *env, u_int32_t *oflags);
int store_repl_start(struct farm_store *s, unsigned flags, struct farm_error *err);
void store_repl_handles_dead(void); /* store_code saw DB_REP_HANDLE_DEAD */
void store_repl_commit_begin(void);
int store_repl_commit_acked(void); /* 0 after DB_EVENT_REP_PERM_FAILED */
/* Whether commits wait for farm's acknowledgements (store-acks.c); then *policy is
 * the configured DB_REPMGR_ACKS_*, and the 2SITE_STRICT setting and the ack timeout. */
int store_repl_farm_acks(int *policy, int *strict_2site, unsigned *timeout_ms);

/* store-acks.c (docs at the top of that file) */
struct acks_table;
/* The listener, before repmgr_start: maps the table, receives the replicas' reports.
 * local_site is this node's "host:port" as its reports name it.  0 or an errno /
 * Berkeley DB error. */
int store_acks_listener_begin(struct farm_store *s, const char *local_site);
/* The listener, after repmgr_start: the reporter thread; stopped by _stop (joined). */
int store_acks_listener_start(struct farm_store *s);
void store_acks_listener_stop(void);
/* The master's listener: replicas connected now (-1: not the master, unknown). */
void store_acks_connected(struct farm_store *s, int n);
/* A replica: 1 when its reporter saw it has the master's last commit of generation
 * `gen` (start-up done though Berkeley DB has not said so yet). */
int store_acks_caught_up(struct farm_store *s, uint32_t gen);
/* After a commit whose token is *token: FARM_OK once the replicas `policy` asks for
 * reported it, FARM_E_TIMEOUT after timeout_ms or when too few are connected. */
int store_acks_wait(struct farm_store *s, const DB_TXN_TOKEN *token, int policy,
		    int strict_2site, unsigned timeout_ms);
void store_acks_unmap(struct farm_store *s);

/* store-txn.c */
void txn_hand_over(struct farm_txn *t);
int txn_fail(struct farm_txn *t, int rc);

/* store-table.c */
int store_org_key(DB *sdb, const DBT *key, const DBT *data, DBT *result);

/* store-outbox.c */
void store_outbox_file(int k, char *buf, size_t cap);
int store_stamp(DB *db, DBT *data, db_recno_t recno);

/* Milliseconds of CLOCK_MONOTONIC (store-env.c). */
uint64_t store_now_ms(void);

/* 32-bit fields of farm's replication messages are sent big-endian (store-acks.c). */
static inline void store_be32_put(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (24 - 8 * i));
}

static inline uint32_t store_be32_get(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Counters and stamps are stored big-endian, so that they sort as numbers. */
static inline void store_be64_put(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static inline uint64_t store_be64_get(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}


#endif
