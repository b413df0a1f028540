#!/usr/bin/python3
"""fake-jenkins — an imitation of the Jenkins remote access API for farm's
tests.  Facts: /work/shared/design/providers.md §3.  See README.md.

Endpoints:
  GET  /api/json                          tree= (jobs[...] with folder recursion, {M,N})
  GET  /job/{a}[/job/{b}...]/api/json     tree=builds[...]{M,N}
  GET  /job/.../{n|lastBuild|...}/api/json
  POST /job/.../build                     201 + Location: <base>/queue/item/<id>/
  POST /job/.../buildWithParameters       201 (303 when an identical item waits)
  POST /job/.../{n}/stop                  abort a running build
  GET  /job/.../{n}/consoleText           the build's log, text/plain (state "logLines"; a
                                          build's "logLines", and "logGrow": lines added
                                          on each read while it is building)
  GET  /queue/item/{id}/api/json          WaitingItem, then LeftItem with executable
  POST /queue/cancelItem?id=N             204
  GET  /crumbIssuer/api/json              crumb (404 with --no-crumb)
  GET  /me/api/json
"""

import hashlib
import hmac
import http.server
import os
import secrets
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402
from fakelib import json_response, Response  # noqa: E402

JENKINS_VERSION = "2.452.3"
FOLDER = "com.cloudbees.hudson.plugins.folder.Folder"
FOLDER_CLASSES = (FOLDER, "jenkins.branch.OrganizationFolder",
                  "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject")
BUILD_CLASS = {"hudson.model.FreeStyleProject": "hudson.model.FreeStyleBuild",
               "org.jenkinsci.plugins.workflow.job.WorkflowJob":
                   "org.jenkinsci.plugins.workflow.job.WorkflowRun",
               "hudson.matrix.MatrixProject": "hudson.matrix.MatrixBuild",
               "hudson.maven.MavenModuleSet": "hudson.maven.MavenModuleSetBuild"}
RESULTS = ("SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED")
COLOR = {"SUCCESS": "blue", "UNSTABLE": "yellow", "FAILURE": "red",
         "NOT_BUILT": "notbuilt", "ABORTED": "aborted"}
T0 = 1735725600000  # 2025-01-01T10:00:00Z in ms
URL_SAFE = "-._~!$&'()*+,;=:@"


def enc(name):
    return urllib.parse.quote(name, safe=URL_SAFE)


# --------------------------------------------------------------------------
# HTML pages


