/* farm-runner.h - what the parts of farm-runner share.
 *
 *   farm-runner.c         main, the run queue, run and stage bookkeeping, events
 *   farm-runner-exec.c    one engine invocation: fork/execve (never a shell), its own
 *                         process group, output into the run's log, timeout
 *   farm-runner-candor.c  a candor stage: the plan sent to a Candor runner
 *   farm-runner-poll.c    the pollers of linked deployment targets (the fallback of webhooks)
 */
#ifndef FARM_RUNNER_H
#define FARM_RUNNER_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>

#include <jansson.h>

#include "conf.h"
#include "crypto.h"
#include "store.h"

/* Set by SIGTERM/SIGINT: finish or abandon what is in hand, then exit. */
extern volatile sig_atomic_t farm_runner_stopping;

struct farm_runner {
	struct farm_conf conf;
	struct farm_store *store;
	/* The poller holds it for reading during a round; the main thread takes it for
	 * writing to reopen the store after the pool's recovery (FARM_E_RECOVER). */
	pthread_rwlock_t store_lock;
	void *zctx;          /* ZeroMQ context (thread-safe); sockets are per thread */
	int lock_fd;
};

/* Wakes farm-eventd through this thread's PUSH socket *sock (created on first use,
 * closed with farm_runner_nudge_close).  Never blocks. */
void farm_runner_nudge(struct farm_runner *rn, void **sock);
void farm_runner_nudge_close(void **sock);

/* Sleeps ms milliseconds, returning early when stopping. */
void farm_runner_sleep_ms(long ms);

/* ---- farm-runner-exec.c ---------------------------------------------------------------- */

/* The run's log: an append-only file written by the runner alone, capped at
 * FARM_PIPELINE_LOG_MAX bytes (a note marks the cut). */
struct farm_runner_log {
	int fd;
	size_t written;
	int truncated;
};

/* Appends text to the log (respecting the cap).  Never fails loudly. */
void farm_runner_log_write(struct farm_runner_log *lg, const char *buf, size_t len);
void farm_runner_log_printf(struct farm_runner_log *lg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

enum farm_runner_end {
	FARM_RUNNER_EXITED = 0,  /* code holds the exit status */
	FARM_RUNNER_SIGNALED,    /* code holds the signal */
	FARM_RUNNER_TIMEDOUT,    /* killed at the deadline */
	FARM_RUNNER_STOPPED,     /* killed because farm-runner is stopping */
	FARM_RUNNER_NOSTART,     /* fork/pipe failed (why says) */
};

struct farm_runner_result {
	enum farm_runner_end end;
	int code;
	char last_line[200];     /* the last non-empty output line, for the run's error */
};

/* Runs argv (argv[0] an absolute path) in `cwd` with the environment filtered by
 * farm_pipeline_env_keep, stdin from /dev/null, stdout and stderr into the log,
 * in its own process group, which is killed (TERM, then KILL after 5 s) at
 * deadline_ms (epoch ms) or when farm-runner stops.  FARM_OK when the program ran
 * (read res); FARM_E_IO with why when it could not be started. */
int farm_runner_exec(char *const argv[], const char *cwd, struct farm_runner_log *lg,
		     long long deadline_ms, struct farm_runner_result *res, char *why, size_t cap);

/* ---- farm-runner-candor.c -------------------------------------------------------------- */

/* Runs the candor stage st (borrowed, of run) on the Candor runner of its credential:
 * the runner's answer into st's "runner", its log appended to lg.  0 when the runner's
 * run Passed; else -1 with the stage's error in why (refused, unreachable, Failed or
 * Error naming the Candor stage). */
int farm_runner_candor_stage(struct farm_runner *rn, json_t *run, json_t *st,
			     struct farm_runner_log *lg, char *why, size_t cap);

/* ---- farm-runner-poll.c -------------------------------------------------------------- */

/* Walks the registry and starts one poller thread per platform whose deploy hooks
 * poll (platform.h; poll_interval > 0): every interval, each linked target
 * (FARM_T_CATALOG) is read with its org's credential of that platform and observed
 * (deploy->observe): an event only on a change.  FARM_OK (also when none polls) or
 * FARM_E_NOMEM/FARM_E_IO. */
int farm_runner_poll_start(struct farm_runner *rn);
/* Joins the pollers (after farm_runner_stopping was set).  Safe to call when none
 * started. */
void farm_runner_poll_stop(void);
/* How many pollers run. */
size_t farm_runner_pollers(void);

#endif
