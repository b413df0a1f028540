/* creds.c - credential validation and sealing (no storage, no HTTP here). */
#include "creds.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "json.h"
#include "store.h"
#include "banned.h"

static const struct farm_cred_field *field_find(const struct farm_cred_field *f, const char *name)
{
	for (; f && f->name; f++)
		if (!strcmp(f->name, name))
			return f;
	return NULL;
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* http(s)://host[:port][/path]: conf.c's URL shape (a host, a port 1..65535, no user
 * info, no query or fragment: the platform's API paths are appended to it), with no
 * character a URL must escape.  0, or -1 with the reason in why. */
static int url_ok(const char *u, char *why, size_t cap)
{
	if (strpbrk(u, "\\\"<>`{}|^")) {
		snprintf(why, cap, "characters a URL must escape");
		return -1;
	}
	if (strlen(u) > 2048) {
		snprintf(why, cap, "longer than 2048 bytes");
		return -1;
	}
	return farm_conf_check(FARM_CONF_URL, u, why, cap);
}

/* The next code point of valid UTF-8 (Jansson checked it); advances *p. */
static unsigned utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	unsigned c = s[0];
	int n = c < 0x80 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;

	if (n)
		c &= 0x3fu >> n;
	for (int i = 1; i <= n && s[i]; i++)
		c = (c << 6) | (s[i] & 0x3f);
	for (int i = 0; i <= n && **p; i++)
		(*p)++;
	return c;
}

/* Bidirectional embeddings, overrides and isolates: they reorder what a name shows
 * (U+202E makes "abc.exe" read "exe.cba"). */
