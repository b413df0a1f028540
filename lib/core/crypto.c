/* crypto.c - random, constant-time compares, HMAC/SHA-256/HKDF, credential sealing
 * (AES-256-GCM envelopes under a versioned keyring) and the text codecs (base64,
 * base64url, hex).  Everything cryptographic goes through GnuTLS.
 */
#include "crypto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "banned.h"

#define KEY_LEN 32
#define KEYRING_MAX 16
#define HKDF_SALT "farm"
#define HKDF_INFO_PREFIX "farm/v1/cred-enc/k"

static const unsigned char envelope_magic[4] = {'F', 'R', 'M', '1'};

struct farm_keyring {
	size_t n;
	unsigned current; /* highest version held */
	struct {
		unsigned version;
		unsigned char key[KEY_LEN];
	} k[KEYRING_MAX];
};

int farm_crypto_init(void)
{
	unsigned char b;

	if (gnutls_global_init() < 0)
		return FARM_E_CRYPTO;
	/* Seed the generator now, before any thread asks for it. */
	if (gnutls_rnd(GNUTLS_RND_RANDOM, &b, 1) < 0)
		return FARM_E_CRYPTO;
	return FARM_OK;
}

int farm_crypto_random(void *buf, size_t len)
{
	if (len == 0)
		return FARM_OK;
	if (!buf)
		return FARM_E_INVAL;
	return gnutls_rnd(GNUTLS_RND_RANDOM, buf, len) < 0 ? FARM_E_CRYPTO : FARM_OK;
}

static const char hex_digits[] = "0123456789abcdef";

int farm_crypto_uuid4(char out[37])
{
	unsigned char b[16];
	size_t i, o = 0;
	int rc;

	if (!out)
		return FARM_E_INVAL;
	rc = farm_crypto_random(b, sizeof(b));
	if (rc)
		return rc;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	for (i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex_digits[b[i] >> 4];
		out[o++] = hex_digits[b[i] & 0x0f];
	}
	out[o] = '\0';
	return FARM_OK;
}

int farm_crypto_memeq(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return 1;
	if (!a || !b)
		return 0;
	return gnutls_memcmp(a, b, n) == 0;
}

int farm_crypto_streq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return 0;
	return farm_crypto_memeq(a, b, alen);
}

void farm_crypto_wipe(void *p, size_t n)
{
	if (p && n)
		gnutls_memset(p, 0, n);
}

void farm_crypto_free_secret(void *p, size_t n)
{
	if (!p)
		return;
	farm_crypto_wipe(p, n);
	free(p);
}

/* GnuTLS datums hold unsigned int sizes and non-const pointers. */
static int datum(gnutls_datum_t *d, const void *p, size_t len)
{
	if (len > UINT32_MAX || (!p && len))
		return FARM_E_INVAL;
	d->data = (unsigned char *)(uintptr_t)p;
	d->size = (unsigned int)len;
	return FARM_OK;
}

int farm_crypto_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
			    unsigned char out[32])
{
	static const unsigned char empty[1];

	if (!out || (!key && klen) || (!msg && mlen))
		return FARM_E_INVAL;
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, klen ? key : empty, klen, mlen ? msg : empty, mlen,
			     out) < 0)
		return FARM_E_CRYPTO;
	return FARM_OK;
}

int farm_crypto_sha256(const void *msg, size_t mlen, unsigned char out[32])
{
	static const unsigned char empty[1];

	if (!out || (!msg && mlen))
		return FARM_E_INVAL;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, mlen ? msg : empty, mlen, out) < 0)
		return FARM_E_CRYPTO;
	return FARM_OK;
}

int farm_crypto_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
			    const void *info, size_t infolen, unsigned char *out, size_t outlen)
{
	static const unsigned char zero_salt[32];
	unsigned char prk[32];
	gnutls_datum_t dk, ds, dp, di;
	int rc;

	if (!out || outlen == 0 || outlen > 255 * 32)
		return FARM_E_INVAL;
	if (!saltlen) /* RFC 5869 2.2: no salt means HashLen zeros */
		salt = zero_salt, saltlen = sizeof(zero_salt);
	if ((rc = datum(&dk, ikm, ikmlen)) || (rc = datum(&ds, salt, saltlen)) ||
	    (rc = datum(&di, info, infolen)))
		return rc;
	rc = FARM_E_CRYPTO;
	if (gnutls_hkdf_extract(GNUTLS_MAC_SHA256, &dk, &ds, prk) < 0)
		goto out;
	dp.data = prk;
	dp.size = sizeof(prk);
	if (gnutls_hkdf_expand(GNUTLS_MAC_SHA256, &dp, &di, out, outlen) < 0)
		goto out;
	rc = FARM_OK;
out:
	farm_crypto_wipe(prk, sizeof(prk));
	return rc;
}

