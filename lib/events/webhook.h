/* webhook.h - proving that an inbound webhook came from the platform.
 *
 * Each platform authenticates its deliveries differently (providers.md §2.3, §3.4, §4.3;
 * operations.md §4.3):
 *   CircleCI  `circleci-signature: v1=<hex HMAC-SHA256(secret, raw body)>[,v1=..][,v2=..]`
 *   Jenkins   a shared token (`?token=`, `X-Farm-Token`, or the HTTP Basic password),
 *             the Notification plugin cannot sign
 *   Travis CI `Signature: base64(RSA PKCS#1 v1.5 SHA-1 over the form-decoded `payload`)`,
 *             public key from the Travis API `GET /config`
 * Every secret comparison here is constant-time; nothing here logs or keeps a secret.
 * These functions only verify: turning the body into an event is lib/events/event.h's job.
 */
#ifndef FARM_WEBHOOK_H
#define FARM_WEBHOOK_H

#include <stddef.h>

#include "err.h"

/* Longest `circleci-signature` header accepted (a handful of versioned signatures). */
#define FARM_WEBHOOK_SIG_HEADER_MAX 4096
/* Longest Travis `Signature` header accepted (base64 of a 16384-bit RSA signature). */
#define FARM_WEBHOOK_TRAVIS_SIG_MAX 2800
/* Largest PEM public key accepted. */
#define FARM_WEBHOOK_PEM_MAX 16384
/* Longest `Authorization: Basic ...` header accepted. */
#define FARM_WEBHOOK_BASIC_MAX 4096

/* Verifies a CircleCI delivery.  `sig_header` is the `circleci-signature` value
 * (borrowed, NUL-terminated, may be NULL): a comma-separated list of `version=hex`
 * pairs.  Only `v1` entries count (others are ignored so that no downgrade is
 * possible); any v1 that equals HMAC-SHA256(secret, body) accepts, so a secret can be
 * rotated.  Returns FARM_OK, or FARM_E_AUTH when the header is missing, empty, over
 * FARM_WEBHOOK_SIG_HEADER_MAX, has no v1, or no v1 matches (bad hex counts as no
 * match); FARM_E_AUTH too for an empty secret (an unset secret never verifies).
 * FARM_E_NOMEM / FARM_E_CRYPTO on internal failure. */
int farm_webhook_circleci_verify(const char *sig_header, const void *secret, size_t slen,
				 const void *body, size_t blen);

/* Compares a presented shared token with the configured one in constant time.
 * Both borrowed.  FARM_OK when equal; FARM_E_AUTH when different, when `given` is NULL,
 * or when `expected` is NULL or empty (an unset token never verifies). */
int farm_webhook_token_verify(const char *given, size_t glen, const char *expected, size_t elen);

/* Extracts the password of an `Authorization: Basic base64(user:pass)` header value
 * (borrowed; scheme matched case-insensitively).  *password is new, NUL-terminated and
 * holds a secret: free it with farm_crypto_free_secret(*password, strlen(*password) + 1).
 * FARM_E_AUTH when the header is NULL, not Basic, bad base64, has no ':', or the
 * credentials hold a NUL byte; FARM_E_NOMEM. */
int farm_webhook_basic_password(const char *authorization_header, char **password);

/* Finds the first field `name` (borrowed, NUL-terminated, compared with the decoded
 * field names) in an application/x-www-form-urlencoded body (borrowed; need not be
 * NUL-terminated) and decodes its value: '+' is a space, %XX a byte (either hex case).
 * The whole body must be well formed: a '%' not followed by two hex digits anywhere is
 * FARM_E_INVAL.  A field without '=' has the empty value.  *out is new (malloc),
 * NUL-terminated (not counted in *outlen; the value may itself hold NUL bytes), free
 * with free().  FARM_E_NOTFOUND when no such field; FARM_E_NOMEM. */
int farm_form_field(const char *body, size_t blen, const char *name, char **out, size_t *outlen);

/* Verifies a Travis CI signature: `sig_b64` (borrowed, NUL-terminated, the `Signature`
 * header) is base64 of an RSA PKCS#1 v1.5 signature with SHA-1 over `payload`, which
 * must be the *form-decoded* value of the `payload` field (see farm_form_field).
 * `pubkey_pem` (borrowed, pemlen bytes) is a PEM "PUBLIC KEY" (SubjectPublicKeyInfo)
 * or "RSA PUBLIC KEY" (PKCS#1) block holding an RSA key.
 * Returns FARM_OK; FARM_E_AUTH for a missing, oversized or non-base64 signature or one
 * that does not verify; FARM_E_INVAL when the key is not a usable RSA public key;
 * FARM_E_CRYPTO when the system refuses SHA-1 signatures outright; FARM_E_NOMEM. */
int farm_webhook_travis_verify(const char *pubkey_pem, size_t pemlen, const char *sig_b64,
			       const void *payload, size_t plen);

/* Extracts config.notifications.webhook.public_key from the body of the Travis API
 * `GET /config` response (borrowed, len bytes).  *pem is new (malloc), NUL-terminated,
 * free with free().  FARM_E_INVAL for malformed JSON or a key that is not a usable RSA
 * public key (so such a key is never cached); FARM_E_NOTFOUND when the member is
 * absent, not a string, empty, or over FARM_WEBHOOK_PEM_MAX; FARM_E_NOMEM. */
int farm_webhook_travis_key_from_config(const char *json, size_t len, char **pem);

#endif
