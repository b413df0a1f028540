/* farm-runner-poll.c - polling: the targets catalog components are linked to (the
 * fallback for platform instances whose webhook deliveries do not reach farm), and the
 * runs watched until they end (watch.h; the watcher below, after the link pollers).
 *
 * One thread per platform whose descriptor has deploy hooks with polling
 * (platform.h: poll_interval > 0 and observe).  Every interval: read every catalog
 * link (FARM_T_CATALOG, the descriptor's deploy field), and for each org the most
 * recently updated credential of that platform; read each linked target once per
 * round (no cache: the point is to see changes) through the deploy view and observe
 * it in a transaction (deploy->observe), which appends an event only when the target
 * changed since the last observation — by this poller or by the webhook receiver.
 * A failing platform is logged once per change of the failure and retried next round.
 */
#include "farm-runner.h"

#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "clock.h"
#include "creds.h"
#include "httpc.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "platform.h"
#include "provider.h"
#include "watch.h"
#include "banned.h"

#define MAX_LINKS 10000 /* applications polled per round */

#define MAX_POLLERS 16

static pthread_t pollers[MAX_POLLERS];
static size_t npollers;

struct poll_state {
	struct farm_runner *rn;
	const struct farm_platform *p;
	long interval;
	struct farm_httpc *http;
	struct farm_keyring *keyring;
	struct farm_arena *arena;
	void *nudge;
	json_t *last_err;  /* "<org>\n<app>" → last failure message logged */
};

/* ---- reading the links and the credentials -------------------------------------------- */

struct links_io {
	const char *field; /* the descriptor's deploy field */
	json_t *links; /* [{"org":..|null,"app":..}], one per (org, app) */
	json_t *seen;  /* "o<org>\n<app>" or "-\n<app>" → true */
};

static int links_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct links_io *l = arg;
	json_t *rec = json_loadb(val, vlen, 0, NULL), *org, *app;
	char k[600];

	(void)key;
	(void)klen;
	app = json_object_get(rec, l->field);
	org = json_object_get(rec, "orgId");
	if (!json_is_string(app) || json_array_size(l->links) >= MAX_LINKS) {
		json_decref(rec);
		return FARM_OK;
	}
	snprintf(k, sizeof(k), "%s%s\n%s", json_is_string(org) ? "o" : "-",
		 json_is_string(org) ? json_string_value(org) : "", json_string_value(app));
	if (!json_object_get(l->seen, k)) {
		json_object_set_new(l->seen, k, json_true());
		json_array_append_new(l->links,
				      json_pack("{s:O,s:O}", "org", json_is_string(org) ? org : json_null(),
						"app", app));
	}
	json_decref(rec);
	return FARM_OK;
}

static int links_txn(struct farm_txn *t, void *arg)
{
	struct links_io *l = arg;

	json_array_clear(l->links);
	json_object_clear(l->seen);
	return farm_txn_scan(t, FARM_T_CATALOG, NULL, FARM_SCAN_ALL, links_cb, l);
}

struct cred_io {
	const char *type;
	const char *org;
	json_t *best;
};

static int cred_txn(struct farm_txn *t, void *arg)
{
	struct cred_io *c = arg;
	int notfound;

	json_decref(c->best);
	c->best = NULL;
	/* The same choice as the API: the most recently updated, ties to the greater id. */
	return farm_creds_pick(t, c->org, c->type, NULL, &c->best, &notfound);
}

struct opener {
	struct poll_state *ps;
	json_t *rec;
};

static int open_value(void *arg, json_t **value)
{
	struct opener *o = arg;
	struct poll_state *ps = o->ps;

	if (!ps->keyring && farm_keys_load(&ps->rn->conf, ps->rn->store, &ps->keyring) != FARM_OK)
		return FARM_E_CRYPTO;
	return farm_keys_open_cred(ps->keyring, &ps->rn->conf, ps->rn->store, o->rec, value);
}

/* ---- one application ------------------------------------------------------------------ */

struct observe_io {
	const struct farm_platform *p;
	const char *org, *cred_id, *app, *now;
	json_t *summary;
	int emitted;
};

