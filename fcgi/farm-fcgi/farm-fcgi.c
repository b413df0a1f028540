/* farm-fcgi.c - the FastCGI process manager (php-fpm's "static" pool).
 *
 * The master takes the listening socket (its own `listen`, systemd's LISTEN_FDS,
 * or a socket on fd 0 from spawn-fcgi), opens the database environment once with
 * recovery, forks `workers` processes and then only supervises:
 *   SIGCHLD  reap; a crashed worker is checked with failchk (full recovery and a
 *            pool restart when a dead process held the environment), then respawned
 *   SIGUSR1  from a worker: it reached max_requests, start its replacement now;
 *            from anyone else: reopen log_file and replace the workers gracefully
 *            (they write to the log through the stderr they inherit)
 *   SIGHUP   re-read the configuration and replace every worker gracefully; "reload
 *            complete" is logged once no worker of the old configuration is left
 *   SIGUSR2  emergency restart: kill every worker, run recovery, start again
 *   SIGTERM/SIGINT/SIGQUIT  stop: workers finish in-flight requests, then exit
 * and every second: checkpoints, the request_terminate_timeout watchdog, and the
 * daemons' watcher (a daemon that died inside Berkeley DB: failchk, then recovery).
 *
 * Nothing in the master may block on the environment: a process that dies inside
 * Berkeley DB (or a disk that fills up) can leave a mutex held for good, and a master
 * stuck on it would neither reap nor respawn nor stop.  So every Berkeley DB call
 * beyond opening its handle runs in a child with a deadline: failchk and recovery
 * (run_bounded), and the checkpoint (ckpt_start / ckpt_check: a child per checkpoint,
 * reaped with the workers, killed past CKPT_TIMEOUT_S).  The checkpoint's outcome is
 * the pool's view of its storage (scoreboard `storage`, shown by /health): while it
 * fails for want of space it is retried every CKPT_RETRY_S, and its log_archive
 * removes old log files once there is room again.  A recovery that fails (a full disk
 * can refuse it) is retried every RECOVER_RETRY_S instead of ending the master; in
 * between, nginx's connections are accepted and closed at once (502, which nginx
 * turns into the contract's 503) rather than left waiting.
 */
#include "farm-fcgi.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "clock.h"
#include "daemon.h"
#include "events.h"
#include "platform.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "banned.h"

static const char *conf_path;
static int generation;
static char unix_path[108];

/* The checkpoint child (0 when none runs), when it started, when the last ended. */
#define CKPT_TIMEOUT_S 60
#define CKPT_RETRY_S 2
#define RECOVER_RETRY_S 5
static pid_t ckpt_pid;
static time_t ckpt_started;
static pid_t repl_pid; /* the replication child (replication.local set) */
/* No usable environment: recovery failed and is retried (no workers meanwhile). */
static int env_down;
static time_t env_down_retry;

static void usage(FILE *fp)
{
	fprintf(fp, "usage: farm-fcgi [-c FILE] [-t] [-v] [-h]\n"
		    "  -c FILE  configuration file (default: $FARM_CONFIG, else built-in defaults)\n"
		    "  -t       check the configuration and exit (non-zero with the line at fault)\n"
		    "  -v       print the version and exit\n"
		    "  -h       this help\n"
		    "  --routes print the route table (METHOD PATTERN FLAGS) and exit\n"
		    "Environment: FARM_<KEY> overrides a key (state_dir → FARM_STATE_DIR), JWT_SECRET.\n");
}

static int notify_systemd(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd, rc;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return 0;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = (int)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
	return rc < 0 ? -1 : 0;
}

static int is_listening_socket(int fd)
{
	int v = 0;
	socklen_t l = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l) == 0 && v;
}

static int open_listen(const struct farm_conf *c)
{
	const char *l = c->listen;
	const char *lfds = getenv("LISTEN_FDS"), *lpid = getenv("LISTEN_PID");
	int fd;

	/* systemd socket activation: the socket is fd 3. */
	if (lfds && lpid && strtol(lpid, NULL, 10) == (long)getpid() && strtol(lfds, NULL, 10) >= 1 &&
	    is_listening_socket(3)) {
		fd = 3;
		goto out;
	}
	if (!l || !*l) {
		if (!is_listening_socket(0)) {
			fprintf(stderr, "farm-fcgi: listen is empty and fd 0 is not a listening socket\n");
			return -1;
		}
		fd = 0;
		goto out;
	}
	if (strncmp(l, "unix:", 5) == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		const char *p = l + 5;
		mode_t mode = (mode_t)strtol(c->listen_mode, NULL, 8);
		if (strlen(p) >= sizeof(sa.sun_path)) {
			fprintf(stderr, "farm-fcgi: listen path too long: %s\n", p);
			return -1;
		}
		memcpy(sa.sun_path, p, strlen(p) + 1);
		memcpy(unix_path, p, strlen(p) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		unlink(p);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fprintf(stderr, "farm-fcgi: cannot bind %s: %s\n", p, strerror(errno));
			return -1;
		}
		chmod(p, mode);
	} else {
		struct sockaddr_in sa = {.sin_family = AF_INET};
		char host[64];
		const char *colon = strrchr(l, ':');
		int one = 1;
		if (!colon || (size_t)(colon - l) >= sizeof(host)) {
			fprintf(stderr, "farm-fcgi: listen must be unix:/path or host:port\n");
			return -1;
		}
		memcpy(host, l, (size_t)(colon - l));
		host[colon - l] = '\0';
		sa.sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10));
		if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
			fprintf(stderr, "farm-fcgi: listen host must be an IPv4 address\n");
			return -1;
		}
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fprintf(stderr, "farm-fcgi: cannot bind %s: %s\n", l, strerror(errno));
			return -1;
		}
	}
	if (listen(fd, 1024) < 0) {
		fprintf(stderr, "farm-fcgi: listen: %s\n", strerror(errno));
		return -1;
	}
