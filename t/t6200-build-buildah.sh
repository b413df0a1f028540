#!/bin/bash
# t6200-build-buildah.sh - the OCI build stage for real: farm-runner runs buildah
# (`--storage-driver vfs`, as root) on a `FROM scratch` image and pushes it to a real
# registry (Debian's docker-registry on a free loopback port, plain HTTP, so
# tlsVerify: false); the registry's /v2/<name>/tags/list then shows the templated tag,
# and the pushed layer holds the file the Dockerfile copied.  Also: the run's events on
# a WebSocket client, a Dockerfile that fails under buildah, and tlsVerify: true
# refusing the plain-HTTP registry.  buildah's storage lives in the trash directory
# (CONTAINERS_STORAGE_CONF, which farm-runner passes to the engine).
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

if ! command -v buildah >/dev/null || ! command -v docker-registry >/dev/null; then
	echo "1..0 # SKIP buildah and docker-registry are needed (scripts/deps installs them)"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP buildah with the vfs driver needs root here"
	exit 0
fi

export FARM_ARGOCD_POLL_INTERVAL=0
mkdir -p containers/graph containers/run registry
cat >containers/storage.conf <<EOF
[storage]
driver = "vfs"
runroot = "$TRASH/containers/run"
graphroot = "$TRASH/containers/graph"
EOF
export CONTAINERS_STORAGE_CONF=$TRASH/containers/storage.conf
REG_PORT=$(free_port)
REG=127.0.0.1:$REG_PORT
cat >registry/config.yml <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $TRASH/registry/data
http:
  addr: $REG
EOF

cleanup_buildah() {
	# vfs layers are plain directories; unmount nothing, just remove them.
	rm -rf "$TRASH/containers" 2>/dev/null
	return 0
}

_registry_up() { curl -fsS -o /dev/null "http://$REG/v2/"; }

test_expect_success 'start a registry and farm' '
	docker-registry serve registry/config.yml >registry/out 2>&1 &
	FAKE_PIDS="${FAKE_PIDS:-} $!" &&
	wait_until 10 _registry_up &&
	start_farm
'

WS=$TRASH/state/workspaces
ADMIN=$(token alice org-a admin)
USER=$(token ann org-a)

_run_done() {
	TOKEN=$USER api GET "/api/v1/pipelines/$1/runs/$2" >/dev/null 2>&1 &&
	case "$(json_get body 'd["status"]' 2>/dev/null)" in success | failed) return 0 ;; esac
	return 1
}
wait_run() {
	wait_until "${3:-180}" _run_done "$1" "$2" ||
		{ echo "run $2 did not finish:"; cat body; tail -n 20 "$TRASH/state/log/farm-runner.log"; return 1; }
}

