#!/bin/bash
# t6000-catalog.sh - catalog components linked to Argo CD applications, through nginx
# against the fake Argo CD: link, unlink, org isolation (same component id in two
# orgs), the component page's CI/CD tab (health, sync, last operation, revision,
# normalised status; cached like every read; upstream failures mapped), the Argo CD
# Notifications webhook (X-Farm-Token or Basic password, refused otherwise), and
# farm-runner's polling fallback emitting exactly one event per change — counted on a
# WebSocket client (t/ws-client.py), whichever of poller and webhook saw it first.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-events.sh"

HOOK_TOKEN=argo-hook-token-0123456789
export FARM_WEBHOOK_ARGOCD_TOKEN=$HOOK_TOKEN
export FARM_ARGOCD_POLL_INTERVAL=1
export FARM_UPSTREAM_TIMEOUT=2
ATOKEN=argocd-test-token

start_fake argocd || exit 1
start_fake argocd@c || exit 1

test_expect_success 'start farm; WebSocket clients of org-a and org-b listen' '
	start_farm &&
	ws_start evA "$(token ann org-a)" "" &&
	ws_start evB "$(token ben org-b)" ""
'

ADMIN_A=$(token alice org-a admin)
USER_A=$(token ann org-a)
ADMIN_B=$(token bob org-b admin)
USER_B=$(token ben org-b)
ADMIN_C=$(token cid org-c admin)
USER_NONE=$(token nobody -)
COMP=component:default/web-frontend
COMP_URL=component%3Adefault%2Fweb-frontend

# argocd_set APP HEALTH SYNC [PHASE]: changes an application in the fake
argocd_set() {
	fake_ctl argocd GET /__fake/state >state.json &&
	$PY - "$1" "$2" "$3" "${4:-}" >state2.json <<'EOF' &&
import json, sys
app, health, sync, phase = sys.argv[1:5]
s = json.load(open("state.json"))
for a in s["apps"]:
    if a["metadata"]["name"] == app:
        a["status"]["health"]["status"] = health
        a["status"]["sync"]["status"] = sync
        if phase:
            a["status"]["operationState"]["phase"] = phase
print(json.dumps(s))
EOF
	fake_ctl argocd POST /__fake/state "$(cat state2.json)" >/dev/null
}
# ev_count CLIENT APP [EXPR]: argocd events of APP (optionally where EXPR on e holds)
ev_count() {
	$PY -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    d = e["data"]
    if d.get("provider") == "argocd" and d.get("name") == sys.argv[2] and eval(sys.argv[3]):
        n += 1
print(n)' "$1.out" "$2" "${3:-True}"
}
# ev_field CLIENT APP INDEX EXPR: python expression on `e`, the INDEXth event of APP
ev_field() {
	$PY -c '
import json, sys
evs = [e for e in map(json.loads, open(sys.argv[1]))
       if e["data"].get("provider") == "argocd" and e["data"].get("name") == sys.argv[2]]
e = evs[int(sys.argv[3])]
v = eval(sys.argv[4])
print(v if isinstance(v, str) else json.dumps(v))' "$1.out" "$2" "$3" "$4"
}
_ev_at_least() { [ "$(ev_count "$1" "$2" "${4:-True}")" -ge "$3" ]; }
# ev_wait CLIENT APP N [SECONDS]: until N events of APP arrived
ev_wait() {
	wait_until "${4:-8}" _ev_at_least "$1" "$2" "$3" ||
		{ echo "client $1: $(ev_count "$1" "$2") events of $2, expected $3:"; cut -c1-400 "$1.out"; return 1; }
}

# ---- links ----------------------------------------------------------------------------

