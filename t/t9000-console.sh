#!/bin/bash
# t9000-console.sh - the web console (www/) in a real headless Chromium (Debian's
# chromium + chromium-driver, python3-selenium; t/console-driver.py) against the real
# stack: nginx serves the page with its security headers, sign-in (the fragment of
# make run's URL, the form, an expired or refused token back to sign-in with the
# reason), the board updated live from the WebSocket within 1 s, farm-wsd killed and
# restarted with nothing missed or shown twice, a member without admin controls (and
# the API refusing them anyway), a hostile build name shown as text, a credential
# created through the form that works and whose secret is nowhere in the page, phone
# width and 200 % zoom without sideways scrolling.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-console.sh"

CCI_SECRET=cci-secret-for-t9000-0123456789
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI_SECRET
export FARM_RUN_SUPERVISE_EXCEPT="farm-eventd farm-wsd"
FARM_WSD_LISTEN=127.0.0.1:$(free_port)
export FARM_WSD_LISTEN
JSECRET=jk-console-secret-7f3a9c1e5b2d8f40
HOSTILE='<img src=x onerror=alert(1)>'

start_fake jenkins --token "$JSECRET" || exit 1
start_fake argocd || exit 1
start_fake circleci || exit 1
export FARM_CIRCLECI_API_URL=$FAKE_CIRCLECI_URL
# The fake CircleCI's ids (fakelib.det_uuid): a CircleCI runId is a pipeline id.
cci_id() { $PY -c 'import sys,uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, "farm-fake:" + "/".join(sys.argv[1:])))' "$@"; }
P103=$(cci_id circleci-pipeline gh/acme/api 103) W103=$(cci_id circleci-workflow gh/acme/api 103)
P125=$(cci_id circleci-pipeline gh/acme/api 125) W125=$(cci_id circleci-workflow gh/acme/api 125)

# ---- the browser: one Chromium for the whole script (drv_start, drv: lib-console.sh)
trap 'drv_stop; stop_farm; [ -n "${FAKE_PIDS:-}" ] && kill $FAKE_PIDS 2>/dev/null' EXIT

test_expect_success 'start farm and a headless Chromium' '
	start_farm &&
	drv_start
'
ADMIN=$(token alice - admin)
MEMBER=$(token mia -)
ORG_ADMIN=$(token olga org-x admin)

# ---- served by nginx ------------------------------------------------------------------

test_expect_success 'GET / is the console, with a CSP without unsafe-inline and the usual headers' '
	api GET / && expect_status 200 &&
	test_grep "^Content-Type: text/html" headers &&
	test_grep "<script type=\"module\" src=\"js/app.js\"></script>" body &&
	grep -i "^Content-Security-Policy:" headers >csp &&
	test_grep "default-src .none." csp && test_grep "script-src .self.;" csp &&
	test_grep "frame-ancestors .none." csp && test_no_grep unsafe csp &&
	test_grep "^X-Content-Type-Options: nosniff" headers &&
	test_grep "^Referrer-Policy: no-referrer" headers &&
	test_grep "^X-Frame-Options: DENY" headers &&
	api GET /js/app.js "" -H "Accept-Encoding: gzip" && expect_status 200 &&
	test_grep "^Content-Type: text/javascript" headers &&
	test_grep "^Content-Encoding: gzip" headers &&
	test_grep "^Content-Security-Policy:" headers &&
	api GET /nope.js && expect_status 404
'

test_expect_success 'no markup is built from strings: no innerHTML, no inline script or style' '
	! grep -rnE "\.(inner|outer)HTML|insertAdjacentHTML\(|document\.write\(|eval\(|new Function|setTimeout\(\"" "$SRC_DIR/www" &&
	! grep -nE "<script>|<style|style=| on[a-z]+=" "$SRC_DIR/www/index.html" &&
	! grep -rnE "https?://" "$SRC_DIR/www" --include=*.html --include=*.css
