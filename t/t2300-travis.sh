#!/bin/bash
# Travis CI through farm: builds of a repository (slug %2F-encoded) or of the
# user, limit/offset, restarts; API v3 headers; Enterprise base URLs; Travis's
# 403 for a refused token.

. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-events.sh"
. "$TEST_DIR/lib-platform-contract.sh"

export FARM_CACHE_TTL=0
TTOKEN=travis-test-token

start_fake travis --keyfile "$TRASH/travis-api.key" || exit 1
start_fake travis@ent --prefix /api || exit 1
export FARM_TRAVISCI_API_URL=$FAKE_TRAVIS_URL

test_expect_success 'setup: the stack and tokens' '
	start_farm &&
	ADMIN_A=$(token alice org-a admin) &&
	MEMBER_A=$(token bob org-a) &&
	ADMIN_B=$(token carol org-b admin)
'

test_expect_success 'no credential: [] for the list, 404 naming the type for a restart' '
	TOKEN=$MEMBER_A api GET "/api/v1/travisci/builds?repoSlug=acme%2Fapi" && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_A api POST /api/v1/travisci/builds/90000001/restart && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"No travisci credential configured for this organization" &&
	test_equal "$(fake_count travis)" 0
'

test_expect_success 'setup: a Travis CI credential (token only: travisci.api_url)' '
	TOKEN=$ADMIN_A make_cred travisci "Travis" "{\"token\":\"$TTOKEN\"}" &&
	T1=$CRED_ID
'

