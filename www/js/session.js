// session.js - the token: sessionStorage only (gone with the tab), never in a URL
// the page requests (the WebSocket's ?access_token= excepted: browsers cannot set
// its headers).  `make run` prints a URL with the token in the fragment, which is
// never sent to a server; the page moves it to sessionStorage and drops it from the
// address bar and the history at once.

const KEY = 'farm.token';
const REASON = 'farm.signout';
let expiryTimer = 0;
const listeners = new Set();

function b64url(s) {
  s = s.replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '=';
  const bin = atob(s);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

// The claims, read for display and for what to offer (admin buttons); the server
// checks the signature and the role on every call.
export function claims(token) {
  try {
    const c = JSON.parse(b64url(token.split('.')[1] || ''));
    return c && typeof c === 'object' ? c : null;
  } catch (e) {
    return null;
  }
}

export function token() { return sessionStorage.getItem(KEY); }

export function current() {
  const t = token();
  if (!t) return null;
  const c = claims(t) || {};
  const roles = Array.isArray(c.roles) ? c.roles : [];
  return {
    token: t,
    sub: typeof c.sub === 'string' ? c.sub : '',
    orgId: typeof c.orgId === 'string' ? c.orgId : null,
    admin: c.role === 'admin' || roles.includes('admin'),
    exp: typeof c.exp === 'number' ? c.exp : null,
  };
}

// Takes a token from the URL fragment (#token=...), if any.
export function adoptFragment() {
  const m = /^#token=([^&]+)/.exec(location.hash);
  if (!m) return false;
  const t = decodeURIComponent(m[1]);
  history.replaceState(null, '', location.pathname + '#/board');
  signIn(t);
  return true;
}

export function signIn(t) {
  sessionStorage.setItem(KEY, t.trim());
  sessionStorage.removeItem(REASON);
  armExpiry();
  for (const f of listeners) f(true);
}

export function signOut(reason) {
  const was = token();
  sessionStorage.removeItem(KEY);
  if (reason) sessionStorage.setItem(REASON, reason);
  else sessionStorage.removeItem(REASON);
  clearTimeout(expiryTimer);
  if (was) for (const f of listeners) f(false);
}

export function takeReason() {
  const r = sessionStorage.getItem(REASON);
  sessionStorage.removeItem(REASON);
  return r;
}

export function onChange(f) { listeners.add(f); }

// Back to sign-in when the token expires, even on a page that makes no call then.
export function armExpiry() {
  clearTimeout(expiryTimer);
  const s = current();
  if (!s || !s.exp) return;
  const ms = s.exp * 1000 - Date.now();
  if (ms <= 0) {
    signOut('Your token expired at ' + new Date(s.exp * 1000).toLocaleString() + '. Sign in with a new one.');
    return;
  }
  // setTimeout's delay is a 32-bit number of ms.
  expiryTimer = setTimeout(armExpiry, Math.min(ms, 2 ** 31 - 1));
}
