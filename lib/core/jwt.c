/* jwt.c - HS256 JSON Web Tokens: verify (algorithm pinned, constant-time signature
 * check, strict JSON) and sign.  Messages in farm_error never quote the token.
 */
#include "jwt.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto.h"

#include "banned.h"

#define SIG_LEN 32

/* 1 when j is the JSON string s (Jansson rejects embedded NULs on load). */
static int json_streq(const json_t *j, const char *s)
{
	return json_is_string(j) && strcmp(json_string_value(j), s) == 0;
}

static int auth_fail(struct farm_error *err, const char *why)
{
	return farm_error_set(err, FARM_E_AUTH, "%s", why);
}

/* Decodes one base64url segment and parses it as a JSON object without duplicate keys. */
static int segment_object(const char *seg, size_t len, json_t **obj, const char **why)
{
	unsigned char *raw = NULL;
	size_t rawlen;
	json_error_t jerr;
	json_t *j;

	*obj = NULL;
	if (farm_b64url_decode(seg, len, &raw, &rawlen)) {
		*why = "invalid base64url";
		return FARM_E_AUTH;
	}
	j = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &jerr);
	free(raw);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		*why = "malformed token";
		return FARM_E_AUTH;
	}
	*obj = j;
	return FARM_OK;
}

static int check_header(const json_t *hdr, const char **why)
{
	const json_t *alg = json_object_get(hdr, "alg");
	const json_t *typ = json_object_get(hdr, "typ");

	if (!json_streq(alg, "HS256")) {
		*why = "unsupported algorithm";
		return FARM_E_AUTH;
	}
	if (json_object_get(hdr, "crit")) {
		*why = "unsupported critical header";
		return FARM_E_AUTH;
	}
	if (typ && !json_streq(typ, "JWT")) {
		*why = "unsupported token type";
		return FARM_E_AUTH;
	}
	return FARM_OK;
}

/* A NumericDate as whole seconds: 0 when it is no number, or a time before 1970 or
 * after the year 9999 (1e300 would make a token that never expires). */
static int numeric_date(const json_t *j, long long *out)
{
	double d;

	if (json_is_integer(j)) {
		*out = (long long)json_integer_value(j);
		return *out >= 0 && *out <= FARM_JWT_TIME_MAX;
	}
	if (!json_is_real(j))
		return 0;
	d = json_real_value(j);
	if (!(d >= 0 && d <= (double)FARM_JWT_TIME_MAX)) /* NaN fails too */
		return 0;
	*out = (long long)d;
	return 1;
}

static long long sat_add(long long a, long long b)
{
	long long r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? LLONG_MAX : LLONG_MIN;
	return r;
}

/* Copies a string claim of at most FARM_CLAIM_MAX bytes; 0 when too long or empty. */
static int claim_copy(char dst[FARM_CLAIM_MAX + 1], const json_t *s)
{
	size_t n = json_string_length(s);

	if (n == 0 || n > FARM_CLAIM_MAX)
		return 0;
	memcpy(dst, json_string_value(s), n);
	dst[n] = '\0';
	return 1;
}

static int is_admin(const json_t *pl)
{
	const json_t *role = json_object_get(pl, "role");
	const json_t *roles = json_object_get(pl, "roles");
	const json_t *r;
	size_t i;

	if (json_streq(role, "admin"))
		return 1;
	if (json_is_array(roles)) {
		json_array_foreach(roles, i, r)
		{
			if (json_streq(r, "admin"))
				return 1;
		}
	}
	return 0;
}

static int check_claims(const json_t *pl, long long now, int leeway, struct farm_claims *c,
			const char **why)
{
	const json_t *exp = json_object_get(pl, "exp");
	const json_t *nbf = json_object_get(pl, "nbf");
	const json_t *iat = json_object_get(pl, "iat");
	const json_t *sub = json_object_get(pl, "sub");
	const json_t *org = json_object_get(pl, "orgId");

	if (leeway < 0)
		leeway = 0;
	if (!exp) {
		*why = "missing exp claim";
		return FARM_E_AUTH;
	}
	if (!numeric_date(exp, &c->exp) || (nbf && !numeric_date(nbf, &c->nbf)) ||
	    (iat && !numeric_date(iat, &c->iat))) {
		*why = "invalid time claim";
		return FARM_E_AUTH;
	}
	if (sat_add(c->exp, leeway) < now) {
		*why = "token expired";
		return FARM_E_AUTH;
	}
	if (nbf && c->nbf > sat_add(now, leeway)) {
		*why = "token not yet valid";
		return FARM_E_AUTH;
	}
	if (!json_is_string(sub) || !claim_copy(c->sub, sub)) {
		*why = "invalid sub claim";
		return FARM_E_AUTH;
	}
	if (json_is_string(org)) {
		if (!claim_copy(c->org, org)) {
			*why = "invalid orgId claim";
			return FARM_E_AUTH;
		}
		c->has_org = 1;
	} else if (org && !json_is_null(org)) {
		*why = "invalid orgId claim";
		return FARM_E_AUTH;
	}
	c->admin = is_admin(pl);
	return FARM_OK;
}

