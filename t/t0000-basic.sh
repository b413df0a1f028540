#!/bin/bash
# The foundation: make run's stack through real nginx, routing, auth, limits,
# the process manager (respawn, recycle, reload, graceful stop).

. "$(dirname "$0")/test-lib.sh"

export FARM_BODY_LIMIT=4K
export FARM_DEBUG_ROUTES=yes
export FARM_MAX_REQUESTS=0
export JWT_SECRET=basic-test-secret-0123456789abcdef

health_load() { # N FILE: N sequential health requests, one status per line
	for i in $(seq 1 "$1"); do
		curl -s -o /dev/null -w "%{http_code}\n" "$FARM_URL/api/v1/health"
	done >"$2"
}

jwt() { $PY "$TEST_DIR/lib-jwt.py" "$JWT_SECRET" "$@"; }

test_expect_success 'the stack starts from scripts/farm-run (make run) and is healthy' '
	start_farm &&
	api GET /api/v1/health && expect_status 200 &&
	test_equal "$(json_get body "d[\"status\"]")" ok &&
	test_equal "$(json_get body "d[\"checks\"][\"database\"]")" ok
'

test_expect_success 'farm-run wrote a 0600 JWT secret only when none was given' '
	test ! -e state/jwt_secret &&
	test_grep "jwt_secret comes from the JWT_SECRET" state/farm.conf
'

test_expect_success 'unknown route: 404 in the NestJS shape' '
	api GET /api/v1/nope && expect_status 404 &&
	test_equal "$(json_get body "d[\"statusCode\"]")" 404 &&
	test_equal "$(json_get body "d[\"error\"]")" "Not Found" &&
	test_grep "Cannot GET /api/v1/nope" body
'

test_expect_success 'known path, wrong method: 405 with Allow' '
	api PUT /api/v1/integrations/credentials "{}" && expect_status 405 &&
	grep -i "^Allow: GET, HEAD, POST" headers &&
	test_equal "$(json_get body "d[\"error\"]")" "Method Not Allowed"
'

test_expect_success 'no token: 401' '
	TOKEN= api GET /api/v1/integrations/credentials && expect_status 401 &&
	test_grep "missing bearer token" body
'

for kind in alg-none hs512 expired future-nbf two-segments bad-b64 wrong-secret dup-header huge-header; do
	test_expect_success "bad token ($kind): 401" "
		TOKEN=\$(jwt $kind) api GET /api/v1/integrations/credentials && expect_status 401 &&
		test_equal \"\$(json_get body \"d['error']\")\" Unauthorized
	"
done

test_expect_success 'a token without exp is refused: tokens must expire' '
	TOKEN=$(jwt no-exp) api GET /api/v1/integrations/credentials && expect_status 401 &&
	test_grep "missing exp claim" body
'

test_expect_success 'a token with exp 1e300 (never expires) is refused' '
	TOKEN=$(jwt exp-1e300) api GET /api/v1/integrations/credentials && expect_status 401 &&
	test_grep "invalid time claim" body
'

test_expect_success 'a token expired inside the 30 s leeway is accepted' '
	TOKEN=$(jwt leeway-expired) api GET /api/v1/integrations/credentials && expect_status 200
'

test_expect_success 'member token on an admin route: 403' '
	TOKEN=$(jwt member) api POST /api/v1/integrations/credentials "{}" && expect_status 403 &&
	test_grep "admin role required" body
'

test_expect_success 'roles: ["admin"] grants admin' '
	TOKEN=$(jwt roles-admin) api POST /api/v1/integrations/credentials "{\"type\":\"x\"}" &&
	expect_status 400
'

test_expect_success 'malformed JSON: 400 naming the position' '
	TOKEN=$(jwt admin) api POST /api/v1/integrations/credentials "{\"type\": \"argocd\",}" &&
	expect_status 400 && test_grep "malformed JSON at line 1, column" body
'