test_expect_success 'a component without a link is 404; the id is validated' '
	TOKEN=$USER_A api GET "/api/v1/catalog/components/$COMP_URL" && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "Component $COMP is not linked to an Argo CD application" &&
	TOKEN=$USER_A api GET "/api/v1/catalog/components/$(printf "a%.0s" $(seq 201))" && expect_status 400 &&
	test_grep "at most 200 characters" body &&
	TOKEN=$USER_A api GET "/api/v1/catalog/components/a%09b" && expect_status 400 &&
	test_grep "printable" body &&
	TOKEN= api GET "/api/v1/catalog/components/$COMP_URL" && expect_status 401
'

test_expect_success 'linking needs the admin role and a valid body' '
	TOKEN=$USER_A api PATCH "/api/v1/catalog/components/$COMP_URL" "{\"argocdApp\":\"guestbook\"}" &&
	expect_status 403 &&
	TOKEN=$ADMIN_A api PATCH "/api/v1/catalog/components/$COMP_URL" "{\"argocdApp\":\"Not_A_Name\",\"x\":1}" &&
	expect_status 400 &&
	test_grep "property x should not exist" body && test_grep "lower-case letters" body &&
	TOKEN=$ADMIN_A api PATCH "/api/v1/catalog/components/$COMP_URL" "{}" && expect_status 400 &&
	test_grep "argocdApp is required" body &&
	TOKEN=$ADMIN_A api PATCH "/api/v1/catalog/components/$COMP_URL" "{\"argocdApp\":5}" && expect_status 400 &&
	test_grep "argocdApp must be a string or null" body
'

