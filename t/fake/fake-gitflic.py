#!/usr/bin/python3
"""fake-gitflic — an imitation of the GitFlic CI/CD REST API for farm's tests.
Facts: /work/shared/design/providers.md §7 and seed 002.  See README.md.

Endpoints (at the API root: https://api.gitflic.ru, or --prefix /rest-api as a
self-hosted server; Authorization: token <token>):
  GET  /project/{owner}/{project}/cicd/pipeline?page=&size=   HATEOAS page, newest first
  GET  /project/{owner}/{project}/cicd/pipeline/{localId}
  GET  /project/{owner}/{project}/cicd/pipeline/{localId}/jobs?page=&size=
  POST /project/{owner}/{project}/cicd/pipeline/start   {"refName","isTag","variables"} -> 200 Pipeline
  POST /project/{owner}/{project}/cicd/pipeline/{localId}/restart  -> 200
  POST /project/{owner}/{project}/cicd/pipeline/{localId}/cancel   -> 200
"""

import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402
from fakelib import json_response, Response  # noqa: E402

BASE_TS = 1735725600  # 2025-01-01T10:00:00Z
STATUSES = ["SUCCESS", "FAILED", "SUCCESS", "CANCELED", "SUCCESS", "WARNING", "SUCCESS", "SKIPPED"]
TERMINAL = ("SUCCESS", "FAILED", "CANCELED", "SKIPPED", "WARNING")


def local_ts(t):
    """GitFlic's zone-less timestamps: "2024-09-19T15:08:11.026116"."""
    if t is None:
        return None
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")


def uid(*parts):
    return fakelib.det_uuid("gitflic", *parts)


def spring(status, error, message, path=""):
    """Spring Boot's error body (GitFlic's documented codes: 403, 404, 422)."""
    return json_response(status, {"timestamp": local_ts(time.time()), "status": status,
                                  "error": error, "message": message, "path": path})


def new_pipeline(project, n, status, ref, created, source="PUSH"):
    done = status in TERMINAL
    return {"id": uid("pipeline", project, n), "status": status,
            "duration": (60 + n) if done else None, "localId": n,
            "commitId": fakelib.det_hex(40, project, n), "projectId": uid("project", project),
            "userId": uid("user", "alice"), "beforeCommitId": None, "ref": ref,
            "source": source, "configSource": None,
            "failureReason": "script failure" if status == "FAILED" else None,
            "startedAt": local_ts(created + 3) if status != "CREATED" else None,
            "finishedAt": local_ts(created + 63 + n) if done else None,
            "createdAt": local_ts(created), "tag": False}


def default_state():
    projects = {"acme/api": [], "acme/web": []}
    for n in range(1, 26):
        st = "RUNNING" if n == 25 else STATUSES[n % len(STATUSES)]
        projects["acme/api"].append(new_pipeline("acme/api", n, st,
                                                 "feature/login" if n % 5 == 0 else "master",
                                                 BASE_TS + n * 600))
    for n in (1, 2):
        projects["acme/web"].append(new_pipeline("acme/web", n, "SUCCESS", "master",
                                                 BASE_TS + n * 700))
    return {"projects": projects}


