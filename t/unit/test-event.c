/* test-event.c - webhook bodies → ci.build.updated data, the §9.2 status table, and
 * ISO 8601 timestamps.  Payloads are built here in the providers' shapes. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "clock.h"
#include "event.h"
#include "circleci.h"
#include "jenkins.h"
#include "travisci.h"
#include "events.h"
#include "json.h"
#include "tap.h"

#include "banned.h"

typedef int (*parse_fn)(const void *, size_t, json_t **, char **, struct farm_error *);

/* Serialises `payload` (stolen), runs the parser, and compares the whole data object
 * with `want` (stolen) and the dedupe key with want_key. */
static void check(parse_fn fn, json_t *payload, json_t *want, const char *want_key,
		  const char *name)
{
	char *body = json_dumps(payload, JSON_COMPACT), *key = NULL, tname[200];
	json_t *data = NULL;
	struct farm_error err = {0};
	int rc;

	json_decref(payload);
	if (!body || !want) {
		ok(0, name);
		goto out;
	}
	rc = fn(body, strlen(body), &data, &key, &err);
	snprintf(tname, sizeof(tname), "%s: parsed", name);
	if (!ok(rc == FARM_OK, tname)) {
		diag("rc %d: %s", rc, err.msg);
		goto out;
	}
	snprintf(tname, sizeof(tname), "%s: every field as expected", name);
	if (!ok(json_equal(data, want), tname)) {
		char *g = json_dumps(data, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);

		diag("got      %s", g ? g : "?");
		diag("expected %s", w ? w : "?");
		free(g);
		free(w);
	}
	snprintf(tname, sizeof(tname), "%s: dedupe key", name);
	is_str(key, want_key, tname);
out:
	json_decref(data);
	json_decref(want);
	free(key);
	free(body);
}

/* Runs a parser expecting failure; returns err.msg in msg (256 bytes). */
static int fails(parse_fn fn, const char *body, size_t len, char *msg)
{
	json_t *data = (json_t *)1;
	char *key = (char *)1;
	struct farm_error err = {0};
	int rc = fn(body, len, &data, &key, &err);

	if (rc == FARM_OK || data != NULL || key != NULL) {
		json_decref(rc == FARM_OK ? data : NULL);
		if (rc == FARM_OK)
			free(key);
		return 1;
	}
	if (msg)
		memcpy(msg, err.msg, sizeof(err.msg));
	return rc;
}

#define FAILS(fn, lit, msg) fails((fn), (lit), strlen(lit), (msg))

/* ---- CircleCI ------------------------------------------------------------------- */

static json_t *cci_pipeline_vcs(void)
{
	return json_pack("{s:s, s:i, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:s}}",
			 "id", "7a1c2f4e-0000-4000-8000-00000000a001", "number", 4711, "created_at",
			 "2024-06-01T09:59:58.120Z", "trigger", "type", "webhook", "vcs",
			 "provider_name", "github", "origin_repository_url",
			 "https://github.com/octo-org/widget", "target_repository_url",
			 "https://github.com/octo-org/widget", "revision",
			 "0123456789abcdef0123456789abcdef01234567", "commit", "subject",
			 "Add widget", "body", "", "branch", "release/2.x");
}

