/* test-crypto.c - known-answer vectors, the sealing envelope, and the text codecs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "crypto.h"
#include "tap.h"

/* Decodes a hex literal from the test itself; a typo there is a test bug, so abort. */
static unsigned char *unhex(const char *s, size_t *len)
{
	unsigned char *b;

	if (farm_hex_decode(s, strlen(s), &b, len) != FARM_OK)
		abort();
	return b;
}

static int eq_hex(const void *got, size_t len, const char *want)
{
	char *h = NULL;
	int r;

	if (farm_hex_encode(got, len, &h) != FARM_OK)
		return 0;
	r = strcmp(h, want) == 0;
	if (!r)
		diag("got      %s\n# expected %s", h, want);
	free(h);
	return r;
}

static void test_kat(void)
{
	unsigned char out[64];
	unsigned char *ikm, *salt, *info;
	size_t ikml, saltl, infol;

	/* RFC 5869 A.1 */
	ikm = unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", &ikml);
	salt = unhex("000102030405060708090a0b0c", &saltl);
	info = unhex("f0f1f2f3f4f5f6f7f8f9", &infol);
	is_int(farm_crypto_hkdf_sha256(ikm, ikml, salt, saltl, info, infol, out, 42), FARM_OK,
	       "hkdf: RFC 5869 case 1 runs");
	ok(eq_hex(out, 42,
		  "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887"
		  "185865"),
	   "hkdf: RFC 5869 case 1 OKM");
	free(ikm);
	free(salt);
	free(info);

	/* RFC 5869 A.3: no salt, no info */
	memset(out, 0, sizeof(out));
	ikm = unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", &ikml);
	is_int(farm_crypto_hkdf_sha256(ikm, ikml, NULL, 0, NULL, 0, out, 42), FARM_OK,
	       "hkdf: RFC 5869 case 3 runs");
	ok(eq_hex(out, 42,
		  "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b6"
		  "1a96c8"),
	   "hkdf: RFC 5869 case 3 OKM (empty salt = zeros)");
	free(ikm);
	is_int(farm_crypto_hkdf_sha256("k", 1, NULL, 0, NULL, 0, out, 0), FARM_E_INVAL,
	       "hkdf: zero-length output refused");

	/* RFC 4231 case 2 */
	is_int(farm_crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, out), FARM_OK,
	       "hmac: RFC 4231 case 2 runs");
	ok(eq_hex(out, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
	   "hmac: RFC 4231 case 2");

	/* FIPS 180-2 "abc" */
	is_int(farm_crypto_sha256("abc", 3, out), FARM_OK, "sha256 runs");
	ok(eq_hex(out, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	   "sha256(\"abc\")");
	is_int(farm_crypto_sha256(NULL, 0, out), FARM_OK, "sha256 of nothing runs");
	ok(eq_hex(out, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	   "sha256(\"\")");
}

/* AES-256-GCM, GCM spec test case 16 (256-bit key, 96-bit IV, AAD), driven exactly as
 * farm_crypto_seal/open drive GnuTLS: ciphertext with the tag appended. */
static void test_gcm_kat(void)
{
	unsigned char *k, *p, *a, *iv, *want, out[128], back[128];
	size_t kl, pl, al, ivl, wl, outl = sizeof(out), backl = sizeof(back);
	gnutls_aead_cipher_hd_t h;
	gnutls_datum_t key;

	k = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", &kl);
	p = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c9595680"
		  "9532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		  &pl);
	a = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", &al);
	iv = unhex("cafebabefacedbaddecaf888", &ivl);
	want = unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590d"
		     "bb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
		     "76fc6ece0f4e1768cddf8853bb2d551b",
		     &wl);
	key.data = k;
	key.size = (unsigned)kl;
	is_int(gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &key), 0, "gcm: init");
	is_int(gnutls_aead_cipher_encrypt(h, iv, ivl, a, al, 16, p, pl, out, &outl), 0,
	       "gcm: encrypt");
	ok(outl == wl && memcmp(out, want, wl) == 0, "gcm: test case 16 ciphertext and tag");
	is_int(gnutls_aead_cipher_decrypt(h, iv, ivl, a, al, 16, want, wl, back, &backl), 0,
	       "gcm: decrypt");
	ok(backl == pl && memcmp(back, p, pl) == 0, "gcm: test case 16 plaintext");
	want[wl - 1] ^= 1;
	backl = sizeof(back);
	ok(gnutls_aead_cipher_decrypt(h, iv, ivl, a, al, 16, want, wl, back, &backl) < 0,
	   "gcm: a flipped tag bit fails");
	gnutls_aead_cipher_deinit(h);
	free(k);
	free(p);
	free(a);
	free(iv);
	free(want);
}

