/* registry.c - the platforms farm knows, in their fixed order (GET /platforms, the
 * docs' tables, "type must be one of"): one line per module, lib/platform/<type>/. */
#include "platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int farm_platform_conf_register(void)
{
	struct farm_conf_key *rows;
	const struct farm_conf_key *have;
	size_t n = 0, nhave;
	int rc;

	for (size_t i = 0; farm_platforms[i]; i++)
		for (const struct farm_platform_conf *c = farm_platforms[i]->conf; c && c->key; c++)
			n++;
	if (!(rows = calloc(n + 1, sizeof(*rows))))
		return FARM_E_NOMEM;
	have = farm_conf_keys(&nhave);
	n = 0;
	for (size_t i = 0; farm_platforms[i]; i++)
		for (const struct farm_platform_conf *c = farm_platforms[i]->conf; c && c->key; c++) {
			const struct farm_conf_key *k = NULL;
			for (size_t j = 0; j < nhave && !k; j++)
				if (!strcmp(have[j].name, c->key))
					k = &have[j];
			/* Still a field of struct farm_conf (argocd.poll_interval, read by
			 * the poller): the same row, kept once. */
			if (k && !strcmp(k->def, c->def) && k->secret == c->secret && k->type == c->type)
				continue;
			rows[n++] = (struct farm_conf_key){c->key, c->type, 0, c->min, c->max, c->def,
							   c->secret, c->doc};
		}
	rc = farm_conf_register(rows);
	free(rows);
	if (rc != FARM_OK)
		fprintf(stderr, "farm: cannot add the platforms' configuration keys: %s\n",
			farm_strerror(rc));
	return rc;
}