'

# ---- sign-in --------------------------------------------------------------------------

test_expect_success 'make run'"'"'s URL signs in: the token leaves the address bar, the board is live, no console error' '
	drv open "$FARM_URL/#token=$ADMIN" &&
	drv wait "#board-count" 10 && drv state live 10 &&
	drv js "return location.hash" && test_equal "$DRV_OUT" "\"#/board\"" &&
	drv js "return sessionStorage.getItem(\"farm.token\") === \"$ADMIN\"" && test_equal "$DRV_OUT" true &&
	drv js "return performance.getEntriesByType(\"resource\").map(e => e.name).filter(n => n.includes(\"$ADMIN\")).length" &&
	test_equal "$DRV_OUT" 0 &&
	drv text "#who" && test_equal "$DRV_OUT" "\"alice (admin)\"" &&
	drv errors && test_equal "$DRV_OUT" "[]"
'

test_expect_success 'a refused token goes back to sign-in with the API'"'"'s reason' '
	drv js "sessionStorage.clear(); location.hash = \"#/board\"; location.reload()" &&
	drv wait "#signin" 10 &&
	drv type "#token" "${ADMIN%?}x" && drv click "#signin button[type=submit]" &&
	drv wait "#signin-message .error" 10 &&
	drv text "#signin-message" && echo "$DRV_OUT" &&
	case "$DRV_OUT" in *"Signed out: "*) ;; *) false ;; esac &&
	drv find "${ADMIN%?}x" && test_equal "$DRV_OUT" "[]"
'

test_expect_success 'an expired token goes back to sign-in, saying so' '
	SHORT=$(FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farmctl" token --sub sam --ttl 8s) &&
	drv type "#token" "$SHORT" && drv click "#signin button[type=submit]" &&
	drv wait "#board-count" 10 &&
	drv wait "#signin-message .error" 15 &&
	drv text "#signin-message" && echo "$DRV_OUT" &&
	case "$DRV_OUT" in *"expired"*) ;; *) false ;; esac
'

test_expect_success 'the form signs in too' '
	drv type "#token" "$ADMIN" && drv click "#signin button[type=submit]" &&
	drv wait "#board-count" 10 && drv state live 10 &&
	drv js "window.__notReloaded = 1; return 1"
'

# ---- the board, live ------------------------------------------------------------------

test_expect_success 'a webhook posted with curl is on the board within 1 s, without reload' '
	cci gh/console/live running 1 &&
	drv tile gh/console/live running 5 &&
	el=$(ms_since $CCI_T0) && say "webhook sent to tile shown: $el ms (after the answer: $DRV_OUT ms)" &&
	test "$el" -lt 1000 &&
	cci gh/console/live success 2 &&
	drv tile gh/console/live success 5 &&
	el=$(ms_since $CCI_T0) && say "second event: $el ms" && test "$el" -lt 1000 &&
	drv count "#board li.tile" && test_equal "$DRV_OUT" 1 &&
	drv js "return window.__notReloaded" && test_equal "$DRV_OUT" 1
'

feed_check() { # the feed lists each event id once, and every id of /events
	drv feed && echo "$DRV_OUT" >feed.json &&
	TOKEN=$ADMIN api GET "/api/v1/events?since=0&limit=1000" && expect_status 200 &&
	$PY - feed.json body <<-\EOF
	import json, sys
	feed = json.load(open(sys.argv[1]))
	ids = [e["data"]["id"] for e in json.load(open(sys.argv[2]))]
	assert len(feed) == len(set(feed)), "an event shown twice: %s" % feed
	assert sorted(feed) == ids, "feed %s, history %s" % (sorted(feed), ids)
	EOF
}

