/* farm-runner.c - the daemon that executes pipeline runs (OCI image build stages).
 *
 *   farm-runner [-c FILE] [-t] [-h]
 *
 * Runs are queued by POST /api/v1/pipelines/:id/runs in the database: the run record
 * (FARM_T_RUNS) and a queue entry "runq:<created ms>:<run id>" in FARM_T_META.  The
 * runner takes the oldest queued entry, one run at a time, in a transaction that
 * marks it running and appends its ci.build.updated event to the outbox; executes its
 * stages in order (farm-runner-exec.c), recording each stage's status, times and
 * error; and finishes it (success or failed, event, queue entry removed) in a last
 * transaction.  farm-eventd is nudged after each commit and numbers and publishes
 * the events.
 *
 * A build stage: the engine (docker, buildah or podman) is looked up in PATH — when
 * it is missing the stage fails with "build engine '<name>' not found in PATH"; the
 * workspace is pipelines.workspace_root/<workspace>, the dockerfile and context are
 * resolved inside it (symbolic links included: a path that leaves the workspace fails
 * the stage); build, then push when asked, each as an argv (lib/pipeline/pipeline.h
 * farm_pipeline_argv), under the stage's timeout (config.timeout, else
 * pipelines.stage_timeout).  Output goes to <state_dir>/runs/<run id>.log.
 *
 * At start, a run left "running" (the previous runner was killed) is marked failed;
 * queued runs stay queued.  With replication, only the master's runner takes runs; when
 * its node becomes the master (a failover), the runs the old master's runner left
 * "running" are marked failed ("interrupted by a failover ...", not re-run).
 * SIGTERM/SIGINT: the engine in hand is killed, its run marked failed ("farm-runner was
 * stopped"), and the runner exits 0.
 * A candor stage is sent to a Candor runner instead (farm-runner-candor.c).
 * One runner per state_dir (lock "<state_dir>/runner.lock").  Each platform that
 * polls linked deployment targets has a poller thread (farm-runner-poll.c).
 */
#include "farm-runner.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"
#include "daemon.h"
#include "platform.h"
#include "events.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "pipeline.h"
#include "banned.h"

#define POLL_MS 500           /* queue poll */
#define STALE_BATCH 64        /* stale runs failed per transaction */
#define LOCK_NAME "runner"

volatile sig_atomic_t farm_runner_stopping;

static void on_stop(int sig)
{
	(void)sig;
	farm_runner_stopping = 1;
}

