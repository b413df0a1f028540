/* provider.h - what every platform call shares: the upstream half of a platform
 * module (lib/platform/<type>/, described by platform.h), and the one place where an
 * upstream outcome becomes farm's answer (farm_provider_fail).
 *
 * A caller (an HTTP handler) picks the org's credential, fills a struct
 * farm_provider_call and calls a platform operation.  The operation validates its
 * inputs, talks to the platform through httpc (reads through the shared cache) and
 * returns FARM_OK with a JSON result, or an error with c->err saying what to answer.
 * Messages in c->err are built from the platform's name, the HTTP status and, for
 * validation errors, the platform's own message (bounded, sanitised, and with every
 * secret of the credential redacted); never from a header or the credential.
 */
#ifndef FARM_PROVIDER_H
#define FARM_PROVIDER_H

#include <jansson.h>
#include <stddef.h>

#include "arena.h"
#include "cache.h"
#include "err.h"
#include "httpc.h"

/* How a platform exchange ended, before it becomes an HTTP status. */
enum farm_provider_outcome {
	FARM_PO_OK = 0,
	FARM_PO_REFUSED,     /* the platform refused the stored credential  -> 502 */
	FARM_PO_NOTFOUND,    /*                                             -> 404 */
	FARM_PO_CONFLICT,    /* operation in progress, not buildable ...     -> 409 */
	FARM_PO_RATELIMIT,   /*                                 -> 429 + Retry-After */
	FARM_PO_INVALID,     /* the platform's validation error -> 400 + its message */
	FARM_PO_FAILED,      /* 5xx or an unexpected status                 -> 502 */
	FARM_PO_GARBAGE,     /* not JSON, not the expected shape, a redirect -> 502 */
	FARM_PO_UNREACHABLE, /* refused, reset, DNS, TLS                    -> 502 */
	FARM_PO_TIMEOUT,     /* connect or total timeout                    -> 504 */
	FARM_PO_TOOBIG,      /* answer over upstream.max_body                -> 502 */
	FARM_PO_DENIED,      /* address refused by the upstream policy      -> 502 */
	FARM_PO_NOURL,       /* the credential has no usable base URL       -> 502 */
};

/* What farm answers when a call did not succeed. */
struct farm_provider_error {
	int code;              /* FARM_E_* (answered through farm_req_fail); 0: none */
	int status;            /* its HTTP status (farm_err_http_status); 0 while nothing failed */
	char msg[320];         /* safe to show and to log */
	char retry_after[64];  /* for 429: the platform's Retry-After, or "" */
};

struct farm_provider_call;

/* A platform's upstream: the first member of its descriptor (platform.h). */
struct farm_provider {
	const char *type;      /* credential type, the folder's name: lib/platform/<type>/ */
	const char *title;     /* for messages: the platform's own spelling */
	const char *api_root;  /* appended to the base URL ("/api/v2"), or "" */
	int url_required;      /* the base URL comes only from the credential's url */
	/* Sets up to 4 request header lines ("Name: value", allocated in c->arena) that
	 * authenticate as the credential `value`.  Returns the count, or <0. */
	int (*auth)(struct farm_provider_call *c, json_t *value, const char **hdr);
	/* Copies the platform's own message from an error answer into out ("" if none).
	 * json is the parsed body or NULL. */
	void (*message)(const char *body, size_t len, json_t *json, char *out, size_t cap);
};


/* A platform call: the caller fills the first block; the rest is the call's. */
struct farm_provider_call {
	const struct farm_provider *p;
	struct farm_httpc *http;     /* borrowed: the calling thread's client */
	struct farm_arena *arena;    /* borrowed: the request's arena (wiped at its end) */
	struct farm_cache *cache;    /* borrowed; NULL: no caching */
	long cache_ttl_ms;           /* 0: no caching */
	long timeout_s;              /* upstream.timeout, for waits and messages */
	const char *conf_base;       /* the configured "<type>.api_url", or NULL */
	const char *cred_id;         /* the credential's id (cache tag) */
	const char *cred_version;    /* changes whenever its value changes (cache key) */
	/* Decrypts the credential's value on first need (a cache hit needs none).
	 * *value is new (freed by farm_provider_call_done). */
	int (*open_value)(void *arg, json_t **value);
	void *open_arg;
	const char *reqid;           /* request id for log lines */

	json_t *value;               /* the decrypted value, once opened */
	struct farm_provider_error err;
	const char *cache_state;     /* "hit", "miss", "bypass" or NULL (no cache) */
	unsigned upstream_calls;     /* exchanges made by this call */
	int uncacheable;             /* an answer was not a 200: do not keep the result */
	int in_read;                 /* inside farm_provider_read (it caches the answer) */
};

/* Releases what the call holds (the decrypted value).  NULL-safe. */
void farm_provider_call_done(struct farm_provider_call *c);

