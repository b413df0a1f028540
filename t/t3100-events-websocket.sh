#!/bin/bash
# t3100-events-websocket.sh - GET /api/v1/events through nginx: the handshake (401
# before any upgrade), ?access_token=, ?since= replay, pings, slow clients, and the
# delivery guarantees across farm-eventd and farm-wsd stops and kill -9: every
# acknowledged webhook reaches the clients once, in id order, nothing lost.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

CCI_SECRET=cci-secret-for-t3100-0123456789
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI_SECRET
export FARM_WSD_PING_INTERVAL=1
export FARM_WSD_SEND_TIMEOUT=2
export FARM_RUN_SUPERVISE_EXCEPT="farm-eventd farm-wsd"
WSD_PORT=$(free_port)
export FARM_WSD_LISTEN=127.0.0.1:$WSD_PORT

UPGRADE=(-H "Connection: Upgrade" -H "Upgrade: websocket" -H "Sec-WebSocket-Version: 13"
	-H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")

test_expect_success 'start farm' '
	start_farm
'

USER_A=$(token ann org-a)
USER_NONE=$(token nobody -)

# ---- the handshake -------------------------------------------------------------------

test_expect_success 'a bad token is refused with 401 before any upgrade' '
	curl -sS -o body -D headers -w "%{http_code}" --max-time 5 "${UPGRADE[@]}" \
		-H "Authorization: Bearer not.a.token" "$FARM_URL/api/v1/events" >status &&
	expect_status 401 &&
	test_equal "$(json_get body "d[\"statusCode\"]")" 401 &&
	test_no_grep "Sec-WebSocket-Accept" headers
'

test_expect_success 'no token, a token signed with another secret, a bad query token: 401' '
	curl -sS -o body -w "%{http_code}" --max-time 5 "${UPGRADE[@]}" \
		"$FARM_URL/api/v1/events" >status && expect_status 401 &&
	other=$(JWT_SECRET=another-secret-0123456789abcdef "$FARM_BUILD/farmctl" token --sub x --org org-a) &&
	curl -sS -o body -w "%{http_code}" --max-time 5 "${UPGRADE[@]}" \
		-H "Authorization: Bearer $other" "$FARM_URL/api/v1/events" >status && expect_status 401 &&
	curl -sS -o body -w "%{http_code}" --max-time 5 "${UPGRADE[@]}" \
		"$FARM_URL/api/v1/events?access_token=$other" >status && expect_status 401 &&
	ws_start bad "" "?access_token=$other" || test_equal "$(json_get bad.status "d[\"handshake\"]")" 401
'

test_expect_success 'a malformed ?since= is 400; a plain GET is the pool'\''s history page' '
	curl -sS -o body -w "%{http_code}" --max-time 5 "${UPGRADE[@]}" \
		"$FARM_URL/api/v1/events?since=-3&access_token=$USER_A" >status && expect_status 400 &&
	curl -sS -o body -D headers -w "%{http_code}" --max-time 5 -H "Authorization: Bearer $USER_A" \
		"$FARM_URL/api/v1/events" >status && expect_status 200 &&
	test_equal "$(cat body)" "[]" && test_grep "^X-Farm-Next-Since: 0" headers
'

test_expect_success 'the token in ?access_token= works (browsers cannot set headers)' '
	ws_start q "" "?access_token=$USER_A" &&
	ws_start live "$USER_NONE" &&
	post_many 3 1 first >post.out && ws_wait q 3 && ws_wait live 3 &&
	test_equal "$(ws_names q)" "wf-1 wf-2 wf-3" &&
	ws_ids_consecutive q && test_cmp q.out live.out
'

test_expect_success 'idle clients are pinged (wsd.ping_interval) and stay connected' '
	sleep 2.5 && ws_stop q &&
	pings=$(json_get q.status "d[\"pings\"]") &&
	test "$pings" -ge 1 &&
	test_equal "$(json_get q.status "d[\"close\"]")" null
'

# ---- ?since= ---------------------------------------------------------------------------

test_expect_success 'since: a client away for three events gets exactly those, then live' '
	last=$(ws_field live -1 "e[\"data\"][\"id\"]") &&
	post_many 3 4 away >post.out && ws_wait live 6 &&
	ws_start back "$USER_A" "?since=$last" &&
	ws_wait back 3 &&
	post_many 1 7 after >post.out && ws_wait back 4 &&
	test_equal "$(ws_names back)" "wf-4 wf-5 wf-6 wf-7" &&
	ws_ids_consecutive back &&
	test_equal "$(ws_field back 0 "e[\"data\"][\"id\"]")" $((last + 1))
'

test_expect_success 'since=0 replays the whole retained history' '
	ws_start all "$USER_A" "?since=0" &&
	ws_wait all 7 &&
	test_equal "$(ws_names all)" "wf-1 wf-2 wf-3 wf-4 wf-5 wf-6 wf-7" &&
	ws_ids_consecutive all && ws_stop all
'

test_expect_success 'a since beyond the last id is live only' '
	ws_start ahead "$USER_A" "?since=999999" &&
	post_many 1 8 ahead >post.out && ws_wait ahead 1 &&
	test_equal "$(ws_names ahead)" "wf-8" && ws_stop ahead
'

# ---- the sidecar stopped -----------------------------------------------------------------

test_expect_success 'health reports the sidecar and the bridge' '
	api GET /api/v1/health && expect_status 200 &&
	test_equal "$(json_get body "d[\"checks\"][\"sidecar\"]")" ok &&
	test_equal "$(json_get body "d[\"checks\"][\"bridge\"]")" ok
'

test_expect_success 'a second farm-eventd refuses to start while one runs' '
	! FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farm-eventd" 2>second.err &&
	test_grep "another farm-eventd is running" second.err
'

test_expect_success 'eventd stopped: health is 503 naming the sidecar; webhooks still 200' '
	n0=$(ws_lines live) &&
	daemon_stop farm-eventd &&
	api GET /api/v1/health && expect_status 503 &&
	test_equal "$(json_get body "d[\"failing\"]")" "[\"sidecar\"]" &&
	post_many 20 101 down >post.out &&
	test_equal "$(json_get post.out "d[\"status\"]")" "{\"200\": 20}" &&
	sleep 1 && test_equal "$(ws_lines live)" "$n0"
'

test_expect_success 'eventd back: the 20 waiting events arrive in order, once' '
	n0=$(ws_lines live) &&
	daemon_start farm-eventd &&
	ws_wait live $((n0 + 20)) 3 &&
	sleep 0.5 && test_equal "$(ws_lines live)" $((n0 + 20)) &&
	tail -n 20 live.out >last20 && cp last20 tail.out &&
	test_equal "$(ws_names tail)" "$(seq -f "wf-%g" 101 120 | tr "\n" " " | sed "s/ $//")" &&
	ws_ids_consecutive live &&
	api GET /api/v1/health && expect_status 200
'

# ---- the bridge stopped ---------------------------------------------------------------------

test_expect_success 'wsd stopped: clients drop, webhooks go on, a resume gets the gap once' '
	last=$(ws_field live -1 "e[\"data\"][\"id\"]") &&
	daemon_stop farm-wsd &&
	wait_until 3 test -e live.status &&
	api GET /api/v1/health && expect_status 503 &&
	test_equal "$(json_get body "d[\"failing\"]")" "[\"bridge\"]" &&
	post_many 5 401 gap >post.out &&
	test_equal "$(json_get post.out "d[\"status\"]")" "{\"200\": 5}" &&
	daemon_start farm-wsd &&
	ws_start resumed "$USER_NONE" "?since=$last" &&
	ws_wait resumed 5 &&
	post_many 2 406 new >post.out && ws_wait resumed 7 &&
	sleep 0.3 && test_equal "$(ws_lines resumed)" 7 &&
	test_equal "$(ws_names resumed)" "wf-401 wf-402 wf-403 wf-404 wf-405 wf-406 wf-407" &&
	test_equal "$(ws_field resumed 0 "e[\"data\"][\"id\"]")" $((last + 1)) &&
	ws_ids_consecutive resumed
'

# ---- a client that cannot keep up ------------------------------------------------------

cat >slow.py <<'EOF'
# A client (straight to the bridge) with a tiny receive window that reads nothing
# until told to, then counts what it got and how the bridge closed it.
import base64, json, os, socket, sys, time
port, tok = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.connect(("127.0.0.1", port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
           "Authorization: Bearer %s\r\n\r\n" % (key, tok)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(1)
assert b" 101 " in buf.split(b"\r\n")[0], buf
open("slow.ready", "w").close()
while not os.path.exists("slow.go"):
    time.sleep(0.05)
s.settimeout(10)
data = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except (socket.timeout, ConnectionError):
    pass
texts, close, i = 0, None, 0
while i + 2 <= len(data):
    op, ln = data[i] & 15, data[i + 1] & 127
    i += 2
    if ln == 126:
        ln = int.from_bytes(data[i:i + 2], "big"); i += 2
    elif ln == 127:
        ln = int.from_bytes(data[i:i + 8], "big"); i += 8
    if op == 1:
        texts += 1
    elif op == 8 and ln >= 2:
        close = int.from_bytes(data[i:i + 2], "big")
    i += ln
json.dump({"texts": texts, "close": close}, open("slow.result", "w"))
EOF

# The slow client reads nothing, pongs included: with the 1 s ping interval of the
# tests above it would be dropped as silent before the flood; the bridge is restarted
# with a long interval so that wsd.send_timeout (2 s here) alone decides.
test_expect_success 'a client that stops reading is closed (1008); the others get everything' '
	daemon_stop farm-wsd &&
	FARM_WSD_PING_INTERVAL=300 daemon_start farm-wsd &&
	ws_start again "$USER_NONE" &&
	n0=$(ws_lines again) &&
	( $PY slow.py $WSD_PORT "$USER_NONE" >slow.log 2>&1 & ) &&
	wait_until 5 test -e slow.ready &&
	post_many 900 1001 flood --threads 4 >post.out &&
	test_equal "$(json_get post.out "d[\"status\"]")" "{\"200\": 900}" &&
	ws_wait again $((n0 + 900)) 10 &&
	wait_until 5 grep -q "too slow" "$TRASH/state/log/farm-wsd.log" &&
	touch slow.go && wait_until 15 test -e slow.result &&
	cat slow.result &&
	test_equal "$(json_get slow.result "d[\"close\"]")" 1008 &&
	test "$(json_get slow.result "d[\"texts\"]")" -lt 900 &&
	ws_ids_consecutive again
'

# A burst far larger than a client's queue (256) and socket buffers: farm-eventd stopped
# while 1500 deliveries are stored, then started, publishes them at once.  A client that
# reads, slowly (1 ms a message), is not "too slow": it goes on from the ring at its pace.
test_expect_success 'a slow reader gets a burst of 1500 events whole, and is not closed' '
	daemon_stop farm-eventd &&
	post_many 1500 3001 burst --threads 4 >post.out &&
	test_equal "$(json_get post.out "d[\"status\"]")" "{\"200\": 1500}" &&
	ws_start slowreader "$USER_NONE" "" --delay 0.001 &&
	daemon_start farm-eventd &&
	ws_wait slowreader 1500 30 &&
	sleep 0.5 && test_equal "$(ws_lines slowreader)" 1500 &&
	test_equal "$(ws_names slowreader | tr " " "\n" | sort -u | wc -l)" 1500 &&
	ws_ids_consecutive slowreader &&
	ws_stop slowreader && cat slowreader.status &&
	test_equal "$(json_get slowreader.status "d[\"close\"]")" null
'

test_expect_success 'redelivery keys older than webhook.dedupe_ttl are forgotten by eventd' '
	cci_body old.json old-1 wf-old &&
	post_cci /api/v1/webhooks/circleci old.json "$CCI_SECRET" && expect_status 200 &&
	post_cci /api/v1/webhooks/circleci old.json "$CCI_SECRET" && expect_status 200 &&
	test_equal "$(json_get body "d.get(\"duplicate\")")" true &&
	sleep 2 && daemon_stop farm-eventd &&
	FARM_WEBHOOK_DEDUPE_TTL=1 daemon_start farm-eventd &&
	wait_until 5 grep -q "forgot [0-9]* webhook delivery keys" "$TRASH/state/log/farm-eventd.log" &&
	post_cci /api/v1/webhooks/circleci old.json "$CCI_SECRET" && expect_status 200 &&
	test_equal "$(json_get body "d.get(\"duplicate\")")" null
'

test_expect_success 'logs are clean (no alert, no sanitizer report, no token)' '
	! grep -r -e "$USER_A" -e "$CCI_SECRET" "$TRASH/state/log" "$TRASH/state/nginx/access.log" &&
	check_logs_clean
'

for c in live back resumed again; do ws_stop $c; done
stop_daemons
test_done
