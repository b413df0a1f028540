#!/usr/bin/python3
"""fake-candor — an imitation of Candor CI (Arraying/Candor) for farm's tests: the
dashboard backend (cookie sessions) and a runner, on one port.
Facts: /work/shared/design/providers.md §8 and seed 003 (it wins).  See README.md.

Dashboard (cookie session from POST /login; --token is the user's password):
  POST /login  {"username","password"}  200 + Set-Cookie candor.sid; 400 missing; 401 wrong
  GET  /me                              {"id","name"}; 401 without a session
  POST /logout                          200
  GET  /api/pipelines                   public ones + the user's assigned ones
  GET  /api/pipelines/{id}              404 unknown; 403 private and not assigned
  GET  /api/runs/{id}/{runId|last}/log  text; 404 "No log could be found"
  POST /trigger/{token}                 404 unknown token; 403 unless the session's user
                                        is assigned; 400 running; 204 constraints not
                                        met; 200 (the run starts; no run id returned)
  An expired session (POST /__fake/expire-sessions) is answered 403, like a missing
  one on the routes that need a user; the list then shows public pipelines only.

Runner (Authorization: Bearer --runner-token; missing 400, wrong 401):
  GET  /                                200, no body, no auth
  POST /run   {"runId"?, "plan"}        synchronous: {"status","stages":[...]}; 415 not
                                        JSON; 400 bad plan.  A stage fails when its
                                        script has "exit N" (N != 0): exitCode N, the
                                        rest Skipped; image "error" is an Error stage.
  POST /logs/{runId}                    text; 400 "malicious" id; 404 unknown

Control (besides fakelib's): POST /__fake/expire-sessions [{"always": true}: new
sessions too, until the next call without it], GET /__fake/sessions ({"logins": n,
"live": n}).
"""

import json
import os
import re
import secrets
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402
from fakelib import json_response, text_response, Response  # noqa: E402

T0 = 1735725600000  # 2025-01-01T10:00:00Z, ms
COOKIE = "candor.sid"


def run(rid, start, status, stages, archived=None):
    return {"id": rid, "start": start, "finish": start + 61000, "status": status,
            "stages": stages, "archived": archived or []}


def default_state():
    ok = [{"name": "Build", "status": "Passed", "exitCode": 0},
          {"name": "Test", "status": "Passed", "exitCode": 0}]
    bad = [{"name": "Build", "status": "Passed", "exitCode": 0},
           {"name": "Test", "status": "Failed", "exitCode": 1}]
    return {
        "users": [{"id": 1, "name": "farm"}, {"id": 2, "name": "other"}],
        "pipelines": [
            {"id": 1, "name": "web", "public": True, "assignees": ["farm"],
             "trigger": "3f2a9c41d0b7e6a5", "running": False,
             "requiredParameters": ["BRANCH"], "constrainHeaders": {}, "constrainBody": {},
             "runs": [run("a1b2c3d4", T0, "Passed", ok),
                      run("0badc0de", T0 + 3600000, "Failed", bad),
                      run("c0ffee01", T0 + 7200000, "Passed", ok)],
             "logs": {"a1b2c3d4": "Build: ok\nTest: ok\n",
                      "0badc0de": "Build: ok\nTest: 1 failing\n",
                      "c0ffee01": "Build: ok\nTest: ok\nlast run\n"}},
            {"id": 2, "name": "api", "public": False, "assignees": ["farm"],
             "trigger": "77aa88bb99cc00dd", "running": True, "requiredParameters": [],
             "constrainHeaders": {}, "constrainBody": {}, "runs": [], "logs": {}},
            {"id": 3, "name": "deploy", "public": True, "assignees": ["farm"],
             "trigger": "d3p10y5ecr3t0k3n", "running": False, "requiredParameters": [],
             "constrainHeaders": {}, "constrainBody": {".ref": ["refs/heads/main"]},
             "runs": [], "logs": {}},
            {"id": 4, "name": "private-other", "public": False, "assignees": ["other"],
             "trigger": "0th3r0th3r0th3r0", "running": False, "requiredParameters": [],
             "constrainHeaders": {}, "constrainBody": {}, "runs": [], "logs": {}},
            {"id": 5, "name": "docs", "public": True, "assignees": ["other"],
             "trigger": "d0c5d0c5d0c5d0c5", "running": False, "requiredParameters": [],
             "constrainHeaders": {}, "constrainBody": {}, "runs": [], "logs": {}},
        ],
    }


