#!/bin/bash
# Candor's runs reach farm's events by polling (platforms.md §4): a run triggered
# through farm is watched as <pipelineId>#last by farm-runner's watcher until it ends,
# one event per status change, and the watch then ends.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-events.sh"

export FARM_CACHE_TTL=0 FARM_POLL_INTERVAL=1 FARM_ARGOCD_POLL_INTERVAL=0
PASS=candor-pass-4f1e9d
start_fake candor || exit 1

_events() { # N: at least N candor events in ./body
	TOKEN=$MEMBER_A api GET "/api/v1/events?since=0" >/dev/null &&
	test "$($PY -c 'import json; print(len([e for e in json.load(open("body")) if e["data"]["provider"] == "candor"]))')" -ge "$1"
}

test_expect_success 'setup' '
	start_farm &&
	ADMIN_A=$(token alice org-a admin) && MEMBER_A=$(token bob org-a) &&
	TOKEN=$ADMIN_A make_cred candor C "{\"url\":\"$FAKE_CANDOR_URL\",\"username\":\"farm\",\"password\":\"$PASS\"}"
'

test_expect_success 'a triggered run: one event once it ended, then the watch ends' '
	TOKEN=$ADMIN_A api POST /api/v1/candor/pipelines/1/trigger "{}" && expect_status 202 &&
	wait_until 15 _events 1 &&
	$PY - body <<-\EOF &&
	import json, sys
	ev = [e["data"] for e in json.load(open(sys.argv[1])) if e["data"]["provider"] == "candor"]
	assert len(ev) == 1, ev
	e = ev[0]
	assert (e["buildId"], e["project"], e["name"], e["status"], e["providerStatus"], e["orgId"]) == \
	    ("1#last", "1", "web", "success", "Passed", "org-a"), e
	assert len(e["runId"]) == 8, e
	EOF
	sleep 2 && fake_forget candor && sleep 2 &&
	test_equal "$(fake_count candor)" 0
'

test_expect_success 'another pipeline'"'"'s run: its own watch and event' '
	TOKEN=$ADMIN_A api POST /api/v1/candor/pipelines/3/trigger "{\"ref\":\"refs/heads/main\"}" &&
	expect_status 202 &&
	wait_until 15 _events 2 &&
	test_equal "$(json_get body "[e[\"data\"][\"buildId\"] for e in d if e[\"data\"][\"provider\"] == \"candor\"]")" "[\"1#last\", \"3#last\"]"
'

test_done
