/* farm-fcgi-providers.c - /api/v1/<type>/...: every platform's API rows (their
 * descriptors' route tables, lib/platform/platform.h) answered by ONE handler,
 * proxied with the caller's org credential.
 *
 * farm_h_platform: parse the optional JSON body, run the row's input check, pick the
 * credential (the org's most recently updated one of the type, or ?credentialId=),
 * set up a platform call (lib/platform/provider.h) with this thread's HTTP client and
 * the pool's shared cache, run the row's operation, answer its result or the mapped
 * error.  LIST rows answer [] when the org has no credential of the type; every
 * other row answers 404 naming the missing type.  Writes (every row but GET) are
 * never cached and drop the credential's cache entries.
 */
#include "farm-fcgi.h"
#include "farm-fcgi-pcall.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "clock.h"
#include "creds.h"
#include "httpc.h"
#include "keys.h"
#include "log.h"
#include "platform.h"
#include "provider.h"
#include "watch.h"
#include "banned.h"

/* ---- set-up (master, before the workers) ------------------------------------------ */

int farm_providers_init(struct farm_app *app)
{
	if (farm_httpc_global_init() != FARM_OK) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "cannot initialise libcurl");
		return FARM_E_IO;
	}
	/* Mapped even with cache.ttl = 0, so a reload can turn caching on: untouched
	 * pages of an anonymous shared mapping cost no memory. */
	if (farm_cache_new(&app->cache, (size_t)app->conf.cache_size) != FARM_OK) {
		farm_log(FARM_LOG_WARN, NULL, 0, "cannot map the %ld-byte platform cache: running "
						 "without it", app->conf.cache_size);
		app->cache = NULL;
	}
	return FARM_OK;
}

const char *farm_fcgi_platform_api_url(const struct farm_app *app, const struct farm_platform *pl)
{
	char key[64];
	const char *v;

	snprintf(key, sizeof(key), "%s.api_url", pl->up.type);
	v = farm_conf_str(&app->conf, key);
	return v && *v ? v : NULL;
}

/* ---- this thread's HTTP client ------------------------------------------------------ */

static pthread_key_t http_key;
static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static void http_free(void *h)
{
	farm_httpc_free(h); /* at the accepting thread's exit */
}

static void http_key_init(void)
{
	pthread_key_create(&http_key, http_free);
}

struct farm_httpc *farm_providers_http(struct farm_req *r)
{
	struct farm_thr *t = r->thr;
	struct farm_app *app = r->app;
	struct farm_httpc_opts o = {
		.connect_timeout_ms = app->conf.upstream_connect_timeout * 1000,
		.timeout_ms = app->conf.upstream_timeout * 1000,
		.max_body = (size_t)app->conf.upstream_max_body,
		.allow_loopback = app->conf.upstream_allow_loopback,
		.ca_file = app->conf.upstream_ca_file,
	};
	struct farm_httpc *h = t->http;

	if (!h) {
		pthread_once(&http_once, http_key_init);
		if (farm_httpc_new(&h, &o) != FARM_OK)
			return NULL;
		t->http = h;
		pthread_setspecific(http_key, h);
	} else {
		farm_httpc_set_opts(h, &o);
	}
	return h;
}

/* ---- the credential ------------------------------------------------------------------ */

struct pick {
	const char *org, *type, *id; /* id: ?credentialId= or NULL */
	json_t *best;
	int notfound;
};

static int pick_txn(struct farm_txn *t, void *arg)
{
	struct pick *p = arg;

	json_decref(p->best); /* a deadlock retry starts over */
	p->best = NULL;
	return farm_creds_pick(t, p->org, p->type, p->id, &p->best, &p->notfound);
}

static int open_value(void *arg, json_t **value)
{
	struct farm_pcall_opener *o = arg;

	return farm_keys_open_cred(o->app->keyring, &o->app->conf, o->app->store, o->rec, value);
}


void farm_pcall_end(struct farm_pcall *pc)
{
	farm_provider_call_done(&pc->c);
	json_decref(pc->rec);
	pc->rec = NULL;
}

