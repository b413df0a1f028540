/* webhook.c - webhook authenticity: CircleCI HMAC, Jenkins shared token, Travis RSA.
 *
 * See webhook.h for the contract of each function.  The rules that matter:
 *   - MACs are compared as raw bytes (after hex decoding, with a length check) in
 *     constant time, never as strings (operations.md §4.2);
 *   - CircleCI: only `v1` counts, so a forged `v0=`/`v2=` entry cannot downgrade us;
 *   - Travis signs the form-decoded `payload` value, not the raw body;
 *   - buffers that held a MAC or a password are wiped before they are freed.
 */
#include "webhook.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"

#include "banned.h"

#define HMAC_SHA256_LEN 32

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* Trims optional whitespace from both ends of [*s, *s + *n). */
static void trim_ows(const char **s, size_t *n)
{
	while (*n > 0 && is_ows(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_ows((*s)[*n - 1]))
		(*n)--;
}

/* ---- CircleCI ------------------------------------------------------------------ */

/* 1 when the hex text `sig` (n chars) decodes to exactly `mac`; 0 otherwise. */
static int v1_matches(const char *sig, size_t n, const unsigned char mac[HMAC_SHA256_LEN],
		      int *nomem)
{
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	int rc, eq = 0;

	if (n != 2 * HMAC_SHA256_LEN)
		return 0;
	rc = farm_hex_decode(sig, n, &raw, &rawlen);
	if (rc == FARM_E_NOMEM)
		*nomem = 1;
	if (rc != FARM_OK)
		goto out;
	if (rawlen == HMAC_SHA256_LEN)
		eq = farm_crypto_memeq(raw, mac, HMAC_SHA256_LEN);
out:
	farm_crypto_free_secret(raw, rawlen);
	return eq;
}

int farm_webhook_circleci_verify(const char *sig_header, const void *secret, size_t slen,
				 const void *body, size_t blen)
{
	unsigned char mac[HMAC_SHA256_LEN];
	const char *p, *end;
	size_t hlen;
	int rc, matched = 0, nomem = 0;

	if (!sig_header || !secret || slen == 0 || (!body && blen))
		return FARM_E_AUTH;
	hlen = strnlen(sig_header, FARM_WEBHOOK_SIG_HEADER_MAX + 1);
	if (hlen == 0 || hlen > FARM_WEBHOOK_SIG_HEADER_MAX)
		return FARM_E_AUTH;

	rc = farm_crypto_hmac_sha256(secret, slen, body ? body : "", blen, mac);
	if (rc != FARM_OK)
		goto out;

	/* Every entry is examined, whether or not an earlier one matched. */
	p = sig_header;
	end = sig_header + hlen;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *item_end = comma ? comma : end;
		const char *ver = p, *eq;
		size_t item_len = (size_t)(item_end - p), vlen;

		eq = memchr(ver, '=', item_len);
		if (eq) {
			const char *sig = eq + 1;
			size_t siglen = (size_t)(item_end - sig);

			vlen = (size_t)(eq - ver);
			trim_ows(&ver, &vlen);
			trim_ows(&sig, &siglen);
			if (vlen == 2 && memcmp(ver, "v1", 2) == 0)
				matched |= v1_matches(sig, siglen, mac, &nomem);
		}
		p = item_end + (comma ? 1 : 0);
	}
	if (matched)
		rc = FARM_OK;
	else
		rc = nomem ? FARM_E_NOMEM : FARM_E_AUTH;
out:
	farm_crypto_wipe(mac, sizeof(mac));
	return rc;
}

/* ---- Jenkins -------------------------------------------------------------------- */

int farm_webhook_token_verify(const char *given, size_t glen, const char *expected, size_t elen)
{
	if (!given || !expected || elen == 0)
		return FARM_E_AUTH;
	return farm_crypto_streq(given, glen, expected, elen) ? FARM_OK : FARM_E_AUTH;
}

