/* log.h - one logging function for every farm program.
 *
 * Lines go to stderr (nginx/systemd/journald collect them):
 *   2025-01-01T00:00:00.000Z farm-fcgi[123] warn [req 4f2a...] message: strerror
 * The level is checked before anything is formatted.  Never log a secret, a token
 * or a request body.
 */
#ifndef FARM_LOG_H
#define FARM_LOG_H

enum farm_log_level { FARM_LOG_ERROR = 0, FARM_LOG_WARN, FARM_LOG_INFO, FARM_LOG_DEBUG };

/* Sets the program name (borrowed; must outlive logging) and the threshold. */
void farm_log_init(const char *prog, int level);
int farm_log_level(void);
/* "error" "warn" "info" "debug" → level, or -1. */
int farm_log_level_parse(const char *s);

/* Sends log lines to `path` (appended; created 0640) instead of the stderr the
 * program was started with: the file is opened onto fd 2, so anything else written
 * to stderr goes there too.  Remembers the path for farm_log_reopen.  0, or -1 with
 * errno. */
int farm_log_open(const char *path);
/* Opens the path of farm_log_open again (after logrotate moved the file): SIGUSR1.
 * Async-signal-safe.  0 (also when no file is set), or -1 with errno. */
int farm_log_reopen(void);

/* `reqid` may be NULL; `errnum` (an errno) appends ": strerror" when non-zero. */
void farm_log_at(int level, const char *reqid, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define farm_log(level, reqid, errnum, ...)                                                \
	do {                                                                               \
		if ((level) <= farm_log_level())                                           \
			farm_log_at((level), (reqid), (errnum), __VA_ARGS__);              \
	} while (0)

#endif
