#!/bin/bash
# Jenkins through farm: jobs (folders flattened), builds, triggers (with and
# without parameters, CSRF crumbs), the exact upstream requests, credential
# choice, org isolation and hostile job names.

. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-events.sh"
. "$TEST_DIR/lib-platform-contract.sh"

export FARM_CACHE_TTL=0
JUSER=farm
JTOKEN=11f0e3c2a9b8d7e6f5a4b3c2d1e0f9a8b7
BASIC="Basic $(printf '%s' "$JUSER:$JTOKEN" | base64 -w0)"

start_fake jenkins || exit 1
start_fake jenkins@crumb --require-crumb || exit 1

jcred() { # URL [token]
	echo "{\"url\":\"$1\",\"username\":\"$JUSER\",\"apiToken\":\"${2:-$JTOKEN}\"}"
}

test_expect_success 'setup: the stack and tokens' '
	start_farm &&
	ADMIN_A=$(token alice org-a admin) &&
	MEMBER_A=$(token bob org-a) &&
	ADMIN_B=$(token carol org-b admin)
'

test_expect_success 'no credential: lists answer [], a trigger 404 naming the type' '
	TOKEN=$MEMBER_A api GET /api/v1/jenkins/jobs && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$MEMBER_A api GET /api/v1/jenkins/jobs/farm-build/builds && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_A api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"No jenkins credential configured for this organization" &&
	test_equal "$(fake_count jenkins)" 0
'

test_expect_success 'setup: a Jenkins credential for org-a' '
	TOKEN=$ADMIN_A make_cred jenkins "CI" "$(jcred "$FAKE_JENKINS_URL")" &&
	J1=$CRED_ID
'