def jspath(obj, path):
    """'.a.b' of obj, or KeyError."""
    for part in [p for p in path.split(".") if p]:
        if not isinstance(obj, dict) or part not in obj:
            raise KeyError(path)
        obj = obj[part]
    return obj


class Candor(fakelib.Platform):
    name = "candor"
    default_token = "candor-pass-4f1e9d"

    @classmethod
    def add_args(cls, parser):
        parser.add_argument("--runner-token", default="runner-token-9a8b7c",
                            help="the runner's RUNNER_TOKEN (default %(default)s)")

    def __init__(self, args, fake):
        super().__init__(args, fake)
        self.sessions = {}      # cookie value -> {"user", "expired"}
        self.logins = 0
        self.born_expired = False   # every new session expired at once (expire-sessions always)
        self.runner_logs = {}   # runId -> text

    def default_state(self):
        return default_state()

    def normalize_state(self, obj):
        if not isinstance(obj, dict) or not isinstance(obj.get("pipelines", []), list):
            raise ValueError("state must be {\"users\":[...],\"pipelines\":[...]}")
        obj.setdefault("users", [{"id": 1, "name": "farm"}])
        for p in obj.get("pipelines", []):
            if not isinstance(p, dict) or not isinstance(p.get("id"), int):
                raise ValueError("every pipeline needs an integer id")
            p.setdefault("name", "p%d" % p["id"])
            for k, v in (("public", True), ("assignees", ["farm"]), ("running", False),
                         ("requiredParameters", []), ("constrainHeaders", {}),
                         ("constrainBody", {}), ("runs", []), ("logs", {})):
                p.setdefault(k, v)
            p.setdefault("trigger", fakelib.det_hex(16, "candor-trigger", p["id"]))
        obj.setdefault("pipelines", [])
        return obj

    # control ------------------------------------------------------------
    def control(self, cmd, path, qs, obj):
        if path == "/__fake/expire-sessions" and cmd == "POST":
            with self.lock:
                for s in self.sessions.values():
                    s["expired"] = True
                self.born_expired = bool(obj.get("always"))
            return json_response(200, {"ok": True})
        if path == "/__fake/sessions" and cmd == "GET":
            with self.lock:
                return json_response(200, {"logins": self.logins, "live": sum(
                    1 for s in self.sessions.values() if not s["expired"])})
        return None

    # errors -------------------------------------------------------------
    def error(self, req, kind, retry_after=None):
        status = int(kind)
        headers = []
        if status == 429 and retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        text = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                429: "Too Many Requests", 500: "Internal Server Error"}.get(status, "Error")
        return text_response(status, text, headers, ctype="text/plain; charset=utf-8")

    def echo400(self, text):
        return json_response(400, {"message": text})

    # sessions -----------------------------------------------------------
    def _user(self, req):
        """(user name or None, expired?) of the request's session cookie."""
        cookie = req.headers.get("cookie", "")
        for part in cookie.split(";"):
            k, _, v = part.strip().partition("=")
            if k == COOKIE:
                with self.lock:
                    s = self.sessions.get(v)
                if s is None:
                    return None, False
                return (None, True) if s["expired"] else (s["user"], False)
        return None, False

    def _login(self, req):
        try:
            body = req.json()
        except fakelib.BadRequestBody:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("username"), str) or \
                not isinstance(body.get("password"), str):
            return text_response(400, "Bad Request")
        names = [u["name"] for u in self.state["users"]]
        if body["username"] not in names or not fakelib.const_eq(body["password"],
                                                                  self.args.token):
            return text_response(401, "Unauthorized")
        sid = secrets.token_hex(16)
        with self.lock:
            self.sessions[sid] = {"user": body["username"], "expired": self.born_expired}
            self.logins += 1
        return Response(200, b"OK", [("Set-Cookie", "%s=%s; Path=/; HttpOnly" % (COOKIE, sid))],
                        ctype="text/plain; charset=utf-8")

    # dashboard ----------------------------------------------------------
    def _find(self, pid):
        for p in self.state["pipelines"]:
            if str(p["id"]) == pid:
                return p
        return None

    @staticmethod
    def _last_runs(p):
        runs = sorted(p["runs"], key=lambda r: r["finish"], reverse=True)[:5]
        return runs

    def _summary(self, p):
        out = {"id": p["id"], "name": p["name"]}
        runs = self._last_runs(p)
        if runs:
            out["status"] = runs[0]["status"]
            out["stages"] = [s["status"] for s in runs[0]["stages"]]
            ok = [r["finish"] for r in runs if r["status"] == "Passed"]
            bad = [r["finish"] for r in runs if r["status"] != "Passed"]
            if ok:
                out["lastSuccess"] = max(ok)
            if bad:
                out["lastFailure"] = max(bad)
        return out

    def _detail(self, p, user):
        assigned = user in p["assignees"]
        return {"assigned": assigned, "id": p["id"], "name": p["name"],
                "running": p["running"], "public": p["public"],
                "lastRuns": self._last_runs(p),
                "trigger": p["trigger"] if assigned else "hidden",
                "assignees": p["assignees"], "requiredParameters": p["requiredParameters"]}

    def _trigger(self, req, token, user, expired):
        p = next((x for x in self.state["pipelines"] if x["trigger"] == token), None)
        if p is None:
            return text_response(404, "Not Found")
        if user is None or user not in p["assignees"]:
            return text_response(403, "Forbidden")
        if p["running"]:
            return text_response(400, "Bad Request")
        for h, want in p["constrainHeaders"].items():
            got = req.headers.get(h.lower())
            if got not in (want if isinstance(want, list) else [want]):
                return Response(204)
        try:
            body = req.json()
        except fakelib.BadRequestBody:
            body = {}
        for path, want in p["constrainBody"].items():
            try:
                got = jspath(body, path)
            except KeyError:
                return Response(204)
            if got not in (want if isinstance(want, list) else [want]):
                return Response(204)
        rid = secrets.token_hex(4)
        now = int(time.time() * 1000)
        params = body if isinstance(body, dict) else {}
        p["runs"].append(run(rid, now, "Passed",
                             [{"name": "Build", "status": "Passed", "exitCode": 0}]))
        p["runs"][-1]["finish"] = now
        p["logs"][rid] = "triggered by %s with %s\n" % (user, json.dumps(params,
                                                                        sort_keys=True))
        return text_response(200, "OK")

    def _dashboard(self, req):
        seg = req.segments
        user, expired = self._user(req)
        if req.method == "POST" and seg == ["login"]:
            return self._login(req)
        if req.method == "POST" and seg == ["logout"]:
            return text_response(200, "OK")
        if req.method == "GET" and seg == ["me"]:
            if user is None:
                return text_response(401, "Unauthorized")
            u = next(u for u in self.state["users"] if u["name"] == user)
            return json_response(200, {"id": u["id"], "name": u["name"]})
        if expired:
            return text_response(403, "Forbidden")  # what an expired session gets
        with self.lock:
            if req.method == "GET" and seg == ["api", "pipelines"]:
                return json_response(200, [self._summary(p) for p in self.state["pipelines"]
                                           if p["public"] or user in p["assignees"]])
            if req.method == "GET" and len(seg) == 3 and seg[:2] == ["api", "pipelines"]:
                p = self._find(seg[2])
                if p is None:
                    return text_response(404, "Not Found")
                if not p["public"] and user not in p["assignees"]:
                    return text_response(403, "Forbidden")
                return json_response(200, self._detail(p, user))
            if req.method == "GET" and len(seg) == 5 and seg[0:2] == ["api", "runs"] and \
                    seg[4] == "log":
                p = self._find(seg[2])
                if p is None or (not p["public"] and user not in p["assignees"]):
                    return text_response(404 if p is None else 403, "Not Found")
                rid = seg[3]
                if rid == "last":
                    runs = sorted(p["runs"], key=lambda r: r["start"], reverse=True)
                    rid = runs[0]["id"] if runs else None
                text = p["logs"].get(rid) if rid else None
                if text is None:
                    return text_response(404, "No log could be found")
                return text_response(200, text)
            if req.method == "POST" and len(seg) == 2 and seg[0] == "trigger":
                return self._trigger(req, seg[1], user, expired)
        return text_response(404, "Not Found")

    # runner -------------------------------------------------------------
    def _runner_auth(self, req):
        auth = req.headers.get("authorization")
        if auth is None or not auth.startswith("Bearer "):
            return text_response(400, "Bad Request")
        if not fakelib.const_eq(auth[7:], self.args.runner_token):
            return text_response(401, "Unauthorized")
        return None

    @staticmethod
    def _plan_ok(plan):
        if not isinstance(plan, dict) or not isinstance(plan.get("stages"), list):
            return False
        for s in plan["stages"]:
            if not isinstance(s, dict):
                return False
            for k in ("name", "image"):
                if not isinstance(s.get(k), str) or not s[k]:
                    return False
            for k in ("environment", "script"):
                v = s.get(k)
                if v is not None and (not isinstance(v, list) or
                                      not all(isinstance(x, str) for x in v)):
                    return False
            if s.get("runtime") is not None and not isinstance(s["runtime"], str):
                return False
        a = plan.get("archive")
        return a is None or (isinstance(a, list) and all(isinstance(x, str) for x in a))

    def _run(self, req):
        if "application/json" not in req.headers.get("content-type", ""):
            return text_response(415, "Unsupported Media Type")
        try:
            body = req.json()
        except fakelib.BadRequestBody:
            return text_response(400, "Bad Request")
        if not isinstance(body, dict) or not self._plan_ok(body.get("plan")):
            return text_response(400, "Bad Request")
        rid = body.get("runId") or secrets.token_hex(6)
        if not isinstance(rid, str):
            return text_response(400, "Bad Request")
        stages, status, log, failed = [], "Passed", [], False
        for s in body["plan"]["stages"]:
            if failed:
                stages.append({"name": s["name"], "status": "Skipped", "exitCode": -1})
                continue
            log.append("==> %s (%s)" % (s["name"], s["image"]))
            for e in s.get("environment") or []:
                log.append("env %s" % e)
            code = 0
            for line in s.get("script") or []:
                log.append("$ %s" % line)
                m = re.match(r"^\s*sleep\s+([0-9.]+)\s*$", line)
                if m:
                    time.sleep(float(m.group(1)))
                m = re.match(r"^\s*exit\s+(-?[0-9]+)\s*$", line)
                if m and int(m.group(1)) != 0:
                    code = int(m.group(1))
                    break
            if s["image"] == "error":
                stages.append({"name": s["name"], "status": "Error", "exitCode": -1})
                status, failed = "Error", True
            elif code:
                stages.append({"name": s["name"], "status": "Failed", "exitCode": code})
                status, failed = "Failed", True
            else:
                stages.append({"name": s["name"], "status": "Passed", "exitCode": 0})
        log.append("run %s: %s" % (rid, status))
        with self.lock:
            self.runner_logs[rid] = "\n".join(log) + "\n"
        out = {"status": status, "stages": stages}
        if status == "Passed" and body["plan"].get("archive"):
            out["archived"] = list(body["plan"]["archive"])
        return json_response(200, out)

    def _runner(self, req):
        seg = req.segments
        if req.method == "GET" and req.path == "/":
            return Response(200)
        refused = self._runner_auth(req)
        if refused is not None:
            return refused
        if req.method == "POST" and seg == ["run"]:
            return self._run(req)
        if req.method == "POST" and len(seg) == 2 and seg[0] == "logs":
            rid = seg[1]
            if not re.match(r"^[A-Za-z0-9_-]{1,128}$", rid):
                return text_response(400, "Bad Request")
            with self.lock:
                text = self.runner_logs.get(rid)
            if text is None:
                return text_response(404, "Not Found")
            return text_response(200, text)
        return text_response(404, "Not Found")

    def handle(self, req):
        seg = req.segments
        if req.path == "/" or (seg and seg[0] in ("run", "logs")):
            return self._runner(req)
        return self._dashboard(req)


if __name__ == "__main__":
    fakelib.main(Candor)
