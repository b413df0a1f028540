/* candor-runner.c - the Candor runner API (providers.md §8.2, seed 003 "Runner"), the
 * engine of a farm pipeline's candor stage (farm-runner).
 *
 * Every call but GET / carries "Authorization: Bearer <runnerToken>"; the runner
 * answers 400 when it is missing and 401 when it does not match.  POST /run is
 * synchronous: it answers once every stage ran, with the run's status
 * (Passed|Failed|Error) and each stage's.  POST /logs/:runId answers the log as text
 * (seed 003 says POST; 400 when the id looks malicious, 404 when there is none).
 */
#include "candor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "banned.h"

/* The runner's base (no trailing '/') and the Authorization line, both new (malloc;
 * the line wiped by free_secret).  FARM_OK or FARM_E_INVAL with why. */
static int runner_ends(json_t *value, char **base, char **auth, char *why, size_t cap)
{
	const char *u = json_string_value(json_object_get(value, "runnerUrl"));
	const char *t = json_string_value(json_object_get(value, "runnerToken"));
	size_t n, tl;

	*base = *auth = NULL;
	if (!u || !*u || !t || !*t) {
		snprintf(why, cap, "the Candor credential has no runnerUrl and runnerToken");
		return FARM_E_INVAL;
	}
	if ((strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) || strpbrk(u, "?#")) {
		snprintf(why, cap, "the Candor credential's runnerUrl is not a base URL");
		return FARM_E_INVAL;
	}
	n = strlen(u);
	while (n > 8 && u[n - 1] == '/')
		n--;
	tl = strlen(t);
	if (!(*base = malloc(n + 1)) || !(*auth = malloc(tl + 32))) {
		free(*base);
		*base = NULL;
		return FARM_E_NOMEM;
	}
	memcpy(*base, u, n);
	(*base)[n] = '\0';
	snprintf(*auth, tl + 32, "Authorization: Bearer %s", t);
	return FARM_OK;
}

/* A transport failure or a refusal -> FARM_E_* and a reason. */
static int runner_fail(int rc, long status, const char *what, char *why, size_t cap)
{
	if (rc == FARM_E_NOMEM)
		return rc;
	if (rc == FARM_E_TIMEOUT) {
		snprintf(why, cap, "the Candor runner did not answer %s in time", what);
		return FARM_E_TIMEOUT;
	}
	if (rc == FARM_E_FORBIDDEN) {
		snprintf(why, cap, "the Candor runner's address is not allowed (loopback, "
				   "link-local or metadata)");
		return FARM_E_FORBIDDEN;
	}
	if (rc != FARM_OK) {
		snprintf(why, cap, "the Candor runner is unreachable");
		return FARM_E_UPSTREAM;
	}
	switch (status) {
	case 400:
		snprintf(why, cap, "the Candor runner refused %s (HTTP 400)", what);
		return FARM_E_INVAL;
	case 401:
		snprintf(why, cap, "the Candor runner refused the runner token (HTTP 401)");
		return FARM_E_AUTH;
	case 404:
		snprintf(why, cap, "the Candor runner has no %s (HTTP 404)", what);
		return FARM_E_NOTFOUND;
	}
	snprintf(why, cap, "the Candor runner answered %s with HTTP %ld", what, status);
	return FARM_E_UPSTREAM;
}

static int word_ok(const char *w, const char *const *allowed)
{
	for (size_t i = 0; w && allowed[i]; i++)
		if (!strcmp(w, allowed[i]))
			return 1;
	return 0;
}

