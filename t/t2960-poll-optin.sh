#!/bin/bash
# A credential asks for polling (issue 15 #4, platforms.md §4): "poll": true on a
# platform without a poll hook of its own (here Semaphore) has the runs farm starts
# watched by farm-runner and read through the platform's runs.get, one event per
# status change (shared with the webhook: a delivery of a status already seen is a
# duplicate), until the run ends; the same credential without "poll" is never read
# after the trigger.  "poll" must be a boolean.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-events.sh"

export FARM_CACHE_TTL=0 FARM_POLL_INTERVAL=1 FARM_ARGOCD_POLL_INTERVAL=0
STOKEN=sem-test-token
start_fake semaphore || exit 1
sem_id() { $PY -c 'import sys,uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, "farm-fake:semaphore/" + "/".join(sys.argv[1:])))' "$@"; }
PROJ=$(sem_id project api)

# sem_set PIPELINE STATE [RESULT]: the fake's pipeline moves to STATE (done: RESULT)
sem_set() {
	fake_ctl semaphore GET /__fake/state >st.json &&
	$PY - st.json "$@" <<-\EOF &&
	import json, sys
	f, ppl, state = sys.argv[1:4]
	s = json.load(open(f))
	p = [p for p in s["pipelines"] if p["ppl_id"] == ppl][0]
	p["state"] = state
	if state == "done":
	    p.update(result=sys.argv[4], result_reason="test", done_at=p["created_at"] + 60)
	else:
	    p["running_at"] = p["created_at"] + 5
	json.dump(s, open(f, "w"))
	EOF
	fake_ctl semaphore POST /__fake/state "$(cat st.json)" >/dev/null
}
# reads PATH: requests of the fake to PATH since the last fake_forget
reads() {
	fake_requests semaphore | $PY -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r["path"].split("?")[0]==sys.argv[1]))' "$1"
}
# events_of TOKEN BUILD: the statuses of the build's events, in order
events_of() {
	TOKEN=$1 api GET "/api/v1/events?since=0&limit=1000" >/dev/null && expect_status 200 &&
	json_get body "[e[\"data\"][\"status\"] for e in d if e[\"data\"][\"buildId\"]==\"$2\"]"
}
events_are() { [ "$(events_of "$1" "$2" 2>/dev/null)" = "$3" ]; }
# sem_hook FILE PIPELINE STATE RESULT: a notification (providers.md §6.3 shape)
sem_hook() {
	$PY - "$@" <<-\EOF
	import json, sys
	f, pid, state, result = sys.argv[1:5]
	json.dump({"version": "1.0.0", "organization": {"name": "acme", "id": "5b0f2f4e-1d1e-4c59-9b1a-0c7f3e0a1b2c"},
	           "project": {"name": "api", "id": "7d6c5b4a-3928-4716-a5b4-c3d2e1f0a9b8"},
	           "repository": {"url": "https://github.com/acme/api", "slug": "acme/api"},
	           "revision": {"tag": None, "reference_type": "branch", "reference": "refs/heads/main",
	                        "pull_request": None, "commit_sha": "0123456789abcdef0123456789abcdef01234567",
	                        "commit_message": "fix", "branch": {"name": "main"}},
	           "workflow": {"initial_pipeline_id": pid, "id": "11111111-2222-4333-8444-555555555555",
	                        "created_at": "2025-01-01T10:00:00Z"},
	           "pipeline": {"yaml_file_name": "semaphore.yml", "working_directory": ".semaphore",
	                        "state": state, "result": result, "result_reason": "test",
	                        "pending_at": "2025-01-01T10:00:01Z", "running_at": "2025-01-01T10:00:05Z",
	                        "done_at": "2025-01-01T10:02:00Z", "created_at": "2025-01-01T10:00:00Z",
	                        "name": "Build & Test", "id": pid, "error_description": ""},
	           "blocks": []}, open(f, "w"))
	EOF
}
hook_sign() {
	$PY -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[2].encode(), open(sys.argv[1],"rb").read(), hashlib.sha256).hexdigest())' "$1" "$2"
}

test_expect_success 'setup: the stack, tokens' '
	start_farm &&
	ADMIN_A=$(token alice org-a admin) && ADMIN_B=$(token carol org-b admin)
'

test_expect_success '"poll" must be a boolean (400), on create and on update' '
	for v in "\"yes\"" 1 null "{}" "[]"; do
		TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials \
			"{\"type\":\"semaphore\",\"name\":\"S\",\"value\":{\"token\":\"$STOKEN\",\"url\":\"$FAKE_SEMAPHORE_URL\",\"poll\":$v}}" &&
		expect_status 400 && test_grep "value.poll must be a boolean" body ||
		{ echo "poll: $v"; return 1; }
	done &&
	TOKEN=$ADMIN_A make_cred jenkins J "{\"url\":\"https://ci.example.com\",\"username\":\"u\",\"apiToken\":\"t\",\"poll\":false}" &&
	JC=$CRED_ID &&
	TOKEN=$ADMIN_A api PATCH /api/v1/integrations/credentials/$JC \
		"{\"value\":{\"url\":\"https://ci.example.com\",\"username\":\"u\",\"apiToken\":\"t\",\"poll\":\"true\"}}" &&
	expect_status 400 && test_grep "value.poll must be a boolean" body &&
	TOKEN=$ADMIN_A api DELETE /api/v1/integrations/credentials/$JC && expect_status 204
