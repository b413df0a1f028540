/* farm-fcgi-webhooks.c - POST /api/v1/webhooks/<type>[/:credentialId]: the one
 * receiver of every platform descriptor with a webhook (lib/platform/platform.h).
 *
 * A delivery is verified by its platform's hook before anything is stored, mapped by
 * its platform to the normalised event fields (lib/events/event.h), then in ONE
 * transaction its dedupe key is checked and written and the event is appended to the
 * durable outbox (or, for a platform that observes runs, the observation it shares
 * with the poller is updated); 200 is answered only after that commit.
 * farm-eventd is then nudged over ZeroMQ (PUSH, never blocking: a lost nudge only
 * delays the event until eventd's next poll).  No network I/O on this path, except a
 * fetch of the public key a platform's API publishes (a key-signed platform) when none
 * is cached, through httpc (its address policy), at most once per KEY_REFETCH_MS per
 * API for the whole pool (then kept in FARM_T_META, so later deliveries read it from
 * the database).
 *
 *   bare paths         instance secrets from the config, events without org
 *   /:credentialId     that credential's value.webhookSecret (key-signed platforms: the
 *                      key of its API), events carry the credential's org and id
 * Not verified, unknown credential, credential of another platform, a key that
 * cannot be had → 401, nothing stored; they look alike on purpose.
 */
#include "farm-fcgi.h"
#include "farm-fcgi-pcall.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "clock.h"
#include "creds.h"
#include "event.h"
#include "events.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "provider.h"
#include "platform.h"
#include "watch.h"
#include "webhook.h"
#include "banned.h"


/* What one delivery resolved to: where its secret comes from and whom it belongs to. */
struct hook {
	struct farm_req *r;
	const struct farm_platform *pl;
	const char *cred_id;     /* NULL on the bare path */
	char *org;               /* the credential's org (arena), NULL for none */
	json_t *value;           /* the credential's decrypted value, or NULL */
};

static int unauthorized(struct farm_req *r, const char *why)
{
	/* Why is logged (never the secret or the body); the sender learns only 401. */
	farm_log(FARM_LOG_INFO, r->id, 0, "webhook refused: %s", why);
	return farm_req_fail(r, FARM_E_AUTH, "webhook not verified");
}

/* --- the credential of a /:credentialId path --------------------------------------- */

struct cred_get {
	const char *id;
	void *val;
	size_t vlen;
};

static int cred_get_txn(struct farm_txn *t, void *arg)
{
	struct cred_get *g = arg;

	free(g->val);
	g->val = NULL;
	return farm_txn_get(t, FARM_T_CREDS, g->id, strlen(g->id), &g->val, &g->vlen, 0);
}

int farm_fcgi_hook_cred(struct farm_req *r, const char *cred_id, const char *type,
			json_t **value, char **org)
{
	struct farm_app *app = r->app;
	struct cred_get g = {cred_id, NULL, 0};
	json_t *rec = NULL, *jorg;
	int rc;

	*value = NULL;
	*org = NULL;
	rc = farm_store_run(app->store, cred_get_txn, &g);
	if (rc != FARM_OK)
		goto out;
	rec = json_loadb(g.val, g.vlen, 0, NULL);
	rc = FARM_E_NOTFOUND;
	if (!rec || !json_is_string(json_object_get(rec, "type")) ||
	    strcmp(json_string_value(json_object_get(rec, "type")), type) != 0)
		goto out;
	jorg = json_object_get(rec, "orgId");
	if (json_is_string(jorg) &&
	    !(*org = farm_arena_strdup(r->arena, json_string_value(jorg)))) {
		rc = FARM_E_NOMEM;
		goto out;
	}
	if (farm_keys_open_cred(app->keyring, &app->conf, app->store, rec, value) != FARM_OK) {
		farm_log(FARM_LOG_WARN, r->id, 0, "credential %s does not open", cred_id);
		goto out;
	}
	rc = FARM_OK;
out:
	json_decref(rec);
	free(g.val);
	return rc;
}