def jetty_page(status, message, uri):
    esc = (lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    reason = http.server.BaseHTTPRequestHandler.responses.get(status, ("",))[0]
    title = "Error %d %s" % (status, esc(message or reason))
    body = ("<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;"
            "charset=utf-8\"/>\n<title>%s</title>\n</head>\n<body>"
            "<h2>HTTP ERROR %d %s</h2>\n<table>\n<tr><th>URI:</th><td>%s</td></tr>\n"
            "<tr><th>STATUS:</th><td>%d</td></tr>\n<tr><th>MESSAGE:</th><td>%s</td></tr>\n"
            "<tr><th>SERVLET:</th><td>Stapler</td></tr>\n</table>\n"
            "<hr/><a href=\"https://eclipse.org/jetty\">Powered by Jetty:// 10.0.20</a><hr/>\n\n"
            "</body>\n</html>\n" % (title, status, esc(message or reason), esc(uri), status,
                                    esc(message or reason)))
    return Response(status, body, ctype="text/html;charset=utf-8")


def anonymous_page(uri):
    frm = urllib.parse.quote(uri, safe="")
    body = ("<html><head><meta http-equiv='refresh' content='1;url=/login?from=%s'/>"
            "<script id='redirect' data-redirect-url='/login?from=%s' "
            "src='/static/c5b3e1a1/scripts/redirect.js'></script></head>"
            "<body style='background-color:white; color:white;'>\n\n\n"
            "Authentication required\n<!--\n-->\n\n</body></html>\n" % (frm, frm))
    return Response(403, body, ctype="text/html;charset=utf-8", headers=[
        ("X-You-Are-Authenticated-As", "anonymous"),
        ("X-You-Are-In-Group-Disabled", "JENKINS-39402: use -Dhudson.security."
         "AccessDeniedException2.REPORT_GROUP_HEADERS=true or use /whoAmI to diagnose"),
        ("X-Required-Permission", "hudson.model.Hudson.Read"),
        ("X-Permission-Implied-By", "hudson.security.Permission.GenericRead"),
        ("X-Permission-Implied-By", "hudson.model.Hudson.Administer")])


# --------------------------------------------------------------------------
# tree= parameter


class TreeError(ValueError):
    pass


def parse_tree(text):
    """'jobs[name,lastBuild[number]]{0,10}' -> [(name, sub|None, slice|None)]."""
    pos = [0]
    n = len(text)

    def peek():
        return text[pos[0]] if pos[0] < n else ""

    def parse_list():
        items = []
        while True:
            start = pos[0]
            while pos[0] < n and text[pos[0]] not in ",[]{}":
                pos[0] += 1
            name = text[start:pos[0]].strip()
            if not name:
                raise TreeError("Unexpected character at %d in %s" % (pos[0], text))
            sub = rng = None
            if peek() == "[":
                pos[0] += 1
                sub = parse_list()
                if peek() != "]":
                    raise TreeError("Expected ']' at %d in %s" % (pos[0], text))
                pos[0] += 1
            if peek() == "{":
                end = text.find("}", pos[0])
                if end < 0:
                    raise TreeError("Expected '}' in %s" % text)
                rng = parse_range(text[pos[0] + 1:end])
                pos[0] = end + 1
            items.append((name, sub, rng))
            if peek() == ",":
                pos[0] += 1
                continue
            return items

    items = parse_list()
    if pos[0] != n:
        raise TreeError("Unexpected character at %d in %s" % (pos[0], text))
    return items


def parse_range(r):
    r = r.strip()
    try:
        if "," not in r:
            i = int(r)
            return slice(i, i + 1)
        a, b = r.split(",", 1)
        return slice(int(a) if a.strip() else 0, int(b) if b.strip() else None)
    except ValueError:
        raise TreeError("Bad range {%s}" % r)


class Node:
    """An API object: _class plus lazily computed properties."""
    __slots__ = ("cls", "props")

    def __init__(self, cls, props):
        self.cls = cls
        self.props = props

    def get(self, name):
        v = self.props[name]
        return v() if callable(v) else v


def render(value, spec):
    if isinstance(value, Node):
        out = {"_class": value.cls}
        if spec is None:
            return out
        for name, sub, rng in spec:
            if name not in value.props:
                continue
            v = value.get(name)
            if rng is not None and isinstance(v, list):
                v = v[rng]
            out[name] = render(v, sub)
        return out
    if isinstance(value, list):
        return [render(x, spec) for x in value]
    if isinstance(value, dict) and spec is not None:
        out = {"_class": value["_class"]} if "_class" in value else {}
        for name, sub, rng in spec:
            if name in value:
                v = value[name]
                if rng is not None and isinstance(v, list):
                    v = v[rng]
                out[name] = render(v, sub)
        return out
    return value


SUMMARY = "number,url"
DEFAULT_TREE = {
    "root": parse_tree("assignedLabels[name],mode,nodeDescription,nodeName,numExecutors,"
                       "description,jobs[name,url,color],overallLoad,primaryView[name,url],"
                       "quietDownReason,quietingDown,slaveAgentPort,unlabeledLoad,url,"
                       "useCrumbs,useSecurity,views[name,url]"),
    "job": parse_tree("actions,description,displayName,displayNameOrNull,fullDisplayName,"
                      "fullName,name,url,buildable,builds[%s],color,firstBuild[%s],"
                      "healthReport,inQueue,keepDependencies,lastBuild[%s],"
                      "lastCompletedBuild[%s],lastFailedBuild[%s],lastStableBuild[%s],"
                      "lastSuccessfulBuild[%s],lastUnstableBuild[%s],lastUnsuccessfulBuild[%s],"
                      "nextBuildNumber,property,queueItem,concurrentBuild,disabled"
                      % ((SUMMARY,) * 9)),
    "folder": parse_tree("actions,description,displayName,displayNameOrNull,fullDisplayName,"
                         "fullName,name,url,healthReport,jobs[name,url,color],"
                         "primaryView[name,url],views[name,url]"),
    "build": parse_tree("actions,artifacts,building,description,displayName,duration,"
                        "estimatedDuration,executor,fullDisplayName,id,keepLog,number,queueId,"
                        "result,timestamp,url,builtOn,changeSet,culprits"),
    "queue": parse_tree("actions,blocked,buildable,id,inQueueSince,params,stuck,"
                        "task[name,url,color],url,why,cancelled,executable[number,url],"
                        "timestamp,buildableStartMilliseconds"),
    "user": parse_tree("absoluteUrl,description,fullName,id,property"),
}


# --------------------------------------------------------------------------
# default data


def builds(results, first=1, t0=T0, step=3600000, dur=61000):
    out = []
    for i, r in enumerate(results):
        n = first + i
        b = {"number": n, "result": r, "building": r is None,
             "timestamp": t0 + i * step, "duration": 0 if r is None else dur + 997 * i}
        out.append(b)
    return out


def default_state():
    return {"jobs": [
        {"name": "farm-build", "_class": "hudson.model.FreeStyleProject",
         "description": "Builds farm from main.",
         "builds": builds(["SUCCESS", "SUCCESS", "FAILURE", "SUCCESS", "UNSTABLE",
                           "SUCCESS", "ABORTED", "FAILURE", "SUCCESS", "SUCCESS",
                           "FAILURE", "SUCCESS"])},
        {"name": "platform", "_class": FOLDER, "description": "Platform team",
         "jobs": [
             {"name": "api deploy", "_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
              "parameters": [{"name": "ENV", "default": "staging"},
                             {"name": "VERSION", "default": "latest"}],
              "builds": builds(["SUCCESS", "FAILURE", "SUCCESS", "SUCCESS", "UNSTABLE",
                                "SUCCESS", "SUCCESS", None], first=1, t0=T0 + 600000)},
             {"name": "nightly 100%", "_class": "hudson.model.FreeStyleProject",
              "builds": builds(["SUCCESS", "SUCCESS", "FAILURE", "FAILURE", "FAILURE"],
                               first=41, t0=T0 + 1200000, step=86400000, dur=1830000)},
         ]},
    ]}


# --------------------------------------------------------------------------


class Jenkins(fakelib.Platform):
    name = "jenkins"
    default_token = "11f0e3c2a9b8d7e6f5a4b3c2d1e0f9a8b7"

    @classmethod
    def add_args(cls, parser):
        parser.add_argument("--user", default="farm", help="the valid user (default %(default)s)")
        parser.add_argument("--require-crumb", action="store_true",
                            help="POSTs need a valid Jenkins-Crumb even with an API token")
        parser.add_argument("--no-crumb", action="store_true",
                            help="CSRF protection off: /crumbIssuer answers 404")
        parser.add_argument("--queue-polls", type=int, default=1,
                            help="queue item polls answered 'waiting' before it gets its "
                                 "executable (default %(default)s)")
        parser.add_argument("--build-seconds", type=float, default=0,
                            help="builds started by the fake finish SUCCESS after this many "
                                 "seconds (0 = they keep running)")

    def __init__(self, args, fake):
        if args.require_crumb and args.no_crumb:
            raise ValueError("--require-crumb and --no-crumb exclude each other")
        super().__init__(args, fake)
        self.queue = {}
        self.next_queue_id = 101
        self.running = []      # builds started by the fake, for --build-seconds
        self.session = fakelib.det_hex(8, "session", os.getpid())
        self.crumb_key = secrets.token_bytes(32)

    # data ---------------------------------------------------------------
    def default_state(self):
        return default_state()

    def normalize_state(self, obj):
        if isinstance(obj, list):
            obj = {"jobs": obj}
        if not isinstance(obj, dict) or not isinstance(obj.get("jobs", []), list):
            raise ValueError("state must be {\"jobs\":[...]}")

        def norm(jobs, where):
            seen = set()
            for j in jobs:
                if not isinstance(j, dict) or not isinstance(j.get("name"), str) or not j["name"]:
                    raise ValueError("every job needs a name (in %s)" % where)
                if "/" in j["name"] or j["name"] in seen:
                    raise ValueError("bad or duplicate job name %r in %s" % (j["name"], where))
                seen.add(j["name"])
                if "jobs" in j or j.get("_class") in FOLDER_CLASSES:
                    j.setdefault("_class", FOLDER)
                    j.setdefault("jobs", [])
                    if not isinstance(j["jobs"], list):
                        raise ValueError("jobs of %s must be an array" % j["name"])
                    norm(j["jobs"], where + "/" + j["name"])
                else:
                    j.setdefault("_class", "hudson.model.FreeStyleProject")
                    bl = j.setdefault("builds", [])
                    if not isinstance(bl, list):
                        raise ValueError("builds of %s must be an array" % j["name"])
                    for b in bl:
                        if not isinstance(b, dict) or not isinstance(b.get("number"), int):
                            raise ValueError("every build needs an integer number")
                        b.setdefault("result", None)
                        b.setdefault("building", b["result"] is None)
                        b.setdefault("timestamp", T0)
                        b.setdefault("duration", 0)
                    bl.sort(key=lambda b: b["number"], reverse=True)
                    j.setdefault("parameters", [])
        norm(obj.get("jobs", []), "/")
        return {"jobs": obj.get("jobs", [])}

    def set_state(self, obj):
        super().set_state(obj)
        with self.lock:
            self.queue.clear()
            self.running = []

    # auth ---------------------------------------------------------------
    def extra_headers(self):
        return (("X-Content-Type-Options", "nosniff"), ("X-Jenkins", JENKINS_VERSION),
                ("X-Jenkins-Session", self.session), ("X-Hudson", "1.395"))

    def _crumb(self, user):
        return hmac.new(self.crumb_key, user.encode(), hashlib.sha256).hexdigest()

    def auth(self, req):
        bc = fakelib.basic_credentials(req.headers)
        if bc is None:
            return anonymous_page(req.path)
        user, pw = bc
        if not (fakelib.const_eq(user, self.args.user) and fakelib.const_eq(pw, self.args.token)):
            return self._bad_password(req.path, user)
        if req.method == "POST" and self.args.require_crumb:
            given = req.headers.get("jenkins-crumb")
            if given is None:
                given = (req.form().get("Jenkins-Crumb") or [None])[0]
            if not fakelib.const_eq(given, self._crumb(user)):
                return jetty_page(403, "No valid crumb was included in the request", req.path)
        return None

    def _bad_password(self, uri, user):
        r = jetty_page(401, "Invalid password/token for user: %s" % user, uri)
        r.headers.append(("WWW-Authenticate", "Basic realm=\"Jenkins\""))
        return r

    def error(self, req, kind, retry_after=None):
        if kind == "401":
            return self._bad_password("/", self.args.user)
        if kind == "403":
            return jetty_page(403, "%s is missing the Overall/Read permission"
                              % self.args.user, "/")
        if kind == "404":
            return jetty_page(404, "Not Found", "/")
        if kind == "429":
            r = jetty_page(429, "Too Many Requests", "/")
            if retry_after is not None:
                r.headers.append(("Retry-After", str(retry_after)))
            return r
        return Response(500, "<!DOCTYPE html><html><head><title>Jenkins</title></head><body>"
                        "<h1>Oops!</h1><p>A problem occurred while processing the request."
                        "</p><p>Logging ID=6f2d8c1e-0a4b-4f1e-9d3c-2b1a0f9e8d7c</p>"
                        "</body></html>\n", ctype="text/html;charset=utf-8")

    def echo400(self, text):
        esc = (lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
        return Response(400, "<html><head><title>Error 400 Bad Request: %s</title></head>"
                        "<body><h2>HTTP ERROR 400</h2></body></html>\n" % esc(text),
                        ctype="text/html;charset=utf-8")

    def html_page(self, req):
        return Response(200, "<!DOCTYPE html><html><head resURL=\"/static/c5b3e1a1\">"
                        "<title>Dashboard [Jenkins]</title></head><body><div id=\"page-body\">"
                        "<p>Welcome to Jenkins!</p></div></body></html>\n",
                        ctype="text/html;charset=utf-8")

    # model --------------------------------------------------------------
    def _job_url(self, path):
        return self.fake.base + "/" + "".join("job/%s/" % enc(n) for n in path)

    def _find(self, path):
        jobs = self.state["jobs"]
        node = None
        for name in path:
            node = None
            for j in jobs:
                if j["name"] == name:
                    node = j
                    break
            if node is None:
                return None
            jobs = node.get("jobs") or []
        return node

    @staticmethod
    def _is_folder(j):
        return j.get("_class") in FOLDER_CLASSES or "jobs" in j

    def _color(self, j):
        if j.get("color"):
            return j["color"]
        if j.get("disabled"):
            return "disabled"
        bl = j["builds"]
        running = any(b.get("building") for b in bl)
        done = [b for b in bl if not b.get("building") and b.get("result")]
        base = COLOR.get(done[0]["result"], "grey") if done else "notbuilt"
        return base + "_anime" if running else base

    def _build_node(self, job, path, b):
        bcls = BUILD_CLASS.get(job["_class"], "hudson.model.FreeStyleBuild")
        url = self._job_url(path) + "%d/" % b["number"]

        def actions():
            acts = []
            if b.get("parameters"):
                acts.append({"_class": "hudson.model.ParametersAction", "parameters": [
                    {"_class": "hudson.model.StringParameterValue", "name": k, "value": v}
                    for k, v in b["parameters"].items()]})
            acts.append({"_class": "hudson.model.CauseAction", "causes": [
                {"_class": "hudson.model.Cause$UserIdCause",
                 "shortDescription": "Started by user %s" % self.args.user,
                 "userId": self.args.user, "userName": self.args.user}]})
            return acts
        disp = " » ".join(path) + " #%d" % b["number"]
        return Node(bcls, {
            "actions": actions, "artifacts": [], "building": bool(b.get("building")),
            "description": None, "displayName": "#%d" % b["number"],
            "duration": b.get("duration", 0), "estimatedDuration": 61000, "executor": None,
            "fullDisplayName": disp, "id": str(b["number"]), "keepLog": False,
            "number": b["number"], "queueId": b.get("queueId", 0), "result": b.get("result"),
            "timestamp": b.get("timestamp", 0), "url": url, "builtOn": "",
            "changeSet": {"_class": "hudson.scm.EmptyChangeLogSet", "items": [], "kind": None},
            "culprits": [], "inProgress": bool(b.get("building"))})

    def _job_node(self, j, path):
        url = self._job_url(path)
        full = "/".join(path)
        disp_full = " » ".join(path)
        view = Node("hudson.model.AllView", {"name": "All", "url": url})
        if self._is_folder(j):
            return Node(j["_class"], {
                "actions": [{}], "description": j.get("description"),
                "displayName": j["name"], "displayNameOrNull": None,
                "fullDisplayName": disp_full, "fullName": full, "name": j["name"], "url": url,
                "healthReport": [],
                "jobs": lambda: [self._job_node(c, path + [c["name"]]) for c in j["jobs"]],
                "primaryView": view, "views": [view]})
        bl = j["builds"]

        def pick(pred):
            def f():
                for b in bl:
                    if pred(b):
                        return self._build_node(j, path, b)
                return None
            return f
        done = (lambda b: not b.get("building"))
        props = {
            "actions": [{}], "description": j.get("description", ""),
            "displayName": j["name"], "displayNameOrNull": None,
            "fullDisplayName": disp_full, "fullName": full, "name": j["name"], "url": url,
            "buildable": not j.get("disabled", False),
            "builds": lambda: [self._build_node(j, path, b) for b in bl[:100]],
            "allBuilds": lambda: [self._build_node(j, path, b) for b in bl],
            "color": self._color(j),
            "firstBuild": (lambda: self._build_node(j, path, bl[-1]) if bl else None),
            "healthReport": [] if not bl else [{
                "description": "Build stability: %d out of the last %d builds failed." % (
                    sum(1 for b in bl[:5] if b.get("result") == "FAILURE"), len(bl[:5])),
                "iconClassName": "icon-health-80plus", "iconUrl": "health-80plus.png",
                "score": 100 - 20 * sum(1 for b in bl[:5] if b.get("result") == "FAILURE")}],
            "inQueue": any(q["path"] == path and q["state"] == "waiting"
                           for q in self.queue.values()),
            "keepDependencies": False,
            "lastBuild": pick(lambda b: True),
            "lastCompletedBuild": pick(done),
            "lastFailedBuild": pick(lambda b: b.get("result") == "FAILURE"),
            "lastStableBuild": pick(lambda b: b.get("result") == "SUCCESS"),
            "lastSuccessfulBuild": pick(lambda b: b.get("result") in ("SUCCESS", "UNSTABLE")),
            "lastUnstableBuild": pick(lambda b: b.get("result") == "UNSTABLE"),
            "lastUnsuccessfulBuild": pick(lambda b: done(b) and b.get("result") != "SUCCESS"),
            "nextBuildNumber": (bl[0]["number"] + 1) if bl else 1,
            "property": [{"_class": "hudson.model.ParametersDefinitionProperty",
                          "parameterDefinitions": [
                              {"_class": "hudson.model.StringParameterDefinition",
                               "defaultParameterValue": {
                                   "_class": "hudson.model.StringParameterValue",
                                   "name": p["name"], "value": p.get("default", "")},
                               "description": "", "name": p["name"],
                               "type": "StringParameterDefinition"}
                              for p in j["parameters"]]}] if j.get("parameters") else [],
            "queueItem": None, "concurrentBuild": False,
            "disabled": bool(j.get("disabled", False)),
        }
        return Node(j["_class"], props)

    def _root_node(self):
        view = Node("hudson.model.AllView", {"name": "all", "url": self.fake.base + "/"})
        return Node("hudson.model.Hudson", {
            "assignedLabels": [{"name": "built-in"}], "mode": "NORMAL",
            "nodeDescription": "the Jenkins controller's built-in node",
            "nodeName": "", "numExecutors": 2, "description": None,
            "jobs": lambda: [self._job_node(j, [j["name"]]) for j in self.state["jobs"]],
            "overallLoad": {}, "primaryView": view, "quietDownReason": None,
            "quietingDown": False, "slaveAgentPort": -1, "unlabeledLoad":
            {"_class": "jenkins.model.UnlabeledLoadStatistics"},
            "url": self.fake.base + "/", "useCrumbs": not self.args.no_crumb,
            "useSecurity": True, "views": [view]})

    def _api(self, req, node, kind):
        tree = req.q("tree")
        try:
            spec = parse_tree(tree) if tree else DEFAULT_TREE[kind]
        except TreeError as e:
            return jetty_page(400, str(e), req.path)
        body = render(node, spec)
        return json_response(200, body, ctype="application/json;charset=utf-8")

    # lazily finish builds (for --build-seconds) ----------------------------
    def _tick(self):
        if not self.running:
            return
        now = time.time() * 1000
        keep = []
        for b in self.running:
            if b["building"] and now >= b["timestamp"] + self.args.build_seconds * 1000:
                b["building"] = False
                b["result"] = b.pop("finalResult", "SUCCESS")
                b["duration"] = int(now - b["timestamp"])
            elif b["building"]:
                keep.append(b)
        self.running = keep

    # routing ------------------------------------------------------------
    def cache_ok(self, req):
        # queue polls change data; so does time while --build-seconds builds run
        # and a consoleText may grow ("logGrow")
        return not self.running and not (req.segments and req.segments[0] == "queue") \
            and not (req.segments and req.segments[-1] == "consoleText")

    def handle(self, req):
        s = list(req.segments)
        while len(s) > 1 and s[-1] == "":
            s.pop()
        with self.lock:
            self._tick()
            if s in (["api", "json"], ["api", "json", ""]):
                return self._api(req, self._root_node(), "root")
            if s == ["crumbIssuer", "api", "json"]:
                if self.args.no_crumb:
                    return jetty_page(404, "Not Found", req.path)
                user = fakelib.basic_credentials(req.headers)[0]
                node = Node("hudson.security.csrf.DefaultCrumbIssuer",
                            {"crumb": self._crumb(user), "crumbRequestField": "Jenkins-Crumb"})
                return self._api(req, node, "crumb") if req.q("tree") else json_response(
                    200, render(node, parse_tree("crumb,crumbRequestField")),
                    ctype="application/json;charset=utf-8")
            if s == ["me", "api", "json"]:
                u = self.args.user
                node = Node("hudson.model.User", {
                    "absoluteUrl": self.fake.base + "/user/" + enc(u), "description": None,
                    "fullName": u, "id": u, "property": []})
                return self._api(req, node, "user")
            if len(s) >= 3 and s[0] == "queue" and s[1] == "item":
                return self.queue_item(req, s)
            if s == ["queue", "cancelItem"]:
                if req.method != "POST":
                    return jetty_page(405, "HTTP method GET not supported", req.path)
                return self.cancel_item(req)
            if s and s[0] == "job":
                return self.job(req, s)
            if s in ([""], []):
                return self.html_page(req)
        return jetty_page(404, "Not Found", req.path)

    def job(self, req, s):
        path = []
        while len(s) >= 2 and s[0] == "job":
            path.append(s[1])
            s = s[2:]
        j = self._find(path)
        if j is None or not path:
            return jetty_page(404, "Not Found", req.path)
        if s in ([], [""]):
            return Response(200, "<!DOCTYPE html><html><head><title>%s [Jenkins]</title>"
                            "</head><body></body></html>\n" % path[-1],
                            ctype="text/html;charset=utf-8")
        if s == ["api", "json"]:
            if req.method not in ("GET", "HEAD"):
                return jetty_page(405, "Method Not Allowed", req.path)
            return self._api(req, self._job_node(j, path), "folder" if self._is_folder(j)
                             else "job")
        if self._is_folder(j):
            return jetty_page(404, "Not Found", req.path)
        if s in (["build"], ["buildWithParameters"]):
            if req.method != "POST":
                return jetty_page(405, "HTTP method %s not supported" % req.method, req.path)
            return self.trigger(req, j, path, s[0])
        # build by number or permalink
        which = s[0]
        b = None
        if which.isdigit():
            for x in j["builds"]:
                if x["number"] == int(which):
                    b = x
                    break
        else:
            node = self._job_node(j, path)
            if which in ("lastBuild", "lastCompletedBuild", "lastFailedBuild", "lastStableBuild",
                         "lastSuccessfulBuild", "lastUnstableBuild", "lastUnsuccessfulBuild",
                         "firstBuild"):
                bn = node.get(which)
                if bn is not None:
                    n = bn.get("number")
                    b = next(x for x in j["builds"] if x["number"] == n)
        if b is None:
            return jetty_page(404, "Not Found", req.path)
        rest = s[1:]
        if rest == ["api", "json"]:
            return self._api(req, self._build_node(j, path, b), "build")
        if rest == ["consoleText"] and req.method in ("GET", "HEAD"):
            # A build with "logGrow": N grows by N lines on each read while it is
            # building (a log followed live); "logLines" sets where it starts.
            lines = int(b.get("logLines", self.state.get("logLines", 100)))
            if b.get("logGrow") and b.get("building") and req.method == "GET":
                b["logReads"] = b.get("logReads", 0) + 1
            lines += b.get("logReads", 0) * int(b.get("logGrow", 0))
            text = "Started by user %s\n" % self.args.user + "".join(
                "[%s #%d] step %d\n" % ("/".join(path), b["number"], i + 1)
                for i in range(lines))
            if not b.get("logGrow") or not b.get("building"):
                text += "Finished: %s\n" % (b.get("result") or "RUNNING")
            return Response(200, text, ctype="text/plain;charset=utf-8")
        if rest in (["stop"], ["term"], ["kill"]) and req.method == "POST":
            if b.get("building") and not self.args.readonly:
                b["building"] = False
                b["result"] = "ABORTED"
                b["duration"] = int(time.time() * 1000 - b.get("timestamp", 0))
            return Response(302, headers=[("Location", self._job_url(path) + "%d/"
                                           % b["number"])])
        return jetty_page(404, "Not Found", req.path)

    def trigger(self, req, j, path, verb):
        if j.get("disabled"):
            return jetty_page(409, "%s is not buildable" % "/".join(path), req.path)
        defs = j.get("parameters") or []
        if verb == "buildWithParameters" and not defs:
            return jetty_page(400, "%s is not parameterized" % "/".join(path), req.path)
        given = req.form()
        params = {}
        for p in defs:
            v = given.get(p["name"])
            params[p["name"]] = v[0] if v else p.get("default", "")
        for q in self.queue.values():
            if q["path"] == path and q["state"] == "waiting" and q["params"] == params:
                loc = self.fake.base + "/queue/item/%d/" % q["id"]
                status = 303 if verb == "buildWithParameters" else 201
                return Response(status, headers=[("Location", loc)])
        qid = self.next_queue_id
        self.next_queue_id += 1
        self.queue[qid] = {"id": qid, "path": list(path), "params": params, "polls": 0,
                           "state": "waiting", "since": int(time.time() * 1000),
                           "executable": None}
        if len(self.queue) > 10000:
            for k in sorted(self.queue)[:1000]:
                del self.queue[k]
        return Response(201, headers=[("Location", self.fake.base + "/queue/item/%d/" % qid)])

    def queue_item(self, req, s):
        if not s[2].isdigit() or s[3:] not in ([], ["api", "json"]):
            return jetty_page(404, "Not Found", req.path)
        q = self.queue.get(int(s[2]))
        if q is None:
            return jetty_page(404, "Not Found", req.path)
        if s[3:] == []:
            return self.html_page(req)
        j = self._find(q["path"])
        q["polls"] += 1
        if q["state"] == "waiting" and q["polls"] > self.args.queue_polls and j is not None:
            n = (j["builds"][0]["number"] + 1) if j["builds"] else 1
            q["state"] = "left"
            q["executable"] = n
            if not self.args.readonly:
                b = {"number": n, "result": None, "building": True,
                     "timestamp": int(time.time() * 1000), "duration": 0, "queueId": q["id"]}
                if q["params"]:
                    b["parameters"] = dict(q["params"])
                j["builds"].insert(0, b)
                if self.args.build_seconds > 0:
                    self.running.append(b)
        task = (Node(j["_class"], {"name": q["path"][-1], "url": self._job_url(q["path"]),
                                   "color": self._color(j)}) if j is not None
                else Node("hudson.model.FreeStyleProject", {"name": q["path"][-1]}))
        acts = []
        if q["params"]:
            acts.append({"_class": "hudson.model.ParametersAction", "parameters": [
                {"_class": "hudson.model.StringParameterValue", "name": k, "value": v}
                for k, v in q["params"].items()]})
        acts.append({"_class": "hudson.model.CauseAction", "causes": [
            {"_class": "hudson.model.Cause$UserIdCause",
             "shortDescription": "Started by user %s" % self.args.user,
             "userId": self.args.user, "userName": self.args.user}]})
        props = {"actions": acts, "blocked": False, "buildable": False, "id": q["id"],
                 "inQueueSince": q["since"],
                 "params": "".join("\n%s=%s" % kv for kv in q["params"].items()),
                 "stuck": False, "task": task, "url": "queue/item/%d/" % q["id"]}
        if q["state"] == "waiting":
            cls = "hudson.model.Queue$WaitingItem"
            props.update(why="In the quiet period. Expires in 4.9 sec",
                         timestamp=q["since"] + 5000, buildableStartMilliseconds=q["since"] + 5000)
        else:
            cls = "hudson.model.Queue$LeftItem"
            props["why"] = None
            props["cancelled"] = q["state"] == "cancelled"
            if q["executable"] is None:
                props["executable"] = None
            else:
                bcls = BUILD_CLASS.get(j["_class"] if j else "", "hudson.model.FreeStyleBuild")
                props["executable"] = Node(bcls, {
                    "number": q["executable"],
                    "url": self._job_url(q["path"]) + "%d/" % q["executable"]})
        return self._api(req, Node(cls, props), "queue")

    def cancel_item(self, req):
        ids = req.form().get("id") or []
        for i in ids:
            if i.isdigit():
                q = self.queue.get(int(i))
                if q is not None and q["state"] == "waiting":
                    q["state"] = "cancelled"
        return Response(204)


if __name__ == "__main__":
    sys.exit(fakelib.main(Jenkins))
