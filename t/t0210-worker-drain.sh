#!/bin/bash
# t0210-worker-drain.sh - a stopping worker does not wait for idle kept connections
# (issue 19: a replication master's workers took ~5 s to stop, a replica's < 1.3 s).
# nginx keeps its FastCGI connections to the pool open (keepalive) and closes idle ones
# only when it stops or after its keepalive timeout; another node's nginx (the write
# upstream of a replication group) or the local one during a reload or a worker's
# recycle does neither, so the drain waited its whole 5 s bound for them.  Here the
# local nginx, which keeps running, stands for those: a worker told to stop while
# nginx holds idle connections to it is gone within DRAIN_MAX_MS, a request in flight
# still finishes, and requests sent all the while are all answered.

. "$(dirname "$0")/test-lib.sh"

export FARM_DEBUG_ROUTES=yes
export FARM_WORKERS=1 FARM_THREADS=4 # every nginx connection is in the one worker

# The drain leaves 200 ms after the last request; the rest is the worker's exit
# (closing its database handles) on a loaded machine.  The old drain: 5 s.
DRAIN_MAX_MS=2500

# burst N: N requests at once (waited for by pid: `wait` alone would wait for farm-run).
burst() {
	local i ps=
	for i in $(seq 1 $1); do curl -s -o /dev/null "$FARM_URL/api/v1/health" & ps="$ps $!"; done
	wait $ps
}

# gone_ms PID MS: waits until PID has exited; prints the milliseconds it took.
gone_ms() {
	local t0=$(date +%s%N) i
	for i in $(seq 1 $(($2 / 20 + 1))); do
		kill -0 $1 2>/dev/null || { ms_since $t0; return 0; }
		sleep 0.02
	done
	ms_since $t0
}

test_expect_success 'the stack starts; nginx keeps connections to the pool' '
	start_farm &&
	burst 40
'

test_expect_success 'a worker told to stop beside idle kept connections is gone at once' '
	W=$(farm_worker_pids | head -n 1) &&
	kill -TERM $W &&
	ms=$(gone_ms $W 10000) &&
	say "worker $W stopped in $ms ms (bound $DRAIN_MAX_MS)" | tee -a figures &&
	! kill -0 $W 2>/dev/null &&
	test "$ms" -le $DRAIN_MAX_MS
'

test_expect_success 'a request in flight when its worker stops still finishes' '
	burst 20 &&
	curl -s -o slow.body -w "%{http_code}" "$FARM_URL/api/v1/__debug/sleep?ms=1000" >slow.code &
	slow=$! &&
	sleep 0.3 &&
	for w in $(farm_worker_pids); do kill -TERM $w; done &&
	wait $slow &&
	test_equal "$(cat slow.code)" 200 &&
	test_grep "\"slept\":1000" slow.body
'

test_expect_success 'requests sent while workers stop one after another are all answered' '
	for i in $(seq 1 20); do curl -s -o /dev/null "$FARM_URL/api/v1/health"; done &&
	( for i in $(seq 1 300); do curl -s -o /dev/null -w "%{http_code}\n" "$FARM_URL/api/v1/health"; done >codes ) &
	load=$! &&
	for r in 1 2 3 4; do
		sleep 0.4
		W=$(farm_worker_pids | head -n 1) && kill -TERM $W || return 1
	done &&
	wait $load &&
	sort codes | uniq -c &&
	test_equal "$(grep -c "^200$" codes)" 300
'

test_expect_success 'a reload (SIGHUP): the old workers are gone without waiting for idle connections' '
	burst 20 &&
	sleep 0.3 &&
	old=$(farm_worker_pids) &&
	t0=$(date +%s%N) &&
	kill -HUP $(farm_master_pid) &&
	for w in $old; do gone_ms $w 10000 >/dev/null; done &&
	ms=$(ms_since $t0) &&
	say "old workers gone $ms ms after SIGHUP (bound $DRAIN_MAX_MS)" | tee -a figures &&
	for w in $old; do ! kill -0 $w 2>/dev/null || return 1; done &&
	test "$ms" -le $DRAIN_MAX_MS
'

test_expect_success 'logs are clean' '
	check_logs_clean
'

[ -f figures ] && cat figures
stop_farm
test_done
