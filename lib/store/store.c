/* store.c - the Berkeley DB 5.3 environment behind farm (see store.h).
 *
 * The environment home is `dir` itself (mode 0700, every file 0600):
 *   meta.db creds.db catalog.db pipelines.db runs.db dedupe.db events.db   Btree primaries
 *   creds-org.db catalog-org.db pipelines-org.db runs-org.db               "by org" secondaries
 *   outbox.db outbox-1.db ... outbox-7.db                                  event outbox shards
 *   log.NNNNNNNNNN (write-ahead log), __db.NNN (shared regions)
 *
 * Every setting is made here, before DB_ENV->open; there is no DB_CONFIG file.
 *
 * Org-scoped records (creds, catalog, pipelines, runs) are stored as
 *   [u16 big-endian org length | org bytes | payload]
 * with length 0xFFFF meaning "no org".  Each has a DB_DUPSORT secondary whose key is
 * the org bytes, or the single byte 0x00 for "no org": an org is a non-empty C string,
 * so that key cannot collide with a real one.
 *
 * Dead processes are handled the "failchk" way (operations.md §3.2, architecture 3):
 * is_alive + thread tracking configured in every process, the master calls
 * DB_ENV->failchk after reaping a child.  DB_RUNRECOVERY from any call becomes
 * FARM_E_RECOVER; the caller closes its handle and the master reopens with recovery.
 */
#include "store.h"

#include <db.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "gate.h"
#include "banned.h"

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

static const struct store_table {
	const char *file;
	const char *org_file; /* its "by org" secondary, or NULL when not org-scoped */
} store_tables[FARM_T__COUNT] = {
	[FARM_T_META] = {"meta.db", NULL},
	[FARM_T_CREDS] = {"creds.db", "creds-org.db"},
	[FARM_T_CATALOG] = {"catalog.db", "catalog-org.db"},
	[FARM_T_PIPELINES] = {"pipelines.db", "pipelines-org.db"},
	[FARM_T_RUNS] = {"runs.db", "runs-org.db"},
	[FARM_T_DEDUPE] = {"dedupe.db", NULL},
	[FARM_T_EVENTS] = {"events.db", NULL},
	[FARM_T_BOARD] = {"board.db", "board-org.db"},
};

/* Why Recno and not Queue for the outbox: a Queue holds fixed-length records, and
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
enum {
	STORE_OUTBOX_SHARDS = FARM_OUTBOX_SHARDS,
	STORE_STAMP_LEN = 9, /* 0x00 | u64 big-endian ns; a JSON entry never starts with 0 */
};

static void store_outbox_file(int k, char *buf, size_t cap)
{
	if (k == 0)
		snprintf(buf, cap, "outbox.db"); /* the one outbox before shards: kept */
	else
		snprintf(buf, cap, "outbox-%d.db", k);
}

static const unsigned char store_no_org_key[1] = {0};

struct farm_store {
	DB_ENV *env;
	DB *db[FARM_T__COUNT];
	DB *org[FARM_T__COUNT]; /* secondaries; NULL for tables without an org */
	DB *outbox[STORE_OUTBOX_SHARDS];
	unsigned flags;
	int lock_fd; /* "<dir>/env.lock": shared, or exclusive for recovery */
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

/* A transaction that writes takes write locks, and may wait for another's: from its
 * first write to its end it runs outside the worker's running-thread gate (gate.h).
 * A read-only one stays inside: it is short, and handing the slot on costs a wake-up. */
static void txn_hand_over(struct farm_txn *t)
{
	if (t->handed && !*t->handed) {
		*t->handed = 1;
		farm_gate_block();
	}
}

/* --- errors, messages, liveness ---------------------------------------------------- */

static int store_code(int rc)
{
	switch (rc) {
	case 0:
		return FARM_OK;
	case DB_NOTFOUND:
	case DB_KEYEMPTY:
		return FARM_E_NOTFOUND;
	case DB_KEYEXIST:
		return FARM_E_EXISTS;
	case DB_RUNRECOVERY:
		return FARM_E_RECOVER;
	case DB_LOCK_DEADLOCK:
	case DB_LOCK_NOTGRANTED:
		return FARM_E_DEADLOCK;
	case ENOMEM:
		return FARM_E_NOMEM;
	case ENOSPC:
	case EIO:
	case EDQUOT:
		return FARM_E_NOSPACE;
	default:
		return FARM_E_DB;
	}
}

static int store_is_deadlock(int rc)
{
	return rc == DB_LOCK_DEADLOCK || rc == DB_LOCK_NOTGRANTED;
}

/* Maps a Berkeley DB return inside a transaction and records what forbids a commit. */
static int txn_fail(struct farm_txn *t, int rc)
{
	int code = store_code(rc);

	if (store_is_deadlock(rc))
		t->deadlock = 1;
	else if (code != FARM_OK && code != FARM_E_NOTFOUND && code != FARM_E_EXISTS &&
		 t->fatal == FARM_OK)
		t->fatal = code;
	return code;
}

/* Berkeley DB's own messages name files and methods, never record contents. */
static void store_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	fprintf(stderr, "store: %s\n", msg);
}

