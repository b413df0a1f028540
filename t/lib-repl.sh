# lib-repl.sh - the nodes of a replication group for t9500, t9510 and t9520 (issue 19,
# docs/replication.md): each node its own scripts/farm-run (nginx, pool, daemons, state
# dir $TRASH/nodeN), started, waited for and asked for its role the same way.  Source it
# after test-lib.sh.  What differs between the tests is set before sourcing:
#   REPL_NODES   the node numbers (default "1 2 3")
#   REPL_NETNS   run node N inside the network namespace $REPL_NETNS-nN (t9510), its
#                farm-wsd then on the namespace's own 127.0.0.1:8081; unset: no namespace
#   REPL_SECRET  the JWT secret of every node (default the tests' fixed one)
#   HOOK         the Jenkins webhook token of every node (default jenkins-repl-token-0123)
# and per node, after sourcing (repl_hosts sets the first four):
#   HOSTn RPORTn PPORTn HPORTn   its address, replication, pool and HTTP ports
#   KNOWSn       the nodes it lists in replication.peers (default $REPL_NODES; itself skipped)
#   JOINn        its replication.join (default no)
# Stopping nodes stays with each test: by pid (t9500 -9, t9520 TERM then -9) or by
# namespace (t9510).

REPL_NODES=${REPL_NODES:-1 2 3}
REPL_SECRET=${REPL_SECRET:-test-secret-0123456789abcdef0123456789}
HOOK=${HOOK:-jenkins-repl-token-0123}
LOAD=$TEST_DIR/lib-repl-load.py

# repl_hosts PREFIX OFFSET ["RPORT PPORT HPORT"]: node N on PREFIX.(N + OFFSET), on the
# three fixed ports given (in a namespace of its own) or else on free ports.
repl_hosts() {
	local n r p h
	for n in $REPL_NODES; do
		eval "HOST$n=$1.$((n + $2))"
		if [ -n "${3:-}" ]; then
			read -r r p h <<<"$3"
			eval "RPORT$n=$r PPORT$n=$p HPORT$n=$h"
		else
			eval "RPORT$n=$(free_port) PPORT$n=$(free_port) HPORT$n=$(free_port)"
		fi
	done
}

node_url() { eval "echo http://\$HOST$1:\$HPORT$1"; }
site_of() { eval "echo \$HOST$1:\$RPORT$1"; }

# node_env N: the replication environment of node N (farm-run and farmctl alike: the
# generated farm.conf has no replication keys, the FARM_ variables set them).
node_env() {
	local n=$1 m peers="" pools=""
	for m in $(eval echo \${KNOWS$n:-\$REPL_NODES}); do
		[ $m = "$n" ] && continue
		peers="$peers${peers:+,}$(site_of $m)"
		pools="$pools $(eval echo \$HOST$m:\$PPORT$m)"
	done
	export FARM_REPLICATION_LOCAL=$(site_of $n) FARM_REPLICATION_PEERS=$peers
	export FARM_PEER_POOLS="$pools" FARM_REPLICATION_JOIN=$(eval echo \${JOIN$n:-no})
	export JWT_SECRET=$REPL_SECRET
}

# node_start N: node N's farm-run (as make run) in its own session (and namespace);
# NODE_PIDn is the pid of that session's leader (with REPL_NETNS, of `ip netns exec`).
node_start() {
	local n=$1
	mkdir -p "$TRASH/node$n"
	(
		node_env $n
		eval "export FARM_HOST=\$HOST$n FARM_PORT=\$HPORT$n FARM_LISTEN=\$HOST$n:\$PPORT$n"
		export FARM_STATE_DIR=$TRASH/node$n FARM_QUIET=1 FARM_WEBHOOK_JENKINS_TOKEN=$HOOK
		if [ -n "${REPL_NETNS:-}" ]; then
			export FARM_WSD_LISTEN=127.0.0.1:8081 # wsd: loopback only, inside the namespace
			exec ip netns exec "$REPL_NETNS-n$n" setsid "$SRC_DIR/scripts/farm-run" >>"$TRASH/node$n.out" 2>&1
		fi
		exec setsid "$SRC_DIR/scripts/farm-run" >>"$TRASH/node$n.out" 2>&1
	) &
	eval "NODE_PID$n=$!"
	disown # no "Killed" line from the shell when the test kills it
}

node_healthy() { curl -fsS -m 2 -o /dev/null "$(node_url $1)/api/v1/health" 2>/dev/null; }
node_wait() { # node_wait N SECONDS
	local i
	for i in $(seq 1 $((${2:-60} * 10))); do
		node_healthy $1 && return 0
		sleep 0.1
	done
	echo "node $1 not healthy after ${2:-60} s:"
	curl -sS -m 2 "$(node_url $1)/api/v1/health"
	tail -n 20 "$TRASH/node$1.out" "$TRASH/node$1/log/farm-fcgi.log"
	return 1
}
# role_json: the replication role in a /health answer on stdin (master, replica, none), or down.
role_json() { $PY -c 'import json,sys; print(json.load(sys.stdin)["replication"]["role"])' 2>/dev/null || echo down; }
node_role() { curl -sS -m 2 "$(node_url $1)/api/v1/health" 2>/dev/null | role_json; }
master_of() { # master_of N...: the one of those nodes that says it is the master
	local n
	for n in "$@"; do [ "$(node_role $n)" = master ] && { echo $n; return 0; }; done
	return 1
}
# group_start N...: nodes N... started and healthy; M the one that says it is the master.
group_start() {
	local n
	for n in "$@"; do node_start $n || return 1; done
	for n in "$@"; do node_wait $n || return 1; done
	M=$(master_of "$@") && say "master: node $M"
}
# master_within SECONDS N...: master_of N..., asked every 0.1 s until one answers or
# SECONDS pass; then it prints nothing and still succeeds (the callers say what they
# saw, then test it).
master_within() {
	local s=$1 i
	shift
	for i in $(seq 1 $((s * 10))); do
		master_of "$@" && return 0
		sleep 0.1
	done
	return 0
}
# acked FILE: how many writes of a lib-repl-load.py acks file were acknowledged (0 if none).
acked() { local c; c=$(grep -c '"status": 20' "$1" 2>/dev/null); echo "${c:-0}"; }

# node_stop9 N: node N's whole stack killed -9 (its session), waited for up to 2 s.
node_stop9() {
	local pid
	eval "pid=\${NODE_PID$1:-}"
	[ -n "$pid" ] || return 0
	pkill -KILL -s "$pid" 2>/dev/null
	for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	eval "NODE_PID$1="
}
# nodes_stop: every node (1 2 3) stopped with TERM, as an operator would, waited for up
# to 10 s; what is left then is killed -9.  The tests' EXIT trap.
nodes_stop() {
	local n pid left
	for n in 1 2 3; do
		eval "pid=\${NODE_PID$n:-}"
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	for _ in $(seq 1 100); do
		left=
		for n in 1 2 3; do
			eval "pid=\${NODE_PID$n:-}"
			[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && left=1
		done
		[ -z "$left" ] && break
		sleep 0.1
	done
	for n in 1 2 3; do node_stop9 $n; done
}
