#!/bin/bash
# t3000-webhooks.sh - POST /api/v1/webhooks/{circleci,jenkins,travisci}[/:credentialId]
# through nginx, with real farm-eventd and farm-wsd: a verified delivery reaches a
# connected WebSocket client within a second, normalised; anything not verified is a
# 401 and no event; a redelivery is one event; events of a credential's org reach
# that org only.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

CCI_SECRET=cci-instance-secret-0123456789
JENKINS_TOKEN=jenkins-instance-token-42
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI_SECRET
export FARM_WEBHOOK_JENKINS_TOKEN=$JENKINS_TOKEN
# The fake Travis API is on loopback; the key fetch obeys the upstream address policy.
export FARM_UPSTREAM_ALLOW_LOOPBACK=yes

# Travis: a key pair made here, the public half configured for the bare path; a
# fake Travis API (its own key) serves GET /config for credential-scoped deliveries.
test_expect_success 'set up: Travis key pairs and a fake Travis API' '
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out travis.key 2>/dev/null &&
	openssl pkey -in travis.key -pubout -out travis.pub &&
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out travis2.key 2>/dev/null &&
	{ $PY "$TEST_DIR/fake/fake-travis.py" --port 0 --portfile travis.port --keyfile api.key \
		>fake-travis.log 2>&1 </dev/null & } &&
	echo $! >fake.pid &&
	wait_until 10 test -s travis.port
'
FAKE_PIDS=$(cat fake.pid 2>/dev/null)
TRAVIS_API=http://127.0.0.1:$(cat travis.port 2>/dev/null)
export FARM_WEBHOOK_TRAVISCI_PUBLIC_KEY_FILE=$TRASH/travis.pub
export FARM_TRAVISCI_API_URL=http://127.0.0.1:9 # the bare path must never fetch

test_expect_success 'start farm' '
	start_farm
'

ADMIN_A=$(token alice org-a admin)
ADMIN_B=$(token bob org-b admin)
USER_A=$(token ann org-a)
USER_B=$(token ben org-b)
USER_NONE=$(token nobody -)

test_expect_success 'clients of org-a, org-b and of no org are connected' '
	ws_start a "$USER_A" &&
	ws_start b "$USER_B" &&
	ws_start n "$USER_NONE"
'

# ---- CircleCI -----------------------------------------------------------------------

test_expect_success 'CircleCI: a signed delivery is stored and reaches every client in a second' '
	cci_body d1.json cci-1 build-test-deploy &&
	post_cci /api/v1/webhooks/circleci d1.json "$CCI_SECRET" &&
	expect_status 200 &&
	test_equal "$(json_get body "d[\"received\"]")" true &&
	ws_wait a 1 1 && ws_wait b 1 1 && ws_wait n 1 1
'

test_expect_success 'CircleCI: the event carries the normalised fields' '
	test_equal "$(ws_field a 0 "e[\"event\"]")" ci.build.updated &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"provider\"]")" circleci &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"orgId\"]")" null &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"credentialId\"]")" null &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"project\"]")" gh/farm/demo &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"name\"]")" build-test-deploy &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"buildId\"]")" pl-cci-1-0 &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"number\"]")" 0 &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"status\"]")" success &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"providerStatus\"]")" success &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"branch\"]")" main &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"commitSha\"]")" 0000000000000000000000000000000000000000 &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"startedAt\"]")" 2025-01-01T10:00:00.000Z &&
	test_equal "$(ws_field a 0 "e[\"data\"][\"finishedAt\"]")" 2025-01-01T10:01:00.000Z &&
	ws_field a 0 "e[\"data\"][\"receivedAt\"]" | grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z$" &&
	ws_field a 0 "e[\"data\"][\"id\"]" | grep -Eq "^[1-9][0-9]*$" &&
	ws_field a 0 "sorted(e[\"data\"])" >keys &&
	test_equal "$(cat keys)" "[\"branch\", \"buildId\", \"commitSha\", \"credentialId\", \"finishedAt\", \"id\", \"name\", \"number\", \"orgId\", \"project\", \"provider\", \"providerStatus\", \"receivedAt\", \"startedAt\", \"status\", \"url\"]" &&
	test_cmp a.out b.out && test_cmp a.out n.out