static void store_msgcall(const DB_ENV *env, const char *msg)
{
	(void)env;
	fprintf(stderr, "store: %s\n", msg);
}

/* failchk asks whether the owner of a thread slot still runs.  farm's threads never
 * die alone, so a live process means live threads (also without DB_MUTEX_PROCESS_ONLY).
 * A zombie still answers kill(pid, 0): the master reaps a child before failchk. */
static int store_isalive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	(void)env;
	(void)tid;
	(void)flags;
	if (pid <= 0)
		return 0;
	return kill(pid, 0) == 0 || errno == EPERM;
}

/* Sleeps a random moment that grows with `attempt` (deadlock victims step aside). */
static void store_backoff(int attempt)
{
	static _Thread_local unsigned seed;
	long max_us = 100L << (attempt < 9 ? attempt : 9); /* 100 µs … 51 ms */
	struct timespec ts;

	if (seed == 0)
		seed = (unsigned)getpid() ^ (unsigned)(uintptr_t)&seed ^ (unsigned)time(NULL);
	ts.tv_sec = 0;
	ts.tv_nsec = (50 + rand_r(&seed) % max_us) * 1000L;
	nanosleep(&ts, NULL);
}

/* --- open and close ---------------------------------------------------------------- */

/* Takes the environment lock (store.h): shared, or exclusive for recovery.  Polls
 * (F_SETLK every 20 ms) rather than F_SETLKW so that the wait is bounded. */
static int store_env_lock(struct farm_store *s, const char *dir, unsigned flags,
			  struct farm_error *err)
{
	int exclusive = !!(flags & FARM_STORE_MASTER);
	char path[PATH_MAX];
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/env.lock", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return farm_error_set(err, FARM_E_TOOBIG, "store: path too long");
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return farm_error_set(err, FARM_E_IO, "store: %s: %s", path, strerror(errno));
	for (long waited = 0;; waited += 20) {
		struct flock l;

		memset(&l, 0, sizeof(l));
		l.l_type = exclusive ? F_WRLCK : F_RDLCK;
		l.l_whence = SEEK_SET;
		if (fcntl(fd, F_SETLK, &l) == 0) {
			s->lock_fd = fd;
			return FARM_OK;
		}
		if (errno != EACCES && errno != EAGAIN) {
			close(fd);
			return farm_error_set(err, FARM_E_IO, "store: lock %s: %s", path,
					      strerror(errno));
		}
		if (exclusive) {
			memset(&l, 0, sizeof(l));
			l.l_type = F_WRLCK;
			l.l_whence = SEEK_SET;
			if (fcntl(fd, F_GETLK, &l) == 0 && l.l_type != F_UNLCK && l.l_pid > 0) {
				if (!(flags & FARM_STORE_EVICT)) {
					close(fd);
					return farm_error_set(err, FARM_E_CONFLICT,
							      "store: %s is in use by process %ld; "
							      "stop it before recovery",
							      dir, (long)l.l_pid);
				}
				if (l.l_pid != getppid())
					kill(l.l_pid, SIGKILL);
			}
		}
		if (waited >= FARM_STORE_LOCK_WAIT_MS) {
			close(fd);
			return farm_error_set(err, FARM_E_UNAVAIL,
					      "store: %s stayed locked for recovery over %d s", dir,
					      FARM_STORE_LOCK_WAIT_MS / 1000);
		}
		usleep(20 * 1000);
	}
}

/* Secondary key callback: the org named in the record's header. */
static int store_org_key(DB *sdb, const DBT *key, const DBT *data, DBT *result)
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

