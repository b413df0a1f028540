/* platform.h - a platform is one module (platforms.md §1, style.md 21).
 *
 * Like nginx's ngx_module_t, struct farm_platform holds everything farm knows of one
 * CI/CD platform: its credential type and fields, how it authenticates upstream and
 * where its error message is (struct farm_provider, provider.h), its config keys, its
 * API route rows and their operations, its webhook (verification, payload -> event,
 * redelivery key), its status words and how its runs are named.  Each platform is the
 * folder lib/platform/<type>/ holding all of its code and its descriptor; one
 * registry (registry.c) lists the descriptors.  Generic code — credential
 * validation, the route table and the one platform handler, the webhook receiver,
 * the docs' tables — walks the registry and never names a platform.
 */
#ifndef FARM_PLATFORM_H
#define FARM_PLATFORM_H

#include <jansson.h>
#include <stddef.h>

#include "conf.h"
#include "creds.h"
#include "err.h"
#include "provider.h"

/* ---- API routes ------------------------------------------------------------------ */

/* Route row flags. */
#define FARM_PLATFORM_AUTH 1u  /* a valid JWT (every platform route) */
#define FARM_PLATFORM_ADMIN 2u /* ... with the admin role: triggers and actions */
#define FARM_PLATFORM_JSON 4u  /* an optional JSON object body (parsed before the call) */
#define FARM_PLATFORM_LIST 8u  /* no credential: [] (else 404 naming the type) */
#define FARM_PLATFORM_TRIGGER 16u /* starts a run (GET /platforms: "trigger") */

/* What a route's operation sees of the request. */
struct farm_platform_in {
	const char *const *params; /* the row's :params, decoded */
	size_t nparams;
	const char *(*query)(void *arg, const char *name); /* ?name=, decoded; NULL if absent */
	void *qarg;
	json_t *body; /* FARM_PLATFORM_JSON: the body object, or NULL when empty (borrowed) */
};

/* What an operation answers on success. */
struct farm_platform_out {
	int status;  /* 200 unless set: 201, 202 */
	json_t *json; /* the answer (new), or */
	char *text;   /* the answer as JSON text (malloc, from farm_provider_read), len bytes */
	size_t len;
	const char *ctype; /* text's media type when it is not JSON ("text/plain; ..."), or NULL */
	const char *log; /* an info line for the log (arena; no secret), or NULL */
	/* Runs to watch until they end (new array of run ids, or NULL): the platform has
	 * a poll hook and this call triggered them or saw them queued or running.  The
	 * handler records them for farm-runner's poller (watch.h). */
	json_t *watch;
};

struct farm_platform_route {
	const char *method;
	const char *path; /* under /api/v1/<type>: "/jobs/:name/builds" */
	unsigned flags;
	/* Optional: checks the request before any credential is looked at; returns 0, or
	 * nonzero with a 400 message in why. */
	int (*check)(const struct farm_platform_in *in, char *why, size_t cap);
	/* The call: FARM_OK with o filled, or an error with c->err saying what to answer. */
	int (*run)(struct farm_provider_call *c, const struct farm_platform_in *in,
		   struct farm_platform_out *o);
};

/* A read through the shared cache (farm_provider_read) into o->text; `key` names
 * the read and its inputs (NULL: out of memory). */
int farm_platform_read(struct farm_provider_call *c, const char *key, farm_provider_read_fn fn,
		       const void *arg, struct farm_platform_out *o);

/* ?name= as a whole number within lo..hi (def when absent) into *out; 0, or nonzero
 * with the 400 message in why. */
int farm_platform_number(const struct farm_platform_in *in, const char *name, long def, long lo,
			 long hi, long *out, char *why, size_t cap);

/* ---- helpers the platform modules share ------------------------------------------ */

/* An auth hook's header (struct farm_provider's auth): the credential value's string
 * member `field` put into `fmt`, a header line with exactly one "%s" ("Circle-Token:
 * %s"), written to hdr[0] in c's arena.  1, or -1 when the member is missing, holds CR
 * or LF, or fmt has no "%s" (nothing is sent). */
int farm_platform_token_auth(struct farm_provider_call *c, json_t *value, const char *field,
			     const char *fmt, const char **hdr);

/* POST path with the JSON text of req (compact) as its body: takes ownership of req.
 * FARM_OK with *r filled (clear it with farm_provider_resp_clear), or an error with
 * c->err set; a NULL path or what (an arena string that ran out of memory) or a
 * failed encoding is FARM_E_NOMEM through farm_provider_nomem, before any call. */
