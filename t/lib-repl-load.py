#!/usr/bin/python3
"""lib-repl-load.py - the bounded write load of t9500-replication.sh and the checker.

  lib-repl-load.py load OUT.jsonl TOKEN HOOKTOKEN N URL...
      N requests (credential creations and Jenkins webhooks, alternating, named
      cred-<LOAD_TAG><k> and job-<LOAD_TAG><k>) from 4 threads (LOAD_THREADS), spread
      over every node URL in turn; each answer is one line of OUT.jsonl: {"k", "kind",
      "url", "status", "t" (when it came, Unix time)}.  Stops early when ./load.stop
      exists.  A thread whose request was not acknowledged waits LOAD_BACKOFF_MS (20)
      before its next one, as a client would: without it a node that is down (refused
      at once) or a group electing a master (503 at once) burns through N requests in
      a second or two.
  lib-repl-load.py check OUT.jsonl TOKEN URL...
      every acknowledged (2xx) write is present on every node URL given: the
      credential in its list, the webhook's event in its history; and each node's
      event ids are unique and consecutive.  Prints what it found; exit 1 on a miss.
  lib-repl-load.py reads TOKEN N URL...
      N reads of the first 2 events of the history (GET /events?since=0&limit=2)
      spread over the URLs from LOAD_THREADS threads; prints "N reads in S s: R/s,
      K answered 200" (scripts/bench-replication: reads scale with nodes).
  lib-repl-load.py wscheck TOKEN URL FILE...
      the WebSocket messages in FILEs (ws-client.py --out, in order) are ids 1..n once
      each, and each is the event URL's history holds under that id.
"""
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request


def request(method, url, token, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers
    except Exception:  # refused, reset, timed out: not acknowledged
        return 0, b"", {}


TAG = os.environ.get("LOAD_TAG", "")  # names of another load: cred-<TAG><k>, job-<TAG><k>


def one(k, url, token, hook):
    if k % 2 == 0:
        st, _, _ = request("POST", url + "/api/v1/integrations/credentials", token,
                           {"type": "argocd", "name": "cred-%s%d" % (TAG, k),
                            "value": {"url": "https://argocd.example.com", "token": "t%d" % k}})
        return "cred", st
    st, _, _ = request("POST", url + "/api/v1/webhooks/jenkins?token=" + hook, None,
                       {"name": "job-%s%d" % (TAG, k), "url": "job/job-%s%d/" % (TAG, k),
                        "build": {"number": k, "phase": "COMPLETED", "status": "SUCCESS",
                                  "timestamp": 1700000000000 + k, "duration": 1000}})
    return "hook", st


def spread(n, fn, stop=lambda: False):
    """fn(k) for k = 0..n-1 from LOAD_THREADS threads, each taking the next k, until
    stop(); returns (how many were taken, seconds)."""
    lock = threading.Lock()
    nxt = [0]

    def worker():
        while not stop():
            with lock:
                k = nxt[0]
                nxt[0] += 1
            if k >= n:
                return
            fn(k)

    t0 = time.time()
    ts = [threading.Thread(target=worker) for _ in range(int(os.environ.get("LOAD_THREADS", "4")))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return min(nxt[0], n), time.time() - t0


def load(out, token, hook, n, urls):
    lock = threading.Lock()
    fp = open(out, "a")
    backoff = int(os.environ.get("LOAD_BACKOFF_MS", "20")) / 1000.0

    def write(k):
        url = urls[k % len(urls)]
        kind, st = one(k, url, token, hook)
        with lock:
            fp.write(json.dumps({"k": k, "kind": kind, "url": url, "status": st,
                                 "t": round(time.time(), 3)}) + "\n")
            fp.flush()
        if not 200 <= st < 300:
            time.sleep(backoff)

    done, el = spread(n, write, lambda: os.path.exists("load.stop"))
    fp.close()
    print("%d requests in %.2f s: %.0f/s" % (done, el, done / el))


def reads(token, n, urls):
    # The same read on every node: the first 2 events of the history (small: a
    # bigger answer made the Python client the bottleneck, 400/s).
    path = "/api/v1/events?since=0&limit=2"
    for url in urls:
        for _ in range(300):
            if request("GET", url + path, token)[0] == 200:
                break
            time.sleep(0.1)
    lock = threading.Lock()
    ok = [0]

    def read(k):
        if request("GET", urls[k % len(urls)] + path, token)[0] == 200:
            with lock:
                ok[0] += 1

    done, el = spread(n, read)
    print("%d reads in %.2f s: %.0f/s, %d answered 200" % (done, el, done / el, ok[0]))


def events(url, token):
    out, since = [], 0
    while True:
        st, body, headers = request("GET", url + "/api/v1/events?since=%d&limit=500" % since, token)
        if st != 200:
            raise SystemExit("%s: GET /events answered %d" % (url, st))
        page = json.loads(body)
        out.extend(page)
        nxt = int(headers.get("X-Farm-Next-Since") or since)
        if not page or nxt == since:
            return out
        since = nxt


def check(out, token, urls):
    acks = [json.loads(l) for l in open(out)]
    creds = {"cred-%s%d" % (TAG, a["k"]) for a in acks if a["kind"] == "cred" and 200 <= a["status"] < 300}
    hooks = {"job-%s%d" % (TAG, a["k"]) for a in acks if a["kind"] == "hook" and 200 <= a["status"] < 300}
    bad = 0
    for url in urls:
        st, body, _ = request("GET", url + "/api/v1/integrations/credentials", token)
        have = {c["name"] for c in json.loads(body)} if st == 200 else set()
        ev = events(url, token)
        ids = [e["data"]["id"] if "data" in e else e["id"] for e in ev]
        names = set()
        for e in ev:
            d = e.get("data", e)
            names.add(d.get("name"))
        miss_c, miss_h = creds - have, hooks - names
        dup = len(ids) - len(set(ids))
        gaps = [(a, b) for a, b in zip(ids, ids[1:]) if b != a + 1]
        print("%s: %d/%d credentials, %d/%d webhook events, ids %s..%s, %d duplicate, gaps %s"
              % (url, len(creds) - len(miss_c), len(creds), len(hooks) - len(miss_h), len(hooks),
                 ids[0] if ids else "-", ids[-1] if ids else "-", dup, gaps[:5]))
        if miss_c or miss_h or dup or gaps:
            print("  missing credentials %s, missing events %s"
                  % (sorted(miss_c)[:10], sorted(miss_h)[:10]))
            bad = 1
    print("acknowledged: %d credentials, %d webhooks (of %d requests)" % (len(creds), len(hooks), len(acks)))
    return bad


def wscheck(token, url, files):
    msgs = [json.loads(l) for f in files for l in open(f)]
    ids = [m["data"]["id"] for m in msgs]
    if ids != list(range(1, len(ids) + 1)):
        print("WebSocket ids are not 1..%d once each: %s" % (len(ids), ids[:30]))
        return 1
    hist = {e["data"]["id"]: e for e in events(url, token)}
    diff = [m["data"]["id"] for m in msgs if hist.get(m["data"]["id"]) != m]
    if diff:
        print("WebSocket messages unlike %s's history: ids %s" % (url, diff[:10]))
        return 1
    print("WebSocket: %d events over %d connections, no gap, no duplicate, as %s holds them"
          % (len(ids), len(files), url))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6:])
    elif sys.argv[1] == "reads":
        reads(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    elif sys.argv[1] == "wscheck":
        sys.exit(wscheck(sys.argv[2], sys.argv[3], sys.argv[4:]))
    elif sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4:]))
    else:
        sys.exit(__doc__)
