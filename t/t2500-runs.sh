#!/bin/bash
# One vocabulary across platforms (platforms.md §5): GET /platforms from the
# descriptors; GET /runs from the stored history; GET /runs/:platform/:runId, rerun,
# cancel and log for every platform that has the operation, each asserting the exact
# upstream request the platform's fake received; bad input refused before any
# upstream call.

. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-events.sh"

export FARM_CACHE_TTL=0
export FARM_RUNS_LOG_MAX=4K
# A rerun follows a Jenkins queue item for min(10 s, upstream.timeout).
export FARM_UPSTREAM_TIMEOUT=2
export FARM_WEBHOOK_JENKINS_TOKEN=instance-jenkins-token

start_fake argocd || exit 1
start_fake circleci || exit 1
start_fake jenkins || exit 1
start_fake jenkins@slow --queue-polls 100000 || exit 1
start_fake travis || exit 1
export FARM_CIRCLECI_API_URL=$FAKE_CIRCLECI_URL
export FARM_TRAVISCI_API_URL=$FAKE_TRAVIS_URL

JCRED() { echo "{\"url\":\"$1\",\"username\":\"farm\",\"apiToken\":\"11f0e3c2a9b8d7e6f5a4b3c2d1e0f9a8b7\",\"webhookSecret\":\"jenkins-hook-secret\"}"; }
# The fake CircleCI's ids (fakelib.det_uuid).
cci_id() { $PY -c 'import sys,uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, "farm-fake:" + "/".join(sys.argv[1:])))' "$@"; }
P125=$(cci_id circleci-pipeline gh/acme/api 125)
W125=$(cci_id circleci-workflow gh/acme/api 125)
P102=$(cci_id circleci-pipeline gh/acme/api 102)
P103=$(cci_id circleci-pipeline gh/acme/api 103)
W103=$(cci_id circleci-workflow gh/acme/api 103)
P110=$(cci_id circleci-pipeline gh/acme/api 110)

