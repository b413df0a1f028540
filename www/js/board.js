// board.js - the board view: one tile per platform and project, updated in place.
import { h, clear, statusBadge, statusParts, whenText } from './dom.js';
import { board, recent, key, onRows } from './live.js';
import { enc } from './api.js';

let tiles = new Map(); // key -> tile (makeTile: the element and its text nodes)
let grid = null;
let feed = null;
let filter = '';

function runHref(r) {
  return '#/run/' + enc(r.provider) + '/' + enc(r.buildId);
}

// A tile is a clone of one template (built once with h(), text only), its text nodes
// kept so that an event changes only the text that changed: no element is created
// per event and nothing is parsed.  Cloning one template is several times faster
// than building each tile's elements one by one, and the template has no node it
// does not need (spacing is CSS): 25 nodes a tile (scripts/bench-console).
// The grid item (li) never changes after it is built; everything an event changes,
// the status class included, is inside its .card, a fixed-size contain: strict box,
// so an event re-lays out that card alone (console.css).
let TPL = null;
function template() {
  if (!TPL) {
    const parts = [
      h('p', { class: 'platform' }, ''),
      h('h3', null, h('a', { href: '#' }, '')),
      h('span', { class: 'badge' }, h('span', { class: 'mark', 'aria-hidden': 'true' }, ''), ''),
      h('dl', null,
        h('dt', null, 'Run'), h('dd', null, ''),
        h('dt', null, 'Branch'), h('dd', null, ''),
        h('dt', null, 'When'), h('dd', null, h('time', null, '')))];
    TPL = h('li', { class: 'tile' }, h('div', { class: 'card' }, parts));
  }
  return TPL;
}

function makeTile() {
  const li = template().cloneNode(true);
  const card = li.firstChild;
  const pl = card.firstChild, h3 = pl.nextSibling, badge = h3.nextSibling, dl = badge.nextSibling;
  const a = h3.firstChild;
  const run = dl.firstChild.nextSibling, branch = run.nextSibling.nextSibling;
  const time = branch.nextSibling.nextSibling.firstChild;
  return {
    li, card, a, time, href: '', status: '', iso: null,
    plat: pl.firstChild, proj: a.firstChild, mark: badge.firstChild.firstChild, word: badge.lastChild,
    run: run.firstChild, branch: branch.firstChild, when: time.firstChild,
  };
}

function setText(node, v) {
  if (node.data !== v) node.data = v;
}

// Writes a row into a tile (writes only; nothing here reads layout).
function fill(t, r) {
  const [st, word, mark] = statusParts(r.status);
  if (t.status !== st) {
    t.card.className = 'card st-' + st;
    t.status = st;
  }
  setText(t.plat, String(r.provider));
  setText(t.proj, r.project);
  const href = runHref(r);
  if (t.href !== href) { t.a.setAttribute('href', href); t.href = href; }
  setText(t.mark, mark);
  setText(t.word, word);
  setText(t.run, (r.name || '—') + (r.number !== null && r.number !== undefined ? ' #' + r.number : ''));
  setText(t.branch, r.branch || '—');
  const iso = r.finishedAt || r.startedAt || null;
  if (t.iso !== iso) {
    t.iso = iso;
    const w = whenText(iso);
    if (w) {
      t.time.dateTime = iso;
      t.time.title = iso;
    } else {
      t.time.removeAttribute('datetime');
      t.time.removeAttribute('title');
    }
    setText(t.when, w || (iso ? String(iso) : '—'));
  }
  t.li.dataset.status = r.status;
  t.li.dataset.eventId = String(r.eventId);
}

function visible(r) {
  if (!filter) return true;
  const f = filter.toLowerCase();
  return (r.project || '').toLowerCase().includes(f) || (r.provider || '').toLowerCase().includes(f) ||
    (r.name || '').toLowerCase().includes(f);
}

// (platform, project) byte order, as GET /projects answers; new keys are inserted in
// place (binary search), the board is never re-sorted.
let order = [];
function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

