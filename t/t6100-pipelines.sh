#!/bin/bash
# t6100-pipelines.sh - pipelines and runs through nginx, executed by farm-runner with
# a stand-in `docker` engine (a script early in PATH that prints its argv and obeys
# words in the Dockerfile): every validation error listed at once, 202 at once with the
# run id, queued → running → success|failed with per-stage status, times and error,
# the argv reaching the engine whole (no shell) with a scrubbed environment, tag
# templates, a failing build, the engine-not-found path, a stage timeout, paths that
# leave the workspace through a symbolic link, org isolation, a runner killed mid-run
# (that run failed at restart, the queued one kept and run), and the run's
# ci.build.updated events on a WebSocket client.
# The real engine (buildah) and a real registry: t6200-build-buildah.sh.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

export FARM_RUN_SUPERVISE_EXCEPT="farm-runner"
export FARM_ARGOCD_POLL_INTERVAL=0
mkdir -p bin
cat >bin/docker <<'EOF'
#!/bin/bash
# A stand-in engine: each argument on its own line, then what the Dockerfile asks.
for a in "$@"; do echo "arg[$a]"; done
echo "env JWT_SECRET=${JWT_SECRET:-unset} FARM_CONFIG=${FARM_CONFIG:-unset} PATH=${PATH:+set}"
if [ "$1" = build ]; then
	df=$3
	grep -q FAIL "$df" && { echo "Error: building at STEP \"RUN false\": exit status 1" >&2; exit 1; }
	grep -q SLEEP "$df" && { echo $$ >"${df%/*}/engine.pid"; exec sleep 60; }
fi
exit 0
EOF
chmod +x bin/docker
export PATH="$TRASH/bin:$PATH"

test_expect_success 'start farm (podman is not installed)' '
	! command -v podman &&
	start_farm
'

WS=$TRASH/state/workspaces
ADMIN_A=$(token alice org-a admin)
USER_A=$(token ann org-a)
ADMIN_B=$(token bob org-b admin)

# wait_run PIPELINE RUN [SECONDS]: until the run is success or failed (./body holds it)
_run_done() {
	api GET "/api/v1/pipelines/$1/runs/$2" >/dev/null 2>&1 &&
	case "$(json_get body 'd["status"]' 2>/dev/null)" in success | failed) return 0 ;; esac
	return 1
}
# engine_gone DIR: the sleeping engine started in workspace DIR (its pid written by
# bin/docker before it became `sleep 60`) is no longer running; waits up to 5 s.
_engine_gone() { ! grep -qs "sleep" "/proc/$1/cmdline"; }
engine_gone() {
	local p
	[ -e "$1/engine.pid" ] || { echo "(the engine was stopped before it slept)"; return 0; }
	p=$(cat "$1/engine.pid") && rm -f "$1/engine.pid" || return 1
	wait_until 5 _engine_gone "$p" ||
		{ echo "engine $p still running:"; ps -o pid,ppid,stat,etime,args -p "$p"; return 1; }
}
wait_run() {
	wait_until "${3:-60}" _run_done "$1" "$2" ||
		{ echo "run $2 did not finish:"; cat body; tail -n 20 "$TRASH/state/log/farm-runner.log"; return 1; }
}
_run_is() {
	api GET "/api/v1/pipelines/$1/runs/$2" >/dev/null 2>&1 &&
	test "$(json_get body 'd["status"]' 2>/dev/null)" = "$3"
}
# new_pipeline JSON: creates it as $TOKEN; its id in PID
new_pipeline() {
	api POST /api/v1/pipelines "$1" && expect_status 201 && PID=$(json_get body 'd["id"]')
}
# new_run PIPELINE VERSION SHA: queues a run; its id in RID
new_run() {
	api POST "/api/v1/pipelines/$1/runs" "{\"version\":\"$2\",\"commitSha\":\"$3\"}" &&
	expect_status 202 && RID=$(json_get body 'd["id"]')
}

