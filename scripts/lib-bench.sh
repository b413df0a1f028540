# lib-bench.sh - shared helpers of scripts/bench-*: start the real stack on free
# ports in a scratch state dir, run wrk, pull out req/s and latency percentiles.
# Benchmarks compare against a reference run in the same invocation, because the
# machines are shared and noisy: the ratios are the figures that matter.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FARM_BUILD:-$here/build}
PY=/usr/bin/python3
DUR=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-32}

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bench_start() {
	scratch=$(mktemp -d /tmp/farm-bench.XXXXXX)
	export FARM_PORT=$(free_port) FARM_STATE_DIR=$scratch/state FARM_QUIET=1
	export JWT_SECRET=${JWT_SECRET:-bench-secret-0123456789abcdef0123456789}
	URL=http://127.0.0.1:$FARM_PORT
	setsid "$here/scripts/farm-run" >"$scratch/run.out" 2>&1 &
	RUN_PID=$!
	trap bench_stop EXIT INT TERM
	for _ in $(seq 1 150); do
		curl -fsS -o /dev/null "$URL/api/v1/health" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench: the stack did not start" >&2
	cat "$scratch/run.out" >&2
	exit 1
}

bench_stop() {
	trap - EXIT INT TERM
	[ -n "${RUN_PID:-}" ] && kill -TERM $RUN_PID 2>/dev/null && wait $RUN_PID 2>/dev/null
	[ -n "${scratch:-}" ] && rm -rf "$scratch"
}

bench_token() { FARM_CONFIG=$FARM_STATE_DIR/farm.conf "$build/farmctl" token "$@"; }

# wrk_parse OUTPUT: sets RPS, REQS (requests wrk completed), P50, P99 (ms), NON2XX
# from what `wrk --latency` printed.
wrk_parse() {
	RPS=$(printf '%s\n' "$1" | awk '/^Requests\/sec:/ {print $2}')
	REQS=$(printf '%s\n' "$1" | awk '/requests in/ {print $1}')
	P50=$(to_ms "$(printf '%s\n' "$1" | awk '$1=="50%" {print $2}')")
	P99=$(to_ms "$(printf '%s\n' "$1" | awk '$1=="99%" {print $2}')")
	NON2XX=$(printf '%s\n' "$1" | awk '/Non-2xx or 3xx responses:/ {print $5}')
	NON2XX=${NON2XX:-0}
}

# wrk_run NAME URL [wrk args...]: runs wrk, prints a line, sets what wrk_parse sets
wrk_run() {
	local name=$1 url=$2
	shift 2
	wrk_parse "$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "$@" "$url" 2>&1)"
	printf '%-34s %10.0f req/s   p50 %7.3f ms   p99 %7.3f ms   non-2xx %s\n' "$name" "$RPS" "$P50" "$P99" "$NON2XX"
}

to_ms() { # wrk prints 1.23ms / 450.00us / 1.20s
	$PY -c '
import sys
v=sys.argv[1]
for suf,mul in (("us",0.001),("ms",1.0),("s",1000.0)):
    if v.endswith(suf):
        print(float(v[:-len(suf)])*mul); break
else:
    print(0)' "$1"
}

ratio() { $PY -c "import sys; print('%.2f' % (float(sys.argv[1])/float(sys.argv[2])))" "$1" "$2"; }
median() { $PY -c 'import statistics, sys; print("%.2f" % statistics.median(map(float, sys.argv[1:])))' "$@"; }

worker_pids() {
	local master
	master=$(pgrep -f -n "^$build/farm-fcgi" -P $RUN_PID)
	pgrep -P "$master"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status; }
