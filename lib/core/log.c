/* log.c - formatted, levelled log lines on stderr, one write(2) per line. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "banned.h"

static const char *log_prog = "farm";
static int log_threshold = FARM_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void farm_log_init(const char *prog, int level)
{
	if (prog)
		log_prog = prog;
	if (level >= FARM_LOG_ERROR && level <= FARM_LOG_DEBUG)
		log_threshold = level;
}

static char log_path[4096];

int farm_log_reopen(void)
{
	int fd, saved = errno;

	if (!log_path[0])
		return 0;
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (fd != STDERR_FILENO) {
		int rc = dup2(fd, STDERR_FILENO);
		close(fd);
		if (rc < 0)
			return -1;
	}
	errno = saved;
	return 0;
}

int farm_log_open(const char *path)
{
	size_t n = path ? strlen(path) : 0;

	if (n == 0 || n >= sizeof(log_path)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(log_path, path, n + 1);
	return farm_log_reopen();
}

int farm_log_level(void)
{
	return log_threshold;
}

int farm_log_level_parse(const char *s)
{
	for (int i = 0; i <= FARM_LOG_DEBUG; i++)
		if (s && strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void farm_log_at(int level, const char *reqid, int errnum, const char *fmt, ...)
{
	char line[2048];
	char ebuf[128];
	size_t n;
	int r;
	va_list ap;

	if (level < 0 || level > FARM_LOG_DEBUG)
		level = FARM_LOG_ERROR;
	farm_clock_iso(farm_clock_ms(), line);
	n = strlen(line);
	r = snprintf(line + n, sizeof(line) - n, " %s[%ld] %s %s%s%s", log_prog, (long)getpid(),
		     level_names[level], reqid ? "[req " : "", reqid ? reqid : "",
		     reqid ? "] " : "");
	if (r > 0)
		n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	if (errnum && n < sizeof(line) - 1) {
		const char *es = strerror_r(errnum, ebuf, sizeof(ebuf));
		r = snprintf(line + n, sizeof(line) - n, ": %s", es);
		if (r > 0)
			n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	}
	/* Control characters never reach the log (no log injection through messages). */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = '?';
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
		;
}