test_expect_success 'farm-wsd killed: "reconnecting"; restarted: the events posted meanwhile appear, none twice' '
	daemon_stop farm-wsd KILL &&
	drv state reconnecting 5 &&
	drv text "#live" && test_equal "$DRV_OUT" "\"Reconnecting\\u2026\"" &&
	cci gh/console/live failed 3 &&
	cci gh/console/api queued 4 &&
	cci gh/console/api running 5 &&
	cci gh/console/web success 6 &&
	daemon_start farm-wsd &&
	drv state live 10 &&
	drv tile gh/console/live failed 5 &&
	drv tile gh/console/api running 5 &&
	drv tile gh/console/web success 5 &&
	drv count "#board li.tile" && test_equal "$DRV_OUT" 3 &&
	feed_check &&
	drv js "return window.__notReloaded" && test_equal "$DRV_OUT" 1
'

test_expect_success 'a second outage: still nothing missed or repeated' '
	daemon_stop farm-wsd TERM &&
	drv state reconnecting 5 &&
	cci gh/console/web failed 7 &&
	daemon_start farm-wsd &&
	drv state live 10 &&
	drv tile gh/console/web failed 5 &&
	feed_check
'

test_expect_success 'a hostile build name is shown as its characters, nothing runs' '
	cci gh/console/hostile failed 8 "$HOSTILE" &&
	drv tile gh/console/hostile failed 5 &&
	drv js "return $(tile_js gh/console/hostile).querySelector(\"dd\").textContent" &&
	test_equal "$DRV_OUT" "\"$HOSTILE #8\"" &&
	drv count "main img" && test_equal "$DRV_OUT" 0 &&
	drv alert && test_equal "$DRV_OUT" null &&
	drv js "$(tile_js gh/console/hostile).querySelector(\"a\").click()" &&
	drv wait "#run-fields" 5 &&
	drv wait "[data-field=name]" 5 &&
	drv text "[data-field=name]" && test_equal "$DRV_OUT" "\"$HOSTILE\"" &&
	drv count "main img" && test_equal "$DRV_OUT" 0 &&
	drv alert && test_equal "$DRV_OUT" null
'

# ---- roles ----------------------------------------------------------------------------

# platform_can TYPE CAP: GET /platforms lists CAP for TYPE (false without the route)
platform_can() {
	TOKEN=$ADMIN api GET /api/v1/platforms && [ "$(cat status)" = 200 ] &&
	test_equal "$(json_get body "[p for p in d if p[\"type\"] == \"$1\"][0][\"capabilities\"].count(\"$2\")")" 1
}

test_expect_success 'an admin gets the actions /platforms offers on a run page; a failing one shows the API'"'"'s message' '
	drv js "return location.hash" && run_hash=$(echo "$DRV_OUT" | tr -d "\"") &&
	drv wait "[data-field=name]" 5 &&
	if platform_can circleci rerun; then
		drv wait "#act-rerun" 5 && drv click "#act-rerun" &&
		drv wait "#run-message .error" 10 && drv text "#run-message" && echo "$DRV_OUT" &&
		case "$DRV_OUT" in *"Rerun failed: "?*) ;; *) false ;; esac
	else
		say "GET /platforms: $(cat status), no circleci rerun: no action buttons expected" &&
		sleep 0.5 && drv count "#run-actions button" && test_equal "$DRV_OUT" 0
	fi
'

test_expect_success 'a member sees no admin controls' '
	drv js "sessionStorage.clear(); location.hash = \"\"; location.reload()" &&
	drv wait "#signin" 10 &&
	drv open "$FARM_URL/#token=$MEMBER" && drv wait "#board-count" 10 &&
	drv text "#who" && test_equal "$DRV_OUT" "\"mia\"" &&
	drv count "nav li[data-admin]:not([hidden])" && test_equal "$DRV_OUT" 0 &&
	drv open "$FARM_URL/$run_hash" && drv wait "[data-field=name]" 5 && sleep 0.5 &&
	drv count "#run-actions button" && test_equal "$DRV_OUT" 0 &&
	drv open "$FARM_URL/#/credentials" && drv wait "#creds p, #creds table" 5 &&
	drv count "#cred-form" && test_equal "$DRV_OUT" 0 &&
	drv count "#creds button" && test_equal "$DRV_OUT" 0 &&
	drv open "$FARM_URL/#/audit" && drv wait "#board-count" 5
