# test-lib.sh - farm's shell test library, after git's t/test-lib.sh.
#
#   . ./test-lib.sh            (from a t/tNNNN-*.sh script, cwd = t/)
#   test_expect_success 'what' '<&&-chained commands>'
#   test_done
#
# Each script gets its own trash directory (t/trash.<script>), removed on success
# unless FARM_TEST_KEEP=1.  Output is TAP; `prove` runs every script.

set -u
TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$TEST_DIR/.." && pwd)
FARM_BUILD=${FARM_BUILD:-$SRC_DIR/build}
TRASH=$TEST_DIR/trash.$TEST_NAME
PY=/usr/bin/python3
export FARM_BUILD PY SRC_DIR TEST_DIR

test_count=0
test_failed=0
rm -rf "$TRASH"
mkdir -p "$TRASH"
cd "$TRASH" || exit 1

say() { echo "# $*"; }

# bg CMD...: starts CMD in the background, its pid in BG_PID (usable inside a
# &&-chain, where a bare `&` would background the whole chain).
bg() { "$@" & BG_PID=$!; }

test_run_body() { eval "$1"; }

test_expect_success() {
	test_count=$((test_count + 1))
	local desc=$1 body=$2
	# Runs in this shell (like git's test-lib), so start_farm's variables persist;
	# inside a function, so a `return 1` in a body fails that test, not the harness.
	test_run_body "$body" >"$TRASH/.test-out" 2>&1 </dev/null
	local rc=$?
	if [ $rc = 0 ]; then
		echo "ok $test_count - $desc"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $desc"
		# On stderr, which prove shows without -v (a CI log then says what failed).
		{ echo "# $TEST_NAME $test_count failed: $desc"; tail -n 40 "$TRASH/.test-out" | sed 's/^/#   /'; } >&2
	fi
}

test_expect_failure_known() { # a known breakage, reported as TODO
	test_count=$((test_count + 1))
	if (eval "$2") >/dev/null 2>&1; then
		echo "ok $test_count - $1 # TODO known breakage vanished"
	else
		echo "not ok $test_count - $1 # TODO known breakage"
	fi
}

# Assertions that say what was wrong.
test_cmp() { diff -u "$1" "$2"; }
test_equal() { [ "$1" = "$2" ] || { echo "expected '$2', got '$1'"; return 1; }; }
test_grep() { grep -q -- "$1" "$2" || { echo "'$1' not found in $2:"; head -c 2000 "$2"; echo; return 1; }; }
test_no_grep() { ! grep -q -- "$1" "$2" || { echo "'$1' unexpectedly found in $2"; return 1; }; }

# A free TCP port on 127.0.0.1 (the kernel picks it).
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- the stack ----------------------------------------------------------------

