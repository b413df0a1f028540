/* board.h - the board: the latest run of every (org, platform, project).
 *
 * farm-eventd writes a row in the transaction that numbers an event (farm_board_put
 * from its drain), so the board never lags the history and a crash keeps both or
 * neither.  A row is the run object of platforms.md §5 - the event's `data` without
 * `id` and `receivedAt` - plus `eventId`, the event it came from.  "Latest" is the
 * highest event id for the key: ids only grow and every event of a batch is put in id
 * order, so the last put wins.  Events without a string `provider` and `project`, or
 * whose key would not fit (board_key's limits, an empty orgId) have no row: the board
 * never stops the numbering.  The platform is the event's `provider`: this module names none.
 *
 * Table FARM_T_BOARD (org-scoped, so an org's rows come from the "by org" index):
 *   key   ('o' org | '-') NUL provider NUL project      ('-': the org-less scope)
 *   value the row's JSON (compact)
 * An org's rows therefore come in (provider, project) byte order: the board's order.
 *
 * The generation: a 64-bit counter in "<state_dir>/board.gen" (mapped, created 0600,
 * never removed) that farm-eventd bumps after every commit that wrote rows, and once
 * at start-up (a predecessor killed between its commit and its bump).  Readers that
 * cache a rendered board key it on the generation read BEFORE reading the board: a
 * commit a reader did not see is followed by a bump it will see next time.
 */
#ifndef FARM_BOARD_H
#define FARM_BOARD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

/* Longest provider name and project accepted into a key. */
#define FARM_BOARD_PROVIDER_MAX 64
#define FARM_BOARD_PROJECT_MAX 1024

/* Inside the numbering transaction: the row of event `id` whose data object is
 * `data` (borrowed; not modified).  FARM_OK also when the event has no row. */
int farm_board_put(struct farm_txn *t, json_t *data, uint64_t id);

/* An environment made before the board existed has a history but no board.  At
 * start, before it numbers anything, farm-eventd calls this until *more is 0: each
 * call puts the rows of up to `per` retained events (oldest first) and records how
 * far it got in FARM_T_META "board.filled", so a crash resumes where it stopped; once
 * the whole history is in, the key says "done" and later calls do nothing.  On a
 * new environment the history is empty and the first call says "done". */
#define FARM_BOARD_FILLED_KEY "board.filled"
int farm_board_backfill(struct farm_txn *t, size_t per, int *more, size_t *put);

/* Inside a transaction: appends the rows of `org` (NULL: the org-less scope) to
 * `items` (borrowed JSON array), in board order; only those whose provider is
 * `platform` when it is not NULL.  A row that does not parse is skipped. */
int farm_board_list(struct farm_txn *t, const char *org, const char *platform, json_t *items);

/* cctray's words for a row's normalised status (event.h's vocabulary):
 * activity "Building" for queued/running, else "Sleeping"; lastBuildStatus
 * success → Success, failed/unstable → Failure, error → Exception, anything else
 * (canceled, unknown, and a run still going: the board keeps only the latest run)
 * → Unknown.  Static strings. */
const char *farm_board_cctray_activity(const char *status);
const char *farm_board_cctray_status(const char *status);

/* Renders rows (an array as farm_board_list fills it) as a cctray feed:
 * <Projects><Project name="<provider>:<project>" activity lastBuildStatus
 * lastBuildLabel lastBuildTime webUrl/>...</Projects>, every value XML-escaped;
 * lastBuildLabel is `number`, else `buildId`; lastBuildTime `finishedAt`, else
 * `startedAt`; an attribute without a value is left out.  *xml is new (malloc,
 * NUL-terminated, *len bytes), free with free().  FARM_E_NOMEM. */
int farm_board_cctray(json_t *items, char **xml, size_t *len);

struct farm_board_gen;
/* Maps "<dir>/board.gen" (creating it).  *out new, free with farm_board_gen_close().
 * FARM_E_IO when it cannot be made or mapped. */
int farm_board_gen_open(const char *dir, struct farm_board_gen **out);
void farm_board_gen_close(struct farm_board_gen *g); /* NULL-safe */
/* The current generation (acquire); 0 for NULL. */
uint64_t farm_board_gen_read(const struct farm_board_gen *g);
/* Writer, after its commit: the next generation (release).  NULL-safe. */
void farm_board_gen_bump(struct farm_board_gen *g);

#endif
