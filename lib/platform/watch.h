/* watch.h - runs watched until they end, and the one stored observation of each run
 * (platforms.md §4).
 *
 * A platform with a poll hook (platform.h, struct farm_platform_poll) has runs that
 * no webhook reports, or not all of them.  Every run farm triggers on it, or sees
 * queued or running (in a list, a read, a delivery), is *watched*: farm-runner reads it
 * every poll.interval seconds until its status is final (or the watch is older than
 * poll.max_age).  What the poller reads and what a webhook delivery reports are both
 * stored as the run's *observation*; an event is appended only when the normalised
 * status differs from the stored one, so a change is emitted once, whoever saw it
 * first.  A credential may ask for the same on a platform without a poll hook
 * ("poll": true, farm_platform_poll_optin): its runs are then watched and read
 * through the platform's runs.get.
 *
 * Both live in FARM_T_META, one per (platform, org, run) whichever of the org's
 * credentials saw the run (the watch reads it with the first one that did):
 *   "run.obs\n<type>\n<o<org>|->\n<runId>"   -> {"status": "..."}
 *   "run.watch\n<type>\n<o<org>|->\n<runId>" -> {"type","org","cred","run",
 *                                               "since","next","fails"}
 * (run ids are checked by their platform: no control characters).
 */
#ifndef FARM_WATCH_H
#define FARM_WATCH_H

#include <jansson.h>

#include "err.h"

struct farm_txn;

/* Longest run id a watch holds. */
#define FARM_WATCH_RUN_MAX 256
/* Most watches kept (a new one beyond is refused with FARM_E_TOOBIG). */
#define FARM_WATCH_MAX 10000

/* 1 when a normalised status is final (success failed canceled error unstable). */
int farm_watch_final(const char *status);

/* Watches run_id of credential cred_id (type, org may be NULL) from now_ms on,
 * unless it is watched already.  FARM_OK, FARM_E_INVAL (a run id farm does not
 * keep), store errors. */
int farm_watch_add(struct farm_txn *t, const char *type, const char *org, const char *cred_id,
		   const char *run_id, long long now_ms);

/* Stores `fields` (a run's event fields, borrowed: its "buildId" names the run) as
 * the run's observation; when its "status" differs from the stored one, appends one
 * ci.build.updated event (orgId, credentialId, receivedAt = now_iso) to the outbox and
 * sets *emitted.  A final status ends the run's watch; another one starts it (unless
 * it exists).  In the caller's transaction. */
int farm_watch_observe(struct farm_txn *t, const char *type, const char *org,
		       const char *cred_id, json_t *fields, const char *now_iso,
		       long long now_ms, int *emitted);

/* Every watch (new array of the objects above, each with its "key"), at most max,
 * read as committed (no locks kept). */
int farm_watch_list(struct farm_txn *t, size_t max, json_t **out);

/* Writes watch w back (its "next" and "fails" changed), or removes it. */
int farm_watch_put(struct farm_txn *t, json_t *w);
int farm_watch_drop(struct farm_txn *t, json_t *w);

#endif
