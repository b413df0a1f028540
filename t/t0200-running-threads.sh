#!/bin/bash
# threads.running: a worker's threads past the limit wait at the gate between
# requests, and a thread waiting on something (here the debug sleep; in production
# an upstream call, a database write, a cache fill) hands its slot on.  At the tightest
# setting (one worker, four threads, one running) nothing may wait behind a sleeper,
# no request may be lost, and a graceful stop still finishes what is in flight.

. "$(dirname "$0")/test-lib.sh"

export FARM_DEBUG_ROUTES=yes
export FARM_WORKERS=1 FARM_THREADS=4 FARM_THREADS_RUNNING=1

# sleepers MS NAME: three debug sleeps of MS ms in the background, answers in
# NAME.1..3 and codes in NAME.code.1..3; their pids in $pids.
sleepers() {
	local i
	pids=
	for i in 1 2 3; do
		curl -s -m 20 -o $2.$i -w "%{http_code}" "$FARM_URL/api/v1/__debug/sleep?ms=$1" >$2.code.$i &
		pids="$pids $!"
	done
}

test_expect_success 'the pool starts with one of four threads running at once' '
	start_farm &&
	test_grep "ready: 1 workers x 4 threads (1 running at once)" state/log/farm-fcgi.log
'

test_expect_success 'sleepers give their slot away: /health answers meanwhile, sleeps overlap' '
	start=$(date +%s%N) &&
	sleepers 1500 sleep &&
	sleep 0.3 &&
	health_quick 500 &&
	wait $pids &&
	el=$(ms_since $start) &&
	{ test $el -lt 2800 || { echo "three 1.5 s sleeps took $el ms: serialised"; false; }; } &&
	for i in 1 2 3; do test_equal "$(cat sleep.code.$i)" 200 && test_grep "\"slept\":1500" sleep.$i || return 1; done
'

test_expect_success 'under concurrent load every request is answered' '
	seq 1 400 | xargs -P 16 -I{} curl -s -m 10 -o /dev/null -w "%{http_code}\n" \
		"$FARM_URL/api/v1/health" >codes &&
	test_equal "$(grep -c "^200$" codes)" 400
'

test_expect_success 'graceful stop with sleepers in flight and threads waiting at the gate' '
	sleepers 1200 stop &&
	sleep 0.4 &&
	master=$(farm_master_pid) &&
	kill -TERM $master &&
	wait $pids &&
	for i in 1 2 3; do test_equal "$(cat stop.code.$i)" 200 || return 1; done &&
	for i in $(seq 1 50); do kill -0 $master 2>/dev/null || break; sleep 0.1; done &&
	! kill -0 $master 2>/dev/null &&
	stop_farm
'

test_expect_success 'logs are clean (no nginx alert, no sanitizer report)' '
	check_logs_clean
'

test_done
