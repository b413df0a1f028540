/* registry.c - the platforms farm knows, in their fixed order (GET /platforms, the
 * docs' tables, "type must be one of"): one line per module, lib/platform/<type>/. */
#include "platform.h"

#include "argocd.h"
#include "circleci.h"
#include "jenkins.h"
#include "travisci.h"

const struct farm_platform *const farm_platforms[] = {
	&farm_platform_argocd,
	&farm_platform_circleci,
	&farm_platform_jenkins,
	&farm_platform_travisci,
	NULL,
};