// The board is built in order, a screenful first: order[0..built) have their tiles in
// the grid.  The first screen is what the reader sees at once, so it is built and
// painted alone (scripts/bench-console: the frame after the data); the rest follows in
// tasks of about BUDGET ms each (checked every 10 tiles), so that no task is long
// however slow the machine.  An event for a project not built yet needs nothing: its
// tile is built, in turn, from the row as it is then.  (In a hidden tab, where
// requestAnimationFrame waits, the rest is built once the tab is shown.)
let built = 0;
let gen = 0;
let rest = 0;
const BUDGET = 30;

// About a screenful and a half of tiles, from the viewport's size alone (reading
// innerWidth/innerHeight forces no style or layout): a tile is at least 15rem wide and
// about 12rem high with the gap (1rem taken as 16 px: a larger font only means fewer
// tiles on a screen, so more than a screenful first).
function firstScreen() {
  const rem = 16;
  const cols = Math.max(1, Math.ceil(innerWidth / (15 * rem)));
  const rows = Math.ceil(innerHeight / (12 * rem)) + 1;
  return Math.max(24, Math.ceil(cols * rows * 1.5));
}

function buildTiles(n, until) {
  const frag = document.createDocumentFragment();
  const end = Math.min(order.length, built + n), first = built;
  for (; built < end; built++) {
    if (until && built !== first && (built - first) % 10 === 0 && performance.now() > until) break;
    const k = order[built];
    const r = board.get(k);
    const t = makeTile();
    fill(t, r);
    if (filter && !visible(r)) t.li.hidden = true;
    tiles.set(k, t);
    frag.appendChild(t.li);
  }
  grid.appendChild(frag);
}

// After the next frame has been produced (a task queued from requestAnimationFrame runs
// once the frame is done).
function afterFrame(f) {
  const g = gen;
  requestAnimationFrame(() => { rest = setTimeout(() => { if (g === gen) f(); }, 0); });
}

function renderAll() {
  gen++;
  clearTimeout(rest);
  tiles = new Map();
  order = [...board.keys()].sort(cmp);
  built = 0;
  clear(grid);
  buildTiles(firstScreen());
  count();
  performance.mark('farm:board-rendered');
  const first = built;
  afterFrame(() => { performance.mark('farm:board-painted', { detail: { tiles: first } }); more(); });
}

function more() {
  if (built < order.length) {
    buildTiles(order.length, performance.now() + BUDGET);
    const g = gen;
    rest = setTimeout(() => { if (g === gen) more(); }, 0);
    return;
  }
  // Every tile is in the grid (scripts/bench-console: the whole board).
  performance.mark('farm:board-complete');
  afterFrame(() => performance.mark('farm:board-complete-painted', { detail: { tiles: built } }));
}

function count() {
  const c = document.getElementById('board-count');
  if (c) c.textContent = board.size === 1 ? '1 project' : board.size + ' projects';
  const e = document.getElementById('board-empty');
  if (e) e.hidden = board.size !== 0;
}

function update(changed) {
  let added = false;
  for (const k of changed) {
    const r = board.get(k);
    let t = tiles.get(k);
    if (!t) {
      let lo = 0, hi = order.length;
      while (lo < hi) { const m = (lo + hi) >> 1; if (order[m] < k) lo = m + 1; else hi = m; }
      const isNew = order[lo] !== k;
      if (isNew) { order.splice(lo, 0, k); added = true; }
      const complete = built >= order.length - (isNew ? 1 : 0);
      if (!complete && lo >= built) continue; // not built yet: more() builds it from board
      t = makeTile();
      built++;
      grid.insertBefore(t.li, lo + 1 < built ? tiles.get(order[lo + 1]).li : null);
      tiles.set(k, t);
    }
    fill(t, r);
    const hide = !visible(r);
    if (t.li.hidden !== hide) t.li.hidden = hide;
  }
  if (added) count();
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
    oninput: () => { filter = search.value.trim(); for (const [k, t] of tiles) t.li.hidden = !visible(board.get(k)); },
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
  return () => { off(); gen++; clearTimeout(rest); grid = null; feed = null; tiles = new Map(); order = []; built = 0; };
}
