#!/usr/bin/python3
"""runs-reduce.py - the reference answer of GET /api/v1/runs: every event GET /events
returns (all pages), reduced to the latest state of each run (provider + buildId) of a
known platform, newest first; compared with what GET /runs answered.

  runs-reduce.py URL TOKEN RUNS-JSON [platform=X] [project=Y] [limit=N]

Exits 0 when RUNS-JSON (the body of GET /runs with the same filter) equals the
reduction, else prints both."""
import json, sys, urllib.request

url, token, got_file = sys.argv[1:4]
f = dict(a.split("=", 1) for a in sys.argv[4:])
known = {"argocd", "candor", "circleci", "codefresh", "gitflic", "jenkins", "semaphore", "travisci"}
events, since = [], 0
while True:
    req = urllib.request.Request("%s/api/v1/events?since=%d&limit=1000" % (url, since),
                                 headers={"Authorization": "Bearer " + token})
    page = json.load(urllib.request.urlopen(req))
    if not page:
        break
    events += page
    since = page[-1]["data"]["id"]
latest = {}
for e in events:
    d = e.get("data", {})
    if e.get("event") != "ci.build.updated" or d.get("provider") not in known or \
            not isinstance(d.get("buildId"), str):
        continue
    latest[(d["provider"], d["buildId"])] = d
runs = sorted(latest.values(), key=lambda d: -d["id"])
if "platform" in f:
    runs = [d for d in runs if d["provider"] == f["platform"]]
if "project" in f:
    runs = [d for d in runs if d.get("project") == f["project"]]
runs = runs[:int(f.get("limit", 20))]
want = [{k: v for k, v in d.items() if k not in ("id", "receivedAt")} for d in runs]
got = json.load(open(got_file))
if got != want:
    print("GET /runs:", json.dumps([r.get("buildId") for r in got]))
    print("reduction:", json.dumps([r.get("buildId") for r in want]))
    sys.exit(1)
print("%d runs equal the reduction of %d events" % (len(got), len(events)))