'

test_expect_success '... and the API refuses a member those actions anyway' '
	TOKEN=$MEMBER api POST /api/v1/integrations/credentials \
		"{\"type\":\"jenkins\",\"name\":\"x\",\"value\":{\"url\":\"$FAKE_JENKINS_URL\",\"username\":\"farm\",\"apiToken\":\"y\"}}" &&
	expect_status 403 &&
	TOKEN=$MEMBER api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 403 &&
	TOKEN=$MEMBER api POST /api/v1/circleci/pipelines/gh%2Fconsole%2Flive/trigger "{}" && expect_status 403 &&
	TOKEN=$MEMBER api GET "/api/v1/audit" && case $(cat status) in 403|404) ;; *) false ;; esac
'

# ---- credentials ----------------------------------------------------------------------

test_expect_success 'an admin adds a credential through the form; it works for a list call; its secret is nowhere in the page' '
	drv js "sessionStorage.clear(); location.hash = \"\"; location.reload()" &&
	drv wait "#signin" 10 &&
	drv open "$FARM_URL/#token=$ADMIN" && drv wait "#board-count" 10 &&
	drv open "$FARM_URL/#/credentials" && drv wait "#cred-form" 10 &&
	drv select "#cred-type" jenkins &&
	drv wait "#cred-fields input[name=apiToken]" 5 &&
	drv attr "#cred-fields input[name=apiToken]" type && test_equal "$DRV_OUT" "\"password\"" &&
	drv js "return [...document.querySelectorAll(\"#cred-form input, #cred-form select\")].filter(i => !i.labels.length).length" &&
	test_equal "$DRV_OUT" 0 &&
	drv type "#cred-name" "Console Jenkins" &&
	drv type "#cred-fields input[name=url]" "$FAKE_JENKINS_URL" &&
	drv type "#cred-fields input[name=username]" farm &&
	drv type "#cred-fields input[name=apiToken]" "$JSECRET" &&
	drv attr "#cred-fields input[name=poll]" type && test_equal "$DRV_OUT" "\"checkbox\"" &&
	drv click "#cred-fields input[name=poll]" &&
	drv click "#cred-submit" &&
	drv has "#creds-message" "Added Console Jenkins" 10 &&
	drv wait "#creds tr[data-id]" 5 &&
	drv text "#creds tbody" && case "$DRV_OUT" in *"Console Jenkins"*jenkins*) ;; *) false ;; esac &&
	TOKEN=$ADMIN api GET /api/v1/integrations/credentials && expect_status 200 &&
	test_equal "$(json_get body "[c[\"name\"] for c in d]")" "[\"Console Jenkins\"]" &&
	TOKEN=$ADMIN api GET /api/v1/jenkins/jobs && expect_status 200 &&
	test_grep farm-build body &&
	drv find "$JSECRET" && test_equal "$DRV_OUT" "[]" &&
	drv js "return document.documentElement.outerHTML.includes(\"$JSECRET\") || document.body.textContent.includes(\"$JSECRET\")" &&
	test_equal "$DRV_OUT" false
'

test_expect_success 'rename, replace the value (password inputs, emptied), delete after a confirmation' '
	drv click "#creds button[aria-label^=Rename]" &&
	drv clear "#creds .panel input" && drv type "#creds .panel input" "Jenkins (renamed)" &&
	drv click "#creds .panel button[type=submit]" &&
	drv has "#creds-message" Renamed 5 &&
	TOKEN=$ADMIN api GET /api/v1/integrations/credentials &&
	test_equal "$(json_get body "d[0][\"name\"]")" "Jenkins (renamed)" &&
	drv click "#creds button[aria-label^=Replace]" &&
	drv attr "#creds .panel input[name=apiToken]" type && test_equal "$DRV_OUT" "\"password\"" &&
	drv type "#creds .panel input[name=url]" "$FAKE_JENKINS_URL" &&
	drv type "#creds .panel input[name=username]" farm &&
	drv type "#creds .panel input[name=apiToken]" "wrong-$JSECRET" &&
	drv click "#creds .panel button[type=submit]" &&
	drv has "#creds-message" "Value replaced" 5 &&
	drv find "wrong-$JSECRET" && test_equal "$DRV_OUT" "[]" &&
	TOKEN=$ADMIN api GET /api/v1/jenkins/jobs && expect_status 502 &&
	drv click "#creds button[aria-label^=Delete]" &&
	drv wait "#confirm-delete" 5 &&
	TOKEN=$ADMIN api GET /api/v1/integrations/credentials && test_equal "$(json_get body "len(d)")" 1 &&
	drv click "#confirm-delete" &&
	drv has "#creds-message" Deleted 5 &&
	TOKEN=$ADMIN api GET /api/v1/integrations/credentials && test_equal "$(json_get body "len(d)")" 0
'

test_expect_success 'a failed add shows the API'"'"'s message' '
	drv select "#cred-type" jenkins &&
	drv type "#cred-name" "bad url" &&
	drv js "const u = document.querySelector(\"#cred-fields input[name=url]\"); u.type = \"text\"; u.value = \"ftp://x\"; return 1" &&
	drv type "#cred-fields input[name=username]" farm &&
	drv type "#cred-fields input[name=apiToken]" "$JSECRET" &&
	drv click "#cred-submit" &&
	drv has "#creds-message" "Add failed" 5 &&
	drv text "#creds-message" && echo "$DRV_OUT" &&
	case "$DRV_OUT" in *"Add failed: "*url*) ;; *) false ;; esac &&
	drv find "$JSECRET" && test_equal "$DRV_OUT" "[]"
