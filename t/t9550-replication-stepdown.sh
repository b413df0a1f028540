#!/bin/bash
# t9550-replication-stepdown.sh - a master left without a majority steps down without
# waiting for a checkpoint in its DB_REP_CHECKPOINT_DELAY (issue 19, docs/replication.md
# "Failure modes").  A master's checkpoint sleeps 30 s between telling the replicas to
# flush and writing its record, and the step-down (repmgr_start(DB_REP_CLIENT) in the
# replication child) waits until no thread is inside Berkeley DB: it took 31.8-35 s in
# t9510 when a checkpoint was in that delay, 7.8-11.7 s otherwise.  Here every node
# checkpoints every second (each master checkpoint then spends its 30 s in the delay),
# a master checkpoint is seen entering it, both replicas are killed -9 (their connections
# reset: the master sees no majority at once, no network namespace needed), and the
# master must be a replica within STEPDOWN_MAX_S.
. "$(dirname "$0")/test-lib.sh"

# From the kill: the loss seen at once (connections reset), FARM_REPL_STEPDOWN_MS
# (2 s), the pool's 1 s tick that cuts the delay short, the checkpoint record (its
# acknowledgements time out: replication.ack_timeout, 2 s), the role change.
STEPDOWN_MAX_S=15
# No /health may take this long, during the step-down or after it.  Before
# DB_REP_CONF_NOWAIT a transaction begun while the role change locked operations out
# slept in Berkeley DB's 5 s steps (__op_rep_enter): 5,004-5,102 ms seen.  Now a
# lockout costs what it lasts, retried in 2-50 ms steps (docs/replication.md,
# "Lockouts"): ~1.0-1.2 s seen during the step-down.
READ_MAX_MS=${READ_MAX_MS:-2500}

NET=127.97.$(($$ % 200 + 20))
. "$TEST_DIR/lib-repl.sh"
repl_hosts $NET 1
export FARM_CHECKPOINT_INTERVAL=1

trap 'poll_stop; nodes_stop' EXIT

# in_delay N: the pid of node N's checkpoint child while it sleeps out its delay
# (gdb: select() in __os_yield under __txn_checkpoint; the pool's master, workers and
# replication child wait in sigtimedwait): a farm-fcgi process whose main thread is in
# pselect6 (270) or select (23).
in_delay() {
	local sid p
	eval "sid=\$NODE_PID$1"
	for p in $(pgrep -s "$sid" -x farm-fcgi); do
		case "$(cut -d" " -f1 /proc/$p/syscall 2>/dev/null)" in 270 | 23) echo $p; return 0 ;; esac
	done
	return 1
}

# poll_start N FILE: /health of node N every 100 ms in the background, one line
# "ms code" a request into FILE, until poll_stop.  poll_max FILE: the longest.
poll_start() {
	( url=$(node_url $1)/api/v1/health
	  while :; do
		t=$(date +%s%N)
		c=$(curl -sS -m 10 -o /dev/null -w "%{http_code}" "$url" 2>/dev/null)
		echo "$(( ($(date +%s%N) - t) / 1000000 )) $c" >>"$2"
		sleep 0.1
	  done ) &
	POLL_PID=$!
}
poll_stop() { [ -n "${POLL_PID:-}" ] && kill $POLL_PID 2>/dev/null; wait $POLL_PID 2>/dev/null; POLL_PID=; }
poll_max() { sort -n "$1" | tail -n 1 | cut -d" " -f1; }

test_expect_success 'three nodes start and elect a master' '
	group_start 1 2 3 &&
	test -n "$M"
'

test_expect_success "a checkpoint just began its delay: both replicas killed, the master steps down, no /health over $READ_MAX_MS ms" '
	# The first checkpoint child seen in its delay, then the next one as soon as
	# it is: the old step-down would wait nearly the whole 30 s.
	for i in $(seq 1 450); do CK=$(in_delay $M) && break; sleep 0.1; done &&
	test -n "$CK" &&
	for i in $(seq 1 2000); do CK2=$(in_delay $M) && [ "$CK2" != "$CK" ] && break; sleep 0.02; done &&
	test -n "$CK2" && test "$CK2" != "$CK" &&
	: >during && poll_start $M during &&
	t0=$(date +%s%N) &&
	for n in 1 2 3; do [ $n = $M ] || node_stop9 $n; done &&
	say "checkpoint child $CK2 of node $M in its delay; replicas killed" &&
	for i in $(seq 1 $((STEPDOWN_MAX_S * 3 * 10))); do
		role=$(node_role $M) && [ "$role" = replica ] && break
		sleep 0.1
	done &&
	ms=$(ms_since $t0) &&
	sleep 3 && poll_stop &&
	say "the master (node $M) a replica $ms ms after its replicas were killed (bound $STEPDOWN_MAX_S s)" | tee -a figures &&
	say "its /health polled every 100 ms from the kill to 3 s after: $(wc -l <during) requests, longest $(poll_max during) ms, over 1 s: $(awk "\$1 > 1000 {printf \"%s \", \$1}" during)" | tee -a figures &&
	grep "stepped down\|steps down" "$TRASH/node$M/log/farm-fcgi.log" | sed "s/^/# /" | tee -a figures &&
	test_equal "$role" replica &&
	test "$ms" -le $((STEPDOWN_MAX_S * 1000)) &&
	test "$(poll_max during)" -le "$READ_MAX_MS"
'

# After the step-down, alone (no majority reachable: it keeps calling elections it
# cannot win), the node serves reads from its copy: none may take READ_MAX_MS.
test_expect_success "the old master serves reads, none over $READ_MAX_MS ms" '
	ok=0 && slow=0 && max=0 && all="" &&
	for i in $(seq 1 20); do
		t1=$(date +%s%N) &&
		code=$(curl -sS -m 8 -o /dev/null -w "%{http_code}" "$(node_url $M)/api/v1/health") &&
		[ "$code" = 200 ] && ok=$((ok + 1))
		ms=$(ms_since $t1) && all="$all $ms" &&
		[ "$ms" -gt "$max" ] && max=$ms
		[ "$ms" -gt 1000 ] && slow=$((slow + 1))
		sleep 0.3
	done
	say "old master alone: $ok of 20 /health 200, $slow over 1 s, longest $max ms (ms:$all)" | tee -a figures &&
	test "$ok" -ge 1 &&
	test "$max" -le "$READ_MAX_MS"
'

test_expect_success 'no node logged a sanitizer report or an nginx alert' '
	! grep -lE "AddressSanitizer|runtime error:|LeakSanitizer" "$TRASH"/node*/log/*.log &&
	! grep -E "\[(alert|emerg)\]" "$TRASH"/node*/nginx/error.log
'

[ -f figures ] && cat figures
nodes_stop
test_done
