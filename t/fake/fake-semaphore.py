#!/usr/bin/python3
"""fake-semaphore — an imitation of the Semaphore 2.0 API v1alpha for farm's tests.
Facts: /work/shared/design/providers.md §6 and seed 004.  See README.md.

Endpoints (all under /api/v1alpha; Authorization: Token <token>):
  GET   /pipelines?project_id=|wf_id=[&branch_name=][&page=]  JSON array, `link` paging
  GET   /pipelines/{id}[?detailed=true]    {"pipeline": {...}, "blocks": [...]}
  PATCH /pipelines/{id}                    {"terminate_request": true} -> 200
  GET   /plumber-workflows?project_id=     JSON array
  GET   /plumber-workflows/{id}            {"workflow": {...}}
  POST  /plumber-workflows                 form project_id, reference[, commit_sha,
                                           pipeline_file] -> 200 {workflow_id,pipeline_id,hook_id}
  POST  /plumber-workflows/{id}/reschedule?request_token=  -> 200 {wf_id, ppl_id}
  POST  /plumber-workflows/{id}/terminate  -> 200
"""

import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402
from fakelib import json_response, text_response  # noqa: E402

BASE_TS = 1735725600  # 2025-01-01T10:00:00Z
API = "/api/v1alpha"
RESULTS = ["passed", "failed", "passed", "stopped", "passed", "failed", "passed", "canceled"]


def uid(*parts):
    return fakelib.det_uuid("semaphore", *parts)


def ts_text(t):
    """The describe call's format: "2019-10-14 18:31:17.293456Z"."""
    if t is None:
        return "1970-01-01 00:00:00.000000Z"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + ".%06dZ" % int(
        round((t % 1) * 1e6))


def ts_obj(t):
    """The list call's format: {"seconds", "nanos"}."""
    if t is None:
        return {"seconds": 0, "nanos": 0}
    return {"seconds": int(t), "nanos": int(round((t % 1) * 1e9))}


def default_state():
    projects = [{"id": uid("project", "api"), "name": "api"},
                {"id": uid("project", "web"), "name": "web"}]
    pipelines = []

    def add(project, i, branch, state="done", result=None, reason="test"):
        created = BASE_TS + i * 600
        wf = uid("workflow", project["name"], i)
        pipelines.append({
            "ppl_id": uid("pipeline", project["name"], i), "wf_id": wf,
            "project_id": project["id"], "name": "Build & Test",
            "yaml_file_name": "semaphore.yml", "working_directory": ".semaphore",
            "branch_name": branch, "branch_id": uid("branch", project["name"], branch),
            "commit_sha": fakelib.det_hex(40, project["name"], i),
            "hook_id": uid("hook", project["name"], i), "switch_id": "",
            "state": state, "result": result if state == "done" else "",
            "result_reason": reason if state == "done" else "",
            "error_description": "", "terminate_request": "", "terminated_by": "",
            "snapshot_id": "",
            "created_at": created, "pending_at": created + 0.2, "queuing_at": created + 0.4,
            "running_at": created + 2 if state in ("running", "stopping", "done") else None,
            "stopping_at": None,
            "done_at": created + 95 + i if state == "done" else None,
            "blocks": [{"name": "Test", "block_id": uid("block", project["name"], i),
                        "jobs": [{"name": "unit", "job_id": uid("job", project["name"], i, 0),
                                  "index": 0},
                                 {"name": "lint", "job_id": uid("job", project["name"], i, 1),
                                  "index": 1}]}]})

    # api: 45 pipelines, so the 30-item pages give two; the newest is running
    for i in range(45):
        branch = "feature/login" if i % 4 == 3 else "main"
        if i == 44:
            add(projects[0], i, branch, "running")
        elif i == 13:
            add(projects[0], i, branch, "done", "failed", "malformed")
        else:
            add(projects[0], i, branch, "done", RESULTS[i % len(RESULTS)])
    for i in range(3):
        add(projects[1], 100 + i, "main", "done", "passed")
    return {"projects": projects, "pipelines": pipelines, "tokens": {}, "link_base": None}


def msg(status, text):
    return json_response(status, {"message": text})