static void test_circleci(void)
{
	json_t *p;
	char msg[256];
	const char *wf_url =
	    "https://app.circleci.com/pipelines/github/octo-org/widget/4711/workflows/"
	    "5b0c8d2e-0000-4000-8000-00000000b002";

	/* workflow-completed, GitHub OAuth shape: buildId is pipeline.id (the runId). */
	p = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s}, "
		      "s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:o}",
		      "id", "d1f5e2a0-1111-4222-8333-444455556666", "type", "workflow-completed",
		      "happened_at", "2024-06-01T10:04:31.900Z", "webhook", "id", "w1", "name",
		      "farm", "project", "id", "p1", "name", "widget", "slug",
		      "github/octo-org/widget", "organization", "id", "o1", "name", "octo-org",
		      "workflow", "id", "5b0c8d2e-0000-4000-8000-00000000b002", "name",
		      "build-test-deploy", "created_at", "2024-06-01T10:00:00.250Z", "stopped_at",
		      "2024-06-01T10:04:31.875Z", "url", wf_url, "status", "failed", "pipeline",
		      cci_pipeline_vcs());
	check(farm_event_from_circleci, p,
	      json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "provider",
			"circleci", "project", "github/octo-org/widget", "name",
			"build-test-deploy", "buildId", "7a1c2f4e-0000-4000-8000-00000000a001",
			"number", 4711, "status", "failed", "providerStatus", "failed", "branch",
			"release/2.x", "commitSha", "0123456789abcdef0123456789abcdef01234567",
			"url", wf_url, "startedAt", "2024-06-01T10:00:00.250Z", "finishedAt",
			"2024-06-01T10:04:31.875Z"),
	      "circleci:d1f5e2a0-1111-4222-8333-444455556666", "circleci workflow-completed");

	/* job-completed: the job is the unit; workflow has no status.  buildId is still the
	 * pipeline's id (the runId, platforms.md §5); the dedupe key is the delivery's. */
	p = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}, "
		      "s:{s:s, s:s, s:s, s:s, s:s, s:i}, s:o}",
		      "id", "e2a6f3b1-2222-4333-8444-555566667777", "type", "job-completed",
		      "happened_at", "2024-06-01T10:03:00Z", "project", "id", "p1", "name",
		      "widget", "slug", "github/octo-org/widget", "workflow", "id",
		      "5b0c8d2e-0000-4000-8000-00000000b002", "name", "build-test-deploy",
		      "created_at", "2024-06-01T10:00:00.250Z", "stopped_at",
		      "2024-06-01T10:04:31.875Z", "url", wf_url, "job", "id",
		      "9c3d1e7f-0000-4000-8000-00000000c003", "name", "unit-tests", "started_at",
		      "2024-06-01T10:01:02.003Z", "stopped_at", "2024-06-01T10:02:59.999Z",
		      "status", "canceled", "number", 98765, "pipeline", cci_pipeline_vcs());
	check(farm_event_from_circleci, p,
	      json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "provider",
			"circleci", "project", "github/octo-org/widget", "name", "unit-tests",
			"buildId", "7a1c2f4e-0000-4000-8000-00000000a001", "number", 98765,
			"status", "canceled", "providerStatus", "canceled", "branch", "release/2.x",
			"commitSha", "0123456789abcdef0123456789abcdef01234567", "url", wf_url,
			"startedAt", "2024-06-01T10:01:02.003Z", "finishedAt",
			"2024-06-01T10:02:59.999Z"),
	      "circleci:e2a6f3b1-2222-4333-8444-555566667777", "circleci job-completed");

	/* GitLab / GitHub App shape: trigger_parameters.git instead of vcs; timestamps
	 * with microseconds and an offset; unknown status word; no url. */
	p = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:s, s:s}, "
		      "s:{s:s, s:i, s:{s:{s:s, s:s, s:s, s:s}}}}",
		      "type", "workflow-completed", "id", "f3b7a4c2-3333-4444-8555-666677778888",
		      "project", "slug", "circleci/AbCdEf/GhIjKl", "workflow", "id",
		      "0d0e0f10-0000-4000-8000-00000000d004", "name", "build", "created_at",
		      "2024-06-01T12:00:00.123456+02:00", "stopped_at", "2024-06-01T10:00:09.5Z",
		      "status", "brand_new_status", "pipeline", "id", "x", "number", 3,
		      "trigger_parameters", "git", "tag", "", "checkout_sha",
		      "fedcba9876543210fedcba9876543210fedcba98", "ref", "refs/heads/main",
		      "branch", "main");
	check(farm_event_from_circleci, p,
	      json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:n, s:s, s:s}", "provider",
			"circleci", "project", "circleci/AbCdEf/GhIjKl", "name", "build", "buildId",
			"x", "number", 3, "status", "unknown",
			"providerStatus", "brand_new_status", "branch", "main", "commitSha",
			"fedcba9876543210fedcba9876543210fedcba98", "url", "startedAt",
			"2024-06-01T10:00:00.123Z", "finishedAt", "2024-06-01T10:00:09.500Z"),
	      "circleci:f3b7a4c2-3333-4444-8555-666677778888", "circleci gitlab shape");

	/* Minimal: everything the payload does not say is null. */
	p = json_pack("{s:s, s:s, s:{}}", "type", "workflow-completed", "id", "g1", "workflow");
	check(farm_event_from_circleci, p,
	      json_pack("{s:s, s:n, s:n, s:n, s:n, s:s, s:n, s:n, s:n, s:n, s:n, s:n}", "provider",
			"circleci", "project", "name", "buildId", "number", "status", "unknown",
			"providerStatus", "branch", "commitSha", "url", "startedAt", "finishedAt"),
	      "circleci:g1", "circleci minimal");

	/* Unparseable timestamp → null rather than garbage. */
	p = json_pack("{s:s, s:s, s:{s:s, s:s}}", "type", "workflow-completed", "id", "g2",
		      "workflow", "created_at", "yesterday", "stopped_at", "2024-02-30T00:00:00Z");
	check(farm_event_from_circleci, p,
	      json_pack("{s:s, s:n, s:n, s:n, s:n, s:s, s:n, s:n, s:n, s:n, s:n, s:n}", "provider",
			"circleci", "project", "name", "buildId", "number", "status", "unknown",
			"providerStatus", "branch", "commitSha", "url", "startedAt", "finishedAt"),
	      "circleci:g2", "circleci bad timestamps");

	is_int(FAILS(farm_event_from_circleci, "{\"type\":\"ping\",\"id\":\"x\"}", msg),
	       FARM_E_NOTFOUND, "circleci: ping → NOTFOUND (nothing to emit)");
	is_int(FAILS(farm_event_from_circleci, "{\"id\":\"x\"}", msg), FARM_E_INVAL,
	       "circleci: no type → INVAL");
	is_int(FAILS(farm_event_from_circleci, "{\"type\":\"workflow-completed\",\"workflow\":{}}",
		     msg),
	       FARM_E_INVAL, "circleci: no delivery id → INVAL");
	ok(strstr(msg, "id") != NULL, "circleci: ... and the message names the id");
	is_int(FAILS(farm_event_from_circleci, "{\"type\":\"job-completed\",\"id\":\"x\"}", msg),
	       FARM_E_INVAL, "circleci: job-completed without job → INVAL");
	is_int(FAILS(farm_event_from_circleci,
		     "{\"type\":\"workflow-completed\",\"id\":\"x\",\"workflow\":[]}", msg),
	       FARM_E_INVAL, "circleci: workflow not an object → INVAL");
}

