/* provider.h - the CI/CD platforms farm proxies: one interface, one file per platform
 * (provider-argocd.c, provider-circleci.c, provider-jenkins.c, provider-travis.c),
 * and the one place where an upstream outcome becomes farm's HTTP answer
 * (farm_provider_fail).
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
	int status;            /* HTTP status; 0 while nothing failed */
	char msg[320];         /* safe to show and to log */
	char retry_after[64];  /* for 429: the platform's Retry-After, or "" */
};

struct farm_provider_call;

/* One platform.  The four instances are below. */
struct farm_provider {
	const char *type;      /* credential type: "argocd", "circleci", "jenkins", "travisci" */
	const char *title;     /* for messages: "Argo CD" */
	const char *api_root;  /* appended to the base URL: "/api/v2" for CircleCI */
	int url_required;      /* the base URL comes only from the credential's url */
	/* Sets up to 4 request header lines ("Name: value", allocated in c->arena) that
	 * authenticate as the credential `value`.  Returns the count, or <0. */
	int (*auth)(struct farm_provider_call *c, json_t *value, const char **hdr);
	/* Copies the platform's own message from an error answer into out ("" if none).
	 * json is the parsed body or NULL. */
	void (*message)(const char *body, size_t len, json_t *json, char *out, size_t cap);
};

extern const struct farm_provider farm_provider_argocd, farm_provider_circleci,
	farm_provider_jenkins, farm_provider_travisci;

/* A platform call: the caller fills the first block; the rest is the call's. */
struct farm_provider_call {
	const struct farm_provider *p;
	struct farm_httpc *http;     /* borrowed: the calling thread's client */
	struct farm_arena *arena;    /* borrowed: the request's arena (wiped at its end) */
	struct farm_cache *cache;    /* borrowed; NULL: no caching */
	long cache_ttl_ms;           /* 0: no caching */
	long timeout_s;              /* upstream.timeout, for waits and messages */
	const char *conf_base;       /* circleci.api_url / travisci.api_url; else NULL */
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

/* Looks a platform up by credential type; NULL when unknown. */
const struct farm_provider *farm_provider_find(const char *type);

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
#define FARM_PROVIDER_FORBIDDEN_IS_NOTFOUND 1u /* 403 means "no such object" (Argo CD) */
int farm_provider_get_json(struct farm_provider_call *c, const char *path, const char *what,
			   unsigned flags, json_t **out);

/* A read: fills *out (new) with farm's answer, or sets c->err. */
typedef int (*farm_provider_read_fn)(struct farm_provider_call *c, const void *arg,
				     json_t **out);

/* Runs a read through the shared cache (when c->cache and c->cache_ttl_ms are set):
 * farm's answer as compact JSON text in *text (new, malloc; free with free()), len
 * bytes.  `key` names the read and every input that shapes its upstream requests
 * ("jenkins.builds 20 platform/api"); with the credential's id and version, the
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

/* ---- the operations (one file per platform) ------------------------------------- */

/* Argo CD (provider-argocd.c) */
int farm_provider_argocd_list(struct farm_provider_call *c, json_t **out);
int farm_provider_argocd_get(struct farm_provider_call *c, const char *name, json_t **out);
/* body: the caller's JSON object (borrowed; may be NULL): revision, prune, dryRun,
 * strategy, resources, syncOptions. */
int farm_provider_argocd_sync(struct farm_provider_call *c, const char *name, json_t *body,
			      json_t **out);
/* 1 when name is a valid Argo CD application (Kubernetes object) name; else 0 and
 * a reason in why. */
int farm_provider_argocd_name_ok(const char *name, char *why, size_t cap);

/* CircleCI (provider-circleci.c) */
int farm_provider_circleci_pipelines(struct farm_provider_call *c, const char *vcs_url,
				     json_t **out);
int farm_provider_circleci_trigger(struct farm_provider_call *c, const char *slug, json_t *body,
				   json_t **out);
/* GitHub/Bitbucket repository URL -> "gh/org/repo" / "bb/org/repo" in out; 0 when the
 * URL is not one of theirs. */
int farm_provider_circleci_slug_of(const char *vcs_url, char *out, size_t cap);
int farm_provider_circleci_slug_ok(const char *slug, char *why, size_t cap);
#define FARM_CIRCLECI_MAX_PAGES 5

/* Jenkins (provider-jenkins.c) */
int farm_provider_jenkins_jobs(struct farm_provider_call *c, json_t **out);
int farm_provider_jenkins_builds(struct farm_provider_call *c, const char *name, long limit,
				 json_t **out);
/* params: an object of scalars (borrowed) -> buildWithParameters; NULL -> build. */
int farm_provider_jenkins_build(struct farm_provider_call *c, const char *name, json_t *params,
				json_t **out);
/* "a/b" -> "job/a/job/b" with each segment percent-encoded (arena); NULL and a
 * reason in why when the name is not acceptable. */
char *farm_provider_jenkins_job_path(struct farm_arena *a, const char *name, char *why,
				     size_t cap);
#define FARM_JENKINS_FOLDER_DEPTH 4 /* folder levels expanded in the job list */

/* Travis CI (provider-travis.c) */
int farm_provider_travisci_builds(struct farm_provider_call *c, const char *repo_slug,
				  long limit, long offset, json_t **out);
int farm_provider_travisci_restart(struct farm_provider_call *c, const char *id, json_t **out);
int farm_provider_travisci_slug_ok(const char *slug, char *why, size_t cap);
/* The Travis API base `api` as the key of its webhook signing key: http(s) only, no
 * query, fragment or user info, trailing '/' dropped, scheme and host lower-cased, the
 * path kept (two APIs on one host are two keys).  *out in the arena.  FARM_E_INVAL. */
int farm_provider_travisci_key_url(struct farm_arena *a, const char *api, char **out);
/* GET <api>/config through h (its address policy, CA file, size cap, timeouts, the
 * gate's hand-over) -> the webhook public key, checked to parse.  *pem new (free).
 * FARM_OK; FARM_E_TIMEOUT, FARM_E_FORBIDDEN (address policy), FARM_E_UPSTREAM (not 200,
 * transport), FARM_E_TOOBIG, FARM_E_INVAL (no usable key, bad URL), FARM_E_NOMEM; `why`
 * gets a reason fit for a log line (no secret: the answer's text is never quoted). */
int farm_provider_travisci_fetch_key(struct farm_httpc *h, struct farm_arena *a,
				     const char *api, char **pem, char *why, size_t cap);

#endif
