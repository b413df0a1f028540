#!/usr/bin/python3
"""fake-argocd — an imitation of the Argo CD REST API (grpc-gateway v1) for
farm's tests.  Facts: /work/shared/design/providers.md §1.  See README.md.

Endpoints:
  GET    /api/v1/applications                 name projects project selector repo appNamespace
  GET    /api/v1/applications/{name}          project(s) appNamespace
  POST   /api/v1/applications/{name}/sync     ApplicationSyncRequest JSON
  DELETE /api/v1/applications/{name}/operation  terminate the running operation
"""

import copy
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402
from fakelib import json_response, Response  # noqa: E402

NS = "argocd"


def grpc_error(code, message, status):
    """grpc-gateway v1.16 error body."""
    return json_response(status, {"error": message, "code": code,
                                  "message": message, "details": []})


GRPC_HTTP = {3: 400, 5: 404, 7: 403, 8: 429, 9: 400, 12: 501, 13: 500, 16: 401}


def gerr(code, message):
    return grpc_error(code, message, GRPC_HTTP.get(code, 500))


def make_app(name, project, repo, path, rev, dest_ns, health, sync, phase,
             uid_seed, rv, revision, started, finished, running=False, labels=None):
    sha = revision
    source = {"repoURL": repo, "path": path, "targetRevision": rev}
    dest = {"server": "https://kubernetes.default.svc", "namespace": dest_ns}
    op_sync = {"revision": sha, "syncOptions": ["CreateNamespace=true"],
               "syncStrategy": {"hook": {}}}
    app = {
        "metadata": {
            "name": name, "namespace": NS,
            "uid": fakelib.det_uuid("argocd-app", uid_seed),
            "resourceVersion": str(rv), "generation": 12,
            "creationTimestamp": "2024-11-04T09:30:33Z",
            "labels": dict(labels or {}, **{"app.kubernetes.io/instance": name}),
            "annotations": {"notifications.argoproj.io/subscribe.on-sync-succeeded.farm": ""},
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": project,
            "source": source,
            "destination": dest,
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2,
                                                  "maxDuration": "3m"}},
                "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"],
            },
        },
        "status": {
            "resources": [
                {"version": "v1", "kind": "Service", "namespace": dest_ns, "name": name,
                 "status": sync, "health": {"status": "Healthy"}},
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": dest_ns,
                 "name": name, "status": sync, "health": {"status": health}},
            ],
            "sync": {"status": sync, "revision": sha,
                     "comparedTo": {"source": dict(source), "destination": dict(dest)}},
            "health": {"status": health, "lastTransitionTime": finished or started},
            "history": [
                {"revision": sha, "deployedAt": finished or started, "id": 7,
                 "source": dict(source), "deployStartedAt": started,
                 "initiatedBy": {"automated": True}},
            ],
            "reconciledAt": finished or started,
            "operationState": {
                "operation": {"sync": copy.deepcopy(op_sync),
                              "initiatedBy": {"username": "admin"},
                              "retry": {"limit": 5}},
                "phase": phase,
                "message": {"Succeeded": "successfully synced (all tasks run)",
                            "Failed": "one or more objects failed to apply, reason: "
                                      "Deployment.apps \"%s\" is invalid" % name,
                            "Running": "waiting for healthy state of apps/Deployment/%s"
                                       % name}.get(phase, ""),
                "startedAt": started,
                "syncResult": {
                    "resources": [
                        {"group": "apps", "version": "v1", "kind": "Deployment",
                         "namespace": dest_ns, "name": name,
                         "status": "Synced" if phase != "Failed" else "SyncFailed",
                         "message": "deployment.apps/%s configured" % name,
                         "hookPhase": "Running" if running else "Succeeded",
                         "syncPhase": "Sync"},
                    ],
                    "revision": sha, "source": dict(source),
                },
            },
            "sourceType": "Directory" if not path.startswith("charts") else "Helm",
            "summary": {"images": ["registry.example.com/acme/%s:1.4.2" % name]},
            "controllerNamespace": NS,
        },
    }
    if finished:
        app["status"]["operationState"]["finishedAt"] = finished
    if phase == "Failed":
        app["status"]["conditions"] = [
            {"type": "SyncError", "message": "Failed sync attempt to %s: one or more "
             "objects failed to apply" % sha, "lastTransitionTime": finished}]
    if running:
        app["operation"] = {"sync": copy.deepcopy(op_sync),
                            "initiatedBy": {"username": "admin"},
                            "retry": {"limit": 5}}
    return app


