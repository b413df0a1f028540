/* test-webhook.c - webhook authenticity: CircleCI HMAC header, Jenkins token and Basic,
 * form decoding, and Travis CI RSA-SHA1 signatures made with a key generated here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <jansson.h>

#include "crypto.h"
#include "tap.h"
#include "webhook.h"
#include "circleci.h"
#include "travisci.h"

#include "banned.h"

/* ---- CircleCI ------------------------------------------------------------------ */

/* The published CircleCI test vectors (providers.md §2.3, CircleCI docs). */
static const struct {
	const char *body, *secret, *v1;
} cci_vectors[] = {
    {"hello world", "secret", "734cc62f32841568f45715aeb9f4d7891324e6d948e4c6c60c0621cdac48623a"},
    {"lalala", "another-secret",
     "daa220016c8f29a8b214fbfc3671aeec2145cfb1e6790184ffb38b6d0425fa00"},
    {"an-important-request-payload", "hunter123",
     "9be2242094a9a8c00c64306f382a7f9d691de910b4a266f67bd314ef18ac49fa"},
    {"foo", "secret", "773ba44693c7553d6ee20f61ea5d2757a9a4f4a44d2841ae4e95b52e4cd62db4"},
};

static int cci(const char *header, const char *secret, const char *body)
{
	return farm_webhook_circleci_verify(header, secret, strlen(secret), body, strlen(body));
}

