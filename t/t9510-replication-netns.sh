#!/bin/bash
# t9510-replication-netns.sh - a real link cut between replication nodes (issue 19,
# docs/replication.md).  t9500 runs its three nodes on 127.0.0.2-.4 and freezes a node
# (SIGSTOP) as a stand-in for a cut link; here every node lives in a network namespace
# of its own, joined by a veth pair to a bridge in a fourth namespace ("hub") where the
# test itself runs.  `ip link set <hub end> down` cuts a node off from every other node
# and from the test; up heals it.  Every address (10.77.0.0/24) is inside namespaces
# this script makes, and they are removed at the end, also on failure (trap).
#   1. a replica's link is cut under a write load sent to the master: the load is
#      acknowledged by the other replica (quorum); healed, the replica catches up with
#      every acknowledged write;
#   2. the master's link is cut: the other two elect a new master; writes sent to the
#      cut-off old master (from inside its namespace) are not acknowledged unless they
#      are on the majority (no split-brain acknowledgement); healed, the old master
#      rejoins as a replica and holds every acknowledged write.
# Root only: without `ip netns` (not root, no CAP_SYS_ADMIN, no iproute2) it is skipped.

if [ -z "${FARM_T9510_INNER:-}" ]; then
	skip() { echo "1..0 # SKIP $*"; exit 0; }
	[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
	command -v ip >/dev/null || skip "no ip (iproute2)"
	NS=f9510-$$
	cleanup() {
		local n
		for n in hub n1 n2 n3; do
			# Whatever still runs in a node's namespace (a test that failed early).
			for pid in $(ip netns pids "$NS-$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
			ip netns del "$NS-$n" 2>/dev/null
		done
	}
	ip netns add "$NS-probe" 2>/dev/null || skip "ip netns unavailable"
	ip netns del "$NS-probe"
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP
	set -e
	ip netns add "$NS-hub"
	ip -n "$NS-hub" link set lo up
	ip -n "$NS-hub" link add br0 type bridge
	ip -n "$NS-hub" addr add 10.77.0.254/24 dev br0
	ip -n "$NS-hub" link set br0 up
	for n in 1 2 3; do
		ip netns add "$NS-n$n"
		ip -n "$NS-n$n" link set lo up
		ip -n "$NS-hub" link add "h$n" type veth peer name eth0 netns "$NS-n$n"
		ip -n "$NS-hub" link set "h$n" master br0 up
		ip -n "$NS-n$n" addr add "10.77.0.$n/24" dev eth0
		ip -n "$NS-n$n" link set eth0 up
	done
	set +e
	FARM_T9510_INNER=$NS ip netns exec "$NS-hub" bash "$0" "$@"
	exit $?
fi

. "$(dirname "$0")/test-lib.sh"
NS=$FARM_T9510_INNER

FAILOVER_MAX_S=15
STEPDOWN_MAX_S=45 # 3 s TCP_USER_TIMEOUT + 2 s without a majority + a checkpoint in its
# DB_REP_CHECKPOINT_DELAY (30 s), which the step-down waits for (docs/replication.md)
REPL_NETNS=$NS
. "$TEST_DIR/lib-repl.sh"
repl_hosts 10.77.0 0 "7000 9000 8080" # fixed: each node has its namespace to itself

nodes_stop() { # TERM, then KILL, everything in the nodes' namespaces
	local n pid
	for n in 1 2 3; do
		for pid in $(ip netns pids "$NS-n$n" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
	done
	sleep 2
	for n in 1 2 3; do
		for pid in $(ip netns pids "$NS-n$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
	done
}
trap 'nodes_stop' EXIT

link() { ip link set "h$1" "$2"; } # link N down|up: the hub end of node N's veth

# node_role_inside N: asked from inside node N's namespace (it may be cut off from the hub).
node_role_inside() { ip netns exec "$NS-n$1" curl -sS -m 2 "$(node_url $1)/api/v1/health" 2>/dev/null | role_json; }

test_expect_success 'three nodes in their namespaces elect one master' '
	group_start 1 2 3 &&
	roles="$(node_role 1) $(node_role 2) $(node_role 3)" &&
	test_equal "$(echo $roles | tr " " "\n" | sort | tr "\n" " ")" "master replica replica "
'

[ $test_failed = 0 ] || { nodes_stop; test_done; } # no group: nothing else can pass

TOKEN=$(FARM_CONFIG=$TRASH/node1/farm.conf JWT_SECRET=$REPL_SECRET "$FARM_BUILD/farmctl" token --sub admin --role admin --ttl 1h)

test_expect_success 'a replica cut off under load, healed, catches up with every acknowledged write' '
	X=$(for n in 1 2 3; do [ $n != $M ] && echo $n; done | head -n 1) &&
	rm -f acks1.jsonl &&
	LOAD_TAG=cut- bg $PY "$LOAD" load acks1.jsonl "$TOKEN" $HOOK 240 $(node_url $M) &&
	LOADER=$BG_PID &&
	for i in $(seq 1 300); do [ "$(acked acks1.jsonl)" -ge 40 ] && break; sleep 0.1; done &&
	link $X down &&
	say "node $X cut off after $(acked acks1.jsonl) acknowledged writes" &&
	! node_healthy $X &&
	wait $LOADER &&
	say "answers during the cut: $(cut -d, -f4 acks1.jsonl | sort | uniq -c | tr -s " \n" " ")" &&
	# A loaded machine may let a few commits miss replication.ack_timeout (504: not
	# acknowledged, and not checked below); most must be acknowledged by the quorum left.
	test "$(acked acks1.jsonl)" -ge 200 &&
	# Cut off, the node has not got the writes made after the cut.
	! LOAD_TAG=cut- ip netns exec $NS-n$X $PY "$LOAD" check acks1.jsonl "$TOKEN" $(node_url $X) >cut.out &&
	tail -n 3 cut.out &&
	link $X up &&
	t0=$(date +%s%N) &&
	for i in $(seq 1 60); do
		LOAD_TAG=cut- $PY "$LOAD" check acks1.jsonl "$TOKEN" $(node_url $X) >check1.out &&
			[ "$(node_role $X)" = replica ] && break
		sleep 0.5
	done &&
	say "healed node $X caught up in $(ms_since $t0) ms" | tee -a figures &&
	cat check1.out &&
	LOAD_TAG=cut- $PY "$LOAD" check acks1.jsonl "$TOKEN" $(node_url 1) $(node_url 2) $(node_url 3) &&
	# One master: usually still M, but a loaded machine may miss heartbeats and hold an
	# election while the healed node rejoins (seen twice in ~12 runs); what matters is
	# one master and nothing acknowledged lost (checked above).  M follows it.
	for i in $(seq 1 150); do
		masters=$(for n in 1 2 3; do [ "$(node_role $n)" = master ] && echo $n; done)
		[ "$(echo "$masters" | grep -c .)" = 1 ] && break
		sleep 0.1
	done &&
	test "$(echo "$masters" | grep -c .)" = 1 &&
	{ [ "$masters" = "$M" ] || say "the master moved from node $M to node $masters during the heal"; } &&
	M=$masters
'

test_expect_success 'the master cut off: a new master among the two, no split-brain acknowledgement' '
	OTHERS=$(for n in 1 2 3; do [ $n != $M ] && echo $n; done | tr "\n" " ") &&
	link $M down &&
	t0=$(date +%s%N) &&
	# Writes sent to the old master from inside its namespace (nobody else reaches it),
	# from the cut on: the first ones it commits as master, unacknowledged (504); once
	# it stepped down they are not written at all.
	rm -f acksM.jsonl &&
	LOAD_TAG=old- LOAD_THREADS=4 bg ip netns exec $NS-n$M $PY "$LOAD" load acksM.jsonl "$TOKEN" $HOOK 12 $(node_url $M) &&
	LOADER=$BG_PID &&
	NEW=$(master_within $FAILOVER_MAX_S $OTHERS) &&
	FAILOVER_MS=$(ms_since $t0) &&
	say "link of master $M cut: node $NEW master after $FAILOVER_MS ms (bound $FAILOVER_MAX_S s)" | tee -a figures &&
	test -n "$NEW" && test "$FAILOVER_MS" -le $((FAILOVER_MAX_S * 1000)) &&
	# Cut off from the majority, the old master steps down on its own (TCP_USER_TIMEOUT
	# 3 s on its repmgr connections, then FARM_REPL_STEPDOWN_MS without a majority).
	for i in $(seq 1 $((STEPDOWN_MAX_S * 10))); do
		[ "$(node_role_inside $M)" = replica ] && break
		sleep 0.1
	done &&
	STEPDOWN_MS=$(ms_since $t0) &&
	say "cut-off master $M: $(node_role_inside $M) after $STEPDOWN_MS ms (bound $STEPDOWN_MAX_S s)" | tee -a figures &&
	test_equal "$(node_role_inside $M)" replica &&
	test "$STEPDOWN_MS" -le $((STEPDOWN_MAX_S * 1000)) &&
	wait $LOADER &&
	say "old master $M ($(node_role_inside $M)) answered: $(cut -d, -f4 acksM.jsonl | sort | uniq -c | tr -s " \n" " ")" | tee -a figures &&
	test "$(grep -c . acksM.jsonl)" -eq 12 &&
	# Any it acknowledged must be on the majority (with quorum acks: none is).
	LOAD_TAG=old- $PY "$LOAD" check acksM.jsonl "$TOKEN" $(node_url $NEW) $(for n in $OTHERS; do node_url $n; done) &&
	# The majority takes writes.
	rm -f acks2.jsonl &&
	LOAD_TAG=maj- $PY "$LOAD" load acks2.jsonl "$TOKEN" $HOOK 40 $(node_url $NEW) &&
	test "$(acked acks2.jsonl)" -ge 30
'

[ -f figures ] && cat figures

link $M up
# Healed, the old master (a replica since it stepped down) meets the new master and
# syncs with it: it rolls back what it committed unacknowledged, which kills the
# database handles of every process of the node (DB_REP_HANDLE_DEAD); workers are
# replaced and the daemons reopen theirs, so its API serves the caught-up copy.  (Before:
# it stayed master for up to 130 s after the heal, and its GET /events answered 503
# until the end of every run.)
test_expect_success 'healed, the old master is a replica, one master, its API serves the catch-up (30 s)' '
	t0=$(date +%s%N) &&
	for i in $(seq 1 60); do
		[ "$(node_role $M)" = replica ] &&
			[ "$(for n in 1 2 3; do node_role $n; done | grep -c "^master$")" -eq 1 ] &&
			LOAD_TAG=maj- $PY "$LOAD" check acks2.jsonl "$TOKEN" $(node_url $M) >heal.out && break
		sleep 0.5
	done &&
	say "healed old master $M: $(node_role $M), caught up in $(ms_since $t0) ms" | tee -a figures &&
	cat heal.out &&
	test_equal "$(node_role $M)" replica &&
	test_equal "$(master_of 1 2 3)" "$NEW" &&
	test_equal "$(curl -s -o /dev/null -w %{http_code} -m 5 -H "Authorization: Bearer $TOKEN" \
		"$(node_url $M)/api/v1/events?since=0")" 200 &&
	LOAD_TAG=maj- $PY "$LOAD" check acks2.jsonl "$TOKEN" $(node_url $M)
'

test_expect_success 'healed, the old master still acknowledges nothing the majority lacks' '
	say "old master $M after the heal: $(node_role $M), GET /events $(curl -s -o /dev/null -w %{http_code} -m 5 \
		-H "Authorization: Bearer $TOKEN" "$(node_url $M)/api/v1/events?since=0"); node $NEW: $(node_role $NEW)" | tee -a figures &&
	rm -f acksH.jsonl &&
	LOAD_TAG=heal- $PY "$LOAD" load acksH.jsonl "$TOKEN" $HOOK 8 $(node_url $M) &&
	say "old master $M answered after the heal: $(cut -d, -f4 acksH.jsonl | sort | uniq -c | tr -s " \n" " ")" | tee -a figures &&
	test "$(grep -c . acksH.jsonl)" -eq 8 &&
	LOAD_TAG=heal- $PY "$LOAD" check acksH.jsonl "$TOKEN" $(node_url $NEW) $(for n in $OTHERS; do node_url $n; done) &&
	LOAD_TAG=old- $PY "$LOAD" check acksM.jsonl "$TOKEN" $(node_url $NEW) $(for n in $OTHERS; do node_url $n; done) &&
	LOAD_TAG=cut- $PY "$LOAD" check acks1.jsonl "$TOKEN" $(node_url $NEW) $(for n in $OTHERS; do node_url $n; done)
'

[ -f figures ] && sed -n '3,$p' figures

test_expect_success 'no node logged a sanitizer report or an nginx alert' '
	! grep -lE "AddressSanitizer|runtime error:|LeakSanitizer" "$TRASH"/node*/log/*.log &&
	! grep -E "\[(alert|emerg)\]" "$TRASH"/node*/nginx/error.log
'

nodes_stop
test_done
