#!/bin/bash
# Codefresh through farm (seed 001): builds of a pipeline (its id read first, then
# /workflow), one build, run, restart, cancel; the bare API key as Authorization;
# hostile names and ids refused before any upstream call; the pipeline hook
# (POST /webhooks/codefresh) after which farm reads the build; farm-runner's
# watcher reading every run farm triggered or saw unfinished until it ends, one
# event per status change, shared with the hook.

. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-events.sh"
. "$TEST_DIR/lib-platform-contract.sh"

export FARM_CACHE_TTL=0 FARM_POLL_INTERVAL=1
# farm-runner (the watcher) is stopped while the exact upstream requests are checked.
export FARM_RUN_SUPERVISE_EXCEPT=farm-runner
KEY=cf-test-key.0123456789abcdef
HOOK=cf-hook-token-5d1e

start_fake codefresh || exit 1
start_fake codefresh@live --advance-after 2 || exit 1
start_fake codefresh@pc || exit 1
export FARM_WEBHOOK_CODEFRESH_TOKEN=$HOOK

# cf_id PIPELINE N: the fake's build id of build N of PIPELINE (its det_hex).
cf_id() {
	fake_ctl codefresh GET /__fake/state |
		$PY -c 'import json,sys; s=json.load(sys.stdin); print([b["id"] for b in s["builds"] if b["pipelineName"]==sys.argv[1] and b["_n"]==int(sys.argv[2])][0])' "$1" "$2"
}
# cf_advance FAKE ID STATUS
cf_advance() { fake_ctl "$1" POST /__fake/advance "{\"buildId\":\"$2\",\"status\":\"$3\"}" >/dev/null; }
# reads FAKE PATH: how many requests of the fake went to PATH
reads() {
	fake_requests "$1" | $PY -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r["path"]==sys.argv[1]))' "$2"
}
# events_are TOKEN BUILD JSON: the build's statuses are exactly JSON (quietly)
events_are() { [ "$(events_of "$1" "$2" 2>/dev/null)" = "$3" ]; }
# ended_once TOKEN BUILD: the build's last event is success, no status twice
ended_once() {
	local s
	s=$(events_of "$1" "$2" 2>/dev/null) &&
	$PY -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(not (s and s[-1]=="success" and len(set(s))==len(s)))' "$s"
}
# events_of TOKEN BUILD: the statuses of the build's events in the history, in order
events_of() {
	TOKEN=$1 api GET "/api/v1/events?since=0&limit=1000" && expect_status 200 &&
	json_get body "[e[\"data\"][\"status\"] for e in d if e[\"data\"][\"buildId\"]==\"$2\"]"
}

test_expect_success 'setup: the stack (farm-runner stopped) and tokens' '
	start_farm && daemon_stop farm-runner &&
	ADMIN_A=$(token alice org-a admin) &&
	MEMBER_A=$(token bob org-a) &&
	ADMIN_B=$(token carol org-b admin) &&
	B1=$(cf_id demo/ci-build 1) && B30=$(cf_id demo/ci-build 30) &&
	PID=$(fake_ctl codefresh GET /__fake/state | json_get /dev/stdin "[p[\"metadata\"][\"id\"] for p in d[\"pipelines\"] if p[\"metadata\"][\"name\"]==\"demo/ci-build\"][0]")
'

test_expect_success 'no credential: [] for the list, 404 naming the type for a run' '
	TOKEN=$MEMBER_A api GET "/api/v1/codefresh/builds?pipeline=demo%2Fci-build" &&
	expect_status 200 && test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_A api POST /api/v1/codefresh/pipelines/demo%2Fci-build/run && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"No codefresh credential configured for this organization" &&
	test_equal "$(fake_count codefresh)" 0
'

test_expect_success 'setup: a Codefresh credential (token and url)' '
	TOKEN=$ADMIN_A make_cred codefresh "Codefresh" \
		"{\"token\":\"$KEY\",\"url\":\"$FAKE_CODEFRESH_URL\"}" && C1=$CRED_ID
'

