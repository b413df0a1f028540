#!/bin/bash
# t9520-replication-ops.sh - the operations of a replication group (issue 19,
# docs/replication.md "Operations"), on 127.0.0.2-.5, each node its own nginx, pool,
# daemons and state dir (scripts/farm-run, as t9500):
#   - a fourth node joins a running group of three (replication.join): it catches up
#     (every acknowledged write, the event history) and farmctl replication status
#     shows it, on it and on the master;
#   - a replica is stopped and taken out of the membership (farmctl replication
#     remove: DB_SITE->remove): the master's site list no longer has it;
#   - a rolling restart of the three left, one at a time (replicas first, the master
#     last, each restarted with the others in its peers and upstream), under a small
#     write load spread over them: nothing acknowledged is lost, event ids unique and
#     consecutive on every node.  While the master is down the other two elect a new
#     one before it comes back: a majority of three, which two of four would not be,
#     so this also checks the removal;
#   - a backup taken on a replica (farmctl db backup) restores to a working single
#     node that has every acknowledged write.
# t/lib-repl-load.py drives the loads and checks.
. "$(dirname "$0")/test-lib.sh"

REPL_NODES="1 2 3 4"
. "$TEST_DIR/lib-repl.sh"
repl_hosts 127.0.0 1
for n in $REPL_NODES; do
	eval "KNOWS$n='1 2 3'" # the nodes each one lists in replication.peers (itself skipped)
done
JOIN4=yes

# node_stop N: SIGTERM to farm-run (it stops the stack), then its session, -9.
node_stop() {
	local pid
	eval "pid=\${NODE_PID$1:-}"
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	pkill -KILL -s "$pid" 2>/dev/null
	for _ in $(seq 1 40); do pgrep -s "$pid" >/dev/null || break; sleep 0.05; done
	eval "NODE_PID$1="
}
nodes_stop() {
	for n in 1 2 3 4 single; do node_stop $n; done
}
trap 'nodes_stop' EXIT

# single_start DIR PORT: a node without replication on DIR (a restored backup).
single_start() {
	(
		export FARM_HOST=127.0.0.2 FARM_PORT=$2 FARM_STATE_DIR=$1 FARM_QUIET=1
		export JWT_SECRET=$REPL_SECRET FARM_WEBHOOK_JENKINS_TOKEN=$HOOK
		exec setsid "$SRC_DIR/scripts/farm-run" >>"$1.out" 2>&1
	) &
	NODE_PIDsingle=$!
	disown
}

# farmctl on node N, as that node's programs run it.
nodectl() {
	local n=$1
	shift
	(node_env $n && FARM_CONFIG=$TRASH/node$n/farm.conf "$FARM_BUILD/farmctl" "$@")
}

# check_until SECONDS TAG ACKS URL...: lib-repl-load.py check, retried while replicas catch up.
check_until() {
	local s=$1 tag=$2 acks=$3 i
	shift 3
	for i in $(seq 1 $((s * 2))); do
		LOAD_TAG=$tag $PY "$LOAD" check "$acks" "$TOKEN" "$@" >check.out 2>&1 && break
		sleep 0.5
	done
	cat check.out
	LOAD_TAG=$tag $PY "$LOAD" check "$acks" "$TOKEN" "$@"
}

test_expect_success 'the shipped nginx pieces of a node parse (nginx -t) and are installed' '
	mkdir -p ngx/logs &&
	NPORT=$(free_port) &&
	cat >ngx/nginx.conf <<-EOF &&
	events {}
	http {
	    upstream farm_fcgi { server 127.0.0.2:9; }
	    include $SRC_DIR/nginx/farm-replication.conf;
	    server {
	        listen 127.0.0.2:$NPORT;
	        location / { include $SRC_DIR/nginx/farm-fastcgi.conf; fastcgi_pass \$farm_fcgi_pool; }
	    }
	}
	EOF
	nginx -t -p "$TRASH/ngx" -c "$TRASH/ngx/nginx.conf" -e "$TRASH/ngx/logs/error.log" 2>ngx.out &&
	cat ngx.out && test_grep "test is successful" ngx.out &&
	grep -q "^ListenStream=$" "$SRC_DIR/scripts/systemd/farm.socket-replication.conf" &&
	grep -q "farm.socket-replication.conf nginx/farm-replication.conf" "$SRC_DIR/Makefile"
'

test_expect_success 'three nodes start and take acknowledged writes' '
	group_start 1 2 3 &&
	TOKEN=$(nodectl 1 token --sub admin --role admin --ttl 1h) &&
	LOAD_TAG=a- $PY "$LOAD" load acks-a.jsonl "$TOKEN" $HOOK 60 $(node_url 1) $(node_url 2) $(node_url 3) &&
	test "$(acked acks-a.jsonl)" -eq 60
'