/* The credential's webhookSecret (borrowed from h->value), or NULL. */
static const char *hook_cred_secret(const struct hook *h)
{
	const char *s = json_string_value(json_object_get(h->value, "webhookSecret"));

	return s && *s ? s : NULL;
}

/* Resolves h from the path.  Returns 0 to go on, or the status already answered. */
static int hook_begin(struct hook *h, struct farm_req *r, const struct farm_platform *pl)
{
	int rc;

	memset(h, 0, sizeof(*h));
	h->r = r;
	h->pl = pl;
	if (r->nparams == 0)
		return 0;
	h->cred_id = r->params[0];
	rc = farm_fcgi_hook_cred(r, h->cred_id, pl->up.type, &h->value, &h->org);
	if (rc == FARM_E_NOTFOUND)
		return unauthorized(r, "no such credential for this platform");
	if (rc != FARM_OK)
		return farm_req_store_fail(r, rc);
	return 0;
}

static void hook_end(struct hook *h)
{
	json_decref(h->value); /* Jansson's allocator wipes the secret (farm_json_init) */
	h->value = NULL;
}

/* --- nudging farm-eventd ------------------------------------------------------------ */

static void *zmq_ctx;
static pthread_once_t zmq_once = PTHREAD_ONCE_INIT;

static void zmq_ctx_make(void)
{
	zmq_ctx = zmq_ctx_new();
}

/* Never blocks: ZMQ_DONTWAIT drops the nudge when the small queue (ZMQ_SNDHWM) is full,
 * as it is while eventd is away; eventd polls the outbox anyway.  Not ZMQ_IMMEDIATE:
 * the first nudge of a thread, sent while its connection is still being made, must
 * wait for it rather than be dropped (it would cost the event up to a poll period). */
/* This process's view of the wake word (events.h), opened on first use; while it
 * cannot be opened, every commit nudges (and another open is tried a second later). */
static struct farm_events_wake *wake_word(const struct farm_app *app)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct farm_events_wake *_Atomic word;
	static time_t next_try;
	struct farm_events_wake *w = atomic_load(&word);

	if (w)
		return w;
	pthread_mutex_lock(&mu);
	if (!(w = atomic_load(&word)) && time(NULL) >= next_try) {
		if (farm_events_wake_open(app->conf.state_dir, &w) == FARM_OK)
			atomic_store(&word, w);
		else
			next_try = time(NULL) + 1;
	}
	pthread_mutex_unlock(&mu);
	return w;
}

void farm_fcgi_nudge_eventd(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct farm_thr *t = r->thr;
	int hwm = 16, zero = 0;

	if (!app->conf.events_push || !*app->conf.events_push || !t)
		return;
	if (!farm_events_wake_claim(wake_word(app)))
		return; /* eventd is awake and will look at the outbox again */
	if (!t->zmq_push) {
		pthread_once(&zmq_once, zmq_ctx_make);
		if (!zmq_ctx || !(t->zmq_push = zmq_socket(zmq_ctx, ZMQ_PUSH)))
			return;
		zmq_setsockopt(t->zmq_push, ZMQ_SNDHWM, &hwm, sizeof(hwm));
		zmq_setsockopt(t->zmq_push, ZMQ_LINGER, &zero, sizeof(zero));
		if (zmq_connect(t->zmq_push, app->conf.events_push) != 0) {
			farm_log(FARM_LOG_WARN, r->id, zmq_errno(), "events.push %s",
				 app->conf.events_push);
			zmq_close(t->zmq_push);
			t->zmq_push = NULL;
			return;
		}
	}
	if (zmq_send(t->zmq_push, "1", 1, ZMQ_DONTWAIT) < 0 && zmq_errno() != EAGAIN)
		farm_log(FARM_LOG_DEBUG, r->id, zmq_errno(), "nudge to farm-eventd");
}

/* --- storing: dedupe + outbox in one transaction ------------------------------------ */

struct put_event {
	const char *dedupe;
	const char *json;
	size_t jlen;
	long long received_ms;
	int duplicate;
};

