# lib-platform-contract.sh - what every platform promises (platforms.md §1,
# architecture.md): one script, run by every platform's test file with its
# parameters, so a platform's own file adds only what is particular to it.
#
#   . "$TEST_DIR/lib-platform-contract.sh"
#   PC_FAKE=jenkins PC_TYPE=jenkins PC_TITLE=Jenkins PC_SECRET=$JTOKEN \
#   PC_VALUE='{"url":"...","username":"farm","apiToken":"..."}' \
#   PC_LIST=/api/v1/jenkins/jobs PC_ACTION="POST /api/v1/jenkins/jobs/farm-build/build" \
#   PC_REFUSED=401 PC_HOOK=pc_hook_jenkins platform_contract
#
# PC_FAKE      the fake (t/fake/fake-$PC_FAKE.py, started by the caller)
# PC_TYPE      credential type; PC_TITLE the platform's name in messages
# PC_VALUE     a credential value (JSON) the fake accepts, without webhookSecret
# PC_SECRET    the upstream secret in it: never in an answer or a log, in any form
# PC_LIST      a member's list (GET; [] without a credential; maps upstream failures)
# PC_ACTION    "METHOD PATH" of an admin action (404 naming the type without one)
# PC_REFUSED   the fake's refusal of a bad credential (mode 401; Travis answers 403)
# PC_HOOK      a function `$PC_HOOK PATH ID SECRET`: posts a delivery of build ID to
#              $FARM_URL$PATH proving itself with SECRET (a shared secret, or for a
#              key-signed platform the private key file); status in ./status
# PC_HOOK_CRED extra credential value members for the webhook credential (JSON
#              members, e.g. "\"webhookSecret\":\"...\""); PC_HOOK_GOOD/PC_HOOK_BAD:
#              the proof that verifies and one that does not; PC_HOOK_KEYED=1 for a
#              key-signed platform (every credential of the type verifies alike)
#
# The contract restarts farm with short upstream timeouts and no cache, and works in
# orgs of its own (pc-<type>-a, pc-<type>-b), so it runs after the file's own tests.