test_expect_success 'a fourth node joins the running group and catches up' '
	t0=$(date +%s%N) &&
	KNOWS4="1 2 3" && node_start 4 &&
	node_wait 4 60 &&
	check_until 30 a- acks-a.jsonl $(node_url 4) &&
	say "node 4 joined and had every acknowledged write after $(ms_since $t0) ms" | tee -a figures &&
	test_equal "$(node_role 4)" replica &&
	nodectl 4 replication status >st4 && cat st4 &&
	test_grep "^role: replica" st4 &&
	test_grep "^master: $(site_of $M)$" st4 &&
	test_grep "^caught up: yes" st4 &&
	nodectl $M replication status >stM && cat stM &&
	test_grep "^peer: $(site_of 4) reachable$" stM
'

test_expect_success 'a replica is stopped and removed from the membership' '
	G=$(for m in 1 2 3; do [ $m != $M ] && echo $m; done | head -n 1) &&
	say "removing node $G (master: node $M)" &&
	node_stop $G &&
	nodectl $M replication remove $(site_of $G) >rm.out && cat rm.out &&
	test_grep "removed $(site_of $G)" rm.out &&
	nodectl $M replication status >stM2 && cat stM2 &&
	test_no_grep "^peer: $(site_of $G) " stM2 &&
	LEFT=$(for m in 1 2 3 4; do [ $m != $G ] && echo $m; done | tr "\n" " ") &&
	for m in $LEFT; do eval "KNOWS$m=\"$LEFT\""; done
'

test_expect_success 'rolling restart of the three left under writes: nothing acknowledged lost' '
	rm -f load.stop acks-r.jsonl &&
	URLS="$(for m in $LEFT; do node_url $m; done)" &&
	LOAD_TAG=r- LOAD_THREADS=2 bg $PY "$LOAD" load acks-r.jsonl "$TOKEN" $HOOK 100000 $URLS &&
	LOADER=$BG_PID &&
	t0=$(date +%s%N) &&
	for n in $(for m in $LEFT; do [ $m != $M ] && echo $m; done) $M; do
		r0=$(date +%s%N) &&
		node_stop $n &&
		if [ $n = $M ]; then
			OTHERS=$(for m in $LEFT; do [ $m != $M ] && echo $m; done | tr "\n" " ") &&
			E=$(master_within 45 $OTHERS) &&
			say "master node $M stopped: node ${E:-none} master of the other two after $(ms_since $r0) ms" | tee -a figures &&
			test -n "$E" || return 1
		fi &&
		node_start $n && node_wait $n 60 &&
		say "node $n restarted, healthy after $(ms_since $r0) ms; roles now $(for m in $LEFT; do node_role $m; done | tr "\n" " ")" || return 1
	done &&
	say "rolling restart of 3 nodes: $(ms_since $t0) ms" | tee -a figures &&
	sleep 1 && touch load.stop && wait $LOADER &&
	NEWM=$(master_of $LEFT) && say "master now: node $NEWM" &&
	say "answers during the restart (count status): $(sed -n "s/.*\"status\": \([0-9]*\).*/\1/p" acks-r.jsonl | sort | uniq -c | tr -s " \n" " ")" | tee -a figures &&
	test "$(acked acks-r.jsonl)" -gt 20 &&
	check_until 30 r- acks-r.jsonl $URLS &&
	check_until 5 a- acks-a.jsonl $URLS
'

test_expect_success 'a backup taken on a replica restores to a working single node' '
	X=$(for m in $LEFT; do [ $m != $NEWM ] && echo $m; done | head -n 1) &&
	test_equal "$(node_role $X)" replica &&
	nodectl $X db backup "$TRASH/backup" >backup.out && cat backup.out &&
	test_grep "backup written" backup.out &&
	cp -a "$TRASH/backup" "$TRASH/nodesingle" &&
	SPORT=$(free_port) && single_start "$TRASH/nodesingle" $SPORT &&
	SURL=http://127.0.0.2:$SPORT &&
	for i in $(seq 1 300); do curl -fsS -m 2 -o /dev/null $SURL/api/v1/health 2>/dev/null && break; sleep 0.1; done &&
	curl -sS $SURL/api/v1/health >hs && cat hs && echo &&
	test_equal "$(json_get hs "d[\"status\"]")" ok &&
	LOAD_TAG=a- $PY "$LOAD" check acks-a.jsonl "$TOKEN" $SURL &&
	LOAD_TAG=r- $PY "$LOAD" check acks-r.jsonl "$TOKEN" $SURL &&
	FARM_URL=$SURL api POST /api/v1/integrations/credentials \
		"{\"type\":\"argocd\",\"name\":\"after-restore\",\"value\":{\"url\":\"https://a.example.com\",\"token\":\"x\"}}" &&
	expect_status 201 &&
	node_stop single
'

[ -f figures ] && cat figures # the measurements, as TAP comments

test_expect_success 'no node logged a sanitizer report or an nginx alert' '
	! grep -lE "AddressSanitizer|runtime error:|LeakSanitizer" "$TRASH"/node*/log/*.log &&
	! grep -E "\[(alert|emerg)\]" "$TRASH"/node*/nginx/error.log
'

nodes_stop
test_done
