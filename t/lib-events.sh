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
#   supervise ROUND                restarts a dead farm-eventd / farm-wsd, with the
#                                  master's recovery (SIGUSR2) when one cannot get ready

WS_CLIENT=$TEST_DIR/ws-client.py
POSTER=$TEST_DIR/events-post.py

ws_url() { echo "ws://127.0.0.1:$FARM_PORT/api/v1/events${1:-}"; }

# wait_until SECONDS CMD...: polls CMD every 20 ms.
wait_until() {
	local end
	end=$(awk -v t="$1" -v n="$(date +%s%N)" 'BEGIN { printf "%.0f", n + t * 1e9 }')
	shift
	while :; do
		"$@" && return 0
		[ "$(date +%s%N)" -ge "$end" ] && return 1
		sleep 0.02
	done
}

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

daemon_pid() { cat "$TRASH/state/run/$1.pid" 2>/dev/null; }
_daemon_gone() { ! kill -0 "$1" 2>/dev/null; }
daemon_stop() {
	local pid
	pid=$(daemon_pid "$1") || return 1
	kill -"${2:-TERM}" "$pid" 2>/dev/null
	wait_until 5 _daemon_gone "$pid"
}
# Restarted daemons are children of the test, not of farm-run: test_done stops them.
_ready_count() { grep -c "ready" "$TRASH/state/log/$1.log" 2>/dev/null; }
_ready_more() { [ "$(_ready_count "$1")" -gt "$2" ]; }
daemon_start() {
	local before
	before=$(_ready_count "$1")
	FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/$1" >>"$TRASH/state/log/$1.log" 2>&1 </dev/null &
	echo $! >"$TRASH/state/run/$1.pid"
	echo $! >>"$TRASH/daemons.pids"
	wait_until 5 _ready_more "$1" "${before:-0}" ||
		{ echo "$1 did not start:"; tail -n 5 "$TRASH/state/log/$1.log"; return 1; }
}
_alive() { kill -0 "$(daemon_pid "$1")" 2>/dev/null; }
# The supervisor's part (farm-run and systemd restart a dead daemon), and the
# master's watcher's: a daemon that cannot get ready means the environment needs
# recovery, which SIGUSR2 asks of the master (it stops every daemon through its
# lock file, recovers, restarts its workers); then the daemons start again.
# (supervise ROUND: ROUND names the attempt in ./recoveries)
supervise() {
	local d
	for d in farm-eventd farm-wsd; do
		_alive $d && continue
		daemon_start $d >/dev/null && continue
		echo "round $1: $d not ready: recovery" >>recoveries
		kill -USR2 "$(farm_master_pid)" &&
			wait_until 15 _daemon_gone "$(daemon_pid $d)" &&
			supervise "$1-after-recovery" || return 1
		return 0
	done
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
