#!/bin/bash
# t/fake/selftest.sh — prove that each fake platform answers as documented in
# t/fake/README.md.  Starts every fake on a free port, talks to it with curl,
# prints TAP and exits non-zero when a check fails.
#
#   t/fake/selftest.sh            (or: prove t/fake/selftest.sh)
#
# Checks read:   req NAME METHOD PATH [curl args]     one request to fake NAME
#                check "what" answers STATUS 'EXPR' 'VALUE'
# where EXPR is a Python expression over d (the JSON answer) and VALUE a Python
# literal it must equal.

# SC2016: all_of evaluates its single-quoted commands later, on purpose.
# SC2154: $port_NAME and $pid_NAME are set by start() through printf -v.
# shellcheck disable=SC2016,SC2154
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fake-selftest.XXXXXX") || exit 1
py=/usr/bin/python3
pids=""
n=0
failed=0
code=000
rc=0

# shellcheck disable=SC2317  # invoked by trap
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() {
	n=$((n + 1)); failed=$((failed + 1))
	echo "not ok $n - $1"
	echo "#   last request: HTTP $code, curl exit $rc, body: $(head -c 300 "$tmp/body" 2>/dev/null)"
}
# check DESCRIPTION COMMAND [ARGS...]: the command's success is the test
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }

# start NAME FAKE [ARGS...]: run fake-FAKE.py as NAME; sets $port_NAME, $pid_NAME
start() {
	local name=$1 fake=$2 i=0; shift 2
	"$here/fake-$fake.py" --portfile "$tmp/$name.port" --pidfile "$tmp/$name.pid" \
		--record "$tmp/$name.rec" "$@" 2>"$tmp/$name.err" &
	pids="$pids $!"
	printf -v "pid_$name" %s "$!"
	while [ ! -s "$tmp/$name.port" ]; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			echo "Bail out! fake-$fake did not start: $(cat "$tmp/$name.err")"
			exit 1
		fi
		sleep 0.05
	done
	printf -v "port_$name" %s "$(cat "$tmp/$name.port")"
}
url() { local p="port_$1"; echo "http://127.0.0.1:${!p}$2"; }

