#!/bin/bash
# t7400-operator-start.sh - what a first-time operator meets: a second stack on the
# same state dir is refused (not a recovery that evicts the first), a port taken or
# nginx missing said at once, a health wait that ends, the README's farmctl token
# line working as written, -t refusing what start-up refuses, -v everywhere, the
# version in /farm-status, SIGUSR1 reopening log_file and a reload that says it is
# complete.

. "$(dirname "$0")/test-lib.sh"

export JWT_SECRET=operator-start-secret-0123456789abcdef
RUN=$SRC_DIR/scripts/farm-run
VERSION=$(cat "$SRC_DIR/VERSION")

# A port held by a process that accepts connections and never answers.
hold_port() {
	$PY -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1]); sys.stdout.flush()
held = []
while True:
    c, _ = s.accept(); held.append(c)
' >holder.port &
	HOLDER=$!
	FAKE_PIDS="${FAKE_PIDS:-} $HOLDER"
	for _ in $(seq 1 50); do [ -s holder.port ] && break; sleep 0.1; done
	cat holder.port
}

# ---- make run: refusals said at once ---------------------------------------------

test_expect_success 'make run with the port taken by a silent holder: said at once' '
	port=$(hold_port) && test -n "$port" &&
	t0=$(date +%s%N) &&
	! FARM_PORT=$port FARM_STATE_DIR=$TRASH/busy FARM_QUIET=1 "$RUN" >out 2>&1 &&
	el=$(ms_since $t0) && echo "refused in $el ms" &&
	test_grep "port $port in use; set FARM_PORT" out &&
	[ $el -lt 5000 ] &&
	! test -e busy/log/farm-fcgi.log
'

test_expect_success 'make run without nginx in PATH: said at once' '
	mkdir -p nonginx &&
	for p in bash curl flock cat sed head base64 tr mkdir chmod id dirname seq sleep; do
		ln -sf "$(command -v $p)" nonginx/$p || return 1
	done &&
	! PATH=$TRASH/nonginx FARM_STATE_DIR=$TRASH/nonginx-state "$RUN" >out 2>&1 &&
	test_grep "nginx not found in PATH" out
'

