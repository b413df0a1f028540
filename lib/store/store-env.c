/* store-env.c - the Berkeley DB 5.3 environment behind farm (see store.h): open and
 * close, the env.lock that keeps recovery alone, failchk, checkpoints, statistics, and
 * the mapping of Berkeley DB errors.  The other concerns live beside it (store-int.h
 * lists them).
 *
 * The environment home is `dir` itself (mode 0700, every file 0600):
 *   meta.db creds.db catalog.db pipelines.db runs.db dedupe.db events.db   Btree primaries
 *   board.db
 *   creds-org.db catalog-org.db pipelines-org.db runs-org.db               "by org" secondaries
 *   board-org.db
 *   outbox.db outbox-1.db ... outbox-7.db                                  event outbox shards
 *   log.NNNNNNNNNN (write-ahead log), __db.NNN (shared regions)
 *
 * Every setting is made here, before DB_ENV->open; there is no DB_CONFIG file.
 *
 * Dead processes are handled the "failchk" way (operations.md §3.2, architecture 3):
 * is_alive + thread tracking configured in every process, the master calls
 * DB_ENV->failchk after reaping a child.  DB_RUNRECOVERY from any call becomes
 * FARM_E_RECOVER; the caller closes its handle and the master reopens with recovery.
 */
#include "store-int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

/* --- errors, messages, liveness ---------------------------------------------------- */

int store_code(int rc)
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
	case EACCES: /* a write on a replication client: "read-only database" */
		return farm_store_repl_on() ? FARM_E_NOTMASTER : FARM_E_DB;
	case DB_REP_HANDLE_DEAD: /* a replica rolled back under this handle */
		store_repl_handles_dead();
		return FARM_E_RECOVER;
	case DB_REP_LOCKOUT:
	case DB_REP_UNAVAIL:
		return FARM_E_UNAVAIL;
	default:
		return FARM_E_DB;
	}
}

int store_is_deadlock(int rc)
{
	return rc == DB_LOCK_DEADLOCK || rc == DB_LOCK_NOTGRANTED;
}

/* Berkeley DB's own messages name files and methods, never record contents.  Under
 * DB_REP_CONF_NOWAIT each DB_REP_LOCKOUT comes with "Operation locked out.  Waiting
 * for replication lockout to complete": farm retries it (store_lockout_sleep), a line
 * every few ms would only fill the log. */
void store_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	static const char lockout[] = "Operation locked out.";

	(void)env;
	(void)pfx;
	if (strstr(msg, lockout)) /* "BDB3504 Operation locked out. ..." */
		return;
	fprintf(stderr, "store: %s\n", msg);
}

void store_msgcall(const DB_ENV *env, const char *msg)
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

uint64_t store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleeps a random moment that grows with `attempt` (deadlock victims step aside). */
void store_backoff(int attempt)
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

/* Berkeley DB 5.3 waits out a replication lockout (a role change, a replica's sync
 * or rollback) by sleeping: __op_rep_enter (DB_ENV->txn_begin) in steps of 5 s,
 * __env_rep_enter (log_flush, txn_checkpoint, the statistics, DB_ENV->open) in steps
 * of 1 s, so a lockout of a few milliseconds cost a request 5 s (t9550: /health after
 * 5,004 ms).  With DB_REP_CONF_NOWAIT those return DB_REP_LOCKOUT and farm sleeps
 * in steps it chooses (docs/replication.md, "Lockouts"). */
static _Atomic unsigned long lockout_sleeps, lockout_slept_ms; /* logged at close */

