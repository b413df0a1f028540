#!/bin/bash
# t7000-install.sh - `make install DESTDIR=... PREFIX=/usr` lays out what farm.spec
# packages, and the installed pieces work together: the nginx drop-ins, included in
# an operator's own nginx.conf (conf.d/ in http{}, default.d/ in server{}), serve the
# API from the installed farm-fcgi, and the WebSocket upstream reaches the installed
# farm-wsd.

. "$(dirname "$0")/test-lib.sh"

ROOT=$TRASH/root
RUN=$TRASH/run
NGX=$TRASH/nginx
PORT=$(free_port)
WPORT=$(free_port)
export JWT_SECRET=install-test-secret-0123456789abcdef
mkdir -p "$RUN" "$NGX/tmp" "$TRASH/db" "$TRASH/log"

make_install() {
	make -s -C "$SRC_DIR" BUILD="$FARM_BUILD" DESTDIR="$ROOT" PREFIX=/usr \
		RUNDIR="$RUN" FARM_WSD="127.0.0.1:$WPORT" FARM_NGINX_DIR="$ROOT/etc/nginx" \
		FARM_ACCESS_LOG="$NGX/access.log" FARM_NGINX_GROUP=root \
		FARM_DATA_DIR="$ROOT/usr/share/farm" install "$@"
}

mode() { stat -c %a "$ROOT$1"; }

test_expect_success 'make install DESTDIR= PREFIX=/usr succeeds' '
	make_install >install.out 2>&1 || { cat install.out; false; }
'

test_expect_success 'programs: daemons in /usr/sbin, farmctl in /usr/bin, all 0755' '
	for p in farm-fcgi farm-eventd farm-wsd farm-runner; do
		if [ -e "$SRC_DIR/fcgi/$p/$p.c" ]; then
			test -x "$ROOT/usr/sbin/$p" && test_equal "$(mode /usr/sbin/$p)" 755 || return 1
		fi
	done &&
	test_equal "$(mode /usr/bin/farmctl)" 755 &&
	test ! -e "$ROOT/usr/bin/farm-fcgi" && test ! -e "$ROOT/usr/sbin/farmctl"
'

test_expect_success 'configuration: /etc/farm 0750, farm.conf 0640; state dir 0700' '
	test_equal "$(mode /etc/farm)" 750 &&
	test_equal "$(mode /etc/farm/farm.conf)" 640 &&
	test_equal "$(mode /var/lib/farm)" 700
'

test_expect_success 'systemd: units, sysusers.d and tmpfiles.d in /usr/lib' '
	u=$ROOT/usr/lib/systemd/system &&
	for f in farm.service farm.socket farm-eventd.service farm-wsd.service; do
		test -f "$u/$f" && test_equal "$(mode /usr/lib/systemd/system/$f)" 644 || return 1
	done &&
	{ [ ! -e "$SRC_DIR/fcgi/farm-runner/farm-runner.c" ] || test -f "$u/farm-runner.service"; } &&
	test_grep "^u farm - .* /var/lib/farm /sbin/nologin" "$ROOT/usr/lib/sysusers.d/farm.conf" &&
	test_grep "^d $RUN 0750 farm root -" "$ROOT/usr/lib/tmpfiles.d/farm.conf"
'

test_expect_success 'farm.service: Type=notify, config test first, reload by SIGHUP, user farm, sandboxed' '
	f=$ROOT/usr/lib/systemd/system/farm.service &&
	test_grep "^Type=notify$" "$f" &&
	test_grep "^ExecStartPre=/usr/sbin/farm-fcgi -t$" "$f" &&
	test_grep "^ExecStart=/usr/sbin/farm-fcgi$" "$f" &&
	test_grep "^ExecReload=/bin/kill -HUP \$MAINPID$" "$f" &&
	test_grep "^Environment=FARM_CONFIG=/etc/farm/farm.conf$" "$f" &&
	test_grep "^User=farm$" "$f" &&
	test_grep "^Requires=farm.socket$" "$f" &&
	for k in "ProtectSystem=strict" "ReadWritePaths=/var/lib/farm $RUN" "NoNewPrivileges=yes" \
		"PrivateTmp=yes" "ProtectHome=yes"; do
		test_grep "^$k$" "$f" || return 1
	done
