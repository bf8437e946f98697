// The job panel's shard grid (#shard-grid-section): one cell per shard coloured by its
// state (pending, retrying = pending after a failed or lost attempt, leased, done, dead),
// a legend with counts, a tooltip per cell (state, attempts, worker, error), and the
// detail of the shard clicked: state, attempts, worker and lease, last error, the failing
// worker's log tail, and its samples with links to them.
//
// Data: GET /api/jobs/{id}/shards, a page of up to PAGE shards as one character of state
// and one number of attempts each (details only for shards claimed and not done), and
// GET /api/jobs/{id}/shards/{n} for the shard shown. Pages of big jobs are browsed with the
// pager or by shard number. The grid refetches every POLL_MS while its job is active, and
// when the panel asks (refreshShardGrid) after the job moved or an action.
//
// Drawn on one <canvas> (not one element per cell), so 10,000 cells redraw in a
// millisecond or two and add nothing to the DOM; the canvas says what it shows for tests
// and tools: data-cells, data-states (the page's state codes), data-from, data-cols,
// data-pitch (CSS px from one cell to the next), data-selected and data-draw-ms (the last
// redraw's time).
// Server data reaches the DOM only through textContent and attribute setters.

import { $, fmtAgo, fmtDuration, fmtInt, fmtTime, h, num, setAttr, setData, setText } from './dom.js';
import { fetchShard, fetchShards, sampleUrl } from './api.js';
import { serverNow } from './state.js';

const PAGE = 10000;         // shards per request: the API's page limit
const POLL_MS = 2000;       // refetch period while the job is active
const MAX_HEIGHT = 240;     // CSS px the grid may take before cells shrink
const MAX_SAMPLE_LINKS = 24;
const ACTIVE = new Set(['queued', 'running', 'paused', 'finalizing']);

// Cell colours; `retrying` is a pending shard that has been tried before.
const STATES = [
  { key: 'pending', label: 'pending', color: '#cbd2db' },
  { key: 'retrying', label: 'retrying', color: '#e0a526' },
  { key: 'leased', label: 'leased', color: '#2563eb' },
  { key: 'done', label: 'done', color: '#16a34a' },
  { key: 'dead', label: 'dead', color: '#dc2626' },
  { key: 'other', label: 'other', color: '#7c3aed' },
];
const COLOR = Object.fromEntries(STATES.map((s) => [s.key, s.color]));
const CODE = { p: 'pending', l: 'leased', d: 'done', x: 'dead' };

const grid = {
  id: null,         // job shown
  jobState: '',
  page: 0,
  data: null,       // last page reply
  details: new Map(), // shard → detail of the page
  error: '',
  inflight: null,
  again: false,     // refetch when the fetch in flight ends
  lastFetch: 0,
  timer: 0,
  layout: null,     // { size, gap, pitch, cols, rows }
  hover: -1,
  selected: null,   // shard number shown in the detail
  shard: null,      // its reply
  shardError: '',
  shardInflight: null,
  shardKey: '',     // state|attempts the shard reply was fetched at
  shardShown: '',   // what the detail shows (renderShard)
};

let els = null;

function stateOf(code, attempts) {
  const s = CODE[code];
  if (!s) return 'other';
  return s === 'pending' && attempts > 0 ? 'retrying' : s;
}

