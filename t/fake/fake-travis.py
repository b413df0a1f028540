#!/usr/bin/python3
"""fake-travis — an imitation of the Travis CI API v3 for farm's tests.
Facts: /work/shared/design/providers.md §4.  See README.md.

Server:
  fake-travis.py [common flags] [--keyfile F] [--request-limit N] [--site-host H]
Helpers (no server):
  fake-travis.py sign   --keyfile F (--payload-file P | --payload STRING)
  fake-travis.py pubkey --keyfile F
  fake-travis.py genkey --keyfile F

Endpoints (Travis-API-Version: 3, or the /v3 path prefix):
  GET  /config                         no auth; config.notifications.webhook.public_key
  GET  /builds                         limit offset sort_by (current user)
  GET  /repo/{owner%2Frepo|id}         [/repo/{provider}/{slug}...]
  GET  /repo/{slug}/builds             limit offset sort_by branch.name build.state ...
  POST /repo/{slug}/requests           {"request":{"branch",...}} -> 202
  GET  /build/{id}
  POST /build/{id}/restart             -> 202 pending
  POST /build/{id}/cancel              -> 202 pending
  GET  /job/{id}/log                   {"@type":"log","content":...} (state "logLines": lines a job)
"""

import atexit
import base64
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402
from fakelib import json_response, Response  # noqa: E402

T0 = 1735725600  # 2025-01-01T10:00:00Z
RUNNING = ("created", "received", "started", "queued")
FINISHED = ("passed", "failed", "errored", "canceled")
PROVIDERS = ("github", "bitbucket", "gitlab", "assembla")


# --------------------------------------------------------------------------
# keys (openssl via subprocess only)


def ensure_key(path):
    """Create an RSA-2048 private key at path unless it exists."""
    if os.path.exists(path):
        return
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    old = os.umask(0o077)
    try:
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", tmp], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except (OSError, subprocess.CalledProcessError) as e:
        raise ValueError("cannot generate %s: %s" % (path, getattr(e, "stderr", b"") or e))
    finally:
        os.umask(old)
    os.rename(tmp, path)