pc_title_msg() { test_equal "$(json_get body "d[\"message\"]")" "$1"; }

# The secret in every form a leak could take: raw, base64, Basic user:secret.
pc_no_secret() {
	no_secret "$PC_SECRET" &&
	no_secret "$(printf %s "$PC_SECRET" | base64 -w0)" &&
	no_secret "$(printf %s "farm:$PC_SECRET" | base64 -w0)"
}

platform_contract() {
	local t=$PC_TYPE

	test_expect_success "contract $t: a restarted stack, short timeouts, orgs of its own" '
		stop_farm &&
		export FARM_CACHE_TTL=0 FARM_UPSTREAM_TIMEOUT=2 FARM_UPSTREAM_CONNECT_TIMEOUT=2 &&
		start_farm &&
		PC_MEMBER=$(token pc-member pc-$PC_TYPE-a) &&
		PC_ADMIN=$(token pc-admin pc-$PC_TYPE-a admin) &&
		PC_ADMIN_B=$(token pc-other pc-$PC_TYPE-b admin) &&
		fake_mode $PC_FAKE normal
	'

	test_expect_success "contract $t: no credential: the list is [], an action 404 naming the type" '
		fake_forget $PC_FAKE &&
		TOKEN=$PC_MEMBER api GET "$PC_LIST" && expect_status 200 &&
		test_equal "$(cat body)" "[]" &&
		TOKEN=$PC_ADMIN api ${PC_ACTION% *} "${PC_ACTION#* }" && expect_status 404 &&
		pc_title_msg "No $PC_TYPE credential configured for this organization" &&
		test_equal "$(fake_count $PC_FAKE)" 0
	'

	test_expect_success "contract $t: credentials of two orgs" '
		TOKEN=$PC_ADMIN make_cred $PC_TYPE pc-a "$PC_VALUE" && PC_CRED_A=$CRED_ID &&
		TOKEN=$PC_ADMIN_B make_cred $PC_TYPE pc-b "$PC_VALUE" && PC_CRED_B=$CRED_ID
	'

	test_expect_success "contract $t: a member reads, only an admin acts (403)" '
		TOKEN=$PC_MEMBER api GET "$PC_LIST" && expect_status 200 &&
		fake_forget $PC_FAKE &&
		TOKEN=$PC_MEMBER api ${PC_ACTION% *} "${PC_ACTION#* }" && expect_status 403 &&
		test_equal "$(fake_count $PC_FAKE)" 0
	'

	test_expect_success "contract $t: ?credentialId= picks it; another org's is unknown (404)" '
		TOKEN=$PC_MEMBER api GET "$PC_LIST$(pc_q "$PC_LIST")credentialId=$PC_CRED_A" &&
		expect_status 200 &&
		fake_forget $PC_FAKE &&
		TOKEN=$PC_MEMBER api GET "$PC_LIST$(pc_q "$PC_LIST")credentialId=$PC_CRED_B" &&
		expect_status 404 && pc_title_msg "Credential $PC_CRED_B not found" &&
		TOKEN=$PC_MEMBER api GET "$PC_LIST$(pc_q "$PC_LIST")credentialId=x%27" &&
		expect_status 400 &&
		test_equal "$(fake_count $PC_FAKE)" 0
	'

	test_expect_success "contract $t: a refused credential is 502 naming the platform" '
		fake_mode $PC_FAKE $PC_REFUSED && TOKEN=$PC_MEMBER api GET "$PC_LIST" &&
		expect_status 502 &&
		pc_title_msg "$PC_TITLE rejected the stored credential (HTTP $PC_REFUSED)" &&
		fake_mode $PC_FAKE normal
	'

	test_expect_success "contract $t: upstream 404 is 404; 429 keeps its Retry-After" '
		fake_mode $PC_FAKE 404 && TOKEN=$PC_MEMBER api GET "$PC_LIST" && expect_status 404 &&
		fake_mode $PC_FAKE 429 "" "\"retryAfter\":\"37\"" &&
		TOKEN=$PC_MEMBER api GET "$PC_LIST" && expect_status 429 &&
		pc_title_msg "$PC_TITLE rate limit reached (HTTP 429)" &&
		grep -qi "^Retry-After: 37" headers &&
		fake_mode $PC_FAKE normal
	'

	test_expect_success "contract $t: upstream 400: the platform's message, no form of the secret" '
		fake_mode $PC_FAKE echo400 && TOKEN=$PC_MEMBER api GET "$PC_LIST" &&
		expect_status 400 &&
		case "$(json_get body "d[\"message\"]")" in "$PC_TITLE: "*) ;; *) cat body; false ;; esac &&
		pc_no_secret &&
		fake_mode $PC_FAKE normal
	'

	test_expect_success "contract $t: 5xx, garbage, a reset are 502; a hang is 504" '
		fake_mode $PC_FAKE 500 && TOKEN=$PC_MEMBER api GET "$PC_LIST" && expect_status 502 &&
		pc_title_msg "$PC_TITLE failed (HTTP 500)" &&
		fake_mode $PC_FAKE garbage && TOKEN=$PC_MEMBER api GET "$PC_LIST" && expect_status 502 &&
		fake_mode $PC_FAKE reset && TOKEN=$PC_MEMBER api GET "$PC_LIST" && expect_status 502 &&
		pc_title_msg "$PC_TITLE is unreachable" &&
		fake_mode $PC_FAKE hang "" "\"seconds\":4" &&
		TOKEN=$PC_MEMBER api GET "$PC_LIST" && expect_status 504 &&
		pc_title_msg "$PC_TITLE did not answer within 2 s" &&
		fake_mode $PC_FAKE normal
	'

	test_expect_success "contract $t: the secret is never echoed, in answers or logs" '
		TOKEN=$PC_MEMBER api GET /api/v1/integrations/credentials && expect_status 200 &&
		pc_no_secret && check_logs_clean
	'

	[ -n "${PC_HOOK:-}" ] || return 0

	test_expect_success "contract $t: a webhook credential" '
		TOKEN=$PC_ADMIN make_cred $PC_TYPE pc-hook "${PC_VALUE%\}},$PC_HOOK_CRED}" &&
		PC_HOOK_ID=$CRED_ID
	'

	test_expect_success "contract $t: webhook accepted, then its redelivery deduplicated" '
		$PC_HOOK "/api/v1/webhooks/$PC_TYPE/$PC_HOOK_ID" 7001 "$PC_HOOK_GOOD" &&
		expect_status 200 && test_equal "$(json_get body "d")" "{\"received\": true}" &&
		$PC_HOOK "/api/v1/webhooks/$PC_TYPE/$PC_HOOK_ID" 7001 "$PC_HOOK_GOOD" &&
		expect_status 200 &&
		test_equal "$(json_get body "d")" "{\"received\": true, \"duplicate\": true}"
	'

	test_expect_success "contract $t: webhook refused (401) stores nothing; unknown id alike" '
		$PC_HOOK "/api/v1/webhooks/$PC_TYPE/$PC_HOOK_ID" 7002 "$PC_HOOK_BAD" &&
		expect_status 401 && cp body refused.body &&
		$PC_HOOK "/api/v1/webhooks/$PC_TYPE/00000000-0000-4000-8000-000000000000" 7002 \
			"$PC_HOOK_GOOD" &&
		expect_status 401 && test_cmp refused.body body &&
		{ [ -n "${PC_HOOK_KEYED:-}" ] ||
		  { $PC_HOOK "/api/v1/webhooks/$PC_TYPE/$PC_CRED_A" 7002 "$PC_HOOK_GOOD" &&
		    expect_status 401; }; } &&
		$PC_HOOK "/api/v1/webhooks/$PC_TYPE/$PC_HOOK_ID" 7002 "$PC_HOOK_GOOD" &&
		expect_status 200 && test_equal "$(json_get body "d")" "{\"received\": true}"
	'
}

# "?" or "&": how to add a query parameter to PATH.
pc_q() { case $1 in *\?*) echo "&" ;; *) echo "?" ;; esac; }