test_expect_success 'the health wait ends: a "nginx" that takes the port and never answers' '
	mkdir -p fakebin &&
	cat >fakebin/nginx <<-EOF &&
	#!/bin/bash
	# Listens on the port farm-run gave nginx, accepts, never answers.
	port=\$(sed -n "s/.*listen 127.0.0.1:\\([0-9]*\\).*/\\1/p" "\$4" | head -n 1)
	exec $PY -c "
	import socket
	s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	s.bind((\"127.0.0.1\", \$port)); s.listen(16); held = []
	while True:
	    c, _ = s.accept(); held.append(c)
	"
	EOF
	chmod +x fakebin/nginx &&
	port=$(free_port) &&
	t0=$(date +%s%N) &&
	! PATH=$TRASH/fakebin:$PATH FARM_PORT=$port FARM_STATE_DIR=$TRASH/slow FARM_QUIET=1 \
		FARM_START_TIMEOUT=4 timeout 60 "$RUN" >out 2>&1 &&
	el=$(ms_since $t0) && echo "gave up after $el ms" && cat out &&
	test_grep "did not become healthy in 4 s" out &&
	[ $el -lt 20000 ] &&
	! pgrep -f "^$FARM_BUILD/farm-fcgi.*" -s 0 >/dev/null
'

# ---- one stack per state dir -------------------------------------------------------

test_expect_success 'the stack starts' '
	start_farm &&
	master=$(farm_master_pid) && test -n "$master" &&
	farm_worker_pids | sort >workers.before &&
	eventd=$(cat state/eventd.lock) && test -n "$eventd"
'

test_expect_success 'a second make run on the same state dir is refused, naming the pid' '
	! FARM_PORT=$(free_port) FARM_QUIET=1 timeout 30 "$RUN" >second.out 2>&1 &&
	cat second.out &&
	test_grep "state dir $TRASH/state in use by pid $FARM_RUN_PID" second.out
'

test_expect_success 'a second farm-fcgi on the same state dir is refused, naming the master' '
	! FARM_CONFIG=$TRASH/state/farm.conf FARM_LISTEN=unix:$TRASH/other.sock \
		timeout 30 "$FARM_BUILD/farm-fcgi" 2>fcgi2.err &&
	cat fcgi2.err &&
	test_grep "state dir $TRASH/state in use by pid $master" fcgi2.err &&
	test_no_grep "recovery" fcgi2.err
'

test_expect_success 'farmctl db recover refuses while the pool runs' '
	! FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farmctl" db recover 2>recover.err &&
	test_grep "state dir $TRASH/state in use by pid $master (fcgi.lock): stop farm first" recover.err
'

test_expect_success 'the first stack was not disturbed: same master, workers and daemons' '
	wait_healthy 5 &&
	test_equal "$(farm_master_pid)" "$master" &&
	farm_worker_pids | sort >workers.after &&
	test_cmp workers.before workers.after &&
	kill -0 "$eventd" &&
	test_no_grep "stopping eventd" state/log/farm-fcgi.log &&
	test_no_grep "exited" farm-run.out
'

# ---- farm-run's supervision: a daemon that keeps dying does not spin ------------------

# runner_restarted OLD: farm-run started a farm-runner other than pid OLD.
runner_restarted() {
	p=$(cat state/run/farm-runner.pid 2>/dev/null) && [ -n "$p" ] && [ "$p" != "$1" ] &&
		kill -0 "$p" 2>/dev/null
}
# A daemon stopped or killed is restarted at once; one that fails by itself right after
# its start (here: a key farm-runner refuses, added to the config for a few seconds)
# waits 0.5 s, 1 s, 2 s ... before the next try.
test_expect_success 'a killed daemon is restarted at once; one that fails at its start waits 0.5, 1, 2 s' '
	old=$(cat state/run/farm-runner.pid) && kill -0 "$old" &&
	t0=$(date +%s%N) && kill -KILL "$old" &&
	wait_until 10 runner_restarted "$old" && el=$(ms_since $t0) && echo "after kill -9: $el ms" &&
	[ "$el" -lt 1900 ] &&
	cp state/farm.conf farm.conf.good &&
	echo "bogus.key = 1" >>state/farm.conf &&
	old=$(cat state/run/farm-runner.pid) && kill -TERM "$old" &&
	wait_until 15 eval "[ \$(grep -c \"farm-runner exited; restarting it in 2000 ms\" state/log/farm-runner.log) -ge 1 ]" &&
	cp farm.conf.good state/farm.conf &&
	grep "farm-run: farm-runner exited" state/log/farm-runner.log | tail -n 5 >restarts &&
	cat restarts &&
	sed -n 1p restarts | grep -q "restarting it$" &&
	sed -n 2p restarts | grep -q "restarting it$" &&
	sed -n 3p restarts | grep -q "restarting it in 500 ms (it failed, status 1, under 10 s after its start)$" &&
	sed -n 4p restarts | grep -q "restarting it in 1000 ms" &&
	sed -n 5p restarts | grep -q "restarting it in 2000 ms" &&
	test_grep "unknown key .bogus.key." state/log/farm-runner.log &&
	wait_until 10 runner_restarted "$old" &&
	pid=$(cat state/run/farm-runner.pid) && sleep 1 && kill -0 "$pid" &&
	wait_healthy 10
'

# ---- farmctl token as the README writes it --------------------------------------------

# A make run as the README has it: from a checkout (build/ and the default ./var),
# no JWT_SECRET (generated into var/jwt_secret), no FARM_CONFIG.
test_expect_success 'README: build/farmctl token --sub alice ... works where make run ran' '
	line=$(sed -n "s/^Tokens: \`\(build\/farmctl token [^\`]*\)\`.*/\1/p" "$SRC_DIR/README.md") &&
	test -n "$line" && echo "README: $line" &&
	mkdir -p checkout && ln -s "$FARM_BUILD" checkout/build &&
	port2=$(free_port) &&
	(cd checkout && env -u JWT_SECRET -u FARM_CONFIG -u FARM_STATE_DIR \
		FARM_BUILD=$TRASH/checkout/build FARM_PORT=$port2 FARM_QUIET=1 setsid "$RUN" >../run2.out 2>&1 &) &&
	for i in $(seq 1 300); do test -s checkout/var/run/url && break; sleep 0.1; done &&
	test -s checkout/var/run/url && FAKE_PIDS="${FAKE_PIDS:-} $(cat checkout/var/farm-run.lock)" &&
	TOKEN=$(cd checkout && env -u FARM_CONFIG -u FARM_STATE_DIR -u JWT_SECRET $line) &&
	FARM_URL=http://127.0.0.1:$port2 api GET /api/v1/integrations/credentials &&
	expect_status 200
'

test_expect_success 'the banner prints that same line' '
	test_equal "$(cat checkout/var/run/farmctl)" "build/farmctl" &&
	TOKEN=$(cd checkout && env -u FARM_CONFIG -u FARM_STATE_DIR -u JWT_SECRET \
		bash -c "$(cat var/run/farmctl) token --sub carol --org o2 --role admin --ttl 1h") &&
	FARM_URL=http://127.0.0.1:$port2 api GET /api/v1/integrations/credentials &&
	expect_status 200
'

test_expect_success 'elsewhere the banner names the state dir, and that line works too' '
	ctl=$(cat state/run/farmctl) && echo "banner: $ctl token ..." &&
	case "$ctl" in *"FARM_STATE_DIR=$TRASH/state "*) ;; *) false ;; esac &&
	TOKEN=$(cd / && env -u FARM_CONFIG -u FARM_STATE_DIR \
		bash -c "$ctl token --sub dave --org o3 --role admin --ttl 1h") &&
	api GET /api/v1/integrations/credentials && expect_status 200