/* Counters and stamps are stored big-endian, so that they sort as numbers. */
static void store_be64_put(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t store_be64_get(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* DB_APPEND's callback: runs with the new record's page path write-locked, so the
 * stamps of one shard rise with its record numbers. */
static int store_stamp(DB *db, DBT *data, db_recno_t recno)
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

static int store_db_open(struct farm_store *s, DB **out, const char *file, DBTYPE type,
			 u_int32_t dbflags, struct farm_error *err)
{
	DB *db = NULL;
	int rc, attempt;

	for (attempt = 0;; attempt++) {
		if ((rc = db_create(&db, s->env, 0)) != 0)
			break;
		rc = db->set_flags(db, DB_CHKSUM | dbflags);
		if (rc == 0 && type == DB_RECNO)
			rc = db->set_append_recno(db, store_stamp);
		if (rc == 0) {
			rc = db->open(db, NULL, file, NULL, type,
				      DB_CREATE | DB_AUTO_COMMIT | DB_THREAD, 0600);
			if (rc == 0) {
				*out = db;
				return FARM_OK;
			}
		}
		db->close(db, 0);
		db = NULL;
		if (!store_is_deadlock(rc) || attempt + 1 >= STORE_RETRIES)
			break;
		store_backoff(attempt);
	}
	return farm_error_set(err, store_code(rc), "store: open %s: %s", file, db_strerror(rc));
}

static int store_env_open(struct farm_store *s, const char *dir, unsigned flags,
			  struct farm_error *err)
{
	u_int32_t oflags = DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL |
			   DB_INIT_TXN | DB_THREAD;
	int small = !!(flags & FARM_STORE_SMALL_LOGS);
	DB_ENV *env = NULL;
	const char *what = "db_env_create";
	int rc;

	if ((rc = db_env_create(&env, 0)) != 0)
		goto out;
	env->set_errcall(env, store_errcall);
	env->set_msgcall(env, store_msgcall);
	what = "configure environment";
	if ((rc = env->set_isalive(env, store_isalive)) != 0 ||
	    (rc = env->set_thread_count(env, STORE_THREADS)) != 0 ||
	    (rc = env->set_lk_detect(env, DB_LOCK_DEFAULT)) != 0 ||
	    (rc = env->set_lk_max_locks(env, STORE_LOCKS)) != 0 ||
	    (rc = env->set_lk_max_objects(env, STORE_LOCKS)) != 0 ||
	    (rc = env->set_lk_max_lockers(env, STORE_LOCKERS)) != 0 ||
	    (rc = env->set_tx_max(env, STORE_TXNS)) != 0 ||
	    (rc = env->set_cachesize(env, 0, STORE_CACHE, 1)) != 0 ||
	    (rc = env->set_lg_bsize(env, small ? STORE_SMALL_LOG_BUF : STORE_LOG_BUF)) != 0 ||
	    (rc = env->set_lg_max(env, small ? STORE_SMALL_LOG_MAX : STORE_LOG_MAX)) != 0 ||
	    (rc = env->set_lg_filemode(env, 0600)) != 0)
		goto out;
	if ((flags & FARM_STORE_NOSYNC) &&
	    (rc = env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1)) != 0)
		goto out;
	if (flags & FARM_STORE_MASTER)
		oflags |= DB_RECOVER;
	what = "open environment";
	rc = env->open(env, dir, oflags, 0600);
out:
	if (rc != 0) {
		if (env)
			env->close(env, 0);
		return farm_error_set(err, store_code(rc), "store: %s %s: %s", what, dir,
				      db_strerror(rc));
	}
	s->env = env;
	return FARM_OK;
}

int farm_store_open(struct farm_store **out, const char *dir, unsigned flags,
		    struct farm_error *err)
{
	struct farm_store *s = NULL;
	int code, rc, i, attempt;

	if (out)
		*out = NULL;
	if (!out || !dir || !*dir ||
	    (flags & ~(unsigned)(FARM_STORE_MASTER | FARM_STORE_NOSYNC | FARM_STORE_SMALL_LOGS |
				 FARM_STORE_EVICT)))
		return farm_error_set(err, FARM_E_INVAL, "store: bad open arguments");
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		code = farm_error_set(err, FARM_E_IO, "store: mkdir %s: %s", dir, strerror(errno));
		if (err)
			err->sys_errno = errno;
		return code;
	}
	if (!(s = calloc(1, sizeof(*s))))
		return farm_error_set(err, FARM_E_NOMEM, "store: out of memory");
	s->flags = flags;
	s->lock_fd = -1;
	if ((code = store_env_lock(s, dir, flags, err)) != FARM_OK ||
	    (code = store_env_open(s, dir, flags, err)) != FARM_OK)
		goto out;
	if (flags & FARM_STORE_MASTER) { /* recovered: others may attach now */
		struct flock l;
		memset(&l, 0, sizeof(l));
		l.l_type = F_RDLCK;
		l.l_whence = SEEK_SET;
		if (fcntl(s->lock_fd, F_SETLK, &l) != 0) {
			code = farm_error_set(err, FARM_E_IO, "store: lock %s: %s", dir,
					      strerror(errno));
			goto out;
		}
	}
	for (i = 0; i < FARM_T__COUNT; i++) {
		const struct store_table *tb = &store_tables[i];

		if ((code = store_db_open(s, &s->db[i], tb->file, DB_BTREE, 0, err)) != FARM_OK)
			goto out;
		if (!tb->org_file)
			continue;
		if ((code = store_db_open(s, &s->org[i], tb->org_file, DB_BTREE, DB_DUPSORT,
					  err)) != FARM_OK)
			goto out;
		/* DB_CREATE: build the index if the secondary is empty (never, in practice). */
		for (attempt = 0;; attempt++) {
			rc = s->db[i]->associate(s->db[i], NULL, s->org[i], store_org_key,
						 DB_CREATE);
			if (!store_is_deadlock(rc) || attempt + 1 >= STORE_RETRIES)
				break;
			store_backoff(attempt);
		}
		if (rc != 0) {
			code = farm_error_set(err, store_code(rc), "store: associate %s: %s",
					      tb->org_file, db_strerror(rc));
			goto out;
		}
	}
	for (i = 0; i < STORE_OUTBOX_SHARDS && code == FARM_OK; i++) {
		char file[32];

		store_outbox_file(i, file, sizeof(file));
		code = store_db_open(s, &s->outbox[i], file, DB_RECNO, DB_RENUMBER, err);
	}
out:
	if (code != FARM_OK) {
		farm_store_close(s);
		return code;
	}
	*out = s;
	return FARM_OK;
}