static int observe_txn(struct farm_txn *t, void *arg)
{
	struct observe_io *o = arg;

	return o->p->deploy->observe(t, o->org, o->cred_id, o->app, o->summary, "poll", o->now,
				     &o->emitted);
}

/* Logs a failure only when it differs from the last one for this app. */
static void note_failure(struct poll_state *ps, const char *org, const char *app, const char *msg)
{
	char key[600];
	const char *old;

	snprintf(key, sizeof(key), "%s\n%s", org ? org : "", app);
	old = json_string_value(json_object_get(ps->last_err, key));
	if (old && msg && !strcmp(old, msg))
		return;
	if (msg) {
		farm_log(FARM_LOG_WARN, NULL, 0, "%s poll: %s (org %s): %s", ps->p->up.type, app,
			 org ? org : "none", msg);
		json_object_set_new(ps->last_err, key, json_string(msg));
	} else if (old) {
		farm_log(FARM_LOG_INFO, NULL, 0, "%s poll: %s (org %s) answers again",
			 ps->p->up.type, app, org ? org : "none");
		json_object_del(ps->last_err, key);
	}
}

static void poll_app(struct poll_state *ps, json_t *cred, const char *org, const char *app)
{
	struct farm_runner *rn = ps->rn;
	struct opener o = {ps, cred};
	struct farm_provider_call c;
	struct observe_io ob = {0};
	json_t *sum = NULL;
	char now[25];
	int rc;

	memset(&c, 0, sizeof(c));
	farm_arena_reset(ps->arena);
	c.p = &ps->p->up;
	c.http = ps->http;
	c.arena = ps->arena;
	c.timeout_s = rn->conf.upstream_timeout;
	c.cred_id = json_string_value(json_object_get(cred, "id"));
	c.open_value = open_value;
	c.open_arg = &o;
	rc = ps->p->deploy->view(&c, app, &sum);
	if (rc != FARM_OK) {
		note_failure(ps, org, app, c.err.msg[0] ? c.err.msg : farm_strerror(rc));
		goto out;
	}
	note_failure(ps, org, app, NULL);
	farm_clock_iso(farm_clock_ms(), now);
	ob = (struct observe_io){ps->p, org, c.cred_id, app, now, sum, 0};
	rc = farm_store_run(rn->store, observe_txn, &ob);
	if (rc != FARM_OK)
		farm_log(FARM_LOG_ERROR, NULL, 0, "%s poll: storing %s: %s", ps->p->up.type, app,
			 farm_strerror(rc));
	else if (ob.emitted) {
		farm_log(FARM_LOG_DEBUG, NULL, 0, "%s poll: %s changed: %s", ps->p->up.type, app,
			 json_string_value(json_object_get(sum, "status")));
		farm_runner_nudge(rn, &ps->nudge);
	}
out:
	json_decref(sum);
	farm_provider_call_done(&c);
}

static void poll_round(struct poll_state *ps)
{
	struct farm_runner *rn = ps->rn;
	struct links_io l = {ps->p->deploy->field, json_array(), json_object()};
	json_t *it, *creds = json_object(); /* org ("" + org, or "-") → credential or null */
	size_t i;
	int rc;

	if (!l.links || !l.seen || !creds)
		goto out;
	rc = farm_store_run(rn->store, links_txn, &l);
	if (rc != FARM_OK) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "%s poll: reading links: %s", ps->p->up.type,
			 farm_strerror(rc));
		goto out;
	}
	json_array_foreach(l.links, i, it)
	{
		const char *org = json_string_value(json_object_get(it, "org"));
		const char *app = json_string_value(json_object_get(it, "app"));
		char okey[300];
		json_t *cred;

		if (farm_runner_stopping)
			break;
		snprintf(okey, sizeof(okey), "%s%s", org ? "o" : "-", org ? org : "");
		cred = json_object_get(creds, okey);
		if (!cred) {
			struct cred_io ci = {ps->p->up.type, org, NULL};
			if (farm_store_run(rn->store, cred_txn, &ci) != FARM_OK) {
				json_decref(ci.best);
				continue;
			}
			cred = ci.best ? ci.best : json_null();
			json_object_set_new(creds, okey, cred);
		}
		if (json_is_null(cred))
			continue; /* the org has no credential of the platform (yet) */
		poll_app(ps, cred, org, app);
	}