static int put_event_txn(struct farm_txn *t, void *arg)
{
	struct put_event *p = arg;
	unsigned char when[8];
	int rc;

	p->duplicate = 0;
	farm_events_key((uint64_t)p->received_ms, when);
	rc = farm_txn_put(t, FARM_T_DEDUPE, p->dedupe, strlen(p->dedupe), NULL, when,
			  sizeof(when), 1);
	if (rc == FARM_E_EXISTS) {
		p->duplicate = 1; /* seen before: commit nothing new */
		return FARM_OK;
	}
	if (rc != FARM_OK)
		return rc;
	return farm_txn_outbox_append(t, p->json, p->jlen);
}

/* The event in the contract's member order, id left for eventd. */
static json_t *event_build(const struct hook *h, json_t *fields, const char *received)
{
	json_t *data = json_object(), *ev;
	const char *k;
	json_t *v;
	int bad = !data;

	bad |= json_object_set_new(data, "id", json_null());
	bad |= json_object_set(data, "provider", json_object_get(fields, "provider"));
	bad |= json_object_set_new(data, "orgId", h->org ? json_string(h->org) : json_null());
	bad |= json_object_set_new(data, "credentialId",
				   h->cred_id ? json_string(h->cred_id) : json_null());
	json_object_foreach(fields, k, v)
		if (strcmp(k, "provider") != 0)
			bad |= json_object_set(data, k, v);
	bad |= json_object_set_new(data, "receivedAt", json_string(received));
	if (bad) {
		json_decref(data);
		return NULL;
	}
	ev = json_pack("{s:s,s:o}", "event", FARM_EVENT_BUILD_UPDATED, "data", data);
	return ev;
}

struct observe_io {
	const struct hook *h;
	json_t *fields;
	const char *now;
	int emitted;
};

static int observe_txn(struct farm_txn *t, void *arg)
{
	struct observe_io *o = arg;

	if (!o->h->pl->webhook->observe) /* a credential that asks for polling */
		return farm_watch_observe(t, o->h->pl->up.type, o->h->org, o->h->cred_id,
					  o->fields, o->now, farm_clock_ms(), &o->emitted);
	return o->h->pl->webhook->observe(t, o->h->org, o->h->cred_id, o->fields, o->now,
					  &o->emitted);
}

/* 1 when the delivery's run is stored as its observation, shared with the watcher
 * (watch.h): the path's credential asks for polling ("poll": true) on a platform
 * that has no observation of its own, and the delivery names the run and its status. */
static int hook_polled(const struct hook *h, json_t *fields)
{
	return h->cred_id && !h->pl->webhook->observe && farm_platform_poll_optin(h->pl) &&
	       farm_creds_wants_poll(h->value) &&
	       json_is_string(json_object_get(fields, "buildId")) &&
	       json_is_string(json_object_get(fields, "status"));
}

/* Stores what the verified payload says (an event, or an observation), answers.
 * Returns the status. */
static int hook_accept(struct hook *h, int parsed, json_t *fields, char *key,
		       struct farm_error *perr)
{
	struct farm_req *r = h->r;
	struct farm_app *app = r->app;
	struct put_event p = {0};
	struct observe_io o = {h, fields, NULL, 0};
	char received[FARM_EVENT_TS_LEN], *dkey = NULL, *json = NULL;
	json_t *ev = NULL;
	int rc, status;

