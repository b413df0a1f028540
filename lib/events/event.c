/* event.c - webhook bodies → the normalised `ci.build.updated` data, status words,
 * timestamps.  The field mapping for each provider is documented in event.h. */
#include "event.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "events.h"
#include "json.h"
#include "platform.h"
#include "banned.h"

/* Longest dedupe key produced; longer provider ids are refused as malformed. */
#define DEDUPE_KEY_MAX 512

/* ---- status normalisation (providers.md §9.2) ----------------------------------- */

static int word_matches(const char *pattern, const char *word)
{
	size_t plen, wlen;

	if (pattern[0] != '*')
		return strcasecmp(pattern, word) == 0;
	plen = strlen(pattern + 1);
	wlen = strlen(word);
	return wlen > plen && strcasecmp(word + wlen - plen, pattern + 1) == 0;
}

/* The words are the platform's: its descriptor's .statuses (lib/platform/<type>/). */
const char *farm_event_status(const char *provider, const char *kind, const char *word)
{
	const struct farm_platform *pl = farm_platform_find(provider);

	if (!pl || !kind || !word)
		return "unknown";
	for (const struct farm_platform_status *st = pl->statuses; st && st->kind; st++)
		if (strcasecmp(st->kind, kind) == 0 && word_matches(st->word, word))
			return st->status;
	return "unknown";
}

/* ---- timestamps ----------------------------------------------------------------- */

/* Formatting is farm_clock_iso's (clock.c); parsing is here. */
#define EPOCH_MS_MAX FARM_CLOCK_ISO_MS_MAX

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

/* Reads exactly n decimal digits at s[*i]. */
static int digits(const char *s, size_t len, size_t *i, size_t n, unsigned *v)
{
	size_t k;

	if (len - *i < n)
		return 0;
	*v = 0;
	for (k = 0; k < n; k++) {
		char c = s[*i + k];

		if (c < '0' || c > '9')
			return 0;
		*v = *v * 10 + (unsigned)(c - '0');
	}
	*i += n;
	return 1;
}

static int expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || s[*i] != c)
		return 0;
	(*i)++;
	return 1;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

int farm_event_iso8601_parse(const char *s, size_t len, long long *epoch_ms)
{
	unsigned y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0;
	long long offset_min = 0, t;
	size_t i = 0;

	if (!s || !epoch_ms)
		return FARM_E_INVAL;
	if (!digits(s, len, &i, 4, &y) || !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &mo) ||
	    !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &d))
		return FARM_E_INVAL;
	if (i >= len || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
		return FARM_E_INVAL;
	i++;
	if (!digits(s, len, &i, 2, &h) || !expect(s, len, &i, ':') || !digits(s, len, &i, 2, &mi) ||
	    !expect(s, len, &i, ':') || !digits(s, len, &i, 2, &sec))
		return FARM_E_INVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
		return FARM_E_INVAL;

	if (i < len && s[i] == '.') {
		unsigned scale = 100, nd = 0;

		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			ms += (unsigned)(s[i] - '0') * scale;
			scale /= 10;
			i++;
			nd++;
		}
		if (nd == 0)
			return FARM_E_INVAL;
	}

	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1;

		i++;
		if (!digits(s, len, &i, 2, &oh))
			return FARM_E_INVAL;
		if (i < len) {
			expect(s, len, &i, ':');
			if (!digits(s, len, &i, 2, &om))
				return FARM_E_INVAL;
		}
		if (oh > 23 || om > 59)
			return FARM_E_INVAL;
		offset_min = sign * (long long)(oh * 60 + om);
	}
	if (i != len)
		return FARM_E_INVAL;

	t = days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + sec;
	t -= offset_min * 60;
	*epoch_ms = t * 1000 + ms;
	return FARM_OK;
}

