/* farm-fcgi-webhooks.c - POST /api/v1/webhooks/{circleci,jenkins,travisci}[/:credentialId]
 *
 * A delivery is verified before anything is stored (lib/events/webhook.h), normalised
 * (lib/events/event.h), then in ONE transaction its dedupe key is checked and written and the
 * event is appended to the durable outbox; 200 is answered only after that commit.
 * farm-eventd is then nudged over ZeroMQ (PUSH, never blocking: a lost nudge only
 * delays the event until eventd's next poll).  No network I/O on this path, except a
 * one-time fetch of a Travis API's public key when none is cached (then kept in
 * FARM_T_META, so later deliveries read it from the database).
 *
 *   bare paths         instance secrets from the config, events without org
 *   /:credentialId     that credential's value.webhookSecret (Travis: the public key of
 *                      its API host), events carry the credential's org and id
 * Not verified, unknown credential, credential of another platform → 401, nothing
 * stored; the three look alike on purpose.
 */
#include "farm-fcgi.h"

#include <curl/curl.h>
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
#include "gate.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "webhook.h"
#include "banned.h"

/* A Travis key that failed a signature is fetched again at most this often. */
#define TRAVIS_REFETCH_MS (10 * 1000)
/* Largest GET /config answer read. */
#define TRAVIS_CONFIG_MAX (256 * 1024)
/* The Travis config call, whatever upstream.timeout says: the sender is waiting. */
#define TRAVIS_FETCH_TIMEOUT 10L

/* What one delivery resolved to: where its secret comes from and whom it belongs to. */
struct hook {
	struct farm_req *r;
	const char *provider;    /* "circleci" | "jenkins" | "travisci" */
	const char *cred_id;     /* NULL on the bare path */
	char *org;               /* the credential's org (arena), NULL for none */
	json_t *value;           /* the credential's decrypted value, or NULL */
};

