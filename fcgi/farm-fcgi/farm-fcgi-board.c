/* farm-fcgi-board.c - the board (GET /projects, GET /cctray.xml) and the event history
 * for clients that poll (GET /events without an Upgrade header).
 *
 * Scope: the caller's org, exactly as its credentials.  An org token sees its org's
 * board; a token without orgId sees the org-less board (runs of webhooks that came in
 * through the instance secrets).  The history, like the WebSocket, shows a token its
 * org's events plus the org-less ones (farm_events_visible).
 *
 * The board is written by farm-eventd (lib/events/board.h); it is read here and
 * rendered once per (org, platform filter, format) and generation: each thread keeps
 * its last answers, keyed on the board's generation read before the read, so a hit
 * costs no transaction and no rendering (the credential list does the same,
 * farm-fcgi-creds.c).
 *
 * A board of 500 projects is some 230 KB of JSON: at that size the copies through
 * the pool, nginx and the client's socket cost far more than the request itself.  A
 * client that accepts gzip (browsers, CCMenu, Nevergreen, curl --compressed) gets the
 * cached answer compressed - once per generation, not per request - with
 * Content-Encoding: gzip; others get it as it is.  Both vary on Accept-Encoding.
 */
#include "farm-fcgi.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "board.h"
#include "crypto.h"
#include "events.h"
#include "json.h"
#include "jwt.h"
#include "log.h"
#include "provider.h"
#include "webhook.h"

#include "banned.h"

#define BOARD_CACHE_SLOTS 8
#define EVENTS_LIMIT_DEFAULT 100
#define EVENTS_LIMIT_MAX 1000
#define EVENTS_PER_TXN 256	   /* history reads per transaction (read locks held) */
#define EVENTS_BODY_MAX (8u << 20) /* a page stops growing past this; the client pages on */

enum board_kind { BOARD_JSON, BOARD_CCTRAY };

/* ---- the generation, mapped once per process ---- */

static pthread_mutex_t gen_mu = PTHREAD_MUTEX_INITIALIZER;
static struct farm_board_gen *gen_map;
static int gen_tried;

/* NULL when the file cannot be mapped: then nothing is cached. */
static struct farm_board_gen *board_gen(struct farm_app *app)
{
	struct farm_board_gen *g;

	if (__atomic_load_n(&gen_tried, __ATOMIC_ACQUIRE))
		return gen_map;
	pthread_mutex_lock(&gen_mu);
	if (!gen_tried) {
		if (farm_board_gen_open(app->conf.state_dir, &gen_map) != FARM_OK)
			farm_log(FARM_LOG_WARN, NULL, errno,
				 "%s/board.gen: the board is not cached", app->conf.state_dir);
		__atomic_store_n(&gen_tried, 1, __ATOMIC_RELEASE);
	}
	g = gen_map;
	pthread_mutex_unlock(&gen_mu);
	return g;
}

/* ---- the per-thread answer cache ---- */

struct board_slot {
	int used;
	enum board_kind kind;
	int has_org;
	char *org, *platform; /* platform NULL: no filter */
	uint64_t gen;
	char *body, *gz; /* gz: body gzip-compressed, made on first need */
	size_t len, gzlen;
	unsigned long long tick;
};

struct farm_board_cache {
	struct board_slot slot[BOARD_CACHE_SLOTS];
	unsigned long long tick;
};

static void slot_clear(struct farm_board_cache *c, int i)
{
	free(c->slot[i].org);
	free(c->slot[i].platform);
	free(c->slot[i].body);
	free(c->slot[i].gz);
	memset(&c->slot[i], 0, sizeof(c->slot[i]));
}

void farm_board_cache_free(struct farm_board_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < BOARD_CACHE_SLOTS; i++)
		slot_clear(c, i);
	free(c);
}

static int str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int cache_find(struct farm_board_cache *c, enum board_kind kind, const char *org,
		      const char *platform, uint64_t gen)
{
	for (int i = 0; c && i < BOARD_CACHE_SLOTS; i++)
		if (c->slot[i].used && c->slot[i].gen == gen && c->slot[i].kind == kind &&
		    c->slot[i].has_org == (org != NULL) && str_same(c->slot[i].org, org) &&
		    str_same(c->slot[i].platform, platform))
			return i;
	return -1;
}

