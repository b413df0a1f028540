#!/bin/bash
# t2510-runs-index.sh - GET /api/v1/runs from the runs index (lib/events/runidx.h):
# the same answer as a reduction of the retained history (GET /events), a run updated
# moves to the front, runs whose events left events.history go, farm-eventd killed
# with SIGKILL while webhooks arrive loses no run, and runs.index=no (the history
# scan) answers the same.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

export FARM_WEBHOOK_JENKINS_TOKEN=instance-jenkins-token-t2510
export FARM_EVENTS_HISTORY=300
export FARM_RUN_SUPERVISE_EXCEPT="farm-eventd farm-wsd"

# hooks FIRST COUNT JOBS PREFIX: COUNT Jenkins deliveries on the instance-wide path
# (runs of no org: everyone's); delivery i is job PREFIX<i mod JOBS>, phase cycling
# STARTED, COMPLETED, FINALIZED (a run updated in place), build number 1 + i / (3 JOBS):
# no delivery repeats another.
hooks() {
	$PY - "$FARM_URL" "$@" <<'PYEOF'
import http.client, json, sys, urllib.parse
url, first, count, jobs, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
u = urllib.parse.urlparse(url)
ok = 0
for i in range(first, first + count):
    job = "%s%d" % (prefix, i % jobs)
    phase = ["STARTED", "COMPLETED", "FINALIZED"][(i // jobs) % 3]
    b = {"name": job, "url": "job/%s/" % job, "build": {"number": 1 + i // (3 * jobs), "phase": phase,
         "timestamp": 1735725600000 + i, "duration": 1000}}
    if phase != "STARTED":
        b["build"]["status"] = "SUCCESS"
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        c.request("POST", "/api/v1/webhooks/jenkins", json.dumps(b),
                  {"Content-Type": "application/json", "X-Farm-Token": "instance-jenkins-token-t2510"})
        ok += c.getresponse().status == 200
        c.close()
    except OSError:
        pass
print(ok)
PYEOF
}
same() { # [filters...]: GET /runs with them equals the reduction of GET /events
	local q
	q=$(IFS='&'; echo "$*")
	api GET "/api/v1/runs?$q" && expect_status 200 && cp body runs.json &&
	$PY "$TEST_DIR/runs-reduce.py" "$FARM_URL" "$TOKEN" runs.json "$@"
}
settled() { # N: the history's last id is N
	api GET "/api/v1/events?since=$(($1 - 1))" && test "$(json_get body "[e[\"data\"][\"id\"] for e in d]")" = "[$1]"
}

test_expect_success 'setup' '
	start_farm && TOKEN=$(token alice org-a) && export TOKEN
'

test_expect_success 'a run updated moves to the front' '
	test_equal "$(hooks 0 2 2 mv-)" 2 &&
	wait_until 5 settled 2 &&
	api GET /api/v1/runs && test_equal "$(json_get body "[r[\"buildId\"] for r in d]")" "[\"mv-1#1\", \"mv-0#1\"]" &&
	test_equal "$(hooks 2 1 2 mv-)" 1 && wait_until 5 settled 3 &&
	api GET /api/v1/runs &&
	test_equal "$(json_get body "[(r[\"buildId\"], r[\"status\"]) for r in d]")" \
		"[[\"mv-0#1\", \"success\"], [\"mv-1#1\", \"running\"]]" &&
	api GET "/api/v1/runs?project=mv-1" && test_equal "$(json_get body "[r[\"buildId\"] for r in d]")" "[\"mv-1#1\"]" &&
	same && same platform=jenkins project=mv-0 && same project=mv-1
'

test_expect_success 'events.history: runs whose events all left the history are gone' '
	test_equal "$(hooks 10 400 50 old-)" 400 && wait_until 20 settled 403 &&
	api GET "/api/v1/runs?project=mv-0" && test_equal "$(cat body)" "[]" &&
	same limit=100 && same platform=jenkins limit=100 && same project=old-7
'

test_expect_success 'farm-eventd killed with SIGKILL mid-stream: no run lost' '
	{ hooks 1000 600 120 k9- >acked 2>/dev/null & } &&
	sleep 0.5 && daemon_stop farm-eventd KILL && sleep 0.3 && supervise k1 &&
	sleep 0.3 && daemon_stop farm-eventd KILL && sleep 0.2 && supervise k2 &&
	wait_until 60 test -s acked && sleep 1 && supervise k3 &&
	wait_until 10 eval "same limit=100 >/dev/null" &&
	same limit=100 && same platform=jenkins limit=100 && same project=k9-5 &&
	same project=k9-119 limit=1 && same platform=circleci
'

test_expect_success 'runs.index=no (the history scan) answers the same' '
	api GET "/api/v1/runs?limit=100" && cp body index.json &&
	stop_farm && FARM_RUNS_INDEX=no start_farm &&
	api GET "/api/v1/runs?limit=100" && test_cmp index.json body
'

test_expect_success 'logs clean' '
	check_logs_clean
'

test_done