'

test_expect_success 'the second stack stops' '
	pid2=$(cat checkout/var/farm-run.lock) && kill -TERM "$pid2" &&
	for i in $(seq 1 100); do kill -0 "$pid2" 2>/dev/null || break; sleep 0.1; done &&
	! kill -0 "$pid2" 2>/dev/null
'

# ---- versions -----------------------------------------------------------------------

test_expect_success '-v and --version in every program; the version in /farm-status' '
	for p in farm-fcgi farm-eventd farm-wsd farm-runner farmctl; do
		test_equal "$("$FARM_BUILD/$p" -v)" "$p $VERSION" &&
		test_equal "$("$FARM_BUILD/$p" --version)" "$p $VERSION" || return 1
	done &&
	api GET /farm-status && expect_status 200 &&
	test_equal "$(json_get body "d[\"version\"]")" "$VERSION"
'

# ---- -t refuses what start-up refuses ------------------------------------------------

# refused "LINE(S)" "MESSAGE": every program's -t refuses the file, with the message.
refused() {
	printf "jwt_secret = 0123456789abcdef0123\n%b\n" "$1" >bad.conf &&
	for p in farm-fcgi farm-eventd farm-wsd farm-runner; do
		! env -u FARM_CONFIG "$FARM_BUILD/$p" -t -c bad.conf 2>err ||
			{ echo "$p -t accepted: $1"; return 1; }
		test_grep "$2" err || return 1
	done
}

test_expect_success '-t refuses values of the wrong shape, naming line and key' '
	refused "listen = tcp://0.0.0.0:9000" "bad.conf:2: listen: expected unix:/path" &&
	refused "wsd.listen = 8091" "bad.conf:2: wsd.listen: expected host:port" &&
	refused "wsd.listen = 0.0.0.0:8091" "wsd.listen: must be a loopback address" &&
	refused "circleci.api_url = circleci.com" "bad.conf:2: circleci.api_url: expected an http" &&
	refused "events.push = /run/x.sock" "bad.conf:2: events.push: expected a ZeroMQ endpoint" &&
	refused "listen.mode = rw" "bad.conf:2: listen.mode: expected an octal mode" &&
	refused "state_dir = var/lib/farm" "bad.conf:2: state_dir: expected an absolute path" &&
	refused "log_level = loud" "bad.conf:2: log_level: expected error, warn, info or debug"
'

test_expect_success '-t refuses a duplicate key and an unclosed quote (its line, its key)' '
	refused "workers = 2\nthreads = 4\nworkers = 3" "bad.conf:4: duplicate key .workers. (first set on line 2)" &&
	refused "workers = 2\nwebhook.circleci.secret = \"abc\nthreads = 4" \
		"bad.conf:3: webhook.circleci.secret: unclosed quote"
'

test_expect_success '-t refuses a misspelt FARM_ variable; the scripts own ones pass' '
	printf "jwt_secret = 0123456789abcdef0123\n" >ok.conf &&
	! env -u FARM_CONFIG FARM_WORKRES=3 "$FARM_BUILD/farm-fcgi" -t -c ok.conf 2>err &&
	test_grep "FARM_WORKRES: not a configuration key (did you mean FARM_WORKERS?)" err &&
	! env -u FARM_CONFIG FARM_UPSTREAM_TIMEOUTS=3 "$FARM_BUILD/farm-eventd" -t -c ok.conf 2>err &&
	test_grep "FARM_UPSTREAM_TIMEOUTS: not a configuration key" err &&
	env -u FARM_CONFIG FARM_PORT=1 FARM_BUILD=x FARM_QUIET=1 FARM_TEST_KEEP=1 \
		"$FARM_BUILD/farm-fcgi" -t -c ok.conf
