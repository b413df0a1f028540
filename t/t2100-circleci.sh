#!/bin/bash
# CircleCI through farm: pipelines of a project (GitHub/Bitbucket URL -> slug),
# the org listing filtered on a repository URL, page tokens followed up to a
# bound, triggers; the exact upstream requests; credential choice and isolation.

. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"
. "$TEST_DIR/lib-events.sh"
. "$TEST_DIR/lib-platform-contract.sh"

export FARM_CACHE_TTL=0
CTOKEN=circle-test-token

start_fake circleci || exit 1
start_fake circleci@server --page-size 2 || exit 1
export FARM_CIRCLECI_API_URL=$FAKE_CIRCLECI_URL

test_expect_success 'setup: the stack and tokens' '
	start_farm &&
	ADMIN_A=$(token alice org-a admin) &&
	MEMBER_A=$(token bob org-a) &&
	ADMIN_B=$(token carol org-b admin)
'

test_expect_success 'no credential: [] for the list, 404 naming the type for a trigger' '
	TOKEN=$MEMBER_A api GET "/api/v1/circleci/pipelines?vcsUrl=https://github.com/acme/api" &&
	expect_status 200 && test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_A api POST /api/v1/circleci/pipelines/gh%2Facme%2Fapi/trigger &&
	expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"No circleci credential configured for this organization" &&
	test_equal "$(fake_count circleci)" 0
'

test_expect_success 'setup: a CircleCI credential (token only: circleci.api_url is used)' '
	TOKEN=$ADMIN_A make_cred circleci "CircleCI" "{\"token\":\"$CTOKEN\"}" &&
	C1=$CRED_ID
'

