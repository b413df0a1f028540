#!/bin/bash
# t1300-full-disk.sh - a full disk: the state dir on a 20 MB tmpfs, credential creates
# and webhook deliveries until it is full.  While full: writes answer 507, /health
# answers 503 naming "storage", the master keeps supervising (checkpoints every second
# here, and none may hang it), reads still work.  Once space is freed the stack serves
# writes again by itself, and every write acknowledged before, during or after is
# there (credentials listed, deliveries each exactly one event).  SIGTERM stops the
# whole stack, full disk or not.  The logs (farm's and nginx's) are kept off the
# small disk (as /var/log is off /var/lib), so that they say what happened.  Needs root (mount);
# bounded in time (~2 min).
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=1m tmpfs "$TRASH" 2>/dev/null; then
	echo "1..0 # SKIP needs root and tmpfs mounts"
	exit 0
fi
umount "$TRASH"

CCI_SECRET=cci-secret-for-t1300-0123456789
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI_SECRET
export FARM_CHECKPOINT_INTERVAL=1
WRITER=$TEST_DIR/lib-full-writer.py
STATE=$TRASH/state

unmount_state() {
	mountpoint -q "$STATE" || return 0
	umount "$STATE" 2>/dev/null || umount -l "$STATE"
}
trap 'stop_farm; unmount_state; [ -n "${FAKE_PIDS:-}" ] && kill $FAKE_PIDS 2>/dev/null' EXIT

# Every process of this stack (farm-run's session: nginx, the pool, the daemons).
stack_pids() { pgrep -s "$FARM_RUN_PID" 2>/dev/null; }
free_kb() { df -k --output=avail "$STATE" | tail -n 1 | tr -d ' '; }
health_names_storage() {
	curl -sS -m 5 -o health.json -w "%{http_code}" "$FARM_URL/api/v1/health" >health.status &&
	test_equal "$(cat health.status)" 503 &&
	test_equal "$(json_get health.json "\"storage\" in d[\"failing\"]")" true
}

test_expect_success 'start farm with its state on a 20 MB tmpfs' '
	mkdir -p "$STATE" "$TRASH/log" "$TRASH/nginx" &&
	mount -t tmpfs -o size=20m,mode=0700 tmpfs "$STATE" &&
	ln -s "$TRASH/log" "$STATE/log" && ln -s "$TRASH/nginx" "$STATE/nginx" &&
	start_farm &&
	api GET /api/v1/health && expect_status 200 &&
	test_equal "$(json_get body "d[\"checks\"][\"storage\"]")" ok
'

ADMIN=$(token admin - admin)

# fill_up FILE: writes zeros into FILE until the filesystem has no byte left.  (The
# checkpoints, every second here, then remove the log files they no longer need:
# that space comes back, and is taken again by a second fill_up.)
fill_up() { dd if=/dev/zero of="$1" bs=64k 2>/dev/null; dd if=/dev/zero of="$1.tail" bs=1 2>/dev/null; true; }

test_expect_success 'writes until the disk is full: 507, promptly, nothing else' '
	dd if=/dev/zero of="$STATE/ballast" bs=1M count=4 2>/dev/null &&
	$PY "$WRITER" fill "$FARM_URL" "$ADMIN" "$CCI_SECRET" hist --seconds 60 --tag a >fill1.out &&
	cat fill1.out &&
	test "$(json_get fill1.out "d[\"ok\"]")" -gt 100 &&
	test_equal "$(json_get fill1.out "d[\"other\"]")" "{}"
'

test_expect_success 'while full: /health is 503 naming storage; reads work' '
	health_names_storage &&
	TOKEN=$ADMIN api GET /api/v1/integrations/credentials && expect_status 200
'

test_expect_success 'the disk filled to the last byte by someone else: 507 or success (log removal frees some), never anything else; the master unhurt' '
	master=$(farm_master_pid) && test -n "$master" &&
	fill_up "$STATE/ballast2" &&
	sleep 2 && fill_up "$STATE/ballast3" && test "$(free_kb)" -lt 64 &&
	$PY "$WRITER" fill "$FARM_URL" "$ADMIN" "$CCI_SECRET" hist --seconds 10 --full-after 20 --tag b >fill2.out &&
	test_equal "$(json_get fill2.out "d[\"other\"]")" "{}" &&
	sleep 2 && fill_up "$STATE/ballast4" && health_names_storage &&
	test_equal "$(farm_master_pid)" "$master" &&
	test_equal "$(farm_worker_pids | wc -l)" 2 &&
	test_no_grep "checkpoint blocked" "$TRASH/log/farm-fcgi.log" &&
	test_no_grep "killed by signal" "$TRASH/log/farm-fcgi.log"
'

test_expect_success 'a recovery on the full disk: the master waits for space, nothing hangs' '
	master=$(farm_master_pid) &&
	kill -USR2 $master && sleep 2 &&
	test_equal "$(farm_master_pid)" "$master" &&
	t0=$(date +%s%N) &&
	code=$(curl -sS -m 10 -o health.json -w "%{http_code}" "$FARM_URL/api/v1/health") &&
	test_equal "$code" 503 &&
	test $(ms_since $t0) -lt 3000 &&
	grep -q "recovery" "$TRASH/log/farm-fcgi.log"
'

test_expect_success 'space freed: service resumes by itself' '
	rm -f "$STATE"/ballast* &&
	wait_healthy 30 &&
	api GET /api/v1/health &&
	test_equal "$(json_get body "d[\"checks\"][\"storage\"]")" ok &&
	$PY "$WRITER" fill "$FARM_URL" "$ADMIN" "$CCI_SECRET" hist --seconds 10 --max-ops 100 --tag c >fill3.out &&
	test "$(json_get fill3.out "d[\"ok\"]")" -ge 100 &&
	test_equal "$(json_get fill3.out "d[\"full\"]")" 0
'

test_expect_success 'every acknowledged write is there, every acknowledged delivery one event' '
	FARM_CONFIG=$STATE/farm.conf "$FARM_BUILD/farmctl" events tail --since 0 --timeout 5 >events.out &&
	$PY "$WRITER" check "$FARM_URL" "$ADMIN" hist events.out
'

test_expect_success 'full again, then SIGTERM stops the whole stack' '
	fill_up "$STATE/ballast" &&
	$PY "$WRITER" fill "$FARM_URL" "$ADMIN" "$CCI_SECRET" hist2 --seconds 10 --full-after 20 --tag d >fill4.out &&
	pids=$(stack_pids) && test -n "$pids" &&
	kill -TERM $FARM_RUN_PID &&
	for i in $(seq 1 150); do
		alive=$(for p in $pids; do kill -0 $p 2>/dev/null && echo $p; done)
		[ -z "$alive" ] && break
		sleep 0.1
	done &&
	{ [ -z "$alive" ] || { echo "still running after 15 s:"; ps -o pid,stat,wchan:20,cmd -p $alive; false; }; } &&
	FARM_RUN_PID=
'

test_expect_success 'logs clean' '
	rm -f "$STATE"/ballast* &&
	check_logs_clean &&
	unmount_state
'

test_done