#define AAD "cred:1234|org:acme|type:circleci"
#define MASTER "farm-test-master-secret"

/* The envelope format pinned: computed independently (Python "cryptography": HKDF-SHA256
 * salt "farm" info "farm/v1/cred-enc/k7", AES-256-GCM, nonce 00..0b). */
static void test_envelope_kat(void)
{
	struct farm_keyring *kr = NULL;
	unsigned char *env, *pt = NULL;
	size_t envl, ptl = 0;
	unsigned v = 0;

	env = unhex("46524d3100000007000102030405060708090a0bba8b33040f320e568b4d0f11743c7b50fd5a3e"
		    "c60fb110b908a1c491d01f5b4855c3",
		    &envl);
	is_int(farm_keyring_new(&kr, MASTER, strlen(MASTER), 7), FARM_OK, "keyring v7");
	is_int(farm_crypto_envelope_version(env, envl, &v), FARM_OK, "kat: version readable");
	is_int(v, 7, "kat: version 7");
	is_int(farm_crypto_open(kr, AAD, strlen(AAD), env, envl, &pt, &ptl), FARM_OK,
	       "kat: independently sealed envelope opens");
	is_str((char *)pt, "{\"token\":\"s3cr3t\"}", "kat: plaintext");
	is_int(ptl, 18, "kat: plaintext length");
	farm_crypto_free_secret(pt, ptl + 1);
	farm_keyring_free(kr);
	free(env);
}

