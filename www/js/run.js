// run.js - one run: its fields, its log (followed while the run goes on) and, for
// admins, the actions its platform has (GET /platforms' capabilities).
import { h, clear, when, statusBadge, errorBox } from './dom.js';
import { api, enc, ApiError } from './api.js';
import { board, onRows } from './live.js';
import { platforms, can } from './platforms.js';
import { current } from './session.js';

const FIELDS = [
  ['project', 'Project'], ['name', 'Name'], ['number', 'Number'], ['buildId', 'Run id'],
  ['providerStatus', 'Platform status'], ['branch', 'Branch'], ['commitSha', 'Commit'],
  ['startedAt', 'Started'], ['finishedAt', 'Finished'], ['credentialId', 'Credential'],
];
const GOING = new Set(['queued', 'running']);
const LOG_EVERY = 2000;

export function runView(main, platform, runId) {
  let run = null;
  let logTimer = 0;
  let gone = false;
  const fields = h('dl', { class: 'fields', id: 'run-fields' });
  const status = h('div', { id: 'run-status' });
  const actions = h('div', { class: 'actions', id: 'run-actions' });
  const msg = h('div', { id: 'run-message', 'aria-live': 'polite' });
  const log = h('pre', { class: 'log', id: 'run-log', tabindex: '0', 'aria-label': 'Log', hidden: true });
  const logNote = h('p', { class: 'muted', id: 'run-log-note' });
  const source = h('p', { class: 'muted', id: 'run-source' });

  main.append(
    h('p', null, h('a', { href: '#/board' }, '← Board')),
    h('h1', null, h('span', { class: 'platform' }, platform), ' ', h('span', { id: 'run-title' }, runId)),
    status, source, fields, actions, msg,
    h('h2', null, 'Log'), logNote, log);

  function show(r) {
    run = r;
    clear(status).append(statusBadge(r.status));
    clear(fields);
    for (const [k, label] of FIELDS) {
      const v = r[k];
      fields.append(h('dt', null, label),
        h('dd', { 'data-field': k }, k.endsWith('At') ? when(v) : (v === null || v === undefined || v === '' ? '—' : String(v))));
    }
    if (r.url) fields.append(h('dt', null, 'On the platform'), h('dd', null, h('a', { href: r.url, rel: 'noopener noreferrer' }, r.url)));
    if (r.project) document.getElementById('run-title').textContent = r.project + (r.number != null ? ' #' + r.number : '');
  }

  function fromBoard() {
    for (const r of board.values()) if (r.provider === platform && r.buildId === runId) return r;
    return null;
  }

  async function load() {
    try {
      const r = await api('GET', '/runs/' + enc(platform) + '/' + enc(runId));
      source.textContent = 'Read from ' + platform + ' just now.';
      show(r);
    } catch (e) {
      const b = fromBoard();
      if (b) {
        show(b);
        source.textContent = 'As the last event told it (read live: ' + e.message + ').';
      } else {
        clear(msg).append(errorBox(e.message));
      }
    }
  }

  // While the run goes on, each tick reads the run again (a platform without
  // webhooks tells its end no other way) and then its log; once it ended, one
  // last read of the log and no more.
  async function tick() {
    if (gone) return;
    try {
      const r = await api('GET', '/runs/' + enc(platform) + '/' + enc(runId));
      if (gone) return;
      show(Object.assign({}, run || {}, r));
    } catch (e) { /* keep what we have; the log read says what is wrong */ }
    loadLog();
  }

  async function loadLog() {
    if (gone) return;
    clearTimeout(logTimer);
    try {
      const text = await api('GET', '/runs/' + enc(platform) + '/' + enc(runId) + '/log');
      const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.hidden = false;
      log.textContent = typeof text === 'string' ? text : JSON.stringify(text, null, 2);
      if (atEnd) log.scrollTop = log.scrollHeight;
      logNote.textContent = run && GOING.has(run.status) ? 'Following while the run goes on.' : '';
      log.dataset.following = run && GOING.has(run.status) ? 'yes' : 'no';
      if (run && GOING.has(run.status)) logTimer = setTimeout(tick, LOG_EVERY);
    } catch (e) {
      log.hidden = !log.textContent;
      logNote.textContent = e instanceof ApiError && e.status === 404 ? 'No log: ' + e.message : e.message;
    }
  }

  async function act(what, label) {
    clear(msg).append(h('p', { class: 'muted' }, label + '…'));
    try {
      const r = await api('POST', '/runs/' + enc(platform) + '/' + enc(runId) + '/' + what);
      clear(msg).append(h('p', { class: 'ok', role: 'status' }, label + ': done.',
        r && r.buildId && r.buildId !== runId ? [' New run: ', h('a', { href: '#/run/' + enc(platform) + '/' + enc(r.buildId) }, r.buildId)] : null));
    } catch (e) {
      clear(msg).append(errorBox(label + ' failed: ' + e.message));
    }
  }

  async function offerActions() {
    const s = current();
    if (!s || !s.admin) return; // members: no buttons (the API refuses them anyway)
    let p = null;
    try {
      const ps = await platforms();
      if (!ps.known) return;
      p = ps.list.find((x) => x.type === platform);
    } catch (e) { return; }
    if (!p) return;
    if (can(p, 'rerun')) actions.append(h('button', { type: 'button', id: 'act-rerun', onclick: () => act('rerun', 'Rerun') }, 'Rerun'));
    if (can(p, 'cancel')) actions.append(h('button', { type: 'button', id: 'act-cancel', onclick: () => act('cancel', 'Cancel') }, 'Cancel'));
    const t = p.raw && p.raw.trigger;
    if (can(p, 'trigger') && t && typeof t.path === 'string' && run && run.project) {
      actions.append(h('button', {
        type: 'button', id: 'act-trigger',
        onclick: async () => {
          clear(msg).append(h('p', { class: 'muted' }, 'Trigger…'));
          try {
            // The route's one parameter (":name" or "{name}") is the run's project.
            const path = t.path.replace(/^\/api\/v1/, '').replace(/\/(:[A-Za-z]+|\{[A-Za-z]+\})(?=\/|$)/, '/' + enc(run.project));
            await api(t.method || 'POST', path);
            clear(msg).append(h('p', { class: 'ok', role: 'status' }, 'Trigger: done.'));
          } catch (e) { clear(msg).append(errorBox('Trigger failed: ' + e.message)); }
        },
      }, 'Trigger a new run'));
    }
  }

  const off = onRows((changed, batch) => {
    for (const d of batch || []) {
      if (d.provider === platform && d.buildId === runId) {
        const going = run && GOING.has(run.status);
        show(Object.assign({}, run || {}, d));
        if (!going && GOING.has(d.status)) { clearTimeout(logTimer); loadLog(); }
      }
    }
  });

  load().then(() => { offerActions(); loadLog(); });
  return () => { gone = true; off(); clearTimeout(logTimer); };
}
