/* registry.c - the platforms farm knows, in their fixed order (GET /platforms, the
 * docs' tables, "type must be one of"): one line per module, lib/platform/<type>/. */
#include "platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argocd.h"
#include "candor.h"
#include "circleci.h"
#include "jenkins.h"
#include "travisci.h"

const struct farm_platform *const farm_platforms[] = {
	&farm_platform_argocd,
	&farm_platform_candor,
	&farm_platform_circleci,
	&farm_platform_jenkins,
	&farm_platform_travisci,
	NULL,
};

int farm_platform_conf_register(void)
{
	struct farm_conf_key *rows;
	size_t n = 0;
	int rc;

	for (size_t i = 0; farm_platforms[i]; i++)
		for (const struct farm_platform_conf *c = farm_platforms[i]->conf; c && c->key; c++)
			n++;
	if (!(rows = calloc(n + 1, sizeof(*rows))))
		return FARM_E_NOMEM;
	n = 0;
	for (size_t i = 0; farm_platforms[i]; i++)
		for (const struct farm_platform_conf *c = farm_platforms[i]->conf; c && c->key; c++)
			rows[n++] = (struct farm_conf_key){c->key, c->type, 0, c->min, c->max, c->def,
							   c->secret, c->doc};
	rc = farm_conf_register(rows);
	free(rows);
	if (rc != FARM_OK)
		fprintf(stderr, "farm: cannot add the platforms' configuration keys: %s\n",
			farm_strerror(rc));
	return rc;
}