test_expect_success 'a GitHub URL: the project endpoint, both pages, newest first' '
	fake_forget circleci &&
	TOKEN=$MEMBER_A api GET "/api/v1/circleci/pipelines?vcsUrl=https%3A%2F%2Fgithub.com%2Facme%2Fapi" &&
	expect_status 200 &&
	test_equal "$(json_get body "len(d)")" 25 &&
	test_equal "$(json_get body "[p[\"number\"] for p in d][:3] + [d[-1][\"number\"]]")" \
		"[125, 124, 123, 101]" &&
	test_equal "$(json_get body "sorted(d[0])")" \
		"[\"created_at\", \"errors\", \"id\", \"number\", \"project_slug\", \"state\", \"trigger\", \"updated_at\", \"vcs\"]" &&
	test_equal "$(json_get body "d[0][\"vcs\"][\"target_repository_url\"]")" \
		https://github.com/acme/api &&
	fake_requests circleci >reqs.json &&
	test_equal "$(json_get reqs.json "[r[\"path\"].split(\"?\")[0] for r in d]")" \
		"[\"/api/v2/project/gh/acme/api/pipeline\", \"/api/v2/project/gh/acme/api/pipeline\"]" &&
	test_equal "$(json_get reqs.json "d[0][\"query\"]")" "{}" &&
	test_equal "$(json_get reqs.json "list(d[1][\"query\"])")" "[\"page-token\"]" &&
	test_equal "$(json_get reqs.json "[r[\"headers\"][\"circle-token\"] for r in d]")" \
		"[\"$CTOKEN\", \"$CTOKEN\"]" &&
	test_equal "$(json_get reqs.json "\"authorization\" in d[0][\"headers\"]")" false
'

test_expect_success 'other spellings of a GitHub or Bitbucket repository URL' '
	(for u in "git@github.com:acme/web.git" "https://github.com/acme/web.git" \
		"https://www.github.com/acme/web/" "ssh://git@github.com/acme/web"; do
		fake_forget circleci &&
		TOKEN=$MEMBER_A api GET "/api/v1/circleci/pipelines?vcsUrl=$u" && expect_status 200 &&
		test_equal "$(json_get body "[p[\"number\"] for p in d]")" "[9, 8, 7]" &&
		fake_last circleci req.json &&
		test_equal "$(json_get req.json "d[\"path\"]")" /api/v2/project/gh/acme/web/pipeline ||
		{ echo "url: $u"; exit 1; }
	done) &&
	TOKEN=$MEMBER_A api GET "/api/v1/circleci/pipelines?vcsUrl=https://bitbucket.org/acme/site" &&
	expect_status 404 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"CircleCI project '"'"'bb/acme/site'"'"' not found" &&
	fake_last circleci req.json &&
	test_equal "$(json_get req.json "d[\"path\"]")" /api/v2/project/bb/acme/site/pipeline
'

test_expect_success 'another host: the org listing filtered on the repository URL' '
	fake_ctl circleci GET /__fake/state >state.json &&
	$PY - <<-\EOF &&
	import json
	s = json.load(open("state.json"))
	p = dict(s["pipelines"][0], id="6d2c5f0e-0000-4000-8000-00000000beef", number=7,
	         project_slug="circleci/5e4b9a1c/8f3d7c2a")
	p["vcs"] = dict(p["vcs"], target_repository_url="https://gitlab.com/acme/infra",
	                origin_repository_url="https://gitlab.com/acme/infra")
	s["pipelines"].append(p)
	json.dump(s, open("state.json", "w"))
	EOF
	fake_ctl circleci POST /__fake/state "$(cat state.json)" >/dev/null &&
	fake_forget circleci &&
	TOKEN=$MEMBER_A api GET "/api/v1/circleci/pipelines?vcsUrl=https://GitLab.com/acme/infra.git" &&
	expect_status 200 &&
	test_equal "$(json_get body "[p[\"id\"] for p in d]")" \
		"[\"6d2c5f0e-0000-4000-8000-00000000beef\"]" &&
	fake_requests circleci >reqs.json &&
	test_equal "$(json_get reqs.json "[r[\"path\"].split(\"?\")[0] for r in d]")" \
		"[\"/api/v2/pipeline\", \"/api/v2/pipeline\"]" &&
	TOKEN=$MEMBER_A api GET "/api/v1/circleci/pipelines?vcsUrl=https://gitlab.com/acme/none" &&
	expect_status 200 && test_equal "$(cat body)" "[]" &&
	fake_reset circleci state
'

test_expect_success 'no vcsUrl: every pipeline of the org listing' '
	fake_forget circleci &&
	TOKEN=$MEMBER_A api GET /api/v1/circleci/pipelines && expect_status 200 &&
	test_equal "$(json_get body "len(d)")" 28 &&
	fake_last circleci req.json &&
	test_equal "$(json_get req.json "d[\"path\"].split(\"?\")[0]")" /api/v2/pipeline
'

test_expect_success 'a bad vcsUrl is a 400' '
	TOKEN=$MEMBER_A api GET "/api/v1/circleci/pipelines?vcsUrl=https://github.com/a%0Ab" &&
	expect_status 400 && test_grep "vcsUrl must be" body
'

test_expect_success 'a server credential (url) is used as the base; pages stop at 5' '
	TOKEN=$ADMIN_A make_cred circleci "server" \
		"{\"token\":\"$CTOKEN\",\"url\":\"$FAKE_CIRCLECI_SERVER_URL\"}" &&
	C2=$CRED_ID &&
	fake_forget circleci@server && fake_forget circleci &&
	TOKEN=$MEMBER_A api GET "/api/v1/circleci/pipelines?vcsUrl=https://github.com/acme/api" &&
	expect_status 200 &&
	test_equal "$(json_get body "[p[\"number\"] for p in d]")" \
		"[125, 124, 123, 122, 121, 120, 119, 118, 117, 116]" &&
	test_equal "$(fake_count circleci@server)" 5 &&
	test_equal "$(fake_count circleci)" 0 &&
	TOKEN=$MEMBER_A api GET "/api/v1/circleci/pipelines?vcsUrl=https://github.com/acme/web&credentialId=$C1" &&
	expect_status 200 && test_equal "$(fake_count circleci)" 1
'

test_expect_success 'trigger: a member may not (403)' '
	TOKEN=$MEMBER_A api POST "/api/v1/circleci/pipelines/gh%2Facme%2Fapi/trigger?credentialId=$C1" &&
	expect_status 403
'

test_expect_success 'trigger: POST project/<slug>/pipeline, 201 {id,number,state,created_at}' '
	fake_forget circleci &&
	TOKEN=$ADMIN_A api POST "/api/v1/circleci/pipelines/gh%2Facme%2Fapi/trigger?credentialId=$C1" \
		"{\"branch\":\"feature/login\",\"parameters\":{\"deploy\":true,\"region\":\"eu\",\"replicas\":3}}" &&
	expect_status 201 &&
	test_equal "$(json_get body "sorted(d)")" "[\"created_at\", \"id\", \"number\", \"state\"]" &&
	test_equal "$(json_get body "[d[\"number\"], d[\"state\"]]")" "[126, \"pending\"]" &&
	test_equal "$(json_get body "len(d[\"id\"])")" 36 &&
	fake_last circleci req.json &&
	test_equal "$(json_get req.json "d[\"method\"]")" POST &&
	test_equal "$(json_get req.json "d[\"path\"]")" /api/v2/project/gh/acme/api/pipeline &&
	test_equal "$(json_get req.json "d[\"headers\"][\"circle-token\"]")" "$CTOKEN" &&
	test_equal "$(json_get req.json "d[\"headers\"][\"content-type\"]")" application/json &&
	test_equal "$(json_get req.json "json.loads(d[\"body\"])")" \
		"{\"branch\": \"feature/login\", \"parameters\": {\"deploy\": true, \"region\": \"eu\", \"replicas\": 3}}"
'

test_expect_success 'trigger: a tag, or no body at all' '
	TOKEN=$ADMIN_A api POST "/api/v1/circleci/pipelines/gh%2Facme%2Fweb/trigger?credentialId=$C1" \
		"{\"tag\":\"v1.0.0\"}" && expect_status 201 &&
	fake_last circleci req.json &&
	test_equal "$(json_get req.json "d[\"body\"]")" "{\"tag\":\"v1.0.0\"}" &&
	TOKEN=$ADMIN_A api POST "/api/v1/circleci/pipelines/bb%2Facme%2Fapi/trigger?credentialId=$C1" &&
	expect_status 404 &&
	fake_last circleci req.json &&
	test_equal "$(json_get req.json "d[\"path\"]")" /api/v2/project/bb/acme/api/pipeline &&
	test_equal "$(json_get req.json "d[\"body\"]")" "{}" &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"CircleCI project '"'"'bb/acme/api'"'"' not found"
'

test_expect_success 'trigger: bad bodies and hostile slugs are 400, nothing forwarded' '
	fake_forget circleci &&
	(for b in "{\"branch\":\"main\",\"tag\":\"v1\"}" "{\"branch\":\"\"}" "{\"branch\":7}" \
		"{\"ref\":\"main\"}" "{\"parameters\":[]}" "{\"parameters\":{\"a\":{\"b\":1}}}" \
		"{\"parameters\":{\"a\":\"$(printf "x%.0s" $(seq 1 600))\"}}" "[]"; do
		TOKEN=$ADMIN_A api POST "/api/v1/circleci/pipelines/gh%2Facme%2Fapi/trigger?credentialId=$C1" "$b" &&
		expect_status 400 || { echo "body: $b"; exit 1; }
	done) &&
	(for s in "gh%2Facme" "xx%2Facme%2Fapi" "gh%2F..%2Fapi" "gh%2Facme%2Fapi%2Fpipeline" \
		"gh%2Facme%2Fa%0Ab" "gh%2Facme%2F" "gh%2Fa%20b%2Fc" \
		"gh%2Facme%2F$(printf "r%.0s" $(seq 1 200))"; do
		TOKEN=$ADMIN_A api POST "/api/v1/circleci/pipelines/$s/trigger?credentialId=$C1" &&
		expect_status 400 || { echo "slug: $s"; exit 1; }
	done) &&
	test_grep "slug must be gh/org/repo" body &&
	test_equal "$(fake_count circleci)" 0
'

test_expect_success 'org isolation' '
	TOKEN=$ADMIN_B api GET /api/v1/circleci/pipelines && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_B api GET "/api/v1/circleci/pipelines?credentialId=$C1" && expect_status 404 &&
	TOKEN=$ADMIN_B api POST "/api/v1/circleci/pipelines/gh%2Facme%2Fapi/trigger?credentialId=$C2" &&
	expect_status 404 && test_equal "$(json_get body "d[\"message\"]")" "Credential $C2 not found"
'

test_expect_success 'a refused token: 502, never the secret' '
	TOKEN=$ADMIN_B make_cred circleci "old" "{\"token\":\"CCIPAT_revoked_0123456789\"}" &&
	TOKEN=$ADMIN_B api GET /api/v1/circleci/pipelines && expect_status 502 &&
	test_equal "$(json_get body "d[\"message\"]")" \
		"CircleCI rejected the stored credential (HTTP 401)" &&
	TOKEN=$ADMIN_B api POST /api/v1/circleci/pipelines/gh%2Facme%2Fapi/trigger && expect_status 502 &&
	no_secret CCIPAT_revoked_0123456789
'

test_expect_success 'the stored token never appears in answers or logs' '
	no_secret "$CTOKEN" && check_logs_clean
'

# ---- the contract every platform keeps (t/lib-platform-contract.sh) ---------------------
PC_FAKE=circleci PC_TYPE=circleci PC_TITLE=CircleCI PC_SECRET=$CTOKEN \
PC_VALUE="{\"token\":\"$CTOKEN\"}" \
PC_LIST="/api/v1/circleci/pipelines?vcsUrl=https://github.com/acme/api" \
PC_ACTION="POST /api/v1/circleci/pipelines/gh%2Facme%2Fapi/trigger" PC_REFUSED=401 \
PC_HOOK=pc_hook_circleci PC_HOOK_CRED='"webhookSecret":"pc-circleci-hook-secret"' \
PC_HOOK_GOOD=pc-circleci-hook-secret PC_HOOK_BAD=wrong-secret platform_contract

test_done