'

test_expect_success 'CircleCI: status words are mapped (failed, unauthorized → error)' '
	cci_body d2.json cci-2 wf-failed failed &&
	post_cci /api/v1/webhooks/circleci d2.json "$CCI_SECRET" && expect_status 200 &&
	cci_body d3.json cci-3 wf-unauth unauthorized &&
	post_cci /api/v1/webhooks/circleci d3.json "$CCI_SECRET" && expect_status 200 &&
	ws_wait a 3 &&
	test_equal "$(ws_field a 1 "e[\"data\"][\"status\"]")" failed &&
	test_equal "$(ws_field a 2 "e[\"data\"][\"status\"]")" error &&
	test_equal "$(ws_field a 2 "e[\"data\"][\"providerStatus\"]")" unauthorized
'

test_expect_success 'CircleCI: a redelivery answers 200 and emits nothing new' '
	post_cci /api/v1/webhooks/circleci d1.json "$CCI_SECRET" &&
	expect_status 200 &&
	test_equal "$(json_get body "d.get(\"duplicate\")")" true
'

test_expect_success 'CircleCI: several v1 signatures (rotation) verify when one matches' '
	cci_body d4.json cci-4 wf-rotated &&
	good=$(cci_sign d4.json "$CCI_SECRET") &&
	curl -sS -o body -w "%{http_code}" -X POST -H "circleci-signature: v1=00ff,${good},v2=abc" \
		--data-binary @d4.json "$FARM_URL/api/v1/webhooks/circleci" >status &&
	expect_status 200 &&
	ws_wait a 4 &&
	test_equal "$(ws_field a 3 "e[\"data\"][\"name\"]")" wf-rotated
'

test_expect_success 'CircleCI: bad, missing, v2-only signatures and a tampered body are 401' '
	cci_body d5.json cci-5 wf-never &&
	post_cci /api/v1/webhooks/circleci d5.json wrong-secret && expect_status 401 &&
	test_equal "$(json_get body "d[\"statusCode\"]")" 401 &&
	test_equal "$(json_get body "d[\"error\"]")" Unauthorized &&
	curl -sS -o body -w "%{http_code}" -X POST --data-binary @d5.json \
		"$FARM_URL/api/v1/webhooks/circleci" >status && expect_status 401 &&
	sig=$(cci_sign d5.json "$CCI_SECRET") &&
	curl -sS -o body -w "%{http_code}" -X POST -H "circleci-signature: v2=${sig#v1=}" \
		--data-binary @d5.json "$FARM_URL/api/v1/webhooks/circleci" >status &&
	expect_status 401 &&
	sed "s/wf-never/wf-tampered/" d5.json >d5t.json &&
	curl -sS -o body -w "%{http_code}" -X POST -H "circleci-signature: $sig" \
		--data-binary @d5t.json "$FARM_URL/api/v1/webhooks/circleci" >status &&
	expect_status 401
'

test_expect_success 'CircleCI: a ping (nothing to report) is accepted and ignored' '
	echo "{\"id\":\"ping-1\",\"type\":\"ping\"}" >ping.json &&
	post_cci /api/v1/webhooks/circleci ping.json "$CCI_SECRET" && expect_status 200 &&
	test_equal "$(json_get body "d.get(\"ignored\")")" true
'

# Nothing above may have emitted an event: the next one follows the last id directly.
test_expect_success 'refused deliveries emitted no event (the next id follows directly)' '
	cci_body d6.json cci-6 wf-marker-1 &&
	post_cci /api/v1/webhooks/circleci d6.json "$CCI_SECRET" && expect_status 200 &&
	ws_wait a 5 &&
	test_equal "$(ws_field a 4 "e[\"data\"][\"name\"]")" wf-marker-1 &&
	ws_ids_consecutive a && test_cmp a.out n.out
'

# ---- CircleCI published test vectors (providers.md §2.3), one credential each ------------