	if (parsed == FARM_E_NOTFOUND) {
		status = farm_req_json(r, 200, json_pack("{s:b,s:b}", "received", 1, "ignored", 1));
		goto out;
	}
	if (parsed != FARM_OK) {
		status = farm_req_fail(r, parsed, "%s",
				       parsed == FARM_E_NOMEM ? "out of memory" : perr->msg);
		goto out;
	}
	p.received_ms = farm_clock_ms();
	farm_clock_iso(p.received_ms, received);
	if (h->pl->webhook->observe || hook_polled(h, fields)) {
		o.now = received;
		rc = farm_store_run(app->store, observe_txn, &o);
		if (rc != FARM_OK) {
			status = farm_req_store_fail(r, rc);
			goto out;
		}
		p.duplicate = !o.emitted;
		goto answer;
	}
	ev = event_build(h, fields, received);
	/* Deliveries are deduplicated per credential: two servers of one platform may both
	 * have a job "build" #5, and one org must never silence another's event. */
	dkey = key ? farm_arena_printf(r->arena, "%s|%s", h->cred_id ? h->cred_id : "-", key) : NULL;
	/* Capped and sized here, before anything is stored: what is acknowledged fits
	 * the history and is delivered (farm_event_dump, docs/events.md "Field caps"). */
	rc = ev && dkey ? farm_event_dump(ev, &json, &p.jlen) : FARM_E_NOMEM;
	if (rc != FARM_OK) {
		status = farm_req_fail(r, rc, "%s", rc == FARM_E_TOOBIG ? "the event would be too large"
									: "out of memory");
		goto out;
	}
	p.dedupe = dkey;
	p.json = json;
	rc = farm_store_run(app->store, put_event_txn, &p);
	if (rc != FARM_OK) {
		status = farm_req_store_fail(r, rc);
		goto out;
	}
answer:
	if (p.duplicate) {
		status = farm_req_json(r, 200, json_pack("{s:b,s:b}", "received", 1, "duplicate", 1));
		goto out;
	}
	status = farm_req_json(r, 200, json_pack("{s:b}", "received", 1));
	farm_fcgi_nudge_eventd(r);
out:
	farm_json_free(json);
	json_decref(ev);
	json_decref(fields);
	free(key);
	return status;
}

/* --- a delivery that names a run: farm reads it (webhook.reads_run) --------------- */

struct run_obs_io {
	const char *type, *org, *cred_id, *run;
	json_t *fields; /* NULL: the read failed; the run is only watched */
	const char *now;
	long long now_ms;
	int emitted;
};

static int run_obs_txn(struct farm_txn *t, void *arg)
{
	struct run_obs_io *o = arg;

	o->emitted = 0;
	if (!o->fields)
		return farm_watch_add(t, o->type, o->org, o->cred_id, o->run, o->now_ms);
	return farm_watch_observe(t, o->type, o->org, o->cred_id, o->fields, o->now,
				  o->now_ms, &o->emitted);
}

/* Reads the run `named` names with the path's credential (the bare path: the
 * org-less scope's most recently updated one) and stores it as the run's observation
 * (watch.h), shared with the poller.  A read that fails is answered with its mapped
 * error, and the run is watched (the poller tries again).  Returns the status. */
static int hook_read_run(struct hook *h, json_t *named)
{
	struct farm_req *r = h->r;
	struct farm_app *app = r->app;
	const struct farm_platform *pl = h->pl;
	const char *run = json_string_value(json_object_get(named, "buildId"));
	struct run_obs_io o = {pl->up.type, h->org, NULL, run, NULL, NULL, 0, 0};
	char received[FARM_EVENT_TS_LEN];
	struct farm_pcall pc;
	int b, rc, status;

	memset(&pc, 0, sizeof(pc));
	if (!run || !pl->poll || !pl->poll->read) {
		status = farm_req_fail(r, FARM_E_INTERNAL, "the delivery names no run");
		goto out;
	}
	b = farm_pcall_begin_cred(r, pl->up.type, h->org, h->cred_id, &pc);
	if (b == FARM_PCALL_NONE) {
		status = farm_req_fail(r, FARM_E_NOTFOUND, "No %s credential configured for "
							   "this organization", pl->up.type);
		goto out;
	}
	if (b != FARM_PCALL_OK) {
		status = r->status;
		goto out;
	}
	o.cred_id = pc.c.cred_id;
	rc = pl->poll->read(&pc.c, run, &o.fields);
	o.now_ms = farm_clock_ms();
	farm_clock_iso(o.now_ms, received);
	o.now = received;
	if ((b = farm_store_run(app->store, run_obs_txn, &o)) != FARM_OK && rc == FARM_OK) {
		status = farm_req_store_fail(r, b);
		farm_pcall_end(&pc);
		goto out;
	}
	if (rc != FARM_OK) {
		status = farm_pcall_answer(r, &pc, rc, 200, NULL);
		goto out;
	}
	farm_pcall_end(&pc);
	if (!o.emitted) {
		status = farm_req_json(r, 200, json_pack("{s:b,s:b}", "received", 1, "duplicate", 1));
		goto out;
	}
	status = farm_req_json(r, 200, json_pack("{s:b}", "received", 1));
	farm_fcgi_nudge_eventd(r);
out:
	json_decref(o.fields);
	json_decref(named);
	return status;
}

