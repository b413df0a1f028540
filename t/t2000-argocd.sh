#!/bin/bash
# Argo CD through farm: list, get and sync applications with the org's
# credential; the exact upstream requests; 403-means-missing on a named app;
# "another operation is already in progress" and sync windows as 409.

. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-events.sh"
. "$TEST_DIR/lib-platform-contract.sh"

export FARM_CACHE_TTL=0
ATOKEN=argocd-test-token

start_fake argocd || exit 1

acred() { echo "{\"url\":\"$1\",\"token\":\"${2:-$ATOKEN}\"}"; }

test_expect_success 'setup: the stack and tokens' '
	start_farm &&
	ADMIN_A=$(token alice org-a admin) &&
	MEMBER_A=$(token bob org-a) &&
	ADMIN_B=$(token carol org-b admin)
'

test_expect_success 'no credential: the list is [], the rest 404 naming the type' '
	TOKEN=$MEMBER_A api GET /api/v1/argocd/applications && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$MEMBER_A api GET /api/v1/argocd/applications/guestbook && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"No argocd credential configured for this organization" &&
	TOKEN=$ADMIN_A api POST /api/v1/argocd/applications/guestbook/sync && expect_status 404 &&
	test_grep "No argocd credential" body &&
	test_equal "$(fake_count argocd)" 0
'

test_expect_success 'setup: an Argo CD credential for org-a' '
	TOKEN=$ADMIN_A make_cred argocd "Production Argo CD" "$(acred "$FAKE_ARGOCD_URL")" &&
	A1=$CRED_ID
'