# upstream NAME EXPR: EXPR (python on r, the list of requests) over what NAME received.
upstream() {
	fake_requests "$1" >reqs.json &&
	$PY -c 'import json,sys; r=json.load(open("reqs.json")); v=eval(sys.argv[1]); print(v if isinstance(v,str) else json.dumps(v))' "$2"
}
calls() { upstream "$1" '[q["method"] + " " + q["path"] for q in r]'; }
msg() { test_equal "$(json_get body "d[\"message\"]")" "$1"; }
forget_all() { for f in argocd circleci jenkins jenkins@slow travis; do fake_forget $f || return 1; done; }
no_upstream() {
	for f in argocd circleci jenkins jenkins@slow travis; do
		test_equal "$(fake_count $f)" 0 || { echo "$f was called"; return 1; }
	done
}

test_expect_success 'setup: the stack and tokens' '
	start_farm &&
	ADMIN_A=$(token alice org-a admin) &&
	MEMBER_A=$(token bob org-a) &&
	ADMIN_B=$(token carol org-b admin)
'

# pf TYPE EXPR: EXPR (python on p) over the /platforms item of TYPE in ./body.
pf() { json_get body "[p for p in d if p[\"type\"] == \"$1\"][0]${2:+[\"$2\"]}"; }

test_expect_success 'GET /platforms: every platform in registry order (alphabetical), none configured yet' '
	TOKEN=$MEMBER_A api GET /api/v1/platforms && expect_status 200 &&
	test_equal "$(json_get body "[p[\"type\"] for p in d] == sorted(p[\"type\"] for p in d)")" true &&
	test_equal "$(json_get body "sorted(set([\"argocd\", \"circleci\", \"jenkins\", \"travisci\"]) - set(p[\"type\"] for p in d))")" "[]" &&
	test_equal "$(pf travisci name)" "Travis CI" && test_equal "$(pf argocd name)" "Argo CD" &&
	test_equal "$(json_get body "[p[\"type\"] for p in d if p[\"configured\"]]")" "[]" &&
	test_equal "$(json_get body "len(d)")" "$(grep -c "^	&farm_platform_" "$SRC_DIR/lib/platform/registry.c")"
'

test_expect_success 'GET /platforms: capabilities come from the descriptors' '
	test_equal "$(pf argocd capabilities)" \
		"[\"list\", \"get\", \"trigger\", \"rerun\", \"cancel\", \"webhook\", \"poll\"]" &&
	test_equal "$(pf circleci capabilities)" \
		"[\"list\", \"get\", \"trigger\", \"rerun\", \"cancel\", \"webhook\"]" &&
	test_equal "$(pf jenkins capabilities)" \
		"[\"list\", \"get\", \"trigger\", \"rerun\", \"cancel\", \"log\", \"webhook\"]" &&
	test_equal "$(pf travisci capabilities)" \
		"[\"list\", \"get\", \"rerun\", \"cancel\", \"log\", \"webhook\"]" &&
	test_equal "$(pf jenkins runId)" "job#number" && test_equal "$(pf circleci runId)" "pipeline id" &&
	test_equal "$(pf argocd runId)" app && test_equal "$(pf travisci runId)" "build id" &&
	test_equal "$(pf jenkins trigger)" "{\"method\": \"POST\", \"path\": \"/api/v1/jenkins/jobs/:name/build\"}" &&
	test_equal "$(pf argocd trigger)" "{\"method\": \"POST\", \"path\": \"/api/v1/argocd/applications/:name/sync\"}" &&
	test_equal "$(pf circleci trigger)" "{\"method\": \"POST\", \"path\": \"/api/v1/circleci/pipelines/:slug/trigger\"}" &&
	test_equal "$(pf travisci trigger)" null
'

test_expect_success 'GET /platforms: the credential fields a form needs (url default = the configured API)' '
	test_equal "$(pf travisci credentialFields)" \
		"[{\"name\": \"token\", \"type\": \"string\", \"required\": true, \"secret\": true, \"url\": false, \"default\": null}, {\"name\": \"url\", \"type\": \"string\", \"required\": false, \"secret\": false, \"url\": true, \"default\": \"$FAKE_TRAVIS_URL\"}, {\"name\": \"webhookSecret\", \"type\": \"string\", \"required\": false, \"secret\": true, \"url\": false, \"default\": null}, {\"name\": \"poll\", \"type\": \"boolean\", \"required\": false, \"secret\": false, \"url\": false, \"default\": false}]" &&
	test_equal "$(json_get body "[(f[\"name\"], f[\"required\"], f[\"secret\"]) for f in [p for p in d if p[\"type\"] == \"jenkins\"][0][\"credentialFields\"]]")" \
		"[[\"url\", true, false], [\"username\", true, false], [\"apiToken\", true, true], [\"webhookSecret\", false, true], [\"poll\", false, false]]" &&
	test_equal "$(json_get body "[f[\"default\"] for f in [p for p in d if p[\"type\"] == \"argocd\"][0][\"credentialFields\"]]")" "[null, null, null, false]"
'

# pvalue TYPE POLL: a value of TYPE's required fields (from ./platforms.json) with
# "poll": POLL (a python expression).
pvalue() {
	json_get platforms.json "dict({f[\"name\"]: \"http://127.0.0.1:9\" if f[\"url\"] else \"x\" for f in [p for p in d if p[\"type\"] == \"$1\"][0][\"credentialFields\"] if f[\"required\"]}, poll=$2)"
}

test_expect_success 'GET /platforms: every platform lists poll (a boolean, optional, not secret, default false), and takes it: true 201, a string 400' '
	TOKEN=$MEMBER_A api GET /api/v1/platforms && expect_status 200 && cp body platforms.json &&
	test_equal "$(json_get body "[p[\"type\"] for p in d if [f for f in p[\"credentialFields\"] if f[\"name\"] == \"poll\"] != [{\"name\": \"poll\", \"type\": \"boolean\", \"required\": False, \"secret\": False, \"url\": False, \"default\": False}]]")" "[]" &&
	test_equal "$(json_get body "sorted(set(f[\"type\"] for p in d for f in p[\"credentialFields\"] if f[\"name\"] != \"poll\"))")" "[\"string\"]" &&
	ADMIN_C=$(token dave org-c admin) &&
	for t in $(json_get platforms.json "\" \".join(p[\"type\"] for p in d)"); do
		TOKEN=$ADMIN_C make_cred $t "poll $t" "$(pvalue $t True)" &&
		TOKEN=$ADMIN_C api POST /api/v1/integrations/credentials \
			"{\"type\":\"$t\",\"name\":\"poll $t\",\"value\":$(pvalue $t "\"yes\"")}" &&
		expect_status 400 && msg "[\"value.poll must be a boolean\"]" || return 1
	done
'

test_expect_success 'bad input: unknown platform 404, a runId that does not parse 400, no upstream call' '
	forget_all &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/gitlab/1 && expect_status 404 &&
	msg "unknown platform '"'"'gitlab'"'"'" &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/gitlab/1/rerun && expect_status 404 &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/travisci/abc && expect_status 400 &&
	msg "a Travis CI runId is a build id (a number)" &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/circleci/125 && expect_status 400 &&
	msg "a CircleCI runId is a pipeline id (a UUID)" &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/jenkins/farm-build && expect_status 400 &&
	test_grep "job#number" body &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/jenkins/farm-build%230 && expect_status 400 &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/jenkins/a%2F%2Fb%231/cancel && expect_status 400 &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/argocd/Guest_Book && expect_status 400 &&
	test_grep "application name must be lower-case" body &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/argocd/-x/rerun && expect_status 400 &&
	no_upstream
'

test_expect_success 'bad input: an operation the platform lacks is 405 naming it, a missing log 404' '
	TOKEN=$MEMBER_A api GET /api/v1/runs/circleci/$P125/log && expect_status 404 &&
	msg "CircleCI has no run logs" &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/argocd/guestbook/log && expect_status 404 &&
	msg "Argo CD has no run logs" &&
	TOKEN=$MEMBER_A api DELETE /api/v1/runs/argocd/guestbook && expect_status 405 &&
	no_upstream
'

test_expect_success 'GET /runs: limit out of range, unknown platform, empty project refused' '
	for l in 0 101 abc -1 1e2 ""; do
		TOKEN=$MEMBER_A api GET "/api/v1/runs?limit=$l" && expect_status 400 &&
		msg "limit must be an integer from 1 to 100" || return 1
	done &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs?platform=gitlab" && expect_status 404 &&
	msg "unknown platform '"'"'gitlab'"'"'" &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs?project=" && expect_status 400
'

test_expect_success 'no credential: 404 naming the type, no upstream call' '
	TOKEN=$MEMBER_A api GET /api/v1/runs/travisci/90000028 && expect_status 404 &&
	msg "No travisci credential configured for this organization" &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/jenkins/farm-build%2312/cancel && expect_status 404 &&
	msg "No jenkins credential configured for this organization" &&
	no_upstream
'

test_expect_success 'setup: a credential of every platform for org-a (and a slow Jenkins)' '
	TOKEN=$ADMIN_A make_cred argocd "Argo" "{\"url\":\"$FAKE_ARGOCD_URL\",\"token\":\"argocd-test-token\",\"webhookSecret\":\"argocd-hook-secret\"}" &&
	A1=$CRED_ID &&
	TOKEN=$ADMIN_A make_cred circleci "Circle" "{\"token\":\"circle-test-token\",\"webhookSecret\":\"circle-hook-secret\"}" &&
	C1=$CRED_ID &&
	TOKEN=$ADMIN_A make_cred jenkins "Slow Jenkins" "$(JCRED "$FAKE_JENKINS_SLOW_URL")" &&
	J_SLOW=$CRED_ID &&
	TOKEN=$ADMIN_A make_cred jenkins "Jenkins" "$(JCRED "$FAKE_JENKINS_URL")" &&
	J1=$CRED_ID &&
	TOKEN=$ADMIN_A make_cred travisci "Travis" "{\"token\":\"travis-test-token\"}" &&
	T1=$CRED_ID &&
	TOKEN=$MEMBER_A api GET /api/v1/platforms && expect_status 200 &&
	test_equal "$(json_get body "[p[\"type\"] for p in d if p[\"configured\"]]")" \
		"[\"argocd\", \"circleci\", \"jenkins\", \"travisci\"]" &&
	TOKEN=$ADMIN_B api GET /api/v1/platforms && expect_status 200 &&
	test_equal "$(json_get body "[p[\"type\"] for p in d if p[\"configured\"]]")" "[]"
'

# ---- Travis CI ----------------------------------------------------------------------

test_expect_success 'travisci: GET a run: the run object, read live with GET /build/:id' '
	forget_all &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/travisci/90000028 && expect_status 200 &&
	test_equal "$(json_get body "sorted(d)")" \
		"[\"branch\", \"buildId\", \"commitSha\", \"credentialId\", \"finishedAt\", \"name\", \"number\", \"orgId\", \"project\", \"provider\", \"providerStatus\", \"startedAt\", \"status\", \"url\"]" &&
	test_equal "$(json_get body "[d[k] for k in (\"provider\",\"orgId\",\"credentialId\",\"project\",\"name\",\"buildId\",\"number\",\"status\",\"providerStatus\",\"branch\")]")" \
		"[\"travisci\", \"org-a\", \"$T1\", \"acme/api\", \"api\", \"90000028\", 28, \"success\", \"passed\", \"feature/login\"]" &&
	test_equal "$(calls travis)" "[\"GET /build/90000028\"]" &&
	test_equal "$(upstream travis "r[0][\"headers\"][\"authorization\"]")" "token travis-test-token"
'

test_expect_success 'travisci: rerun: POST /build/:id/restart, 201 the restarted build (same id)' '
	forget_all &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/travisci/90000028/rerun && expect_status 201 &&
	test_equal "$(json_get body "[d[\"buildId\"], d[\"status\"], d[\"providerStatus\"]]")" \
		"[\"90000028\", \"queued\", \"created\"]" &&
	test_equal "$(calls travis)" "[\"POST /build/90000028/restart\", \"GET /build/90000028\"]"
'

test_expect_success 'travisci: cancel: POST /build/:id/cancel, 202; again 409 with Travis'"'"'s word' '
	forget_all &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/travisci/90000030/cancel && expect_status 202 &&
	test_equal "$(json_get body "[d[\"provider\"], d[\"buildId\"], d[\"status\"]]")" \
		"[\"travisci\", \"90000030\", \"cancel requested\"]" &&
	test_equal "$(calls travis)" "[\"POST /build/90000030/cancel\"]" &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/travisci/90000030/cancel && expect_status 409 &&
	test_grep "not running" body &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/travisci/90000030 && expect_status 200 &&
	test_equal "$(json_get body "d[\"status\"]")" canceled
'

test_expect_success 'travisci: log: every job'"'"'s log, text/plain, cut at runs.log_max and marked' '
	forget_all &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/travisci/90000027/log && expect_status 200 &&
	test_grep "^Content-Type: text/plain; charset=utf-8" headers &&
	test_grep "^X-Farm-Log-Cap: 4096" headers &&
	test_grep "^X-Farm-Log-Truncated: true" headers &&
	test_equal "$(head -n 2 body)" "--- job 80000053 ---
job 80000053 line 1: building acme/api" &&
	test_equal "$(tail -n 1 body)" "[farm: log truncated at 4096 bytes; runs.log_max]" &&
	test_equal "$(head -c 4096 body | wc -c)" 4096 &&
	test_equal "$(calls travis)" \
		"[\"GET /build/90000027?include=build.jobs\", \"GET /job/80000053/log\", \"GET /job/80000054/log\"]" &&
	test_grep "^--- job 80000054 ---" body
'

# ---- Jenkins ------------------------------------------------------------------------

test_expect_success 'jenkins: GET a run (job#number, # URL-encoded; folders with /)' '
	forget_all &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/jenkins/farm-build%2312?credentialId=$J1" &&
	expect_status 200 &&
	test_equal "$(json_get body "[d[k] for k in (\"credentialId\",\"project\",\"name\",\"buildId\",\"number\",\"status\",\"providerStatus\",\"startedAt\",\"finishedAt\")]")" \
		"[\"$J1\", \"farm-build\", \"farm-build\", \"farm-build#12\", 12, \"success\", \"SUCCESS\", \"2025-01-01T21:00:00.000Z\", \"2025-01-01T21:01:11.967Z\"]" &&
	test_equal "$(calls jenkins)" "[\"GET /job/farm-build/12/api/json\"]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/jenkins/platform%2Fapi%20deploy%238" && expect_status 200 &&
	test_equal "$(json_get body "[d[\"project\"], d[\"name\"], d[\"buildId\"], d[\"status\"], d[\"finishedAt\"]]")" \
		"[\"platform/api deploy\", \"api deploy\", \"platform/api deploy#8\", \"running\", null]" &&
	test_equal "$(upstream jenkins "r[-1][\"path\"]")" "/job/platform/job/api%20deploy/8/api/json" &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/jenkins/farm-build%2399" && expect_status 404
'

test_expect_success 'jenkins: cancel a build: POST <job>/<n>/stop, 202' '
	forget_all &&
	TOKEN=$ADMIN_A api POST "/api/v1/runs/jenkins/platform%2Fapi%20deploy%238/cancel" &&
	expect_status 202 &&
	test_equal "$(calls jenkins)" "[\"POST /job/platform/job/api%20deploy/8/stop\"]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/jenkins/platform%2Fapi%20deploy%238" && expect_status 200 &&
	test_equal "$(json_get body "[d[\"status\"], d[\"providerStatus\"]]")" "[\"canceled\", \"ABORTED\"]"
'

test_expect_success 'jenkins: rerun triggers the job again and follows the queue item to its build' '
	forget_all &&
	TOKEN=$ADMIN_A api POST "/api/v1/runs/jenkins/farm-build%2312/rerun" && expect_status 201 &&
	test_equal "$(json_get body "[d[\"buildId\"], d[\"number\"], d[\"status\"]]")" \
		"[\"farm-build#13\", 13, \"running\"]" &&
	test_equal "$(upstream jenkins "[q[\"method\"] + \" \" + q[\"path\"] for q in r][:2]")" \
		"[\"GET /job/farm-build/12/api/json\", \"POST /job/farm-build/build\"]" &&
	test_equal "$(upstream jenkins "sorted(set(q[\"path\"] for q in r[2:-1]))")" \
		"[\"/queue/item/101/api/json\"]" &&
	test_equal "$(upstream jenkins "r[-1][\"path\"]")" "/job/farm-build/13/api/json"
'

test_expect_success 'jenkins: a rerun not started within the bound is the queued run job#q<id>' '
	forget_all &&
	t0=$(date +%s%N) &&
	TOKEN=$ADMIN_A api POST "/api/v1/runs/jenkins/farm-build%2312/rerun?credentialId=$J_SLOW" &&
	expect_status 201 &&
	el=$(ms_since $t0) && say "the rerun waited $el ms" &&
	test $el -ge 1900 && test $el -lt 30000 &&
	test_equal "$(json_get body "[d[\"buildId\"], d[\"number\"], d[\"status\"], d[\"providerStatus\"]]")" \
		"[\"farm-build#q101\", null, \"queued\", \"waiting\"]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/jenkins/farm-build%23q101?credentialId=$J_SLOW" &&
	expect_status 200 && test_equal "$(json_get body "d[\"status\"]")" queued &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/jenkins/farm-build%23q101/log?credentialId=$J_SLOW" &&
	expect_status 404 && msg "Jenkins run farm-build#q101 has not started: no log yet"
'

test_expect_success 'jenkins: cancel of a queued run: POST /queue/cancelItem (form id=)' '
	forget_all &&
	TOKEN=$ADMIN_A api POST "/api/v1/runs/jenkins/farm-build%23q101/cancel?credentialId=$J_SLOW" &&
	expect_status 202 &&
	test_equal "$(calls jenkins@slow)" "[\"POST /queue/cancelItem\"]" &&
	test_equal "$(upstream jenkins@slow "r[0][\"body\"]")" "id=101" &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/jenkins/farm-build%23q101?credentialId=$J_SLOW" &&
	expect_status 200 && test_equal "$(json_get body "[d[\"status\"], d[\"providerStatus\"]]")" \
		"[\"canceled\", \"cancelled\"]"
'

test_expect_success 'jenkins: log: GET <job>/<n>/consoleText, whole when under the cap' '
	forget_all &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/jenkins/farm-build%2312/log" && expect_status 200 &&
	test_grep "^Content-Type: text/plain; charset=utf-8" headers &&
	test_grep "^X-Farm-Log-Cap: 4096" headers &&
	test_grep "^X-Farm-Log-Truncated: false" headers &&
	test_equal "$(head -n 1 body)" "Started by user farm" &&
	test_equal "$(tail -n 1 body)" "Finished: SUCCESS" &&
	test_equal "$(calls jenkins)" "[\"GET /job/farm-build/12/consoleText\"]"
'

# ---- CircleCI -----------------------------------------------------------------------

test_expect_success 'circleci: GET a run: the pipeline, its status from its workflows' '
	forget_all &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/circleci/$P125 && expect_status 200 &&
	test_equal "$(json_get body "[d[k] for k in (\"project\",\"name\",\"buildId\",\"number\",\"status\",\"providerStatus\",\"branch\",\"finishedAt\")]")" \
		"[\"gh/acme/api\", \"build-test-deploy\", \"$P125\", 125, \"running\", \"running\", \"main\", null]" &&
	test_equal "$(calls circleci)" \
		"[\"GET /api/v2/pipeline/$P125\", \"GET /api/v2/pipeline/$P125/workflow\"]" &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/circleci/$P102 && expect_status 200 &&
	test_equal "$(json_get body "[d[\"status\"], d[\"providerStatus\"]]")" "[\"success\", \"success\"]" &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/circleci/$P103 && expect_status 200 &&
	test_equal "$(json_get body "[d[\"status\"], d[\"providerStatus\"]]")" "[\"failed\", \"failed\"]"
'

test_expect_success 'circleci: a pipeline without workflows: its state (errored -> error)' '
	TOKEN=$MEMBER_A api GET /api/v1/runs/circleci/$P110 && expect_status 200 &&
	test_equal "$(json_get body "[d[\"status\"], d[\"providerStatus\"], d[\"name\"]]")" \
		"[\"error\", \"errored\", null]"
'

test_expect_success 'circleci: cancel: POST /workflow/:id/cancel of the running workflow; then 409' '
	forget_all &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/circleci/$P125/cancel && expect_status 202 &&
	test_equal "$(calls circleci)" \
		"[\"GET /api/v2/pipeline/$P125\", \"GET /api/v2/pipeline/$P125/workflow\", \"POST /api/v2/workflow/$W125/cancel\"]" &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/circleci/$P125/cancel && expect_status 409 &&
	msg "CircleCI pipeline $P125 has no running workflow to cancel" &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/circleci/$P125 && expect_status 200 &&
	test_equal "$(json_get body "d[\"status\"]")" canceled
'

test_expect_success 'circleci: rerun: POST /workflow/:id/rerun {"from_failed":false}; 201, the pipeline running again' '
	forget_all &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/circleci/$P103/rerun && expect_status 201 &&
	test_equal "$(json_get body "[d[\"buildId\"], d[\"status\"]]")" "[\"$P103\", \"running\"]" &&
	test_equal "$(upstream circleci "[q[\"method\"] + \" \" + q[\"path\"] for q in r][2]")" \
		"POST /api/v2/workflow/$W103/rerun" &&
	test_equal "$(upstream circleci "r[2][\"body\"]")" "{\"from_failed\":false}"
'

# ---- Argo CD ------------------------------------------------------------------------

test_expect_success 'argocd: GET a run: the application (runId = its name)' '
	forget_all &&
	TOKEN=$MEMBER_A api GET /api/v1/runs/argocd/guestbook && expect_status 200 &&
	test_equal "$(json_get body "[d[k] for k in (\"provider\",\"name\",\"buildId\",\"status\",\"providerStatus\",\"commitSha\")]")" \
		"[\"argocd\", \"guestbook\", \"guestbook\", \"success\", \"Healthy\", \"5f3c8e1d2b4a69788c1e0f2d3b4a5c6d7e8f9a0b\"]" &&
	test_equal "$(calls argocd)" "[\"GET /api/v1/applications/guestbook\"]"
'

test_expect_success 'argocd: rerun is a sync (201, running); cancel terminates it (202); again 409' '
	forget_all &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/argocd/guestbook/rerun && expect_status 201 &&
	test_equal "$(json_get body "[d[\"buildId\"], d[\"status\"]]")" "[\"guestbook\", \"running\"]" &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/argocd/guestbook/cancel && expect_status 202 &&
	test_equal "$(calls argocd)" \
		"[\"POST /api/v1/applications/guestbook/sync\", \"DELETE /api/v1/applications/guestbook/operation\"]" &&
	TOKEN=$ADMIN_A api POST /api/v1/runs/argocd/guestbook/cancel && expect_status 409 &&
	test_grep "No operation is in progress" body
'

# ---- who may ------------------------------------------------------------------------

test_expect_success 'a member may read runs but not rerun or cancel them (403, no upstream call)' '
	forget_all &&
	TOKEN=$MEMBER_A api POST /api/v1/runs/travisci/90000028/rerun && expect_status 403 &&
	TOKEN=$MEMBER_A api POST /api/v1/runs/jenkins/farm-build%2312/cancel && expect_status 403 &&
	TOKEN= api GET /api/v1/runs/travisci/90000028 && expect_status 401 &&
	no_upstream
'

test_expect_success 'another org'"'"'s credential is 404 like a missing one; no upstream call' '
	TOKEN=$ADMIN_B api GET "/api/v1/runs/travisci/90000028?credentialId=$T1" && expect_status 404 &&
	msg "Credential $T1 not found" &&
	TOKEN=$ADMIN_B api POST "/api/v1/runs/jenkins/farm-build%2312/cancel?credentialId=$J1" &&
	expect_status 404 &&
	TOKEN=$ADMIN_A api GET "/api/v1/runs/travisci/90000028?credentialId=$J1" && expect_status 400 &&
	msg "Credential $J1 is a jenkins credential, not travisci" &&
	no_upstream
'

# ---- GET /runs: the stored history ---------------------------------------------------

hook() { # JOB NUMBER PHASE [STATUS]
	printf '%s' "{\"name\":\"$1\",\"url\":\"job/$1/\",\"build\":{\"number\":$2,\"phase\":\"$3\"${4:+,\"status\":\"$4\"},\"timestamp\":1735725600000,\"duration\":1000}}" >hook.json &&
	curl -sS -o body -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "X-Farm-Token: jenkins-hook-secret" --data-binary @hook.json \
		"$FARM_URL/api/v1/webhooks/jenkins/$J1" >status && expect_status 200
}

runs_count() { TOKEN=$MEMBER_A api GET "/api/v1/runs?platform=jenkins" && [ "$(json_get body "len(d)")" = "$1" ]; }

test_expect_success 'GET /runs: the latest state of each run, newest first' '
	hook app 1 STARTED && hook app 1 COMPLETED SUCCESS && hook lib 7 STARTED &&
	hook app 2 QUEUED &&
	wait_until 5 runs_count 3 &&
	wait_until 5 eval "TOKEN=\$MEMBER_A api GET /api/v1/runs && test \"\$(json_get body \"d[0][\\\"buildId\\\"]\")\" = app#2" &&
	test_equal "$(json_get body "[(r[\"buildId\"], r[\"status\"]) for r in d]")" \
		"[[\"app#2\", \"queued\"], [\"lib#7\", \"running\"], [\"app#1\", \"success\"]]" &&
	test_equal "$(json_get body "sorted(d[0])")" \
		"[\"branch\", \"buildId\", \"commitSha\", \"credentialId\", \"finishedAt\", \"name\", \"number\", \"orgId\", \"project\", \"provider\", \"providerStatus\", \"startedAt\", \"status\", \"url\"]" &&
	test_equal "$(json_get body "[d[0][\"orgId\"], d[0][\"credentialId\"]]")" "[\"org-a\", \"$J1\"]"
'

test_expect_success 'GET /runs: project= and limit= filter; another org sees none of them' '
	TOKEN=$MEMBER_A api GET "/api/v1/runs?project=app" && expect_status 200 &&
	test_equal "$(json_get body "[r[\"buildId\"] for r in d]")" "[\"app#2\", \"app#1\"]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs?platform=jenkins&limit=1" && expect_status 200 &&
	test_equal "$(json_get body "[r[\"buildId\"] for r in d]")" "[\"app#2\"]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs?platform=travisci" && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_B api GET /api/v1/runs && expect_status 200 && test_equal "$(cat body)" "[]"
'

test_expect_success 'GET /runs: a run of no org (the instance-wide webhook path) is everyone'"'"'s' '
	printf '%s' "{\"name\":\"shared\",\"url\":\"job/shared/\",\"build\":{\"number\":3,\"phase\":\"STARTED\"}}" >hook.json &&
	curl -sS -o body -w "%{http_code}" -H "Content-Type: application/json" \
		-H "X-Farm-Token: instance-jenkins-token" --data-binary @hook.json \
		"$FARM_URL/api/v1/webhooks/jenkins" >status && expect_status 200 &&
	wait_until 5 eval "TOKEN=\$ADMIN_B api GET /api/v1/runs && test \"\$(json_get body \"len(d)\")\" = 1" &&
	test_equal "$(json_get body "[d[0][\"buildId\"], d[0][\"orgId\"]]")" "[\"shared#3\", null]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs?platform=jenkins" && expect_status 200 &&
	test_equal "$(json_get body "[r[\"buildId\"] for r in d]")" "[\"shared#3\", \"app#2\", \"lib#7\", \"app#1\"]"
'

# ---- a webhook event's buildId is the runId (platforms.md §5) -------------------------

# cci_hook DELIVERY TYPE UNIT_ID NAME: a CircleCI delivery of pipeline $P125 to org-a's credential
cci_hook() {
	$PY - "$@" >cci-hook.json <<-PYEOF &&
	import json, sys
	dlv, typ, uid, name = sys.argv[1:5]
	unit = {"id": uid, "name": name, "status": "success",
	        "created_at": "2025-01-01T10:00:00Z", "started_at": "2025-01-01T10:00:00Z",
	        "stopped_at": "2025-01-01T10:01:00Z"}
	b = {"id": dlv, "type": typ, "project": {"slug": "gh/acme/api"},
	     "workflow": unit if typ == "workflow-completed" else {"id": "$W125", "name": "build-test-deploy"},
	     "pipeline": {"id": "$P125", "number": 125, "vcs": {"branch": "main", "revision": "a" * 40}}}
	if typ == "job-completed":
	    b["job"] = dict(unit, number=7)
	print(json.dumps(b))
	PYEOF
	post_cci "/api/v1/webhooks/circleci/$C1" cci-hook.json circle-hook-secret && expect_status 200
}

test_expect_success 'circleci: a webhook event'"'"'s buildId is the pipeline id; as runId it reads that run' '
	cci_hook dlv-job-1 job-completed job-id-1 unit-tests &&
	cci_hook dlv-wf-1 workflow-completed "$W125" build-test-deploy &&
	test_equal "$(json_get body "d")" "{\"received\": true}" &&
	cci_hook dlv-wf-1 workflow-completed "$W125" build-test-deploy &&
	test_grep duplicate body &&
	wait_until 5 eval "TOKEN=\$MEMBER_A api GET \"/api/v1/runs?platform=circleci\" && test \"\$(json_get body \"d[0][\\\"name\\\"]\")\" = build-test-deploy" &&
	test_equal "$(json_get body "[(r[\"buildId\"], r[\"name\"], r[\"credentialId\"]) for r in d]")" \
		"[[\"$P125\", \"build-test-deploy\", \"$C1\"]]" &&
	forget_all &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/circleci/$(json_get body "d[0][\"buildId\"]")" &&
	expect_status 200 &&
	test_equal "$(json_get body "[d[\"buildId\"], d[\"number\"], d[\"project\"]]")" "[\"$P125\", 125, \"gh/acme/api\"]" &&
	test_equal "$(calls circleci)" \
		"[\"GET /api/v2/pipeline/$P125\", \"GET /api/v2/pipeline/$P125/workflow\"]"
'

argo_hook() { # BODY
	curl -sS -o body -w "%{http_code}" -H "X-Farm-Token: argocd-hook-secret" \
		-H "Content-Type: application/json" --data-binary "$1" \
		"$FARM_URL/api/v1/webhooks/argocd/$A1" >status && expect_status 200
}

test_expect_success 'argocd: a webhook event'"'"'s buildId is the application; as runId it reads that run' '
	argo_hook "{\"app\":\"guestbook\",\"health\":\"Progressing\",\"sync\":\"Synced\",\"phase\":\"Running\",\"revision\":\"r1\"}" &&
	argo_hook "{\"app\":\"guestbook\",\"health\":\"Healthy\",\"sync\":\"Synced\",\"phase\":\"Succeeded\",\"revision\":\"r2\",\"finishedAt\":\"2025-01-06T10:00:41Z\"}" &&
	wait_until 5 eval "TOKEN=\$MEMBER_A api GET \"/api/v1/runs?platform=argocd\" && test \"\$(json_get body \"d[0][\\\"commitSha\\\"]\")\" = r2" &&
	test_equal "$(json_get body "[(r[\"buildId\"], r[\"name\"], r[\"commitSha\"]) for r in d]")" \
		"[[\"guestbook\", \"guestbook\", \"r2\"]]" &&
	forget_all &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/argocd/$(json_get body "d[0][\"buildId\"]")" &&
	expect_status 200 &&
	test_equal "$(json_get body "[d[\"buildId\"], d[\"name\"]]")" "[\"guestbook\", \"guestbook\"]" &&
	test_equal "$(calls argocd)" "[\"GET /api/v1/applications/guestbook\"]"
'

test_expect_success 'no secret in any answer or log; logs clean' '
	no_secret travis-test-token && no_secret 11f0e3c2a9b8d7e6f5a4b3c2d1e0f9a8b7 &&
	no_secret circle-test-token && no_secret argocd-test-token &&
	no_secret circle-hook-secret && no_secret argocd-hook-secret &&
	no_secret jenkins-hook-secret && no_secret instance-jenkins-token &&
	check_logs_clean
'

test_done
