/* crypto.h - everything cryptographic in farm, over GnuTLS.
 *
 * Credential sealing: AES-256-GCM, key = HKDF-SHA256(master, salt="farm",
 * info="farm/v1/cred-enc/k<version>"), a fresh random 96-bit nonce per seal, and the
 * caller's associated data (record id, org, type) bound into the tag.
 * Envelope (binary): "FRM1" | u32 key version (big-endian) | nonce[12] | ciphertext | tag[16].
 */
#ifndef FARM_CRYPTO_H
#define FARM_CRYPTO_H

#include <stddef.h>

#include "err.h"

#define FARM_CRYPTO_NONCE_LEN 12
#define FARM_CRYPTO_TAG_LEN 16
#define FARM_CRYPTO_OVERHEAD (4 + 4 + FARM_CRYPTO_NONCE_LEN + FARM_CRYPTO_TAG_LEN)

/* Call once per process before threads start. */
int farm_crypto_init(void);

/* Cryptographically random bytes (gnutls_rnd). */
int farm_crypto_random(void *buf, size_t len);

/* A random UUID v4 in lower-case text form; `out` must hold 37 bytes. */
int farm_crypto_uuid4(char out[37]);

/* 1 when the n bytes are equal, 0 otherwise; time independent of content. */
int farm_crypto_memeq(const void *a, const void *b, size_t n);

/* Constant-time comparison of two strings of possibly different lengths (the
 * length is not secret; the content is).  1 when equal. */
int farm_crypto_streq(const char *a, size_t alen, const char *b, size_t blen);

/* Wipes memory so the compiler cannot elide it.  NULL-safe. */
void farm_crypto_wipe(void *p, size_t n);

/* Wipes then frees `p` (n bytes).  NULL-safe. */
void farm_crypto_free_secret(void *p, size_t n);

int farm_crypto_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
			    unsigned char out[32]);
int farm_crypto_sha256(const void *msg, size_t mlen, unsigned char out[32]);
int farm_crypto_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
			    const void *info, size_t infolen, unsigned char *out, size_t outlen);

/* A set of derived sealing keys by version: the newest seals, any opens. */
struct farm_keyring;

/* Returns new keyring holding the key of `version` derived from `master`; free with
 * farm_keyring_free().  `master` is copied into nothing: only the derived key is kept. */
int farm_keyring_new(struct farm_keyring **out, const void *master, size_t mlen,
		     unsigned version);
/* Adds another version (older or newer); the highest version seals. */
int farm_keyring_add(struct farm_keyring *kr, const void *master, size_t mlen, unsigned version);
unsigned farm_keyring_current(const struct farm_keyring *kr);
/* NULL-safe; wipes every key. */
void farm_keyring_free(struct farm_keyring *kr);

/* Seals pt under the current key.  *ct is new (malloc), free with free(). */
int farm_crypto_seal(const struct farm_keyring *kr, const void *aad, size_t aadlen,
		     const void *pt, size_t ptlen, unsigned char **ct, size_t *ctlen);
/* Opens an envelope.  *pt is new, NUL-terminated (not counted in *ptlen), and holds a
 * secret: free with farm_crypto_free_secret(*pt, *ptlen + 1).  FARM_E_CRYPTO when the
 * tag does not verify (tampered, moved, wrong key); FARM_E_NOTFOUND when the
 * envelope's key version is not in the keyring; FARM_E_INVAL when malformed. */
int farm_crypto_open(const struct farm_keyring *kr, const void *aad, size_t aadlen,
		     const unsigned char *ct, size_t ctlen, unsigned char **pt, size_t *ptlen);
/* Reads the key version of an envelope without opening it. */
int farm_crypto_envelope_version(const unsigned char *ct, size_t ctlen, unsigned *version);

/* Encoders return new NUL-terminated strings (malloc).  Decoders return new buffers
 * and reject any character outside the alphabet (no whitespace, no padding for url). */
int farm_b64_encode(const void *in, size_t len, char **out);
int farm_b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);
int farm_b64url_encode(const void *in, size_t len, char **out);
int farm_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);
int farm_hex_encode(const void *in, size_t len, char **out);
int farm_hex_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);
/* The value of one hex digit (either case), or -1: farm's one hex-digit decoder
 * (farm_hex_decode, percent-decoding in router.c, webhook form bodies). */
int farm_hex_digit(int c);

#endif