/* Takes ownership of body (malloc) whatever happens; returns the slot or -1. */
static int cache_put(struct farm_board_cache *c, enum board_kind kind, const char *org,
		     const char *platform, uint64_t gen, char *body, size_t len)
{
	int v = 0;
	char *o = NULL, *p = NULL;

	if (!c)
		goto fail;
	for (int i = 1; i < BOARD_CACHE_SLOTS; i++)
		if (c->slot[i].tick < c->slot[v].tick)
			v = i;
	if ((org && !(o = strdup(org))) || (platform && !(p = strdup(platform))))
		goto fail;
	slot_clear(c, v);
	c->slot[v].used = 1;
	c->slot[v].kind = kind;
	c->slot[v].has_org = org != NULL;
	c->slot[v].org = o;
	c->slot[v].platform = p;
	c->slot[v].gen = gen;
	c->slot[v].body = body;
	c->slot[v].len = len;
	c->slot[v].tick = ++c->tick;
	return v;
fail:
	free(o);
	free(p);
	free(body);
	return -1;
}

/* ---- gzip ---- */

/* 1 when Accept-Encoding lists gzip (or x-gzip) without q=0. */
static int accepts_gzip(const char *h)
{
	while (h && *h) {
		size_t n = strcspn(h, ","), tok;
		const char *q;

		while (n && (*h == ' ' || *h == '\t'))
			h++, n--;
		tok = strcspn(h, " \t;,");
		if (tok > n)
			tok = n;
		if ((tok == 4 && !strncasecmp(h, "gzip", 4)) ||
		    (tok == 6 && !strncasecmp(h, "x-gzip", 6))) {
			q = memchr(h, ';', n);
			if (!q)
				return 1;
			for (q++; *q == ' '; q++)
				;
			/* q=0, q=0.0, q=0.000: refused; anything else accepts. */
			if (!(q[0] == 'q' && q[1] == '=' && q[2] == '0' &&
			      strspn(q + 3, ".0") == strcspn(q + 3, ",")))
				return 1;
		}
		h += n;
		if (*h == ',')
			h++;
	}
	return 0;
}

/* body compressed as a gzip member into a new malloc'd buffer; FARM_E_NOMEM.  Once
 * per generation and thread, so zlib's default level (a 500-project board: 228 KB →
 * 10.7 KB; level 1 left 12.2 KB, and bytes are what the answer costs). */
static int gzip_body(const char *body, size_t len, char **out, size_t *outlen)
{
	z_stream z;
	uLong cap;
	char *buf;
	int rc;

	*out = NULL;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return FARM_E_NOMEM;
	cap = deflateBound(&z, (uLong)len);
	if (!(buf = malloc(cap))) {
		deflateEnd(&z);
		return FARM_E_NOMEM;
	}
	z.next_in = (Bytef *)body;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)buf;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*outlen = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return FARM_E_NOMEM;
	}
	*out = buf;
	return FARM_OK;
}

/* ---- the board ---- */

struct list_ctx {
	const char *org, *platform;
	json_t *items;
};

static int list_txn(struct farm_txn *t, void *arg)
{
	struct list_ctx *c = arg;

	json_array_clear(c->items); /* a deadlock retry starts over */
	return farm_board_list(t, c->org, c->platform, c->items);
}

/* Renders the board into a new malloc'd body. */
static int render(enum board_kind kind, json_t *items, char **body, size_t *len)
{
	char *s;

	if (kind == BOARD_CCTRAY)
		return farm_board_cctray(items, body, len);
	if (!(s = json_dumps(items, JSON_COMPACT)))
		return FARM_E_NOMEM;
	*len = strlen(s);
	*body = malloc(*len + 1);
	if (*body)
		memcpy(*body, s, *len + 1);
	farm_json_free(s);
	return *body ? FARM_OK : FARM_E_NOMEM;
}

