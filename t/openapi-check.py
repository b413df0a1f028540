#!/usr/bin/python3
"""openapi-check.py - keeps docs/openapi.json true (t/t8000-openapi.sh, make check-openapi).

  openapi-check.py lint DOC              the document is well formed: OpenAPI 3.1 with
                                         JSON Schema 2020-12 schemas, every $ref resolves,
                                         path parameters declared, operationIds unique
  openapi-check.py routes DOC ROUTES     ROUTES is `farm-fcgi --routes` output; every row is
                                         an operation of DOC and every operation served by the
                                         pool is a row, with the same security and body policy
  openapi-check.py record FILE METHOD PATH STATUS HEADERS BODY
                                         appends one exchange (test-lib.sh's api() with
                                         FARM_RECORD_DIR set) to FILE as a JSON line
  openapi-check.py messages DOC POINTER FILE
                                         every line of FILE (JSON) validates against the schema
                                         at POINTER (e.g. the WebSocket's frames against
                                         /paths/~1api~1v1~1events/get/x-farm-websocket/message)
  openapi-check.py responses DOC FILE... every recorded exchange is documented: its path and
                                         method (or the 404/405 error), its status, its media
                                         type, and its body validates against the schema

Exit 0 when all is well, 1 with one line per problem otherwise.  Only Debian's
python3 and python3-jsonschema.
"""
import base64
import gzip
import json
import re
import sys
import urllib.parse

jsonschema = None  # imported by main() unless recording (api() runs `record` per request)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
FLAG_WORDS = {"auth", "admin", "json", "body", "adminloc"}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def operations(doc):
    for path, item in doc["paths"].items():
        for m, op in item.items():
            if m in METHODS:
                yield path, m, op


def served_by(op):
    s = op.get("x-farm-served-by", ["farm-fcgi"])
    return [s] if isinstance(s, str) else s


def validator(doc, schema):
    resolver = jsonschema.RefResolver("", doc)
    return jsonschema.Draft202012Validator(schema, resolver=resolver,
                                           format_checker=jsonschema.FormatChecker())


# ---- lint ----------------------------------------------------------------------------

def lint(doc):
    bad = []
    if not str(doc.get("openapi", "")).startswith("3.1."):
        bad.append("openapi must be 3.1.x")
    for k in ("info", "paths", "components"):
        if k not in doc:
            bad.append("missing " + k)

    def walk(node, where):
        if isinstance(node, dict):
            r = node.get("$ref")
            if isinstance(r, str):
                try:
                    jsonschema.RefResolver("", doc).resolve(r)
                except jsonschema.RefResolutionError:
                    bad.append("%s: $ref %s does not resolve" % (where, r))
            for k, v in node.items():
                walk(v, where + "/" + k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, "%s/%d" % (where, i))
    walk(doc, "#")
    for name, s in doc.get("components", {}).get("schemas", {}).items():
        try:
            jsonschema.Draft202012Validator.check_schema(s)
        except jsonschema.SchemaError as e:
            bad.append("schema %s: %s" % (name, e.message))
    schemes = doc.get("components", {}).get("securitySchemes", {})
    ids = {}
    for path, m, op in operations(doc):
        where = "%s %s" % (m.upper(), path)
        oid = op.get("operationId")
        if not oid:
            bad.append(where + ": no operationId")
        elif oid in ids:
            bad.append("%s: operationId %s also used by %s" % (where, oid, ids[oid]))
        else:
            ids[oid] = where
        if not op.get("responses"):
            bad.append(where + ": no responses")
        if "security" not in op:
            bad.append(where + ": no security (say [] for none)")
        for req in op.get("security", []):
            for s in req:
                if s not in schemes:
                    bad.append("%s: unknown security scheme %s" % (where, s))
        declared = {p["name"] for p in op.get("parameters", []) + doc["paths"][path].get("parameters", [])
                    if p.get("in") == "path"}
        templ = set(re.findall(r"{([^}]+)}", path))
        if declared != templ:
            bad.append("%s: path parameters %s, declared %s" % (where, sorted(templ), sorted(declared)))
        for code, resp in op.get("responses", {}).items():
            if "$ref" in resp:
                resp = jsonschema.RefResolver("", doc).resolve(resp["$ref"])[1]
            for mt, c in resp.get("content", {}).items():
                if "schema" in c:
                    try:
                        jsonschema.Draft202012Validator.check_schema(c["schema"])
                    except jsonschema.SchemaError as e:
                        bad.append("%s %s %s: %s" % (where, code, mt, e.message))
    return bad