int farm_webhook_basic_password(const char *authorization_header, char **password)
{
	const char *p;
	unsigned char *raw = NULL;
	const unsigned char *colon;
	size_t n, rawlen = 0, plen;
	int rc = FARM_E_AUTH;

	if (password)
		*password = NULL;
	if (!authorization_header || !password)
		return FARM_E_AUTH;
	n = strnlen(authorization_header, FARM_WEBHOOK_BASIC_MAX + 1);
	if (n > FARM_WEBHOOK_BASIC_MAX)
		return FARM_E_AUTH;
	p = authorization_header;
	trim_ows(&p, &n);
	if (n < 6 || strncasecmp(p, "Basic", 5) != 0 || !is_ows(p[5]))
		return FARM_E_AUTH;
	p += 6;
	n -= 6;
	trim_ows(&p, &n);
	if (n == 0)
		return FARM_E_AUTH;

	rc = farm_b64_decode(p, n, &raw, &rawlen);
	if (rc != FARM_OK) {
		rc = rc == FARM_E_NOMEM ? FARM_E_NOMEM : FARM_E_AUTH;
		goto out;
	}
	rc = FARM_E_AUTH;
	if (rawlen == 0 || memchr(raw, '\0', rawlen))
		goto out;
	colon = memchr(raw, ':', rawlen);
	if (!colon)
		goto out;
	plen = rawlen - (size_t)(colon + 1 - raw);
	*password = malloc(plen + 1);
	if (!*password) {
		rc = FARM_E_NOMEM;
		goto out;
	}
	memcpy(*password, colon + 1, plen);
	(*password)[plen] = '\0';
	rc = FARM_OK;
out:
	farm_crypto_free_secret(raw, rawlen);
	return rc;
}

/* ---- application/x-www-form-urlencoded ------------------------------------------ */

/* 1 when every '%' in the body starts a two-hex-digit escape. */
static int form_well_formed(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] != '%')
			continue;
		if (n - i < 3 || farm_hex_digit((unsigned char)s[i + 1]) < 0 ||
		    farm_hex_digit((unsigned char)s[i + 2]) < 0)
			return 0;
		i += 2;
	}
	return 1;
}

/* Decodes one byte of a well-formed form string at *i and advances *i. */
static unsigned char form_next(const char *s, size_t *i)
{
	unsigned char c = (unsigned char)s[*i];

	if (c == '%') {
		c = (unsigned char)(farm_hex_digit((unsigned char)s[*i + 1]) * 16 +
				    farm_hex_digit((unsigned char)s[*i + 2]));
		*i += 3;
		return c;
	}
	(*i)++;
	return c == '+' ? ' ' : c;
}

/* 1 when the encoded key [s, s + n) decodes to exactly name[0..nlen). */
static int form_key_is(const char *s, size_t n, const char *name, size_t nlen)
{
	size_t i = 0, j = 0;

	while (i < n) {
		if (j == nlen || form_next(s, &i) != (unsigned char)name[j])
			return 0;
		j++;
	}
	return j == nlen;
}

int farm_form_field(const char *body, size_t blen, const char *name, char **out, size_t *outlen)
{
	size_t start = 0, nlen;

	if (out)
		*out = NULL;
	if (outlen)
		*outlen = 0;
	if ((!body && blen) || !name || !out)
		return FARM_E_INVAL;
	if (!form_well_formed(body, blen))
		return FARM_E_INVAL;
	nlen = strlen(name);

	while (start < blen) {
		const char *pair = body + start;
		const char *amp = memchr(pair, '&', blen - start);
		size_t plen = amp ? (size_t)(amp - pair) : blen - start;
		const char *eq = memchr(pair, '=', plen);
		size_t klen = eq ? (size_t)(eq - pair) : plen;

		if (plen > 0 && form_key_is(pair, klen, name, nlen)) {
			const char *val = eq ? eq + 1 : pair + plen;
			size_t vlen = (size_t)(pair + plen - val), i = 0, o = 0;
			char *buf = malloc(vlen + 1);

			if (!buf)
				return FARM_E_NOMEM;
			while (i < vlen)
				buf[o++] = (char)form_next(val, &i);
			buf[o] = '\0';
			*out = buf;
			if (outlen)
				*outlen = o;
			return FARM_OK;
		}
		start += plen + 1;
	}
	return FARM_E_NOTFOUND;
}