out:
	/* Non-blocking: threads poll before accepting (see farm-fcgi-worker.c). */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static unsigned store_flags(const struct farm_app *app);

/* The keyring follows the key version stored in the database (farmctl rotate-key).
 * The master holds no database handle between its uses of one: a handle it had to
 * abandon for a recovery kept the old regions mapped, and on a full disk the space
 * of those unlinked files (the reserved regions) never came back.  So this opens one
 * for the read and closes it. */
static int load_keyring(struct farm_app *app)
{
	struct farm_store *s = NULL;
	struct farm_error err = {0};
	int rc;

	if ((rc = farm_store_open(&s, app->conf.state_dir,
				  store_flags(app) | FARM_STORE_REPL_PASSIVE, &err)) != FARM_OK) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "database: %s", err.msg);
		return rc;
	}
	farm_keyring_free(app->keyring);
	app->keyring = NULL;
	rc = farm_keys_load(&app->conf, s, &app->keyring);
	farm_store_close(s);
	return rc;
}

static int spawn_worker(struct farm_app *app)
{
	int slot = -1;
	pid_t pid;

	for (int i = 0; i < FARM_MAX_WORKERS; i++)
		if (app->board->slot[i].pid == 0) {
			slot = i;
			break;
		}
	if (slot < 0) {
		app->board->max_children_reached++;
		return -1;
	}
	memset(&app->board->slot[slot], 0, sizeof(app->board->slot[slot]));
	app->board->slot[slot].pid = -1; /* reserved */
	pid = fork();
	if (pid < 0) {
		app->board->slot[slot].pid = 0;
		farm_log(FARM_LOG_ERROR, NULL, errno, "fork");
		return -1;
	}
	if (pid == 0) {
		struct farm_error err = {0};
		sigset_t all;
		int rc;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGCHLD, SIG_DFL);
		app->slot = slot;
		app->board->slot[slot].pid = getpid();
		app->board->slot[slot].generation = generation;
		app->board->slot[slot].started = time(NULL);
		/* The master's environment handle must not be used (or closed) here. */
		app->store = NULL;
		if (farm_store_open(&app->store, app->conf.state_dir,
				    app->conf.sync_commit ? 0 : FARM_STORE_NOSYNC, &err) != FARM_OK) {
			farm_log(FARM_LOG_ERROR, NULL, 0, "worker: %s", err.msg);
			_exit(3);
		}
		rc = farm_worker_main(app);
		farm_store_close(app->store);
		_exit(rc);
	}
	app->board->slot[slot].pid = pid;
	app->board->slot[slot].generation = generation;
	return 0;
}

static int live_workers(struct farm_app *app, int gen_only)
{
	int n = 0;

	for (int i = 0; i < FARM_MAX_WORKERS; i++) {
		struct farm_slot *s = &app->board->slot[i];
		if (s->pid > 0 && !s->draining && (!gen_only || s->generation == generation))
			n++;
	}
	return n;
}

static void signal_workers(struct farm_app *app, int sig, int older_than_gen)
{
	for (int i = 0; i < FARM_MAX_WORKERS; i++) {
		struct farm_slot *s = &app->board->slot[i];
		if (s->pid > 0 && (!older_than_gen || s->generation < generation)) {
			if (sig != SIGKILL)
				s->draining = 1;
			kill(s->pid, sig);
		}
	}
}

/* 1 while a worker started before generation `gen` is alive. */
static int old_workers(struct farm_app *app, int gen)
{
	for (int i = 0; i < FARM_MAX_WORKERS; i++)
		if (app->board->slot[i].pid > 0 && app->board->slot[i].generation < gen)
			return 1;
	return 0;
}

static int any_worker(struct farm_app *app)
{
	for (int i = 0; i < FARM_MAX_WORKERS; i++)
		if (app->board->slot[i].pid > 0)
			return 1;
	return 0;
}

/* Runs fn in a child process and waits at most timeout_ms: returns its exit status,
 * 128 + the signal when something else killed it, or -1 when it had to be killed
 * (or could not be started).  Berkeley DB calls that can block forever on a
 * mutex a dead process held (failchk, recovery) run this way, so the master that
 * supervises the pool never hangs with it. */
static int run_bounded(int (*fn)(struct farm_app *), struct farm_app *app, int timeout_ms)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		_exit(fn(app));
	}
	for (int waited = 0;; waited += 10) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(10 * 1000);
	}
}

static unsigned store_flags(const struct farm_app *app)
{
	return app->conf.sync_commit ? 0 : FARM_STORE_NOSYNC;
}

/* In a child: a fresh handle, failchk; 0 when the environment is usable. */
static int child_failchk(struct farm_app *app)
{
	struct farm_store *s = NULL;
	struct farm_error err = {0};

	if (farm_store_open(&s, app->conf.state_dir, store_flags(app) | FARM_STORE_REPL_PASSIVE,
			    &err) != FARM_OK)
		return 2;
	if (farm_store_failchk(s) != FARM_OK)
		return 2; /* not closed: the environment is poisoned */
	farm_store_close(s);
	return 0;
}

/* Audit records removed by one checkpoint child at most (audit.retention_days): the
 * sweep is bounded, a backlog goes in later rounds. */
#define AUDIT_SWEEP_MAX 10000

/* In a child: a fresh handle, the audit retention sweep, checkpoint and log removal.
 * Exits 0, or 3 when the disk is full (FARM_E_NOSPACE), 2 on any other failure. */
/* The pool is stopping: the last checkpoint (docs/replication.md, "A master stops slowly"). */
static int ckpt_last;

