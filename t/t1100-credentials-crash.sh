#!/bin/bash
# Crash safety: concurrent writers while workers (and once the whole pool) are
# killed with SIGKILL.  Every acknowledged write must be present with the right
# content, every acknowledged delete gone, and a hot backup must verify.

. "$(dirname "$0")/test-lib.sh"

kill_random_workers() { # N: kill -9 a random worker N times, 0.2-0.5 s apart
	local i pids
	for i in $(seq 1 "$1"); do
		sleep 0.$((RANDOM % 3 + 2))
		pids=($(farm_worker_pids))
		[ ${#pids[@]} -gt 0 ] && kill -9 "${pids[RANDOM % ${#pids[@]}]}" 2>/dev/null
	done
	return 0
}

test_expect_success 'start the stack' '
	start_farm && ADMIN=$(token crash org-crash admin)
'

test_expect_success 'writers run while random workers are killed 20 times' '
	bg $PY "$TEST_DIR/lib-crash-writer.py" "$FARM_URL" "$ADMIN" 10 8 hist1 &&
	writer=$BG_PID &&
	kill_random_workers 20 &&
	wait $writer &&
	test $(wc -l <hist1) -gt 100 &&
	grep -c "\"res\": \"ok\"" hist1
'

test_expect_success 'the pool is whole again and every acknowledged write is there' '
	for i in $(seq 1 50); do [ $(farm_worker_pids | wc -l) = 2 ] && break; sleep 0.1; done &&
	wait_healthy 20 &&
	$PY "$TEST_DIR/lib-crash-writer.py" --check "$FARM_URL" "$ADMIN" hist1 state/nginx/access.log
'

test_expect_success 'kill -9 of the whole pool mid-write, then a restart: nothing acknowledged is lost' '
	bg $PY "$TEST_DIR/lib-crash-writer.py" "$FARM_URL" "$ADMIN" 4 8 hist2 &&
	writer=$BG_PID &&
	sleep 1.5 &&
	master=$(farm_master_pid) &&
	kill -9 $master $(pgrep -P $master) &&
	wait $writer &&
	stop_farm && start_farm &&
	cat hist1 hist2 >hist-all &&
	$PY "$TEST_DIR/lib-crash-writer.py" --check "$FARM_URL" "$ADMIN" hist-all state/nginx/access.log
'

test_expect_success 'a hot backup of the environment passes verification' '
	FARM_CONFIG=state/farm.conf "$FARM_BUILD/farmctl" db verify
'

test_expect_success 'the database verifies with db_verify after a clean stop' '
	stop_farm &&
	FARM_CONFIG=state/farm.conf "$FARM_BUILD/farmctl" db backup bk &&
	for f in bk/*.db; do db5.3_verify -h bk "$(basename "$f")" || exit 1; done
'

test_done
