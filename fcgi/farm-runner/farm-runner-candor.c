/* farm-runner-candor.c - a pipeline's candor stage: the plan goes to a Candor runner
 * (lib/platform/candor/candor.h, the runner API of seed 003), which answers once
 * every stage ran.
 *
 * The stage's credentialId names a Candor credential of the run's org (its runnerUrl
 * and runnerToken); farm's run id is the runner's runId, so the runner's log is POST
 * <runnerUrl>/logs/<run id>, appended to the run's log.  The runner's status becomes
 * the stage's: Passed success, Failed or Error failed (the error names the first
 * Candor stage that did not pass); its per-stage statuses are kept in the run stage's
 * "runner" member and the run's events (lib/pipeline, farm_pipeline_run_event).  A
 * runner that refuses the plan (400) or the token (401), or cannot be reached, fails
 * the stage with that reason.  The call waits up to the stage timeout
 * (pipelines.stage_timeout).
 */
#include "farm-runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candor.h"
#include "clock.h"
#include "creds.h"
#include "httpc.h"
#include "keys.h"
#include "log.h"
#include "banned.h"

struct pick_io {
	const char *org, *id;
	json_t *rec;
	int notfound;
};

static int pick_txn(struct farm_txn *t, void *arg)
{
	struct pick_io *p = arg;

	json_decref(p->rec);
	p->rec = NULL;
	return farm_creds_pick(t, p->org, "candor", p->id, &p->rec, &p->notfound);
}

/* The decrypted value of the stage's credential; NULL with why. */
static json_t *credential(struct farm_runner *rn, json_t *run, const char *id, char *why,
			  size_t cap)
{
	static struct farm_keyring *kr; /* loaded once; the main thread alone uses it */
	struct pick_io p = {json_string_value(json_object_get(run, "orgId")), id, NULL, 0};
	const char *type;
	json_t *value = NULL;
	int rc;

	rc = farm_store_run(rn->store, pick_txn, &p);
	if (rc != FARM_OK) {
		snprintf(why, cap, "cannot read credential %s: %s", id, farm_strerror(rc));
		goto out;
	}
	if (p.notfound || !p.rec) {
		snprintf(why, cap, "credential %s not found in the pipeline's organization", id);
		goto out;
	}
	type = json_string_value(json_object_get(p.rec, "type"));
	if (!type || strcmp(type, "candor")) {
		snprintf(why, cap, "credential %s is a %s credential, not candor", id,
			 type ? type : "?");
		goto out;
	}
	if (!kr && farm_keys_load(&rn->conf, rn->store, &kr) != FARM_OK) {
		snprintf(why, cap, "cannot load the credential keys");
		goto out;
	}
	if (farm_keys_open_cred(kr, &rn->conf, rn->store, p.rec, &value) != FARM_OK) {
		json_decref(value);
		value = NULL;
		snprintf(why, cap, "credential %s cannot be opened", id);
	}
out:
	json_decref(p.rec);
	return value;
}

/* "stage 'Test' Failed (exit code 1)" of the first Candor stage that did not pass. */
static void first_failure(json_t *result, char *out, size_t cap)
{
	json_t *s;
	size_t i;

	out[0] = '\0';
	json_array_foreach(json_object_get(result, "stages"), i, s)
	{
		const char *w = json_string_value(json_object_get(s, "status"));
		if (w && strcmp(w, "Passed") && strcmp(w, "Success") && strcmp(w, "Skipped")) {
			snprintf(out, cap, ": stage '%s' %s (exit code %lld)",
				 json_string_value(json_object_get(s, "name")), w,
				 (long long)json_integer_value(json_object_get(s, "exitCode")));
			return;
		}
	}
}

int farm_runner_candor_stage(struct farm_runner *rn, json_t *run, json_t *st,
			     struct farm_runner_log *lg, char *why, size_t cap)
{
	const char *cred = json_string_value(json_object_get(st, "credentialId"));
	const char *run_id = json_string_value(json_object_get(run, "id"));
	const char *word;
	struct farm_httpc_opts o = {
		.connect_timeout_ms = rn->conf.upstream_connect_timeout * 1000,
		.timeout_ms = rn->conf.pipelines_stage_timeout * 1000,
		.max_body = (size_t)rn->conf.upstream_max_body,
		.allow_loopback = rn->conf.upstream_allow_loopback,
		.ca_file = rn->conf.upstream_ca_file,
	};
	struct farm_httpc *h = NULL;
	json_t *value = NULL, *result = NULL;
	char err[256], fail[300], *log = NULL;
	size_t len = 0;
	int rc = -1, lrc;

	if (!cred || !run_id || !json_is_object(json_object_get(st, "plan"))) {
		snprintf(why, cap, "the stage's configuration is incomplete");
		return -1;
	}
	if (!(value = credential(rn, run, cred, why, cap)))
		return -1;
	if (farm_httpc_new(&h, &o) != FARM_OK) {
		snprintf(why, cap, "cannot set up the HTTP client");
		goto out;
	}
	farm_runner_log_printf(lg, "$ POST %s/run (runId %s, %zu Candor stage(s))\n",
			       json_string_value(json_object_get(value, "runnerUrl")), run_id,
			       json_array_size(json_object_get(json_object_get(st, "plan"),
							       "stages")));
	if (farm_candor_runner_run(h, value, run_id, json_object_get(st, "plan"), &result, err,
				   sizeof(err)) != FARM_OK) {
		snprintf(why, cap, "%s", err);
		goto out;
	}
	json_object_set(st, "runner", result);
	word = json_string_value(json_object_get(result, "status"));
	farm_runner_log_printf(lg, "Candor runner: %s\n", word);
	lrc = farm_candor_runner_log(h, value, run_id, &log, &len, err, sizeof(err));
	if (lrc == FARM_OK) {
		farm_runner_log_printf(lg, "--- the Candor runner's log ---\n");
		farm_runner_log_write(lg, log, len);
		if (len && log[len - 1] != '\n')
			farm_runner_log_write(lg, "\n", 1);
		farm_runner_log_printf(lg, "--- end of the Candor runner's log ---\n");
	} else {
		farm_runner_log_printf(lg, "note: no log from the Candor runner: %s\n", err);
	}
	if (!strcmp(word, "Passed")) {
		rc = 0;
		goto out;
	}
	first_failure(result, fail, sizeof(fail));
	snprintf(why, cap, "the Candor runner's run %s%s", word, fail);
out:
	free(log);
	json_decref(result);
	json_decref(value); /* Jansson's allocator wipes it */
	farm_httpc_free(h);
	return rc;
}