/* ---- Jenkins -------------------------------------------------------------------- */

static void test_jenkins(void)
{
	json_t *p;
	char msg[256], ts[FARM_EVENT_TS_LEN], ts2[FARM_EVENT_TS_LEN];
	const long long start = 1717236000123LL; /* 2024-06-01T10:00:00.123Z */

	farm_clock_iso(start, ts);
	farm_clock_iso(start + 95432, ts2);

	/* COMPLETED in a folder, with timestamp and duration. */
	p = json_pack("{s:s, s:s, s:s, s:{s:s, s:i, s:I, s:I, s:I, s:s, s:s, s:s, "
		      "s:{s:s, s:s, s:s}, s:{}}}",
		      "name", "api server", "display_name", "API server", "url",
		      "job/platform/job/api%20server/", "build", "full_url",
		      "https://ci.example.com/job/platform/job/api%20server/57/", "number", 57,
		      "queue_id", (json_int_t)812, "timestamp", (json_int_t)start, "duration",
		      (json_int_t)95432, "phase", "COMPLETED", "status", "UNSTABLE", "url",
		      "job/platform/job/api%20server/57/", "scm", "url",
		      "https://git.example.com/platform/api.git", "branch", "origin/feature/x",
		      "commit", "aaaabbbbccccddddeeeeffff0000111122223333", "artifacts");
	check(farm_event_from_jenkins, p,
	      json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "provider",
			"jenkins", "project", "platform/api server", "name", "api server",
			"buildId", "platform/api server#57", "number", 57, "status", "unstable",
			"providerStatus", "UNSTABLE", "branch", "feature/x", "commitSha",
			"aaaabbbbccccddddeeeeffff0000111122223333", "url",
			"https://ci.example.com/job/platform/job/api%20server/57/", "startedAt", ts,
			"finishedAt", ts2),
	      "jenkins:platform/api server:57:COMPLETED", "jenkins completed in a folder");

	/* STARTED: no status yet → running from the phase; not finished. */
	p = json_pack("{s:s, s:s, s:{s:s, s:i, s:I, s:I, s:s, s:{s:s}}}", "name", "deploy", "url",
		      "job/deploy/", "build", "full_url", "https://ci.example.com/job/deploy/8/",
		      "number", 8, "timestamp", (json_int_t)start, "duration", (json_int_t)0,
		      "phase", "STARTED", "scm", "branch", "refs/heads/main");
	check(farm_event_from_jenkins, p,
	      json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:n, s:s, s:s, s:n}", "provider",
			"jenkins", "project", "deploy", "name", "deploy", "buildId", "deploy#8",
			"number", 8, "status", "running", "providerStatus", "STARTED", "branch",
			"main", "commitSha", "url", "https://ci.example.com/job/deploy/8/",
			"startedAt", ts, "finishedAt"),
	      "jenkins:deploy:8:STARTED", "jenkins started");

	/* QUEUED, relative url only, no scm, no timestamp. */
	p = json_pack("{s:s, s:s, s:{s:i, s:s, s:s}}", "name", "nightly", "url", "job/nightly/",
		      "build", "number", 101, "phase", "QUEUED", "url", "job/nightly/101/");
	check(farm_event_from_jenkins, p,
	      json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:n, s:n, s:n, s:n, s:n}", "provider",
			"jenkins", "project", "nightly", "name", "nightly", "buildId",
			"nightly#101", "number", 101, "status", "queued", "providerStatus",
			"QUEUED", "branch", "commitSha", "url", "startedAt", "finishedAt"),
	      "jenkins:nightly:101:QUEUED", "jenkins queued");

	/* FINALIZED FAILURE; a url that is not a job url → the name is the project. */
	p = json_pack("{s:s, s:s, s:{s:i, s:s, s:s, s:I, s:I}}", "name", "legacy", "url",
		      "view/all/legacy", "build", "number", 3, "phase", "FINALIZED", "status",
		      "FAILURE", "timestamp", (json_int_t)start, "duration", (json_int_t)1000);
	farm_clock_iso(start + 1000, ts2);
	check(farm_event_from_jenkins, p,
	      json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:n, s:n, s:n, s:s, s:s}", "provider",
			"jenkins", "project", "legacy", "name", "legacy", "buildId", "legacy#3",
			"number", 3, "status", "failed", "providerStatus", "FAILURE", "branch",
			"commitSha", "url", "startedAt", ts, "finishedAt", ts2),
	      "jenkins:legacy:3:FINALIZED", "jenkins finalized failure");

	is_int(FAILS(farm_event_from_jenkins, "{\"name\":\"a\"}", msg), FARM_E_INVAL,
	       "jenkins: no build object → INVAL");
	is_int(FAILS(farm_event_from_jenkins, "{\"name\":\"a\",\"build\":{\"phase\":\"STARTED\"}}",
		     msg),
	       FARM_E_INVAL, "jenkins: no build number → INVAL");
	ok(strstr(msg, "number") != NULL, "jenkins: ... and the message names it");
	is_int(FAILS(farm_event_from_jenkins, "{\"name\":\"a\",\"build\":{\"number\":1}}", msg),
	       FARM_E_INVAL, "jenkins: no phase → INVAL");
	is_int(
	    FAILS(farm_event_from_jenkins, "{\"build\":{\"number\":1,\"phase\":\"QUEUED\"}}", msg),
	    FARM_E_INVAL, "jenkins: no name → INVAL");
}