/* ---- Travis CI ------------------------------------------------------------------ */

/* Reads one DER element of `tag` at *p (definite length, at most 4 length bytes). */
static int der_read(const unsigned char **p, const unsigned char *end, unsigned char tag,
		    const unsigned char **val, size_t *vlen)
{
	const unsigned char *q = *p;
	size_t len;

	if (end - q < 2 || q[0] != tag)
		return FARM_E_INVAL;
	len = q[1];
	q += 2;
	if (len & 0x80) {
		size_t nb = len & 0x7f, k;

		if (nb == 0 || nb > 4 || (size_t)(end - q) < nb)
			return FARM_E_INVAL;
		len = 0;
		for (k = 0; k < nb; k++)
			len = (len << 8) | q[k];
		q += nb;
	}
	if (len > (size_t)(end - q))
		return FARM_E_INVAL;
	*val = q;
	*vlen = len;
	*p = q + len;
	return FARM_OK;
}

/* Imports a PKCS#1 RSAPublicKey ("RSA PUBLIC KEY"): SEQUENCE { INTEGER n, INTEGER e }. */
static int import_pkcs1(gnutls_pubkey_t key, const gnutls_datum_t *pem)
{
	gnutls_datum_t der = {NULL, 0}, m, e;
	const unsigned char *p, *end, *seq, *n_val, *e_val;
	size_t seqlen, n_len, e_len;
	int rc = FARM_E_INVAL;

	if (gnutls_pem_base64_decode2("RSA PUBLIC KEY", pem, &der) < 0)
		goto out;
	p = der.data;
	end = der.data + der.size;
	if (der_read(&p, end, 0x30, &seq, &seqlen) != FARM_OK || p != end)
		goto out;
	p = seq;
	end = seq + seqlen;
	if (der_read(&p, end, 0x02, &n_val, &n_len) != FARM_OK ||
	    der_read(&p, end, 0x02, &e_val, &e_len) != FARM_OK || p != end || n_len == 0 ||
	    e_len == 0)
		goto out;
	m.data = (unsigned char *)n_val;
	m.size = (unsigned)n_len;
	e.data = (unsigned char *)e_val;
	e.size = (unsigned)e_len;
	if (gnutls_pubkey_import_rsa_raw(key, &m, &e) < 0)
		goto out;
	rc = FARM_OK;
out:
	gnutls_free(der.data);
	return rc;
}

static int import_rsa_pubkey(gnutls_pubkey_t key, const char *pem, size_t pemlen)
{
	static const char pkcs1_begin[] = "-----BEGIN RSA PUBLIC KEY-----";
	gnutls_datum_t d;
	unsigned bits = 0;

	d.data = (unsigned char *)pem;
	d.size = (unsigned)pemlen;
	if (memmem(pem, pemlen, pkcs1_begin, sizeof(pkcs1_begin) - 1)) {
		if (import_pkcs1(key, &d) != FARM_OK)
			return FARM_E_INVAL;
	} else if (gnutls_pubkey_import(key, &d, GNUTLS_X509_FMT_PEM) < 0) {
		return FARM_E_INVAL;
	}
	if (gnutls_pubkey_get_pk_algorithm(key, &bits) != GNUTLS_PK_RSA || bits < 1024)
		return FARM_E_INVAL;
	return FARM_OK;
}

