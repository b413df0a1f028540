/* farm-fcgi-providers.c - /api/v1/{argocd,circleci,jenkins,travisci}/...: the
 * platform endpoints of seed 000, proxied with the caller's org credential.
 *
 * Each handler: pick the credential (the org's most recently updated one of the
 * type, or ?credentialId=), set up a platform call (lib/platform/provider.h) with this
 * thread's HTTP client and the pool's shared cache, run the operation, answer its
 * result or the mapped error.  Lists answer [] when the org has no credential of
 * the type; everything else answers 404 naming the missing type.  Writes (sync,
 * trigger, build, restart) are never cached and drop the credential's cache entries.
 */
#include "farm-fcgi.h"
#include "farm-fcgi-pcall.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "creds.h"
#include "httpc.h"
#include "keys.h"
#include "log.h"
#include "provider.h"
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

static int providers_begin(struct farm_req *r, const char *type,
				struct farm_provider_call *c, json_t **rec_out, void *opener_mem)
{
	struct farm_app *app = r->app;
	const struct farm_provider *p = farm_provider_find(type);
	const char *want = farm_req_query(r, "credentialId");
	struct pick pk = {farm_req_org(r), type, NULL, NULL, 0};
	struct farm_pcall_opener *o = opener_mem;
	const char *sealed, *upd;
	int rc;

