/* farmctl-repl-remove.c - `farmctl replication remove HOST:PORT`: takes a site out of
 * the replication group's membership (docs/replication.md, "Removing a node"). */
#include <stdio.h>

#include "farmctl.h"
#include "store.h"
#include "banned.h"

int farmctl_replication_remove(const char *conf_path, const char *site)
{
	struct farm_conf c;
	struct farm_store *s = NULL;
	struct farm_error err = {0};
	int rc = 1;

	if (farmctl_load_conf(conf_path, &c))
		return 1;
	if (!farm_store_repl_on()) {
		fprintf(stderr, "farmctl: replication is off (replication.local is not set)\n");
		goto out;
	}
	/* Not passive: DB_SITE->remove needs repmgr in this process (a subordinate). */
	if (farm_store_open(&s, c.state_dir, 0, &err) != FARM_OK ||
	    farm_store_repl_remove(s, site, &err) != FARM_OK) {
		fprintf(stderr, "farmctl: %s\n", err.msg);
		goto out;
	}
	printf("removed %s from the replication group\n", site);
	rc = 0;
out:
	farm_store_close(s);
	farm_conf_free(&c);
	return rc;
}
