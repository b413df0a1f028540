#!/bin/bash
# Upstream failures beyond the per-platform contract (t/lib-platform-contract.sh,
# run by t2000-t2300: refused 502, 404, 429 + Retry-After, 400 with the platform's
# message and no form of the secret, 500/garbage/reset 502, hang 504): across the
# four platforms at once, HTML 502, a 20 MiB body 502, hangs with the pool serving
# /health meanwhile, writes, unreachable and forbidden addresses, TLS, and no secret
# in any answer or log.

. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"

export FARM_CACHE_TTL=0
export FARM_UPSTREAM_TIMEOUT=2
export FARM_UPSTREAM_CONNECT_TIMEOUT=2
# One running thread per worker whatever the CPU count: the hangs below must hand
# their slots on (lib/platform/httpc.c) for /health to answer meanwhile.
export FARM_THREADS_RUNNING=1
# 8 threads a worker: nginx may put most of the six hanging reads on one worker's kept
# connections, and with 4 threads that worker then has none left for /health (a thread
# exhaustion this test is not about; it failed so now and then).
export FARM_THREADS=8

for f in argocd circleci jenkins travis; do
	start_fake $f || exit 1
done
export FARM_CIRCLECI_API_URL=$FAKE_CIRCLECI_URL
export FARM_TRAVISCI_API_URL=$FAKE_TRAVIS_URL

ATOKEN=argocd-test-token CTOKEN=circle-test-token TTOKEN=travis-test-token
JTOKEN=11f0e3c2a9b8d7e6f5a4b3c2d1e0f9a8b7

# read PLATFORM: the list request of each platform (through nginx), as $TOKEN.
read_list() {
	case $1 in
	argocd) api GET /api/v1/argocd/applications ;;
	circleci) api GET "/api/v1/circleci/pipelines?vcsUrl=https://github.com/acme/api" ;;
	jenkins) api GET /api/v1/jenkins/jobs ;;
	travis) api GET "/api/v1/travisci/builds?repoSlug=acme/api" ;;
	esac
}

title() {
	case $1 in
	argocd) echo "Argo CD" ;; circleci) echo CircleCI ;;
	jenkins) echo Jenkins ;; travis) echo "Travis CI" ;;
	esac
}