int farm_webhook_travis_verify(const char *pubkey_pem, size_t pemlen, const char *sig_b64,
			       const void *payload, size_t plen)
{
	gnutls_pubkey_t key = NULL;
	gnutls_datum_t data, sig;
	unsigned char *raw = NULL;
	size_t rawlen = 0, siglen;
	int rc, grc;

	if (!pubkey_pem || pemlen == 0 || pemlen > FARM_WEBHOOK_PEM_MAX)
		return FARM_E_INVAL;
	if (!sig_b64 || !payload || plen == 0 || plen > UINT32_MAX)
		return FARM_E_AUTH;
	siglen = strnlen(sig_b64, FARM_WEBHOOK_TRAVIS_SIG_MAX + 1);
	if (siglen == 0 || siglen > FARM_WEBHOOK_TRAVIS_SIG_MAX)
		return FARM_E_AUTH;

	if (gnutls_pubkey_init(&key) < 0)
		return FARM_E_NOMEM;
	rc = import_rsa_pubkey(key, pubkey_pem, pemlen);
	if (rc != FARM_OK)
		goto out;

	rc = farm_b64_decode(sig_b64, siglen, &raw, &rawlen);
	if (rc != FARM_OK) {
		rc = rc == FARM_E_NOMEM ? FARM_E_NOMEM : FARM_E_AUTH;
		goto out;
	}
	if (rawlen == 0) {
		rc = FARM_E_AUTH;
		goto out;
	}

	data.data = (unsigned char *)payload;
	data.size = (unsigned)plen;
	sig.data = raw;
	sig.size = (unsigned)rawlen;
	/* SHA-1 is what Travis signs with, and we cannot choose otherwise: the scheme is
	 * theirs (TR-TASK signature(): RSA PKCS#1 v1.5 + SHA-1).  Crypto policies (e.g.
	 * RHEL 9 DEFAULT) refuse SHA-1 signatures unless asked, hence the flag.  The risk
	 * SHA-1 carries is a chosen-prefix *collision*: an attacker would need Travis to
	 * sign one of two colliding payloads they prepared; Travis builds the payload
	 * itself from build metadata, and a second-preimage attack on SHA-1 (what forging
	 * a delivery would take) remains infeasible.  Only SHA-1 is allowed, not MD5/MD2. */
	grc = gnutls_pubkey_verify_data2(key, GNUTLS_SIGN_RSA_SHA1,
					 GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1, &data, &sig);
	if (grc >= 0)
		rc = FARM_OK;
	else if (grc == GNUTLS_E_INSUFFICIENT_SECURITY ||
		 grc == GNUTLS_E_UNSUPPORTED_SIGNATURE_ALGORITHM)
		rc = FARM_E_CRYPTO;
	else if (grc == GNUTLS_E_MEMORY_ERROR)
		rc = FARM_E_NOMEM;
	else
		rc = FARM_E_AUTH;
out:
	free(raw);
	gnutls_pubkey_deinit(key);
	return rc;
}

int farm_webhook_travis_key_from_config(const char *json, size_t len, char **pem)
{
	json_t *root = NULL, *v;
	json_error_t jerr;
	const char *s;
	size_t n;
	int rc = FARM_E_NOTFOUND;

	if (pem)
		*pem = NULL;
	if ((!json && len) || !pem)
		return FARM_E_INVAL;
	root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return FARM_E_INVAL;
	v = json_object_get(root, "config");
	v = json_object_get(v, "notifications");
	v = json_object_get(v, "webhook");
	v = json_object_get(v, "public_key");
	if (!json_is_string(v))
		goto out;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > FARM_WEBHOOK_PEM_MAX || memchr(s, '\0', n))
		goto out;
	*pem = malloc(n + 1);
	if (!*pem) {
		rc = FARM_E_NOMEM;
		goto out;
	}
	memcpy(*pem, s, n);
	(*pem)[n] = '\0';
	rc = FARM_OK;
out:
	json_decref(root);
	return rc;
}