static int board_answer(struct farm_req *r, enum board_kind kind)
{
	struct farm_app *app = r->app;
	struct farm_thr *thr = r->thr;
	struct farm_board_gen *g = board_gen(app);
	struct farm_board_cache *cache = NULL;
	struct list_ctx c = {farm_req_org(r), farm_req_query(r, "platform"), NULL};
	uint64_t gen = 0;
	char *body = NULL;
	size_t len = 0;
	int rc, slot = -1;

	if (c.platform && !farm_provider_find(c.platform))
		return farm_req_fail(r, FARM_E_NOTFOUND, "unknown platform '%.64s'", c.platform);
	if (thr && g) {
		if (!thr->board_cache)
			thr->board_cache = calloc(1, sizeof(*thr->board_cache));
		cache = thr->board_cache;
		gen = farm_board_gen_read(g); /* before the read: see board.h */
	}
	if ((slot = cache_find(cache, kind, c.org, c.platform, gen)) < 0) {
		if (!(c.items = json_array()))
			return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
		rc = farm_store_run(app->store, list_txn, &c);
		if (rc == FARM_OK)
			rc = render(kind, c.items, &body, &len);
		json_decref(c.items);
		if (rc == FARM_E_NOMEM)
			return farm_req_fail(r, rc, "out of memory");
		if (rc != FARM_OK)
			return farm_req_store_fail(r, rc);
		if (cache &&
		    (slot = cache_put(cache, kind, c.org, c.platform, gen, body, len)) >= 0)
			body = NULL; /* the slot owns it */
	}
	farm_req_header(r, "Vary", "Accept-Encoding");
	if (slot >= 0) {
		/* Borrowed from this thread's cache, which nothing touches before the
		 * response is written. */
		struct board_slot *s = &cache->slot[slot];

		s->tick = ++cache->tick;
		r->text = s->body;
		r->text_len = s->len;
		if (accepts_gzip(farm_req_env(r, "HTTP_ACCEPT_ENCODING")) &&
		    (s->gz || gzip_body(s->body, s->len, &s->gz, &s->gzlen) == FARM_OK)) {
			r->text = s->gz;
			r->text_len = s->gzlen;
			farm_req_header(r, "Content-Encoding", "gzip");
		}
	} else {
		r->text = farm_arena_strndup(r->arena, body, len);
		r->text_len = len;
		free(body);
		if (!r->text)
			return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	}
	r->content_type = kind == BOARD_CCTRAY ? "application/xml; charset=utf-8"
					       : "application/json; charset=utf-8";
	r->status = 200;
	return 200;
}

int farm_h_board_projects(struct farm_req *r) { return board_answer(r, BOARD_JSON); }

/* cctray readers (CCMenu, Nevergreen, BuildNotify) speak HTTP Basic: the JWT is
 * accepted as the Basic password (the user name is ignored), as well as a Bearer
 * header.  Every refusal says how to authenticate. */
static int cctray_refuse(struct farm_req *r, const char *why)
{
	farm_req_header(r, "WWW-Authenticate", "Basic realm=\"farm\"");
	return farm_req_fail(r, FARM_E_AUTH, "%s", why);
}

int farm_h_board_cctray(struct farm_req *r)
{
	struct farm_app *app = r->app;
	const char *h = farm_req_env(r, "HTTP_AUTHORIZATION");
	struct farm_error err = {0};
	char *pass = NULL;
	const char *tok;
	int rc;

	if (!h)
		return cctray_refuse(r, "authentication required (Basic: the token as password)");
	if (!strncasecmp(h, "Bearer ", 7)) {
		for (tok = h + 7; *tok == ' '; tok++)
			;
	} else if (farm_webhook_basic_password(h, &pass) == FARM_OK) {
		tok = pass;
	} else {
		return cctray_refuse(r, "authentication required (Basic: the token as password)");
	}
	rc = farm_jwt_verify(app->dispatch.jwt_secret, app->dispatch.jwt_secret_len, tok,
			     strlen(tok), (long long)time(NULL), FARM_JWT_LEEWAY, &r->claims, &err);
	if (pass)
		farm_crypto_free_secret(pass, strlen(pass) + 1);
	if (rc != FARM_OK) {
		farm_log(FARM_LOG_INFO, r->id, 0, "auth refused: %s", err.msg);
		return cctray_refuse(r, "invalid token");
	}
	r->authed = 1;
	return board_answer(r, BOARD_CCTRAY);
}

/* ---- the history ---- */

/* A non-negative decimal without sign or spaces, at most `max`. */
static int parse_count(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return FARM_E_INVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
			return FARM_E_INVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return FARM_OK;
}

struct page {
	struct farm_req *r;
	const char *org;   /* the caller's scope */
	uint64_t from, to; /* ids this transaction reads */
	size_t want;	   /* events still wanted */
	/* this transaction's findings, rebuilt on every attempt */
	uint64_t first, last, scanned;
	size_t n;
	char *json[EVENTS_PER_TXN];
	size_t len[EVENTS_PER_TXN];
	uint64_t id[EVENTS_PER_TXN];
};

static void page_clear(struct page *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->json[i]);
	p->n = 0;
}

static int bounds_txn(struct farm_txn *t, void *arg)
{
	struct page *p = arg;
	int rc = farm_events_first(t, &p->first);

	return rc == FARM_OK ? farm_events_last(t, &p->last) : rc;
}

