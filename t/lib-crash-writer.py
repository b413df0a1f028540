#!/usr/bin/python3
"""Concurrent credential writers that record what was acknowledged (Jepsen-style).

usage: lib-crash-writer.py URL TOKEN SECONDS THREADS HISTORY_FILE
       lib-crash-writer.py --check URL TOKEN HISTORY_FILE [NGINX_ACCESS_LOG...]

Each op is recorded as ok/fail/unknown/gone.  --check lists the credentials
and verifies against the model: every acknowledged create is present with the
name of its last acknowledged patch (or of a later unknown patch), and every
acknowledged delete is absent.  Unknown outcomes may land either way.

"gone" is a DELETE answered 404.  nginx retries an idempotent request (DELETE
is one) on a new connection when the first one broke, so when a worker is
killed after committing a delete but before answering, the retry answers 404
for a record the same request deleted.  A 404 alone cannot tell that from a
lost record, so nginx's access log must show that DELETE sent more than once
(upstream=502, 404); otherwise "gone" counts as a failed delete and the record
must still be there.
"""
import http.client, json, random, re, sys, threading, time, urllib.parse

def request(url, token, method, path, body=None):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    h = {"Authorization": "Bearer " + token}
    if body is not None:
        h["Content-Type"] = "application/json"
    try:
        c.request(method, path, json.dumps(body) if body is not None else None, h)
        r = c.getresponse()
        data = r.read()
        return r.status, data
    except Exception as e:  # reset, refused, timeout: outcome unknown
        return None, str(e).encode()
    finally:
        c.close()

def writer(url, token, deadline, tid, hist, lock):
    rnd = random.Random(tid)
    mine = []  # ids acknowledged as created and not deleted
    n = 0
    while time.time() < deadline:
        n += 1
        op = rnd.random()
        if op < 0.6 or not mine:
            name = f"w{tid}-{n}"
            st, body = request(url, token, "POST", "/api/v1/integrations/credentials",
                               {"type": "circleci", "name": name, "value": {"token": f"tok-{tid}-{n}"}})
            rec = {"op": "create", "name": name}
            if st == 201:
                rec["id"] = json.loads(body)["id"]; rec["res"] = "ok"; mine.append(rec["id"])
            else:
                rec["res"] = "fail" if st and st < 500 else "unknown"
        elif op < 0.85:
            cid = rnd.choice(mine); name = f"w{tid}-{n}-p"
            st, _ = request(url, token, "PATCH", f"/api/v1/integrations/credentials/{cid}", {"name": name})
            rec = {"op": "patch", "id": cid, "name": name,
                   "res": "ok" if st == 200 else ("fail" if st and st < 500 else "unknown")}
        else:
            cid = mine.pop(rnd.randrange(len(mine)))
            st, _ = request(url, token, "DELETE", f"/api/v1/integrations/credentials/{cid}")
            rec = {"op": "delete", "id": cid,
                   "res": "ok" if st == 204 else "gone" if st == 404 else
                          ("fail" if st and st < 500 else "unknown")}
            if rec["res"] not in ("ok", "gone"):
                mine.append(cid)
        rec["t"] = time.time()
        with lock:
            hist.append(rec)
        if rec["res"] == "unknown":
            time.sleep(0.05)

def run(url, token, seconds, threads, out):
    hist, lock = [], threading.Lock()
    deadline = time.time() + seconds
    ts = [threading.Thread(target=writer, args=(url, token, deadline, i, hist, lock)) for i in range(threads)]
    for t in ts: t.start()
    for t in ts: t.join()
    with open(out, "w") as f:
        for r in hist:
            f.write(json.dumps(r) + "\n")
    ok = sum(1 for r in hist if r["res"] == "ok")
    unk = sum(1 for r in hist if r["res"] == "unknown")
    print(f"ops={len(hist)} acknowledged={ok} unknown={unk}")

def check(url, token, histfile, logs=()):
    hist = [json.loads(l) for l in open(histfile)]
    retried_deletes = set()
    for path in logs:
        with open(path, errors="replace") as f:
            for m in re.finditer(r'"DELETE /api/v1/integrations/credentials/([0-9a-f-]{36}) [^"]*" '
                                 r'.* upstream=(\S+, .*)$', f.read(), re.M):
                retried_deletes.add(m.group(1))
    st, body = request(url, token, "GET", "/api/v1/integrations/credentials")
    assert st == 200, f"list failed: {st} {body[:200]}"
    present = {c["id"]: c for c in json.loads(body)}
    errors = []
    # per id: ordered ops
    byid = {}
    for r in sorted(hist, key=lambda r: r["t"]):
        if r["op"] == "create" and r.get("id"):
            byid.setdefault(r["id"], []).append(r)
        elif r["op"] in ("patch", "delete"):
            byid.setdefault(r["id"], []).append(r)
    for cid, ops in byid.items():
        deleted = any(o["op"] == "delete" and (o["res"] == "ok" or
                      (o["res"] == "gone" and cid in retried_deletes)) for o in ops)
        maybe_deleted = any(o["op"] == "delete" and o["res"] == "unknown" for o in ops)
        if deleted:
            if cid in present:
                errors.append(f"{cid}: acknowledged delete but present")
            continue
        if cid not in present:
            if not maybe_deleted:
                errors.append(f"{cid}: acknowledged create but missing")
            continue
        # the name must be the last acknowledged one, or one of the unknown patches after it
        last_ok = None; later_unknown = set()
        for o in ops:
            if o["op"] in ("create", "patch") and o["res"] == "ok":
                last_ok = o["name"]; later_unknown = set()
            elif o["op"] == "patch" and o["res"] == "unknown":
                later_unknown.add(o["name"])
        if present[cid]["name"] != last_ok and present[cid]["name"] not in later_unknown:
            errors.append(f"{cid}: name {present[cid]['name']!r}, expected {last_ok!r}")
    acked_creates = sum(1 for r in hist if r["op"] == "create" and r["res"] == "ok")
    print(f"checked {len(byid)} ids ({acked_creates} acknowledged creates), {len(present)} present, {len(errors)} errors")
    for e in errors[:20]:
        print("ERROR", e)
    sys.exit(1 if errors else 0)

if __name__ == "__main__":
    if sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        run(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