DEFAULT_APPS = [
    make_app("guestbook", "default", "https://github.com/acme/gitops.git",
             "apps/guestbook", "main", "guestbook", "Healthy", "Synced", "Succeeded",
             "guestbook", 481516, "5f3c8e1d2b4a69788c1e0f2d3b4a5c6d7e8f9a0b",
             "2025-01-06T10:00:05Z", "2025-01-06T10:00:41Z",
             labels={"team": "web", "tier": "frontend"}),
    make_app("billing-api", "payments", "https://github.com/acme/billing.git",
             "deploy/overlays/prod", "v2.3.1", "billing", "Degraded", "OutOfSync", "Failed",
             "billing-api", 481517, "0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a",
             "2025-01-06T11:15:00Z", "2025-01-06T11:16:12Z",
             labels={"team": "payments", "tier": "backend"}),
    make_app("inventory-worker", "payments", "https://github.com/acme/inventory",
             "charts/worker", "HEAD", "inventory", "Progressing", "Synced", "Running",
             "inventory-worker", 481518, "c0ffee0123456789abcdef0123456789abcdef01",
             "2025-01-06T12:00:00Z", None, running=True,
             labels={"team": "payments", "tier": "worker"}),
]

SELECTOR_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9._/-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*)"
                         r"|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def parse_selector(sel):
    """k8s label selector -> list of predicates; ValueError when malformed."""
    preds = []
    # split on commas outside parentheses
    parts, depth, cur = [], 0, ""
    for ch in sel:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for part in parts:
        if not part.strip():
            continue
        m = SELECTOR_RE.match(part)
        if not m:
            raise ValueError("unable to parse requirement: %s" % part.strip())
        neg, key, op, val, setop, setvals = m.groups()
        if neg and (op or setop):
            raise ValueError("unable to parse requirement: %s" % part.strip())
        if neg:
            preds.append(lambda L, k=key: k not in L)
        elif op in ("=", "=="):
            preds.append(lambda L, k=key, v=val: L.get(k) == v)
        elif op == "!=":
            preds.append(lambda L, k=key, v=val: L.get(k) != v)
        elif setop:
            vals = {v.strip() for v in setvals.split(",") if v.strip()}
            if setop == "in":
                preds.append(lambda L, k=key, s=vals: L.get(k) in s)
            else:
                preds.append(lambda L, k=key, s=vals: L.get(k) not in s)
        else:
            preds.append(lambda L, k=key: k in L)
    return preds


def norm_repo(url):
    u = (url or "").strip().lower().rstrip("/")
    if u.endswith(".git"):
        u = u[:-4]
    return u