test_expect_success 'malformed JSON: the submitted text never comes back' '
	canary=sk-CANARY-d41d8cd98f00b204 &&
	TOKEN=$(jwt admin) api POST /api/v1/integrations/credentials \
		"{\"type\":\"argocd\",\"value\":{\"token\" \"$canary\"}}" &&
	expect_status 400 &&
	test_grep "malformed JSON at line 1, column 62 (byte 62): invalid syntax" body &&
	test_no_grep CANARY body &&
	TOKEN=$(jwt admin) api POST /api/v1/integrations/credentials "{\"type\": $canary}" &&
	expect_status 400 && test_no_grep CANARY body &&
	TOKEN=$(jwt admin) api POST /api/v1/integrations/credentials "{\"t\":\"$canary" &&
	expect_status 400 && test_grep "unexpected end of input" body && test_no_grep CANARY body
'

post_typed() { # CONTENT-TYPE ("" for none): POST a JSON body as that type, as admin
	curl -sS -o body -w "%{http_code}" -X POST -H "Authorization: Bearer $(jwt admin)" \
		-H "Content-Type: $1" --data-binary "{\"type\":\"x\"}" \
		"$FARM_URL/api/v1/integrations/credentials" >status
}

test_expect_success 'JSON routes take Content-Type application/json, charset utf-8 allowed' '
	for ct in application/json "application/json; charset=utf-8" APPLICATION/JSON; do
		post_typed "$ct" && expect_status 400 && test_grep "type must be" body || return 1
	done
'

test_expect_success 'anything else, or no Content-Type, is 415 in JSON' '
	for ct in application/jsonxyz application/merge-patch+json text/plain \
		"application/json; charset=iso-8859-1" ""; do
		post_typed "$ct" && expect_status 415 &&
		test_equal "$(json_get body "d[\"error\"]")" "Unsupported Media Type" &&
		test_grep "Content-Type must be application/json" body || return 1
	done
'

test_expect_success 'a JSON array body: 400' '
	TOKEN=$(jwt admin) api POST /api/v1/integrations/credentials "[1,2]" &&
	expect_status 400 && test_grep "must be a JSON object" body
'

test_expect_success 'body over body_limit: 413 from farm, in JSON' '
	big=$($PY -c "print(\"{\\\"name\\\":\\\"\" + \"a\"*5000 + \"\\\"}\")") &&
	TOKEN=$(jwt admin) api POST /api/v1/integrations/credentials "$big" && expect_status 413 &&
	test_equal "$(json_get body "d[\"statusCode\"]")" 413
'

test_expect_success 'body over nginx client_max_body_size: 413 in JSON too' '
	head -c 17000000 /dev/zero | tr "\0" a >huge &&
	TOKEN=$(jwt admin) api POST /api/v1/integrations/credentials "@huge" && expect_status 413 &&
	test_equal "$(json_get body "d[\"error\"]")" "Payload Too Large"
'

test_expect_success 'X-Request-Id is on every answer' '
	api GET /api/v1/health && grep -qi "^X-Request-Id: [0-9a-f]\{16\}" headers
'

test_expect_success 'farmctl token mints tokens the API accepts' '
	TOKEN=$(token alice org-1 admin) api GET /api/v1/integrations/credentials && expect_status 200 &&
	test_equal "$(cat body)" "[]"
'

test_expect_success 'farmctl token always sets exp (an hour by default, --ttl otherwise)' '
	exp_in() { $PY -c "import base64,json,sys,time; p=sys.argv[1].split(\".\")[1]; \
		print(json.loads(base64.urlsafe_b64decode(p+\"==\"))[\"exp\"]-int(time.time()))" "$1"; } &&
	left=$(exp_in "$(token alice)") && test "$left" -gt 3590 && test "$left" -le 3600 &&
	left=$(exp_in "$(FARM_CONFIG=state/farm.conf "$FARM_BUILD/farmctl" token --sub a --ttl 2m)") &&
	test "$left" -gt 110 && test "$left" -le 120 &&
	for ttl in 0 -1 1x 1hh 99999999999d 9223372036854775807s; do
		! FARM_CONFIG=state/farm.conf "$FARM_BUILD/farmctl" token --sub a --ttl $ttl \
			2>err && test_grep "bad --ttl" err || return 1
	done
