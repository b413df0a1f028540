/* runidx.h - the runs index: the latest state of every (org, platform, runId), newest
 * first, so that GET /api/v1/runs is a bounded cursor walk instead of a scan of the
 * history (docs/runs.md).
 *
 * farm-eventd writes it in the transaction that numbers an event (farm_runidx_put,
 * next to farm_board_put), so it never lags the history and a crash keeps both or
 * neither.  A row is the run object of platforms.md §5 - the event's `data` without
 * `id` and `receivedAt` - plus `eventId`.  Only `ci.build.updated` events with a string
 * `provider` and `buildId` have a row; like the board this module names no platform.
 *
 * Table FARM_T_RUNIDX, keys (S = the scope: 'o' org NUL, or '-' NUL for no org; B =
 * the event id, 8 bytes big-endian, so a backwards walk is newest first):
 *   S 'r' provider NUL buildId        the run's current row (the lookup)
 *   S 'a' B                           every run of the scope
 *   S 'p' provider NUL B              ... of one platform
 *   S 'j' project NUL B               ... of one project
 *   S 'b' provider NUL project NUL B  ... of both
 *   0x01 'g' B  -> S 'r' provider NUL buildId   (retention, oldest first)
 * The order rows' value is the run's 'r' key (the row is read from there).
 * An update deletes the run's previous order rows and writes the new ones: the run
 * moves to the front.  Retention (farm_runidx_prune): a run whose latest event left
 * the history (events.history) goes with it; readers also skip any row older than
 * the history's first id, so answers equal a reduction of the retained history. */
#ifndef FARM_RUNIDX_H
#define FARM_RUNIDX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

#define FARM_RUNIDX_FIELD_MAX 1024

/* Inside the numbering transaction: event `id` named `event` with `data` (borrowed). */
int farm_runidx_put(struct farm_txn *t, const char *event, json_t *data, uint64_t id);

/* Removes the rows of up to `max` runs whose latest event id is below `first`. */
int farm_runidx_prune(struct farm_txn *t, uint64_t first, size_t max);

/* As farm_board_backfill, with the meta key "runidx.filled". */
#define FARM_RUNIDX_FILLED_KEY "runidx.filled"
int farm_runidx_backfill(struct farm_txn *t, size_t per, int *more, size_t *put);

/* Appends to `runs` (a JSON array) up to `limit` rows of the scope `org` (NULL: no
 * org) newest first, filtered by platform and project (NULL: any), each with eventId
 * >= `first`.  `keep` (may be NULL) decides whether a parsed row counts. */
int farm_runidx_list(struct farm_txn *t, const char *org, const char *platform,
		     const char *project, uint64_t first, size_t limit,
		     int (*keep)(json_t *row), json_t *runs);

#endif