out:
	json_decref(creds);
	json_decref(l.seen);
	json_decref(l.links);
}

static void *poller_main(void *arg)
{
	struct poll_state *ps = arg;
	long interval_ms = ps->interval * 1000L;

	while (!farm_runner_stopping) {
		long long t0 = farm_clock_ms(), spent;
		pthread_rwlock_rdlock(&ps->rn->store_lock);
		if (ps->rn->store)
			poll_round(ps);
		pthread_rwlock_unlock(&ps->rn->store_lock);
		spent = farm_clock_ms() - t0;
		farm_runner_sleep_ms(spent < interval_ms ? interval_ms - spent : 0);
	}
	farm_runner_nudge_close(&ps->nudge);
	farm_httpc_free(ps->http);
	farm_keyring_free(ps->keyring);
	farm_arena_free(ps->arena);
	json_decref(ps->last_err);
	free(ps);
	return NULL;
}

/* ---- runs watched until they end (watch.h, platforms.md §4) ------------------------------
 *
 * One thread, started when a platform has a poll hook or lets its credentials ask
 * for polling ("poll": true, farm_platform_poll_optin).  Every second (or
 * poll.interval, when shorter) it lists the watches and reads each one that is due
 * (its "next"), with the credential that saw it, through the platform's poll.read
 * (without one: runs.get, while the credential still asks for polling), and stores
 * what it read as the run's observation (farm_watch_observe: an event only on a
 * change; a final status ends the watch).  Bounds: a credential spends at most its
 * platform's rate key of reads a minute (60 without one; a token bucket, here in
 * memory); a 429 holds every read of that credential for the platform's Retry-After
 * (at least poll.interval); a failing read is retried after poll.interval doubled per
 * failure (at most an hour); a 404 (the run is gone), a credential that is gone, or a
 * watch older than poll.max_age ends the watch. */

#define WATCH_BATCH 1000 /* watches read per tick at most */
#define GENERIC_POLL_RATE 60 /* reads a minute of a credential whose platform has no rate key */

struct bucket {
	double tokens;
	long long at_ms;
	long long hold_until_ms; /* a 429: nothing before this */
};

struct watcher {
	struct poll_state ps; /* rn, http, keyring, arena, nudge (p unused) */
	json_t *buckets;      /* "<type>\n<cred>" -> {"p": pointer as integer} */
};

static struct bucket *bucket_of(struct watcher *w, const char *type, const char *cred)
{
	char key[400];
	json_t *v;
	struct bucket *b;

	snprintf(key, sizeof(key), "%s\n%s", type, cred ? cred : "-");
	if ((v = json_object_get(w->buckets, key)))
		return (struct bucket *)(uintptr_t)json_integer_value(v);
	if (!(b = calloc(1, sizeof(*b))))
		return NULL;
	b->tokens = -1; /* full at first use */
	if (json_object_set_new(w->buckets, key, json_integer((json_int_t)(uintptr_t)b))) {
		free(b);
		return NULL;
	}
	return b;
}

/* 1 when the credential may read now (a token taken), else 0. */
static int bucket_take(struct bucket *b, long per_min, long long now)
{
	double cap = per_min > 0 ? (double)per_min : 60.0;

	if (now < b->hold_until_ms)
		return 0;
	if (b->tokens < 0)
		b->tokens = cap;
	else
		b->tokens += (double)(now - b->at_ms) * cap / 60000.0;
	if (b->tokens > cap)
		b->tokens = cap;
	b->at_ms = now;
	if (b->tokens < 1.0)
		return 0;
	b->tokens -= 1.0;
	return 1;
}

struct list_io {
	json_t *list;
};

static int watch_list_txn(struct farm_txn *t, void *arg)
{
	struct list_io *l = arg;

	json_decref(l->list);
	l->list = NULL;
	return farm_watch_list(t, WATCH_BATCH, &l->list);
}