'

test_expect_success 'the catalog tab: a linked component and its Argo CD health and sync, read on request' '
	TOKEN=$ADMIN api POST /api/v1/integrations/credentials \
		"{\"type\":\"argocd\",\"name\":\"argo\",\"value\":{\"url\":\"$FAKE_ARGOCD_URL\",\"token\":\"argocd-test-token\"}}" &&
	expect_status 201 &&
	TOKEN=$ADMIN api PATCH /api/v1/catalog/components/billing "{\"argocdApp\":\"billing-api\"}" &&
	expect_status 200 &&
	TOKEN=$ADMIN api GET /api/v1/catalog/components/billing/cicd && expect_status 200 &&
	health=$(json_get body "d[\"health\"][\"status\"]") && sync=$(json_get body "d[\"sync\"][\"status\"]") &&
	drv open "$FARM_URL/#/catalog" && drv wait "#catalog .card" 10 &&
	drv text "#catalog .card h2" && test_equal "$DRV_OUT" "\"billing\"" &&
	drv click "#catalog .card button" &&
	drv wait "#catalog .cicd dl" 10 &&
	drv text "#catalog .cicd dl" && echo "$DRV_OUT" &&
	case "$DRV_OUT" in *"Health$health"*"Sync$sync"*) ;; *) false ;; esac &&
	TOKEN=$ADMIN api DELETE /api/v1/integrations/credentials/$(TOKEN=$ADMIN api GET /api/v1/integrations/credentials && json_get body "d[0][\"id\"]") &&
	expect_status 204
'

_audit_on_main() { TOKEN=$ADMIN api GET "/api/v1/audit?limit=1" && [ "$(cat status)" = 200 ]; }