/* ---- Travis CI ------------------------------------------------------------------ */

static json_t *travis_payload(const char *state, const char *status_message)
{
	return json_pack(
	    "{s:I, s:{s:I, s:s, s:s, s:n}, s:s, s:{s:s}, s:i, s:i, s:s*, s:s*, "
	    "s:s, s:s, s:i, s:s, s:I, s:s, s:s, s:s, s:s, s:b, s:n}",
	    "id", (json_int_t)902345678, "repository", "id", (json_int_t)31337, "name", "widget",
	    "owner_name", "octo-org", "url", "number", "1234", "config", "language", "c", "status",
	    1, "result", 1, "status_message", status_message, "state", state, "started_at",
	    "2024-06-01T10:00:01Z", "finished_at", "2024-06-01T10:07:42Z", "duration", 461,
	    "build_url", "https://app.travis-ci.com/github/octo-org/widget/builds/902345678",
	    "commit_id", (json_int_t)555, "commit", "9999888877776666555544443333222211110000",
	    "branch", "main", "message", "Tweak", "type", "push", "pull_request", 0, "tag");
}

static json_t *travis_want(const char *status, const char *pstatus)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "provider",
			 "travisci", "project", "octo-org/widget", "name", "widget", "buildId",
			 "902345678", "number", 1234, "status", status, "providerStatus", pstatus,
			 "branch", "main", "commitSha", "9999888877776666555544443333222211110000",
			 "url", "https://app.travis-ci.com/github/octo-org/widget/builds/902345678",
			 "startedAt", "2024-06-01T10:00:01.000Z", "finishedAt",
			 "2024-06-01T10:07:42.000Z");
}

static void test_travis(void)
{
	char msg[256];
	json_t *p;

	check(farm_event_from_travis, travis_payload("failed", "Still Failing"),
	      travis_want("failed", "Still Failing"), "travisci:902345678:failed",
	      "travis still failing");
	check(farm_event_from_travis, travis_payload("passed", "Fixed"),
	      travis_want("success", "Fixed"), "travisci:902345678:passed", "travis fixed");
	check(farm_event_from_travis, travis_payload("started", "Pending"),
	      travis_want("running", "started"), "travisci:902345678:started",
	      "travis started (Pending message, started state)");
	check(farm_event_from_travis, travis_payload("created", "Pending"),
	      travis_want("queued", "Pending"), "travisci:902345678:created", "travis pending");
	check(farm_event_from_travis, travis_payload("errored", NULL),
	      travis_want("error", "errored"), "travisci:902345678:errored",
	      "travis no status_message → state");
	check(farm_event_from_travis, travis_payload("canceled", "Something New"),
	      travis_want("canceled", "canceled"), "travisci:902345678:canceled",
	      "travis unknown status_message → state");
	check(farm_event_from_travis, travis_payload("weird", "Odd"),
	      travis_want("unknown", "weird"), "travisci:902345678:weird",
	      "travis unknown words → unknown");

	/* Minimal: id only; number not numeric → null. */
	p = json_pack("{s:I, s:s, s:n, s:n}", "id", (json_int_t)7, "number", "7.1", "started_at",
		      "finished_at");
	check(farm_event_from_travis, p,
	      json_pack("{s:s, s:n, s:n, s:s, s:n, s:s, s:n, s:n, s:n, s:n, s:n, s:n}", "provider",
			"travisci", "project", "name", "buildId", "7", "number", "status",
			"unknown", "providerStatus", "branch", "commitSha", "url", "startedAt",
			"finishedAt"),
	      "travisci:7:-", "travis minimal");

	is_int(FAILS(farm_event_from_travis, "{\"state\":\"passed\"}", msg), FARM_E_INVAL,
	       "travis: no id → INVAL");
	is_int(FAILS(farm_event_from_travis, "{\"id\":\"abc\"}", msg), FARM_E_INVAL,
	       "travis: non-numeric id → INVAL");
	is_int(FAILS(farm_event_from_travis, "{\"id\":1.5}", msg), FARM_E_INVAL,
	       "travis: fractional id → INVAL");
}

/* ---- bodies that are not usable JSON objects ----------------------------------- */

