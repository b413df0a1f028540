#!/usr/bin/python3
"""Writers that fill a small disk and record what was acknowledged (t1300).

usage: lib-full-writer.py fill URL TOKEN SECRET HISTORY [--seconds S] [--threads T]
                          [--full-after N] [--tag TAG] [--max-ops N]
       lib-full-writer.py check URL TOKEN HISTORY EVENTS_FILE

fill: T threads, each alternating a credential create (value.token of 4000 bytes) and
a signed CircleCI delivery (workflow name "<tag>-<thread>-<n>"), on kept connections.
Stops when the last N answers in a row were 507 (the disk is full), after S
seconds, or after --max-ops operations.  Appends one JSON line per op to HISTORY:
  {"op":"create"|"hook","name":…,"id":…,"status":…,"res":"ok"|"full"|"fail"|"unknown"}
("unknown": no answer, or a 5xx other than 507: the write may or may not be there).
Prints {"ops":n,"ok":n,"full":n,"other":{status:n}} and exits 0 when the disk filled
(N answers of 507 in a row) or --max-ops were done, 1 otherwise.

check: every acknowledged create is listed (GET /integrations/credentials), and every
acknowledged delivery appears exactly once in EVENTS_FILE (JSON lines, as
`farmctl events tail` prints them); nothing refused with 507 is there.  Exits 1 on
any error.
"""
import hashlib, hmac, http.client, json, sys, threading, time, urllib.parse

def conn(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)

def send(c, url, method, path, body, headers):
    try:
        c.request(method, path, body, headers)
        r = c.getresponse()
        return c, r.status, r.read()
    except Exception as e:
        c.close()
        return conn(url), None, str(e).encode()

def hook_body(name, did):
    return json.dumps({
        "id": did, "type": "workflow-completed",
        "project": {"slug": "gh/farm/full"},
        "workflow": {"id": "wf-" + did, "name": name, "status": "success",
                     "url": "https://app.circleci.com/x", "created_at": "2025-01-01T10:00:00Z"},
        "pipeline": {"number": 1, "vcs": {"branch": "main", "revision": "a" * 40}},
    }, separators=(",", ":")).encode()

def classify(st, ok):
    if st == ok:
        return "ok"
    if st == 507:
        return "full"
    if st is None or st >= 500:
        return "unknown"
    return "fail"

def fill(url, token, secret, histfile, seconds=120, threads=4, full_after=40, tag="f",
         max_ops=0):
    lock = threading.Lock()
    hist, last = [], []
    state = {"full": False}
    deadline = time.time() + seconds

    def worker(tid):
        c = conn(url)
        n = 0
        while time.time() < deadline and not state["full"] and \
                not (max_ops and len(hist) >= max_ops):
            n += 1
            name = "%s-%d-%d" % (tag, tid, n)
            if n % 2:
                body = json.dumps({"type": "circleci", "name": name,
                                   "value": {"token": ("%s-" % name) + "t" * 4000}})
                c, st, data = send(c, url, "POST", "/api/v1/integrations/credentials", body,
                                   {"Authorization": "Bearer " + token,
                                    "Content-Type": "application/json"})
                rec = {"op": "create", "name": name, "status": st, "res": classify(st, 201)}
                if st == 201:
                    rec["id"] = json.loads(data)["id"]
            else:
                b = hook_body(name, "d-" + name)
                sig = "v1=" + hmac.new(secret.encode(), b, hashlib.sha256).hexdigest()
                c, st, data = send(c, url, "POST", "/api/v1/webhooks/circleci", b,
                                   {"circleci-signature": sig, "Content-Type": "application/json"})
                rec = {"op": "hook", "name": name, "status": st, "res": classify(st, 200)}
            rec["t"] = time.time()
            with lock:
                hist.append(rec)
                last.append(st)
                del last[:-full_after]
                if len(last) == full_after and all(s == 507 for s in last):
                    state["full"] = True
            if rec["res"] != "ok":
                time.sleep(0.02)
        c.close()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(histfile, "a") as f:
        for r in hist:
            f.write(json.dumps(r) + "\n")
    other = {}
    for r in hist:
        if r["res"] not in ("ok", "full"):
            other[str(r["status"])] = other.get(str(r["status"]), 0) + 1
    print(json.dumps({"ops": len(hist), "ok": sum(r["res"] == "ok" for r in hist),
                      "full": sum(r["res"] == "full" for r in hist), "other": other}))
    return 0 if state["full"] or (max_ops and len(hist) >= max_ops) else 1

def check(url, token, histfile, eventsfile):
    hist = [json.loads(l) for l in open(histfile)]
    c, st, body = send(conn(url), url, "GET", "/api/v1/integrations/credentials", None,
                       {"Authorization": "Bearer " + token})
    assert st == 200, "list failed: %s %s" % (st, body[:200])
    present = {x["id"] for x in json.loads(body)}
    names = {x["name"] for x in json.loads(body)}
    seen = {}
    for l in open(eventsfile):
        n = json.loads(l)["data"]["name"]
        seen[n] = seen.get(n, 0) + 1
    errors = []
    for r in hist:
        if r["op"] == "create" and r["res"] == "ok" and r["id"] not in present:
            errors.append("acknowledged create %s (%s) missing" % (r["name"], r["id"]))
        if r["op"] == "create" and r["res"] == "full" and r["name"] in names:
            errors.append("create %s answered 507 but stored" % r["name"])
        if r["op"] == "hook" and r["res"] == "ok" and seen.get(r["name"], 0) != 1:
            errors.append("acknowledged delivery %s: %d events" % (r["name"], seen.get(r["name"], 0)))
        if r["op"] == "hook" and r["res"] == "full" and r["name"] in seen:
            errors.append("delivery %s answered 507 but became an event" % r["name"])
    acked = sum(1 for r in hist if r["res"] == "ok")
    print("checked %d acknowledged writes (%d creates listed, %d events), %d errors" %
          (acked, len(present), sum(seen.values()), len(errors)))
    for e in errors[:20]:
        print("ERROR", e)
    return 1 if errors else 0

if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "fill":
        opts = {"--seconds": 120.0, "--threads": 4, "--full-after": 40, "--tag": "f",
                "--max-ops": 0}
        pos = []
        i = 1
        while i < len(a):
            if a[i] in opts:
                opts[a[i]] = type(opts[a[i]])(a[i + 1])
                i += 2
            else:
                pos.append(a[i])
                i += 1
        sys.exit(fill(*pos, seconds=opts["--seconds"], threads=opts["--threads"],
                      full_after=opts["--full-after"], tag=opts["--tag"],
                      max_ops=opts["--max-ops"]))
    sys.exit(check(*a[1:]))