/* key = HKDF-SHA256(master, salt "farm", info "farm/v1/cred-enc/k<version>"). */
static int derive_key(const void *master, size_t mlen, unsigned version, unsigned char key[KEY_LEN])
{
	char info[64];
	int n;

	if (!master || mlen == 0)
		return FARM_E_INVAL;
	n = snprintf(info, sizeof(info), HKDF_INFO_PREFIX "%u", version);
	if (n < 0 || (size_t)n >= sizeof(info))
		return FARM_E_INVAL;
	return farm_crypto_hkdf_sha256(master, mlen, HKDF_SALT, strlen(HKDF_SALT), info, (size_t)n,
				       key, KEY_LEN);
}

static const unsigned char *keyring_find(const struct farm_keyring *kr, unsigned version)
{
	size_t i;

	for (i = 0; i < kr->n; i++)
		if (kr->k[i].version == version)
			return kr->k[i].key;
	return NULL;
}

int farm_keyring_new(struct farm_keyring **out, const void *master, size_t mlen, unsigned version)
{
	struct farm_keyring *kr;
	int rc;

	if (!out)
		return FARM_E_INVAL;
	*out = NULL;
	kr = calloc(1, sizeof(*kr));
	if (!kr)
		return FARM_E_NOMEM;
	rc = farm_keyring_add(kr, master, mlen, version);
	if (rc) {
		farm_keyring_free(kr);
		return rc;
	}
	*out = kr;
	return FARM_OK;
}

int farm_keyring_add(struct farm_keyring *kr, const void *master, size_t mlen, unsigned version)
{
	unsigned char key[KEY_LEN];
	const unsigned char *have;
	int rc;

	if (!kr)
		return FARM_E_INVAL;
	rc = derive_key(master, mlen, version, key);
	if (rc)
		goto out;
	have = keyring_find(kr, version);
	if (have) {
		/* Adding the same key again is harmless; another key under a used
		 * version would make old envelopes unreadable. */
		rc = farm_crypto_memeq(have, key, KEY_LEN) ? FARM_OK : FARM_E_EXISTS;
		goto out;
	}
	if (kr->n >= KEYRING_MAX) {
		rc = FARM_E_TOOBIG;
		goto out;
	}
	kr->k[kr->n].version = version;
	memcpy(kr->k[kr->n].key, key, KEY_LEN);
	if (kr->n == 0 || version > kr->current)
		kr->current = version;
	kr->n++;
	rc = FARM_OK;
out:
	farm_crypto_wipe(key, sizeof(key));
	return rc;
}

unsigned farm_keyring_current(const struct farm_keyring *kr) { return kr ? kr->current : 0; }

void farm_keyring_free(struct farm_keyring *kr) { farm_crypto_free_secret(kr, sizeof(*kr)); }

