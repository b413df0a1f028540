/* audit.h - who did what: the audit records of platforms.md §5 (GET /audit).
 *
 * One record per action that changes something: a credential write
 * (credential.create/update/delete), a catalog link (catalog.link), a pipeline run
 * (pipeline.run), and every admin row of a platform (trigger, sync, restart, rerun,
 * cancel: the row's action word).  A record is
 *   {id, at, sub, orgId, action, platform, target, credentialId, status, requestId}
 * and never holds a secret: only ids, names from the request's path and the caller's
 * claims.  `id` is a pool-wide counter: records sort by it, newest first per org.
 *
 * Where farm stores the action (credentials, catalog, pipelines) the record is
 * written by farm_audit_txn_add in the SAME transaction: both commit or neither.
 * An upstream call is recorded by farm_audit_add in its own durable transaction
 * BEFORE the call (status "pending"), and farm_audit_finish then UPDATES that record
 * to "ok" or "failed" (one record per action, so a page never shows an action
 * twice).  The update is committed lazily (farm_store_run_lazy): it rides the next
 * fsync of the pool, so an audited action costs one shared fsync more than an
 * unaudited one; a crash before that fsync leaves "pending", which reads "farm did
 * not learn the outcome".
 *
 * Storage: FARM_T_AUDIT (lib/store), key = id as 8 bytes big-endian, org-indexed:
 * a page is a backwards cursor walk of the org's index from `before`.  Retention
 * (audit.retention_days) is farm_audit_sweep, run by the farm-fcgi master's
 * checkpoint child: the oldest records first, a bounded number per round.
 */
#ifndef FARM_AUDIT_H
#define FARM_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Status words of a record. */
#define FARM_AUDIT_OK "ok"
#define FARM_AUDIT_FAILED "failed"
#define FARM_AUDIT_PENDING "pending"

/* Largest page of farm_audit_page (GET /audit?limit=). */
#define FARM_AUDIT_LIMIT_MAX 500

/* One record as its writer describes it; every string borrowed for the call.
 * NULL fields are stored as null (org NULL: the "no org" scope). */
struct farm_audit {
	const char *sub, *org, *action, *platform, *target, *cred_id, *status, *req_id;
};

/* Inside the caller's transaction (farm_store_run's callback): appends one record
 * with at = now, status a->status or "ok".  *id (optional) gets its id.
 * FARM_OK, FARM_E_INVAL (no action), FARM_E_NOMEM, or a store error. */
int farm_audit_txn_add(struct farm_txn *t, const struct farm_audit *a, uint64_t *id);

/* In a durable transaction of its own, before an upstream call: status "pending"
 * unless a->status says otherwise.  *id gets the record's id for farm_audit_finish. */
int farm_audit_add(struct farm_store *s, const struct farm_audit *a, uint64_t *id);

/* Sets the status of record `id` (FARM_AUDIT_OK / FARM_AUDIT_FAILED), committed
 * lazily (see above).  FARM_E_NOTFOUND when the record is gone. */
int farm_audit_finish(struct farm_store *s, uint64_t id, const char *status);

/* One page of `org`'s records (NULL: the no-org scope), newest first: at most
 * `limit` (1..FARM_AUDIT_LIMIT_MAX) with id < before (0: from the newest).
 * *out is new (a JSON array), free with json_decref; *next is the id to pass as
 * `before` for the following page, 0 when this page reached the oldest record. */
int farm_audit_page(struct farm_store *s, const char *org, uint64_t before, size_t limit,
		    json_t **out, uint64_t *next);

/* Every org's records, newest first (farmctl audit without --org): the same paging. */
int farm_audit_page_all(struct farm_store *s, uint64_t before, size_t limit, json_t **out,
			uint64_t *next);

/* Retention: removes records older than `cutoff_ms` (Unix ms), oldest first, at
 * most `max` of them, in transactions of at most FARM_AUDIT_SWEEP_TXN records;
 * *removed (optional) counts them.  Bounded work per call: the caller repeats it
 * on its schedule. */
#define FARM_AUDIT_SWEEP_TXN 200
int farm_audit_sweep(struct farm_store *s, long long cutoff_ms, size_t max, size_t *removed);

#endif