static void test_bad_json(void)
{
	static const parse_fn fns[] = {farm_event_from_circleci, farm_event_from_jenkins,
				       farm_event_from_travis};
	const char *bad = "{\"id\": 1,,}";
	char msg[256], *big;
	const char *at;
	long pos;
	size_t i;

	is_int(fails(farm_event_from_travis, bad, strlen(bad), msg), FARM_E_INVAL,
	       "json: malformed → INVAL");
	ok(strstr(msg, "malformed JSON") && strstr(msg, "line 1") && strstr(msg, "column"),
	   "json: message says malformed, with line and column");
	at = strstr(msg, "(byte ");
	pos = at ? strtol(at + 6, NULL, 10) : -1;
	/* The second comma is at offset 9; Jansson reports the bytes consumed. */
	ok(pos >= 9 && pos <= 10, "json: message carries the parse position");
	if (pos < 9 || pos > 10)
		diag("%s", msg);
	bad = "{\"token\" \"s3cret-in-a-payload\"}";
	is_int(fails(farm_event_from_circleci, bad, strlen(bad), msg), FARM_E_INVAL,
	       "json: a missing colon → INVAL");
	ok(strstr(msg, "invalid syntax") && !strstr(msg, "s3cret"),
	   "json: ... a fixed description, never the payload's text");

	for (i = 0; i < 3; i++) {
		is_int(fails(fns[i], "[1,2]", 5, msg), FARM_E_INVAL, "json: an array → INVAL");
		ok(strstr(msg, "not a JSON object") != NULL, "json: ... 'not a JSON object'");
		is_int(fails(fns[i], "\"s\"", 3, msg), FARM_E_INVAL, "json: a string → INVAL");
		ok(strstr(msg, "not a JSON object") != NULL, "json: ... 'not a JSON object'");
		is_int(fails(fns[i], "", 0, msg), FARM_E_INVAL, "json: empty body → INVAL");
		ok(strstr(msg, "malformed JSON") != NULL, "json: ... 'malformed JSON'");
		is_int(fails(fns[i], "{\"id\":1,\"id\":2}", 15, msg), FARM_E_INVAL,
		       "json: duplicate keys → INVAL");
		ok(strstr(msg, "malformed JSON") != NULL, "json: ... 'malformed JSON'");
		is_int(fails(fns[i], "{\"id\":1}\x00", 9, msg), FARM_E_INVAL,
		       "json: trailing NUL byte → INVAL");
		ok(strstr(msg, "malformed JSON") != NULL, "json: ... 'malformed JSON'");
	}

	big = malloc(FARM_EVENT_BODY_MAX + 2);
	if (big) {
		memset(big, ' ', FARM_EVENT_BODY_MAX + 1);
		big[0] = '{';
		big[FARM_EVENT_BODY_MAX] = '}';
		for (i = 0; i < 3; i++)
			is_int(fails(fns[i], big, FARM_EVENT_BODY_MAX + 1, msg), FARM_E_TOOBIG,
			       "json: body over FARM_EVENT_BODY_MAX → TOOBIG");
		ok(strstr(msg, "larger than") != NULL, "json: ... and says so");
		free(big);
	}
}

/* ---- status table (providers.md §9.2) ------------------------------------------- */