'

test_expect_success 'kill -9 of a worker under load: respawned, requests keep being served' '
	before=$(farm_worker_pids | sort | tr "\n" " ") &&
	bg health_load 300 codes &&
	load=$BG_PID &&
	sleep 0.3 &&
	kill -9 $(farm_worker_pids | head -n 1) &&
	wait $load &&
	for i in $(seq 1 50); do [ $(farm_worker_pids | wc -l) = 2 ] && break; sleep 0.1; done &&
	after=$(farm_worker_pids | sort | tr "\n" " ") &&
	test "$before" != "$after" &&
	test $(farm_worker_pids | wc -l) = 2 &&
	ok=$(grep -c "^200$" codes) &&
	echo "200s: $ok of 300" &&
	test "$ok" -ge 295 &&
	wait_healthy 20
'

test_expect_success 'farm-fcgi -t accepts a good config and names the line of a bad one' '
	"$FARM_BUILD/farm-fcgi" -t -c state/farm.conf &&
	printf "workers = 2\nthreads = lots\n" >bad.conf &&
	! JWT_SECRET=$JWT_SECRET "$FARM_BUILD/farm-fcgi" -t -c bad.conf 2>err &&
	test_grep "bad.conf:2: threads: expected a whole number" err &&
	printf "workers = 2\nbogus = 1\n" >bad2.conf &&
	! "$FARM_BUILD/farm-fcgi" -t -c bad2.conf 2>err &&
	test_grep "bad2.conf:2: unknown key .bogus." err
'

test_expect_success 'SIGHUP reloads the configuration and replaces the workers' '
	before=$(farm_worker_pids | sort | tr "\n" " ") &&
	kill -HUP $(farm_master_pid) &&
	for i in $(seq 1 50); do
		after=$(farm_worker_pids | sort | tr "\n" " ")
		[ "$after" != "$before" ] && [ $(farm_worker_pids | wc -l) = 2 ] && break
		sleep 0.1
	done &&
	test "$after" != "$before" &&
	api GET /api/v1/health && expect_status 200
'

test_expect_success 'graceful stop: a request in flight finishes, then nothing is left running' '
	curl -s -o slow.body -w "%{http_code}" "$FARM_URL/api/v1/__debug/sleep?ms=1500" >slow.status &
	slow=$! &&
	sleep 0.5 &&
	master=$(farm_master_pid) &&
	kill -TERM $master &&
	wait $slow &&
	test_equal "$(cat slow.status)" 200 &&
	test_grep "\"slept\":1500" slow.body &&
	for i in $(seq 1 50); do kill -0 $master 2>/dev/null || break; sleep 0.1; done &&
	! kill -0 $master 2>/dev/null &&
	sid=$FARM_RUN_PID &&
	stop_farm &&
	sleep 0.5 &&
	ps -s $sid -o pid=,stat=,comm= | awk '\''$2 !~ /^Z/'\'' >left &&
	{ test ! -s left || { cat left; false; }; }
'

test_expect_success 'max_requests recycles workers without dropping a request' '
	export FARM_MAX_REQUESTS=40 &&
	start_farm &&
	before=$(farm_worker_pids | sort | tr "\n" " ") &&
	for i in $(seq 1 200); do curl -s -o /dev/null -w "%{http_code}\n" "$FARM_URL/api/v1/health"; done >codes &&
	test_equal "$(grep -c "^200$" codes)" 200 &&
	after=$(farm_worker_pids | sort | tr "\n" " ") &&
	test "$before" != "$after" &&
	test_grep "recycling" state/log/farm-fcgi.log
'

test_expect_success 'logs are clean (no nginx alert, no sanitizer report)' '
	check_logs_clean
'

test_done
