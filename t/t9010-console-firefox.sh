#!/bin/bash
# t9010-console-firefox.sh - the web console (www/) in a real headless Firefox ESR
# (Debian's firefox-esr) against the real stack, driven over WebDriver BiDi
# (t/bidi-driver.py: Firefox's Remote Agent speaks it itself; Debian packages no
# geckodriver). A smoke test of what t9000 checks in Chromium: the page loads with no
# console error, sign-in through the URL fragment, a webhook posted with curl on the
# board within 1 s without reload, a hostile build name shown as text, the CSP without
# unsafe-inline enforced by Firefox and the page working under it, a 375 px wide window
# without sideways scrolling. Skips only when firefox-esr is missing.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-events.sh"
. "$TEST_DIR/lib-console.sh"

FIREFOX=${FARM_TEST_FIREFOX:-$(command -v firefox-esr)}
if [ -z "$FIREFOX" ] || [ ! -x "$FIREFOX" ]; then
	echo "1..0 # SKIP firefox-esr is not installed (Debian package firefox-esr; scripts/deps installs it)"
	cd "$TEST_DIR" && rm -rf "$TRASH"
	trap - EXIT
	exit 0
fi

CCI_SECRET=cci-secret-for-t9010-0123456789
export FARM_WEBHOOK_CIRCLECI_SECRET=$CCI_SECRET
HOSTILE='<img src=x onerror=alert(1)>'

# ---- Firefox: a fresh profile in the trash dir, its own session (killed as a group) ----
FF_PID=
ff_start() {
	FF_PORT=$(free_port) && mkdir -p "$TRASH/firefox/profile" "$TRASH/firefox/home" || return 1
	# No traffic but to loopback: whatever Firefox would fetch for itself (updates,
	# remote settings, safe browsing, captive portal, telemetry) goes nowhere, and any
	# other address through a proxy on a closed loopback port (127.0.0.1 is never proxied).
	cat >"$TRASH/firefox/profile/user.js" <<-\EOF || return 1
	user_pref("network.proxy.type", 1);
	user_pref("network.proxy.http", "127.0.0.1");
	user_pref("network.proxy.http_port", 9);
	user_pref("network.proxy.ssl", "127.0.0.1");
	user_pref("network.proxy.ssl_port", 9);
	user_pref("network.proxy.no_proxies_on", "127.0.0.1");
	user_pref("network.proxy.allow_hijacking_localhost", false);
	user_pref("network.trr.mode", 5);
	user_pref("network.dns.disablePrefetch", true);
	user_pref("network.prefetch-next", false);
	user_pref("network.captive-portal-service.enabled", false);
	user_pref("network.connectivity-service.enabled", false);
	user_pref("app.update.disabledForTesting", true);
	user_pref("app.normandy.enabled", false);
	user_pref("browser.safebrowsing.update.enabled", false);
	user_pref("browser.safebrowsing.malware.enabled", false);
	user_pref("browser.safebrowsing.phishing.enabled", false);
	user_pref("datareporting.policy.dataSubmissionEnabled", false);
	user_pref("toolkit.telemetry.enabled", false);
	user_pref("services.settings.server", "http://127.0.0.1:9/v1");
	user_pref("browser.shell.checkDefaultBrowser", false);
	user_pref("browser.startup.homepage_override.mstone", "ignore");
	EOF
	# a simple command in the background: setsid makes Firefox (pid $!) lead a session
	HOME=$TRASH/firefox/home MOZ_CRASHREPORTER_DISABLE=1 setsid "$FIREFOX" --headless --no-remote \
		--remote-debugging-port="$FF_PORT" --profile "$TRASH/firefox/profile" about:blank \
		>"$TRASH/firefox.log" 2>&1 &
	FF_PID=$!
	CONSOLE_DRIVER=$TEST_DIR/bidi-driver.py CONSOLE_DRIVER_ARGS=$FF_PORT drv_start ||
		{ tail -n 20 "$TRASH/firefox.log" "$TRASH/driver.err"; return 1; }
}
# ff_stop: the driver closes the browser (browser.close); whatever is left of
# Firefox's session (its content processes) is killed
_ff_gone() { ! kill -0 -- "-$FF_PID" 2>/dev/null; }
ff_stop() {
	drv_stop
	[ -n "$FF_PID" ] || return 0
	wait_until 10 _ff_gone || { kill -TERM -- "-$FF_PID" 2>/dev/null; wait_until 5 _ff_gone; }
	kill -KILL -- "-$FF_PID" 2>/dev/null
	kill -KILL "$FF_PID" 2>/dev/null
	wait "$FF_PID" 2>/dev/null
	FF_PID=
}
trap 'ff_stop; stop_farm' EXIT
trap 'exit 143' TERM; trap 'exit 130' INT # the EXIT trap then runs too