int farm_platform_post_json(struct farm_provider_call *c, const char *path, const char *what,
			    json_t *req, struct farm_provider_resp *r);

/* A message hook (struct farm_provider's message) for platforms whose error answers
 * carry the message as the JSON member "message": it into out, "" when absent. */
void farm_platform_message(const char *body, size_t len, json_t *json, char *out, size_t cap);

/* 1 when the n bytes at s are one path name (an owner, project or repository): 1..100
 * of [A-Za-z0-9._-], not "." or ".."; else 0. */
int farm_platform_name_ok(const char *s, size_t n);

/* 1 when s (NUL-terminated, or NULL) is two such names joined by one '/': "owner/name"
 * (a repository slug, a project path); else 0. */
int farm_platform_pair_ok(const char *s);

/* 1 when v is a JSON string of 1..max bytes without control characters (and no NUL,
 * so valid as one C string); else 0. */
int farm_platform_text_ok(json_t *v, size_t max);

/* ---- webhooks -------------------------------------------------------------------- */

struct farm_txn;
struct farm_httpc;

/* One delivery to POST /webhooks/<type>[/:credentialId], as the one receiver
 * (fcgi/farm-fcgi/farm-fcgi-webhooks.c) hands it to the platform. */
struct farm_platform_delivery {
	const char *body; /* raw body, len bytes */
	size_t len;
	const char *(*header)(void *arg, const char *cgi_name); /* CGI name: "HTTP_X_FARM_TOKEN" */
	const char *(*query)(void *arg, const char *name);
	const char *(*conf)(void *arg, const char *key); /* a string config key's value */
	void *arg;
	/* The shared secret: the credential's webhookSecret on /:credentialId, else the
	 * value of the descriptor's conf_secret key; NULL when there is none. */
	const char *secret;
	const char *cred_id; /* NULL on the bare path */
	json_t *value;       /* the credential's value (borrowed), NULL on the bare path */
	/* For platforms whose deliveries are signed with a key their API publishes
	 * (fetch_key/verify_key below): verifies `sig` over n bytes with the key of API
	 * `api`, through the receiver's key cache.  FARM_OK, FARM_E_AUTH, FARM_E_UNAVAIL. */
	int (*verify_with_key)(void *arg, const char *api, const void *signed_bytes, size_t n,
			       const char *sig);
};

struct farm_platform_webhook {
	/* Config key of the bare path's shared secret ("webhook.<type>.secret"), or NULL. */
	const char *conf_secret;
	/* Verifies: FARM_OK; FARM_E_AUTH (401; why is logged, never answered);
	 * FARM_E_UNAVAIL (no key to be had: 401 on a credential's path, else 503); other
	 * errors 500.  *payload (new, malloc) is what was signed when it is not the raw
	 * body (a form field), else NULL; map() reads it. */
	int (*verify)(const struct farm_platform_delivery *d, char **payload, size_t *plen,
		      char *why, size_t cap);
	/* The verified payload -> the event's normalised fields (new) and the redelivery
	 * key (new, malloc; NULL with observe).  FARM_OK; FARM_E_NOTFOUND: nothing to
	 * report (200 ignored); FARM_E_INVAL / FARM_E_TOOBIG with perr; FARM_E_NOMEM. */
	int (*map)(const void *payload, size_t len, json_t **fields, char **key,
		   struct farm_error *perr);
	/* Key-published signatures: GET the key from the API `api` through h (*pem new),
	 * and verify with one.  NULL for shared-secret platforms. */
	int (*fetch_key)(struct farm_httpc *h, struct farm_arena *a, const char *api, char **pem,
			 char *why, size_t cap);
	int (*verify_key)(const char *pem, const char *sig, const void *payload, size_t plen);
	/* Optional: the delivery is an observation of a run shared with the poller (an
	 * event only when it changed, *emitted), in the receiver's transaction, instead of
	 * an event deduplicated by key. */
	int (*observe)(struct farm_txn *t, const char *org, const char *cred_id, json_t *fields,
		       const char *now, int *emitted);
	/* 1: a delivery only names a run (map's fields hold its "buildId"); the receiver
	 * reads the run through the descriptor's poll.read with the credential and stores
	 * it as the observation the poller shares (watch.h): one event per change. */
	int reads_run;
};