test_expect_success 'CircleCI test vectors: the published HMACs verify, a flipped one does not' '
	TOKEN=$ADMIN_A &&
	for v in "hello world:secret:734cc62f:623a" "lalala:another-secret:daa22001:fa00" \
		 "an-important-request-payload:hunter123:9be22420:49fa" "foo:secret:773ba446:2db4"; do
		msg=${v%%:*}; rest=${v#*:}; key=${rest%%:*}; rest=${rest#*:}; pre=${rest%%:*}; suf=${rest#*:}
		printf %s "$msg" >vec.body &&
		sig=$(cci_sign vec.body "$key") &&
		case "$sig" in "v1=$pre"*"$suf") ;; *) echo "vector $msg: $sig"; false ;; esac &&
		api POST /api/v1/integrations/credentials \
			"{\"type\":\"circleci\",\"name\":\"vec\",\"value\":{\"token\":\"t\",\"webhookSecret\":\"$key\"}}" &&
		expect_status 201 && id=$(json_get body "d[\"id\"]") &&
		curl -sS -o body -w "%{http_code}" -X POST -H "circleci-signature: $sig" \
			--data-binary @vec.body "$FARM_URL/api/v1/webhooks/circleci/$id" >status &&
		expect_status 400 &&
		bad=$(printf %s "${sig#v1=}" | tr 0123456789abcdef 123456789abcdef0) &&
		curl -sS -o body -w "%{http_code}" -X POST -H "circleci-signature: v1=$bad" \
			--data-binary @vec.body "$FARM_URL/api/v1/webhooks/circleci/$id" >status &&
		expect_status 401 || return 1
	done
'

# ---- credential-scoped deliveries and org isolation ---------------------------------

test_expect_success 'credentials with webhook secrets in org-a and org-b' '
	TOKEN=$ADMIN_A &&
	api POST /api/v1/integrations/credentials \
		"{\"type\":\"circleci\",\"name\":\"cci-a\",\"value\":{\"token\":\"t\",\"webhookSecret\":\"sec-a\"}}" &&
	expect_status 201 && json_get body "d[\"id\"]" >cred-a &&
	api POST /api/v1/integrations/credentials \
		"{\"type\":\"jenkins\",\"name\":\"jk-a\",\"value\":{\"url\":\"https://ci.example.com\",\"username\":\"u\",\"apiToken\":\"x\",\"webhookSecret\":\"jtok-a\"}}" &&
	expect_status 201 && json_get body "d[\"id\"]" >cred-ja &&
	api POST /api/v1/integrations/credentials \
		"{\"type\":\"circleci\",\"name\":\"cci-nosecret\",\"value\":{\"token\":\"t\"}}" &&
	expect_status 201 && json_get body "d[\"id\"]" >cred-nosecret &&
	api POST /api/v1/integrations/credentials \
		"{\"type\":\"travisci\",\"name\":\"tr-a\",\"value\":{\"token\":\"t\",\"url\":\"$TRAVIS_API\"}}" &&
	expect_status 201 && json_get body "d[\"id\"]" >cred-ta &&
	TOKEN=$ADMIN_B &&
	api POST /api/v1/integrations/credentials \
		"{\"type\":\"circleci\",\"name\":\"cci-b\",\"value\":{\"token\":\"t\",\"webhookSecret\":\"sec-b\"}}" &&
	expect_status 201 && json_get body "d[\"id\"]" >cred-b
'

test_expect_success 'org-a credential: its event reaches org-a only, with org and credential' '
	cci_body e1.json org-a-1 wf-org-a &&
	post_cci "/api/v1/webhooks/circleci/$(cat cred-a)" e1.json sec-a && expect_status 200 &&
	ws_wait a 6 &&
	test_equal "$(ws_field a 5 "e[\"data\"][\"name\"]")" wf-org-a &&
	test_equal "$(ws_field a 5 "e[\"data\"][\"orgId\"]")" org-a &&
	test_equal "$(ws_field a 5 "e[\"data\"][\"credentialId\"]")" "$(cat cred-a)"
