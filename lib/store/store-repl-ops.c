/* store-repl-ops.c - operations on a replication group (docs/replication.md,
 * "Operations"): removing a site with repmgr's DB_SITE->remove; a stopping node's last
 * checkpoint without the master's checkpoint delay.
 *
 * Berkeley DB 5.3 keeps the group's membership in its own replicated database: a site
 * stays a member (and counts in the number of sites that elections and quorum
 * acknowledgements are computed over) until it is removed.  DB_SITE->remove runs in a
 * process where repmgr runs (a subordinate is enough): on the master it changes the
 * membership itself, elsewhere it asks the master. */
#include "store-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

int farm_store_repl_remove(struct farm_store *s, const char *site, struct farm_error *err)
{
	char host[256];
	const char *colon;
	DB_SITE *ds = NULL;
	char *end;
	long port;
	int rc;

	if (!farm_store_repl_on())
		return farm_error_set(err, FARM_E_INVAL, "replication is off (replication.local)");
	if (!s || !s->env || !site || !(colon = strrchr(site, ':')) || colon == site ||
	    (size_t)(colon - site) >= sizeof(host))
		return farm_error_set(err, FARM_E_INVAL, "a site is host:port");
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return farm_error_set(err, FARM_E_INVAL, "a site is host:port");
	memcpy(host, site, (size_t)(colon - site));
	host[colon - site] = '\0';
	if ((rc = s->env->repmgr_site(s->env, host, (u_int)port, &ds, 0)) != 0)
		return farm_error_set(err, store_code(rc), "store: site %s: %s", site,
				      db_strerror(rc));
	/* remove closes the handle, whatever it returns. */
	if ((rc = ds->remove(ds)) != 0)
		return farm_error_set(err, store_code(rc), "store: remove site %s: %s", site,
				      db_strerror(rc));
	return FARM_OK;
}

int farm_store_repl_stopping(struct farm_store *s)
{
	int rc;

	if (!farm_store_repl_on())
		return FARM_OK;
	if (!s || !s->env)
		return FARM_E_INVAL;
	/* A master's checkpoint first tells the replicas to flush and then waits
	 * DB_REP_CHECKPOINT_DELAY (30 s by default) before it writes the checkpoint
	 * record, so that they flush in the background rather than when they apply the
	 * record (with the delay at 0, t9500's acknowledgements came late: 504s).  A
	 * stopping node commits nothing more: its last checkpoint need not wait (it was
	 * killed at farm-fcgi's 10 s bound).  The setting is in the shared region; the
	 * next start's recovery recreates it with the default. */
	if ((rc = s->env->rep_set_timeout(s->env, DB_REP_CHECKPOINT_DELAY, 0)) != 0)
		return store_code(rc);
	return FARM_OK;
}
