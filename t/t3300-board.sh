#!/bin/bash
# t3300-board.sh - the board through nginx: GET /api/v1/projects and /api/v1/cctray.xml
# answer the latest run of every (platform, project) of the caller's org, kept by
# farm-eventd in the transaction that numbers the event (so a kill -9 loses no
# update); GET /api/v1/events?since=&limit= pages the history as the WebSocket
# replays it.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

CCI_SECRET=cci-secret-for-t3300-0123456789
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI_SECRET
export FARM_RUN_SUPERVISE_EXCEPT="farm-eventd farm-wsd"
FARM_WSD_LISTEN=127.0.0.1:$(free_port)
export FARM_WSD_LISTEN

# post SECRET CRED START PROJECT STATUS [N]: N (1) deliveries to a credential's path
# ("-": the instance path), ids START.., all to PROJECT with STATUS.
post() {
	local path=/api/v1/webhooks/circleci
	[ "$2" != - ] && path=$path/$2
	$PY "$POSTER" --url "$FARM_URL" --path "$path" --secret "$1" --start "$3" \
		--count "${6:-1}" --tag "b$3" --project "$4" --status "$5" >/dev/null
}
# board TOKEN [QUERY [curl args]]: GET /projects into ./body
board() { local t=$1 q=${2:-}; shift 2 2>/dev/null || shift $#; TOKEN=$t api GET "/api/v1/projects$q" "" "$@"; }
_board_has() { board "$1" && [ "$(json_get body "len(d)")" = "$2" ]; }
# board_wait TOKEN N: until the board holds N rows
board_wait() { wait_until 5 _board_has "$1" "$2" || { echo "board:"; cat body; return 1; }; }
# row FILE PROJECT EXPR: python expression on the row `r` of PROJECT
row() {
	$PY -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1])) if x["project"]==sys.argv[2]][0]; v=eval(sys.argv[3]); print(v if isinstance(v,str) else json.dumps(v))' "$1" "$2" "$3"
}

test_expect_success 'start farm' '
	start_farm
'
ADMIN_A=$(token alice org-a admin)
ADMIN_B=$(token bob org-b admin)
USER_A=$(token ann org-a)
USER_B=$(token ben org-b)
USER_NONE=$(token nobody -)

test_expect_success 'credentials with webhook secrets in org-a and org-b' '
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials \
		"{\"type\":\"circleci\",\"name\":\"cci-a\",\"value\":{\"token\":\"t\",\"webhookSecret\":\"sec-a\"}}" &&
	expect_status 201 && json_get body "d[\"id\"]" >cred-a &&
	TOKEN=$ADMIN_B api POST /api/v1/integrations/credentials \
		"{\"type\":\"circleci\",\"name\":\"cci-b\",\"value\":{\"token\":\"t\",\"webhookSecret\":\"sec-b\"}}" &&
	expect_status 201 && json_get body "d[\"id\"]" >cred-b
'

test_expect_success 'an empty board is an empty array' '
	board "$USER_A" && expect_status 200 && test_equal "$(cat body)" "[]" &&
	test_grep "^Content-Type: application/json" headers
'

# ---- the board --------------------------------------------------------------------------

