/* test-err.c - the one error map: every FARM_E_* code's number, HTTP status, reason
 * phrase and farm_strerror text, pinned.  A new code must be added here (the count
 * check fails otherwise), and a number or a status never changes silently. */
#include <string.h>

#include "err.h"
#include "tap.h"

static const struct {
	int code, number, status;
	const char *reason, *name;
} want[] = {
    {FARM_OK, 0, 200, "OK", "success"},
    {FARM_E_NOMEM, -1, 500, "Internal Server Error", "out of memory"},
    {FARM_E_INVAL, -2, 400, "Bad Request", "invalid argument"},
    {FARM_E_NOTFOUND, -3, 404, "Not Found", "not found"},
    {FARM_E_EXISTS, -4, 409, "Conflict", "already exists"},
    {FARM_E_IO, -5, 500, "Internal Server Error", "input/output error"},
    {FARM_E_CRYPTO, -6, 500, "Internal Server Error", "cryptographic failure"},
    {FARM_E_AUTH, -7, 401, "Unauthorized", "authentication failed"},
    {FARM_E_FORBIDDEN, -8, 403, "Forbidden", "forbidden"},
    {FARM_E_DB, -9, 500, "Internal Server Error", "database error"},
    {FARM_E_RECOVER, -10, 503, "Service Unavailable", "database needs recovery"},
    {FARM_E_TOOBIG, -11, 413, "Payload Too Large", "too large"},
    {FARM_E_CONFLICT, -12, 409, "Conflict", "conflict"},
    {FARM_E_UPSTREAM, -13, 502, "Bad Gateway", "upstream error"},
    {FARM_E_TIMEOUT, -14, 504, "Gateway Timeout", "upstream timeout"},
    {FARM_E_RATELIMIT, -15, 429, "Too Many Requests", "rate limited"},
    {FARM_E_UNAVAIL, -16, 503, "Service Unavailable", "unavailable"},
    {FARM_E_CONFIG, -17, 500, "Internal Server Error", "configuration error"},
    {FARM_E_DEADLOCK, -18, 503, "Service Unavailable", "deadlock"},
    {FARM_E_NOSPACE, -19, 507, "Insufficient Storage", "no space"},
    {FARM_E_MEDIA, -20, 415, "Unsupported Media Type", "unsupported media type"},
    {FARM_E_METHOD, -21, 405, "Method Not Allowed", "method not allowed"},
    {FARM_E_INTERNAL, -22, 500, "Internal Server Error", "internal error"},
    {FARM_E_UPGRADE, -23, 426, "Upgrade Required", "upgrade required"},
    {FARM_E_NOTMASTER, -24, 503, "Service Unavailable", "not the replication master"},
};
#define NWANT (sizeof(want) / sizeof(want[0]))

int main(void)
{
	char name[64];
	struct farm_error e = {0};

	is_int(NWANT, FARM_E__COUNT, "every code is pinned below");
	for (size_t i = 0; i < NWANT; i++) {
		int st = farm_err_http_status(want[i].code);

		snprintf(name, sizeof(name), "code %d is number %d", want[i].code, want[i].number);
		is_int(want[i].code, want[i].number, name);
		snprintf(name, sizeof(name), "%s -> %d", want[i].name, want[i].status);
		is_int(st, want[i].status, name);
		snprintf(name, sizeof(name), "%d's reason", want[i].status);
		is_str(farm_http_reason(st), want[i].reason, name);
		snprintf(name, sizeof(name), "farm_strerror(%d)", want[i].code);
		is_str(farm_strerror(want[i].code), want[i].name, name);
	}
	is_int(farm_err_http_status(-FARM_E__COUNT), 500, "an unknown code is a 500");
	is_str(farm_strerror(-FARM_E__COUNT), "unknown error", "and unknown to strerror");
	is_str(farm_strerror(1), "unknown error", "positive numbers are no codes");
	is_str(farm_http_reason(299), "Error", "an unknown status has a generic reason");
	is_int(farm_error_set(&e, FARM_E_AUTH, "bad %s", "token"), FARM_E_AUTH,
	       "farm_error_set returns the code");
	is_str(e.msg, "bad token", "and keeps the message");
	is_int(farm_error_set(NULL, FARM_E_INVAL, "x"), FARM_E_INVAL, "NULL detail is fine");
	return done_testing();
}