	*rec_out = NULL;
	memset(c, 0, sizeof(*c));
	if (!p) {
		farm_req_error(r, 500, "unknown platform");
		return FARM_PCALL_ANSWERED;
	}
	if (want) {
		size_t n = strlen(want);
		if (!n || n > 64 ||
		    strspn(want, "0123456789abcdefABCDEF-") != n) {
			farm_req_error(r, 400, "credentialId must be a credential id");
			return FARM_PCALL_ANSWERED;
		}
		pk.id = want;
	}
	rc = farm_store_run(app->store, pick_txn, &pk);
	if (rc != FARM_OK) {
		json_decref(pk.best);
		farm_log(FARM_LOG_ERROR, r->id, 0, "store: %s", farm_strerror(rc));
		farm_req_error(r, 503, "storage unavailable");
		return FARM_PCALL_ANSWERED;
	}
	if (pk.notfound) {
		farm_req_error(r, 404, "Credential %s not found", want);
		return FARM_PCALL_ANSWERED;
	}
	if (!pk.best)
		return FARM_PCALL_NONE;
	if (want && strcmp(json_string_value(json_object_get(pk.best, "type")), type)) {
		farm_req_error(r, 400, "Credential %s is a %s credential, not %s", want,
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
	c->conf_base = !strcmp(type, "circleci")   ? app->conf.circleci_api_url
		       : !strcmp(type, "travisci") ? app->conf.travisci_api_url
						   : NULL;
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
		farm_req_error(r, 500, "cannot set up the %s call", p->title);
		return FARM_PCALL_ANSWERED;
	}
	*rec_out = pk.best;
	return FARM_PCALL_OK;
}

int farm_pcall_begin(struct farm_req *r, const char *type, struct farm_pcall *pc)
{
	return providers_begin(r, type, &pc->c, &pc->rec, &pc->opener);
}

static int no_credential(struct farm_req *r, const char *type)
{
	return farm_req_error(r, 404, "No %s credential configured for this organization", type);
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
	if (c->err.status)
		farm_req_error(r, c->err.status, "%s", c->err.msg);
	else
		farm_req_error(r, 500, "%s call failed", c->p ? c->p->title : "platform");
	farm_pcall_end(pc);
	return r->status;
}

/* The reads, as farm_provider_read wants them. */
struct read_in {
	const char *s;
	long n1, n2;
};

static int rd_argocd_list(struct farm_provider_call *c, const void *a, json_t **out)
{
	(void)a;
	return farm_provider_argocd_list(c, out);
}

static int rd_argocd_get(struct farm_provider_call *c, const void *a, json_t **out)
{
	return farm_provider_argocd_get(c, ((const struct read_in *)a)->s, out);
}

static int rd_circleci_pipelines(struct farm_provider_call *c, const void *a, json_t **out)
{
	return farm_provider_circleci_pipelines(c, ((const struct read_in *)a)->s, out);
}

static int rd_jenkins_jobs(struct farm_provider_call *c, const void *a, json_t **out)
{
	(void)a;
	return farm_provider_jenkins_jobs(c, out);
}

static int rd_jenkins_builds(struct farm_provider_call *c, const void *a, json_t **out)
{
	const struct read_in *in = a;

	return farm_provider_jenkins_builds(c, in->s, in->n1, out);
}

static int rd_travisci_builds(struct farm_provider_call *c, const void *a, json_t **out)
{
	const struct read_in *in = a;

	return farm_provider_travisci_builds(c, in->s, in->n1, in->n2, out);
}

/* Runs a read through the cache and answers 200 with its JSON text, or the error. */
static int answer_read(struct farm_req *r, struct farm_pcall *pc, const char *key,
		       farm_provider_read_fn fn, const struct read_in *in)
{
	char *text = NULL, *copy;
	size_t len = 0;
	int rc;

	if (!key) {
		farm_pcall_end(pc);
		return farm_req_error(r, 500, "out of memory");
	}
	rc = farm_provider_read(&pc->c, key, fn, in, &text, &len);
	if (rc != FARM_OK)
		return farm_pcall_answer(r, pc, rc, 0, NULL);
	if (pc->c.cache_state)
		farm_req_header(r, "X-Farm-Cache", pc->c.cache_state);
	copy = farm_arena_alloc(r->arena, len + 1);
	if (copy) {
		memcpy(copy, text, len + 1);
		r->text = copy;
		r->text_len = len;
		r->content_type = "application/json; charset=utf-8";
		r->status = 200;
	}
	free(text);
	farm_pcall_end(pc);
	return copy ? 200 : farm_req_error(r, 500, "out of memory");
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

/* ?name=<digits> within lo..hi, default def; -1 when an error was answered. */
static long number_param(struct farm_req *r, const char *name, long def, long lo, long hi)
{
	const char *v = farm_req_query(r, name);
	char *end;
	long n;

	if (!v)
		return def;
	n = strtol(v, &end, 10);
	if (!*v || *end || strspn(v, "0123456789") != strlen(v) || strlen(v) > 10 || n < lo ||
	    n > hi) {
		farm_req_error(r, 400, "%s must be a whole number within %ld..%ld", name, lo, hi);
		return -1;
	}
	return n;
}

/* ---- Argo CD ----------------------------------------------------------------------- */

int farm_h_argocd_apps(struct farm_req *r)
{
	struct farm_pcall pc;
	int b = farm_pcall_begin(r, "argocd", &pc);

	if (b == FARM_PCALL_NONE)
		return farm_req_json(r, 200, json_array());
	if (b != FARM_PCALL_OK)
		return r->status;
	return answer_read(r, &pc, "argocd.applications", rd_argocd_list, NULL);
}

int farm_h_argocd_app(struct farm_req *r)
{
	struct farm_pcall pc;
	struct read_in in = {0};
	int b = farm_pcall_begin(r, "argocd", &pc);

	if (b == FARM_PCALL_NONE)
		return no_credential(r, "argocd");
	if (b != FARM_PCALL_OK)
		return r->status;
	in.s = r->params[0];
	return answer_read(r, &pc, farm_arena_printf(r->arena, "argocd.application %s", in.s),
			   rd_argocd_get, &in);
}

int farm_h_argocd_sync(struct farm_req *r)
{
	struct farm_pcall pc;
	json_t *out = NULL, *in = NULL;
	int b, rc;

	if (optional_body(r, &in))
		return r->status;
	b = farm_pcall_begin(r, "argocd", &pc);
	if (b != FARM_PCALL_OK) {
		json_decref(in);
		return b == FARM_PCALL_NONE ? no_credential(r, "argocd") : r->status;
	}
	rc = farm_provider_argocd_sync(&pc.c, r->params[0], in, &out);
	json_decref(in);
	if (pc.c.upstream_calls)
		written(r, &pc);
	if (rc == FARM_OK)
		farm_log(FARM_LOG_INFO, r->id, 0, "argocd: sync of %s requested", r->params[0]);
	return farm_pcall_answer(r, &pc, rc, 200, out);
}

/* ---- CircleCI ------------------------------------------------------------------------ */

int farm_h_circleci_pipelines(struct farm_req *r)
{
	struct farm_pcall pc;
	struct read_in in = {0};
	const char *vcs = farm_req_query(r, "vcsUrl");
	int b = farm_pcall_begin(r, "circleci", &pc);

	if (b == FARM_PCALL_NONE)
		return farm_req_json(r, 200, json_array());
	if (b != FARM_PCALL_OK)
		return r->status;
	in.s = vcs;
	return answer_read(r, &pc, farm_arena_printf(r->arena, "circleci.pipelines %s",
						     vcs ? vcs : ""),
			   rd_circleci_pipelines, &in);
}

int farm_h_circleci_trigger(struct farm_req *r)
{
	struct farm_pcall pc;
	json_t *out = NULL, *in = NULL;
	int b, rc;

	if (optional_body(r, &in))
		return r->status;
	b = farm_pcall_begin(r, "circleci", &pc);
	if (b != FARM_PCALL_OK) {
		json_decref(in);
		return b == FARM_PCALL_NONE ? no_credential(r, "circleci") : r->status;
	}
	rc = farm_provider_circleci_trigger(&pc.c, r->params[0], in, &out);
	json_decref(in);
	if (pc.c.upstream_calls)
		written(r, &pc);
	if (rc == FARM_OK)
		farm_log(FARM_LOG_INFO, r->id, 0, "circleci: pipeline triggered on %s", r->params[0]);
	return farm_pcall_answer(r, &pc, rc, 201, out);
}

/* ---- Jenkins ------------------------------------------------------------------------- */

int farm_h_jenkins_jobs(struct farm_req *r)
{
	struct farm_pcall pc;
	int b = farm_pcall_begin(r, "jenkins", &pc);

	if (b == FARM_PCALL_NONE)
		return farm_req_json(r, 200, json_array());
	if (b != FARM_PCALL_OK)
		return r->status;
	return answer_read(r, &pc, "jenkins.jobs", rd_jenkins_jobs, NULL);
}

int farm_h_jenkins_builds(struct farm_req *r)
{
	struct farm_pcall pc;
	struct read_in in = {0};
	long limit = number_param(r, "limit", 20, 1, 100);
	int b;

	if (limit < 0)
		return r->status;
	b = farm_pcall_begin(r, "jenkins", &pc);
	if (b == FARM_PCALL_NONE)
		return farm_req_json(r, 200, json_array());
	if (b != FARM_PCALL_OK)
		return r->status;
	in.s = r->params[0];
	in.n1 = limit;
	return answer_read(r, &pc,
			   farm_arena_printf(r->arena, "jenkins.builds %ld %s", limit, in.s),
			   rd_jenkins_builds, &in);
}

int farm_h_jenkins_build(struct farm_req *r)
{
	struct farm_pcall pc;
	json_t *out = NULL, *in = NULL, *params;
	const char *k;
	json_t *v;
	int b, rc;

	if (optional_body(r, &in))
		return r->status;
	json_object_foreach(in, k, v)
	{
		if (strcmp(k, "parameters")) {
			farm_req_error(r, 400, "property %.100s should not exist", k);
			json_decref(in);
			return r->status;
		}
	}
	params = json_object_get(in, "parameters");
	if (params && !json_is_object(params)) {
		json_decref(in);
		return farm_req_error(r, 400, "parameters must be an object");
	}
	b = farm_pcall_begin(r, "jenkins", &pc);
	if (b != FARM_PCALL_OK) {
		json_decref(in);
		return b == FARM_PCALL_NONE ? no_credential(r, "jenkins") : r->status;
	}
	rc = farm_provider_jenkins_build(&pc.c, r->params[0], params, &out);
	json_decref(in);
	if (pc.c.upstream_calls)
		written(r, &pc);
	if (rc == FARM_OK)
		farm_log(FARM_LOG_INFO, r->id, 0, "jenkins: build of %s queued", r->params[0]);
	return farm_pcall_answer(r, &pc, rc, 201, out);
}

/* ---- Travis CI ------------------------------------------------------------------------ */

int farm_h_travisci_builds(struct farm_req *r)
{
	struct farm_pcall pc;
	struct read_in in = {0};
	const char *slug = farm_req_query(r, "repoSlug");
	long limit = number_param(r, "limit", 25, 1, 100), offset;
	int b;

	if (limit < 0 || (offset = number_param(r, "offset", 0, 0, 1000000000L)) < 0)
		return r->status;
	b = farm_pcall_begin(r, "travisci", &pc);
	if (b == FARM_PCALL_NONE)
		return farm_req_json(r, 200, json_array());
	if (b != FARM_PCALL_OK)
		return r->status;
	in.s = slug;
	in.n1 = limit;
	in.n2 = offset;
	return answer_read(r, &pc,
			   farm_arena_printf(r->arena, "travisci.builds %ld %ld %s", limit, offset,
					     slug ? slug : ""),
			   rd_travisci_builds, &in);
}

int farm_h_travisci_restart(struct farm_req *r)
{
	struct farm_pcall pc;
	json_t *out = NULL;
	int b, rc;
	size_t n = strlen(r->params[0]);

	if (!n || n > 18 || strspn(r->params[0], "0123456789") != n)
		return farm_req_error(r, 400, "build id must be a number");
	b = farm_pcall_begin(r, "travisci", &pc);
	if (b == FARM_PCALL_NONE)
		return no_credential(r, "travisci");
	if (b != FARM_PCALL_OK)
		return r->status;
	rc = farm_provider_travisci_restart(&pc.c, r->params[0], &out);
	if (pc.c.upstream_calls)
		written(r, &pc);
	if (rc == FARM_OK)
		farm_log(FARM_LOG_INFO, r->id, 0, "travisci: restart of build %s requested",
			 r->params[0]);
	return farm_pcall_answer(r, &pc, rc, 202, out);
}
