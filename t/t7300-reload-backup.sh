#!/bin/bash
# t7300-reload-backup.sh - the two drills an operator runs: reload under load (SIGHUP
# to the master every second while wrk hammers nginx: not one request may fail), and
# backup -> verify -> restore into a new directory -> the data is there.

. "$(dirname "$0")/test-lib.sh"

export JWT_SECRET=reload-backup-secret-0123456789abcdef
export FARM_MAX_REQUESTS=0

reloads() { grep -c "reloading configuration" state/log/farm-fcgi.log || :; }

test_expect_success 'the stack starts' '
	start_farm
'

test_expect_success 'reload under load: SIGHUP every second during wrk, every response 2xx' '
	command -v wrk >/dev/null &&
	r0=$(reloads) && master=$(farm_master_pid) && test -n "$master" &&
	pgrep -P "$master" | sort >workers.before &&
	logged0=$(wc -l <state/nginx/access.log) &&
	bg wrk -t2 -c16 -d7s --latency --timeout 5s "$FARM_URL/api/v1/health" >wrk.out 2>&1 &&
	wrk_pid=$BG_PID &&
	for i in 1 2 3 4 5 6; do sleep 1; kill -HUP "$master" || return 1; done &&
	wait $wrk_pid &&
	cat wrk.out &&
	test_equal "$(farm_master_pid)" "$master" &&
	[ $(($(reloads) - r0)) -ge 6 ] &&
	requests=$(sed -n "s/^ *\([0-9][0-9]*\) requests in .*/\1/p" wrk.out) &&
	[ "${requests:-0}" -gt 1000 ] &&
	test_no_grep "Non-2xx or 3xx responses" wrk.out &&
	test_no_grep "Socket errors" wrk.out
'

# When its time is up wrk closes its connections with requests in flight: nginx logs
# those as 499 (client closed), at most one per connection.
test_expect_success 'nginx logged every one of those requests as 200, and nothing at alert level' '
	tail -n +$((logged0 + 1)) state/nginx/access.log |
	awk "\$5 == \"/api/v1/health\" { n++; if (\$7 == 499) gone++; else if (\$7 != 200) bad++ }
	     END { print n + 0, bad + 0, gone + 0 }" >counts &&
	cat counts &&
	[ "$(cut -d" " -f1 counts)" -ge "${requests:-1}" ] &&
	test_equal "$(cut -d" " -f2 counts)" 0 &&
	[ "$(cut -d" " -f3 counts)" -le 16 ] &&
	check_logs_clean
'

test_expect_success 'the reloads replaced every worker and the pool is complete again' '
	pgrep -P "$master" | sort >workers.after &&
	test_equal "$(comm -12 workers.before workers.after | wc -l)" 0 &&
	for i in $(seq 1 50); do
		api GET /farm-status && [ "$(json_get body "d[\"pool\"][\"workers\"][\"draining\"]")" = 0 ] && break
		sleep 0.1
	done &&
	test_equal "$(json_get body "d[\"pool\"][\"workers\"][\"active\"] + d[\"pool\"][\"workers\"][\"idle\"]")" 2
'

test_expect_success 'a reload with an invalid configuration is refused; the pool keeps serving' '
	cp state/farm.conf farm.conf.good &&
	echo "workers = many" >>state/farm.conf &&
	kill -HUP "$master" && sleep 0.5 &&
	test_grep "reload refused: configuration invalid" state/log/farm-fcgi.log &&
	api GET /api/v1/health && expect_status 200 &&
	cp farm.conf.good state/farm.conf
'

# ---- backup, verify, restore -------------------------------------------------------

cred='{"type":"jenkins","name":"before-backup","value":{"url":"https://ci.example.com","username":"ops","apiToken":"restore-canary-7f3a"}}'
ctl() { FARM_CONFIG=$TRASH/state/farm.conf "$FARM_BUILD/farmctl" "$@"; }

test_expect_success 'a credential is created, then a hot backup taken while farm serves' '
	TOKEN=$(token ops acme admin) api POST /api/v1/integrations/credentials "$cred" &&
	expect_status 201 && id=$(json_get body "d[\"id\"]") &&
	ctl db backup "$TRASH/backup" >backup.out && test_grep "backup written" backup.out &&
	test -n "$(ls "$TRASH/backup")" &&
	TOKEN=$(token ops acme admin) api POST /api/v1/integrations/credentials \
		"$(echo "$cred" | sed s/before-backup/after-backup/)" && expect_status 201
'

test_expect_success 'farmctl db verify accepts the backup (and a fresh one of the live database)' '
	ctl db verify "$TRASH/backup" >verify.out && test_grep "database verified: ok" verify.out &&
	ctl db verify >verify2.out && test_grep "database verified: ok (fresh hot backup)" verify2.out
'

test_expect_success 'farmctl db verify refuses a damaged copy' '
	cp -a "$TRASH/backup" damaged &&
	f=$(ls damaged | grep -v -e "^log\." -e "^__db" | head -n 1) && test -n "$f" &&
	size=$(stat -c %s "damaged/$f") &&
	dd if=/dev/urandom of="damaged/$f" bs=512 seek=1 count=$(( size / 512 > 2 ? size / 512 - 1 : 1 )) \
		conv=notrunc 2>/dev/null &&
	! ctl db verify "$TRASH/damaged" >verify3.out 2>&1
'

test_expect_success 'restore into a new directory: the backed-up credential is there, the later one is not' '
	stop_farm &&
	mkdir -p restored && cp -a "$TRASH/backup" restored/db &&
	FARM_STATE_DIR=$TRASH/restored/db ctl credentials list >restored.list &&
	test_grep "\"id\":\"$id\"" restored.list &&
	test_grep "\"name\":\"before-backup\"" restored.list &&
	test_no_grep "after-backup" restored.list &&
	test_no_grep "restore-canary" restored.list
'

test_expect_success 'the restored credential still decrypts with the same secret (rotate-key re-seals it)' '
	FARM_STATE_DIR=$TRASH/restored/db ctl rotate-key >rotate.out &&
	test_grep "re-sealed 1 credentials" rotate.out
'

test_expect_success 'farm serves the restored database (its files put in place of the old ones)' '
	sdir=$(ctl config check | sed -n "s/^state_dir = //p") && test -d "$sdir" &&
	rm -f "$sdir"/__db.* "$sdir"/log.* "$sdir"/*.db && cp -a restored/db/. "$sdir"/ &&
	start_farm &&
	TOKEN=$(token ops acme) api GET /api/v1/integrations/credentials && expect_status 200 &&
	test_equal "$(json_get body "[c[\"name\"] for c in d]")" "[\"before-backup\"]" &&
	check_logs_clean
'

test_done
