#!/bin/bash
# t6300-candor-stage.sh - a pipeline's candor stage (platforms.md §3, item 6): farm-runner
# sends the plan to the Candor runner of the stage's credential (t/fake/fake-candor.py's
# runner API) as POST <runnerUrl>/run with the runner token and farm's run id; the
# runner's Passed|Failed|Error and per-stage statuses become the run's status, record and
# events; its log (POST /logs/<run id>) lands in the run's log; a runner that refuses
# (400, 401) or cannot be reached fails the run with that reason.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"

export FARM_ARGOCD_POLL_INTERVAL=0
PASS=candor-pass-4f1e9d
RTOK=runner-token-9a8b7c

start_fake candor || exit 1

ccred() { # RUNNER-URL [runner-token]
	echo "{\"url\":\"$FAKE_CANDOR_URL\",\"username\":\"farm\",\"password\":\"$PASS\",\"runnerUrl\":\"$1\",\"runnerToken\":\"${2:-$RTOK}\"}"
}
_run_done() {
	api GET "/api/v1/pipelines/$1/runs/$2" >/dev/null 2>&1 &&
	case "$(json_get body 'd["status"]' 2>/dev/null)" in success | failed) return 0 ;; esac
	return 1
}
_wait() { # SECONDS CMD...
	local n=$(( $1 * 10 )); shift
	while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}
wait_run() {
	_wait 30 _run_done "$1" "$2" ||
		{ echo "run $2 did not finish:"; cat body; tail -n 20 "$TRASH/state/log/farm-runner.log"; return 1; }
}
new_pipeline() {
	api POST /api/v1/pipelines "$1" && expect_status 201 && PID=$(json_get body 'd["id"]')
}
new_run() {
	api POST "/api/v1/pipelines/$1/runs" '{"version":"1.0.0","commitSha":"abcdef0"}' &&
	expect_status 202 && RID=$(json_get body 'd["id"]')
}
# candor_pipeline CRED STAGES-JSON: a pipeline of one candor stage; its id in PID
candor_pipeline() {
	new_pipeline "{\"name\":\"ci\",\"stages\":[{\"type\":\"candor\",\"credentialId\":\"$1\",\"stages\":$2}]}"
}
# run_once PIPELINE: queues a run (its id in RID) and waits for its end (./body)
run_once() { new_run "$1" && wait_run "$1" "$RID"; }

test_expect_success 'setup: the stack, tokens, a Candor credential with a runner' '
	start_farm &&
	ADMIN_A=$(token alice org-a admin) &&
	USER_A=$(token ann org-a) &&
	ADMIN_B=$(token bob org-b admin) &&
	TOKEN=$ADMIN_A make_cred candor "Candor" "$(ccred "$FAKE_CANDOR_URL")" && CC=$CRED_ID
'

