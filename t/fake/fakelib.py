#!/usr/bin/python3
"""fakelib — the common part of farm's fake CI/CD platforms.

Each fake (fake-argocd.py, fake-circleci.py, fake-jenkins.py, fake-travis.py)
subclasses Platform and calls fakelib.main(ThePlatform).  This module owns:

  * the HTTP/1.1 keep-alive server (ThreadingHTTPServer, daemon threads,
    listen backlog 1024, one write per response, no per-request logging
    unless --verbose);
  * the common command line (--port --bind --portfile --pidfile --record
    --token --prefix --base-url --max-records --readonly --verbose);
  * request recording (memory ring + optional JSON-lines file);
  * the control API under /__fake/ (mode, requests, reset, stats, state);
  * failure modes (401 403 404 429 500 html hang reset huge garbage).

Only the Python standard library is used.  See t/fake/README.md.
"""

import argparse
import base64
import collections
import copy
import datetime
import hmac
import http.server
import json
import os
import queue
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

MODES = ("normal", "401", "403", "404", "429", "500",
         "html", "hang", "reset", "huge", "garbage", "echo400")

HUGE_SIZE = 20 * 1024 * 1024
MAX_BODY = 64 * 1024 * 1024

# --------------------------------------------------------------------------
# small helpers shared by the fakes


def iso(ts, ms=True):
    """Epoch seconds -> ISO 8601 UTC ('2025-01-01T00:00:00.000Z')."""
    dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    if ms:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def det_uuid(*parts):
    """A stable UUID for the given parts (same data on every start)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "farm-fake:" + "/".join(str(p) for p in parts)))


def det_hex(n, *parts):
    """A stable lower-case hex string of n characters."""
    out = ""
    i = 0
    while len(out) < n:
        out += uuid.uuid5(uuid.NAMESPACE_URL, "farm-fake-hex:%d:" % i + "/".join(
            str(p) for p in parts)).hex
        i += 1
    return out[:n]


def const_eq(a, b):
    """Constant-time string compare (None never matches)."""
    if a is None or b is None:
        return False
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"),
                               b.encode("utf-8", "surrogateescape"))


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Response:
    """What a platform handler returns."""
    __slots__ = ("status", "headers", "body", "stream")

    def __init__(self, status, body=b"", headers=None, ctype=None, stream=None):
        self.status = status
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body
        self.headers = list(headers or [])
        if ctype is not None:
            self.headers.insert(0, ("Content-Type", ctype))
        # stream: (total_length, iterable of bytes) for huge bodies
        self.stream = stream


def json_response(status, obj, headers=None, ctype="application/json"):
    return Response(status, dumps(obj), headers, ctype)


def text_response(status, text, headers=None, ctype="text/plain;charset=utf-8"):
    return Response(status, text, headers, ctype)


class BadRequestBody(Exception):
    pass


class Request:
    """One parsed API request as platform handlers see it.

    raw_path  the request target as received (query included)
    path      the path part, raw (not decoded), prefix removed
    segments  path split on '/', each segment percent-decoded
    query     {name: [values]} (form decoding, blanks kept)
    headers   {lower-case name: value}
    body      bytes
    base      the fake's own base URL incl. prefix, no trailing slash
    """
    __slots__ = ("method", "raw_path", "path", "qs", "query", "headers",
                 "body", "base", "segments", "_json")

    def __init__(self, method, raw_path, path, qs, headers, body, base):
        self.method = method
        self.raw_path = raw_path
        self.path = path
        self.qs = qs
        self.query = urllib.parse.parse_qs(qs, keep_blank_values=True) if qs else {}
        self.headers = headers
        self.body = body
        self.base = base
        self.segments = [urllib.parse.unquote(s, errors="surrogateescape")
                         for s in path.split("/")[1:]]
        self._json = None

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default

    def json(self):
        """The body parsed as JSON ({} for an empty body)."""
        if self._json is None:
            if not self.body.strip():
                self._json = {}
            else:
                try:
                    self._json = json.loads(self.body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError) as e:
                    raise BadRequestBody(str(e))
        return self._json

    def form(self):
        """Body as application/x-www-form-urlencoded, merged after the query."""
        out = {k: list(v) for k, v in self.query.items()}
        ctype = self.headers.get("content-type", "")
        if self.body and "application/x-www-form-urlencoded" in ctype:
            for k, v in urllib.parse.parse_qs(self.body.decode("utf-8", "replace"),
                                              keep_blank_values=True).items():
                out.setdefault(k, []).extend(v)
        return out


# --------------------------------------------------------------------------
# the platform interface


class Platform:
    """Base class of a fake platform; override what the platform needs."""

    name = "generic"
    default_token = "test-token"

    @classmethod
    def add_args(cls, parser):
        """Add platform-specific command line flags."""

    def __init__(self, args, fake):
        self.args = args
        self.fake = fake
        self.lock = threading.RLock()
        self.state = self.normalize_state(self.default_state())

    # data ---------------------------------------------------------------
    def default_state(self):
        return {}

    def normalize_state(self, obj):
        """Validate/complete a state document; raise ValueError when wrong."""
        if not isinstance(obj, dict):
            raise ValueError("state must be a JSON object")
        return obj

    def set_state(self, obj):
        st = self.normalize_state(copy.deepcopy(obj))
        with self.lock:
            self.state = st
        self.fake.invalidate()

    def get_state(self):
        with self.lock:
            return copy.deepcopy(self.state)

    def reset_state(self):
        self.set_state(self.default_state())

    # requests -----------------------------------------------------------
    def auth(self, req):
        """Return a refusal Response, or None when the caller may proceed."""
        return None

    def handle(self, req):
        return self.error(req, "404")

    def error(self, req, kind, retry_after=None):
        """The platform's own answer for kind in 401 403 404 429 500."""
        status = int(kind)
        headers = []
        if status == 429 and retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        return json_response(status, {"message": "fake error %s" % kind}, headers)

    def echo400(self, text):
        """A 400 whose message quotes the request headers (text), as a misconfigured
        server or proxy in front of the platform may send."""
        return json_response(400, {"message": text, "error_message": text,
                                   "error": text, "code": 3})

    def html_page(self, req):
        return Response(200, "<!DOCTYPE html><html><head><title>%s</title></head>"
                        "<body><p>Please sign in.</p></body></html>\n" % self.name,
                        ctype="text/html;charset=utf-8")

    def cache_ok(self, req):
        """True when this GET's answer depends only on the target and the data,
        and computing it changes nothing; such answers are cached until the
        next request that is not (or until the state is replaced)."""
        return False

    def extra_headers(self):
        """Headers added to every API answer (e.g. X-Jenkins)."""
        return ()