test_expect_success 'builds of a pipeline: workflows.docs, newest first' '
	fake_forget codefresh &&
	TOKEN=$MEMBER_A api GET "/api/v1/codefresh/builds?pipeline=demo%2Fci-build" &&
	expect_status 200 &&
	test_equal "$(json_get body "len(d)")" 20 &&
	test_equal "$(json_get body "d[0][\"id\"]")" "$B30" &&
	test_equal "$(json_get body "[d[0][\"pipelineName\"], d[0][\"status\"], d[1][\"status\"]]")" \
		"[\"demo/ci-build\", \"success\", \"terminated\"]"
'

test_expect_success 'builds: GET /api/pipelines/<project%2Fname>, then /api/workflow by its id, the bare key' '
	fake_requests codefresh >reqs.json &&
	test_equal "$(json_get reqs.json "[(r[\"method\"], r[\"path\"]) for r in d]")" \
		"[[\"GET\", \"/api/pipelines/demo%2Fci-build\"], [\"GET\", \"/api/workflow?limit=20&page=1&pipeline=$PID\"]]" &&
	test_equal "$(json_get reqs.json "sorted(set(r[\"headers\"][\"authorization\"] for r in d))")" \
		"[\"$KEY\"]"
'

test_expect_success 'builds: limit passed on; without a pipeline every build of the account' '
	fake_forget codefresh &&
	TOKEN=$MEMBER_A api GET "/api/v1/codefresh/builds?pipeline=demo/ci-build&limit=3" &&
	expect_status 200 && test_equal "$(json_get body "len(d)")" 3 &&
	fake_last codefresh req.json &&
	test_equal "$(json_get req.json "d[\"path\"]")" "/api/workflow?limit=3&page=1&pipeline=$PID" &&
	TOKEN=$MEMBER_A api GET "/api/v1/codefresh/builds?limit=100" && expect_status 200 &&
	test_equal "$(json_get body "len(d)")" 33 &&
	fake_last codefresh req.json &&
	test_equal "$(json_get req.json "d[\"path\"]")" "/api/workflow?limit=100&page=1"
'

test_expect_success 'builds: an unknown pipeline is 404 naming it' '
	TOKEN=$MEMBER_A api GET "/api/v1/codefresh/builds?pipeline=demo%2Fnope" && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "Codefresh pipeline '"'"'demo/nope'"'"' not found"
'

test_expect_success 'hostile pipelines, ids and limits: 400 before any upstream call' '
	fake_forget codefresh &&
	(for q in "pipeline=demo" "pipeline=demo/ci/x" "pipeline=../x" "pipeline=..%2Fx" \
		"pipeline=demo%2F.." "pipeline=a%20b/c" "pipeline=a/b%0D%0A" \
		"pipeline=$(printf "x%.0s" $(seq 1 129))/y" "pipeline=/x" "limit=0" "limit=101" \
		"limit=x"; do
		TOKEN=$MEMBER_A api GET "/api/v1/codefresh/builds?$q" && expect_status 400 ||
		{ echo "query: $q"; exit 1; }
	done) &&
	(for id in .. "%2E%2E" abc "$B1%2F.." "${B1}0" "$(echo $B1 | tr a-f A-F)" "%0A$B1" \
		"..%2F..%2Fapi"; do
		TOKEN=$MEMBER_A api GET "/api/v1/codefresh/builds/$id" &&
		case $(cat status) in 400|404) ;; *) echo "get $id: $(cat status)"; exit 1 ;; esac
		TOKEN=$ADMIN_A api POST "/api/v1/codefresh/builds/$id/restart" &&
		case $(cat status) in 400|404) ;; *) echo "restart $id: $(cat status)"; exit 1 ;; esac
		TOKEN=$ADMIN_A api POST "/api/v1/codefresh/builds/$id/cancel" &&
		case $(cat status) in 400|404) ;; *) echo "cancel $id: $(cat status)"; exit 1 ;; esac
	done) &&
	(for n in "demo" "..%2Fx" "demo%2F..%2F..%2Fx" "a%0Ab%2Fc" "demo%2Fci%2Fx"; do
		TOKEN=$ADMIN_A api POST "/api/v1/codefresh/pipelines/$n/run" &&
		case $(cat status) in 400|404) ;; *) echo "run $n: $(cat status)"; exit 1 ;; esac
	done) &&
	test_equal "$(fake_count codefresh)" 0
'

test_expect_success 'one build: GET /api/builds/<id>, passed through' '
	fake_forget codefresh &&
	TOKEN=$MEMBER_A api GET "/api/v1/codefresh/builds/$B1" && expect_status 200 &&
	test_equal "$(json_get body "[d[\"id\"], d[\"status\"], d[\"branchName\"]]")" \
		"[\"$B1\", \"success\", \"main\"]" &&
	fake_last codefresh req.json &&
	test_equal "$(json_get req.json "[d[\"method\"], d[\"path\"], d[\"headers\"][\"authorization\"]]")" \
		"[\"GET\", \"/api/builds/$B1\", \"$KEY\"]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/codefresh/builds/000000000000000000000000" &&
	expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "Codefresh build 000000000000000000000000 not found"
'

test_expect_success 'run: a member may not (403); a bad body is 400 before any call' '
	fake_forget codefresh &&
	TOKEN=$MEMBER_A api POST /api/v1/codefresh/pipelines/demo%2Fci-build/run && expect_status 403 &&
	(for b in "{\"branch\":1}" "{\"variables\":{\"A\":1}}" "{\"variables\":[]}" \
		"{\"branch\":\"\"}" "{\"nope\":true}" "[]"; do
		TOKEN=$ADMIN_A api POST /api/v1/codefresh/pipelines/demo%2Fci-build/run "$b" &&
		expect_status 400 || { echo "body: $b"; exit 1; }
	done) &&
	test_equal "$(fake_count codefresh)" 0
'

test_expect_success 'run: POST /api/pipelines/run/<project%2Fname> with the body; 201 {"buildId"}' '
	fake_forget codefresh &&
	TOKEN=$ADMIN_A api POST /api/v1/codefresh/pipelines/demo%2Fci-build/run \
		"{\"branch\":\"dev\",\"sha\":\"abc123\",\"variables\":{\"ENV\":\"prod\"},\"trigger\":\"demo-push\"}" &&
	expect_status 201 && RUN=$(json_get body "d[\"buildId\"]") &&
	test_equal "$(json_get body "list(d)")" "[\"buildId\"]" &&
	fake_last codefresh req.json &&
	test_equal "$(json_get req.json "[d[\"method\"], d[\"path\"], d[\"headers\"][\"authorization\"], d[\"headers\"][\"content-type\"]]")" \
		"[\"POST\", \"/api/pipelines/run/demo%2Fci-build\", \"$KEY\", \"application/json\"]" &&
	test_equal "$(json_get req.json "json.loads(d[\"body\"])")" \
		"{\"branch\": \"dev\", \"sha\": \"abc123\", \"trigger\": \"demo-push\", \"variables\": {\"ENV\": \"prod\"}}" &&
	TOKEN=$MEMBER_A api GET "/api/v1/codefresh/builds/$RUN" && expect_status 200 &&
	test_equal "$(json_get body "[d[\"status\"], d[\"branchName\"], d[\"revision\"]]")" \
		"[\"pending\", \"dev\", \"abc123\"]"
'

test_expect_success 'run: an empty body is {}; the platform'"'"'s 400 passes its message; unknown pipeline 404' '
	fake_forget codefresh &&
	TOKEN=$ADMIN_A api POST /api/v1/codefresh/pipelines/web%2Fci/run && expect_status 201 &&
	fake_last codefresh req.json && test_equal "$(json_get req.json "d[\"body\"]")" "{}" &&
	TOKEN=$ADMIN_A api POST /api/v1/codefresh/pipelines/web%2Fci/run "{\"trigger\":\"nope\"}" &&
	expect_status 400 &&
	test_equal "$(json_get body "d[\"message\"]")" "Codefresh: Trigger nope not found" &&
	TOKEN=$ADMIN_A api POST /api/v1/codefresh/pipelines/web%2Fnope/run && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "Codefresh pipeline '"'"'web/nope'"'"' not found"
'

test_expect_success 'restart: GET /api/builds/rebuild/<id>; 201 with the new build id' '
	fake_forget codefresh &&
	TOKEN=$ADMIN_A api POST "/api/v1/codefresh/builds/$B1/restart" && expect_status 201 &&
	RESTARTED=$(json_get body "d[\"buildId\"]") &&
	test "$RESTARTED" != "$B1" &&
	fake_requests codefresh >reqs.json &&
	test_equal "$(json_get reqs.json "[(r[\"method\"], r[\"path\"], r[\"body\"]) for r in d]")" \
		"[[\"GET\", \"/api/builds/rebuild/$B1\", \"\"]]"
'

test_expect_success 'cancel: reads the build, DELETE /api/progress/<its progress>; 202' '
	fake_forget codefresh &&
	PROGRESS=$(fake_ctl codefresh GET /__fake/state | json_get /dev/stdin "[b[\"progress\"] for b in d[\"builds\"] if b[\"id\"]==\"$RUN\"][0]") &&
	TOKEN=$ADMIN_A api POST "/api/v1/codefresh/builds/$RUN/cancel" && expect_status 202 &&
	test_equal "$(json_get body "d")" "{\"buildId\": \"$RUN\", \"status\": \"terminating\"}" &&
	fake_requests codefresh >reqs.json &&
	test_equal "$(json_get reqs.json "[(r[\"method\"], r[\"path\"]) for r in d]")" \
		"[[\"GET\", \"/api/builds/$RUN\"], [\"DELETE\", \"/api/progress/$PROGRESS\"]]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/codefresh/builds/$RUN" &&
	test_equal "$(json_get body "d[\"status\"]")" terminated
'

test_expect_success 'cancel: an ended build is 409 saying so, nothing deleted' '
	fake_forget codefresh &&
	TOKEN=$ADMIN_A api POST "/api/v1/codefresh/builds/$B1/cancel" && expect_status 409 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"Codefresh build $B1 has already ended (success)" &&
	test_equal "$(json_get reqs.json "len(d)")" 2 &&
	fake_requests codefresh >reqs.json &&
	test_equal "$(json_get reqs.json "[r[\"method\"] for r in d]")" "[\"GET\"]"
'

test_expect_success 'org isolation' '
	TOKEN=$ADMIN_B api GET /api/v1/codefresh/builds && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_B api POST "/api/v1/codefresh/builds/$B1/restart?credentialId=$C1" &&
	expect_status 404 && test_equal "$(json_get body "d[\"message\"]")" "Credential $C1 not found"
'

test_expect_success 'a refused key (401): 502 naming Codefresh, never the key' '
	TOKEN=$ADMIN_B make_cred codefresh "old" \
		"{\"token\":\"cf-revoked-77aa\",\"url\":\"$FAKE_CODEFRESH_URL\"}" &&
	TOKEN=$ADMIN_B api GET /api/v1/codefresh/builds && expect_status 502 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"Codefresh rejected the stored credential (HTTP 401)" &&
	no_secret cf-revoked-77aa
'

# ---- the pipeline hook: farm reads the build it names ---------------------------------

hook() { # PATH BODY [curl args]
	local p=$1 b=$2
	shift 2
	curl -sS -o body -w "%{http_code}" -H "Content-Type: application/json" "$@" \
		--data-binary "$b" "$FARM_URL$p" >status
}

test_expect_success 'hook: a bad or missing token is 401, nothing read or stored' '
	fake_forget codefresh &&
	hook /api/v1/webhooks/codefresh/$C1 "{\"buildId\":\"$B1\"}" -H "X-Farm-Token: wrong" &&
	expect_status 401 &&
	hook /api/v1/webhooks/codefresh "{\"buildId\":\"$B1\"}" && expect_status 401 &&
	test_equal "$(fake_count codefresh)" 0 &&
	test_equal "$(events_of $ADMIN_A $B1)" "[]"
'

test_expect_success 'hook: a body without a build id, or a hostile one, is 400 before any call' '
	hook "/api/v1/webhooks/codefresh?token=$HOOK" "{}" && expect_status 400 &&
	hook "/api/v1/webhooks/codefresh?token=$HOOK" "{\"buildId\":\"../../x\"}" && expect_status 400 &&
	hook "/api/v1/webhooks/codefresh?token=$HOOK" "[" && expect_status 400 &&
	test_equal "$(fake_count codefresh)" 0
'

test_expect_success 'hook on the credential path (webhookSecret): reads the build, one event' '
	TOKEN=$ADMIN_A make_cred codefresh "Hooked" \
		"{\"token\":\"$KEY\",\"url\":\"$FAKE_CODEFRESH_URL\",\"webhookSecret\":\"cred-hook-s\"}" &&
	C2=$CRED_ID && fake_forget codefresh &&
	hook /api/v1/webhooks/codefresh/$C2 "{\"buildId\":\"$B1\"}" -u "codefresh:cred-hook-s" &&
	expect_status 200 && test_equal "$(json_get body d)" "{\"received\": true}" &&
	fake_requests codefresh >reqs.json &&
	test_equal "$(json_get reqs.json "[(r[\"method\"], r[\"path\"], r[\"headers\"][\"authorization\"]) for r in d]")" \
		"[[\"GET\", \"/api/builds/$B1\", \"$KEY\"]]" &&
	wait_until 5 events_are $ADMIN_A $B1 "[\"success\"]" &&
	json_get body "[e[\"data\"] for e in d if e[\"data\"][\"buildId\"]==\"$B1\"][0]" >ev.json &&
	test_equal "$(json_get ev.json "[d[\"provider\"], d[\"orgId\"], d[\"credentialId\"], d[\"project\"], d[\"name\"], d[\"number\"], d[\"providerStatus\"], d[\"branch\"], d[\"url\"]]")" \
		"[\"codefresh\", \"org-a\", \"$C2\", \"demo/ci-build\", \"ci-build\", null, \"success\", \"main\", \"$FAKE_CODEFRESH_URL/build/$B1\"]" &&
	test_equal "$(json_get ev.json "[d[\"startedAt\"], d[\"finishedAt\"]]")" \
		"[\"2025-01-01T10:00:05.000Z\", \"2025-01-01T10:01:05.000Z\"]"
'

test_expect_success 'hook: the same state again is a duplicate; a platform failure is its mapped answer' '
	hook /api/v1/webhooks/codefresh/$C2 "{\"buildId\":\"$B1\"}" -H "X-Farm-Token: cred-hook-s" &&
	expect_status 200 && test_equal "$(json_get body d)" "{\"received\": true, \"duplicate\": true}" &&
	fake_mode codefresh 500 1 &&
	hook /api/v1/webhooks/codefresh/$C2 "{\"buildId\":\"$B1\"}" -H "X-Farm-Token: cred-hook-s" &&
	expect_status 502 &&
	hook /api/v1/webhooks/codefresh/$C2 "{\"buildId\":\"000000000000000000000000\"}" \
		-H "X-Farm-Token: cred-hook-s" && expect_status 404 &&
	test_equal "$(events_of $ADMIN_A $B1)" "[\"success\"]"
'

test_expect_success 'hook on the bare path (webhook.codefresh.token): the org-less credential' '
	hook "/api/v1/webhooks/codefresh?token=$HOOK" "{\"buildId\":\"$B1\"}" && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"No codefresh credential configured for this organization" &&
	NOORG=$(token root - admin) &&
	TOKEN=$NOORG make_cred codefresh "instance" \
		"{\"token\":\"$KEY\",\"url\":\"$FAKE_CODEFRESH_URL\"}" && C0=$CRED_ID &&
	hook "/api/v1/webhooks/codefresh?token=$HOOK" "{\"buildId\":\"$B1\"}" && expect_status 200 &&
	test_equal "$(json_get body d)" "{\"received\": true}" &&
	wait_until 5 events_are $NOORG $B1 "[\"success\"]"
'

# ---- farm-runner's watcher ---------------------------------------------------------------

test_expect_success 'a list that shows a running build starts its watch (read by farm-runner)' '
	cf_advance codefresh "$B30" running &&
	TOKEN=$MEMBER_A api GET "/api/v1/codefresh/builds?pipeline=demo%2Fci-build&limit=100" &&
	expect_status 200 &&
	test_equal "$(json_get body "[b[\"status\"] for b in d if b[\"id\"]==\"$B30\"]")" "[\"running\"]" &&
	test_equal "$(events_of $ADMIN_A $B30)" "[]" &&
	fake_forget codefresh &&
	daemon_start farm-runner &&
	wait_until 10 events_are $ADMIN_A $B30 "[\"running\"]" &&
	test "$(reads codefresh /api/builds/$B30)" -ge 1
'

test_expect_success 'the watcher: the run farm triggered (pending) is queued; its end ends the watch' '
	{ wait_until 10 events_are $ADMIN_A $RESTARTED "[\"queued\"]" ||
	  { events_of $ADMIN_A $RESTARTED; tail -5 "$TRASH/state/log/farm-runner.log"; false; }; } &&
	cf_advance codefresh "$RESTARTED" running &&
	wait_until 10 events_are $ADMIN_A $RESTARTED "[\"queued\", \"running\"]" &&
	cf_advance codefresh "$RESTARTED" success &&
	wait_until 10 events_are $ADMIN_A $RESTARTED "[\"queued\", \"running\", \"success\"]" &&
	n=$(reads codefresh /api/builds/$RESTARTED) && sleep 2.5 &&
	test_equal "$(reads codefresh /api/builds/$RESTARTED)" "$n" &&
	test_equal "$(events_of $ADMIN_A $RUN)" "[\"canceled\"]"
'

test_expect_success 'a build triggered through farm reaches a WebSocket client: queued, running, success, once each' '
	ADMIN_L=$(token lee org-live admin) &&
	TOKEN=$ADMIN_L make_cred codefresh "live" \
		"{\"token\":\"$KEY\",\"url\":\"$FAKE_CODEFRESH_LIVE_URL\",\"webhookSecret\":\"live-s\"}" &&
	CL=$CRED_ID &&
	ws_start live "$ADMIN_L" &&
	TOKEN=$ADMIN_L api POST /api/v1/codefresh/pipelines/demo%2Fci-build/run "{\"branch\":\"main\"}" &&
	expect_status 201 && LIVE=$(json_get body "d[\"buildId\"]") &&
	ws_wait live 3 15 &&
	$PY -c "import json,sys; ev=[json.loads(l) for l in open(\"live.out\")]; print(json.dumps([(e[\"event\"], e[\"data\"][\"buildId\"], e[\"data\"][\"status\"]) for e in ev]))" >got &&
	test_equal "$(cat got)" "[[\"ci.build.updated\", \"$LIVE\", \"queued\"], [\"ci.build.updated\", \"$LIVE\", \"running\"], [\"ci.build.updated\", \"$LIVE\", \"success\"]]" &&
	sleep 2.5 && test_equal "$(ws_lines live)" 3 &&
	hook /api/v1/webhooks/codefresh/$CL "{\"buildId\":\"$LIVE\"}" -H "X-Farm-Token: live-s" &&
	expect_status 200 && test_equal "$(json_get body d)" "{\"received\": true, \"duplicate\": true}" &&
	sleep 0.5 && test_equal "$(ws_lines live)" 3 && ws_stop live
'

test_expect_success 'the watcher backs off on a 429 and ends nothing for it' '
	TOKEN=$ADMIN_L api POST /api/v1/codefresh/pipelines/web%2Fci/run && expect_status 201 &&
	SLOW=$(json_get body "d[\"buildId\"]") &&
	fake_mode codefresh@live 429 "" "\"retryAfter\":\"3\",\"pathPrefix\":\"/api/builds/$SLOW\"" &&
	fake_forget codefresh@live && sleep 2.5 &&
	test "$(reads codefresh@live /api/builds/$SLOW)" -le 2 &&
	fake_mode codefresh@live normal &&
	wait_until 15 ended_once $ADMIN_L $SLOW
'

test_expect_success 'the watcher spends at most codefresh.poll_rate reads a minute per credential' '
	daemon_stop farm-runner &&
	TOKEN=$ADMIN_A api POST /api/v1/codefresh/pipelines/web%2Fci/run && expect_status 201 &&
	SLOW2=$(json_get body "d[\"buildId\"]") &&
	fake_forget codefresh &&
	(export FARM_CODEFRESH_POLL_RATE=2 && daemon_start farm-runner) &&
	sleep 6 &&
	fake_requests codefresh >reqs.json &&
	n=$(json_get reqs.json "len([r for r in d if r[\"path\"].startswith(\"/api/builds/\")])") &&
	echo "build reads of org-a'"'"'s credential in 6 s: $n" &&
	# two of org-a'"'"'s credentials have watches here (3 builds): each spends its burst of
	# 2 reads, then 1 every 30 s: at most 4 (+1 at a bucket'"'"'s edge), against ~18 unbounded
	test "$n" -ge 2 && test "$n" -le 5 &&
	test "$(reads codefresh /api/builds/$SLOW2)" -ge 1
'

test_expect_success 'the stored keys never appear in answers or logs' '
	no_secret "$KEY" && no_secret "$HOOK" && no_secret cred-hook-s && check_logs_clean
'

# ---- the contract every platform keeps (t/lib-platform-contract.sh) ---------------------
PC_FAKE=codefresh@pc PC_TYPE=codefresh PC_TITLE=Codefresh PC_SECRET=$KEY \
PC_VALUE="{\"token\":\"$KEY\",\"url\":\"$FAKE_CODEFRESH_PC_URL\"}" \
PC_LIST="/api/v1/codefresh/builds?pipeline=demo%2Fci-build" \
PC_ACTION="POST /api/v1/codefresh/builds/$(fake_ctl codefresh@pc GET /__fake/state | json_get /dev/stdin "d[\"builds\"][0][\"id\"]")/restart" \
PC_REFUSED=401 PC_HOOK=pc_hook_codefresh PC_HOOK_CRED='"webhookSecret":"s"' PC_HOOK_GOOD=s \
PC_HOOK_BAD=wrong platform_contract

test_done
