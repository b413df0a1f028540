#!/bin/bash
# t7200-status.sh - GET /farm-status, the operator's view (php-fpm's pm.status_path):
# its listen queue measured on a real socket, its numbers moving with the traffic
# through nginx, JSON and Prometheus text, loopback-only access; the slow-request
# log; `farmctl events tail`.

. "$(dirname "$0")/test-lib.sh"

JENKINS_TOKEN=status-test-jenkins-token-0123
JWT_SECRET=status-test-secret-0123456789abcdef

# ---- the listen queue, on the FastCGI socket itself (no nginx) ----------------------
# One worker with one thread.  A client keeps its FastCGI connection open
# (FCGI_KEEP_CONN) and holds the only thread with a slow request; connections made
# meanwhile wait in the kernel's accept queue.  The status request the client sent
# behind the slow one is served when the thread is free again, after at most one
# of the waiting connections was accepted (the thread takes one ready event at a
# time, in the order they became ready), so it must count all of them or all but
# one; moments later the thread has accepted them all.

cat >fcgi-status.py <<'EOF'
import json, socket, struct, sys, time

def record(kind, rid, content):
    return struct.pack("!BBHHBx", 1, kind, rid, len(content), 0) + content

def nv(d):
    out = b""
    for k, v in d.items():
        k, v = k.encode(), v.encode()
        for x in (k, v):
            out += bytes([len(x)]) if len(x) < 128 else struct.pack("!I", len(x) | 0x80000000)
        out += k + v
    return out