int farm_candor_runner_run(struct farm_httpc *h, json_t *value, const char *run_id,
			   json_t *plan, json_t **result, char *why, size_t cap)
{
	static const char *const run_words[] = {"Passed", "Failed", "Error", NULL};
	static const char *const stage_words[] = {"Passed", "Failed", "Skipped", "Error",
						  "Success", NULL};
	const char *hdrs[3] = {NULL, "Content-Type: application/json", "Accept: application/json"};
	struct farm_httpc_req rq = {0};
	struct farm_httpc_resp rs;
	char *base = NULL, *auth = NULL, *url = NULL, *body = NULL;
	json_t *req = NULL, *ans = NULL, *st, *s;
	size_t i;
	int rc;

	*result = NULL;
	why[0] = '\0';
	memset(&rs, 0, sizeof(rs));
	if ((rc = runner_ends(value, &base, &auth, why, cap)) != FARM_OK)
		goto out;
	req = json_pack("{s:s,s:O}", "runId", run_id, "plan", plan);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	url = malloc(strlen(base) + 8);
	if (!body || !url) {
		rc = FARM_E_NOMEM;
		goto out;
	}
	snprintf(url, strlen(base) + 8, "%s/run", base);
	hdrs[0] = auth;
	rq.method = "POST";
	rq.url = url;
	rq.headers = hdrs;
	rq.nheaders = 3;
	rq.body = body;
	rq.body_len = strlen(body);
	rc = farm_httpc_do(h, &rq, &rs);
	if (rc != FARM_OK || rs.status != 200) {
		rc = runner_fail(rc, rs.status, "the run", why, cap);
		goto out;
	}
	ans = json_loadb(rs.body ? rs.body : "", rs.len, 0, NULL);
	if (!json_is_object(ans) ||
	    !word_ok(json_string_value(json_object_get(ans, "status")), run_words)) {
		snprintf(why, cap, "the Candor runner's answer is not a run result");
		rc = FARM_E_UPSTREAM;
		goto out;
	}
	st = json_object_get(ans, "stages");
	if (st && !json_is_array(st)) {
		snprintf(why, cap, "the Candor runner's answer is not a run result");
		rc = FARM_E_UPSTREAM;
		goto out;
	}
	json_array_foreach(st, i, s)
	{
		if (!json_is_object(s) ||
		    !word_ok(json_string_value(json_object_get(s, "status")), stage_words)) {
			snprintf(why, cap, "the Candor runner's answer has a stage without a "
					   "known status");
			rc = FARM_E_UPSTREAM;
			goto out;
		}
	}
	*result = ans;
	ans = NULL;
	rc = FARM_OK;
out:
	farm_httpc_resp_clear(&rs);
	json_decref(ans);
	json_decref(req);
	free(body);
	free(url);
	free(base);
	if (auth)
		farm_crypto_free_secret(auth, strlen(auth) + 1);
	return rc;
}

int farm_candor_runner_log(struct farm_httpc *h, json_t *value, const char *run_id, char **log,
			   size_t *len, char *why, size_t cap)
{
	const char *hdrs[2] = {NULL, "Accept: text/plain"};
	struct farm_httpc_req rq = {0};
	struct farm_httpc_resp rs;
	char *base = NULL, *auth = NULL, *url = NULL;
	size_t ul;
	int rc;

	*log = NULL;
	*len = 0;
	why[0] = '\0';
	memset(&rs, 0, sizeof(rs));
	if (!farm_candor_run_id_ok(run_id)) {
		snprintf(why, cap, "not a run id");
		return FARM_E_INVAL;
	}
	if ((rc = runner_ends(value, &base, &auth, why, cap)) != FARM_OK)
		goto out;
	ul = strlen(base) + strlen(run_id) + 8;
	if (!(url = malloc(ul))) {
		rc = FARM_E_NOMEM;
		goto out;
	}
	snprintf(url, ul, "%s/logs/%s", base, run_id);
	hdrs[0] = auth;
	rq.method = "POST";
	rq.url = url;
	rq.headers = hdrs;
	rq.nheaders = 2;
	rc = farm_httpc_do(h, &rq, &rs);
	if (rc != FARM_OK || rs.status != 200) {
		rc = runner_fail(rc, rs.status, "the log", why, cap);
		goto out;
	}
	*log = rs.body ? rs.body : strdup("");
	*len = rs.body ? rs.len : 0;
	rs.body = NULL;
	rc = *log ? FARM_OK : FARM_E_NOMEM;
out:
	farm_httpc_resp_clear(&rs);
	free(url);
	free(base);
	if (auth)
		farm_crypto_free_secret(auth, strlen(auth) + 1);
	return rc;
}
