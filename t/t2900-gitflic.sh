#!/bin/bash
# GitFlic through farm (platforms.md §3, seed 002): a project's pipelines over
# HATEOAS pages up to the limit, a pipeline with its jobs, start / restart / cancel;
# the exact upstream requests (Authorization: token x); hostile project names and
# ids refused before any upstream call; Gitflic-Webhook-Secret deliveries (§4)
# become ci.build.updated events, TEST_WEBHOOK accepted without one.

. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-events.sh"
. "$TEST_DIR/lib-platform-contract.sh"

# farm-runner (the watcher) is stopped while the exact upstream requests and event
# lists are checked; the polling block at the end starts it.
export FARM_CACHE_TTL=0 FARM_POLL_INTERVAL=1 FARM_RUN_SUPERVISE_EXCEPT=farm-runner
GTOKEN=gitflic-test-token
export FARM_WEBHOOK_GITFLIC_SECRET=gitflic-instance-hook-secret

start_fake gitflic || exit 1
start_fake gitflic@selfhosted --prefix /rest-api --max-size 10 || exit 1
start_fake gitflic@pc || exit 1
export FARM_GITFLIC_API_URL=$FAKE_GITFLIC_URL

# gf_body FILE ACTION [LOCALID STATUS]: a delivery (common fields of providers.md §7.4;
# the pipeline as the REST Pipeline object)
gf_body() {
	$PY - "$@" <<-\EOF
	import json, sys
	f, action = sys.argv[1:3]
	body = {"action": action, "project_id": "0b9e5a64-1c1d-4c4e-9e0a-2f3b4c5d6e7f",
	        "project": {"project_id": "0b9e5a64-1c1d-4c4e-9e0a-2f3b4c5d6e7f", "title": "API",
	                    "alias": "api", "owner_alias": "acme", "owner_type": "COMPANY",
	                    "http_transport_url": "https://gitflic.example/project/acme/api.git",
	                    "private": True}}
	if len(sys.argv) > 3:
	    body["pipeline"] = {"id": "5f0c1e2d-3a4b-4c5d-8e6f-7a8b9c0d1e2f", "localId": int(sys.argv[3]),
	                        "status": sys.argv[4], "ref": "master",
	                        "commitId": "89abcdef0123456789abcdef0123456789abcdef",
	                        "createdAt": "2025-01-01T10:00:00", "startedAt": "2025-01-01T10:00:03.5",
	                        "finishedAt": None if sys.argv[4] == "RUNNING" else "2025-01-01T10:01:30"}
	json.dump(body, open(f, "w"))
	EOF
}
# gf_post PATH FILE [SECRET]
gf_post() {
	curl -sS -o body -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		${3:+-H "Gitflic-Webhook-Secret: $3"} --data-binary "@$2" "$FARM_URL$1" >status
}
_events_n() { TOKEN=$1 api GET "/api/v1/events?since=0" && [ "$(json_get body "len(d)")" -ge "$2" ]; }
events_wait() { wait_until 5 _events_n "$1" "$2" && cp body events.json; }

test_expect_success 'setup: the stack (farm-runner stopped) and tokens' '
	start_farm && daemon_stop farm-runner &&
	ADMIN_A=$(token alice org-a admin) &&
	MEMBER_A=$(token bob org-a) &&
	ADMIN_B=$(token carol org-b admin) &&
	NOBODY=$(token nobody -)
'

test_expect_success 'no credential: [] for the list, 404 naming the type for an action' '
	TOKEN=$MEMBER_A api GET "/api/v1/gitflic/pipelines?project=acme/api" &&
	expect_status 200 && test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_A api POST /api/v1/gitflic/pipelines/acme%2Fapi/start && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"No gitflic credential configured for this organization" &&
	test_equal "$(fake_count gitflic)" 0
'

test_expect_success 'setup: a GitFlic credential (token only: gitflic.api_url is the API root)' '
	TOKEN=$ADMIN_A make_cred gitflic "GitFlic" "{\"token\":\"$GTOKEN\"}" && G1=$CRED_ID
'

