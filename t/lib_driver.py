"""lib_driver.py - what the console's two browser drivers share: t/console-driver.py
(Chromium through Selenium) and t/bidi-driver.py (Firefox over WebDriver BiDi).  Each
imports it from its own directory (the script's directory is first on sys.path).

  until(f, secs, what)             f() until it is true (returned), polled every 20 ms;
                                   AssertionError "timeout after SECS s: WHAT" (WHAT, or
                                   what() if callable, read only then)
  until_equal(read, want, secs, what)   read() until it is WANT, polled every 5 ms; the
                                   milliseconds it took (the tile command's answer)
  serve(drv, errors)               the line protocol: "ok \"ready\"", then one command a
                                   line on stdin (shell words: drv.c_<word>(args...)),
                                   each answered "ok <json>" or "err <message>" (an
                                   exception of the ERRORS tuple); stops at "quit" or EOF
"""
import json
import shlex
import sys
import time


def until(f, secs, what):
    end = time.monotonic() + float(secs)
    while True:
        v = f()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timeout after %s s: %s" % (secs, what() if callable(what) else what))
        time.sleep(0.02)


def until_equal(read, want, secs, what):
    t0 = time.monotonic()
    end = t0 + float(secs)
    while True:
        if read() == want:
            return round((time.monotonic() - t0) * 1000)
        if time.monotonic() > end:
            raise AssertionError("%s not %s after %s s (is %s)" % (what, want, secs, read()))
        time.sleep(0.005)


def serve(drv, errors):
    print("ok \"ready\"", flush=True)
    for line in sys.stdin:
        words = shlex.split(line)
        if not words:
            continue
        if words[0] == "quit":
            break
        f = getattr(drv, "c_" + words[0], None)
        try:
            if not f:
                raise AssertionError("unknown command " + words[0])
            out = "ok " + json.dumps(f(*words[1:]))
        except errors as e:
            out = "err " + " ".join(str(e).split())[:2000]
        print(out, flush=True)