test_expect_success 'the audit list shows an admin the credential writes, newest first, without a secret' '
	if _audit_on_main; then
		drv open "$FARM_URL/#/audit" && drv wait "#audit tbody tr" 10 &&
		drv js "return [...document.querySelectorAll(\"#audit tbody tr\")].map(r => r.children[2].textContent).join(\" \")" &&
		test_equal "$DRV_OUT" "\"credential.delete catalog.link credential.create credential.delete credential.update credential.update credential.create\"" &&
		drv find "$JSECRET" && test_equal "$DRV_OUT" "[]"
	else
		say "GET /audit: $(cat status): the page says so" &&
		drv open "$FARM_URL/#/audit" && drv has "#audit-message" "no audit list" 10
	fi
'

# ---- usable (no_sideways: lib-console.sh) --------------------------------------------

test_expect_success 'phone width and 200 % zoom: no sideways scrolling on the board, a run, credentials' '
	for i in 10 11 12 13 14 15; do cci "gh/console/a-rather-long-project-name-$i" success $i || return 1; done &&
	drv open "$FARM_URL/#/board" && drv tile gh/console/a-rather-long-project-name-15 success 5 &&
	for size in "360 740" "640 450"; do
		drv size $size && sleep 0.3 &&
		drv open "$FARM_URL/#/board" && drv wait "#board li.tile" 5 && no_sideways &&
		drv open "$FARM_URL/$run_hash" && drv wait "[data-field=name]" 5 && no_sideways &&
		drv open "$FARM_URL/#/credentials" && drv wait "#cred-form" 5 && no_sideways || return 1
	done &&
	drv size 1280 900
'

test_expect_success 'keyboard: Tab goes skip link, navigation, sign-out, filter, the first tile; every control is labelled' '
	drv open "$FARM_URL/#/board" && drv js "location.reload(); return 1" && drv wait "#board li.tile" 10 &&
	drv tab && test_equal "$DRV_OUT" "\"A Skip to content\"" &&
	drv tab && test_equal "$DRV_OUT" "\"A Board\"" &&
	drv tab 3 && test_equal "$DRV_OUT" "\"A Audit\"" &&
	drv tab && test_equal "$DRV_OUT" "\"BUTTON Sign out\"" &&
	drv tab && test_equal "$DRV_OUT" "\"INPUT board-filter\"" &&
	drv js "return \"A \" + document.querySelector(\"#board li.tile a\").textContent.trim()" && first=$DRV_OUT &&
	drv tab && test_equal "$DRV_OUT" "$first" &&
	drv js "return [...document.querySelectorAll(\"input, select, button\")].filter(e => !(e.labels && e.labels.length) && !e.getAttribute(\"aria-label\") && !e.textContent.trim()).length" &&
	test_equal "$DRV_OUT" 0 &&
	drv js "return [...document.querySelectorAll(\"a[href], button, input, select\")].filter(e => e.offsetParent && e.tabIndex < 0).length" &&
	test_equal "$DRV_OUT" 0
'

test_expect_success 'screenshots of the board and a run page' '
	drv open "$FARM_URL/#/board" && drv wait "#board li.tile" 5 && sleep 0.3 &&
	drv shot "$TRASH/console-board.png" &&
	drv open "$FARM_URL/$run_hash" && drv wait "[data-field=name]" 5 && sleep 0.5 &&
	drv shot "$TRASH/console-run.png" &&
	test -s console-board.png && test -s console-run.png &&
	if [ -n "${FARM_CONSOLE_SHOTS:-}" ]; then cp console-board.png console-run.png "$FARM_CONSOLE_SHOTS/"; fi
'

# ---- run page actions end to end, against the fake CircleCI ------------------------

# posts NAME: "METHOD path" of the POSTs fake NAME received
posts() {
	fake_requests "$1" | $PY -c 'import json,sys; print(json.dumps([q["method"] + " " + q["path"] for q in json.load(sys.stdin) if q["method"] == "POST"]))'
}