'

test_expect_success 'setup: org-a polls its Semaphore credential, org-b does not' '
	TOKEN=$ADMIN_A make_cred semaphore SA \
		"{\"token\":\"$STOKEN\",\"url\":\"$FAKE_SEMAPHORE_URL\",\"webhookSecret\":\"hook-a\",\"poll\":true}" &&
	CA=$CRED_ID &&
	TOKEN=$ADMIN_B make_cred semaphore SB "{\"token\":\"$STOKEN\",\"url\":\"$FAKE_SEMAPHORE_URL\"}"
'

test_expect_success 'poll: a workflow started through farm is watched: one event per change' '
	TOKEN=$ADMIN_A api POST /api/v1/semaphore/workflows \
		"{\"projectId\":\"$PROJ\",\"reference\":\"main\"}" && expect_status 201 &&
	PA=$(json_get body "d[\"pipelineId\"]") &&
	{ wait_until 10 events_are $ADMIN_A $PA "[\"queued\"]" ||
	  { events_of $ADMIN_A $PA; tail -5 "$TRASH/state/log/farm-runner.log"; false; }; } &&
	test "$(reads /api/v1alpha/pipelines/$PA)" -ge 1 &&
	sem_set $PA running &&
	wait_until 10 events_are $ADMIN_A $PA "[\"queued\", \"running\"]" &&
	sleep 2.5 && test_equal "$(events_of $ADMIN_A $PA)" "[\"queued\", \"running\"]" &&
	TOKEN=$ADMIN_A api GET "/api/v1/events?since=0&limit=1000" && expect_status 200 &&
	test_equal "$(json_get body "sorted(set((e[\"data\"][\"orgId\"], e[\"data\"][\"credentialId\"], e[\"data\"][\"provider\"]) for e in d if e[\"data\"][\"buildId\"]==\"$PA\"))")" \
		"[[\"org-a\", \"$CA\", \"semaphore\"]]"
'

test_expect_success 'poll: a webhook delivery of a status already seen is a duplicate' '
	sem_hook h1.json $PA running "" &&
	curl -sS -o body -w "%{http_code}" -X POST -H "Content-Type: application/json" \
		-H "X-Semaphore-Webhook-Id: w-1" -H "X-Semaphore-Signature-256: $(hook_sign h1.json hook-a)" \
		--data-binary @h1.json "$FARM_URL/api/v1/webhooks/semaphore/$CA" >status &&
	expect_status 200 &&
	test_equal "$(json_get body d)" "{\"received\": true, \"duplicate\": true}" &&
	test_equal "$(events_of $ADMIN_A $PA)" "[\"queued\", \"running\"]"
'

test_expect_success 'poll: the final status is one more event, then the run is not read again' '
	sem_set $PA done passed &&
	wait_until 10 events_are $ADMIN_A $PA "[\"queued\", \"running\", \"success\"]" &&
	sleep 1.5 && fake_forget semaphore && sleep 2.5 &&
	test_equal "$(reads /api/v1alpha/pipelines/$PA)" 0 &&
	test_equal "$(events_of $ADMIN_A $PA)" "[\"queued\", \"running\", \"success\"]"
'

test_expect_success 'no poll: nothing is read after the trigger, no event' '
	TOKEN=$ADMIN_B api POST /api/v1/semaphore/workflows \
		"{\"projectId\":\"$PROJ\",\"reference\":\"main\"}" && expect_status 201 &&
	PB=$(json_get body "d[\"pipelineId\"]") &&
	fake_forget semaphore && sem_set $PB running && sleep 3.5 &&
	test_equal "$(fake_count semaphore)" 0 &&
	test_equal "$(events_of $ADMIN_B $PB)" "[]"
'

test_expect_success 'poll: a run a read shows running is watched until it ends' '
	TOKEN=$ADMIN_A api GET /api/v1/runs/semaphore/$PB && expect_status 200 &&
	test_equal "$(json_get body "d[\"status\"]")" running &&
	wait_until 10 events_are $ADMIN_A $PB "[\"running\"]" &&
	sem_set $PB done failed &&
	wait_until 10 events_are $ADMIN_A $PB "[\"running\", \"failed\"]" &&
	sleep 1.5 && fake_forget semaphore && sleep 2.5 &&
	test_equal "$(reads /api/v1alpha/pipelines/$PB)" 0 &&
	test_equal "$(events_of $ADMIN_B $PB)" "[]"
'

test_done
