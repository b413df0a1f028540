#!/bin/bash
# t3010-travis-key.sh - the Travis webhook key of a credential's API (issue 18 #1, #2,
# #4): fetched through the one upstream client and its address policy; keyed by the
# whole API URL (two APIs on one host are two keys); a key that does not parse is no
# key; a failing key source is tried at most once per window and never holds request
# threads in line; an unknown credential id and a key that cannot be had look alike.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

export FARM_UPSTREAM_TIMEOUT=3
NOCRED=00000000-0000-4000-8000-000000000000

test_expect_success 'set up: keys a and b, a bad key, several Travis APIs on one host' '
	mkdir keys &&
	for k in a b; do
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $k.key 2>/dev/null &&
		openssl pkey -in $k.key -pubout -out keys/$k.pem || return 1
	done &&
	cp keys/a.pem keys/pol.pem &&
	printf "%s\n" "-----BEGIN PUBLIC KEY-----" "bm90IGEga2V5" "-----END PUBLIC KEY-----" >keys/bad.pem &&
	{ $PY "$TEST_DIR/travis-key-server.py" --dir keys --portfile keys.port \
		>keysrv.log 2>&1 </dev/null & } &&
	echo $! >keysrv.pid &&
	wait_until 10 test -s keys.port
'
KEYSRV_PID=$(cat keysrv.pid 2>/dev/null)
API=http://127.0.0.1:$(cat keys.port 2>/dev/null)
posts_done() { [ "$(cat post.* 2>/dev/null | wc -l)" -eq "$1" ]; }
count() { curl -sS "$API/__count" >count.json && json_get count.json "d.get(\"$1\", 0)"; }

# make_travis NAME URL: a travisci credential of the current $TOKEN's org; id in ./NAME.id
make_travis() {
	api POST /api/v1/integrations/credentials \
		"{\"type\":\"travisci\",\"name\":\"$1\",\"value\":{\"token\":\"t\",\"url\":\"$2\"}}" &&
	expect_status 201 && json_get body "d[\"id\"]" >"$1.id"
}

test_expect_success 'start farm with the default address policy (no loopback)' '
	export FARM_UPSTREAM_ALLOW_LOOPBACK=no &&
	start_farm &&
	TOKEN=$(token alice org-a admin) make_travis pol "$API/pol"
'

test_expect_success '#1: a credential URL the policy refuses is never fetched: 401, no request' '
	tr_payload p1.json 601 passed Passed &&
	travis_post "/$(cat pol.id)" a.key p1.json && expect_status 401 &&
	test_equal "$(count /pol/config)" 0 &&
	grep -q "address refused by the upstream policy" "$TRASH"/state/log/farm-fcgi*.log
'

test_expect_success 'restart farm with loopback allowed (the key server is on loopback)' '
	stop_farm &&
	export FARM_UPSTREAM_ALLOW_LOOPBACK=yes &&
	start_farm &&
	ADMIN_A=$(token alice org-a admin) && ADMIN_B=$(token bob org-b admin) &&
	TOKEN=$ADMIN_A make_travis ta "$API/a" &&
	TOKEN=$ADMIN_B make_travis tb "$API/b" &&
	TOKEN=$ADMIN_A make_travis tbad "$API/bad" &&
	TOKEN=$ADMIN_A make_travis thang "$API/hang" &&
	TOKEN=$ADMIN_A make_travis tnone "$API/none"
'

test_expect_success '#2: org b signs for its own API path: accepted' '
	tr_payload p2.json 602 passed Passed &&
	travis_post "/$(cat tb.id)" b.key p2.json && expect_status 200 &&
	test_equal "$(count /b/config)" 1
'

test_expect_success '#2: org b cannot forge a delivery on org a (same host, other path): 401' '
	tr_payload p3.json 603 passed Passed &&
	travis_post "/$(cat ta.id)" b.key p3.json && expect_status 401 &&
	test_equal "$(count /a/config)" 1
'

test_expect_success '#2: org a'"'"'s genuine delivery is accepted (its own key, fetched once)' '
	tr_payload p4.json 604 passed Passed &&
	travis_post "/$(cat ta.id)" a.key p4.json && expect_status 200 &&
	test_equal "$(count /a/config)" 1
'

test_expect_success '#2: a key that does not parse is refused like no key (401, not 500)' '
	tr_payload p5.json 605 passed Passed &&
	travis_post "/$(cat tbad.id)" a.key p5.json && expect_status 401 &&
	travis_post "/$(cat tbad.id)" a.key p5.json && expect_status 401 &&
	test_equal "$(count /bad/config)" 1
'

test_expect_success '#4: an unknown id and a key that cannot be had answer alike (401)' '
	tr_payload p6.json 606 passed Passed &&
	travis_post "/$NOCRED" a.key p6.json && expect_status 401 && cp body unknown.body &&
	travis_post "/$(cat tnone.id)" a.key p6.json && expect_status 401 &&
	test_cmp unknown.body body
'

test_expect_success '#1: 16 anonymous posts against a hanging key source: one fetch, no queue' '
	tr_payload p7.json 607 passed Passed &&
	sig=$(openssl dgst -sha1 -sign a.key p7.json | base64 -w0) &&
	t0=$(date +%s%N) &&
	for i in $(seq 1 16); do
		{ curl -sS -m 30 -o /dev/null -w "%{http_code} %{time_total}\n" -X POST \
			-H "Signature: $sig" --data-urlencode "payload@p7.json" \
			"$FARM_URL/api/v1/webhooks/travisci/$(cat thang.id)" >post.$i & } || return 1
	done &&
	sleep 0.5 &&
	l0=$(date +%s%N) &&
	TOKEN=$ADMIN_A api GET /api/v1/integrations/credentials && expect_status 200 &&
	el=$(ms_since $l0) &&
	{ [ $el -lt 1500 ] || { echo "credential list took $el ms"; false; }; } &&
	wait_until 20 posts_done 16 &&
	test_equal "$(cut -d" " -f1 post.* | sort -u)" 401 &&
	test_equal "$(count /hang/config)" 1 &&
	{ test "$(awk "\$2 < 1.5" post.* | wc -l)" -ge 15 || { echo "slow:" $(cat post.*); false; }; }
'

test_expect_success '#1: within the window a failed key source is not tried again' '
	travis_post "/$(cat thang.id)" a.key p7.json && expect_status 401 &&
	test_equal "$(count /hang/config)" 1
'

test_expect_success 'no alert, no sanitizer report' '
	check_logs_clean
'

kill $KEYSRV_PID 2>/dev/null
test_done
