/* err.c - error strings and the error → HTTP status map. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const err_names[FARM_E__COUNT] = {
	"success",
	"out of memory",
	"invalid argument",
	"not found",
	"already exists",
	"input/output error",
	"cryptographic failure",
	"authentication failed",
	"forbidden",
	"database error",
	"database needs recovery",
	"too large",
	"conflict",
	"upstream error",
	"upstream timeout",
	"rate limited",
	"unavailable",
	"configuration error",
	"deadlock",
	"no space",
	"unsupported media type",
	"method not allowed",
	"internal error",
	"upgrade required",
	"not the replication master",
};

const char *farm_strerror(int code)
{
	int i = -code;

	if (i < 0 || i >= FARM_E__COUNT)
		return "unknown error";
	return err_names[i];
}

int farm_error_set(struct farm_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int farm_err_http_status(int code)
{
	switch (code) {
	case FARM_OK:
		return 200;
	case FARM_E_INVAL:
		return 400;
	case FARM_E_AUTH:
		return 401;
	case FARM_E_FORBIDDEN:
		return 403;
	case FARM_E_NOTFOUND:
		return 404;
	case FARM_E_EXISTS:
	case FARM_E_CONFLICT:
		return 409;
	case FARM_E_METHOD:
		return 405;
	case FARM_E_TOOBIG:
		return 413;
	case FARM_E_MEDIA:
		return 415;
	case FARM_E_RATELIMIT:
		return 429;
	case FARM_E_UPSTREAM:
		return 502;
	case FARM_E_UNAVAIL:
	case FARM_E_NOTMASTER:
	case FARM_E_RECOVER:
	case FARM_E_DEADLOCK:
		return 503;
	case FARM_E_TIMEOUT:
		return 504;
	case FARM_E_NOSPACE:
		return 507;
	case FARM_E_INTERNAL:
		return 500;
	case FARM_E_UPGRADE:
		return 426;
	default:
		return 500;
	}
}

const char *farm_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 507: return "Insufficient Storage";
	default: return "Error";
	}
}
