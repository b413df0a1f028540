#!/bin/bash
# The Integration Credentials API of seed 000 through real nginx: every endpoint,
# validation, admin vs member, org isolation, secrets never leaving the process.

. "$(dirname "$0")/test-lib.sh"

CANARY=canary-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')

test_expect_success 'start the stack' '
	start_farm &&
	ADMIN_A=$(token alice org-a admin) &&
	MEMBER_A=$(token bob org-a) &&
	ADMIN_B=$(token carol org-b admin) &&
	ADMIN_NOORG=$(token root - admin)
'

test_expect_success 'an empty org lists []' '
	TOKEN=$ADMIN_A api GET /api/v1/integrations/credentials && expect_status 200 &&
	test_equal "$(cat body)" "[]"
'

test_expect_success 'create an argocd credential: 201, the seed shape, no value' '
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials \
		"{\"type\":\"argocd\",\"name\":\"Production ArgoCD\",\"value\":{\"url\":\"https://argocd.example.com\",\"token\":\"$CANARY\"}}" &&
	expect_status 201 &&
	ID1=$(json_get body "d[\"id\"]") &&
	echo "$ID1" | grep -Eq "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$" &&
	test_equal "$(json_get body "sorted(d.keys())")" "[\"createdAt\", \"id\", \"name\", \"orgId\", \"type\", \"updatedAt\"]" &&
	test_equal "$(json_get body "d[\"orgId\"]")" org-a &&
	test_equal "$(json_get body "d[\"type\"]")" argocd &&
	json_get body "d[\"createdAt\"]" | grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$" &&
	test_no_grep "$CANARY" body
'

test_expect_success 'create one of each other type (optional url and webhookSecret)' '
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials \
		"{\"type\":\"circleci\",\"name\":\"cci\",\"value\":{\"token\":\"$CANARY-c\",\"url\":\"https://circleci.internal\",\"webhookSecret\":\"$CANARY-w\"}}" &&
	expect_status 201 &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials \
		"{\"type\":\"jenkins\",\"name\":\"jk\",\"value\":{\"url\":\"http://jenkins.local:8080/\",\"username\":\"ci\",\"apiToken\":\"$CANARY-j\"}}" &&
	expect_status 201 &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials \
		"{\"type\":\"travisci\",\"name\":\"tr\",\"value\":{\"token\":\"$CANARY-t\"}}" &&
	expect_status 201 && ID4=$(json_get body "d[\"id\"]")
'