def public_key(path):
    try:
        r = subprocess.run(["openssl", "pkey", "-in", path, "-pubout"], check=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except (OSError, subprocess.CalledProcessError) as e:
        raise ValueError("cannot read key %s: %s" % (path, getattr(e, "stderr", b"") or e))
    return r.stdout.decode("ascii").strip()


def sign(keyfile, data):
    """base64 RSA-SHA1 (PKCS#1 v1.5) signature of data, as Travis sends it."""
    r = subprocess.run(["openssl", "dgst", "-sha1", "-sign", keyfile], input=data,
                       check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return base64.b64encode(r.stdout).decode("ascii")


def helper(argv):
    import argparse
    p = argparse.ArgumentParser(prog="fake-travis.py " + argv[0])
    p.add_argument("--keyfile", required=True)
    if argv[0] == "sign":
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--payload-file", help="the exact bytes to sign (the form-decoded "
                                              "payload field)")
        g.add_argument("--payload", help="the payload as a string (UTF-8)")
    a = p.parse_args(argv[1:])
    try:
        if argv[0] == "sign":
            if not os.path.exists(a.keyfile):
                raise ValueError("%s does not exist" % a.keyfile)
            if a.payload_file is not None:
                with open(a.payload_file, "rb") as f:
                    data = f.read()
            else:
                data = a.payload.encode("utf-8")
            print(sign(a.keyfile, data))
        elif argv[0] == "pubkey":
            ensure_key(a.keyfile)
            print(public_key(a.keyfile))
        else:
            ensure_key(a.keyfile)
    except (ValueError, OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("fake-travis.py %s: %s\n" % (argv[0], e))
        return 1
    return 0


# --------------------------------------------------------------------------
# data


def err(status, etype, message, resource=None, headers=None):
    body = {"@type": "error", "error_type": etype, "error_message": message}
    if resource:
        body["resource_type"] = resource
    return json_response(status, body, headers)


def default_state():
    user = {"id": 6151, "login": "alice", "name": "Alice Example"}
    repos = [{"id": 1001, "slug": "acme/api", "private": False, "default_branch": "main"},
             {"id": 1002, "slug": "acme/web", "private": False, "default_branch": "main"}]
    builds = []
    states = ["passed", "failed", "passed", "passed", "errored", "passed", "canceled",
              "passed", "failed", "passed"]
    prev = None
    for i in range(30):
        n = i + 1
        if n == 30:
            st = "started"
        elif n == 29:
            st = "created"
        else:
            st = states[i % len(states)]
        ev = ["push", "push", "pull_request", "api", "cron"][i % 5]
        branch = "feature/login" if i % 4 == 3 else "main"
        started = T0 + i * 3600
        b = {"id": 90000001 + i, "number": str(n), "state": st, "repo": "acme/api",
             "event_type": ev, "previous_state": prev, "branch": branch,
             "created_at": fakelib.iso(started - 20),
             "started_at": None if st == "created" else fakelib.iso(started, ms=False),
             "finished_at": fakelib.iso(started + 40 + i, ms=False) if st in FINISHED else None,
             "duration": 40 + i if st in FINISHED else None,
             "pull_request_title": "Add login page" if ev == "pull_request" else None,
             "pull_request_number": 40 + i if ev == "pull_request" else None,
             "commit": {"id": 110000001 + i, "sha": fakelib.det_hex(40, "travis", n),
                        "ref": "refs/pull/%d/merge" % (40 + i) if ev == "pull_request"
                        else "refs/heads/" + branch,
                        "message": "change #%d" % n,
                        "compare_url": "https://github.com/acme/api/compare/%s...%s"
                                       % (fakelib.det_hex(12, "travis", n - 1),
                                          fakelib.det_hex(12, "travis", n)),
                        "committed_at": fakelib.iso(started - 60, ms=False)},
             "jobs": [80000001 + 2 * i, 80000002 + 2 * i],
             "created_by": "alice" if i % 2 == 0 else "bob",
             "updated_at": fakelib.iso(started + 41 + i)}
        builds.append(b)
        if st in FINISHED:
            prev = st
    for i in range(3):
        started = T0 + 86400 + i * 7200
        builds.append({
            "id": 91000001 + i, "number": str(i + 1), "state": "passed", "repo": "acme/web",
            "event_type": "push", "previous_state": "passed" if i else None, "branch": "main",
            "created_at": fakelib.iso(started - 15), "started_at": fakelib.iso(started, ms=False),
            "finished_at": fakelib.iso(started + 75, ms=False), "duration": 75,
            "pull_request_title": None, "pull_request_number": None,
            "commit": {"id": 120000001 + i, "sha": fakelib.det_hex(40, "travis-web", i),
                       "ref": "refs/heads/main", "message": "web change %d" % (i + 1),
                       "compare_url": "https://github.com/acme/web/commit/%s"
                                      % fakelib.det_hex(8, "travis-web", i),
                       "committed_at": fakelib.iso(started - 90, ms=False)},
            "jobs": [81000001 + i], "created_by": "alice",
            "updated_at": fakelib.iso(started + 76)})
    return {"user": user, "repos": repos, "builds": builds}


class Travis(fakelib.Platform):
    name = "travis"
    default_token = "travis-test-token"

    @classmethod
    def add_args(cls, parser):
        parser.add_argument("--keyfile", help="PEM RSA private key signing webhooks "
                            "(generated with openssl when missing; default: a temporary one)")
        parser.add_argument("--request-limit", type=int, default=10,
                            help="POST /repo/{slug}/requests per repo before 429 "
                                 "(0 = unlimited; default %(default)s)")
        parser.add_argument("--site-host", default="travis-ci.com",
                            help="config.host in GET /config")

    def __init__(self, args, fake):
        if not args.keyfile:
            d = tempfile.mkdtemp(prefix="fake-travis-")
            atexit.register(shutil.rmtree, d, True)
            args.keyfile = os.path.join(d, "webhook-key.pem")
        ensure_key(args.keyfile)
        self.pubkey = public_key(args.keyfile)
        self.request_counts = {}
        self.next_request_id = 700001
        super().__init__(args, fake)

    # data ---------------------------------------------------------------
    def default_state(self):
        return default_state()

    def normalize_state(self, obj):
        if not isinstance(obj, dict):
            raise ValueError("state must be a JSON object")
        user = obj.get("user") or {"id": 6151, "login": "alice", "name": "Alice Example"}
        repos = obj.get("repos", [])
        builds = obj.get("builds", [])
        if not isinstance(repos, list) or not isinstance(builds, list):
            raise ValueError("repos and builds must be arrays")
        by_slug = {}
        for r in repos:
            if not isinstance(r, dict) or not isinstance(r.get("slug"), str) or \
                    "/" not in r["slug"] or not isinstance(r.get("id"), int):
                raise ValueError("every repo needs an integer id and a slug owner/name")
            r.setdefault("private", False)
            r.setdefault("default_branch", "main")
            by_slug[r["slug"]] = r
        next_id = max([r["id"] for r in repos] + [1000]) + 1
        for b in builds:
            if not isinstance(b, dict) or not isinstance(b.get("id"), int):
                raise ValueError("every build needs an integer id")
            # accept the API's own (standard) shape too
            if "repo" not in b and isinstance(b.get("repository"), dict):
                b["repo"] = b.pop("repository").get("slug")
            if isinstance(b.get("branch"), dict):
                b["branch"] = b["branch"].get("name")
            if isinstance(b.get("created_by"), dict):
                b["created_by"] = b["created_by"].get("login")
            if isinstance(b.get("jobs"), list):
                b["jobs"] = [j["id"] if isinstance(j, dict) else j for j in b["jobs"]]
            if not isinstance(b.get("repo"), str) or "/" not in b["repo"]:
                raise ValueError("build %d needs repo (owner/name)" % b["id"])
            if b["repo"] not in by_slug:
                r = {"id": next_id, "slug": b["repo"], "private": False, "default_branch": "main"}
                next_id += 1
                repos.append(r)
                by_slug[b["repo"]] = r
            b["number"] = str(b.get("number", b["id"]))
            b.setdefault("state", "passed")
            for k in ("duration", "previous_state", "pull_request_title", "pull_request_number",
                      "started_at", "finished_at", "tag", "created_at", "updated_at"):
                b.setdefault(k, None)
            b.setdefault("event_type", "push")
            b.setdefault("branch", "main")
            b.setdefault("commit", {})
            b.setdefault("jobs", [])
            b.setdefault("created_by", user.get("login"))
        pk = obj.get("publicKey")
        st = {"user": user, "repos": repos, "builds": builds}
        if isinstance(pk, str):
            st["publicKey"] = pk
        return st

    def reset_state(self):
        super().reset_state()
        with self.lock:
            self.request_counts.clear()

    # auth ---------------------------------------------------------------
    def _strip_v3(self, req):
        """(path segments after the optional /v3 prefix, href prefix, is v3)."""
        s = req.segments
        if s and s[0] == "v3":
            return s[1:], "/v3", True
        return s, "", req.headers.get("travis-api-version", "").strip() == "3"

    def auth(self, req):
        s, _, v3 = self._strip_v3(req)
        if s == ["config"] and req.method in ("GET", "HEAD"):
            return None
        if not v3:
            return json_response(404, {"file": "not found"})
        h = req.headers.get("authorization")
        if not h:
            return err(403, "login_required", "login required")
        scheme, _, tok = h.strip().partition(" ")
        if scheme.lower() != "token" or not fakelib.const_eq(tok.strip(), self.args.token):
            return err(403, "wrong_credentials", "access denied")
        return None

    def error(self, req, kind, retry_after=None):
        if kind == "401":
            return err(403, "wrong_credentials", "access denied")
        if kind == "403":
            return err(403, "insufficient_access", "forbidden")
        if kind == "404":
            return err(404, "not_found", "resource not found (or insufficient access)")
        if kind == "429":
            h = [("Retry-After", str(retry_after))] if retry_after is not None else []
            return err(429, "request_limit_reached", "request limit reached for resource",
                       headers=h)
        return err(500, "server_error", "Sorry, we experienced an error.")

    def html_page(self, req):
        return Response(200, "<!DOCTYPE html><html><head><title>Travis CI - Test and Deploy "
                        "Your Code with Confidence</title></head><body><div id=\"app\">"
                        "</div></body></html>\n", ctype="text/html; charset=utf-8")

    # rendering ----------------------------------------------------------
    def _repo(self, slug=None, rid=None):
        for r in self.state["repos"]:
            if (slug is not None and r["slug"] == slug) or (rid is not None and r["id"] == rid):
                return r
        return None

    def _repo_min(self, r, hp):
        return {"@type": "repository", "@href": "%s/repo/%d" % (hp, r["id"]),
                "@representation": "minimal", "id": r["id"],
                "name": r["slug"].split("/", 1)[1], "slug": r["slug"]}

    def _user_min(self, login, hp):
        uid = self.state["user"]["id"] if login == self.state["user"].get("login") \
            else 6000 + sum(map(ord, login or ""))
        return {"@type": "user", "@href": "%s/user/%d" % (hp, uid),
                "@representation": "minimal", "id": uid, "login": login}

    def _build_min(self, b, hp):
        return {"@type": "build", "@href": "%s/build/%d" % (hp, b["id"]),
                "@representation": "minimal", "id": b["id"], "number": b["number"],
                "state": b["state"], "duration": b["duration"], "event_type": b["event_type"],
                "previous_state": b["previous_state"],
                "pull_request_title": b["pull_request_title"],
                "pull_request_number": b["pull_request_number"],
                "started_at": b["started_at"], "finished_at": b["finished_at"],
                "private": self._repo(slug=b["repo"])["private"], "priority": False}

    def _build_std(self, b, hp):
        r = self._repo(slug=b["repo"])
        out = {"@type": "build", "@href": "%s/build/%d" % (hp, b["id"]),
               "@representation": "standard",
               "@permissions": {"read": True, "cancel": True, "restart": True,
                                "debug": False, "prioritize": False}}
        m = self._build_min(b, hp)
        del m["@type"], m["@href"], m["@representation"]
        out.update(m)
        out["repository"] = self._repo_min(r, hp)
        out["branch"] = {"@type": "branch", "@href": "%s/repo/%d/branch/%s" % (
            hp, r["id"], urllib.parse.quote(b["branch"] or "", safe="")),
            "@representation": "minimal", "name": b["branch"]}
        tag = b.get("tag")
        out["tag"] = None if not tag else {"@type": "tag", "@representation": "minimal",
                                           "repository_id": r["id"], "name": tag,
                                           "last_build_id": b["id"]}
        c = dict({"id": None, "sha": None, "ref": None, "message": None, "compare_url": None,
                  "committed_at": None}, **(b.get("commit") or {}))
        out["commit"] = dict({"@type": "commit", "@representation": "minimal"}, **c)
        out["jobs"] = [{"@type": "job", "@href": "%s/job/%d" % (hp, j),
                        "@representation": "minimal", "id": j} for j in b["jobs"]]
        out["stages"] = []
        out["created_by"] = self._user_min(b["created_by"], hp)
        out["updated_at"] = b["updated_at"]
        return out

    # routing ------------------------------------------------------------
    def cache_ok(self, req):
        return True     # every GET here is a pure read

    def handle(self, req):
        s, hp, _ = self._strip_v3(req)
        s = list(s)
        while len(s) > 1 and s[-1] == "":
            s.pop()
        m = req.method
        with self.lock:
            if s == ["config"] and m in ("GET", "HEAD"):
                return self.config()
            if s == ["builds"] and m == "GET":
                return self.list_builds(req, hp, None)
            if s and s[0] == "repo":
                return self.repo(req, s, hp)
            if len(s) >= 2 and s[0] == "build":
                return self.build(req, s, hp)
            if len(s) == 3 and s[0] == "job" and s[2] == "log" and m == "GET":
                return self.job_log(s[1], hp)
        return err(404, "not_found", "resource not found (or insufficient access)")

    def config(self):
        host = self.args.site_host
        return json_response(200, {"config": {
            "host": host, "shorten_host": "trvs.io",
            "assets": {"host": host},
            "pusher": {"key": "59236bc0716a551eab40", "scheme": "https",
                       "host": "ws.pusherapp.com", "port": 443, "path": ""},
            "github": {"api_url": "https://api.github.com",
                       "scopes": ["read:org", "user:email", "repo_deployment", "repo:status",
                                  "write:repo_hook"]},
            "notifications": {"webhook": {"public_key":
                                          self.state.get("publicKey", self.pubkey)}}}})

    def repo(self, req, s, hp):
        # /repo/{id|owner%2Fname}[/...] or /repo/{provider}/{id|slug}[/...]
        raw = req.path.split("/")
        if hp:
            raw = raw[1:]
        raw = raw[2:]  # after '', 'repo'
        if len(raw) >= 2 and raw[0] in PROVIDERS:
            raw = raw[1:]
            s = s[:1] + s[2:]
        if not raw or not raw[0]:
            return err(404, "not_found", "resource not found (or insufficient access)")
        key = raw[0]
        r = None
        if key.isdigit():
            r = self._repo(rid=int(key))
        elif "%2f" in key.lower():
            r = self._repo(slug=urllib.parse.unquote(key))
        else:
            # a slash that is not encoded does not match Travis' route
            return err(404, "not_found", "resource not found (or insufficient access)")
        if r is None:
            return err(404, "not_found", "repository not found (or insufficient access)",
                       "repository")
        rest = s[2:]
        m = req.method
        if rest == [] and m == "GET":
            owner, name = r["slug"].split("/", 1)
            body = self._repo_min(r, hp)
            body.update({"@representation": "standard",
                         "@permissions": {"read": True, "activate": True, "deactivate": True,
                                          "star": True, "unstar": True,
                                          "create_request": True, "create_cron": True},
                         "description": None, "github_id": 100000 + r["id"],
                         "vcs_id": str(100000 + r["id"]), "vcs_type": "GithubRepository",
                         "github_language": None, "active": True, "private": r["private"],
                         "owner": {"@type": "organization", "id": 500 + r["id"] % 7,
                                   "login": owner, "@href": "%s/org/%d" % (hp, 500 + r["id"] % 7)},
                         "owner_name": owner, "vcs_name": name,
                         "default_branch": {"@type": "branch", "@href": "%s/repo/%d/branch/%s"
                                            % (hp, r["id"], r["default_branch"]),
                                            "@representation": "minimal",
                                            "name": r["default_branch"]},
                         "starred": False, "managed_by_installation": True,
                         "active_on_org": None, "migration_status": None,
                         "history_migration_status": None, "shared": False,
                         "config_validation": False, "server_type": "git"})
            return json_response(200, body)
        if rest == ["builds"] and m == "GET":
            return self.list_builds(req, hp, r)
        if rest == ["requests"] and m == "POST":
            return self.create_request(req, hp, r)
        return err(404, "not_found", "resource not found (or insufficient access)")

    def list_builds(self, req, hp, repo):
        default_limit = 25 if repo is not None else 100
        try:
            limit = int(req.q("limit", default_limit))
            offset = int(req.q("offset", 0))
        except ValueError:
            return err(400, "wrong_params", "limit and offset must be integers")
        if limit <= 0:
            limit = default_limit
        limit = min(limit, 100)
        if offset < 0:
            return err(400, "wrong_params", "offset must be positive")
        items = [b for b in self.state["builds"] if repo is None or b["repo"] == repo["slug"]]

        def listp(*names):
            for n in names:
                v = req.q(n)
                if v is not None and v != "":
                    return set(x.strip() for x in v.split(","))
            return None
        filters = (("branch", listp("branch.name")),
                   ("state", listp("build.state", "state")),
                   ("event_type", listp("build.event_type", "event_type")),
                   ("previous_state", listp("build.previous_state", "previous_state")),
                   ("created_by", listp("build.created_by", "created_by")))
        for field, allowed in filters:
            if allowed is not None:
                items = [b for b in items if b.get(field) in allowed]
        sort_by = req.q("sort_by") or "number:desc,id:desc"
        for part in reversed([p.strip() for p in sort_by.split(",") if p.strip()]):
            field, _, order = part.partition(":")
            if field not in ("id", "number", "created_at", "started_at", "finished_at"):
                continue
            desc = order == "desc"
            if field == "number":
                key = (lambda b: int(b["number"]) if str(b["number"]).isdigit() else 0)
                items.sort(key=key, reverse=desc)
            else:
                present = [b for b in items if b.get(field) is not None]
                missing = [b for b in items if b.get(field) is None]
                present.sort(key=lambda b, f=field: b[f], reverse=desc)
                items = present + missing
        count = len(items)
        page = items[offset:offset + limit]

        path = req.path
        keep = [(k, v) for k, v in urllib.parse.parse_qsl(req.qs, keep_blank_values=True)
                if k not in ("limit", "offset")]

        def href(off):
            q = list(keep)
            if limit != default_limit or req.q("limit") is not None:
                q.append(("limit", str(limit)))
            if off:
                q.append(("offset", str(off)))
            return path + ("?" + urllib.parse.urlencode(q, safe=",:") if q else "")

        def link(off):
            return {"@href": href(off), "offset": off, "limit": limit}
        last_off = ((count - 1) // limit) * limit if count else 0
        pag = {"limit": limit, "offset": offset, "count": count,
               "is_first": offset == 0, "is_last": offset + limit >= count,
               "next": link(offset + limit) if offset + limit < count else None,
               "prev": link(max(0, offset - limit)) if offset > 0 else None,
               "first": link(0), "last": link(last_off)}
        body = {"@type": "builds", "@href": path + ("?" + req.qs if req.qs else ""),
                "@representation": "standard", "@pagination": pag,
                "builds": [self._build_std(b, hp) for b in page]}
        return json_response(200, body)

    def _find_build(self, bid):
        for b in self.state["builds"]:
            if str(b["id"]) == bid:
                return b
        return None

    def build(self, req, s, hp):
        b = self._find_build(s[1])
        if b is None:
            return err(404, "not_found", "build not found (or insufficient access)", "build")
        rest = s[2:]
        m = req.method
        if rest == [] and m == "GET":
            return json_response(200, self._build_std(b, hp))
        if rest == ["restart"] and m == "POST":
            if b["state"] in RUNNING:
                return err(409, "build_already_running", "build already running, cannot restart")
            answer = {"@type": "pending", "build": self._build_min(b, hp),
                      "state_change": "restart", "resource_type": "build"}
            if not self.args.readonly:
                b.update(previous_state=b["state"], state="created", started_at=None,
                         finished_at=None, duration=None,
                         updated_at=fakelib.iso(time.time()))
            return json_response(202, answer)
        if rest == ["cancel"] and m == "POST":
            if b["state"] not in RUNNING:
                return err(409, "build_not_cancelable", "build is not running, cannot cancel")
            answer = {"@type": "pending", "build": self._build_min(b, hp),
                      "state_change": "cancel", "resource_type": "build"}
            if not self.args.readonly:
                now = time.time()
                b.update(state="canceled", finished_at=fakelib.iso(now, ms=False),
                         updated_at=fakelib.iso(now))
            return json_response(202, answer)
        return err(404, "not_found", "resource not found (or insufficient access)")

    def job_log(self, jid, hp):
        """A job's log: deterministic lines (state "logLines", default 20)."""
        for b in self.state["builds"]:
            if jid.isdigit() and int(jid) in b["jobs"]:
                lines = int(self.state.get("logLines", 100))
                text = "".join("job %s line %d: building %s\n" % (jid, i + 1, b["repo"])
                               for i in range(lines))
                return json_response(200, {"@type": "log", "@href": "%s/job/%s/log" % (hp, jid),
                                           "@representation": "standard", "id": int(jid),
                                           "content": text, "log_parts": []})
        return err(404, "not_found", "job not found (or insufficient access)", "job")

    def create_request(self, req, hp, r):
        try:
            body = req.json()
        except fakelib.BadRequestBody:
            return err(400, "wrong_params", "request body is not valid JSON")
        if not isinstance(body, dict):
            return err(400, "wrong_params", "request body must be an object")
        rq = body.get("request", body)
        if not isinstance(rq, dict):
            return err(400, "wrong_params", "request must be an object")
        lim = self.args.request_limit
        used = self.request_counts.get(r["id"], 0)
        if lim and used >= lim:
            return err(429, "request_limit_reached", "request limit reached for resource",
                       headers=[("Retry-After", "3600")])
        self.request_counts[r["id"]] = used + 1
        rid = self.next_request_id
        self.next_request_id += 1
        branch = rq.get("branch") or r["default_branch"]
        owner, name = r["slug"].split("/", 1)
        answer = {"@type": "pending",
                  "remaining_requests": (lim - used - 1) if lim else 9999,
                  "repository": self._repo_min(r, hp),
                  "request": {"repository": {"id": r["id"], "owner_name": owner, "name": name},
                              "user": {"id": self.state["user"]["id"]}, "id": rid,
                              "message": rq.get("message"), "branch": branch,
                              "config": copy.deepcopy(rq.get("config") or {})},
                  "resource_type": "request"}
        if not self.args.readonly:
            mine = [b for b in self.state["builds"] if b["repo"] == r["slug"]]
            n = max([int(b["number"]) for b in mine if str(b["number"]).isdigit()] + [0]) + 1
            now = time.time()
            bid = max([b["id"] for b in self.state["builds"]] + [90000000]) + 1
            self.state["builds"].append({
                "id": bid, "number": str(n), "state": "created", "repo": r["slug"],
                "event_type": "api", "previous_state": None, "branch": branch,
                "created_at": fakelib.iso(now), "started_at": None, "finished_at": None,
                "duration": None, "pull_request_title": None, "pull_request_number": None,
                "tag": None,
                "commit": {"id": 130000000 + rid, "sha": rq.get("sha") or
                           fakelib.det_hex(40, "travis-req", rid), "ref": "refs/heads/" + branch,
                           "message": rq.get("message") or "Triggered via API",
                           "compare_url": "https://github.com/%s/commit/%s" % (
                               r["slug"], fakelib.det_hex(8, "travis-req", rid)),
                           "committed_at": fakelib.iso(now, ms=False)},
                "jobs": [], "created_by": self.state["user"].get("login"),
                "updated_at": fakelib.iso(now)})
        return json_response(202, answer)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("sign", "pubkey", "genkey"):
        sys.exit(helper(sys.argv[1:]))
    sys.exit(fakelib.main(Travis))
