// app.js - the console's shell: sign-in, the navigation, the live state, and a
// router over the URL fragment (#/board, #/run/<platform>/<runId>, #/credentials,
// #/catalog, #/audit).  Static files only: no build step, nothing fetched from
// outside farm.
import { h, clear, errorBox } from './dom.js';
import { api } from './api.js';
import * as session from './session.js';
import * as live from './live.js';
import { boardView } from './board.js';
import { runView } from './run.js';
import { credsView } from './creds.js';
import { catalogView } from './catalog.js';
import { auditView } from './audit.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const liveEl = document.getElementById('live');
const who = document.getElementById('who');
const signoutBtn = document.getElementById('signout');
let leave = null;

const LIVE_TEXT = {
  offline: 'Offline', connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…',
};
live.onState((s) => {
  liveEl.textContent = LIVE_TEXT[s] || s;
  liveEl.dataset.state = s;
});

function signInView(reason) {
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', required: true, autocomplete: 'off', spellcheck: false,
  });
  const msg = h('div', { id: 'signin-message', 'aria-live': 'assertive' }, reason ? errorBox(reason) : null);
  const form = h('form', {
    id: 'signin', class: 'signin',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const t = input.value.trim();
      input.value = '';
      if (!t) return;
      session.signIn(t);
      if (location.hash !== '#/board') location.hash = '#/board';
      else route();
    },
  },
  h('h1', null, 'Sign in to farm'),
  msg,
  h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token (JWT)'), input),
  h('p', { class: 'muted' }, 'Kept in this tab only (sessionStorage). `make run` prints a link that signs you in; ',
    'other tokens come from `farmctl token`.'),
  h('button', { type: 'submit' }, 'Sign in'));
  main.append(form);
  input.focus();
}

// The session's start (the board, then the stream), shared by every route() that
// needs it while it is under way.
let starting = null;
function startSession() {
  if (!starting) starting = begin();
  return starting;
}

async function begin() {
  const s = session.current();
  nav.hidden = false;
  liveEl.hidden = false;
  signoutBtn.hidden = false;
  who.hidden = false;
  who.textContent = (s.sub || 'signed in') + (s.orgId ? ' @ ' + s.orgId : '') + (s.admin ? ' (admin)' : '');
  for (const el of nav.querySelectorAll('[data-admin]')) el.hidden = !s.admin;
  try {
    await live.start();
  } catch (e) {
    starting = null;
    throw e;
  }
}

function endSession() {
  starting = null;
  live.signedOut();
  nav.hidden = liveEl.hidden = signoutBtn.hidden = who.hidden = true;
}

let routing = 0;

async function route() {
  // A newer route() (a hashchange during a sign-in, say) makes this one stop at its
  // next await: only the last one mounts a view.
  const mine = ++routing;
  if (leave) { leave(); leave = null; }
  clear(main);
  if (!session.token()) {
    endSession();
    signInView(session.takeReason());
    document.title = 'Sign in · farm';
    return;
  }
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const view = parts[0] || 'board';
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  try {
    await startSession();
  } catch (e) {
    if (!session.token() || mine !== routing) return; // signed out by a 401: onChange routes
    main.append(errorBox('The board could not be loaded: ' + e.message));
    return;
  }
  if (!session.token() || mine !== routing) return;
  clear(main);
  const admin = session.current().admin;
  let title = 'Board';
  if (view === 'run' && parts.length >= 3) {
    const p = decodeURIComponent(parts[1]);
    const id = decodeURIComponent(parts.slice(2).join('/'));
    leave = runView(main, p, id);
    title = p + ' run';
  } else if (view === 'credentials') {
    leave = credsView(main); title = 'Credentials';
  } else if (view === 'catalog') {
    leave = catalogView(main); title = 'Catalog';
  } else if (view === 'audit' && admin) {
    leave = auditView(main); title = 'Audit';
  } else {
    leave = boardView(main);
  }
  document.title = title + ' · farm';
}

signoutBtn.addEventListener('click', () => session.signOut());
// Signed out, or signed in (again, perhaps as someone else): the session starts over.
session.onChange(() => {
  endSession();
  route();
});
window.addEventListener('hashchange', () => {
  // make run's URL opened in a tab that is already signed in: the new token wins.
  if (session.adoptFragment()) return;
  route();
  main.focus({ preventScroll: true });
});

// A token in the fragment (make run's URL) signs in and leaves the address bar.
if (!session.adoptFragment()) {
  session.armExpiry();
  route();
}

// For scripts/bench-console: the live module, to feed synthetic events.
window.farmConsole = { live, api };