void farm_store_close(struct farm_store *s)
{
	int i;

	if (!s)
		return;
	/* Secondaries first: closing one dissolves its association. */
	for (i = 0; i < FARM_T__COUNT; i++)
		if (s->org[i])
			s->org[i]->close(s->org[i], 0);
	for (i = 0; i < FARM_T__COUNT; i++)
		if (s->db[i])
			s->db[i]->close(s->db[i], 0);
	for (i = 0; i < STORE_OUTBOX_SHARDS; i++)
		if (s->outbox[i])
			s->outbox[i]->close(s->outbox[i], 0);
	if (s->env)
		s->env->close(s->env, 0);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* last: the environment is left before recovery may run */
	free(s);
}

void farm_store_abandon(struct farm_store *s)
{
	if (!s)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* this process no longer counts as attached */
	free(s);
}

/* --- environment maintenance ------------------------------------------------------- */

/* Berkeley DB 5.3.28 defect: when a dead process had databases open, failchk's
 * __dbreg_failchk locks each of its handle mutexes, finishes the cleanup (its
 * transactions aborted, locks and log registrations freed), then destroys the mutex
 * it still holds: pthread_mutex_destroy answers EBUSY ("BDB2027 unable to destroy
 * mutex") and failchk returns early, skipping its last steps.  The library means to
 * ignore that error in the failchk thread (see __db_pthread_mutex_destroy) but loses
 * track of being that thread.  So EBUSY gets another pass, which finds nothing left of
 * the dead process's handles and completes; only its verdict counts.  Whatever stays
 * unexplained is reported as needing recovery, the safe answer. */
int farm_store_failchk(struct farm_store *s)
{
	int rc, pass;

	if (!s)
		return FARM_E_INVAL;
	for (pass = 0; pass < 3; pass++)
		if ((rc = s->env->failchk(s->env, 0)) != EBUSY)
			break;
	if (rc == 0)
		return FARM_OK;
	if (store_code(rc) == FARM_E_NOMEM)
		return FARM_E_NOMEM;
	return FARM_E_RECOVER;
}