static int is_bidi_control(unsigned c)
{
	return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/* Code points that show nothing: spaces, zero-width characters, fillers, directional
 * marks, variation selectors, tags. */
static int is_invisible(unsigned c)
{
	return c == ' ' || c == '\t' || c == 0xa0 || c == 0xad || c == 0x34f || c == 0x61c ||
	       c == 0x115f || c == 0x1160 || c == 0x17b4 || c == 0x17b5 || c == 0x180e ||
	       (c >= 0x2000 && c <= 0x200f) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       (c >= 0x205f && c <= 0x2064) || c == 0x2800 || c == 0x3000 || c == 0x3164 ||
	       (c >= 0xfe00 && c <= 0xfe0f) || c == 0xfeff || c == 0xffa0 ||
	       (c >= 0x1d173 && c <= 0x1d17a) || (c >= 0xe0000 && c <= 0xe0fff);
}

__attribute__((format(printf, 2, 3))) static void add_err(json_t *errors, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(errors, farm_json_message(msg));
}

int farm_creds_check_name(json_t *name, json_t *errors)
{
	size_t before = json_array_size(errors);
	const char *s = json_string_value(name);

	if (!name)
		add_err(errors, "name is required");
	else if (!s)
		add_err(errors, "name must be a string");
	else if (!*s || strspn(s, " \t") == strlen(s))
		add_err(errors, "name must not be empty");
	else if (strlen(s) > FARM_CREDS_NAME_MAX)
		add_err(errors, "name must be at most 200 bytes");
	else if (has_ctl(s))
		add_err(errors, "name must not contain control characters");
	else {
		const unsigned char *p = (const unsigned char *)s;
		int visible = 0, bidi = 0, c1 = 0;
		while (*p) {
			unsigned c = utf8_next(&p);
			bidi |= is_bidi_control(c);
			c1 |= c >= 0x80 && c <= 0x9f;
			visible |= !is_invisible(c) && !is_bidi_control(c);
		}
		if (c1)
			add_err(errors, "name must not contain control characters");
		else if (bidi)
			add_err(errors, "name must not contain bidirectional control characters "
					"(U+202A-U+202E, U+2066-U+2069)");
		else if (!visible)
			add_err(errors, "name must contain a visible character");
	}
	return (int)(json_array_size(errors) - before);
}

int farm_creds_check_value(const char *type, const struct farm_cred_field *fields,
			   json_t *value, json_t *errors)
{
	return farm_creds_check_value_opts(type, fields, 0, value, errors);
}

int farm_creds_wants_poll(json_t *value)
{
	return json_is_true(json_object_get(value, "poll"));
}

int farm_creds_check_value_opts(const char *type, const struct farm_cred_field *fields,
				unsigned opts, json_t *value, json_t *errors)
{
	size_t before = json_array_size(errors);
	const struct farm_cred_field *f;
	const char *k;
	char why[128];
	json_t *v;

	if (!value) {
		add_err(errors, "value is required");
		goto out;
	}
	if (!json_is_object(value)) {
		add_err(errors, "value must be an object");
		goto out;
	}
	if (!fields)
		goto out; /* the type error is reported by the caller */
	for (f = fields; f->name; f++)
		if ((f->flags & FARM_CRED_REQUIRED) && !json_object_get(value, f->name))
			add_err(errors, "value.%s is required for type %s", f->name, type);
	json_object_foreach(value, k, v)
	{
		const char *s = json_string_value(v);
		if ((opts & FARM_CREDS_POLL) && !strcmp(k, "poll") && !field_find(fields, k)) {
			if (!json_is_boolean(v))
				add_err(errors, "value.poll must be a boolean");
			continue;
		}
		if (!(f = field_find(fields, k))) {
			add_err(errors, "value.%s is not allowed for type %s", k, type);
			continue;
		}
		if (!s) {
			add_err(errors, "value.%s must be a string", k);
			continue;
		}
		if (!*s)
			add_err(errors, "value.%s must not be empty", k);
		else if (strlen(s) > 4096)
			add_err(errors, "value.%s must be at most 4096 bytes", k);
		else if ((f->flags & FARM_CRED_URL) && url_ok(s, why, sizeof(why)) < 0)
			add_err(errors, "value.%s must be an http:// or https:// URL%s%s%s", k,
				strncmp(why, "expected", 8) ? " (" : "",
				strncmp(why, "expected", 8) ? why : "",
				strncmp(why, "expected", 8) ? ")" : "");
		else if (!(f->flags & FARM_CRED_URL) && has_ctl(s))
			add_err(errors, "value.%s must not contain control characters", k);
	}
out:
	return (int)(json_array_size(errors) - before);
}

size_t farm_creds_aad(const char *id, const char *org, const char *type, unsigned char *out)
{
	/* "farm-cred/v1" NUL id NUL ("o:" org | "-") NUL type: unambiguous because no
	 * part may contain NUL. */
	size_t n = 0;
	const char *parts[5] = {"farm-cred/v1", id, org ? "o:" : "-", org ? org : "", type};

	for (int i = 0; i < 5; i++) {
		size_t l = strlen(parts[i]);
		if (n + l + 1 > FARM_CREDS_AAD_MAX)
			l = FARM_CREDS_AAD_MAX - n - 1;
		memcpy(out + n, parts[i], l);
		n += l;
		if (i != 2)
			out[n++] = '\0';
	}
	return n;
}

static void rec_aad(json_t *rec, unsigned char *aad, size_t *len)
{
	json_t *org = json_object_get(rec, "orgId");

	*len = farm_creds_aad(json_string_value(json_object_get(rec, "id")),
			      json_is_string(org) ? json_string_value(org) : NULL,
			      json_string_value(json_object_get(rec, "type")), aad);
}

int farm_creds_seal(const struct farm_keyring *kr, json_t *rec, json_t *value)
{
	unsigned char aad[FARM_CREDS_AAD_MAX];
	size_t aadlen, ctlen = 0;
	unsigned char *ct = NULL;
	char *pt = NULL, *b64 = NULL;
	int rc;

	if (!json_string_value(json_object_get(rec, "id")) ||
	    !json_string_value(json_object_get(rec, "type")))
		return FARM_E_INVAL;
	rec_aad(rec, aad, &aadlen);
	pt = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
	if (!pt)
		return FARM_E_NOMEM;
	rc = farm_crypto_seal(kr, aad, aadlen, pt, strlen(pt), &ct, &ctlen);
	farm_json_free(pt); /* Jansson's allocator wipes it */
	if (rc)
		goto out;
	rc = farm_b64_encode(ct, ctlen, &b64);
	if (rc)
		goto out;
	json_object_set_new(rec, "sealed", json_string(b64));
	json_object_set_new(rec, "keyVersion", json_integer(farm_keyring_current(kr)));
out:
	free(ct);
	free(b64);
	return rc;
}

int farm_creds_open(const struct farm_keyring *kr, json_t *rec, json_t **value)
{
	unsigned char aad[FARM_CREDS_AAD_MAX];
	const char *b64 = json_string_value(json_object_get(rec, "sealed"));
	unsigned char *ct = NULL, *pt = NULL;
	size_t aadlen, ctlen = 0, ptlen = 0;
	json_error_t je;
	int rc;

	*value = NULL;
	if (!b64)
		return FARM_E_INVAL;
	rec_aad(rec, aad, &aadlen);
	rc = farm_b64_decode(b64, strlen(b64), &ct, &ctlen);
	if (rc)
		return rc;
	rc = farm_crypto_open(kr, aad, aadlen, ct, ctlen, &pt, &ptlen);
	free(ct);
	if (rc)
		return rc;
	*value = json_loadb((const char *)pt, ptlen, 0, &je);
	farm_crypto_free_secret(pt, ptlen + 1);
	explicit_bzero(&je, sizeof(je)); /* the error text may quote the plaintext */
	return *value ? FARM_OK : FARM_E_CRYPTO;
}

json_t *farm_creds_public(json_t *rec)
{
	static const char *const keys[] = {"id", "type", "name", "orgId", "createdAt", "updatedAt"};
	json_t *o = json_object();

	for (size_t i = 0; o && i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(rec, keys[i]);
		json_object_set(o, keys[i], v ? v : json_null());
	}
	return o;
}

int farm_creds_same_org(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

struct pick {
	const char *type;
	json_t *best;
};

static int pick_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct pick *p = arg;
	json_t *rec = json_loadb(val, vlen, 0, NULL);
	const char *type = json_string_value(json_object_get(rec, "type"));
	const char *upd = json_string_value(json_object_get(rec, "updatedAt"));

	(void)key;
	(void)klen;
	if (!rec || !type || !upd || strcmp(type, p->type)) {
		json_decref(rec);
		return FARM_OK;
	}
	if (p->best) {
		const char *bu = json_string_value(json_object_get(p->best, "updatedAt"));
		int c = strcmp(upd, bu);
		if (c < 0 || (c == 0 && strcmp(json_string_value(json_object_get(rec, "id")),
					       json_string_value(json_object_get(p->best, "id"))) < 0)) {
			json_decref(rec);
			return FARM_OK;
		}
		json_decref(p->best);
	}
	p->best = rec;
	return FARM_OK;
}

int farm_scoped_get(struct farm_txn *t, enum farm_table tab, const char *id, const char *org, int rmw,
		    json_t **rec)
{
	char *stored = NULL;
	void *val = NULL;
	size_t vlen = 0;
	int found = 0, rc;

	*rec = NULL;
	rc = farm_txn_get_org(t, tab, id, strlen(id), &stored, &found);
	if (rc != FARM_OK && rc != FARM_E_NOTFOUND)
		goto out;
	rc = FARM_OK;
	if (!found || !farm_creds_same_org(stored, org))
		goto out;
	rc = farm_txn_get(t, tab, id, strlen(id), &val, &vlen, rmw);
	if (rc == FARM_OK && !(*rec = json_loadb(val, vlen, 0, NULL)))
		rc = FARM_E_DB;
out:
	free(val);
	free(stored);
	return rc;
}

int farm_creds_pick(struct farm_txn *t, const char *org, const char *type, const char *id,
		    json_t **rec, int *notfound)
{
	struct pick p = {type, NULL};
	int rc;

	*rec = NULL;
	*notfound = 0;
	if (!id) {
		rc = farm_txn_scan(t, FARM_T_CREDS, org, 0, pick_cb, &p);
		if (rc == FARM_OK)
			*rec = p.best;
		else
			json_decref(p.best);
		return rc;
	}
	rc = farm_scoped_get(t, FARM_T_CREDS, id, org, 0, rec);
	*notfound = rc == FARM_OK && !*rec;
	return rc;
}