# open_tile PROJECT STATUS: on the board (no reload), the webhook-made tile of PROJECT
# once it shows STATUS; its link followed as a user clicks it.  DRV_OUT: the link's href.
open_tile() {
	drv open "$FARM_URL/#/board" && drv tile "$1" "$2" 5 &&
	drv js "return $(tile_js "$1").querySelector(\"h3 a\").getAttribute(\"href\")" &&
	local href=$DRV_OUT &&
	drv js "$(tile_js "$1").querySelector(\"h3 a\").click(); return 1" &&
	DRV_OUT=$href
}

test_expect_success 'a webhook-made CircleCI tile (the fake'"'"'s pipeline and workflow ids): its run page reruns, exactly the upstream rerun call' '
	TOKEN=$ADMIN make_cred circleci "CircleCI" "{\"token\":\"circle-test-token\"}" &&
	cci gh/acme/api failed 103 build-test-deploy "$P103" "$W103" &&
	open_tile gh/acme/api failed &&
	test_equal "$DRV_OUT" "\"#/run/circleci/$P103\"" &&
	drv wait "[data-field=name]" 5 &&
	drv has "#run-source" "Read from circleci" 5 &&
	drv text "[data-field=buildId]" && test_equal "$DRV_OUT" "\"$P103\"" &&
	drv wait "#act-rerun" 5 && fake_forget circleci &&
	drv click "#act-rerun" &&
	drv has "#run-message" "Rerun: done." 10 &&
	test_equal "$(posts circleci)" "[\"POST /api/v2/workflow/$W103/rerun\"]" &&
	fake_requests circleci | $PY -c "import json,sys; r=[q for q in json.load(sys.stdin) if q[\"method\"] == \"POST\"]; assert r[0][\"body\"] == \"{\\\"from_failed\\\":false}\", r[0]"
'

test_expect_success '... and a running one'"'"'s tile: its run page cancels, exactly the upstream cancel call' '
	cci gh/acme/api running 125 build-test-deploy "$P125" "$W125" &&
	open_tile gh/acme/api running &&
	test_equal "$DRV_OUT" "\"#/run/circleci/$P125\"" &&
	drv wait "[data-field=name]" 5 &&
	drv has "#run-source" "Read from circleci" 5 &&
	drv wait "#act-cancel" 5 && fake_forget circleci &&
	drv click "#act-cancel" &&
	drv has "#run-message" "Cancel: done." 10 &&
	test_equal "$(posts circleci)" "[\"POST /api/v2/workflow/$W125/cancel\"]" &&
	fake_forget circleci && drv click "#act-cancel" &&
	drv has "#run-message" "Cancel failed: CircleCI pipeline $P125 has no running workflow to cancel" 10 &&
	test_equal "$(posts circleci)" "[]"
'

# ---- a running Jenkins build's log, followed --------------------------------------