static int child_checkpoint(struct farm_app *app)
{
	struct farm_store *s = NULL;
	struct farm_error err = {0};
	size_t swept = 0;
	int rc;

	if ((rc = farm_store_open(&s, app->conf.state_dir, store_flags(app), &err)) != FARM_OK) {
		farm_log(FARM_LOG_WARN, NULL, 0, "checkpoint: %s", err.msg);
		return rc == FARM_E_NOSPACE ? 3 : 2;
	}
	if (ckpt_last)
		farm_store_repl_stopping(s);
	/* Replicated and short of space: no checkpoint.  A master's waits
	 * DB_REP_CHECKPOINT_DELAY holding the environment, which delays its step-down
	 * (farm_store_repl_space_check), and its record, on a disk full to the last
	 * byte, panics the environment; the group elects a node with room instead. */
	if (farm_store_repl_on() && farm_store_space(s) == FARM_E_NOSPACE) {
		farm_store_close(s);
		return 3;
	}
	if (app->conf.audit_retention_days > 0 && farm_store_writable(s) == FARM_OK) { /* master only */
		long long cutoff = farm_clock_ms() - app->conf.audit_retention_days * 86400000LL;
		if ((rc = farm_audit_sweep(s, cutoff, AUDIT_SWEEP_MAX, &swept)) != FARM_OK)
			farm_log(FARM_LOG_WARN, NULL, 0, "audit retention sweep: %s",
				 farm_strerror(rc));
		else if (swept)
			farm_log(FARM_LOG_INFO, NULL, 0,
				 "audit retention: %zu records older than %ld days removed", swept,
				 app->conf.audit_retention_days);
	}
	rc = farm_store_checkpoint(s);
	farm_store_close(s);
	if (rc != FARM_OK) /* the master logs a change of state only: say why each time */
		farm_log(FARM_LOG_WARN, NULL, 0, "checkpoint: %s", farm_strerror(rc));
	return rc == FARM_OK ? 0 : rc == FARM_E_NOSPACE ? 3 : 2;
}

/* The checkpoint child's SIGUSR2: nothing, but a master's checkpoint that waits out
 * DB_REP_CHECKPOINT_DELAY sleeps in select() (Berkeley DB 5.3 __os_yield), which the
 * signal ends (no SA_RESTART): the checkpoint record is written at once. */
static void ckpt_wake(int sig)
{
	(void)sig;
}

/* Starts a checkpoint child unless one runs. */
static void ckpt_start(struct farm_app *app)
{
	pid_t pid, parent;

	if (ckpt_pid > 0)
		return;
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		farm_log(FARM_LOG_WARN, NULL, errno, "fork (checkpoint)");
		return;
	}
	if (pid == 0) {
		sigset_t none;
		struct sigaction sa;
		/* Never outlives the master: forked as the master was killed (kill -9 of
		 * the node), it blocked in Berkeley DB on a lock of a dead process and held
		 * the inherited pool socket, so the node could not start again (t9500). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(2);
		/* SIGUSR2 (ckpt_tick) interrupts the checkpoint delay; installed before
		 * the signals are unblocked (one sent meanwhile was pending). */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = ckpt_wake;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR2, &sa, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		app->store = NULL; /* the master's handle is not used here */
		_exit(child_checkpoint(app));
	}
	ckpt_pid = pid;
	ckpt_started = time(NULL);
}

/* The checkpoint child ended with wait status st. */
static void ckpt_done(struct farm_app *app, int st)
{
	int code = WIFEXITED(st) && WEXITSTATUS(st) == 0   ? FARM_OK
		   : WIFEXITED(st) && WEXITSTATUS(st) == 3 ? FARM_E_NOSPACE
							   : FARM_E_DB;
	int was = __atomic_exchange_n(&app->board->storage, code, __ATOMIC_RELAXED);

	ckpt_pid = 0;
	if (code == was)
		return;
	if (code == FARM_OK)
		farm_log(FARM_LOG_INFO, NULL, 0, "storage: checkpoint succeeded again");
	else if (code == FARM_E_NOSPACE)
		farm_log(FARM_LOG_ERROR, NULL, 0,
			 "storage: no space left in %s: writes answer 507 until there is",
			 app->conf.state_dir);
	else
		farm_log(FARM_LOG_ERROR, NULL, 0, "storage: checkpoint failed (%s %d)",
			 WIFSIGNALED(st) ? "signal" : "status",
			 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* In a child: normal recovery; any process still attached is killed first (EVICT). */
static int child_recover(struct farm_app *app)
{
	struct farm_store *s = NULL;
	struct farm_error err = {0};

	if (farm_store_open(&s, app->conf.state_dir,
			    store_flags(app) | FARM_STORE_MASTER | FARM_STORE_EVICT, &err) !=
	    FARM_OK) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "recovery: %s", err.msg);
		return 2;
	}
	farm_store_close(s);
	return 0;
}

/* Removes the shared region files (__db.NNN) of an environment nobody uses any more:
 * the last resort when recovery itself blocked on a dead process's mutex.  The data
 * and log files are untouched; the next recovery rebuilds the regions from the log. */
static void remove_regions(const char *dir)
{
	char path[4200];

	for (int i = 1; i <= 99; i++) {
		snprintf(path, sizeof(path), "%s/__db.%03d", dir, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/__db.register", dir);
	unlink(path);
}

/* Recovery, bounded (the master keeps no handle: see load_keyring). */
static int open_store_master(struct farm_app *app)
{
	int rc = run_bounded(child_recover, app, 60 * 1000);

	for (int tries = 0; rc > 128 && tries < 3; tries++) {
		/* It died creating the regions (a SIGBUS on a full disk): the half-made
		 * ones would fault again in the next attempt, so they go first. */
		farm_log(FARM_LOG_WARN, NULL, 0,
			 "recovery process killed by signal %d; removing the shared regions "
			 "and retrying", rc - 128);
		remove_regions(app->conf.state_dir);
		rc = run_bounded(child_recover, app, 60 * 1000);
	}
	if (rc == -1) {
		farm_log(FARM_LOG_ERROR, NULL, 0,
			 "recovery blocked for 60 s: removing the shared regions and retrying");
		remove_regions(app->conf.state_dir);
		rc = run_bounded(child_recover, app, 120 * 1000);
	}
	if (rc != 0) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "database recovery failed in %s",
			 app->conf.state_dir);
		return -1;
	}
	return 0;
}

