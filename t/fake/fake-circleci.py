#!/usr/bin/python3
"""fake-circleci — an imitation of the CircleCI API v2 for farm's tests.
Facts: /work/shared/design/providers.md §2.  See README.md.

Endpoints (all under /api/v2):
  GET  /me
  GET  /pipeline                      org-slug mine page-token
  GET  /pipeline/{id}
  GET  /pipeline/{id}/workflow        page-token
  GET  /project/{slug}                slug gh/org/repo, raw or %2F-encoded
  GET  /project/{slug}/pipeline       branch page-token
  GET  /project/{slug}/pipeline/mine  page-token
  GET  /project/{slug}/pipeline/{number}
  POST /project/{slug}/pipeline       {"branch"|"tag", "parameters"} -> 201
  POST /project/{slug}/pipeline/run   {"definition_id","config","checkout","parameters"} -> 201
  GET  /workflow/{id}
  GET  /workflow/{id}/job
  POST /workflow/{id}/cancel          -> 202
  POST /workflow/{id}/rerun           -> 202
"""

import base64
import copy
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402
from fakelib import json_response, Response  # noqa: E402

BASE_TS = 1735725600  # 2025-01-01T10:00:00Z
AVATAR = "https://avatars.githubusercontent.com/u/%d?v=4"


def msg(status, text, headers=None):
    return json_response(status, {"message": text}, headers)


def default_state():
    me = {"id": fakelib.det_uuid("circleci-user", "alice"), "login": "alice",
          "name": "Alice Example"}
    projects = ["gh/acme/api", "gh/acme/web"]
    pipelines, workflows = [], []
    actors = [("alice", 1001), ("bob", 1002)]
    wf_status = ["running", "success", "failed", "success", "on_hold", "success",
                 "canceled", "success", "failed", "success"]

    def add(slug, number, i, branch, state="created", errors=None, trig="webhook"):
        created = BASE_TS + i * 3600
        login, uid = actors[i % 2]
        repo = "https://github.com/" + slug.split("/", 1)[1]
        pid = fakelib.det_uuid("circleci-pipeline", slug, number)
        p = {"id": pid, "errors": errors or [], "project_slug": slug,
             "updated_at": fakelib.iso(created + 1), "number": number, "state": state,
             "created_at": fakelib.iso(created),
             "trigger": {"received_at": fakelib.iso(created - 0.4), "type": trig,
                         "actor": {"login": login, "avatar_url": AVATAR % uid}},
             "vcs": {"origin_repository_url": repo, "target_repository_url": repo,
                     "revision": fakelib.det_hex(40, slug, number),
                     "provider_name": "GitHub",
                     "commit": {"body": "" if i % 3 else "Longer description.\n\nSigned-off-by: "
                                "%s" % login, "subject": "change #%d on %s" % (number, branch)},
                     "branch": branch}}
        if trig == "api":
            p["trigger_parameters"] = {"deploy": "false"}
        pipelines.append(p)
        if state == "errored":
            return
        st = wf_status[(len(pipelines) - 1) % len(wf_status)]
        if number == 125 and slug == "gh/acme/api":
            st = "running"
        w = {"pipeline_id": pid, "id": fakelib.det_uuid("circleci-workflow", slug, number),
             "name": "build-test-deploy", "project_slug": slug, "status": st,
             "started_by": fakelib.det_uuid("circleci-user", login),
             "pipeline_number": number, "created_at": fakelib.iso(created + 2, ms=False),
             "stopped_at": None if st in ("running", "on_hold")
             else fakelib.iso(created + 2 + 95 + i, ms=False)}
        if st == "canceled":
            w["canceled_by"] = w["started_by"]
        workflows.append(w)

    # gh/acme/api: 25 pipelines (#101..#125), so the default page size (20) gives 2 pages
    for i in range(25):
        n = 101 + i
        branch = "feature/login" if i % 3 == 2 else "main"
        if n == 110:
            add("gh/acme/api", n, i, branch, "errored",
                [{"type": "config", "message": "Config does not conform to schema: "
                  "{:workflows {:build-test-deploy {:jobs [{:test missing-required-key}]}}}"}])
        else:
            add("gh/acme/api", n, i, branch, trig="api" if n == 120 else "webhook")
    for i in range(3):
        add("gh/acme/web", 7 + i, 30 + i, "main")
    return {"me": me, "projects": projects, "pipelines": pipelines, "workflows": workflows}