void store_lockout_sleep(unsigned *wait_ms)
{
	struct timespec ts;

	*wait_ms = *wait_ms == 0 ? 2 : *wait_ms * 2 > 50 ? 50 : *wait_ms * 2;
	atomic_fetch_add(&lockout_sleeps, 1);
	atomic_fetch_add(&lockout_slept_ms, *wait_ms);
	ts.tv_sec = 0;
	ts.tv_nsec = (long)*wait_ms * 1000000L;
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

/* Replicated, the open runs in a transaction of its own: without one, DB->open meeting
 * a lockout of operations sleeps 5 s before it returns DB_LOCK_DEADLOCK
 * (__db_rep_enter); with one it returns at once, and the next txn_begin waits the
 * lockout out in short steps.  Such a deadlock then ends a lockout, not a real
 * conflict: it is retried for up to STORE_OPEN_LOCKOUT_MS (10 tries of 5 s before). */
enum { STORE_OPEN_LOCKOUT_MS = 50000 };

static int store_db_open_once(struct farm_store *s, DB *db, const char *file, DBTYPE type)
{
	DB_TXN *tid = NULL;
	int rc, crc;

	if (!farm_store_repl_on())
		return db->open(db, NULL, file, NULL, type, DB_CREATE | DB_AUTO_COMMIT | DB_THREAD,
				0600);
	STORE_LOCKOUT_RETRY(rc, s->env->txn_begin(s->env, NULL, &tid, 0));
	if (rc != 0)
		return rc;
	rc = db->open(db, tid, file, NULL, type, DB_CREATE | DB_THREAD, 0600);
	crc = rc == 0 ? tid->commit(tid, 0) : tid->abort(tid);
	return rc != 0 ? rc : crc;
}

static int store_db_open(struct farm_store *s, DB **out, const char *file, DBTYPE type,
			 u_int32_t dbflags, struct farm_error *err)
{
	DB *db = NULL;
	unsigned lockout_ms = 0;
	long waited_ms = 0;
	int rc, attempt;

	for (attempt = 0;; attempt++) {
		if ((rc = db_create(&db, s->env, 0)) != 0)
			break;
		rc = db->set_flags(db, DB_CHKSUM | dbflags);
		if (rc == 0 && type == DB_RECNO)
			rc = db->set_append_recno(db, store_stamp);
		if (rc == 0) {
			rc = store_db_open_once(s, db, file, type);
			if (rc == 0) {
				*out = db;
				return FARM_OK;
			}
		}
		db->close(db, 0);
		db = NULL;
		if (store_is_deadlock(rc) && farm_store_repl_on() &&
		    waited_ms < STORE_OPEN_LOCKOUT_MS) {
			store_lockout_sleep(&lockout_ms);
			waited_ms += lockout_ms;
			continue;
		}
		/* A replica cannot create a database: the master's creation of it is on its
		 * way (the master's pool creates every file at its first open). */
		if (rc == ENOENT && farm_store_repl_on() && attempt < 300) {
			usleep(100 * 1000);
			continue;
		}
		if (!store_is_deadlock(rc) || attempt + 1 >= STORE_RETRIES)
			break;
		store_backoff(attempt);
	}
	return farm_error_set(err, store_code(rc), "store: open %s: %s", file, db_strerror(rc));
}

/* Like store_db_open_once: replicated, in a transaction (a lockout then ends it at
 * once with a deadlock, retried by the caller, instead of a 5 s sleep). */
static int store_associate(struct farm_store *s, int i)
{
	DB_TXN *tid = NULL;
	int rc, crc;

	if (!farm_store_repl_on())
		return s->db[i]->associate(s->db[i], NULL, s->org[i], store_org_key, DB_CREATE);
	STORE_LOCKOUT_RETRY(rc, s->env->txn_begin(s->env, NULL, &tid, 0));
	if (rc != 0)
		return rc;
	rc = s->db[i]->associate(s->db[i], tid, s->org[i], store_org_key, DB_CREATE);
	crc = rc == 0 ? tid->commit(tid, 0) : tid->abort(tid);
	return rc != 0 ? rc : crc;
}

/* --- a full disk and the shared regions ----------------------------------------------
 *
 * The regions (__db.NNN) are files in `dir` that every process maps, and Berkeley DB
 * grows the buffer pool's and the main region's as they fill (a 16 MiB cache starts at
 * 0.3 MiB): it writes the new end of the file and leaves a hole before it.  The first
 * touch of a page in that hole needs a block, and on a full filesystem the kernel
 * answers that page fault with SIGBUS: a worker dies inside Berkeley DB, holding its
 * mutexes, and the environment needs recovery, which the full disk may refuse.
 *
 * So the process that creates the regions (recovery: FARM_STORE_MASTER) reserves every
 * region file up to its maximum size at once (fallocate, FALLOC_FL_KEEP_SIZE: the file
 * size Berkeley DB sees is unchanged), and a full disk then fails writes with ENOSPC,
 * answered 507, and never a page fault.  Files are matched to regions by size (the
 * mutex and buffer-pool regions report theirs; the main region is the rest, up to
 * DB_ENV->get_memory_max).  And on a small filesystem the cache is smaller, so that
 * the reserved regions leave most of it to data and logs (store_cache_size). */

/* STORE_CACHE, or an eighth of the filesystem holding dir when that is less (at least
 * 1 MiB): a 20 MB filesystem gets a 2.5 MB cache and keeps ~12 MB for data and logs. */
static u_int32_t store_cache_size(const char *dir)
{
	struct statvfs sv;
	unsigned long long fs;

	if (statvfs(dir, &sv) != 0)
		return STORE_CACHE;
	fs = (unsigned long long)sv.f_blocks * sv.f_frsize;
	if (fs / 8 >= STORE_CACHE)
		return STORE_CACHE;
	return fs / 8 < (1u << 20) ? (1u << 20) : (u_int32_t)(fs / 8);
}

/* 1 when a region file of `size` bytes holds a region now `regsize` long (the file
 * ends a byte short of the region, rounded to 8 KiB pages). */
static int store_region_is(off_t size, roff_t regsize)
{
	long long d = (long long)size - (long long)regsize;

	return d > -16384 && d < 16384;
}

/* Reserves the region files up to their maximum sizes.  0, or the errno of the
 * reservation that failed (reported on stderr, the log): regions that may fault are
 * not used; the recovery is failed and tried again once there is room. */
static int store_reserve_regions(DB_ENV *env, const char *dir)
{
	DB_MPOOL_STAT *mp = NULL;
	DB_MUTEX_STAT *mx = NULL;
	u_int32_t gb = 0, b = 0;
	roff_t mp_size = 0, mp_max = 0, mx_size = 0, mx_max = 0;
	unsigned long long main_max;
	struct dirent *de;
	int failed = 0;
	DIR *d;

	if (env->memp_stat(env, &mp, NULL, 0) == 0 && mp) {
		mp_size = mp->st_regsize;
		mp_max = mp->st_regmax;
	}
	if (env->mutex_stat(env, &mx, 0) == 0 && mx) {
		mx_size = mx->st_regsize;
		mx_max = mx->st_regmax;
	}
	free(mp);
	free(mx);
	env->get_memory_max(env, &gb, &b);
	main_max = (unsigned long long)gb * (1ULL << 30) + b;
	if (!(d = opendir(dir)))
		return errno;
	while ((de = readdir(d)) && !failed) {
		char path[PATH_MAX];
		unsigned long long want;
		struct stat st;
		int fd;

		if (strncmp(de->d_name, "__db.", 5) != 0 || !isdigit((unsigned char)de->d_name[5]))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
		    (fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
			continue;
		if (fstat(fd, &st) == 0) {
			if (mp_max && store_region_is(st.st_size, mp_size))
				want = mp_max;
			else if (mx_max && store_region_is(st.st_size, mx_size))
				want = mx_max;
			else
				want = main_max;
			if (want > (unsigned long long)st.st_size &&
			    fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)want) != 0) {
				failed = errno;
				fprintf(stderr, "store: cannot reserve %llu bytes for %s: %s\n",
					want, path, strerror(errno));
			}
		}
		close(fd);
	}
	closedir(d);
	/* A filesystem without fallocate (EOPNOTSUPP) cannot reserve: used as it is. */
	return failed == EOPNOTSUPP ? 0 : failed;
}

