#!/bin/bash
# t3200-events-kill9.sh - farm-eventd and farm-wsd killed with SIGKILL while webhooks
# arrive (operations.md §5.3 F5, F6).  "Nothing lost" as in §5.2: every delivery
# acknowledged with 200 becomes exactly one event, delivered in id order to a client
# that resumes with ?since=; a delivery that was not acknowledged appears at most once.
#
# A daemon killed inside a Berkeley DB call leaves the environment needing recovery
# (failchk says so when the daemon restarts); only the farm-fcgi master can run it.
# The test then does what the master's watcher must do (docs/events.md, "kill -9"):
# SIGUSR2 to the master (recovery; it stops the daemons through their lock files),
# and starts the daemons again as their supervisor would.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"

CCI_SECRET=cci-secret-for-t3200-0123456789
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI_SECRET
export FARM_RUN_SUPERVISE_EXCEPT="farm-eventd farm-wsd"
ROUNDS=${FARM_KILL9_ROUNDS:-2}
FARM_WSD_LISTEN=127.0.0.1:$(free_port)
export FARM_WSD_LISTEN

# check_round TIMES-FILE CLIENT: acknowledged deliveries exactly once, ids consecutive.
check_round() {
	$PY - "$1" "$2.out" <<'PYEOF'
import json, sys
acked = {r["i"] for r in map(json.loads, open(sys.argv[1])) if r["status"] == 200}
sent = {r["i"] for r in map(json.loads, open(sys.argv[1]))}
msgs = [json.loads(l)["data"] for l in open(sys.argv[2])]
names = [int(m["name"][3:]) for m in msgs]
ids = [m["id"] for m in msgs]
errs = []
if any(b != a + 1 for a, b in zip(ids, ids[1:])): errs.append("ids not consecutive")
if len(set(names)) != len(names): errs.append("a delivery appeared twice")
if not acked <= set(names): errs.append("lost: %s" % sorted(acked - set(names)))
if not set(names) <= sent: errs.append("unexpected: %s" % sorted(set(names) - sent))
print("acked %d of %d, delivered %d" % (len(acked), len(sent), len(names)))
sys.exit("; ".join(errs) if errs else 0)
PYEOF
}

test_expect_success 'start farm' '
	start_farm
'
USER_NONE=$(token nobody -)
last=0

for ROUND in $(seq 1 "$ROUNDS"); do
	test_expect_success "round $ROUND: eventd kill -9 twice while webhooks arrive" '
		base=$((ROUND * 1000)) &&
		{ post_many 150 $((base + 1)) k9-$ROUND --rate 100 --times times-e$ROUND >/dev/null 2>&1 & } &&
		sleep 0.4 && daemon_stop farm-eventd KILL && sleep 0.3 && supervise e$ROUND-1 &&
		sleep 0.3 && daemon_stop farm-eventd KILL && sleep 0.2 && supervise e$ROUND-2 &&
		wait_until 20 test -s times-e$ROUND &&
		sleep 1 && supervise e$ROUND-3 &&
		ws_start e$ROUND "$USER_NONE" "?since=$last" &&
		wait_until 10 check_round times-e$ROUND e$ROUND >/dev/null &&
		check_round times-e$ROUND e$ROUND &&
		last=$(ws_field e$ROUND -1 "e[\"data\"][\"id\"]") && ws_stop e$ROUND
	'

	test_expect_success "round $ROUND: wsd kill -9 while webhooks arrive and clients listen" '
		base=$((ROUND * 1000 + 500)) &&
		ws_start w$ROUND "$USER_NONE" "?since=$last" &&
		{ post_many 100 $((base + 1)) wk9-$ROUND --rate 100 --times times-w$ROUND >/dev/null 2>&1 & } &&
		sleep 0.3 && daemon_stop farm-wsd KILL && sleep 0.3 && supervise w$ROUND &&
		wait_until 20 test -s times-w$ROUND &&
		sleep 1 && supervise w$ROUND-2 &&
		n=$(ws_lines w$ROUND) && cp w$ROUND.out w$ROUND-all.out &&
		if [ "$n" = 0 ]; then resume=$last; else resume=$(ws_field w$ROUND -1 "e[\"data\"][\"id\"]"); fi &&
		ws_start w${ROUND}b "$USER_NONE" "?since=$resume" &&
		wait_until 5 test -s w${ROUND}b.out &&
		sleep 1 && cat w${ROUND}b.out >>w$ROUND-all.out &&
		check_round times-w$ROUND w$ROUND-all &&
		last=$(ws_field w$ROUND-all -1 "e[\"data\"][\"id\"]") && ws_stop w${ROUND}b
	'
done

test_expect_success 'the stack is healthy again and the logs are clean' '
	supervise final && wait_until 5 eval "api GET /api/v1/health && test \"\$(cat status)\" = 200" &&
	check_logs_clean
'

say "recoveries asked of the master: $(cat recoveries 2>/dev/null | wc -l)"
for c in $(ls ./*.pid 2>/dev/null); do ws_stop "$(basename "${c%.pid}")"; done
stop_daemons
test_done
