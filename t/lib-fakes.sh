# lib-fakes.sh - the fake platforms (t/fake/, see t/fake/README.md) from a test.
#
#   . "$(dirname "$0")/test-lib.sh"
#   . "$TEST_DIR/lib-fakes.sh"
#   start_fake jenkins [--require-crumb ...]   # FAKE_JENKINS_URL=http://127.0.0.1:<port>
#   fake_mode jenkins 500 [count]              # misbehave (modes: README "Modes")
#   fake_requests jenkins >reqs.json           # what the fake received, oldest first
#
# Each fake runs on a free port, its pid appended to FAKE_PIDS (test_done and the
# EXIT trap kill them).  The fakes live on 127.0.0.1, so loading this file lets
# farm's providers reach loopback addresses (upstream.allow_loopback).

export FARM_UPSTREAM_ALLOW_LOOPBACK=yes

# start_fake NAME[@LABEL] [fake flags...]: NAME is argocd, circleci, jenkins or
# travis; a second instance of one takes a label: start_fake jenkins@crumb sets
# FAKE_JENKINS_CRUMB_URL, and the other helpers take "jenkins@crumb" as its name.
start_fake() {
	local name=$1 up dir pid i
	shift
	up=$(echo "$name" | tr 'a-z@-' 'A-Z__')
	dir=$TRASH/fake-$name
	mkdir -p "$dir"
	rm -f "$dir/port"
	"$TEST_DIR/fake/fake-${name%%@*}.py" --port 0 --portfile "$dir/port" --pidfile "$dir/pid" \
		"$@" >"$dir/out" 2>&1 &
	pid=$!
	FAKE_PIDS="${FAKE_PIDS:-} $pid"
	for i in $(seq 1 200); do
		[ -s "$dir/port" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$dir/port" ]; then
		echo "fake $name did not start:"
		cat "$dir/out"
		return 1
	fi
	eval "FAKE_${up}_URL=http://127.0.0.1:$(cat "$dir/port")"
	eval "FAKE_${up}_PID=$pid"
	export "FAKE_${up}_URL"
}

fake_url() { # NAME
	local up
	up=$(echo "$1" | tr 'a-z@-' 'A-Z__')
	eval "echo \${FAKE_${up}_URL}"
}

# fake_ctl NAME METHOD PATH [JSON]: the control API (/__fake/...); answer on stdout.
fake_ctl() {
	local url
	url=$(fake_url "$1")
	if [ -n "${4:-}" ]; then
		curl -sS -f -X "$2" -H 'Content-Type: application/json' --data-binary "$4" "$url$3"
	else
		curl -sS -f -X "$2" "$url$3"
	fi
}

# fake_mode NAME MODE [COUNT] [extra JSON members, e.g. '"seconds":5']
fake_mode() {
	local body="{\"mode\":\"$2\""
	[ -n "${3:-}" ] && body="$body,\"count\":$3"
	[ -n "${4:-}" ] && body="$body,$4"
	fake_ctl "$1" POST /__fake/mode "$body}" >/dev/null
}

fake_requests() { fake_ctl "$1" GET /__fake/requests; }
fake_forget() { fake_ctl "$1" DELETE /__fake/requests >/dev/null; }
fake_reset() { fake_ctl "$1" POST "/__fake/reset${2:+?state=1}" >/dev/null; }
fake_stats() { fake_ctl "$1" GET /__fake/stats; }

# fake_count NAME: API requests the fake received since the last fake_forget/reset.
fake_count() {
	fake_requests "$1" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

# fake_last NAME FILE: the last recorded request as a JSON object in FILE.
fake_last() {
	fake_requests "$1" | $PY -c 'import json,sys; r=json.load(sys.stdin); json.dump(r[-1] if r else {}, open(sys.argv[1],"w"))' "$2"
}

# make_cred TYPE NAME VALUE-JSON: creates a credential with $TOKEN (an admin of
# the org); its id in CRED_ID.
make_cred() {
	api POST /api/v1/integrations/credentials \
		"{\"type\":\"$1\",\"name\":\"$2\",\"value\":$3}" &&
	expect_status 201 &&
	CRED_ID=$(json_get body 'd["id"]')
}

# no_secret SECRET: the secret appears in no response captured so far (./body,
# ./headers), no log of the stack, and no file of the state's log directories.
no_secret() {
	local f bad=0
	for f in body headers "$TRASH"/state/log/*.log "$TRASH"/state/nginx/*.log; do
		[ -f "$f" ] || continue
		if grep -aqF -- "$1" "$f"; then
			echo "the secret appears in $f"
			bad=1
		fi
	done
	return $bad
}