test_expect_success 'list: the org sees its four, oldest first, never a value' '
	TOKEN=$MEMBER_A api GET /api/v1/integrations/credentials && expect_status 200 &&
	test_equal "$(json_get body "[c[\"type\"] for c in d]")" "[\"argocd\", \"circleci\", \"jenkins\", \"travisci\"]" &&
	test_equal "$(json_get body "any(\"value\" in c for c in d)")" false &&
	test_no_grep "$CANARY" body
'

test_expect_success 'a member cannot create, patch or delete: 403' '
	TOKEN=$MEMBER_A api POST /api/v1/integrations/credentials "{\"type\":\"circleci\",\"name\":\"x\",\"value\":{\"token\":\"t\"}}" &&
	expect_status 403 &&
	TOKEN=$MEMBER_A api PATCH /api/v1/integrations/credentials/$ID1 "{\"name\":\"x\"}" && expect_status 403 &&
	TOKEN=$MEMBER_A api DELETE /api/v1/integrations/credentials/$ID1 && expect_status 403
'

test_expect_success 'every validation problem is listed at once' '
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"jenkins\",\"name\":\"\",\"value\":{\"url\":\"ftp://x\",\"bogus\":\"1\"},\"extra\":1}" &&
	expect_status 400 &&
	test_equal "$(json_get body "d[\"error\"]")" "Bad Request" &&
	test_grep "property extra should not exist" body &&
	test_grep "name must not be empty" body &&
	test_grep "value.username is required for type jenkins" body &&
	test_grep "value.apiToken is required for type jenkins" body &&
	test_grep "value.bogus is not allowed for type jenkins" body &&
	test_grep "value.url must be an http:// or https:// URL" body &&
	test_equal "$(json_get body "len(d[\"message\"])")" 6
'

test_expect_success 'required fields of each type' '
	for t in argocd circleci jenkins travisci; do
		TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"$t\",\"name\":\"n\",\"value\":{}}" &&
		expect_status 400 || return 1
	done &&
	test_grep "value.token is required for type travisci" body &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"argocd\",\"name\":\"n\",\"value\":{\"url\":\"https://a\"}}" &&
	expect_status 400 && test_grep "value.token is required for type argocd" body
'

test_expect_success 'type errors: unknown type, missing value, non-object value, non-string fields' '
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"gitlab\",\"name\":\"n\",\"value\":{}}" &&
	expect_status 400 && test_grep "type must be one of" body &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"circleci\",\"name\":\"n\"}" &&
	expect_status 400 && test_grep "value is required" body &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"circleci\",\"name\":\"n\",\"value\":\"tok\"}" &&
	expect_status 400 && test_grep "value must be an object" body &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"circleci\",\"name\":7,\"value\":{\"token\":5}}" &&
	expect_status 400 && test_grep "name must be a string" body && test_grep "value.token must be a string" body
'

test_expect_success 'hostile names and URLs are refused or stored verbatim, never as paths' '
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"circleci\",\"name\":\"../../etc/passwd\\u202e\",\"value\":{\"token\":\"t\"}}" &&
	expect_status 400 && test_grep "bidirectional control" body &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"circleci\",\"name\":\"../../etc/passwd\",\"value\":{\"token\":\"t\"}}" &&
	expect_status 201 && test_equal "$(json_get body "d[\"name\"]")" "../../etc/passwd" &&
	HOSTILE=$(json_get body "d[\"id\"]") &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"circleci\",\"name\":\"a\\r\\nX-Injected: 1\",\"value\":{\"token\":\"t\"}}" &&
	expect_status 400 && test_grep "control characters" body &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"argocd\",\"name\":\"n\",\"value\":{\"url\":\"javascript:alert(1)\",\"token\":\"t\"}}" &&
	expect_status 400 &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"argocd\",\"name\":\"n\",\"value\":{\"url\":\"https://user:pw@host\",\"token\":\"t\"}}" &&
	expect_status 400 &&
	name=$($PY -c "print(\"x\"*300)") &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"circleci\",\"name\":\"$name\",\"value\":{\"token\":\"t\"}}" &&
	expect_status 400 && test_grep "at most 200" body &&
	test ! -e "$TRASH/etc" && TOKEN=$ADMIN_A api DELETE /api/v1/integrations/credentials/$HOSTILE && expect_status 204
'

test_expect_success 'an oversize value is refused' '
	big=$($PY -c "print(\"t\"*5000)") &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"circleci\",\"name\":\"n\",\"value\":{\"token\":\"$big\"}}" &&
	expect_status 400 && test_grep "at most 4096 bytes" body
'

test_expect_success 'invalid UTF-8 loses no message: a raw path byte, a field name cut mid-character' '
	TOKEN=$ADMIN_A api GET /api/v1/nowhere "" --request-target "/api/v1/nowh$(printf "\345")re" &&
	expect_status 404 &&
	test_equal "$(json_get body "d[\"statusCode\"]")" 404 &&
	test_grep "Cannot GET /api/v1/nowh?re" body &&
	key=$(for i in $(seq 130); do printf "\303\251"; done) &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":\"circleci\",\"name\":\"n\",\"value\":{\"token\":\"t\",\"$key\":\"x\"}}" &&
	expect_status 400 && test_equal "$(json_get body "len(d[\"message\"])")" 1
'

test_expect_success 'malformed JSON and a JSON array body: 400' '
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "{\"type\":" && expect_status 400 &&
	test_grep "malformed JSON" body &&
	TOKEN=$ADMIN_A api POST /api/v1/integrations/credentials "[]" && expect_status 400 &&
	TOKEN=$ADMIN_A api PATCH /api/v1/integrations/credentials/$ID1 "\"name\"" && expect_status 400
'

test_expect_success 'PATCH renames and replaces the value (validated again); type never changes' '
	before=$(TOKEN=$ADMIN_A api GET /api/v1/integrations/credentials && json_get body "[c for c in d if c[\"id\"]==\"$ID1\"][0][\"updatedAt\"]") &&
	sleep 0.01 &&
	TOKEN=$ADMIN_A api PATCH /api/v1/integrations/credentials/$ID1 "{\"name\":\"Prod\",\"value\":{\"url\":\"https://argo2.example.com\",\"token\":\"$CANARY-2\"}}" &&
	expect_status 200 && test_equal "$(json_get body "d[\"name\"]")" Prod &&
	test "$(json_get body "d[\"updatedAt\"]")" != "$before" &&
	test_no_grep "$CANARY" body &&
	TOKEN=$ADMIN_A api PATCH /api/v1/integrations/credentials/$ID1 "{\"value\":{\"url\":\"https://a\"}}" &&
	expect_status 400 && test_grep "value.token is required" body &&
	TOKEN=$ADMIN_A api PATCH /api/v1/integrations/credentials/$ID1 "{\"type\":\"jenkins\",\"name\":\"z\"}" &&
	expect_status 400 && test_grep "type cannot be changed" body &&
	TOKEN=$ADMIN_A api PATCH /api/v1/integrations/credentials/$ID1 "{}" &&
	expect_status 400 && test_grep "nothing to update" body &&
	TOKEN=$ADMIN_A api GET /api/v1/integrations/credentials &&
	test_equal "$(json_get body "[c[\"name\"] for c in d if c[\"id\"]==\"$ID1\"][0]")" Prod
'

test_expect_success 'org isolation: org B sees none of org A, and its ids answer 404 like missing ones' '
	TOKEN=$ADMIN_B api GET /api/v1/integrations/credentials && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_B api PATCH /api/v1/integrations/credentials/$ID1 "{\"name\":\"stolen\"}" && expect_status 404 &&
	cp body other-org &&
	TOKEN=$ADMIN_B api PATCH /api/v1/integrations/credentials/00000000-0000-4000-8000-000000000000 "{\"name\":\"x\"}" &&
	expect_status 404 &&
	sed "s/$ID1/X/" other-org >a && sed "s/00000000-0000-4000-8000-000000000000/X/" body >b && test_cmp a b &&
	TOKEN=$ADMIN_B api DELETE /api/v1/integrations/credentials/$ID1 && expect_status 404 &&
	TOKEN=$ADMIN_NOORG api DELETE /api/v1/integrations/credentials/$ID1 && expect_status 404 &&
	TOKEN=$ADMIN_A api GET /api/v1/integrations/credentials &&
	test_equal "$(json_get body "[c[\"name\"] for c in d if c[\"id\"]==\"$ID1\"][0]")" Prod
'

test_expect_success 'a token without org has its own scope (orgId null)' '
	TOKEN=$ADMIN_NOORG api POST /api/v1/integrations/credentials "{\"type\":\"circleci\",\"name\":\"global\",\"value\":{\"token\":\"$CANARY-g\"}}" &&
	expect_status 201 && test_equal "$(json_get body "d[\"orgId\"]")" null &&
	TOKEN=$ADMIN_NOORG api GET /api/v1/integrations/credentials &&
	test_equal "$(json_get body "[c[\"name\"] for c in d]")" "[\"global\"]" &&
	TOKEN=$ADMIN_A api GET /api/v1/integrations/credentials &&
	test_equal "$(json_get body "len(d)")" 4
'

test_expect_success 'DELETE: 204, then gone; again 404' '
	TOKEN=$ADMIN_A api DELETE /api/v1/integrations/credentials/$ID4 && expect_status 204 &&
	test ! -s body &&
	TOKEN=$ADMIN_A api DELETE /api/v1/integrations/credentials/$ID4 && expect_status 404 &&
	TOKEN=$ADMIN_A api GET /api/v1/integrations/credentials && test_equal "$(json_get body "len(d)")" 3
'

test_expect_success 'data survives a restart of the whole stack with the same state dir' '
	stop_farm && start_farm &&
	TOKEN=$ADMIN_A api GET /api/v1/integrations/credentials && expect_status 200 &&
	test_equal "$(json_get body "[c[\"name\"] for c in d]")" "[\"Prod\", \"cci\", \"jk\"]"
'

test_expect_success 'farmctl credentials list prints metadata only' '
	FARM_CONFIG=state/farm.conf "$FARM_BUILD/farmctl" credentials list >list.out &&
	test_equal "$(wc -l <list.out)" 4 &&
	test_grep "\"keyVersion\":1" list.out &&
	test_no_grep "$CANARY" list.out && test_no_grep sealed list.out
'

test_expect_success 'farmctl db backup + verify: a hot backup of the live environment verifies' '
	FARM_CONFIG=state/farm.conf "$FARM_BUILD/farmctl" db backup backup1 &&
	ls backup1/*.db >/dev/null &&
	FARM_CONFIG=state/farm.conf "$FARM_BUILD/farmctl" db verify backup1 &&
	FARM_CONFIG=state/farm.conf "$FARM_BUILD/farmctl" db verify
'

test_expect_success 'the backup restores into a new state dir with the data' '
	mkdir -p restored && cp -a backup1 restored/db &&
	FARM_STATE_DIR=restored/db FARM_CONFIG= JWT_SECRET=$JWT_SECRET "$FARM_BUILD/farmctl" credentials list --org org-a >r.out &&
	test_equal "$(wc -l <r.out)" 3 && test_grep "\"name\":\"Prod\"" r.out
'

test_expect_success 'farmctl rotate-key re-seals every credential under version 2; the API still works' '
	FARM_CONFIG=state/farm.conf "$FARM_BUILD/farmctl" rotate-key >rot.out &&
	test_grep "re-sealed 4 credentials under key version 2" rot.out &&
	FARM_CONFIG=state/farm.conf "$FARM_BUILD/farmctl" credentials list >list2.out &&
	test_equal "$(grep -c "\"keyVersion\":2" list2.out)" 4 &&
	TOKEN=$ADMIN_A api PATCH /api/v1/integrations/credentials/$ID1 "{\"name\":\"Prod2\"}" && expect_status 200 &&
	FARM_CONFIG=state/farm.conf "$FARM_BUILD/farmctl" rotate-key >rot2.out &&
	test_grep "under key version 3" rot2.out
'

test_expect_success 'canary: the secret is in no response, log line, or file under the state dir' '
	! grep -r -a -l "$CANARY" "$TRASH/state" &&
	! grep -r -a -l "$(printf %s "$CANARY" | base64)" "$TRASH/state" &&
	! grep -a -l "$CANARY" "$TRASH"/body "$TRASH"/headers "$TRASH"/*.out "$TRASH/backup1"/* 2>/dev/null
'

test_expect_success 'logs are clean' 'check_logs_clean'

test_done