class Semaphore(fakelib.Platform):
    name = "semaphore"
    default_token = "sem-test-token"

    @classmethod
    def add_args(cls, parser):
        parser.add_argument("--page-size", type=int, default=30,
                            help="items per page of list answers (default %(default)s)")

    def default_state(self):
        return default_state()

    def normalize_state(self, obj):
        if not isinstance(obj, dict):
            raise ValueError("state must be a JSON object")
        for k in ("projects", "pipelines"):
            if not isinstance(obj.get(k, []), list):
                raise ValueError("%s must be an array" % k)
        obj.setdefault("projects", [])
        obj.setdefault("pipelines", [])
        obj.setdefault("tokens", {})
        obj.setdefault("link_base", None)
        for p in obj["pipelines"]:
            if not isinstance(p, dict) or "ppl_id" not in p or "project_id" not in p:
                raise ValueError("every pipeline needs ppl_id and project_id")
        return obj

    # auth ---------------------------------------------------------------
    def auth(self, req):
        h = req.headers.get("authorization")
        if h is None or not h.startswith("Token ") or \
                not fakelib.const_eq(h[6:], self.args.token):
            return text_response(401, "Unauthorized")
        return None

    def error(self, req, kind, retry_after=None):
        if kind in ("401", "403"):
            return text_response(int(kind), "Unauthorized" if kind == "401" else "Forbidden")
        if kind == "404":
            return text_response(404, "Not Found")
        if kind == "429":
            h = [("Retry-After", str(retry_after))] if retry_after is not None else []
            return text_response(429, "Too Many Requests", h)
        return text_response(500, "Internal Server Error")

    def cache_ok(self, req):
        return True  # every GET is a pure read

    # shapes -------------------------------------------------------------
    @staticmethod
    def _listed(p):
        """The list call's shape: upper-case words, {seconds, nanos} timestamps."""
        out = {k: v for k, v in p.items() if k != "blocks"}
        out["state"] = p["state"].upper()
        out["result"] = p["result"].upper()
        out["result_reason"] = p["result_reason"].upper()
        for k in ("created_at", "pending_at", "queuing_at", "running_at", "stopping_at",
                  "done_at"):
            out[k] = ts_obj(p[k])
        return out

    @staticmethod
    def _described(p, detailed):
        out = {k: v for k, v in p.items() if k != "blocks"}
        for k in ("created_at", "pending_at", "queuing_at", "running_at", "stopping_at",
                  "done_at"):
            out[k] = ts_text(p[k])
        blocks = []
        if detailed:
            for b in p["blocks"]:
                st = "done" if p["state"] == "done" else p["state"]
                jr = p["result"].upper() if p["state"] == "done" else ""
                blocks.append({"state": st, "result": p["result"],
                               "result_reason": p["result_reason"], "name": b["name"],
                               "block_id": b["block_id"], "build_req_id": uid("req", b["block_id"]),
                               "error_description": "",
                               "jobs": [{"status": "FINISHED" if p["state"] == "done"
                                         else "RUNNING", "result": jr, "name": j["name"],
                                         "job_id": j["job_id"], "index": j["index"]}
                                        for j in b["jobs"]]})
        return {"pipeline": out, "blocks": blocks}

    def _pipeline(self, pid):
        for p in self.state["pipelines"]:
            if p["ppl_id"] == pid:
                return p
        return None

    def _project(self, pid):
        for p in self.state["projects"]:
            if p["id"] == pid:
                return p
        return None

    # routing ------------------------------------------------------------
    def handle(self, req):
        s = req.segments
        if len(s) < 2 or "/" + s[0] + "/" + s[1] != API:
            return text_response(404, "Not Found")
        s = s[2:]
        m = req.method
        with self.lock:
            if s == ["pipelines"] and m == "GET":
                return self.list_pipelines(req)
            if len(s) == 2 and s[0] == "pipelines":
                p = self._pipeline(s[1])
                if p is None:
                    return text_response(404, "Not Found")
                if m == "GET":
                    return json_response(200, self._described(
                        p, (req.q("detailed") or "").lower() == "true"))
                if m == "PATCH":
                    return self.terminate(req, p)
            if s == ["plumber-workflows"] and m == "GET":
                if not self._project(req.q("project_id") or ""):
                    return text_response(404, "Not Found")
                return json_response(200, [self._workflow(p) for p in self._sorted(
                    p for p in self.state["pipelines"] if p["project_id"] == req.q("project_id"))])
            if s == ["plumber-workflows"] and m == "POST":
                return self.run(req)
            if len(s) >= 2 and s[0] == "plumber-workflows":
                ps = [p for p in self.state["pipelines"] if p["wf_id"] == s[1]]
                if not ps:
                    return text_response(404, "Not Found")
                if len(s) == 2 and m == "GET":
                    return json_response(200, {"workflow": self._workflow(ps[0])})
                if s[2:] == ["reschedule"] and m == "POST":
                    return self.reschedule(req, ps[0])
                if s[2:] == ["terminate"] and m == "POST":
                    for p in ps:
                        self._stop(p)
                    return json_response(200, {})
        return text_response(404, "Not Found")

    @staticmethod
    def _sorted(pipes):
        return sorted(pipes, key=lambda p: p["created_at"], reverse=True)

    @staticmethod
    def _workflow(p):
        return {"wf_id": p["wf_id"], "requester_id": uid("user", "alice"),
                "project_id": p["project_id"], "initial_ppl_id": p["ppl_id"],
                "hook_id": p["hook_id"], "created_at": ts_obj(p["created_at"]),
                "commit_sha": p["commit_sha"], "branch_name": p["branch_name"],
                "branch_id": p["branch_id"]}

    def list_pipelines(self, req):
        project, wf = req.q("project_id"), req.q("wf_id")
        if not project and not wf:
            return msg(400, "Either 'project_id' or 'wf_id' parameters are required.")
        if project and not self._project(project):
            return text_response(404, "Not Found")
        pipes = [p for p in self.state["pipelines"]
                 if (not project or p["project_id"] == project) and (not wf or p["wf_id"] == wf)]
        if req.q("branch_name") is not None:
            pipes = [p for p in pipes if p["branch_name"] == req.q("branch_name")]
        pipes = self._sorted(pipes)
        try:
            page = int(req.q("page") or "1")
            if page < 1:
                raise ValueError
        except ValueError:
            return msg(400, "Invalid page number.")
        n = max(1, self.args.page_size)
        items = pipes[(page - 1) * n:page * n]
        last = max(1, (len(pipes) + n - 1) // n)
        base = (self.state.get("link_base") or req.base) + API + "/pipelines"

        def link(pg, rel):
            q = [(k, v[0]) for k, v in req.query.items() if k != "page"] + [("page", str(pg))]
            return '<%s?%s>; rel="%s"' % (base, urllib.parse.urlencode(q), rel)
        links = [link(1, "first")]
        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < last:
            links.append(link(page + 1, "next"))
        return json_response(200, [self._listed(p) for p in items],
                             [("link", ", ".join(links)), ("per-page", str(n)),
                              ("total", str(len(pipes)))])

    def _stop(self, p):
        if not self.args.readonly and p["state"] != "done":
            now = time.time()
            p.update(state="done", result="stopped", result_reason="user",
                     stopping_at=now, done_at=now, terminate_request="true",
                     terminated_by=uid("user", "alice"))

    def terminate(self, req, p):
        try:
            body = req.json()
        except fakelib.BadRequestBody:
            return msg(400, "Invalid JSON body.")
        if not isinstance(body, dict) or body.get("terminate_request") is not True:
            return msg(400, "Value of 'terminate_request' field must be boolean value 'true'.")
        self._stop(p)
        return json_response(200, {"message": "Pipeline termination started."})

    def run(self, req):
        f = req.form()
        if "application/json" in req.headers.get("content-type", ""):
            try:
                body = req.json()
            except fakelib.BadRequestBody:
                return msg(400, "Invalid JSON body.")
            if isinstance(body, dict):
                f = {k: [v] for k, v in body.items()}
        project = (f.get("project_id") or [None])[0]
        ref = (f.get("reference") or [None])[0]
        if not project or not ref:
            return msg(400, "Missing required post parameter: %s." %
                       ("project_id" if not project else "reference"))
        if not self._project(project):
            return text_response(404, "Not Found")
        if not (ref.startswith("refs/heads/") or ref.startswith("refs/tags/") or
                ref.startswith("refs/pull/")):
            return msg(400, "Invalid value of 'reference' field: %s" % ref)
        sha = (f.get("commit_sha") or [None])[0]
        now = time.time()
        wf, ppl = uid("workflow", project, ref, now), uid("pipeline", project, ref, now)
        if not self.args.readonly:
            self.state["pipelines"].append(self._new(project, wf, ppl, ref, sha, now))
        return json_response(200, {"workflow_id": wf, "pipeline_id": ppl,
                                   "hook_id": uid("hook", wf)})

    @staticmethod
    def _new(project, wf, ppl, ref, sha, now):
        branch = ref.split("/", 2)[2] if ref.startswith("refs/heads/") else ref
        return {"ppl_id": ppl, "wf_id": wf, "project_id": project, "name": "Build & Test",
                "yaml_file_name": "semaphore.yml", "working_directory": ".semaphore",
                "branch_name": branch, "branch_id": uid("branch", project, branch),
                "commit_sha": sha or fakelib.det_hex(40, project, ref, now),
                "hook_id": uid("hook", wf), "switch_id": "", "state": "pending", "result": "",
                "result_reason": "", "error_description": "", "terminate_request": "",
                "terminated_by": "", "snapshot_id": "", "created_at": now, "pending_at": now,
                "queuing_at": None, "running_at": None, "stopping_at": None, "done_at": None,
                "blocks": [{"name": "Test", "block_id": uid("block", ppl),
                            "jobs": [{"name": "unit", "job_id": uid("job", ppl, 0),
                                      "index": 0}]}]}

    def reschedule(self, req, p):
        tok = req.q("request_token")
        if not tok:
            return msg(400, "Missing required post parameter: request_token.")
        seen = self.state["tokens"].get(tok)
        if seen:  # idempotent: the same token is the same rerun
            return json_response(200, seen)
        now = time.time()
        wf, ppl = uid("workflow", p["wf_id"], tok), uid("pipeline", p["wf_id"], tok)
        answer = {"wf_id": wf, "ppl_id": ppl}
        if not self.args.readonly:
            ref = "refs/heads/" + p["branch_name"]
            self.state["pipelines"].append(self._new(p["project_id"], wf, ppl, ref,
                                                     p["commit_sha"], now))
            self.state["tokens"][tok] = answer
        return json_response(200, answer)


if __name__ == "__main__":
    sys.exit(fakelib.main(Semaphore))
