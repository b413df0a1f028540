/* provider.c - what every platform call shares: the base URL, authentication,
 * the exchange, reading through the cache, and the one mapping from an upstream
 * outcome to farm's HTTP answer (farm_provider_fail). */
#include "provider.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "banned.h"

#define MAX_HDRS 16

void farm_provider_call_done(struct farm_provider_call *c)
{
	if (!c)
		return;
	json_decref(c->value); /* Jansson's allocator wipes it (farm_json_init) */
	c->value = NULL;
}

void farm_provider_resp_clear(struct farm_provider_resp *r)
{
	if (!r)
		return;
	if (r->body)
		farm_crypto_free_secret(r->body, r->len + 1);
	json_decref(r->json);
	farm_crypto_wipe(r, sizeof(*r));
}

/* c->err = code, its HTTP status (farm_err_http_status) and the message. */
static void set_errv(struct farm_provider_call *c, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void set_errv(struct farm_provider_call *c, int code, const char *fmt, va_list ap)
{
	c->err.code = code;
	c->err.status = farm_err_http_status(code);
	vsnprintf(c->err.msg, sizeof(c->err.msg), fmt, ap);
}

static void set_err(struct farm_provider_call *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(struct farm_provider_call *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_errv(c, code, fmt, ap);
	va_end(ap);
}

int farm_provider_bad_input(struct farm_provider_call *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_errv(c, FARM_E_INVAL, fmt, ap);
	va_end(ap);
	return FARM_E_INVAL;
}

int farm_provider_refuse(struct farm_provider_call *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_errv(c, code, fmt, ap);
	va_end(ap);
	return code;
}

int farm_provider_nomem(struct farm_provider_call *c)
{
	set_err(c, FARM_E_NOMEM, "out of memory");
	return FARM_E_NOMEM;
}

json_t *farm_provider_value(struct farm_provider_call *c)
{
	int rc;

	if (c->value)
		return c->value;
	rc = c->open_value ? c->open_value(c->open_arg, &c->value) : FARM_E_INVAL;
	if (rc != FARM_OK || !json_is_object(c->value)) {
		json_decref(c->value);
		c->value = NULL;
		farm_log(FARM_LOG_ERROR, c->reqid, 0, "%s credential %s cannot be opened: %s",
			 c->p->type, c->cred_id ? c->cred_id : "?", farm_strerror(rc));
		set_err(c, FARM_E_CRYPTO, "the stored %s credential cannot be opened", c->p->title);
		return NULL;
	}
	return c->value;
}

/* ---- text helpers ---------------------------------------------------------------- */

char *farm_provider_pct(struct farm_arena *a, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), o = 0;
	char *out = farm_arena_alloc(a, n * 3 + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return out;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return need;
}

void farm_provider_sanitize(const char *in, size_t len, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, i = 0;
	int space = 0;

	if (!cap)
		return;
	while (i < len && o + 1 < cap) {
		size_t n;
		if (s[i] < 0x20 || s[i] == 0x7f || s[i] == ' ') {
			space = o > 0;
			i++;
			continue;
		}
		if (space) {
			if (o + 2 >= cap)
				break;
			out[o++] = ' ';
			space = 0;
		}
		n = utf8_len(s + i, len - i);
		if (!n) {
			out[o++] = '?';
			i++;
			continue;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
}

static void redact_one(char *msg, size_t cap, const char *secret)
{
	static const char mark[] = "[redacted]";
	size_t sl = strlen(secret), ml = sizeof(mark) - 1;
	char *p = msg;

	if (sl < 4)
		return;
	while ((p = strstr(p, secret))) {
		size_t tail = strlen(p + sl);
		size_t at = (size_t)(p - msg);
		if (at + ml + tail + 1 > cap)
			tail = cap > at + ml + 1 ? cap - at - ml - 1 : 0;
		if (at + ml + 1 > cap) {
			*p = '\0';
			return;
		}
		memmove(p + ml, p + sl, tail);
		p[ml + tail] = '\0';
		memcpy(p, mark, ml);
		p += ml;
	}
}

/* Redacts the base64 forms of the len bytes at s: standard (with and without its
 * padding) and URL-safe.  The encodings live only here and are wiped. */
static void redact_b64(char *msg, size_t cap, const char *s, size_t len)
{
	char *e = NULL;
	size_t n;

	if (farm_b64_encode(s, len, &e) == FARM_OK) {
		redact_one(msg, cap, e);
		n = strlen(e);
		while (n && e[n - 1] == '=')
			e[--n] = '\0';
		redact_one(msg, cap, e);
		farm_crypto_free_secret(e, strlen(e) + 1);
	}
	e = NULL;
	if (farm_b64url_encode(s, len, &e) == FARM_OK) {
		redact_one(msg, cap, e);
		farm_crypto_free_secret(e, strlen(e) + 1);
	}
}

void farm_provider_redact(char *msg, size_t cap, json_t *value)
{
	const char *user = json_string_value(json_object_get(value, "username"));
	const char *k, *sec;
	char pair[8192];
	json_t *v;
	int n;

	if (!json_is_object(value))
		return;
	json_object_foreach(value, k, v)
	{
		if (!json_is_string(v) || !strcmp(k, "url") || !strcmp(k, "username"))
			continue;
		sec = json_string_value(v);
		redact_one(msg, cap, sec);
		if (strlen(sec) < 4)
			continue;
		redact_b64(msg, cap, sec, strlen(sec));
		/* HTTP Basic: base64 of "user:secret", as an echoed Authorization header
		 * shows it (issue 18 #3) */
		n = snprintf(pair, sizeof(pair), "%s:%s", user ? user : "", sec);
		if (n > 0 && (size_t)n < sizeof(pair))
			redact_b64(msg, cap, pair, (size_t)n);
		farm_crypto_wipe(pair, sizeof(pair));
	}
}

/* ---- the exchange ------------------------------------------------------------------ */

/* The platform's API root for this credential: its url, else the configured one. */
static const char *base_url(struct farm_provider_call *c, json_t *value)
{
	const char *u = json_string_value(json_object_get(value, "url"));
	size_t n;

	if (!u || !*u) {
		if (c->p->url_required)
			return NULL;
		u = c->conf_base;
	}
	if (!u || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) || strpbrk(u, "?#"))
		return NULL;
	n = strlen(u);
	while (n > 8 && u[n - 1] == '/')
		n--;
	return farm_arena_printf(c->arena, "%.*s%s", (int)n, u, c->p->api_root);
}

static int outcome_of_status(long status)
{
	if (status >= 200 && status < 300)
		return FARM_PO_OK;
	switch (status) {
	case 401:
	case 403:
		return FARM_PO_REFUSED;
	case 404:
	case 410:
		return FARM_PO_NOTFOUND;
	case 409:
		return FARM_PO_CONFLICT;
	case 429:
		return FARM_PO_RATELIMIT;
	case 400:
	case 422:
		return FARM_PO_INVALID;
	}
	if (status >= 300 && status < 400)
		return FARM_PO_GARBAGE; /* redirects are not followed: a login page, a move */
	return FARM_PO_FAILED;
}

static int outcome_of_transport(int rc)
{
	switch (rc) {
	case FARM_E_TIMEOUT: return FARM_PO_TIMEOUT;
	case FARM_E_TOOBIG: return FARM_PO_TOOBIG;
	case FARM_E_FORBIDDEN: return FARM_PO_DENIED;
	case FARM_E_INVAL: return FARM_PO_NOURL;
	default: return FARM_PO_UNREACHABLE;
	}
}

int farm_provider_send(struct farm_provider_call *c, const char *method, const char *path,
		       const char *const *hdrs, size_t nhdrs, const char *ctype, const void *body,
		       size_t len, struct farm_provider_resp *r)
{
	const char *lines[MAX_HDRS];
	struct farm_httpc_resp hr;
	struct farm_httpc_req rq = {0};
	json_t *value;
	const char *base;
	int n, rc;

	memset(r, 0, sizeof(*r));
	if (!(value = farm_provider_value(c)))
		return FARM_E_CRYPTO;
	if (!(base = base_url(c, value))) {
		r->outcome = FARM_PO_NOURL;
		return FARM_OK;
	}
	n = c->p->auth(c, value, lines);
	if (n < 0 || (size_t)n + 2 + nhdrs > MAX_HDRS) {
		set_err(c, FARM_E_NOMEM, "cannot build the %s request", c->p->title);
		return FARM_E_NOMEM;
	}
	lines[n++] = "Accept: application/json";
	if (ctype)
		lines[n++] = farm_arena_printf(c->arena, "Content-Type: %s", ctype);
	for (size_t i = 0; i < nhdrs; i++)
		lines[n++] = hdrs[i];
	for (int i = 0; i < n; i++)
		if (!lines[i]) {
			set_err(c, FARM_E_NOMEM, "out of memory");
			return FARM_E_NOMEM;
		}
	rq.method = method;
	rq.url = farm_arena_printf(c->arena, "%s%s", base, path);
	rq.headers = lines;
	rq.nheaders = (size_t)n;
	rq.body = body;
	rq.body_len = len;
	if (!rq.url) {
		set_err(c, FARM_E_NOMEM, "out of memory");
		return FARM_E_NOMEM;
	}
	rc = farm_httpc_do(c->http, &rq, &hr);
	c->upstream_calls++;
	memcpy(r->detail, hr.errbuf, sizeof(r->detail));
	r->status = hr.status;
	if (rc == FARM_E_NOMEM) {
		farm_httpc_resp_clear(&hr);
		set_err(c, FARM_E_NOMEM, "out of memory");
		return FARM_E_NOMEM;
	}
	if (rc != FARM_OK) {
		r->outcome = outcome_of_transport(rc);
		farm_httpc_resp_clear(&hr);
		return FARM_OK;
	}
	r->outcome = outcome_of_status(hr.status);
	r->body = hr.body;
	r->len = hr.len;
	hr.body = NULL;
	memcpy(r->retry_after, hr.retry_after, sizeof(r->retry_after));
	memcpy(r->location, hr.location, sizeof(r->location));
	memcpy(r->link, hr.link, sizeof(r->link));
	memcpy(r->cookies, hr.cookies, sizeof(r->cookies));
	farm_httpc_resp_clear(&hr);
	if (r->len)
		r->json = json_loadb(r->body, r->len, 0, NULL);
	if (r->outcome != FARM_PO_OK) {
		/* Redact before cutting, so no part of a secret survives at the cut. */
		char *raw = farm_arena_alloc(c->arena, 4096);
		if (raw) {
			raw[0] = '\0';
			if (c->p->message)
				c->p->message(r->body, r->len, r->json, raw, 4096);
			farm_provider_redact(raw, 4096, value);
			farm_provider_sanitize(raw, strlen(raw), r->message, 201);
			farm_crypto_wipe(raw, 4096);
		}
	}
	return FARM_OK;
}

int farm_provider_get_json(struct farm_provider_call *c, const char *path, const char *what,
			   unsigned flags, json_t **out)
{
	struct farm_cache_ticket t = {-1, 0};
	struct farm_provider_resp r;
	int filling = 0, rc, outcome;

	*out = NULL;
	/* Called on its own (not inside farm_provider_read, which keeps whole answers),
	 * an upstream read is cached by itself: same key rules, the raw 200 body kept. */
	if (!c->in_read && c->cache && c->cache_ttl_ms > 0 && c->cred_id && c->cred_version) {
		struct farm_cache_key k;
		char *req = farm_arena_printf(c->arena, "%s\n%s\n%s\nGET %s", c->cred_version,
					      c->p->type, c->conf_base ? c->conf_base : "", path);
		char *body = NULL;
		size_t blen = 0;
		long wait = c->timeout_s * 1000;
		int res;

		if (req) {
			farm_cache_key_make(&k, c->cred_id, req, strlen(req));
			res = farm_cache_get(c->cache, &k, wait, wait + 2000, &body, &blen, &t);
			if (res == FARM_CACHE_HIT) {
				*out = json_loadb(body, blen, 0, NULL);
				free(body);
				if (*out) {
					c->cache_state = "hit";
					return FARM_OK;
				}
			}
			filling = res == FARM_CACHE_FILL;
			c->cache_state = filling ? "miss" : "bypass";
		}
	}
	rc = farm_provider_send(c, "GET", path, NULL, 0, NULL, NULL, 0, &r);
	if (rc != FARM_OK) {
		if (filling)
			farm_cache_fill(c->cache, &t, NULL, 0, 0);
		return rc;
	}
	outcome = r.outcome;
	if (outcome == FARM_PO_OK && !r.json)
		outcome = FARM_PO_GARBAGE;
	if (outcome == FARM_PO_REFUSED && r.status == 403 &&
	    (flags & FARM_PROVIDER_FORBIDDEN_IS_NOTFOUND))
		outcome = FARM_PO_NOTFOUND;
	if (filling)
		farm_cache_fill(c->cache, &t, outcome == FARM_PO_OK && r.status == 200 ? r.body : NULL,
				r.len, c->cache_ttl_ms);
	if (outcome != FARM_PO_OK) {
		rc = farm_provider_fail(c, outcome, &r, what);
		farm_provider_resp_clear(&r);
		return rc;
	}
	if (r.status != 200)
		c->uncacheable = 1; /* only answers built from 200s are kept */
	*out = r.json;
	r.json = NULL;
	farm_provider_resp_clear(&r);
	return FARM_OK;
}

static int dump_answer(struct farm_provider_call *c, json_t *j, char **text, size_t *len)
{
	*text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!*text)
		return farm_provider_nomem(c);
	*len = strlen(*text);
	return FARM_OK;
}

int farm_provider_read(struct farm_provider_call *c, const char *key, farm_provider_read_fn fn,
		       const void *arg, char **text, size_t *len)
{
	struct farm_cache_ticket t = {-1, 0};
	struct farm_cache_key k;
	json_t *j = NULL;
	char *req;
	int rc, res;

	*text = NULL;
	*len = 0;
	if (!c->cache || c->cache_ttl_ms <= 0 || !c->cred_id || !c->cred_version) {
		if ((rc = fn(c, arg, &j)) != FARM_OK)
			return rc;
		return dump_answer(c, j, text, len);
	}
	/* The credential's exact value (id + version), the platform and its base, and
	 * the read with its inputs: together they name the upstream requests made. */
	req = farm_arena_printf(c->arena, "%s\n%s\n%s\n%s", c->cred_version, c->p->type,
				c->conf_base ? c->conf_base : "", key);
	if (!req)
		return farm_provider_nomem(c);
	farm_cache_key_make(&k, c->cred_id, req, strlen(req));
	res = farm_cache_get(c->cache, &k, c->timeout_s * 1000, c->timeout_s * 1000 + 2000, text,
			     len, &t);
	if (res == FARM_CACHE_HIT) {
		c->cache_state = "hit";
		return FARM_OK;
	}
	if (res < 0)
		return farm_provider_nomem(c);
	c->cache_state = res == FARM_CACHE_FILL ? "miss" : "bypass";
	c->uncacheable = 0;
	c->in_read = 1;
	rc = fn(c, arg, &j);
	c->in_read = 0;
	if (rc == FARM_OK)
		rc = dump_answer(c, j, text, len);
	if (res == FARM_CACHE_FILL)
		farm_cache_fill(c->cache, &t, rc == FARM_OK && !c->uncacheable ? *text : NULL,
				*len, c->cache_ttl_ms);
	return rc;
}

/* ---- the mapping -------------------------------------------------------------------- */

static const char *outcome_name(int o)
{
	static const char *const names[] = {
		"ok", "credential refused", "not found", "conflict", "rate limited",
		"validation error", "failed", "unexpected answer", "unreachable", "timeout",
		"answer too large", "address not allowed", "no usable url",
	};
	return o >= 0 && (size_t)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}

/* Retry-After is a number of seconds or an HTTP date: keep only such characters. */
static void copy_retry_after(char *out, size_t cap, const char *in)
{
	size_t n = strlen(in);

	out[0] = '\0';
	if (!n || n >= cap ||
	    strspn(in, "0123456789 ,:-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != n)
		return;
	memcpy(out, in, n + 1);
}

int farm_provider_fail(struct farm_provider_call *c, int outcome,
		       const struct farm_provider_resp *r, const char *what)
{
	const char *t = c->p->title;
	const char *pm = r && r->message[0] ? r->message : NULL;
	long st = r ? r->status : 0;

	c->err.retry_after[0] = '\0';
	switch (outcome) {
	case FARM_PO_OK:
		return FARM_OK;
	case FARM_PO_REFUSED:
		set_err(c, FARM_E_UPSTREAM, "%s rejected the stored credential (HTTP %ld)", t, st);
		break;
	case FARM_PO_NOTFOUND:
		if (what)
			set_err(c, FARM_E_NOTFOUND, "%s %s not found", t, what);
		else
			set_err(c, FARM_E_NOTFOUND, "%s: not found (HTTP %ld)", t, st);
		break;
	case FARM_PO_CONFLICT:
		if (pm)
			set_err(c, FARM_E_CONFLICT, "%s: %s", t, pm);
		else
			set_err(c, FARM_E_CONFLICT, "%s refused the operation: conflict (HTTP %ld)", t, st);
		break;
	case FARM_PO_RATELIMIT:
		set_err(c, FARM_E_RATELIMIT, "%s rate limit reached (HTTP %ld)", t, st);
		if (r)
			copy_retry_after(c->err.retry_after, sizeof(c->err.retry_after),
					 r->retry_after);
		break;
	case FARM_PO_INVALID:
		if (pm)
			set_err(c, FARM_E_INVAL, "%s: %s", t, pm);
		else
			set_err(c, FARM_E_INVAL, "%s refused the request (HTTP %ld)", t, st);
		break;
	case FARM_PO_FAILED:
		set_err(c, FARM_E_UPSTREAM, "%s failed (HTTP %ld)", t, st);
		break;
	case FARM_PO_GARBAGE:
		set_err(c, FARM_E_UPSTREAM, "%s answered with something unexpected (HTTP %ld)", t, st);
		break;
	case FARM_PO_UNREACHABLE:
		set_err(c, FARM_E_UPSTREAM, "%s is unreachable", t);
		break;
	case FARM_PO_TIMEOUT:
		set_err(c, FARM_E_TIMEOUT, "%s did not answer within %ld s", t, c->timeout_s);
		break;
	case FARM_PO_TOOBIG:
		set_err(c, FARM_E_UPSTREAM, "%s answer is larger than upstream.max_body", t);
		break;
	case FARM_PO_DENIED:
		set_err(c, FARM_E_UPSTREAM, "%s address is not allowed (loopback, link-local or metadata; "
					     "loopback only with upstream.allow_loopback = yes)", t);
		break;
	case FARM_PO_NOURL:
	default:
		set_err(c, FARM_E_UPSTREAM, "the stored %s credential has no usable url", t);
		break;
	}
	/* The log line carries the platform, the outcome, the status and libcurl's
	 * explanation (host and port at most) — never a header, a body or a URL path. */
	farm_log(FARM_LOG_WARN, c->reqid, 0, "%s: %s (upstream HTTP %ld)%s%s", c->p->type,
		 outcome_name(outcome), st, r && r->status == 0 && r->detail[0] ? ": " : "",
		 r && r->status == 0 ? r->detail : "");
	return FARM_E_UPSTREAM;
}