static int providers_begin(struct farm_req *r, const char *type, const char *org,
			   const char *want, struct farm_provider_call *c, json_t **rec_out,
			   void *opener_mem)
{
	struct farm_app *app = r->app;
	const struct farm_platform *pl = farm_platform_find(type);
	const struct farm_provider *p = pl ? &pl->up : NULL;
	struct pick pk = {org, type, NULL, NULL, 0};
	struct farm_pcall_opener *o = opener_mem;
	const char *sealed, *upd;
	int rc;

	*rec_out = NULL;
	memset(c, 0, sizeof(*c));
	if (!p) {
		farm_req_fail(r, FARM_E_CONFIG, "unknown platform");
		return FARM_PCALL_ANSWERED;
	}
	if (want) {
		size_t n = strlen(want);
		if (!n || n > 64 ||
		    strspn(want, "0123456789abcdefABCDEF-") != n) {
			farm_req_fail(r, FARM_E_INVAL, "credentialId must be a credential id");
			return FARM_PCALL_ANSWERED;
		}
		pk.id = want;
	}
	rc = farm_store_run(app->store, pick_txn, &pk);
	if (rc != FARM_OK) {
		json_decref(pk.best);
		farm_req_store_fail(r, rc);
		return FARM_PCALL_ANSWERED;
	}
	if (pk.notfound) {
		farm_req_fail(r, FARM_E_NOTFOUND, "Credential %s not found", want);
		return FARM_PCALL_ANSWERED;
	}
	if (!pk.best)
		return FARM_PCALL_NONE;
	if (want && strcmp(json_string_value(json_object_get(pk.best, "type")), type)) {
		farm_req_fail(r, FARM_E_INVAL, "Credential %s is a %s credential, not %s", want,
			      json_string_value(json_object_get(pk.best, "type")), type);
		json_decref(pk.best);
		return FARM_PCALL_ANSWERED;
	}
	sealed = json_string_value(json_object_get(pk.best, "sealed"));
	upd = json_string_value(json_object_get(pk.best, "updatedAt"));
	o->app = app;
	o->rec = pk.best;
	c->p = p;
	c->http = farm_providers_http(r);
	c->arena = r->arena;
	c->cache = app->cache;
	c->cache_ttl_ms = app->conf.cache_ttl * 1000;
	c->timeout_s = app->conf.upstream_timeout;
	c->conf_base = farm_fcgi_platform_api_url(app, pl);
	c->cred_id = json_string_value(json_object_get(pk.best, "id"));
	/* updatedAt plus the envelope's head (version and random nonce: public, and new
	 * at every write) names this exact value without decrypting it. */
	c->cred_version = farm_arena_printf(r->arena, "%s:%.28s", upd ? upd : "",
					    sealed ? sealed : "");
	c->open_value = open_value;
	c->open_arg = o;
	c->reqid = r->id;
	if (!c->http || !c->cred_id || !c->cred_version) {
		json_decref(pk.best);
		farm_req_fail(r, FARM_E_NOMEM, "cannot set up the %s call", p->title);
		return FARM_PCALL_ANSWERED;
	}
	*rec_out = pk.best;
	return FARM_PCALL_OK;
}

int farm_pcall_begin(struct farm_req *r, const char *type, struct farm_pcall *pc)
{
	return providers_begin(r, type, farm_req_org(r), farm_req_query(r, "credentialId"),
			       &pc->c, &pc->rec, &pc->opener);
}

int farm_pcall_begin_cred(struct farm_req *r, const char *type, const char *org,
			  const char *cred_id, struct farm_pcall *pc)
{
	int b = providers_begin(r, type, org, cred_id, &pc->c, &pc->rec, &pc->opener);

	pc->c.cache = NULL; /* what the platform says now */
	pc->c.cache_ttl_ms = 0;
	return b;
}

static int no_credential(struct farm_req *r, const char *type)
{
	return farm_req_fail(r, FARM_E_NOTFOUND, "No %s credential configured for this organization",
			     type);
}

