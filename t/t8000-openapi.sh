#!/bin/bash
# t8000-openapi.sh - docs/openapi.json is the API: every route of the live table
# (`farm-fcgi --routes`) is an operation of the document and every operation the
# pool serves is a route, with the same JWT/admin/body policy; nginx serves the
# document at /api/v1/openapi.json; and a representative set of real answers, errors
# included, validates against the document's schemas (this script records its own,
# so make check does not depend on test order; `make check-openapi` checks what
# every integration test recorded).  The checker is t/openapi-check.py.

. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-events.sh"

DOC=$SRC_DIR/docs/openapi.json
CHECK=$TEST_DIR/openapi-check.py
export FARM_CACHE_TTL=0
export FARM_DEBUG_ROUTES=yes
CCI_SECRET=cci-openapi-secret-0123456789
JENKINS_TOKEN=jenkins-openapi-token-42
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI_SECRET
export FARM_WEBHOOK_JENKINS_TOKEN=$JENKINS_TOKEN
export FARM_WEBHOOK_ARGOCD_TOKEN=$JENKINS_TOKEN
export FARM_PIPELINES_WORKSPACE_ROOT=$TRASH/ws
mkdir -p "$TRASH/ws"

test_expect_success 'the document is OpenAPI 3.1, every $ref resolves, every schema is 2020-12' '
	$PY "$CHECK" lint "$DOC" &&
	test_equal "$(json_get "$DOC" "d[\"openapi\"]")" 3.1.0 &&
	test_equal "$(json_get "$DOC" "d[\"info\"][\"version\"]")" "$(cat "$SRC_DIR/VERSION")"
'

test_expect_success 'farm-fcgi --routes prints the live table' '
	"$FARM_BUILD/farm-fcgi" --routes >routes &&
	test_grep "^GET /api/v1/health -$" routes &&
	test_grep "^POST /api/v1/integrations/credentials auth,admin,json$" routes &&
	test_grep "^POST /api/v1/webhooks/circleci body$" routes &&
	test "$(wc -l <routes)" -gt 30
'

test_expect_success 'every route is in the document and every pool operation is a route' '
	$PY "$CHECK" routes "$DOC" routes
'

test_expect_success 'the route check fails on a route missing from either side or a policy that differs' '
	echo "GET /api/v1/not-documented/:x auth" >>routes.extra &&
	cat routes routes.extra >routes2 &&
	! $PY "$CHECK" routes "$DOC" routes2 >out &&
	test_grep "GET /api/v1/not-documented/{x}: in the route table, not in the document" out &&
	grep -v "^DELETE /api/v1/integrations/credentials/:id " routes >routes3 &&
	! $PY "$CHECK" routes "$DOC" routes3 >out &&
	test_grep "DELETE /api/v1/integrations/credentials/{id}: in the document, not in the route table" out &&
	sed "s|^GET /api/v1/pipelines auth$|GET /api/v1/pipelines auth,admin|; s|^POST /api/v1/pipelines auth,admin,json$|POST /api/v1/pipelines auth,admin|; s|^GET /api/v1/projects auth$|GET /api/v1/projects -|" routes >routes4 &&
	! $PY "$CHECK" routes "$DOC" routes4 >out &&
	test_grep "GET /api/v1/pipelines: admin in the table: True" out &&
	test_grep "POST /api/v1/pipelines: the document requires a body, the table does not" out &&
	test_grep "GET /api/v1/projects: the document asks for bearerAuth" out
'

test_expect_success 'start farm and the fake platforms' '
	start_fake argocd && start_fake circleci && start_fake jenkins && start_fake travis &&
	start_farm &&
	ADMIN=$(token alice org-a admin) &&
	MEMBER=$(token bob org-a) &&
	export FARM_RECORD_DIR=$TRASH/rec
'

test_expect_success 'nginx serves the document at /api/v1/openapi.json as JSON' '
	api GET /api/v1/openapi.json && expect_status 200 &&
	test_grep "^Content-Type: application/json" headers &&
	cmp body "$DOC"
'