void farm_runner_sleep_ms(long ms)
{
	while (ms > 0 && !farm_runner_stopping) {
		long step = ms < 100 ? ms : 100;
		struct timespec ts = {0, step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* ---- nudges ------------------------------------------------------------------------ */

void farm_runner_nudge(struct farm_runner *rn, void **sock)
{
	int hwm = 16, zero = 0, one = 1;

	if (!rn->zctx || !rn->conf.events_push || !*rn->conf.events_push)
		return;
	if (!*sock) {
		if (!(*sock = zmq_socket(rn->zctx, ZMQ_PUSH)))
			return;
		zmq_setsockopt(*sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
		zmq_setsockopt(*sock, ZMQ_LINGER, &zero, sizeof(zero));
		zmq_setsockopt(*sock, ZMQ_IMMEDIATE, &one, sizeof(one));
		if (zmq_connect(*sock, rn->conf.events_push) != 0) {
			farm_log(FARM_LOG_WARN, NULL, zmq_errno(), "events.push %s",
				 rn->conf.events_push);
			zmq_close(*sock);
			*sock = NULL;
			return;
		}
	}
	zmq_send(*sock, "1", 1, ZMQ_DONTWAIT); /* a lost nudge: eventd polls anyway */
}

void farm_runner_nudge_close(void **sock)
{
	if (*sock)
		zmq_close(*sock);
	*sock = NULL;
}

/* ---- records ------------------------------------------------------------------------ */

static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

/* Puts the run record and, when `status_event`, its event, in one transaction. */
struct save_io {
	json_t *run;
	int event;
	const char *del_queue;   /* queue key to delete, or NULL */
	const char *queue_value; /* or the value to set the queue key to */
};

static int save_txn(struct farm_txn *t, void *arg)
{
	struct save_io *s = arg;
	const char *id = json_string_value(json_object_get(s->run, "id"));
	const char *org = json_string_value(json_object_get(s->run, "orgId"));
	const char *qkey = json_string_value(json_object_get(s->run, "queueKey"));
	char now[25], *txt = NULL, *evs = NULL;
	json_t *ev = NULL;
	int rc = FARM_E_NOMEM;

	if (!id)
		return FARM_E_INVAL;
	if (!(txt = json_dumps(s->run, JSON_COMPACT)))
		goto out;
	if ((rc = farm_txn_put(t, FARM_T_RUNS, id, strlen(id), org, txt, strlen(txt), 0)) !=
	    FARM_OK)
		goto out;
	if (qkey && s->del_queue) {
		rc = farm_txn_del(t, FARM_T_META, qkey, strlen(qkey));
		if (rc != FARM_OK && rc != FARM_E_NOTFOUND)
			goto out;
	} else if (qkey && s->queue_value) {
		rc = farm_txn_put(t, FARM_T_META, qkey, strlen(qkey), NULL, s->queue_value,
				  strlen(s->queue_value), 0);
		if (rc != FARM_OK)
			goto out;
	}
	rc = FARM_OK;
	if (s->event) {
		rc = FARM_E_NOMEM;
		farm_clock_iso(farm_clock_ms(), now);
		if (!(ev = farm_pipeline_run_event(s->run, now)) ||
		    !(evs = json_dumps(ev, JSON_COMPACT)))
			goto out;
		rc = farm_txn_outbox_append(t, evs, strlen(evs));
	}
out:
	farm_json_free(txt);
	farm_json_free(evs);
	json_decref(ev);
	return rc;
}

static int reopen_store(struct farm_runner *rn);

static int save(struct farm_runner *rn, json_t *run, int event, const char *queue_value,
		int del_queue)
{
	struct save_io s = {run, event, del_queue ? "" : NULL, queue_value};
	int rc;

	for (int tries = 0; tries < 20; tries++) {
		rc = farm_store_run(rn->store, save_txn, &s);
		if (rc == FARM_OK || farm_runner_stopping)
			break;
		/* The database may be busy or recovering: the record must not be lost. */
		farm_log(FARM_LOG_WARN, NULL, 0, "saving run %s: %s; retrying",
			 json_string_value(json_object_get(run, "id")), farm_strerror(rc));
		if (rc == FARM_E_RECOVER)
			reopen_store(rn);
		else
			farm_runner_sleep_ms(500);
	}
	return rc;
}

/* ---- the queue ---------------------------------------------------------------------- */

#define PREFIX FARM_PIPELINE_QUEUE_PREFIX
#define PREFIX_LEN (sizeof(PREFIX) - 1)

struct scan_io {
	const char *want;       /* "queued" or "running" */
	size_t max, n;
	char *keys[STALE_BATCH];
};

static int queue_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct scan_io *s = arg;
	int c = memcmp(key, PREFIX, klen < PREFIX_LEN ? klen : PREFIX_LEN);

	if (c < 0 || (c == 0 && klen < PREFIX_LEN))
		return FARM_OK; /* before the queue */
	if (c > 0)
		return 1; /* past it */
	if (vlen != strlen(s->want) || memcmp(val, s->want, vlen) != 0)
		return FARM_OK;
	if (!(s->keys[s->n] = strndup(key, klen)))
		return FARM_E_NOMEM;
	return ++s->n >= s->max ? 1 : FARM_OK;
}

static void scan_clear(struct scan_io *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->keys[i]);
	s->n = 0;
}

/* The run id of a queue key. */
static const char *queue_run_id(const char *qkey)
{
	const char *p = strrchr(qkey, ':');

	return p ? p + 1 : "";
}

static int load_run(struct farm_txn *t, const char *id, json_t **run)
{
	void *val = NULL;
	size_t vlen = 0;
	int rc = farm_txn_get(t, FARM_T_RUNS, id, strlen(id), &val, &vlen, 1);

	*run = NULL;
	if (rc == FARM_OK && !(*run = json_loadb(val, vlen, 0, NULL)))
		rc = FARM_E_DB;
	free(val);
	return rc;
}

struct take_io {
	json_t *run;  /* out: the run now running */
};

static int take_txn(struct farm_txn *t, void *arg)
{
	struct take_io *tk = arg;
	struct scan_io s = {"queued", 1, 0, {0}};
	char now[25], *txt = NULL, *evs = NULL;
	json_t *run = NULL, *ev = NULL;
	const char *org;
	int rc;

	json_decref(tk->run);
	tk->run = NULL;
	for (;;) {
		scan_clear(&s);
		if ((rc = farm_txn_scan(t, FARM_T_META, NULL, FARM_SCAN_ALL, queue_cb, &s)) !=
			    FARM_OK &&
		    rc != 1)
			goto out;
		rc = FARM_OK;
		if (!s.n)
			goto out; /* nothing queued */
		rc = load_run(t, queue_run_id(s.keys[0]), &run);
		if (rc == FARM_OK)
			break;
		if (rc != FARM_E_NOTFOUND)
			goto out;
		/* An entry without its run: drop it and look again. */
		if ((rc = farm_txn_del(t, FARM_T_META, s.keys[0], strlen(s.keys[0]))) != FARM_OK)
			goto out;
	}
	farm_clock_iso(farm_clock_ms(), now);
	set_str(run, "status", "running");
	set_str(run, "startedAt", now);
	set_str(run, "queueKey", s.keys[0]);
	org = json_string_value(json_object_get(run, "orgId"));
	rc = FARM_E_NOMEM;
	if (!(txt = json_dumps(run, JSON_COMPACT)) || !(ev = farm_pipeline_run_event(run, now)) ||
	    !(evs = json_dumps(ev, JSON_COMPACT)))
		goto out;
	if ((rc = farm_txn_put(t, FARM_T_RUNS, queue_run_id(s.keys[0]),
			       strlen(queue_run_id(s.keys[0])), org, txt, strlen(txt), 0)) ||
	    (rc = farm_txn_put(t, FARM_T_META, s.keys[0], strlen(s.keys[0]), NULL, "running", 7,
			       0)) ||
	    (rc = farm_txn_outbox_append(t, evs, strlen(evs))))
		goto out;
	tk->run = run;
	run = NULL;
out:
	farm_json_free(txt);
	farm_json_free(evs);
	json_decref(ev);
	json_decref(run);
	scan_clear(&s);
	return rc;
}

/* Marks every stage still pending or running as failed/skipped, the run failed. */
static void fail_run(json_t *run, const char *why, const char *now)
{
	size_t i;
	json_t *st;

	json_array_foreach(json_object_get(run, "stages"), i, st)
	{
		const char *s = json_string_value(json_object_get(st, "status"));
		if (s && !strcmp(s, "running")) {
			set_str(st, "status", "failed");
			set_str(st, "error", why);
			set_str(st, "finishedAt", now);
		} else if (s && !strcmp(s, "pending")) {
			set_str(st, "status", "skipped");
		}
	}
	set_str(run, "status", "failed");
	set_str(run, "error", why);
	set_str(run, "finishedAt", now);
}

struct stale_io {
	size_t n;
	const char *why;
};

/* The reasons a run left "running" is failed with (docs/replication.md, "Pipeline
 * runs after a failover"). */
#define WHY_STOPPED "farm-runner stopped while this run was running"
#define WHY_FAILOVER                                                                      \
	"interrupted by a failover: the node that was running it stopped being the "      \
	"master; not re-run (start it again)"

/* Fails up to STALE_BATCH runs left "running"; s->n = how many. */
static int stale_txn(struct farm_txn *t, void *arg)
{
	struct stale_io *st = arg;
	struct scan_io s = {"running", STALE_BATCH, 0, {0}};
	char now[25];
	int rc;

	st->n = 0;
	if ((rc = farm_txn_scan(t, FARM_T_META, NULL, FARM_SCAN_ALL, queue_cb, &s)) != FARM_OK &&
	    rc != 1)
		goto out;
	farm_clock_iso(farm_clock_ms(), now);
	for (size_t i = 0; i < s.n; i++) {
		json_t *run = NULL;
		struct save_io sv;
		rc = load_run(t, queue_run_id(s.keys[i]), &run);
		if (rc == FARM_OK) {
			fail_run(run, st->why, now);
			set_str(run, "queueKey", s.keys[i]);
			sv = (struct save_io){run, 1, "", NULL};
			rc = save_txn(t, &sv);
			json_decref(run);
		} else if (rc == FARM_E_NOTFOUND) {
			rc = farm_txn_del(t, FARM_T_META, s.keys[i], strlen(s.keys[i]));
		}
		if (rc != FARM_OK)
			goto out;
	}
	st->n = s.n;
	rc = FARM_OK;
out:
	scan_clear(&s);
	return rc;
}

/* ---- running one run ------------------------------------------------------------------ */

struct job {
	struct farm_runner *rn;
	json_t *run;
	struct farm_runner_log log;
	char ws[PATH_MAX];       /* the workspace, resolved */
	void **nudge;
};

/* Resolves `rel` (normalised, relative) inside the workspace; a path that does not
 * exist or leaves it (through a symbolic link) is an error in why. */
static int inside(struct job *j, const char *rel, int want_dir, char *out, const char *what,
		  char *why, size_t cap)
{
	char joined[PATH_MAX + 8];
	struct stat st;
	size_t wl = strlen(j->ws);

	if (snprintf(joined, sizeof(joined), "%s/%s", j->ws, rel) >= (int)sizeof(joined) ||
	    !realpath(joined, out)) {
		snprintf(why, cap, "%s '%s' not found in the workspace", what, rel);
		return -1;
	}
	if (strncmp(out, j->ws, wl) != 0 || (out[wl] != '\0' && out[wl] != '/')) {
		snprintf(why, cap, "%s '%s' leaves the workspace", what, rel);
		return -1;
	}
	if (stat(out, &st) != 0 || (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
		snprintf(why, cap, "%s '%s' is not a %s", what, rel, want_dir ? "directory" : "file");
		return -1;
	}
	return 0;
}

static const char *step_name(const char *engine, enum farm_pipeline_step step)
{
	if (step == FARM_PIPELINE_PUSH)
		return "push";
	return strcmp(engine, "buildah") ? "build" : "bud";
}

/* One engine step; 0, or -1 with the stage's error in why. */
static int run_step(struct job *j, json_t *st, const char *engine, const char *engine_path,
		    enum farm_pipeline_step step, const char *df, const char *ctx, const char *tag,
		    const char *registry, int tls, long long deadline, long timeout_s, char *why,
		    size_t cap)
{
	struct farm_pipeline_argv a;
	struct farm_runner_result res;
	char err[200];
	int rc;

	rc = farm_pipeline_argv(&a, engine, engine_path, step, df, ctx, tag, registry, tls);
	if (rc != FARM_OK) {
		farm_pipeline_argv_clear(&a);
		snprintf(why, cap, "cannot build the %s command: %s", engine, farm_strerror(rc));
		return -1;
	}
	farm_runner_log_printf(&j->log, "$");
	for (size_t i = 0; i < a.n; i++)
		farm_runner_log_printf(&j->log, " %s", a.v[i]);
	farm_runner_log_printf(&j->log, "\n");
	rc = farm_runner_exec(a.v, j->ws, &j->log, deadline, &res, err, sizeof(err));
	farm_pipeline_argv_clear(&a);
	if (rc != FARM_OK) {
		snprintf(why, cap, "%s %s could not be started: %s", engine, step_name(engine, step),
			 err);
		return -1;
	}
	if (res.end == FARM_RUNNER_EXITED)
		json_object_set_new(st, "exitCode", json_integer(res.code));
	switch (res.end) {
	case FARM_RUNNER_EXITED:
		if (res.code == 0)
			return 0;
		snprintf(why, cap, "%s %s exited with status %d%s%s", engine, step_name(engine, step),
			 res.code, res.last_line[0] ? ": " : "", res.last_line);
		return -1;
	case FARM_RUNNER_SIGNALED:
		snprintf(why, cap, "%s %s was killed by signal %d", engine, step_name(engine, step),
			 res.code);
		return -1;
	case FARM_RUNNER_TIMEDOUT:
		snprintf(why, cap, "stage timed out after %ld s (%s %s was killed)", timeout_s, engine,
			 step_name(engine, step));
		return -1;
	case FARM_RUNNER_STOPPED:
		snprintf(why, cap, "farm-runner was stopped");
		return -1;
	default:
		snprintf(why, cap, "%s %s could not be started", engine, step_name(engine, step));
		return -1;
	}
}

/* One build stage; 0, or -1 with its error in why. */
static int run_stage(struct job *j, json_t *st, char *why, size_t cap)
{
	json_t *cfg = json_object_get(st, "config");
	const char *type = json_string_value(json_object_get(st, "type"));
	const char *engine = json_string_value(json_object_get(cfg, "engine"));
	const char *tag = json_string_value(json_object_get(st, "tag"));
	const char *df = json_string_value(json_object_get(cfg, "dockerfile"));
	const char *ctx = json_string_value(json_object_get(cfg, "context"));
	const char *registry = json_string_value(json_object_get(cfg, "registry"));
	int push = json_is_true(json_object_get(cfg, "push"));
	int tls = !json_is_false(json_object_get(cfg, "tlsVerify"));
	json_t *to = json_object_get(cfg, "timeout");
	long timeout_s = json_is_integer(to) && json_integer_value(to) > 0
				 ? (long)json_integer_value(to)
				 : j->rn->conf.pipelines_stage_timeout;
	char engine_path[PATH_MAX], df_abs[PATH_MAX], ctx_abs[PATH_MAX];
	long long deadline = farm_clock_ms() + timeout_s * 1000LL;

	if (type && !strcmp(type, "candor"))
		return farm_runner_candor_stage(j->rn, j->run, st, &j->log, why, cap);
	if (!engine || !tag || !df || !ctx || (push && !registry)) {
		snprintf(why, cap, "the stage's configuration is incomplete");
		return -1;
	}
	if (farm_pipeline_which(engine, getenv("PATH"), engine_path, sizeof(engine_path)) !=
	    FARM_OK) {
		snprintf(why, cap, "build engine '%s' not found in PATH", engine);
		return -1;
	}
	if (inside(j, ctx, 1, ctx_abs, "context", why, cap) ||
	    inside(j, df, 0, df_abs, "dockerfile", why, cap))
		return -1;
	if (!strcmp(engine, "docker") && push && !tls)
		farm_runner_log_printf(&j->log, "note: docker has no per-push TLS switch; the "
						"daemon's insecure-registries setting decides\n");
	if (run_step(j, st, engine, engine_path, FARM_PIPELINE_BUILD, df_abs, ctx_abs, tag,
		     push ? registry : NULL, tls, deadline, timeout_s, why, cap))
		return -1;
	if (push && run_step(j, st, engine, engine_path, FARM_PIPELINE_PUSH, NULL, NULL, tag, registry,
			     tls, deadline, timeout_s, why, cap))
		return -1;
	return 0;
}

/* Resolves the run's workspace under pipelines.workspace_root into j->ws. */
static int workspace(struct job *j, char *why, size_t cap)
{
	const char *rel = json_string_value(json_object_get(j->run, "workspace"));
	const char *root = j->rn->conf.pipelines_workspace_root;
	char root_abs[PATH_MAX], joined[PATH_MAX + 8];
	struct stat st;
	size_t rl;

	if (!root || !*root || !realpath(root, root_abs)) {
		snprintf(why, cap, "pipelines.workspace_root '%s' does not exist", root ? root : "");
		return -1;
	}
	if (!rel || !*rel)
		rel = ".";
	snprintf(joined, sizeof(joined), "%s/%s", root_abs, rel);
	if (!realpath(joined, j->ws) || stat(j->ws, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, cap, "workspace '%s' does not exist under pipelines.workspace_root",
			 rel);
		return -1;
	}
	rl = strlen(root_abs);
	if (strncmp(j->ws, root_abs, rl) != 0 || (j->ws[rl] != '\0' && j->ws[rl] != '/' &&
						  strcmp(root_abs, "/") != 0)) {
		snprintf(why, cap, "workspace '%s' leaves pipelines.workspace_root", rel);
		return -1;
	}
	return 0;
}

static void execute(struct job *j)
{
	json_t *run = j->run, *st;
	const char *id = json_string_value(json_object_get(run, "id"));
	char path[PATH_MAX], dir[PATH_MAX], now[25], why[512], err[600];
	size_t i, nst = json_array_size(json_object_get(run, "stages"));
	int failed = 0;
	long long t0 = farm_clock_ms();

	j->log.fd = -1;
	snprintf(dir, sizeof(dir), "%s/runs", j->rn->conf.state_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		farm_log(FARM_LOG_ERROR, NULL, errno, "mkdir %s", dir);
	if (farm_pipeline_log_path(j->rn->conf.state_dir, id, path, sizeof(path)) == FARM_OK)
		j->log.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->log.fd < 0)
		farm_log(FARM_LOG_ERROR, NULL, errno, "run %s: cannot open its log", id);
	farm_runner_log_printf(&j->log, "farm-runner: run %s of pipeline '%s' (#%lld), version %s, "
					"commit %s\n",
			       id, json_string_value(json_object_get(run, "pipelineName")),
			       (long long)json_integer_value(json_object_get(run, "number")),
			       json_string_value(json_object_get(run, "version")),
			       json_string_value(json_object_get(run, "commitSha")));
	if (workspace(j, why, sizeof(why))) {
		farm_runner_log_printf(&j->log, "error: %s\n", why);
		farm_clock_iso(farm_clock_ms(), now);
		fail_run(run, why, now);
		goto done;
	}
	farm_runner_log_printf(&j->log, "workspace: %s\n", j->ws);
	json_array_foreach(json_object_get(run, "stages"), i, st)
	{
		const char *name = json_string_value(json_object_get(st, "name"));
		long long s0 = farm_clock_ms();

		farm_clock_iso(s0, now);
		set_str(st, "status", "running");
		set_str(st, "startedAt", now);
		save(j->rn, run, 0, NULL, 0);
		farm_runner_log_printf(&j->log, "\n==> stage %zu/%zu '%s': %s\n", i + 1, nst, name,
				       json_string_value(json_object_get(st, "image"))
					       ? json_string_value(json_object_get(st, "image"))
					       : json_string_value(json_object_get(st, "type")));
		failed = run_stage(j, st, why, sizeof(why)) != 0;
		farm_clock_iso(farm_clock_ms(), now);
		if (failed) {
			farm_runner_log_printf(&j->log, "==> stage '%s' failed: %s\n", name, why);
			snprintf(err, sizeof(err), "stage '%s': %s", name, why);
			fail_run(run, why, now);
			set_str(run, "error", err);
			break;
		}
		set_str(st, "status", "success");
		set_str(st, "finishedAt", now);
		farm_runner_log_printf(&j->log, "==> stage '%s' succeeded in %.1f s\n", name,
				       (double)(farm_clock_ms() - s0) / 1000.0);
		save(j->rn, run, 0, NULL, 0);
	}
	if (!failed) {
		farm_clock_iso(farm_clock_ms(), now);
		set_str(run, "status", "success");
		set_str(run, "finishedAt", now);
	}
done:
	farm_runner_log_printf(&j->log, "\nfarm-runner: run %s %s in %.1f s\n", id,
			       json_string_value(json_object_get(run, "status")),
			       (double)(farm_clock_ms() - t0) / 1000.0);
	if (j->log.fd >= 0)
		close(j->log.fd);
	j->log.fd = -1;
}

/* ---- set-up and the loop ------------------------------------------------------------- */

static int open_store(struct farm_runner *rn)
{
	struct farm_error err = {0};
	int warned = 0;

	while (!farm_runner_stopping) {
		if (farm_events_store_open(&rn->conf, &rn->store, &err) == FARM_OK)
			return 0;
		if (!warned++)
			farm_log(FARM_LOG_ERROR, NULL, 0, "%s; retrying", err.msg);
		farm_runner_sleep_ms(1000);
	}
	return -1;
}

/* After the pool's master recovered the environment: a new handle (eventd does the
 * same).  Waits for the poller's round to end. */
static int reopen_store(struct farm_runner *rn)
{
	int rc;

	farm_log(FARM_LOG_WARN, NULL, 0, "database needs recovery: reopening");
	pthread_rwlock_wrlock(&rn->store_lock);
	farm_store_close(rn->store);
	rn->store = NULL;
	farm_runner_sleep_ms(1000);
	rc = open_store(rn);
	pthread_rwlock_unlock(&rn->store_lock);
	return rc;
}

/* Fails every run left "running": what a killed predecessor on this node was running
 * (at start), or what the old master's runner was running when this node became the
 * master.  Only the master's runner executes runs, so when this one starts or takes
 * over, nothing it could still finish is running.  FARM_OK when done. */
static int sweep(struct farm_runner *rn, const char *why)
{
	size_t total = 0;
	int rc;

	for (;;) {
		struct stale_io st = {0, why};
		if ((rc = farm_store_run(rn->store, stale_txn, &st)) != FARM_OK) {
			farm_log(FARM_LOG_ERROR, NULL, 0, "failing stale runs: %s",
				 farm_strerror(rc));
			return rc;
		}
		total += st.n;
		if (st.n < STALE_BATCH)
			break;
	}
	if (total)
		farm_log(FARM_LOG_WARN, NULL, 0, "%zu run(s) left running marked failed: %s",
			 total, why);
	return FARM_OK;
}

static void usage(FILE *fp)
{
	fprintf(fp, "usage: farm-runner [-c FILE] [-t] [-v] [-h]\n"
		    "  -c FILE  configuration file (default: $FARM_CONFIG, else built-in defaults)\n"
		    "  -t       check the configuration and exit\n"
		    "  -v       print the version and exit\n"
		    "  -h       this help\n"
		    "Executes queued pipeline runs (OCI image build stages with docker, buildah\n"
		    "or podman) and polls the deployment targets catalog components are linked\n"
		    "to, every <type>.poll_interval of their platform.\n");
}

int main(int argc, char **argv)
{
	struct farm_runner rn;
	void *nudge = NULL;
	int rc, code = 1, poller = 0;

	memset(&rn, 0, sizeof(rn));
	rn.lock_fd = -1;
	pthread_rwlock_init(&rn.store_lock, NULL);
	farm_json_init();
	if (farm_platform_conf_register() != FARM_OK) /* the platforms' config keys */
		return 1;
	if ((rc = farm_daemon_start("farm-runner", argc, argv, usage, &rn.conf, NULL)) >= 0)
		return rc;
	farm_daemon_signals(on_stop); /* no SA_RESTART: a blocking wait returns at once */
	if (farm_crypto_init() != FARM_OK || farm_httpc_global_init() != FARM_OK) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "cannot initialise GnuTLS/libcurl");
		goto out;
	}
	if (farm_daemon_lock("farm-runner", rn.conf.state_dir, LOCK_NAME, &rn.lock_fd) < 0)
		goto out;
	if (open_store(&rn) < 0 || !(rn.zctx = zmq_ctx_new()))
		goto out;

	farm_runner_nudge(&rn, &nudge);
	rc = farm_runner_poll_start(&rn);
	poller = 1; /* joins whatever pollers started */
	if (rc != FARM_OK)
		goto out;
	farm_log(FARM_LOG_INFO, NULL, 0, "ready: workspaces under %s, stage timeout %ld s, "
					 "%zu poller(s)",
		 rn.conf.pipelines_workspace_root, rn.conf.pipelines_stage_timeout,
		 farm_runner_pollers());

	/* swept: 0 until the runs left running were failed; was_replica: this runner
	 * saw its node a replica since it started (so it takes over from another
	 * node's runner: a failover). */
	for (int swept = 0, was_replica = 0; !farm_runner_stopping;) {
		struct take_io tk = {NULL};
		struct job j;
		const char *id;

		if (farm_store_writable(rn.store) == FARM_E_NOTMASTER) { /* a replica: the */
			swept = 0, was_replica = 1;    /* master's runner takes the queue */
			farm_runner_sleep_ms(POLL_MS);
			continue;
		}
		if (!swept) {
			rc = sweep(&rn, was_replica ? WHY_FAILOVER : WHY_STOPPED);
			if (rc == FARM_E_RECOVER && reopen_store(&rn) < 0)
				break;
			if (rc == FARM_OK) {
				swept = 1;
				farm_runner_nudge(&rn, &nudge);
			} else if (rc == FARM_E_NOTMASTER || rc == FARM_E_RECOVER) {
				farm_runner_sleep_ms(POLL_MS); /* not the master after all */
				continue;
			} /* else the queue goes on, and the sweep is tried again next round */
		}
		rc = farm_store_run(rn.store, take_txn, &tk);
		if (rc != FARM_OK) {
			farm_log(FARM_LOG_ERROR, NULL, 0, "run queue: %s", farm_strerror(rc));
			if (rc == FARM_E_RECOVER && reopen_store(&rn) < 0)
				break;
			farm_runner_sleep_ms(POLL_MS);
			continue;
		}
		if (!tk.run) {
			farm_runner_sleep_ms(POLL_MS);
			continue;
		}
		farm_runner_nudge(&rn, &nudge);
		id = json_string_value(json_object_get(tk.run, "id"));
		farm_log(FARM_LOG_INFO, NULL, 0, "run %s: started", id);
		memset(&j, 0, sizeof(j));
		j.rn = &rn;
		j.run = tk.run;
		j.nudge = &nudge;
		execute(&j);
		rc = save(&rn, tk.run, 1, NULL, 1);
		if (rc != FARM_OK)
			farm_log(FARM_LOG_ERROR, NULL, 0, "run %s: cannot record its end: %s", id,
				 farm_strerror(rc));
		else
			farm_log(FARM_LOG_INFO, NULL, 0, "run %s: %s", id,
				 json_string_value(json_object_get(tk.run, "status")));
		farm_runner_nudge(&rn, &nudge);
		json_decref(tk.run);
	}
	code = 0;
	farm_log(FARM_LOG_INFO, NULL, 0, "stopped");
out:
	farm_runner_stopping = 1;
	if (poller)
		farm_runner_poll_stop();
	farm_runner_nudge_close(&nudge);
	if (rn.zctx)
		zmq_ctx_term(rn.zctx);
	farm_store_close(rn.store);
	if (rn.lock_fd >= 0)
		close(rn.lock_fd);
	farm_conf_free(&rn.conf);
	return code;
}