'

test_expect_success 'farm.socket: the configured socket, 0660, group of nginx' '
	f=$ROOT/usr/lib/systemd/system/farm.socket &&
	test_grep "^ListenStream=$RUN/farm.sock$" "$f" &&
	test_grep "^SocketMode=0660$" "$f" &&
	test_grep "^SocketUser=farm$" "$f" &&
	test_grep "^SocketGroup=root$" "$f"
'

test_expect_success 'daemon units start after, stop with and are started by the pool' '
	for d in farm-eventd farm-wsd; do
		f=$ROOT/usr/lib/systemd/system/$d.service &&
		test_grep "^After=.*farm.service" "$f" && test_grep "^BindsTo=farm.service$" "$f" &&
		test_grep "^WantedBy=farm.service$" "$f" && test_grep "^ExecStart=/usr/sbin/$d$" "$f" ||
		return 1
	done
'

test_expect_success 'the units pass systemd-analyze verify (when available)' '
	if ! command -v systemd-analyze >/dev/null; then echo "no systemd-analyze: skipped"; return 0; fi &&
	rm -rf vroot && cp -a "$ROOT" vroot &&
	for t in /lib/systemd/system/*.target /lib/systemd/system/*.slice; do
		cp -n "$t" vroot/usr/lib/systemd/system/ 2>/dev/null; :
	done &&
	systemd-analyze verify --man=no --root="$PWD/vroot" vroot/usr/lib/systemd/system/farm* >verify.out 2>&1 &&
	test_no_grep "Unknown" verify.out
'

test_expect_success 'nginx drop-ins: upstreams in conf.d, locations in default.d, no placeholder left' '
	test_grep "^upstream farm_fcgi" "$ROOT/etc/nginx/conf.d/farm.conf" &&
	test_grep "server unix:$RUN/farm.sock;" "$ROOT/etc/nginx/conf.d/farm.conf" &&
	test_grep "server 127.0.0.1:$WPORT;" "$ROOT/etc/nginx/conf.d/farm.conf" &&
	test_grep "^location /api/v1/" "$ROOT/etc/nginx/default.d/farm.conf" &&
	test_grep "^location = /farm-status" "$ROOT/etc/nginx/default.d/farm.conf" &&
	test_grep "include $ROOT/etc/nginx/farm-fastcgi.conf;" "$ROOT/etc/nginx/default.d/farm.conf" &&
	! grep -rn "@[A-Z_]*@" "$ROOT/etc" "$ROOT/usr/lib" "$ROOT/usr/share/man"
'

test_expect_success 'man pages: farm.conf(5) and one per program, rendering cleanly' '
	test -f "$ROOT/usr/share/man/man5/farm.conf.5" &&
	for p in farmctl farm-fcgi farm-eventd farm-wsd farm-runner; do
		case $p in farmctl) ;; *) [ -e "$SRC_DIR/fcgi/$p/$p.c" ] || continue ;; esac
		test -f "$ROOT/usr/share/man/man8/$p.8" || return 1
	done &&
	for m in "$ROOT"/usr/share/man/man*/*; do
		LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$m" >groff.out 2>&1 &&
		test_equal "$(cat groff.out)" "" || { echo "$m"; return 1; }
	done
'

test_expect_success 'farm.conf(5) documents every key of the configuration table' '
	"$ROOT/usr/bin/farmctl" config keys | sed "s/ = .*//" >keys &&
	test "$(wc -l <keys)" -gt 20 &&
	while read -r k; do
		grep -q "^\.B $(printf %s "$k" | sed "s/\./\\\\./g")\$" "$ROOT/usr/share/man/man5/farm.conf.5" ||
			{ echo "farm.conf.5 lacks $k"; return 1; }
	done <keys
'