'

test_expect_success 'start-up refuses what -t refuses (the same checks)' '
	printf "jwt_secret = 0123456789abcdef0123\nstate_dir = $TRASH/t-state\nlisten = tcp://0.0.0.0:9000\n" >bad.conf &&
	! env -u FARM_CONFIG -u FARM_STATE_DIR timeout 10 "$FARM_BUILD/farm-fcgi" -c bad.conf 2>err &&
	test_grep "listen: expected unix:/path" err &&
	! test -e t-state
'

test_expect_success 'a state dir that is not writable is named as such' '
	test "$(id -u)" != 0 || command -v setpriv >/dev/null &&
	mkdir -p ro-state && chmod 0500 ro-state &&
	printf "jwt_secret = 0123456789abcdef0123\nstate_dir = $TRASH/ro-state\nlisten = unix:$TRASH/ro.sock\n" >ro.conf &&
	chmod 0644 ro.conf &&
	if [ "$(id -u)" = 0 ]; then
		chown -R nobody ro-state && chmod 0711 "$TRASH" &&
		! env -u FARM_CONFIG -u FARM_STATE_DIR timeout 10 setpriv --reuid=nobody --regid=nogroup --clear-groups \
			"$FARM_BUILD/farm-fcgi" -c ro.conf 2>err && chown -R root ro-state
	else
		! env -u FARM_CONFIG -u FARM_STATE_DIR timeout 10 "$FARM_BUILD/farm-fcgi" -c ro.conf 2>err
	fi &&
	cat err &&
	test_grep "state_dir $TRASH/ro-state is not writable" err &&
	test_no_grep "recovery" err
'

# ---- signals ---------------------------------------------------------------------------

test_expect_success 'SIGUSR1 reopens log_file (rotation), workers write to the new file' '
	stop_farm &&
	export FARM_LOG_FILE=$TRASH/state/log/fcgi-file.log &&
	start_farm && unset FARM_LOG_FILE &&
	master=$(farm_master_pid) &&
	test_grep "ready: .* (farm $VERSION)" state/log/fcgi-file.log &&
	mv state/log/fcgi-file.log state/log/fcgi-file.log.1 &&
	kill -USR1 "$master" &&
	for i in $(seq 1 50); do test -s state/log/fcgi-file.log && break; sleep 0.1; done &&
	test_grep "log reopened" state/log/fcgi-file.log &&
	wait_healthy 10 &&
	for i in $(seq 1 50); do
		api GET /farm-status && [ "$(json_get body "d[\"pool\"][\"workers\"][\"draining\"]")" = 0 ] && break
		sleep 0.1
	done &&
	for w in $(farm_worker_pids); do
		readlink /proc/$w/fd/2 >w.fd && test_grep "state/log/fcgi-file.log$" w.fd || return 1
	done &&
	test_equal "$(farm_master_pid)" "$master"
'

test_expect_success 'SIGUSR1 reopens a daemon log too (farm-eventd)' '
	eventd=$(cat state/eventd.lock) &&
	readlink /proc/$eventd/fd/2 >e.fd && cat e.fd &&
	mv state/log/fcgi-file.log state/log/fcgi-file.log.2 &&
	kill -USR1 "$eventd" &&
	for i in $(seq 1 50); do
		readlink /proc/$eventd/fd/2 | grep -q "fcgi-file.log$" && break; sleep 0.1
	done &&
	readlink /proc/$eventd/fd/2 >e.fd && test_grep "state/log/fcgi-file.log$" e.fd &&
	kill -0 "$eventd"
'

test_expect_success 'a reload logs that it is complete once the old workers are gone' '
	kill -HUP "$master" &&
	for i in $(seq 1 100); do grep -q "reload complete" state/log/fcgi-file.log && break; sleep 0.1; done &&
	test_grep "reload complete: 2 workers x 4 threads" state/log/fcgi-file.log
'

test_expect_success 'farm stopped: farmctl db recover runs' '
	stop_farm &&
	FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farmctl" db recover >recover.out &&
	test_grep "recovery complete" recover.out
'

test_done