static void test_seal(void)
{
	static const char secret[] = "{\"apiToken\":\"circle-xyz\"}";
	struct farm_keyring *kr = NULL, *other = NULL;
	unsigned char *ct = NULL, *ct2 = NULL, *pt = NULL, *bad = NULL;
	size_t ctl = 0, ct2l = 0, ptl = 0, i;
	unsigned v = 0;

	is_int(farm_keyring_new(&kr, MASTER, strlen(MASTER), 1), FARM_OK, "keyring v1");
	is_int(farm_keyring_current(kr), 1, "current version 1");
	is_int(farm_crypto_seal(kr, AAD, strlen(AAD), secret, strlen(secret), &ct, &ctl), FARM_OK,
	       "seal");
	is_int(ctl, strlen(secret) + FARM_CRYPTO_OVERHEAD, "envelope length = pt + overhead");
	ok(memcmp(ct, "FRM1\0\0\0\1", 8) == 0, "envelope starts FRM1 | version 1 (BE)");
	ok(memmem(ct, ctl, "circle-xyz", 10) == NULL, "plaintext not visible in envelope");
	is_int(farm_crypto_open(kr, AAD, strlen(AAD), ct, ctl, &pt, &ptl), FARM_OK, "open");
	ok(ptl == strlen(secret) && memcmp(pt, secret, ptl) == 0, "round trip");
	ok(pt && pt[ptl] == '\0', "plaintext NUL-terminated");
	farm_crypto_free_secret(pt, ptl + 1);
	pt = NULL;

	is_int(farm_crypto_seal(kr, AAD, strlen(AAD), secret, strlen(secret), &ct2, &ct2l), FARM_OK,
	       "seal again");
	ok(ct2l == ctl && memcmp(ct + 8, ct2 + 8, 12) != 0, "fresh nonce per seal");
	ok(memcmp(ct + 20, ct2 + 20, ctl - 20) != 0, "same plaintext seals differently");
	free(ct2);
	ct2 = NULL;

	bad = malloc(ctl);
	/* every region: nonce, ciphertext, tag */
	{
		static const struct {
			size_t off;
			const char *what;
		} flips[] = {{8, "tampered nonce"},
			     {20, "tampered ciphertext (first byte)"},
			     {0, "tampered ciphertext (last byte)"},
			     {1, "tampered tag"}};
		for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
			size_t off = flips[i].off;
			if (i == 2)
				off = ctl - FARM_CRYPTO_TAG_LEN - 1;
			else if (i == 3)
				off = ctl - 1;
			memcpy(bad, ct, ctl);
			bad[off] ^= 0x01;
			is_int(farm_crypto_open(kr, AAD, strlen(AAD), bad, ctl, &pt, &ptl),
			       FARM_E_CRYPTO, flips[i].what);
			ok(pt == NULL, "no plaintext on failure");
		}
	}
	is_int(farm_crypto_open(kr, "cred:9999|org:acme|type:circleci", strlen(AAD), ct, ctl, &pt,
				&ptl),
	       FARM_E_CRYPTO, "moved to another record (other AAD)");
	is_int(farm_crypto_open(kr, NULL, 0, ct, ctl, &pt, &ptl), FARM_E_CRYPTO,
	       "opened without AAD");

	is_int(farm_keyring_new(&other, "another master", 14, 1), FARM_OK, "keyring other master");
	is_int(farm_crypto_open(other, AAD, strlen(AAD), ct, ctl, &pt, &ptl), FARM_E_CRYPTO,
	       "wrong master, same version");
	farm_keyring_free(other);
	other = NULL;

	is_int(farm_keyring_new(&other, MASTER, strlen(MASTER), 2), FARM_OK, "keyring only v2");
	is_int(farm_crypto_open(other, AAD, strlen(AAD), ct, ctl, &pt, &ptl), FARM_E_NOTFOUND,
	       "version not in keyring");
	farm_keyring_free(other);

	/* malformed envelopes */
	is_int(farm_crypto_open(kr, AAD, strlen(AAD), ct, FARM_CRYPTO_OVERHEAD - 1, &pt, &ptl),
	       FARM_E_INVAL, "truncated below overhead");
	is_int(farm_crypto_open(kr, AAD, strlen(AAD), ct, 0, &pt, &ptl), FARM_E_INVAL,
	       "empty envelope");
	is_int(farm_crypto_open(kr, AAD, strlen(AAD), ct, ctl - 1, &pt, &ptl), FARM_E_CRYPTO,
	       "truncated by one byte fails the tag");
	memcpy(bad, ct, ctl);
	bad[3] = '2';
	is_int(farm_crypto_open(kr, AAD, strlen(AAD), bad, ctl, &pt, &ptl), FARM_E_INVAL,
	       "wrong magic");
	is_int(farm_crypto_envelope_version(bad, ctl, &v), FARM_E_INVAL, "wrong magic: no version");
	is_int(farm_crypto_envelope_version(ct, 10, &v), FARM_E_INVAL, "short: no version");
	free(bad);

	/* rotation */
	is_int(farm_keyring_add(kr, MASTER, strlen(MASTER), 3), FARM_OK, "add v3");
	is_int(farm_keyring_add(kr, MASTER, strlen(MASTER), 2), FARM_OK, "add older v2");
	is_int(farm_keyring_current(kr), 3, "newest version seals");
	is_int(farm_keyring_add(kr, MASTER, strlen(MASTER), 3), FARM_OK, "same key again is ok");
	is_int(farm_keyring_add(kr, "x", 1, 3), FARM_E_EXISTS, "other key under used version");
	is_int(farm_keyring_add(kr, NULL, 0, 4), FARM_E_INVAL, "empty master refused");
	is_int(farm_crypto_open(kr, AAD, strlen(AAD), ct, ctl, &pt, &ptl), FARM_OK,
	       "v1 envelope still opens after rotation");
	ok(pt && ptl == strlen(secret) && memcmp(pt, secret, ptl) == 0, "v1 plaintext intact");
	farm_crypto_free_secret(pt, ptl + 1);
	pt = NULL;
	is_int(farm_crypto_seal(kr, AAD, strlen(AAD), secret, strlen(secret), &ct2, &ct2l), FARM_OK,
	       "seal after rotation");
	is_int(farm_crypto_envelope_version(ct2, ct2l, &v), FARM_OK, "read version");
	is_int(v, 3, "new seals use v3");
	is_int(farm_crypto_open(kr, AAD, strlen(AAD), ct2, ct2l, &pt, &ptl), FARM_OK, "v3 opens");
	farm_crypto_free_secret(pt, ptl + 1);
	pt = NULL;
	free(ct2);
	ct2 = NULL;

	/* empty plaintext */
	is_int(farm_crypto_seal(kr, NULL, 0, "", 0, &ct2, &ct2l), FARM_OK, "seal empty");
	is_int(ct2l, FARM_CRYPTO_OVERHEAD, "empty envelope is overhead only");
	is_int(farm_crypto_open(kr, NULL, 0, ct2, ct2l, &pt, &ptl), FARM_OK, "open empty");
	ok(pt && ptl == 0 && pt[0] == '\0', "empty plaintext is an empty string");
	farm_crypto_free_secret(pt, ptl + 1);
	free(ct2);

	/* capacity */
	for (i = 10; i < 40; i++)
		if (farm_keyring_add(kr, MASTER, strlen(MASTER), (unsigned)i) != FARM_OK)
			break;
	is_int(farm_keyring_add(kr, MASTER, strlen(MASTER), 100), FARM_E_TOOBIG,
	       "keyring has a bound");
	ok(i > 10, "keyring holds more than a few versions");

	free(ct);
	farm_keyring_free(kr);
	farm_keyring_free(NULL);
}