/* ---- for the platform files ----------------------------------------------------- */

/* One exchange as a platform file sees it.  Release with farm_provider_resp_clear. */
struct farm_provider_resp {
	int outcome;            /* FARM_PO_*, from the status or the transport */
	long status;            /* HTTP status, 0 when none */
	char *body;             /* raw answer (owned), len bytes */
	size_t len;
	json_t *json;           /* the body parsed as JSON, or NULL (owned) */
	char message[256];      /* the platform's error message, sanitised and redacted */
	char retry_after[64];
	char location[2048];
	char link[2048];        /* the Link header (rel="next" pagination), or "" */
	char cookies[1024];     /* session cookies (a secret: only for a follow-up call) */
	char detail[FARM_HTTPC_ERRLEN]; /* libcurl's explanation of a transport failure */
};
void farm_provider_resp_clear(struct farm_provider_resp *r);

/* Sends `method path` (path relative to the API root, query included, already
 * encoded) with the credential's authentication, extra header lines (may be NULL),
 * and an optional body of type ctype.  Never cached.  FARM_OK when r holds an
 * outcome (which may be a failure); an internal error sets c->err (500). */
int farm_provider_send(struct farm_provider_call *c, const char *method, const char *path,
		       const char *const *hdrs, size_t nhdrs, const char *ctype, const void *body,
		       size_t len, struct farm_provider_resp *r);

/* GET path expecting 2xx and JSON.  *out is new.  Called outside
 * farm_provider_read, the upstream answer itself goes through the cache (with
 * collapsed misses, like a read).  On failure
 * c->err is set (via farm_provider_fail) and FARM_E_UPSTREAM returned.
 * `what` names the object for a 404 ("job 'a/b'").  Flags: */
#define FARM_PROVIDER_FORBIDDEN_IS_NOTFOUND 1u /* 403 means "no such object" */
int farm_provider_get_json(struct farm_provider_call *c, const char *path, const char *what,
			   unsigned flags, json_t **out);

/* A read: fills *out (new) with farm's answer, or sets c->err. */
typedef int (*farm_provider_read_fn)(struct farm_provider_call *c, const void *arg,
				     json_t **out);

/* Runs a read through the shared cache (when c->cache and c->cache_ttl_ms are set):
 * farm's answer as compact JSON text in *text (new, malloc; free with free()), len
 * bytes.  `key` names the read and every input that shapes its upstream requests
 * ("<type>.builds 20 platform/api"); with the credential's id and version, the
 * platform and its configured base it is the cache key.  Concurrent identical misses
 * in the whole pool run fn once; only results built from 200 answers are kept for
 * c->cache_ttl_ms.  c->cache_state tells what happened. */
int farm_provider_read(struct farm_provider_call *c, const char *key, farm_provider_read_fn fn,
		       const void *arg, char **text, size_t *len);

/* THE mapping: fills c->err from an outcome (and the answer r, may be NULL), logs
 * the failure without any secret, and returns FARM_E_UPSTREAM (FARM_OK for
 * FARM_PO_OK).  `what` as above, may be NULL. */
int farm_provider_fail(struct farm_provider_call *c, int outcome,
		       const struct farm_provider_resp *r, const char *what);

/* An input error of the caller (400) in c->err; returns FARM_E_INVAL. */
int farm_provider_bad_input(struct farm_provider_call *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* farm's own refusal of an operation the platform was not asked (a run with nothing to
 * cancel: FARM_E_CONFLICT; no log yet: FARM_E_NOTFOUND) in c->err, with the status
 * of `code`; returns code. */
int farm_provider_refuse(struct farm_provider_call *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Out of memory (500) in c->err; returns FARM_E_NOMEM. */
int farm_provider_nomem(struct farm_provider_call *c);

/* The decrypted credential value (opened on first use); NULL with c->err set. */
json_t *farm_provider_value(struct farm_provider_call *c);

/* Percent-encodes s for one path segment or query value (everything but
 * A-Z a-z 0-9 - . _ ~).  Allocated in the arena; NULL when out of memory. */
char *farm_provider_pct(struct farm_arena *a, const char *s);

/* Copies a platform message into out: control characters and invalid UTF-8
 * replaced, spaces collapsed, cut to cap-1 bytes on a character boundary. */
void farm_provider_sanitize(const char *in, size_t len, char *out, size_t cap);

/* Replaces every occurrence of the secret strings of `value` (all string members
 * except "url" and "username") in msg by "[redacted]", in place (cap bytes): each
 * secret raw, its base64 (standard, unpadded, URL-safe) and the base64 of
 * "<username>:<secret>" (an echoed HTTP Basic header). */
void farm_provider_redact(char *msg, size_t cap, json_t *value);

#endif
