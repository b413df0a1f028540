#!/usr/bin/python3
"""travis-key-server.py - several Travis APIs' GET /config on one host, one per path.

  travis-key-server.py --dir D --portfile F

GET /<name>/config answers the Travis /config document with the PEM in D/<name>.pem
(404 when there is none); /hang/config waits 60 s first.  Every request is counted:
GET /__count answers {"/<name>/config": n, ...}.  Two credentials whose URLs share
this host and port differ only in their path: the case of issue 18 #2.
"""
import argparse
import http.server
import json
import os
import threading
import time

counts = {}
lock = threading.Lock()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        if self.path == "/__count":
            with lock:
                return self.answer(200, dict(counts))
        with lock:
            counts[self.path] = counts.get(self.path, 0) + 1
        parts = self.path.split("/")
        if len(parts) != 3 or parts[2] != "config":
            return self.answer(404, {"@type": "error", "error_type": "not_found"})
        if parts[1] == "hang":
            time.sleep(60)
        f = os.path.join(ARGS.dir, parts[1] + ".pem")
        if not os.path.exists(f):
            return self.answer(404, {"@type": "error", "error_type": "not_found"})
        pem = open(f).read()
        self.answer(200, {"config": {"host": "travis-ci.com",
                                     "notifications": {"webhook": {"public_key": pem}}}})


ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--portfile", required=True)
ARGS = ap.parse_args()
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
with open(ARGS.portfile + ".tmp", "w") as fp:
    fp.write("%d\n" % srv.server_address[1])
os.rename(ARGS.portfile + ".tmp", ARGS.portfile)
srv.serve_forever()
