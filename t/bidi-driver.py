#!/usr/bin/python3
"""bidi-driver.py - Firefox ESR for the console's tests (t/t9010-console-firefox.sh),
driven over WebDriver BiDi (W3C), which Firefox's Remote Agent speaks itself: Debian 12
packages no geckodriver, and none is needed. Debian's python3-websocket only.

  bidi-driver.py PORT         Firefox runs already, started by the test with
                              --remote-debugging-port=PORT (the test owns its pid
                              and kills it); this connects to ws://127.0.0.1:PORT/session

The same line protocol as console-driver.py (Chromium), so a test drives either
through lib-console.sh's drv: one command per line on stdin (shell words, shlex),
each answered with one line, "ok <json>" or "err <message>". The commands are a
subset of console-driver.py's, with the same meaning:

  open URL / wait CSS [S] / gone CSS [S] / has CSS TEXT [S] / text CSS / count CSS
  attr CSS NAME / click CSS / tile PROJECT STATUS [S] / state STATE [S] / find TEXT
  js SCRIPT...                the body of a function run in the page (`js return 1`);
                              a promise it returns is awaited
  size W H                    the viewport (browsingContext.setViewport)
  errors                      log.entryAdded entries of level "error" since the last
                              call (console.error and uncaught JavaScript errors)
  alert                       the message of the last user prompt opened
                              (browsingContext.userPromptOpened, dismissed at once),
                              or null; forgotten once read
  csp                         Content-Security-Policy violations seen since the last
                              call (securitypolicyviolation events, recorded by a
                              preload script that runs before the page's own)
  shot FILE                   a PNG screenshot of the viewport
  quit                        browser.close, then exit
"""
import base64
import json
import sys
import time

import websocket

from lib_driver import serve, until, until_equal

# Runs before any script of every page (script.addPreloadScript, page realm): records
# the CSP violations the page causes, where the test can read them.
PRELOAD = """() => {
  const seen = [];
  Object.defineProperty(window, "__farmCsp", { value: seen });
  window.addEventListener("securitypolicyviolation", e => seen.push(
    e.effectiveDirective + " blocked " + (e.blockedURI || "inline") +
    " at " + (e.sourceFile || "?") + ":" + e.lineNumber), true);
}"""

VISIBLE = """(css) => [...document.querySelectorAll(css)].filter(e => {
  const s = getComputedStyle(e);
  return e.getClientRects().length > 0 && s.visibility !== "hidden";
})"""


class BidiError(Exception):
    pass


def value(rv):
    """A BiDi RemoteValue as plain JSON."""
    t = rv.get("type")
    if t in ("undefined", "null"):
        return None
    if t in ("string", "boolean"):
        return rv["value"]
    if t == "number":
        v = rv["value"]
        if isinstance(v, str):  # NaN, -0, Infinity
            return None if v == "NaN" else v
        return int(v) if isinstance(v, float) and v.is_integer() else v
    if t in ("array", "set", "nodelist", "htmlcollection"):
        return [value(x) for x in rv.get("value", [])]
    if t in ("object", "map"):
        return {(k if isinstance(k, str) else str(value(k))): value(v) for k, v in rv.get("value", [])}
    if t == "node":
        return "<node %s>" % rv.get("value", {}).get("localName", "?")
    return "<%s>" % t


