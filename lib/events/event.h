/* event.h - turning a verified webhook body into farm's one event shape.
 *
 * Every verified webhook becomes one `ci.build.updated` event (architecture.md "The
 * event").  This module builds the provider-specific part of its `data` object:
 *
 *   {"provider":"<type>","project":"gh/org/repo","name":"build-test-deploy",
 *    "buildId":"…","number":130,"status":"success","providerStatus":"success",
 *    "branch":"main","commitSha":"…","url":"https://…",
 *    "startedAt":"2021-09-01T22:49:03.616Z","finishedAt":"…"}
 *
 * Every one of those members is always present; what the payload does not say is JSON
 * null.  `buildId` is always a string, `number` an integer or null, timestamps are
 * ISO 8601 UTC with milliseconds.  The caller adds `id`, `orgId`, `credentialId` and
 * `receivedAt`, and stores/publishes the event.
 *
 * Each platform module maps its own payloads (lib/platform/<type>/, its descriptor's
 * webhook.map) with the builders below.
 */
#ifndef FARM_EVENT_H
#define FARM_EVENT_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

/* The event name every webhook produces. */
#define FARM_EVENT_BUILD_UPDATED "ci.build.updated"

/* Largest webhook body these parsers accept (the request body_limit default). */
#define FARM_EVENT_BODY_MAX (1024 * 1024)

/* The last millisecond of year 9999, the largest time an event holds. */
#define FARM_EVENT_EPOCH_MS_MAX (253402300799999LL)

/* Length of "YYYY-MM-DDTHH:MM:SS.mmmZ" plus its NUL. */
#define FARM_EVENT_TS_LEN 25

/* Longest string in an event, in bytes of UTF-8 (names, branches, urls, project,
 * commit: every string member of `data`).  A longer one is cut at a character
 * boundary and ends in FARM_EVENT_CUT_MARK, the whole string then being at most this
 * long (docs/events.md, "Field caps").  With the two dozen members an event has, even
 * a data object of control characters (6 bytes each once escaped) stays far below
 * FARM_EVENTS_JSON_MAX, the history and publish limit. */
#define FARM_EVENT_FIELD_MAX 1024
/* What a cut string ends in: U+2026 HORIZONTAL ELLIPSIS. */
#define FARM_EVENT_CUT_MARK "\xe2\x80\xa6"

/* ---- for the platform modules' payload mappers --------------------------------
 *
 * A mapper (struct farm_platform_webhook.map): on FARM_OK, *data is a new JSON object
 * with the members above (free with json_decref()) and *dedupe_key a new string
 * identifying the delivery (free with free()); both are NULL otherwise.  Errors (err
 * may be NULL; err->msg says what is wrong, and for malformed JSON the line, column
 * and byte position):
 *   FARM_E_TOOBIG    body over FARM_EVENT_BODY_MAX;
 *   FARM_E_INVAL     malformed JSON, not an object, or a field the event cannot do
 *                    without (delivery id, build number, ...) missing or mistyped;
 *   FARM_E_NOTFOUND  a well-formed delivery that reports no build: the receiver
 *                    answers 200 and emits nothing;
 *   FARM_E_NOMEM. */

/* Clears both outputs; FARM_E_INVAL when one is NULL. */
int farm_event_out_init(json_t **data, char **dedupe_key, struct farm_error *err);
/* Parses a body that must be a JSON object of at most FARM_EVENT_BODY_MAX bytes;
 * `provider` names it in messages. */
int farm_event_load(const char *provider, const void *body, size_t len, json_t **root,
		    struct farm_error *err);
/* A new event object: every member null, provider set, status "unknown". */
json_t *farm_event_new(const char *provider);
/* The string of v when it is a non-empty JSON string, else NULL. */
const char *farm_event_str(json_t *v);
/* An integer from a JSON integer or a string of 1-18 decimal digits; 1 when one. */
int farm_event_int(json_t *v, long long *out);
/* Setters whose first allocation failure sticks in *nomem: any value; a string (left
 * null when s is NULL); the normalised timestamp in v (left null when v is not one);
 * a timestamp from epoch milliseconds. */
void farm_event_set(json_t *o, const char *key, json_t *v, int *nomem);
void farm_event_set_str(json_t *o, const char *key, const char *s, int *nomem);
void farm_event_set_ts(json_t *o, const char *key, json_t *v, int *nomem);
void farm_event_set_ts_ms(json_t *o, const char *key, long long ms, int *nomem);
/* A redelivery key (new, malloc), or NULL when out of memory or too long (*too_long). */
char *farm_event_key(int *too_long, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands data and key to the caller, or frees them and reports why. */
int farm_event_finish(json_t *data, char *key, int nomem, int too_long, json_t **out_data,
		      char **out_key, const char *provider, struct farm_error *err);

/* Caps every string inside `v` (any JSON value: an event, its data, a member) at
 * FARM_EVENT_FIELD_MAX bytes, in place, as described above.  Object keys are not
 * touched (producers choose them).  Returns the number of strings cut (0 or more), or
 * FARM_E_NOMEM.  Idempotent: a capped value is left as it is. */
int farm_event_cap(json_t *v);

/* The one way an event ({"event":…,"data":{…}}) becomes the bytes stored in the
 * outbox and, with its id, in the history: farm_event_cap, then compact JSON.
 * *json is new (free with farm_json_free()), *len its length.  FARM_E_INVAL when ev is
 * not an event; FARM_E_TOOBIG when the JSON, with the largest id farm-eventd can add,
 * would exceed FARM_EVENTS_JSON_MAX (so what is acknowledged can be delivered);
 * FARM_E_NOMEM. */
int farm_event_dump(json_t *ev, char **json, size_t *len);

/* Normalises a provider's status word (providers.md §9.2) to one of
 * queued running success failed canceled error unstable unknown.
 * provider: a platform type; its descriptor's .statuses (lib/platform/<type>/) hold
 *           the words and say which kinds it has (the field the word comes from).
 * Words compare case-insensitively; an unknown provider, kind or word, or a NULL, is
 * "unknown".  Returns a static string (never NULL). */
const char *farm_event_status(const char *provider, const char *kind, const char *word);

/* Parses an ISO 8601 / RFC 3339 date-time of `len` bytes (s need not be NUL-terminated):
 * "YYYY-MM-DD" 'T'|'t'|' ' "HH:MM:SS" [ '.' digits ] [ 'Z'|'z' | ±HH:MM | ±HHMM ].
 * Fractions beyond milliseconds are truncated; no offset means UTC.  Fields are range
 * checked (day against the month, second up to 60).  *epoch_ms is UTC.  FARM_E_INVAL. */
int farm_event_iso8601_parse(const char *s, size_t len, long long *epoch_ms);

/* Parses and reformats: out gets the UTC "…sss.mmmZ" form.  FARM_E_INVAL. */
int farm_event_iso8601_norm(const char *s, size_t len, char out[FARM_EVENT_TS_LEN]);

#endif