int farm_pcall_answer(struct farm_req *r, struct farm_pcall *pc, int rc, int status, json_t *result)
{
	struct farm_provider_call *c = &pc->c;

	if (c->cache && c->cache_state)
		farm_req_header(r, "X-Farm-Cache", c->cache_state);
	if (rc == FARM_OK && result) {
		farm_pcall_end(pc);
		return farm_req_json(r, status, result);
	}
	json_decref(result);
	if (c->err.status == 429 && c->err.retry_after[0]) {
		char *ra = farm_arena_strdup(r->arena, c->err.retry_after);
		if (ra)
			farm_req_header(r, "Retry-After", ra);
	}
	if (c->err.code)
		farm_req_fail(r, c->err.code, "%s", c->err.msg);
	else
		farm_req_fail(r, FARM_E_CONFIG, "%s call failed", c->p ? c->p->title : "platform");
	farm_pcall_end(pc);
	return r->status;
}

/* A write went to the platform: whatever it answered, cached reads may be stale. */
static void written(struct farm_req *r, struct farm_pcall *pc)
{
	struct farm_app *app = r->app;

	if (app->cache && pc->c.cred_id)
		farm_cache_invalidate(app->cache, pc->c.cred_id);
}

/* An optional JSON object body: NULL when empty; 1 when an error was answered. */
static int optional_body(struct farm_req *r, json_t **out)
{
	*out = NULL;
	if (farm_req_body_json(r, 1))
		return 1;
	*out = json_incref(r->in);
	return 0;
}

static const char *query_of(void *r, const char *name)
{
	return farm_req_query(r, name);
}

/* Answers a read's JSON text (already compact JSON from the cache or the platform),
 * or text of another media type (ctype, e.g. a log). */
static int answer_text(struct farm_req *r, struct farm_pcall *pc, char *text, size_t len,
		       const char *ctype)
{
	char *copy = farm_arena_alloc(r->arena, len + 1);

	if (pc->c.cache_state)
		farm_req_header(r, "X-Farm-Cache", pc->c.cache_state);
	if (copy) {
		memcpy(copy, text, len + 1);
		r->text = copy;
		r->text_len = len;
		r->content_type = ctype ? ctype : "application/json; charset=utf-8";
		r->status = 200;
	}
	free(text);
	farm_pcall_end(pc);
	return copy ? 200 : farm_req_fail(r, FARM_E_NOMEM, "out of memory");
}

struct watch_io {
	const char *type, *org, *cred_id;
	json_t *runs;
	long long now_ms;
};

static int watch_txn(struct farm_txn *t, void *arg)
{
	struct watch_io *w = arg;
	size_t i;
	json_t *v;
	int rc;

	json_array_foreach(w->runs, i, v)
		if ((rc = farm_watch_add(t, w->type, w->org, w->cred_id, json_string_value(v),
					 w->now_ms)) != FARM_OK && rc != FARM_E_INVAL &&
		    rc != FARM_E_TOOBIG)
			return rc;
	return FARM_OK;
}

/* 1 when runs of pl seen through pc are watched: pl has a poll hook, or pc's
 * credential asks for polling ("poll": true) and pl can read a run (runs.get). */
int farm_watch_wanted(const struct farm_platform *pl, struct farm_pcall *pc)
{
	json_t *v;

	if (pl->poll)
		return 1;
	if (!farm_platform_poll_optin(pl))
		return 0;
	v = pc->c.value ? pc->c.value : farm_provider_value(&pc->c);
	return farm_creds_wants_poll(v);
}

/* Runs the call triggered or saw unfinished are watched by farm-runner's poller
 * (watch.h); a failure to record them is logged, the answer stands. */
void farm_fcgi_watch_runs(struct farm_req *r, const struct farm_platform *pl,
			  struct farm_pcall *pc, json_t *runs)
{
	struct farm_app *app = r->app;
	struct watch_io w = {pl->up.type, farm_req_org(r), pc->c.cred_id, runs, farm_clock_ms()};
	int rc;

