#!/bin/bash
# t0300-nginx-errors.sh - the errors nginx answers itself (before or instead of farm)
# have the contract's JSON shape under /api/v1 and on /farm-status:
# {"statusCode":N,"message":"...","error":"..."} with Content-Type application/json.
# Other paths of the server keep nginx's own pages.

. "$(dirname "$0")/test-lib.sh"

# raw "REQUEST TEXT": sends bytes as they are (curl would fix them); the answer's
# status in ./status, body in ./body, headers in ./headers.
raw() {
	$PY - "$FARM_PORT" "$1" <<-'EOF'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
	s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
	data = b""
	while True:
	    chunk = s.recv(65536)
	    if not chunk:
	        break
	    data += chunk
	head, _, body = data.partition(b"\r\n\r\n")
	lines = head.decode("latin-1").split("\r\n")
	open("status", "w").write(lines[0].split()[1])
	open("headers", "w").write("\n".join(lines[1:]) + "\n")
	open("body", "wb").write(body)
	EOF
}

# nestjs CODE ERROR: ./body is the contract's error shape for CODE, as JSON.
nestjs() {
	expect_status "$1" &&
	grep -qi "^content-type: application/json" headers &&
	$PY -c '
import json, sys
d = json.load(open("body"))
assert set(d) == {"statusCode", "message", "error"}, d
assert d["statusCode"] == int(sys.argv[1]), d
assert d["error"] == sys.argv[2], d
assert isinstance(d["message"], str) and d["message"], d
' "$1" "$2"
}

test_expect_success 'the stack starts' '
	start_farm
'

test_expect_success '400 for a malformed header under /api/v1: JSON' '
	raw "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nBad\x01Header: y\r\nConnection: close\r\n\r\n" &&
	nestjs 400 "Bad Request"
'

test_expect_success '400 for a request without Host: JSON' '
	raw "GET /api/v1/health HTTP/1.1\r\nConnection: close\r\n\r\n" &&
	nestjs 400 "Bad Request"
'

test_expect_success '414 for a URI longer than nginx reads: JSON' '
	long=$(head -c 20000 /dev/zero | tr "\0" a) &&
	api GET "/api/v1/$long" && nestjs 414 "URI Too Long"
'

test_expect_success '405 for TRACE: JSON' '
	api TRACE /api/v1/health && nestjs 405 "Method Not Allowed"
'

test_expect_success '501 for an unknown Transfer-Encoding: JSON' '
	raw "POST /api/v1/integrations/credentials HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n" &&
	nestjs 501 "Not Implemented"
'

test_expect_success '400 for a header over large_client_header_buffers: JSON' '
	big=$(head -c 20000 /dev/zero | tr "\0" b) &&
	api GET /api/v1/health "" -H "X-Big: $big" && nestjs 400 "Bad Request"
'

test_expect_success '413 beyond client_max_body_size: JSON (as before)' '
	head -c $((17 * 1024 * 1024)) /dev/zero >big.body &&
	curl -sS -o body -D headers -w "%{http_code}" -H "Content-Type: application/json" \
		--data-binary @big.body "$FARM_URL/api/v1/integrations/credentials" >status &&
	nestjs 413 "Payload Too Large"
'

test_expect_success '403 on /farm-status from a non-loopback client: JSON' '
	curl -sS -o body -D headers -w "%{http_code}" --interface 127.0.0.3 \
		"$FARM_URL/farm-status" >status &&
	nestjs 403 "Forbidden"
'

test_expect_success 'outside farm paths, nginx keeps its own pages' '
	api TRACE /elsewhere && expect_status 405 &&
	! grep -q statusCode body &&
	raw "GET /elsewhere HTTP/1.1\r\nConnection: close\r\n\r\n" && expect_status 400 &&
	! grep -q statusCode body
'

test_expect_success 'farm down: 503 JSON from nginx under /api/v1' '
	master=$(farm_master_pid) && kill -STOP $FARM_RUN_PID && kill -TERM "$master" &&
	for i in $(seq 1 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done &&
	api GET /api/v1/health && nestjs 503 "Service Unavailable"; rc=$?
	kill -CONT $FARM_RUN_PID; return $rc
'

test_expect_success 'no alert in the nginx log' '
	check_logs_clean
'

test_done
