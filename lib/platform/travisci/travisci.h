/* travisci.h - the Travis CI module (travisci.c): its descriptor and its operations. */
#ifndef FARM_PLATFORM_TRAVISCI_H
#define FARM_PLATFORM_TRAVISCI_H

#include "platform.h"

extern const struct farm_platform farm_platform_travisci;

int farm_provider_travisci_builds(struct farm_provider_call *c, const char *repo_slug,
				  long limit, long offset, json_t **out);
int farm_provider_travisci_restart(struct farm_provider_call *c, const char *id, json_t **out);
int farm_provider_travisci_slug_ok(const char *slug, char *why, size_t cap);
/* GET <api>/config through h (its address policy, CA file, size cap, timeouts, the
 * gate's hand-over) -> the webhook public key, checked to parse.  *pem new (free).
 * FARM_OK; FARM_E_TIMEOUT, FARM_E_FORBIDDEN (address policy), FARM_E_UPSTREAM (not 200,
 * transport), FARM_E_TOOBIG, FARM_E_INVAL (no usable key, bad URL), FARM_E_NOMEM; `why`
 * gets a reason fit for a log line (no secret: the answer's text is never quoted). */
int farm_provider_travisci_fetch_key(struct farm_httpc *h, struct farm_arena *a,
				     const char *api, char **pem, char *why, size_t cap);

/* The webhook payload -> the event's fields (lib/events/event.h, "for the platform
 * modules"). */
/* `payload` is the form-decoded `payload` field (the bytes Travis signed). */
int farm_event_from_travis(const void *payload, size_t len, json_t **data, char **dedupe_key,
			   struct farm_error *err);

/* Longest Travis `Signature` header accepted (base64 of a 16384-bit RSA signature). */
#define FARM_WEBHOOK_TRAVIS_SIG_MAX 2800
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