class CircleCI(fakelib.Platform):
    name = "circleci"
    default_token = "circle-test-token"

    @classmethod
    def add_args(cls, parser):
        parser.add_argument("--page-size", type=int, default=20,
                            help="items per page of list answers (default %(default)s)")

    def default_state(self):
        return default_state()

    def normalize_state(self, obj):
        if not isinstance(obj, dict):
            raise ValueError("state must be a JSON object")
        me = obj.get("me") or {"id": fakelib.det_uuid("circleci-user", "alice"),
                               "login": "alice", "name": "Alice Example"}
        projects = obj.get("projects", [])
        pipelines = obj.get("pipelines", [])
        workflows = obj.get("workflows", [])
        if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
            raise ValueError("projects must be an array of slugs (gh/org/repo)")
        if not isinstance(pipelines, list) or not isinstance(workflows, list):
            raise ValueError("pipelines and workflows must be arrays")
        for p in pipelines:
            if not isinstance(p, dict) or not isinstance(p.get("project_slug"), str) \
                    or "id" not in p or "number" not in p:
                raise ValueError("every pipeline needs id, number and project_slug")
            if p["project_slug"] not in projects:
                projects.append(p["project_slug"])
        for w in workflows:
            if not isinstance(w, dict) or "id" not in w or "pipeline_id" not in w:
                raise ValueError("every workflow needs id and pipeline_id")
        return {"me": me, "projects": projects, "pipelines": pipelines,
                "workflows": workflows}

    # auth ---------------------------------------------------------------
    def auth(self, req):
        tok = req.headers.get("circle-token")
        if tok is None:
            bc = fakelib.basic_credentials(req.headers)
            if bc is not None:
                tok = bc[0]
        if tok is None and "circle-token" in req.query:
            return msg(401, "Support for query parameter authentication has been "
                            "deprecated. Use the Circle-Token header instead.")
        if tok is None or tok == "":
            return msg(401, "You must log in first.")
        if not fakelib.const_eq(tok, self.args.token):
            return msg(401, "Invalid token provided.")
        return None

    def error(self, req, kind, retry_after=None):
        if kind == "401":
            return msg(401, "Invalid token provided.")
        if kind == "403":
            return msg(403, "Permission denied")
        if kind == "404":
            return msg(404, "Project not found")
        if kind == "429":
            h = [("RateLimit-Limit", "10"), ("RateLimit-Remaining", "0"),
                 ("RateLimit-Reset", str(retry_after or 7)),
                 ("X-RateLimit-Limit-Minute", "10"), ("X-RateLimit-Remaining", "0")]
            if retry_after is not None:
                h.insert(0, ("Retry-After", str(retry_after)))
            return msg(429, "Rate limit exceeded.", h)
        return msg(500, "Internal server error")

    def html_page(self, req):
        return Response(200, "<!DOCTYPE html><html><head><title>CircleCI</title></head><body>"
                        "<h1>We'll be right back</h1><p>CircleCI is down for scheduled "
                        "maintenance.</p></body></html>\n", ctype="text/html; charset=utf-8")

    # helpers ------------------------------------------------------------
    def _page(self, req, items):
        tok = req.q("page-token")
        off = 0
        if tok:
            try:
                raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode()
                if not raw.startswith("o="):
                    raise ValueError(raw)
                off = int(raw[2:])
                if off < 0:
                    raise ValueError(raw)
            except (ValueError, UnicodeDecodeError):
                return None
        n = max(1, self.args.page_size)
        page = items[off:off + n]
        nxt = None
        if off + n < len(items):
            nxt = base64.urlsafe_b64encode(("o=%d" % (off + n)).encode()).decode().rstrip("=")
        return {"next_page_token": nxt, "items": page}

    def _paged(self, req, items):
        body = self._page(req, items)
        if body is None:
            return msg(400, "Invalid page-token.")
        return json_response(200, body)

    @staticmethod
    def _sorted(pipes):
        return sorted(pipes, key=lambda p: (p.get("created_at") or "", p.get("number") or 0),
                      reverse=True)

    def _project_split(self, req):
        """For /api/v2/project/...: (slug, rest segments) with %2F handled."""
        segs = []
        for raw in req.path.split("/")[4:]:
            segs.extend(urllib.parse.unquote(raw).split("/"))
        # slug is everything before the last 'pipeline' segment that is followed
        # by nothing, a number, 'mine' or 'run'
        for i in range(len(segs) - 1, -1, -1):
            if segs[i] == "pipeline":
                rest = segs[i + 1:]
                if rest in ([], [""]) or (len(rest) == 1 and (rest[0].isdigit() or
                                                                rest[0] in ("mine", "run"))):
                    return "/".join(segs[:i]), segs[i:]
        if segs and segs[-1] == "":
            segs = segs[:-1]
        return "/".join(segs), []

    # routing ------------------------------------------------------------
    def cache_ok(self, req):
        return True     # every GET here is a pure read

    def handle(self, req):
        s = req.segments
        if len(s) < 2 or s[0] != "api" or s[1] != "v2":
            return msg(404, "Not found")
        s = s[2:]
        if s and s[-1] == "" and len(s) > 1:
            s = s[:-1]
        m = req.method
        with self.lock:
            if s == ["me"] and m == "GET":
                return json_response(200, self.state["me"])
            if s and s[0] == "project":
                return self.project(req)
            if s == ["pipeline"] and m == "GET":
                return self.org_pipelines(req)
            if len(s) >= 2 and s[0] == "pipeline":
                p = self._pipeline_by_id(s[1])
                if p is None:
                    return msg(404, "Pipeline not found")
                if len(s) == 2 and m == "GET":
                    return json_response(200, p)
                if len(s) == 3 and s[2] == "workflow" and m == "GET":
                    wfs = [w for w in self.state["workflows"] if w.get("pipeline_id") == p["id"]]
                    wfs.sort(key=lambda w: w.get("created_at") or "", reverse=True)
                    return self._paged(req, wfs)
            if len(s) >= 2 and s[0] == "workflow":
                return self.workflow(req, s)
        return msg(404, "Not found")

    def _pipeline_by_id(self, pid):
        for p in self.state["pipelines"]:
            if p["id"] == pid:
                return p
        return None

    def project(self, req):
        slug, rest = self._project_split(req)
        if slug not in self.state["projects"]:
            return msg(404, "Project not found")
        m = req.method
        if not rest:
            if m != "GET":
                return msg(404, "Not found")
            parts = slug.split("/")
            return json_response(200, {
                "slug": slug, "name": parts[-1], "id": fakelib.det_uuid("circleci-project", slug),
                "organization_name": parts[1] if len(parts) > 2 else parts[0],
                "organization_slug": "/".join(parts[:2]),
                "organization_id": fakelib.det_uuid("circleci-org", "/".join(parts[:2])),
                "vcs_info": {"vcs_url": "https://github.com/" + "/".join(parts[1:]),
                             "provider": "GitHub", "default_branch": "main"}})
        pipes = [p for p in self.state["pipelines"] if p["project_slug"] == slug]
        if rest in (["pipeline"], ["pipeline", ""]):
            if m == "GET":
                br = req.q("branch")
                if br is not None:
                    pipes = [p for p in pipes if (p.get("vcs") or {}).get("branch") == br]
                return self._paged(req, self._sorted(pipes))
            if m == "POST":
                return self.trigger(req, slug, pipes, legacy=True)
            return msg(404, "Not found")
        if rest == ["pipeline", "run"] and m == "POST":
            return self.trigger(req, slug, pipes, legacy=False)
        if rest == ["pipeline", "mine"] and m == "GET":
            me = self.state["me"].get("login")
            pipes = [p for p in pipes if ((p.get("trigger") or {}).get("actor") or {})
                     .get("login") == me]
            return self._paged(req, self._sorted(pipes))
        if len(rest) == 2 and rest[1].isdigit() and m == "GET":
            for p in pipes:
                if str(p["number"]) == rest[1]:
                    return json_response(200, p)
            return msg(404, "Pipeline not found")
        return msg(404, "Not found")

    def org_pipelines(self, req):
        org = req.q("org-slug")
        pipes = self.state["pipelines"]
        if org:
            org = org.strip("/")
            if not any(p == org or p.startswith(org + "/") for p in self.state["projects"]):
                return msg(404, "Organization not found")
            pipes = [p for p in pipes if p["project_slug"].startswith(org + "/")]
        if (req.q("mine") or "").lower() == "true":
            me = self.state["me"].get("login")
            pipes = [p for p in pipes if ((p.get("trigger") or {}).get("actor") or {})
                     .get("login") == me]
        return self._paged(req, self._sorted(pipes))

    def trigger(self, req, slug, pipes, legacy):
        try:
            body = req.json()
        except fakelib.BadRequestBody:
            return msg(400, "Unexpected request body provided.")
        if not isinstance(body, dict):
            return msg(400, "Unexpected request body provided.")
        if legacy:
            allowed = {"branch", "tag", "parameters"}
            branch, tag = body.get("branch"), body.get("tag")
        else:
            allowed = {"definition_id", "config", "checkout", "parameters"}
            cfg = body.get("config") or {}
            chk = body.get("checkout") or {}
            if not isinstance(cfg, dict) or not isinstance(chk, dict):
                return msg(400, "Unexpected request body provided.")
            branch = chk.get("branch") or cfg.get("branch")
            tag = chk.get("tag") or cfg.get("tag")
        if set(body) - allowed:
            return msg(400, "Unexpected request body provided.")
        if branch is not None and tag is not None:
            return msg(400, "Only one of branch or tag may be specified.")
        for v, what in ((branch, "branch"), (tag, "tag")):
            if v is not None and (not isinstance(v, str) or not v):
                return msg(400, "%s must be a non-empty string" % what)
        params = body.get("parameters", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            return msg(400, "parameters must be an object")
        if len(params) > 100:
            return msg(400, "Too many pipeline parameters (max 100).")
        for k, v in params.items():
            if len(k) > 128 or (isinstance(v, str) and len(v) > 512):
                return msg(400, "Pipeline parameter keys must be at most 128 characters "
                                "and values at most 512 characters.")
        number = max([p["number"] for p in pipes] + [0]) + 1
        now = time.time()
        pid = fakelib.det_uuid("circleci-pipeline", slug, number, now)
        answer = {"id": pid, "state": "pending", "number": number,
                  "created_at": fakelib.iso(now)}
        if not self.args.readonly:
            repo = "https://github.com/" + slug.split("/", 1)[-1]
            me = self.state["me"]
            vcs = {"origin_repository_url": repo, "target_repository_url": repo,
                   "revision": fakelib.det_hex(40, slug, number, now),
                   "provider_name": "GitHub",
                   "commit": {"body": "", "subject": "triggered via API"}}
            if tag is not None:
                vcs["tag"] = tag
            else:
                vcs["branch"] = branch or "main"
            p = {"id": pid, "errors": [], "project_slug": slug,
                 "updated_at": fakelib.iso(now), "number": number, "state": "created",
                 "created_at": fakelib.iso(now),
                 "trigger": {"received_at": fakelib.iso(now), "type": "api",
                             "actor": {"login": me.get("login"),
                                       "avatar_url": AVATAR % 1001}},
                 "vcs": vcs}
            if params:
                p["trigger_parameters"] = copy.deepcopy(params)
            self.state["pipelines"].append(p)
            self.state["workflows"].append({
                "pipeline_id": pid, "id": fakelib.det_uuid("circleci-workflow", pid),
                "name": "build-test-deploy", "project_slug": slug, "status": "running",
                "started_by": me.get("id"), "pipeline_number": number,
                "created_at": fakelib.iso(now, ms=False), "stopped_at": None})
        return json_response(201, answer)

    def workflow(self, req, s):
        wf = None
        for w in self.state["workflows"]:
            if w["id"] == s[1]:
                wf = w
                break
        if wf is None:
            return msg(404, "Workflow not found")
        m = req.method
        if len(s) == 2 and m == "GET":
            return json_response(200, wf)
        if len(s) == 3 and s[2] == "job" and m == "GET":
            st = wf.get("status")
            jst = {"on_hold": "on_hold", "failing": "failed", "error": "infrastructure_fail"}.get(
                st, st)
            job = {"dependencies": [], "job_number": wf.get("pipeline_number", 0) * 3,
                   "id": fakelib.det_uuid("circleci-job", wf["id"]), "started_at":
                   wf.get("created_at"), "name": "build", "project_slug": wf.get("project_slug"),
                   "status": jst, "type": "build", "stopped_at": wf.get("stopped_at")}
            return self._paged(req, [job])
        if len(s) == 3 and s[2] == "cancel" and m == "POST":
            if not self.args.readonly and wf.get("status") in ("running", "on_hold", "failing"):
                wf["status"] = "canceled"
                wf["stopped_at"] = fakelib.iso(time.time(), ms=False)
                wf["canceled_by"] = self.state["me"].get("id")
            return msg(202, "Accepted.")
        if len(s) == 3 and s[2] == "rerun" and m == "POST":
            try:
                body = req.json()
            except fakelib.BadRequestBody:
                return msg(400, "Unexpected request body provided.")
            if not isinstance(body, dict) or set(body) - {"from_failed", "jobs", "enable_ssh",
                                                          "sparse_tree"}:
                return msg(400, "Unexpected request body provided.")
            now = time.time()
            nid = fakelib.det_uuid("circleci-workflow", wf["id"], now)
            if not self.args.readonly:
                nw = dict(wf, id=nid, status="running", created_at=fakelib.iso(now, ms=False),
                          stopped_at=None, started_by=self.state["me"].get("id"))
                nw.pop("canceled_by", None)
                self.state["workflows"].append(nw)
            return json_response(202, {"workflow_id": nid})
        return msg(404, "Not found")


if __name__ == "__main__":
    sys.exit(fakelib.main(CircleCI))