test_expect_success 'health, errors of the dispatcher, unknown path and method' '
	api GET /api/v1/health && expect_status 200 &&
	api GET /api/v1/__debug/sleep?ms=1 && expect_status 200 &&
	api GET /api/v1/__debug/sleep?ms=-1 && expect_status 400 &&
	api GET /api/v1/integrations/credentials && expect_status 401 &&
	api GET /api/v1/no/such/path && expect_status 404 &&
	TOKEN=$MEMBER api PUT /api/v1/pipelines "{}" && expect_status 405 &&
	TOKEN=$MEMBER api POST /api/v1/integrations/credentials "{}" && expect_status 403 &&
	TOKEN=$ADMIN api POST /api/v1/integrations/credentials "{\"type\":" && expect_status 400 &&
	TOKEN=$ADMIN api POST /api/v1/integrations/credentials "" --data-binary "{}" \
		-H "Content-Type: text/plain" &&
	expect_status 415
'

test_expect_success 'credentials: one of each type, a refusal listing every problem, patch, delete' '
	TOKEN=$ADMIN make_cred argocd argo "{\"url\":\"$FAKE_ARGOCD_URL\",\"token\":\"argocd-test-token\",\"webhookSecret\":\"argo-hook-secret\"}" &&
	ARGO_ID=$CRED_ID &&
	TOKEN=$ADMIN make_cred circleci cci "{\"token\":\"circle-test-token\",\"url\":\"$FAKE_CIRCLECI_URL\"}" &&
	TOKEN=$ADMIN make_cred jenkins jk "{\"url\":\"$FAKE_JENKINS_URL\",\"username\":\"farm\",\"apiToken\":\"11f0e3c2a9b8d7e6f5a4b3c2d1e0f9a8b7\"}" &&
	TOKEN=$ADMIN make_cred travisci tr "{\"token\":\"travis-test-token\",\"url\":\"$FAKE_TRAVIS_URL\"}" &&
	TOKEN=$ADMIN api POST /api/v1/integrations/credentials "{\"type\":\"nope\",\"extra\":1}" &&
	expect_status 400 && test_equal "$(json_get body "type(d[\"message\"]).__name__")" list &&
	TOKEN=$MEMBER api GET /api/v1/integrations/credentials && expect_status 200 &&
	TOKEN=$ADMIN api PATCH /api/v1/integrations/credentials/$CRED_ID "{\"name\":\"renamed\"}" &&
	expect_status 200 &&
	TOKEN=$ADMIN api PATCH /api/v1/integrations/credentials/00000000-0000-4000-8000-000000000000 "{\"name\":\"x\"}" &&
	expect_status 404 &&
	TOKEN=$ADMIN make_cred travisci gone "{\"token\":\"t\"}" &&
	TOKEN=$ADMIN api DELETE /api/v1/integrations/credentials/$CRED_ID && expect_status 204
'

test_expect_success 'platforms: reads, actions and upstream refusals' '
	TOKEN=$MEMBER api GET /api/v1/argocd/applications && expect_status 200 &&
	TOKEN=$MEMBER api GET /api/v1/argocd/applications/guestbook && expect_status 200 &&
	TOKEN=$MEMBER api GET /api/v1/argocd/applications/nope && expect_status 404 &&
	TOKEN=$ADMIN api POST /api/v1/argocd/applications/guestbook/sync "{\"prune\":true}" &&
	expect_status 200 &&
	TOKEN=$MEMBER api GET "/api/v1/circleci/pipelines?vcsUrl=https://github.com/acme/api" &&
	expect_status 200 &&
	TOKEN=$ADMIN api POST /api/v1/circleci/pipelines/gh%2Facme%2Fapi/trigger "{\"branch\":\"main\"}" &&
	expect_status 201 &&
	TOKEN=$MEMBER api GET /api/v1/jenkins/jobs && expect_status 200 &&
	TOKEN=$MEMBER api GET "/api/v1/jenkins/jobs/farm-build/builds?limit=3" && expect_status 200 &&
	TOKEN=$MEMBER api GET "/api/v1/jenkins/jobs/farm-build/builds?limit=0" && expect_status 400 &&
	TOKEN=$ADMIN api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 201 &&
	TOKEN=$MEMBER api GET "/api/v1/travisci/builds?repoSlug=acme/api&limit=10" && expect_status 200 &&
	TRAVIS_BUILD=$(json_get body "next(b[\"id\"] for b in d if b[\"state\"] in (\"passed\", \"failed\"))") &&
	TOKEN=$ADMIN api POST /api/v1/travisci/builds/$TRAVIS_BUILD/restart && expect_status 202 &&
	fake_mode jenkins 500 1 &&
	TOKEN=$MEMBER api GET /api/v1/jenkins/jobs && expect_status 502
'

test_expect_success 'catalog: link, read, the CI/CD tab, unlink' '
	TOKEN=$ADMIN api PATCH /api/v1/catalog/components/component%3Adefault%2Fweb "{\"argocdApp\":\"guestbook\"}" &&
	expect_status 200 &&
	TOKEN=$MEMBER api GET /api/v1/catalog/components && expect_status 200 &&
	TOKEN=$MEMBER api GET /api/v1/catalog/components/component%3Adefault%2Fweb && expect_status 200 &&
	TOKEN=$MEMBER api GET /api/v1/catalog/components/component%3Adefault%2Fweb/cicd && expect_status 200 &&
	TOKEN=$ADMIN api PATCH /api/v1/catalog/components/component%3Adefault%2Fweb "{\"argocdApp\":null}" &&
	expect_status 200 &&
	TOKEN=$MEMBER api GET /api/v1/catalog/components/component%3Adefault%2Fweb && expect_status 404
'

test_expect_success 'pipelines: create, list, run, the run and its log' '
	TOKEN=$ADMIN api POST /api/v1/pipelines "{\"name\":\"svc\",\"stages\":[{\"name\":\"b\",\"type\":\"build\",\"config\":{\"tag\":\"acme/svc:{{version}}\"}}]}" &&
	expect_status 201 && PIPE=$(json_get body "d[\"id\"]") &&
	TOKEN=$ADMIN api POST /api/v1/pipelines "{\"name\":\"\",\"stages\":[]}" && expect_status 400 &&
	TOKEN=$MEMBER api GET /api/v1/pipelines && expect_status 200 &&
	TOKEN=$MEMBER api GET /api/v1/pipelines/$PIPE && expect_status 200 &&
	TOKEN=$ADMIN api POST /api/v1/pipelines/$PIPE/runs "{\"version\":\"1.0.0\",\"commitSha\":\"9f8e7d6c5b4a\"}" &&
	expect_status 202 && RUN=$(json_get body "d[\"id\"]") &&
	TOKEN=$MEMBER api GET /api/v1/pipelines/$PIPE/runs && expect_status 200 &&
	TOKEN=$MEMBER api GET /api/v1/pipelines/$PIPE/runs/$RUN && expect_status 200 &&
	TOKEN=$MEMBER api GET /api/v1/pipelines/$PIPE/runs/$RUN/log && expect_status 200 &&
	TOKEN=$MEMBER api GET /api/v1/pipelines/nope/runs && expect_status 404
'

test_expect_success 'webhooks: stored, duplicate, ignored, refused' '
	cci_body d1.json cci-openapi-1 build-test-deploy &&
	B=$(cat d1.json) && printf %s "$B" >d1.json &&
	api POST /api/v1/webhooks/circleci "$(cat d1.json)" -H "circleci-signature: $(cci_sign d1.json "$CCI_SECRET")" &&
	expect_status 200 &&
	api POST /api/v1/webhooks/circleci "$(cat d1.json)" -H "circleci-signature: $(cci_sign d1.json "$CCI_SECRET")" &&
	expect_status 200 && test_equal "$(json_get body "d.get(\"duplicate\")")" true &&
	printf %s "{\"type\":\"ping\",\"id\":\"p1\",\"happened_at\":\"2024-01-01T00:00:00Z\"}" >ping.json &&
	api POST /api/v1/webhooks/circleci "$(cat ping.json)" -H "circleci-signature: $(cci_sign ping.json "$CCI_SECRET")" &&
	expect_status 200 &&
	api POST /api/v1/webhooks/circleci "$(cat d1.json)" -H "circleci-signature: v1=00" &&
	expect_status 401 &&
	api POST "/api/v1/webhooks/jenkins?token=$JENKINS_TOKEN" "{\"name\":\"farm-build\",\"url\":\"job/farm-build/\",\"build\":{\"number\":7,\"phase\":\"COMPLETED\",\"status\":\"SUCCESS\",\"timestamp\":1700000000000,\"duration\":1000}}" &&
	expect_status 200 &&
	api POST /api/v1/webhooks/jenkins "{}" && expect_status 401 &&
	api POST /api/v1/webhooks/travisci "payload=x" && expect_status 401 &&
	api POST /api/v1/webhooks/argocd/$ARGO_ID "{\"app\":\"guestbook\",\"health\":\"Healthy\",\"sync\":\"Synced\",\"revision\":\"abc1234\"}" \
		-H "X-Farm-Token: argo-hook-secret" &&
	expect_status 200
'

test_expect_success 'the board, cctray and the history page' '
	TOKEN=$(token nobody -) && export TOKEN &&
	wait_until 10 eval "api GET /api/v1/projects && expect_status 200 && test \"\$(json_get body \"len(d)\")\" -ge 1" &&
	api GET "/api/v1/projects?platform=nope" && expect_status 404 &&
	api GET /api/v1/cctray.xml && expect_status 200 &&
	test_grep "<Projects" body &&
	TOKEN= api GET /api/v1/cctray.xml && expect_status 401 &&
	api GET "/api/v1/events?since=0&limit=5" && expect_status 200 &&
	api GET "/api/v1/events?since=x" && expect_status 400 &&
	unset TOKEN
'

test_expect_success 'the WebSocket (101): every frame is the documented Event' '
	ws_start w "$(token carol -)" "?since=0" &&
	ws_wait w 2 10 &&
	ws_stop w &&
	$PY "$CHECK" messages "$DOC" /paths/~1api~1v1~1events/get/x-farm-websocket/message w.out &&
	sed "1s/\"event\":\"ci.build.updated\"/\"event\":\"other\"/" w.out >w.bad &&
	! $PY "$CHECK" messages "$DOC" /paths/~1api~1v1~1events/get/x-farm-websocket/message w.bad
'

test_expect_success 'the operators status location answers from loopback' '
	api GET /farm-status && expect_status 200
'

test_expect_success 'every recorded answer validates against the document' '
	test "$(cat "$FARM_RECORD_DIR"/*.jsonl | wc -l)" -ge 50 &&
	$PY "$CHECK" responses "$DOC" "$FARM_RECORD_DIR"/*.jsonl >check.out || { cat check.out; false; }
'

test_expect_success 'the response check fails on a wrong shape, an undocumented status or media type' '
	f=$FARM_RECORD_DIR/$TEST_NAME.jsonl &&
	$PY - "$f" >bad.jsonl <<-\PY &&
	import base64, json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	def body(r): return json.loads(base64.b64decode(r["body"]))
	def put(r, b): r = dict(r); r["body"] = base64.b64encode(json.dumps(b).encode()).decode(); print(json.dumps(r))
	cred = next(r for r in recs if r["method"] == "POST" and r["status"] == 201 and r["path"].endswith("/credentials"))
	b = body(cred); b["value"] = {"token": "leak"}; put(cred, b)           # an extra property
	b = body(cred); del b["updatedAt"]; put(cred, b)                       # a missing one
	err = next(r for r in recs if r["status"] == 401)
	b = body(err); b["statusCode"] = "401"; put(err, b)                    # a wrong type
	r = dict(cred); r["status"] = 202; print(json.dumps(r))                 # an undocumented status
	r = dict(cred); r["headers"] = dict(cred["headers"], **{"content-type": "text/html"}); print(json.dumps(r))
	PY
	! $PY "$CHECK" responses "$DOC" bad.jsonl >out &&
	cat out &&
	test "$(grep -c "bad.jsonl:" out)" -ge 5 &&
	test_grep "bad.jsonl:1 .*Additional properties are not allowed" out &&
	test_grep "bad.jsonl:2 .*updatedAt.* is a required property" out &&
	test_grep "bad.jsonl:3 .*statusCode" out &&
	test_grep "bad.jsonl:4 .*status 202 is not documented" out &&
	test_grep "bad.jsonl:5 .*text/html" out
'

test_done