struct wobs_io {
	const char *type, *org, *cred_id, *now;
	long long now_ms;
	json_t *fields; /* NULL: only the watch changes */
	json_t *w;
	int drop, emitted;
};

static int wobs_txn(struct farm_txn *t, void *arg)
{
	struct wobs_io *o = arg;
	int rc;

	o->emitted = 0;
	if (o->drop)
		return farm_watch_drop(t, o->w);
	if (o->fields) {
		rc = farm_watch_observe(t, o->type, o->org, o->cred_id, o->fields, o->now, o->now_ms,
					&o->emitted);
		if (rc != FARM_OK)
			return rc;
		if (farm_watch_final(json_string_value(json_object_get(o->fields, "status"))))
			return FARM_OK; /* the watch ended with it */
	}
	return farm_watch_put(t, o->w);
}

static void watch_store(struct watcher *wt, struct wobs_io *o)
{
	int rc = farm_store_run(wt->ps.rn->store, wobs_txn, o);

	if (rc != FARM_OK)
		farm_log(FARM_LOG_ERROR, NULL, 0, "%s watch: storing %s: %s", o->type,
			 json_string_value(json_object_get(o->w, "run")), farm_strerror(rc));
	else if (o->emitted)
		farm_runner_nudge(wt->ps.rn, &wt->ps.nudge);
}

struct cred_id_io {
	const char *org, *type, *id;
	json_t *best;
	int notfound;
};

static int cred_id_txn(struct farm_txn *t, void *arg)
{
	struct cred_id_io *c = arg;

	json_decref(c->best);
	c->best = NULL;
	return farm_creds_pick(t, c->org, c->type, c->id, &c->best, &c->notfound);
}

/* Seconds of a Retry-After that is a number of seconds (else 0). */
static long retry_after_s(const char *ra)
{
	char *end;
	long v = ra && *ra ? strtol(ra, &end, 10) : 0;

	return ra && *ra && !*end && v > 0 && v < 86400 ? v : 0;
}

