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

#endif