test_expect_success 'builds of a repository: v3 build objects, newest first' '
	fake_forget travis &&
	TOKEN=$MEMBER_A api GET "/api/v1/travisci/builds?repoSlug=acme%2Fapi" && expect_status 200 &&
	test_equal "$(json_get body "len(d)")" 25 &&
	test_equal "$(json_get body "[b[\"number\"] for b in d][:3]")" "[\"30\", \"29\", \"28\"]" &&
	test_equal "$(json_get body "[d[0][\"@type\"], d[0][\"state\"], d[1][\"state\"], d[2][\"state\"]]")" \
		"[\"build\", \"started\", \"created\", \"passed\"]" &&
	test_equal "$(json_get body "[d[0][\"repository\"][\"slug\"], d[0][\"branch\"][\"name\"]]")" \
		"[\"acme/api\", \"main\"]" &&
	test_equal "$(json_get body "d[2][\"id\"]")" 90000028
'

test_expect_success 'builds: GET /repo/<owner%2Fname>/builds with the v3 headers' '
	test_equal "$(fake_count travis)" 1 &&
	fake_last travis req.json &&
	test_equal "$(json_get req.json "d[\"method\"]")" GET &&
	test_equal "$(json_get req.json "d[\"path\"]")" "/repo/acme%2Fapi/builds?limit=25&offset=0" &&
	test_equal "$(json_get req.json "d[\"headers\"][\"travis-api-version\"]")" 3 &&
	test_equal "$(json_get req.json "d[\"headers\"][\"authorization\"]")" "token $TTOKEN"
'

test_expect_success 'builds: limit and offset are passed on' '
	TOKEN=$MEMBER_A api GET "/api/v1/travisci/builds?repoSlug=acme/api&limit=5&offset=10" &&
	expect_status 200 &&
	test_equal "$(json_get body "[b[\"number\"] for b in d]")" \
		"[\"20\", \"19\", \"18\", \"17\", \"16\"]" &&
	fake_last travis req.json &&
	test_equal "$(json_get req.json "d[\"path\"]")" "/repo/acme%2Fapi/builds?limit=5&offset=10"
'

test_expect_success 'builds without repoSlug: the user'"'"'s builds' '
	TOKEN=$MEMBER_A api GET "/api/v1/travisci/builds?limit=100" && expect_status 200 &&
	test_equal "$(json_get body "len(d)")" 33 &&
	fake_last travis req.json &&
	test_equal "$(json_get req.json "d[\"path\"]")" "/builds?limit=100&offset=0"
'

test_expect_success 'builds: unknown repository 404; bad slug, limit or offset 400' '
	TOKEN=$MEMBER_A api GET "/api/v1/travisci/builds?repoSlug=acme%2Fnope" && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"Travis CI repository '"'"'acme/nope'"'"' not found" &&
	fake_forget travis &&
	(for q in "repoSlug=acme" "repoSlug=acme/api/x" "repoSlug=../x" "repoSlug=..%2Fx" \
		"repoSlug=a%20b/c" "repoSlug=a/b%0D%0A" "limit=0" "limit=101" "limit=x" "offset=-1" \
		"offset=1e3"; do
		TOKEN=$MEMBER_A api GET "/api/v1/travisci/builds?$q" && expect_status 400 ||
		{ echo "query: $q"; exit 1; }
	done) &&
	test_equal "$(fake_count travis)" 0
'

test_expect_success 'restart: a member may not (403)' '
	TOKEN=$MEMBER_A api POST /api/v1/travisci/builds/90000001/restart && expect_status 403
'

test_expect_success 'restart: POST /build/<id>/restart, 202 with Travis'"'"'s pending object' '
	fake_forget travis &&
	TOKEN=$ADMIN_A api POST /api/v1/travisci/builds/90000001/restart && expect_status 202 &&
	test_equal "$(json_get body "[d[\"@type\"], d[\"state_change\"], d[\"build\"][\"id\"]]")" \
		"[\"pending\", \"restart\", 90000001]" &&
	test_equal "$(fake_count travis)" 1 &&
	fake_last travis req.json &&
	test_equal "$(json_get req.json "[d[\"method\"], d[\"path\"], d[\"body\"]]")" \
		"[\"POST\", \"/build/90000001/restart\", \"\"]" &&
	test_equal "$(json_get req.json "d[\"headers\"][\"travis-api-version\"]")" 3 &&
	test_equal "$(json_get req.json "d[\"headers\"][\"authorization\"]")" "token $TTOKEN"
'

test_expect_success 'restart: a running build 409, an unknown one 404' '
	TOKEN=$ADMIN_A api POST /api/v1/travisci/builds/90000001/restart && expect_status 409 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"Travis CI: build already running, cannot restart" &&
	TOKEN=$ADMIN_A api POST /api/v1/travisci/builds/1/restart && expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" "Travis CI build 1 not found"
'

test_expect_success 'restart: a build id must be digits (400, nothing forwarded)' '
	fake_forget travis &&
	(for id in abc 12a -1 "1%2F..%2F2" "1%0A" 1234567890123456789 "%20"; do
		TOKEN=$ADMIN_A api POST "/api/v1/travisci/builds/$id/restart" && expect_status 400 ||
		{ echo "id: $id"; exit 1; }
	done) &&
	test_grep "build id must be a number" body &&
	test_equal "$(fake_count travis)" 0
'

test_expect_success 'an Enterprise credential (url https://host/api) is the base' '
	TOKEN=$ADMIN_A make_cred travisci "Enterprise" \
		"{\"token\":\"$TTOKEN\",\"url\":\"$FAKE_TRAVIS_ENT_URL/api\"}" &&
	T2=$CRED_ID &&
	fake_forget travis@ent && fake_forget travis &&
	TOKEN=$MEMBER_A api GET "/api/v1/travisci/builds?repoSlug=acme/web" && expect_status 200 &&
	test_equal "$(json_get body "len(d)")" 3 &&
	fake_last travis@ent req.json &&
	test_equal "$(json_get req.json "d[\"path\"]")" "/api/repo/acme%2Fweb/builds?limit=25&offset=0" &&
	test_equal "$(fake_count travis)" 0 &&
	TOKEN=$MEMBER_A api GET "/api/v1/travisci/builds?repoSlug=acme/web&credentialId=$T1" &&
	expect_status 200 && test_equal "$(fake_count travis)" 1
'

test_expect_success 'org isolation' '
	TOKEN=$ADMIN_B api GET /api/v1/travisci/builds && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_B api POST "/api/v1/travisci/builds/90000002/restart?credentialId=$T1" &&
	expect_status 404 && test_equal "$(json_get body "d[\"message\"]")" "Credential $T1 not found"
'

test_expect_success 'a refused token (Travis 403): 502, never the secret' '
	TOKEN=$ADMIN_B make_cred travisci "old" "{\"token\":\"travis-revoked-3f9a1c\"}" &&
	TOKEN=$ADMIN_B api GET /api/v1/travisci/builds && expect_status 502 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"Travis CI rejected the stored credential (HTTP 403)" &&
	TOKEN=$ADMIN_B api POST /api/v1/travisci/builds/90000002/restart && expect_status 502 &&
	no_secret travis-revoked-3f9a1c
'

test_expect_success 'the stored token never appears in answers or logs' '
	no_secret "$TTOKEN" && check_logs_clean
'

# ---- the contract every platform keeps (t/lib-platform-contract.sh) ---------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TRASH/other.key" 2>/dev/null
PC_FAKE=travis PC_TYPE=travisci PC_TITLE="Travis CI" PC_SECRET=$TTOKEN \
PC_VALUE="{\"token\":\"$TTOKEN\",\"url\":\"$FAKE_TRAVIS_URL\"}" \
PC_LIST="/api/v1/travisci/builds?repoSlug=acme%2Fapi" \
PC_ACTION="POST /api/v1/travisci/builds/90000001/restart" PC_REFUSED=403 \
PC_HOOK=pc_hook_travis PC_HOOK_KEYED=1 PC_HOOK_CRED='"webhookSecret":"unused-by-travis"' \
PC_HOOK_GOOD=$TRASH/travis-api.key PC_HOOK_BAD=$TRASH/other.key platform_contract

test_done