# ---- routes ---------------------------------------------------------------------------

def route_rows(path):
    rows = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                raise SystemExit("%s:%d: not 'METHOD PATTERN FLAGS': %r" % (path, n, line))
            method, pattern, flags = parts
            words = set() if flags == "-" else set(flags.split(","))
            templ = re.sub(r":([A-Za-z0-9_]+)", r"{\1}", pattern)
            rows[(method.lower(), templ)] = words
    return rows


def has_scheme(op, name):
    return any(name in req for req in op.get("security", []))


def routes(doc, rows):
    bad = []
    ops = {}
    for path, m, op in operations(doc):
        ops[(m, path)] = op
        if "farm-fcgi" in served_by(op) and (m, path) not in rows:
            bad.append("%s %s: in the document, not in the route table" % (m.upper(), path))
    for (m, path), words in sorted(rows.items()):
        where = "%s %s" % (m.upper(), path)
        op = ops.get((m, path))
        if op is None:
            bad.append(where + ": in the route table, not in the document")
            continue
        unknown = words - FLAG_WORDS
        if unknown:
            bad.append("%s: flags %s unknown to this check: teach it their documentation" % (where, sorted(unknown)))
        if "farm-fcgi" not in served_by(op):
            bad.append(where + ": the pool serves it but x-farm-served-by does not say farm-fcgi")
        if ("auth" in words) != has_scheme(op, "bearerAuth"):
            if "auth" in words:
                bad.append(where + ": the table requires a JWT, the document has no bearerAuth")
            elif not op.get("x-farm-auth-by-handler"):
                bad.append(where + ": the document asks for bearerAuth, the table requires no JWT "
                           "(x-farm-auth-by-handler when the handler checks it)")
        if "auth" not in words and op.get("security") and not op.get("x-farm-auth-by-handler"):
            bad.append(where + ": security without the auth flag (x-farm-auth-by-handler?)")
        if ("admin" in words) != bool(op.get("x-farm-admin")):
            bad.append("%s: admin in the table: %s, x-farm-admin: %s" % (where, "admin" in words, bool(op.get("x-farm-admin"))))
        if ("adminloc" in words) and not op.get("x-farm-operator"):
            bad.append(where + ": an operator-only location without x-farm-operator")
        body = op.get("requestBody")
        if "json" in words:
            if not body or not body.get("required") or "application/json" not in body.get("content", {}):
                bad.append(where + ": the table requires a JSON object body, the document does not")
        if "body" in words and not body:
            bad.append(where + ": the table reads a raw body, the document has no requestBody")
        if body and body.get("required") and not words & {"json", "body"}:
            bad.append(where + ": the document requires a body, the table does not")
    return bad


# ---- record / responses ------------------------------------------------------------------

def record(out, method, path, status, headers_file, body_file):
    try:
        with open(headers_file, "rb") as f:
            raw = f.read().decode("latin-1")
    except OSError:
        raw = ""
    try:
        with open(body_file, "rb") as f:
            body = f.read()
    except OSError:
        body = b""
    # curl -D writes every response's headers (a 100 Continue first): keep the last.
    blocks = [b for b in re.split(r"\r?\n\r?\n", raw) if b.strip()]
    hdrs = {}
    for line in (blocks[-1].splitlines()[1:] if blocks else []):
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    rec = {"method": method.upper(), "path": path, "status": int(status or 0), "headers": hdrs,
           "body": base64.b64encode(body).decode("ascii")}
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")


def match(doc, path):
    """The document's path template for a request path, its segments matched one by one."""
    segs = path.split("/")
    for templ in doc["paths"]:
        t = templ.split("/")
        if len(t) != len(segs):
            continue
        if all((a.startswith("{") and a.endswith("}") and b) or a == b for a, b in zip(t, segs)):
            return templ
    return None


def resolve_resp(doc, resp):
    while "$ref" in resp:
        resp = jsonschema.RefResolver("", doc).resolve(resp["$ref"])[1]
    return resp