static int unauthorized(struct farm_req *r, const char *why)
{
	/* Why is logged (never the secret or the body); the sender learns only 401. */
	farm_log(FARM_LOG_INFO, r->id, 0, "webhook refused: %s", why);
	return farm_req_error(r, 401, "webhook not verified");
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
static int hook_begin(struct hook *h, struct farm_req *r, const char *provider)
{
	int rc;

	memset(h, 0, sizeof(*h));
	h->r = r;
	h->provider = provider;
	if (r->nparams == 0)
		return 0;
	h->cred_id = r->params[0];
	rc = farm_fcgi_hook_cred(r, h->cred_id, provider, &h->value, &h->org);
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

/* Parses the verified payload, stores the event, answers.  Returns the status. */
static int hook_accept(struct hook *h, int parsed, json_t *fields, char *key,
		       struct farm_error *perr)
{
	struct farm_req *r = h->r;
	struct farm_app *app = r->app;
	struct put_event p = {0};
	char received[FARM_EVENT_TS_LEN], *dkey = NULL, *json = NULL;
	json_t *ev = NULL;
	int rc, status;

	if (parsed == FARM_E_NOTFOUND) {
		status = farm_req_json(r, 200, json_pack("{s:b,s:b}", "received", 1, "ignored", 1));
		goto out;
	}
	if (parsed == FARM_E_TOOBIG) {
		status = farm_req_error(r, 413, "%s", perr->msg);
		goto out;
	}
	if (parsed != FARM_OK) {
		status = farm_req_error(r, parsed == FARM_E_NOMEM ? 500 : 400, "%s",
					parsed == FARM_E_NOMEM ? "out of memory" : perr->msg);
		goto out;
	}
	p.received_ms = farm_clock_ms();
	farm_clock_iso(p.received_ms, received);
	ev = event_build(h, fields, received);
	/* Deliveries are deduplicated per credential: two Jenkins servers may both have a
	 * job "build" #5, and one org must never silence another's event. */
	dkey = farm_arena_printf(r->arena, "%s|%s", h->cred_id ? h->cred_id : "-", key);
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

/* --- CircleCI ---------------------------------------------------------------------- */

int farm_h_webhook_circleci(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct farm_error perr = {0};
	struct hook h;
	const char *secret;
	json_t *fields = NULL;
	char *key = NULL;
	int rc, parsed;

	if ((rc = hook_begin(&h, r, "circleci")) != 0)
		return rc;
	secret = h.cred_id ? hook_cred_secret(&h) : app->conf.webhook_circleci_secret;
	if (!secret || !*secret) {
		rc = unauthorized(r, "no CircleCI webhook secret configured");
		goto out;
	}
	if (farm_webhook_circleci_verify(farm_req_env(r, "HTTP_CIRCLECI_SIGNATURE"), secret,
					 strlen(secret), r->body, r->body_len) != FARM_OK) {
		rc = unauthorized(r, "bad or missing circleci-signature");
		goto out;
	}
	parsed = farm_event_from_circleci(r->body, r->body_len, &fields, &key, &perr);
	rc = hook_accept(&h, parsed, fields, key, &perr);
out:
	hook_end(&h);
	return rc;
}

/* --- Jenkins ----------------------------------------------------------------------- */

/* Any presented token (?token=, X-Farm-Token, Basic password) that matches accepts. */
static int jenkins_verify(struct farm_req *r, const char *expected)
{
	size_t elen = strlen(expected);
	const char *q = farm_req_query(r, "token");
	const char *hdr = farm_req_env(r, "HTTP_X_FARM_TOKEN");
	const char *auth = farm_req_env(r, "HTTP_AUTHORIZATION");
	char *pw = NULL;
	int ok = 0;

	if (q && farm_webhook_token_verify(q, strlen(q), expected, elen) == FARM_OK)
		ok = 1;
	if (hdr && farm_webhook_token_verify(hdr, strlen(hdr), expected, elen) == FARM_OK)
		ok = 1;
	if (auth && farm_webhook_basic_password(auth, &pw) == FARM_OK) {
		if (farm_webhook_token_verify(pw, strlen(pw), expected, elen) == FARM_OK)
			ok = 1;
		farm_crypto_free_secret(pw, strlen(pw) + 1);
	}
	return ok;
}

int farm_h_webhook_jenkins(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct farm_error perr = {0};
	struct hook h;
	const char *token;
	json_t *fields = NULL;
	char *key = NULL;
	int rc, parsed;

	if ((rc = hook_begin(&h, r, "jenkins")) != 0)
		return rc;
	token = h.cred_id ? hook_cred_secret(&h) : app->conf.webhook_jenkins_token;
	if (!token || !*token) {
		rc = unauthorized(r, "no Jenkins webhook token configured");
		goto out;
	}
	if (!jenkins_verify(r, token)) {
		rc = unauthorized(r, "bad or missing Jenkins token");
		goto out;
	}
	parsed = farm_event_from_jenkins(r->body, r->body_len, &fields, &key, &perr);
	rc = hook_accept(&h, parsed, fields, key, &perr);
out:
	hook_end(&h);
	return rc;
}

/* --- Travis CI --------------------------------------------------------------------- */

struct curl_buf {
	char *p;
	size_t n;
	int too_big;
};

static size_t curl_sink(char *data, size_t size, size_t nmemb, void *arg)
{
	struct curl_buf *b = arg;
	size_t n = size * nmemb;
	char *q;

	if (b->n + n > TRAVIS_CONFIG_MAX) {
		b->too_big = 1;
		return 0;
	}
	if (!(q = realloc(b->p, b->n + n + 1)))
		return 0;
	memcpy(q + b->n, data, n);
	b->p = q;
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

/* GET <api>/config → the webhook public key.  *pem new (free).  FARM_E_UPSTREAM,
 * FARM_E_TIMEOUT, FARM_E_NOTFOUND (no key in the answer), FARM_E_NOMEM. */
static int travis_fetch_key(struct farm_req *r, const char *api, char **pem)
{
	struct farm_app *app = r->app;
	struct curl_buf b = {0};
	char errbuf[CURL_ERROR_SIZE] = "";
	size_t alen = strlen(api);
	char *url;
	long status = 0;
	CURL *c;
	CURLcode cc;
	int rc = FARM_E_UPSTREAM;

	*pem = NULL;
	while (alen && api[alen - 1] == '/')
		alen--;
	if (!(url = farm_arena_printf(r->arena, "%.*s/config", (int)alen, api)))
		return FARM_E_NOMEM;
	if (!(c = curl_easy_init()))
		return FARM_E_NOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, app->conf.upstream_connect_timeout);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, app->conf.upstream_timeout < TRAVIS_FETCH_TIMEOUT
						     ? app->conf.upstream_timeout
						     : TRAVIS_FETCH_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "farm");
	farm_gate_block();
	cc = curl_easy_perform(c);
	farm_gate_unblock();
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = FARM_E_TIMEOUT;
	} else if (cc != CURLE_OK || status != 200) {
		farm_log(FARM_LOG_WARN, r->id, 0, "GET %s: %s (HTTP %ld)", url,
			 b.too_big ? "answer too large" : (*errbuf ? errbuf : curl_easy_strerror(cc)),
			 status);
	} else {
		rc = farm_webhook_travis_key_from_config(b.p ? b.p : "", b.n, pem);
		if (rc != FARM_OK)
			farm_log(FARM_LOG_WARN, r->id, 0, "GET %s: no usable public key", url);
	}
	curl_easy_cleanup(c);
	free(b.p);
	return rc;
}

/* "travis.pubkey.<authority>" for an API base URL (lower-cased, userinfo dropped). */
static char *travis_cache_key(struct farm_req *r, const char *api)
{
	const char *p = strstr(api, "://"), *end, *at;
	char *k;

	p = p ? p + 3 : api;
	end = p + strcspn(p, "/?#");
	for (at = p; at < end; at++)
		if (*at == '@')
			p = at + 1;
	if (!(k = farm_arena_printf(r->arena, "travis.pubkey.%.*s", (int)(end - p), p)))
		return NULL;
	for (char *c = k; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return k;
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
static int travis_cached_key(struct farm_req *r, const char *ckey, char **pem,
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

static int travis_cache_put(struct farm_req *r, const char *ckey, const char *pem)
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

/* Reads the configured key file.  *pem new (free). */
static int travis_key_file(const char *path, char **pem)
{
	FILE *fp = fopen(path, "re");
	char *buf;
	size_t n;

	*pem = NULL;
	if (!fp)
		return FARM_E_IO;
	if (!(buf = malloc(FARM_WEBHOOK_PEM_MAX + 1))) {
		fclose(fp);
		return FARM_E_NOMEM;
	}
	n = fread(buf, 1, FARM_WEBHOOK_PEM_MAX + 1, fp);
	fclose(fp);
	if (n == 0 || n > FARM_WEBHOOK_PEM_MAX) {
		free(buf);
		return FARM_E_INVAL;
	}
	buf[n] = '\0';
	*pem = buf;
	return FARM_OK;
}

/* Verifies against the Travis API host `api`: cached key first; when none is cached,
 * or the cached one fails and was fetched over TRAVIS_REFETCH_MS ago, GET /config.
 * FARM_OK, FARM_E_AUTH (not verified), or FARM_E_UNAVAIL (no key could be had). */
static int travis_verify_host(struct farm_req *r, const char *api, const char *sig,
			      const char *payload, size_t plen)
{
	char *ckey = travis_cache_key(r, api), *pem = NULL, *fresh = NULL;
	long long fetched = 0;
	int rc, frc;

	if (!ckey)
		return FARM_E_NOMEM;
	rc = travis_cached_key(r, ckey, &pem, &fetched);
	if (rc == FARM_OK) {
		rc = farm_webhook_travis_verify(pem, strlen(pem), sig, payload, plen);
		if (rc == FARM_OK || farm_clock_ms() - fetched < TRAVIS_REFETCH_MS)
			goto out;
	} else if (rc != FARM_E_NOTFOUND) {
		goto out;
	}
	frc = travis_fetch_key(r, api, &fresh);
	if (frc != FARM_OK) {
		/* A fetch that fails leaves a failed verification failed. */
		rc = pem ? FARM_E_AUTH : FARM_E_UNAVAIL;
		goto out;
	}
	/* Stored even when unchanged: fetchedAt restarts the refetch window. */
	if (travis_cache_put(r, ckey, fresh) != FARM_OK)
		farm_log(FARM_LOG_WARN, r->id, 0, "cannot cache the Travis key of %s", ckey);
	if (pem && strcmp(pem, fresh) == 0) {
		rc = FARM_E_AUTH; /* same key, same verdict */
		goto out;
	}
	rc = farm_webhook_travis_verify(fresh, strlen(fresh), sig, payload, plen);
out:
	free(pem);
	free(fresh);
	return rc;
}

int farm_h_webhook_travisci(struct farm_req *r)
{
	struct farm_app *app = r->app;
	struct farm_error perr = {0};
	struct hook h;
	const char *sig = farm_req_env(r, "HTTP_SIGNATURE");
	const char *api, *kf = app->conf.webhook_travisci_public_key_file;
	char *payload = NULL, *pem = NULL, *key = NULL;
	size_t plen = 0;
	json_t *fields = NULL;
	int rc, parsed, vrc;

	if ((rc = hook_begin(&h, r, "travisci")) != 0)
		return rc;
	if (!sig || !*sig) {
		rc = unauthorized(r, "no Signature header");
		goto out;
	}
	/* The signed bytes are the form-decoded payload field, not the raw body. */
	if (farm_form_field(r->body, r->body_len, "payload", &payload, &plen) != FARM_OK) {
		rc = unauthorized(r, "no payload form field");
		goto out;
	}
	if (!h.cred_id && kf && *kf) {
		vrc = travis_key_file(kf, &pem);
		if (vrc != FARM_OK) {
			farm_log(FARM_LOG_ERROR, r->id, vrc == FARM_E_IO ? errno : 0,
				 "webhook.travisci.public_key_file %s unreadable", kf);
			rc = farm_req_error(r, 503, "the Travis CI public key is unavailable");
			goto out;
		}
		vrc = farm_webhook_travis_verify(pem, strlen(pem), sig, payload, plen);
	} else {
		api = h.cred_id ? json_string_value(json_object_get(h.value, "url")) : NULL;
		if (!api || !*api)
			api = app->conf.travisci_api_url;
		vrc = travis_verify_host(r, api, sig, payload, plen);
	}
	if (vrc == FARM_E_UNAVAIL) {
		rc = farm_req_error(r, 503, "the Travis CI public key is unavailable");
		goto out;
	}
	if (vrc != FARM_OK) {
		rc = vrc == FARM_E_AUTH ? unauthorized(r, "bad Travis CI signature")
					: farm_req_error(r, 500, "cannot verify the signature");
		goto out;
	}
	parsed = farm_event_from_travis(payload, plen, &fields, &key, &perr);
	rc = hook_accept(&h, parsed, fields, key, &perr);
out:
	free(pem);
	free(payload);
	hook_end(&h);
	return rc;
}