test_expect_success 'webhooks fill the board: one row per project, the latest run wins' '
	post sec-a "$(cat cred-a)" 1 gh/farm/api success &&
	post sec-a "$(cat cred-a)" 2 gh/farm/web success &&
	post sec-a "$(cat cred-a)" 3 gh/farm/api failed &&
	post sec-b "$(cat cred-b)" 4 gh/farm/api success &&
	post "$CCI_SECRET" - 5 gh/farm/orgless error &&
	board_wait "$USER_A" 2 && cp body a.json &&
	test_equal "$(json_get a.json "[r[\"project\"] for r in d]")" "[\"gh/farm/api\", \"gh/farm/web\"]" &&
	test_equal "$(row a.json gh/farm/api "r[\"status\"]")" failed &&
	test_equal "$(row a.json gh/farm/api "r[\"number\"]")" 3 &&
	test_equal "$(row a.json gh/farm/api "r[\"name\"]")" wf-3 &&
	test_equal "$(row a.json gh/farm/web "r[\"status\"]")" success &&
	test_equal "$(row a.json gh/farm/api "r[\"provider\"]")" circleci &&
	test_equal "$(row a.json gh/farm/api "r[\"orgId\"]")" org-a &&
	test_equal "$(row a.json gh/farm/api "r[\"credentialId\"]")" "$(cat cred-a)"
'

test_expect_success 'a row is the run object plus eventId: the event data without id and receivedAt' '
	TOKEN=$USER_A api GET "/api/v1/events?since=0" && expect_status 200 &&
	$PY - a.json body <<-\EOF
	import json, sys
	rows = json.load(open(sys.argv[1]))
	events = [e["data"] for e in json.load(open(sys.argv[2]))]
	assert len(events) == 4, events
	for r in rows:
	    mine = [e for e in events if e["project"] == r["project"] and e["orgId"] == "org-a"]
	    e = max(mine, key=lambda e: e["id"])
	    want = {k: v for k, v in e.items() if k not in ("id", "receivedAt")}
	    want["eventId"] = e["id"]
	    assert r == want, (r, want)
	    assert list(r) == list(want), "member order differs from the event"
	EOF
'

test_expect_success 'other orgs are invisible; an org-less token sees the org-less board' '
	board "$USER_B" && expect_status 200 &&
	test_equal "$(json_get body "[(r[\"project\"], r[\"orgId\"], r[\"number\"]) for r in d]")" \
		"[[\"gh/farm/api\", \"org-b\", 4]]" &&
	board "$USER_NONE" && expect_status 200 &&
	test_equal "$(json_get body "[(r[\"project\"], r[\"orgId\"]) for r in d]")" \
		"[[\"gh/farm/orgless\", null]]"
'

test_expect_success '?platform= filters; an unknown platform is 404; no token is 401' '
	board "$USER_A" "?platform=circleci" && expect_status 200 && test_cmp a.json body &&
	board "$USER_A" "?platform=jenkins" && expect_status 200 && test_equal "$(cat body)" "[]" &&
	board "$USER_A" "?platform=nope" && expect_status 404 &&
	test_grep "unknown platform" body &&
	TOKEN= api GET /api/v1/projects && expect_status 401
'

test_expect_success 'the next event of a project replaces its row (the cached answer is not reused)' '
	board "$USER_A" && board "$USER_A" && test_cmp a.json body &&
	post sec-a "$(cat cred-a)" 6 gh/farm/web running &&
	wait_until 5 eval "board \"\$USER_A\" && test \"\$(row body gh/farm/web \"r[\\\"status\\\"]\")\" = running" &&
	test_equal "$(row body gh/farm/web "r[\"number\"]")" 6 &&
	test_equal "$(row body gh/farm/api "r[\"number\"]")" 3
'

test_expect_success 'a client that accepts gzip gets the same board compressed' '
	board "$USER_A" && cp body plain.json &&
	board "$USER_A" "" --compressed && test_cmp plain.json body &&
	test_grep "^Content-Encoding: gzip" headers && test_grep "^Vary: Accept-Encoding" headers &&
	board "$USER_A" "" -H "Accept-Encoding: gzip;q=0, identity" && test_cmp plain.json body &&
	test_no_grep "^Content-Encoding" headers
'

# ---- cctray -------------------------------------------------------------------------------

# cctray FILE: parses the feed with xml.etree; prints name|activity|status|label|time|url
cctray() {
	$PY - "$1" <<-\EOF
	import sys, xml.etree.ElementTree as ET
	root = ET.parse(sys.argv[1]).getroot()
	assert root.tag == "Projects", root.tag
	for p in root:
	    assert p.tag == "Project", p.tag
	    print("|".join(p.get(k, "-") for k in ("name", "activity", "lastBuildStatus",
	                                           "lastBuildLabel", "lastBuildTime", "webUrl")))
	EOF
}

test_expect_success 'cctray.xml with the JWT as the Basic password: the same board, parsed' '
	curl -sS -o feed.xml -D headers -w "%{http_code}" -u "ccmenu:$USER_A" \
		"$FARM_URL/api/v1/cctray.xml" >status && expect_status 200 &&
	test_grep "^Content-Type: application/xml" headers &&
	cctray feed.xml >feed.txt &&
	cat >expect <<-\EOF &&
	circleci:gh/farm/api|Sleeping|Failure|3|2025-01-01T10:01:00.000Z|https://app.circleci.com/pipelines/gh/farm/demo/3
	circleci:gh/farm/web|Building|Unknown|6|2025-01-01T10:01:00.000Z|https://app.circleci.com/pipelines/gh/farm/demo/6
	EOF
	test_cmp expect feed.txt
'

test_expect_success 'cctray maps every status; names are XML-escaped and parse back exactly' '
	post sec-a "$(cat cred-a)" 7 "gh/x/a&b<\"c\">'\''d" success &&
	post sec-a "$(cat cred-a)" 8 gh/x/error error &&
	post sec-a "$(cat cred-a)" 9 gh/x/canceled canceled &&
	post sec-a "$(cat cred-a)" 10 gh/x/on-hold on_hold &&
	board_wait "$USER_A" 6 &&
	curl -sS -o feed.xml -w "%{http_code}" -H "Authorization: Bearer $USER_A" \
		"$FARM_URL/api/v1/cctray.xml" >status && expect_status 200 &&
	cctray feed.xml | cut -d"|" -f1-3 >feed.txt &&
	cat >expect <<-\EOF &&
	circleci:gh/farm/api|Sleeping|Failure
	circleci:gh/farm/web|Building|Unknown
	circleci:gh/x/a&b<"c">'\''d|Sleeping|Success
	circleci:gh/x/canceled|Sleeping|Unknown
	circleci:gh/x/error|Sleeping|Exception
	circleci:gh/x/on-hold|Building|Unknown
	EOF
	test_cmp expect feed.txt &&
	test_grep "a&amp;b&lt;&quot;c&quot;&gt;&apos;d" feed.xml
'

test_expect_success 'cctray: another org sees its own feed; ?platform= filters it too' '
	curl -sS -o feed.xml -w "%{http_code}" -u "x:$USER_B" "$FARM_URL/api/v1/cctray.xml" >status &&
	expect_status 200 && cctray feed.xml | cut -d"|" -f1-3 >feed.txt &&
	echo "circleci:gh/farm/api|Sleeping|Success" >expect && test_cmp expect feed.txt &&
	curl -sS -o feed.xml -w "%{http_code}" -u "x:$USER_B" \
		"$FARM_URL/api/v1/cctray.xml?platform=argocd" >status &&
	expect_status 200 && test_equal "$(cctray feed.xml)" ""
'

test_expect_success 'cctray: a bad Basic password, a bad token or none is 401 with WWW-Authenticate: Basic' '
	other=$(JWT_SECRET=another-secret-0123456789abcdef "$FARM_BUILD/farmctl" token --sub x --org org-a) &&
	refused() {
		curl -sS -o body -D headers -w "%{http_code}" "$@" \
			"$FARM_URL/api/v1/cctray.xml" >status && expect_status 401 &&
		test_grep "^WWW-Authenticate: Basic realm=\"farm\"" headers &&
		test_equal "$(json_get body "d[\"statusCode\"]")" 401
	} &&
	refused -u x:wrong && refused -u "x:$other" && refused -u "$USER_A:" &&
	refused -H "Authorization: Bearer $other" && refused
'

# ---- the history for pollers ----------------------------------------------------------------

# pages TOKEN LIMIT: every page of GET /events from since=0, following X-Farm-Next-Since,
# one event per line into ./pages.out (as ws-client.py writes them); the page sizes into ./sizes
pages() {
	local since=0 n
	: >pages.out && : >sizes &&
	while :; do
		TOKEN=$1 api GET "/api/v1/events?since=$since&limit=$2" && expect_status 200 || return 1
		n=$(json_get body "len(d)") &&
		$PY -c "import json,sys; [print(json.dumps(e, separators=(\",\", \":\"), sort_keys=True)) for e in json.load(open(\"body\"))]" >>pages.out &&
		echo "$n" >>sizes &&
		since=$(sed -n "s/^X-Farm-Next-Since: \([0-9]*\).*/\1/p" headers) &&
		[ "$n" -gt 0 ] || return 0
	done
}

test_expect_success 'GET /events pages match what the WebSocket replays, per org' '
	for who in USER_A USER_B USER_NONE; do
		ws_start r$who "${!who}" "?since=0" &&
		wait_until 5 eval "[ \$(ws_lines r$who) -ge 1 ]" && sleep 0.5 && ws_stop r$who &&
		pages "${!who}" 2 && test_cmp r$who.out pages.out && cp sizes sizes-$who || return 1
	done &&
	test_equal "$(cat sizes-USER_A | tr "\n" " ")" "2 2 2 2 1 0 " &&
	test_equal "$(grep -c orgless pages.out)" 1 && test_no_grep org-a pages.out
'

test_expect_success 'GET /events: since after the last id is []; since and limit in range only' '
	TOKEN=$USER_A api GET "/api/v1/events?since=999999" && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$USER_A api GET "/api/v1/events?since=3&limit=1" && expect_status 200 &&
	test_equal "$(json_get body "[e[\"data\"][\"id\"] for e in d]")" "[5]" &&
	for q in since=abc since=-1 since=1.5 "since=" limit=0 limit=1001 limit=x limit=-5; do
		TOKEN=$USER_A api GET "/api/v1/events?$q" && expect_status 400 || return 1
	done &&
	TOKEN= api GET /api/v1/events && expect_status 401
'

# ---- kill -9 ---------------------------------------------------------------------------------

# board_matches_history TOKEN: each project's row is its newest event in the history
board_matches_history() {
	board "$1" && cp body final.json && pages "$1" 1000 &&
	$PY - final.json pages.out <<-\EOF
	import json, sys
	rows = {(r["provider"], r["project"]): r for r in json.load(open(sys.argv[1]))}
	latest = {}
	for l in open(sys.argv[2]):
	    e = json.loads(l)["data"]
	    if e["orgId"] == "org-a":
	        latest[(e["provider"], e["project"])] = e
	bad = [k for k in latest if k not in rows or rows[k]["eventId"] != latest[k]["id"]]
	bad += [k for k in rows if k not in latest]
	print("%d rows, %d projects in the history" % (len(rows), len(latest)))
	sys.exit("rows behind the history: %s" % bad if bad else 0)
	EOF
}

test_expect_success 'farm-eventd killed -9 while webhooks arrive: no board update is lost' '
	{ $PY "$POSTER" --url "$FARM_URL" --path "/api/v1/webhooks/circleci/$(cat cred-a)" \
		--secret sec-a --count 150 --start 100 --tag k9 --rate 100 --project gh/k9/p \
		--projects 10 --status failed --times times >/dev/null 2>&1 & } &&
	sleep 0.4 && daemon_stop farm-eventd KILL && sleep 0.3 && supervise 1 &&
	sleep 0.3 && daemon_stop farm-eventd KILL && sleep 0.2 && supervise 2 &&
	wait_until 20 test -s times && sleep 1 && supervise 3 &&
	wait_until 10 board_matches_history "$USER_A" >/dev/null &&
	board_matches_history "$USER_A" &&
	test_equal "$(json_get final.json "len([r for r in d if r[\"project\"].startswith(\"gh/k9/\")])")" 10
'

test_expect_success 'the logs are clean' '
	check_logs_clean
'

stop_daemons
test_done