struct codec {
	const char *name;
	int (*enc)(const void *, size_t, char **);
	int (*dec)(const char *, size_t, unsigned char **, size_t *);
};

/* A test name showing `in` with control characters escaped (TAP is line based). */
static void name_for(char *name, size_t cap, const char *what, const char *in, const char *tail)
{
	char shown[64];
	size_t i, o = 0;

	for (i = 0; in[i] && o + 3 < sizeof(shown); i++) {
		if (in[i] == '\n') {
			shown[o++] = '\\';
			shown[o++] = 'n';
		} else {
			shown[o++] = in[i];
		}
	}
	shown[o] = '\0';
	snprintf(name, cap, "%s \"%s\"%s", what, shown, tail);
}

static void expect_decode(const struct codec *c, const char *in, const char *want)
{
	unsigned char *out = NULL;
	size_t outl = 0;
	char name[160], what[32];
	int rc = c->dec(in, strlen(in), &out, &outl);

	snprintf(what, sizeof(what), "%s decode", c->name);
	name_for(name, sizeof(name), what, in, want ? " ok" : " rejected");
	if (want)
		ok(rc == FARM_OK && outl == strlen(want) && memcmp(out, want, outl) == 0 &&
		       out[outl] == '\0',
		   name);
	else
		ok(rc == FARM_E_INVAL && out == NULL, name);
	free(out);
}

static void expect_encode(const struct codec *c, const char *in, const char *want)
{
	char *out = NULL;
	char name[160];

	snprintf(name, sizeof(name), "%s encode \"%s\"", c->name, in);
	is_int(c->enc(in, strlen(in), &out), FARM_OK, name);
	is_str(out, want, name);
	free(out);
}

static void roundtrip(const struct codec *c)
{
	unsigned char in[300], *back = NULL;
	size_t len, backl, bad = 0;
	char *s = NULL;
	char name[80];

	for (len = 0; len < sizeof(in); len++) {
		farm_crypto_random(in, len);
		if (c->enc(in, len, &s) || c->dec(s, strlen(s), &back, &backl) || backl != len ||
		    memcmp(back, in, len))
			bad++;
		free(s);
		free(back);
		s = NULL;
		back = NULL;
	}
	snprintf(name, sizeof(name), "%s round trip of random data, lengths 0..299", c->name);
	is_int(bad, 0, name);
}

static void test_codecs(void)
{
	static const struct codec b64 = {"b64", farm_b64_encode, farm_b64_decode};
	static const struct codec url = {"b64url", farm_b64url_encode, farm_b64url_decode};
	static const struct codec hex = {"hex", farm_hex_encode, farm_hex_decode};
	unsigned char bin[] = {0xfb, 0xff, 0xbf, 0x00, 0x7e};
	char *s = NULL;

	/* RFC 4648 section 10 */
	expect_encode(&b64, "", "");
	expect_encode(&b64, "f", "Zg==");
	expect_encode(&b64, "fo", "Zm8=");
	expect_encode(&b64, "foo", "Zm9v");
	expect_encode(&b64, "foob", "Zm9vYg==");
	expect_encode(&b64, "fooba", "Zm9vYmE=");
	expect_encode(&b64, "foobar", "Zm9vYmFy");
	expect_decode(&b64, "", "");
	expect_decode(&b64, "Zg==", "f");
	expect_decode(&b64, "Zm8=", "fo");
	expect_decode(&b64, "Zm9vYmFy", "foobar");
	expect_decode(&b64, "Zg", NULL);
	expect_decode(&b64, "Zg=", NULL);
	expect_decode(&b64, "Zg===", NULL);
	expect_decode(&b64, "Z===", NULL);
	expect_decode(&b64, "====", NULL);
	expect_decode(&b64, "Zg==Zg==", NULL);
	expect_decode(&b64, "Zm 9v", NULL);
	expect_decode(&b64, "Zm9v\n", NULL);
	expect_decode(&b64, "Zh==", NULL); /* non-zero pad bits: not canonical */
	expect_decode(&b64, "Zm9=", NULL);
	expect_decode(&b64, "Zm-_", NULL); /* url alphabet */

	expect_encode(&url, "f", "Zg");
	expect_encode(&url, "fo", "Zm8");
	expect_encode(&url, "foobar", "Zm9vYmFy");
	expect_decode(&url, "Zg", "f");
	expect_decode(&url, "Zm8", "fo");
	expect_decode(&url, "", "");
	expect_decode(&url, "Zg==", NULL);
	expect_decode(&url, "Zm8=", NULL);
	expect_decode(&url, "Z", NULL);
	expect_decode(&url, "Zm9vY", NULL);
	expect_decode(&url, "Zm 9v", NULL);
	expect_decode(&url, "Zm9v\n", NULL);
	expect_decode(&url, "Zm+/", NULL); /* standard alphabet */
	expect_decode(&url, "Zh", NULL);

	is_int(farm_b64_encode(bin, sizeof(bin), &s), FARM_OK, "b64 encode binary");
	is_str(s, "+/+/AH4=", "b64 uses + and /");
	free(s);
	is_int(farm_b64url_encode(bin, sizeof(bin), &s), FARM_OK, "b64url encode binary");
	is_str(s, "-_-_AH4", "b64url uses - and _, no padding");
	free(s);
	is_int(farm_hex_encode(bin, sizeof(bin), &s), FARM_OK, "hex encode binary");
	is_str(s, "fbffbf007e", "hex is lower case");
	free(s);

	expect_decode(&hex, "666f6f", "foo");
	expect_decode(&hex, "666F6F", "foo");
	expect_decode(&hex, "", "");
	expect_decode(&hex, "666", NULL);
	expect_decode(&hex, "6g", NULL);
	expect_decode(&hex, " 66", NULL);

	roundtrip(&b64);
	roundtrip(&url);
	roundtrip(&hex);
}

