// catalog.js - the catalog's CI/CD tab: each linked component and, on request, its
// deployment target's live health and sync (GET /catalog/components/:id/cicd).
import { h, clear, when, statusBadge, errorBox } from './dom.js';
import { api, enc } from './api.js';

function val(v) { return v === null || v === undefined || v === '' ? '—' : String(v); }

export function catalogView(main) {
  const list = h('div', { id: 'catalog' });
  let gone = false;
  main.append(h('h1', null, 'Catalog: CI/CD'), list);

  async function cicd(id, box, btn) {
    btn.disabled = true;
    clear(box).append(h('p', { class: 'muted' }, 'Reading…'));
    try {
      const s = await api('GET', '/catalog/components/' + enc(id) + '/cicd');
      const target = Object.entries(s).find(([k]) => !['component', 'credentialId', 'health', 'sync', 'operation', 'status',
        'providerStatus', 'project', 'targetRevision', 'reconciledAt'].includes(k));
      clear(box).append(statusBadge(s.status), h('dl', { class: 'fields' },
        target ? [h('dt', null, 'Target'), h('dd', null, val(target[1]))] : null,
        h('dt', null, 'Health'), h('dd', null, val(s.health && s.health.status),
          s.health && s.health.message ? h('span', { class: 'muted' }, ' — ', s.health.message) : null),
        h('dt', null, 'Sync'), h('dd', null, val(s.sync && s.sync.status),
          s.sync && s.sync.revision ? h('span', { class: 'muted' }, ' at ', s.sync.revision) : null),
        h('dt', null, 'Last operation'), h('dd', null, val(s.operation && s.operation.phase),
          s.operation && s.operation.message ? h('span', { class: 'muted' }, ' — ', s.operation.message) : null),
        h('dt', null, 'Finished'), h('dd', null, when(s.operation && s.operation.finishedAt)),
        h('dt', null, 'Reconciled'), h('dd', null, when(s.reconciledAt))));
    } catch (e) {
      clear(box).append(errorBox(e.message));
    }
    btn.disabled = false;
  }

  (async () => {
    let links;
    try { links = await api('GET', '/catalog/components'); } catch (e) { if (!gone) clear(list).append(errorBox(e.message)); return; }
    if (gone) return;
    if (!links.length) { clear(list).append(h('p', { class: 'muted' }, 'No component is linked to a deployment target.')); return; }
    const ul = h('ul', { class: 'cards' });
    for (const l of links) {
      const box = h('div', { class: 'cicd', 'aria-live': 'polite' });
      const target = Object.entries(l).find(([k]) => !['id', 'orgId', 'createdAt', 'updatedAt'].includes(k));
      const btn = h('button', { type: 'button', 'aria-label': 'CI/CD status of ' + l.id }, 'CI/CD status');
      btn.addEventListener('click', () => cicd(l.id, box, btn));
      ul.append(h('li', { class: 'card' }, h('h2', null, l.id),
        target ? h('p', { class: 'muted' }, target[0], ': ', String(target[1])) : null, btn, box));
    }
    clear(list).append(ul);
  })();
  return () => { gone = true; };
}
