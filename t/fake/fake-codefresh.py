#!/usr/bin/python3
"""fake-codefresh — an imitation of the Codefresh API (classic pipelines) for farm's tests.
Facts: /work/shared/design/providers.md §5 and seed 001.  See README.md.

Server:
  fake-codefresh.py [common flags] [--advance-after SECONDS]

Endpoints (all under /api; "Authorization: <API key>", the bare key, no scheme word):
  GET    /api/pipelines                    limit offset -> {"docs":[pipeline...],"count"}
  GET    /api/pipelines/{project%2Fname}   -> the pipeline ({"metadata":{"id","name",...},"spec"})
  POST   /api/pipelines/run/{project%2Fname}  {"branch","sha","variables","trigger",...}
                                           -> 200, the new build id as a JSON string
  GET    /api/workflow                     limit page pipeline(id) status branchName
                                           -> {"workflows":{"docs":[build...],"total","limit","page","pages"}}
  GET    /api/builds/{id}                  -> the build
  GET    /api/builds/rebuild/{id}          -> 200, the new build id as a JSON string
  DELETE /api/progress/{progressId}        -> 200 {} (the build becomes terminated)
Control (besides fakelib's):
  POST /__fake/advance {"buildId", "status"?}  moves a build to status (default: the next of
                                           pending -> running -> success)
"""

import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402
from fakelib import json_response  # noqa: E402

T0 = 1735725600  # 2025-01-01T10:00:00Z
STATUSES = ("pending", "elected", "running", "error", "success", "terminating", "terminated",
            "pending-approval", "delayed")
FINISHED = ("error", "success", "terminated")
NEXT = {"pending": "running", "elected": "running", "delayed": "running",
        "pending-approval": "running", "running": "success", "terminating": "terminated"}


def err(status, message, name, headers=None):
    return json_response(status, {"status": status, "code": str(1000 + status), "name": name,
                                  "message": message}, headers)


def oid(*parts):
    return fakelib.det_hex(24, "codefresh", *parts)


def pipeline_obj(name, trigger, repo):
    project = name.split("/", 1)[0]
    return {"metadata": {"id": oid("pipeline", name), "name": name, "project": project,
                         "projectId": oid("project", project),
                         "labels": {"tags": []}, "isPublic": False,
                         "created_at": fakelib.iso(T0 - 86400),
                         "updated_at": fakelib.iso(T0 - 3600), "accountId": oid("account")},
            "version": "1.0", "kind": "pipeline",
            "spec": {"triggers": [{"name": trigger, "type": "git", "repo": repo,
                                   "events": ["push.heads"], "branchRegex": "/.*/gi",
                                   "provider": "github", "disabled": False}],
                     "contexts": [], "variables": [], "steps": {}, "stages": []}}


def build_obj(pipeline, n, status, created, branch="main", trigger=None, rev=None,
              variables=None):
    bid = oid("build", pipeline["metadata"]["name"], n)
    name = pipeline["metadata"]["name"]
    repo = pipeline["spec"]["triggers"][0]["repo"]
    owner, repo_name = repo.split("/", 1)
    started = None if status in ("pending", "elected", "delayed", "pending-approval") \
        else fakelib.iso(created + 5)
    finished = fakelib.iso(created + 65) if status in FINISHED else None
    return {"id": bid, "status": status, "progress": oid("progress", bid),
            "created": fakelib.iso(created), "updated": fakelib.iso(created + 65),
            "started": started, "finished": finished,
            "pipelineName": name, "serviceName": name, "serviceId": pipeline["metadata"]["id"],
            "projectName": pipeline["metadata"]["project"],
            "repoOwner": owner, "repoName": repo_name, "branchName": branch,
            "revision": rev or fakelib.det_hex(40, "codefresh-rev", name, n),
            "commitMessage": "change #%d" % n, "commitAuthor": "alice",
            "commitURL": "https://github.com/%s/commit/%s" % (repo, fakelib.det_hex(
                40, "codefresh-rev", name, n)),
            "trigger": "build" if trigger is None else "webhook",
            "pipelineTriggerId": oid("trigger", name),
            "pipelineTriggerName": trigger or pipeline["spec"]["triggers"][0]["name"],
            "webhookTriggered": trigger is not None, "type": "build",
            "userName": "alice", "account": oid("account"),
            "variables": variables or {}, "_n": n, "_t": created}


def default_state():
    pipes = [pipeline_obj("demo/ci-build", "demo-push", "acme/api"),
             pipeline_obj("demo/deploy", "demo-deploy", "acme/api"),
             pipeline_obj("web/ci", "web-push", "acme/web")]
    builds = []
    cycle = ["success", "error", "success", "success", "terminated", "success"]
    for i in range(30):
        n = i + 1
        st = cycle[i % len(cycle)]  # all ended: a test makes one run (POST /__fake/advance)
        builds.append(build_obj(pipes[0], n, st, T0 + i * 3600,
                                branch="feature/login" if i % 4 == 3 else "main"))
    for i in range(3):
        builds.append(build_obj(pipes[2], i + 1, "success", T0 + 86400 + i * 7200))
    return {"pipelines": pipes, "builds": builds}