test_expect_success 'a FROM scratch image is built with buildah and pushed with the templated tag' '
	mkdir -p "$WS/hello" &&
	echo "hello from farm" >"$WS/hello/hello.txt" &&
	printf "FROM scratch\nCOPY hello.txt /\n" >"$WS/hello/Dockerfile" &&
	ws_start ev "$USER" &&
	TOKEN=$ADMIN api POST /api/v1/pipelines "{\"name\":\"hello\",\"workspace\":\"hello\",\"stages\":[
		{\"name\":\"Build Docker Image\",\"type\":\"build\",\"config\":{\"engine\":\"buildah\",
		 \"tag\":\"acme/hello:{{version}}-{{commitSha}}\",\"push\":true,\"registry\":\"$REG\",
		 \"tlsVerify\":false}}]}" &&
	expect_status 201 && HELLO=$(json_get body "d[\"id\"]") &&
	TOKEN=$ADMIN api POST "/api/v1/pipelines/$HELLO/runs" \
		"{\"version\":\"1.0.0\",\"commitSha\":\"0123456789abcdef0123456789abcdef01234567\"}" &&
	expect_status 202 && RUN=$(json_get body "d[\"id\"]") &&
	wait_run "$HELLO" "$RUN" &&
	test_equal "$(json_get body "d[\"status\"]")" success &&
	test_equal "$(json_get body "d[\"stages\"][0][\"image\"]")" "$REG/acme/hello:1.0.0-0123456" &&
	curl -sS "http://$REG/v2/acme/hello/tags/list" >tags.json &&
	test_equal "$(json_get tags.json "d[\"tags\"]")" "[\"1.0.0-0123456\"]"
'

test_expect_success 'the pushed image holds the copied file' '
	curl -sS -H "Accept: application/vnd.oci.image.manifest.v1+json" \
		-H "Accept: application/vnd.docker.distribution.manifest.v2+json" \
		"http://$REG/v2/acme/hello/manifests/1.0.0-0123456" >manifest.json &&
	digest=$(json_get manifest.json "d[\"layers\"][0][\"digest\"]") &&
	curl -sS -o layer.bin "http://$REG/v2/acme/hello/blobs/$digest" &&
	$PY -c "import tarfile,sys; t=tarfile.open(sys.argv[1]); print(t.extractfile(\"hello.txt\").read().decode(), end=\"\")" layer.bin >hello.out &&
	test_equal "$(cat hello.out)" "hello from farm"
'

test_expect_success 'the log shows both buildah commands and their output' '
	TOKEN=$USER api GET "/api/v1/pipelines/$HELLO/runs/$RUN/log" && expect_status 200 &&
	test_grep "buildah --storage-driver vfs bud -f $WS/hello/Dockerfile -t acme/hello:1.0.0-0123456 $WS/hello" body &&
	test_grep "buildah --storage-driver vfs push --tls-verify=false acme/hello:1.0.0-0123456 docker://$REG/acme/hello:1.0.0-0123456" body &&
	test_grep "COPY hello.txt /" body &&
	test_grep "Writing manifest to image destination" body
'

test_expect_success 'the run went queued, running, success on the WebSocket' '
	ws_wait ev 3 10 &&
	test_equal "$(ws_field ev 0 "[e[\"data\"][\"status\"], e[\"data\"][\"buildId\"]]")" "[\"queued\", \"$RUN\"]" &&
	test_equal "$(ws_field ev 1 "e[\"data\"][\"status\"]")" running &&
	test_equal "$(ws_field ev 2 "e[\"data\"][\"status\"]")" success &&
	test_equal "$(ws_field ev 2 "e[\"data\"][\"provider\"]")" farm
'

test_expect_success 'a second version is another tag of the same repository' '
	TOKEN=$ADMIN api POST "/api/v1/pipelines/$HELLO/runs" "{\"version\":\"1.1.0\",\"commitSha\":\"fedcba9876\"}" &&
	expect_status 202 && RUN2=$(json_get body "d[\"id\"]") &&
	wait_run "$HELLO" "$RUN2" &&
	test_equal "$(json_get body "d[\"status\"]")" success &&
	curl -sS "http://$REG/v2/acme/hello/tags/list" >tags.json &&
	test_equal "$(json_get tags.json "sorted(d[\"tags\"])")" "[\"1.0.0-0123456\", \"1.1.0-fedcba9\"]"
'

test_expect_success 'a Dockerfile buildah cannot build: the run fails with buildah'"'"'s error' '
	mkdir -p "$WS/bad" && printf "FROM scratch\nCOPY missing.txt /\n" >"$WS/bad/Dockerfile" &&
	TOKEN=$ADMIN api POST /api/v1/pipelines "{\"name\":\"bad\",\"workspace\":\"bad\",\"stages\":[
		{\"name\":\"Build\",\"type\":\"build\",\"config\":{\"engine\":\"buildah\",\"tag\":\"acme/bad:{{version}}\",
		 \"push\":true,\"registry\":\"$REG\",\"tlsVerify\":false}}]}" &&
	expect_status 201 && BAD=$(json_get body "d[\"id\"]") &&
	TOKEN=$ADMIN api POST "/api/v1/pipelines/$BAD/runs" "{\"version\":\"1\",\"commitSha\":\"abcdef0\"}" &&
	RUN3=$(json_get body "d[\"id\"]") && wait_run "$BAD" "$RUN3" &&
	test_equal "$(json_get body "d[\"status\"]")" failed &&
	json_get body "d[\"stages\"][0][\"error\"]" >err &&
	test_grep "^buildah bud exited with status [1-9]" err && test_grep "missing.txt" err &&
	TOKEN=$USER api GET "/api/v1/pipelines/$BAD/runs/$RUN3/log" &&
	test_grep "missing.txt" body && test_no_grep "buildah --storage-driver vfs push" body &&
	curl -sS -o /dev/null -w "%{http_code}" "http://$REG/v2/acme/bad/tags/list" >code &&
	test_equal "$(cat code)" 404
'

test_expect_success 'tlsVerify: true (the default) refuses the plain-HTTP registry' '
	TOKEN=$ADMIN api POST /api/v1/pipelines "{\"name\":\"tls\",\"workspace\":\"hello\",\"stages\":[
		{\"name\":\"Build\",\"type\":\"build\",\"config\":{\"engine\":\"buildah\",\"tag\":\"acme/tls:{{version}}\",
		 \"push\":true,\"registry\":\"$REG\"}}]}" &&
	expect_status 201 && TLS=$(json_get body "d[\"id\"]") &&
	test_equal "$(json_get body "d[\"stages\"][0][\"config\"][\"tlsVerify\"]")" true &&
	TOKEN=$ADMIN api POST "/api/v1/pipelines/$TLS/runs" "{\"version\":\"1\",\"commitSha\":\"abcdef0\"}" &&
	RUN4=$(json_get body "d[\"id\"]") && wait_run "$TLS" "$RUN4" &&
	test_equal "$(json_get body "d[\"status\"]")" failed &&
	json_get body "d[\"stages\"][0][\"error\"]" >err && test_grep "^buildah push exited with status" err &&
	TOKEN=$USER api GET "/api/v1/pipelines/$TLS/runs/$RUN4/log" &&
	test_grep "push --tls-verify=true acme/tls:1" body
'

test_expect_success 'no sanitizer report or nginx alert' '
	check_logs_clean
'

stop_farm
cleanup_buildah
test_done