static void put_be32(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static unsigned get_be32(const unsigned char *p)
{
	return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

static int aead_init(gnutls_aead_cipher_hd_t *h, const unsigned char key[KEY_LEN])
{
	gnutls_datum_t dk;

	dk.data = (unsigned char *)(uintptr_t)key;
	dk.size = KEY_LEN;
	return gnutls_aead_cipher_init(h, GNUTLS_CIPHER_AES_256_GCM, &dk) < 0 ? FARM_E_CRYPTO
									      : FARM_OK;
}

int farm_crypto_seal(const struct farm_keyring *kr, const void *aad, size_t aadlen, const void *pt,
		     size_t ptlen, unsigned char **ct, size_t *ctlen)
{
	static const unsigned char empty[1];
	gnutls_aead_cipher_hd_t h = NULL;
	const unsigned char *key;
	unsigned char *buf = NULL, *nonce;
	size_t len, body;
	int rc;

	if (!kr || !ct || !ctlen || (!aad && aadlen) || (!pt && ptlen))
		return FARM_E_INVAL;
	*ct = NULL;
	*ctlen = 0;
	if (ptlen > SIZE_MAX - FARM_CRYPTO_OVERHEAD || ptlen > UINT32_MAX)
		return FARM_E_TOOBIG;
	key = keyring_find(kr, kr->current);
	if (!key)
		return FARM_E_INVAL; /* an empty keyring */
	len = FARM_CRYPTO_OVERHEAD + ptlen;
	buf = malloc(len);
	if (!buf)
		return FARM_E_NOMEM;
	memcpy(buf, envelope_magic, 4);
	put_be32(buf + 4, kr->current);
	nonce = buf + 8;
	rc = FARM_E_CRYPTO;
	if (gnutls_rnd(GNUTLS_RND_NONCE, nonce, FARM_CRYPTO_NONCE_LEN) < 0)
		goto out;
	if ((rc = aead_init(&h, key)))
		goto out;
	body = ptlen + FARM_CRYPTO_TAG_LEN;
	rc = FARM_E_CRYPTO;
	if (gnutls_aead_cipher_encrypt(h, nonce, FARM_CRYPTO_NONCE_LEN, aadlen ? aad : empty,
				       aadlen, FARM_CRYPTO_TAG_LEN, ptlen ? pt : empty, ptlen,
				       nonce + FARM_CRYPTO_NONCE_LEN, &body) < 0)
		goto out;
	if (body != ptlen + FARM_CRYPTO_TAG_LEN)
		goto out;
	*ct = buf;
	*ctlen = len;
	buf = NULL;
	rc = FARM_OK;
out:
	if (h)
		gnutls_aead_cipher_deinit(h);
	free(buf);
	return rc;
}

int farm_crypto_envelope_version(const unsigned char *ct, size_t ctlen, unsigned *version)
{
	if (!ct || !version || ctlen < FARM_CRYPTO_OVERHEAD || memcmp(ct, envelope_magic, 4))
		return FARM_E_INVAL;
	*version = get_be32(ct + 4);
	return FARM_OK;
}

int farm_crypto_open(const struct farm_keyring *kr, const void *aad, size_t aadlen,
		     const unsigned char *ct, size_t ctlen, unsigned char **pt, size_t *ptlen)
{
	static const unsigned char empty[1];
	gnutls_aead_cipher_hd_t h = NULL;
	const unsigned char *key, *nonce;
	unsigned char *buf = NULL;
	size_t len, outlen;
	unsigned version;
	int rc;

	if (!kr || !pt || !ptlen || (!aad && aadlen))
		return FARM_E_INVAL;
	*pt = NULL;
	*ptlen = 0;
	rc = farm_crypto_envelope_version(ct, ctlen, &version);
	if (rc)
		return rc;
	key = keyring_find(kr, version);
	if (!key)
		return FARM_E_NOTFOUND;
	nonce = ct + 8;
	len = ctlen - FARM_CRYPTO_OVERHEAD;
	buf = malloc(len + 1);
	if (!buf)
		return FARM_E_NOMEM;
	if ((rc = aead_init(&h, key)))
		goto out;
	outlen = len + 1;
	rc = FARM_E_CRYPTO;
	if (gnutls_aead_cipher_decrypt(h, nonce, FARM_CRYPTO_NONCE_LEN, aadlen ? aad : empty,
				       aadlen, FARM_CRYPTO_TAG_LEN, nonce + FARM_CRYPTO_NONCE_LEN,
				       len + FARM_CRYPTO_TAG_LEN, buf, &outlen) < 0)
		goto out;
	if (outlen != len)
		goto out;
	buf[len] = '\0';
	*pt = buf;
	*ptlen = len;
	buf = NULL;
	rc = FARM_OK;
out:
	if (h)
		gnutls_aead_cipher_deinit(h);
	farm_crypto_free_secret(buf, len + 1);
	return rc;
}

/* ---- text codecs ---- */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_encode(const char *alpha, int pad, const void *in, size_t len, char **out)
{
	const unsigned char *p = in;
	size_t i, o = 0, cap;
	char *s;

	if (!out || (!in && len))
		return FARM_E_INVAL;
	*out = NULL;
	if (len > (SIZE_MAX - 8) / 4 * 3)
		return FARM_E_TOOBIG;
	cap = (len + 2) / 3 * 4 + 1;
	s = malloc(cap);
	if (!s)
		return FARM_E_NOMEM;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		s[o++] = alpha[v >> 18];
		s[o++] = alpha[(v >> 12) & 63];
		s[o++] = alpha[(v >> 6) & 63];
		s[o++] = alpha[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		s[o++] = alpha[v >> 18];
		s[o++] = alpha[(v >> 12) & 63];
		if (pad) {
			s[o++] = '=';
			s[o++] = '=';
		}
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		s[o++] = alpha[v >> 18];
		s[o++] = alpha[(v >> 12) & 63];
		s[o++] = alpha[(v >> 6) & 63];
		if (pad)
			s[o++] = '=';
	}
	s[o] = '\0';
	*out = s;
	return FARM_OK;
}

static int b64_value(int url, unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Strict: only the alphabet, padding (standard only) exactly as the encoder writes it,
 * and zero unused bits in the last symbol, so every byte string has one encoding. */
static int b64_decode(int url, const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *buf;
	size_t i, o = 0, rest;
	uint32_t v = 0;
	int d;

	if (!out || !outlen || (!in && len))
		return FARM_E_INVAL;
	*out = NULL;
	*outlen = 0;
	if (!url) {
		if (len % 4)
			return FARM_E_INVAL;
		if (len && s[len - 1] == '=')
			len -= (s[len - 2] == '=') ? 2 : 1;
	}
	rest = len % 4;
	if (rest == 1)
		return FARM_E_INVAL;
	buf = malloc(len / 4 * 3 + 3);
	if (!buf)
		return FARM_E_NOMEM;
	for (i = 0; i < len; i++) {
		d = b64_value(url, s[i]);
		if (d < 0)
			goto bad;
		v = v << 6 | (uint32_t)d;
		if (i % 4 == 3) {
			buf[o++] = (unsigned char)(v >> 16);
			buf[o++] = (unsigned char)(v >> 8);
			buf[o++] = (unsigned char)v;
			v = 0;
		}
	}
	if (rest == 2) {
		if (v & 0x0f)
			goto bad;
		buf[o++] = (unsigned char)(v >> 4);
	} else if (rest == 3) {
		if (v & 0x03)
			goto bad;
		buf[o++] = (unsigned char)(v >> 10);
		buf[o++] = (unsigned char)(v >> 2);
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return FARM_OK;
bad:
	farm_crypto_free_secret(buf, len / 4 * 3 + 3);
	return FARM_E_INVAL;
}

int farm_b64_encode(const void *in, size_t len, char **out)
{
	return b64_encode(b64_std, 1, in, len, out);
}

int farm_b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	return b64_decode(0, in, len, out, outlen);
}

int farm_b64url_encode(const void *in, size_t len, char **out)
{
	return b64_encode(b64_url, 0, in, len, out);
}

int farm_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	return b64_decode(1, in, len, out, outlen);
}

int farm_hex_encode(const void *in, size_t len, char **out)
{
	const unsigned char *p = in;
	size_t i;
	char *s;

	if (!out || (!in && len))
		return FARM_E_INVAL;
	*out = NULL;
	if (len > (SIZE_MAX - 1) / 2)
		return FARM_E_TOOBIG;
	s = malloc(len * 2 + 1);
	if (!s)
		return FARM_E_NOMEM;
	for (i = 0; i < len; i++) {
		s[2 * i] = hex_digits[p[i] >> 4];
		s[2 * i + 1] = hex_digits[p[i] & 0x0f];
	}
	s[2 * len] = '\0';
	*out = s;
	return FARM_OK;
}

int farm_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int farm_hex_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *buf;
	size_t i;
	int hi, lo;

	if (!out || !outlen || (!in && len))
		return FARM_E_INVAL;
	*out = NULL;
	*outlen = 0;
	if (len % 2)
		return FARM_E_INVAL;
	buf = malloc(len / 2 + 1);
	if (!buf)
		return FARM_E_NOMEM;
	for (i = 0; i < len / 2; i++) {
		hi = farm_hex_digit(s[2 * i]);
		lo = farm_hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			farm_crypto_free_secret(buf, len / 2 + 1);
			return FARM_E_INVAL;
		}
		buf[i] = (unsigned char)(hi << 4 | lo);
	}
	buf[len / 2] = '\0';
	*out = buf;
	*outlen = len / 2;
	return FARM_OK;
}
