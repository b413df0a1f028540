/* board.c - the board table, its cctray rendering and its generation (see board.h). */
#include "board.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events.h"
#include "json.h"

#include "banned.h"

/* ---- the table ------------------------------------------------------------------- */

/* ('o' org | '-') NUL provider NUL project into a new buffer; FARM_E_INVAL when a
 * part is too long or holds a NUL (it could not be told apart from the separators). */
static int board_key(const char *org, const char *provider, size_t plen, const char *project,
		     size_t jlen, char **key, size_t *klen)
{
	size_t olen = org ? strlen(org) : 0, n;
	char *k;

	*key = NULL;
	if (plen == 0 || plen > FARM_BOARD_PROVIDER_MAX || jlen > FARM_BOARD_PROJECT_MAX ||
	    memchr(provider, 0, plen) || memchr(project, 0, jlen) || olen > 0xFFFE)
		return FARM_E_INVAL;
	n = 1 + olen + 1 + plen + 1 + jlen;
	if (!(k = malloc(n)))
		return FARM_E_NOMEM;
	k[0] = org ? 'o' : '-';
	memcpy(k + 1, org ? org : "", olen);
	k[1 + olen] = '\0';
	memcpy(k + 2 + olen, provider, plen);
	k[2 + olen + plen] = '\0';
	memcpy(k + 3 + olen + plen, project, jlen);
	*key = k;
	*klen = n;
	return FARM_OK;
}

int farm_board_put(struct farm_txn *t, json_t *data, uint64_t id)
{
	json_t *prov = json_object_get(data, "provider"), *proj = json_object_get(data, "project");
	json_t *org = json_object_get(data, "orgId");
	const char *o = json_is_string(org) ? json_string_value(org) : NULL;
	char *key = NULL, *val = NULL;
	size_t klen = 0;
	int rc;

	if (!json_is_object(data) || !json_is_string(prov) || !json_is_string(proj) || (o && !*o))
		return FARM_OK; /* nothing to key a row by (the store has no empty org) */
	if (id > (uint64_t)INT64_MAX)
		return FARM_E_INVAL;
	rc = board_key(o, json_string_value(prov), json_string_length(prov),
		       json_string_value(proj), json_string_length(proj), &key, &klen);
	if (rc == FARM_E_INVAL)
		return FARM_OK; /* an event the board cannot key: it stays in the history */
	if (rc != FARM_OK)
		return rc;
	rc = FARM_E_NOMEM;
	if (!(val = farm_events_row(data, id)))
		goto out;
	rc = farm_txn_put(t, FARM_T_BOARD, key, klen, o, val, strlen(val), 0);
out:
	farm_json_free(val);
	free(key);
	return rc;
}

static int board_apply(struct farm_txn *t, const char *event, json_t *data, uint64_t id)
{
	(void)event;
	return farm_board_put(t, data, id);
}

int farm_board_backfill(struct farm_txn *t, size_t per, int *more, size_t *put)
{
	return farm_events_backfill(t, FARM_BOARD_FILLED_KEY, per, board_apply, more, put);
}

struct list_ctx {
	const char *platform;
	size_t plen;
	json_t *items;
};

static int list_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct list_ctx *c = arg;
	const char *k = key, *p, *end = k + klen;
	json_t *row;

	if (c->platform) {
		/* Skip the org part; the provider follows its NUL. */
		if (!(p = memchr(k, 0, klen)))
			return FARM_OK;
		p++;
		if ((size_t)(end - p) <= c->plen || memcmp(p, c->platform, c->plen) != 0 ||
		    p[c->plen] != '\0')
			return FARM_OK;
	}
	if ((row = json_loadb(val, vlen, 0, NULL)) && json_is_object(row))
		json_array_append(c->items, row);
	json_decref(row);
	return FARM_OK;
}

int farm_board_list(struct farm_txn *t, const char *org, const char *platform, json_t *items)
{
	struct list_ctx c = {platform, platform ? strlen(platform) : 0, items};

	if (!json_is_array(items))
		return FARM_E_INVAL;
	return farm_txn_scan(t, FARM_T_BOARD, org, 0, list_cb, &c);
}

/* ---- cctray ---------------------------------------------------------------------- */

const char *farm_board_cctray_activity(const char *status)
{
	return status && (!strcmp(status, "queued") || !strcmp(status, "running")) ? "Building"
										   : "Sleeping";
}

const char *farm_board_cctray_status(const char *status)
{
	if (!status)
		return "Unknown";
	if (!strcmp(status, "success"))
		return "Success";
	if (!strcmp(status, "failed") || !strcmp(status, "unstable"))
		return "Failure";
	if (!strcmp(status, "error"))
		return "Exception";
	return "Unknown";
}

struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

/* An attribute value: & < > " ' escaped; tab, CR and LF as character references
 * (attribute normalisation would turn them into spaces); the characters XML 1.0
 * does not allow (other C0 controls, U+FFFE, U+FFFF) as U+FFFD.  Jansson strings
 * are valid UTF-8, so everything else passes as it is. */
static void put_escaped(struct buf *b, const char *s, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		const char *rep = NULL;
		size_t skip = 0;

		switch (ch) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&apos;";
			break;
		case '\t':
			rep = "&#9;";
			break;
		case '\n':
			rep = "&#10;";
			break;
		case '\r':
			rep = "&#13;";
			break;
		default:
			if (ch < 0x20)
				rep = "\xEF\xBF\xBD";
			else if (ch == 0xEF && i + 2 < n && (unsigned char)s[i + 1] == 0xBF &&
				 ((unsigned char)s[i + 2] == 0xBE ||
				  (unsigned char)s[i + 2] == 0xBF)) {
				rep = "\xEF\xBF\xBD";
				skip = 2;
			}
		}
		if (!rep)
			continue;
		put(b, s + run, i - run);
		puts_(b, rep);
		i += skip;
		run = i + 1;
	}
	put(b, s + run, n - run);
}

static void attr(struct buf *b, const char *name, json_t *v)
{
	char num[32];

	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		v = NULL;
	} else if (!json_is_string(v) || json_string_length(v) == 0) {
		return;
	}
	puts_(b, " ");
	puts_(b, name);
	puts_(b, "=\"");
	if (v)
		put_escaped(b, json_string_value(v), json_string_length(v));
	else
		puts_(b, num);
	puts_(b, "\"");
}

static json_t *first_of(json_t *row, const char *a, const char *b)
{
	json_t *v = json_object_get(row, a);

	if ((json_is_string(v) && json_string_length(v)) || json_is_integer(v))
		return v;
	return json_object_get(row, b);
}

int farm_board_cctray(json_t *items, char **xml, size_t *len)
{
	struct buf b = {NULL, 0, 0, 0};
	size_t i;
	json_t *row;

	*xml = NULL;
	*len = 0;
	puts_(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Projects>\n");
	json_array_foreach(items, i, row)
	{
		json_t *prov = json_object_get(row, "provider"),
		       *proj = json_object_get(row, "project");
		const char *st = json_string_value(json_object_get(row, "status"));

		if (!json_is_string(prov) || !json_is_string(proj))
			continue;
		puts_(&b, "  <Project name=\"");
		put_escaped(&b, json_string_value(prov), json_string_length(prov));
		puts_(&b, ":");
		put_escaped(&b, json_string_value(proj), json_string_length(proj));
		puts_(&b, "\" activity=\"");
		puts_(&b, farm_board_cctray_activity(st));
		puts_(&b, "\" lastBuildStatus=\"");
		puts_(&b, farm_board_cctray_status(st));
		puts_(&b, "\"");
		attr(&b, "lastBuildLabel", first_of(row, "number", "buildId"));
		attr(&b, "lastBuildTime", first_of(row, "finishedAt", "startedAt"));
		attr(&b, "webUrl", json_object_get(row, "url"));
		puts_(&b, "/>\n");
	}
	puts_(&b, "</Projects>\n");
	if (b.oom) {
		free(b.p);
		return FARM_E_NOMEM;
	}
	*xml = b.p;
	*len = b.len;
	return FARM_OK;
}

/* ---- the generation -------------------------------------------------------------- */

struct farm_board_gen {
	_Atomic uint64_t *word; /* the first 8 bytes of <state_dir>/board.gen */
};

int farm_board_gen_open(const char *dir, struct farm_board_gen **out)
{
	struct farm_board_gen *g;
	void *map;
	int rc;

	if (out)
		*out = NULL;
	if (!out)
		return FARM_E_INVAL;
	if ((rc = farm_events_word_map(dir, "board.gen", &map)) != FARM_OK)
		return rc;
	if (!(g = malloc(sizeof(*g)))) {
		munmap(map, FARM_EVENTS_WORD_FILE);
		return FARM_E_NOMEM;
	}
	g->word = map;
	*out = g;
	return FARM_OK;
}

void farm_board_gen_close(struct farm_board_gen *g)
{
	if (!g)
		return;
	munmap((void *)g->word, FARM_EVENTS_WORD_FILE);
	free(g);
}

uint64_t farm_board_gen_read(const struct farm_board_gen *g)
{
	return g ? atomic_load_explicit(g->word, memory_order_acquire) : 0;
}

void farm_board_gen_bump(struct farm_board_gen *g)
{
	if (g)
		atomic_fetch_add_explicit(g->word, 1, memory_order_release);
}
