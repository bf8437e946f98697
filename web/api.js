// The coordinator's JSON API (same origin, under /api): fetch wrappers, helpers for its
// error replies, and the live connection: a Server-Sent Events stream (/api/events, one
// `snapshot` event a second) while it is up, and polling of /api/jobs + /api/workers
// every POLL_MS while it is not, reconnecting with backoff. Touches no DOM element: data
// and connection status go to the callbacks given to startLive().

import { csrfHeaders } from './session.js';

const API = '/api';
const POLL_MS = 2000;        // fallback polling period while the stream is down
const STALE_MS = 6000;       // "live" but no snapshot for this long: treat the stream as dead
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 15000;

// ---------------------------------------------------------------------------------------
// Requests

const jobPath = (id) => `${API}/jobs/${encodeURIComponent(id)}`;

/** GET /api{path} as JSON; throws on a non-2xx status. */
export async function getJson(path) {
  const res = await fetch(`${API}${path}`, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

/** GET /api/jobs and /api/workers at once: resolves to [jobsReply, workersReply]. */
const fetchLists = () => Promise.all([getJson('/jobs'), getJson('/workers')]);

/** GET /api/jobs/{id}; resolves to the Response (the caller tells 404 from other errors). */
export function fetchJob(id, signal) {
  return fetch(jobPath(id), {
    signal,
    headers: { Accept: 'application/json' },
    cache: 'no-store',
  });
}

/** Job control: DELETE /api/jobs/{id}, or POST /api/jobs/{id}/{action} (pause, resume, ...). */
export function requestJobAction(id, action) {
  const path = jobPath(id);
  const headers = { Accept: 'application/json', ...csrfHeaders() };
  return action === 'delete'
    ? fetch(path, { method: 'DELETE', headers })
    : fetch(`${path}/${action}`, { method: 'POST', headers });
}

/** POST /api/jobs with a YAML (or JSON) spec. */
export function submitSpec(body) {
  return fetch(`${API}/jobs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/yaml', Accept: 'application/json', ...csrfHeaders() },
    body,
  });
}

/** GET /api/jobs/{id}/shards?from=&count=: a page of the job's shards (compact states, attempts, details). */
export function fetchShards(id, from, count, signal) {
  return fetch(`${jobPath(id)}/shards?from=${from}&count=${count}`, {
    signal, headers: { Accept: 'application/json' }, cache: 'no-store',
  });
}

/** GET /api/jobs/{id}/shards/{n}: one shard in full, with its log tail and sample range. */
export function fetchShard(id, shard, signal) {
  return fetch(`${jobPath(id)}/shards/${shard}`, {
    signal, headers: { Accept: 'application/json' }, cache: 'no-store',
  });
}

/** GET /api/failures: the farm's newest dead letters and its blocklisted workers. */
export function fetchFailures(signal) {
  return fetch(`${API}/failures`, { signal, headers: { Accept: 'application/json' }, cache: 'no-store' });
}

/**
 * A sample's object: `ext` png (the preview, a JPEG when the camera stage made one), json or
 * exr, of frame `frame` (a clip's; 0 is a still image's only frame or a clip's first).
 */
export function sampleUrl(id, index, ext = 'png', frame = 0) {
  return `${jobPath(id)}/samples/${index}.${ext}${frame > 0 ? `?frame=${frame}` : ''}`;
}

/** A label layer of a sample's EXR (depth, normal, instance, ...) drawn as a PNG by the coordinator. */
export function layerUrl(id, index, layer, frame = 0) {
  return `${jobPath(id)}/samples/${index}/layers/${encodeURIComponent(layer)}.png${frame > 0 ? `?frame=${frame}` : ''}`;
}

/** GET a sample's JSON; resolves to the Response (404: not written yet). */
export function fetchSample(id, index, frame, signal) {
  return fetch(sampleUrl(id, index, 'json', frame), { signal, headers: { Accept: 'application/json' } });
}

/** A reply's body as { text, data }: data is the parsed JSON, or null if it is not JSON. */
export async function readJsonBody(res) {
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  return { text, data };
}

/** The `error` message of a JSON error reply, or '' when there is none. */
export function apiError(data) {
  return data && typeof data.error === 'string' && data.error ? data.error : '';
}

// ---------------------------------------------------------------------------------------
// Live connection: SSE with a polling fallback

const live = {
  stream: null,     // { close } of the open event stream
  streamData: false, // a snapshot came through the event stream
  status: 'connecting',
  retryMs: RECONNECT_MIN_MS,
  reconnectTimer: 0,
  watchdog: 0,
  pollTimer: 0,
  polling: false,
  pollFailures: 0,
};

// Set by startLive(): onData(data) takes a snapshot or polled lists, onLists(lists) takes
// lists fetched by refreshNow() outside polling, onStatus(status, note) shows the state.
let hooks = { onData() {}, onLists() {}, onStatus() {} };

/** True while snapshots come through the event stream (data then is fresh every second). */
export const isLive = () => live.status === 'live';

function setConn(status, note = '') {
  live.status = status;
  hooks.onStatus(status, note);
}

// The EventSource normally lives in a small dedicated worker (built from a Blob, so no
// extra file): the main thread then has no never-ending request, which lets headless
// Chromium's --virtual-time-budget (used for screenshots and DOM dumps in automated
// checks) finish instead of waiting forever. Where workers or EventSource-in-workers are
// unavailable (or a CSP forbids blob: workers) the EventSource runs on the main thread.
const STREAM_WORKER_SRC = `
let es = null, gen = 0;
onmessage = (e) => {
  const m = e.data || {};
  if (es) { es.close(); es = null; }
  if (m.cmd !== 'open') return;
  if (typeof EventSource === 'undefined') { postMessage({ gen: m.gen, type: 'unsupported' }); return; }
  const g = gen = m.gen;
  const src = es = new EventSource(m.url);
  src.onopen = () => { if (g === gen) postMessage({ gen: g, type: 'open' }); };
  src.addEventListener('snapshot', (ev) => {
    if (g !== gen) return;
    let data;
    try { data = JSON.parse(ev.data); } catch (err) { return; }
    postMessage({ gen: g, type: 'snapshot', data });
  });
  src.onerror = () => { if (g === gen) postMessage({ gen: g, type: 'error', closed: src.readyState === 2 }); };
};
`;

const streamWorker = {
  worker: null,
  usable: typeof Worker === 'function' && typeof Blob === 'function' && typeof URL.createObjectURL === 'function',
  gen: 0,
  handlers: null,
};

function getStreamWorker() {
  if (!streamWorker.usable) return null;
  if (streamWorker.worker) return streamWorker.worker;
  try {
    const url = URL.createObjectURL(new Blob([STREAM_WORKER_SRC], { type: 'text/javascript' }));
    const w = new Worker(url);
    w.addEventListener('message', (ev) => {
      const m = ev.data || {};
      const hs = streamWorker.handlers;
      if (!hs || m.gen !== streamWorker.gen) return;
      if (m.type === 'open') hs.open();
      else if (m.type === 'snapshot') hs.snapshot(m.data);
      else if (m.type === 'error') hs.error(!!m.closed);
      else if (m.type === 'unsupported') giveUpWorker();
    });
    w.addEventListener('error', (ev) => {
      ev.preventDefault?.();
      giveUpWorker();
    });
    streamWorker.worker = w;
    return w;
  } catch {
    streamWorker.usable = false;
    return null;
  }
}

/** The worker cannot stream: stop using it and report the current stream as closed. */
function giveUpWorker() {
  streamWorker.usable = false;
  try { streamWorker.worker?.terminate(); } catch { /* ignore */ }
  streamWorker.worker = null;
  const hs = streamWorker.handlers;
  streamWorker.handlers = null;
  hs?.error(true);
}

/** Opens /api/events; calls handlers.open(), .snapshot(obj), .error(closed). Returns { close }. */
function openStream(handlers) {
  const url = new URL(`${API}/events`, location.href).href;
  const w = getStreamWorker();
  if (w) {
    const gen = ++streamWorker.gen;
    streamWorker.handlers = handlers;
    w.postMessage({ cmd: 'open', url, gen });
    return {
      close() {
        if (streamWorker.gen !== gen) return;
        streamWorker.handlers = null;
        streamWorker.gen++;
        streamWorker.worker?.postMessage({ cmd: 'close' });
      },
    };
  }
  const es = new EventSource(url);
  es.addEventListener('open', () => handlers.open());
  es.addEventListener('snapshot', (ev) => {
    let data;
    try { data = JSON.parse(ev.data); } catch { return; }
    handlers.snapshot(data);
  });
  es.addEventListener('error', () => handlers.error(es.readyState === EventSource.CLOSED));
  return { close: () => es.close() };
}

/**
 * Splits complete Server-Sent Events off the front of `buf`.
 * Returns { events: [{ event, data }], rest } where `rest` is the incomplete tail.
 */
function parseSse(buf) {
  const events = [];
  const text = buf.replace(/\r\n?/g, '\n');
  let start = 0;
  let end;
  while ((end = text.indexOf('\n\n', start)) !== -1) {
    let event = 'message';
    const data = [];
    for (const line of text.slice(start, end).split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length) events.push({ event, data: data.join('\n') });
    start = end + 2;
  }
  return { events, rest: text.slice(start) };
}

/**
 * First paint: reads the first `snapshot` of /api/events with fetch() on the main thread,
 * then closes that request (the worker's EventSource carries on with the updates). This
 * shows data as soon as the coordinator sends it, and keeps the main thread's pending
 * request bounded, so headless renders with a virtual time budget see the live data.
 */
async function bootstrapSnapshot() {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), 8000);
  try {
    const res = await fetch(`${API}/events`, {
      headers: { Accept: 'text/event-stream' }, cache: 'no-store', signal: ctrl.signal,
    });
    if (!res.ok || !res.body || !/event-stream/i.test(res.headers.get('Content-Type') || '')) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      const parsed = parseSse(buf);
      buf = parsed.rest;
      for (const ev of parsed.events) {
        if (ev.event !== 'snapshot') continue;
        let data;
        try { data = JSON.parse(ev.data); } catch { continue; }
        if (!data || typeof data !== 'object') continue;
        // The worker's stream may have delivered first; never go back in time.
        if (!live.streamData) {
          streamUp();
          hooks.onData(data);
        }
        return;
      }
      if (buf.length > 16 * 1024 * 1024) return;
    }
  } catch {
    // The EventSource path reports connection problems; nothing to do here.
  } finally {
    clearTimeout(timer);
    ctrl.abort();
  }
}

function connect() {
  clearTimeout(live.reconnectTimer);
  live.reconnectTimer = 0;
  live.stream?.close();
  live.stream = null;
  let stream = null;
  const handlers = {
    open() {
      if (live.stream === stream) streamUp();
    },
    snapshot(data) {
      if (live.stream !== stream || !data || typeof data !== 'object') return;
      live.streamData = true;
      streamUp();
      hooks.onData(data);
    },
    error(closed) {
      if (live.stream !== stream) return;
      streamLost();
      if (closed) {
        // The browser gave up (HTTP error, wrong content type): retry ourselves, with backoff.
        // Otherwise (still CONNECTING) the browser is already retrying on its own.
        live.stream.close();
        live.stream = null;
        scheduleReconnect();
      }
    },
  };
  try {
    stream = openStream(handlers);
  } catch {
    streamLost();
    scheduleReconnect();
    return;
  }
  live.stream = stream;
}

function streamUp() {
  live.retryMs = RECONNECT_MIN_MS;
  if (live.status !== 'live') setConn('live');
  stopPolling();
  clearTimeout(live.watchdog);
  live.watchdog = setTimeout(() => {
    // Open but silent (e.g. a buffering proxy): drop it and start over.
    live.stream?.close();
    live.stream = null;
    streamLost();
    scheduleReconnect();
  }, STALE_MS);
}

function streamLost() {
  clearTimeout(live.watchdog);
  if (live.status !== 'reconnecting' && live.status !== 'offline') {
    setConn('reconnecting', live.pollFailures ? 'server unreachable' : 'polling');
  }
  startPolling();
}

function scheduleReconnect() {
  if (live.reconnectTimer) return;
  const delay = live.retryMs;
  live.retryMs = Math.min(RECONNECT_MAX_MS, Math.round(live.retryMs * 1.7));
  live.reconnectTimer = setTimeout(connect, delay);
}

function startPolling() {
  if (live.polling) return;
  live.polling = true;
  live.pollFailures = 0;
  pollOnce();
}

function stopPolling() {
  live.polling = false;
  clearTimeout(live.pollTimer);
  live.pollTimer = 0;
}

async function pollOnce() {
  clearTimeout(live.pollTimer);
  live.pollTimer = 0;
  if (!live.polling) return;
  try {
    const [j, w] = await fetchLists();
    if (!live.polling) return;   // the stream came back meanwhile; its data wins
    live.pollFailures = 0;
    setConn('reconnecting', 'polling');
    hooks.onData({ jobs: j.jobs || [], workers: w.workers || [], totals: null });
  } catch {
    if (!live.polling) return;
    live.pollFailures++;
    setConn('offline', 'server unreachable');
  }
  if (live.polling) live.pollTimer = setTimeout(pollOnce, POLL_MS);
}

/** Fresh data now (after a submit or a job action), whatever the connection mode. */
export function refreshNow() {
  if (live.polling) pollOnce();
  else {
    fetchLists()
      .then(([j, w]) => {
        // Only fill gaps: the next snapshot replaces this anyway.
        hooks.onLists({ jobs: j.jobs || [], workers: w.workers || [] });
      })
      .catch(() => {});
  }
}

/** Starts the live connection (stream, else polling); see `hooks` for the callbacks. */
export function startLive({ onData, onLists, onStatus }) {
  hooks = { onData, onLists, onStatus };
  connect();
  if (streamWorker.worker) bootstrapSnapshot();
}