# req NAME METHOD PATH [CURL ARGS...]: sets $code (000 when no answer) and $rc
# (curl's exit status); the body lands in $tmp/body, the headers in $tmp/hdr
req() {
	local name=$1 method=$2 path=$3; shift 3
	: >"$tmp/body"; : >"$tmp/hdr"
	code=$(curl -s -g -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' -X "$method" "$@" \
		"$(url "$name" "$path")")
	rc=$?
}

# ctl NAME METHOD /__fake/PATH [JSON]: control request; answer in $tmp/ctl
ctl() {
	local name=$1 method=$2 path=$3
	if [ $# -gt 3 ]; then
		curl -s -f -X "$method" -H 'Content-Type: application/json' -d "$4" \
			"$(url "$name" "$path")" >"$tmp/ctl"
	else
		curl -s -f -X "$method" "$(url "$name" "$path")" >"$tmp/ctl"
	fi
}

# pyeq FILE EXPR VALUE: eval(EXPR) == eval(VALUE) with d = JSON of FILE
pyeq() {
	"$py" - "$@" <<-'EOF'
	import json, sys
	try:
	    d = json.load(open(sys.argv[1], encoding="utf-8"))
	    got, want = eval(sys.argv[2]), eval(sys.argv[3])
	except Exception as e:
	    print("#   %s: %s" % (type(e).__name__, e)); sys.exit(1)
	if got != want:
	    print("#   got %r, want %r" % (got, want)); sys.exit(1)
	EOF
}
is() { pyeq "$tmp/body" "$1" "$2"; }
ctl_is() { pyeq "$tmp/ctl" "$1" "$2"; }
status() { [ "$code" = "$1" ]; }
answers() { status "$1" && is "$2" "$3"; }
hdr() { grep -i "^$1:" "$tmp/hdr" | head -n1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }
header_is() { [ "$(hdr "$1")" = "$2" ]; }
header_matches() { hdr "$1" | grep -Eq "$2"; }
body_has() { grep -q "$1" "$tmp/body"; }
not_json() { ! "$py" -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/body" 2>/dev/null; }
body_size() { [ "$(wc -c <"$tmp/body")" -eq "$1" ]; }
# all_of 'CMD' 'CMD'...: every shell command (evaluated) succeeds
all_of() { local c; for c in "$@"; do eval "$c" || return 1; done; }

# ---------------------------------------------------------------- the fakes

echo "# fakes run in $tmp"
start argo argocd
start candor candor
start circle circleci
start circle7 circleci --page-size 7
start jenkins jenkins
start jcrumb jenkins --require-crumb --user ci --token secret-tok
start jnocrumb jenkins --no-crumb
start travis travis --keyfile "$tmp/travis-key.pem"

AB='Authorization: Bearer argocd-test-token'
CT='Circle-Token: circle-test-token'
JU='farm:11f0e3c2a9b8d7e6f5a4b3c2d1e0f9a8b7'
TV='Travis-API-Version: 3'
TT='Authorization: token travis-test-token'
names='[a["metadata"]["name"] for a in d["items"]]'

# ---------------------------------------------------------------- Argo CD

req argo GET /api/v1/applications
check "argocd: no token -> 401 'no session information', grpc-gateway body" \
	answers 401 'd' '{"error": "no session information", "code": 16, "message": "no session information", "details": []}'
req argo GET /api/v1/applications -H 'Authorization: Bearer wrong'
check "argocd: wrong token -> 401 'invalid session: ...'" \
	answers 401 'd["code"], d["message"].startswith("invalid session: ")' '16, True'
req argo GET /api/v1/applications -H "$AB"
check "argocd: list -> 3 Applications + metadata.resourceVersion" \
	answers 200 'len(d["items"]), d["metadata"]["resourceVersion"].isdigit()' '3, True'
check "argocd: apps carry spec.source/destination, status.health/sync/operationState" \
	is 'all(a["spec"]["source"]["repoURL"] and a["spec"]["destination"]["namespace"] and a["status"]["health"]["status"] and a["status"]["sync"]["status"] and a["status"]["operationState"]["phase"] for a in d["items"])' 'True'
req argo GET '/api/v1/applications?projects=payments' -H "$AB"
check "argocd: ?projects= filters" is "sorted($names)" '["billing-api", "inventory-worker"]'
req argo GET '/api/v1/applications?selector=team%3Dweb,tier%20in%20(frontend)' -H "$AB"
check "argocd: ?selector= (label selector) filters" is "$names" '["guestbook"]'
req argo GET '/api/v1/applications?repo=https://github.com/acme/billing' -H "$AB"
check "argocd: ?repo= matches spec.source.repoURL (ignoring .git)" is "$names" '["billing-api"]'
req argo GET '/api/v1/applications?name=nope' -H "$AB"
check "argocd: empty list -> items null" answers 200 'd["items"]' 'None'
req argo GET /api/v1/applications/guestbook -H "$AB"
check "argocd: get one app" answers 200 'd["metadata"]["name"]' '"guestbook"'
req argo GET /api/v1/applications/nope -H "$AB"
check "argocd: missing app, no ?project= -> 403 permission denied (code 7)" \
	answers 403 'd["code"], d["message"]' '7, "permission denied"'
req argo GET '/api/v1/applications/nope?project=default' -H "$AB"
check "argocd: missing app with ?project= -> 404 (code 5)" \
	answers 404 'd["code"], d["message"]' '5, "applications.argoproj.io \"nope\" not found"'
req argo GET '/api/v1/applications/billing-api?project=default' -H "$AB"
check "argocd: app of another project -> 403" answers 403 'd["code"]' '7'
req argo POST /api/v1/applications/guestbook/sync -H "$AB" -H 'Content-Type: application/json' \
	-d '{"revision":"main","prune":true,"dryRun":false,"strategy":{"hook":{}},"syncOptions":{"items":["CreateNamespace=true"]}}'
check "argocd: sync -> 200, the app with operation.sync set" \
	answers 200 '[d["operation"]["sync"][k] for k in ("revision", "prune", "syncOptions", "syncStrategy")]' \
	'["main", True, ["CreateNamespace=true"], {"hook": {}}]'
req argo POST /api/v1/applications/guestbook/sync -H "$AB" -d '{}'
check "argocd: sync while the last one runs -> 400 (code 9)" \
	answers 400 'd["code"], d["message"]' '9, "another operation is already in progress"'
req argo POST /api/v1/applications/nope/sync -H "$AB" -d '{"project":"default"}'
check "argocd: sync of a missing app with project -> 404" status 404
ctl argo GET /__fake/requests
check "argocd: records keep method, headers, query and body" \
	ctl_is '[(r["method"], r["headers"]["authorization"], json.loads(r["body"]).get("prune"), r["query"]) for r in d if r["path"] == "/api/v1/applications/guestbook/sync"]' \
	'[("POST", "Bearer argocd-test-token", True, {}), ("POST", "Bearer argocd-test-token", None, {})]'
check "argocd: --record file has one JSON line per API request" \
	ctl_is 'len(d)' "$(wc -l <"$tmp/argo.rec")"
ctl argo POST /__fake/state '{"apps":[{"metadata":{"name":"solo"},"spec":{"project":"default"}}]}'
req argo GET /api/v1/applications -H "$AB"
check "control: POST /__fake/state replaces the data" is "$names" '["solo"]'
ctl argo DELETE /__fake/state
req argo GET /api/v1/applications -H "$AB"
check "control: DELETE /__fake/state restores the default data" is 'len(d["items"])' '3'

# ---------------------------------------------------------------- modes (on Argo CD)

ctl argo POST /__fake/reset
ctl argo GET /__fake/requests
check "control: reset clears the records" ctl_is 'd' '[]'
ctl argo POST /__fake/mode '{"mode":"401"}'
req argo GET /api/v1/applications -H "$AB"
check "mode 401: the platform's auth refusal (Argo CD: 401, code 16)" answers 401 'd["code"]' '16'
ctl argo POST /__fake/mode '{"mode":"404","count":1}'
req argo GET /api/v1/applications -H "$AB"
first=$code
req argo GET /api/v1/applications -H "$AB"
check "mode 404 with count 1: one 404, then normal again" test "$first:$code" = "404:200"
ctl argo POST /__fake/mode '{"mode":"429","retryAfter":"7","count":1}'
req argo GET /api/v1/applications -H "$AB"
check "mode 429: 429 with Retry-After: 7" all_of 'status 429' 'header_is Retry-After 7'
ctl argo POST /__fake/mode '{"mode":"500","count":1}'
req argo GET /api/v1/applications -H "$AB"
check "mode 500" status 500
ctl argo POST /__fake/mode '{"mode":"html","count":1}'
req argo GET /api/v1/applications -H "$AB"
check "mode html: 200 text/html" all_of 'status 200' 'header_matches Content-Type ^text/html'
ctl argo POST /__fake/mode '{"mode":"garbage","count":1}'
req argo GET /api/v1/applications -H "$AB"
check "mode garbage: 200 application/json that does not parse" \
	all_of 'status 200' 'header_matches Content-Type json' not_json
ctl argo POST /__fake/mode '{"mode":"huge","count":1}'
req argo GET /api/v1/applications -H "$AB"
check "mode huge: 200 with a 20 MiB body" all_of 'status 200' 'body_size 20971520'
ctl argo POST /__fake/mode '{"mode":"reset","count":1}'
req argo GET /api/v1/applications -H "$AB"
check "mode reset: the connection is reset, no answer" \
	all_of 'status 000' '[ $rc = 56 ] || [ $rc = 52 ]'
ctl argo POST /__fake/mode '{"mode":"hang","count":1,"seconds":5}'
req argo GET /api/v1/applications -H "$AB" --max-time 1
check "mode hang: no answer within curl --max-time 1" test "$rc" = 28
ctl argo POST /__fake/mode '{"mode":"404","pathPrefix":"/api/v1/applications/billing"}'
req argo GET /api/v1/applications/guestbook -H "$AB"
first=$code
req argo GET /api/v1/applications/billing-api -H "$AB"
check "mode with pathPrefix hits only matching paths" test "$first:$code" = "200:404"
ctl argo POST /__fake/mode '{"mode":"normal"}'
ctl argo GET /__fake/mode
check "control: mode normal ends a mode" ctl_is 'd["mode"]' '"normal"'
check "control: an unknown mode is refused" \
	test "$(curl -s -o /dev/null -w '%{http_code}' -d '{"mode":"bogus"}' "$(url argo /__fake/mode)")" = 400
ctl argo POST /__fake/reset
curl -s -o /dev/null -o /dev/null -H "$AB" "$(url argo /api/v1/applications)" "$(url argo /api/v1/applications/guestbook)"
ctl argo GET /__fake/stats
check "control: stats count API requests and the connections carrying them" \
	ctl_is 'd["requests"], d["apiConnections"]' '2, 1'

# ---------------------------------------------------------------- CircleCI

req circle GET /api/v2/me
check "circleci: no token -> 401 'You must log in first.'" answers 401 'd' '{"message": "You must log in first."}'
req circle GET /api/v2/me -H 'Circle-Token: nope'
check "circleci: wrong token -> 401 'Invalid token provided.'" answers 401 'd' '{"message": "Invalid token provided."}'
req circle GET /api/v2/me -H "$CT"
check "circleci: GET /me" answers 200 'd["login"]' '"alice"'
req circle GET /api/v2/me -u circle-test-token:
check "circleci: Basic auth with the token as user name" status 200
req circle GET /api/v2/project/gh/acme/api/pipeline -H "$CT"
check "circleci: first page = the 20 newest pipelines + next_page_token" \
	answers 200 'len(d["items"]), d["items"][0]["number"], d["items"][-1]["number"], bool(d["next_page_token"])' '20, 125, 106, True'
check "circleci: pipeline items have the v2 shape" \
	is '[k for k in ("id", "errors", "project_slug", "updated_at", "number", "state", "created_at", "trigger", "vcs") if k not in d["items"][0]] + [k for k in ("origin_repository_url", "target_repository_url", "revision", "provider_name", "branch", "commit") if k not in d["items"][0]["vcs"]] + [k for k in ("type", "received_at", "actor") if k not in d["items"][0]["trigger"]]' '[]'
token=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["next_page_token"])' "$tmp/body")
req circle GET "/api/v2/project/gh%2Facme%2Fapi/pipeline?page-token=$token" -H "$CT"
check "circleci: page-token gives the rest (with a %2F-encoded slug)" \
	answers 200 '[p["number"] for p in d["items"]], d["next_page_token"]' '[105, 104, 103, 102, 101], None'
req circle GET '/api/v2/project/gh/acme/api/pipeline?branch=feature/login' -H "$CT"
check "circleci: ?branch= filters" \
	answers 200 'len(d["items"]) > 0 and all(p["vcs"]["branch"] == "feature/login" for p in d["items"])' 'True'
req circle7 GET /api/v2/project/gh/acme/api/pipeline -H "$CT"
check "circleci: --page-size 7" is 'len(d["items"])' '7'
req circle GET /api/v2/project/gh/acme/nope/pipeline -H "$CT"
check "circleci: unknown project -> 404 'Project not found'" answers 404 'd' '{"message": "Project not found"}'
req circle GET '/api/v2/pipeline?org-slug=gh/acme&mine=true' -H "$CT"
check "circleci: org listing with mine=true" \
	answers 200 'len(d["items"]) > 0 and all(p["trigger"]["actor"]["login"] == "alice" and p["project_slug"].startswith("gh/acme/") for p in d["items"])' 'True'
req circle GET /api/v2/project/gh/acme/api/pipeline/125 -H "$CT"
pipeline_id=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/body")
req circle GET "/api/v2/pipeline/$pipeline_id/workflow" -H "$CT"
check "circleci: workflows of a pipeline" \
	answers 200 'd["items"][0]["status"], d["items"][0]["pipeline_number"], d["next_page_token"]' '"running", 125, None'
req circle POST /api/v2/project/gh%2Facme%2Fapi/pipeline -H "$CT" -H 'Content-Type: application/json' \
	-d '{"branch":"main","parameters":{"deploy":true}}'
check "circleci: trigger -> 201 {id, state pending, number, created_at}" \
	answers 201 'd["state"], d["number"], sorted(d)' '"pending", 126, ["created_at", "id", "number", "state"]'
req circle POST /api/v2/project/gh/acme/api/pipeline -H "$CT" -d '{"branch":"main","tag":"v1"}'
check "circleci: branch and tag together -> 400 {message}" answers 400 'list(d)' '["message"]'
req circle POST /api/v2/project/gh/acme/nope/pipeline -H "$CT" -d '{"branch":"main"}'
check "circleci: trigger on an unknown project -> 404" status 404
ctl circle POST /__fake/mode '{"mode":"429","count":1,"retryAfter":"3"}'
req circle GET /api/v2/me -H "$CT"
check "circleci: mode 429 -> 'Rate limit exceeded.' + Retry-After" \
	all_of 'answers 429 "d[\"message\"]" "\"Rate limit exceeded.\""' 'header_is Retry-After 3'

# ---------------------------------------------------------------- Jenkins

req jenkins GET /api/json
check "jenkins: no credentials -> 403 (anonymous)" \
	all_of 'status 403' 'header_is X-You-Are-Authenticated-As anonymous'
req jenkins GET /api/json -u farm:wrong
check "jenkins: wrong API token -> 401" all_of 'status 401' 'body_has "Invalid password/token"'
build='number,result,building,timestamp,duration'
req jenkins GET "/api/json?tree=jobs[name,url,color,lastBuild[$build],jobs[name,url,color,lastBuild[$build]]]" -u "$JU"
check "jenkins: tree= selects exactly the fields asked (+ _class)" \
	answers 200 'd["jobs"][0]' "{'_class': 'hudson.model.FreeStyleProject', 'name': 'farm-build', 'url': '$(url jenkins /job/farm-build/)', 'color': 'blue', 'lastBuild': {'_class': 'hudson.model.FreeStyleBuild', 'number': 12, 'result': 'SUCCESS', 'building': False, 'timestamp': 1735765200000, 'duration': 71967}}"
check "jenkins: a folder has _class Folder, no color, and its own jobs" \
	is 'd["jobs"][1]["_class"], "color" in d["jobs"][1], [j["name"] for j in d["jobs"][1]["jobs"]]' \
	'"com.cloudbees.hudson.plugins.folder.Folder", False, ["api deploy", "nightly 100%"]'
check "jenkins: a running job: blue_anime, lastBuild result null, building true" \
	is '[d["jobs"][1]["jobs"][0]["color"]] + [d["jobs"][1]["jobs"][0]["lastBuild"][k] for k in ("result", "building", "duration")]' '["blue_anime", None, True, 0]'
check "jenkins: names with space and % are encoded in URLs on the fake's base" \
	is 'd["jobs"][1]["jobs"][1]["url"]' "'$(url jenkins /job/platform/job/nightly%20100%25/)'"
req jenkins GET '/job/platform/job/nightly%20100%25/api/json?tree=builds[number,result,building,timestamp,duration,url]{1,3}' -u "$JU"
check "jenkins: builds[...]{M,N} range, newest first" \
	answers 200 '[b["number"] for b in d["builds"]], sorted(d["builds"][0])' \
	'[44, 43], ["_class", "building", "duration", "number", "result", "timestamp", "url"]'
req jenkins GET /job/farm-build/api/json -u "$JU"
check "jenkins: a job without tree= has builds [{number,url}] and lastBuild" \
	answers 200 'len(d["builds"]), sorted(d["builds"][0]), d["lastBuild"]["number"]' '12, ["_class", "number", "url"], 12'
req jenkins GET /job/nope/api/json -u "$JU"
check "jenkins: unknown job -> 404 HTML page" all_of 'status 404' 'header_matches Content-Type ^text/html'
req jenkins GET /crumbIssuer/api/json -u "$JU"
check "jenkins: crumb issuer" \
	answers 200 'd["_class"], d["crumbRequestField"], len(d["crumb"]) > 0' '"hudson.security.csrf.DefaultCrumbIssuer", "Jenkins-Crumb", True'
req jenkins POST /job/farm-build/build -u "$JU"
location=$(hdr Location)
check "jenkins: POST build (API token, no crumb) -> 201, Location queue item, empty body" \
	all_of 'status 201' 'body_size 0' \
	'echo "$location" | grep -Eq "^$(url jenkins /queue/item/)[0-9]+/\$"'
queue_path=${location#"$(url jenkins '')"}
req jenkins GET "${queue_path}api/json" -u "$JU"
check "jenkins: first queue poll: still waiting, no executable" \
	answers 200 'd["_class"], d.get("executable")' '"hudson.model.Queue$WaitingItem", None'
req jenkins GET "${queue_path}api/json" -u "$JU"
check "jenkins: next poll: executable {number, url}" \
	answers 200 'd["executable"]["number"], d["executable"]["url"]' "13, '$(url jenkins /job/farm-build/13/)'"
req jenkins GET '/job/farm-build/lastBuild/api/json?tree=number,building,result' -u "$JU"
check "jenkins: the started build is running" is 'd["number"], d["building"], d["result"]' '13, True, None'
req jenkins POST '/job/platform/job/api%20deploy/buildWithParameters?ENV=prod' -u "$JU"
first="$code $(hdr Location)"
req jenkins POST '/job/platform/job/api%20deploy/buildWithParameters' -u "$JU" -d ENV=prod
check "jenkins: buildWithParameters -> 201; the identical queued item -> 303, same Location" \
	test "$first" = "201 $(hdr Location)" -a "$code" = 303
req jenkins POST /job/farm-build/buildWithParameters -u "$JU"
check "jenkins: buildWithParameters on an unparameterized job -> 400" status 400
ctl jenkins GET /__fake/requests
check "jenkins: records keep the Basic header and the form body" \
	ctl_is '[(r["body"], r["headers"]["authorization"].split()[0]) for r in d if r["method"] == "POST" and "api%20deploy" in r["path"]][-1]' '"ENV=prod", "Basic"'
req jcrumb POST /job/farm-build/build -u ci:secret-tok
check "jenkins --require-crumb: POST without a crumb -> 403" all_of 'status 403' 'body_has "No valid crumb"'
req jcrumb GET /crumbIssuer/api/json -u ci:secret-tok
crumb=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["crumb"])' "$tmp/body")
req jcrumb POST /job/farm-build/build -u ci:secret-tok -H "Jenkins-Crumb: $crumb"
check "jenkins --require-crumb: POST with the crumb -> 201" status 201
req jnocrumb GET /crumbIssuer/api/json -u "$JU"
check "jenkins --no-crumb: crumb issuer -> 404" status 404

# ---------------------------------------------------------------- Travis CI

req travis GET '/repo/acme%2Fapi/builds' -H "$TT"
check "travis: without Travis-API-Version: 3 -> 404 (not the v3 API)" status 404
req travis GET '/repo/acme%2Fapi/builds' -H "$TV"
check "travis: no token -> 403 login_required" \
	answers 403 'd' '{"@type": "error", "error_type": "login_required", "error_message": "login required"}'
req travis GET '/repo/acme%2Fapi/builds' -H "$TV" -H 'Authorization: token nope'
check "travis: wrong token -> 403 (never 401)" answers 403 'd["@type"]' '"error"'
req travis GET '/repo/acme%2Fapi/builds' -H "$TV" -H "$TT"
check "travis: repo builds: 25 of 30, @pagination.next at offset 25" \
	answers 200 'd["@type"], len(d["builds"]), d["@pagination"]["count"], d["@pagination"]["is_last"], d["@pagination"]["next"]["offset"]' '"builds", 25, 30, False, 25'
check "travis: builds are standard v3 build objects, newest first" \
	is '[d["builds"][0][k] for k in ("@type", "number", "state")] + [d["builds"][0]["repository"]["slug"], d["builds"][0]["branch"]["name"], sorted(d["builds"][0]["commit"])]' \
	'["build", "30", "started", "acme/api", "main", ["@representation", "@type", "committed_at", "compare_url", "id", "message", "ref", "sha"]]'
req travis GET '/repo/acme%2Fapi/builds?limit=10&offset=20' -H "$TV" -H "$TT"
check "travis: limit/offset on the last page" \
	is 'len(d["builds"]), d["@pagination"]["is_last"], d["@pagination"]["next"], d["@pagination"]["prev"]["offset"]' '10, True, None, 10'
req travis GET '/repo/acme%2Fapi/builds?branch.name=feature/login&sort_by=number' -H "$TV" -H "$TT"
check "travis: branch.name filter and sort_by" \
	is 'all(b["branch"]["name"] == "feature/login" for b in d["builds"]) and [int(b["number"]) for b in d["builds"]] == sorted(int(b["number"]) for b in d["builds"])' 'True'
req travis GET /repo/acme/api/builds -H "$TV" -H "$TT"
check "travis: a slug with an unencoded slash does not match -> 404" status 404
req travis GET '/repo/acme%2Fnope/builds' -H "$TV" -H "$TT"
check "travis: unknown repo -> 404 not_found (repository)" \
	answers 404 'd["error_type"], d["resource_type"]' '"not_found", "repository"'
req travis GET /builds -H "$TV" -H "$TT"
check "travis: GET /builds (current user), limit 100" answers 200 'd["@pagination"]["count"], d["@pagination"]["limit"]' '33, 100'
req travis POST /build/90000028/restart -H "$TV" -H "$TT"
check "travis: restart -> 202 pending, minimal build, state_change restart" \
	answers 202 'd["@type"], d["build"]["@representation"], d["build"]["id"], d["state_change"], d["resource_type"]' '"pending", "minimal", 90000028, "restart", "build"'
req travis POST /build/90000028/restart -H "$TV" -H "$TT"
check "travis: restarting a build that is running -> 409" status 409
req travis POST /build/12345/restart -H "$TV" -H "$TT"
check "travis: unknown build -> 404 'build not found (or insufficient access)'" \
	answers 404 'd' '{"@type": "error", "error_type": "not_found", "error_message": "build not found (or insufficient access)", "resource_type": "build"}'
req travis POST /v3/build/90000030/cancel -H "$TT"
check "travis: the /v3 prefix works without the header (cancel -> 202)" answers 202 'd["state_change"]' '"cancel"'
req travis GET /config
check "travis: /config (no auth) has config.notifications.webhook.public_key" \
	answers 200 'd["config"]["notifications"]["webhook"]["public_key"].startswith("-----BEGIN PUBLIC KEY-----")' 'True'
"$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["notifications"]["webhook"]["public_key"])' \
	"$tmp/body" >"$tmp/pub.pem"
check "travis: the /config key is the public half of --keyfile" \
	test "$(openssl pkey -in "$tmp/travis-key.pem" -pubout)" = "$(cat "$tmp/pub.pem")"
printf '{"id":42,"number":"7","state":"passed","repository":{"name":"api","owner_name":"acme"}}' >"$tmp/payload.json"
"$here/fake-travis.py" sign --keyfile "$tmp/travis-key.pem" --payload-file "$tmp/payload.json" >"$tmp/sig.b64"
base64 -d "$tmp/sig.b64" >"$tmp/sig.bin"
check "travis: 'sign' verifies with openssl dgst -sha1 -verify and the /config key" \
	all_of 'openssl dgst -sha1 -verify "$tmp/pub.pem" -signature "$tmp/sig.bin" "$tmp/payload.json" | grep -q "Verified OK"'
printf ' ' >>"$tmp/payload.json"
check "travis: ... and fails for other bytes" \
	all_of '! openssl dgst -sha1 -verify "$tmp/pub.pem" -signature "$tmp/sig.bin" "$tmp/payload.json" >/dev/null 2>&1'
ctl travis POST /__fake/mode '{"mode":"401","count":1}'
req travis GET /builds -H "$TV" -H "$TT"
check "travis: mode 401 -> 403 with a v3 error" answers 403 'd["@type"]' '"error"'

# ---------------------------------------------------------------- Candor CI

CJ='Content-Type: application/json'
CR='Authorization: Bearer runner-token-9a8b7c'
req candor POST /login -H "$CJ" -d '{"username":"farm"}'
check "candor: login without a password -> 400" status 400
req candor POST /login -H "$CJ" -d '{"username":"farm","password":"nope"}'
check "candor: wrong password -> 401" status 401
req candor POST /login -H "$CJ" -d '{"username":"farm","password":"candor-pass-4f1e9d"}'
check "candor: login -> 200 and a candor.sid session cookie" \
	all_of 'status 200' 'header_matches Set-Cookie "^candor.sid=[0-9a-f]{32}; Path=/; HttpOnly"'
SID=$(hdr Set-Cookie | cut -d';' -f1)
req candor GET /me -H "Cookie: $SID"
check "candor: /me with the session" answers 200 'd' '{"id": 1, "name": "farm"}'
req candor GET /api/pipelines
check "candor: the list without a session: public pipelines only" answers 200 '[p["id"] for p in d]' '[1, 3, 5]'
req candor GET /api/pipelines -H "Cookie: $SID"
check "candor: with it: public + assigned" answers 200 '[p["id"] for p in d]' '[1, 2, 3, 5]'
req candor GET /api/pipelines/4 -H "Cookie: $SID"
check "candor: a private pipeline of another user -> 403" status 403
req candor GET /api/pipelines/1 -H "Cookie: $SID"
check "candor: a pipeline: lastRuns (finish desc) and its trigger token" \
	answers 200 '[r["id"] for r in d["lastRuns"]], d["trigger"], d["running"]' '["c0ffee01", "0badc0de", "a1b2c3d4"], "3f2a9c41d0b7e6a5", False'
req candor GET /api/pipelines/5 -H "Cookie: $SID"
check "candor: not assigned: trigger hidden" answers 200 'd["trigger"], d["assigned"]' '"hidden", False'
req candor POST /trigger/3f2a9c41d0b7e6a5 -H "$CJ" -d '{}'
check "candor: trigger without a session -> 403 (the code, not the wiki)" status 403
req candor POST /trigger/77aa88bb99cc00dd -H "Cookie: $SID" -H "$CJ" -d '{}'
check "candor: trigger of a running pipeline -> 400" status 400
req candor POST /trigger/d3p10y5ecr3t0k3n -H "Cookie: $SID" -H "$CJ" -d '{"ref":"refs/heads/dev"}'
check "candor: constraints not met -> 204" status 204
req candor POST /trigger/3f2a9c41d0b7e6a5 -H "Cookie: $SID" -H "$CJ" -d '{"BRANCH":"x"}'
check "candor: trigger -> 200" status 200
req candor GET /api/runs/1/last/log -H "Cookie: $SID"
check "candor: the last run's log names the parameters" body_has 'triggered by farm with {"BRANCH": "x"}'
req candor GET /api/runs/1/ffffffff/log -H "Cookie: $SID"
check "candor: no log -> 404 text" all_of 'status 404' 'body_has "No log could be found"'
ctl candor POST /__fake/expire-sessions
req candor GET /api/pipelines -H "Cookie: $SID"
check "candor: an expired session -> 403" status 403
req candor GET /
check "candor runner: GET / -> 200 without auth" status 200
req candor POST /run -H "$CJ" -d '{"plan":{"stages":[]}}'
check "candor runner: no Authorization -> 400" status 400
req candor POST /run -H "$CJ" -H 'Authorization: Bearer wrong' -d '{"plan":{"stages":[]}}'
check "candor runner: wrong token -> 401" status 401
req candor POST /run -H "$CR" -H "$CJ" -d '{"plan":{"stages":[{"name":"","image":"x"}]}}'
check "candor runner: an empty stage name -> 400" status 400
req candor POST /run -H "$CR" -d 'x'
check "candor runner: not JSON -> 415" status 415
req candor POST /run -H "$CR" -H "$CJ" -d '{"runId":"r1","plan":{"stages":[{"name":"a","image":"i"},{"name":"b","image":"i","script":["exit 2"]},{"name":"c","image":"i"}]}}'
check "candor runner: synchronous result, the rest Skipped after a failure" \
	answers 200 'd' '{"status": "Failed", "stages": [{"name": "a", "status": "Passed", "exitCode": 0}, {"name": "b", "status": "Failed", "exitCode": 2}, {"name": "c", "status": "Skipped", "exitCode": -1}]}'
req candor POST /logs/r1 -H "$CR"
check "candor runner: POST /logs/:runId -> the run's log" all_of 'status 200' 'body_has "run r1: Failed"'
req candor POST /logs/..%2Fetc -H "$CR"
check "candor runner: a malicious run id -> 400" status 400

# ---------------------------------------------------------------- lifecycle

kill -TERM "$pid_argo"
wait "$pid_argo"
check "SIGTERM: clean exit, the pidfile is removed" \
	all_of "[ $? = 0 ]" '[ ! -e "$tmp/argo.pid" ]'
check "no fake wrote anything to stderr" all_of '! cat "$tmp"/*.err | grep -q .'

echo "1..$n"
if [ "$failed" -ne 0 ]; then
	echo "# $failed of $n checks failed"
	exit 1
fi