test_expect_success 'list: the Application objects as Argo CD returns them' '
	fake_forget argocd &&
	TOKEN=$MEMBER_A api GET /api/v1/argocd/applications && expect_status 200 &&
	test_equal "$(json_get body "[a[\"metadata\"][\"name\"] for a in d]")" \
		"[\"guestbook\", \"billing-api\", \"inventory-worker\"]" &&
	test_equal "$(json_get body "[a[\"status\"][\"health\"][\"status\"] for a in d]")" \
		"[\"Healthy\", \"Degraded\", \"Progressing\"]" &&
	test_equal "$(json_get body "[a[\"status\"][\"sync\"][\"status\"] for a in d]")" \
		"[\"Synced\", \"OutOfSync\", \"Synced\"]" &&
	test_equal "$(json_get body "d[0][\"spec\"][\"source\"][\"repoURL\"]")" \
		https://github.com/acme/gitops.git &&
	test_equal "$(json_get body "d[0][\"spec\"][\"destination\"][\"namespace\"]")" guestbook &&
	test_equal "$(json_get body "d[0][\"status\"][\"operationState\"][\"finishedAt\"]")" \
		2025-01-06T10:00:41Z &&
	test_equal "$(json_get body "len(d[0][\"metadata\"][\"uid\"])")" 36
'

test_expect_success 'list: GET /api/v1/applications with the Bearer token' '
	test_equal "$(fake_count argocd)" 1 &&
	fake_last argocd req.json &&
	test_equal "$(json_get req.json "d[\"method\"]")" GET &&
	test_equal "$(json_get req.json "d[\"path\"]")" /api/v1/applications &&
	test_equal "$(json_get req.json "d[\"headers\"][\"authorization\"]")" "Bearer $ATOKEN" &&
	test_equal "$(json_get req.json "d[\"headers\"][\"accept\"]")" application/json &&
	test_equal "$(json_get req.json "d[\"body\"]")" ""
'

test_expect_success 'list: "items": null (no application) is []' '
	fake_ctl argocd POST /__fake/state "{\"apps\":[]}" >/dev/null &&
	TOKEN=$MEMBER_A api GET /api/v1/argocd/applications && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	fake_reset argocd state
'

test_expect_success 'get: one Application' '
	fake_forget argocd &&
	TOKEN=$MEMBER_A api GET /api/v1/argocd/applications/billing-api && expect_status 200 &&
	test_equal "$(json_get body "d[\"metadata\"][\"name\"]")" billing-api &&
	test_equal "$(json_get body "d[\"status\"][\"conditions\"][0][\"type\"]")" SyncError &&
	fake_last argocd req.json &&
	test_equal "$(json_get req.json "d[\"path\"]")" /api/v1/applications/billing-api &&
	test_equal "$(json_get req.json "d[\"headers\"][\"authorization\"]")" "Bearer $ATOKEN"
'

test_expect_success 'get: Argo CD 403 "permission denied" on a named app is a 404' '
	TOKEN=$MEMBER_A api GET /api/v1/argocd/applications/nope && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "Argo CD application '"'"'nope'"'"' not found"
'

test_expect_success 'hostile or invalid application names: 400, nothing forwarded' '
	fake_forget argocd &&
	long=$(printf "a%.0s" $(seq 1 300)) &&
	(for n in Guestbook "..%2Fsecrets" "a%2Fb" "a%0D%0Ab" "-x" "a..b" "a%20b" "$long"; do
		TOKEN=$MEMBER_A api GET "/api/v1/argocd/applications/$n" && expect_status 400 &&
		TOKEN=$ADMIN_A api POST "/api/v1/argocd/applications/$n/sync" && expect_status 400 ||
		{ echo "name: $n"; exit 1; }
	done) &&
	test_grep "application name must" body &&
	test_equal "$(fake_count argocd)" 0
'

test_expect_success 'sync: a member may not (403)' '
	TOKEN=$MEMBER_A api POST /api/v1/argocd/applications/guestbook/sync && expect_status 403
'

test_expect_success 'sync: the options are passed on, the app with its operation returned' '
	fake_forget argocd &&
	TOKEN=$ADMIN_A api POST /api/v1/argocd/applications/guestbook/sync \
		"{\"revision\":\"v1.2.3\",\"prune\":true,\"dryRun\":false,\"strategy\":{\"hook\":{\"force\":true}},\"resources\":[{\"group\":\"apps\",\"kind\":\"Deployment\",\"name\":\"guestbook\",\"namespace\":\"guestbook\"}],\"syncOptions\":[\"CreateNamespace=true\",\"PruneLast=true\"]}" &&
	expect_status 200 &&
	test_equal "$(json_get body "d[\"metadata\"][\"name\"]")" guestbook &&
	test_equal "$(json_get body "d[\"operation\"][\"sync\"][\"revision\"]")" v1.2.3 &&
	test_equal "$(json_get body "d[\"operation\"][\"sync\"][\"prune\"]")" true &&
	test_equal "$(json_get body "d[\"operation\"][\"sync\"][\"syncOptions\"]")" \
		"[\"CreateNamespace=true\", \"PruneLast=true\"]" &&
	test_equal "$(fake_count argocd)" 1 &&
	fake_last argocd req.json &&
	test_equal "$(json_get req.json "d[\"method\"]")" POST &&
	test_equal "$(json_get req.json "d[\"path\"]")" /api/v1/applications/guestbook/sync &&
	test_equal "$(json_get req.json "d[\"headers\"][\"content-type\"]")" application/json &&
	test_equal "$(json_get req.json "d[\"headers\"][\"authorization\"]")" "Bearer $ATOKEN" &&
	test_equal "$(json_get req.json "json.loads(d[\"body\"])")" \
		"{\"name\": \"guestbook\", \"revision\": \"v1.2.3\", \"prune\": true, \"dryRun\": false, \"strategy\": {\"hook\": {\"force\": true}}, \"resources\": [{\"group\": \"apps\", \"kind\": \"Deployment\", \"name\": \"guestbook\", \"namespace\": \"guestbook\"}], \"syncOptions\": {\"items\": [\"CreateNamespace=true\", \"PruneLast=true\"]}}"
'

test_expect_success 'sync: "another operation is already in progress" is a 409' '
	TOKEN=$ADMIN_A api POST /api/v1/argocd/applications/guestbook/sync && expect_status 409 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"Argo CD: another operation is already in progress" &&
	TOKEN=$ADMIN_A api POST /api/v1/argocd/applications/inventory-worker/sync &&
	expect_status 409
'

test_expect_success 'sync: no body sends just the name; syncOptions {items} accepted as is' '
	fake_forget argocd &&
	TOKEN=$ADMIN_A api POST /api/v1/argocd/applications/billing-api/sync && expect_status 200 &&
	fake_last argocd req.json &&
	test_equal "$(json_get req.json "d[\"body\"]")" "{\"name\":\"billing-api\"}" &&
	fake_reset argocd state &&
	TOKEN=$ADMIN_A api POST /api/v1/argocd/applications/billing-api/sync \
		"{\"syncOptions\":{\"items\":[\"Validate=false\"]}}" && expect_status 200 &&
	fake_last argocd req.json &&
	test_equal "$(json_get req.json "json.loads(d[\"body\"])[\"syncOptions\"]")" \
		"{\"items\": [\"Validate=false\"]}" &&
	fake_reset argocd state
'

test_expect_success 'sync: a sync window block is a 409, a missing app a 404' '
	fake_ctl argocd GET /__fake/state >state.json &&
	$PY -c "import json; s=json.load(open(\"state.json\")); s[\"syncWindowBlocked\"]=[\"guestbook\"]; json.dump(s, open(\"state.json\",\"w\"))" &&
	fake_ctl argocd POST /__fake/state "$(cat state.json)" >/dev/null &&
	TOKEN=$ADMIN_A api POST /api/v1/argocd/applications/guestbook/sync && expect_status 409 &&
	test_equal "$(json_get body "d[\"message\"]")" "Argo CD: cannot sync: blocked by sync window" &&
	TOKEN=$ADMIN_A api POST /api/v1/argocd/applications/nope/sync && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "Argo CD application '"'"'nope'"'"' not found" &&
	fake_reset argocd state
'

test_expect_success 'sync: bad options are refused before any upstream call' '
	fake_forget argocd &&
	(for b in "{\"force\":true}" "{\"prune\":\"yes\"}" "{\"dryRun\":1}" "{\"revision\":5}" \
		"{\"strategy\":{\"apply\":true}}" "{\"strategy\":{\"x\":{}}}" \
		"{\"resources\":[{\"kind\":\"Service\"}]}" "{\"resources\":{}}" \
		"{\"syncOptions\":[1]}" "{\"syncOptions\":\"CreateNamespace=true\"}" "[1]"; do
		TOKEN=$ADMIN_A api POST /api/v1/argocd/applications/guestbook/sync "$b" &&
		expect_status 400 || { echo "body: $b"; exit 1; }
	done) &&
	test_equal "$(fake_count argocd)" 0
'

test_expect_success '?credentialId= and org isolation' '
	TOKEN=$MEMBER_A api GET "/api/v1/argocd/applications?credentialId=$A1" && expect_status 200 &&
	test_equal "$(json_get body "len(d)")" 3 &&
	TOKEN=$ADMIN_B api GET /api/v1/argocd/applications && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_B api GET "/api/v1/argocd/applications?credentialId=$A1" && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "Credential $A1 not found" &&
	TOKEN=$ADMIN_B api POST "/api/v1/argocd/applications/guestbook/sync?credentialId=$A1" &&
	expect_status 404
'

test_expect_success 'a refused token: 502 for the list and for an app, never the secret' '
	TOKEN=$ADMIN_B make_cred argocd "stale" "$(acred "$FAKE_ARGOCD_URL" eyJ.stale-argo-token.sig)" &&
	TOKEN=$ADMIN_B api GET /api/v1/argocd/applications && expect_status 502 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"Argo CD rejected the stored credential (HTTP 401)" &&
	TOKEN=$ADMIN_B api GET /api/v1/argocd/applications/guestbook && expect_status 502 &&
	TOKEN=$ADMIN_B api POST /api/v1/argocd/applications/guestbook/sync && expect_status 502 &&
	no_secret eyJ.stale-argo-token.sig
'

test_expect_success 'an Argo CD base URL with a path prefix is honoured' '
	start_fake argocd@pfx --prefix /argo &&
	TOKEN=$(token dave org-c admin) make_cred argocd "behind a proxy" \
		"$(acred "$FAKE_ARGOCD_PFX_URL/argo/")" &&
	TOKEN=$(token dave org-c) api GET /api/v1/argocd/applications/guestbook &&
	expect_status 200 &&
	fake_last argocd@pfx req.json &&
	test_equal "$(json_get req.json "d[\"path\"]")" /argo/api/v1/applications/guestbook
'

test_expect_success 'the stored token never appears in answers or logs' '
	no_secret "$ATOKEN" && check_logs_clean
'

# ---- the contract every platform keeps (t/lib-platform-contract.sh) ---------------------
PC_FAKE=argocd PC_TYPE=argocd PC_TITLE="Argo CD" PC_SECRET=$ATOKEN \
PC_VALUE=$(acred "$FAKE_ARGOCD_URL") PC_LIST=/api/v1/argocd/applications \
PC_ACTION="POST /api/v1/argocd/applications/guestbook/sync" PC_REFUSED=401 \
PC_HOOK=pc_hook_argocd PC_HOOK_CRED='"webhookSecret":"pc-argocd-hook-secret"' \
PC_HOOK_GOOD=pc-argocd-hook-secret PC_HOOK_BAD=wrong-secret platform_contract

test_done