test_expect_success 'start farm and a headless Firefox ESR (WebDriver BiDi)' '
	start_farm &&
	ff_start &&
	drv js "return navigator.userAgent" && echo "$DRV_OUT" >ua &&
	case "$DRV_OUT" in *Firefox/*) ;; *) false ;; esac
'
[ -f "$TRASH/ua" ] && say "$(cat "$TRASH/ua")"
ADMIN=$(token alice - admin)

test_expect_success 'the console is served with a CSP without unsafe-inline' '
	api GET / && expect_status 200 &&
	grep -i "^Content-Security-Policy:" headers >csp &&
	test_grep "default-src .none." csp && test_grep "script-src .self.;" csp &&
	test_no_grep unsafe csp
'

test_expect_success 'the page loads in Firefox with no console error, signing in through the URL fragment' '
	drv open "$FARM_URL/#token=$ADMIN" &&
	drv wait "#board-count" 10 && drv state live 10 &&
	drv js "return location.hash" && test_equal "$DRV_OUT" "\"#/board\"" &&
	drv js "return sessionStorage.getItem(\"farm.token\") === \"$ADMIN\"" && test_equal "$DRV_OUT" true &&
	drv js "return performance.getEntriesByType(\"resource\").map(e => e.name).filter(n => n.includes(\"$ADMIN\")).length" &&
	test_equal "$DRV_OUT" 0 &&
	drv text "#who" && test_equal "$DRV_OUT" "\"alice (admin)\"" &&
	drv errors && test_equal "$DRV_OUT" "[]" &&
	drv js "window.__notReloaded = 1; return 1"
'

test_expect_success 'the driver sees a console error (the check above can fail)' '
	drv js "console.error(\"t9010 probe\"); return 1" &&
	drv errors && case "$DRV_OUT" in *"t9010 probe"*) ;; *) false ;; esac &&
	drv errors && test_equal "$DRV_OUT" "[]"
'

test_expect_success 'a webhook posted with curl is on the board within 1 s, without reload' '
	cci gh/firefox/live running 1 &&
	drv tile gh/firefox/live running 5 &&
	el=$(ms_since $CCI_T0) && echo "Firefox: webhook sent to tile shown: $el ms (after the answer: $DRV_OUT ms)" >>figures &&
	test "$el" -lt 1000 &&
	cci gh/firefox/live success 2 &&
	drv tile gh/firefox/live success 5 &&
	el=$(ms_since $CCI_T0) && echo "Firefox: second event: $el ms" >>figures && test "$el" -lt 1000 &&
	drv count "#board li.tile" && test_equal "$DRV_OUT" 1 &&
	drv js "return window.__notReloaded" && test_equal "$DRV_OUT" 1
'
[ -f "$TRASH/figures" ] && sed "s/^/# /" "$TRASH/figures"

test_expect_success 'a hostile build name is shown as its characters: no img element, no alert' '
	cci gh/firefox/hostile failed 8 "$HOSTILE" &&
	drv tile gh/firefox/hostile failed 5 &&
	drv js "return $(tile_js gh/firefox/hostile).querySelector(\"dd\").textContent" &&
	test_equal "$DRV_OUT" "\"$HOSTILE #8\"" &&
	drv count "img" && test_equal "$DRV_OUT" 0 &&
	drv alert && test_equal "$DRV_OUT" null &&
	drv js "$(tile_js gh/firefox/hostile).querySelector(\"a\").click()" &&
	drv wait "[data-field=name]" 5 &&
	drv text "[data-field=name]" && test_equal "$DRV_OUT" "\"$HOSTILE\"" &&
	drv count "img" && test_equal "$DRV_OUT" 0 &&
	drv alert && test_equal "$DRV_OUT" null &&
	drv errors && test_equal "$DRV_OUT" "[]" &&
	: the alert check can fail: an alert the test opens itself is seen, and dismissed &&
	drv js "setTimeout(() => alert(\"t9010 probe\"), 0); return 1" && sleep 0.5 &&
	drv alert && test_equal "$DRV_OUT" "\"t9010 probe\"" &&
	drv text "#who" && test_equal "$DRV_OUT" "\"alice (admin)\""
'

test_expect_success 'Firefox enforces the CSP: the page caused no violation, an inline script is refused' '
	drv open "$FARM_URL/#/board" && drv wait "#board li.tile" 10 && drv state live 10 &&
	drv csp && test_equal "$DRV_OUT" "[]" &&
	drv js "window.__inlineRan = 0; const s = document.createElement(\"script\"); s.textContent = \"window.__inlineRan = 1\"; document.head.append(s); return new Promise(r => setTimeout(() => r(window.__inlineRan), 200))" &&
	test_equal "$DRV_OUT" 0 &&
	drv csp && echo "$DRV_OUT" &&
	case "$DRV_OUT" in *"script-src-elem blocked inline"*) ;; *) false ;; esac &&
	drv errors && case "$DRV_OUT" in *"Content-Security-Policy"*) ;; *) false ;; esac
'

test_expect_success 'a 375 px wide window does not scroll sideways: the board and a run' '
	for i in 10 11 12 13 14 15; do cci "gh/firefox/a-rather-long-project-name-$i" success $i || return 1; done &&
	drv size 375 812 && drv js "return window.innerWidth" && test_equal "$DRV_OUT" 375 &&
	drv open "$FARM_URL/#/board" && drv tile gh/firefox/a-rather-long-project-name-15 success 5 &&
	no_sideways &&
	drv js "$(tile_js gh/firefox/a-rather-long-project-name-15).querySelector(\"a\").click()" &&
	drv wait "[data-field=name]" 5 && no_sideways &&
	drv errors && test_equal "$DRV_OUT" "[]" && drv csp && test_equal "$DRV_OUT" "[]"
'

test_expect_success 'the no-sideways check can fail: a 2000 px wide element scrolls' '
	drv js "const d = document.createElement(\"div\"); d.id = \"t9010-wide\"; d.style.width = \"2000px\"; d.style.height = \"1px\"; document.body.append(d); return 1" &&
	! no_sideways &&
	drv js "document.getElementById(\"t9010-wide\").remove(); return 1" && no_sideways
'

test_expect_success 'Firefox quits, nothing of it left' '
	pid=$FF_PID && t0=$(date +%s%N) && ff_stop &&
	echo "Firefox closed and reaped in $(ms_since $t0) ms" >stopped &&
	! kill -0 -- "-$pid" 2>/dev/null && ! kill -0 "$pid" 2>/dev/null
'
[ -f "$TRASH/stopped" ] && say "$(cat "$TRASH/stopped")"

test_done