test_expect_success 'jobs: the seed shape, folders expanded as folder/job' '
	fake_forget jenkins &&
	TOKEN=$MEMBER_A api GET /api/v1/jenkins/jobs && expect_status 200 &&
	test_equal "$(json_get body "[j[\"name\"] for j in d]")" \
		"[\"farm-build\", \"platform/api deploy\", \"platform/nightly 100%\"]" &&
	test_equal "$(json_get body "sorted(set(tuple(sorted(j)) for j in d))")" \
		"[[\"color\", \"lastBuild\", \"name\", \"url\"]]" &&
	test_equal "$(json_get body "d[0][\"lastBuild\"]")" \
		"{\"number\": 12, \"result\": \"SUCCESS\", \"timestamp\": 1735765200000, \"duration\": 71967}" &&
	test_equal "$(json_get body "d[0][\"color\"]")" blue &&
	test_equal "$(json_get body "d[0][\"url\"]")" "$FAKE_JENKINS_URL/job/farm-build/" &&
	test_equal "$(json_get body "d[1][\"color\"]")" blue_anime &&
	test_equal "$(json_get body "d[1][\"lastBuild\"][\"result\"]")" null
'

test_expect_success 'jobs: one GET /api/json with a nested tree= and Basic auth' '
	test_equal "$(fake_count jenkins)" 1 &&
	fake_last jenkins req.json &&
	test_equal "$(json_get req.json "d[\"method\"]")" GET &&
	test_equal "$(json_get req.json "d[\"path\"].split(\"?\")[0]")" /api/json &&
	test_equal "$(json_get req.json "d[\"query\"][\"tree\"][0].count(\"jobs[\")")" 5 &&
	test_equal "$(json_get req.json "d[\"query\"][\"tree\"][0][:66]")" \
		"jobs[name,url,color,lastBuild[number,result,timestamp,duration],jo" &&
	test_equal "$(json_get req.json "d[\"headers\"][\"authorization\"]")" "$BASIC" &&
	test_equal "$(json_get req.json "d[\"headers\"][\"accept\"]")" application/json
'

test_expect_success 'jobs: deep folders flatten to a/b/c/job, up to the depth asked' '
	fake_ctl jenkins POST /__fake/state "{\"jobs\":[{\"name\":\"a\",\"jobs\":[{\"name\":\"b\",\"jobs\":[{\"name\":\"c\",\"jobs\":[{\"name\":\"deploy\",\"builds\":[{\"number\":3,\"result\":\"SUCCESS\"}]}]}]}]},{\"name\":\"f1\",\"jobs\":[{\"name\":\"f2\",\"jobs\":[{\"name\":\"f3\",\"jobs\":[{\"name\":\"f4\",\"jobs\":[{\"name\":\"f5\",\"jobs\":[{\"name\":\"f6\",\"jobs\":[{\"name\":\"too-deep\"}]}]}]}]}]}]},{\"name\":\"never\"}]}" >/dev/null &&
	TOKEN=$MEMBER_A api GET /api/v1/jenkins/jobs && expect_status 200 &&
	test_equal "$(json_get body "[j[\"name\"] for j in d]")" "[\"a/b/c/deploy\", \"never\"]" &&
	test_equal "$(json_get body "d[1][\"lastBuild\"]")" null &&
	test_equal "$(json_get body "d[1][\"color\"]")" notbuilt &&
	fake_reset jenkins state
'

test_expect_success 'builds: newest first, {number,result,building,timestamp,duration,url}' '
	fake_forget jenkins &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/platform%2Fapi%20deploy/builds?limit=3" &&
	expect_status 200 &&
	test_equal "$(json_get body "[b[\"number\"] for b in d]")" "[8, 7, 6]" &&
	test_equal "$(json_get body "sorted(d[0])")" \
		"[\"building\", \"duration\", \"number\", \"result\", \"timestamp\", \"url\"]" &&
	test_equal "$(json_get body "[d[0][\"building\"], d[0][\"result\"], d[1][\"building\"], d[1][\"result\"]]")" \
		"[true, null, false, \"SUCCESS\"]" &&
	fake_last jenkins req.json &&
	test_equal "$(json_get req.json "d[\"path\"]")" \
		"/job/platform/job/api%20deploy/api/json?tree=builds%5Bnumber%2Cresult%2Cbuilding%2Ctimestamp%2Cduration%2Curl%5D%7B0%2C3%7D"
'

test_expect_success 'builds: limit defaults to 20, folder segments are percent-encoded' '
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/platform%2Fnightly%20100%25/builds" &&
	expect_status 200 &&
	test_equal "$(json_get body "[b[\"number\"] for b in d]")" "[45, 44, 43, 42, 41]" &&
	fake_last jenkins req.json &&
	test_equal "$(json_get req.json "d[\"path\"].split(\"?\")[0]")" \
		"/job/platform/job/nightly%20100%25/api/json" &&
	test_equal "$(json_get req.json "d[\"query\"][\"tree\"][0][-6:]")" "{0,20}"
'

test_expect_success 'builds: limit outside 1..100 is a 400' '
	(for l in 0 101 abc -1 ""; do
		TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/farm-build/builds?limit=$l" &&
		expect_status 400 || exit 1
	done) &&
	test_grep "limit must be a whole number within 1..100" body
'

test_expect_success 'builds: unknown job 404; a folder 400' '
	TOKEN=$MEMBER_A api GET /api/v1/jenkins/jobs/nope/builds && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "Jenkins job '"'"'nope'"'"' not found" &&
	TOKEN=$MEMBER_A api GET /api/v1/jenkins/jobs/platform/builds && expect_status 400 &&
	test_grep "is a folder, not a job" body
'

test_expect_success 'build: a member may not trigger (403)' '
	TOKEN=$MEMBER_A api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 403
'

test_expect_success 'build: no body -> POST job/<name>/build, 201 with the queue item' '
	fake_forget jenkins &&
	TOKEN=$ADMIN_A api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 201 &&
	Q=$(json_get body "d[\"queueId\"]") &&
	test "$Q" -gt 0 &&
	test_equal "$(json_get body "d[\"queueUrl\"]")" "$FAKE_JENKINS_URL/queue/item/$Q/" &&
	test_equal "$(json_get body "sorted(d)")" "[\"queueId\", \"queueUrl\"]" &&
	test_equal "$(fake_count jenkins)" 1 &&
	fake_last jenkins req.json &&
	test_equal "$(json_get req.json "d[\"method\"]")" POST &&
	test_equal "$(json_get req.json "d[\"path\"]")" /job/farm-build/build &&
	test_equal "$(json_get req.json "d[\"body\"]")" "" &&
	test_equal "$(json_get req.json "d[\"headers\"][\"authorization\"]")" "$BASIC"
'

test_expect_success 'build: parameters -> buildWithParameters with a form body' '
	fake_forget jenkins &&
	TOKEN=$ADMIN_A api POST "/api/v1/jenkins/jobs/platform%2Fapi%20deploy/build" \
		"{\"parameters\":{\"ENV\":\"prod eu\",\"VERSION\":\"1.2&x=y\",\"N\":3,\"DRY\":true}}" &&
	expect_status 201 &&
	Q1=$(json_get body "d[\"queueId\"]") &&
	fake_last jenkins req.json &&
	test_equal "$(json_get req.json "d[\"path\"]")" \
		"/job/platform/job/api%20deploy/buildWithParameters" &&
	test_equal "$(json_get req.json "d[\"headers\"][\"content-type\"]")" \
		application/x-www-form-urlencoded &&
	test_equal "$(json_get req.json "d[\"body\"]")" \
		"ENV=prod%20eu&VERSION=1.2%26x%3Dy&N=3&DRY=true"
'

test_expect_success 'build: an identical waiting item (Jenkins 303) answers that item' '
	TOKEN=$ADMIN_A api POST "/api/v1/jenkins/jobs/platform%2Fapi%20deploy/build" \
		"{\"parameters\":{\"ENV\":\"prod eu\",\"VERSION\":\"1.2&x=y\"}}" &&
	expect_status 201 &&
	test_equal "$(json_get body "d[\"queueId\"]")" "$Q1"
'

test_expect_success 'build: Jenkins validation errors come back as 400 with its message' '
	TOKEN=$ADMIN_A api POST /api/v1/jenkins/jobs/farm-build/build "{\"parameters\":{}}" &&
	expect_status 400 &&
	test_equal "$(json_get body "d[\"message\"]")" "Jenkins: farm-build is not parameterized"
'

test_expect_success 'build: a disabled job is a 409' '
	fake_ctl jenkins POST /__fake/state "{\"jobs\":[{\"name\":\"old\",\"disabled\":true}]}" >/dev/null &&
	TOKEN=$ADMIN_A api POST /api/v1/jenkins/jobs/old/build && expect_status 409 &&
	test_equal "$(json_get body "d[\"message\"]")" "Jenkins: old is not buildable" &&
	fake_reset jenkins state
'

test_expect_success 'build: malformed bodies are refused before any upstream call' '
	fake_forget jenkins &&
	TOKEN=$ADMIN_A api POST /api/v1/jenkins/jobs/farm-build/build "{\"params\":{}}" &&
	expect_status 400 && test_grep "property params should not exist" body &&
	TOKEN=$ADMIN_A api POST /api/v1/jenkins/jobs/farm-build/build "{\"parameters\":[1]}" &&
	expect_status 400 && test_grep "parameters must be an object" body &&
	TOKEN=$ADMIN_A api POST /api/v1/jenkins/jobs/farm-build/build "{\"parameters\":{\"A\":{\"x\":1}}}" &&
	expect_status 400 && test_grep "must be a string, number or boolean" body &&
	TOKEN=$ADMIN_A api POST /api/v1/jenkins/jobs/farm-build/build "{\"parameters\":" &&
	expect_status 400 && test_grep "malformed JSON" body &&
	test_equal "$(fake_count jenkins)" 0
'

test_expect_success 'hostile job names: 400, nothing forwarded' '
	fake_forget jenkins &&
	long=$(printf "x%.0s" $(seq 1 1100)) &&
	(for n in "..%2F..%2Fcredentials" "a%2F..%2Fb" "%2E" "%2E%2E" "a%2F%2E%2Fb" "a%0D%0AX-Injected:%201" "a%2F%2Fb" \
		"a%2F" "%2Fa" "a%09b" "$long"; do
		TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/$n/builds" && expect_status 400 &&
		TOKEN=$ADMIN_A api POST "/api/v1/jenkins/jobs/$n/build" && expect_status 400 ||
		{ echo "name: $n"; exit 1; }
	done) &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/a%00b/builds" && expect_status 400 &&
	test_equal "$(fake_count jenkins)" 0
'

test_expect_success 'CSRF: a 403 asking for a crumb fetches one and retries with it' '
	TOKEN=$ADMIN_A make_cred jenkins "CI with CSRF" "$(jcred "$FAKE_JENKINS_CRUMB_URL")" &&
	J2=$CRED_ID &&
	fake_forget jenkins@crumb &&
	TOKEN=$ADMIN_A api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 201 &&
	fake_requests jenkins@crumb >reqs.json &&
	test_equal "$(json_get reqs.json "[(r[\"method\"], r[\"path\"]) for r in d]")" \
		"[[\"POST\", \"/job/farm-build/build\"], [\"GET\", \"/crumbIssuer/api/json\"], [\"POST\", \"/job/farm-build/build\"]]" &&
	test_equal "$(json_get reqs.json "\"jenkins-crumb\" in d[0][\"headers\"]")" false &&
	test_equal "$(json_get reqs.json "len(d[2][\"headers\"][\"jenkins-crumb\"])")" 64
'

test_expect_success 'the most recently updated credential is used; ?credentialId= picks one' '
	fake_forget jenkins && fake_forget jenkins@crumb &&
	TOKEN=$MEMBER_A api GET /api/v1/jenkins/jobs && expect_status 200 &&
	test_equal "$(fake_count jenkins@crumb)" 1 && test_equal "$(fake_count jenkins)" 0 &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs?credentialId=$J1" && expect_status 200 &&
	test_equal "$(fake_count jenkins)" 1 &&
	TOKEN=$ADMIN_A api PATCH "/api/v1/integrations/credentials/$J1" "{\"name\":\"CI (renamed)\"}" &&
	expect_status 200 &&
	TOKEN=$MEMBER_A api GET /api/v1/jenkins/jobs && expect_status 200 &&
	test_equal "$(fake_count jenkins)" 2 && test_equal "$(fake_count jenkins@crumb)" 1
'

test_expect_success '?credentialId=: unknown 404, malformed 400, another type 400' '
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs?credentialId=00000000-0000-4000-8000-000000000000" &&
	expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"Credential 00000000-0000-4000-8000-000000000000 not found" &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs?credentialId=../x" && expect_status 400 &&
	TOKEN=$ADMIN_A make_cred circleci "C" "{\"token\":\"circle-x\"}" &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs?credentialId=$CRED_ID" && expect_status 400 &&
	test_grep "is a circleci credential, not jenkins" body
'

test_expect_success 'org isolation: another org sees none of org-a and cannot name it' '
	fake_forget jenkins && fake_forget jenkins@crumb &&
	TOKEN=$ADMIN_B api GET /api/v1/jenkins/jobs && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_B api GET "/api/v1/jenkins/jobs?credentialId=$J1" && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "Credential $J1 not found" &&
	TOKEN=$ADMIN_B api POST "/api/v1/jenkins/jobs/farm-build/build?credentialId=$J1" &&
	expect_status 404 &&
	TOKEN=$ADMIN_B api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 404 &&
	test_grep "No jenkins credential configured" body &&
	test_equal "$(fake_count jenkins)" 0 && test_equal "$(fake_count jenkins@crumb)" 0
'

test_expect_success 'a refused API token: 502 naming Jenkins and the status, no secret' '
	TOKEN=$ADMIN_B make_cred jenkins "wrong" "$(jcred "$FAKE_JENKINS_URL" wrong-secret-0xDEADBEEF)" &&
	TOKEN=$ADMIN_B api GET /api/v1/jenkins/jobs && expect_status 502 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"Jenkins rejected the stored credential (HTTP 401)" &&
	TOKEN=$ADMIN_B api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 502 &&
	no_secret wrong-secret-0xDEADBEEF
'

test_expect_success 'the stored API token never appears in answers or logs' '
	no_secret "$JTOKEN" && no_secret "$(printf "%s" "$JUSER:$JTOKEN" | base64 -w0)" &&
	check_logs_clean
'

# ---- the shared cache (cache.ttl on) ------------------------------------------------

cache_hdr() { sed -n "s/^X-Farm-Cache: *\([a-z]*\).*/\1/Ip" headers; }

test_expect_success 'cache on: a restarted stack with cache.ttl = 30' '
	stop_farm &&
	export FARM_CACHE_TTL=30 FARM_UPSTREAM_TIMEOUT=5 &&
	start_farm &&
	fake_reset jenkins state && fake_reset jenkins@crumb state
'

test_expect_success 'cache: two identical GETs make one upstream call' '
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs?credentialId=$J1" && expect_status 200 &&
	test_equal "$(cache_hdr)" miss && cp body first &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs?credentialId=$J1" && expect_status 200 &&
	test_equal "$(cache_hdr)" hit &&
	test_cmp first body &&
	test_equal "$(fake_count jenkins)" 1
'

test_expect_success 'cache: another request is another entry' '
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/farm-build/builds?limit=3&credentialId=$J1" &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/farm-build/builds?limit=4&credentialId=$J1" &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/farm-build/builds?limit=3&credentialId=$J1" &&
	test_equal "$(cache_hdr)" hit &&
	test_equal "$(fake_count jenkins)" 3
'

test_expect_success 'cache: 50 concurrent identical misses make exactly one upstream call' '
	fake_forget jenkins &&
	fake_mode jenkins hang 1 "\"seconds\":1" &&
	pids= &&
	for i in $(seq 1 50); do
		curl -sS -o par.$i -w "%{http_code}\n" -H "Authorization: Bearer $MEMBER_A" \
			"$FARM_URL/api/v1/jenkins/jobs/farm-build/builds?limit=7&credentialId=$J1" \
			>par.$i.status &
		pids="$pids $!"
	done &&
	wait $pids &&
	test_equal "$(cat par.*.status | sort | uniq -c | sed "s/^ *//")" "50 200" &&
	(for i in $(seq 2 50); do test_cmp par.1 par.$i || exit 1; done) &&
	test_equal "$($PY -c "import json; print(len(json.load(open(\"par.1\"))))")" 7 &&
	test_equal "$(fake_count jenkins)" 1
'

test_expect_success 'cache: a trigger drops the credential'"'"'s entries' '
	fake_forget jenkins &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs?credentialId=$J1" && test_equal "$(cache_hdr)" hit &&
	TOKEN=$ADMIN_A api POST "/api/v1/jenkins/jobs/farm-build/build?credentialId=$J1" &&
	expect_status 201 &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs?credentialId=$J1" && expect_status 200 &&
	test_equal "$(cache_hdr)" miss &&
	test_equal "$(json_get body "d[0][\"color\"]")" blue &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/farm-build/builds?limit=3&credentialId=$J1" &&
	test_equal "$(cache_hdr)" miss &&
	test_equal "$(fake_requests jenkins | $PY -c "import json,sys; print(\" \".join(r[\"method\"] for r in json.load(sys.stdin)))")" \
		"POST GET GET"
'

test_expect_success 'cache: failures are not cached' '
	fake_forget jenkins &&
	fake_mode jenkins 500 1 &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/farm-build/builds?limit=9&credentialId=$J1" &&
	expect_status 502 &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/farm-build/builds?limit=9&credentialId=$J1" &&
	expect_status 200 && test_equal "$(cache_hdr)" miss &&
	test_equal "$(fake_count jenkins)" 2
'

test_expect_success 'cache: a new value of the credential is a new key; other orgs never share' '
	fake_forget jenkins &&
	TOKEN=$ADMIN_A api PATCH "/api/v1/integrations/credentials/$J1" \
		"{\"value\":$(jcred "$FAKE_JENKINS_URL")}" && expect_status 200 &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs?credentialId=$J1" && test_equal "$(cache_hdr)" miss &&
	TOKEN=$(token zed org-z admin) make_cred jenkins "same server" "$(jcred "$FAKE_JENKINS_URL")" &&
	TOKEN=$(token zed org-z) api GET /api/v1/jenkins/jobs && test_equal "$(cache_hdr)" miss &&
	test_equal "$(fake_count jenkins)" 2
'

test_expect_success 'cache: a worker killed (-9) while filling does not block the next caller' '
	fake_forget jenkins &&
	fake_mode jenkins hang 1 "\"seconds\":4" &&
	# plain curl, not api: a background api would write ./body, ./headers and ./status
	# (and the recorded answer) while the next request writes them too
	(curl -sS -o /dev/null -H "Authorization: Bearer $MEMBER_A" \
		"$FARM_URL/api/v1/jenkins/jobs/farm-build/builds?limit=11&credentialId=$J1" >/dev/null 2>&1 &) &&
	sleep 0.5 &&
	kill -9 $(farm_worker_pids) &&
	for i in $(seq 1 50); do
		curl -fsS -o /dev/null "$FARM_URL/api/v1/health" 2>/dev/null && break
		sleep 0.1
	done &&
	t0=$(date +%s%N) &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/farm-build/builds?limit=11&credentialId=$J1" &&
	expect_status 200 &&
	test $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3500 &&
	TOKEN=$MEMBER_A api GET "/api/v1/jenkins/jobs/farm-build/builds?limit=11&credentialId=$J1" &&
	test_equal "$(cache_hdr)" hit
'

# ---- the contract every platform keeps (t/lib-platform-contract.sh) ---------------------
PC_FAKE=jenkins PC_TYPE=jenkins PC_TITLE=Jenkins PC_SECRET=$JTOKEN \
PC_VALUE=$(jcred "$FAKE_JENKINS_URL") PC_LIST=/api/v1/jenkins/jobs \
PC_ACTION="POST /api/v1/jenkins/jobs/farm-build/build" PC_REFUSED=401 \
PC_HOOK=pc_hook_jenkins PC_HOOK_CRED='"webhookSecret":"pc-jenkins-hook-secret"' \
PC_HOOK_GOOD=pc-jenkins-hook-secret PC_HOOK_BAD=wrong-secret platform_contract

test_done