# ---- the platforms' webhook senders ---------------------------------------------------

pc_hook_circleci() { # PATH ID SECRET
	cci_body pc-hook.json "pc-$2" pc-workflow && post_cci "$1" pc-hook.json "$3"
}

pc_hook_gitflic() {
	printf '%s' "{\"action\":\"PIPELINE_SUCCESS\",\"project\":{\"alias\":\"pc\",\"owner_alias\":\"pc\"},\"pipeline\":{\"localId\":$2,\"status\":\"SUCCESS\"}}" >pc-hook.json &&
	curl -sS -o body -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "Gitflic-Webhook-Secret: $3" --data-binary @pc-hook.json "$FARM_URL$1" >status
}

pc_hook_jenkins() {
	printf '%s' "{\"name\":\"pc\",\"url\":\"job/pc/\",\"build\":{\"number\":$2,\"phase\":\"COMPLETED\",\"status\":\"SUCCESS\",\"timestamp\":1735725600000,\"duration\":1000}}" >pc-hook.json &&
	curl -sS -o body -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "X-Farm-Token: $3" --data-binary @pc-hook.json "$FARM_URL$1" >status
}

pc_hook_semaphore() {
	printf '%s' "{\"project\":{\"name\":\"pc\"},\"pipeline\":{\"id\":\"pc-$2\",\"name\":\"pc\",\"state\":\"done\",\"result\":\"passed\"}}" >pc-hook.json &&
	curl -sS -o body -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "X-Semaphore-Webhook-Id: pc-$2" -H "X-Semaphore-Signature-256: $($PY -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[2].encode(), open(sys.argv[1],"rb").read(), hashlib.sha256).hexdigest())' pc-hook.json "$3")" \
		--data-binary @pc-hook.json "$FARM_URL$1" >status
}

pc_hook_travis() {
	tr_payload pc-hook.json "$2" passed Passed &&
	local sig
	sig=$(openssl dgst -sha1 -sign "$3" pc-hook.json | base64 -w0) &&
	curl -sS -o body -w '%{http_code}' -X POST -H "Signature: $sig" \
		--data-urlencode "payload@pc-hook.json" "$FARM_URL$1" >status
}

pc_hook_argocd() {
	printf '%s' "{\"app\":\"pc-app\",\"health\":\"Healthy\",\"sync\":\"Synced\",\"phase\":\"Succeeded\",\"revision\":\"r$2\"}" >pc-hook.json &&
	curl -sS -o body -w '%{http_code}' -H "X-Farm-Token: $3" \
		-H 'Content-Type: application/json' --data-binary @pc-hook.json "$FARM_URL$1" >status
}
