/* req.h - one HTTP request as a handler sees it, and the response it builds.
 *
 * The FastCGI program fills a struct farm_req after accept, the dispatcher
 * (farm_req_dispatch) enforces the route's policy (auth, admin, JSON body, size)
 * and calls the handler, which sets r->status and r->json (or r->text).
 * Everything a handler allocates comes from r->arena or is owned by r (r->json is
 * released by farm_req_reset).  No request state lives in globals.
 */
#ifndef FARM_REQ_H
#define FARM_REQ_H

#include <jansson.h>
#include <stddef.h>

#include "arena.h"
#include "err.h"
#include "jwt.h"
#include "router.h"

#define FARM_REQ_MAX_HEADERS 8

struct farm_req;

/* Looks up a CGI/FastCGI parameter ("HTTP_AUTHORIZATION", "QUERY_STRING"...).
 * Borrowed, valid until the request finishes; NULL when absent. */
typedef const char *(*farm_req_getenv_fn)(void *ctx, const char *name);

struct farm_req {
	/* request */
	const char *method, *uri, *query; /* query: text after '?', or "" */
	struct farm_path path;
	const char *params[FARM_ROUTER_MAX_PARAMS]; /* route :params, decoded */
	size_t nparams;
	const char *body; /* NUL-terminated, body_len bytes (may contain NULs) */
	size_t body_len;
	json_t *in;       /* parsed body for FARM_ROUTE_JSON routes (borrowed by handler) */
	struct farm_claims claims;
	int authed;
	char id[17];      /* request id: 16 hex chars, on every log line */
	struct farm_arena *arena;
	farm_req_getenv_fn getenv;
	void *env_ctx;
	void *app;        /* borrowed: the program's shared state */
	void *thr;        /* borrowed: the calling thread's state */

	/* response */
	int status;
	json_t *json;     /* owned; NULL for none */
	const char *text; /* alternative raw body (arena); content_type says what */
	size_t text_len;
	const char *content_type;
	struct {
		const char *name, *value;
	} hdr[FARM_REQ_MAX_HEADERS];
	size_t nhdr;
};

/* Clears request and response fields (frees r->json, resets the arena). */
void farm_req_reset(struct farm_req *r);

const char *farm_req_env(struct farm_req *r, const char *name);

/* The caller's org (the token's orgId), or NULL for a token without one.  Borrowed,
 * valid until the request finishes. */
const char *farm_req_org(const struct farm_req *r);

/* Query parameter `name`, percent/+-decoded into the arena; NULL when absent.
 * FARM_E_INVAL in *err when malformed. */
const char *farm_req_query(struct farm_req *r, const char *name);

/* Adds a response header; refuses (FARM_E_INVAL) values with CR, LF or NUL. */
int farm_req_header(struct farm_req *r, const char *name, const char *value);

/* Sets a JSON response, taking ownership of `j`. */
int farm_req_json(struct farm_req *r, int status, json_t *j);

/* NestJS-style error: {"statusCode":n,"message":"...","error":"<reason>"}, by status:
 * for code not yet converted (handlers use farm_req_fail). */
int farm_req_error(struct farm_req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* THE way a handler answers a failure: `code` is what went wrong (FARM_E_*), the
 * status comes from farm_err_http_status().  The message is shown to the caller: never
 * a secret.  Returns the status. */
int farm_req_fail(struct farm_req *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A store outcome (FARM_E_* from lib/store) as an answer: logged, then 507 when the
 * storage is full or failing, 503 otherwise (nothing was written either way). */
int farm_req_store_fail(struct farm_req *r, int code);
/* farm_req_fail with an array of messages (every problem at once); takes ownership of
 * `messages`. */
int farm_req_fail_list(struct farm_req *r, int code, json_t *messages);
/* The same by status, for code not yet converted. */
int farm_req_errors(struct farm_req *r, int status, json_t *messages);

/* The body as a JSON object in r->in (owned by r): 0 when set, or when `optional` and
 * the body is empty or blank (r->in NULL).  Otherwise a failure was answered and its
 * status is returned: 415 unless Content-Type is application/json (parameters allowed,
 * a charset must be utf-8; missing counts as wrong), 400 for malformed JSON (line,
 * column and byte, never the text) or anything but an object.  FARM_ROUTE_JSON routes
 * get this before the handler runs. */
int farm_req_body_json(struct farm_req *r, int optional);

struct farm_dispatch {
	const struct farm_route *routes;
	size_t nroutes;
	const void *jwt_secret;
	size_t jwt_secret_len;
	long body_limit;
};

/* Runs the router, the policy checks and the handler.  Always leaves a complete
 * response in r (status + body).  Returns the status. */
int farm_req_dispatch(const struct farm_dispatch *d, struct farm_req *r);

/* Serialises r's response as a CGI response (Status, headers, blank line, body)
 * through `write(ctx, buf, len)`. */
typedef int (*farm_req_write_fn)(void *ctx, const void *buf, size_t len);
int farm_req_emit(struct farm_req *r, farm_req_write_fn write, void *ctx);

#endif
