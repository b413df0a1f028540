#!/bin/bash
# t2600-audit.sh - the audit records (lib/audit/audit.h, GET /api/v1/audit, farmctl
# audit): every action type leaves exactly one record with the right fields
# (credential create/update/delete, trigger, sync, restart, catalog link, pipeline
# run); a failed upstream action's record says "failed"; members get 403, another
# org's records are invisible; paging with limit/before; bad limit/before 400; no
# secret in any record, the store's files or farmctl's output; and the crash
# property: with workers killed -9 under concurrent credential writes, every
# acknowledged write has its record and every create record its credential.

. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-fakes.sh"

export FARM_CACHE_TTL=0
export FARM_RUN_SUPERVISE_EXCEPT="farm-runner" # queued runs stay queued
export FARM_ARGOCD_POLL_INTERVAL=0
JTOKEN=11f0e3c2a9b8d7e6f5a4b3c2d1e0f9a8b7
ATOKEN=argocd-test-token
TTOKEN=travis-test-token

start_fake jenkins || exit 1
start_fake argocd || exit 1
start_fake travis || exit 1
export FARM_TRAVISCI_API_URL=$FAKE_TRAVIS_URL

# audit_page [QUERY]: GET /api/v1/audit as $TOKEN into ./body
audit_page() { api GET "/api/v1/audit${1:+?$1}"; }
# newest FIELD: a field of the newest record of ./body
newest() { json_get body "d[0][\"$1\"]"; }
# farmctl_audit ARGS...: farmctl audit on this stack's state
farmctl_audit() { FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farmctl" audit "$@"; }
# request_id: the X-Request-Id of the last api call
request_id() { sed -n 's/^X-Request-Id: *\([0-9a-f]*\).*/\1/Ip' headers | tr -d '\r'; }

test_expect_success 'setup: the stack and tokens' '
	start_farm &&
	ADMIN_A=$(token alice org-a admin) &&
	MEMBER_A=$(token bob org-a) &&
	ADMIN_B=$(token carol org-b admin)
'

test_expect_success 'no action yet: an empty page' '
	TOKEN=$ADMIN_A audit_page && expect_status 200 &&
	test_equal "$(cat body)" "[]" &&
	test_no_grep X-Farm-Next-Before headers
'

test_expect_success 'credential.create: one record, in the same transaction as the credential' '
	TOKEN=$ADMIN_A make_cred jenkins CI "{\"url\":\"$FAKE_JENKINS_URL\",\"username\":\"farm\",\"apiToken\":\"$JTOKEN\"}" &&
	J1=$CRED_ID && RID=$(request_id) &&
	TOKEN=$ADMIN_A audit_page && expect_status 200 &&
	test_equal "$(json_get body "len(d)")" 1 &&
	test_equal "$(json_get body "sorted(d[0])")" \
		"[\"action\", \"at\", \"credentialId\", \"id\", \"orgId\", \"platform\", \"requestId\", \"status\", \"sub\", \"target\"]" &&
	test_equal "$(newest action)" credential.create &&
	test_equal "$(newest sub)" alice &&
	test_equal "$(newest orgId)" org-a &&
	test_equal "$(newest platform)" jenkins &&
	test_equal "$(newest target)" "$J1" &&
	test_equal "$(newest credentialId)" "$J1" &&
	test_equal "$(newest status)" ok &&
	test_equal "$(newest requestId)" "$RID" &&
	newest at | grep -qE "^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-9:]{8}\.[0-9]{3}Z$"
'

test_expect_success 'credential.update and credential.delete: one record each' '
	TOKEN=$ADMIN_A make_cred argocd Argo "{\"url\":\"$FAKE_ARGOCD_URL\",\"token\":\"$ATOKEN\"}" &&
	A1=$CRED_ID &&
	TOKEN=$ADMIN_A api PATCH /api/v1/integrations/credentials/$A1 "{\"name\":\"Argo prod\"}" &&
	expect_status 200 &&
	TOKEN=$ADMIN_A audit_page && test_equal "$(json_get body "len(d)")" 3 &&
	test_equal "$(newest action)" credential.update &&
	test_equal "$(newest target)" "$A1" && test_equal "$(newest platform)" argocd &&
	TOKEN=$ADMIN_A make_cred travisci Tmp "{\"token\":\"tmp-$TTOKEN\"}" && T0=$CRED_ID &&
	TOKEN=$ADMIN_A api DELETE /api/v1/integrations/credentials/$T0 && expect_status 204 &&
	TOKEN=$ADMIN_A audit_page && test_equal "$(json_get body "len(d)")" 5 &&
	test_equal "$(json_get body "[r[\"action\"] for r in d]")" \
		"[\"credential.delete\", \"credential.create\", \"credential.update\", \"credential.create\", \"credential.create\"]" &&
	test_equal "$(newest target)" "$T0" && test_equal "$(newest platform)" travisci &&
	test_equal "$(newest status)" ok
'

test_expect_success 'a refused write leaves no record (nothing happened)' '
	TOKEN=$ADMIN_A api DELETE /api/v1/integrations/credentials/$T0 && expect_status 404 &&
	TOKEN=$ADMIN_A api PATCH /api/v1/integrations/credentials/$A1 "{\"type\":\"jenkins\",\"name\":\"x\"}" &&
	expect_status 400 &&
	TOKEN=$MEMBER_A api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 403 &&
	TOKEN=$ADMIN_A audit_page && test_equal "$(json_get body "len(d)")" 5
'

test_expect_success 'trigger: one record, written before the upstream call, ok after it' '
	TOKEN=$ADMIN_A api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 201 &&
	RID=$(request_id) &&
	TOKEN=$ADMIN_A audit_page && test_equal "$(json_get body "len(d)")" 6 &&
	test_equal "$(newest action)" trigger &&
	test_equal "$(newest platform)" jenkins &&
	test_equal "$(newest target)" farm-build &&
	test_equal "$(newest credentialId)" "$J1" &&
	test_equal "$(newest status)" ok &&
	test_equal "$(newest requestId)" "$RID"
'

test_expect_success 'a failed upstream action: its record says failed' '
	fake_mode jenkins 500 1 &&
	TOKEN=$ADMIN_A api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 502 &&
	TOKEN=$ADMIN_A audit_page && test_equal "$(json_get body "len(d)")" 7 &&
	test_equal "$(newest action)" trigger &&
	test_equal "$(newest status)" failed
'

test_expect_success 'sync (Argo CD) and restart (Travis CI): one record each' '
	TOKEN=$ADMIN_A api POST /api/v1/argocd/applications/guestbook/sync && expect_status 200 &&
	TOKEN=$ADMIN_A audit_page &&
	test_equal "$(newest action)" sync && test_equal "$(newest target)" guestbook &&
	test_equal "$(newest credentialId)" "$A1" && test_equal "$(newest status)" ok &&
	TOKEN=$ADMIN_A make_cred travisci Travis "{\"token\":\"$TTOKEN\"}" && T1=$CRED_ID &&
	TOKEN=$ADMIN_A api POST /api/v1/travisci/builds/90000001/restart && expect_status 202 &&
	TOKEN=$ADMIN_A audit_page && test_equal "$(json_get body "len(d)")" 10 &&
	test_equal "$(newest action)" restart && test_equal "$(newest platform)" travisci &&
	test_equal "$(newest target)" 90000001 && test_equal "$(newest credentialId)" "$T1" &&
	test_equal "$(newest status)" ok
'

test_expect_success 'catalog.link: one record per link and unlink, in the link transaction' '
	TOKEN=$ADMIN_A api PATCH /api/v1/catalog/components/component%3Adefault%2Fweb "{\"argocdApp\":\"guestbook\"}" &&
	expect_status 200 &&
	TOKEN=$ADMIN_A audit_page && test_equal "$(json_get body "len(d)")" 11 &&
	test_equal "$(newest action)" catalog.link &&
	test_equal "$(newest platform)" argocd &&
	test_equal "$(newest target)" component:default/web &&
	test_equal "$(newest credentialId)" null &&
	TOKEN=$ADMIN_A api PATCH /api/v1/catalog/components/component%3Adefault%2Fweb "{\"argocdApp\":null}" &&
	expect_status 200 &&
	TOKEN=$ADMIN_A audit_page && test_equal "$(json_get body "len(d)")" 12 &&
	test_equal "$(newest action)" catalog.link
'

test_expect_success 'pipeline.run: one record in the transaction that queues the run' '
	mkdir -p state/workspaces/web &&
	TOKEN=$ADMIN_A api POST /api/v1/pipelines "{\"name\":\"web\",\"workspace\":\"web\",\"stages\":[{\"name\":\"b\",\"type\":\"build\",\"config\":{\"tag\":\"acme/web:{{version}}\"}}]}" &&
	expect_status 201 && PID=$(json_get body "d[\"id\"]") &&
	TOKEN=$ADMIN_A audit_page && test_equal "$(json_get body "len(d)")" 12 &&
	TOKEN=$ADMIN_A api POST /api/v1/pipelines/$PID/runs "{\"version\":\"1.0.0\",\"commitSha\":\"abcdef0\"}" &&
	expect_status 202 &&
	TOKEN=$ADMIN_A audit_page && test_equal "$(json_get body "len(d)")" 13 &&
	test_equal "$(newest action)" pipeline.run &&
	test_equal "$(newest target)" "$PID" &&
	test_equal "$(newest platform)" null &&
	test_equal "$(newest status)" ok
'

test_expect_success 'members get 403; without a token 401' '
	TOKEN=$MEMBER_A audit_page && expect_status 403 &&
	TOKEN= audit_page && expect_status 401
'

test_expect_success 'another org sees only its own records' '
	TOKEN=$ADMIN_B audit_page && expect_status 200 && test_equal "$(cat body)" "[]" &&
	TOKEN=$ADMIN_B api POST /api/v1/jenkins/jobs/farm-build/build && expect_status 404 &&
	TOKEN=$ADMIN_B make_cred jenkins B "{\"url\":\"$FAKE_JENKINS_URL\",\"username\":\"farm\",\"apiToken\":\"$JTOKEN\"}" &&
	TOKEN=$ADMIN_B audit_page && test_equal "$(json_get body "len(d)")" 1 &&
	test_equal "$(newest orgId)" org-b && test_equal "$(newest sub)" carol &&
	TOKEN=$ADMIN_A audit_page && test_equal "$(json_get body "len(d)")" 13 &&
	test_equal "$(json_get body "sorted(set(r[\"orgId\"] for r in d))")" "[\"org-a\"]"
'

test_expect_success 'paging: newest first, limit and before, X-Farm-Next-Before until the oldest' '
	TOKEN=$ADMIN_A audit_page "limit=500" && json_get body "[r[\"id\"] for r in d]" >all &&
	TOKEN=$ADMIN_A audit_page "limit=5" && expect_status 200 &&
	test_equal "$(json_get body "len(d)")" 5 &&
	NEXT=$(sed -n "s/^X-Farm-Next-Before: *\([0-9]*\).*/\1/Ip" headers) &&
	test_equal "$NEXT" "$(json_get body "d[4][\"id\"]")" &&
	json_get body "[r[\"id\"] for r in d]" >got &&
	while [ -n "$NEXT" ]; do
		TOKEN=$ADMIN_A audit_page "limit=5&before=$NEXT" && expect_status 200 &&
		json_get body "[r[\"id\"] for r in d]" >>got &&
		NEXT=$(sed -n "s/^X-Farm-Next-Before: *\([0-9]*\).*/\1/Ip" headers) || return 1
	done &&
	$PY -c "import json,sys; a=json.load(open(\"all\")); g=sum((json.loads(l) for l in open(\"got\")), []); assert g == a and a == sorted(a, reverse=True) and len(a) == 13, (a, g)"
'

test_expect_success 'bad limit or before: 400 naming the parameter' '
	for q in limit=0 limit=501 limit=x limit= limit=-1 before=0 before=abc before=-3 before=99999999999999999999; do
		TOKEN=$ADMIN_A audit_page "$q" && expect_status 400 || return 1
	done &&
	TOKEN=$ADMIN_A audit_page limit=0 && test_grep "limit must be an integer from 1 to 500" body &&
	TOKEN=$ADMIN_A audit_page before=x && test_grep "before must be an audit record id" body
'

test_expect_success 'farmctl audit: every org newest first, --org, --limit' '
	farmctl_audit --limit 100 >out && test_equal "$(wc -l <out)" 14 &&
	farmctl_audit --org org-b >out && test_equal "$(wc -l <out)" 1 &&
	test_grep "\"orgId\":\"org-b\"" out &&
	farmctl_audit --org org-a --limit 2 >out && test_equal "$(wc -l <out)" 2 &&
	test_grep "pipeline.run" out &&
	! farmctl_audit --limit 0 2>err && test_grep "limit" err
'

test_expect_success 'no secret in the records, farmctl output or the store files' '
	farmctl_audit --limit 1000 >out &&
	TOKEN=$ADMIN_A audit_page limit=500 &&
	for s in "$JTOKEN" "$ATOKEN" "$TTOKEN" "tmp-$TTOKEN"; do
		test_no_grep "$s" out && test_no_grep "$s" body || return 1
		! grep -raqF -- "$s" state/*.db state/log.* 2>/dev/null || { echo "$s in the store"; return 1; }
	done &&
	db5.3_dump -p -h state audit.db >dump 2>/dev/null &&
	test_grep "credential.create" dump &&
	for s in "$JTOKEN" "$ATOKEN" "$TTOKEN"; do test_no_grep "$s" dump || return 1; done
'

# ---- crash: kill -9 during credential writes ----------------------------------------

kill_random_workers() { # N: kill -9 a random worker N times, 0.2-0.5 s apart
	local i pids
	for i in $(seq 1 "$1"); do
		sleep 0.$((RANDOM % 3 + 2))
		pids=($(farm_worker_pids))
		[ ${#pids[@]} -gt 0 ] && kill -9 "${pids[RANDOM % ${#pids[@]}]}" 2>/dev/null
	done
	return 0
}

test_expect_success 'crash: writers while workers are killed -9 ten times' '
	CRASH=$(token crash org-crash admin) &&
	bg $PY "$TEST_DIR/lib-crash-writer.py" "$FARM_URL" "$CRASH" 6 6 hist &&
	writer=$BG_PID &&
	kill_random_workers 10 &&
	wait $writer &&
	test $(grep -c "\"res\": \"ok\"" hist) -gt 50
'

test_expect_success 'crash: every acknowledged write has its audit record, every create record its credential' '
	wait_healthy 20 &&
	farmctl_audit --org org-crash --limit 1000000 >audit.jsonl &&
	TOKEN=$CRASH api GET /api/v1/integrations/credentials && expect_status 200 && cp body creds.json &&
	$PY - hist audit.jsonl creds.json <<-\PYEOF
	import json, sys
	from collections import Counter
	hist = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
	recs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
	live = {c["id"] for c in json.load(open(sys.argv[3]))}
	by = Counter((r["action"], r["target"]) for r in recs)
	bad = []
	for h in hist:
	    if h["res"] != "ok":
	        continue
	    act = {"create": "credential.create", "patch": "credential.update",
	           "delete": "credential.delete"}[h["op"]]
	    if by[(act, h["id"])] < 1:
	        bad.append(("acknowledged without a record", h))
	acked = Counter(("credential.update", h["id"]) for h in hist if h["op"] == "patch" and h["res"] == "ok")
	for k, n in acked.items():
	    if by[k] < n:
	        bad.append(("fewer update records than acknowledged patches", k, by[k], n))
	deleted = {r["target"] for r in recs if r["action"] == "credential.delete"}
	for r in recs:
	    if r["action"] == "credential.create" and r["target"] not in live and r["target"] not in deleted:
	        bad.append(("a create record without its credential", r))
	    if r["action"] == "credential.create" and by[("credential.create", r["target"])] != 1:
	        bad.append(("a credential created twice", r))
	for c in live:
	    if by[("credential.create", c)] != 1:
	        bad.append(("a credential without its create record", c))
	print("# %d acknowledged writes, %d records, %d credentials" % (sum(h["res"] == "ok" for h in hist), len(recs), len(live)))
	for b in bad[:10]:
	    print(b)
	sys.exit(1 if bad else 0)
	PYEOF
'

test_expect_success 'logs are clean' '
	check_logs_clean
'

test_done
