// live.js - the board and the event stream, kept for the whole signed-in session.
//
// GET /projects gives the board (the latest run of every platform and project, each
// row with the eventId it came from); the WebSocket then opens with
// ?since=<highest eventId>, so the events committed between the two are replayed,
// and after a lost connection it reopens with ?since=<last id seen>: nothing is
// missed and, since an id is applied only when it is above the last one seen,
// nothing is applied twice.  A row is replaced only by an event with a higher id
// than the row's own (ids only grow), so a replayed older event never wins.
import { api } from './api.js';
import { token } from './session.js';

export const board = new Map(); // "provider\0project" -> run row (with eventId)
export const recent = [];       // the last RECENT events seen, newest first
const RECENT = 50;
let lastId = 0;
let ws = null;
let state = 'offline';
let attempt = 0;
let retryTimer = 0;
let generation = 0;
let queue = [];
let frame = 0;
const rowListeners = new Set();
const stateListeners = new Set();

export function key(provider, project) { return provider + '\u0000' + project; }
export function liveState() { return state; }
export function lastEventId() { return lastId; }
export function onRows(f) { rowListeners.add(f); return () => rowListeners.delete(f); }
export function onState(f) { stateListeners.add(f); return () => stateListeners.delete(f); }

function setState(s, detail) {
  state = s;
  for (const f of stateListeners) f(s, detail);
}

// Loads the board, then follows the stream.  Resolves once the board is loaded.
export async function start() {
  stop();
  const gen = ++generation;
  const rows = await api('GET', '/projects');
  performance.mark('farm:board-data');
  if (gen !== generation) return;
  board.clear();
  let max = 0;
  for (const r of rows) {
    if (typeof r.project !== 'string') continue;
    board.set(key(r.provider, r.project), r);
    if (r.eventId > max) max = r.eventId;
  }
  lastId = max;
  for (const f of rowListeners) f(null, []);
  connect(gen);
}

export function stop() {
  generation++;
  clearTimeout(retryTimer);
  cancelAnimationFrame(frame);
  frame = 0;
  queue = [];
  if (ws) {
    ws.onclose = ws.onmessage = ws.onopen = ws.onerror = null;
    ws.close();
    ws = null;
  }
  recent.length = 0;
  setState('offline');
}

function connect(gen) {
  const t = token();
  if (!t || gen !== generation) return;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = scheme + '//' + location.host + '/api/v1/events?since=' + lastId +
    '&access_token=' + encodeURIComponent(t);
  setState(attempt ? 'reconnecting' : 'connecting');
  let opened = false;
  const sock = new WebSocket(url);
  ws = sock;
  sock.onopen = () => {
    opened = true;
    attempt = 0;
    setState('live');
  };
  sock.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    if (!ev || !ev.data || typeof ev.data.id !== 'number') return;
    if (ev.data.id <= lastId) return; // seen already
    lastId = ev.data.id;
    queue.push(ev.data);
    if (!frame) frame = requestAnimationFrame(flush);
  };
  sock.onclose = async () => {
    if (ws !== sock || gen !== generation) return;
    ws = null;
    attempt++;
    setState('reconnecting', { attempt });
    // A handshake refused before it opened may be an expired or revoked token: a
    // call that answers 401 signs out with the server's reason (api.js).
    if (!opened) {
      try { await api('GET', '/events?limit=1&since=' + lastId); } catch (e) { /* said by api() */ }
      if (!token() || gen !== generation) return;
    }
    const delay = Math.min(5000, 250 * 2 ** Math.min(attempt, 5));
    retryTimer = setTimeout(() => connect(gen), delay);
  };
}

// Events are applied once per animation frame, however many arrived: 100 events a
// second cost one layout per frame, not one per event.
// What applying events cost (scripts/bench-console reads it): batches, events, the
// longest batch and the total in ms.
export const stats = { batches: 0, events: 0, maxMs: 0, totalMs: 0 };

function flush() {
  const t0 = performance.now();
  frame = 0;
  const batch = queue;
  queue = [];
  const changed = [];
  for (const d of batch) {
    recent.unshift(d);
    if (typeof d.project !== 'string') continue;
    const k = key(d.provider, d.project);
    const old = board.get(k);
    if (old && old.eventId >= d.id) continue;
    const row = Object.assign({}, d, { eventId: d.id });
    delete row.id;
    delete row.receivedAt;
    board.set(k, row);
    changed.push(k);
  }
  if (recent.length > RECENT) recent.length = RECENT;
  for (const f of rowListeners) f(changed, batch);
  const ms = performance.now() - t0;
  stats.batches++;
  stats.events += batch.length;
  stats.totalMs += ms;
  if (ms > stats.maxMs) stats.maxMs = ms;
}

// For the benchmark (scripts/bench-console) and tests: feed events as if they came
// from the socket.
export function inject(data) {
  if (data.id <= lastId) return;
  lastId = data.id;
  queue.push(data);
  if (!frame) frame = requestAnimationFrame(flush);
}

export function signedOut() { stop(); board.clear(); lastId = 0; attempt = 0; }