static void test_status(void)
{
	/* The table of the spec, row by row (provider, kind, words..., status). */
	static const struct {
		const char *provider, *kind, *status;
		const char *words[8];
	} spec[] = {
	    {"argocd", "phase", "running", {"Running", "Terminating"}},
	    {"argocd", "phase", "success", {"Succeeded"}},
	    {"argocd", "phase", "failed", {"Failed"}},
	    {"argocd", "phase", "error", {"Error"}},
	    {"argocd", "health", "running", {"Progressing"}},
	    {"argocd", "health", "success", {"Healthy"}},
	    {"argocd", "health", "failed", {"Degraded"}},
	    {"argocd", "health", "unstable", {"Suspended", "Missing"}},
	    {"argocd", "health", "unknown", {"Unknown"}},
	    {"argocd", "sync", "success", {"Synced"}},
	    {"argocd", "sync", "unstable", {"OutOfSync"}},
	    {"circleci", "workflow", "queued", {"on_hold"}},
	    {"circleci", "workflow", "running", {"running", "failing"}},
	    {"circleci", "workflow", "success", {"success"}},
	    {"circleci", "workflow", "failed", {"failed"}},
	    {"circleci", "workflow", "canceled", {"canceled"}},
	    {"circleci", "workflow", "error", {"error", "unauthorized"}},
	    {"circleci", "workflow", "unknown", {"not_run"}},
	    {"circleci", "pipeline", "queued", {"created", "pending", "setup-pending", "setup"}},
	    {"circleci", "pipeline", "error", {"errored"}},
	    {"circleci", "job", "queued", {"queued", "not_running", "blocked", "on_hold"}},
	    {"circleci", "job", "running", {"running"}},
	    {"circleci", "job", "success", {"success"}},
	    {"circleci", "job", "failed", {"failed", "timedout"}},
	    {"circleci", "job", "canceled", {"canceled", "terminated-unknown"}},
	    {"circleci", "job", "error", {"infrastructure_fail", "unauthorized"}},
	    {"circleci", "job", "unknown", {"not_run", "retried"}},
	    {"jenkins", "result", "success", {"SUCCESS"}},
	    {"jenkins", "result", "failed", {"FAILURE"}},
	    {"jenkins", "result", "canceled", {"ABORTED"}},
	    {"jenkins", "result", "unstable", {"UNSTABLE"}},
	    {"jenkins", "result", "unknown", {"NOT_BUILT"}},
	    {"jenkins", "color", "running", {"blue_anime", "red_anime", "notbuilt_anime"}},
	    {"jenkins", "color", "success", {"blue"}},
	    {"jenkins", "color", "failed", {"red"}},
	    {"jenkins", "color", "canceled", {"aborted"}},
	    {"jenkins", "color", "unstable", {"yellow"}},
	    {"jenkins", "color", "unknown", {"notbuilt", "grey", "disabled"}},
	    {"jenkins", "notification", "queued", {"QUEUED"}},
	    {"jenkins", "notification", "running", {"STARTED"}},
	    {"jenkins", "notification", "success", {"SUCCESS"}},
	    {"jenkins", "notification", "failed", {"FAILURE"}},
	    {"jenkins", "notification", "canceled", {"ABORTED"}},
	    {"jenkins", "notification", "unstable", {"UNSTABLE"}},
	    {"jenkins", "notification", "unknown", {"NOT_BUILT", "COMPLETED"}},
	    {"travisci", "build", "queued", {"created", "received", "queued"}},
	    {"travisci", "build", "running", {"started"}},
	    {"travisci", "build", "success", {"passed"}},
	    {"travisci", "build", "failed", {"failed"}},
	    {"travisci", "build", "canceled", {"canceled"}},
	    {"travisci", "build", "error", {"errored"}},
	    {"travisci", "webhook", "queued", {"Pending"}},
	    {"travisci", "webhook", "running", {"started"}},
	    {"travisci", "webhook", "success", {"Passed", "Fixed"}},
	    {"travisci", "webhook", "failed", {"Failed", "Broken", "Still Failing"}},
	    {"travisci", "webhook", "canceled", {"Canceled"}},
	    {"travisci", "webhook", "error", {"Errored"}},
	    {"codefresh", "build", "queued", {"pending", "elected", "delayed", "pending-approval"}},
	    {"codefresh", "build", "running", {"running", "terminating"}},
	    {"codefresh", "build", "success", {"success"}},
	    {"codefresh", "build", "canceled", {"terminated"}},
	    {"codefresh", "build", "error", {"error"}},
	    {"semaphore", "pipeline", "queued", {"initializing", "pending", "queuing"}},
	    {"semaphore", "pipeline", "running", {"running", "stopping"}},
	    {"semaphore", "pipeline", "success", {"passed"}},
	    {"semaphore", "pipeline", "failed", {"failed"}},
	    {"semaphore", "pipeline", "canceled", {"stopped", "canceled"}},
	    {"gitflic",
	     "pipeline",
	     "queued",
	     {"CREATED", "PENDING", "WAITING_FOR_RESOURCE", "SCHEDULED", "PREPARING", "MANUAL"}},
	    {"gitflic", "pipeline", "running", {"RUNNING"}},
	    {"gitflic", "pipeline", "success", {"SUCCESS"}},
	    {"gitflic", "pipeline", "failed", {"FAILED"}},
	    {"gitflic", "pipeline", "canceled", {"CANCELED"}},
	    {"gitflic", "pipeline", "unstable", {"WARNING"}},
	    {"gitflic", "pipeline", "unknown", {"SKIPPED"}},
	    {"candor", "run", "running", {"running"}},
	    {"candor", "run", "success", {"Passed"}},
	    {"candor", "run", "failed", {"Failed"}},
	    {"candor", "run", "error", {"Error"}},
	};
	size_t i, j, n = 0, bad = 0;

	for (i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
		for (j = 0; j < 8 && spec[i].words[j]; j++) {
			const char *got =
			    farm_event_status(spec[i].provider, spec[i].kind, spec[i].words[j]);
			n++;
			if (strcmp(got, spec[i].status) != 0) {
				diag("%s/%s/%s → %s, want %s", spec[i].provider, spec[i].kind,
				     spec[i].words[j], got, spec[i].status);
				bad++;
			}
		}
	}
	ok(bad == 0, "status: every word of the §9.2 table maps as specified");
	diag("%zu words checked", n);

	is_str(farm_event_status("circleci", "workflow", "SUCCESS"), "success",
	       "status: case-insensitive (SUCCESS)");
	is_str(farm_event_status("travisci", "webhook", "still failing"), "failed",
	       "status: case-insensitive with a space (still failing)");
	is_str(farm_event_status("semaphore", "pipeline", "PASSED"), "success",
	       "status: Semaphore PASSED/passed alike");
	is_str(farm_event_status("jenkins", "notification", "success"), "success",
	       "status: jenkins lower-case result");
	is_str(farm_event_status("jenkins", "color", "Blue_Anime"), "running",
	       "status: suffix match is case-insensitive");
	is_str(farm_event_status("jenkins", "color", "_anime"), "unknown",
	       "status: bare suffix is not a colour");
	is_str(farm_event_status("jenkins", "color", "blue "), "unknown",
	       "status: trailing space is another word");
	is_str(farm_event_status("circleci", "workflow", "succeeded"), "unknown",
	       "status: unknown word → unknown");
	is_str(farm_event_status("circleci", "workflow", ""), "unknown",
	       "status: empty word → unknown");
	is_str(farm_event_status("circleci", "build", "success"), "unknown",
	       "status: unknown kind → unknown");
	is_str(farm_event_status("travisci", "workflow", "passed"), "unknown",
	       "status: a word of another kind does not leak");
	is_str(farm_event_status("gitlab", "pipeline", "success"), "unknown",
	       "status: unknown provider → unknown");
	is_str(farm_event_status("circleci", "workflow", NULL), "unknown",
	       "status: NULL word → unknown");
	is_str(farm_event_status(NULL, NULL, "success"), "unknown",
	       "status: NULL provider → unknown");
}

