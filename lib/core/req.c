/* req.c - dispatch (router + policy), error bodies, response serialisation. */
#include "req.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "json.h"
#include "log.h"
#include "banned.h"

void farm_req_reset(struct farm_req *r)
{
	struct farm_arena *a = r->arena;
	void *app = r->app, *thr = r->thr;

	json_decref(r->json);
	json_decref(r->in);
	farm_arena_reset(a);
	explicit_bzero(&r->claims, sizeof(r->claims));
	memset(r, 0, sizeof(*r));
	r->arena = a;
	r->app = app;
	r->thr = thr;
}

const char *farm_req_env(struct farm_req *r, const char *name)
{
	return r->getenv ? r->getenv(r->env_ctx, name) : NULL;
}

const char *farm_req_query(struct farm_req *r, const char *name)
{
	const char *q = r->query ? r->query : "";
	size_t nlen = strlen(name);

	while (*q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', len);
		size_t klen = eq ? (size_t)(eq - q) : len;

		if (klen == nlen && memcmp(q, name, nlen) == 0) {
			const char *v = eq ? eq + 1 : q + len;
			size_t vlen = eq ? len - klen - 1 : 0;
			char *out = farm_arena_alloc(r->arena, vlen + 1);
			if (!out || farm_form_decode(v, vlen, out, vlen + 1) < 0)
				return NULL;
			return out;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	return NULL;
}

int farm_req_header(struct farm_req *r, const char *name, const char *value)
{
	if (r->nhdr >= FARM_REQ_MAX_HEADERS || strpbrk(value, "\r\n") || strpbrk(name, "\r\n:"))
		return FARM_E_INVAL;
	r->hdr[r->nhdr].name = name;
	r->hdr[r->nhdr].value = value;
	r->nhdr++;
	return FARM_OK;
}

int farm_req_json(struct farm_req *r, int status, json_t *j)
{
	json_decref(r->json);
	r->json = j;
	r->status = status;
	r->text = NULL;
	return status;
}

int farm_req_errors(struct farm_req *r, int status, json_t *messages)
{
	json_t *j = json_pack("{s:i,s:o,s:s}", "statusCode", status, "message", messages, "error",
			      farm_http_reason(status));

	return farm_req_json(r, status, j);
}

int farm_req_fail_list(struct farm_req *r, int code, json_t *messages)
{
	return farm_req_errors(r, farm_err_http_status(code), messages);
}

/* The one message formatter of the error answers. */
static int error_v(struct farm_req *r, int status, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static int error_v(struct farm_req *r, int status, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return farm_req_errors(r, status, farm_json_message(msg));
}

int farm_req_error(struct farm_req *r, int status, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = error_v(r, status, fmt, ap);
	va_end(ap);
	return rc;
}

const char *farm_req_org(const struct farm_req *r)
{
	return r->claims.has_org ? r->claims.org : NULL;
}

int farm_req_fail(struct farm_req *r, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = error_v(r, farm_err_http_status(code), fmt, ap);
	va_end(ap);
	return rc;
}

int farm_req_store_fail(struct farm_req *r, int code)
{
	farm_log(FARM_LOG_ERROR, r->id, 0, "store: %s", farm_strerror(code));
	if (code == FARM_E_NOSPACE)
		return farm_req_fail(r, code, "storage is full or failing; nothing was written");
	if (code == FARM_E_NOTMASTER)
		return farm_req_fail(r, code, "this node is a replica: writes go to the master; "
					      "nothing was written");
	if (code == FARM_E_TIMEOUT) /* only a commit the replication group did not acknowledge */
		return farm_req_fail(r, code, "the write was not acknowledged by the replication "
					      "group within replication.ack_timeout; it may be lost");
	return farm_req_fail(r, FARM_E_UNAVAIL, "storage unavailable; nothing was written");
}

static int authenticate(const struct farm_dispatch *d, struct farm_req *r)
{
	const char *h = farm_req_env(r, "HTTP_AUTHORIZATION");
	struct farm_error err = {0};
	size_t len;

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return farm_req_fail(r, FARM_E_AUTH, "missing bearer token");
	h += 7;
	while (*h == ' ')
		h++;
	len = strlen(h);
	if (farm_jwt_verify(d->jwt_secret, d->jwt_secret_len, h, len, (long long)time(NULL),
			    FARM_JWT_LEEWAY, &r->claims, &err) != FARM_OK) {
		farm_log(FARM_LOG_INFO, r->id, 0, "auth refused: %s", err.msg);
		return farm_req_fail(r, FARM_E_AUTH, "invalid token: %s", err.msg);
	}
	r->authed = 1;
	return 0;
}

/* 1 when the Content-Type `ct` says JSON: the media type application/json (any case),
 * with optional parameters, of which a charset must be utf-8.  Anything else is not
 * JSON, and neither is a missing or empty header: `+json` types (merge-patch, vendor
 * types) name other semantics farm does not implement. */
static int media_is_json(const char *ct)
{
	static const char want[] = "application/json";
	const size_t wlen = sizeof(want) - 1;

	if (!ct)
		return 0;
	ct += strspn(ct, " \t");
	if (strncasecmp(ct, want, wlen) != 0)
		return 0;
	ct += wlen;
	ct += strspn(ct, " \t");
	while (*ct == ';') {
		const char *name, *val;
		size_t nlen, vlen;

		ct++;
		ct += strspn(ct, " \t");
		if (*ct == ';' || *ct == '\0') /* RFC 9110 allows empty parameters */
			continue;
		name = ct;
		nlen = strcspn(ct, "=; \t\"");
		ct += nlen;
		if (nlen == 0 || *ct != '=')
			return 0;
		val = ++ct;
		if (*val == '"') {
			vlen = strcspn(++val, "\"");
			if (val[vlen] != '"')
				return 0;
			ct = val + vlen + 1;
		} else {
			vlen = strcspn(val, "; \t\"");
			ct = val + vlen;
		}
		if (nlen == 7 && strncasecmp(name, "charset", 7) == 0 &&
		    !(vlen == 5 && strncasecmp(val, "utf-8", 5) == 0))
			return 0;
		ct += strspn(ct, " \t");
	}
	return *ct == '\0';
}

int farm_req_body_json(struct farm_req *r, int optional)
{
	json_error_t je;
	size_t i = 0;

	json_decref(r->in);
	r->in = NULL;
	while (i < r->body_len && (r->body[i] == ' ' || r->body[i] == '\t' || r->body[i] == '\r' ||
				   r->body[i] == '\n'))
		i++;
	if (i == r->body_len)
		return optional
			   ? 0
			   : farm_req_fail(r, FARM_E_INVAL, "request body must be a JSON object");
	if (!media_is_json(farm_req_env(r, "CONTENT_TYPE")))
		return farm_req_fail(r, FARM_E_MEDIA, "Content-Type must be application/json");
	r->in = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!r->in)
		return farm_req_fail(r, FARM_E_INVAL,
				     "malformed JSON at line %d, column %d (byte %d): %s", je.line,
				     je.column, je.position, farm_json_error_reason(&je));
	if (!json_is_object(r->in)) {
		json_decref(r->in);
		r->in = NULL;
		return farm_req_fail(r, FARM_E_INVAL, "request body must be a JSON object");
	}
	return 0;
}

int farm_req_dispatch(const struct farm_dispatch *d, struct farm_req *r)
{
	struct farm_match m;
	const char *uri = r->uri ? r->uri : "";
	int rc;


	if (farm_path_parse(&r->path, uri) != FARM_OK)
		return farm_req_fail(r, FARM_E_INVAL, "malformed request path");
	rc = farm_router_match(d->routes, d->nroutes, r->method ? r->method : "", &r->path, &m);
	if (rc == FARM_E_NOTFOUND)
		return farm_req_fail(r, FARM_E_NOTFOUND, "Cannot %s %.*s", r->method,
				     (int)strcspn(uri, "?"), uri);
	if (rc == FARM_E_CONFLICT) {
		char *allow = farm_arena_strdup(r->arena, m.allow);
		farm_req_header(r, "Allow", allow);
		return farm_req_fail(r, FARM_E_METHOD, "method %s not allowed here", r->method);
	}
	r->route = m.route;
	memcpy(r->params, m.params, sizeof(r->params));
	r->nparams = m.nparams;
	if (m.route->flags & (FARM_ROUTE_AUTH | FARM_ROUTE_ADMIN)) {
		if (authenticate(d, r))
			return r->status;
		if ((m.route->flags & FARM_ROUTE_ADMIN) && !r->claims.admin)
			return farm_req_fail(r, FARM_E_FORBIDDEN, "admin role required");
	}
	if ((long)r->body_len > d->body_limit)
		return farm_req_fail(r, FARM_E_TOOBIG, "request body exceeds %ld bytes",
				     d->body_limit);
	if ((m.route->flags & FARM_ROUTE_JSON) && farm_req_body_json(r, 0))
		return r->status;
	m.route->handler(r);
	if (!r->status)
		farm_req_fail(r, FARM_E_IO, "handler produced no response");
	return r->status;
}

int farm_req_emit(struct farm_req *r, farm_req_write_fn write, void *ctx)
{
	char head[2048];
	char *body = NULL;
	size_t blen = 0, n;
	int rc;
	int head_only = r->method && !strcmp(r->method, "HEAD");
	int no_body = r->status == 204 || r->status == 304;

	if (r->json && !no_body) {
		body = json_dumps(r->json, JSON_COMPACT);
		if (!body) {
			json_decref(r->json);
			r->json = NULL;
			r->status = 500;
		} else {
			blen = strlen(body);
		}
	}
	n = (size_t)snprintf(head, sizeof(head), "Status: %d %s\r\n", r->status,
			     farm_http_reason(r->status));
	if (!no_body && (body || r->text)) {
		n += (size_t)snprintf(head + n, sizeof(head) - n, "Content-Type: %s\r\n",
				      body ? "application/json; charset=utf-8"
					   : (r->content_type ? r->content_type : "text/plain"));
		n += (size_t)snprintf(head + n, sizeof(head) - n, "Content-Length: %zu\r\n",
				      body ? blen : r->text_len);
	} else if (!no_body) {
		n += (size_t)snprintf(head + n, sizeof(head) - n, "Content-Length: 0\r\n");
	}
	n += (size_t)snprintf(head + n, sizeof(head) - n, "X-Request-Id: %s\r\n", r->id);
	for (size_t i = 0; i < r->nhdr && n < sizeof(head); i++)
		n += (size_t)snprintf(head + n, sizeof(head) - n, "%s: %s\r\n", r->hdr[i].name,
				      r->hdr[i].value);
	if (n >= sizeof(head) - 3) {
		farm_json_free(body);
		return FARM_E_TOOBIG;
	}
	n += (size_t)snprintf(head + n, sizeof(head) - n, "\r\n");
	rc = write(ctx, head, n);
	if (rc == 0 && !head_only && !no_body) {
		if (body)
			rc = write(ctx, body, blen);
		else if (r->text)
			rc = write(ctx, r->text, r->text_len);
	}
	farm_json_free(body);
	return rc ? FARM_E_IO : FARM_OK;
}
