// dom.js - building the page without ever parsing data as HTML.
//
// Every string from the API or a platform reaches the page through text nodes or
// element properties (textContent, value, href checked below): a build named
// "<img src=x onerror=alert(1)>" shows those characters.  Nothing here uses
// an HTML-parsing setter or writer (checked by t/t9000-console.sh).

// h('div', {class: 'x', onclick: fn, 'aria-label': 'y'}, child, ...): an element.
// Children: strings and numbers become text nodes, null/false are skipped, arrays
// are flattened.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'href') el.setAttribute('href', safeHref(v));
      else if (k in el && !k.startsWith('aria-') && !k.startsWith('data-') && k !== 'for' && k !== 'list')
        el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

// Links to a platform's own page: http(s) only (a "javascript:" url from a webhook
// must never become a link), else the console's own fragments.
export function safeHref(v) {
  const s = String(v);
  if (s.startsWith('#')) return s;
  try {
    const u = new URL(s, location.href);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
  } catch (e) { /* not a URL */ }
  return '#';
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A time as the reader's locale shows it, the ISO string in the title.
// One formatter for the page: Date.prototype.toLocaleString builds a new one per
// call, which cost a 500-tile board a good part of its render time.
const FMT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
// The text when() shows, or null for no time / not a time.
export function whenText(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : FMT.format(d);
}
export function when(iso) {
  if (!iso) return h('span', {class: 'muted'}, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', null, String(iso));
  return h('time', {dateTime: iso, title: iso}, FMT.format(d));
}

// The normalised statuses (providers.md §9.2): colour and a word, never colour alone.
const STATUS = {
  queued: ['Queued', '◷'], running: ['Running', '▶'], success: ['Passed', '✔'],
  failed: ['Failed', '✖'], canceled: ['Canceled', '■'], error: ['Error', '!'],
  unstable: ['Unstable', '▲'], unknown: ['Unknown', '?'],
};
// [normalised status, word, mark] of any status string.
export function statusParts(status) {
  const s = Object.hasOwn(STATUS, status) ? status : 'unknown';
  return [s, STATUS[s][0], STATUS[s][1]];
}
export function statusBadge(status) {
  const [s, word, mark] = statusParts(status);
  return h('span', {class: 'badge st-' + s},
    h('span', {class: 'mark', 'aria-hidden': 'true'}, mark), ' ', word);
}

// An error box: the API's own message, as text.
export function errorBox(msg) {
  return h('p', {class: 'error', role: 'alert'}, String(msg));
}