/* ---- timestamps ----------------------------------------------------------------- */

static void ts_is(const char *in, const char *want, const char *name)
{
	char out[FARM_EVENT_TS_LEN];
	int rc = farm_event_iso8601_norm(in, strlen(in), out);

	is_str(rc == FARM_OK ? out : "(error)", want, name);
}

static void test_time(void)
{
	static const char *const bad[] = {
	    "",
	    "2024-06-01",
	    "2024-06-01T10:00",
	    "2024-06-01T10:00:00.Z",
	    "2024-06-01T10:00:00ZZ",
	    "2024-06-01T10:00:00+2",
	    "2024-06-01T10:00:00+24:00",
	    "2024-06-01T10:00:00+02:60",
	    "2024-6-01T10:00:00Z",
	    "2024-06-01X10:00:00Z",
	    "2024-13-01T10:00:00Z",
	    "2024-00-01T10:00:00Z",
	    "2024-06-31T10:00:00Z",
	    "2023-02-29T10:00:00Z",
	    "1900-02-29T00:00:00Z",
	    "2024-06-01T24:00:00Z",
	    "2024-06-01T10:60:00Z",
	    "2024-06-01T10:00:61Z",
	    "2024-06-01T10:00:00Z ",
	    " 2024-06-01T10:00:00Z",
	    "2024-06-01T1a:00:00Z",
	};
	char out[FARM_EVENT_TS_LEN];
	long long ms, probe;
	size_t i;
	int all;

	is_int(farm_clock_iso(0, out), FARM_OK, "time: epoch formats");
	is_str(out, "1970-01-01T00:00:00.000Z", "time: epoch text");
	farm_clock_iso(1479222622000LL, out);
	is_str(out, "2016-11-15T15:10:22.000Z", "time: a Travis-era instant");
	farm_clock_iso(-1, out);
	is_str(out, "1969-12-31T23:59:59.999Z", "time: one ms before the epoch");
	farm_clock_iso(1709164800999LL, out);
	is_str(out, "2024-02-29T00:00:00.999Z", "time: leap day");
	farm_clock_iso(253402300799999LL, out);
	is_str(out, "9999-12-31T23:59:59.999Z", "time: last representable instant");
	is_int(farm_clock_iso(253402300800000LL, out), FARM_E_INVAL,
	       "time: year 10000 refused");
	is_int(farm_clock_iso(-62167219200001LL, out), FARM_E_INVAL,
	       "time: year -1 refused");
	farm_clock_iso(-62167219200000LL, out);
	is_str(out, "0000-01-01T00:00:00.000Z", "time: year 0 is the first");

	/* Against the C library's own calendar (timegm/gmtime_r) over 400 years. */
	all = 1;
	for (probe = -2208988800000LL; probe < 10413792000000LL; probe += 86399999LL * 37 + 1234) {
		struct tm tm;
		time_t t = (time_t)(probe >= 0 ? probe / 1000 : (probe - 999) / 1000);
		char want[64];

		gmtime_r(&t, &tm);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int)(((probe % 1000) + 1000) % 1000));
		if (farm_clock_iso(probe, out) != FARM_OK || strcmp(out, want) != 0 ||
		    farm_event_iso8601_parse(out, strlen(out), &ms) != FARM_OK || ms != probe) {
			diag("%lld: got %s want %s", probe, out, want);
			all = 0;
			break;
		}
	}
	ok(all, "time: format agrees with gmtime_r and parse inverts it (1900..2300)");

	ts_is("2021-09-01T22:49:34.317Z", "2021-09-01T22:49:34.317Z", "time: CircleCI form kept");
	ts_is("2016-11-15T15:10:22Z", "2016-11-15T15:10:22.000Z", "time: Travis form gains .000");
	ts_is("2022-05-27T16:20:13.954328Z", "2022-05-27T16:20:13.954Z",
	      "time: microseconds truncated");
	ts_is("2022-05-27T16:20:13.9Z", "2022-05-27T16:20:13.900Z", "time: one fraction digit");
	ts_is("2022-04-13T11:10:16+00:00", "2022-04-13T11:10:16.000Z", "time: +00:00");
	ts_is("2022-04-13T13:10:16+02:00", "2022-04-13T11:10:16.000Z", "time: +02:00");
	ts_is("2022-04-13T05:40:16-0530", "2022-04-13T11:10:16.000Z", "time: -0530");
	ts_is("2022-04-13T16:10:16+05", "2022-04-13T11:10:16.000Z", "time: +05 hours only");
	ts_is("2022-01-01T00:30:00+01:00", "2021-12-31T23:30:00.000Z",
	      "time: offset crosses the year");
	ts_is("2022-04-13t11:10:16z", "2022-04-13T11:10:16.000Z", "time: lower-case t and z");
	ts_is("2022-04-13 11:10:16", "2022-04-13T11:10:16.000Z", "time: space, no zone → UTC");
	ts_is("2024-02-29T23:59:60Z", "2024-03-01T00:00:00.000Z", "time: leap second rolls over");

	all = 1;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (farm_event_iso8601_parse(bad[i], strlen(bad[i]), &ms) != FARM_E_INVAL) {
			diag("accepted '%s'", bad[i]);
			all = 0;
		}
	}
	ok(all, "time: malformed or out-of-range date-times refused");
	is_int(farm_event_iso8601_parse("2024-06-01T10:00:00Z", 19, &ms), FARM_OK,
	       "time: len bounds the input (zone cut off → UTC)");
}

