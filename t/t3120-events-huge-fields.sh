#!/bin/bash
# t3120-events-huge-fields.sh - a delivery that is acknowledged is delivered: a signed
# CircleCI delivery whose names, branch, url and project run to hundreds of kilobytes
# (under body_limit) answers 200 and becomes an event with every string field capped
# (lib/events/event.c, FARM_EVENT_FIELD_MAX) that fits the history and publish limit:
# live WebSocket clients, ?since= replay and `farmctl events tail` all receive it, and
# the ids around it stay consecutive (docs/events.md, "Field caps").
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

CCI_SECRET=cci-secret-for-t3120-0123456789
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI_SECRET

test_expect_success 'start farm' '
	start_farm
'

USER=$(token ann -)

# hostile_body FILE: a workflow-completed delivery with a 300,000-character workflow
# name, an 80,000 x "é" branch (multi-byte: the cap must not split a character),
# 30,000 control characters in the url (6 bytes each once escaped), a long project
# and commit.
hostile_body() {
	$PY - "$1" <<-\PYEOF
	import json, sys
	b = {"id": "hostile-1", "type": "workflow-completed",
	     "project": {"slug": "gh/" + "p" * 100000},
	     "workflow": {"id": "wf-id-hostile", "name": "W" * 300000, "status": "success",
	                  "url": "https://x/" + "\u0001" * 30000,
	                  "created_at": "2025-01-01T10:00:00Z"},
	     "pipeline": {"id": "pl-hostile", "number": 7, "vcs": {"branch": "\u00e9" * 80000,
	                                       "revision": "c" * 100000}}}
	open(sys.argv[1], "w", encoding="utf-8").write(json.dumps(b, ensure_ascii=False))
	PYEOF
}

test_expect_success 'a client is connected before the deliveries' '
	ws_start live "$USER"
'

test_expect_success 'the hostile delivery (under body_limit) is acknowledged between two plain ones' '
	post_many 1 1 before >post.out &&
	hostile_body hostile.json &&
	size=$(stat -c %s hostile.json) &&
	test "$size" -gt 800000 && test "$size" -lt 1048576 &&
	post_cci /api/v1/webhooks/circleci hostile.json "$CCI_SECRET" &&
	expect_status 200 &&
	post_many 1 2 after >post.out
'

# check_three FILE: the three events in order, consecutive ids, the hostile one capped
check_three() {
	$PY - "$1" <<-\PYEOF
	import json, sys
	ev = [json.loads(l) for l in open(sys.argv[1])]
	assert len(ev) == 3, [e["data"]["name"][:20] for e in ev]
	ids = [e["data"]["id"] for e in ev]
	assert ids == list(range(ids[0], ids[0] + 3)), ids
	assert ev[0]["data"]["name"] == "wf-1" and ev[2]["data"]["name"] == "wf-2"
	d = ev[1]["data"]
	cap = 1024
	for k in ("name", "branch", "url", "project", "commitSha"):
	    n = len(d[k].encode())
	    assert 0 < n <= cap, (k, n)
	    assert d[k].endswith("\u2026"), (k, d[k][-5:])
	assert d["name"].startswith("WWWW")
	assert d["branch"].startswith("\u00e9\u00e9") and set(d["branch"][:-1]) == {"\u00e9"}
	assert d["url"].startswith("https://x/\u0001")
	assert d["project"].startswith("gh/ppp")
	assert d["buildId"] == "pl-hostile" and d["number"] == 7 and d["status"] == "success"
	PYEOF
}

test_expect_success 'the live client gets all three, the capped one in the middle' '
	ws_wait live 3 5 &&
	check_three live.out
'

test_expect_success '?since= replays all three from the history' '
	first=$(ws_field live 0 "e[\"data\"][\"id\"]") &&
	ws_start back "$USER" "?since=$((first - 1))" &&
	ws_wait back 3 5 && ws_stop back &&
	check_three back.out
'

test_expect_success 'farmctl events tail --since replays all three' '
	first=$(ws_field live 0 "e[\"data\"][\"id\"]") &&
	FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farmctl" events tail \
		--since $((first - 1)) --count 3 --timeout 10 >tail.out &&
	check_three tail.out
'

test_expect_success 'farmctl events tail follows it live too' '
	bg env FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farmctl" events tail \
		--count 3 --timeout 15 >tail2.out 2>tail2.err &&
	tail_pid=$BG_PID && sleep 0.5 &&
	post_many 1 3 before2 >post.out &&
	sed -e "s/hostile-1/hostile-2/" hostile.json >hostile2.json &&
	post_cci /api/v1/webhooks/circleci hostile2.json "$CCI_SECRET" && expect_status 200 &&
	post_many 1 4 after2 >post.out &&
	wait $tail_pid &&
	sed -e "s/\"wf-3\"/\"wf-1\"/" -e "s/\"wf-4\"/\"wf-2\"/" tail2.out >tail2.norm &&
	check_three tail2.norm && ws_wait live 6 5
'

test_expect_success 'nothing was unreadable; logs clean' '
	ws_ids_consecutive live &&
	test_no_grep unreadable "$TRASH/state/log/farm-wsd.log" &&
	test_no_grep unreadable "$TRASH/state/log/farm-eventd.log" &&
	check_logs_clean
'

test_done