	if (!json_array_size(runs) || !farm_watch_wanted(pl, pc))
		return;
	if ((rc = farm_store_run(app->store, watch_txn, &w)) != FARM_OK)
		farm_log(FARM_LOG_WARN, r->id, 0, "%s: cannot watch %zu run(s): %s", pl->up.type,
			 json_array_size(runs), farm_strerror(rc));
}

/* The audit action word of an admin row (platforms.md §5): from the path's last
 * segment, the platform's own verb mapped onto the five words ("/applications/:name/
 * sync" is sync, ".../stop" and ".../terminate" are cancel), else trigger
 * ("/jobs/:name/build" starts a run). */
static const char *row_action(const struct farm_platform_route *rt)
{
	static const struct {
		const char *segment, *word;
	} words[] = {
		{"trigger", "trigger"}, {"sync", "sync"},	  {"restart", "restart"},
		{"rerun", "rerun"},	{"retry", "rerun"},	  {"rebuild", "rerun"},
		{"cancel", "cancel"},	{"stop", "cancel"},	  {"terminate", "cancel"},
		{"abort", "cancel"},
	};
	const char *last = strrchr(rt->path, '/');

	last = last ? last + 1 : rt->path;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(last, words[i].segment))
			return words[i].word;
	return "trigger";
}

/* The audit target of a row: its path parameters, joined by '/' ("job", "gh/o/r"). */
static const char *row_target(struct farm_req *r)
{
	char *t = NULL;

	for (size_t i = 0; i < r->nparams; i++)
		t = t ? farm_arena_printf(r->arena, "%s/%s", t, r->params[i])
		      : farm_arena_strdup(r->arena, r->params[i]);
	return t;
}

int farm_h_platform(struct farm_req *r)
{
	const struct farm_fcgi_platform_row *row = farm_routes_platform_row(r->route);
	const struct farm_platform *pl = row->platform;
	const struct farm_platform_route *rt = row->route;
	struct farm_platform_in in = {r->params, r->nparams, query_of, r, NULL};
	struct farm_platform_out o = {0};
	struct farm_pcall pc;
	uint64_t audit_id = 0;
	char why[256];
	int b, rc;

	if ((rt->flags & FARM_PLATFORM_JSON) && optional_body(r, &in.body))
		return r->status;
	if (rt->check && rt->check(&in, why, sizeof(why))) {
		json_decref(in.body);
		return farm_req_fail(r, FARM_E_INVAL, "%s", why);
	}
	b = farm_pcall_begin(r, pl->up.type, &pc);
	if (b != FARM_PCALL_OK) {
		json_decref(in.body);
		if (b == FARM_PCALL_NONE)
			return (rt->flags & FARM_PLATFORM_LIST) ? farm_req_json(r, 200, json_array())
								 : no_credential(r, pl->up.type);
		return r->status;
	}
	/* An admin row changes something upstream: its audit record is durable before the
	 * call (status pending), and says how it ended after (lib/audit/audit.h). */
	if ((rt->flags & FARM_PLATFORM_ADMIN) &&
	    farm_fcgi_audit_begin(r, row_action(rt), pl->up.type, row_target(r), pc.c.cred_id,
				  &audit_id) != FARM_OK) {
		json_decref(in.body);
		farm_pcall_end(&pc);
		return r->status;
	}
	rc = rt->run(&pc.c, &in, &o);
	json_decref(in.body);
	farm_fcgi_audit_end(r, audit_id, rc);
	if (strcmp(rt->method, "GET") && pc.c.upstream_calls)
		written(r, &pc);
	if (rc == FARM_OK && o.log)
		farm_log(FARM_LOG_INFO, r->id, 0, "%s", o.log);
	if (rc == FARM_OK)
		farm_fcgi_watch_runs(r, pl, &pc, o.watch);
	json_decref(o.watch);
	if (rc == FARM_OK && o.text)
		return answer_text(r, &pc, o.text, o.len, o.ctype);
	free(o.text);
	return farm_pcall_answer(r, &pc, rc, o.status ? o.status : 200, o.json);
}
