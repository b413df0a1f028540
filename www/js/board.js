// board.js - the board view: one tile per platform and project, updated in place.
import { h, clear, when, statusBadge, statusClass } from './dom.js';
import { board, recent, key, onRows } from './live.js';
import { enc } from './api.js';

let tiles = new Map(); // key -> tile element
let grid = null;
let feed = null;
let filter = '';

function runHref(r) {
  return '#/run/' + enc(r.provider) + '/' + enc(r.buildId);
}

function tileBody(t, r) {
  clear(t);
  t.className = 'tile ' + statusClass(r.status);
  const title = h('h3', null,
    h('a', { href: runHref(r) }, r.project));
  t.append(
    h('p', { class: 'platform' }, r.provider),
    title,
    statusBadge(r.status),
    h('dl', null,
      h('dt', null, 'Run'), h('dd', null, r.name || '—', r.number !== null && r.number !== undefined ? ' #' + r.number : ''),
      h('dt', null, 'Branch'), h('dd', null, r.branch || '—'),
      h('dt', null, 'When'), h('dd', null, when(r.finishedAt || r.startedAt))));
  t.dataset.key = key(r.provider, r.project);
  t.dataset.status = r.status;
  t.dataset.eventId = String(r.eventId);
}

function sortedKeys() {
  // (platform, project) byte order, as GET /projects answers.
  return [...board.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function visible(r) {
  if (!filter) return true;
  const f = filter.toLowerCase();
  return (r.project || '').toLowerCase().includes(f) || (r.provider || '').toLowerCase().includes(f) ||
    (r.name || '').toLowerCase().includes(f);
}

function renderAll() {
  const frag = document.createDocumentFragment();
  tiles = new Map();
  for (const k of sortedKeys()) {
    const r = board.get(k);
    const t = h('li', null);
    tileBody(t, r);
    t.hidden = !visible(r);
    tiles.set(k, t);
    frag.appendChild(t);
  }
  clear(grid).appendChild(frag);
  count();
  // The board is on screen once the frame after this one starts (scripts/bench-console).
  performance.mark('farm:board-rendered');
  requestAnimationFrame(() => setTimeout(() => performance.mark('farm:board-painted'), 0));
}

function count() {
  const c = document.getElementById('board-count');
  if (c) c.textContent = board.size === 1 ? '1 project' : board.size + ' projects';
  const e = document.getElementById('board-empty');
  if (e) e.hidden = board.size !== 0;
}

function update(changed) {
  for (const k of changed) {
    const r = board.get(k);
    let t = tiles.get(k);
    if (t) {
      tileBody(t, r);
    } else {
      t = h('li', null);
      tileBody(t, r);
      // Insert in order: before the first tile whose key is greater.
      let next = null;
      for (const [k2, t2] of tiles) if (k2 > k && (!next || k2 < next[0])) next = [k2, t2];
      grid.insertBefore(t, next ? next[1] : null);
      tiles.set(k, t);
    }
    t.hidden = !visible(r);
  }
  count();
}

function feedItem(d) {
  return h('li', { 'data-event-id': d.id },
      h('span', { class: 'evid' }, '#' + d.id), ' ',
      statusBadge(d.status), ' ',
      h('span', { class: 'platform' }, d.provider), ' ',
      d.project ? h('a', { href: runHref(d) }, d.project) : h('span', null, d.buildId),
      d.name ? h('span', { class: 'muted' }, ' · ', d.name) : null);
}

function renderFeed() {
  if (!feed) return;
  const frag = document.createDocumentFragment();
  for (const d of recent) frag.appendChild(feedItem(d));
  clear(feed).appendChild(frag);
}

// New events on top, the list kept as long as live.js keeps `recent`.
function growFeed(batch) {
  if (!feed) return;
  const frag = document.createDocumentFragment();
  for (let i = batch.length - 1; i >= 0; i--) frag.appendChild(feedItem(batch[i]));
  feed.insertBefore(frag, feed.firstChild);
  while (feed.childElementCount > recent.length) feed.lastElementChild.remove();
}

export function boardView(main) {
  grid = h('ul', { class: 'grid', id: 'board', 'aria-label': 'Projects' });
  feed = h('ol', { class: 'feed', id: 'feed', 'aria-label': 'Recent events' });
  const search = h('input', {
    type: 'search', id: 'board-filter', placeholder: 'project, platform or run',
    oninput: () => { filter = search.value.trim(); for (const [k, t] of tiles) t.hidden = !visible(board.get(k)); },
  });
  search.value = filter;
  main.append(
    h('div', { class: 'bar' },
      h('h1', null, 'Board'), h('span', { id: 'board-count', class: 'muted' }),
      h('label', { for: 'board-filter', class: 'filter' }, 'Filter ', search)),
    h('p', { id: 'board-empty', class: 'muted', hidden: true },
      'No runs yet: the board fills as the platforms\u2019 webhooks arrive.'),
    grid,
    h('details', { class: 'recent', open: true },
      h('summary', null, 'Events since this page opened'), feed));
  renderAll();
  renderFeed();
  const off = onRows((changed, batch) => {
    if (changed === null) { renderAll(); renderFeed(); return; }
    update(changed);
    growFeed(batch);
  });
  return () => { off(); grid = null; feed = null; tiles = new Map(); };
}