static void test_circleci(void)
{
	char hdr[512];
	size_t i;
	const char *v = cci_vectors[0].v1; /* "hello world" / "secret" */
	char *big;

	for (i = 0; i < sizeof(cci_vectors) / sizeof(cci_vectors[0]); i++) {
		char name[96];

		snprintf(hdr, sizeof(hdr), "v1=%s", cci_vectors[i].v1);
		snprintf(name, sizeof(name), "circleci: published vector %zu verifies", i + 1);
		is_int(cci(hdr, cci_vectors[i].secret, cci_vectors[i].body), FARM_OK, name);
	}
	/* Each vector's signature belongs to its own (body, secret) only. */
	snprintf(hdr, sizeof(hdr), "v1=%s", cci_vectors[3].v1);
	is_int(cci(hdr, "secret", "hello world"), FARM_E_AUTH,
	       "circleci: another body's signature is refused");
	snprintf(hdr, sizeof(hdr), "v1=%s", v);
	is_int(cci(hdr, "Secret", "hello world"), FARM_E_AUTH, "circleci: wrong secret refused");
	is_int(cci(hdr, "secret", "hello world "), FARM_E_AUTH,
	       "circleci: tampered body (one byte added) refused");
	is_int(cci(hdr, "secret", "hello World"), FARM_E_AUTH,
	       "circleci: tampered body (one byte changed) refused");
	is_int(farm_webhook_circleci_verify(hdr, "", 0, "hello world", 11), FARM_E_AUTH,
	       "circleci: an empty secret never verifies");
	is_int(farm_webhook_circleci_verify(hdr, NULL, 6, "hello world", 11), FARM_E_AUTH,
	       "circleci: a NULL secret never verifies");

	/* Rotation: several v1, any one valid is enough, wherever it stands. */
	snprintf(hdr, sizeof(hdr), "v1=%s,v1=%s", cci_vectors[1].v1, v);
	is_int(cci(hdr, "secret", "hello world"), FARM_OK, "circleci: second of two v1 matches");
	snprintf(hdr, sizeof(hdr), "v1=%s,v1=%s", v, cci_vectors[1].v1);
	is_int(cci(hdr, "secret", "hello world"), FARM_OK, "circleci: first of two v1 matches");
	snprintf(hdr, sizeof(hdr), "v2=abc, v1=%s ,v3=zz", v);
	is_int(cci(hdr, "secret", "hello world"), FARM_OK,
	       "circleci: v1 among other versions, with spaces, matches");
	snprintf(hdr, sizeof(hdr), "v1=%s,v1=%s", cci_vectors[1].v1, cci_vectors[2].v1);
	is_int(cci(hdr, "secret", "hello world"), FARM_E_AUTH,
	       "circleci: two v1, none matching, refused");

	/* Only v1 counts: the right MAC under another version is no proof. */
	snprintf(hdr, sizeof(hdr), "v0=%s", v);
	is_int(cci(hdr, "secret", "hello world"), FARM_E_AUTH, "circleci: v0-only header refused");
	snprintf(hdr, sizeof(hdr), "v2=%s,v0=%s", v, v);
	is_int(cci(hdr, "secret", "hello world"), FARM_E_AUTH,
	       "circleci: right MAC under v2/v0 refused");
	snprintf(hdr, sizeof(hdr), "V1=%s", v);
	is_int(cci(hdr, "secret", "hello world"), FARM_E_AUTH,
	       "circleci: version is case-sensitive (V1 is not v1)");
	snprintf(hdr, sizeof(hdr), "%s", v);
	is_int(cci(hdr, "secret", "hello world"), FARM_E_AUTH,
	       "circleci: bare hex without v1= refused");

	/* Malformed signatures. */
	snprintf(hdr, sizeof(hdr), "v1=%.62szz", v);
	is_int(cci(hdr, "secret", "hello world"), FARM_E_AUTH, "circleci: bad hex refused");
	snprintf(hdr, sizeof(hdr), "v1=%.63s", v);
	is_int(cci(hdr, "secret", "hello world"), FARM_E_AUTH, "circleci: odd-length hex refused");
	snprintf(hdr, sizeof(hdr), "v1=%.62s", v);
	is_int(cci(hdr, "secret", "hello world"), FARM_E_AUTH,
	       "circleci: truncated MAC (31 bytes) refused");
	snprintf(hdr, sizeof(hdr), "v1=%s00", v);
	is_int(cci(hdr, "secret", "hello world"), FARM_E_AUTH,
	       "circleci: MAC with a trailing extra byte refused");
	is_int(cci("", "secret", "hello world"), FARM_E_AUTH, "circleci: empty header refused");
	is_int(farm_webhook_circleci_verify(NULL, "secret", 6, "hello world", 11), FARM_E_AUTH,
	       "circleci: missing header refused");
	is_int(cci("v1=", "secret", "hello world"), FARM_E_AUTH, "circleci: empty v1 refused");
	is_int(cci("v1", "secret", "hello world"), FARM_E_AUTH, "circleci: v1 without = refused");
	is_int(cci(",,,", "secret", "hello world"), FARM_E_AUTH, "circleci: only commas refused");

	/* Bounded header: a valid v1 behind padding past the limit is not looked at. */
	big = malloc(FARM_WEBHOOK_SIG_HEADER_MAX + 128);
	if (big) {
		size_t pad = FARM_WEBHOOK_SIG_HEADER_MAX - 60;

		memset(big, ',', pad);
		snprintf(big + pad, 128, "v1=%s", v);
		is_int(cci(big, "secret", "hello world"), FARM_E_AUTH,
		       "circleci: header over FARM_WEBHOOK_SIG_HEADER_MAX refused");
		pad = FARM_WEBHOOK_SIG_HEADER_MAX - 67;
		memset(big, ',', pad);
		snprintf(big + pad, 128, "v1=%s", v);
		is_int((int)strlen(big), FARM_WEBHOOK_SIG_HEADER_MAX,
		       "circleci: header at the limit");
		is_int(cci(big, "secret", "hello world"), FARM_OK,
		       "circleci: header exactly at the limit still verifies");
		free(big);
	}

	/* A realistic JSON body signed here with the module's own HMAC, then checked. */
	{
		const char *body = "{\"id\":\"3f1c\",\"type\":\"workflow-completed\"}\n";
		unsigned char mac[32];
		char *hex = NULL;

		if (farm_crypto_hmac_sha256("s3cr3t", 6, body, strlen(body), mac) == FARM_OK &&
		    farm_hex_encode(mac, sizeof(mac), &hex) == FARM_OK) {
			snprintf(hdr, sizeof(hdr), "v1=%s", hex);
			is_int(cci(hdr, "s3cr3t", body), FARM_OK,
			       "circleci: JSON body with trailing newline verifies");
			is_int(
			    farm_webhook_circleci_verify(hdr, "s3cr3t", 6, body, strlen(body) - 1),
			    FARM_E_AUTH, "circleci: re-serialised body (newline lost) refused");
		} else {
			ok(0, "circleci: could not compute HMAC for the JSON body");
		}
		free(hex);
	}
}

/* ---- Jenkins -------------------------------------------------------------------- */