static int is_uuid4(const char *u)
{
	size_t i;

	if (strlen(u) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (u[i] != '-')
				return 0;
		} else if (!strchr("0123456789abcdef", u[i]) || u[i] == '\0') {
			return 0;
		}
	}
	return u[14] == '4' && strchr("89ab", u[19]) != NULL;
}

static void test_misc(void)
{
	char u1[37], u2[37];
	unsigned char a[32] = {0}, b[32] = {0};
	int i, all = 1;

	is_int(farm_crypto_uuid4(u1), FARM_OK, "uuid4");
	ok(is_uuid4(u1), "uuid4 form: 8-4-4-4-12 lower hex, version 4, variant 8-b");
	diag("uuid %s", u1);
	for (i = 0; i < 200; i++) {
		farm_crypto_uuid4(u2);
		all &= is_uuid4(u2) && strcmp(u1, u2) != 0;
	}
	ok(all, "200 more uuids are well-formed and differ from the first");

	ok(farm_crypto_memeq(a, b, sizeof(a)), "memeq: equal");
	b[31] = 1;
	ok(!farm_crypto_memeq(a, b, sizeof(a)), "memeq: last byte differs");
	b[31] = 0;
	b[0] = 0x80;
	ok(!farm_crypto_memeq(a, b, sizeof(a)), "memeq: first byte differs");
	ok(farm_crypto_memeq(a, b, 0), "memeq: zero length is equal");
	ok(farm_crypto_streq("token", 5, "token", 5), "streq: equal");
	ok(!farm_crypto_streq("token", 5, "tokem", 5), "streq: content differs");
	ok(!farm_crypto_streq("token", 5, "token1", 6), "streq: longer");
	ok(!farm_crypto_streq("token", 5, "toke", 4), "streq: prefix");
	ok(!farm_crypto_streq("", 0, "x", 1), "streq: empty vs one");
	ok(farm_crypto_streq("", 0, NULL, 0), "streq: empty vs empty");

	memset(a, 0xaa, sizeof(a));
	farm_crypto_wipe(a, sizeof(a));
	ok(a[0] == 0 && a[31] == 0, "wipe zeroes");
	farm_crypto_wipe(NULL, 5);
	farm_crypto_free_secret(NULL, 5);
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	is_int(farm_crypto_random(a, sizeof(a)), FARM_OK, "random");
	ok(!farm_crypto_memeq(a, b, sizeof(a)), "random bytes are not all zero");
}

int main(void)
{
	if (farm_crypto_init() != FARM_OK) {
		printf("Bail out! farm_crypto_init failed\n");
		return 1;
	}
	test_kat();
	test_gcm_kat();
	test_envelope_kat();
	test_seal();
	test_codecs();
	test_misc();
	return done_testing();
}
