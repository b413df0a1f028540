# lib-events.sh - helpers for the webhook and event tests (t3xxx), after test-lib.sh.
#
#   ws_start NAME TOKEN [QUERY] [ws-client args]   a WebSocket client through nginx,
#                                  in the background; returns once it is connected
#   ws_lines NAME / ws_wait NAME N [SECONDS=3] / ws_field NAME INDEX EXPR / ws_stop NAME
#   cci_sign FILE SECRET           v1=<hex HMAC-SHA256> (python hmac)
#   post_cci PATH FILE SECRET      a signed CircleCI delivery → ./body ./status
#   post_many N START TAG [args]   N signed deliveries (t/events-post.py)
#   daemon_pid NAME / daemon_stop NAME [SIG] / daemon_start NAME   farm-eventd, farm-wsd
#     (start_farm must run with FARM_RUN_SUPERVISE_EXCEPT naming them, and with
#     FARM_WSD_LISTEN exported so that a restarted farm-wsd listens where nginx looks)
#   supervise ROUND                restarts a dead farm-eventd / farm-wsd (also one that
#                                  dies while starting) until both are ready (20 s)
#   supervised_ready [SECONDS=20]  with farm-run supervising the daemons: waits until
#                                  farm-eventd and farm-wsd run and are ready again
#   kill_in_db NAME [FUNCTION]     SIGKILL to a daemon stopped inside a Berkeley DB call

WS_CLIENT=$TEST_DIR/ws-client.py
POSTER=$TEST_DIR/events-post.py

ws_url() { echo "ws://127.0.0.1:$FARM_PORT/api/v1/events${1:-}"; }

ws_start() {
	local name=$1 tok=$2 q=${3:-}
	shift 3 2>/dev/null || shift $#
	rm -f "$name.out" "$name.ready" "$name.status" "$name.pid"
	: >"$name.out"
	local auth=()
	[ -n "$tok" ] && auth=(--token "$tok")
	$PY "$WS_CLIENT" --url "$(ws_url "$q")" "${auth[@]}" --out "$name.out" \
		--ready "$name.ready" --status "$name.status" --timeout "${WS_TIMEOUT:-120}" "$@" \
		>"$name.log" 2>&1 </dev/null &
	echo $! >"$name.pid"
	wait_until 5 test -e "$name.ready" -o -e "$name.status" &&
		test -e "$name.ready" || { echo "client $name did not connect:"; cat "$name.status" "$name.log" 2>/dev/null; return 1; }
}

ws_lines() { wc -l <"$1.out" | tr -d ' '; }
_ws_has() { [ "$(ws_lines "$1")" -ge "$2" ]; }
ws_wait() {
	wait_until "${3:-3}" _ws_has "$1" "$2" ||
		{ echo "client $1: $(ws_lines "$1") messages, expected $2 within ${3:-3} s:"; cut -c1-300 "$1.out"; cat "$1.status" 2>/dev/null; return 1; }
}
# ws_field NAME INDEX EXPR: python expression on `e` (message INDEX, 0-based; -1 = last)
ws_field() {
	$PY -c 'import json,sys; e=[json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2])]; v=eval(sys.argv[3]); print(v if isinstance(v,str) else json.dumps(v))' "$1.out" "$2" "$3"
}
# ws_names NAME: the data.name of every message, space-separated
ws_names() {
	$PY -c 'import json,sys; print(" ".join(json.loads(l)["data"]["name"] for l in open(sys.argv[1])))' "$1.out"
}
# ws_ids_consecutive NAME: ids strictly increase by one
ws_ids_consecutive() {
	$PY -c '
import json,sys
ids=[json.loads(l)["data"]["id"] for l in open(sys.argv[1])]
bad=[(a,b) for a,b in zip(ids,ids[1:]) if b!=a+1]
sys.exit("ids not consecutive: %s in %s" % (bad, ids) if bad else 0)' "$1.out"
}
ws_stop() {
	[ -s "$1.pid" ] && kill "$(cat "$1.pid")" 2>/dev/null
	wait_until 3 test -e "$1.status"
	rm -f "$1.pid"
	return 0
}