int farm_jwt_verify(const void *secret, size_t slen, const char *token, size_t toklen,
		    long long now, int leeway, struct farm_claims *out, struct farm_error *err)
{
	struct farm_claims c;
	const char *dot1, *dot2, *sig;
	unsigned char mac[SIG_LEN];
	unsigned char *given = NULL;
	size_t givenlen, siglen;
	json_t *hdr = NULL, *pl = NULL;
	const char *why = "malformed token";
	int rc;

	memset(&c, 0, sizeof(c));
	if (out)
		memset(out, 0, sizeof(*out));
	if (!secret || slen == 0 || !out || (!token && toklen))
		return farm_error_set(err, FARM_E_INVAL, "jwt: no secret or no output");
	if (toklen == 0)
		return auth_fail(err, "missing token");
	if (toklen > FARM_JWT_MAX_LEN)
		return auth_fail(err, "token too long");

	rc = FARM_E_AUTH;
	dot1 = memchr(token, '.', toklen);
	if (!dot1)
		goto out;
	dot2 = memchr(dot1 + 1, '.', toklen - (size_t)(dot1 + 1 - token));
	if (!dot2)
		goto out;
	sig = dot2 + 1;
	siglen = toklen - (size_t)(sig - token);
	if (memchr(sig, '.', siglen))
		goto out;

	if ((rc = segment_object(token, (size_t)(dot1 - token), &hdr, &why)))
		goto out;
	if ((rc = check_header(hdr, &why)))
		goto out;

	rc = FARM_E_AUTH;
	why = "bad signature";
	if (farm_b64url_decode(sig, siglen, &given, &givenlen) || givenlen != SIG_LEN)
		goto out;
	if (farm_crypto_hmac_sha256(secret, slen, token, (size_t)(dot2 - token), mac))
		goto out;
	if (!farm_crypto_memeq(mac, given, SIG_LEN))
		goto out;

	why = "malformed token";
	if ((rc = segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), &pl, &why)))
		goto out;
	if ((rc = check_claims(pl, now, leeway, &c, &why)))
		goto out;
	*out = c;
	rc = FARM_OK;
out:
	if (rc)
		farm_error_set(err, rc, "%s", why);
	json_decref(hdr);
	json_decref(pl);
	free(given);
	farm_crypto_wipe(mac, sizeof(mac));
	farm_crypto_wipe(&c, sizeof(c));
	return rc;
}

/* Appends base64url(JSON of obj) to buf at *n (buf holds cap bytes). */
static int put_segment(char *buf, size_t cap, size_t *n, json_t *obj)
{
	char *json = NULL, *enc = NULL;
	size_t len;
	int rc = FARM_E_NOMEM;

	if (!obj)
		goto out;
	json = json_dumps(obj, JSON_COMPACT);
	if (!json)
		goto out;
	if ((rc = farm_b64url_encode(json, strlen(json), &enc)))
		goto out;
	len = strlen(enc);
	rc = FARM_E_TOOBIG;
	if (len >= cap - *n)
		goto out;
	memcpy(buf + *n, enc, len);
	*n += len;
	rc = FARM_OK;
out:
	free(json);
	free(enc);
	return rc;
}

/* Sets key to the string s, or to null when s is NULL.  Jansson refuses strings that
 * are not UTF-8: that is the caller's error. */
static int set_string(json_t *obj, const char *key, const char *s)
{
	json_t *v = s ? json_string(s) : json_null();

	if (!v)
		return FARM_E_INVAL;
	return json_object_set_new(obj, key, v) ? FARM_E_NOMEM : FARM_OK;
}

static int claim_ok(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strnlen(s, FARM_CLAIM_MAX + 1);
	return n > 0 && n <= FARM_CLAIM_MAX;
}

int farm_jwt_sign(const void *secret, size_t slen, const char *sub, const char *org,
		  const char *role, long long iat, long long exp, char **out)
{
	unsigned char mac[SIG_LEN];
	char buf[FARM_JWT_MAX_LEN + 1];
	char *sig = NULL;
	json_t *hdr = NULL, *pl = NULL;
	size_t n = 0, len;
	int rc;

	if (!out)
		return FARM_E_INVAL;
	*out = NULL;
	if (!secret || slen == 0 || !claim_ok(sub) || (org && !claim_ok(org)) ||
	    (role && !claim_ok(role)))
		return FARM_E_INVAL;

	rc = FARM_E_NOMEM;
	hdr = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
	pl = json_object();
	if (!hdr || !pl)
		goto out;
	if ((rc = set_string(pl, "sub", sub)) || (rc = set_string(pl, "orgId", org)) ||
	    (role && (rc = set_string(pl, "role", role))))
		goto out;
	rc = FARM_E_NOMEM;
	if (json_object_set_new(pl, "iat", json_integer(iat)) ||
	    json_object_set_new(pl, "exp", json_integer(exp)))
		goto out;

	if ((rc = put_segment(buf, sizeof(buf), &n, hdr)))
		goto out;
	buf[n++] = '.';
	if ((rc = put_segment(buf, sizeof(buf), &n, pl)))
		goto out;
	if ((rc = farm_crypto_hmac_sha256(secret, slen, buf, n, mac)))
		goto out;
	if ((rc = farm_b64url_encode(mac, sizeof(mac), &sig)))
		goto out;
	len = strlen(sig);
	rc = FARM_E_TOOBIG;
	if (n + 1 + len > FARM_JWT_MAX_LEN)
		goto out;
	buf[n++] = '.';
	memcpy(buf + n, sig, len);
	n += len;
	buf[n] = '\0';
	rc = FARM_E_NOMEM;
	*out = strdup(buf);
	if (!*out)
		goto out;
	rc = FARM_OK;
out:
	json_decref(hdr);
	json_decref(pl);
	free(sig);
	farm_crypto_wipe(mac, sizeof(mac));
	return rc;
}