/* --- replication ---------------------------------------------------------------------
 *
 * With replication.local set, one child of the master is the node's repmgr listener
 * (lib/store/store-repl.c): it opens the environment after recovery, starts repmgr
 * with elections and then only reports, in the scoreboard, whether the node is ready:
 * the master, or a replica that caught up (the databases then exist here).  Every
 * other process of the node starts repmgr as its subordinate.  Berkeley DB 5.3 has
 * no listener take-over, so when this child dies the pool restarts with recovery, as
 * after any process that died inside Berkeley DB. */
static void relock(int fd)
{
	struct flock l;

	memset(&l, 0, sizeof(l));
	l.l_type = F_WRLCK;
	l.l_whence = SEEK_SET;
	fcntl(fd, F_SETLK, &l);
}

static int child_repl(struct farm_app *app)
{
	struct farm_store *s = NULL;
	struct farm_error err = {0};
	struct farm_repl_status st;
	sigset_t set;
	int lock_fd = -1, was = -1, rc;
	long long t0;
	char meta[4200];
	struct stat sb;

	snprintf(meta, sizeof(meta), "%s/meta.db", app->conf.state_dir);
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the master */
	if (getppid() == 1)
		return 2;
	if (farm_store_open(&s, app->conf.state_dir,
			    store_flags(app) | FARM_STORE_REPL_LISTENER, &err) != FARM_OK) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "replication: %s", err.msg);
		return 2;
	}
	if (farm_daemon_lock("farm-fcgi", app->conf.state_dir, "repl", &lock_fd) < 0) {
		farm_store_close(s);
		return 2;
	}
	__atomic_store_n(&app->board->repl_ready, 1, __ATOMIC_RELAXED);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (;;) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		int ready;

		if (sigtimedwait(&set, NULL, &ts) > 0)
			break;
		/* Serving or receiving an internal init, Berkeley DB opens and closes every
		 * file of the environment home in this process, the lock files too, and a
		 * close drops this process's POSIX locks on that file: taken again. */
		farm_store_relock(s);
		relock(lock_fd);
		/* A master cut off from the majority steps down after
		 * FARM_REPL_STEPDOWN_MS: its writes could never be acknowledged, and as a
		 * replica it passes them on (or answers 503) instead of 504. */
		t0 = farm_clock_ms();
		if ((rc = farm_store_repl_check(s)) == 2)
			farm_log(FARM_LOG_WARN, NULL, 0,
				 "replication: this master sees fewer than a majority of the "
				 "group: it steps down in %d ms unless they come back",
				 FARM_REPL_STEPDOWN_MS);
		else if (rc == 1)
			farm_log(FARM_LOG_WARN, NULL, 0,
				 "replication: this master stepped down (%lld ms)",
				 farm_clock_ms() - t0);
		else if (rc < 0)
			farm_log(FARM_LOG_ERROR, NULL, 0, "replication: stepping down: %s",
				 farm_strerror(rc));
		t0 = farm_clock_ms();
		if ((rc = farm_store_repl_space_check(s)) == 2)
			farm_log(FARM_LOG_WARN, NULL, 0,
				 "replication: this master is short of space: it steps down in "
				 "%d ms unless space returns", FARM_REPL_STEPDOWN_MS);
		else if (rc == 1)
			farm_log(FARM_LOG_WARN, NULL, 0,
				 "replication: this master stepped down for want of space (%lld ms)",
				 farm_clock_ms() - t0);
		else if (rc == 3)
			farm_log(FARM_LOG_INFO, NULL, 0,
				 "replication: space again: this node may be elected again");
		else if (rc < 0)
			farm_log(FARM_LOG_ERROR, NULL, 0, "replication: short of space: %s",
				 farm_strerror(rc));
		__atomic_store_n(&app->board->repl_minority, farm_store_repl_minority(),
				 __ATOMIC_RELAXED);
		if ((rc = farm_store_repl_status(s, &st)) == FARM_E_RECOVER) {
			/* Berkeley DB panicked the environment: a replica's repmgr thread that
			 * could not write the master's log records (a full disk) panics it,
			 * and so does a master's checkpoint that cannot write its record.
			 * Exiting makes the pool recover (reap), once there is room. */
			farm_log(FARM_LOG_ERROR, NULL, 0,
				 "replication: the environment needs recovery (%s)",
				 farm_store_space_dir(app->conf.state_dir) == FARM_E_NOSPACE
					 ? "no space left on the disk"
					 : "a failure inside Berkeley DB");
			return 4; /* not closed: the environment is poisoned */
		}
		if (rc != FARM_OK)
			continue;
		ready = st.role == FARM_REPL_MASTER ||
			(st.role == FARM_REPL_REPLICA && st.startup_done &&
			 stat(meta, &sb) == 0); /* the master created the databases */
		__atomic_store_n(&app->board->repl_ready, ready ? 2 : 1, __ATOMIC_RELAXED);
		if (st.role != was) {
			farm_log(FARM_LOG_INFO, NULL, 0, "replication: %s%s%s",
				 farm_repl_role_name(st.role), *st.master ? ", master " : "",
				 st.master);
			was = st.role;
		}
	}
	__atomic_store_n(&app->board->repl_ready, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&app->board->repl_minority, 0, __ATOMIC_RELAXED);
	farm_store_close(s); /* repmgr stops: the listener role is free again */
	close(lock_fd);
	return 0;
}

static void repl_stop(void)
{
	int st;

	if (repl_pid <= 0)
		return;
	kill(repl_pid, SIGTERM);
	for (int i = 0; i < 100 && waitpid(repl_pid, &st, WNOHANG) == 0; i++)
		usleep(50 * 1000);
	if (waitpid(repl_pid, &st, WNOHANG) == 0) {
		kill(repl_pid, SIGKILL);
		waitpid(repl_pid, &st, 0);
	}
	repl_pid = 0;
}