static void watch_one(struct watcher *wt, json_t *w, long long now)
{
	struct farm_runner *rn = wt->ps.rn;
	const char *type = json_string_value(json_object_get(w, "type"));
	const char *org = json_string_value(json_object_get(w, "org"));
	const char *cred_id = json_string_value(json_object_get(w, "cred"));
	const char *run = json_string_value(json_object_get(w, "run"));
	long long since = json_integer_value(json_object_get(w, "since"));
	long long fails = json_integer_value(json_object_get(w, "fails"));
	const struct farm_platform *p = farm_platform_find(type);
	struct wobs_io o = {type, org, cred_id, NULL, now, NULL, w, 0, 0};
	struct cred_id_io ci = {org, type, cred_id, NULL, 0};
	struct farm_provider_call c;
	struct opener op = {&wt->ps, NULL};
	struct bucket *b;
	char nowiso[25], base_key[128];
	long interval = rn->conf.poll_interval, delay;
	int rc;

	memset(&c, 0, sizeof(c));
	farm_clock_iso(now, nowiso);
	o.now = nowiso;
	if (!p || (!(p->poll && p->poll->read) && !farm_platform_poll_optin(p)) || !cred_id) {
		o.drop = 1;
		goto store;
	}
	if (now - since > rn->conf.poll_max_age * 1000LL) {
		farm_log(FARM_LOG_INFO, NULL, 0, "%s watch: %s ends unfinished after poll.max_age",
			 type, run);
		o.drop = 1;
		goto store;
	}
	b = bucket_of(wt, type, cred_id);
	if (!b || !bucket_take(b, p->poll && p->poll->rate_key
					  ? farm_conf_num(&rn->conf, p->poll->rate_key)
					  : GENERIC_POLL_RATE, now))
		return; /* its turn comes at a later tick */
	/* The credential that saw the run, in its org; gone: the watch ends with it. */
	if (farm_store_run(rn->store, cred_id_txn, &ci) != FARM_OK)
		goto out;
	if (!ci.best) {
		o.drop = 1;
		goto store;
	}
	farm_arena_reset(wt->ps.arena);
	op.rec = ci.best;
	snprintf(base_key, sizeof(base_key), "%s.api_url", type);
	c.p = &p->up;
	c.http = wt->ps.http;
	c.arena = wt->ps.arena;
	c.timeout_s = rn->conf.upstream_timeout;
	c.conf_base = farm_conf_str(&rn->conf, base_key);
	c.cred_id = cred_id;
	c.open_value = open_value;
	c.open_arg = &op;
	if (p->poll && p->poll->read) {
		rc = p->poll->read(&c, run, &o.fields);
	} else {
		/* No poll hook: the credential asked for polling ("poll": true); read the
		 * run through runs.get.  A credential that no longer asks ends the watch. */
		json_t *v = farm_provider_value(&c);
		if (!v) {
			rc = c.err.code ? c.err.code : FARM_E_CRYPTO;
		} else if (!farm_creds_wants_poll(v)) {
			o.drop = 1;
			goto store;
		} else {
			rc = p->runs->get(&c, run, &o.fields);
		}
	}
	if (rc == FARM_OK) {
		json_object_set_new(w, "fails", json_integer(0));
		json_object_set_new(w, "next", json_integer(now + interval * 1000LL));
		goto store;
	}
	if (c.err.code == FARM_E_NOTFOUND) {
		farm_log(FARM_LOG_INFO, NULL, 0, "%s watch: %s is gone: %s", type, run, c.err.msg);
		o.drop = 1;
		goto store;
	}
	fails++;
	delay = interval << (fails < 7 ? fails : 7);
	if (c.err.code == FARM_E_RATELIMIT) {
		long ra = retry_after_s(c.err.retry_after);
		delay = ra > interval ? ra : interval;
		b->hold_until_ms = now + delay * 1000LL;
	}
	if (delay > 3600)
		delay = 3600;
	if (fails == 1)
		farm_log(FARM_LOG_WARN, NULL, 0, "%s watch: reading %s: %s (again in %ld s)", type,
			 run, c.err.msg[0] ? c.err.msg : farm_strerror(rc), delay);
	json_object_set_new(w, "fails", json_integer(fails));
	json_object_set_new(w, "next", json_integer(now + delay * 1000LL));
store:
	watch_store(wt, &o);
out:
	json_decref(o.fields);
	json_decref(ci.best);
	farm_provider_call_done(&c);
}

static void watch_tick(struct watcher *wt)
{
	struct list_io l = {NULL};
	json_t *w;
	size_t i;
	int rc;

	if ((rc = farm_store_run(wt->ps.rn->store, watch_list_txn, &l)) != FARM_OK) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "watch: listing: %s", farm_strerror(rc));
		return;
	}
	json_array_foreach(l.list, i, w)
	{
		long long now = farm_clock_ms();

		if (farm_runner_stopping)
			break;
		if (json_integer_value(json_object_get(w, "next")) <= now)
			watch_one(wt, w, now);
	}
	json_decref(l.list);
}

static void *watcher_main(void *arg)
{
	struct watcher *wt = arg;
	long tick = wt->ps.interval * 1000L < 1000 ? wt->ps.interval * 1000L : 1000;
	const char *k;
	json_t *v;

	while (!farm_runner_stopping) {
		pthread_rwlock_rdlock(&wt->ps.rn->store_lock);
		if (wt->ps.rn->store)
			watch_tick(wt);
		pthread_rwlock_unlock(&wt->ps.rn->store_lock);
		farm_runner_sleep_ms(tick);
	}
	json_object_foreach(wt->buckets, k, v)
		free((void *)(uintptr_t)json_integer_value(v));
	json_decref(wt->buckets);
	farm_runner_nudge_close(&wt->ps.nudge);
	farm_httpc_free(wt->ps.http);
	farm_keyring_free(wt->ps.keyring);
	farm_arena_free(wt->ps.arena);
	json_decref(wt->ps.last_err);
	free(wt);
	return NULL;
}