static void test_token(void)
{
	is_int(farm_webhook_token_verify("t0ken", 5, "t0ken", 5), FARM_OK, "token: equal accepted");
	is_int(farm_webhook_token_verify("t0keN", 5, "t0ken", 5), FARM_E_AUTH,
	       "token: one byte different refused");
	is_int(farm_webhook_token_verify("t0ke", 4, "t0ken", 5), FARM_E_AUTH,
	       "token: prefix refused");
	is_int(farm_webhook_token_verify("t0kenX", 6, "t0ken", 5), FARM_E_AUTH,
	       "token: longer refused");
	is_int(farm_webhook_token_verify("", 0, "", 0), FARM_E_AUTH,
	       "token: empty expected never verifies, even against empty");
	is_int(farm_webhook_token_verify("x", 1, NULL, 0), FARM_E_AUTH,
	       "token: no configured token refused");
	is_int(farm_webhook_token_verify(NULL, 0, "t0ken", 5), FARM_E_AUTH,
	       "token: missing token refused");
}

static char *basic_header(const char *scheme, const void *cred, size_t len)
{
	char *b64 = NULL, *h = NULL;
	size_t n;

	if (farm_b64_encode(cred, len, &b64) != FARM_OK)
		return NULL;
	n = strlen(scheme) + strlen(b64) + 2;
	h = malloc(n);
	if (h)
		snprintf(h, n, "%s %s", scheme, b64);
	free(b64);
	return h;
}

static void basic_case(const char *scheme, const void *cred, size_t len, int want_rc,
		       const char *want_pw, const char *name)
{
	char *h = basic_header(scheme, cred, len), *pw = NULL;
	int rc;

	if (!h) {
		ok(0, name);
		return;
	}
	rc = farm_webhook_basic_password(h, &pw);
	if (want_rc == FARM_OK) {
		ok(rc == FARM_OK && pw && strcmp(pw, want_pw) == 0, name);
	} else {
		ok(rc == want_rc && pw == NULL, name);
	}
	if (pw)
		farm_crypto_free_secret(pw, strlen(pw) + 1);
	free(h);
}

static void test_basic(void)
{
	char *pw = NULL;

	basic_case("Basic", "jenkins:s3cret", 14, FARM_OK, "s3cret", "basic: user:pass → pass");
	basic_case("basic", "jenkins:s3cret", 14, FARM_OK, "s3cret",
		   "basic: scheme is case-insensitive");
	basic_case("Basic", "jenkins:a:b:c", 13, FARM_OK, "a:b:c",
		   "basic: password keeps its own colons");
	basic_case("Basic", ":only-pass", 10, FARM_OK, "only-pass", "basic: empty user");
	basic_case("Basic", "jenkins:", 8, FARM_OK, "", "basic: empty password is empty");
	basic_case("Basic", "no-colon", 8, FARM_E_AUTH, NULL, "basic: no colon refused");
	basic_case("Basic", "jen\0kins:pw", 11, FARM_E_AUTH, NULL, "basic: NUL byte refused");
	basic_case("Bearer", "jenkins:s3cret", 14, FARM_E_AUTH, NULL,
		   "basic: other scheme refused");

	is_int(farm_webhook_basic_password("Basic amVua2luczpzM2NyZXQ=  ", &pw), FARM_OK,
	       "basic: trailing spaces tolerated");
	is_str(pw, "s3cret", "basic: ... and the password read");
	if (pw)
		farm_crypto_free_secret(pw, strlen(pw) + 1);
	pw = (char *)1;
	is_int(farm_webhook_basic_password("Basic amVua2luczpzM2NyZXQ", &pw), FARM_E_AUTH,
	       "basic: bad base64 (missing padding) refused");
	ok(pw == NULL, "basic: *password is NULL on failure");
	is_int(farm_webhook_basic_password("Basic !!!!", &pw), FARM_E_AUTH,
	       "basic: non-base64 characters refused");
	is_int(farm_webhook_basic_password("Basic", &pw), FARM_E_AUTH,
	       "basic: scheme without credentials refused");
	is_int(farm_webhook_basic_password("Basic    ", &pw), FARM_E_AUTH,
	       "basic: blank credentials refused");
	is_int(farm_webhook_basic_password("BasicamVua2luczpzM2NyZXQ=", &pw), FARM_E_AUTH,
	       "basic: no space after the scheme refused");
	is_int(farm_webhook_basic_password(NULL, &pw), FARM_E_AUTH, "basic: no header refused");
}

/* ---- form decoding ------------------------------------------------------------- */