int farm_store_checkpoint(struct farm_store *s)
{
	int rc;

	if (!s)
		return FARM_E_INVAL;
	if ((rc = s->env->txn_checkpoint(s->env, 0, 0, 0)) != 0)
		return store_code(rc);
	return store_code(s->env->log_archive(s->env, NULL, DB_ARCH_REMOVE));
}

/* Beginning and aborting a transaction touches the shared regions and reports a
 * panicked environment as DB_RUNRECOVERY, without taking any lock. */
int farm_store_ping(struct farm_store *s)
{
	DB_TXN *tid = NULL;
	int rc;

	if (!s)
		return FARM_E_INVAL;
	if ((rc = s->env->txn_begin(s->env, NULL, &tid, 0)) != 0)
		return store_code(rc) == FARM_E_RECOVER ? FARM_E_RECOVER : FARM_E_DB;
	if ((rc = tid->abort(tid)) != 0)
		return store_code(rc) == FARM_E_RECOVER ? FARM_E_RECOVER : FARM_E_DB;
	return FARM_OK;
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
			rc = s->env->log_flush(s->env, NULL);
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

static int store_commit(struct farm_store *s, struct farm_txn *t)
{
	int rc;

	if (s->flags & FARM_STORE_NOSYNC) /* benchmarks: DB_TXN_WRITE_NOSYNC */
		return store_code(t->tid->commit(t->tid, 0)); /* the handle is gone after it */
	/* (A transaction that wrote nothing has no commit record: NOSYNC changes nothing.) */
	if ((rc = t->tid->commit(t->tid, DB_TXN_NOSYNC)) != 0)
		return store_code(rc);
	return store_durable(t, FARM_OK);
}

static int store_run(struct farm_store *s, farm_store_fn fn, void *arg, int *handed)
{
	struct farm_txn t;
	int attempt, rc, res;

	for (attempt = 0;; attempt++) {
		memset(&t, 0, sizeof(t));
		t.s = s;
		t.handed = handed;
		if ((rc = s->env->txn_begin(s->env, NULL, &t.tid, 0)) != 0)
			return store_code(rc);
		/* Each lost round raises the priority (default 100): the detector picks
		 * victims among the lowest, so a retried transaction is not starved. */
		if (attempt > 0 && (rc = t.tid->set_priority(t.tid, 100u + (u_int32_t)attempt)) != 0) {
			t.tid->abort(t.tid);
			return store_code(rc);
		}
		res = fn(&t, arg);
		if (res == FARM_OK && !t.deadlock && t.fatal == FARM_OK)
			return store_commit(s, &t);
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
	rc = store_run(s, fn, arg, &handed);
	if (handed)
		farm_gate_unblock();
	return rc;
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
		if ((rc = s->env->txn_begin(s->env, NULL, &tid, 0)) != 0)
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
		if ((rc = s->outbox[k]->stat(s->outbox[k], NULL, &sp, DB_FAST_STAT)) != 0)
			return store_code(rc);
		*depth += sp->bt_nkeys;
		free(sp);
	}
	return FARM_OK;
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

/* --- backup, verification, statistics --------------------------------------------- */

/* `dir` must be missing (it is created 0700) or an empty directory. */
static int store_prepare_target(const char *dir, struct farm_error *err)
{
	struct dirent *de;
	DIR *dp;
	int code = FARM_OK;

	if (mkdir(dir, 0700) == 0)
		return FARM_OK;
	if (errno != EEXIST || !(dp = opendir(dir))) {
		code = farm_error_set(err, FARM_E_IO, "store: backup target %s: %s", dir,
				      strerror(errno));
		if (err)
			err->sys_errno = errno;
		return code;
	}
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			code = farm_error_set(err, FARM_E_EXISTS,
					      "store: backup target %s is not empty", dir);
			break;
		}
	}
	closedir(dp);
	return code;
}

/* Catastrophic recovery in a private environment on `dir`: replays the copied logs
 * over the copied files so they are consistent, checkpoints, drops unneeded logs. */