class Driver:
    def __init__(self, port):
        url = "ws://127.0.0.1:%d/session" % port
        end = time.monotonic() + 60
        while True:
            try:
                # Firefox refuses a handshake carrying an Origin it was not told to allow
                self.ws = websocket.create_connection(url, timeout=90, suppress_origin=True)
                break
            except (OSError, websocket.WebSocketException):
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)
        self.next_id = 0
        self.errors = []
        self.prompts = []
        self.call("session.new", {"capabilities": {}})
        self.call("session.subscribe", {"events": ["log.entryAdded", "browsingContext.userPromptOpened"]})
        tree = self.call("browsingContext.getTree", {"maxDepth": 0})
        self.ctx = tree["contexts"][0]["context"]
        self.call("script.addPreloadScript", {"functionDeclaration": PRELOAD})
        self.size(1280, 900)

    # ---- protocol -------------------------------------------------------------------

    def event(self, m):
        p = m.get("params", {})
        if m["method"] == "log.entryAdded" and p.get("level") == "error":
            where = ""
            if p.get("stackTrace", {}).get("callFrames"):
                f = p["stackTrace"]["callFrames"][0]
                where = " (%s:%s)" % (f.get("url"), f.get("lineNumber"))
            self.errors.append("%s: %s%s" % (p.get("type"), p.get("text"), where))
        elif m["method"] == "browsingContext.userPromptOpened":
            self.prompts.append(p.get("message"))
            # dismissed at once, so no later command waits behind it (its answer,
            # with an id nobody waits for, is skipped by call)
            self.next_id += 1
            self.ws.send(json.dumps({"id": self.next_id, "method": "browsingContext.handleUserPrompt",
                                     "params": {"context": p.get("context", self.ctx), "accept": False}}))

    def call(self, method, params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("type") == "event":
                self.event(m)
                continue
            if m.get("id") != mid:
                continue
            if m.get("type") == "error":
                raise BidiError("%s: %s %s" % (method, m.get("error"), m.get("message")))
            return m["result"]

    def fn(self, decl, *args):
        """Calls the function declaration DECL in the page with JSON ARGS; its value."""
        r = self.call("script.callFunction", {
            "functionDeclaration": decl, "awaitPromise": True,
            "target": {"context": self.ctx},
            "arguments": [self.arg(a) for a in args],
            "serializationOptions": {"maxObjectDepth": 4, "maxDomDepth": 0},
            "resultOwnership": "none"})
        if r["type"] == "exception":
            d = r["exceptionDetails"]
            raise AssertionError("page: " + d.get("text", "") + " " + json.dumps(value(d.get("exception", {}))))
        return value(r["result"])

    @staticmethod
    def arg(a):
        if a is None:
            return {"type": "null"}
        if isinstance(a, bool):
            return {"type": "boolean", "value": a}
        if isinstance(a, (int, float)):
            return {"type": "number", "value": a}
        return {"type": "string", "value": str(a)}

    _until = staticmethod(until)

    # ---- commands ---------------------------------------------------------------------

    def c_open(self, url):
        self.call("browsingContext.navigate", {"context": self.ctx, "url": url, "wait": "complete"})

    def _visible(self, css):
        return self.fn("(css) => (%s)(css).length" % VISIBLE, css)

    def c_wait(self, css, secs=5):
        self._until(lambda: self._visible(css), secs, "no " + css)

    def c_gone(self, css, secs=5):
        self._until(lambda: not self._visible(css), secs, "still " + css)

    def c_has(self, css, text, secs=5):
        js = "(css) => { const e = document.querySelector(css); return e ? e.textContent : null; }"
        self._until(lambda: text in (self.fn(js, css) or ""), secs,
                    lambda: "%s without %r: %r" % (css, text, self.fn(js, css)))

    def c_text(self, css):
        return self.fn("(css) => { const e = document.querySelector(css);"
                       " if (!e) throw new Error('no ' + css); return e.textContent; }", css)

    def c_count(self, css):
        return self.fn("(css) => document.querySelectorAll(css).length", css)

    def c_attr(self, css, name):
        return self.fn("(css, n) => document.querySelector(css).getAttribute(n)", css, name)

    def c_click(self, css):
        self._until(lambda: self._visible(css), 5, "no " + css)
        self.fn("(css) => (%s)(css)[0].click()" % VISIBLE, css)

    def c_tile(self, project, status, secs=5):
        js = ("(p) => { const t = [...document.querySelectorAll('#board li.tile')].find(t =>"
              " t.querySelector('h3').textContent === p); return t ? t.dataset.status : null; }")
        return until_equal(lambda: self.fn(js, project), status, secs, "tile " + project)

    def c_state(self, state, secs=10):
        self._until(lambda: self.fn("() => document.getElementById('live').dataset.state") == state,
                    secs, "state " + state)

    def c_find(self, text):
        where = []
        if text in self.fn("() => document.documentElement.outerHTML"):
            where.append("source")
        if self.fn("(t) => [...document.querySelectorAll('input,textarea,select')]"
                   ".some(e => e.value.includes(t))", text):
            where.append("input")
        if self.fn("(t) => [sessionStorage, localStorage].some(s => [...Array(s.length).keys()]"
                   ".some(i => s.key(i).includes(t) || s.getItem(s.key(i)).includes(t)))", text):
            where.append("storage")
        return where

    def c_js(self, *script):
        return self.fn("function () {\n%s\n}" % " ".join(script))

    def c_size(self, w, h):
        self.call("browsingContext.setViewport", {"context": self.ctx,
                                                   "viewport": {"width": int(w), "height": int(h)}})

    size = c_size

    def c_errors(self):
        self.fn("() => 0")  # a round trip: entries logged before it are in
        e, self.errors = self.errors, []
        return e

    def c_alert(self):
        self.fn("() => 0")
        p, self.prompts = (self.prompts[-1] if self.prompts else None), []
        return p

    def c_csp(self):
        return self.fn("() => (window.__farmCsp || ['no preload script']).splice(0)")

    def c_shot(self, path):
        r = self.call("browsingContext.captureScreenshot", {"context": self.ctx})
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def close(self):
        try:
            self.call("browser.close", {})
        except (BidiError, OSError, websocket.WebSocketException):
            pass  # the browser closes its end as it goes


def main():
    drv = Driver(int(sys.argv[1]))
    serve(drv, (AssertionError, BidiError, TypeError, ValueError, KeyError))
    drv.close()


if __name__ == "__main__":
    main()