/** Builds the section's elements inside #shard-grid-section and wires them. */
export function initShardGrid() {
  const root = $('shard-grid-section');
  els = {
    root,
    range: h('span', { class: 'count', testid: 'shard-grid-range' }),
    legend: h('ul', { class: 'shard-legend', testid: 'shard-legend' }),
    canvas: h('canvas', {
      class: 'shard-canvas', testid: 'shard-grid', tabindex: 0, role: 'img',
      'aria-label': 'Shards coloured by state; click one for its details',
    }),
    error: h('p', { class: 'detail-error', testid: 'shard-grid-error', hidden: true }),
    prev: h('button', { type: 'button', class: 'mini-btn', testid: 'shard-page-prev', text: '‹ Previous' }),
    next: h('button', { type: 'button', class: 'mini-btn', testid: 'shard-page-next', text: 'Next ›' }),
    pageText: h('span', { class: 'muted' }),
    find: h('input', {
      type: 'number', min: 0, step: 1, class: 'shard-find-input', testid: 'shard-find-input',
      'aria-label': 'Shard number', placeholder: 'shard #',
    }),
    detail: h('div', { class: 'shard-detail', testid: 'shard-detail', hidden: true }),
  };
  els.pager = h('div', { class: 'shard-pager', hidden: true }, els.prev, els.pageText, els.next);
  const form = h('form', { class: 'shard-find' }, els.find,
    h('button', { type: 'submit', class: 'mini-btn', testid: 'shard-find-go', text: 'Show' }));
  root.replaceChildren(
    h('h3', { class: 'sub-head' }, 'Shards ', els.range),
    els.legend,
    h('div', { class: 'shard-canvas-wrap' }, els.canvas),
    els.error,
    h('div', { class: 'shard-tools' }, els.pager, form),
    els.detail);

  els.canvas.addEventListener('mousemove', (ev) => hoverAt(cellAt(ev)));
  els.canvas.addEventListener('mouseleave', () => hoverAt(-1));
  els.canvas.addEventListener('click', (ev) => {
    const i = cellAt(ev);
    if (i >= 0) selectShard(num(grid.data.from) + i);
  });
  els.canvas.addEventListener('keydown', onKey);
  els.prev.addEventListener('click', () => goToPage(grid.page - 1));
  els.next.addEventListener('click', () => goToPage(grid.page + 1));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const n = Number(els.find.value);
    const total = num(grid.data?.shards_total);
    if (Number.isInteger(n) && n >= 0 && n < total) selectShard(n);
  });
  window.addEventListener('resize', () => draw());
}

/** Shows job `id` (in state `jobState`) in the grid; a new id starts over. */
export function showShardGrid(id, jobState) {
  if (!els) return;
  if (id !== grid.id) resetShardGrid(id);
  grid.jobState = jobState || '';
  if (!id) return;
  if (!grid.data && !grid.inflight && !grid.error) fetchPage();
  else if (!grid.timer && !grid.inflight) schedulePoll();
}

/** Refetches the page now (the job moved or an action changed it), at most once a second. */
export function refreshShardGrid() {
  if (!els || !grid.id) return;
  if (grid.inflight) {
    grid.again = true;  // the reply in flight may predate what changed
    return;
  }
  const wait = 1000 - (Date.now() - grid.lastFetch);
  clearTimeout(grid.timer);
  grid.timer = 0;
  if (wait <= 0) {
    fetchPage();
    return;
  }
  grid.timer = setTimeout(() => {
    grid.timer = 0;
    if (!grid.inflight) fetchPage();
  }, wait);
}