static void form_ok(const char *body, const char *name, const char *want, size_t wantlen,
		    const char *tname)
{
	char *out = NULL;
	size_t n = 0;
	int rc = farm_form_field(body, strlen(body), name, &out, &n);

	ok(rc == FARM_OK && out && n == wantlen && memcmp(out, want, wantlen) == 0 &&
	       out[n] == '\0',
	   tname);
	if (rc != FARM_OK || !out || n != wantlen || memcmp(out, want, wantlen) != 0)
		diag("rc %d, got '%s' (%zu bytes), want '%s'", rc, out ? out : "(null)", n, want);
	free(out);
}

static void test_form(void)
{
	char *out = (char *)1;
	size_t n = 99;

	form_ok("payload=a+b", "payload", "a b", 3, "form: '+' is a space");
	form_ok("payload=a%2Bb", "payload", "a+b", 3, "form: %2B is a plus");
	form_ok("payload=%7b%22id%22%3A1%7D", "payload", "{\"id\":1}", 8,
		"form: escapes in either hex case");
	form_ok("payload=a%20b+c%25", "payload", "a b c%", 6, "form: %20, + and %25 together");
	form_ok("payload=first&payload=second", "payload", "first", 5,
		"form: repeated field → the first value");
	form_ok("payloadx=1&xpayload=2&payload=3", "payload", "3", 1,
		"form: names must match exactly");
	form_ok("pay%6Coad=x", "payload", "x", 1, "form: field names are decoded too");
	form_ok("a+b=1", "a b", "1", 1, "form: '+' in a name is a space");
	form_ok("&&payload=v&", "payload", "v", 1, "form: empty pairs are skipped");
	form_ok("payload=", "payload", "", 0, "form: empty value");
	form_ok("flag&payload=1", "flag", "", 0, "form: a field without '=' has the empty value");
	form_ok("payload=a=b", "payload", "a=b", 3, "form: '=' inside a value is kept");
	form_ok("payload=a%00b", "payload", "a\0b", 3, "form: %00 decodes, length counts it");
	form_ok("payload=%E2%9C%93", "payload", "\xe2\x9c\x93", 3, "form: UTF-8 bytes");

	is_int(farm_form_field("payload=%zz", 11, "payload", &out, &n), FARM_E_INVAL,
	       "form: bad escape %zz refused");
	ok(out == NULL && n == 0, "form: outputs cleared on failure");
	is_int(farm_form_field("payload=ab%2", 12, "payload", &out, &n), FARM_E_INVAL,
	       "form: truncated escape refused");
	is_int(farm_form_field("payload=ab%", 11, "payload", &out, &n), FARM_E_INVAL,
	       "form: lone % at the end refused");
	is_int(farm_form_field("other=%g1&payload=ok", 20, "payload", &out, &n), FARM_E_INVAL,
	       "form: a bad escape anywhere in the body refuses it");
	is_int(farm_form_field("other=1", 7, "payload", &out, &n), FARM_E_NOTFOUND,
	       "form: missing field");
	is_int(farm_form_field("", 0, "payload", &out, &n), FARM_E_NOTFOUND,
	       "form: empty body has no field");
	is_int(farm_form_field("payload=abc", 3, "payload", &out, &n), FARM_E_NOTFOUND,
	       "form: blen bounds the body (no NUL needed)");
	is_int(farm_form_field("payload=abcdef", 10, "payload", &out, &n), FARM_OK,
	       "form: body cut by blen");
	is_str(out, "ab", "form: ... value ends at blen");
	free(out);
}

/* ---- Travis CI ------------------------------------------------------------------ */

/* Form-encodes like Ruby's URI.encode_www_form_component (what Travis uses). */
static char *form_encode(const char *s, size_t n)
{
	static const char hexd[] = "0123456789ABCDEF";
	char *o = malloc(n * 3 + 1), *p = o;
	size_t i;

	if (!o)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '*' || c == '-' || c == '.' || c == '_') {
			*p++ = (char)c;
		} else if (c == ' ') {
			*p++ = '+';
		} else {
			*p++ = '%';
			*p++ = hexd[c >> 4];
			*p++ = hexd[c & 15];
		}
	}
	*p = '\0';
	return o;
}