class GitFlic(fakelib.Platform):
    name = "gitflic"
    default_token = "gitflic-test-token"

    @classmethod
    def add_args(cls, parser):
        parser.add_argument("--max-size", type=int, default=100,
                            help="largest page size served (default %(default)s)")

    def default_state(self):
        return default_state()

    def normalize_state(self, obj):
        if not isinstance(obj, dict) or not isinstance(obj.get("projects"), dict):
            raise ValueError("state must be {\"projects\": {\"owner/project\": [Pipeline...]}}")
        for k, v in obj["projects"].items():
            if k.count("/") != 1 or not isinstance(v, list):
                raise ValueError("projects: owner/project -> array of pipelines")
            for p in v:
                if not isinstance(p, dict) or not isinstance(p.get("localId"), int):
                    raise ValueError("every pipeline needs a localId (integer)")
        return obj

    # auth ---------------------------------------------------------------
    def auth(self, req):
        h = req.headers.get("authorization")
        if h is None or not h.startswith("token ") or \
                not fakelib.const_eq(h[6:], self.args.token):
            return spring(401, "Unauthorized", "Full authentication is required to access "
                          "this resource", req.path)
        return None

    def error(self, req, kind, retry_after=None):
        if kind == "401":
            return spring(401, "Unauthorized", "Full authentication is required to access "
                          "this resource")
        if kind == "403":
            return spring(403, "Forbidden", "No access rights")
        if kind == "404":
            return spring(404, "Not Found", "No data found for the request")
        if kind == "429":
            h = [("Retry-After", str(retry_after))] if retry_after is not None else []
            return json_response(429, {"status": 429, "error": "Too Many Requests",
                                       "message": "Rate limit of 500 requests per hour "
                                                  "exceeded"}, h)
        return spring(500, "Internal Server Error", "Internal Server Error")

    def cache_ok(self, req):
        return True

    # helpers ------------------------------------------------------------
    def _page(self, req, name, items):
        try:
            page = int(req.q("page") or "0")
            size = int(req.q("size") or "10")
            if page < 0 or size < 1:
                raise ValueError
        except ValueError:
            return spring(400, "Bad Request", "Invalid page or size", req.path)
        size = min(size, max(1, self.args.max_size))
        chunk = items[page * size:(page + 1) * size]
        body = {"page": {"size": size, "totalElements": len(items),
                         "totalPages": (len(items) + size - 1) // size, "number": page}}
        if chunk:  # Spring HATEOAS leaves _embedded out of an empty page
            body = {"_embedded": {name: chunk}, **body}
        return json_response(200, body)

    @staticmethod
    def _jobs(project, p):
        st = p["status"]
        out = []
        for i, (name, stage) in enumerate((("build", "build"), ("test", "test"))):
            js = st if st in TERMINAL or i == 0 else ("CREATED" if st != "RUNNING" else "PENDING")
            out.append({"id": uid("job", project, p["localId"], i),
                        "localId": p["localId"] * 10 + i, "finishedAt": p["finishedAt"],
                        "startedAt": p["startedAt"], "name": name, "stageName": stage,
                        "tag": p["tag"], "ref": p["ref"], "erasedAt": None,
                        "artifactsExpireAt": None, "status": js,
                        "pipelineLocalId": p["localId"]})
        return out

    # routing ------------------------------------------------------------
    def handle(self, req):
        s = req.segments
        if s and s[-1] == "":
            s = s[:-1]
        if len(s) < 5 or s[0] != "project" or s[3:5] != ["cicd", "pipeline"]:
            return spring(404, "Not Found", "No data found for the request", req.path)
        project, rest, m = s[1] + "/" + s[2], s[5:], req.method
        with self.lock:
            pipes = self.state["projects"].get(project)
            if pipes is None:
                return spring(404, "Not Found", "No data found for the request", req.path)
            newest = sorted(pipes, key=lambda p: p["localId"], reverse=True)
            if not rest and m == "GET":
                return self._page(req, "restPipelineModelList", newest)
            if rest == ["start"] and m == "POST":
                return self.start(req, project, pipes)
            if rest and rest[0].isdigit():
                p = next((x for x in pipes if x["localId"] == int(rest[0])), None)
                if p is None:
                    return spring(404, "Not Found", "No data found for the request", req.path)
                if len(rest) == 1 and m == "GET":
                    return json_response(200, p)
                if rest[1:] == ["jobs"] and m == "GET":
                    return self._page(req, "restPipelineJobModelList", self._jobs(project, p))
                if rest[1:] == ["restart"] and m == "POST":
                    if not self.args.readonly:
                        p.update(status="PENDING", finishedAt=None, duration=None,
                                 failureReason=None)
                    return Response(200)
                if rest[1:] == ["cancel"] and m == "POST":
                    if not self.args.readonly and p["status"] not in TERMINAL:
                        p.update(status="CANCELED", finishedAt=local_ts(time.time()))
                    return Response(200)
        return spring(404, "Not Found", "No data found for the request", req.path)

    def start(self, req, project, pipes):
        try:
            body = req.json()
        except fakelib.BadRequestBody:
            return spring(400, "Bad Request", "Malformed JSON request", req.path)
        if not isinstance(body, dict) or set(body) - {"refName", "isTag", "variables"}:
            return spring(400, "Bad Request", "Unrecognized field in the request body",
                          req.path)
        ref, is_tag = body.get("refName"), body.get("isTag")
        if ref is not None:
            if not isinstance(ref, str) or not ref:
                return spring(422, "Unprocessable Entity", "refName must be a string",
                              req.path)
            if is_tag not in (True, False, "true", "false"):
                return spring(422, "Unprocessable Entity",
                              "isTag is required when refName is specified", req.path)
        variables = body.get("variables", [])
        if not isinstance(variables, list) or not all(
                isinstance(v, dict) and set(v) == {"key", "value"} for v in variables):
            return spring(422, "Unprocessable Entity",
                          "variables must be a list of {key, value}", req.path)
        n = max([p["localId"] for p in pipes] + [0]) + 1
        p = new_pipeline(project, n, "CREATED", ref or "master", time.time(), "API")
        p["id"] = uid("pipeline", project, n, time.time())
        p["tag"] = is_tag in (True, "true")
        if not self.args.readonly:
            pipes.append(p)
        return json_response(200, p)


if __name__ == "__main__":
    sys.exit(fakelib.main(GitFlic))
