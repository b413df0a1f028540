/* webhook.h - proving that an inbound webhook came from the platform.
 *
 * Each platform authenticates its deliveries its own way, in its module
 * (lib/platform/<type>/, the descriptor's webhook.verify); these are the primitives
 * they share: a shared token, the HTTP Basic password, a form field.  Every secret
 * comparison here is constant-time; nothing here logs or keeps a secret.
 */
#ifndef FARM_WEBHOOK_H
#define FARM_WEBHOOK_H

#include <stddef.h>

#include "err.h"

/* Largest PEM public key accepted. */
#define FARM_WEBHOOK_PEM_MAX 16384
/* Longest `Authorization: Basic ...` header accepted. */
#define FARM_WEBHOOK_BASIC_MAX 4096

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

/* Trims optional whitespace (spaces, tabs) from both ends of [*s, *s + *n). */
void farm_webhook_trim_ows(const char **s, size_t *n);

#endif
