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

#endif