test_expect_success 'a running Jenkins build: its growing log shows new lines without reload; once it ended, no more reads' '
	fake_ctl jenkins PUT /__fake/state "{\"jobs\":[{\"name\":\"follow\",\"builds\":[{\"number\":5,\"result\":null,\"building\":true,\"timestamp\":$(date +%s)000,\"logLines\":3,\"logGrow\":2}]}]}" >/dev/null &&
	TOKEN=$ADMIN make_cred jenkins "Jenkins" "{\"url\":\"$FAKE_JENKINS_URL\",\"username\":\"farm\",\"apiToken\":\"$JSECRET\"}" &&
	drv open "$FARM_URL/#/run/jenkins/follow%235" && drv wait "#run-log" 10 &&
	drv js "window.__followMark = 1; return 1" &&
	drv has "#run-log-note" "Following" 5 &&
	drv has "#run-log" "step 5" 5 &&
	drv text "#run-log" && case "$DRV_OUT" in *Finished*) false ;; esac &&
	drv has "#run-log" "step 7" 6 &&
	drv has "#run-log" "step 9" 6 &&
	drv js "return window.__followMark" && test_equal "$DRV_OUT" 1 &&
	TOKEN=$ADMIN api POST /api/v1/runs/jenkins/follow%235/cancel && expect_status 202 &&
	drv has "#run-log" "Finished: ABORTED" 8 &&
	drv attr "#run-log" data-following && test_equal "$DRV_OUT" "\"no\"" &&
	drv text "[data-field=providerStatus]" && test_equal "$DRV_OUT" "\"ABORTED\"" &&
	drv text "#run-log-note" && test_equal "$DRV_OUT" "\"\"" &&
	fake_forget jenkins && sleep 5 &&
	fake_requests jenkins >reqs.json &&
	test_equal "$($PY -c "import json; print(sum(1 for q in json.load(open(\"reqs.json\"))))")" 0 &&
	drv js "return window.__followMark" && test_equal "$DRV_OUT" 1
'

# ---- a large board: first screen, then the rest; an event changes its card only -----

test_expect_success 'a 300-project board: the first frame holds only a screenful, then every tile once, in order, with its /projects status' '
	post_many 300 1 big --project gh/big/p- --projects 300 --threads 4 --status failed >/dev/null &&
	TOKEN=$ADMIN api GET /api/v1/projects && expect_status 200 &&
	$PY -c "import json; r=json.load(open(\"body\")); print(json.dumps([[x[\"project\"], x[\"status\"]] for x in r if x[\"provider\"] == \"circleci\"]))" >want.json &&
	drv open "$FARM_URL/#/board" && drv js "location.reload(); return 1" &&
	drv ajs "const done = arguments[0]; (function w() { const c = performance.getEntriesByName(\"farm:board-complete-painted\"); if (c.length) done([performance.getEntriesByName(\"farm:board-painted\")[0].detail.tiles, c[0].detail.tiles]); else setTimeout(w, 20); })()" &&
	say "tiles built at the first frame, at the end: $DRV_OUT" &&
	echo "$DRV_OUT" | $PY -c "import json,sys; a, b = json.load(sys.stdin); assert 24 <= a < 200 and b >= 300, (a, b)" &&
	drv js "return [...document.querySelectorAll(\"#board li.tile\")].filter(t => t.querySelector(\".platform\").textContent === \"circleci\").map(t => [t.querySelector(\"h3\").textContent, t.dataset.status])" &&
	echo "$DRV_OUT" >got.json &&
	$PY -c "
import json
want, got = json.load(open(\"want.json\")), json.load(open(\"got.json\"))
assert got == want, (len(got), len(want), [g for g, w in zip(got, want) if g != w][:3])"
'

test_expect_success '... an event rewrites its card (status class and text), the grid item (li) stays as it was' '
	drv js "const t = $(tile_js gh/big/p-7); window.__li = t; return [t.className, t.firstChild.className]" &&
	test_equal "$DRV_OUT" "[\"tile\", \"card st-failed\"]" &&
	cci gh/big/p-7 success 9001 &&
	drv tile gh/big/p-7 success 5 &&
	drv js "const t = $(tile_js gh/big/p-7); return [t === window.__li, t.className, t.firstChild.className, t.querySelector(\".badge\").textContent]" &&
	test_equal "$DRV_OUT" "[true, \"tile\", \"card st-success\", \"\\u2714Passed\"]"
'

test_expect_success 'no console error on the way (the WebSocket outages excepted)' '
	drv errors && echo "$DRV_OUT" >errors.json &&
	$PY -c "
import json, sys
bad = [e for e in json.load(open(\"errors.json\")) if \"WebSocket connection\" not in e
       and \"/api/v1/platforms\" not in e and \"/api/v1/runs/\" not in e and \"status of 4\" not in e]
sys.exit(\"console errors: %s\" % bad if bad else 0)"
'

test_expect_success 'the browser closes; the logs are clean' '
	drv_stop &&
	check_logs_clean
'

test_done
