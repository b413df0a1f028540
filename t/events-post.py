#!/usr/bin/python3
"""events-post.py - sends signed CircleCI workflow-completed deliveries, fast.

  events-post.py --url http://127.0.0.1:PORT --secret S [--path /api/v1/webhooks/circleci]
                 [--count N] [--start K] [--tag T] [--rate R] [--threads C]
                 [--times FILE] [--body-only] [--project SLUG [--projects M]] [--status S]
                 [--pad MIN-MAX]

Delivery i (K <= i < K+N) has id "<tag>-<i>" and workflow name "wf-<i>", so a test
can check order and completeness from what its WebSocket clients received.
Signature: circleci-signature v1 = hex HMAC-SHA256(secret, raw body) (python hmac).
--rate paces sends (deliveries per second over all threads; 0 = as fast as possible),
--times writes one JSON line per delivery {"i","status","sent","done"} (epoch seconds).
Prints {"sent":n,"status":{"200":n,...}} and exits 0 when every answer was 200.
--body-only prints delivery K's body and signature header value and exits.
--project sets the project slug (default gh/farm/demo); with --projects M, delivery i
goes to project "<SLUG><i mod M>".  --status sets the workflow status (default success).
--pad MIN-MAX adds a "padding" member so that delivery i's body is between MIN and
MAX bytes (sizes spread evenly, the same for the same i): large bodies, one event each.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
import uuid
import urllib.parse


def body(tag, i, project="gh/farm/demo", status="success", uuid_id=False, pad=None):
    # CircleCI's delivery ids are random UUIDs; uuid_id=True gives one (stable for
    # tag and i), so that a benchmark's redelivery keys spread as real ones do.
    did = str(uuid.uuid5(uuid.NAMESPACE_URL, "%s-%d" % (tag, i))) if uuid_id else "%s-%d" % (tag, i)
    d = {
        "id": did, "type": "workflow-completed",
        "happened_at": "2025-01-01T10:00:00.000Z",
        "webhook": {"id": "hook-1", "name": "farm"},
        "project": {"id": "p-1", "name": "demo", "slug": project},
        "organization": {"id": "o-1", "name": "farm"},
        "workflow": {"id": "wf-id-%s-%d" % (tag, i), "name": "wf-%d" % i,
                     "created_at": "2025-01-01T10:00:00.000Z",
                     "stopped_at": "2025-01-01T10:01:00.000Z",
                     "url": "https://app.circleci.com/pipelines/gh/farm/demo/%d" % i,
                     "status": status},
        "pipeline": {"id": "pl-%s-%d" % (tag, i), "number": i, "created_at": "2025-01-01T10:00:00.000Z",
                     "trigger": {"type": "webhook"},
                     "vcs": {"provider_name": "github", "revision": "%040x" % i,
                             "branch": "main"}},
    }
    if pad:
        lo, hi = pad
        want = lo + (i * 7919) % (hi - lo + 1)
        d["padding"] = ""
        d["padding"] = "x" * max(0, want - len(json.dumps(d, separators=(",", ":"))))
    return json.dumps(d, separators=(",", ":")).encode()


def project_of(a, i):
    return "%s%d" % (a.project, i % a.projects) if a.projects > 0 else a.project


def sign(secret, data):
    return "v1=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--path", default="/api/v1/webhooks/circleci")
    p.add_argument("--secret", required=True)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--start", type=int, default=1)
    p.add_argument("--tag", default="d")
    p.add_argument("--rate", type=float, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--times")
    p.add_argument("--body-only", action="store_true")
    p.add_argument("--project", default="gh/farm/demo")
    p.add_argument("--projects", type=int, default=0)
    p.add_argument("--status", default="success")
    p.add_argument("--pad")
    a = p.parse_args()
    pad = tuple(int(x) for x in a.pad.split("-")) if a.pad else None

    if a.body_only:
        b = body(a.tag, a.start, project_of(a, a.start), a.status, pad=pad)
        sys.stdout.write(b.decode() + "\n" + sign(a.secret, b) + "\n")
        return 0
    u = urllib.parse.urlsplit(a.url)
    lock = threading.Lock()
    counts = {}
    times = []
    nxt = [a.start]
    t0 = time.monotonic()

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        while True:
            with lock:
                i = nxt[0]
                if i >= a.start + a.count:
                    break
                nxt[0] += 1
            if a.rate > 0:
                due = t0 + (i - a.start) / a.rate
                d = due - time.monotonic()
                if d > 0:
                    time.sleep(d)
            b = body(a.tag, i, project_of(a, i), a.status, pad=pad)
            h = {"Content-Type": "application/json", "circleci-signature": sign(a.secret, b),
                 "circleci-event-type": "workflow-completed"}
            sent = time.time()
            try:
                conn.request("POST", a.path, body=b, headers=h)
                r = conn.getresponse()
                r.read()
                st = r.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                st = 0
            done = time.time()
            with lock:
                counts[str(st)] = counts.get(str(st), 0) + 1
                if a.times:
                    times.append({"i": i, "status": st, "sent": sent, "done": done})
        conn.close()

    ts = [threading.Thread(target=worker) for _ in range(max(1, a.threads))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if a.times:
        with open(a.times, "w") as f:
            for r in sorted(times, key=lambda r: r["i"]):
                f.write(json.dumps(r) + "\n")
    print(json.dumps({"sent": sum(counts.values()), "status": counts}))
    return 0 if counts.get("200", 0) == a.count else 1


if __name__ == "__main__":
    sys.exit(main())