# --------------------------------------------------------------------------
# the shared machinery


class Fake:
    """Process-wide state: platform, mode, records, counters."""

    def __init__(self, args, platform_cls):
        self.args = args
        self.lock = threading.Lock()
        self.records = collections.deque(maxlen=max(1, args.max_records))
        self.record_file = None
        if args.record:
            self.record_file = open(args.record, "a", encoding="utf-8")
        self.mode = None            # dict or None
        self.connections = 0
        self.requests = 0
        self.control_requests = 0
        self.api_connections = 0
        self.generation = 0
        self.conn_serial = 0
        self.conn_ids = {}          # fileno -> connection serial, until handled
        self.base = ""              # set once the port is known
        self._huge_chunk = None
        self.cache = {}
        self.cache_gen = 0
        self.platform = platform_cls(args, self)

    # mode ---------------------------------------------------------------
    def set_mode(self, obj):
        if not isinstance(obj, dict):
            raise ValueError("body must be a JSON object")
        mode = str(obj.get("mode", ""))
        if mode not in MODES:
            raise ValueError("mode must be one of " + " ".join(MODES))
        count = obj.get("count")
        if count is not None:
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError("count must be a positive integer")
        seconds = obj.get("seconds", 60)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError("seconds must be a non-negative number")
        prefix = obj.get("pathPrefix")
        if prefix is not None and not isinstance(prefix, str):
            raise ValueError("pathPrefix must be a string")
        ra = obj.get("retryAfter", "7")
        if ra is not None:
            ra = str(ra)
            if "\r" in ra or "\n" in ra:
                raise ValueError("retryAfter must not contain CR/LF")
        with self.lock:
            if mode == "normal":
                self.mode = None
            else:
                self.mode = {"mode": mode, "count": count, "retryAfter": ra,
                             "seconds": seconds, "pathPrefix": prefix}
        return self.get_mode()

    def get_mode(self):
        with self.lock:
            if self.mode is None:
                return {"mode": "normal", "count": None}
            return dict(self.mode)

    def take_mode(self, path):
        """The mode that applies to this API request (consumes one count)."""
        with self.lock:
            m = self.mode
            if m is None:
                return None
            if m["pathPrefix"] and not path.startswith(m["pathPrefix"]):
                return None
            if m["count"] is not None:
                m["count"] -= 1
                if m["count"] <= 0:
                    self.mode = None
            return m

    # records / stats ----------------------------------------------------
    def record(self, rec):
        with self.lock:
            self.requests += 1
            self.records.append(rec)
            if self.record_file is not None:
                self.record_file.write(json.dumps(rec, ensure_ascii=False) + "\n")
                self.record_file.flush()

    def reset(self):
        with self.lock:
            self.records.clear()
            self.mode = None
            self.connections = 0
            self.requests = 0
            self.control_requests = 0
            self.api_connections = 0
            self.generation += 1

    def stats(self):
        with self.lock:
            return {"connections": self.connections, "requests": self.requests,
                    "apiConnections": self.api_connections,
                    "controlRequests": self.control_requests}

    # answer cache for pure GETs --------------------------------------------
    def invalidate(self):
        with self.lock:
            self.cache_gen += 1
            if self.cache:
                self.cache = {}

    def cache_get(self, key, platform, req):
        resp = self.cache.get(key)
        if resp is not None:
            return resp
        gen = self.cache_gen
        resp = platform.handle(req)
        if resp.status == 200 and resp.stream is None:
            with self.lock:
                if gen == self.cache_gen:
                    if len(self.cache) >= 1024:
                        self.cache = {}
                    self.cache[key] = resp
        return resp

    def huge_chunk(self):
        if self._huge_chunk is None:
            item = b'{"id":"00000000-0000-4000-8000-000000000000","name":"' + b"x" * 180 + b'"},'
            self._huge_chunk = item * (65536 // len(item))
        return self._huge_chunk


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True
    fake = None

    max_idle_workers = 64

    def server_activate(self):
        super().server_activate()
        self._jobs = queue.SimpleQueue()
        self._idle = 0
        self._idle_lock = threading.Lock()

    def process_request(self, request, client_address):
        """Hand the connection to an idle worker thread, or start one.  Workers
        are kept (up to max_idle_workers) because starting a thread per
        connection halves the rate of short-lived connections."""
        with self._idle_lock:
            if self._idle > 0:
                self._idle -= 1
                self._jobs.put((request, client_address))
                return
        t = threading.Thread(target=self._worker, args=(request, client_address),
                             daemon=True)
        t.start()

    def _worker(self, request, client_address):
        while True:
            self.process_request_thread(request, client_address)
            with self._idle_lock:
                if self._idle >= self.max_idle_workers:
                    return
                self._idle += 1
            request, client_address = self._jobs.get()

    def get_request(self):
        sock, addr = super().get_request()
        fake = self.fake
        with fake.lock:
            fake.connections += 1
            fake.conn_serial += 1
            fake.conn_ids[sock.fileno()] = fake.conn_serial
        return sock, addr

    def handle_error(self, request, client_address):
        # connection-level errors (client went away) are not worth a trace
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, TimeoutError)):
            return
        if self.fake.args.verbose:
            super().handle_error(request, client_address)


