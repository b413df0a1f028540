#!/bin/bash
# t3110-events-protocol.sh - GET /api/v1/events: the handshake's query in either order
# (issue 18 #8), RFC 6455 on what clients send (unmasked frame 1002, invalid UTF-8
# 1007: #17), and readiness: /api/v1/health says "bridge ok" only once farm-wsd
# accepts connections (#10).
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

CCI_SECRET=cci-secret-for-t3110-0123456789
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI_SECRET
export FARM_RUN_SUPERVISE_EXCEPT="farm-eventd farm-wsd"
WSD_PORT=$(free_port)
export FARM_WSD_LISTEN=127.0.0.1:$WSD_PORT

test_expect_success 'start farm, three events' '
	start_farm &&
	post_many 3 1 first >post.out &&
	test_equal "$(json_get post.out "d[\"status\"]")" "{\"200\": 3}"
'

# A real token, with a subject long enough that no argument buffer of 64 bytes or so
# could hold it (lws_get_urlarg_by_name stopped at such an argument).
USER_A=$(token "ann-$(printf "%0200d" 0)" org-a)

# ---- #8: the query, either order ---------------------------------------------------------

test_expect_success 'the token is a long JWT' '
	test "${#USER_A}" -gt 300
'

test_expect_success '?access_token=<jwt>&since=0 replays like ?since=0&access_token=<jwt>' '
	ws_start tokfirst "" "?access_token=$USER_A&since=0" &&
	ws_start sincefirst "" "?since=0&access_token=$USER_A" &&
	ws_wait tokfirst 3 && ws_wait sincefirst 3 &&
	test_equal "$(ws_names tokfirst)" "wf-1 wf-2 wf-3" &&
	test_cmp tokfirst.out sincefirst.out &&
	ws_stop tokfirst && ws_stop sincefirst
'

test_expect_success 'since after the token counts: ?access_token=<jwt>&since=2 gets only wf-3' '
	ws_start after "" "?access_token=$USER_A&x=1&since=2" &&
	ws_wait after 1 && sleep 0.3 &&
	test_equal "$(ws_names after)" "wf-3" && ws_stop after
'

# ask QUERY: the handshake through nginx, the status code in ./status, the body in
# ./body (nothing waits for an upgraded connection to end).
cat >probe.py <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(("GET /api/v1/events%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n" % sys.argv[2]).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(65536)
    if not d:
        break
    buf += d
head, _, body = buf.partition(b"\r\n\r\n")
code = int(head.split(b" ")[1])
if code != 101 and b"content-length:" in head.lower():
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(body) < n:
        d = s.recv(65536)
        if not d:
            break
        body += d
open("body", "wb").write(body if code != 101 else b"")
print(code)
PYEOF
ask() {
	$PY probe.py "${2:-$FARM_PORT}" "$1" >status
}

test_expect_success 'a bad since is 400 before any upgrade, in either order' '
	for q in "?access_token=$USER_A&since=abc" "?since=abc&access_token=$USER_A" \
		 "?access_token=$USER_A&since=" "?access_token=$USER_A&since" \
		 "?access_token=$USER_A&since=-1" "?access_token=$USER_A&since=+1" \
		 "?access_token=$USER_A&since=18446744073709551616" \
		 "?access_token=$USER_A&since=1&since=2"; do
		ask "$q" && expect_status 400 &&
		test_equal "$(json_get body "d[\"statusCode\"]")" 400 || return 1
	done &&
	test_grep "since" body
'

test_expect_success 'the largest id and an encoded since are accepted' '
	ask "?access_token=$USER_A&since=18446744073709551615" && expect_status 101 &&
	ask "?access_token=$USER_A&since=%31" && expect_status 101
'

test_expect_success 'a token given twice is 400; a bad token after since is 401' '
	ask "?access_token=$USER_A&since=0&access_token=$USER_A" && expect_status 400 &&
	ask "?since=0&access_token=not.a.token" && expect_status 401 &&
	ask "?since=0" && expect_status 401
'

# ---- #17: what clients send -------------------------------------------------------------

cat >raw.py <<'PYEOF'
# raw.py PORT TOKEN CASE: one connection, one misbehaviour; prints the close code the
# server answers with ("none" when it closed without one, "open" when it did not).
import base64, os, socket, struct, sys
port, tok, case = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def frame(op, payload, masked=True):
    h = bytes([0x80 | op])
    n = len(payload)
    m = 0x80 if masked else 0
    h += bytes([m | n]) if n < 126 else bytes([m | 126]) + struct.pack(">H", n)
    if not masked:
        return h + payload
    k = os.urandom(4)
    return h + k + bytes(b ^ k[i % 4] for i, b in enumerate(payload))

bad = {
    "unmasked-text": frame(1, b"hello", masked=False),
    "unmasked-pong": frame(10, b"p", masked=False),
    "unmasked-after-masked": frame(10, b"p") + frame(1, b"x" * 300) + frame(1, b"hi", masked=False),
    "bad-utf8": frame(1, b"caf\xc3"),
    "bad-utf8-overlong": frame(1, b"\xc0\xaf"),
    "masked-close": frame(8, struct.pack(">H", 1000)),
    "masked-text": frame(1, "héllo".encode()) + frame(8, struct.pack(">H", 1000)),
}[case.replace("pipelined-", "")]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
req = ("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n"
       % (base64.b64encode(os.urandom(16)).decode(), tok)).encode()
if case.startswith("pipelined-"):
    s.sendall(req + bad)  # frames with the handshake, in one segment
buf = b""
if not case.startswith("pipelined-"):
    s.sendall(req)
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d:
        sys.exit("closed during the handshake")
    buf += d
head, buf = buf.split(b"\r\n\r\n", 1)
assert b" 101 " in head.split(b"\r\n")[0], head
if not case.startswith("pipelined-"):
    s.sendall(bad)
code = "open"
try:
    while True:
        while len(buf) >= 2:
            op, n = buf[0] & 15, buf[1] & 127
            h = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, h = struct.unpack(">H", buf[2:4])[0], 4
            if len(buf) < h + n:
                break
            if op == 8:
                print(struct.unpack(">H", buf[h:h + 2])[0] if n >= 2 else "none")
                sys.exit(0)
            buf = buf[h + n:]
        d = s.recv(4096)
        if not d:
            code = "none"
            break
        buf += d
except socket.timeout:
    pass
print(code)
PYEOF

TOK=$(token bob org-a)

test_expect_success 'an unmasked frame is closed with 1002 (through nginx and direct)' '
	for port in $FARM_PORT $WSD_PORT; do
		for c in unmasked-text unmasked-pong unmasked-after-masked; do
			$PY raw.py $port "$TOK" $c >code 2>err || { cat err; return 1; }
			test_equal "$(cat code)" 1002 || { echo "case $c port $port"; return 1; }
		done
	done &&
	$PY raw.py $WSD_PORT "$TOK" pipelined-unmasked-text >code && test_equal "$(cat code)" 1002
'

test_expect_success 'invalid UTF-8 in a text frame is closed with 1007' '
	for port in $FARM_PORT $WSD_PORT; do
		for c in bad-utf8 bad-utf8-overlong; do
			$PY raw.py $port "$TOK" $c >code && test_equal "$(cat code)" 1007 || return 1
		done
	done
'

test_expect_success 'well-formed frames are fine: a masked close is answered 1000' '
	for port in $FARM_PORT $WSD_PORT; do
		for c in masked-close masked-text pipelined-masked-text; do
			$PY raw.py $port "$TOK" $c >code && test_equal "$(cat code)" 1000 || return 1
		done
	done &&
	ws_start ok "$TOK" && post_many 1 4 fine >post.out && ws_wait ok 1 && ws_stop ok
'

# ---- #10: readiness ----------------------------------------------------------------------

bridge_state() {
	curl -sS -o hb --max-time 5 "$FARM_URL/api/v1/health" >/dev/null &&
	json_get hb "d[\"checks\"][\"bridge\"]"
}
_bridge_ok() { [ "$(bridge_state)" = ok ]; }

test_expect_success 'health says bridge ok only once farm-wsd listens: 10 restarts' '
	for i in 1 2 3 4 5 6 7 8 9 10; do
		daemon_stop farm-wsd KILL
		FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farm-wsd" \
			>>"$TRASH/state/log/farm-wsd.log" 2>&1 </dev/null &
		pid=$! && echo $pid >"$TRASH/state/run/farm-wsd.pid" && echo $pid >>"$TRASH/daemons.pids" &&
		wait_until 10 _bridge_ok &&
		ask "?access_token=$TOK" && expect_status 101 || { echo "restart $i"; return 1; }
	done
'

cat >hold.py <<'PYEOF'
import socket, sys, time, os
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
open("hold.ready", "w").close()
while os.path.exists("hold.ready"):
    time.sleep(0.05)
PYEOF

test_expect_success 'farm-wsd that cannot listen is never reported ok' '
	daemon_stop farm-wsd &&
	( $PY hold.py $WSD_PORT & ) && wait_until 5 test -e hold.ready || return 1
	FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farm-wsd" >wsd-held.log 2>&1 </dev/null &
	pid=$! &&
	seen=$(for k in $(seq 1 100); do bridge_state; kill -0 $pid 2>/dev/null || break; sleep 0.01; done | sort -u | tr "\n" " ") &&
	rm -f hold.ready &&
	! wait $pid &&
	test_grep "cannot listen" wsd-held.log &&
	test_equal "$seen" "down " &&
	daemon_start farm-wsd && test_equal "$(bridge_state)" ok
'

test_expect_success 'logs are clean (no alert, no sanitizer report, no token)' '
	! grep -r -e "$USER_A" -e "$TOK" "$TRASH/state/log" "$TRASH/state/nginx/access.log" &&
	check_logs_clean
'

stop_daemons
test_done