/** Opens shard `n` of the job shown (from the panel's dead-shard list). */
export function showShard(n) {
  if (!els || !grid.id) return;
  selectShard(n);
  els.root.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

function resetShardGrid(id) {
  grid.inflight?.abort();
  grid.shardInflight?.abort();
  clearTimeout(grid.timer);
  Object.assign(grid, {
    id, jobState: '', page: 0, data: null, error: '', inflight: null, again: false, lastFetch: 0, timer: 0, layout: null,
    hover: -1, selected: null, shard: null, shardError: '', shardInflight: null, shardKey: '', shardShown: '',
  });
  grid.details = new Map();
  els.detail.hidden = true;
  els.detail.replaceChildren();
  els.legend.replaceChildren();
  setText(els.range, '');
  els.error.hidden = true;
  els.pager.hidden = true;
  draw();
}

function schedulePoll(delay = POLL_MS) {
  clearTimeout(grid.timer);
  grid.timer = 0;
  if (!grid.id || !ACTIVE.has(grid.jobState)) return;
  grid.timer = setTimeout(() => {
    grid.timer = 0;
    if (document.hidden) schedulePoll();
    else fetchPage();
  }, delay);
}

async function fetchPage() {
  const id = grid.id;
  const ctrl = new AbortController();
  grid.inflight = ctrl;
  grid.lastFetch = Date.now();
  try {
    const res = await fetchShards(id, grid.page * PAGE, PAGE, ctrl.signal);
    const data = await res.json().catch(() => null);
    if (grid.id !== id || ctrl.signal.aborted) return;  // another job or page was asked for since
    if (!res.ok || !data || typeof data.states !== 'string') {
      grid.error = (data && data.error) || `Could not load the shards (HTTP ${res.status}).`;
    } else {
      grid.error = '';
      grid.data = data;
      grid.details = new Map((Array.isArray(data.details) ? data.details : []).map((d) => [num(d.shard), d]));
    }
  } catch {
    if (ctrl.signal.aborted || grid.id !== id) return;
    grid.error = 'Could not load the shards (coordinator unreachable).';
  } finally {
    if (grid.inflight === ctrl) grid.inflight = null;
  }
  if (grid.id !== id || ctrl.signal.aborted) return;
  render();
  if (grid.again) {
    grid.again = false;
    refreshShardGrid();
  } else {
    schedulePoll();
  }
}

function goToPage(page) {
  const total = num(grid.data?.shards_total);
  const pages = Math.max(1, Math.ceil(total / PAGE));
  const p = Math.max(0, Math.min(pages - 1, page));
  if (p === grid.page) return;
  grid.page = p;
  grid.inflight?.abort();
  grid.inflight = null;
  fetchPage();
}

// ---------------------------------------------------------------------------------------
// Drawing

function render() {
  els.error.hidden = !grid.error;
  setText(els.error, grid.error);
  const d = grid.data;
  if (!d) {
    draw();
    return;
  }
  const from = num(d.from);
  const n = d.states.length;
  const total = num(d.shards_total);
  setText(els.range, n < total ? `${fmtInt(from)}–${fmtInt(from + n - 1)} of ${fmtInt(total)}` : fmtInt(total));
  els.pager.hidden = total <= PAGE;
  setText(els.pageText, `page ${grid.page + 1} of ${Math.ceil(total / PAGE)}`);
  els.prev.disabled = grid.page === 0;
  els.next.disabled = d.next_from == null;
  renderLegend();
  draw();
  renderShard();
}

function renderLegend() {
  const d = grid.data;
  const counts = Object.fromEntries(STATES.map((s) => [s.key, 0]));
  for (let i = 0; i < d.states.length; i++) counts[stateOf(d.states[i], num(d.attempts?.[i]))]++;
  const items = STATES.filter((s) => s.key !== 'other' || counts.other > 0).map((s) => {
    const swatch = h('span', { class: 'swatch' });
    swatch.style.background = s.color;  // through the CSSOM: the page's CSP refuses style attributes
    const li = h('li', { testid: `shard-legend-${s.key}` }, swatch, `${s.label} `, h('b', { text: fmtInt(counts[s.key]) }));
    li.dataset.state = s.key;
    li.dataset.count = String(counts[s.key]);
    return li;
  });
  els.legend.replaceChildren(...items);
  setAttr(els.canvas, 'aria-label',
    `Shards by state: ${STATES.filter((s) => counts[s.key]).map((s) => `${counts[s.key]} ${s.label}`).join(', ')}`);
}

function layoutFor(n, width) {
  for (const size of [18, 14, 12, 10, 8, 6, 5, 4, 3]) {
    const gap = size >= 6 ? 2 : 1;
    const pitch = size + gap;
    const cols = Math.max(1, Math.floor((width + gap) / pitch));
    if (Math.ceil(n / cols) * pitch <= MAX_HEIGHT) return { size, gap, pitch, cols, rows: Math.ceil(n / cols) };
  }
  const pitch = 3;
  const cols = Math.max(1, Math.floor((width + 1) / pitch));
  return { size: 2, gap: 1, pitch, cols, rows: Math.ceil(n / cols) };
}

function draw() {
  const c = els.canvas;
  const d = grid.data;
  const n = d ? d.states.length : 0;
  if (!n) {
    c.width = 0;
    c.height = 0;
    c.style.width = '0px';
    c.style.height = '0px';
    setData(c, 'cells', 0);
    setData(c, 'states', '');
    return;
  }
  const t0 = performance.now();
  const width = Math.max(120, c.parentElement.clientWidth || 360);
  const L = layoutFor(n, width);
  grid.layout = L;
  const cssW = L.cols * L.pitch - L.gap;
  const cssH = L.rows * L.pitch - L.gap;
  const dpr = window.devicePixelRatio || 1;
  c.width = Math.round(cssW * dpr);
  c.height = Math.round(cssH * dpr);
  c.style.width = `${cssW}px`;
  c.style.height = `${cssH}px`;
  const g = c.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, cssW, cssH);
  const from = num(d.from);
  for (let i = 0; i < n; i++) {
    g.fillStyle = COLOR[stateOf(d.states[i], num(d.attempts?.[i]))];
    g.fillRect((i % L.cols) * L.pitch, Math.floor(i / L.cols) * L.pitch, L.size, L.size);
  }
  const sel = grid.selected == null ? -1 : grid.selected - from;
  if (sel >= 0 && sel < n) {
    g.strokeStyle = '#111827';
    g.lineWidth = Math.max(1, Math.min(2, L.gap));
    const x = (sel % L.cols) * L.pitch;
    const y = Math.floor(sel / L.cols) * L.pitch;
    g.strokeRect(x - 0.5, y - 0.5, L.size + 1, L.size + 1);
  }
  setData(c, 'cells', n);
  setData(c, 'states', d.states);
  setData(c, 'from', from);
  setData(c, 'cols', L.cols);
  setData(c, 'pitch', L.pitch);
  setAttr(c, 'data-selected', grid.selected == null ? null : String(grid.selected));
  setData(c, 'drawMs', (performance.now() - t0).toFixed(1));
}

