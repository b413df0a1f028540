/* err.h - farm's one error enum, stable numbers, and a message detail.
 *
 * Every lib/ function that can fail returns `int`: FARM_OK (0) or a negative
 * FARM_E_* code.  The mapping to HTTP status lives in exactly one place:
 * farm_err_http_status().  Handlers say what went wrong (farm_req_fail in req.h
 * takes a FARM_E_* code), never which status; t/unit/test-err.c pins every code's
 * status and reason phrase.  New codes are appended (numbers never change).
 */
#ifndef FARM_ERR_H
#define FARM_ERR_H

#include <stddef.h>

enum farm_err {
	FARM_OK = 0,
	FARM_E_NOMEM = -1,      /* allocation failed */
	FARM_E_INVAL = -2,      /* caller passed something malformed */
	FARM_E_NOTFOUND = -3,   /* no such record / route */
	FARM_E_EXISTS = -4,     /* duplicate key */
	FARM_E_IO = -5,         /* file or socket error; errno in detail */
	FARM_E_CRYPTO = -6,     /* GnuTLS failure or authentication tag mismatch */
	FARM_E_AUTH = -7,       /* bad token, bad signature */
	FARM_E_FORBIDDEN = -8,  /* authenticated but not allowed */
	FARM_E_DB = -9,         /* Berkeley DB error (retryable) */
	FARM_E_RECOVER = -10,   /* DB_RUNRECOVERY: environment must be recovered */
	FARM_E_TOOBIG = -11,    /* over a size limit */
	FARM_E_CONFLICT = -12,  /* state conflict (upstream operation in progress, ...) */
	FARM_E_UPSTREAM = -13,  /* upstream platform failed or answered garbage */
	FARM_E_TIMEOUT = -14,   /* upstream timed out */
	FARM_E_RATELIMIT = -15, /* upstream rate limited */
	FARM_E_UNAVAIL = -16,   /* a part of the stack is down */
	FARM_E_CONFIG = -17,    /* configuration error */
	FARM_E_DEADLOCK = -18,  /* transaction chosen as deadlock victim; retry */
	FARM_E_NOSPACE = -19,   /* storage full or failing (ENOSPC, EDQUOT, EIO) */
	FARM_E_MEDIA = -20,     /* request body of a type the route does not take */
	FARM_E_METHOD = -21,    /* the operation exists, but not for this target */
	FARM_E_INTERNAL = -22,  /* farm's own fault: a state that should not happen */
	FARM_E_UPGRADE = -23,   /* the resource speaks another protocol (WebSocket) */
	FARM_E_NOTMASTER = -24, /* a write on a replication replica: nothing written, the
				 * master takes it (503: nginx tries the next node) */
	FARM_E__COUNT = 25
};

/* Optional structured detail: who failed and why, for logs and error bodies.
 * `msg` must never contain a secret. */
struct farm_error {
	int code;      /* FARM_E_* */
	int sys_errno; /* errno, or 0 */
	int http;      /* upstream HTTP status when relevant, or 0 */
	char msg[256];
};

/* Returns a static string for a FARM_E_* code (never NULL). */
const char *farm_strerror(int code);

/* Fills `e` (NULL-safe) with code and a printf-style message; returns code. */
int farm_error_set(struct farm_error *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The one place library errors become HTTP status codes. */
int farm_err_http_status(int code);

/* Reason phrase for an HTTP status ("Bad Request"); never NULL. */
const char *farm_http_reason(int status);

#endif