static int read_txn(struct farm_txn *t, void *arg)
{
	struct page *p = arg;
	uint64_t id;
	int rc;

	page_clear(p);
	p->scanned = p->from - 1;
	for (id = p->from; id <= p->to && p->n < p->want; id++) {
		char *json = NULL, *org = NULL;
		size_t len = 0;
		uint64_t eid;

		rc = farm_events_get(t, id, &json, &len);
		if (rc == FARM_E_NOTFOUND) { /* pruned meanwhile */
			p->scanned = id;
			continue;
		}
		if (rc != FARM_OK)
			return rc;
		if (farm_events_parse(json, len, &eid, &org) == FARM_OK &&
		    farm_events_visible(farm_req_org(p->r), org)) {
			p->json[p->n] = json;
			p->len[p->n] = len;
			p->id[p->n++] = id;
			json = NULL;
		}
		free(org);
		free(json);
		p->scanned = id;
	}
	return FARM_OK;
}

/* GET /api/v1/events without Upgrade (nginx sends those here, farm-locations.conf).
 * The body is the JSON array of the stored events as the WebSocket sends them: each
 * element is the history's JSON verbatim (written by Jansson in farm-eventd and
 * checked by farm_events_parse), so the page and a replay are byte for byte alike.
 * X-Farm-Next-Since: the id to ask `since` next (the last event returned, or the last
 * id read when the page is not full: events the caller may not see are not read
 * again). */
int farm_h_events_list(struct farm_req *r)
{
	struct farm_app *app = r->app;
	const char *qs = farm_req_query(r, "since"), *ql = farm_req_query(r, "limit"), *hval;
	uint64_t since = 0, limit = EVENTS_LIMIT_DEFAULT, next;
	struct page *p = NULL;
	char *body = NULL, hdr[24];
	size_t len = 1, cap = 0, total = 0;
	int rc, code;

	if (qs && parse_count(qs, INT64_MAX, &since) != FARM_OK)
		return farm_req_fail(r, FARM_E_INVAL,
				     "since must be an event id (a non-negative integer)");
	if (ql && (parse_count(ql, EVENTS_LIMIT_MAX, &limit) != FARM_OK || limit < 1))
		return farm_req_fail(r, FARM_E_INVAL, "limit must be an integer from 1 to %d",
				     EVENTS_LIMIT_MAX);
	if (!(p = calloc(1, sizeof(*p))))
		return farm_req_fail(r, FARM_E_NOMEM, "out of memory");
	p->r = r;
	if ((rc = farm_store_run(app->store, bounds_txn, p)) != FARM_OK) {
		code = farm_req_store_fail(r, rc);
		goto out;
	}
	next = since;
	cap = 4096;
	if (!(body = malloc(cap)))
		goto oom;
	body[0] = '[';
	p->from = since + 1 > p->first ? since + 1 : p->first;
	while (p->first && p->from <= p->last && total < limit && len < EVENTS_BODY_MAX) {
		p->to = p->last - p->from >= EVENTS_PER_TXN - 1 ? p->from + EVENTS_PER_TXN - 1
								: p->last;
		p->want = (size_t)(limit - total);
		if ((rc = farm_store_run(app->store, read_txn, p)) != FARM_OK) {
			page_clear(p);
			code = farm_req_store_fail(r, rc);
			goto out;
		}
		for (size_t i = 0; i < p->n; i++) {
			if (len + p->len[i] + 2 > cap) {
				char *nb;
				while (len + p->len[i] + 2 > cap)
					cap *= 2;
				if (!(nb = realloc(body, cap))) {
					page_clear(p);
					goto oom;
				}
				body = nb;
			}
			if (total)
				body[len++] = ',';
			memcpy(body + len, p->json[i], p->len[i]);
			len += p->len[i];
			total++;
			next = p->id[i];
		}
		next = p->scanned; /* every id up to it is answered or not the caller's */
		page_clear(p);
		p->from = p->scanned + 1;
	}
	body[len++] = ']';
	snprintf(hdr, sizeof(hdr), "%llu", (unsigned long long)next);
	if (!(hval = farm_arena_strdup(r->arena, hdr)) ||
	    farm_req_header(r, "X-Farm-Next-Since", hval) != FARM_OK ||
	    !(r->text = farm_arena_strndup(r->arena, body, len)))
		goto oom;
	r->text_len = len;
	r->content_type = "application/json; charset=utf-8";
	r->status = code = 200;
	goto out;
oom:
	code = farm_req_fail(r, FARM_E_NOMEM, "out of memory");
out:
	free(body);
	free(p);
	return code;
}
