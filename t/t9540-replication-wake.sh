#!/bin/bash
# t9540-replication-wake.sh - a replica's WebSocket clients get each event about when
# the master's do (issue 19, docs/replication.md "Events across nodes"): a replica has
# no farm-eventd publishing to its farm-wsd, which wakes on replication's writes to
# the log files (inotify, farm-wsd-wake.c) instead of waiting for its 250 ms tick.
# Three nodes on 127.97.X.2-4 (t/lib-repl.sh); one client (scripts/bench-events-
# clients.py: kernel receive timestamps) on each node; EVENTS CircleCI webhooks sent to
# the master one at a time, at random gaps (so the tick's phase is random too); per
# event, a replica's receipt minus the master's.  With the tick alone that lag is
# spread over 0-250 ms (median ~125-160 ms: measured, see docs/replication.md); the
# bound LAG_MEDIAN_MAX_MS fails then.  Then the watch follows the role: after the
# master's kill -9 the new master drops it, and the old master, back as a replica,
# takes it.
. "$(dirname "$0")/test-lib.sh"

EVENTS=20
LAG_MEDIAN_MAX_MS=${LAG_MEDIAN_MAX_MS:-80}
CCI=wake-circleci-secret-0123456789
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI
CLIENTS_PY=$SRC_DIR/scripts/bench-events-clients.py
POSTER=$TEST_DIR/events-post.py

# Addresses of this run only (t9500 has 127.95, t9530 127.96: they may run side by side).
NET=127.97.$(($$ % 200 + 20))
. "$TEST_DIR/lib-repl.sh"
repl_hosts $NET 1

trap '[ -n "${CLIENTS:-}" ] && kill $CLIENTS 2>/dev/null; nodes_stop' EXIT

wsd_log() { echo "$TRASH/node$1/log/farm-wsd.log"; }
WATCH_ON="a replica: new events are read when replication writes the log"
WATCH_OFF="the master: new events come from events.pub"

test_expect_success 'three nodes: the replicas watch their log, the master does not' '
	group_start 1 2 3 &&
	REPLICAS=$(for n in 1 2 3; do [ $n != $M ] && echo $n; done | tr "\n" " ") &&
	for n in $REPLICAS; do
		for i in $(seq 1 20); do grep -q "$WATCH_ON" "$(wsd_log $n)" && break; sleep 0.1; done &&
		test_grep "$WATCH_ON" "$(wsd_log $n)" || return 1
	done &&
	test_no_grep "$WATCH_ON" "$(wsd_log $M)"
'

TOKEN=$(FARM_CONFIG=$TRASH/node1/farm.conf JWT_SECRET=$REPL_SECRET \
	"$FARM_BUILD/farmctl" token --sub wake --ttl 1h)

# lag_round TAG START COUNT NODE...: one client on each NODE, COUNT events to the
# master ($M) numbered from START; prints per node "N median p90 max" of its receipt
# minus the master's client's, ms, into TAG.lag; fails when a client missed an event.
lag_round() {
	local tag=$1 start=$2 count=$3 n k pids=""
	shift 3
	for n in $M "$@"; do
		rm -f "$tag.$n.ready" "$tag.$n.out"
		bg $PY "$CLIENTS_PY" --host "$(eval echo \$HOST$n)" --port "$(eval echo \$HPORT$n)" \
			--token "$TOKEN" --n 1 --ready "$tag.$n.ready" --out "$tag.$n.out" \
			--duration 60 --expect "$count"
		pids="$pids $BG_PID"
	done
	CLIENTS=$pids
	for n in $M "$@"; do
		for _ in $(seq 1 100); do [ -e "$tag.$n.ready" ] && break; sleep 0.1; done
		[ -e "$tag.$n.ready" ] || { echo "client on node $n did not connect"; return 1; }
	done
	for k in $(seq "$start" $((start + count - 1))); do
		$PY "$POSTER" --url "$(node_url $M)" --secret "$CCI" --count 1 --start "$k" \
			--tag "$tag" >/dev/null || return 1
		sleep "0.$((RANDOM % 200 + 150))"
	done
	for p in $pids; do wait "$p"; done
	CLIENTS=
	$PY - "$tag" "$start" "$count" "$M" "$@" >"$tag.lag" <<-\EOF || { cat "$tag.lag"; return 1; }
	import sys
	tag, start, count, m, nodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]
	def got(n):
	    d = {}
	    for l in open("%s.%s.out" % (tag, n)):
	        i, t = l.split()
	        d[int(i)] = float(t)
	    return d
	want = set(range(start, start + count))
	ms, bad = got(m), 0
	if set(ms) != want:
	    print("master's client: got %s" % sorted(ms)); bad = 1
	for n in nodes:
	    rs = got(n)
	    if set(rs) != want:
	        print("node %s client: got %s" % (n, sorted(rs))); bad = 1
	        continue
	    lag = sorted((rs[i] - ms[i]) * 1000 for i in want)
	    print("%s %.0f %.0f %.0f %s" % (n, lag[len(lag) // 2], lag[len(lag) * 9 // 10], lag[-1],
	                                    " ".join("%.0f" % x for x in lag)))
	sys.exit(bad)
	EOF
}
lag_ok() { # lag_ok TAG: every node's median under the bound
	local n med p90 max rest
	while read -r n med p90 max rest; do
		say "node $n: receipt minus the master's client: median $med ms, p90 $p90, max $max (bound: median < $LAG_MEDIAN_MAX_MS)" | tee -a figures
		test "$med" -lt "$LAG_MEDIAN_MAX_MS" || return 1
	done <"$1.lag"
}

