// The workers table (#workers-body), made for farms of hundreds of workers:
//   - sortable by every column (the header buttons; the header cell's aria-sort says how),
//     ties broken by worker id, empty values ('–') last either way;
//   - filtered by text (worker id, host or job) and by state (alive, lost, rendering, idle);
//   - virtualised: only the rows in view plus a margin are in the DOM, each of one fixed
//     height (CSS), between two spacer rows that give the scroll area its full height, so
//     500 workers cost about as much as 30. Rows are keyed by id (data-worker-id) and
//     updated in place; one scrolled out of view is dropped and rebuilt when it returns.
// A row opens the worker page (worker_page.js); its job button selects the job instead.
// Render, upload and failure columns show the heartbeat's `metrics` when the coordinator
// sends them, '–' otherwise. The table reports what it costs: the first render with
// workers is a performance measure ('workers-first-render', detail {workers, rows}) and
// every render leaves its milliseconds in the table's data-render-ms.
// Server data reaches the DOM only through textContent and attribute setters.

import {
  $, fmtHeartbeat, fmtInt, fmtRate, fmtTime, h, num, reconcileChildren, setAttr, setData, setText,
} from './dom.js';
import { isLive } from './api.js';
import { serverNow, state } from './state.js';

const LATE_HEARTBEAT_MS = 5000;
const ROW_HEIGHT_PX = 33;   // the CSS height of a row (.workers tbody tr.wrow); measured once drawn
const MARGIN_ROWS = 10;     // rows kept above and below the visible ones

const body = $('workers-body');
const table = $('workers-table');
const scroller = $('workers-scroll');
const empty = $('workers-empty');
const countEl = $('workers-count');
const filterInput = $('workers-filter');
const stateSelect = $('workers-state-filter');

const collator = new Intl.Collator('en', { numeric: true });

// ---------------------------------------------------------------------------------------
// Values shown and sorted on

