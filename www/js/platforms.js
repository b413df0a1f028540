// platforms.js - what each platform can do and which credential fields it has,
// from GET /platforms (platforms.md §5).  The console names no platform: a new
// platform appears here when farm lists it.
//
// A farm without GET /platforms (404) still works: no action buttons are offered,
// and the credential form takes its fields from the OpenAPI document farm serves
// (CredentialValue_<type>: required, writeOnly = secret).
import { api, missing } from './api.js';

let cache = null;

// Field shapes accepted from /platforms: [{name, type, required, secret, url}] under
// credentialFields or fields, or {required: [...], optional: [...], secret: [...]}.
function normaliseFields(f) {
  if (Array.isArray(f)) {
    return f.map((x) => (typeof x === 'string' ? { name: x, required: true, secret: false }
      : { name: String(x.name), required: !!x.required, secret: !!(x.secret || x.writeOnly),
        url: !!(x.url || x.kind === 'url' || x.type === 'url'), boolean: x.type === 'boolean',
        default: x.default ?? null }));
  }
  if (f && typeof f === 'object') {
    const secret = new Set(f.secret || []);
    const url = new Set(f.url || []);
    const out = [];
    for (const n of f.required || []) out.push({ name: n, required: true, secret: secret.has(n), url: url.has(n) });
    for (const n of f.optional || []) out.push({ name: n, required: false, secret: secret.has(n), url: url.has(n) });
    return out;
  }
  return null;
}

async function fromOpenapi() {
  const doc = await fetch('/api/v1/openapi.json', { cache: 'no-store' }).then((r) => r.json());
  const schemas = doc.components.schemas;
  const types = (schemas.CredentialType && schemas.CredentialType.enum) || [];
  return types.map((t) => {
    const v = schemas['CredentialValue_' + t] || { properties: {}, required: [] };
    const req = new Set(v.required || []);
    return {
      type: t, name: t, configured: null, capabilities: [],
      fields: Object.entries(v.properties || {}).map(([n, p]) => ({
        name: n, required: req.has(n), secret: !!p.writeOnly,
        url: typeof p.pattern === 'string' && p.pattern.startsWith('^https?'),
        boolean: p.type === 'boolean',
      })),
    };
  });
}

// -> {list: [{type, name, configured, capabilities, fields}], known: bool}
export async function platforms(refresh) {
  if (cache && !refresh) return cache;
  let list = null;
  let known = true;
  try {
    list = await api('GET', '/platforms');
  } catch (e) {
    if (!missing(e)) throw e;
    known = false;
  }
  if (list) {
    list = list.map((p) => ({
      type: p.type, name: p.name || p.type, configured: p.configured,
      capabilities: Array.isArray(p.capabilities) ? p.capabilities : [],
      fields: normaliseFields(p.credentialFields || p.fields), raw: p,
    }));
  }
  // Fields the answer does not give come from the OpenAPI document.
  if (!list || list.some((p) => !p.fields)) {
    let doc = [];
    try { doc = await fromOpenapi(); } catch (e) { /* no document: no form */ }
    if (!list) list = doc;
    else for (const p of list) if (!p.fields) p.fields = (doc.find((d) => d.type === p.type) || {}).fields || [];
  }
  cache = { list, known };
  return cache;
}

export function can(p, what) { return !!p && p.capabilities.includes(what); }
export function forget() { cache = null; }
