/* farm-runner-exec.c - one engine invocation and the run's log.
 *
 * fork + execve of an argv whose argv[0] is the engine's absolute path (found in
 * PATH beforehand): never a shell, so nothing in a tag, a path or a version is ever
 * interpreted.  The child gets its own process group (a timeout kills the engine and
 * everything it started), stdin from /dev/null, stdout and stderr on a pipe the
 * runner copies into the run's log, only the environment entries
 * farm_pipeline_env_keep() lets through (no FARM_*, no JWT_SECRET), and
 * PR_SET_PDEATHSIG so that a killed runner does not leave the engine running.
 */
#include "farm-runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "pipeline.h"
#include "banned.h"

extern char **environ;

#define KILL_GRACE_MS 5000  /* TERM, then KILL after this */
#define DRAIN_MS 2000       /* output still read after the engine exited */

void farm_runner_log_write(struct farm_runner_log *lg, const char *buf, size_t len)
{
	static const char note[] = "\n[farm-runner: log truncated: over 8 MiB]\n";

	if (!lg || lg->fd < 0 || lg->truncated)
		return;
	if (lg->written + len > (size_t)FARM_PIPELINE_LOG_MAX) {
		len = (size_t)FARM_PIPELINE_LOG_MAX - lg->written;
		lg->truncated = 1;
	}
	while (len) {
		ssize_t n = write(lg->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf += n;
		len -= (size_t)n;
		lg->written += (size_t)n;
	}
	if (lg->truncated && write(lg->fd, note, sizeof(note) - 1) < 0)
		return;
}

void farm_runner_log_printf(struct farm_runner_log *lg, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		farm_runner_log_write(lg, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Keeps the last non-empty line seen in the output. */
struct tail {
	char cur[200];
	size_t n;
	char *last;
	size_t cap;
};

static void tail_feed(struct tail *t, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (c == '\n' || c == '\r') {
			size_t n = t->n;
			while (n && t->cur[n - 1] == ' ')
				n--;
			if (n) {
				size_t k = n < t->cap - 1 ? n : t->cap - 1;
				memcpy(t->last, t->cur, k);
				t->last[k] = '\0';
			}
			t->n = 0;
		} else if (t->n < sizeof(t->cur) - 1) {
			t->cur[t->n++] = (unsigned char)c < 0x20 ? ' ' : c;
		}
	}
}

static void tail_end(struct tail *t)
{
	tail_feed(t, "\n", 1);
}

/* The child's environment: the kept entries of ours (borrowed strings). */
static char **child_env(void)
{
	size_t n = 0, k = 0;
	char **env;

	for (char **e = environ; e && *e; e++)
		n++;
	if (!(env = calloc(n + 1, sizeof(*env))))
		return NULL;
	for (char **e = environ; e && *e; e++)
		if (farm_pipeline_env_keep(*e))
			env[k++] = *e;
	env[k] = NULL;
	return env;
}

/* After fork, in the child: only async-signal-safe calls. */
static void child(char *const argv[], char **env, const char *cwd, int out_fd, pid_t parent)
{
	int devnull = open("/dev/null", O_RDONLY);
	static const char msg[] = "farm-runner: cannot start the engine: ";
	const char *e;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) /* the runner died before prctl */
		_exit(127);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	signal(SIGPIPE, SIG_DFL);
	if (chdir(cwd) == 0)
		execve(argv[0], argv, env);
	e = strerror(errno);
	if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, e, strlen(e)) < 0 || write(2, "\n", 1))
		_exit(127);
	_exit(127);
}

int farm_runner_exec(char *const argv[], const char *cwd, struct farm_runner_log *lg,
		     long long deadline_ms, struct farm_runner_result *res, char *why, size_t cap)
{
	struct tail tl = {.last = res->last_line, .cap = sizeof(res->last_line)};
	long long killed_at = 0, exited_at = 0;
	int pfd[2] = {-1, -1}, status = 0, exited = 0, eof = 0;
	char **env = NULL, buf[8192];
	pid_t pid, me = getpid();
	siginfo_t si;

	memset(res, 0, sizeof(*res));
	res->end = FARM_RUNNER_NOSTART;
	if (!(env = child_env())) {
		snprintf(why, cap, "out of memory");
		return FARM_E_IO;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(why, cap, "pipe: %s", strerror(errno));
		free(env);
		return FARM_E_IO;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(why, cap, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		free(env);
		return FARM_E_IO;
	}
	if (pid == 0)
		child(argv, env, cwd, pfd[1], me);
	setpgid(pid, pid); /* also here: no window where a kill misses the group */
	close(pfd[1]);
	free(env);
	res->end = FARM_RUNNER_EXITED;

	while (!exited || !eof) {
		struct pollfd p = {pfd[0], POLLIN, 0};
		long long now = farm_clock_ms();

		/* WNOWAIT: the exited engine stays a zombie, so its process group id
		 * cannot be reused before the group is killed below. */
		si.si_pid = 0;
		if (!exited && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == pid) {
			exited = 1;
			exited_at = now;
		}
		if (exited && !eof && now - exited_at > DRAIN_MS)
			break; /* something the engine started still holds the pipe */
		if (!exited && !killed_at && (now >= deadline_ms || farm_runner_stopping)) {
			res->end = farm_runner_stopping ? FARM_RUNNER_STOPPED : FARM_RUNNER_TIMEDOUT;
			kill(-pid, SIGTERM);
			killed_at = now;
		}
		if (killed_at && !exited && now - killed_at > KILL_GRACE_MS) {
			kill(-pid, SIGKILL);
			killed_at = now; /* and again later, if need be */
		}
		if (eof) {
			struct timespec ts = {0, 50 * 1000000L};
			nanosleep(&ts, NULL);
			continue;
		}
		if (poll(&p, 1, 100) > 0) {
			ssize_t n = read(pfd[0], buf, sizeof(buf));
			if (n > 0) {
				farm_runner_log_write(lg, buf, (size_t)n);
				tail_feed(&tl, buf, (size_t)n);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				eof = 1;
			}
		}
	}
	close(pfd[0]);
	tail_end(&tl);
	kill(-pid, SIGKILL); /* whatever the engine left behind in its group */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (res->end == FARM_RUNNER_EXITED) {
		if (WIFSIGNALED(status)) {
			res->end = FARM_RUNNER_SIGNALED;
			res->code = WTERMSIG(status);
		} else {
			res->code = WEXITSTATUS(status);
		}
	}
	return FARM_OK;
}