test_expect_success 'validation: a candor stage'"'"'s problems are all listed (400)' '
	TOKEN=$ADMIN_A api POST /api/v1/pipelines "{\"name\":\"bad\",\"stages\":[
		{\"type\":\"candor\",\"stages\":[{\"name\":\"a\",\"script\":\"echo\",\"environment\":[\"NOEQUALS\"],\"x\":1},
		 {\"image\":\"node\",\"runtime\":7}],\"archive\":\"dist\",\"config\":{}},
		{\"type\":\"candor\",\"credentialId\":\"$CC\",\"stages\":[]}]}" &&
	expect_status 400 &&
	json_get body "\"\\n\".join(d[\"message\"])" >msgs &&
	test_grep "^property stages\[0\].config should not exist" msgs &&
	test_grep "^stages\[0\].credentialId must be the id of a Candor credential" msgs &&
	test_grep "^property stages\[0\].stages\[0\].x should not exist" msgs &&
	test_grep "^stages\[0\].stages\[0\].image must be a string" msgs &&
	test_grep "^stages\[0\].stages\[0\].script must be an array" msgs &&
	test_grep "^stages\[0\].stages\[0\].environment\[0\] must be KEY=value" msgs &&
	test_grep "^stages\[0\].stages\[1\].name must be a string" msgs &&
	test_grep "^stages\[0\].stages\[1\].runtime must be a string" msgs &&
	test_grep "^stages\[0\].archive must be an array" msgs &&
	test_grep "^stages\[1\].stages must be an array of 1 to 64 Candor stages" msgs &&
	test_equal "$(wc -l <msgs)" 10
'

test_expect_success 'a candor pipeline: the stage stored as given, named Candor by default' '
	TOKEN=$ADMIN_A candor_pipeline "$CC" "[
		{\"name\":\"Clone\",\"image\":\"alpine/git\",\"script\":[\"git clone https://example.invalid/r.git /home/work\"]},
		{\"name\":\"Test\",\"image\":\"node\",\"runtime\":\"runc\",\"environment\":[\"CI=1\",\"MSG=a b\"],\"script\":[\"cd runner\",\"npm test\"]}]" &&
	OK=$PID &&
	test_equal "$(json_get body "d[\"stages\"][0][\"name\"]")" Candor &&
	test_equal "$(json_get body "d[\"stages\"][0][\"credentialId\"]")" "$CC" &&
	test_equal "$(json_get body "d[\"stages\"][0][\"archive\"]")" null
'

test_expect_success 'a run: POST <runnerUrl>/run with the token, farm'"'"'s run id and the plan' '
	fake_forget candor &&
	TOKEN=$ADMIN_A run_once "$OK" &&
	test_equal "$(json_get body "d[\"status\"]")" success &&
	test_equal "$(json_get body "d[\"error\"]")" null &&
	test_equal "$(json_get body "d[\"stages\"][0][\"status\"]")" success &&
	test_equal "$(json_get body "d[\"stages\"][0][\"runner\"]")" \
		"{\"status\": \"Passed\", \"stages\": [{\"name\": \"Clone\", \"status\": \"Passed\", \"exitCode\": 0}, {\"name\": \"Test\", \"status\": \"Passed\", \"exitCode\": 0}]}" &&
	fake_requests candor >reqs.json &&
	$PY - reqs.json "$RID" "$RTOK" <<-\EOF
	import json, sys
	reqs, rid, tok = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
	assert [(r["method"], r["path"]) for r in reqs] == [("POST", "/run"), ("POST", "/logs/" + rid)], reqs
	run = reqs[0]
	assert run["headers"]["authorization"] == "Bearer " + tok
	assert run["headers"]["content-type"] == "application/json"
	assert "cookie" not in run["headers"]
	assert json.loads(run["body"]) == {"runId": rid, "plan": {"stages": [
	    {"name": "Clone", "image": "alpine/git", "script": ["git clone https://example.invalid/r.git /home/work"]},
	    {"name": "Test", "image": "node", "runtime": "runc", "environment": ["CI=1", "MSG=a b"],
	     "script": ["cd runner", "npm test"]}]}}, run["body"]
	assert reqs[1]["headers"]["authorization"] == "Bearer " + tok
	EOF
'

test_expect_success 'the runner'"'"'s log is in the run'"'"'s log' '
	TOKEN=$USER_A api GET "/api/v1/pipelines/$OK/runs/$RID/log" && expect_status 200 &&
	test_grep "POST $FAKE_CANDOR_URL/run (runId $RID, 2 Candor stage(s))" body &&
	test_grep "^Candor runner: Passed" body &&
	test_grep "^==> Test (node)" body &&
	test_grep "^env MSG=a b" body &&
	test_grep "^run $RID: Passed" body &&
	test_no_grep "$RTOK" body
'

test_expect_success 'events: queued, running, success; the last carries Passed and the stages' '
	TOKEN=$USER_A api GET "/api/v1/events?since=0" && expect_status 200 &&
	$PY - body "$RID" <<-\EOF
	import json, sys
	ev = [e["data"] for e in json.load(open(sys.argv[1])) if e["data"]["buildId"] == sys.argv[2]]
	assert [e["status"] for e in ev] == ["queued", "running", "success"], ev
	assert ev[2]["providerStatus"] == "Passed", ev[2]
	assert ev[2]["stages"] == [
	    {"name": "Clone", "status": "success", "providerStatus": "Passed", "exitCode": 0},
	    {"name": "Test", "status": "success", "providerStatus": "Passed", "exitCode": 0}], ev[2]
	assert "stages" not in ev[0] and ev[0]["providerStatus"] == "queued", ev[0]
	EOF
'

test_expect_success 'a failing Candor stage: the run failed naming it; the rest Skipped' '
	TOKEN=$ADMIN_A candor_pipeline "$CC" "[{\"name\":\"Build\",\"image\":\"node\"},
		{\"name\":\"Test\",\"image\":\"node\",\"script\":[\"npm test\",\"exit 3\"]},
		{\"name\":\"Deploy\",\"image\":\"node\"}]" &&
	TOKEN=$ADMIN_A run_once "$PID" &&
	test_equal "$(json_get body "d[\"status\"]")" failed &&
	test_equal "$(json_get body "d[\"error\"]")" \
		"stage '"'"'Candor'"'"': the Candor runner'"'"'s run Failed: stage '"'"'Test'"'"' Failed (exit code 3)" &&
	test_equal "$(json_get body "[s[\"status\"] for s in d[\"stages\"][0][\"runner\"][\"stages\"]]")" \
		"[\"Passed\", \"Failed\", \"Skipped\"]" &&
	TOKEN=$USER_A api GET "/api/v1/events?since=0" &&
	test_equal "$(json_get body "[e[\"data\"][\"providerStatus\"] for e in d if e[\"data\"][\"buildId\"] == \"$RID\"][-1]")" Failed &&
	test_equal "$(json_get body "[[s[\"status\"] for s in e[\"data\"][\"stages\"]] for e in d if e[\"data\"][\"buildId\"] == \"$RID\" and \"stages\" in e[\"data\"]][-1]")" \
		"[\"success\", \"failed\", \"unknown\"]"
'

test_expect_success 'an Error from the runner fails the run (providerStatus Error)' '
	TOKEN=$ADMIN_A candor_pipeline "$CC" "[{\"name\":\"Boom\",\"image\":\"error\"}]" &&
	TOKEN=$ADMIN_A run_once "$PID" &&
	test_equal "$(json_get body "d[\"status\"]")" failed &&
	test_equal "$(json_get body "d[\"error\"]")" \
		"stage '"'"'Candor'"'"': the Candor runner'"'"'s run Error: stage '"'"'Boom'"'"' Error (exit code -1)" &&
	TOKEN=$USER_A api GET "/api/v1/events?since=0" &&
	test_equal "$(json_get body "[e[\"data\"][\"providerStatus\"] for e in d if e[\"data\"][\"buildId\"] == \"$RID\"][-1]")" Error
'

test_expect_success 'the runner refuses the token (401): the run fails saying so' '
	TOKEN=$ADMIN_A make_cred candor "bad token" "$(ccred "$FAKE_CANDOR_URL" not-the-runner-token)" &&
	TOKEN=$ADMIN_A candor_pipeline "$CRED_ID" "[{\"name\":\"a\",\"image\":\"node\"}]" &&
	TOKEN=$ADMIN_A run_once "$PID" &&
	test_equal "$(json_get body "d[\"status\"]")" failed &&
	test_equal "$(json_get body "d[\"error\"]")" \
		"stage '"'"'Candor'"'"': the Candor runner refused the runner token (HTTP 401)" &&
	test_equal "$(json_get body "d[\"stages\"][0][\"runner\"]")" null
'

test_expect_success 'the runner refuses the plan (400): the run fails saying so' '
	TOKEN=$ADMIN_A candor_pipeline "$CC" "[{\"name\":\"a\",\"image\":\"node\"}]" &&
	fake_mode candor echo400 1 &&
	TOKEN=$ADMIN_A run_once "$PID" &&
	test_equal "$(json_get body "d[\"error\"]")" \
		"stage '"'"'Candor'"'"': the Candor runner refused the run (HTTP 400)"
'

test_expect_success 'an unreachable runner, a forbidden address, a credential without a runner' '
	port=$(free_port) &&
	TOKEN=$ADMIN_A make_cred candor "gone" "$(ccred "http://127.0.0.1:$port")" &&
	TOKEN=$ADMIN_A candor_pipeline "$CRED_ID" "[{\"name\":\"a\",\"image\":\"node\"}]" &&
	TOKEN=$ADMIN_A run_once "$PID" &&
	test_equal "$(json_get body "d[\"error\"]")" \
		"stage '"'"'Candor'"'"': the Candor runner is unreachable" &&
	TOKEN=$ADMIN_A make_cred candor "metadata" "$(ccred "http://169.254.169.254:8080")" &&
	TOKEN=$ADMIN_A candor_pipeline "$CRED_ID" "[{\"name\":\"a\",\"image\":\"node\"}]" &&
	TOKEN=$ADMIN_A run_once "$PID" &&
	test_equal "$(json_get body "d[\"error\"]")" \
		"stage '"'"'Candor'"'"': the Candor runner'"'"'s address is not allowed (loopback, link-local or metadata)" &&
	TOKEN=$ADMIN_A make_cred candor "no runner" \
		"{\"url\":\"$FAKE_CANDOR_URL\",\"username\":\"farm\",\"password\":\"$PASS\"}" &&
	TOKEN=$ADMIN_A candor_pipeline "$CRED_ID" "[{\"name\":\"a\",\"image\":\"node\"}]" &&
	TOKEN=$ADMIN_A run_once "$PID" &&
	test_equal "$(json_get body "d[\"error\"]")" \
		"stage '"'"'Candor'"'"': the Candor credential has no runnerUrl and runnerToken"
'

test_expect_success 'another org'"'"'s credential, or one of another type: the run fails, nothing sent' '
	TOKEN=$ADMIN_B make_cred candor "B" "$(ccred "$FAKE_CANDOR_URL")" && CB=$CRED_ID &&
	TOKEN=$ADMIN_A make_cred jenkins "J" "{\"url\":\"$FAKE_CANDOR_URL\",\"username\":\"u\",\"apiToken\":\"t0k3n-j\"}" &&
	CJ=$CRED_ID &&
	fake_forget candor &&
	TOKEN=$ADMIN_A candor_pipeline "$CB" "[{\"name\":\"a\",\"image\":\"node\"}]" &&
	TOKEN=$ADMIN_A run_once "$PID" &&
	test_equal "$(json_get body "d[\"error\"]")" \
		"stage '"'"'Candor'"'"': credential $CB not found in the pipeline'"'"'s organization" &&
	TOKEN=$ADMIN_A candor_pipeline "$CJ" "[{\"name\":\"a\",\"image\":\"node\"}]" &&
	TOKEN=$ADMIN_A run_once "$PID" &&
	test_equal "$(json_get body "d[\"error\"]")" \
		"stage '"'"'Candor'"'"': credential $CJ is a jenkins credential, not candor" &&
	test_equal "$(fake_count candor)" 0
'

test_expect_success 'the runner token and the password never leak' '
	TOKEN=$USER_A api GET "/api/v1/pipelines/$OK/runs" && expect_status 200 &&
	no_secret "$RTOK" && no_secret "$PASS" && check_logs_clean
'

test_done