test_expect_success 'every farmctl command answers --help' '
	for c in token config db rotate-key credentials events; do
		"$ROOT/usr/bin/farmctl" $c --help >help.out 2>&1 &&
		test_grep "usage: farmctl $c" help.out || return 1
	done
'

test_expect_success 'the installed farm.conf is valid (farm-fcgi -t) and points at the install' '
	"$ROOT/usr/sbin/farm-fcgi" -t -c "$ROOT/etc/farm/farm.conf" &&
	test_grep "^listen = unix:$RUN/farm.sock$" "$ROOT/etc/farm/farm.conf" &&
	test_grep "^state_dir = /var/lib/farm$" "$ROOT/etc/farm/farm.conf" &&
	test_grep "^wsd.listen = 127.0.0.1:$WPORT$" "$ROOT/etc/farm/farm.conf" &&
	test_grep "^jwt_secret_file = /etc/farm/jwt_secret$" "$ROOT/etc/farm/farm.conf"
'

test_expect_success 'make install again keeps an edited farm.conf (farm.conf.new beside it)' '
	echo "# edited by the operator" >>"$ROOT/etc/farm/farm.conf" &&
	make_install >install2.out 2>&1 &&
	test_grep "edited by the operator" "$ROOT/etc/farm/farm.conf" &&
	test -f "$ROOT/etc/farm/farm.conf.new" &&
	test_equal "$(mode /etc/farm/farm.conf.new)" 640
'

# ---- the installed programs behind an operator's own nginx -----------------------

