#!/bin/bash
# t3400-large-bodies.sh - no request under body_limit is dropped: 200 sequential signed
# deliveries of 200-900 KB through nginx, on kept FastCGI connections, are all answered
# 200 and each becomes exactly one event.  (The pool used to leave the empty FCGI_STDIN
# record that ends a body unread when the body had arrived in several reads; the kept
# connection then woke a thread with that stale record, libfcgi took it for a protocol
# error and closed the connection, racing nginx's next request on it: nginx answered
# "upstream prematurely closed connection", 2-7 times in 200.)
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

CCI_SECRET=cci-secret-for-t3400-0123456789
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI_SECRET

test_expect_success 'start farm' '
	start_farm
'

USER=$(token ann -)

test_expect_success '200 sequential deliveries of 200-900 KB: every one answered 200' '
	ws_start live "$USER" &&
	post_many 200 1 big --pad 200000-900000 --times times.out >post.out ||
		{ cat post.out; grep -v "\"status\": 200" times.out | head; false; } &&
	test_equal "$(json_get post.out "d[\"status\"]")" "{\"200\": 200}"
'

test_expect_success 'each became exactly one event, in order, ids consecutive' '
	ws_wait live 200 20 &&
	test_equal "$(ws_names live)" "$(seq -f "wf-%g" 1 200 | tr "\n" " " | sed "s/ $//")" &&
	ws_ids_consecutive live && ws_stop live
'

test_expect_success 'nginx saw no upstream failure; logs clean' '
	test_no_grep "prematurely closed" "$TRASH/state/nginx/error.log" &&
	! grep -E "POST .*upstream=.*50[0-9]" "$TRASH/state/nginx/access.log" &&
	check_logs_clean
'

test_done