expect_message() { test_equal "$(json_get body "d[\"message\"]")" "$1"; }

test_expect_success 'setup: the stack and one credential per platform' '
	start_farm &&
	ADMIN=$(token alice org-a admin) &&
	TOKEN=$(token bob org-a) &&
	TOKEN=$ADMIN make_cred argocd A "{\"url\":\"$FAKE_ARGOCD_URL\",\"token\":\"$ATOKEN\"}" &&
	TOKEN=$ADMIN make_cred circleci C "{\"token\":\"$CTOKEN\"}" &&
	TOKEN=$ADMIN make_cred jenkins J \
		"{\"url\":\"$FAKE_JENKINS_URL\",\"username\":\"farm\",\"apiToken\":\"$JTOKEN\"}" &&
	TOKEN=$ADMIN make_cred travisci T "{\"token\":\"$TTOKEN\"}" &&
	(for p in argocd circleci jenkins travis; do
		read_list $p && expect_status 200 || exit 1
	done)
'

test_expect_success 'rate limited on a write: an HTTP-date Retry-After is passed on' '
	fake_mode circleci 429 "" "\"retryAfter\":\"Wed, 21 Oct 2026 07:28:00 GMT\"" &&
	TOKEN=$ADMIN api POST /api/v1/circleci/pipelines/gh%2Facme%2Fapi/trigger && expect_status 429 &&
	grep -qi "^Retry-After: Wed, 21 Oct 2026 07:28:00 GMT" headers &&
	fake_mode circleci normal
'

test_expect_success 'HTML instead of JSON (a login page): 502' '
	(for p in argocd circleci jenkins travis; do
		for m in html; do
			fake_mode $p $m && read_list $p && expect_status 502 &&
			expect_message "$(title $p) answered with something unexpected (HTTP 200)" &&
			fake_mode $p normal || { echo "platform $p mode $m"; exit 1; }
		done
	done)
'

test_expect_success 'a 20 MiB answer: 502, cut at upstream.max_body' '
	(for p in argocd circleci jenkins travis; do
		fake_mode $p huge && read_list $p && expect_status 502 &&
		expect_message "$(title $p) answer is larger than upstream.max_body" &&
		fake_mode $p normal || { echo "platform $p"; exit 1; }
	done)
'

test_expect_success 'a hang past upstream.timeout: 504 after ~2 s; /health answers meanwhile' '
	(for p in argocd circleci jenkins travis; do
		fake_mode $p hang "" "\"seconds\":6" || exit 1
	done) &&
	start=$(date +%s%N) &&
	pids= &&
	for p in argocd circleci jenkins travis argocd jenkins; do
		(mkdir -p "hang.$p.$BASHPID" && cd "hang.$p.$BASHPID" && read_list $p) &
		pids="$pids $!"
	done &&
	sleep 0.3 &&
	health_quick 500 &&
	wait $pids &&
	el=$(ms_since $start) &&
	test $el -lt 4500 &&
	(for d in hang.*; do
		(cd $d && expect_status 504) || exit 1
	done) &&
	test_grep "did not answer within 2 s" $(ls -d hang.jenkins.* | head -1)/body &&
	(for p in argocd circleci jenkins travis; do fake_mode $p normal || exit 1; done)
'

test_expect_success 'writes fail the same way (a trigger during a 500, a hang)' '
	fake_mode jenkins 500 &&
	TOKEN=$ADMIN api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 502 &&
	expect_message "Jenkins failed (HTTP 500)" &&
	fake_mode jenkins normal &&
	fake_mode travis hang "" "\"seconds\":4" &&
	TOKEN=$ADMIN api POST /api/v1/travisci/builds/90000001/restart && expect_status 504 &&
	fake_mode travis normal &&
	fake_mode argocd reset &&
	TOKEN=$ADMIN api POST /api/v1/argocd/applications/guestbook/sync && expect_status 502 &&
	fake_mode argocd normal
'

test_expect_success 'an unreachable platform: 502 "<Platform> is unreachable"' '
	dead=$(free_port) &&
	TOKEN=$(token dave org-d admin) make_cred jenkins J \
		"{\"url\":\"http://127.0.0.1:$dead\",\"username\":\"farm\",\"apiToken\":\"$JTOKEN\"}" &&
	TOKEN=$(token dave org-d) api GET /api/v1/jenkins/jobs && expect_status 502 &&
	expect_message "Jenkins is unreachable"
'

test_expect_success 'link-local and metadata addresses are never contacted' '
	(for u in http://169.254.169.254 "http://[::ffff:169.254.169.254]" "http://[fe80::1]:8080" \
		http://0.0.0.0:8080; do
		TOKEN=$(token erin org-e admin) make_cred argocd "meta" "{\"url\":\"$u\",\"token\":\"$ATOKEN\"}" &&
		TOKEN=$(token erin org-e) api GET "/api/v1/argocd/applications?credentialId=$CRED_ID" &&
		expect_status 502 &&
		expect_message "Argo CD address is not allowed (loopback, link-local or metadata; loopback only with upstream.allow_loopback = yes)" ||
		{ echo "url: $u"; exit 1; }
	done)
'

tls_server() { # CERT KEY: an HTTPS server answering an HTML status page; port in TPORT
	TPORT=$(free_port) &&
	bg openssl s_server -quiet -www -accept "127.0.0.1:$TPORT" -cert "$1" -key "$2" &&
	FAKE_PIDS="${FAKE_PIDS:-} $BG_PID" &&
	for i in $(seq 1 50); do
		(echo >/dev/tcp/127.0.0.1/$TPORT) 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

test_expect_success 'TLS: certificates are verified (peer and host name)' '
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1" -keyout ok.key -out ok.crt 2>/dev/null &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=jenkins.example.com" \
		-addext "subjectAltName=DNS:jenkins.example.com" -keyout other.key -out other.crt \
		2>/dev/null &&
	cat ok.crt other.crt >ca.pem &&
	tls_server ok.crt ok.key && OK_PORT=$TPORT &&
	tls_server other.crt other.key && OTHER_PORT=$TPORT &&
	TOKEN=$(token tess org-t admin) make_cred jenkins ok \
		"{\"url\":\"https://127.0.0.1:$OK_PORT\",\"username\":\"farm\",\"apiToken\":\"$JTOKEN\"}" &&
	TLS_OK=$CRED_ID &&
	TOKEN=$(token tess org-t admin) make_cred jenkins other \
		"{\"url\":\"https://127.0.0.1:$OTHER_PORT\",\"username\":\"farm\",\"apiToken\":\"$JTOKEN\"}" &&
	TLS_OTHER=$CRED_ID &&
	TOKEN=$(token tess org-t) api GET "/api/v1/jenkins/jobs?credentialId=$TLS_OK" &&
	expect_status 502 && expect_message "Jenkins is unreachable" &&
	test_grep "jenkins: unreachable" "$TRASH/state/log/farm-fcgi.log"
'

test_expect_success 'TLS: upstream.ca_file trusts an internal CA; the host name still counts' '
	stop_farm &&
	export FARM_UPSTREAM_CA_FILE=$TRASH/ca.pem && start_farm &&
	TOKEN=$(token tess org-t) api GET "/api/v1/jenkins/jobs?credentialId=$TLS_OK" &&
	expect_status 502 &&
	expect_message "Jenkins answered with something unexpected (HTTP 200)" &&
	TOKEN=$(token tess org-t) api GET "/api/v1/jenkins/jobs?credentialId=$TLS_OTHER" &&
	expect_status 502 && expect_message "Jenkins is unreachable" &&
	unset FARM_UPSTREAM_CA_FILE
'

test_expect_success 'without upstream.allow_loopback, 127.0.0.1 is refused (no connection)' '
	stop_farm &&
	export FARM_UPSTREAM_ALLOW_LOOPBACK=no && start_farm &&
	fake_reset jenkins &&
	TOKEN=$(token bob org-a) api GET /api/v1/jenkins/jobs && expect_status 502 &&
	expect_message "Jenkins address is not allowed (loopback, link-local or metadata; loopback only with upstream.allow_loopback = yes)" &&
	test_equal "$(fake_count jenkins)" 0 &&
	test_equal "$(fake_stats jenkins | $PY -c "import json,sys; print(json.load(sys.stdin)[\"apiConnections\"])")" 0
'

test_expect_success 'the stored secrets never appear in answers, headers or logs' '
	(for s in "$ATOKEN" "$CTOKEN" "$JTOKEN" "$TTOKEN"; do
		no_secret "$s" || exit 1
	done) &&
	! grep -rlaF -e "$JTOKEN" -e "$ATOKEN" -e "$CTOKEN" -e "$TTOKEN" . "$TRASH/state/log" \
		--exclude-dir=fake-argocd --exclude-dir=fake-circleci --exclude-dir=fake-jenkins \
		--exclude-dir=fake-travis --exclude=farm-run.out --exclude=.test-out \
		--exclude-dir=db &&
	check_logs_clean
'

test_done
