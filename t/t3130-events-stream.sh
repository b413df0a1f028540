#!/bin/bash
# t3130-events-stream.sh - WebSocket clients through nginx's stream module
# (FARM_WS_PORT, nginx/farm-stream.conf): a TCP proxy in front of farm-wsd, the cheap
# path for tens of thousands of clients (docs/events.md, "Clients at scale").  The same
# protocol as /api/v1/events through the http proxy: farm-wsd checks the token (401
# before any upgrade), replays ?since=, and both kinds of client get the same events.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

CCI_SECRET=cci-secret-for-t3130-0123456789
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI_SECRET
FARM_WS_PORT=$(free_port)
export FARM_WS_PORT

UPGRADE=(-H "Connection: Upgrade" -H "Upgrade: websocket" -H "Sec-WebSocket-Version: 13"
	-H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")

test_expect_success 'start farm with a stream listener' '
	start_farm &&
	test_grep "ngx_stream_module.so\|^stream " "$TRASH/state/nginx/nginx.conf" &&
	test_grep "listen 127.0.0.1:$FARM_WS_PORT" "$TRASH/state/nginx/farm-stream.conf"
'

USER_A=$(token ann org-a)
WS_HTTP="ws://127.0.0.1:$FARM_PORT/api/v1/events"
WS_STREAM="ws://127.0.0.1:$FARM_WS_PORT/api/v1/events"

test_expect_success 'through the stream listener a bad or missing token is 401 before any upgrade' '
	curl -sS -o body -D headers -w "%{http_code}" --max-time 5 "${UPGRADE[@]}" \
		-H "Authorization: Bearer not.a.token" "http://127.0.0.1:$FARM_WS_PORT/api/v1/events" >status &&
	expect_status 401 && test_no_grep "Sec-WebSocket-Accept" headers &&
	curl -sS -o body -w "%{http_code}" --max-time 5 "${UPGRADE[@]}" \
		"http://127.0.0.1:$FARM_WS_PORT/api/v1/events" >status && expect_status 401
'

test_expect_success 'a stream client and an http-proxy client get the same events, in order' '
	ws_url() { echo "$WS_STREAM${1:-}"; } &&
	ws_start s "$USER_A" "" &&
	ws_url() { echo "$WS_HTTP${1:-}"; } &&
	ws_start h "$USER_A" "" &&
	post_many 4 1 st >post.out && ws_wait s 4 && ws_wait h 4 &&
	test_equal "$(ws_names s)" "wf-1 wf-2 wf-3 wf-4" &&
	ws_ids_consecutive s && test_cmp s.out h.out
'

test_expect_success '?since= replays through the stream listener' '
	ws_url() { echo "$WS_STREAM${1:-}"; } &&
	first=$(ws_field s 0 "e[\"data\"][\"id\"]") &&
	ws_start back "" "?since=$first&access_token=$USER_A" &&
	ws_wait back 3 &&
	test_equal "$(ws_names back)" "wf-2 wf-3 wf-4" &&
	ws_stop back && ws_stop s && ws_stop h
'

test_done