static int store_env_open(struct farm_store *s, const char *dir, unsigned flags,
			  struct farm_error *err)
{
	u_int32_t oflags = DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL |
			   DB_INIT_TXN | DB_THREAD;
	int small = !!(flags & FARM_STORE_SMALL_LOGS);
	DB_ENV *env = NULL;
	const char *what = "db_env_create";
	unsigned lockout_ms = 0;
	int rc;

again:
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
	    (rc = env->set_cachesize(env, 0, store_cache_size(dir), 1)) != 0 ||
	    (rc = env->set_lg_bsize(env, small ? STORE_SMALL_LOG_BUF : STORE_LOG_BUF)) != 0 ||
	    (rc = env->set_lg_max(env, small ? STORE_SMALL_LOG_MAX : STORE_LOG_MAX)) != 0 ||
	    (rc = env->set_lg_filemode(env, 0600)) != 0)
		goto out;
	if ((flags & FARM_STORE_NOSYNC) &&
	    (rc = env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1)) != 0)
		goto out;
	if (flags & FARM_STORE_MASTER)
		oflags |= DB_RECOVER;
	what = "configure replication for";
	if ((rc = store_repl_configure(env, &oflags)) != 0)
		goto out;
	what = "open environment";
	rc = env->open(env, dir, oflags, 0600);
	if (rc == DB_REP_LOCKOUT) { /* DB_REP_CONF_NOWAIT: a role change is under way */
		env->close(env, 0); /* after a failed open: frees the handle only */
		env = NULL;
		store_lockout_sleep(&lockout_ms);
		goto again;
	}
	if (rc == 0 && (flags & FARM_STORE_MASTER)) {
		what = "reserve the shared regions of";
		rc = store_reserve_regions(env, dir); /* recovery made them: see above */
	}
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
				 FARM_STORE_EVICT | FARM_STORE_REPL_LISTENER |
				 FARM_STORE_REPL_PASSIVE)))
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
	s->reserve = (uint64_t)store_cache_size(dir) + (1u << 20);
	if (!(s->dir = strdup(dir))) {
		free(s);
		return farm_error_set(err, FARM_E_NOMEM, "store: out of memory");
	}
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
	/* Replicated: recovery and the listener open no database (recovery would create
	 * the files locally, outside the group's log); the others start repmgr first. */
	if (farm_store_repl_on()) {
		if (flags & (FARM_STORE_MASTER | FARM_STORE_REPL_LISTENER)) {
			if (flags & FARM_STORE_REPL_LISTENER)
				code = store_repl_start(s, flags, err);
			goto out;
		}
		if ((code = store_repl_start(s, flags, err)) != FARM_OK)
			goto out;
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
			rc = store_associate(s, i);
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

/* DB_ENV->close enters the replication API (__env_rep_enter) and, whether or not that
 * succeeded, leaves it again when it detaches: under DB_REP_CONF_NOWAIT a close during
 * a lockout of the API would lower the region's handle count below what is held, and a
 * later lockout could wait for ever.  So the close first waits for the lockout to end
 * (log_flush enters the same way, and flushes what the close would), and says so if a
 * new one began in the microseconds between. */
static void store_env_close(struct farm_store *s)
{
	int rc;

	if (farm_store_repl_on())
		STORE_LOCKOUT_RETRY(rc, s->env->log_flush(s->env, NULL));
	if (atomic_load(&lockout_sleeps) > 0)
		fprintf(stderr, "store: replication lockouts waited out: %lu sleeps, %lu ms\n",
			atomic_load(&lockout_sleeps), atomic_load(&lockout_slept_ms));
	rc = s->env->close(s->env, 0);
	if (rc == DB_REP_LOCKOUT)
		fprintf(stderr, "store: environment closed during a replication lockout: "
				"restart the node's pool if a role change hangs\n");
}

void farm_store_close(struct farm_store *s)
{
	int i;

	if (!s)
		return;
	if (s->acks) { /* the listener's reporter uses the environment */
		store_acks_listener_stop();
		store_acks_unmap(s);
	}
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
		store_env_close(s);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* last: the environment is left before recovery may run */
	free(s->dir);
	free(s);
}

void farm_store_abandon(struct farm_store *s)
{
	if (!s)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* this process no longer counts as attached */
	store_acks_unmap(s);
	free(s->dir);
	free(s);
}

int farm_store_relock(struct farm_store *s)
{
	struct flock l;

	if (!s || s->lock_fd < 0)
		return FARM_E_INVAL;
	memset(&l, 0, sizeof(l));
	l.l_type = F_RDLCK;
	l.l_whence = SEEK_SET;
	return fcntl(s->lock_fd, F_SETLK, &l) == 0 ? FARM_OK : FARM_E_IO;
}

int farm_store_space(struct farm_store *s)
{
	struct statvfs sv;

	if (!s || !s->dir)
		return FARM_E_INVAL;
	if (statvfs(s->dir, &sv) != 0)
		return FARM_OK; /* cannot tell: the write itself will say */
	return (uint64_t)sv.f_bavail * sv.f_frsize < s->reserve ? FARM_E_NOSPACE : FARM_OK;
}

int farm_store_space_dir(const char *dir)
{
	struct statvfs sv;

	if (!dir || statvfs(dir, &sv) != 0)
		return FARM_OK;
	return (uint64_t)sv.f_bavail * sv.f_frsize < (uint64_t)store_cache_size(dir) + (1u << 20)
		       ? FARM_E_NOSPACE
		       : FARM_OK;
}

int store_room(struct farm_txn *t)
{
	int rc = farm_store_space(t->s);

	if (rc != FARM_E_NOSPACE)
		return FARM_OK;
	if (t->fatal == FARM_OK)
		t->fatal = FARM_E_NOSPACE;
	return FARM_E_NOSPACE;
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
 * unexplained is reported as needing recovery, the safe answer.
 *
 * One failchk at a time per environment: after a daemon's death the master's watcher
 * and the daemon's successor both run one, and __txn_failchk drops its region mutex
 * before it aborts a dead process's transaction, so two at once could both find that
 * transaction and abort it twice.  A write lock on "<dir>/failchk.lock" (F_SETLKW)
 * orders them: every caller runs failchk in a child it kills at a deadline, and the
 * kernel drops a killed process's lock.  Without the file (it cannot be made), the
 * check runs unordered rather than not at all. */
static int failchk_lock(const char *dir)
{
	char path[PATH_MAX];
	struct flock l;
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/failchk.lock", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return -1;
	memset(&l, 0, sizeof(l));
	l.l_type = F_WRLCK;
	l.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLKW, &l) < 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

int farm_store_failchk(struct farm_store *s)
{
	int rc, pass, lock_fd;

	if (!s)
		return FARM_E_INVAL;
	lock_fd = failchk_lock(s->dir);
	for (pass = 0; pass < 3; pass++)
		if ((rc = s->env->failchk(s->env, 0)) != EBUSY)
			break;
	if (lock_fd >= 0)
		close(lock_fd);
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
	STORE_LOCKOUT_RETRY(rc, s->env->txn_checkpoint(s->env, 0, 0, 0));
	if (rc != 0)
		return store_code(rc);
	STORE_LOCKOUT_RETRY(rc, s->env->log_archive(s->env, NULL, DB_ARCH_REMOVE));
	return store_code(rc);
}

/* Beginning and aborting a transaction touches the shared regions and reports a
 * panicked environment as DB_RUNRECOVERY, without taking any lock. */
int farm_store_ping(struct farm_store *s)
{
	DB_TXN *tid = NULL;
	int rc;

	if (!s)
		return FARM_E_INVAL;
	STORE_LOCKOUT_RETRY(rc, s->env->txn_begin(s->env, NULL, &tid, 0));
	if (rc != 0)
		return store_code(rc) == FARM_E_RECOVER ? FARM_E_RECOVER : FARM_E_DB;
	if ((rc = tid->abort(tid)) != 0)
		return store_code(rc) == FARM_E_RECOVER ? FARM_E_RECOVER : FARM_E_DB;
	return FARM_OK;
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
	STORE_LOCKOUT_RETRY(rc, s->env->txn_stat(s->env, &ts, 0));
	if (rc != 0)
		return store_code(rc);
	st->txn_commits = ts->st_ncommits;
	st->txn_aborts = ts->st_naborts;
	free(ts);
	STORE_LOCKOUT_RETRY(rc, s->env->lock_stat(s->env, &ls, 0));
	if (rc != 0)
		return store_code(rc);
	st->deadlocks = ls->st_ndeadlocks;
	free(ls);
	STORE_LOCKOUT_RETRY(rc, s->env->log_stat(s->env, &gs, 0));
	if (rc != 0)
		return store_code(rc);
	st->log_flushes = gs->st_scount;
	free(gs);
	if ((code = farm_store_outbox_depth(s, &st->outbox_depth)) != FARM_OK)
		return code;
	STORE_LOCKOUT_RETRY(rc, s->env->log_archive(s->env, &logs, DB_ARCH_LOG));
	if (rc != 0)
		return store_code(rc);
	for (p = logs; p && *p; p++)
		st->log_files++;
	free(logs);
	return FARM_OK;
}
