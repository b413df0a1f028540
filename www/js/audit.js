// audit.js - who did what (GET /audit, admins): newest first, a page at a time.
import { h, clear, when, errorBox } from './dom.js';
import { api, missing } from './api.js';

const COLS = [['at', 'When'], ['sub', 'Who'], ['action', 'Action'], ['platform', 'Platform'],
  ['target', 'Target'], ['status', 'Outcome'], ['requestId', 'Request']];
const PAGE = 50;

export function auditView(main) {
  const body = h('tbody');
  const more = h('button', { type: 'button', id: 'audit-more', hidden: true }, 'Older entries');
  const msg = h('div', { id: 'audit-message' });
  let before = null;
  let gone = false;
  main.append(h('h1', null, 'Audit'), msg,
    h('table', { class: 'table', id: 'audit' }, h('caption', { class: 'sr-only' }, 'Audit records, newest first'),
      h('thead', null, h('tr', null, COLS.map(([, l]) => h('th', { scope: 'col' }, l)))), body), more);

  async function page() {
    more.disabled = true;
    let items;
    try {
      items = await api('GET', '/audit?limit=' + PAGE + (before !== null ? '&before=' + encodeURIComponent(before) : ''));
    } catch (e) {
      if (gone) return;
      clear(msg).append(missing(e) && e.status === 404 && !body.firstChild
        ? h('p', { class: 'muted' }, 'This farm keeps no audit list (' + e.message + ').') : errorBox(e.message));
      more.hidden = true;
      return;
    }
    if (gone) return;
    if (!Array.isArray(items)) items = items && Array.isArray(items.items) ? items.items : [];
    for (const a of items) {
      body.append(h('tr', null, COLS.map(([k]) => h('td', null,
        k === 'at' ? when(a[k]) : a[k] === null || a[k] === undefined ? '—' : String(a[k])))));
    }
    if (!body.firstChild) clear(msg).append(h('p', { class: 'muted' }, 'Nothing recorded yet.'));
    const last = items[items.length - 1];
    before = last ? (last.id ?? last.at) : before;
    more.hidden = items.length < PAGE;
    more.disabled = false;
  }
  more.addEventListener('click', page);
  page();
  return () => { gone = true; };
}