/* --- keys published by a platform's API (fetch_key/verify_key of its webhook) ---- */

/* A key fetched at most this often per API, for the whole pool. */
#define KEY_REFETCH_MS (10 * 1000)
/* Largest key answer read. */
#define KEY_ANSWER_MAX (256 * 1024)
/* The key fetch, whatever upstream.timeout says: the sender is waiting. */
#define KEY_FETCH_TIMEOUT 10L

/* "<type>.pubkey.<API URL>" (the cached key) or "<type>.keyfetch.<API URL>" (when the
 * last fetch was claimed): keyed by the whole API URL, so two APIs on one host (an
 * Enterprise path, another org's path) never share a key (issue 18 #2). */
static char *key_meta(struct hook *h, const char *what, const char *api)
{
	char *u;

	if (farm_platform_key_url(h->r->arena, api, &u) != FARM_OK)
		return NULL;
	return farm_arena_printf(h->r->arena, "%s.%s.%s", h->pl->up.type, what, u);
}

/* The platform's key fetch through this thread's httpc (issue 18 #1: the address
 * policy, CA file and caps of every platform call), with shorter timeouts and cap. */
static int key_fetch(struct hook *h, const char *api, char **pem)
{
	struct farm_req *r = h->r;
	struct farm_app *app = r->app;
	struct farm_httpc *c = farm_providers_http(r);
	struct farm_httpc_opts o = {
		.connect_timeout_ms = app->conf.upstream_connect_timeout * 1000,
		.timeout_ms = (app->conf.upstream_timeout < KEY_FETCH_TIMEOUT
				       ? app->conf.upstream_timeout
				       : KEY_FETCH_TIMEOUT) * 1000,
		.max_body = KEY_ANSWER_MAX,
		.allow_loopback = app->conf.upstream_allow_loopback,
		.ca_file = app->conf.upstream_ca_file,
	};
	char why[FARM_HTTPC_ERRLEN];
	int rc;

	*pem = NULL;
	if (!c)
		return FARM_E_NOMEM;
	farm_httpc_set_opts(c, &o); /* farm_providers_http restores the defaults */
	rc = h->pl->webhook->fetch_key(c, r->arena, api, pem, why, sizeof(why));
	if (rc != FARM_OK)
		farm_log(FARM_LOG_WARN, r->id, 0, "%s key of %s: %s", h->pl->up.title, api, why);
	return rc;
}

struct meta_io {
	const char *key;
	void *val;
	size_t vlen;
	const char *put; /* NULL: read */
};

static int meta_txn(struct farm_txn *t, void *arg)
{
	struct meta_io *m = arg;

	if (m->put)
		return farm_txn_put(t, FARM_T_META, m->key, strlen(m->key), NULL, m->put,
				    strlen(m->put), 0);
	free(m->val);
	m->val = NULL;
	return farm_txn_get(t, FARM_T_META, m->key, strlen(m->key), &m->val, &m->vlen, 0);
}

