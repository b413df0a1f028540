/* semaphore.h - the Semaphore module (semaphore.c): its descriptor and its operations. */
#ifndef FARM_PLATFORM_SEMAPHORE_H
#define FARM_PLATFORM_SEMAPHORE_H

#include "platform.h"

extern const struct farm_platform farm_platform_semaphore;

/* Link pages followed at most by one list (30 items a page upstream, 100 at most asked). */
#define FARM_SEMAPHORE_MAX_PAGES 10

/* 1 when s is a Semaphore id (a UUID: 8-4-4-4-12 hex digits). */
int farm_semaphore_id_ok(const char *s);

/* The URL of rel="next" in a Link header value into out (cap bytes); 0 when none. */
int farm_semaphore_link_next(const char *link, char *out, size_t cap);

/* Verifies X-Semaphore-Signature-256: lowercase hex HMAC-SHA256(secret, body), an
 * optional "sha256=" prefix tolerated.  FARM_OK, FARM_E_AUTH (missing, malformed, no
 * match, empty secret), FARM_E_NOMEM / FARM_E_CRYPTO. */
int farm_webhook_semaphore_verify(const char *sig, const void *secret, size_t slen,
				  const void *body, size_t blen);

/* A notification -> the event's fields; `body` is "<X-Semaphore-Webhook-Id>\n<raw body>"
 * as the module's verify() hands it on (an empty first line when the header is absent). */
int farm_event_from_semaphore(const void *body, size_t len, json_t **data, char **dedupe_key,
			      struct farm_error *err);

#endif