int farm_event_iso8601_norm(const char *s, size_t len, char out[FARM_EVENT_TS_LEN])
{
	long long ms;
	int rc;

	if (!out)
		return FARM_E_INVAL;
	out[0] = '\0';
	rc = farm_event_iso8601_parse(s, len, &ms);
	if (rc != FARM_OK)
		return rc;
	return farm_clock_iso(ms, out);
}

/* ---- field caps and serialisation ---------------------------------------------- */

/* The length of the longest prefix of s[0..n) that ends on a UTF-8 character
 * boundary (Jansson strings are valid UTF-8: only continuation bytes are skipped). */
static size_t utf8_prefix(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

static int cap_string(json_t *v)
{
	const size_t mark = sizeof(FARM_EVENT_CUT_MARK) - 1;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), keep;
	char *buf;
	int rc;

	if (n <= FARM_EVENT_FIELD_MAX)
		return 0;
	keep = utf8_prefix(s, FARM_EVENT_FIELD_MAX - mark);
	if (!(buf = malloc(keep + mark)))
		return FARM_E_NOMEM;
	memcpy(buf, s, keep);
	memcpy(buf + keep, FARM_EVENT_CUT_MARK, mark);
	rc = json_string_setn(v, buf, keep + mark) == 0 ? 1 : FARM_E_NOMEM;
	free(buf);
	return rc;
}

/* Nesting depth followed; an event is two levels deep, a member rarely more. */
#define CAP_DEPTH 16

static int cap_value(json_t *v, int depth)
{
	const char *k;
	json_t *m;
	size_t i;
	int n = 0, rc;

	if (json_is_string(v))
		return cap_string(v);
	if (depth >= CAP_DEPTH)
		return 0; /* farm_event_dump's size check still bounds the whole */
	if (json_is_object(v)) {
		json_object_foreach(v, k, m) {
			if ((rc = cap_value(m, depth + 1)) < 0)
				return rc;
			n += rc;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if ((rc = cap_value(m, depth + 1)) < 0)
				return rc;
			n += rc;
		}
	}
	return n;
}

int farm_event_cap(json_t *v)
{
	return v ? cap_value(v, 0) : 0;
}

/* Room for the id farm-eventd writes over data.id's null: "18446744073709551615". */
#define EVENT_ID_ROOM 20

int farm_event_dump(json_t *ev, char **json, size_t *len)
{
	char *s;
	size_t n;
	int rc;

	*json = NULL;
	*len = 0;
	if (!json_is_object(ev) || !json_is_object(json_object_get(ev, "data")))
		return FARM_E_INVAL;
	if ((rc = farm_event_cap(ev)) < 0)
		return rc;
	if (!(s = json_dumps(ev, JSON_COMPACT)))
		return FARM_E_NOMEM;
	n = strlen(s);
	if (n + EVENT_ID_ROOM > FARM_EVENTS_JSON_MAX) {
		farm_json_free(s);
		return FARM_E_TOOBIG;
	}
	*json = s;
	*len = n;
	return FARM_OK;
}

/* ---- building the event --------------------------------------------------------- */

/* The members of `data`, in the order of the contract. */
static const char *const event_fields[] = {
    "provider",	      "project", "name",      "buildId", "number",    "status",
    "providerStatus", "branch",	 "commitSha", "url",	 "startedAt", "finishedAt",
};

json_t *farm_event_new(const char *provider)
{
	json_t *o = json_object();
	size_t i;

	if (!o)
		return NULL;
	for (i = 0; i < sizeof(event_fields) / sizeof(event_fields[0]); i++) {
		if (json_object_set_new(o, event_fields[i], json_null()) != 0)
			goto fail;
	}
	if (json_object_set_new(o, "provider", json_string(provider)) != 0 ||
	    json_object_set_new(o, "status", json_string("unknown")) != 0)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* The string of v when it is a non-empty JSON string, else NULL. */
const char *farm_event_str(json_t *v)
{
	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	return json_string_value(v);
}

/* An integer from a JSON integer or a string of 1-18 decimal digits. */
int farm_event_int(json_t *v, long long *out)
{
	const char *s;
	size_t n, i;
	long long x = 0;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 1;
	}
	s = farm_event_str(v);
	if (!s)
		return 0;
	n = json_string_length(v);
	if (n > 18)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		x = x * 10 + (s[i] - '0');
	}
	*out = x;
	return 1;
}