def send(s, uri, query=""):
    params = {"REQUEST_METHOD": "GET", "REQUEST_URI": uri + ("?" + query if query else ""),
              "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}
    s.sendall(record(1, 1, struct.pack("!HB5x", 1, 1)) +  # BEGIN_REQUEST responder, KEEP_CONN
              record(4, 1, nv(params)) + record(4, 1, b"") + record(5, 1, b""))

pending = {}

def answer(s):
    out, buf = b"", pending.get(s, b"")
    while True:
        while len(buf) < 8 or len(buf) < 8 + struct.unpack("!H", buf[4:6])[0] + buf[6]:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("connection closed")
            buf += chunk
        _, kind, _, clen, plen = struct.unpack("!BBHHB", buf[:7])
        content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
        if kind == 6:
            out += content
        elif kind == 3:
            pending[s] = buf
            head, _, body = out.partition(b"\r\n\r\n")
            return head.decode(), body.decode()

def ask(s, uri, query=""):
    send(s, uri, query)
    return answer(s)

def connect(addr):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(addr[5:])
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    return s

addr, waiting = sys.argv[1], int(sys.argv[2])
s = connect(addr)
_, body = ask(s, "/farm-status")
before = json.loads(body)["pool"]
send(s, "/api/v1/__debug/sleep", "ms=1000")  # holds the only thread
time.sleep(0.3)
extra = [connect(addr) for _ in range(waiting)]
time.sleep(0.2)
send(s, "/farm-status")                      # waits for the thread, which serves it
_, body = answer(s)                          # before it accepts the new connections
assert '"slept":1000' in body, body
_, body = answer(s)
after = json.loads(body)["pool"]
time.sleep(0.2)                              # now every connection has been accepted
head, text = ask(s, "/farm-status", "format=prometheus")
print(json.dumps({"before": before, "after": after, "head": head, "text": text}))
EOF

run_queue_probe() { # run_queue_probe LISTEN N: a one-thread pool, N waiting clients
	local dir=$TRASH/q-$3
	mkdir -p "$dir"
	env -u FARM_CONFIG JWT_SECRET=$JWT_SECRET FARM_LISTEN="$1" FARM_STATE_DIR="$dir/db" \
		FARM_WORKERS=1 FARM_THREADS=1 FARM_EVENTS_PUB= FARM_WSD_LISTEN= FARM_DEBUG_ROUTES=yes \
		"$FARM_BUILD/farm-fcgi" 2>"$dir/farm-fcgi.log" &
	local pid=$! i
	for i in $(seq 1 100); do
		grep -q "ready" "$dir/farm-fcgi.log" && break
		sleep 0.05
	done
	$PY fcgi-status.py "$1" "$2" >"probe-$3.json"
	local rc=$?
	kill -TERM $pid
	wait $pid
	return $rc
}

test_expect_success 'listen queue (unix socket): connections nobody accepted yet are counted' '
	run_queue_probe "unix:$TRASH/q.sock" 3 unix &&
	test_equal "$(json_get probe-unix.json "d[\"before\"][\"listen_queue\"]")" 0 &&
	q=$(json_get probe-unix.json "d[\"after\"][\"listen_queue\"]") &&
	{ [ "$q" = 3 ] || [ "$q" = 2 ]; } &&
	test_equal "$(json_get probe-unix.json "d[\"after\"][\"listen_queue_len\"]")" 1024 &&
	test_equal "$(json_get probe-unix.json "d[\"after\"][\"threads\"][\"active\"]")" 1 &&
	test_equal "$(json_get probe-unix.json "d[\"after\"][\"threads\"][\"idle\"]")" 0
'

test_expect_success 'listen queue (TCP): the same through TCP_INFO' '
	qport=$(free_port) &&
	run_queue_probe "127.0.0.1:$qport" 2 tcp &&
	test_equal "$(json_get probe-tcp.json "d[\"before\"][\"listen_queue\"]")" 0 &&
	q=$(json_get probe-tcp.json "d[\"after\"][\"listen_queue\"]") &&
	{ [ "$q" = 2 ] || [ "$q" = 1 ]; } &&
	test_equal "$(json_get probe-tcp.json "d[\"after\"][\"listen_queue_len\"]")" 1024
'

test_expect_success 'Prometheus text on the socket: the same numbers, text/plain 0.0.4' '
	json_get probe-unix.json "d[\"head\"]" >prom.head &&
	test_grep "Content-Type: text/plain; version=0.0.4" prom.head &&
	json_get probe-unix.json "d[\"text\"]" >prom.txt &&
	test_grep "^farm_pool_listen_queue 0$" prom.txt &&
	test_grep "^farm_pool_listen_queue_len 1024$" prom.txt &&
	test_grep "^# TYPE farm_pool_accepted_requests_total counter$" prom.txt
'

# ---- through nginx ----------------------------------------------------------------

export JWT_SECRET
export FARM_DEBUG_ROUTES=yes
export FARM_REQUEST_SLOWLOG_TIMEOUT=1
export FARM_WEBHOOK_JENKINS_TOKEN=$JENKINS_TOKEN
export FARM_RUN_SUPERVISE_EXCEPT=farm-eventd
status() { api GET /farm-status "" "$@" && expect_status 200; }
sget() { json_get body "$1"; }

test_expect_success 'the stack starts with a second listen address (127.0.0.2)' '
	port=$(free_port) && export FARM_NGINX_EXTRA_LISTEN="listen 127.0.0.2:$port;" &&
	start_farm &&
	test_grep "listen 127.0.0.2:$port;" state/nginx/nginx.conf
'

test_expect_success 'JSON: every field is there, with its type' '
	status &&
	$PY -c "
import json, sys
d = json.load(open(\"body\"))
p, st, ev = d[\"pool\"], d[\"storage\"], d[\"events\"]
ints = [p[\"accepted\"], p[\"max_children_reached\"], p[\"slow_requests\"], p[\"respawns\"],
        p[\"recoveries\"], p[\"killed_stuck\"], p[\"listen_queue\"], p[\"listen_queue_len\"],
        p[\"workers\"][\"active\"], p[\"workers\"][\"idle\"], p[\"workers\"][\"draining\"],
        p[\"threads\"][\"active\"], p[\"threads\"][\"idle\"], st[\"txn_commits\"], st[\"txn_aborts\"],
        st[\"deadlocks\"], st[\"log_files\"], st[\"outbox_depth\"], d[\"uptime\"], d[\"start_time\"]]
assert all(type(v) is int and v >= 0 for v in ints), ints
assert p[\"workers\"][\"configured\"] == 2, p
assert p[\"workers\"][\"active\"] + p[\"workers\"][\"idle\"] == 2, p
assert st[\"status\"] == \"ok\", st
assert ev[\"sidecar\"] == \"up\" and ev[\"bridge\"] in (\"up\", \"disabled\"), ev
assert type(ev[\"websocket_clients\"]) is int or ev[\"bridge\"] == \"disabled\", ev
" &&
	grep -qi "^Content-Type: application/json" headers &&
	grep -qi "^Cache-Control: no-store" headers
'

test_expect_success 'accepted requests and committed transactions move with the traffic' '
	status && a0=$(sget "d[\"pool\"][\"accepted\"]") && c0=$(sget "d[\"storage\"][\"txn_commits\"]") &&
	for i in 1 2 3 4 5 6 7 8 9 10; do curl -s -o /dev/null "$FARM_URL/api/v1/health"; done &&
	TOKEN=$(token ops acme admin) api POST /api/v1/integrations/credentials \
		"{\"type\":\"jenkins\",\"name\":\"s1\",\"value\":{\"url\":\"https://ci.example.com\",\"username\":\"u\",\"apiToken\":\"t\"}}" &&
	expect_status 201 &&
	status && a1=$(sget "d[\"pool\"][\"accepted\"]") && c1=$(sget "d[\"storage\"][\"txn_commits\"]") &&
	echo "accepted $a0 -> $a1, commits $c0 -> $c1" &&
	[ $((a1 - a0)) -ge 12 ] && [ "$c1" -gt "$c0" ]
'

test_expect_success 'Prometheus text: ?format=prometheus and Accept: text/plain; well formed' '
	api GET "/farm-status?format=prometheus" && expect_status 200 &&
	grep -qi "^Content-Type: text/plain; version=0.0.4" headers &&
	cp body prom1 &&
	api GET /farm-status "" -H "Accept: text/plain;version=0.0.4;q=0.5,*/*;q=0.1" && expect_status 200 &&
	grep -qi "^Content-Type: text/plain" headers &&
	$PY -c "
import re
seen, typed = set(), set()
for line in open(\"prom1\"):
    line = line.rstrip(\"\n\")
    m = re.match(r\"# TYPE (\w+) (counter|gauge)$\", line)
    if m: typed.add(m.group(1)); continue
    if line.startswith(\"# HELP \"): continue
    m = re.match(r\"(\w+)(\{state=\\\"\w+\\\"\})? (\d+)$\", line)
    assert m, line
    assert m.group(1) in typed, line
    seen.add(m.group(1))
for name in (\"farm_pool_accepted_requests_total\", \"farm_pool_workers\", \"farm_pool_threads\",
             \"farm_pool_listen_queue\", \"farm_pool_max_children_reached_total\",
             \"farm_pool_slow_requests_total\", \"farm_store_txn_commits_total\",
             \"farm_store_deadlocks_total\", \"farm_outbox_depth\", \"farm_sidecar_up\"):
    assert name in seen, name
" &&
	api GET "/farm-status?format=xml" && expect_status 400
'

test_expect_success 'a request over request_slowlog_timeout is logged (no query) and counted' '
	status && s0=$(sget "d[\"pool\"][\"slow_requests\"]") &&
	curl -s -o /dev/null "$FARM_URL/api/v1/__debug/sleep?ms=1100" &&
	status && s1=$(sget "d[\"pool\"][\"slow_requests\"]") &&
	test_equal "$s1" $((s0 + 1)) &&
	test_grep "slow request: GET /api/v1/__debug/sleep took 1[0-9][0-9][0-9] ms" state/log/farm-fcgi.log &&
	test_no_grep "ms=1100" state/log/farm-fcgi.log
'

test_expect_success 'loopback clients get it on both listen addresses; others get 403' '
	api GET /farm-status && expect_status 200 &&
	curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.2:$port/farm-status" >code &&
	test_equal "$(cat code)" 200 &&
	curl -s -o /dev/null -w "%{http_code}" --interface 127.0.0.3 "http://127.0.0.2:$port/farm-status" >code &&
	test_equal "$(cat code)" 403 &&
	curl -s -o /dev/null -w "%{http_code}" --interface 127.0.0.3 "$FARM_URL/farm-status" >code &&
	test_equal "$(cat code)" 403 &&
	curl -s -o /dev/null -w "%{http_code}" --interface 127.0.0.3 "http://127.0.0.2:$port/api/v1/health" >code &&
	test_equal "$(cat code)" 200
'

test_expect_success 'the API location does not expose it; other methods are refused' '
	api GET /api/v1/farm-status && expect_status 404 &&
	api POST /farm-status "{}" && expect_status 405
'

test_expect_success 'connected WebSocket clients are counted while connected' '
	status &&
	if [ "$(sget "d[\"events\"][\"bridge\"]")" = disabled ]; then echo "no bridge: skipped"; return 0; fi &&
	w0=$(sget "d[\"events\"][\"websocket_clients\"]") &&
	tok=$(token ops acme) &&
	$PY -c "
import json, sys, time, urllib.request, websocket
url = sys.argv[1]
ws = [websocket.create_connection(url.replace(\"http\", \"ws\") + \"/api/v1/events?access_token=\" + sys.argv[2])
      for _ in range(2)]
time.sleep(0.3)
n = json.load(urllib.request.urlopen(url + \"/farm-status\"))[\"events\"][\"websocket_clients\"]
print(n)
for w in ws: w.close()
" "$FARM_URL" "$tok" >ws.n &&
	test_equal "$(cat ws.n)" $((w0 + 2)) &&
	for i in $(seq 1 50); do
		status && [ "$(sget "d[\"events\"][\"websocket_clients\"]")" = "$w0" ] && break
		sleep 0.1
	done &&
	test_equal "$(sget "d[\"events\"][\"websocket_clients\"]")" "$w0"
'

cat >jk.json <<'EOF'
{"name":"status-app","url":"job/status-app/","build":{"full_url":"http://jenkins.example/job/status-app/7/","number":7,"phase":"COMPLETED","status":"SUCCESS","url":"job/status-app/7/","scm":{"branch":"origin/main","commit":"abc123"}}}
EOF
post_jk() {
	sed "s/\"number\":7/\"number\":$1/" jk.json >jk-$1.json &&
	curl -sS -o body -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-H "X-Farm-Token: $JENKINS_TOKEN" --data-binary "@jk-$1.json" \
		"$FARM_URL/api/v1/webhooks/jenkins" >status && expect_status 200
}

test_expect_success 'sidecar down: status says so and the outbox depth grows; up again: drained' '
	pid=$(cat state/run/farm-eventd.pid) && kill -TERM "$pid" &&
	for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done &&
	status && test_equal "$(sget "d[\"events\"][\"sidecar\"]")" down &&
	d0=$(sget "d[\"storage\"][\"outbox_depth\"]") &&
	post_jk 1 && post_jk 2 &&
	status && test_equal "$(sget "d[\"storage\"][\"outbox_depth\"]")" $((d0 + 2)) &&
	api GET "/farm-status?format=prometheus" && test_grep "^farm_sidecar_up 0$" body &&
	bg env FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farm-eventd" 2>>state/log/farm-eventd.log &&
	FAKE_PIDS="${FAKE_PIDS:-} $BG_PID" &&
	for i in $(seq 1 100); do
		status && [ "$(sget "d[\"storage\"][\"outbox_depth\"]")" = 0 ] &&
			[ "$(sget "d[\"events\"][\"sidecar\"]")" = up ] && break
		sleep 0.1
	done &&
	test_equal "$(sget "d[\"storage\"][\"outbox_depth\"]")" 0 &&
	test_equal "$(sget "d[\"events\"][\"sidecar\"]")" up
'

test_expect_success 'farmctl events tail --since 0 replays the stored events' '
	FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farmctl" events tail --since 0 --count 2 \
		--timeout 10 >tail1.out &&
	test_equal "$(wc -l <tail1.out)" 2 &&
	$PY -c "
import json
ev = [json.loads(l) for l in open(\"tail1.out\")]
assert [e[\"data\"][\"number\"] for e in ev] == [1, 2], ev
assert all(e[\"event\"] == \"ci.build.updated\" for e in ev)
assert ev[1][\"data\"][\"id\"] == ev[0][\"data\"][\"id\"] + 1
"
'

test_expect_success 'farmctl events tail follows live events after the history, no gap, no duplicate' '
	last=$($PY -c "import json; print(json.loads(open(\"tail1.out\").readlines()[-1])[\"data\"][\"id\"])") &&
	bg env FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farmctl" events tail \
		--since $((last - 1)) --count 3 --timeout 15 >tail2.out 2>tail2.err &&
	tail_pid=$BG_PID &&
	sleep 0.5 && post_jk 3 && post_jk 4 &&
	wait $tail_pid &&
	$PY -c "
import json
ev = [json.loads(l) for l in open(\"tail2.out\")]
assert [e[\"data\"][\"number\"] for e in ev] == [2, 3, 4], ev
ids = [e[\"data\"][\"id\"] for e in ev]
assert ids == list(range(ids[0], ids[0] + 3)), ids
"
'

test_expect_success 'farmctl events tail --org filters; --timeout without events exits 1' '
	! FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farmctl" events tail --since 0 --org acme \
		--count 1 --timeout 1 >tail3.out &&
	test_equal "$(wc -l <tail3.out)" 0 &&
	FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farmctl" events tail --since 0 --no-org \
		--count 4 --timeout 5 >tail4.out &&
	test_equal "$(wc -l <tail4.out)" 4
'

test_expect_success 'no secret in the status output; logs clean' '
	api GET /farm-status && test_no_grep "$JWT_SECRET" body && test_no_grep "$JENKINS_TOKEN" body &&
	api GET "/farm-status?format=prometheus" && test_no_grep "$JWT_SECRET" body &&
	check_logs_clean
'

test_done
