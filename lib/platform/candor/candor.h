/* candor.h - the Candor CI module (candor.c: the dashboard API behind a cookie
 * session; candor-runner.c: the runner API farm-runner drives for a pipeline's candor
 * stage).  Facts: providers.md §8, seed 003 (it wins where they differ). */
#ifndef FARM_PLATFORM_CANDOR_H
#define FARM_PLATFORM_CANDOR_H

#include <jansson.h>
#include <stddef.h>

#include "httpc.h"
#include "platform.h"

extern const struct farm_platform farm_platform_candor;

/* Longest Candor pipeline id (a positive decimal integer) and run id. */
#define FARM_CANDOR_ID_MAX 18
#define FARM_CANDOR_RUN_ID_MAX 64

/* 1 when id is a Candor pipeline id: 1..18 decimal digits, not starting with 0. */
int farm_candor_pipeline_id_ok(const char *id);
/* 1 when run is a run id: "last", or 1..64 of [A-Za-z0-9_-] (Candor's are 8 hex). */
int farm_candor_run_id_ok(const char *run);

/* Sessions: one per (credential id, url, username, password) in this process
 * (candor.c).  Forgets them all, wiping the cookies (tests, a reload). */
void farm_candor_sessions_clear(void);

/* One pipeline's run as farm names it (platforms.md §5): reads GET
 * /api/pipelines/<id> through c (the session, logged in again once on 401/403) and
 * finds run_id in its lastRuns ("last": the newest; a pipeline whose `running` is
 * true and has no such run yet answers a run with status "running").  *out (new)
 * is {"project","name","buildId":"<id>#<run>","number":null,"status",
 * "providerStatus","startedAt","finishedAt","stages"}.  FARM_OK, or an error
 * with c->err set (404 when the run is not among the last runs). */
int farm_candor_run_read(struct farm_provider_call *c, const char *pipeline_id,
			 const char *run_id, json_t **out);

/* The runs hooks (platform.h struct farm_platform_runs; runId "<pipelineId>#<runId>"):
 * parse; get (farm_candor_run_read); rerun = the pipeline triggered again (*run has
 * buildId null: Candor names a run only once it ended); log (text capped at cap).
 * Candor cannot cancel a run. */
int farm_candor_runs_parse(const char *run_id, char *why, size_t cap);
int farm_candor_runs_get(struct farm_provider_call *c, const char *run_id, json_t **run);
int farm_candor_runs_rerun(struct farm_provider_call *c, const char *run_id, json_t **run);
int farm_candor_runs_log(struct farm_provider_call *c, const char *run_id, size_t cap,
			 char **text, size_t *len, int *truncated);

/* ---- the runner API (candor-runner.c) ------------------------------------------------ */

/* POST <runnerUrl>/run {"runId": run_id, "plan": plan} with "Authorization: Bearer
 * <runnerToken>" (both from the credential value `value`, borrowed), through h with
 * timeout_ms for the whole call (the runner answers when every stage ran).
 * FARM_OK with *result (new) the runner's answer {"status","stages":[...],
 * "archived"?} (status checked to be Passed, Failed or Error).  Otherwise an error
 * and a reason in why (no secret, no answer text): FARM_E_INVAL (no runnerUrl or
 * runnerToken in the credential, or the runner refused the plan: 400),
 * FARM_E_AUTH (401: the runner refused the token), FARM_E_FORBIDDEN (the address
 * policy), FARM_E_TIMEOUT, FARM_E_UPSTREAM (unreachable, another status, an answer
 * that is not the documented JSON), FARM_E_NOMEM. */
int farm_candor_runner_run(struct farm_httpc *h, json_t *value, const char *run_id,
			   json_t *plan, json_t **result, char *why, size_t cap);

/* POST <runnerUrl>/logs/<run_id> -> the run's log, *log new (malloc, len bytes,
 * NUL-terminated).  Errors as above; FARM_E_NOTFOUND for 404. */
int farm_candor_runner_log(struct farm_httpc *h, json_t *value, const char *run_id, char **log,
			   size_t *len, char *why, size_t cap);

#endif