cci_sign() {
	$PY -c 'import hmac,hashlib,sys; print("v1="+hmac.new(sys.argv[2].encode(), open(sys.argv[1],"rb").read(), hashlib.sha256).hexdigest())' "$1" "$2"
}

# cci_body FILE ID NAME [STATUS]: a workflow-completed delivery
cci_body() {
	$PY "$POSTER" --url http://x --secret x --tag "$2" --start 0 --body-only | head -n 1 |
		sed -e "s/\"wf-0\"/\"$3\"/" -e "s/\"$2-0\"/\"$2\"/" -e "s/\"success\"/\"${4:-success}\"/" >"$1"
}

post_cci() {
	local path=$1 file=$2 secret=$3
	shift 3
	curl -sS -o body -D headers -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-H "circleci-signature: $(cci_sign "$file" "$secret")" --data-binary "@$file" "$@" \
		"$FARM_URL$path" >status
}

post_many() {
	local n=$1 start=$2 tag=$3
	shift 3
	$PY "$POSTER" --url "$FARM_URL" --secret "${CCI_SECRET:-}" --count "$n" --start "$start" \
		--tag "$tag" "$@"
}

# travis_post PATH KEY PAYLOAD-FILE: signs the payload as Travis does (RSA-SHA1,
# PKCS#1 v1.5, base64) and sends it form-encoded as payload=<urlencoded JSON>.
travis_post() {
	local sig
	sig=$(openssl dgst -sha1 -sign "$2" "$3" | base64 -w0) &&
	curl -sS -o body -w '%{http_code}' -X POST -H "Signature: $sig" \
		-H 'Travis-Repo-Slug: octo/hello' -H 'User-Agent: Travis CI Notifications' \
		--data-urlencode "payload@$3" "$FARM_URL/api/v1/webhooks/travisci$1" >status
}

tr_payload() { # tr_payload FILE ID STATE STATUS_MESSAGE
	printf '%s' "{\"id\":$2,\"number\":\"$2\",\"type\":\"push\",\"state\":\"$3\",\"status\":0,\"result\":0,\"status_message\":\"$4\",\"result_message\":\"$4\",\"started_at\":\"2025-01-01T10:00:00Z\",\"finished_at\":\"2025-01-01T10:05:00Z\",\"duration\":300,\"build_url\":\"https://app.travis-ci.com/octo/hello/builds/$2\",\"commit_id\":9,\"commit\":\"abc123\",\"branch\":\"main\",\"message\":\"a + b & c = d\",\"repository\":{\"id\":1,\"name\":\"hello\",\"owner_name\":\"octo\",\"url\":null}}" >"$1"
}