'

test_expect_success 'org-b credential: its event reaches org-b only' '
	cci_body e2.json org-b-1 wf-org-b &&
	post_cci "/api/v1/webhooks/circleci/$(cat cred-b)" e2.json sec-b && expect_status 200 &&
	ws_wait b 6 &&
	test_equal "$(ws_field b 5 "e[\"data\"][\"name\"]")" wf-org-b &&
	test_equal "$(ws_field b 5 "e[\"data\"][\"orgId\"]")" org-b
'

test_expect_success 'the same delivery id in two orgs is two deliveries' '
	sed "s/wf-org-a/wf-org-b-same-id/" e1.json >e3.json &&
	post_cci "/api/v1/webhooks/circleci/$(cat cred-b)" e3.json sec-b && expect_status 200 &&
	test_equal "$(json_get body "d.get(\"duplicate\")")" null &&
	ws_wait b 7
'

test_expect_success 'credential deliveries: wrong secret, unknown id, other type, no secret → 401' '
	post_cci "/api/v1/webhooks/circleci/$(cat cred-a)" e1.json sec-b && expect_status 401 &&
	post_cci "/api/v1/webhooks/circleci/$(cat cred-a)" e1.json "$CCI_SECRET" && expect_status 401 &&
	post_cci /api/v1/webhooks/circleci/00000000-0000-4000-8000-000000000000 e1.json sec-a &&
	expect_status 401 &&
	post_cci "/api/v1/webhooks/circleci/$(cat cred-ja)" e1.json jtok-a && expect_status 401 &&
	post_cci "/api/v1/webhooks/circleci/$(cat cred-nosecret)" e1.json "" && expect_status 401
'

test_expect_success 'a marker shows nothing else was emitted; org isolation held' '
	cci_body d7.json cci-7 wf-marker-2 &&
	post_cci /api/v1/webhooks/circleci d7.json "$CCI_SECRET" && expect_status 200 &&
	ws_wait a 7 && ws_wait b 8 && ws_wait n 6 &&
	test_equal "$(ws_names a)" "build-test-deploy wf-failed wf-unauth wf-rotated wf-marker-1 wf-org-a wf-marker-2" &&
	test_equal "$(ws_names b)" "build-test-deploy wf-failed wf-unauth wf-rotated wf-marker-1 wf-org-b wf-org-b-same-id wf-marker-2" &&
	test_equal "$(ws_names n)" "build-test-deploy wf-failed wf-unauth wf-rotated wf-marker-1 wf-marker-2" &&
	! grep -q org-b a.out && ! grep -q "\"orgId\":\"org-a\"" b.out && ! grep -q org- n.out
'

# ---- Jenkins -----------------------------------------------------------------------

cat >jk.json <<'EOF'
{"name":"asgard","url":"job/folder/job/asgard/","build":{"full_url":"http://localhost:8080/job/folder/job/asgard/18/","number":18,"queue_id":7,"timestamp":1735725600000,"duration":61000,"phase":"COMPLETED","status":"UNSTABLE","url":"job/folder/job/asgard/18/","scm":{"url":"https://github.com/o/asgard.git","branch":"origin/master","commit":"c6d86dc6"}}}
EOF

post_jk() { # post_jk PATH-SUFFIX FILE [curl args]
	local p=$1 f=$2
	shift 2
	curl -sS -o body -w '%{http_code}' -X POST -H 'Content-Type: application/json;charset=UTF-8' \
		--data-binary "@$f" "$@" "$FARM_URL/api/v1/webhooks/jenkins$p" >status
}