/* Signs like Travis: RSA PKCS#1 v1.5 with SHA-1, base64. */
static char *travis_sign(gnutls_privkey_t priv, const void *data, size_t len)
{
	gnutls_datum_t d = {(unsigned char *)(uintptr_t)data, (unsigned)len}, sig = {NULL, 0};
	char *b64 = NULL;

	if (gnutls_privkey_sign_data(priv, GNUTLS_DIG_SHA1, 0, &d, &sig) < 0)
		return NULL;
	if (farm_b64_encode(sig.data, sig.size, &b64) != FARM_OK)
		b64 = NULL;
	gnutls_free(sig.data);
	return b64;
}

static int gen_key(gnutls_privkey_t *priv, char **pem)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t out = {NULL, 0};
	int ok_ = 0;

	*priv = NULL;
	*pem = NULL;
	if (gnutls_privkey_init(priv) < 0 ||
	    gnutls_privkey_generate(*priv, GNUTLS_PK_RSA, 2048, 0) < 0 ||
	    gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_privkey(pub, *priv, 0, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &out) < 0)
		goto out;
	*pem = malloc(out.size + 1);
	if (!*pem)
		goto out;
	memcpy(*pem, out.data, out.size);
	(*pem)[out.size] = '\0';
	ok_ = 1;
out:
	gnutls_free(out.data);
	gnutls_pubkey_deinit(pub);
	return ok_;
}

/* DER INTEGER of an unsigned big-endian magnitude. */
static size_t der_int(unsigned char *o, const gnutls_datum_t *v)
{
	const unsigned char *p = v->data;
	size_t n = v->size, len, k = 0;

	while (n > 1 && p[0] == 0) {
		p++;
		n--;
	}
	len = n + (p[0] & 0x80 ? 1 : 0);
	o[k++] = 0x02;
	if (len < 128) {
		o[k++] = (unsigned char)len;
	} else {
		o[k++] = 0x82;
		o[k++] = (unsigned char)(len >> 8);
		o[k++] = (unsigned char)len;
	}
	if (p[0] & 0x80)
		o[k++] = 0;
	memcpy(o + k, p, n);
	return k + n;
}

/* The same public key as a PKCS#1 "RSA PUBLIC KEY" PEM block. */
static char *pkcs1_pem(const char *spki_pem)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t in = {(unsigned char *)(uintptr_t)spki_pem, (unsigned)strlen(spki_pem)};
	gnutls_datum_t m = {NULL, 0}, e = {NULL, 0}, der, out = {NULL, 0};
	unsigned char body[1200], seq[1210];
	size_t blen, slen = 0;
	char *pem = NULL;

	if (gnutls_pubkey_init(&pub) < 0 ||
	    gnutls_pubkey_import(pub, &in, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_pubkey_export_rsa_raw(pub, &m, &e) < 0 || m.size > 1100)
		goto out;
	blen = der_int(body, &m);
	blen += der_int(body + blen, &e);
	seq[slen++] = 0x30;
	seq[slen++] = 0x82;
	seq[slen++] = (unsigned char)(blen >> 8);
	seq[slen++] = (unsigned char)blen;
	memcpy(seq + slen, body, blen);
	der.data = seq;
	der.size = (unsigned)(slen + blen);
	if (gnutls_pem_base64_encode2("RSA PUBLIC KEY", &der, &out) < 0)
		goto out;
	pem = malloc(out.size + 1);
	if (pem) {
		memcpy(pem, out.data, out.size);
		pem[out.size] = '\0';
	}
out:
	gnutls_free(m.data);
	gnutls_free(e.data);
	gnutls_free(out.data);
	gnutls_pubkey_deinit(pub);
	return pem;
}

static int tv(const char *pem, const char *sig, const void *payload, size_t plen)
{
	return farm_webhook_travis_verify(pem, strlen(pem), sig, payload, plen);
}