def check_body(doc, where, resp, rec, bad):
    body = base64.b64decode(rec["body"])
    if rec["headers"].get("content-encoding") == "gzip" and body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)  # (curl --compressed has decoded it already)
    content = resp.get("content")
    if not content:
        if body:
            bad.append("%s: %d documented without a body, got %d bytes" % (where, rec["status"], len(body)))
        return
    mt = rec["headers"].get("content-type", "").split(";")[0].strip().lower()
    if mt not in content:
        bad.append("%s: %d answered %r, the document says %s" % (where, rec["status"], mt, sorted(content)))
        return
    schema = content[mt].get("schema")
    if schema is None:
        return
    if mt == "application/json" or mt.endswith("+json"):
        try:
            inst = json.loads(body)
        except ValueError as e:
            bad.append("%s: %d body is not JSON (%s)" % (where, rec["status"], e))
            return
    else:
        inst = body.decode("utf-8", "replace")
    errors = sorted(validator(doc, schema).iter_errors(inst), key=lambda e: list(e.absolute_path))
    for e in errors[:3]:
        at = "/".join(str(p) for p in e.absolute_path) or "(the body)"
        bad.append("%s: %d body at %s: %s" % (where, rec["status"], at, e.message[:300]))


def responses(doc, files):
    bad = []
    n = 0
    err_resp = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    nginx_errors = set(doc.get("x-farm-nginx-errors", []))
    for fn in files:
        with open(fn, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                rec = json.loads(line)
                n += 1
                url = urllib.parse.urlsplit(rec["path"])
                path, method, status = url.path, rec["method"].lower(), rec["status"]
                where = "%s:%d %s %s" % (fn.rsplit("/", 1)[-1], lineno, rec["method"], rec["path"][:120])
                if status == 0:
                    continue  # no answer (the test stopped the stack on purpose)
                if not (path.startswith("/api/v1/") or path == "/farm-status"):
                    continue  # not the API (nginx's own pages)
                templ = match(doc, path)
                op = doc["paths"][templ].get(method if method != "head" else "get") if templ else None
                if status in nginx_errors and (op is None or str(status) not in op["responses"]):
                    check_body(doc, where, err_resp, rec, bad)  # nginx's own answer
                    continue
                if templ is None:
                    if status != 404:
                        bad.append("%s: no such path in the document, answered %d" % (where, status))
                    check_body(doc, where, err_resp, rec, bad)
                    continue
                if op is None:
                    if status not in (404, 405):
                        bad.append("%s: %s is not an operation of %s, answered %d" % (where, method.upper(), templ, status))
                    check_body(doc, where, err_resp, rec, bad)
                    continue
                resp = op["responses"].get(str(status))
                if resp is None:
                    bad.append("%s: status %d is not documented for %s %s (%s)" % (
                        where, status, method.upper(), templ, ", ".join(sorted(op["responses"]))))
                    continue
                if method == "head":
                    continue
                check_body(doc, where, resolve_resp(doc, resp), rec, bad)
    return bad, n


def main(argv):
    global jsonschema
    if len(argv) == 8 and argv[1] == "record":
        record(*argv[2:])
        return 0
    import jsonschema as js
    jsonschema = js
    if len(argv) >= 3 and argv[1] == "lint":
        bad = lint(load(argv[2]))
    elif len(argv) == 4 and argv[1] == "routes":
        bad = routes(load(argv[2]), route_rows(argv[3]))
    elif len(argv) == 5 and argv[1] == "messages":
        doc = load(argv[2])
        schema = jsonschema.RefResolver("", doc).resolve("#" + argv[3])[1]
        bad, n = [], 0
        with open(argv[4], encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                n += 1
                for e in validator(doc, schema).iter_errors(json.loads(line)):
                    at = "/".join(str(p) for p in e.absolute_path) or "(the message)"
                    bad.append("%s:%d at %s: %s" % (argv[4], lineno, at, e.message[:300]))
        print("# %d messages checked" % n)
    elif len(argv) >= 3 and argv[1] == "responses":
        bad, n = responses(load(argv[2]), argv[3:])
        print("# %d recorded responses checked" % n)
    else:
        sys.stderr.write(__doc__)
        return 2
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