test_expect_success 'Jenkins: token in the query; the normalised event arrives within a second' '
	post_jk "?token=$JENKINS_TOKEN" jk.json && expect_status 200 &&
	ws_wait n 7 1 &&
	test_equal "$(ws_field n 6 "e[\"data\"][\"provider\"]")" jenkins &&
	test_equal "$(ws_field n 6 "e[\"data\"][\"project\"]")" folder/asgard &&
	test_equal "$(ws_field n 6 "e[\"data\"][\"number\"]")" 18 &&
	test_equal "$(ws_field n 6 "e[\"data\"][\"status\"]")" unstable &&
	test_equal "$(ws_field n 6 "e[\"data\"][\"providerStatus\"]")" UNSTABLE &&
	test_equal "$(ws_field n 6 "e[\"data\"][\"branch\"]")" master &&
	test_equal "$(ws_field n 6 "e[\"data\"][\"commitSha\"]")" c6d86dc6 &&
	test_equal "$(ws_field n 6 "e[\"data\"][\"url\"]")" http://localhost:8080/job/folder/job/asgard/18/ &&
	test_equal "$(ws_field n 6 "e[\"data\"][\"startedAt\"]")" 2025-01-01T10:00:00.000Z &&
	test_equal "$(ws_field n 6 "e[\"data\"][\"finishedAt\"]")" 2025-01-01T10:01:01.000Z
'

test_expect_success 'Jenkins: token in X-Farm-Token and as the Basic password' '
	sed "s/COMPLETED/STARTED/; s/\"status\":\"UNSTABLE\",//" jk.json >jk2.json &&
	post_jk "" jk2.json -H "X-Farm-Token: $JENKINS_TOKEN" && expect_status 200 &&
	sed "s/COMPLETED/FINALIZED/" jk.json >jk3.json &&
	post_jk "" jk3.json -u "jenkins:$JENKINS_TOKEN" && expect_status 200 &&
	ws_wait n 9 &&
	test_equal "$(ws_field n 7 "e[\"data\"][\"status\"]")" running &&
	test_equal "$(ws_field n 8 "e[\"data\"][\"status\"]")" unstable
'

test_expect_success 'Jenkins: the same build and phase again is a redelivery' '
	post_jk "?token=$JENKINS_TOKEN" jk.json && expect_status 200 &&
	test_equal "$(json_get body "d.get(\"duplicate\")")" true
'

test_expect_success 'Jenkins: wrong, missing or empty tokens are 401' '
	sed "s/\"number\":18/\"number\":19/" jk.json >jk4.json &&
	post_jk "?token=wrong" jk4.json && expect_status 401 &&
	post_jk "" jk4.json && expect_status 401 &&
	post_jk "" jk4.json -H "X-Farm-Token: ${JENKINS_TOKEN}x" && expect_status 401 &&
	post_jk "" jk4.json -u "jenkins:nope" && expect_status 401 &&
	post_jk "?token=" jk4.json && expect_status 401 &&
	post_jk "" jk4.json -H "Authorization: Bearer $JENKINS_TOKEN" && expect_status 401
'

test_expect_success 'Jenkins: the org-a credential token scopes the event to org-a' '
	post_jk "/$(cat cred-ja)?token=jtok-a" jk4.json && expect_status 200 &&
	post_jk "/$(cat cred-ja)?token=$JENKINS_TOKEN" jk4.json && expect_status 401 &&
	ws_wait a 11 &&
	test_equal "$(ws_field a -1 "e[\"data\"][\"orgId\"]")" org-a &&
	test_equal "$(ws_field a -1 "e[\"data\"][\"number\"]")" 19
'

# ---- Travis CI ---------------------------------------------------------------------

test_expect_success 'Travis CI: a payload signed with the configured key arrives within a second' '
	tr_payload t1.json 501 passed Passed &&
	travis_post "" travis.key t1.json && expect_status 200 &&
	ws_wait n 10 1 &&
	test_equal "$(ws_field n -1 "e[\"data\"][\"provider\"]")" travisci &&
	test_equal "$(ws_field n -1 "e[\"data\"][\"project\"]")" octo/hello &&
	test_equal "$(ws_field n -1 "e[\"data\"][\"buildId\"]")" 501 &&
	test_equal "$(ws_field n -1 "e[\"data\"][\"number\"]")" 501 &&
	test_equal "$(ws_field n -1 "e[\"data\"][\"status\"]")" success &&
	test_equal "$(ws_field n -1 "e[\"data\"][\"commitSha\"]")" abc123 &&
	test_equal "$(ws_field n -1 "e[\"data\"][\"finishedAt\"]")" 2025-01-01T10:05:00.000Z