class Server6(Server):
    address_family = socket.AF_INET6


class Headers:
    """Request headers: case-insensitive get(), items() in arrival order."""
    __slots__ = ("_items", "lower")

    def __init__(self):
        self._items = []
        self.lower = {}     # lower-case name -> value (repeats joined by ", ")

    def add(self, name, value):
        self._items.append((name, value))
        k = name.lower()
        self.lower[k] = self.lower[k] + ", " + value if k in self.lower else value

    def get(self, name, default=None):
        return self.lower.get(name.lower(), default)

    def items(self):
        return list(self._items)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300

    def setup(self):
        super().setup()
        self._api_gen = -1
        self._reset = False
        with self.server.fake.lock:
            self._conn_id = self.server.fake.conn_ids.pop(self.connection.fileno(), 0)

    def _fail(self, status, text):
        self.close_connection = True
        if not getattr(self, "command", None):
            self.command = "GET"
        try:
            self._send(text_response(status, text + "\n"))
        except OSError:
            pass

    def handle_one_request(self):
        """A small HTTP/1.1 request parser (the stdlib one goes through the
        email package, which costs a third of a request's time)."""
        self.command = None
        try:
            line = self.rfile.readline(65537)
        except (OSError, ValueError):
            self.close_connection = True
            return
        if not line:
            self.close_connection = True
            return
        if line in (b"\r\n", b"\n"):
            self.close_connection = False  # stray CRLF before a request (RFC 9112 2.2)
            return
        if len(line) > 65536:
            self._fail(414, "request line too long")
            return
        self.raw_requestline = line
        self.requestline = line.decode("latin-1").rstrip("\r\n")
        parts = self.requestline.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self.request_version = "HTTP/1.0"
            self._fail(400, "bad request line")
            return
        self.command, self.path, self.request_version = parts
        hdrs = Headers()
        count = 0
        while True:
            try:
                h = self.rfile.readline(65537)
            except (OSError, ValueError):
                self.close_connection = True
                return
            if not h:
                self.close_connection = True
                return
            if h in (b"\r\n", b"\n"):
                break
            count += 1
            if count > 200 or len(h) > 65536:
                self._fail(431, "request header fields too large")
                return
            text = h.decode("latin-1").rstrip("\r\n")
            name, sep, value = text.partition(":")
            if not sep or not name or name != name.strip():
                self._fail(400, "bad header line")
                return
            hdrs.add(name, value.strip())
        self.headers = hdrs
        conn = hdrs.get("Connection", "").lower()
        if self.request_version == "HTTP/1.1":
            self.close_connection = "close" in conn
        else:
            self.close_connection = "keep-alive" not in conn
        if self.request_version == "HTTP/1.1" and \
                hdrs.get("Expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._dispatch()

    def log_message(self, fmt, *args):
        if self.server.fake.args.verbose:
            sys.stderr.write("%s [%s] %s\n" % (self.server.fake.platform.name,
                                                self.log_date_time_string(), fmt % args))

    def finish(self):
        if self._reset:
            return
        try:
            super().finish()
        except (ConnectionError, OSError):
            pass

    # body ---------------------------------------------------------------
    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("eof in chunked body")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    return bytes(out)
                if len(out) + size > MAX_BODY:
                    raise ValueError("body too large")
                out += self.rfile.read(size)
                self.rfile.readline(3)
        n = self.headers.get("Content-Length")
        if not n:
            return b""
        n = int(n)
        if n < 0 or n > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(n) if n else b""

    # output -------------------------------------------------------------
    def _send(self, resp, extra=()):
        body = resp.body if resp.stream is None else b""
        length = len(body) if resp.stream is None else resp.stream[0]
        reason = self.responses.get(resp.status, ("",))[0]
        lines = ["HTTP/1.1 %d %s" % (resp.status, reason),
                 "Date: " + self.date_time_string(),
                 "Server: " + self.server_version]
        have_ctype = False
        for k, v in list(extra) + resp.headers:
            if k.lower() == "content-type":
                have_ctype = True
            lines.append("%s: %s" % (k, v))
        if not have_ctype and length:
            lines.append("Content-Type: application/octet-stream")
        if resp.status not in (204, 304) and not (100 <= resp.status < 200):
            lines.append("Content-Length: %d" % length)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        if self.command == "HEAD":
            self.wfile.write(head)
        elif resp.stream is None:
            self.wfile.write(head + body)
        else:
            self.wfile.write(head)
            for chunk in resp.stream[1]:
                self.wfile.write(chunk)
        self.log_request(resp.status, length)

    def _abort_reset(self):
        """Close the socket with an RST (SO_LINGER 0), answering nothing."""
        self._reset = True
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        for f in (self.rfile, self.wfile):
            try:
                f.close()
            except OSError:
                pass
        try:
            self.connection.close()
        except OSError:
            pass

    # dispatch -----------------------------------------------------------
    def _dispatch(self):
        fake = self.server.fake
        try:
            body = self._read_body()
        except (ValueError, ConnectionError):
            self.close_connection = True
            self._send(text_response(400, "bad request body\n"))
            return
        target = self.path
        if target.startswith("http://") or target.startswith("https://"):
            # absolute-form request target
            p = urllib.parse.urlsplit(target)
            target = (p.path or "/") + ("?" + p.query if p.query else "")
        path, _, qs = target.partition("?")
        if path.startswith("/__fake/"):
            with fake.lock:
                fake.control_requests += 1
            self._send(self._control(path, qs, body))
            return

        headers = dict(self.headers.lower)
        rec = {"method": self.command, "path": target,
               "query": urllib.parse.parse_qs(qs, keep_blank_values=True) if qs else {},
               "headers": headers,
               "body": body.decode("utf-8", "replace"),
               "conn": self._conn_id, "time": round(time.time(), 6)}
        with fake.lock:
            if self._api_gen != fake.generation:
                self._api_gen = fake.generation
                fake.api_connections += 1
        fake.record(rec)

        platform = fake.platform
        extra = platform.extra_headers()
        mode = fake.take_mode(path)
        if mode is not None:
            m = mode["mode"]
            if m == "reset":
                self._abort_reset()
                return
            if m == "hang":
                time.sleep(mode["seconds"])
            elif m in ("401", "403", "404", "429", "500"):
                self._send(platform.error(None, m, mode["retryAfter"]), extra)
                return
            elif m == "html":
                self._send(platform.html_page(None), extra)
                return
            elif m == "echo400":
                text = "; ".join("%s: %s" % (k, v) for k, v in sorted(headers.items()))
                self._send(platform.echo400(text), extra)
                return
            elif m == "garbage":
                self._send(Response(200, b'{"items":[{"id":"4e1f","state":"pass'
                                    b'ed",]]} \x00\xff not json',
                                    ctype="application/json"), extra)
                return
            elif m == "huge":
                self._send(self._huge(), extra)
                return

        prefix = fake.args.prefix
        if prefix:
            if path != prefix and not path.startswith(prefix + "/"):
                self._send(platform.error(None, "404"), extra)
                return
            path = path[len(prefix):] or "/"
        req = Request(self.command, target, path, qs, headers, body, fake.base)
        try:
            resp = platform.auth(req)
            if resp is None:
                if self.command == "GET" and platform.cache_ok(req):
                    resp = fake.cache_get(target, platform, req)
                else:
                    resp = platform.handle(req)
                    fake.invalidate()
        except Exception:  # a bug in the fake: say so loudly
            traceback.print_exc()
            resp = text_response(500, "fake %s: internal error (see its stderr)\n"
                                 % platform.name)
        self._send(resp, extra)

    def _huge(self):
        fake = self.server.fake
        chunk = fake.huge_chunk()
        head = b'{"items":['
        tail_item = b'{"id":"end"}]}'
        total = HUGE_SIZE

        def gen():
            yield head
            left = total - len(head) - len(tail_item)
            while left > 0:
                part = chunk if left >= len(chunk) else b" " * left
                yield part
                left -= len(part)
            yield tail_item
        return Response(200, headers=[("Content-Type", "application/json")],
                        stream=(total, gen()))

    # control API --------------------------------------------------------
    def _control(self, path, qs, body):
        fake = self.server.fake
        platform = fake.platform
        cmd = self.command
        try:
            obj = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (ValueError, UnicodeDecodeError) as e:
            return json_response(400, {"error": "bad JSON: %s" % e})
        try:
            if path == "/__fake/mode":
                if cmd == "POST":
                    return json_response(200, fake.set_mode(obj))
                if cmd == "GET":
                    return json_response(200, fake.get_mode())
            elif path == "/__fake/requests":
                if cmd == "GET":
                    q = urllib.parse.parse_qs(qs)
                    method = (q.get("method") or [None])[0]
                    prefix = (q.get("pathPrefix") or [None])[0]
                    with fake.lock:
                        recs = [r for r in fake.records
                                if (method is None or r["method"] == method) and
                                (prefix is None or r["path"].startswith(prefix))]
                    return json_response(200, recs)
                if cmd == "DELETE":
                    with fake.lock:
                        fake.records.clear()
                    return json_response(200, {"ok": True})
            elif path == "/__fake/reset":
                if cmd == "POST":
                    fake.reset()
                    if "state=1" in qs.split("&"):
                        platform.reset_state()
                    return json_response(200, {"ok": True})
            elif path == "/__fake/stats":
                if cmd == "GET":
                    return json_response(200, fake.stats())
            elif path == "/__fake/state":
                if cmd == "GET":
                    return json_response(200, platform.get_state())
                if cmd in ("POST", "PUT"):
                    platform.set_state(obj)
                    return json_response(200, {"ok": True})
                if cmd == "DELETE":
                    platform.reset_state()
                    return json_response(200, {"ok": True})
            elif path == "/__fake/info":
                if cmd == "GET":
                    return json_response(200, {"platform": platform.name,
                                               "base": fake.base, "pid": os.getpid()})
            else:
                extra = getattr(platform, "control", None)
                if extra is not None:
                    r = extra(cmd, path, qs, obj)
                    if r is not None:
                        return r
                return json_response(404, {"error": "no such control endpoint"})
            return json_response(405, {"error": "method not allowed"})
        except ValueError as e:
            return json_response(400, {"error": str(e)})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch


# --------------------------------------------------------------------------
# command line and main loop


def write_atomic(path, text):
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def build_parser(platform_cls, description=None):
    p = argparse.ArgumentParser(
        prog=os.path.basename(sys.argv[0]),
        description=description or "fake %s for farm's tests" % platform_cls.name)
    p.add_argument("--port", type=int, default=0, help="TCP port (0 = pick a free one)")
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    p.add_argument("--portfile", help="write the chosen port here (atomically) once listening")
    p.add_argument("--pidfile", help="write the process id here")
    p.add_argument("--record", help="append one JSON line per received API request")
    p.add_argument("--max-records", type=int, default=10000,
                   help="requests kept in memory for GET /__fake/requests (ring)")
    p.add_argument("--token", default=platform_cls.default_token,
                   help="the valid credential (default %(default)s)")
    p.add_argument("--prefix", default="",
                   help="serve the API under this path prefix (e.g. /jenkins, /api)")
    p.add_argument("--base-url", help="base URL used in answers "
                   "(default http://<bind>:<port><prefix>)")
    p.add_argument("--readonly", action="store_true",
                   help="actions answer as usual but never change the data")
    p.add_argument("--verbose", action="store_true", help="log each request to stderr")
    platform_cls.add_args(p)
    return p


def main(platform_cls, argv=None, description=None):
    args = build_parser(platform_cls, description).parse_args(argv)
    if args.prefix:
        args.prefix = "/" + args.prefix.strip("/")
    try:
        fake = Fake(args, platform_cls)
    except (ValueError, OSError) as e:
        sys.stderr.write("%s: %s\n" % (os.path.basename(sys.argv[0]), e))
        return 2

    cls = Server6 if ":" in args.bind else Server
    try:
        srv = cls((args.bind, args.port), Handler)
    except OSError as e:
        sys.stderr.write("%s: cannot listen on %s:%d: %s\n"
                         % (os.path.basename(sys.argv[0]), args.bind, args.port, e))
        return 1
    srv.fake = fake
    port = srv.server_address[1]
    host = args.bind
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = "[" + host + "]"
    fake.base = (args.base_url.rstrip("/") if args.base_url
                 else "http://%s:%d%s" % (host, port, args.prefix))
    if hasattr(fake.platform, "started"):
        fake.platform.started()

    def on_term(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    if args.pidfile:
        write_atomic(args.pidfile, "%d\n" % os.getpid())
    if args.portfile:
        write_atomic(args.portfile, "%d\n" % port)
    try:
        srv.serve_forever(poll_interval=0.25)
    except SystemExit:
        pass
    finally:
        srv.server_close()
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass
        if fake.record_file is not None:
            fake.record_file.close()
    return 0


def basic_credentials(headers):
    """(user, password) from an Authorization: Basic header, or None."""
    h = headers.get("authorization")
    if not h:
        return None
    scheme, _, rest = h.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ("", "")
    user, _, pw = raw.partition(":")
    return (user, pw)