const stateOf = (w) => (w.alive ? String(w.state || 'idle') : 'lost');
const rendering = (w) => !!w.alive && stateOf(w) === 'rendering';
const metric = (w, name) => {
  const v = w.metrics && w.metrics[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};
/** Failures of every kind, or null when the coordinator sends no metrics. */
export function failuresTotal(w) {
  const f = w.metrics && w.metrics.failures;
  if (!f || typeof f !== 'object') return null;
  return Object.values(f).reduce((sum, n) => sum + num(n), 0);
}
/** Heartbeat age in ms, growing while the live stream is down so stale data looks stale. */
export function heartbeatAge(w) {
  let age = typeof w.age_ms === 'number' ? w.age_ms : (num(w.last_heartbeat_ms) ? serverNow() - w.last_heartbeat_ms : NaN);
  if (Number.isFinite(age) && !isLive()) age += Date.now() - state.receivedAt;
  return Number.isFinite(age) ? age : null;
}
/** Seconds as "0.42 s", "12.3 s"; '–' when unknown. */
export function fmtSeconds(s) {
  if (typeof s !== 'number' || !Number.isFinite(s)) return '–';
  return `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
}

// Sort key per column: a number, a string, or null (empty, sorted last).
const COLUMNS = {
  id: (w) => w.id,
  host: (w) => String(w.host || '') || null,
  state: (w) => stateOf(w),
  job: (w) => (w.job ? `${w.job}\u0000${String(num(w.shard)).padStart(12, '0')}` : null),
  samples: (w) => num(w.samples_done),
  rate: (w) => (rendering(w) ? num(w.samples_per_sec) : null),
  render: (w) => metric(w, 'render_s_mean'),
  upload: (w) => metric(w, 'upload_s_mean'),
  failures: (w) => failuresTotal(w),
  beat: (w) => heartbeatAge(w),
};

const view = {
  sort: { key: 'id', dir: 'asc' },
  text: '',
  state: 'all',
  list: [],            // the workers shown, filtered and sorted
  rows: new Map(),     // id → { tr, refs } of the rows in the DOM
  rowHeight: ROW_HEIGHT_PX,
  heightKnown: false,  // rowHeight was measured on a drawn row
  measured: false,     // the first render with workers has been timed
  frame: 0,            // requestAnimationFrame of a pending scroll render
};

// Set by initWorkers(): selects a job; opens a worker's page.
let onSelectJob = () => {};
let onOpenWorker = () => {};

function matchesState(w) {
  switch (view.state) {
    case 'alive': return !!w.alive;
    case 'lost': return !w.alive;
    case 'rendering': return rendering(w);
    case 'idle': return !!w.alive && stateOf(w) === 'idle';
    default: return true;
  }
}

function matchesText(w) {
  if (!view.text) return true;
  const t = view.text;
  return String(w.id).toLowerCase().includes(t) || String(w.host || '').toLowerCase().includes(t) ||
         String(w.job || '').toLowerCase().includes(t);
}

function compareKeys(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return collator.compare(String(a), String(b));
}

/** The workers to show, filtered and sorted (empty values last, ties by id). */
function computeList() {
  const key = COLUMNS[view.sort.key] || COLUMNS.id;
  const sign = view.sort.dir === 'desc' ? -1 : 1;
  const decorated = [];
  for (const w of state.workers) if (matchesState(w) && matchesText(w)) decorated.push({ w, k: key(w) });
  decorated.sort((x, y) => {
    const xe = x.k == null;
    const ye = y.k == null;
    if (xe !== ye) return xe ? 1 : -1;
    const c = xe ? 0 : sign * compareKeys(x.k, y.k);
    return c || collator.compare(x.w.id, y.w.id);
  });
  view.list = decorated.map((d) => d.w);
}

// ---------------------------------------------------------------------------------------
// Rows

function createRow(id) {
  const tr = h('tr', { class: 'wrow', tabindex: 0, testid: 'worker-row', title: 'Open the worker page' });
  tr.dataset.workerId = id;
  const refs = {
    dot: h('span', { class: 'alive-dot', testid: 'worker-alive', role: 'img' }),
    id: h('span', { class: 'wid' }),
    host: h('span'),
    badge: h('span', { class: 'badge', testid: 'worker-state' }),
    jobBtn: h('button', { type: 'button', class: 'link-btn', title: 'Show job details', testid: 'worker-job' }),
    shard: h('span', { class: 'muted' }),
    noJob: h('span', { class: 'faint', text: '–' }),
    done: h('td', { class: 'c-wdone num' }),
    rate: h('td', { class: 'c-rate num' }),
    render: h('td', { class: 'c-wrender num' }),
    upload: h('td', { class: 'c-wupload num' }),
    failures: h('td', { class: 'c-wfail num', testid: 'worker-failures' }),
    beat: h('td', { class: 'c-beat num', testid: 'worker-heartbeat' }),
  };
  tr.append(
    h('td', { class: 'c-wid' }, refs.dot, refs.id),
    h('td', { class: 'c-host' }, refs.host),
    h('td', { class: 'c-wstate' }, refs.badge),
    h('td', { class: 'c-job' }, refs.jobBtn, refs.shard, refs.noJob),
    refs.done, refs.rate, refs.render, refs.upload, refs.failures, refs.beat,
  );
  return { tr, refs };
}

function setNumber(cell, text, faint) {
  setText(cell, text);
  cell.classList.toggle('faint', faint);
}

function updateRow(row, w, index) {
  const { tr, refs } = row;
  const alive = !!w.alive;
  setAttr(tr, 'aria-rowindex', index + 2);  // 1 is the header row
  setData(tr, 'alive', alive);
  setData(refs.dot, 'alive', alive);
  setAttr(refs.dot, 'aria-label', alive ? 'alive' : 'not alive');
  setAttr(refs.dot, 'title', alive ? 'alive' : 'not alive (no recent heartbeat)');
  setText(refs.id, w.id);
  setAttr(refs.id, 'title', w.id);
  setText(refs.host, w.host || '–');
  setAttr(refs.host, 'title', num(w.pid) ? `${w.host || ''} pid ${w.pid}` : null);
  const st = stateOf(w);
  setText(refs.badge, st);
  setData(refs.badge, 'state', st);

  const hasJob = typeof w.job === 'string' && w.job !== '';
  refs.jobBtn.hidden = !hasJob;
  refs.shard.hidden = !hasJob;
  refs.noJob.hidden = hasJob;
  if (hasJob) {
    setText(refs.jobBtn, w.job);
    setData(refs.jobBtn, 'job', w.job);
    setText(refs.shard, typeof w.shard === 'number' && w.shard >= 0 ? ` / ${w.shard}` : '');
  }
  setNumber(refs.done, fmtInt(num(w.samples_done)), !num(w.samples_done));
  setNumber(refs.rate, rendering(w) ? fmtRate(num(w.samples_per_sec)) : '–', !rendering(w));
  const render = metric(w, 'render_s_mean');
  const upload = metric(w, 'upload_s_mean');
  const failures = failuresTotal(w);
  setNumber(refs.render, fmtSeconds(render), render == null);
  setNumber(refs.upload, fmtSeconds(upload), upload == null);
  setNumber(refs.failures, failures == null ? '–' : fmtInt(failures), !failures);
  refs.failures.classList.toggle('has-failures', failures > 0);

  const age = heartbeatAge(w);
  setText(refs.beat, fmtHeartbeat(age ?? NaN));
  setAttr(refs.beat, 'title', num(w.last_heartbeat_ms) ? `last heartbeat ${fmtTime(w.last_heartbeat_ms)}` : null);
  refs.beat.classList.toggle('beat-late', alive && age > LATE_HEARTBEAT_MS);
  refs.beat.classList.toggle('beat-dead', !alive);
}

function spacer(testid) {
  const td = h('td', { colspan: 10 });
  const tr = h('tr', { class: 'spacer', 'aria-hidden': 'true', testid }, td);
  return { tr, td };
}
const topSpacer = spacer('workers-spacer-top');
const bottomSpacer = spacer('workers-spacer-bottom');

function setSpacer(sp, rows) {
  const height = `${rows * view.rowHeight}px`;
  if (sp.td.style.height !== height) sp.td.style.height = height;
  sp.tr.hidden = rows === 0;
}

/** Puts the rows in view (plus the margin) in the DOM, and the spacers around them. */
function renderWindow() {
  view.frame = 0;
  const n = view.list.length;
  // The scroll area grows with its rows up to its CSS max-height (40% of the window): size
  // the window for that, not for the height it has before the first rows are in.
  const visible = Math.ceil(Math.max(scroller.clientHeight, window.innerHeight * 0.4) / view.rowHeight);
  const first = Math.max(0, Math.min(n - visible, Math.floor(scroller.scrollTop / view.rowHeight)) - MARGIN_ROWS);
  const end = Math.min(n, first + visible + 2 * MARGIN_ROWS);
  const nodes = [topSpacer.tr];
  const keep = new Set();
  for (let i = first; i < end; i += 1) {
    const w = view.list[i];
    let row = view.rows.get(w.id);
    if (!row) {
      row = createRow(w.id);
      view.rows.set(w.id, row);
    }
    updateRow(row, w, i);
    keep.add(w.id);
    nodes.push(row.tr);
  }
  for (const id of [...view.rows.keys()]) if (!keep.has(id)) view.rows.delete(id);
  nodes.push(bottomSpacer.tr);
  setSpacer(topSpacer, first);
  setSpacer(bottomSpacer, n - end);
  reconcileChildren(body, n ? nodes : []);
  setAttr(table, 'aria-rowcount', n + 1);
  if (!view.heightKnown && n) {
    // The rows' real height (the CSS fixes it; fonts may round it): spacers follow it.
    const measured = body.querySelector('tr.wrow')?.getBoundingClientRect().height;
    if (measured > 0) {
      view.heightKnown = true;
      if (Math.abs(measured - view.rowHeight) > 0.1) {
        view.rowHeight = measured;
        renderWindow();
      }
    }
  }
}

function renderCount() {
  const total = state.workers.length;
  let alive = 0;
  for (const w of state.workers) if (w.alive) alive += 1;
  const shown = view.list.length;
  setData(countEl, 'shown', shown);
  setData(countEl, 'total', total);
  if (!state.hasData) setText(countEl, '');
  else if (shown === total) setText(countEl, `${alive} alive · ${total} total`);
  else setText(countEl, `${shown} of ${total} shown · ${alive} alive`);
  if (!state.hasData) {
    setText(empty, 'Loading workers…');
    empty.hidden = false;
  } else if (!total) {
    setText(empty, 'No workers connected. Workers show up here once they send their first heartbeat.');
    empty.hidden = false;
  } else {
    setText(empty, 'No worker matches the filter.');
    empty.hidden = shown > 0;
  }
}

/** Re-filters, re-sorts and redraws the table (each snapshot, each second, each change). */
export function renderWorkers() {
  const t0 = performance.now();
  computeList();
  renderWindow();
  renderCount();
  const firstFull = !view.measured && state.hasData && view.list.length > 0;
  if (firstFull) void table.offsetHeight;  // include style and layout in the first figure
  const t1 = performance.now();
  setData(table, 'renderMs', (t1 - t0).toFixed(2));
  if (firstFull) {
    view.measured = true;
    performance.measure('workers-first-render', {
      start: t0, end: t1, detail: { workers: view.list.length, rows: view.rows.size },
    });
  }
}

function renderSortHeaders() {
  for (const th of table.querySelectorAll('thead th[data-sort]')) {
    const on = th.dataset.sort === view.sort.key;
    setAttr(th, 'aria-sort', on ? (view.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none');
  }
}

function sortBy(key) {
  if (view.sort.key === key) view.sort.dir = view.sort.dir === 'asc' ? 'desc' : 'asc';
  else view.sort = { key, dir: 'asc' };
  renderSortHeaders();
  scroller.scrollTop = 0;
  renderWorkers();
}

/** `select(id, options)` selects a job (a row's job button); `open(id)` opens a worker's page. */
export function initWorkers({ select, open }) {
  onSelectJob = select;
  onOpenWorker = open;
  for (const th of table.querySelectorAll('thead th[data-sort]')) {
    th.querySelector('button').addEventListener('click', () => sortBy(th.dataset.sort));
  }
  renderSortHeaders();
  filterInput.addEventListener('input', () => {
    view.text = filterInput.value.trim().toLowerCase();
    scroller.scrollTop = 0;
    renderWorkers();
  });
  stateSelect.addEventListener('change', () => {
    view.state = stateSelect.value;
    scroller.scrollTop = 0;
    renderWorkers();
  });
  scroller.addEventListener('scroll', () => {
    if (!view.frame) view.frame = requestAnimationFrame(renderWindow);
  }, { passive: true });
  body.addEventListener('click', (ev) => {
    const jobBtn = ev.target.closest('button[data-job]');
    if (jobBtn) {
      onSelectJob(jobBtn.dataset.job, { scroll: true, reveal: true });
      return;
    }
    const tr = ev.target.closest('tr[data-worker-id]');
    if (tr) onOpenWorker(tr.dataset.workerId);
  });
  body.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' || ev.target.tagName !== 'TR') return;
    const id = ev.target.dataset.workerId;
    if (id) onOpenWorker(id);
  });
}