# ---- validation ---------------------------------------------------------------------------

test_expect_success 'creating a pipeline needs a token and the admin role' '
	TOKEN= api POST /api/v1/pipelines "{}" && expect_status 401 &&
	TOKEN=$USER_A api POST /api/v1/pipelines "{\"name\":\"x\"}" && expect_status 403
'

test_expect_success 'every validation error is listed at once (400)' '
	TOKEN=$ADMIN_A api POST /api/v1/pipelines "{\"name\":\"bad\",\"color\":1,\"workspace\":\"../x\",
		\"stages\":[
		{\"name\":\"a\",\"type\":\"build\",\"config\":{\"engine\":\"kaniko\",\"tag\":\"x\"}},
		{\"name\":\"b\",\"type\":\"build\",\"config\":{\"push\":true}},
		{\"name\":\"c\",\"type\":\"build\",\"config\":{\"tag\":\"x\",\"dockerfile\":\"/etc/passwd\",\"context\":\"a/../..\"}},
		{\"name\":\"d\",\"type\":\"deploy\",\"config\":{\"tag\":\"x:{{branch}}\",\"registry\":\"https://r.example\",\"tlsVerify\":\"no\"}}]}" &&
	expect_status 400 &&
	json_get body "\"\\n\".join(d[\"message\"])" >msgs &&
	test_grep "property color should not exist" msgs &&
	test_grep "^workspace must not contain" msgs &&
	test_grep "stages\[0\].config.engine must be one of: docker, buildah, podman" msgs &&
	test_grep "stages\[1\].config.tag is required" msgs &&
	test_grep "stages\[1\].config.registry is required when push is true" msgs &&
	test_grep "stages\[2\].config.dockerfile must be a relative path" msgs &&
	test_grep "stages\[2\].config.context must not contain" msgs &&
	test_grep "stages\[3\].type must be one of: build, candor" msgs &&
	test_grep "stages\[3\].config.tag: unknown template variable {{branch}}" msgs &&
	test_grep "stages\[3\].config.registry must be host\[:port\]\[/namespace\] without a scheme" msgs &&
	test_grep "stages\[3\].config.tlsVerify must be a boolean" msgs &&
	test_equal "$(wc -l <msgs)" 11 &&
	test_equal "$(json_get body "d[\"error\"]")" "Bad Request" &&
	TOKEN=$ADMIN_A api GET /api/v1/pipelines && test_equal "$(cat body)" "[]"
'

test_expect_success 'a pipeline without stages, and a body that is not JSON' '
	TOKEN=$ADMIN_A api POST /api/v1/pipelines "{\"name\":\"x\",\"stages\":[]}" &&
	expect_status 400 && test_grep "stages must be an array of 1 to 32 stages" body &&
	TOKEN=$ADMIN_A api POST /api/v1/pipelines "{\"name\":" && expect_status 400
'

# ---- a run, end to end -------------------------------------------------------------------

test_expect_success 'create a pipeline: defaults filled in, paths normalised' '
	mkdir -p "$WS/web/dir with space" &&
	echo "FROM scratch" >"$WS/web/dir with space/Docker;file" &&
	TOKEN=$ADMIN_A new_pipeline "{\"name\":\"web\",\"workspace\":\"./web/\",\"stages\":[
		{\"name\":\"Build Docker Image\",\"type\":\"build\",\"config\":{
		 \"dockerfile\":\"dir with space//Docker;file\",\"tag\":\"acme/web:{{version}}-{{commitSha}}\",
		 \"push\":true,\"registry\":\"127.0.0.1:5999\"}}]}" &&
	WEB=$PID &&
	test_equal "$(json_get body "d[\"workspace\"]")" web &&
	test_equal "$(json_get body "d[\"stages\"][0][\"config\"][\"engine\"]")" docker &&
	test_equal "$(json_get body "d[\"stages\"][0][\"config\"][\"context\"]")" . &&
	test_equal "$(json_get body "d[\"stages\"][0][\"config\"][\"dockerfile\"]")" "dir with space/Docker;file" &&
	test_equal "$(json_get body "d[\"stages\"][0][\"config\"][\"tlsVerify\"]")" true &&
	test_equal "$(json_get body "d[\"orgId\"]")" org-a &&
	TOKEN=$USER_A api GET "/api/v1/pipelines/$WEB" && expect_status 200 &&
	test_equal "$(json_get body "d[\"name\"]")" web
'

test_expect_success 'queueing a run: version and commitSha checked, 202 at once' '
	TOKEN=$USER_A api POST "/api/v1/pipelines/$WEB/runs" "{\"version\":\"1\",\"commitSha\":\"abcdef0\"}" &&
	expect_status 403 &&
	TOKEN=$ADMIN_A api POST "/api/v1/pipelines/$WEB/runs" "{\"version\":\"-1\",\"commitSha\":\"xyz\",\"branch\":\"main\"}" &&
	expect_status 400 &&
	test_grep "version must be 1 to 128" body &&
	test_grep "commitSha must be 7 to 64 hexadecimal digits" body &&
	test_grep "property branch should not exist" body &&
	TOKEN=$ADMIN_A api POST "/api/v1/pipelines/$WEB/runs" "{}" && expect_status 400 &&
	test_grep "version is required" body && test_grep "commitSha is required" body &&
	TOKEN=$ADMIN_A api POST "/api/v1/pipelines/no-such-pipeline/runs" "{\"version\":\"1\",\"commitSha\":\"abcdef0\"}" &&
	expect_status 404
'

test_expect_success 'a run builds and pushes with the templated tag; its events reach a WebSocket client' '
	ws_start evA "$USER_A" &&
	TOKEN=$ADMIN_A new_run "$WEB" 1.4.0 9f8e7d6c5b4a3928170665544332211000aabbcc &&
	test_equal "$(json_get body "d[\"status\"]")" queued &&
	test_equal "$(json_get body "d[\"number\"]")" 1 &&
	test_equal "$(json_get body "d[\"stages\"][0][\"status\"]")" pending &&
	test_equal "$(json_get body "d[\"stages\"][0][\"image\"]")" "127.0.0.1:5999/acme/web:1.4.0-9f8e7d6" &&
	test_grep "^Location: /api/v1/pipelines/$WEB/runs/$RID" headers &&
	RUN1=$RID &&
	TOKEN=$USER_A wait_run "$WEB" "$RUN1" &&
	test_equal "$(json_get body "d[\"status\"]")" success &&
	test_equal "$(json_get body "d[\"stages\"][0][\"status\"]")" success &&
	test_equal "$(json_get body "d[\"error\"]")" null &&
	json_get body "d[\"startedAt\"] <= d[\"stages\"][0][\"startedAt\"] <= d[\"stages\"][0][\"finishedAt\"] <= d[\"finishedAt\"]" >order &&
	test_equal "$(cat order)" true &&
	ws_wait evA 3 10 &&
	test_equal "$(ws_field evA 0 "e[\"data\"][\"status\"]")" queued &&
	test_equal "$(ws_field evA 1 "e[\"data\"][\"status\"]")" running &&
	test_equal "$(ws_field evA 2 "e[\"data\"][\"status\"]")" success &&
	test_equal "$(ws_field evA 2 "e[\"event\"]")" ci.build.updated &&
	test_equal "$(ws_field evA 2 "e[\"data\"][\"provider\"]")" farm &&
	test_equal "$(ws_field evA 2 "e[\"data\"][\"buildId\"]")" "$RUN1" &&
	test_equal "$(ws_field evA 2 "e[\"data\"][\"project\"]")" "$WEB" &&
	test_equal "$(ws_field evA 2 "e[\"data\"][\"orgId\"]")" org-a &&
	test_equal "$(ws_field evA 2 "e[\"data\"][\"commitSha\"]")" 9f8e7d6c5b4a3928170665544332211000aabbcc &&
	ws_ids_consecutive evA
'

test_expect_success 'the log: each argument reached the engine whole, no secret in its environment' '
	TOKEN=$USER_A api GET "/api/v1/pipelines/$WEB/runs/$RUN1/log" && expect_status 200 &&
	test_grep "^Content-Type: text/plain" headers &&
	test_grep "^arg\[build\]$" body &&
	test_grep "^arg\[$WS/web/dir with space/Docker;file\]$" body &&
	test_grep "^arg\[127.0.0.1:5999/acme/web:1.4.0-9f8e7d6\]$" body &&
	test_grep "^arg\[$WS/web\]$" body &&
	test_grep "^arg\[push\]$" body &&
	test_grep "env JWT_SECRET=unset FARM_CONFIG=unset PATH=set" body &&
	test_no_grep "arg\[--tls-verify" body &&
	test_grep "stage .Build Docker Image. succeeded" body &&
	find "$TRASH/state" -path "*/runs/$RUN1.log" -perm 600 >logfile &&
	test_equal "$(wc -l <logfile)" 1
'

test_expect_success 'runs are listed newest first; a second run is number 2' '
	TOKEN=$ADMIN_A new_run "$WEB" 1.4.1 abcdef0123 && RUN2=$RID &&
	test_equal "$(json_get body "d[\"number\"]")" 2 &&
	TOKEN=$USER_A wait_run "$WEB" "$RUN2" &&
	TOKEN=$USER_A api GET "/api/v1/pipelines/$WEB/runs" && expect_status 200 &&
	test_equal "$(json_get body "[r[\"number\"] for r in d]")" "[2, 1]" &&
	test_equal "$(json_get body "d[0][\"stages\"][0][\"image\"]")" "127.0.0.1:5999/acme/web:1.4.1-abcdef0"
'

test_expect_success 'another org sees neither the pipeline nor its runs (404 like missing)' '
	TOKEN=$ADMIN_B api GET "/api/v1/pipelines/$WEB" && expect_status 404 &&
	cp body other.json &&
	TOKEN=$ADMIN_B api GET "/api/v1/pipelines/00000000-0000-4000-8000-000000000000" &&
	expect_status 404 &&
	TOKEN=$ADMIN_B api GET /api/v1/pipelines && test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_B api GET "/api/v1/pipelines/$WEB/runs/$RUN1" && expect_status 404 &&
	TOKEN=$ADMIN_B api GET "/api/v1/pipelines/$WEB/runs/$RUN1/log" && expect_status 404 &&
	TOKEN=$ADMIN_B api GET "/api/v1/pipelines/$WEB/runs" && expect_status 404 &&
	TOKEN=$ADMIN_B api POST "/api/v1/pipelines/$WEB/runs" "{\"version\":\"1\",\"commitSha\":\"abcdef0\"}" &&
	expect_status 404 &&
	TOKEN=$USER_A api GET "/api/v1/pipelines/$WEB/runs/$RUN1/log/x" && expect_status 404
'

# ---- failures ------------------------------------------------------------------------------

test_expect_success 'a failing Dockerfile: the run fails with the engine error, in the run and the log' '
	mkdir -p "$WS/broken" && printf "FROM scratch\nRUN false # FAIL\n" >"$WS/broken/Dockerfile" &&
	TOKEN=$ADMIN_A new_pipeline "{\"name\":\"broken\",\"workspace\":\"broken\",\"stages\":[
		{\"name\":\"compile\",\"type\":\"build\",\"config\":{\"tag\":\"acme/broken:{{version}}\"}},
		{\"name\":\"never\",\"type\":\"build\",\"config\":{\"tag\":\"acme/never\"}}]}" &&
	TOKEN=$ADMIN_A new_run "$PID" 2.0 abcdef0 &&
	TOKEN=$USER_A wait_run "$PID" "$RID" &&
	test_equal "$(json_get body "d[\"status\"]")" failed &&
	test_equal "$(json_get body "d[\"stages\"][0][\"status\"]")" failed &&
	test_equal "$(json_get body "d[\"stages\"][1][\"status\"]")" skipped &&
	test_equal "$(json_get body "d[\"stages\"][0][\"exitCode\"]")" 1 &&
	json_get body "d[\"stages\"][0][\"error\"]" >err &&
	test_grep "docker build exited with status 1: Error: building at STEP \"RUN false\": exit status 1" err &&
	json_get body "d[\"error\"]" >err && test_grep "^stage .compile.: docker build exited with status 1" err &&
	TOKEN=$USER_A api GET "/api/v1/pipelines/$PID/runs/$RID/log" &&
	test_grep "Error: building at STEP" body && test_grep "stage .compile. failed" body &&
	test_no_grep "arg\[push\]" body
'

test_expect_success 'an engine not in PATH fails the stage with a descriptive error' '
	TOKEN=$ADMIN_A new_pipeline "{\"name\":\"pod\",\"workspace\":\"web\",\"stages\":[
		{\"name\":\"Build\",\"type\":\"build\",\"config\":{\"engine\":\"podman\",\"dockerfile\":\"dir with space/Docker;file\",\"tag\":\"acme/pod\"}}]}" &&
	TOKEN=$ADMIN_A new_run "$PID" 1 abcdef0 &&
	TOKEN=$USER_A wait_run "$PID" "$RID" &&
	test_equal "$(json_get body "d[\"status\"]")" failed &&
	test_equal "$(json_get body "d[\"stages\"][0][\"error\"]")" "build engine '"'"'podman'"'"' not found in PATH" &&
	TOKEN=$USER_A api GET "/api/v1/pipelines/$PID/runs/$RID/log" &&
	test_grep "build engine .podman. not found in PATH" body &&
	kill -0 "$(daemon_pid farm-runner)"
'

test_expect_success 'a stage over its timeout is killed and fails' '
	mkdir -p "$WS/slow" && printf "FROM scratch # SLEEP\n" >"$WS/slow/Dockerfile" &&
	TOKEN=$ADMIN_A new_pipeline "{\"name\":\"slow\",\"workspace\":\"slow\",\"stages\":[
		{\"name\":\"Build\",\"type\":\"build\",\"config\":{\"tag\":\"acme/slow\",\"timeout\":1}}]}" &&
	TOKEN=$ADMIN_A new_run "$PID" 1 abcdef0 &&
	TOKEN=$USER_A wait_run "$PID" "$RID" 20 &&
	test_equal "$(json_get body "d[\"stages\"][0][\"error\"]")" "stage timed out after 1 s (docker build was killed)" &&
	engine_gone "$WS/slow"
'

test_expect_success 'a missing workspace, a context leaving it through a symlink, a missing Dockerfile' '
	TOKEN=$ADMIN_A new_pipeline "{\"name\":\"nows\",\"workspace\":\"nowhere\",\"stages\":[
		{\"name\":\"B\",\"type\":\"build\",\"config\":{\"tag\":\"x\"}}]}" &&
	TOKEN=$ADMIN_A new_run "$PID" 1 abcdef0 && TOKEN=$USER_A wait_run "$PID" "$RID" &&
	test_equal "$(json_get body "d[\"error\"]")" "workspace '"'"'nowhere'"'"' does not exist under pipelines.workspace_root" &&
	mkdir -p "$WS/esc" && ln -s / "$WS/esc/root" && echo "FROM scratch" >"$WS/esc/Dockerfile" &&
	TOKEN=$ADMIN_A new_pipeline "{\"name\":\"esc\",\"workspace\":\"esc\",\"stages\":[
		{\"name\":\"B\",\"type\":\"build\",\"config\":{\"tag\":\"x\",\"context\":\"root/etc\",\"dockerfile\":\"Dockerfile\"}},
		{\"name\":\"C\",\"type\":\"build\",\"config\":{\"tag\":\"x\",\"dockerfile\":\"root/etc/passwd\"}}]}" &&
	ESC=$PID &&
	TOKEN=$ADMIN_A new_run "$ESC" 1 abcdef0 && TOKEN=$USER_A wait_run "$ESC" "$RID" &&
	test_equal "$(json_get body "d[\"stages\"][0][\"error\"]")" "context '"'"'root/etc'"'"' leaves the workspace" &&
	TOKEN=$ADMIN_A new_pipeline "{\"name\":\"nodf\",\"workspace\":\"esc\",\"stages\":[
		{\"name\":\"B\",\"type\":\"build\",\"config\":{\"tag\":\"x\",\"dockerfile\":\"Nope\"}}]}" &&
	TOKEN=$ADMIN_A new_run "$PID" 1 abcdef0 && TOKEN=$USER_A wait_run "$PID" "$RID" &&
	test_equal "$(json_get body "d[\"stages\"][0][\"error\"]")" "dockerfile '"'"'Nope'"'"' not found in the workspace"
'

# ---- the runner killed mid-run ------------------------------------------------------------

test_expect_success 'a runner killed mid-run: that run failed at restart, the queued run kept' '
	TOKEN=$ADMIN_A new_pipeline "{\"name\":\"slow2\",\"workspace\":\"slow\",\"stages\":[
		{\"name\":\"Build\",\"type\":\"build\",\"config\":{\"tag\":\"acme/slow\"}}]}" &&
	SLOW=$PID &&
	TOKEN=$ADMIN_A new_run "$SLOW" 1 abcdef0 && KILLED=$RID &&
	TOKEN=$USER_A wait_until 20 _run_is "$SLOW" "$KILLED" running &&
	TOKEN=$ADMIN_A new_run "$WEB" 9.9 abcdef0 && KEPT=$RID &&
	daemon_stop farm-runner KILL &&
	sleep 1 &&
	TOKEN=$USER_A api GET "/api/v1/pipelines/$WEB/runs/$KEPT" &&
	test_equal "$(json_get body "d[\"status\"]")" queued &&
	daemon_start farm-runner &&
	TOKEN=$USER_A wait_run "$SLOW" "$KILLED" 10 &&
	test_equal "$(json_get body "d[\"status\"]")" failed &&
	test_equal "$(json_get body "d[\"error\"]")" "farm-runner stopped while this run was running" &&
	test_equal "$(json_get body "d[\"stages\"][0][\"status\"]")" failed &&
	TOKEN=$USER_A wait_run "$WEB" "$KEPT" 30 &&
	test_equal "$(json_get body "d[\"status\"]")" success &&
	engine_gone "$WS/slow"
'

test_expect_success 'SIGTERM during a run: the engine is killed, the run failed, exit 0' '
	TOKEN=$ADMIN_A new_run "$SLOW" 2 abcdef0 && STOPPED=$RID &&
	TOKEN=$USER_A wait_until 20 _run_is "$SLOW" "$STOPPED" running &&
	pid=$(daemon_pid farm-runner) &&
	daemon_stop farm-runner TERM &&
	TOKEN=$USER_A api GET "/api/v1/pipelines/$SLOW/runs/$STOPPED" &&
	test_equal "$(json_get body "d[\"status\"]")" failed &&
	json_get body "d[\"error\"]" >err && test_grep "farm-runner was stopped" err &&
	engine_gone "$WS/slow" &&
	test_grep "stopped" "$TRASH/state/log/farm-runner.log" &&
	daemon_start farm-runner
'

test_expect_success 'no sanitizer report or nginx alert' '
	check_logs_clean
'

test_done