/* Any presented token (?token= when `query_too`, X-Farm-Token, the Basic password)
 * equal to d->secret (constant time): FARM_OK or FARM_E_AUTH. */
int farm_platform_token_verify(const struct farm_platform_delivery *d, int query_too);

/* The key URL of an API base: http(s) only, no query, fragment or user info,
 * trailing '/' dropped, scheme and host lower-cased, the path kept (two APIs on one
 * host are two keys).  *out in the arena.  FARM_E_INVAL, FARM_E_NOMEM. */
int farm_platform_key_url(struct farm_arena *a, const char *api, char **out);

/* ---- deployments: catalog links, the CI/CD tab, polling ---------------------------- */

struct farm_conf;

/* A platform whose objects a catalog component may be linked to (the component's
 * deployment: platforms.md §1).  A link is (platform, target), stored in the catalog
 * record as {"<field>": "<target>"}, which is also the PATCH body. */
struct farm_platform_deploy {
	const char *field; /* the record's and the PATCH body's member: "<type>App" */
	const char *object; /* what a target names, for messages: "an <X> application" */
	/* 1 when target names a valid object; else 0 and a reason in why. */
	int (*target_ok)(const char *target, char *why, size_t cap);
	/* Reads the target through c (cached or not, as c is set up) and reduces it to the
	 * CI/CD tab's view (*out new; its "status" is farm's normalised status).  FARM_OK,
	 * or an error with c->err saying what to answer. */
	int (*view)(struct farm_provider_call *c, const char *target, json_t **out);
	/* Optional polling (farm-runner): seconds between rounds, 0 = off. */
	long (*poll_interval)(const struct farm_conf *conf);
	/* Inside a transaction: records the view of target in org and appends an event
	 * only when it changed since the last observation (by a poll or a delivery);
	 * *emitted is 1 when it did.  `source` is "poll" or "webhook". */
	int (*observe)(struct farm_txn *t, const char *org, const char *cred_id,
		       const char *target, json_t *view, const char *source, const char *now,
		       int *emitted);
};

/* ---- runs watched until they end (farm-runner's poller, platforms.md §4) ---------- */

/* A platform whose runs do not all arrive by webhook: farm-runner reads every watched
 * run (one farm triggered, or a list or a delivery showed queued or running) every
 * poll.interval seconds until its status is final, and stores each read as the run's
 * observation shared with the webhook receiver (watch.h): one event per change. */
struct farm_platform_poll {
	/* Reads run `run_id` through c (never cached) and maps it to the event's fields
	 * (new; lib/events/event.h: provider, project, name, buildId, number, status,
	 * providerStatus, branch, commitSha, url, startedAt, finishedAt).  FARM_OK, or an
	 * error with c->err saying what happened (404: the run is gone). */
	int (*read)(struct farm_provider_call *c, const char *run_id, json_t **fields);
	/* Config key of the reads a minute one credential may spend on polling, or NULL. */
	const char *rate_key;
};

/* ---- runs: one vocabulary across platforms (platforms.md §5) ---------------------- */

/* The hooks behind /api/v1/runs/<type>/:runId (fcgi/farm-fcgi/farm-fcgi-runs.c).
 * `run_id` is farm's name of one run on the platform (the descriptor's run_id says its
 * form; the same string as the events' buildId), already percent-decoded.  A run
 * object is the event's data (lib/events/event.h: provider, project, name, buildId,
 * number, status, providerStatus, branch, commitSha, url, startedAt, finishedAt), built
 * with the same builders as the webhook mapping; the handler adds orgId and
 * credentialId.  A NULL hook is an operation the platform lacks: 405 naming the
 * platform (log: 404 saying so).  Every hook but parse returns FARM_OK, or an error
 * with c->err saying what to answer. */
struct farm_platform_runs {
	/* Required: 0 when run_id names a run of this platform, else nonzero with the 400
	 * message in why.  Runs before any credential is looked at or upstream call made. */
	int (*parse)(const char *run_id, char *why, size_t cap);
	/* Reads the run live (the caller runs it inside farm_provider_read, so it is
	 * cached like every platform read).  *run new. */
	int (*get)(struct farm_provider_call *c, const char *run_id, json_t **run);
	/* Starts the run again; *run (new) is the new run, its buildId the new runId, or
	 * buildId null when the platform has not started it yet (then 202, not 201). */
	int (*rerun)(struct farm_provider_call *c, const char *run_id, json_t **run);
	/* Asks the platform to stop the run (202). */
	int (*cancel)(struct farm_provider_call *c, const char *run_id);
	/* The run's log as text, at most cap bytes of it: *text new (malloc), *len bytes,
	 * *truncated 1 when the platform had more. */
	int (*log)(struct farm_provider_call *c, const char *run_id, size_t cap, char **text,
		   size_t *len, int *truncated);
};