static int start_watcher(struct farm_runner *rn)
{
	struct farm_httpc_opts o = {
		.connect_timeout_ms = rn->conf.upstream_connect_timeout * 1000,
		.timeout_ms = rn->conf.upstream_timeout * 1000,
		.max_body = (size_t)rn->conf.upstream_max_body,
		.allow_loopback = rn->conf.upstream_allow_loopback,
	};
	struct watcher *wt;

	if (npollers >= MAX_POLLERS)
		return FARM_E_IO;
	if (!(wt = calloc(1, sizeof(*wt))))
		return FARM_E_NOMEM;
	wt->ps.rn = rn;
	wt->ps.interval = rn->conf.poll_interval;
	wt->ps.arena = farm_arena_new(16384);
	wt->buckets = json_object();
	if (!wt->ps.arena || !wt->buckets || farm_httpc_new(&wt->ps.http, &o) != FARM_OK) {
		farm_arena_free(wt->ps.arena);
		json_decref(wt->buckets);
		free(wt);
		return FARM_E_NOMEM;
	}
	if (pthread_create(&pollers[npollers], NULL, watcher_main, wt) != 0) {
		farm_httpc_free(wt->ps.http);
		farm_arena_free(wt->ps.arena);
		json_decref(wt->buckets);
		free(wt);
		return FARM_E_IO;
	}
	npollers++;
	farm_log(FARM_LOG_INFO, NULL, 0, "watched runs read every %ld s", rn->conf.poll_interval);
	return FARM_OK;
}

/* Starts the poller of platform p (interval seconds). */
static int start_one(struct farm_runner *rn, const struct farm_platform *p, long interval)
{
	struct farm_httpc_opts o = {
		.connect_timeout_ms = rn->conf.upstream_connect_timeout * 1000,
		.timeout_ms = rn->conf.upstream_timeout * 1000,
		.max_body = (size_t)rn->conf.upstream_max_body,
		.allow_loopback = rn->conf.upstream_allow_loopback,
	};
	struct poll_state *ps;

	if (npollers >= MAX_POLLERS)
		return FARM_E_IO;
	if (!(ps = calloc(1, sizeof(*ps))))
		return FARM_E_NOMEM;
	ps->rn = rn;
	ps->p = p;
	ps->interval = interval;
	ps->arena = farm_arena_new(16384);
	ps->last_err = json_object();
	if (!ps->arena || !ps->last_err || farm_httpc_new(&ps->http, &o) != FARM_OK) {
		farm_arena_free(ps->arena);
		json_decref(ps->last_err);
		free(ps);
		return FARM_E_NOMEM;
	}
	if (pthread_create(&pollers[npollers], NULL, poller_main, ps) != 0) {
		farm_httpc_free(ps->http);
		farm_arena_free(ps->arena);
		json_decref(ps->last_err);
		free(ps);
		return FARM_E_IO;
	}
	npollers++;
	farm_log(FARM_LOG_INFO, NULL, 0, "%s poll every %ld s", p->up.type, interval);
	return FARM_OK;
}

int farm_runner_poll_start(struct farm_runner *rn)
{
	for (size_t i = 0; farm_platforms[i]; i++) {
		const struct farm_platform *p = farm_platforms[i];
		const struct farm_platform_deploy *d = p->deploy;
		long interval = d && d->poll_interval && d->observe ? d->poll_interval(&rn->conf) : 0;
		int rc;

		if (interval <= 0)
			continue;
		if ((rc = start_one(rn, p, interval)) != FARM_OK)
			return rc;
	}
	/* Every platform with a poll hook, or whose credentials may ask for polling. */
	for (size_t i = 0; farm_platforms[i]; i++)
		if (farm_platforms[i]->poll || farm_platform_poll_optin(farm_platforms[i]))
			return start_watcher(rn);
	return FARM_OK;
}

void farm_runner_poll_stop(void)
{
	for (size_t i = 0; i < npollers; i++)
		pthread_join(pollers[i], NULL);
	npollers = 0;
}

size_t farm_runner_pollers(void)
{
	return npollers;
}