test_expect_success "a replica's client gets each event soon after the master's (median < $LAG_MEDIAN_MAX_MS ms)" '
	lag_round r1 1 $EVENTS $REPLICAS &&
	cat r1.lag &&
	lag_ok r1
'

test_expect_success 'kill -9 of the master: the new master drops the watch, the other replica keeps it' '
	OLD=$M &&
	t0=$(date +%s%N) &&
	node_stop9 $OLD &&
	SURV=$REPLICAS &&
	M=$(master_within 15 $SURV) &&
	test -n "$M" &&
	el=$(ms_since $t0) &&
	say "new master: node $M" &&
	# Its farm-wsd reads the role every 250 ms tick; 10 s for a loaded machine.  Once
	# it had not switched 7 s after the election (before DB_REP_CONF_NOWAIT, a
	# transaction begun during the role change slept 5 s in Berkeley DB): then where
	# its event loop is goes to gdb.out.
	for i in $(seq 1 100); do grep -q "$WATCH_OFF" "$(wsd_log $M)" && break; sleep 0.1; done &&
	{ grep -q "$WATCH_OFF" "$(wsd_log $M)" || {
		command -v gdb >/dev/null &&
			gdb -batch -p "$(cat "$TRASH/node$M/run/farm-wsd.pid")" -ex "thread apply all bt" >gdb.out 2>&1
		false
	}; } &&
	test_grep "$WATCH_OFF" "$(wsd_log $M)" &&
	say "kill -9 to new master seen $el ms, to its farm-wsd dropping the watch $(ms_since $t0) ms" | tee -a figures &&
	R=$(for n in $SURV; do [ $n != $M ] && echo $n; done | head -n 1) &&
	test_no_grep "$WATCH_OFF" "$(wsd_log $R)"
'

test_expect_success 'the old master, back as a replica, watches its log: its client is as quick' '
	: >"$(wsd_log $OLD)" &&
	node_start $OLD &&
	node_wait $OLD 60 &&
	test_equal "$(node_role $OLD)" replica &&
	for i in $(seq 1 20); do grep -q "$WATCH_ON" "$(wsd_log $OLD)" && break; sleep 0.1; done &&
	test_grep "$WATCH_ON" "$(wsd_log $OLD)" &&
	lag_round r2 101 10 $OLD $R &&
	cat r2.lag &&
	lag_ok r2
'

[ -f figures ] && cat figures

test_expect_success 'a replica read its history a bounded number of times per log write' '
	# The log line farm-wsd writes when it stops (nodes_stop: TERM).
	kill -TERM "$(cat "$TRASH/node$R/run/farm-wsd.pid")" &&
	for i in $(seq 1 50); do grep -q "replica wake-ups:" "$(wsd_log $R)" && break; sleep 0.1; done &&
	grep "replica wake-ups:" "$(wsd_log $R)" | tail -n 1 >wk &&
	cat wk &&
	w=$(sed -n "s/.*wake-ups: \([0-9]*\) log writes, \([0-9]*\) history reads, \([0-9]*\) found.*/\1/p" wk) &&
	r=$(sed -n "s/.*wake-ups: \([0-9]*\) log writes, \([0-9]*\) history reads, \([0-9]*\) found.*/\2/p" wk) &&
	f=$(sed -n "s/.*wake-ups: \([0-9]*\) log writes, \([0-9]*\) history reads, \([0-9]*\) found.*/\3/p" wk) &&
	say "node $R: $w log-write wake-ups, $r history reads, $f found new events ($((EVENTS + 10)) events sent)" &&
	test "$f" -ge 1 &&
	test "$r" -le $((5 * w))
'

test_expect_success 'no node logged a sanitizer report or an nginx alert' '
	! grep -lE "AddressSanitizer|runtime error:|LeakSanitizer" "$TRASH"/node*/log/*.log &&
	! grep -E "\[(alert|emerg)\]" "$TRASH"/node*/nginx/error.log
'

nodes_stop
test_done