class ArgoCD(fakelib.Platform):
    name = "argocd"
    default_token = "argocd-test-token"

    @classmethod
    def add_args(cls, parser):
        parser.add_argument("--sync-completes", action="store_true",
                            help="a sync finishes at once (operationState Succeeded) "
                                 "instead of staying Running")

    def default_state(self):
        return {"apps": copy.deepcopy(DEFAULT_APPS), "syncWindowBlocked": []}

    def normalize_state(self, obj):
        if isinstance(obj, list):
            obj = {"apps": obj}
        if not isinstance(obj, dict):
            raise ValueError("state must be {\"apps\":[Application...]} or an array")
        apps = obj.get("apps", [])
        if not isinstance(apps, list):
            raise ValueError("apps must be an array")
        for a in apps:
            if not isinstance(a, dict) or not isinstance(a.get("metadata"), dict) \
                    or not isinstance(a["metadata"].get("name"), str):
                raise ValueError("every app needs metadata.name")
            a["metadata"].setdefault("namespace", NS)
            a.setdefault("spec", {}).setdefault("project", "default")
        blocked = obj.get("syncWindowBlocked", [])
        if not isinstance(blocked, list):
            raise ValueError("syncWindowBlocked must be an array of app names")
        rv = obj.get("resourceVersion", 481600)
        return {"apps": apps, "syncWindowBlocked": blocked, "resourceVersion": int(rv)}

    # auth ---------------------------------------------------------------
    def auth(self, req):
        h = req.headers.get("authorization")
        tok = None
        if h:
            scheme, _, rest = h.strip().partition(" ")
            if scheme.lower() == "bearer":
                tok = rest.strip()
        if tok is None:
            # Argo CD also reads the argocd.token cookie
            for c in req.headers.get("cookie", "").split(";"):
                k, _, v = c.strip().partition("=")
                if k == "argocd.token":
                    tok = v
        if not tok:
            return gerr(16, "no session information")
        if not fakelib.const_eq(tok, self.args.token):
            if tok.count(".") != 2:
                return gerr(16, "invalid session: token contains an invalid number of segments")
            return gerr(16, "invalid session: token signature is invalid: signature is invalid")
        return None

    def error(self, req, kind, retry_after=None):
        if kind == "401":
            return gerr(16, "invalid session: token has invalid claims: token is expired")
        if kind == "403":
            return gerr(7, "permission denied")
        if kind == "404":
            return gerr(5, "Not Found")
        if kind == "429":
            r = gerr(8, "too many requests")
            if retry_after is not None:
                r.headers.append(("Retry-After", str(retry_after)))
            return r
        return gerr(13, "internal error")

    def html_page(self, req):
        return Response(200, "<!doctype html><html lang=\"en\"><head><meta charset=\"UTF-8\">"
                        "<title>Argo CD</title><base href=\"/\"></head><body>"
                        "<noscript><p>Your browser does not support JavaScript.</p></noscript>"
                        "<div id=\"app\"></div></body></html>\n",
                        ctype="text/html; charset=utf-8")

    # routing ------------------------------------------------------------
    def cache_ok(self, req):
        return True     # every GET here is a pure read

    def handle(self, req):
        s = req.segments
        if len(s) < 3 or s[0] != "api" or s[1] != "v1" or s[2] != "applications":
            return gerr(5, "Not Found") if req.path.startswith("/api/") else self.html_page(req)
        if s[-1] == "" and len(s) > 3:
            s = s[:-1]
        if len(s) == 3:
            if req.method == "GET":
                return self.list_apps(req)
            return gerr(12, "Method Not Allowed")  # grpc-gateway: no such binding
        name = s[3]
        if len(s) == 4:
            if req.method == "GET":
                return self.get_app(req, name)
            return gerr(12, "Method Not Allowed")
        if len(s) == 5 and s[4] == "sync":
            if req.method == "POST":
                return self.sync(req, name)
            return gerr(12, "Method Not Allowed")
        if len(s) == 5 and s[4] == "operation":
            if req.method == "DELETE":
                return self.terminate(req, name)
            return gerr(12, "Method Not Allowed")
        return gerr(5, "Not Found")

    def _projects(self, req, body=None):
        p = list(req.query.get("projects", [])) + list(req.query.get("project", []))
        if body and isinstance(body.get("project"), str) and body["project"]:
            p.append(body["project"])
        return [x for x in p if x]

    def list_apps(self, req):
        try:
            preds = parse_selector(req.q("selector", "") or "")
        except ValueError as e:
            return gerr(3, "error parsing selector: %s" % e)
        name = req.q("name")
        projects = set(self._projects(req))
        repo = req.q("repo")
        ns = req.q("appNamespace")
        with self.lock:
            items = []
            for a in self.state["apps"]:
                md = a["metadata"]
                if name and md.get("name") != name:
                    continue
                if projects and a["spec"].get("project") not in projects:
                    continue
                if ns and md.get("namespace") != ns:
                    continue
                if repo:
                    src = a["spec"].get("source") or {}
                    urls = [src.get("repoURL")] + [x.get("repoURL") for x in
                                                    a["spec"].get("sources") or []]
                    if norm_repo(repo) not in [norm_repo(u) for u in urls if u]:
                        continue
                labels = md.get("labels") or {}
                if not all(p(labels) for p in preds):
                    continue
                items.append(a)
            body = {"metadata": {"resourceVersion": str(self.state["resourceVersion"])},
                    "items": items or None}
            return json_response(200, body)

    def _find(self, req, name, body=None):
        """(app, None) or (None, error response) following providers.md §1.1."""
        projects = self._projects(req, body)
        ns = req.q("appNamespace") or (body or {}).get("appNamespace") or None
        app = None
        for a in self.state["apps"]:
            md = a["metadata"]
            if md.get("name") == name and (not ns or md.get("namespace") == ns):
                app = a
                break
        if app is None:
            if projects:
                return None, gerr(5, "applications.argoproj.io \"%s\" not found" % name)
            return None, gerr(7, "permission denied")
        if projects and app["spec"].get("project") not in projects:
            return None, gerr(7, "permission denied")
        return app, None

    def get_app(self, req, name):
        with self.lock:
            app, err = self._find(req, name)
            if err is not None:
                return err
            return json_response(200, app)

    def sync(self, req, name):
        try:
            body = req.json()
        except fakelib.BadRequestBody as e:
            return gerr(3, str(e))
        if not isinstance(body, dict):
            return gerr(3, "json: cannot unmarshal array into Go value of type "
                           "application.ApplicationSyncRequest")
        if "name" in body and body["name"] not in (name, "", None):
            return gerr(3, "application name mismatch")
        with self.lock:
            app, err = self._find(req, name, body)
            if err is not None:
                return err
            st = app.get("status") or {}
            phase = (st.get("operationState") or {}).get("phase")
            if app.get("operation") or phase in ("Running", "Terminating"):
                return gerr(9, "another operation is already in progress")
            if name in self.state["syncWindowBlocked"]:
                return gerr(7, "cannot sync: blocked by sync window")
            sync = {}
            rev = body.get("revision") or (app["spec"].get("source") or {}).get(
                "targetRevision", "HEAD")
            sync["revision"] = rev
            for k in ("prune", "dryRun"):
                if body.get(k):
                    sync[k] = True
            if body.get("strategy"):
                sync["syncStrategy"] = body["strategy"]
            if body.get("resources"):
                sync["resources"] = body["resources"]
            if body.get("revisions"):
                sync["revisions"] = body["revisions"]
            so = body.get("syncOptions")
            if isinstance(so, dict) and so.get("items"):
                sync["syncOptions"] = so["items"]
            operation = {"sync": sync, "initiatedBy": {"username": "admin"}}
            if body.get("infos"):
                operation["info"] = body["infos"]
            if body.get("retryStrategy"):
                operation["retry"] = body["retryStrategy"]
            answer = copy.deepcopy(app)
            answer["operation"] = operation
            self.state["resourceVersion"] += 1
            answer["metadata"]["resourceVersion"] = str(self.state["resourceVersion"])
            if not self.args.readonly:
                app["metadata"]["resourceVersion"] = answer["metadata"]["resourceVersion"]
                now = fakelib.iso(time.time(), ms=False)
                opstate = {"operation": copy.deepcopy(operation), "startedAt": now,
                           "phase": "Running", "message": "running sync"}
                if self.args.sync_completes:
                    opstate.update(phase="Succeeded", finishedAt=now,
                                   message="successfully synced (all tasks run)")
                    app.pop("operation", None)
                else:
                    app["operation"] = copy.deepcopy(operation)
                app.setdefault("status", {})["operationState"] = opstate
            return json_response(200, answer)

    def terminate(self, req, name):
        with self.lock:
            app, err = self._find(req, name)
            if err is not None:
                return err
            st = app.get("status") or {}
            phase = (st.get("operationState") or {}).get("phase")
            if not app.get("operation") and phase != "Running":
                return gerr(3, "Unable to terminate operation. No operation is in progress")
            if not self.args.readonly:
                app.pop("operation", None)
                os_ = st.setdefault("operationState", {})
                os_["phase"] = "Failed"
                os_["message"] = "Operation terminated"
                os_["finishedAt"] = fakelib.iso(time.time(), ms=False)
            return json_response(200, {})


if __name__ == "__main__":
    sys.exit(fakelib.main(ArgoCD))