cat >"$NGX/nginx.conf" <<EOF
# An operator's nginx.conf: farm's drop-ins included where Fedora's nginx.conf does.
daemon off;
user root;
worker_processes 2;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $NGX/tmp/body;
    proxy_temp_path $NGX/tmp/proxy;
    fastcgi_temp_path $NGX/tmp/fastcgi;
    uwsgi_temp_path $NGX/tmp/uwsgi;
    scgi_temp_path $NGX/tmp/scgi;
    include $ROOT/etc/nginx/conf.d/*.conf;
    server {
        listen 127.0.0.1:$PORT;
        server_name localhost;
        include $ROOT/etc/nginx/default.d/*.conf;
    }
}
EOF

# The installed programs with the installed farm.conf; only the state directory
# (and the event sockets under it) moved into the trash by FARM_<KEY> variables.
export FARM_CONFIG=$ROOT/etc/farm/farm.conf
export FARM_STATE_DIR=$TRASH/db
export FARM_PIPELINES_WORKSPACE_ROOT=$TRASH/db/workspaces
PIDS=
start_installed() {
	"$ROOT/usr/sbin/farm-fcgi" 2>>"$TRASH/log/farm-fcgi.log" &
	PIDS="$PIDS $!"
	local i
	for i in $(seq 1 100); do [ -S "$RUN/farm.sock" ] && break; sleep 0.05; done
	nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" 2>>"$TRASH/log/nginx.log" &
	PIDS="$PIDS $!"
	for i in $(seq 1 100); do
		curl -s "http://127.0.0.1:$PORT/api/v1/health" 2>/dev/null | grep -q "\"database\":\"ok\"" && break
		sleep 0.05
	done
	for d in farm-eventd farm-wsd; do
		[ -x "$ROOT/usr/sbin/$d" ] || continue
		"$ROOT/usr/sbin/$d" 2>>"$TRASH/log/$d.log" &
		PIDS="$PIDS $!"
	done
	for i in $(seq 1 100); do
		curl -fs -o /dev/null "http://127.0.0.1:$PORT/api/v1/health" && return 0
		sleep 0.1
	done
	tail -n 20 "$TRASH"/log/*.log "$NGX/error.log"
	return 1
}
stop_installed() {
	local p
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	PIDS=
}
trap 'stop_installed; stop_farm' EXIT
FARM_URL=http://127.0.0.1:$PORT

test_expect_success 'the operator nginx (drop-ins included) and the installed daemons start' '
	nginx -t -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" 2>nginx-t.out &&
	start_installed
'

test_expect_success 'through the installed drop-ins: health, then a credential created and listed' '
	api GET /api/v1/health && expect_status 200 &&
	test_equal "$(json_get body "d[\"checks\"][\"database\"]")" ok &&
	TOKEN=$("$ROOT/usr/bin/farmctl" token --sub ops --org acme --role admin) &&
	TOKEN=$TOKEN api POST /api/v1/integrations/credentials \
		"{\"type\":\"jenkins\",\"name\":\"installed\",\"value\":{\"url\":\"https://ci.example.com\",\"username\":\"u\",\"apiToken\":\"t\"}}" &&
	expect_status 201 &&
	TOKEN=$TOKEN api GET /api/v1/integrations/credentials && expect_status 200 &&
	test_equal "$(json_get body "d[0][\"name\"]")" installed
'

test_expect_success 'the installed drop-in serves the installed OpenAPI document' '
	test_equal "$(mode /usr/share/farm/openapi.json)" 644 &&
	cmp "$ROOT/usr/share/farm/openapi.json" "$SRC_DIR/docs/openapi.json" &&
	api GET /api/v1/openapi.json && expect_status 200 &&
	test_grep "^Content-Type: application/json" headers &&
	cmp body "$SRC_DIR/docs/openapi.json"
'

test_expect_success 'the installed console drop-in serves the installed www/ at / with its CSP' '
	test_grep "^location / {" "$ROOT/etc/nginx/default.d/farm-console.conf" &&
	test_equal "$(mode /usr/share/farm/www/index.html)" 644 &&
	cmp "$ROOT/usr/share/farm/www/js/app.js" "$SRC_DIR/www/js/app.js" &&
	api GET / && expect_status 200 && cmp body "$SRC_DIR/www/index.html" &&
	test_grep "^Content-Security-Policy: default-src .none.; script-src .self.;" headers &&
	api GET /js/live.js && expect_status 200 && test_grep "^Content-Type: text/javascript" headers
'

test_expect_success 'the installed status location answers locally and refuses others' '
	api GET /farm-status && expect_status 200 &&
	test_equal "$(json_get body "d[\"storage\"][\"status\"]")" ok &&
	api GET /farm-status "" --interface 127.0.0.3 && expect_status 403
'

test_expect_success 'the installed WebSocket upstream reaches farm-wsd (101 Switching Protocols)' '
	if [ ! -x "$ROOT/usr/sbin/farm-wsd" ]; then echo "no farm-wsd: skipped"; return 0; fi &&
	TOKEN=$("$ROOT/usr/bin/farmctl" token --sub ops --org acme) &&
	curl -sS -o /dev/null -D ws.headers --max-time 2 -H "Connection: Upgrade" -H "Upgrade: websocket" \
		-H "Sec-WebSocket-Version: 13" -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" \
		-H "Authorization: Bearer $TOKEN" "$FARM_URL/api/v1/events" ; 
	test_grep "^HTTP/1.1 101" ws.headers
'

test_expect_success 'the installed drop-ins send a plain GET /api/v1/events to the pool; /projects answers' '
	TOKEN=$("$ROOT/usr/bin/farmctl" token --sub ops --org acme) &&
	api GET /api/v1/events && expect_status 200 && test_grep "^X-Farm-Next-Since:" headers &&
	api GET /api/v1/projects && expect_status 200 && test_equal "$(cat body)" "[]"
'

test_expect_success 'the installed farmctl sees the data (credentials list, metadata only)' '
	"$ROOT/usr/bin/farmctl" credentials list >list.out &&
	test_grep "\"name\":\"installed\"" list.out &&
	test_no_grep "apiToken" list.out
'

test_expect_success 'stops cleanly; no alert in the nginx log, no sanitizer report' '
	stop_installed &&
	test ! -S "$RUN/farm.sock" &&
	! grep -E "\[(alert|emerg)\]" "$NGX/error.log" &&
	! grep -lE "AddressSanitizer|runtime error:|LeakSanitizer" "$TRASH"/log/*.log
'

test_done