/* ---- the descriptor -------------------------------------------------------------- */

/* A config key a platform adds (platforms.md §1): "<type>.api_url", "webhook.<type>.secret".
 * farm_platform_conf_register adds every descriptor's rows to the configuration
 * table; generic code reads them by name (farm_conf_str, farm_conf_num). */
struct farm_platform_conf {
	const char *key;
	const char *def;
	int secret;
	const char *doc;
	enum farm_conf_type type; /* FARM_CONF_STR unless set: URL for an API base, ... */
	long min, max;            /* bounds of an INT or SIZE key */
};

/* A platform status word and farm's normalised status (providers.md §9.2), read by
 * farm_event_status (lib/events/event.h). */
struct farm_platform_status {
	const char *kind;   /* which field the word comes from ("workflow", "job", ...) */
	const char *word;   /* compared without case; a leading '*' matches any prefix */
	const char *status; /* queued running success failed canceled error unstable unknown */
};

struct farm_platform {
	struct farm_provider up;                 /* type, title, API root, auth, message */
	const struct farm_cred_field *fields;    /* credential value fields, {NULL} ends */
	const struct farm_platform_conf *conf;   /* config keys, {NULL} ends */
	const struct farm_platform_route *routes; /* API rows, {NULL} ends */
	const struct farm_platform_webhook *webhook; /* NULL: none at /webhooks/<type> */
	const struct farm_platform_status *statuses; /* {NULL} ends */
	const char *run_id; /* how a run is named (platforms.md §5): "job#number" */
	const struct farm_platform_deploy *deploy; /* NULL: not a deployment target */
	const struct farm_platform_poll *poll;     /* NULL: runs are watched only for a
						    * credential asking for it (runs.get) */
	const struct farm_platform_runs *runs;     /* NULL: no /runs/<type> operations */
};

/* The registry (registry.c), in its fixed order; NULL-terminated. */
extern const struct farm_platform *const farm_platforms[];

/* By credential type; NULL when unknown. */
const struct farm_platform *farm_platform_find(const char *type);

/* Registers every descriptor's config keys (farm_conf_register), in registry order:
 * once at start-up, before the configuration is loaded, by every program that loads
 * it.  FARM_OK, FARM_E_EXISTS (a key declared twice, differently), FARM_E_NOMEM. */
int farm_platform_conf_register(void);

/* 1 when a credential of pl may ask for polling (value field "poll": true,
 * lib/creds/creds.h FARM_CREDS_POLL): pl can read one run (runs.get).  The runs of
 * such a credential are watched like a poll hook's (watch.h), read through runs.get
 * when pl has no poll hook. */
int farm_platform_poll_optin(const struct farm_platform *pl);

/* The platform catalog components are linked to (the first with a deploy hook), or
 * NULL when none has one. */
const struct farm_platform *farm_platform_deployer(void);

/* Capabilities of GET /platforms, derived from the descriptor, never listed by hand:
 * list (a FARM_PLATFORM_LIST row), get, rerun, cancel, log (runs hooks), trigger (a
 * FARM_PLATFORM_TRIGGER row), webhook (a webhook), poll (a deploy poller or watched runs). */
enum {
	FARM_PLATFORM_CAN_LIST = 1u << 0,
	FARM_PLATFORM_CAN_GET = 1u << 1,
	FARM_PLATFORM_CAN_TRIGGER = 1u << 2,
	FARM_PLATFORM_CAN_RERUN = 1u << 3,
	FARM_PLATFORM_CAN_CANCEL = 1u << 4,
	FARM_PLATFORM_CAN_LOG = 1u << 5,
	FARM_PLATFORM_CAN_WEBHOOK = 1u << 6,
	FARM_PLATFORM_CAN_POLL = 1u << 7,
};
/* The capability names, in bit order; NULL-terminated. */
extern const char *const farm_platform_capability_names[];
unsigned farm_platform_capabilities(const struct farm_platform *pl);

/* "a, b, c" of every type, for messages ("type must be one of: ..."). */
const char *farm_platform_types(void);

#endif