/** The page index of the cell under a mouse event, or -1. */
function cellAt(ev) {
  const L = grid.layout;
  const d = grid.data;
  if (!L || !d) return -1;
  const rect = els.canvas.getBoundingClientRect();
  const x = ev.clientX - rect.left;
  const y = ev.clientY - rect.top;
  if (x < 0 || y < 0) return -1;
  const col = Math.floor(x / L.pitch);
  const row = Math.floor(y / L.pitch);
  if (col >= L.cols) return -1;
  const i = row * L.cols + col;
  return i < d.states.length ? i : -1;
}

function hoverAt(i) {
  if (i === grid.hover) return;
  grid.hover = i;
  setAttr(els.canvas, 'title', i < 0 ? null : cellTitle(i));
}

function cellTitle(i) {
  const d = grid.data;
  const shard = num(d.from) + i;
  const attempts = num(d.attempts?.[i]);
  const st = stateOf(d.states[i], attempts);
  const bits = [`shard ${shard}: ${st}`, `${attempts} attempt${attempts === 1 ? '' : 's'}`];
  const detail = grid.details.get(shard);
  if (detail?.worker) bits.push(`worker ${detail.worker}`);
  let text = bits.join(', ');
  if (detail?.error) text += `\n${String(detail.error).split('\n')[0]}`;
  return text;
}

function onKey(ev) {
  const L = grid.layout;
  const d = grid.data;
  if (!L || !d) return;
  const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -L.cols, ArrowDown: L.cols }[ev.key];
  if (!step) return;
  ev.preventDefault();
  const from = num(d.from);
  const cur = grid.selected == null ? from : grid.selected;
  const next = Math.max(from, Math.min(from + d.states.length - 1, cur + step));
  selectShard(next);
}

// ---------------------------------------------------------------------------------------
// The selected shard

function selectShard(n) {
  const page = Math.floor(n / PAGE);
  grid.selected = n;
  grid.shard = null;
  grid.shardError = '';
  grid.shardKey = '';
  if (page !== grid.page) {
    grid.page = page;
    grid.inflight?.abort();
    grid.inflight = null;
    fetchPage();
  } else {
    draw();
    renderShard();
  }
}

// The state and attempts the page shows for the selected shard ('' off the page).
function pageKey() {
  const d = grid.data;
  if (!d || grid.selected == null) return '';
  const i = grid.selected - num(d.from);
  if (i < 0 || i >= d.states.length) return '';
  const detail = grid.details.get(grid.selected);
  return `${d.states[i]}|${num(d.attempts?.[i])}|${detail?.worker || ''}`;
}

async function fetchShardDetail() {
  const id = grid.id;
  const n = grid.selected;
  const key = pageKey();
  grid.shardInflight?.abort();
  const ctrl = new AbortController();
  grid.shardInflight = ctrl;
  try {
    const res = await fetchShard(id, n, ctrl.signal);
    const data = await res.json().catch(() => null);
    if (grid.id !== id || grid.selected !== n) return;
    grid.shard = res.ok && data ? data : null;
    grid.shardError = res.ok && data ? '' : ((data && data.error) || `Could not load shard ${n} (HTTP ${res.status}).`);
    grid.shardKey = key;
  } catch {
    if (ctrl.signal.aborted || grid.id !== id) return;
    grid.shardError = `Could not load shard ${n} (coordinator unreachable).`;
  } finally {
    if (grid.shardInflight === ctrl) grid.shardInflight = null;
  }
  if (grid.id === id && grid.selected === n) renderShard();
}