/* A string of n copies of the UTF-8 character c (malloc). */
static char *repeat(const char *c, size_t n)
{
	size_t cl = strlen(c);
	char *s = malloc(n * cl + 1);

	for (size_t i = 0; s && i < n; i++)
		memcpy(s + i * cl, c, cl);
	if (s)
		s[n * cl] = '\0';
	return s;
}

static void test_caps(void)
{
	const size_t mark = strlen(FARM_EVENT_CUT_MARK);
	char *w = repeat("W", 300000), *e = repeat("\xc3\xa9", 100000), *ctl = repeat("\x01", 60000);
	char *exact = repeat("x", FARM_EVENT_FIELD_MAX), *euro = repeat("\xe2\x82\xac", 400);
	char *json = NULL;
	size_t len = 0;
	json_t *ev, *d;
	const char *s;

	ev = json_pack("{s:s,s:{s:n,s:s,s:s,s:s,s:s,s:s,s:I,s:[s]}}", "event", "ci.build.updated",
		       "data", "id", "name", w, "branch", e, "url", ctl, "project", exact,
		       "commitSha", euro, "number", (json_int_t)7, "more", w);
	d = json_object_get(ev, "data");
	is_int(farm_event_cap(ev), 5, "caps: five strings over the cap are cut");
	s = json_string_value(json_object_get(d, "name"));
	is_int((int)strlen(s), FARM_EVENT_FIELD_MAX, "caps: an ASCII field is cut to the cap");
	ok(strncmp(s, "WWW", 3) == 0 &&
		   strcmp(s + strlen(s) - mark, FARM_EVENT_CUT_MARK) == 0,
	   "caps: the cut keeps the start and ends in the mark");
	s = json_string_value(json_object_get(d, "branch"));
	ok(strlen(s) <= FARM_EVENT_FIELD_MAX && (strlen(s) - mark) % 2 == 0 &&
		   strcmp(s + strlen(s) - mark, FARM_EVENT_CUT_MARK) == 0,
	   "caps: a two-byte character is never split");
	s = json_string_value(json_object_get(d, "commitSha"));
	ok(strlen(s) <= FARM_EVENT_FIELD_MAX && (strlen(s) - mark) % 3 == 0,
	   "caps: a three-byte character is never split");
	is_str(json_string_value(json_object_get(d, "project")), exact,
	       "caps: a field of exactly the cap is kept whole");
	s = json_string_value(json_array_get(json_object_get(d, "more"), 0));
	is_int((int)strlen(s), FARM_EVENT_FIELD_MAX, "caps: strings nested in arrays too");
	is_int((int)json_integer_value(json_object_get(d, "number")), 7, "caps: numbers untouched");
	is_int(farm_event_cap(ev), 0, "caps: idempotent");

	is_int(farm_event_dump(ev, &json, &len), FARM_OK, "dump: a capped event serialises");
	ok(json && len == strlen(json) && len < FARM_EVENTS_JSON_MAX, "dump: within the limit");
	farm_json_free(json);
	json_decref(ev);

	/* Thousands of members of control characters cannot fit, even capped. */
	ev = json_pack("{s:s,s:{}}", "event", "ci.build.updated", "data");
	d = json_object_get(ev, "data");
	for (int i = 0; i < 100; i++) {
		char k[16];

		snprintf(k, sizeof(k), "m%d", i);
		json_object_set_new(d, k, json_string(ctl));
	}
	is_int(farm_event_dump(ev, &json, &len), FARM_E_TOOBIG,
	       "dump: an event over the history limit is refused, not stored");
	ok(json == NULL, "dump: nothing returned when refused");
	json_decref(ev);
	is_int(farm_event_dump(json_object_get(NULL, "x"), &json, &len), FARM_E_INVAL,
	       "dump: not an event");
	free(w);
	free(e);
	free(ctl);
	free(exact);
	free(euro);
}

int main(void)
{
	test_caps();
	test_circleci();
	test_jenkins();
	test_travis();
	test_bad_json();
	test_status();
	test_time();
	return done_testing();
}
