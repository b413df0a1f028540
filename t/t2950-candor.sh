#!/bin/bash
# Candor CI through farm (seed 003, providers.md §8): the cookie session (login once,
# kept per credential, logged in again ONCE on 401/403, never shared across orgs),
# the exact upstream requests, pipelines, trigger (204/400 -> 409), run logs as
# text/plain, hostile ids refused before any upstream call, the address policy, and
# the contract every platform keeps.

. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-platform-contract.sh"
. "$TEST_DIR/lib-events.sh"

export FARM_CACHE_TTL=0
# The tests below assert the exact requests Candor receives: farm-runner's watcher must not
# read the runs they trigger meanwhile (it reads a triggered run at once, in whichever
# test runs then), so it is stopped after each start; polling is t2951's.
export FARM_RUN_SUPERVISE_EXCEPT=farm-runner
# One worker: sessions are kept per process, so the counts below are exact.
export FARM_WORKERS=1
PASS=candor-pass-4f1e9d
RTOK=runner-token-9a8b7c

start_fake candor || exit 1

ccred() { # URL [password]
	echo "{\"url\":\"$1\",\"username\":\"farm\",\"password\":\"${2:-$PASS}\",\"runnerUrl\":\"$1\",\"runnerToken\":\"$RTOK\"}"
}

# reqs FILE: the fake's requests since the last fake_forget as "METHOD PATH" lines.
reqs() {
	fake_requests candor >"$1.json" &&
	$PY -c 'import json,sys; [print(r["method"], r["path"]) for r in json.load(open(sys.argv[1]))]' "$1.json" >"$1"
}
# req_field N EXPR: EXPR (python on r) of the N-th recorded request (0-based).
req_field() {
	fake_requests candor >req-all.json &&
	$PY -c 'import json,sys; r=json.load(open(sys.argv[1]))[int(sys.argv[2])]; v=eval(sys.argv[3]); print(v if isinstance(v,str) else json.dumps(v))' req-all.json "$1" "$2"
}
logins() { fake_ctl candor GET /__fake/sessions | $PY -c 'import json,sys; print(json.load(sys.stdin)["logins"])'; }
msg() { json_get body 'd["message"]'; }

test_expect_success 'setup: the stack, tokens, a Candor credential for org-a' '
	start_farm && daemon_stop farm-runner &&
	ADMIN_A=$(token alice org-a admin) &&
	MEMBER_A=$(token bob org-a) &&
	ADMIN_B=$(token carol org-b admin) &&
	MEMBER_B=$(token dave org-b) &&
	TOKEN=$ADMIN_A make_cred candor "Candor" "$(ccred "$FAKE_CANDOR_URL")" && C1=$CRED_ID
'

test_expect_success 'credential: url, username and password are required; runnerUrl is a URL' '
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials \
		"{\"type\":\"candor\",\"name\":\"x\",\"value\":{\"url\":\"$FAKE_CANDOR_URL\",\"runnerUrl\":\"ftp://r\"}}" &&
	expect_status 400 &&
	test_grep "username" body && test_grep "password" body && test_grep "runnerUrl" body
'

test_expect_success 'list: POST /login once, then GET /api/pipelines with the session cookie' '
	fake_forget candor &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines && expect_status 200 &&
	test_equal "$(json_get body "[p[\"id\"] for p in d]")" "[1, 2, 3, 5]" &&
	test_equal "$(json_get body "d[0]")" \
		"{\"id\": 1, \"name\": \"web\", \"status\": \"Passed\", \"stages\": [\"Passed\", \"Passed\"], \"lastSuccess\": 1735732861000, \"lastFailure\": 1735729261000}" &&
	reqs r && printf "POST /login\nGET /api/pipelines\n" >expect && test_cmp expect r &&
	test_equal "$(req_field 0 "r[\"body\"]")" "{\"username\":\"farm\",\"password\":\"$PASS\"}" &&
	test_equal "$(req_field 0 "r[\"headers\"][\"content-type\"]")" application/json &&
	test_equal "$(req_field 0 "\"cookie\" in r[\"headers\"]")" false &&
	SID_A=$(req_field 1 "r[\"headers\"][\"cookie\"]") &&
	case "$SID_A" in candor.sid=????????????????????????????????) ;; *) echo "$SID_A"; false ;; esac &&
	test_equal "$(req_field 1 "r[\"headers\"][\"accept\"]")" application/json
'