/* A deferred-error setter: the first allocation failure sticks in *nomem. */
void farm_event_set(json_t *o, const char *key, json_t *v, int *nomem)
{
	if (json_object_set_new(o, key, v) != 0)
		*nomem = 1;
}

/* Sets key to the string s, or leaves it null when s is NULL. */
void farm_event_set_str(json_t *o, const char *key, const char *s, int *nomem)
{
	if (s)
		farm_event_set(o, key, json_string(s), nomem);
}

/* Sets key to the normalised timestamp in v; leaves it null when v is not one. */
void farm_event_set_ts(json_t *o, const char *key, json_t *v, int *nomem)
{
	char ts[FARM_EVENT_TS_LEN];

	if (!json_is_string(v) ||
	    farm_event_iso8601_norm(json_string_value(v), json_string_length(v), ts) != FARM_OK)
		return;
	farm_event_set(o, key, json_string(ts), nomem);
}

void farm_event_set_ts_ms(json_t *o, const char *key, long long ms, int *nomem)
{
	char ts[FARM_EVENT_TS_LEN];

	if (farm_clock_iso(ms, ts) == FARM_OK)
		farm_event_set(o, key, json_string(ts), nomem);
}

/* Formats a new string (malloc), or NULL when out of memory or over DEDUPE_KEY_MAX. */
char *farm_event_key(int *too_long, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	*too_long = 0;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	if (n > DEDUPE_KEY_MAX) {
		*too_long = 1;
		return NULL;
	}
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* Parses a body that must be a JSON object of at most FARM_EVENT_BODY_MAX bytes. */
int farm_event_load(const char *provider, const void *body, size_t len, json_t **root,
		       struct farm_error *err)
{
	json_error_t jerr;

	*root = NULL;
	if (!body && len)
		return farm_error_set(err, FARM_E_INVAL, "%s payload: no body", provider);
	if (len > FARM_EVENT_BODY_MAX)
		return farm_error_set(err, FARM_E_TOOBIG, "%s payload is larger than %d bytes",
				      provider, FARM_EVENT_BODY_MAX);
	*root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!*root)
		return farm_error_set(err, FARM_E_INVAL,
				      "%s payload: malformed JSON at line %d, column %d "
				      "(byte %d): %s",
				      provider, jerr.line, jerr.column, jerr.position,
				      farm_json_error_reason(&jerr));
	if (!json_is_object(*root)) {
		json_decref(*root);
		*root = NULL;
		return farm_error_set(err, FARM_E_INVAL, "%s payload is not a JSON object",
				      provider);
	}
	return FARM_OK;
}

/* Hands data and key to the caller, or frees them and reports why. */
int farm_event_finish(json_t *data, char *key, int nomem, int too_long, json_t **out_data,
		  char **out_key, const char *provider, struct farm_error *err)
{
	if (data && key && !nomem) {
		*out_data = data;
		*out_key = key;
		return FARM_OK;
	}
	json_decref(data);
	free(key);
	if (too_long)
		return farm_error_set(err, FARM_E_INVAL, "%s payload: delivery id too long",
				      provider);
	return farm_error_set(err, FARM_E_NOMEM, "%s payload: out of memory", provider);
}

int farm_event_out_init(json_t **data, char **dedupe_key, struct farm_error *err)
{
	if (data)
		*data = NULL;
	if (dedupe_key)
		*dedupe_key = NULL;
	if (!data || !dedupe_key)
		return farm_error_set(err, FARM_E_INVAL, "no output pointer");
	return FARM_OK;
}
