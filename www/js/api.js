// api.js - the one way the console calls farm: /api/v1, the token in the
// Authorization header (never in the URL), NestJS errors turned into their message.
import { token, signOut } from './session.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function messageOf(status, body) {
  if (body && typeof body === 'object') {
    const m = body.message;
    if (Array.isArray(m)) return m.map(String).join('; ');
    if (typeof m === 'string' && m) return m;
  }
  return 'HTTP ' + status;
}

// api(method, path[, body]) -> parsed JSON, text (text/plain) or null (204).
// 401 signs out with the server's reason; other errors throw ApiError.
export async function api(method, path, body) {
  const t = token();
  const headers = { Accept: 'application/json, text/plain' };
  if (t) headers.Authorization = 'Bearer ' + t;
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, init);
  } catch (e) {
    throw new ApiError(0, 'farm cannot be reached (' + e.message + ')');
  }
  const ct = res.headers.get('Content-Type') || '';
  let data = null;
  if (res.status !== 204) {
    data = ct.includes('json') ? await res.json().catch(() => null) : await res.text();
  }
  if (res.status === 401 && t) {
    signOut('Signed out: ' + messageOf(401, data) + '.');
    throw new ApiError(401, messageOf(401, data));
  }
  if (!res.ok) throw new ApiError(res.status, messageOf(res.status, data));
  return data;
}

// A route that does not exist on this farm (404 with nginx's or the router's body,
// 405): the page leaves that part out instead of failing.
export function missing(e) {
  return e instanceof ApiError && (e.status === 404 || e.status === 405);
}

export const enc = encodeURIComponent;