/* Starts the replication child and waits until the node is ready: the master, or a
 * replica that caught up; after 10 s a node that already has its databases goes on
 * (it serves reads while no master is elected).  0, or -1 when the child died or
 * the master was told to stop meanwhile. */
static int repl_start(struct farm_app *app)
{
	char meta[4200];
	struct stat sb;
	sigset_t set;
	pid_t pid;

	if (!farm_store_repl_on())
		return 0;
	__atomic_store_n(&app->board->repl_ready, 0, __ATOMIC_RELAXED);
	pid = fork();
	if (pid < 0) {
		farm_log(FARM_LOG_ERROR, NULL, errno, "fork (replication)");
		return -1;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGCHLD, SIG_DFL);
		app->store = NULL;
		_exit(child_repl(app));
	}
	repl_pid = pid;
	snprintf(meta, sizeof(meta), "%s/meta.db", app->conf.state_dir);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	for (int waited = 0;; waited += 100) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		int st;

		if (__atomic_load_n(&app->board->repl_ready, __ATOMIC_RELAXED) == 2)
			break;
		if (waited >= 10000 && waited % 1000 == 0 && stat(meta, &sb) == 0 &&
		    __atomic_load_n(&app->board->repl_ready, __ATOMIC_RELAXED) == 1) {
			farm_log(FARM_LOG_WARN, NULL, 0,
				 "replication: no master yet; serving reads from this node's copy");
			break;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			repl_pid = 0;
			farm_log(FARM_LOG_ERROR, NULL, 0, "replication process exited (%d)",
				 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			return -1;
		}
		if (sigtimedwait(&set, NULL, &ts) > 0) {
			repl_stop();
			return -1;
		}
		if (waited > 0 && waited % 10000 == 0)
			farm_log(FARM_LOG_INFO, NULL, 0,
				 "replication: waiting for a master (%d s; a group elects one once "
				 "a majority of its nodes runs)", waited / 1000);
	}
	farm_log(FARM_LOG_INFO, NULL, 0, "replication: node ready");
	return 0;
}

/* The daemons that use the environment: each holds a write lock on
 * "<state_dir>/<name>.lock" while it runs (farm-wsd once its environment is open). */
static const char *const env_users[] = {"eventd", "wsd", "runner"};
#define N_ENV_USERS (sizeof(env_users) / sizeof(env_users[0]))
/* The holder of each lock at the watcher's last look (0: none). */
static long env_user_pid[N_ENV_USERS];

/* Recovery needs every user of the environment gone.  The daemons are killed
 * through their lock files (their supervisor, farm-run or systemd, starts them
 * again, and they reopen the recovered environment). */
static void stop_env_users(const char *dir)
{
	const char *const *names = env_users;

	for (size_t i = 0; i < N_ENV_USERS; i++) {
		char path[4200];
		struct flock l;
		int fd;

		snprintf(path, sizeof(path), "%s/%s.lock", dir, names[i]);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		for (int tries = 0; tries < 50; tries++) {
			memset(&l, 0, sizeof(l));
			l.l_type = F_WRLCK;
			l.l_whence = SEEK_SET;
			if (fcntl(fd, F_GETLK, &l) < 0 || l.l_type == F_UNLCK || l.l_pid <= 0)
				break;
			if (tries == 0)
				farm_log(FARM_LOG_WARN, NULL, 0, "stopping %s (pid %ld) for recovery",
					 names[i], (long)l.l_pid);
			kill(l.l_pid, SIGKILL);
			usleep(100 * 1000);
		}
		close(fd);
	}
	/* Those were stopped on purpose: their successors are no news for the watcher. */
	memset(env_user_pid, 0, sizeof(env_user_pid));
}

/* A replicated node recovers only once its disk has the writes' reserve again
 * (farm_store_space_dir): a replica that rejoined on a full disk would panic again at
 * the master's next log record, and every round would stop the daemons.  1 while it
 * waits (said once), 0 to go on. */
static int repl_wait_space(struct farm_app *app)
{
	static int said;

	if (!farm_store_repl_on() || farm_store_space_dir(app->conf.state_dir) != FARM_E_NOSPACE) {
		said = 0;
		return 0;
	}
	if (!said)
		farm_log(FARM_LOG_ERROR, NULL, 0,
			 "storage: no space left in %s: this node recovers and rejoins the "
			 "group once there is", app->conf.state_dir);
	said = 1;
	return 1;
}

/* A dead process held the environment: stop every worker, recover, start again. */
static void recover_pool(struct farm_app *app)
{
	farm_log(FARM_LOG_WARN, NULL, 0, "database needs recovery: restarting the pool");
	app->board->recoveries++;
	signal_workers(app, SIGKILL, 0);
	stop_env_users(app->conf.state_dir);
	repl_stop();
	while (any_worker(app)) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0)
			break;
		for (int i = 0; i < FARM_MAX_WORKERS; i++)
			if (app->board->slot[i].pid == p)
				app->board->slot[i].pid = 0;
	}
	if (ckpt_pid > 0) { /* it uses the environment too */
		int st;
		kill(ckpt_pid, SIGKILL);
		waitpid(ckpt_pid, &st, 0);
		ckpt_pid = 0;
	}
	if (repl_wait_space(app)) {
		env_down = 1;
		env_down_retry = time(NULL) + 1; /* a statvfs a second */
		return;
	}
	if (open_store_master(app) < 0) {
		/* A full disk can refuse recovery: try again later, serve nothing until. */
		farm_log(FARM_LOG_ERROR, NULL, 0, "recovery failed; retrying every %d s",
			 RECOVER_RETRY_S);
		env_down = 1;
		env_down_retry = time(NULL) + RECOVER_RETRY_S;
		return;
	}
	if (repl_start(app) < 0) {
		env_down = 1;
		env_down_retry = time(NULL) + RECOVER_RETRY_S;
		return;
	}
	env_down = 0;
	if (load_keyring(app) != FARM_OK)
		farm_log(FARM_LOG_ERROR, NULL, 0, "cannot load the credential keys");
}

