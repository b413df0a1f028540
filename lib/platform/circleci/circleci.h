/* circleci.h - the CircleCI module (circleci.c): its descriptor and its operations. */
#ifndef FARM_PLATFORM_CIRCLECI_H
#define FARM_PLATFORM_CIRCLECI_H

#include "platform.h"

extern const struct farm_platform farm_platform_circleci;

int farm_provider_circleci_pipelines(struct farm_provider_call *c, const char *vcs_url,
				     json_t **out);
int farm_provider_circleci_trigger(struct farm_provider_call *c, const char *slug, json_t *body,
				   json_t **out);
/* GitHub/Bitbucket repository URL -> "gh/org/repo" / "bb/org/repo" in out; 0 when the
 * URL is not one of theirs. */
int farm_provider_circleci_slug_of(const char *vcs_url, char *out, size_t cap);
int farm_provider_circleci_slug_ok(const char *slug, char *why, size_t cap);
#define FARM_CIRCLECI_MAX_PAGES 5

/* The webhook payload -> the event's fields (lib/events/event.h, "for the platform
 * modules"). */
int farm_event_from_circleci(const void *body, size_t len, json_t **data, char **dedupe_key,
			     struct farm_error *err);

/* Longest `circleci-signature` header accepted (a handful of versioned signatures). */
#define FARM_WEBHOOK_SIG_HEADER_MAX 4096
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

#endif