'

test_expect_success 'Travis CI: the same build and state again is a redelivery' '
	travis_post "" travis.key t1.json && expect_status 200 &&
	test_equal "$(json_get body "d.get(\"duplicate\")")" true
'

test_expect_success 'Travis CI: another key, a tampered payload, no signature, JSON → 401' '
	tr_payload t2.json 502 failed Broken &&
	travis_post "" travis2.key t2.json && expect_status 401 &&
	sig=$(openssl dgst -sha1 -sign travis.key t2.json | base64 -w0) &&
	sed "s/Broken/Fixed/" t2.json >t2t.json &&
	curl -sS -o body -w "%{http_code}" -X POST -H "Signature: $sig" \
		--data-urlencode "payload@t2t.json" "$FARM_URL/api/v1/webhooks/travisci" >status &&
	expect_status 401 &&
	curl -sS -o body -w "%{http_code}" -X POST --data-urlencode "payload@t2.json" \
		"$FARM_URL/api/v1/webhooks/travisci" >status && expect_status 401 &&
	curl -sS -o body -w "%{http_code}" -X POST -H "Signature: $sig" -H "Content-Type: application/json" \
		--data-binary @t2.json "$FARM_URL/api/v1/webhooks/travisci" >status && expect_status 401 &&
	sig256=$(openssl dgst -sha256 -sign travis.key t2.json | base64 -w0) &&
	curl -sS -o body -w "%{http_code}" -X POST -H "Signature: $sig256" \
		--data-urlencode "payload@t2.json" "$FARM_URL/api/v1/webhooks/travisci" >status &&
	expect_status 401
'

test_expect_success 'Travis CI credential: key fetched once from its API host /config' '
	tr_payload t3.json 503 started Pending &&
	travis_post "/$(cat cred-ta)" api.key t3.json && expect_status 200 &&
	tr_payload t4.json 503 passed Fixed &&
	travis_post "/$(cat cred-ta)" api.key t4.json && expect_status 200 &&
	ws_wait a 14 &&
	test_equal "$(ws_field a -2 "e[\"data\"][\"status\"]")" running &&
	test_equal "$(ws_field a -1 "e[\"data\"][\"status\"]")" success &&
	test_equal "$(ws_field a -1 "e[\"data\"][\"orgId\"]")" org-a &&
	curl -sS "$TRAVIS_API/__fake/requests?pathPrefix=/config" >fetches &&
	test_equal "$(json_get fetches "len(d)")" 1
'

test_expect_success 'Travis CI credential: a signature by another key is 401' '
	tr_payload t5.json 504 passed Passed &&
	travis_post "/$(cat cred-ta)" travis.key t5.json && expect_status 401
'

test_expect_success 'Travis CI credential: after the API rotates its key, one refetch verifies' '
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out api2.key 2>/dev/null &&
	$PY -c "import json,subprocess; pem=subprocess.run([\"openssl\",\"pkey\",\"-in\",\"api2.key\",\"-pubout\"],capture_output=True,check=True).stdout.decode(); print(json.dumps({\"publicKey\":pem}))" >newkey.json &&
	curl -sS -o /dev/null -X POST --data-binary @newkey.json "$TRAVIS_API/__fake/state" &&
	sleep 10 &&
	tr_payload t6.json 505 passed Passed &&
	travis_post "/$(cat cred-ta)" api2.key t6.json && expect_status 200 &&
	curl -sS "$TRAVIS_API/__fake/requests?pathPrefix=/config" >fetches &&
	test_equal "$(json_get fetches "len(d)")" 2
'

test_expect_success 'no process logged a secret, a token or an alert' '
	! grep -r -e "$CCI_SECRET" -e "$JENKINS_TOKEN" -e sec-a -e jtok-a "$TRASH/state/log" &&
	check_logs_clean
'

ws_stop a
ws_stop b
ws_stop n
test_done
