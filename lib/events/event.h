/* event.h - turning a verified webhook body into farm's one event shape.
 *
 * Every verified webhook becomes one `ci.build.updated` event (architecture.md "The
 * event").  This module builds the provider-specific part of its `data` object:
 *
 *   {"provider":"circleci","project":"gh/org/repo","name":"build-test-deploy",
 *    "buildId":"…","number":130,"status":"success","providerStatus":"success",
 *    "branch":"main","commitSha":"…","url":"https://…",
 *    "startedAt":"2021-09-01T22:49:03.616Z","finishedAt":"…"}
 *
 * Every one of those members is always present; what the payload does not say is JSON
 * null.  `buildId` is always a string, `number` an integer or null, timestamps are
 * ISO 8601 UTC with milliseconds.  The caller adds `id`, `orgId`, `credentialId` and
 * `receivedAt`, and stores/publishes the event.
 *
 * Mapping per provider (body fields as in providers.md):
 *   CircleCI workflow-completed: project = project.slug, name = workflow.name,
 *     buildId = workflow.id, number = pipeline.number, status from workflow.status,
 *     url = workflow.url, startedAt = workflow.created_at, finishedAt = workflow.stopped_at.
 *   CircleCI job-completed: name = job.name, buildId = job.id, number = job.number,
 *     status from job.status, startedAt/finishedAt = job.started_at/stopped_at,
 *     url = workflow.url (the payload carries no job URL).
 *   Both: branch/commitSha = pipeline.vcs.branch/revision, else (GitLab, GitHub App)
 *     pipeline.trigger_parameters.git.branch/checkout_sha.  Dedupe key "circleci:<id>".
 *   Jenkins (Notification plugin): project = full job name from the job `url`
 *     ("job/a/job/b/" → "a/b"; else `name`), name = `name`, buildId = "<project>#<number>",
 *     number = build.number, status from build.status, else from build.phase
 *     (QUEUED → queued, STARTED → running), url = build.full_url, branch = build.scm.branch
 *     without a leading "refs/heads/" or "origin/", commitSha = build.scm.commit,
 *     startedAt = build.timestamp (epoch ms), finishedAt = timestamp + duration once the
 *     phase is COMPLETED or FINALIZED.  Dedupe key "jenkins:<project>:<number>:<phase>".
 *   Travis CI (the decoded `payload` JSON): project = repository.owner_name "/" name,
 *     name = repository.name, buildId = id as a string, number = number (a string in the
 *     payload) as an integer, status: state "started" → running, else from
 *     status_message, else from state (build vocabulary); url = build_url, branch,
 *     commitSha = commit, startedAt/finishedAt.  Dedupe key "travisci:<id>:<state>".
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

/* Length of "YYYY-MM-DDTHH:MM:SS.mmmZ" plus its NUL. */
#define FARM_EVENT_TS_LEN 25

/* Parsers.  On FARM_OK, *data is a new JSON object with the members above (free with
 * json_decref()) and *dedupe_key a new string identifying the delivery (free with
 * free()); both are NULL otherwise.  Errors (err may be NULL; err->msg says what is
 * wrong, and for malformed JSON the line, column and byte position):
 *   FARM_E_TOOBIG    body over FARM_EVENT_BODY_MAX;
 *   FARM_E_INVAL     malformed JSON, not an object, or a field the event cannot do
 *                    without (delivery id, build number, ...) missing or mistyped;
 *   FARM_E_NOTFOUND  a well-formed delivery that reports no build (a CircleCI `ping`
 *                    or any type other than workflow-completed / job-completed):
 *                    the receiver answers 200 and emits nothing;
 *   FARM_E_NOMEM. */
int farm_event_from_circleci(const void *body, size_t len, json_t **data, char **dedupe_key,
			     struct farm_error *err);
int farm_event_from_jenkins(const void *body, size_t len, json_t **data, char **dedupe_key,
			    struct farm_error *err);
/* `payload` is the form-decoded `payload` field (the bytes Travis signed). */
int farm_event_from_travis(const void *payload, size_t len, json_t **data, char **dedupe_key,
			   struct farm_error *err);

/* Normalises a provider's status word (providers.md §9.2) to one of
 * queued running success failed canceled error unstable unknown.
 * provider: "argocd" | "circleci" | "jenkins" | "travisci" | "codefresh" | "semaphore" |
 *           "gitflic" | "candor";
 * kind (which field the word comes from):
 *   argocd:   "phase" (operationState.phase), "health", "sync"
 *   circleci: "workflow", "job", "pipeline" (pipeline state)
 *   jenkins:  "result", "color", "notification" (phase or status)
 *   travisci: "build" (v3 state), "webhook" (status_message, or state "started")
 *   codefresh: "build"; semaphore: "pipeline"; gitflic: "pipeline"; candor: "run".
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