test_expect_success 'pipelines: one page of limit items, newest first; the exact request' '
	fake_forget gitflic &&
	TOKEN=$MEMBER_A api GET "/api/v1/gitflic/pipelines?project=acme%2Fapi" && expect_status 200 &&
	test_equal "$(json_get body "[p[\"localId\"] for p in d][:3] + [len(d)]")" "[25, 24, 23, 20]" &&
	test_equal "$(json_get body "sorted(d[0])")" \
		"[\"beforeCommitId\", \"commitId\", \"configSource\", \"createdAt\", \"duration\", \"failureReason\", \"finishedAt\", \"id\", \"localId\", \"projectId\", \"ref\", \"source\", \"startedAt\", \"status\", \"tag\", \"userId\"]" &&
	fake_requests gitflic >reqs.json &&
	test_equal "$(json_get reqs.json "[(r[\"method\"], r[\"path\"]) for r in d]")" \
		"[[\"GET\", \"/project/acme/api/cicd/pipeline?page=0&size=20\"]]" &&
	test_equal "$(json_get reqs.json "d[0][\"headers\"][\"authorization\"]")" "token $GTOKEN" &&
	fake_forget gitflic &&
	TOKEN=$MEMBER_A api GET "/api/v1/gitflic/pipelines?project=acme/web&limit=100" &&
	expect_status 200 && test_equal "$(json_get body "[p[\"localId\"] for p in d]")" "[2, 1]" &&
	test_equal "$(fake_count gitflic)" 1
'

test_expect_success 'a self-hosted /rest-api root: pages followed while the server gives fewer' '
	TOKEN=$ADMIN_A make_cred gitflic "self-hosted" \
		"{\"token\":\"$GTOKEN\",\"url\":\"$FAKE_GITFLIC_SELFHOSTED_URL/rest-api\"}" && G2=$CRED_ID &&
	fake_forget gitflic@selfhosted && fake_forget gitflic &&
	TOKEN=$MEMBER_A api GET "/api/v1/gitflic/pipelines?project=acme/api&limit=25&credentialId=$G2" &&
	expect_status 200 &&
	test_equal "$(json_get body "[p[\"localId\"] for p in d]")" "$($PY -c "print(list(range(25, 0, -1)))")" &&
	fake_requests gitflic@selfhosted >reqs.json &&
	test_equal "$(json_get reqs.json "[r[\"path\"] for r in d]")" \
		"[\"/rest-api/project/acme/api/cicd/pipeline?page=0&size=25\", \"/rest-api/project/acme/api/cicd/pipeline?page=1&size=25\", \"/rest-api/project/acme/api/cicd/pipeline?page=2&size=25\"]" &&
	test_equal "$(fake_count gitflic)" 0
'

test_expect_success 'pipelines: unknown project 404; hostile project names 400, nothing sent' '
	TOKEN=$MEMBER_A api GET "/api/v1/gitflic/pipelines?project=acme/none&credentialId=$G1" &&
	expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "GitFlic project '"'"'acme/none'"'"' not found" &&
	fake_forget gitflic &&
	(for p in "" "acme" "acme/" "/api" "acme/api/x" "..%2Fapi" "acme%2F.." "acme/%2E%2E" \
		"acme/a%0Ab" "acme/a%20b" "acme/a%3Fpage=9" "acme%5Capi" \
		"acme/$(printf "r%.0s" $(seq 1 101))"; do
		TOKEN=$MEMBER_A api GET "/api/v1/gitflic/pipelines?project=$p&credentialId=$G1" &&
		expect_status 400 || { echo "project: $p"; exit 1; }
	done) &&
	test_grep "project must be owner/project" body &&
	(for l in 0 101 x; do
		TOKEN=$MEMBER_A api GET "/api/v1/gitflic/pipelines?project=acme/api&limit=$l" &&
		expect_status 400 || exit 1
	done) &&
	test_equal "$(fake_count gitflic)" 0
'

test_expect_success 'a pipeline: the pipeline and its jobs (two requests)' '
	fake_forget gitflic &&
	TOKEN=$MEMBER_A api GET "/api/v1/gitflic/pipelines/acme%2Fapi/25?credentialId=$G1" &&
	expect_status 200 &&
	test_equal "$(json_get body "[d[\"localId\"], d[\"status\"]]")" "[25, \"RUNNING\"]" &&
	test_equal "$(json_get body "[(j[\"name\"], j[\"stageName\"], j[\"status\"]) for j in d[\"jobs\"]]")" \
		"[[\"build\", \"build\", \"RUNNING\"], [\"test\", \"test\", \"PENDING\"]]" &&
	fake_requests gitflic >reqs.json &&
	test_equal "$(json_get reqs.json "[(r[\"method\"], r[\"path\"]) for r in d]")" \
		"[[\"GET\", \"/project/acme/api/cicd/pipeline/25\"], [\"GET\", \"/project/acme/api/cicd/pipeline/25/jobs?page=0&size=100\"]]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/gitflic/pipelines/acme%2Fapi/99?credentialId=$G1" &&
	expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "GitFlic pipeline acme/api#99 not found"
'

test_expect_success 'hostile ids and names on every pipeline route: 400, nothing sent' '
	fake_forget gitflic &&
	(for t in "acme%2Fapi/x" "acme%2Fapi/-1" "acme%2Fapi/1e3" "acme%2Fapi/%2E%2E" "acme%2Fapi/1%0A" \
		"acme%2Fapi/$(printf "9%.0s" $(seq 1 30))" "acme%2Fapi/01" "acme/25" "%2E%2E%2Fapi/25" \
		"acme%2F..%2Fx/25" "acme%2Fa%00b/25" "acme%2Fapi%2Fcicd/25"; do
		TOKEN=$MEMBER_A api GET "/api/v1/gitflic/pipelines/$t?credentialId=$G1" &&
		expect_status 400 &&
		TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/$t/restart?credentialId=$G1" &&
		expect_status 400 &&
		TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/$t/cancel?credentialId=$G1" &&
		expect_status 400 || { echo "target: $t"; exit 1; }
	done) &&
	(for p in "acme" "..%2Fapi" "acme%2F%2E%2E" "acme%2Fa%0Ab"; do
		TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/$p/start?credentialId=$G1" &&
		expect_status 400 || { echo "project: $p"; exit 1; }
	done) &&
	test_equal "$(fake_count gitflic)" 0
'

test_expect_success 'start: POST .../cicd/pipeline/start with the seed 002 body, 201 the pipeline' '
	fake_forget gitflic &&
	TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/acme%2Fapi/start?credentialId=$G1" \
		"{\"refName\":\"release/1.2\",\"variables\":[{\"key\":\"DEPLOY\",\"value\":\"yes\"},{\"key\":\"REGION\",\"value\":\"eu-1\"}]}" &&
	expect_status 201 &&
	test_equal "$(json_get body "[d[\"localId\"], d[\"status\"], d[\"ref\"], d[\"source\"]]")" \
		"[26, \"CREATED\", \"release/1.2\", \"API\"]" &&
	fake_last gitflic req.json &&
	test_equal "$(json_get req.json "[d[\"method\"], d[\"path\"]]")" \
		"[\"POST\", \"/project/acme/api/cicd/pipeline/start\"]" &&
	test_equal "$(json_get req.json "d[\"headers\"][\"content-type\"]")" application/json &&
	test_equal "$(json_get req.json "d[\"headers\"][\"authorization\"]")" "token $GTOKEN" &&
	test_equal "$(json_get req.json "json.loads(d[\"body\"])")" \
		"{\"refName\": \"release/1.2\", \"isTag\": false, \"variables\": [{\"key\": \"DEPLOY\", \"value\": \"yes\"}, {\"key\": \"REGION\", \"value\": \"eu-1\"}]}" &&
	TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/acme%2Fapi/start?credentialId=$G1" \
		"{\"refName\":\"v1.2.0\",\"isTag\":true}" && expect_status 201 &&
	test_equal "$(json_get body "d[\"tag\"]")" true &&
	TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/acme%2Fweb/start?credentialId=$G1" &&
	expect_status 201 && fake_last gitflic req.json &&
	test_equal "$(json_get req.json "d[\"body\"]")" "{}" &&
	fake_reset gitflic state
'

test_expect_success 'start: bad bodies are 400, nothing forwarded; a member 403' '
	fake_forget gitflic &&
	(for b in "[]" "{\"ref\":\"main\"}" "{\"refName\":\"\"}" "{\"refName\":7}" \
		"{\"isTag\":true}" "{\"refName\":\"a..b\"}" "{\"refName\":\"x\",\"isTag\":\"false\"}" \
		"{\"variables\":{\"A\":\"b\"}}" "{\"variables\":[{\"key\":\"A B\",\"value\":\"1\"}]}" \
		"{\"variables\":[{\"key\":\"A\",\"value\":1}]}" "{\"variables\":[{\"key\":\"A\"}]}" \
		"{\"refName\":\"$(printf "r%.0s" $(seq 1 300))\"}"; do
		TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/acme%2Fapi/start?credentialId=$G1" "$b" &&
		expect_status 400 || { echo "body: $b"; exit 1; }
	done) &&
	TOKEN=$MEMBER_A api POST "/api/v1/gitflic/pipelines/acme%2Fapi/start?credentialId=$G1" &&
	expect_status 403 &&
	test_equal "$(fake_count gitflic)" 0
'

test_expect_success 'restart and cancel: POST .../<localId>/restart|cancel, 202' '
	fake_forget gitflic &&
	TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/acme%2Fapi/25/cancel?credentialId=$G1" &&
	expect_status 202 &&
	test_equal "$(json_get body "d")" "{\"project\": \"acme/api\", \"localId\": 25, \"runId\": \"acme/api#25\"}" &&
	TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/acme%2Fapi/24/restart?credentialId=$G1" &&
	expect_status 202 &&
	fake_requests gitflic >reqs.json &&
	test_equal "$(json_get reqs.json "[(r[\"method\"], r[\"path\"], r[\"body\"]) for r in d]")" \
		"[[\"POST\", \"/project/acme/api/cicd/pipeline/25/cancel\", \"\"], [\"POST\", \"/project/acme/api/cicd/pipeline/24/restart\", \"\"]]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/gitflic/pipelines/acme%2Fapi/25?credentialId=$G1" &&
	test_equal "$(json_get body "d[\"status\"]")" CANCELED &&
	TOKEN=$MEMBER_A api GET "/api/v1/gitflic/pipelines/acme%2Fapi/24?credentialId=$G1" &&
	test_equal "$(json_get body "d[\"status\"]")" PENDING &&
	TOKEN=$MEMBER_A api POST "/api/v1/gitflic/pipelines/acme%2Fapi/24/restart?credentialId=$G1" &&
	expect_status 403 &&
	TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/acme%2Fapi/99/cancel?credentialId=$G1" &&
	expect_status 404 &&
	fake_reset gitflic state
'

test_expect_success 'org isolation' '
	TOKEN=$ADMIN_B api GET "/api/v1/gitflic/pipelines?project=acme/api" && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_B api GET "/api/v1/gitflic/pipelines?project=acme/api&credentialId=$G1" &&
	expect_status 404
'

# ---- runs (platforms.md §5: runId = owner/project#localId) -----------------------------
# The generic /runs handler comes from the runs branch; until it is merged this build
# has no such route and these tests wait for it.
if "$FARM_BUILD/farm-fcgi" --routes 2>/dev/null | grep -q "^GET /api/v1/runs/:platform/:runId "; then
test_expect_success 'runs: GET /runs/gitflic/owner%2Fproject%23localId is the run object' '
	fake_forget gitflic &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/gitflic/acme%2Fapi%2324?credentialId=$G1" && expect_status 200 &&
	$PY - body "$FAKE_GITFLIC_URL" <<-\EOF &&
	import json, sys
	d = json.load(open(sys.argv[1]))
	want = {"provider": "gitflic", "project": "acme/api", "name": "pipeline #24",
	        "buildId": "acme/api#24", "number": 24, "status": "success",
	        "providerStatus": "SUCCESS", "branch": "master",
	        "url": sys.argv[2] + "/project/acme/api/cicd/pipeline/24"}
	got = {k: d.get(k) for k in want}
	assert got == want, (got, want)
	assert d["startedAt"].endswith("Z") and d["finishedAt"] > d["startedAt"], d
	EOF
	fake_last gitflic req.json &&
	test_equal "$(json_get req.json "[d[\"method\"], d[\"path\"]]")" \
		"[\"GET\", \"/project/acme/api/cicd/pipeline/24\"]"
'

test_expect_success 'runs: rerun restarts in place (201 the run); cancel 202; no log (404)' '
	fake_forget gitflic &&
	TOKEN=$ADMIN_A api POST "/api/v1/runs/gitflic/acme%2Fapi%2324/rerun?credentialId=$G1" &&
	expect_status 201 &&
	test_equal "$(json_get body "[d[\"buildId\"], d[\"status\"]]")" "[\"acme/api#24\", \"queued\"]" &&
	fake_requests gitflic >reqs.json &&
	test_equal "$(json_get reqs.json "[(r[\"method\"], r[\"path\"]) for r in d]")" \
		"[[\"POST\", \"/project/acme/api/cicd/pipeline/24/restart\"], [\"GET\", \"/project/acme/api/cicd/pipeline/24\"]]" &&
	fake_forget gitflic &&
	TOKEN=$ADMIN_A api POST "/api/v1/runs/gitflic/acme%2Fapi%2325/cancel?credentialId=$G1" &&
	expect_status 202 && fake_last gitflic req.json &&
	test_equal "$(json_get req.json "[d[\"method\"], d[\"path\"]]")" \
		"[\"POST\", \"/project/acme/api/cicd/pipeline/25/cancel\"]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/runs/gitflic/acme%2Fapi%2325/log?credentialId=$G1" &&
	expect_status 404 && test_equal "$(json_get body "d[\"message\"]")" "GitFlic has no run logs" &&
	fake_forget gitflic &&
	(for id in acme%2Fapi "acme%2Fapi%23x" "..%2Fapi%231" "acme%2F..%231" "acme%23api%231" "acme%2Fapi%231%0A"; do
		TOKEN=$MEMBER_A api GET "/api/v1/runs/gitflic/$id?credentialId=$G1" && expect_status 400 ||
		{ echo "runId: $id"; exit 1; }
	done) && test_equal "$(fake_count gitflic)" 0 &&
	fake_reset gitflic state
'
else
	say "this build has no /api/v1/runs routes (runs branch not merged): runs tests skipped"
fi

# ---- webhooks ------------------------------------------------------------------------

test_expect_success 'webhook: TEST_WEBHOOK with the secret is 200 and no event' '
	printf "%s" "{\"action\":\"TEST_WEBHOOK\",\"project_id\":\"0b9e5a64-1c1d-4c4e-9e0a-2f3b4c5d6e7f\"}" >t.json &&
	gf_post /api/v1/webhooks/gitflic t.json "$FARM_WEBHOOK_GITFLIC_SECRET" && expect_status 200 &&
	gf_body issue.json ISSUE_CREATE &&
	gf_post /api/v1/webhooks/gitflic issue.json "$FARM_WEBHOOK_GITFLIC_SECRET" && expect_status 200 &&
	sleep 0.3 && TOKEN=$NOBODY api GET "/api/v1/events?since=0" && test_equal "$(cat body)" "[]"
'

test_expect_success 'webhook, bare path: a pipeline event is one ci.build.updated event' '
	gf_body h1.json PIPELINE_SUCCESS 25 SUCCESS &&
	gf_post /api/v1/webhooks/gitflic h1.json "$FARM_WEBHOOK_GITFLIC_SECRET" && expect_status 200 &&
	test_equal "$(json_get body "d")" "{\"received\": true}" &&
	events_wait "$NOBODY" 1 &&
	$PY - events.json <<-\EOF
	import json, sys
	ev = json.load(open(sys.argv[1]))
	assert len(ev) == 1 and ev[0]["event"] == "ci.build.updated", ev
	d = ev[0]["data"]
	want = {"provider": "gitflic", "project": "acme/api", "name": "pipeline #25",
	        "buildId": "acme/api#25", "number": 25, "status": "success",
	        "providerStatus": "SUCCESS", "branch": "master",
	        "commitSha": "89abcdef0123456789abcdef0123456789abcdef",
	        "url": "https://gitflic.example/project/acme/api/cicd/pipeline/25",
	        "startedAt": "2025-01-01T10:00:03.500Z", "finishedAt": "2025-01-01T10:01:30.000Z",
	        "orgId": None, "credentialId": None}
	got = {k: d.get(k) for k in want}
	assert got == want, (got, want)
	EOF
'

test_expect_success 'webhook: a redelivery is a duplicate; statuses normalised' '
	gf_post /api/v1/webhooks/gitflic h1.json "$FARM_WEBHOOK_GITFLIC_SECRET" && expect_status 200 &&
	test_equal "$(json_get body "d")" "{\"received\": true, \"duplicate\": true}" &&
	gf_body h2.json PIPELINE_NEW 26 RUNNING &&
	gf_post /api/v1/webhooks/gitflic h2.json "$FARM_WEBHOOK_GITFLIC_SECRET" && expect_status 200 &&
	gf_body h3.json PIPELINE_FAIL 26 FAILED &&
	gf_post /api/v1/webhooks/gitflic h3.json "$FARM_WEBHOOK_GITFLIC_SECRET" && expect_status 200 &&
	gf_body h4.json PIPELINE_WARNING 27 WARNING &&
	gf_post /api/v1/webhooks/gitflic h4.json "$FARM_WEBHOOK_GITFLIC_SECRET" && expect_status 200 &&
	events_wait "$NOBODY" 4 &&
	test_equal "$(json_get events.json "[(e[\"data\"][\"buildId\"], e[\"data\"][\"status\"]) for e in d[1:]]")" \
		"[[\"acme/api#26\", \"running\"], [\"acme/api#26\", \"failed\"], [\"acme/api#27\", \"unstable\"]]"
'

test_expect_success 'webhook: a wrong or missing Gitflic-Webhook-Secret is 401, nothing stored' '
	gf_body h5.json PIPELINE_FAIL 28 FAILED &&
	gf_post /api/v1/webhooks/gitflic h5.json wrong-secret && expect_status 401 &&
	gf_post /api/v1/webhooks/gitflic h5.json && expect_status 401 &&
	gf_post /api/v1/webhooks/gitflic h5.json "${FARM_WEBHOOK_GITFLIC_SECRET}x" && expect_status 401 &&
	gf_post /api/v1/webhooks/gitflic h5.json "${FARM_WEBHOOK_GITFLIC_SECRET%?}" && expect_status 401 &&
	curl -sS -o body -w "%{http_code}" -X POST -H "Authorization: $FARM_WEBHOOK_GITFLIC_SECRET" \
		--data-binary @h5.json "$FARM_URL/api/v1/webhooks/gitflic" >status && expect_status 401 &&
	gf_post /api/v1/webhooks/gitflic t.json wrong-secret && expect_status 401 &&
	sleep 0.3 && TOKEN=$NOBODY api GET "/api/v1/events?since=0" &&
	test_equal "$(json_get body "len(d)")" 4
'

test_expect_success 'webhook: a pipeline event without project aliases or localId is 400; 413 over the limit' '
	printf "%s" "{\"action\":\"PIPELINE_NEW\",\"pipeline\":{\"localId\":1}}" >h6.json &&
	gf_post /api/v1/webhooks/gitflic h6.json "$FARM_WEBHOOK_GITFLIC_SECRET" && expect_status 400 &&
	gf_body h7.json PIPELINE_NEW &&
	gf_post /api/v1/webhooks/gitflic h7.json "$FARM_WEBHOOK_GITFLIC_SECRET" && expect_status 400 &&
	head -c $((3 * 1024 * 1024)) /dev/zero | tr "\0" a >big.json &&
	gf_post /api/v1/webhooks/gitflic big.json "$FARM_WEBHOOK_GITFLIC_SECRET" && expect_status 413
'

test_expect_success 'webhook, a credential path: its webhookSecret, the event in its org' '
	TOKEN=$ADMIN_A make_cred gitflic "hooked" \
		"{\"token\":\"$GTOKEN\",\"webhookSecret\":\"gitflic-cred-secret\"}" && G3=$CRED_ID &&
	gf_body h8.json PIPELINE_SUCCESS 24 SUCCESS &&
	gf_post "/api/v1/webhooks/gitflic/$G3" h8.json "$FARM_WEBHOOK_GITFLIC_SECRET" && expect_status 401 &&
	gf_post "/api/v1/webhooks/gitflic/$G3" h8.json gitflic-cred-secret && expect_status 200 &&
	events_wait "$MEMBER_A" 5 &&
	test_equal "$(json_get events.json "[[e[\"data\"][\"orgId\"], e[\"data\"][\"credentialId\"], e[\"data\"][\"buildId\"]] for e in d if e[\"data\"][\"credentialId\"]]")" \
		"[[\"org-a\", \"$G3\", \"acme/api#24\"]]"
'

test_expect_success 'the stored token and the webhook secrets never appear in answers or logs' '
	no_secret "$GTOKEN" && no_secret gitflic-cred-secret && no_secret "$FARM_WEBHOOK_GITFLIC_SECRET" &&
	check_logs_clean
'

# ---- the contract every platform keeps (t/lib-platform-contract.sh) ---------------------
# On a fake of its own: the contract restarts the stack, farm-runner with it, which
# then reads the watches of the runs started above (on the gitflic fake).
PC_FAKE=gitflic@pc PC_TYPE=gitflic PC_TITLE=GitFlic PC_SECRET=$GTOKEN \
PC_VALUE="{\"token\":\"$GTOKEN\",\"url\":\"$FAKE_GITFLIC_PC_URL\"}" \
PC_LIST="/api/v1/gitflic/pipelines?project=acme/api" \
PC_ACTION="POST /api/v1/gitflic/pipelines/acme%2Fapi/start" PC_REFUSED=401 \
PC_HOOK=pc_hook_gitflic PC_HOOK_CRED='"webhookSecret":"pc-gitflic-hook-secret"' \
PC_HOOK_GOOD=pc-gitflic-hook-secret PC_HOOK_BAD=wrong-secret platform_contract

# ---- polling: runs farm starts are watched by farm-runner, within gitflic.poll_rate ------
# A credential of its own on the self-hosted fake, so that every request that fake sees
# is one of this credential's (the watches of G1's runs above are read on the other one).
# gf_set FAKE PROJECT LOCALID STATUS: the fake's pipeline takes that status.
gf_set() {
	fake_ctl "$1" GET /__fake/state >state.json &&
	$PY - "$2" "$3" "$4" <<-\EOF &&
	import json, sys
	s = json.load(open("state.json"))
	for p in s["projects"][sys.argv[1]]:
	    if p["localId"] == int(sys.argv[2]):
	        p["status"] = sys.argv[3]
	        p["finishedAt"] = None if sys.argv[3] == "RUNNING" else "2025-01-02T10:00:00"
	json.dump(s, open("state.json", "w"))
	EOF
	fake_ctl "$1" POST /__fake/state "$(cat state.json)" >/dev/null
}
# gf_events CRED BUILDID: the statuses of that run's events of that credential
gf_events() {
	TOKEN=$MEMBER_A api GET "/api/v1/events?since=0" &&
	json_get body "[e[\"data\"][\"status\"] for e in d if e[\"data\"][\"buildId\"] == \"$2\" and e[\"data\"][\"credentialId\"] == \"$1\"]"
}
_gf_last() { gf_events "$1" "$2" >ev.out && test_grep "\"$3\"\]\$" ev.out; }

test_expect_success 'poll: a started pipeline reaches the events queued, running, success; one event per change' '
	{ daemon_stop farm-runner || :; } &&
	fake_reset gitflic@selfhosted state && fake_forget gitflic@selfhosted &&
	TOKEN=$ADMIN_A make_cred gitflic "GitFlic polled" \
		"{\"token\":\"$GTOKEN\",\"url\":\"$FAKE_GITFLIC_SELFHOSTED_URL/rest-api\",\"webhookSecret\":\"g3-hook-secret\"}" && G3=$CRED_ID &&
	(export FARM_GITFLIC_POLL_RATE=600 && daemon_start farm-runner) &&
	TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/acme%2Fweb/start?credentialId=$G3" &&
	expect_status 201 && N=$(json_get body "d[\"localId\"]") &&
	wait_until 10 _gf_last $G3 "acme/web#$N" queued &&
	gf_set gitflic@selfhosted acme/web $N RUNNING &&
	wait_until 10 _gf_last $G3 "acme/web#$N" running &&
	sleep 3 &&
	gf_set gitflic@selfhosted acme/web $N SUCCESS &&
	wait_until 10 _gf_last $G3 "acme/web#$N" success &&
	test_equal "$(gf_events $G3 "acme/web#$N")" "[\"queued\", \"running\", \"success\"]" &&
	fake_requests gitflic@selfhosted >reqs.json &&
	reads=$(json_get reqs.json "len([r for r in d if r[\"method\"] == \"GET\" and r[\"path\"] == \"/rest-api/project/acme/web/cicd/pipeline/$N\"])") &&
	test "$reads" -ge 4 &&
	fake_forget gitflic@selfhosted && sleep 3 &&
	test_equal "$(fake_count gitflic@selfhosted)" 0 &&
	test_equal "$(gf_events $G3 "acme/web#$N")" "[\"queued\", \"running\", \"success\"]"
'

test_expect_success 'poll and webhook share one observation: the same change by webhook is a duplicate' '
	gf_body late.json PIPELINE_SUCCESS "$N" SUCCESS &&
	$PY -c "import json,sys; d=json.load(open(sys.argv[1])); d[\"project\"][\"alias\"]=\"web\"; json.dump(d,open(sys.argv[1],\"w\"))" late.json &&
	gf_post "/api/v1/webhooks/gitflic/$G3" late.json g3-hook-secret && expect_status 200 &&
	test_equal "$(json_get body "d")" "{\"received\": true, \"duplicate\": true}" &&
	sleep 0.3 &&
	test_equal "$(gf_events $G3 "acme/web#$N")" "[\"queued\", \"running\", \"success\"]" &&
	gf_body fail.json PIPELINE_FAIL "$N" FAILED &&
	$PY -c "import json,sys; d=json.load(open(sys.argv[1])); d[\"project\"][\"alias\"]=\"web\"; json.dump(d,open(sys.argv[1],\"w\"))" fail.json &&
	gf_post "/api/v1/webhooks/gitflic/$G3" fail.json g3-hook-secret && expect_status 200 &&
	test_equal "$(json_get body "d")" "{\"received\": true}" &&
	wait_until 5 _gf_last $G3 "acme/web#$N" failed
'

test_expect_success 'poll: one credential spends at most gitflic.poll_rate reads a minute' '
	daemon_stop farm-runner && fake_forget gitflic@selfhosted &&
	(export FARM_GITFLIC_POLL_RATE=3 && daemon_start farm-runner) &&
	TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/acme%2Fweb/start?credentialId=$G3" &&
	expect_status 201 && N1=$(json_get body "d[\"localId\"]") &&
	TOKEN=$ADMIN_A api POST "/api/v1/gitflic/pipelines/acme%2Fweb/start?credentialId=$G3" &&
	expect_status 201 && N2=$(json_get body "d[\"localId\"]") &&
	sleep 10 &&
	fake_requests gitflic@selfhosted >reqs.json &&
	test_equal "$(json_get reqs.json "len([r for r in d if r[\"method\"] == \"GET\"])")" 3 &&
	test_equal "$(json_get reqs.json "sorted(set(r[\"path\"] for r in d if r[\"method\"] == \"GET\"))")" \
		"[\"/rest-api/project/acme/web/cicd/pipeline/$N1\", \"/rest-api/project/acme/web/cicd/pipeline/$N2\"]" &&
	daemon_stop farm-runner
'

test_done