daemon_pid() { cat "$TRASH/state/run/$1.pid" 2>/dev/null; }
_daemon_gone() { ! kill -0 "$1" 2>/dev/null; }
daemon_stop() {
	local pid
	pid=$(daemon_pid "$1") || return 1
	kill -"${2:-TERM}" "$pid" 2>/dev/null
	wait_until 5 _daemon_gone "$pid"
}
# Restarted daemons are children of the test, not of farm-run: test_done stops them.
# daemon_start marks the log first, as farm-run does ("exited; restarting it"), so
# that "ready since its last start" can be told from the log (_started_ready).
_ready_count() { grep -c " ready: " "$TRASH/state/log/$1.log" 2>/dev/null; }
_ready_more() { [ "$(_ready_count "$1")" -gt "$2" ]; }
_spawn() {
	echo "$(date -u +%FT%TZ) test: $1 exited; restarting it" >>"$TRASH/state/log/$1.log"
	FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/$1" >>"$TRASH/state/log/$1.log" 2>&1 </dev/null &
	echo $! >"$TRASH/state/run/$1.pid"
	echo $! >>"$TRASH/daemons.pids"
}
daemon_start() {
	local before
	before=$(_ready_count "$1")
	_spawn "$1"
	wait_until 5 _ready_more "$1" "${before:-0}" ||
		{ echo "$1 did not start:"; tail -n 5 "$TRASH/state/log/$1.log"; return 1; }
}
_alive() { kill -0 "$(daemon_pid "$1")" 2>/dev/null; }
# _restarted NAME OLD-PID: another process of NAME runs (farm-run restarted it).
_restarted() { local p; p=$(daemon_pid "$1") && [ -n "$p" ] && [ "$p" != "$2" ] && kill -0 "$p" 2>/dev/null; }
# Running, and logged "ready: " since it was last started.
_started_ready() {
	_alive "$1" &&
		awk '/exited; restarting it/ { r = 0 } / ready: / { r = 1 } END { exit !r }' \
			"$TRASH/state/log/$1.log"
}
_both_ready() { _started_ready farm-eventd && _started_ready farm-wsd; }
_not_ready() {
	echo "$1: not ready again within $2 s:"
	tail -n 4 "$TRASH/state/log/farm-eventd.log" "$TRASH/state/log/farm-wsd.log" \
		"$TRASH/state/log/farm-fcgi.log"
}
# The supervisor's part, as farm-run and systemd do it: a dead farm-eventd or
# farm-wsd is started again, also when it dies while starting (the master's recovery
# stops the daemons through their lock files).  Nothing more: a daemon killed inside
# Berkeley DB leaves the environment needing recovery, which the master's watcher
# sees and runs by itself (docs/events.md, "kill -9"); the restarted daemon waits
# for it.  Returns once both run and are ready, at most 20 s.
# (supervise ROUND: ROUND names the attempt in the message when they do not)
supervise() {
	local end d
	end=$(($(date +%s) + 20))
	until _both_ready; do
		for d in farm-eventd farm-wsd; do
			_alive $d || _spawn $d
		done
		[ "$(date +%s)" -ge "$end" ] && { _not_ready "round $1" 20; return 1; }
		sleep 0.1
	done
}

# With farm-run supervising farm-eventd and farm-wsd (no FARM_RUN_SUPERVISE_EXCEPT),
# as in production: farm-run restarts a dead one, and nothing asks the master for
# recovery.  Waits until both run and are ready again.
supervised_ready() {
	wait_until "${1:-20}" _both_ready || { _not_ready "farm-run's daemons" "${1:-20}"; return 1; }
}
# kill_in_db NAME [FUNCTION=__dbc_get]: stops the daemon under gdb at a breakpoint on
# a Berkeley DB function (a cursor read: the library marked the thread as inside
# its API), then SIGKILL: a kill inside Berkeley DB by construction, after which
# failchk answers DB_RUNRECOVERY.  Fails when the breakpoint was not hit in 15 s.
kill_in_db() {
	local pid fn=${2:-__dbc_get}
	pid=$(daemon_pid "$1") && kill -0 "$pid" 2>/dev/null || return 1
	timeout 15 gdb -nx -batch -p "$pid" -iex 'set debuginfod enabled off' \
		-iex 'set pagination off' -ex "break $fn" \
		-ex continue -ex "shell kill -KILL $pid" \
		>"$1-gdb.out" 2>&1 </dev/null
	grep -q "Breakpoint 1, .*$fn" "$1-gdb.out" && wait_until 5 _daemon_gone "$pid" ||
		{ echo "$1: no kill inside Berkeley DB:"; tail -n 5 "$1-gdb.out"; kill -CONT "$pid" 2>/dev/null; return 1; }
}

stop_daemons() {
	local p
	[ -s "$TRASH/daemons.pids" ] || return 0
	for p in $(cat "$TRASH/daemons.pids"); do
		kill "$p" 2>/dev/null && { wait_until 5 _daemon_gone "$p" || kill -KILL "$p" 2>/dev/null; }
	done
	rm -f "$TRASH/daemons.pids"
	return 0
}
trap 'stop_daemons; stop_farm; [ -n "${FAKE_PIDS:-}" ] && kill $FAKE_PIDS 2>/dev/null' EXIT