class Codefresh(fakelib.Platform):
    name = "codefresh"
    default_token = "cf-test-key.0123456789abcdef"

    @classmethod
    def add_args(cls, parser):
        parser.add_argument("--advance-after", type=float, default=0,
                            help="a build farm starts (run, rebuild) is running this many "
                                 "seconds after it was created and successful twice as "
                                 "many (0 = only POST /__fake/advance moves it)")

    def default_state(self):
        return default_state()

    def normalize_state(self, obj):
        if not isinstance(obj, dict) or not isinstance(obj.get("pipelines", []), list) or \
                not isinstance(obj.get("builds", []), list):
            raise ValueError("state must be {\"pipelines\": [...], \"builds\": [...]}")
        obj.setdefault("pipelines", [])
        obj.setdefault("builds", [])
        for b in obj["builds"]:
            if not isinstance(b, dict) or not isinstance(b.get("id"), str):
                raise ValueError("every build needs a string id")
            if b.get("status") not in STATUSES:
                raise ValueError("build %s: status must be one of %s" % (b["id"], STATUSES))
        return obj

    # auth ---------------------------------------------------------------
    def auth(self, req):
        h = req.headers.get("authorization")
        if not h:
            return err(401, "Authorization header is missing", "UNAUTHORIZED_ERROR")
        if not fakelib.const_eq(h.strip(), self.args.token):
            return err(401, "Invalid token", "UNAUTHORIZED_ERROR")
        return None

    def error(self, req, kind, retry_after=None):
        if kind == "401":
            return err(401, "Invalid token", "UNAUTHORIZED_ERROR")
        if kind == "403":
            return err(403, "Forbidden: missing scope", "FORBIDDEN_ERROR")
        if kind == "404":
            return err(404, "Not found", "NOT_FOUND_ERROR")
        if kind == "429":
            h = [("Retry-After", str(retry_after))] if retry_after is not None else []
            return err(429, "Too many requests", "RATE_LIMIT_ERROR", h)
        return err(500, "Internal server error", "INTERNAL_SERVER_ERROR")

    # data ---------------------------------------------------------------
    def _pipeline(self, name=None, pid=None):
        for p in self.state["pipelines"]:
            if (name is not None and p["metadata"]["name"] == name) or \
                    (pid is not None and p["metadata"]["id"] == pid):
                return p
        return None

    def _build(self, bid):
        for b in self.state["builds"]:
            if b["id"] == bid:
                return b
        return None

    def _tick(self):
        """--advance-after: builds farm started move on with time."""
        a = self.args.advance_after
        if not a or self.args.readonly:
            return
        now = time.time()
        for b in self.state["builds"]:
            if not b.get("_auto"):
                continue
            age = now - b["_t"]
            if b["status"] in ("pending", "elected") and age >= a:
                self._set(b, "running")
            if b["status"] == "running" and age >= 2 * a:
                self._set(b, "success")

    def _set(self, b, status):
        now = time.time()
        b["status"] = status
        b["updated"] = fakelib.iso(now)
        if status in ("running", "terminating") and not b.get("started"):
            b["started"] = fakelib.iso(now)
        if status in FINISHED:
            b["finished"] = fakelib.iso(now)
            if not b.get("started"):
                b["started"] = b["finished"]

    @staticmethod
    def _public(b):
        return {k: v for k, v in b.items() if not k.startswith("_")}

    def _new_build(self, pipe, branch, sha, trigger, variables):
        mine = [b["_n"] for b in self.state["builds"]
                if b.get("pipelineName") == pipe["metadata"]["name"]]
        n = max(mine + [0]) + 1
        b = build_obj(pipe, n, "pending", time.time(), branch=branch or "main",
                      rev=sha, variables=variables)
        b["started"] = b["finished"] = None
        b["updated"] = b["created"]
        b["trigger"] = "api"
        if trigger:
            b["pipelineTriggerName"] = trigger
        b["_auto"] = True
        if not self.args.readonly:
            self.state["builds"].append(b)
        return b

    def control(self, cmd, path, qs, obj):
        if path != "/__fake/advance" or cmd != "POST":
            return None
        with self.lock:
            b = self._build(obj.get("buildId"))
            if b is None:
                return json_response(404, {"error": "no such build"})
            st = obj.get("status") or NEXT.get(b["status"])
            if st not in STATUSES:
                return json_response(400, {"error": "status must be one of %s" % (STATUSES,)})
            self._set(b, st)
            self.fake.invalidate()
            return json_response(200, self._public(b))

    # requests -----------------------------------------------------------
    def handle(self, req):
        s = req.segments
        m = req.method
        if not s or s[0] != "api":
            return err(404, "Not found", "NOT_FOUND_ERROR")
        s = s[1:]
        raw = req.path.split("/")[2:]  # undecoded segments after /api
        with self.lock:
            self._tick()
            if s == ["pipelines"] and m == "GET":
                return self.list_pipelines(req)
            if len(s) == 2 and s[0] == "pipelines" and m == "GET":
                # the name travels %2F-encoded as one segment
                if "%2f" not in raw[1].lower():
                    return err(404, "Not found", "NOT_FOUND_ERROR")
                p = self._pipeline(name=s[1])
                if p is None:
                    return err(404, "Pipeline %s not found" % s[1], "PIPELINE_NOT_FOUND_ERROR")
                return json_response(200, p)
            if len(s) == 3 and s[:2] == ["pipelines", "run"] and m == "POST":
                if "%2f" not in raw[2].lower():
                    return err(404, "Not found", "NOT_FOUND_ERROR")
                return self.run(req, s[2])
            if s == ["workflow"] and m == "GET":
                return self.list_builds(req)
            if len(s) == 2 and s[0] == "builds" and m == "GET":
                b = self._build(s[1])
                if b is None:
                    return err(404, "Workflow %s not found" % s[1], "WORKFLOW_NOT_FOUND_ERROR")
                return json_response(200, self._public(b))
            if len(s) == 3 and s[:2] == ["builds", "rebuild"] and m == "GET":
                b = self._build(s[2])
                if b is None:
                    return err(404, "Workflow %s not found" % s[2], "WORKFLOW_NOT_FOUND_ERROR")
                pipe = self._pipeline(name=b["pipelineName"])
                nb = self._new_build(pipe, b["branchName"], b["revision"], None,
                                     b.get("variables"))
                return json_response(200, nb["id"])
            if len(s) == 2 and s[0] == "progress" and m == "DELETE":
                for b in self.state["builds"]:
                    if b["progress"] == s[1]:
                        if b["status"] in FINISHED:
                            return err(400, "Workflow already finished",
                                       "WORKFLOW_FINISHED_ERROR")
                        if not self.args.readonly:
                            self._set(b, "terminated")
                        return json_response(200, {})
                return err(404, "Progress %s not found" % s[1], "PROGRESS_NOT_FOUND_ERROR")
        return err(404, "Not found", "NOT_FOUND_ERROR")

    def _int(self, req, name, default, lo, hi):
        v = req.q(name)
        if v is None or v == "":
            return default
        n = int(v)  # ValueError -> 400 by the caller
        return max(lo, min(hi, n))

    def list_pipelines(self, req):
        try:
            limit = self._int(req, "limit", 100, 1, 1000)
            offset = self._int(req, "offset", 0, 0, 10 ** 9)
        except ValueError:
            return err(400, "limit and offset must be numbers", "VALIDATION_ERROR")
        docs = self.state["pipelines"]
        return json_response(200, {"docs": docs[offset:offset + limit], "count": len(docs)})

    def list_builds(self, req):
        try:
            limit = self._int(req, "limit", 10, 1, 100)
            page = self._int(req, "page", 1, 1, 10 ** 6)
        except ValueError:
            return err(400, "limit and page must be numbers", "VALIDATION_ERROR")
        items = list(self.state["builds"])
        pid = req.q("pipeline")
        if pid:
            p = self._pipeline(pid=pid)
            items = [b for b in items if p is not None and
                     b.get("pipelineName") == p["metadata"]["name"]]
        for field, q in (("status", "status"), ("branchName", "branchName"),
                         ("revision", "revision")):
            v = req.q(q)
            if v:
                items = [b for b in items if b.get(field) in v.split(",")]
        items.sort(key=lambda b: b["_t"], reverse=True)
        total = len(items)
        docs = [self._public(b) for b in items[(page - 1) * limit:page * limit]]
        return json_response(200, {"workflows": {"docs": docs, "total": total, "limit": limit,
                                                 "page": page,
                                                 "pages": (total + limit - 1) // limit}})

    def run(self, req, name):
        p = self._pipeline(name=name)
        if p is None:
            return err(404, "Pipeline %s not found" % name, "PIPELINE_NOT_FOUND_ERROR")
        try:
            body = req.json()
        except fakelib.BadRequestBody:
            return err(400, "Body is not valid JSON", "VALIDATION_ERROR")
        if not isinstance(body, dict):
            return err(400, "Body must be an object", "VALIDATION_ERROR")
        for k in ("branch", "sha", "trigger"):
            if k in body and not isinstance(body[k], str):
                return err(400, "%s must be a string" % k, "VALIDATION_ERROR")
        variables = body.get("variables", {})
        if not isinstance(variables, dict) or \
                not all(isinstance(v, str) for v in variables.values()):
            return err(400, "variables must be an object of strings", "VALIDATION_ERROR")
        trig = body.get("trigger")
        if trig and trig not in [t["name"] for t in p["spec"]["triggers"]]:
            return err(400, "Trigger %s not found" % trig, "TRIGGER_NOT_FOUND_ERROR")
        b = self._new_build(p, body.get("branch"), body.get("sha"), trig, variables)
        return json_response(200, b["id"])


if __name__ == "__main__":
    sys.exit(fakelib.main(Codefresh))