test_expect_success 'link a component; read the link back' '
	TOKEN=$ADMIN_A api PATCH "/api/v1/catalog/components/$COMP_URL" "{\"argocdApp\":\"guestbook\"}" &&
	expect_status 200 &&
	test_equal "$(json_get body "[d[\"id\"], d[\"argocdApp\"], d[\"orgId\"]]")" "[\"$COMP\", \"guestbook\", \"org-a\"]" &&
	created=$(json_get body "d[\"createdAt\"]") &&
	TOKEN=$USER_A api GET "/api/v1/catalog/components/$COMP_URL" && expect_status 200 &&
	test_equal "$(json_get body "d[\"argocdApp\"]")" guestbook &&
	TOKEN=$USER_A api GET /api/v1/catalog/components && expect_status 200 &&
	test_equal "$(json_get body "[c[\"id\"] for c in d]")" "[\"$COMP\"]" &&
	TOKEN=$ADMIN_A api PATCH "/api/v1/catalog/components/$COMP_URL" "{\"argocdApp\":\"guestbook\"}" &&
	test_equal "$(json_get body "d[\"createdAt\"]")" "$created"
'

test_expect_success 'org isolation: another org sees no link, and may use the same id' '
	TOKEN=$USER_B api GET "/api/v1/catalog/components/$COMP_URL" && expect_status 404 &&
	TOKEN=$USER_NONE api GET "/api/v1/catalog/components/$COMP_URL" && expect_status 404 &&
	TOKEN=$USER_B api GET /api/v1/catalog/components && test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_B api PATCH "/api/v1/catalog/components/$COMP_URL" "{\"argocdApp\":\"billing-api\"}" &&
	expect_status 200 &&
	TOKEN=$USER_B api GET "/api/v1/catalog/components/$COMP_URL" &&
	test_equal "$(json_get body "d[\"argocdApp\"]")" billing-api &&
	TOKEN=$USER_A api GET "/api/v1/catalog/components/$COMP_URL" &&
	test_equal "$(json_get body "d[\"argocdApp\"]")" guestbook &&
	TOKEN=$ADMIN_B api PATCH "/api/v1/catalog/components/$COMP_URL" "{\"argocdApp\":null}" &&
	expect_status 200 &&
	TOKEN=$USER_A api GET "/api/v1/catalog/components/$COMP_URL" && expect_status 200
'

# ---- the CI/CD tab ---------------------------------------------------------------------

test_expect_success 'the CI/CD tab without an Argo CD credential: 404 naming the type' '
	TOKEN=$USER_A api GET "/api/v1/catalog/components/$COMP_URL/cicd" && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "No argocd credential configured for this organization"
'

test_expect_success 'setup: Argo CD credentials (org-a with a webhook secret, org-c on another instance)' '
	TOKEN=$ADMIN_A make_cred argocd "Prod" "{\"url\":\"$FAKE_ARGOCD_URL\",\"token\":\"$ATOKEN\",\"webhookSecret\":\"org-a-hook-secret\"}" &&
	CRED_A=$CRED_ID &&
	TOKEN=$ADMIN_C make_cred argocd "Flaky" "{\"url\":\"$FAKE_ARGOCD_C_URL\",\"token\":\"$ATOKEN\"}" &&
	TOKEN=$ADMIN_A make_cred argocd "No hook" "{\"url\":\"$FAKE_ARGOCD_URL\",\"token\":\"wrong\"}" &&
	CRED_NOHOOK=$CRED_ID &&
	TOKEN=$ADMIN_A api PATCH "/api/v1/integrations/credentials/$CRED_A" "{\"name\":\"Prod\"}" &&
	expect_status 200
'

test_expect_success 'the CI/CD tab: health, sync, revision, last operation, normalised status' '
	fake_forget argocd &&
	TOKEN=$USER_A api GET "/api/v1/catalog/components/$COMP_URL/cicd" && expect_status 200 &&
	test_equal "$(json_get body "d[\"component\"]")" "$COMP" &&
	test_equal "$(json_get body "d[\"argocdApp\"]")" guestbook &&
	test_equal "$(json_get body "d[\"health\"][\"status\"]")" Healthy &&
	test_equal "$(json_get body "d[\"sync\"][\"status\"]")" Synced &&
	test_equal "$(json_get body "d[\"sync\"][\"revision\"]")" 5f3c8e1d2b4a69788c1e0f2d3b4a5c6d7e8f9a0b &&
	test_equal "$(json_get body "d[\"operation\"][\"phase\"]")" Succeeded &&
	test_equal "$(json_get body "d[\"operation\"][\"finishedAt\"]")" 2025-01-06T10:00:41Z &&
	test_equal "$(json_get body "d[\"status\"]")" success &&
	test_equal "$(json_get body "d[\"credentialId\"]")" "$CRED_A" &&
	fake_requests argocd >reqs.json &&
	json_get reqs.json "[r[\"path\"] for r in d if r[\"headers\"].get(\"authorization\") == \"Bearer $ATOKEN\"]" >paths &&
	test_grep "/api/v1/applications/guestbook" paths
'

test_expect_success 'the CI/CD tab is cached like every read' '
	TOKEN=$USER_A api GET "/api/v1/catalog/components/$COMP_URL/cicd" && expect_status 200 &&
	test_grep "^X-Farm-Cache: hit" headers
'

test_expect_success 'a failed, out-of-sync application is failed; a running one is running' '
	TOKEN=$ADMIN_A api PATCH /api/v1/catalog/components/billing "{\"argocdApp\":\"billing-api\"}" &&
	TOKEN=$USER_A api GET /api/v1/catalog/components/billing/cicd && expect_status 200 &&
	test_equal "$(json_get body "[d[\"health\"][\"status\"], d[\"sync\"][\"status\"], d[\"operation\"][\"phase\"], d[\"status\"]]")" \
		"[\"Degraded\", \"OutOfSync\", \"Failed\", \"failed\"]" &&
	TOKEN=$ADMIN_A api PATCH /api/v1/catalog/components/inventory "{\"argocdApp\":\"inventory-worker\"}" &&
	TOKEN=$USER_A api GET /api/v1/catalog/components/inventory/cicd && expect_status 200 &&
	test_equal "$(json_get body "d[\"status\"]")" running &&
	test_equal "$(json_get body "d[\"operation\"][\"finishedAt\"]")" null
'

test_expect_success 'upstream failures: missing app 404, refused 502, 5xx 502, timeout 504, 429 with Retry-After' '
	TOKEN=$ADMIN_C api PATCH /api/v1/catalog/components/ghost "{\"argocdApp\":\"no-such-app\"}" &&
	TOKEN=$ADMIN_C api GET /api/v1/catalog/components/ghost/cicd && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "Argo CD application '"'"'no-such-app'"'"' not found" &&
	TOKEN=$ADMIN_C api PATCH /api/v1/catalog/components/svc "{\"argocdApp\":\"guestbook\"}" &&
	fake_mode argocd@c 401 &&
	TOKEN=$ADMIN_C api GET /api/v1/catalog/components/svc/cicd && expect_status 502 &&
	test_equal "$(json_get body "d[\"message\"]")" "Argo CD rejected the stored credential (HTTP 401)" &&
	fake_mode argocd@c 500 &&
	TOKEN=$ADMIN_C api GET /api/v1/catalog/components/svc/cicd && expect_status 502 &&
	test_equal "$(json_get body "d[\"message\"]")" "Argo CD failed (HTTP 500)" &&
	fake_mode argocd@c 429 "" "\"retryAfter\":\"9\"" &&
	TOKEN=$ADMIN_C api GET /api/v1/catalog/components/svc/cicd && expect_status 429 &&
	test_grep "^Retry-After: 9" headers &&
	fake_mode argocd@c garbage &&
	TOKEN=$ADMIN_C api GET /api/v1/catalog/components/svc/cicd && expect_status 502 &&
	fake_mode argocd@c hang "" "\"seconds\":5" &&
	TOKEN=$ADMIN_C api GET /api/v1/catalog/components/svc/cicd && expect_status 504 &&
	fake_mode argocd@c normal &&
	TOKEN=$ADMIN_C api GET /api/v1/catalog/components/svc/cicd && expect_status 200 &&
	no_secret "$ATOKEN"
'

test_expect_success '?credentialId= picks the credential; another org'"'"'s is unknown' '
	TOKEN=$USER_A api GET "/api/v1/catalog/components/billing/cicd?credentialId=$CRED_NOHOOK" &&
	expect_status 502 && test_grep "rejected the stored credential" body &&
	TOKEN=$USER_B api GET "/api/v1/catalog/components/billing/cicd?credentialId=$CRED_A" &&
	expect_status 404
'

# ---- real time: the poller ---------------------------------------------------------------

test_expect_success 'polling: exactly one event per change of a linked application' '
	TOKEN=$ADMIN_A api PATCH /api/v1/catalog/components/shop "{\"argocdApp\":\"guestbook\"}" &&
	ev_wait evA guestbook 1 &&
	sleep 3 && test_equal "$(ev_count evA guestbook)" 1 &&
	test_equal "$(ev_field evA guestbook -1 "[e[\"data\"][k] for k in (\"status\",\"health\",\"sync\",\"orgId\",\"source\")]")" \
		"[\"success\", \"Healthy\", \"Synced\", \"org-a\", \"poll\"]" &&
	argocd_set guestbook Degraded Synced &&
	ev_wait evA guestbook 2 &&
	sleep 3 && test_equal "$(ev_count evA guestbook)" 2 &&
	test_equal "$(ev_field evA guestbook -1 "[e[\"data\"][\"status\"], e[\"data\"][\"providerStatus\"], e[\"data\"][\"health\"]]")" \
		"[\"failed\", \"Degraded\", \"Degraded\"]" &&
	argocd_set guestbook Healthy OutOfSync &&
	ev_wait evA guestbook 3 &&
	sleep 2 && test_equal "$(ev_count evA guestbook)" 3 &&
	test_equal "$(ev_field evA guestbook -1 "e[\"data\"][\"status\"]")" unstable &&
	test_equal "$(ev_count evB guestbook)" 0
'

test_expect_success 'a webhook reporting what the poller saw emits nothing more' '
	fake_ctl argocd GET /__fake/state >state.json &&
	$PY -c "import json; s=json.load(open(\"state.json\")); print(json.dumps({\"app\": [a for a in s[\"apps\"] if a[\"metadata\"][\"name\"]==\"guestbook\"][0]}))" >hook.json &&
	curl -sS -o body -w "%{http_code}" -H "X-Farm-Token: org-a-hook-secret" \
		-H "Content-Type: application/json" --data-binary @hook.json \
		"$FARM_URL/api/v1/webhooks/argocd/$CRED_A" >status &&
	expect_status 200 &&
	test_equal "$(json_get body "d")" "{\"received\": true, \"duplicate\": true}" &&
	sleep 1 && test_equal "$(ev_count evA guestbook)" 3
'

test_expect_success 'an unlinked application is no longer polled' '
	TOKEN=$ADMIN_A api PATCH /api/v1/catalog/components/shop "{\"argocdApp\":null}" &&
	TOKEN=$ADMIN_A api PATCH "/api/v1/catalog/components/$COMP_URL" "{\"argocdApp\":null}" &&
	expect_status 200 && test_equal "$(json_get body "d[\"argocdApp\"]")" null &&
	TOKEN=$USER_A api GET "/api/v1/catalog/components/$COMP_URL" && expect_status 404 &&
	TOKEN=$USER_A api GET "/api/v1/catalog/components/$COMP_URL/cicd" && expect_status 404 &&
	sleep 1.5 && fake_forget argocd && sleep 2.5 &&
	fake_requests argocd >reqs.json &&
	test_equal "$(json_get reqs.json "len([r for r in d if r[\"path\"].startswith(\"/api/v1/applications/guestbook\")])")" 0 &&
	test_equal "$(json_get reqs.json "len([r for r in d if r[\"path\"].startswith(\"/api/v1/applications/billing-api\")]) >= 2")" true
'

# ---- the webhook -----------------------------------------------------------------------------

test_expect_success 'the webhook refuses a missing or wrong token (401, nothing emitted)' '
	body="{\"app\":\"payments-api\",\"health\":\"Healthy\",\"sync\":\"Synced\"}" &&
	curl -sS -o body -w "%{http_code}" --data-binary "$body" "$FARM_URL/api/v1/webhooks/argocd" >status &&
	expect_status 401 &&
	curl -sS -o body -w "%{http_code}" -H "X-Farm-Token: wrong" --data-binary "$body" \
		"$FARM_URL/api/v1/webhooks/argocd" >status && expect_status 401 &&
	curl -sS -o body -w "%{http_code}" -u "argocd:wrong" --data-binary "$body" \
		"$FARM_URL/api/v1/webhooks/argocd" >status && expect_status 401 &&
	curl -sS -o body -w "%{http_code}" -H "X-Farm-Token: $HOOK_TOKEN" --data-binary "$body" \
		"$FARM_URL/api/v1/webhooks/argocd/$CRED_NOHOOK" >status && expect_status 401 &&
	curl -sS -o body -w "%{http_code}" -H "X-Farm-Token: org-a-hook-secret" --data-binary "$body" \
		"$FARM_URL/api/v1/webhooks/argocd" >status && expect_status 401 &&
	curl -sS -o body -w "%{http_code}" -H "X-Farm-Token: $HOOK_TOKEN" --data-binary "$body" \
		"$FARM_URL/api/v1/webhooks/argocd/00000000-0000-4000-8000-000000000000" >status &&
	expect_status 401 &&
	sleep 1 && test_equal "$(ev_count evA payments-api)" 0 &&
	no_secret "$HOOK_TOKEN" && no_secret org-a-hook-secret
'

test_expect_success 'the webhook accepts X-Farm-Token and the Basic password; one event per change' '
	curl -sS -o body -w "%{http_code}" -H "X-Farm-Token: $HOOK_TOKEN" \
		--data-binary "{\"app\":\"payments-api\",\"health\":\"Progressing\",\"sync\":\"Synced\",\"phase\":\"Running\",\"revision\":\"abc\"}" \
		"$FARM_URL/api/v1/webhooks/argocd" >status &&
	expect_status 200 && test_equal "$(json_get body "d")" "{\"received\": true}" &&
	ev_wait evB payments-api 1 && ev_wait evA payments-api 1 &&
	test_equal "$(ev_field evA payments-api -1 "[e[\"data\"][k] for k in (\"status\",\"orgId\",\"credentialId\",\"source\",\"commitSha\",\"buildId\")]")" \
		"[\"running\", null, null, \"webhook\", \"abc\", \"payments-api\"]" &&
	curl -sS -o body -w "%{http_code}" -u "argocd:$HOOK_TOKEN" \
		--data-binary "{\"app\":\"payments-api\",\"health\":\"Progressing\",\"sync\":\"Synced\",\"phase\":\"Running\",\"revision\":\"abc\"}" \
		"$FARM_URL/api/v1/webhooks/argocd" >status &&
	expect_status 200 && test_grep "duplicate" body &&
	curl -sS -o body -w "%{http_code}" -u "argocd:$HOOK_TOKEN" \
		--data-binary "{\"app\":\"payments-api\",\"health\":\"Healthy\",\"sync\":\"Synced\",\"phase\":\"Succeeded\",\"revision\":\"abc\",\"finishedAt\":\"2025-01-06T10:00:41Z\"}" \
		"$FARM_URL/api/v1/webhooks/argocd" >status &&
	expect_status 200 &&
	ev_wait evA payments-api 2 &&
	test_equal "$(ev_field evA payments-api -1 "[e[\"data\"][\"status\"], e[\"data\"][\"finishedAt\"]]")" \
		"[\"success\", \"2025-01-06T10:00:41.000Z\"]" &&
	sleep 1 && test_equal "$(ev_count evA payments-api)" 2
'

test_expect_success 'the credential path: the event belongs to the credential'"'"'s org' '
	curl -sS -o body -w "%{http_code}" -H "X-Farm-Token: org-a-hook-secret" \
		--data-binary "{\"app\":\"orders\",\"health\":\"Degraded\",\"sync\":\"OutOfSync\"}" \
		"$FARM_URL/api/v1/webhooks/argocd/$CRED_A" >status &&
	expect_status 200 &&
	ev_wait evA orders 1 &&
	test_equal "$(ev_field evA orders -1 "[e[\"data\"][\"orgId\"], e[\"data\"][\"credentialId\"], e[\"data\"][\"status\"]]")" \
		"[\"org-a\", \"$CRED_A\", \"failed\"]" &&
	sleep 1 && test_equal "$(ev_count evB orders)" 0
'

test_expect_success 'a verified delivery with a bad body is 400, nothing emitted' '
	curl -sS -o body -w "%{http_code}" -H "X-Farm-Token: $HOOK_TOKEN" --data-binary "{\"app\":" \
		"$FARM_URL/api/v1/webhooks/argocd" >status && expect_status 400 &&
	test_grep "malformed JSON" body &&
	curl -sS -o body -w "%{http_code}" -H "X-Farm-Token: $HOOK_TOKEN" --data-binary "{\"app\":\"Bad Name\"}" \
		"$FARM_URL/api/v1/webhooks/argocd" >status && expect_status 400 &&
	curl -sS -o body -w "%{http_code}" -H "X-Farm-Token: $HOOK_TOKEN" --data-binary "{\"health\":\"Healthy\"}" \
		"$FARM_URL/api/v1/webhooks/argocd" >status && expect_status 400 &&
	test_grep "app must be" body
'

test_expect_success 'no sanitizer report or nginx alert' '
	ws_stop evA && ws_stop evB &&
	check_logs_clean
'

test_done