/* --- the daemons' watcher -------------------------------------------------------------
 *
 * A daemon killed inside a Berkeley DB call (kill -9, the OOM killer) leaves the
 * environment needing recovery, which only this master runs.  Its supervisor
 * (farm-run, systemd) starts it again, but the new one can only wait ("recovery
 * needed", says failchk at its start), and the workers' outbox appends may block on
 * what the dead one held.  So the master watches, on every pass of its loop (at
 * least once a second):
 *   - who holds each daemon's lock (F_GETLK, which takes nothing): a holder gone or
 *     replaced by another process means a daemon ended, maybe inside Berkeley DB;
 *     one that starts (no holder before) is no news, nor are those recovery stopped;
 *   - a daemon's request (farm_events_recover_ask: its own failchk at start said
 *     recovery), which also covers one that died holding no lock (farm-wsd takes
 *     its lock only once it listens).
 * Either is a reason to look: a bounded failchk decides, and the pool recovers when
 * it fails. */
static void watch_env_users(struct farm_app *app)
{
	const char *ended = NULL;
	long ended_pid = 0;
	int asked = farm_events_recover_take(app->conf.state_dir);

	for (size_t i = 0; i < N_ENV_USERS; i++) {
		long pid = farm_daemon_lock_holder(app->conf.state_dir, env_users[i]);

		if (env_user_pid[i] > 0 && pid != env_user_pid[i] && !ended) {
			ended = env_users[i];
			ended_pid = env_user_pid[i];
		}
		env_user_pid[i] = pid;
	}
	if ((!ended && !asked) || run_bounded(child_failchk, app, 5000) == 0)
		return;
	if (ended)
		farm_log(FARM_LOG_WARN, NULL, 0,
			 "%s (pid %ld) ended inside Berkeley DB: the database needs recovery",
			 ended, ended_pid);
	else
		farm_log(FARM_LOG_WARN, NULL, 0,
			 "a daemon found the database needing recovery (a process died inside "
			 "Berkeley DB)");
	recover_pool(app);
}

/* While there is no environment: nginx's connections are closed at once (nginx
 * answers its 503) instead of waiting in the backlog for workers that do not run. */