/* The cached key of an API host: *pem new (free), *fetched_ms when it was fetched. */
static int key_cached(struct farm_req *r, const char *ckey, char **pem,
			     long long *fetched_ms)
{
	struct farm_app *app = r->app;
	struct meta_io m = {ckey, NULL, 0, NULL};
	json_t *j;
	const char *s;
	int rc;

	*pem = NULL;
	*fetched_ms = 0;
	if ((rc = farm_store_run(app->store, meta_txn, &m)) != FARM_OK)
		return rc;
	j = json_loadb(m.val, m.vlen, 0, NULL);
	free(m.val);
	s = json_string_value(json_object_get(j, "pem"));
	rc = FARM_E_NOTFOUND;
	if (s && (*pem = strdup(s))) {
		*fetched_ms = (long long)json_integer_value(json_object_get(j, "fetchedAt"));
		rc = FARM_OK;
	}
	json_decref(j);
	return rc;
}

static int key_cache_put(struct farm_req *r, const char *ckey, const char *pem)
{
	struct farm_app *app = r->app;
	json_t *j = json_pack("{s:s,s:I}", "pem", pem, "fetchedAt", (json_int_t)farm_clock_ms());
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	struct meta_io m = {ckey, NULL, 0, s};
	int rc = s ? farm_store_run(app->store, meta_txn, &m) : FARM_E_NOMEM;

	farm_json_free(s);
	json_decref(j);
	return rc;
}

struct fetch_claim {
	const char *key;
	long long now;
	int claimed;
};

/* Claims the one fetch of a window: when no fetch of this API was claimed in the last
 * KEY_REFETCH_MS (pool-wide: the claim is in the database), records this one. */
static int fetch_claim_txn(struct farm_txn *t, void *arg)
{
	struct fetch_claim *c = arg;
	void *val = NULL;
	size_t vlen = 0;
	char at[32];
	int rc, n;

	c->claimed = 0;
	rc = farm_txn_get(t, FARM_T_META, c->key, strlen(c->key), &val, &vlen, 1);
	if (rc == FARM_OK) {
		long long last = 0;
		n = vlen < sizeof(at) ? (int)vlen : (int)sizeof(at) - 1;
		memcpy(at, val, (size_t)n);
		at[n] = '\0';
		free(val);
		last = strtoll(at, NULL, 10);
		if (last <= c->now && c->now - last < KEY_REFETCH_MS)
			return FARM_OK; /* fetched (or tried) lately, or a fetch is under way */
	} else if (rc != FARM_E_NOTFOUND) {
		return rc;
	}
	n = snprintf(at, sizeof(at), "%lld", c->now);
	rc = farm_txn_put(t, FARM_T_META, c->key, strlen(c->key), NULL, at, (size_t)n, 0);
	if (rc == FARM_OK)
		c->claimed = 1;
	return rc;
}

/* delivery.verify_with_key: verifies with the key the API `api` publishes: cached key
 * first; when none is cached (or the cached one fails and was fetched over
 * KEY_REFETCH_MS ago), fetch it, at most once per KEY_REFETCH_MS for each API in the
 * whole pool, never waiting for another thread's fetch: a delivery that finds the
 * fetch claimed is judged with what is cached.  FARM_OK, FARM_E_AUTH, FARM_E_UNAVAIL. */