# start_farm: runs scripts/farm-run (the same script as `make run`) on free ports
# with its state in $TRASH/state; sets FARM_URL.  Extra FARM_* variables may be
# exported by the caller before.
start_farm() {
	FARM_PORT=$(free_port)
	export FARM_PORT
	export FARM_STATE_DIR=$TRASH/state
	export JWT_SECRET=${JWT_SECRET:-test-secret-0123456789abcdef0123456789}
	export FARM_QUIET=1
	FARM_URL=http://127.0.0.1:$FARM_PORT
	setsid "$SRC_DIR/scripts/farm-run" >"$TRASH/farm-run.out" 2>&1 &
	FARM_RUN_PID=$!
	local i
	for i in $(seq 1 300); do
		if curl -fsS -o /dev/null "$FARM_URL/api/v1/health" 2>/dev/null; then
			return 0
		fi
		kill -0 $FARM_RUN_PID 2>/dev/null || break
		sleep 0.1
	done
	echo "farm did not start:"
	cat "$TRASH/farm-run.out" "$TRASH"/state/log/*.log "$TRASH/state/nginx/error.log" 2>/dev/null | tail -n 30
	return 1
}

stop_farm() {
	[ -n "${FARM_RUN_PID:-}" ] || return 0
	kill -TERM $FARM_RUN_PID 2>/dev/null
	local i
	for i in $(seq 1 100); do
		kill -0 $FARM_RUN_PID 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- -$FARM_RUN_PID 2>/dev/null
	wait $FARM_RUN_PID 2>/dev/null
	# Nothing of this stack outlives it: its session, and any daemon a test started
	# itself (found through the daemons' lock files, which hold their pid).
	pkill -KILL -s $FARM_RUN_PID 2>/dev/null
	local f pid
	for f in "$TRASH"/state/*.lock; do
		[ -f "$f" ] || continue
		pid=$(tr -dc 0-9 <"$f" 2>/dev/null)
		[ -n "$pid" ] || continue
		case "$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" in
		"$FARM_BUILD"/farm-*) kill -KILL "$pid" 2>/dev/null ;;
		esac
	done
	FARM_RUN_PID=
}

# Pids of farm-fcgi processes of this test (master first).
# After a crash the supervisors restart what died (the pool master its workers and,
# after a recovery, farm-run the daemons): /health answers 503 until every part is
# back.  Waits up to $1 seconds (default 20) for a 200, else shows the last answer.
wait_healthy() {
	local i
	for i in $(seq 1 $((${1:-20} * 10))); do
		curl -fsS -o /dev/null "$FARM_URL/api/v1/health" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "not healthy after ${1:-20} s:"
	curl -sS "$FARM_URL/api/v1/health"
	return 1
}

farm_master_pid() { pgrep -f -n "^$FARM_BUILD/farm-fcgi" -P $FARM_RUN_PID; }
farm_worker_pids() { pgrep -P "$(farm_master_pid)"; }

token() { # token SUB [ORG|-] [admin]
	local args="--sub $1"
	[ -n "${2:-}" ] && [ "$2" != - ] && args="$args --org $2"
	[ -n "${3:-}" ] && args="$args --role $3"
	FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farmctl" token $args
}

# api METHOD PATH [BODY] [extra curl args...]: response body in ./body,
# status in ./status, headers in ./headers.  Uses $TOKEN when set.
# With FARM_RECORD_DIR set, each exchange is also appended to
# $FARM_RECORD_DIR/<test>.jsonl, which `t/openapi-check.py responses` checks against
# docs/openapi.json (make check-openapi; t8000 records its own).
api() {
	local method=$1 path=$2 body=${3:-}
	shift 3 2>/dev/null || shift $#
	local auth=()
	[ -n "${TOKEN:-}" ] && auth=(-H "Authorization: Bearer $TOKEN")
	if [ -n "$body" ]; then
		curl -sS -o body -D headers -w '%{http_code}' -X "$method" "${auth[@]}" \
			-H 'Content-Type: application/json' --data-binary "$body" "$@" \
			"$FARM_URL$path" >status
	else
		curl -sS -o body -D headers -w '%{http_code}' -X "$method" "${auth[@]}" "$@" \
			"$FARM_URL$path" >status
	fi
	local rc=$?
	if [ -n "${FARM_RECORD_DIR:-}" ]; then
		mkdir -p "$FARM_RECORD_DIR" &&
			$PY "$TEST_DIR/openapi-check.py" record "$FARM_RECORD_DIR/$TEST_NAME.jsonl" \
				"$method" "$path" "$(cat status)" headers body
	fi
	return $rc
}

expect_status() {
	local got
	got=$(cat status)
	[ "$got" = "$1" ] || { echo "expected HTTP $1, got $got:"; head -c 2000 body; echo; return 1; }
}

# Milliseconds since a `date +%s%N` stamp.
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

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# health_quick MS: five /health requests one after another, each 200 within MS ms
# (the pool is not held up by whatever else is in flight).
health_quick() {
	local i h0 code el
	for i in 1 2 3 4 5; do
		h0=$(date +%s%N)
		code=$(curl -sS -m 10 -o /dev/null -w "%{http_code}" "$FARM_URL/api/v1/health")
		el=$(ms_since $h0)
		[ "$code" = 200 ] || { echo "health answered $code"; return 1; }
		[ $el -lt "$1" ] || { echo "health took $el ms"; return 1; }
	done
}

# jq-like field access with the Debian python: json_get FILE EXPR (python expr on `d`)
json_get() {
	$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(v if isinstance(v,str) else json.dumps(v))' "$1" "$2"
}

# Fails when nginx logged an [alert]/[emerg] or a sanitizer spoke in any log.
check_logs_clean() {
	local bad=0
	if grep -E '\[(alert|emerg)\]' "$TRASH/state/nginx/error.log" 2>/dev/null; then bad=1; fi
	if grep -lE 'AddressSanitizer|runtime error:|LeakSanitizer' "$TRASH"/state/log/*.log 2>/dev/null; then bad=1; fi
	return $bad
}

test_done() {
	stop_farm
	if [ -n "${FAKE_PIDS:-}" ]; then kill $FAKE_PIDS 2>/dev/null; fi
	echo "1..$test_count"
	if [ $test_failed = 0 ] && [ "${FARM_TEST_KEEP:-}" != 1 ]; then
		cd "$TEST_DIR" && rm -rf "$TRASH"
	fi
	[ $test_failed = 0 ]
	exit $?
}

trap 'stop_farm; [ -n "${FAKE_PIDS:-}" ] && kill $FAKE_PIDS 2>/dev/null' EXIT