test_expect_success 'list: the session is kept: the next call is one GET with the same cookie' '
	fake_forget candor &&
	TOKEN=$MEMBER_A api GET "/api/v1/candor/pipelines?limit=2" && expect_status 200 &&
	test_equal "$(json_get body "[p[\"id\"] for p in d]")" "[1, 2]" &&
	reqs r && printf "GET /api/pipelines\n" >expect && test_cmp expect r &&
	test_equal "$(req_field 0 "r[\"headers\"][\"cookie\"]")" "$SID_A" &&
	test_equal "$(logins)" 1
'

test_expect_success 'pipeline: lastRuns passed through, the trigger token is not' '
	fake_forget candor &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines/1 && expect_status 200 &&
	test_equal "$(json_get body "sorted(d)")" \
		"[\"assigned\", \"assignees\", \"id\", \"lastRuns\", \"name\", \"public\", \"requiredParameters\", \"running\"]" &&
	test_equal "$(json_get body "[r[\"id\"] for r in d[\"lastRuns\"]]")" \
		"[\"c0ffee01\", \"0badc0de\", \"a1b2c3d4\"]" &&
	test_equal "$(json_get body "d[\"lastRuns\"][1][\"stages\"][1]")" \
		"{\"name\": \"Test\", \"status\": \"Failed\", \"exitCode\": 1}" &&
	test_no_grep 3f2a9c41d0b7e6a5 body &&
	reqs r && printf "GET /api/pipelines/1\n" >expect && test_cmp expect r
'

test_expect_success 'pipeline: unknown 404; private and not assigned (403) 404 too' '
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines/99 && expect_status 404 &&
	test_equal "$(msg)" "Candor pipeline 99 not found" &&
	fake_forget candor &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines/4 && expect_status 404 &&
	test_equal "$(msg)" "Candor pipeline 4 not found" &&
	reqs r && printf "GET /api/pipelines/4\nPOST /login\nGET /api/pipelines/4\n" >expect &&
	test_cmp expect r &&
	SID_A=$(req_field 2 "r[\"headers\"][\"cookie\"]")
'

test_expect_success 'trigger: the token read from the pipeline, parameters as the JSON body: 202' '
	fake_forget candor &&
	TOKEN=$ADMIN_A api POST /api/v1/candor/pipelines/1/trigger "{\"BRANCH\":\"main\"}" &&
	expect_status 202 && test_equal "$(cat body)" "{\"started\":true}" &&
	reqs r && printf "GET /api/pipelines/1\nPOST /trigger/3f2a9c41d0b7e6a5\n" >expect &&
	test_cmp expect r &&
	test_equal "$(req_field 1 "r[\"body\"]")" "{\"BRANCH\":\"main\"}" &&
	test_equal "$(req_field 1 "r[\"headers\"][\"content-type\"]")" application/json &&
	test_equal "$(req_field 1 "r[\"headers\"][\"cookie\"]")" "$SID_A" &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines/1/runs/last/log && expect_status 200 &&
	test_equal "$(cat body)" "triggered by farm with {\"BRANCH\": \"main\"}"
'

test_expect_success 'trigger: without a body the platform gets {}' '
	fake_forget candor &&
	TOKEN=$ADMIN_A api POST /api/v1/candor/pipelines/1/trigger && expect_status 202 &&
	test_equal "$(req_field 1 "r[\"body\"]")" "{}"
'

test_expect_success 'trigger: already running (400) and constraints not met (204) are 409 saying which' '
	TOKEN=$ADMIN_A api POST /api/v1/candor/pipelines/2/trigger "{}" && expect_status 409 &&
	test_equal "$(msg)" "Candor did not start pipeline 2: it is already running (HTTP 400)" &&
	TOKEN=$ADMIN_A api POST /api/v1/candor/pipelines/3/trigger "{\"ref\":\"refs/heads/dev\"}" &&
	expect_status 409 &&
	test_equal "$(msg)" "Candor did not start pipeline 3: the pipeline'"'"'s constraints were not met (HTTP 204)" &&
	TOKEN=$ADMIN_A api POST /api/v1/candor/pipelines/3/trigger "{\"ref\":\"refs/heads/main\"}" &&
	expect_status 202
'

test_expect_success 'trigger: a pipeline the user is not assigned to: 502, no trigger call' '
	fake_forget candor &&
	TOKEN=$ADMIN_A api POST /api/v1/candor/pipelines/5/trigger && expect_status 502 &&
	test_equal "$(msg)" "Candor: the credential'"'"'s user is not assigned to pipeline 5, so it cannot trigger it" &&
	reqs r && printf "GET /api/pipelines/5\n" >expect && test_cmp expect r &&
	TOKEN=$ADMIN_A api POST /api/v1/candor/pipelines/99/trigger && expect_status 404
'

test_expect_success 'log: text/plain, by run id; unknown run 404' '
	fake_forget candor &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines/1/runs/0badc0de/log && expect_status 200 &&
	printf "Build: ok\nTest: 1 failing\n" >expect && test_cmp expect body &&
	grep -qi "^Content-Type: text/plain; charset=utf-8" headers &&
	reqs r && printf "GET /api/runs/1/0badc0de/log\n" >expect && test_cmp expect r &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines/1/runs/ffffffff/log && expect_status 404 &&
	test_equal "$(msg)" "Candor log of run ffffffff of pipeline 1 not found"
'

test_expect_success '/runs/candor: a run is <pipelineId>#<runId>; get, last, log, rerun; no cancel' '
	TOKEN=$MEMBER_A api GET "/api/v1/runs/candor/1%230badc0de" && expect_status 200 &&
	test_equal "$(json_get body "[d[k] for k in (\"provider\",\"project\",\"name\",\"buildId\",\"status\",\"providerStatus\",\"startedAt\",\"finishedAt\")]")" \
		"[\"candor\", \"1\", \"web\", \"1#0badc0de\", \"failed\", \"Failed\", \"2025-01-01T11:00:00.000Z\", \"2025-01-01T11:01:01.000Z\"]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/candor/2%23last" && expect_status 200 &&
	test_equal "$(json_get body "[d[\"buildId\"], d[\"status\"]]")" "[\"2#last\", \"running\"]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/candor/1%23ffffffff" && expect_status 404 &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/candor/1%230badc0de/log" && expect_status 200 &&
	printf "Build: ok\nTest: 1 failing\n" >expect && test_cmp expect body &&
	fake_forget candor &&
	TOKEN=$ADMIN_A api POST "/api/v1/runs/candor/1%230badc0de/rerun" && expect_status 202 &&
	test_equal "$(json_get body "[d[\"buildId\"], d[\"status\"]]")" "[null, \"running\"]" &&
	reqs r && printf "GET /api/pipelines/1\nPOST /trigger/3f2a9c41d0b7e6a5\n" >expect && test_cmp expect r &&
	fake_forget candor &&
	TOKEN=$ADMIN_A api POST "/api/v1/runs/candor/1%230badc0de/cancel" && expect_status 405 &&
	test_equal "$(msg)" "Candor does not support cancel" &&
	for id in 1 1%23 %23abc 01%23abc 1%23a%2Fb 1%23a%23b; do
		TOKEN=$MEMBER_A api GET "/api/v1/runs/candor/$id" && expect_status 400 || return 1
	done &&
	test_equal "$(fake_count candor)" 0
'

test_expect_success 'hostile ids: 400 before any upstream call' '
	fake_forget candor &&
	for p in "pipelines/..%2F..%2Fetc" "pipelines/1%3B" "pipelines/01" "pipelines/-1" \
		 "pipelines/1%20" "pipelines/1234567890123456789" \
		 "pipelines/1/runs/..%2Fx/log" "pipelines/1/runs/a%20b/log" \
		 "pipelines/1/runs/a%3Fb/log" "pipelines/x/runs/last/log"; do
		TOKEN=$MEMBER_A api GET "/api/v1/candor/$p" && expect_status 400 || return 1
	done &&
	TOKEN=$ADMIN_A api POST "/api/v1/candor/pipelines/1%2F..%2Ftrigger/trigger" && expect_status 400 &&
	TOKEN=$MEMBER_A api GET "/api/v1/candor/pipelines?limit=0" && expect_status 400 &&
	test_equal "$(fake_count candor)" 0
'

test_expect_success 'an expired session (403): logged in again once, the call repeated' '
	fake_forget candor &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines && expect_status 200 &&
	SID_A=$(req_field 0 "r[\"headers\"][\"cookie\"]") &&
	fake_ctl candor POST /__fake/expire-sessions >/dev/null &&
	fake_forget candor && L0=$(logins) &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines && expect_status 200 &&
	reqs r && printf "GET /api/pipelines\nPOST /login\nGET /api/pipelines\n" >expect &&
	test_cmp expect r &&
	test_equal "$(req_field 0 "r[\"headers\"][\"cookie\"]")" "$SID_A" &&
	SID_A2=$(req_field 2 "r[\"headers\"][\"cookie\"]") &&
	test "$SID_A2" != "$SID_A" &&
	test_equal "$(logins)" $((L0 + 1))
'

test_expect_success 'a session refused right after its login: the answer, not a second login' '
	fake_ctl candor POST /__fake/expire-sessions "{\"always\":true}" >/dev/null &&
	fake_forget candor &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines && expect_status 502 &&
	test_equal "$(msg)" "Candor rejected the stored credential (HTTP 403)" &&
	reqs r && printf "GET /api/pipelines\nPOST /login\nGET /api/pipelines\n" >expect &&
	test_cmp expect r &&
	fake_forget candor &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines && expect_status 502 &&
	reqs r && printf "GET /api/pipelines\nPOST /login\nGET /api/pipelines\n" >expect &&
	test_cmp expect r &&
	fake_ctl candor POST /__fake/expire-sessions >/dev/null
'

test_expect_success 'a wrong password: login 401 is 502, the password never shown' '
	TOKEN=$ADMIN_A make_cred candor "wrong" "$(ccred "$FAKE_CANDOR_URL" wrong-password-1)" &&
	fake_forget candor &&
	TOKEN=$MEMBER_A api GET "/api/v1/candor/pipelines?credentialId=$CRED_ID" && expect_status 502 &&
	test_equal "$(msg)" "Candor rejected the stored credential (HTTP 401)" &&
	reqs r && printf "POST /login\n" >expect && test_cmp expect r &&
	no_secret wrong-password-1 &&
	TOKEN=$ADMIN_A api DELETE "/api/v1/integrations/credentials/$CRED_ID" && expect_status 204
'

test_expect_success 'sessions are not shared across orgs (same url, user and password)' '
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines && expect_status 200 &&
	fake_forget candor &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines && expect_status 200 &&
	SID_A2=$(req_field 0 "r[\"headers\"][\"cookie\"]") &&
	TOKEN=$ADMIN_B make_cred candor "Candor B" "$(ccred "$FAKE_CANDOR_URL")" &&
	fake_forget candor &&
	TOKEN=$MEMBER_B api GET /api/v1/candor/pipelines && expect_status 200 &&
	reqs r && printf "POST /login\nGET /api/pipelines\n" >expect && test_cmp expect r &&
	SID_B=$(req_field 1 "r[\"headers\"][\"cookie\"]") &&
	test "$SID_B" != "$SID_A2" &&
	fake_forget candor &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines && expect_status 200 &&
	reqs r && printf "GET /api/pipelines\n" >expect && test_cmp expect r &&
	test_equal "$(req_field 0 "r[\"headers\"][\"cookie\"]")" "$SID_A2" &&
	fake_forget candor &&
	TOKEN=$MEMBER_B api GET /api/v1/candor/pipelines && expect_status 200 &&
	test_equal "$(req_field 0 "r[\"headers\"][\"cookie\"]")" "$SID_B"
'

test_expect_success 'a changed value (another user) is a new session' '
	fake_forget candor &&
	TOKEN=$ADMIN_A api PATCH "/api/v1/integrations/credentials/$C1" \
		"{\"value\":$(ccred "$FAKE_CANDOR_URL" | sed s/\"farm\"/\"other\"/)}" &&
	expect_status 200 &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines && expect_status 200 &&
	reqs r && printf "POST /login\nGET /api/pipelines\n" >expect && test_cmp expect r &&
	test_equal "$(req_field 0 "json.loads(r[\"body\"])[\"username\"]")" other &&
	test_equal "$(json_get body "[p[\"id\"] for p in d]")" "[1, 3, 4, 5]"
'

test_expect_success 'the address policy: a metadata address is refused, nothing sent' '
	TOKEN=$ADMIN_A make_cred candor "meta" "$(ccred http://169.254.169.254:8080)" &&
	TOKEN=$MEMBER_A api GET "/api/v1/candor/pipelines?credentialId=$CRED_ID" && expect_status 502 &&
	case "$(msg)" in "Candor address is not allowed"*) ;; *) cat body; false ;; esac &&
	TOKEN=$ADMIN_A api DELETE "/api/v1/integrations/credentials/$CRED_ID" && expect_status 204
'

test_expect_success 'the address policy: loopback refused unless upstream.allow_loopback' '
	stop_farm &&
	FARM_UPSTREAM_ALLOW_LOOPBACK=no start_farm && daemon_stop farm-runner &&
	fake_forget candor &&
	TOKEN=$MEMBER_A api GET /api/v1/candor/pipelines && expect_status 502 &&
	case "$(msg)" in "Candor address is not allowed"*) ;; *) cat body; false ;; esac &&
	test_equal "$(fake_count candor)" 0 &&
	stop_farm && start_farm && daemon_stop farm-runner
'

test_expect_success 'the password, the runner token and the session never leak' '
	TOKEN=$MEMBER_A api GET /api/v1/integrations/credentials && expect_status 200 &&
	no_secret "$PASS" && no_secret "$RTOK" && no_secret "${SID_A2#candor.sid=}" &&
	check_logs_clean
'

PC_FAKE=candor PC_TYPE=candor PC_TITLE=Candor PC_SECRET=$PASS \
PC_VALUE="$(ccred "$FAKE_CANDOR_URL")" PC_LIST=/api/v1/candor/pipelines \
PC_ACTION="POST /api/v1/candor/pipelines/1/trigger" PC_REFUSED=401 platform_contract

test_done
