# lib-console.sh - the browser and the deliveries shared by the console's browser tests:
# t9000-console.sh (Chromium, t/console-driver.py) and t9010-console-firefox.sh
# (Firefox ESR over WebDriver BiDi, t/bidi-driver.py). Both drivers read one command per
# line and answer "ok <json>" or "err <message>" (the commands: console-driver.py; the
# loop and the waits they share: t/lib_driver.py).
# Source after test-lib.sh and lib-events.sh; set CCI_SECRET (the instance's CircleCI
# webhook secret) before calling cci.

# The driver: CONSOLE_DRIVER (a script run by $PY) with the words of CONSOLE_DRIVER_ARGS.
CONSOLE_DRIVER=${CONSOLE_DRIVER:-$TEST_DIR/console-driver.py}
CONSOLE_DRIVER_ARGS=${CONSOLE_DRIVER_ARGS:-}
DRV_PID=
drv_start() {
	coproc DRV { exec $PY "$CONSOLE_DRIVER" $CONSOLE_DRIVER_ARGS 2>>"$TRASH/driver.err"; }
	DRV_PID=$DRV_PID
	DRV_IN=${DRV[1]} DRV_OUTFD=${DRV[0]}
	IFS= read -r -t 60 DRV_OUT <&"$DRV_OUTFD" && test_equal "$DRV_OUT" 'ok "ready"'
}
# drv CMD ARGS...: the answer's JSON in $DRV_OUT; fails on "err" (printed).
drv() {
	printf '%q ' "$@" >&"$DRV_IN" && echo >&"$DRV_IN" || { echo "driver gone"; cat "$TRASH/driver.err"; return 1; }
	IFS= read -r -t 90 DRV_OUT <&"$DRV_OUTFD" || { echo "driver did not answer: $*"; return 1; }
	case $DRV_OUT in
	"ok "*) DRV_OUT=${DRV_OUT#ok }; return 0 ;;
	*) echo "driver: $* -> $DRV_OUT"; return 1 ;;
	esac
}
drv_stop() {
	[ -n "$DRV_PID" ] || return 0
	echo quit >&"$DRV_IN" 2>/dev/null
	wait_until 10 _daemon_gone "$DRV_PID" || kill "$DRV_PID" 2>/dev/null
	DRV_PID=
}

# cci PROJECT STATUS ID [NAME [PIPELINE-ID WORKFLOW-ID]]: one signed CircleCI delivery
# (curl), instance secret; the ids are UUIDs as CircleCI's (those of the fake CircleCI
# when given); CCI_T0 is the time (date +%s%N) just before curl sent it
cci() {
	$PY - "$1" "$2" "$3" "${4:-wf-$3}" "${5:-}" "${6:-}" >cci.json <<-\EOF &&
	import json, sys
	project, status, n, name, pid, wid = sys.argv[1:7]
	print(json.dumps({"type": "workflow-completed", "id": "00000000-0000-4000-8000-%012d" % int(n),
	  "happened_at": "2026-01-01T10:00:00Z",
	  "workflow": {"id": wid or "10000000-0000-4000-8000-%012d" % int(n), "name": name, "status": status,
	    "created_at": "2026-01-01T09:59:00Z", "stopped_at": "2026-01-01T10:00:00Z",
	    "url": "https://app.circleci.com/pipelines/gh/x/%s" % n},
	  "pipeline": {"id": pid or "20000000-0000-4000-8000-%012d" % int(n), "number": int(n),
	    "created_at": "2026-01-01T09:59:00Z", "trigger": {"type": "webhook"},
	    "vcs": {"provider_name": "github", "origin_repository_url": "https://github.com/x/y",
	      "target_repository_url": "https://github.com/x/y", "revision": "abc%s" % n, "branch": "main"}},
	  "project": {"id": "30000000-0000-4000-8000-000000000000", "name": project.split("/")[-1],
	    "slug": project}}))
	EOF
	sig=$(cci_sign cci.json "$CCI_SECRET") &&
	CCI_T0=$(date +%s%N) &&
	curl -sS -o body -w "%{http_code}" -H "Content-Type: application/json" -H "circleci-signature: $sig" \
		--data-binary @cci.json "$FARM_URL/api/v1/webhooks/circleci" >status &&
	expect_status 200
}

# tile_js PROJECT: a JavaScript expression, the board's tile of PROJECT (for drv js:
# drv js "return $(tile_js gh/x/y).className")
tile_js() {
	printf '[...document.querySelectorAll("#board li.tile")].find(t => t.querySelector("h3").textContent === "%s")' "$1"
}

# no_sideways: the page is no wider than the window
no_sideways() {
	drv js "return document.documentElement.scrollWidth <= window.innerWidth" && test_equal "$DRV_OUT" true
}