static int store_recover_fatal(const char *dir, struct farm_error *err)
{
	DB_ENV *env = NULL;
	const char *what = "db_env_create";
	int rc, crc;

	if ((rc = db_env_create(&env, 0)) != 0)
		goto out;
	env->set_errcall(env, store_errcall);
	env->set_msgcall(env, store_msgcall);
	what = "recover backup";
	rc = env->open(env, dir,
		       DB_CREATE | DB_PRIVATE | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL |
			       DB_INIT_TXN | DB_RECOVER_FATAL,
		       0600);
	if (rc == 0) {
		what = "trim backup logs";
		rc = env->log_archive(env, NULL, DB_ARCH_REMOVE);
	}
	crc = env->close(env, 0);
	env = NULL;
	if (rc == 0) {
		what = "close backup environment";
		rc = crc;
	}
out:
	if (env)
		env->close(env, 0);
	if (rc != 0)
		return farm_error_set(err, store_code(rc) == FARM_E_RECOVER ? FARM_E_DB
									    : store_code(rc),
				      "store: %s %s: %s", what, dir, db_strerror(rc));
	return FARM_OK;
}

int farm_store_backup(struct farm_store *s, const char *target, struct farm_error *err)
{
	int code, rc;

	if (!s || !target || !*target)
		return farm_error_set(err, FARM_E_INVAL, "store: bad backup arguments");
	if ((code = store_prepare_target(target, err)) != FARM_OK)
		return code;
	/* A fresh checkpoint keeps the recovery below short (as db_hotbackup -c does). */
	if ((rc = s->env->txn_checkpoint(s->env, 0, 0, 0)) != 0 ||
	    (rc = s->env->backup(s->env, target, 0)) != 0)
		return farm_error_set(err, store_code(rc), "store: backup to %s: %s", target,
				      db_strerror(rc));
	return store_recover_fatal(target, err);
}

static int store_is_db_file(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return n > 3 && strcmp(de->d_name + n - 3, ".db") == 0;
}

int farm_store_verify_dir(const char *dir, struct farm_error *err)
{
	struct dirent **names = NULL;
	char path[PATH_MAX];
	const char *first = NULL;
	int n, i, rc, bad = 0, code = FARM_OK;
	DB *db;

	if (!dir || !*dir)
		return farm_error_set(err, FARM_E_INVAL, "store: bad verify arguments");
	if ((n = scandir(dir, &names, store_is_db_file, alphasort)) < 0) {
		code = farm_error_set(err, FARM_E_IO, "store: verify %s: %s", dir,
				      strerror(errno));
		if (err)
			err->sys_errno = errno;
		return code;
	}
	if (n == 0)
		code = farm_error_set(err, FARM_E_NOTFOUND, "store: no database files in %s",
				      dir);
	for (i = 0; i < n; i++) {
		rc = snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (rc < 0 || (size_t)rc >= sizeof(path)) {
			rc = ENAMETOOLONG;
		} else if ((rc = db_create(&db, NULL, 0)) == 0) {
			db->set_errcall(db, store_errcall);
			rc = db->verify(db, path, NULL, NULL, 0); /* frees db */
		}
		if (rc != 0 && bad++ == 0) {
			first = names[i]->d_name;
			code = farm_error_set(err, FARM_E_DB, "store: verify failed: %s: %s",
					      first, db_strerror(rc));
		}
	}
	if (bad > 1)
		farm_error_set(err, FARM_E_DB, "store: verify failed: %s (and %d more)", first,
			       bad - 1);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return code;
}

int farm_store_stats(struct farm_store *s, struct farm_store_stats *st)
{
	DB_TXN_STAT *ts = NULL;
	DB_LOCK_STAT *ls = NULL;
	DB_LOG_STAT *gs = NULL;
	char **logs = NULL, **p;
	int rc, code;

	if (!s || !st)
		return FARM_E_INVAL;
	memset(st, 0, sizeof(*st));
	if ((rc = s->env->txn_stat(s->env, &ts, 0)) != 0)
		return store_code(rc);
	st->txn_commits = ts->st_ncommits;
	st->txn_aborts = ts->st_naborts;
	free(ts);
	if ((rc = s->env->lock_stat(s->env, &ls, 0)) != 0)
		return store_code(rc);
	st->deadlocks = ls->st_ndeadlocks;
	free(ls);
	if ((rc = s->env->log_stat(s->env, &gs, 0)) != 0)
		return store_code(rc);
	st->log_flushes = gs->st_scount;
	free(gs);
	if ((code = farm_store_outbox_depth(s, &st->outbox_depth)) != FARM_OK)
		return code;
	if ((rc = s->env->log_archive(s->env, &logs, DB_ARCH_LOG)) != 0)
		return store_code(rc);
	for (p = logs; p && *p; p++)
		st->log_files++;
	free(logs);
	return FARM_OK;
}