static void test_travis(void)
{
	gnutls_privkey_t priv = NULL, other = NULL;
	char *pem = NULL, *other_pem = NULL, *payload = NULL, *enc = NULL, *body = NULL;
	char *sig = NULL, *sig_enc = NULL, *sig_other = NULL, *decoded = NULL, *p1 = NULL;
	char *cfg = NULL, *pem_cfg = NULL, *tampered = NULL;
	size_t declen = 0, bodylen;
	json_t *j;

	if (!ok(gen_key(&priv, &pem), "travis: generated an RSA-2048 key pair") ||
	    !ok(gen_key(&other, &other_pem), "travis: generated a second key pair"))
		goto out;

	/* A payload shaped like Travis' (TR-TASK payload.rb), with characters that the
	 * form encoding changes: spaces, '+', '/', ':', quotes, and UTF-8. */
	j = json_pack("{s:I, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:{s:I, s:s, s:s}}", "id",
		      (json_int_t)901234567, "number", "42", "state", "passed", "status_message",
		      "Passed", "result", 0, "branch", "feature/a+b", "message",
		      "Fix: 100% \"quoted\" — détails", "build_url",
		      "https://app.travis-ci.com/github/octo-org/widget/builds/901234567",
		      "started_at", "2024-03-05T10:00:01Z", "repository", "id", (json_int_t)777,
		      "name", "widget", "owner_name", "octo-org");
	payload = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!ok(payload != NULL, "travis: payload JSON built"))
		goto out;
	enc = form_encode(payload, strlen(payload));
	bodylen = strlen(enc) + 8 + 1;
	body = malloc(bodylen);
	if (!enc || !body)
		goto out;
	snprintf(body, bodylen, "payload=%s", enc);
	ok(strcmp(enc, payload) != 0, "travis: the encoded payload differs from the JSON");

	sig = travis_sign(priv, payload, strlen(payload));
	sig_enc = travis_sign(priv, enc, strlen(enc));
	sig_other = travis_sign(other, payload, strlen(payload));
	if (!ok(sig && sig_enc && sig_other, "travis: signed with SHA-1 like Travis"))
		goto out;

	/* The receiver's path: form-decode, then verify the decoded bytes. */
	is_int(farm_form_field(body, strlen(body), "payload", &decoded, &declen), FARM_OK,
	       "travis: payload field found in the form body");
	ok(decoded && declen == strlen(payload) && memcmp(decoded, payload, declen) == 0,
	   "travis: form decoding gives back the exact JSON bytes");
	if (!decoded)
		goto out;
	is_int(tv(pem, sig, decoded, declen), FARM_OK, "travis: valid signature verifies");
	is_int(tv(pem, sig, enc, strlen(enc)), FARM_E_AUTH,
	       "travis: signature checked against the encoded payload fails");
	is_int(tv(pem, sig_enc, decoded, declen), FARM_E_AUTH,
	       "travis: signature made over the encoded payload fails");
	is_int(tv(pem, sig, body, strlen(body)), FARM_E_AUTH,
	       "travis: signature checked against the raw body fails");
	is_int(tv(pem, sig_other, decoded, declen), FARM_E_AUTH,
	       "travis: signature by another key fails");
	is_int(tv(other_pem, sig, decoded, declen), FARM_E_AUTH,
	       "travis: verifying with another key fails");

	tampered = malloc(declen);
	if (tampered) {
		char *at;

		memcpy(tampered, decoded, declen);
		at = memchr(tampered, '4', declen); /* inside "number":"42" or the id */
		if (at)
			*at = '5';
		is_int(tv(pem, sig, tampered, declen), FARM_E_AUTH,
		       "travis: tampered payload (one digit) fails");
		is_int(tv(pem, sig, decoded, declen - 1), FARM_E_AUTH,
		       "travis: truncated payload fails");
	}

	/* Signature encoding problems. */
	is_int(tv(pem, "not base64!", decoded, declen), FARM_E_AUTH, "travis: bad base64 fails");
	is_int(tv(pem, "", decoded, declen), FARM_E_AUTH, "travis: empty signature fails");
	is_int(farm_webhook_travis_verify(pem, strlen(pem), NULL, decoded, declen), FARM_E_AUTH,
	       "travis: missing signature fails");
	is_int(tv(pem, "aGVsbG8=", decoded, declen), FARM_E_AUTH,
	       "travis: short (valid base64) signature fails");
	{
		char *cut = strdup(sig);

		if (cut) {
			cut[strlen(cut) - 4] = '\0';
			is_int(tv(pem, cut, decoded, declen), FARM_E_AUTH,
			       "travis: signature missing its last base64 quantum fails");
			free(cut);
		}
	}

	/* Key problems. */
	is_int(tv("not a key", sig, decoded, declen), FARM_E_INVAL, "travis: garbage key → INVAL");
	is_int(farm_webhook_travis_verify(pem, 0, sig, decoded, declen), FARM_E_INVAL,
	       "travis: empty key → INVAL");
	{
		char *broken = strdup(pem);

		if (broken) {
			broken[40] = broken[40] == 'A' ? 'B' : 'A'; /* inside the DER */
			ok(tv(broken, sig, decoded, declen) != FARM_OK,
			   "travis: corrupted key never verifies");
			free(broken);
		}
	}
	{
		gnutls_privkey_t ec = NULL;
		gnutls_pubkey_t ecpub = NULL;
		gnutls_datum_t ecpem = {NULL, 0};

		if (gnutls_privkey_init(&ec) >= 0 &&
		    gnutls_privkey_generate(ec, GNUTLS_PK_ECDSA,
					    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
					    0) >= 0 &&
		    gnutls_pubkey_init(&ecpub) >= 0 &&
		    gnutls_pubkey_import_privkey(ecpub, ec, 0, 0) >= 0 &&
		    gnutls_pubkey_export2(ecpub, GNUTLS_X509_FMT_PEM, &ecpem) >= 0)
			is_int(farm_webhook_travis_verify((char *)ecpem.data, ecpem.size, sig,
							  decoded, declen),
			       FARM_E_INVAL, "travis: an EC public key → INVAL (RSA only)");
		else
			ok(0, "travis: could not make an EC key");
		gnutls_free(ecpem.data);
		gnutls_pubkey_deinit(ecpub);
		gnutls_privkey_deinit(ec);
	}

	/* The same key in PKCS#1 form. */
	p1 = pkcs1_pem(pem);
	if (ok(p1 && strstr(p1, "BEGIN RSA PUBLIC KEY"), "travis: key re-encoded as PKCS#1")) {
		is_int(tv(p1, sig, decoded, declen), FARM_OK,
		       "travis: RSA PUBLIC KEY (PKCS#1) verifies");
		is_int(tv(p1, sig_enc, decoded, declen), FARM_E_AUTH,
		       "travis: ... and refuses a wrong signature");
	}

	/* Key from the Travis API /config response. */
	j = json_pack("{s:{s:s, s:{s:{s:s}, s:{s:s}}}}", "config", "host", "travis-ci.com",
		      "notifications", "webhook", "public_key", pem, "email", "x", "y");
	cfg = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (cfg) {
		is_int(farm_webhook_travis_key_from_config(cfg, strlen(cfg), &pem_cfg), FARM_OK,
		       "travis config: public_key extracted");
		is_str(pem_cfg, pem, "travis config: PEM unescaped intact (newlines)");
		if (pem_cfg)
			is_int(tv(pem_cfg, sig, decoded, declen), FARM_OK,
			       "travis config: the extracted key verifies the delivery");
	}
	{
		static const char *const bad[] = {
		    "{\"config\":{\"notifications\":{\"webhook\":{}}}}",
		    "{\"config\":{\"notifications\":{\"webhook\":{\"public_key\":42}}}}",
		    "{\"config\":{\"notifications\":{\"webhook\":{\"public_key\":\"\"}}}}",
		    "{\"config\":{\"notifications\":[]}}",
		    "{}",
		};
		size_t i;
		char *x = (char *)1;
		int all = 1;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			x = (char *)1;
			if (farm_webhook_travis_key_from_config(bad[i], strlen(bad[i]), &x) !=
				FARM_E_NOTFOUND ||
			    x != NULL) {
				diag("case %zu: %s", i, bad[i]);
				all = 0;
			}
		}
		ok(all, "travis config: absent, non-string or empty key → NOTFOUND");
		is_int(farm_webhook_travis_key_from_config("{\"config\":", 10, &x), FARM_E_INVAL,
		       "travis config: malformed JSON → INVAL");
		static const char badkey[] =
			"{\"config\":{\"notifications\":{\"webhook\":{\"public_key\":"
			"\"-----BEGIN PUBLIC KEY-----\\ngarbage\\n-----END PUBLIC KEY-----\"}}}}";
		x = (char *)1;
		is_int(farm_webhook_travis_key_from_config(badkey, strlen(badkey), &x), FARM_E_INVAL,
		       "travis config: a key that does not parse → INVAL (never cached)");
		ok(x == NULL, "travis config: ... and no PEM handed out");
	}
out:
	free(pem_cfg);
	free(cfg);
	free(p1);
	free(tampered);
	free(decoded);
	free(sig);
	free(sig_enc);
	free(sig_other);
	free(body);
	free(enc);
	free(payload);
	free(pem);
	free(other_pem);
	gnutls_privkey_deinit(priv);
	gnutls_privkey_deinit(other);
}

int main(void)
{
	test_circleci();
	test_token();
	test_basic();
	test_form();
	test_travis();
	return done_testing();
}