static int key_verify(void *arg, const char *api, const void *payload, size_t plen,
		      const char *sig)
{
	struct hook *h = arg;
	struct farm_req *r = h->r;
	const struct farm_platform_webhook *wh = h->pl->webhook;
	char *ckey = key_meta(h, "pubkey", api), *pem = NULL, *fresh = NULL;
	struct fetch_claim claim = {key_meta(h, "keyfetch", api), farm_clock_ms(), 0};
	long long fetched = 0;
	int rc;

	if (!ckey || !claim.key || !wh->fetch_key || !wh->verify_key) {
		farm_log(FARM_LOG_WARN, r->id, 0, "%s API URL unusable for a key", h->pl->up.title);
		return FARM_E_UNAVAIL;
	}
	rc = key_cached(r, ckey, &pem, &fetched);
	if (rc == FARM_OK) {
		rc = wh->verify_key(pem, sig, payload, plen);
		if (rc == FARM_E_INVAL) { /* an unusable key cached by an older farm */
			free(pem);
			pem = NULL;
		} else if (rc != FARM_E_AUTH || farm_clock_ms() - fetched < KEY_REFETCH_MS) {
			goto out;
		}
	} else if (rc != FARM_E_NOTFOUND) {
		goto out;
	}
	rc = farm_store_run(((struct farm_app *)r->app)->store, fetch_claim_txn, &claim);
	if (rc != FARM_OK)
		goto out;
	if (!claim.claimed) {
		farm_log(FARM_LOG_INFO, r->id, 0, "%s key fetch of this API claimed lately",
			 h->pl->up.title);
		rc = pem ? FARM_E_AUTH : FARM_E_UNAVAIL;
		goto out;
	}
	if (key_fetch(h, api, &fresh) != FARM_OK) {
		/* A fetch that fails leaves a failed verification failed. */
		rc = pem ? FARM_E_AUTH : FARM_E_UNAVAIL;
		goto out;
	}
	/* Stored even when unchanged: fetchedAt restarts the refetch window. */
	if (key_cache_put(r, ckey, fresh) != FARM_OK)
		farm_log(FARM_LOG_WARN, r->id, 0, "cannot cache the key of %s", ckey);
	if (pem && strcmp(pem, fresh) == 0) {
		rc = FARM_E_AUTH; /* same key, same verdict */
		goto out;
	}
	rc = wh->verify_key(fresh, sig, payload, plen);
out:
	free(pem);
	free(fresh);
	return rc;
}

/* --- the receiver ------------------------------------------------------------------- */

static const char *d_header(void *arg, const char *name)
{
	return farm_req_env(((struct hook *)arg)->r, name);
}

static const char *d_query(void *arg, const char *name)
{
	return farm_req_query(((struct hook *)arg)->r, name);
}

static const char *d_conf(void *arg, const char *key)
{
	const struct farm_app *app = ((struct hook *)arg)->r->app;

	return farm_conf_str(&app->conf, key);
}

int farm_h_webhook(struct farm_req *r)
{
	const struct farm_fcgi_platform_row *row = farm_routes_platform_row(r->route);
	const struct farm_platform_webhook *wh = row->platform->webhook;
	struct farm_error perr = {0};
	struct farm_platform_delivery d = {0};
	struct hook h;
	json_t *fields = NULL;
	char *payload = NULL, *key = NULL, why[256] = "not verified";
	size_t plen = 0;
	int rc, vrc;

	if ((rc = hook_begin(&h, r, row->platform)) != 0)
		return rc;
	d.body = r->body;
	d.len = r->body_len;
	d.header = d_header;
	d.query = d_query;
	d.conf = d_conf;
	d.arg = &h;
	d.secret = h.cred_id ? hook_cred_secret(&h) : d_conf(&h, wh->conf_secret);
	d.cred_id = h.cred_id;
	d.value = h.value;
	d.verify_with_key = key_verify;
	vrc = wh->verify(&d, &payload, &plen, why, sizeof(why));
	/* On a credential's path a key that cannot be had answers like an unknown
	 * credential (401): the sender must not learn which ids exist (issue 18 #4). */
	if (vrc == FARM_E_AUTH || (vrc == FARM_E_UNAVAIL && h.cred_id)) {
		rc = unauthorized(r, why);
		goto out;
	}
	if (vrc == FARM_E_UNAVAIL) {
		farm_log(FARM_LOG_ERROR, r->id, 0, "webhook: %s", why);
		rc = farm_req_fail(r, FARM_E_UNAVAIL, "the %s public key is unavailable",
				   row->platform->up.title);
		goto out;
	}
	if (vrc != FARM_OK) {
		rc = farm_req_fail(r, vrc == FARM_E_NOMEM ? FARM_E_NOMEM : FARM_E_CRYPTO,
				   "cannot verify the signature");
		goto out;
	}
	rc = wh->map(payload ? payload : r->body, payload ? plen : r->body_len, &fields, &key,
		     &perr);
	if (rc == FARM_OK && wh->reads_run) {
		free(key);
		rc = hook_read_run(&h, fields);
		goto out;
	}
	rc = hook_accept(&h, rc, fields, key, &perr);
out:
	free(payload);
	hook_end(&h);
	return rc;
}
