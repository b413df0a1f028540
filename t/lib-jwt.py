#!/usr/bin/python3
"""Crafts JWTs for tests, including deliberately bad ones.

usage: lib-jwt.py SECRET KIND [SUB] [ORG]
KIND: admin member expired future-nbf alg-none hs512 two-segments bad-b64
      wrong-secret dup-header huge-header leeway-expired no-exp exp-1e300
"""
import base64, hashlib, hmac, json, sys, time

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def sign(secret, header_raw, payload_raw, alg=hashlib.sha256):
    h = b64(header_raw); p = b64(payload_raw)
    sig = hmac.new(secret.encode(), f"{h}.{p}".encode(), alg).digest()
    return f"{h}.{p}.{b64(sig)}"

secret, kind = sys.argv[1], sys.argv[2]
sub = sys.argv[3] if len(sys.argv) > 3 else "tester"
org = sys.argv[4] if len(sys.argv) > 4 else None
now = int(time.time())
hdr = json.dumps({"alg": "HS256", "typ": "JWT"}).encode()
claims = {"sub": sub, "orgId": org, "iat": now, "exp": now + 600}
if kind == "admin":
    claims["role"] = "admin"
elif kind == "roles-admin":
    claims["roles"] = ["viewer", "admin"]
elif kind == "expired":
    claims["exp"] = now - 120
elif kind == "leeway-expired":
    claims["exp"] = now - 10     # inside the 30 s leeway: still valid
elif kind == "future-nbf":
    claims["nbf"] = now + 120
elif kind == "no-exp":           # never expires: refused
    del claims["exp"]
    claims["role"] = "admin"
elif kind == "exp-1e300":        # finite, but never expires either: refused
    claims["exp"] = 1e300
    claims["role"] = "admin"
pl = json.dumps(claims).encode()
if kind == "alg-none":
    print(f"{b64(json.dumps({'alg':'none','typ':'JWT'}).encode())}.{b64(pl)}.")
elif kind == "hs512":
    h = json.dumps({"alg": "HS512", "typ": "JWT"}).encode()
    hb, pb = b64(h), b64(pl)
    print(f"{hb}.{pb}." + b64(hmac.new(secret.encode(), f"{hb}.{pb}".encode(), hashlib.sha256).digest()))
elif kind == "two-segments":
    print(".".join(sign(secret, hdr, pl).split(".")[:2]))
elif kind == "bad-b64":
    t = sign(secret, hdr, pl).split(".")
    print(f"{t[0]}.{t[1]}!!.{t[2]}")
elif kind == "wrong-secret":
    print(sign("not-the-secret-at-all-0123456789", hdr, pl))
elif kind == "dup-header":
    print(sign(secret, b'{"alg":"HS256","alg":"HS256","typ":"JWT"}', pl))
elif kind == "huge-header":
    print(sign(secret, json.dumps({"alg": "HS256", "x": "A" * 9000}).encode(), pl))
else:
    print(sign(secret, hdr, pl))