static void refuse_pending(struct farm_app *app)
{
	int fd;

	while ((fd = accept4(app->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
}

static void reap(struct farm_app *app, int stopping, time_t *crash_times, size_t ncrash)
{
	int st;
	pid_t pid;
	int need_recover = 0;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		int slot = -1;
		if (pid == ckpt_pid) {
			ckpt_done(app, st);
			/* Killed inside Berkeley DB (an operator's kill -9, the OOM killer), it
			 * may hold the environment as a dead worker does: the same check, or
			 * every later checkpoint blocks until CKPT_TIMEOUT_S. */
			if (WIFSIGNALED(st) && !stopping && !env_down &&
			    run_bounded(child_failchk, app, 5000) != 0)
				need_recover = 1;
			continue;
		}
		if (pid == repl_pid) {
			repl_pid = 0;
			if (!stopping) {
				farm_log(FARM_LOG_ERROR, NULL, 0,
					 "replication process %ld died: restarting the pool", (long)pid);
				need_recover = 1;
			}
			continue;
		}
		for (int i = 0; i < FARM_MAX_WORKERS; i++)
			if (app->board->slot[i].pid == pid)
				slot = i;
		if (slot < 0)
			continue;
		app->board->slot[slot].pid = 0;
		if (WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0)) {
			farm_log(FARM_LOG_WARN, NULL, 0, "worker %ld %s %d", (long)pid,
				 WIFSIGNALED(st) ? "killed by signal" : "exited with status",
				 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			if (!stopping && !env_down && run_bounded(child_failchk, app, 5000) != 0)
				need_recover = 1;
			/* Emergency restart: too many crashes in the window restart the pool. */
			memmove(crash_times + 1, crash_times, (ncrash - 1) * sizeof(*crash_times));
			crash_times[0] = time(NULL);
			long thr = app->conf.emergency_restart_threshold;
			if (thr > 0 && (size_t)thr <= ncrash && crash_times[thr - 1] &&
			    time(NULL) - crash_times[thr - 1] <= app->conf.emergency_restart_interval) {
				farm_log(FARM_LOG_ERROR, NULL, 0,
					 "%ld workers crashed within %ld s: emergency restart", thr,
					 app->conf.emergency_restart_interval);
				memset(crash_times, 0, ncrash * sizeof(*crash_times));
				need_recover = 1;
			}
		}
	}
	if (need_recover && !stopping && !env_down)
		recover_pool(app);
}

/* Once a second: checkpoint when due (sooner while the last one failed), and the
 * deadline of a running one.  A checkpoint that does not end in time is blocked on
 * the environment: it is killed, and failchk decides whether the pool needs recovery. */
static void ckpt_tick(struct farm_app *app, time_t *last_ckp)
{
	time_t now = time(NULL);
	int failing = __atomic_load_n(&app->board->storage, __ATOMIC_RELAXED) != FARM_OK;

	/* A master that lost its majority steps down (farm_store_repl_check) once no
	 * thread is inside Berkeley DB: a checkpoint in its 30 s DB_REP_CHECKPOINT_DELAY
	 * held the step-down that long (31.8-35 s instead of 7.8-11.7 s, t9510).  Its
	 * delay is cut short, every tick while the minority lasts (a signal that came
	 * before the delay began is spent). */
	if (ckpt_pid > 0 && __atomic_load_n(&app->board->repl_minority, __ATOMIC_RELAXED))
		kill(ckpt_pid, SIGUSR2);
	if (ckpt_pid > 0) {
		int st;
		if (now - ckpt_started < CKPT_TIMEOUT_S)
			return;
		farm_log(FARM_LOG_ERROR, NULL, 0,
			 "checkpoint blocked for %d s: killing it and checking the environment",
			 CKPT_TIMEOUT_S);
		kill(ckpt_pid, SIGKILL);
		waitpid(ckpt_pid, &st, 0);
		ckpt_pid = 0;
		__atomic_store_n(&app->board->storage, FARM_E_DB, __ATOMIC_RELAXED);
		*last_ckp = now;
		if (run_bounded(child_failchk, app, 5000) != 0)
			recover_pool(app);
		return;
	}
	if (now - *last_ckp >= (failing ? CKPT_RETRY_S : app->conf.checkpoint_interval)) {
		ckpt_start(app);
		*last_ckp = now;
	}
}

static void watchdog(struct farm_app *app)
{
	struct timespec ts;
	int64_t now;

	if (app->conf.request_terminate_timeout <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	for (int i = 0; i < FARM_MAX_WORKERS; i++) {
		struct farm_slot *s = &app->board->slot[i];
		int64_t since = __atomic_load_n(&s->busy_since_ms, __ATOMIC_RELAXED);
		if (s->pid > 0 && since && now - since > app->conf.request_terminate_timeout * 1000) {
			farm_log(FARM_LOG_ERROR, NULL, 0,
				 "worker %ld stuck in a request for %lld ms: killing it", (long)s->pid,
				 (long long)(now - since));
			app->board->killed_stuck++;
			kill(s->pid, SIGKILL);
			s->busy_since_ms = 0;
		}
	}
}

int main(int argc, char **argv)
{
	struct farm_app app;
	sigset_t set;
	int rc, stopping = 0, lock_fd = -1, reload_gen = -1;
	time_t last_ckp = time(NULL), stop_started = 0;
	long long stop_began = 0, stop_ms[3] = {0, 0, 0};
	time_t crash_times[64] = {0};

	memset(&app, 0, sizeof(app));
	/* The route table, for t/t8000-openapi.sh: no config, no state, nothing started. */
	if (argc == 2 && strcmp(argv[1], "--routes") == 0) {
		size_t nroutes = 0;
		const struct farm_route *routes = farm_routes_table(&nroutes);
		return routes ? farm_routes_print(stdout, routes, nroutes) : 1;
	}
	farm_json_init();
	if (farm_platform_conf_register() != FARM_OK) /* the platforms' config keys */
		return 1;
	if ((rc = farm_daemon_start("farm-fcgi", argc, argv, usage, &app.conf, &conf_path)) >= 0)
		return rc;
	if (farm_crypto_init() != FARM_OK) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "cannot initialise cryptography");
		return 1;
	}
	if (!(app.dispatch.routes = farm_routes_table(&app.dispatch.nroutes))) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "out of memory building the route table");
		return 1;
	}
	app.dispatch.jwt_secret = app.conf.jwt_secret;
	app.dispatch.jwt_secret_len = strlen(app.conf.jwt_secret);
	app.dispatch.body_limit = app.conf.body_limit;

	if (mkdir(app.conf.state_dir, 0700) < 0 && errno != EEXIST) {
		farm_log(FARM_LOG_ERROR, NULL, errno, "cannot create %s", app.conf.state_dir);
		return 1;
	}
	/* One pool per state dir: a second one would take over the socket and its
	 * recovery would evict the running pool and daemons.  Held until exit. */
	if (farm_daemon_lock("farm-fcgi", app.conf.state_dir, "fcgi", &lock_fd) < 0)
		return 1;
	app.board = mmap(NULL, sizeof(*app.board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			 -1, 0);
	if (app.board == MAP_FAILED) {
		farm_log(FARM_LOG_ERROR, NULL, errno, "mmap");
		return 1;
	}
	memset(app.board, 0, sizeof(*app.board));
	app.board->started = time(NULL);

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	app.listen_fd = open_listen(&app.conf);
	if (app.listen_fd < 0)
		return 1;
	if (open_store_master(&app) < 0)
		return 1;
	if (repl_start(&app) < 0)
		return 1;
	if (load_keyring(&app) != FARM_OK) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "cannot load the credential keys");
		return 1;
	}
	if (farm_providers_init(&app) != FARM_OK)
		return 1;
	for (long i = 0; i < app.conf.workers; i++)
		spawn_worker(&app);
	farm_log(FARM_LOG_INFO, NULL, 0,
		 "ready: %ld workers x %ld threads (%d running at once) on %s (farm %s)",
		 app.conf.workers, app.conf.threads, farm_running_slots(&app.conf),
		 *app.conf.listen ? app.conf.listen : "fd 0", farm_daemon_version());
	notify_systemd("READY=1\nSTATUS=serving");

	for (;;) {
		struct timespec ts = {1, 0};
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &ts);

		switch (sig) {
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			if (!stopping) {
				farm_log(FARM_LOG_INFO, NULL, 0, "stopping: finishing in-flight requests");
				notify_systemd("STOPPING=1");
				stopping = 1;
				stop_started = time(NULL);
				stop_began = farm_clock_ms();
				signal_workers(&app, SIGTERM, 0);
			}
			break;
		case SIGHUP: {
			struct farm_conf nc;
			struct farm_error err = {0};
			farm_log(FARM_LOG_INFO, NULL, 0, "reloading configuration");
			notify_systemd("RELOADING=1");
			if (farm_conf_load(&nc, conf_path, &err) == FARM_OK) {
				/* The socket and state_dir stay; everything else is taken. */
				free(nc.listen);
				nc.listen = app.conf.listen;
				app.conf.listen = NULL;
				free(nc.state_dir);
				nc.state_dir = app.conf.state_dir;
				app.conf.state_dir = NULL;
				farm_conf_free(&app.conf);
				app.conf = nc;
				app.dispatch.jwt_secret = app.conf.jwt_secret;
				app.dispatch.jwt_secret_len = strlen(app.conf.jwt_secret);
				app.dispatch.body_limit = app.conf.body_limit;
				if (load_keyring(&app) != FARM_OK)
					farm_log(FARM_LOG_ERROR, NULL, 0, "cannot load the credential keys");
				farm_log_init("farm-fcgi", farm_log_level_parse(app.conf.log_level));
				if (*app.conf.log_file && farm_log_open(app.conf.log_file) < 0)
					farm_log(FARM_LOG_ERROR, NULL, errno, "log_file %s",
						 app.conf.log_file);
				generation++;
				reload_gen = generation;
				for (long i = 0; i < app.conf.workers; i++)
					spawn_worker(&app);
				signal_workers(&app, SIGTERM, 1);
			} else {
				farm_log(FARM_LOG_ERROR, NULL, 0, "reload refused: configuration invalid: %s",
					 err.msg);
			}
			notify_systemd("READY=1");
			break;
		}
		case SIGUSR2:
			/* Operator-requested emergency restart: every worker, with recovery. */
			if (!stopping)
				recover_pool(&app);
			break;
		case SIGUSR1: {
			/* From a worker: it is recycling (it already marked itself draining).
			 * From anyone else: reopen the log (logrotate). */
			int from_worker = 0;
			for (int i = 0; i < FARM_MAX_WORKERS; i++)
				if (app.board->slot[i].pid == si.si_pid) {
					app.board->slot[i].draining = 1;
					from_worker = 1;
				}
			if (from_worker || stopping)
				break;
			if (!*app.conf.log_file) {
				farm_log(FARM_LOG_INFO, NULL, 0, "SIGUSR1: no log_file set, logs go to "
								 "stderr: nothing to reopen");
				break;
			}
			if (farm_log_reopen() < 0) {
				farm_log(FARM_LOG_ERROR, NULL, errno, "cannot reopen %s",
					 app.conf.log_file);
				break;
			}
			farm_log(FARM_LOG_INFO, NULL, 0, "log reopened: %s; replacing the workers",
				 app.conf.log_file);
			/* Workers write through the stderr they inherited: new ones get the
			 * new file, the old ones finish their requests first. */
			generation++;
			for (long i = 0; i < app.conf.workers; i++)
				spawn_worker(&app);
			signal_workers(&app, SIGTERM, 1);
			break;
		}
		default:
			break;
		}
		reap(&app, stopping, crash_times, sizeof(crash_times) / sizeof(crash_times[0]));
		if (stopping) {
			if (!any_worker(&app))
				break;
			if (time(NULL) - stop_started > 30) {
				farm_log(FARM_LOG_WARN, NULL, 0, "workers did not stop in 30 s: killing");
				signal_workers(&app, SIGKILL, 0);
			}
			continue;
		}
		if (env_down) {
			refuse_pending(&app);
			if (time(NULL) >= env_down_retry && repl_wait_space(&app)) {
				env_down_retry = time(NULL) + 1;
			} else if (time(NULL) >= env_down_retry) {
				farm_log(FARM_LOG_INFO, NULL, 0, "retrying recovery");
				if (open_store_master(&app) == 0 && repl_start(&app) == 0) {
					env_down = 0;
					if (load_keyring(&app) != FARM_OK)
						farm_log(FARM_LOG_ERROR, NULL, 0,
							 "cannot load the credential keys");
					farm_log(FARM_LOG_INFO, NULL, 0, "database recovered");
				} else {
					env_down_retry = time(NULL) + RECOVER_RETRY_S;
				}
			}
			if (env_down)
				continue;
		}
		while (live_workers(&app, 1) < app.conf.workers) {
			app.board->respawns++;
			if (spawn_worker(&app) < 0)
				break;
		}
		if (reload_gen >= 0 && !old_workers(&app, reload_gen)) {
			farm_log(FARM_LOG_INFO, NULL, 0,
				 "reload complete: %ld workers x %ld threads of the new configuration",
				 app.conf.workers, app.conf.threads);
			reload_gen = -1;
		}
		watchdog(&app);
		ckpt_tick(&app, &last_ckp);
		if (!env_down)
			watch_env_users(&app);
	}
	stop_ms[0] = farm_clock_ms();
	if (ckpt_pid > 0) {
		/* A master's periodic checkpoint spends 30 s in DB_REP_CHECKPOINT_DELAY:
		 * cut short (ckpt_wake), it ends by itself, where SIGKILL left a process
		 * dead inside Berkeley DB for the last checkpoint to meet.  Killed only if
		 * it does not end within 5 s. */
		int st = 0;
		pid_t r = 0;
		for (int i = 0; i < 50 && (r = waitpid(ckpt_pid, &st, WNOHANG)) == 0; i++) {
			if (i % 10 == 0)
				kill(ckpt_pid, SIGUSR2);
			usleep(100 * 1000);
		}
		if (r == 0) {
			kill(ckpt_pid, SIGKILL);
			waitpid(ckpt_pid, &st, 0);
		}
		ckpt_pid = 0;
	}
	/* The last checkpoint, bounded like the others. */
	ckpt_last = 1;
	stop_ms[1] = farm_clock_ms();
	if (!env_down)
		run_bounded(child_checkpoint, &app, 10 * 1000);
	stop_ms[2] = farm_clock_ms();
	repl_stop();
	if (unix_path[0])
		unlink(unix_path);
	farm_keyring_free(app.keyring);
	farm_conf_free(&app.conf);
	/* Where a stop spends its time (docs/replication.md, "A master's stop"). */
	farm_log(FARM_LOG_INFO, NULL, 0,
		 "stopped: workers %lld ms, running checkpoint %lld ms, last checkpoint %lld ms, "
		 "replication %lld ms",
		 stop_ms[0] - stop_began, stop_ms[1] - stop_ms[0], stop_ms[2] - stop_ms[1],
		 farm_clock_ms() - stop_ms[2]);
	if (lock_fd >= 0)
		close(lock_fd);
	return 0;
}