function renderShard() {
  if (grid.selected == null) {
    els.detail.hidden = true;
    grid.shardShown = '';
    return;
  }
  els.detail.hidden = false;
  const key = pageKey();
  if (!grid.shardInflight && (key !== grid.shardKey || (!grid.shard && !grid.shardError))) {
    fetchShardDetail();
  }
  const n = grid.selected;
  const s = grid.shard && num(grid.shard.shard) === n ? grid.shard : null;
  // Rebuilt only when what it shows changed, so a collapsed log or selected text stays.
  const shown = JSON.stringify([n, grid.shardError, s]);
  if (shown === grid.shardShown) return;
  grid.shardShown = shown;
  const close = h('button', {
    type: 'button', class: 'icon-btn', testid: 'shard-detail-close', 'aria-label': 'Close shard details', text: '×',
  });
  close.addEventListener('click', () => {
    grid.selected = null;
    grid.shard = null;
    grid.shardKey = '';
    draw();
    renderShard();
  });
  const attempts = s ? num(s.attempts) : 0;
  const st = s ? stateOf(CODE_OF[s.state] || '?', attempts) : '';
  const badge = h('span', { class: 'badge shard-badge', testid: 'shard-detail-state', text: s ? st : '…' });
  badge.dataset.state = st;
  const head = h('div', { class: 'shard-detail-head' },
    h('strong', { testid: 'shard-detail-title', text: `Shard ${n}` }), badge, close);
  const parts = [head];
  if (grid.shardError) parts.push(h('p', { class: 'detail-error', text: grid.shardError }));
  if (s) parts.push(...shardBody(s, attempts));
  else if (!grid.shardError) parts.push(h('p', { class: 'empty small', text: 'Loading…' }));
  els.detail.replaceChildren(...parts);
  els.detail.dataset.shard = String(n);
}

const CODE_OF = { pending: 'p', leased: 'l', done: 'd', dead: 'x' };

function shardBody(s, attempts) {
  const now = serverNow();
  const kv = [['Attempts', String(attempts), 'shard-detail-attempts']];
  if (s.worker) kv.push(['Worker', s.worker, 'shard-detail-worker']);
  if (num(s.deadline_ms)) {
    const left = num(s.deadline_ms) - now;
    kv.push(['Lease ends', left > 0 ? `in ${fmtDuration(left / 1000)}` : 'expired', 'shard-detail-deadline']);
  }
  if (num(s.claimed_ms)) kv.push(['Claimed', fmtAgo(now - s.claimed_ms), null, fmtTime(s.claimed_ms)]);
  if (num(s.done_ms)) kv.push(['Done', fmtAgo(now - s.done_ms), null, fmtTime(s.done_ms)]);
  if (num(s.dead_ms)) kv.push(['Dead-lettered', fmtAgo(now - s.dead_ms), null, fmtTime(s.dead_ms)]);
  const out = [h('dl', { class: 'kv kv-compact' }, ...kv.map(([k, v, testid, title]) =>
    h('div', {}, h('dt', { text: k }), h('dd', { text: v, testid, title }))))];
  if (s.error) {
    out.push(h('div', { class: 'sub-label', text: 'Last error' }),
      h('div', { class: 'dead-error', testid: 'shard-detail-error', text: String(s.error) }));
  }
  if (s.log_tail) {
    const lines = String(s.log_tail).replace(/\n$/, '').split('\n').length;
    out.push(h('details', { class: 'log-box', open: true },
      h('summary', { text: `Log tail of the failing worker (${lines} line${lines === 1 ? '' : 's'})` }),
      h('pre', { class: 'log-tail', testid: 'shard-detail-log', text: String(s.log_tail) })));
  }
  out.push(sampleLinks(s));
  return out;
}

function sampleLinks(s) {
  const first = num(s.samples?.first);
  const count = num(s.samples?.count);
  const box = h('div', { class: 'shard-samples' });
  if (!count) return box;
  const last = first + count - 1;
  box.append(h('div', { class: 'sub-label', testid: 'shard-detail-samples',
    text: count === 1 ? `Sample ${first}` : `Samples ${first}–${last} (${count})` }));
  const links = h('div', { class: 'sample-links' });
  for (let i = first; i <= last && i < first + MAX_SAMPLE_LINKS; i++) {
    const a = h('a', {
      href: sampleUrl(grid.id, i), target: '_blank', rel: 'noopener', testid: 'shard-sample-link',
      title: `Sample ${i}: preview (the JSON labels are beside it)`, text: `#${i}`,
    });
    a.dataset.sampleIndex = String(i);
    const json = h('a', {
      href: sampleUrl(grid.id, i, 'json'), target: '_blank', rel: 'noopener', class: 'faint', text: 'json',
      title: `Sample ${i}: labels (JSON)`,
    });
    links.append(h('span', { class: 'sample-link' }, a, ' ', json));
  }
  if (count > MAX_SAMPLE_LINKS) links.append(h('span', { class: 'muted', text: `… ${count - MAX_SAMPLE_LINKS} more` }));
  if (s.state !== 'done') {
    box.append(h('p', { class: 'empty small', text: 'Stored once the shard is done; some may be there already.' }));
  }
  box.append(links);
  return box;
}
