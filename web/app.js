// synthfarm dashboard: live view of jobs and workers, job details, job submission.
//
// Plain ES module, no dependencies, no build step. Data comes from the coordinator's
// JSON API (same origin): a Server-Sent Events stream (/api/events, one `snapshot` event
// a second) while it is up, and polling of /api/jobs + /api/workers every 2 s while it
// is not. The DOM is updated in place (rows keyed by id, text only rewritten when it
// changes) so selection, focus and scroll positions survive updates.
//
// Safety: every piece of server or user data reaches the DOM through textContent or
// attribute setters, never through innerHTML.

const API = '/api';
const POLL_MS = 2000;        // fallback polling period while the stream is down
const STALE_MS = 6000;       // "live" but no snapshot for this long: treat the stream as dead
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 15000;
const DETAIL_MIN_GAP_MS = 1000;  // at most one job-detail fetch a second
const LATE_HEARTBEAT_MS = 5000;

const EXAMPLE_SPEC = `name: demo
samples: 8
camera:
  resolution: [160, 120]
`;

const ACTIVE_STATES = new Set(['queued', 'running', 'finalizing']);

// Which job-control buttons each job state offers (retry also needs dead shards).
const ACTION_STATES = {
  pause: new Set(['queued', 'running']),
  resume: new Set(['paused']),
  cancel: new Set(['queued', 'running', 'paused']),
  retry: new Set(['failed', 'partial', 'running']),
  delete: new Set(['done', 'failed', 'partial', 'cancelled']),
};

// ---------------------------------------------------------------------------------------
// Small DOM helpers

const $ = (id) => document.getElementById(id);

/** Creates an element. Strings among `children` become text nodes (never parsed as HTML). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'testid') node.dataset.testid = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

/** Sets textContent only when it differs, so unchanged cells cause no DOM mutation. */
function setText(node, text) {
  const s = text == null ? '' : String(text);
  if (node.textContent !== s) node.textContent = s;
}

function setAttr(node, name, value) {
  if (value == null || value === false) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
    return;
  }
  const s = value === true ? '' : String(value);
  if (node.getAttribute(name) !== s) node.setAttribute(name, s);
}

function setData(node, key, value) {
  const s = String(value);
  if (node.dataset[key] !== s) node.dataset[key] = s;
}

/**
 * Makes `parent`'s children exactly `nodes`, in order, moving only what is out of place.
 * Nodes not in the list are removed.
 */
function reconcileChildren(parent, nodes) {
  const keep = new Set(nodes);
  for (const child of [...parent.children]) if (!keep.has(child)) child.remove();
  let cursor = parent.firstElementChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      parent.insertBefore(node, cursor);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Formatting

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const pad2 = (n) => String(n).padStart(2, '0');

/** 4.4 → "4s", 65 → "1m 05s", 3720 → "1h 02m", 97200 → "1d 03h". */
function fmtDuration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad2(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad2(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d ${pad2(Math.floor((s % 86400) / 3600))}h`;
}

/** Milliseconds in the past → "just now", "12s ago", "2m ago", "3h ago", "4d ago". */
function fmtAgo(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 2) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** Heartbeat age: "0.8 s ago", "14 s ago", "3m 05s ago". */
function fmtHeartbeat(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  const v = Math.max(0, ms);
  if (v < 10000) return `${(v / 1000).toFixed(1)} s ago`;
  if (v < 60000) return `${Math.round(v / 1000)} s ago`;
  return `${fmtDuration(v / 1000)} ago`;
}

function fmtRate(r) {
  if (typeof r !== 'number' || !Number.isFinite(r)) return '–';
  if (r >= 100) return r.toFixed(0);
  return r.toFixed(1);
}

function fmtInt(n) {
  return num(n).toLocaleString('en-US');
}

/** Absolute local time "2024-05-01 14:03:22". */
function fmtTime(ms) {
  if (!num(ms)) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
         `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function percent(done, total) {
  if (num(total) <= 0) return 0;
  return Math.max(0, Math.min(100, (num(done) / num(total)) * 100));
}

// ---------------------------------------------------------------------------------------
// State

const state = {
  jobs: [],
  workers: [],
  totals: null,
  jobsById: new Map(),
  serverOffset: 0,       // server clock − client clock, from snapshot time_ms
  receivedAt: 0,         // client time the current data arrived
  hasData: false,
  selected: null,        // selected job id
  justSubmitted: null,   // id of the job submitted from this page, highlighted when it appears
  redisDown: false,      // the coordinator reported it cannot reach Redis
  filter: 'all',
};

const serverNow = () => Date.now() + state.serverOffset;

function applyData({ jobs, workers, totals, time_ms: timeMs, redis }) {
  const now = Date.now();
  // Snapshots say whether the coordinator reaches Redis (the job store); polls don't.
  if (typeof redis === 'string') state.redisDown = redis === 'down';
  if (typeof timeMs === 'number' && Number.isFinite(timeMs) && timeMs > 0) {
    state.serverOffset = timeMs - now;
  }
  state.receivedAt = now;
  state.hasData = true;
  if (Array.isArray(jobs)) {
    state.jobs = jobs.filter((j) => j && typeof j.id === 'string');
    state.jobsById = new Map(state.jobs.map((j) => [j.id, j]));
  }
  if (Array.isArray(workers)) {
    state.workers = workers
      .filter((w) => w && typeof w.id === 'string')
      .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
  }
  state.totals = totals && typeof totals === 'object' ? totals : deriveTotals(state.jobs, state.workers);
  render();
  refreshDetail(false);
}

/** Farm totals computed client-side (used while polling, when no snapshot totals exist). */
function deriveTotals(jobs, workers) {
  const alive = workers.filter((w) => w.alive);
  const inFlight = new Map();
  for (const w of alive) {
    if (w.state === 'rendering' && w.job) inFlight.set(w.job, (inFlight.get(w.job) || 0) + 1);
  }
  let pending = 0;
  let jobRate = 0;
  for (const j of jobs) {
    if (!ACTIVE_STATES.has(j.state)) continue;
    const left = num(j.shards_total) - num(j.shards_done) - num(j.shards_failed) - (inFlight.get(j.id) || 0);
    pending += Math.max(0, left);
    jobRate += num(j.samples_per_sec);
  }
  const workerRate = alive.reduce((sum, w) => sum + num(w.samples_per_sec), 0);
  return {
    samples_per_sec: alive.length ? workerRate : jobRate,
    shards_pending: pending,
    workers_alive: alive.length,
  };
}

// ---------------------------------------------------------------------------------------
// Rendering: header totals

const totalEls = {
  rate: $('total-rate'),
  pending: $('total-pending'),
  workers: $('total-workers'),
  workersOf: $('total-workers-of'),
  active: $('total-active'),
};

function renderTotals() {
  if (!state.hasData) return;
  const t = state.totals || {};
  setText(totalEls.rate, fmtRate(num(t.samples_per_sec)));
  // The coordinator reports -1 when it cannot count the queue.
  setText(totalEls.pending, num(t.shards_pending) >= 0 ? fmtInt(t.shards_pending) : '–');
  $('redis-warn').hidden = !state.redisDown;
  const alive = typeof t.workers_alive === 'number' ? t.workers_alive : state.workers.filter((w) => w.alive).length;
  setText(totalEls.workers, fmtInt(alive));
  setText(totalEls.workersOf, state.workers.length ? `of ${state.workers.length}` : '');
  const active = state.jobs.filter((j) => ACTIVE_STATES.has(j.state)).length;
  setText(totalEls.active, fmtInt(active));
  const running = state.jobs.filter((j) => j.state === 'running' || j.state === 'finalizing').length;
  const title = running ? `(${running}) synthfarm` : 'synthfarm';
  if (document.title !== title) document.title = title;
}

// ---------------------------------------------------------------------------------------
// Rendering: jobs table

const jobsBody = $('jobs-body');
const jobsEmpty = $('jobs-empty');
const jobRows = new Map();   // id → { tr, refs }

function progressBlock(testid) {
  const fill = h('div', { class: 'fill' });
  const frac = h('span', { class: 'frac', testid });
  const pct = h('span', { class: 'pct' });
  const root = h('div', { class: 'progress' },
    h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 }, fill),
    h('div', { class: 'progress-text' }, frac, pct));
  return { root, bar: root.firstElementChild, fill, frac, pct };
}

function updateProgress(p, job) {
  const done = num(job.samples_done);
  const total = num(job.samples);
  const pct = job.state === 'done' ? 100 : percent(done, total);
  setData(p.root, 'state', job.state || 'queued');
  const width = `${pct.toFixed(2)}%`;
  if (p.fill.style.width !== width) p.fill.style.width = width;
  setAttr(p.bar, 'aria-valuenow', Math.floor(pct));
  setText(p.frac, `${done}/${total}`);
  setText(p.pct, `${Math.floor(pct)}%`);
}

function createJobRow(id) {
  const tr = h('tr', { tabindex: 0, 'aria-selected': 'false' });
  tr.dataset.jobId = id;
  const refs = {
    id: h('span', { class: 'job-id' }),
    sub: h('span', { class: 'job-sub' }),
    badge: h('span', { class: 'badge', testid: 'job-state' }),
    progress: progressBlock('job-progress'),
    rate: h('td', { class: 'c-rate num' }),
    eta: h('td', { class: 'c-eta num' }),
    created: h('td', { class: 'c-created' }),
    storage: h('bdi', { dir: 'ltr' }),
    storageBox: h('span', { class: 'storage' }),
  };
  refs.storageBox.append(refs.storage);
  tr.append(
    h('td', { class: 'c-id' }, refs.id, refs.sub),
    h('td', { class: 'c-state' }, refs.badge),
    h('td', { class: 'c-progress' }, refs.progress.root),
    refs.rate,
    refs.eta,
    refs.created,
    h('td', { class: 'c-storage' }, refs.storageBox),
  );
  return { tr, refs };
}

function updateJobRow(row, job) {
  const { tr, refs } = row;
  const st = String(job.state || 'queued');
  setText(refs.id, job.id);
  // Under the id: the error of a failed job, or a warning about failed shards.
  const failedShards = num(job.shards_failed);
  let sub = '';
  if (job.error) sub = job.error;
  else if (failedShards) sub = `${failedShards} shard${failedShards === 1 ? '' : 's'} failed`;
  setText(refs.sub, sub);
  setAttr(refs.sub, 'title', sub || null);
  setText(refs.badge, st);
  setData(refs.badge, 'state', st);
  setData(tr, 'state', st);
  updateProgress(refs.progress, job);

  const running = st === 'running' || st === 'finalizing';
  setText(refs.rate, running ? fmtRate(num(job.samples_per_sec)) : '–');
  refs.rate.classList.toggle('faint', !running);
  const eta = running && num(job.eta_s) > 0 ? fmtDuration(job.eta_s) : '–';
  setText(refs.eta, eta);
  refs.eta.classList.toggle('faint', eta === '–');

  setText(refs.created, num(job.created_ms) ? fmtAgo(serverNow() - job.created_ms) : '–');
  setAttr(refs.created, 'title', num(job.created_ms) ? fmtTime(job.created_ms) : null);
  setText(refs.storage, job.storage || '–');
  setAttr(refs.storageBox, 'title', job.storage || null);
  setAttr(tr, 'aria-selected', job.id === state.selected ? 'true' : 'false');
}

function jobMatchesFilter(job, filter) {
  switch (filter) {
    case 'active': return ACTIVE_STATES.has(job.state) || job.state === 'paused';
    case 'done': return job.state === 'done';
    case 'failed': return job.state === 'failed' || job.state === 'partial';
    default: return true;
  }
}

const filterButtons = [...document.querySelectorAll('#job-filters .filter')];
const filterCounts = Object.fromEntries(
  [...document.querySelectorAll('#job-filters [data-n]')].map((n) => [n.dataset.n, n]));

function renderJobs() {
  const ordered = [];
  const seen = new Set();
  for (const job of state.jobs) {
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    let row = jobRows.get(job.id);
    if (!row) {
      row = createJobRow(job.id);
      jobRows.set(job.id, row);
      if (job.id === state.justSubmitted) {
        row.tr.classList.add('is-new');
        setTimeout(() => row.tr.classList.remove('is-new'), 4000);
      }
    }
    updateJobRow(row, job);
    row.tr.hidden = !jobMatchesFilter(job, state.filter);
    ordered.push(row.tr);
  }
  for (const [id, row] of jobRows) {
    if (!seen.has(id)) jobRows.delete(id);
  }
  // Keep keyboard focus if the focused row is about to be moved.
  const focused = document.activeElement;
  reconcileChildren(jobsBody, ordered);
  if (focused && focused !== document.activeElement && jobsBody.contains(focused)) focused.focus({ preventScroll: true });

  const counts = { all: state.jobs.length, active: 0, done: 0, failed: 0 };
  for (const j of state.jobs) {
    if (ACTIVE_STATES.has(j.state) || j.state === 'paused') counts.active++;
    else if (j.state === 'done') counts.done++;
    else if (j.state === 'failed' || j.state === 'partial') counts.failed++;
  }
  for (const [k, n] of Object.entries(filterCounts)) setText(n, counts[k] ?? 0);
  setText($('jobs-count'), state.hasData ? `${state.jobs.length}` : '');

  const visible = state.jobs.filter((j) => jobMatchesFilter(j, state.filter)).length;
  if (!state.hasData) {
    setText(jobsEmpty, 'Loading jobs…');
    jobsEmpty.hidden = false;
  } else if (state.jobs.length === 0 && state.redisDown) {
    setText(jobsEmpty, 'Job list unavailable: the coordinator cannot reach Redis.');
    jobsEmpty.hidden = false;
  } else if (state.jobs.length === 0) {
    setText(jobsEmpty, 'No jobs yet. Submit a spec with the form to start one.');
    jobsEmpty.hidden = false;
  } else if (visible === 0) {
    setText(jobsEmpty, `No ${state.filter} jobs.`);
    jobsEmpty.hidden = false;
  } else {
    jobsEmpty.hidden = true;
  }
}

function setFilter(filter) {
  state.filter = filter;
  for (const b of filterButtons) setAttr(b, 'aria-pressed', b.dataset.filter === filter ? 'true' : 'false');
  renderJobs();
}

for (const b of filterButtons) b.addEventListener('click', () => setFilter(b.dataset.filter));

jobsBody.addEventListener('click', (ev) => {
  const tr = ev.target.closest('tr[data-job-id]');
  if (tr) selectJob(tr.dataset.jobId, { reveal: true });
});

jobsBody.addEventListener('keydown', (ev) => {
  const tr = ev.target.closest('tr[data-job-id]');
  if (!tr) return;
  if (ev.key === 'Enter' || ev.key === ' ') {
    ev.preventDefault();
    selectJob(tr.dataset.jobId);
  } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
    ev.preventDefault();
    let next = tr;
    do {
      next = ev.key === 'ArrowDown' ? next.nextElementSibling : next.previousElementSibling;
    } while (next && next.hidden);
    if (next) {
      next.focus();
      selectJob(next.dataset.jobId);
    }
  }
});

// ---------------------------------------------------------------------------------------
// Rendering: workers table

const workersBody = $('workers-body');
const workersEmpty = $('workers-empty');
const workerRows = new Map();   // id → { tr, refs }

function createWorkerRow(id) {
  const tr = h('tr');
  tr.dataset.workerId = id;
  const refs = {
    dot: h('span', { class: 'alive-dot', testid: 'worker-alive', role: 'img' }),
    id: h('span', { class: 'wid' }),
    host: h('span'),
    pid: h('span', { class: 'faint' }),
    badge: h('span', { class: 'badge', testid: 'worker-state' }),
    jobBtn: h('button', { type: 'button', class: 'link-btn', title: 'Show job details' }),
    shard: h('span', { class: 'muted' }),
    noJob: h('span', { class: 'faint', text: '–' }),
    done: h('td', { class: 'c-wdone num' }),
    rate: h('td', { class: 'c-rate num' }),
    beat: h('td', { class: 'c-beat num', testid: 'worker-heartbeat' }),
  };
  tr.append(
    h('td', { class: 'c-wid' }, refs.dot, refs.id),
    h('td', { class: 'c-host' }, refs.host, ' ', refs.pid),
    h('td', { class: 'c-wstate' }, refs.badge),
    h('td', { class: 'c-job' }, refs.jobBtn, refs.shard, refs.noJob),
    refs.done,
    refs.rate,
    refs.beat,
  );
  refs.jobBtn.addEventListener('click', (ev) => {
    ev.stopPropagation();
    const id = refs.jobBtn.dataset.job;
    if (id) selectJob(id, { scroll: true, reveal: true });
  });
  return { tr, refs };
}

function updateWorkerRow(row, w) {
  const { tr, refs } = row;
  const alive = !!w.alive;
  setData(tr, 'alive', alive);
  setData(refs.dot, 'alive', alive);
  setAttr(refs.dot, 'aria-label', alive ? 'alive' : 'not alive');
  setAttr(refs.dot, 'title', alive ? 'alive' : 'not alive (no recent heartbeat)');
  setText(refs.id, w.id);
  setText(refs.host, w.host || '–');
  setText(refs.pid, num(w.pid) ? `pid ${w.pid}` : '');
  const st = String(w.state || 'idle');
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
  // samples_done counts every sample the worker rendered since it started.
  setText(refs.done, fmtInt(num(w.samples_done)));
  refs.done.classList.toggle('faint', !num(w.samples_done));
  const rendering = st === 'rendering' && alive;
  setText(refs.rate, rendering ? fmtRate(num(w.samples_per_sec)) : '–');
  refs.rate.classList.toggle('faint', !rendering);

  // age_ms is the server's view when the data was sent. While the stream is live a fresh
  // one arrives every second; otherwise let it grow so stale data looks stale.
  let age = typeof w.age_ms === 'number' ? w.age_ms : (num(w.last_heartbeat_ms) ? serverNow() - w.last_heartbeat_ms : NaN);
  if (Number.isFinite(age) && live.status !== 'live') age += Date.now() - state.receivedAt;
  setText(refs.beat, fmtHeartbeat(age));
  setAttr(refs.beat, 'title', num(w.last_heartbeat_ms) ? `last heartbeat ${fmtTime(w.last_heartbeat_ms)}` : null);
  refs.beat.classList.toggle('beat-late', alive && age > LATE_HEARTBEAT_MS);
  refs.beat.classList.toggle('beat-dead', !alive);
}

function renderWorkers() {
  const ordered = [];
  const seen = new Set();
  for (const w of state.workers) {
    if (seen.has(w.id)) continue;
    seen.add(w.id);
    let row = workerRows.get(w.id);
    if (!row) {
      row = createWorkerRow(w.id);
      workerRows.set(w.id, row);
    }
    updateWorkerRow(row, w);
    ordered.push(row.tr);
  }
  for (const id of [...workerRows.keys()]) if (!seen.has(id)) workerRows.delete(id);
  reconcileChildren(workersBody, ordered);

  const alive = state.workers.filter((w) => w.alive).length;
  setText($('workers-count'), state.hasData ? `${alive} alive · ${state.workers.length} total` : '');
  if (!state.hasData) {
    setText(workersEmpty, 'Loading workers…');
    workersEmpty.hidden = false;
  } else {
    setText(workersEmpty, 'No workers connected. Workers show up here once they send their first heartbeat.');
    workersEmpty.hidden = state.workers.length > 0;
  }
}

function render() {
  renderTotals();
  renderJobs();
  renderWorkers();
  renderDetail();
}

// ---------------------------------------------------------------------------------------
// Job detail panel

const D = {
  placeholder: $('detail-placeholder'),
  body: $('detail-body'),
  close: $('detail-close'),
  title: $('detail-title'),
  name: $('detail-name'),
  id: $('detail-id'),
  state: $('detail-state'),
  error: $('detail-error'),
  shards: $('kv-shards'),
  renders: $('kv-renders'),
  actionError: $('job-action-error'),
  actionButtons: [...document.querySelectorAll('#job-actions [data-action]')],
  deadSection: $('dead-section'),
  deadList: $('dead-shards'),
  deadCount: $('dead-count'),
  blockSection: $('blocklist-section'),
  blockList: $('blocklist'),
  blockCount: $('blocklist-count'),
  rate: $('kv-rate'),
  eta: $('kv-eta'),
  priority: $('kv-priority'),
  created: $('kv-created'),
  finished: $('kv-finished'),
  storage: $('kv-storage'),
  previews: $('previews'),
  previewsEmpty: $('previews-empty'),
  previewCount: $('preview-count'),
  spec: $('spec-json'),
};
const detailProgress = (() => {
  const root = $('detail-progress');
  return {
    root,
    bar: root.querySelector('.bar'),
    fill: root.querySelector('.fill'),
    frac: root.querySelector('.frac'),
    pct: root.querySelector('.pct'),
  };
})();
detailProgress.bar.setAttribute('role', 'progressbar');

const detail = {
  id: null,          // job the data below belongs to
  data: null,        // last GET /api/jobs/{id} response
  error: null,       // message when the fetch failed
  key: '',           // progress key the data was fetched at
  inflight: null,    // AbortController of the running fetch
  lastFetch: 0,
  timer: 0,
  notFound: false,   // the last fetch said 404
  pendingForce: false,
  specText: null,    // spec JSON currently shown
  deadKey: '',       // dead-shard list currently shown
  blockKey: '',      // blocklist currently shown
  actionBusy: false, // a job-control request is in flight
  actionError: '',   // error text of the last failed job-control request (this job)
  thumbs: new Map(), // sample index → { a, img, missing, failed }
};

function progressKey(job) {
  return job ? `${job.state}|${job.samples_done}|${job.shards_done}|${job.shards_failed}` : 'none';
}

function selectJob(id, { scroll = false, reveal = false } = {}) {
  if (!id) return;
  if (state.selected !== id) {
    state.selected = id;
    resetDetail(id);
    writeHash(id);
  }
  for (const [jid, row] of jobRows) setAttr(row.tr, 'aria-selected', jid === id ? 'true' : 'false');
  renderDetail();
  refreshDetail(true);
  if (scroll) jobRows.get(id)?.tr.scrollIntoView({ block: 'nearest' });
  if (reveal && window.matchMedia('(max-width: 1180px)').matches) {
    // Single-column layout: the panel is below the tables, bring it into view.
    $('detail').scrollIntoView({ block: 'start', behavior: 'smooth' });
  }
}

function clearSelection() {
  state.selected = null;
  resetDetail(null);
  writeHash(null);
  for (const row of jobRows.values()) setAttr(row.tr, 'aria-selected', 'false');
  renderDetail();
}

function resetDetail(id) {
  detail.inflight?.abort();
  detail.inflight = null;
  clearTimeout(detail.timer);
  detail.timer = 0;
  detail.id = id;
  detail.data = null;
  detail.error = null;
  detail.key = '';
  detail.notFound = false;
  detail.pendingForce = false;
  detail.lastFetch = 0;
  detail.specText = null;
  detail.deadKey = '';
  detail.blockKey = '';
  detail.actionError = '';
  detail.thumbs.clear();
  D.deadList.replaceChildren();
  D.blockList.replaceChildren();
  D.previews.replaceChildren();
  D.spec.replaceChildren();
}

/** Fetches the selected job's details when its progress moved (or when forced). */
function refreshDetail(force) {
  const id = state.selected;
  if (!id) return;
  const key = progressKey(state.jobsById.get(id));
  if (!force && key === detail.key && (detail.data || detail.notFound)) return;
  if (detail.inflight) {
    detail.pendingForce = true;
    return;
  }
  const wait = DETAIL_MIN_GAP_MS - (Date.now() - detail.lastFetch);
  if (wait > 0) {
    if (!detail.timer) {
      detail.timer = setTimeout(() => {
        detail.timer = 0;
        refreshDetail(true);
      }, wait);
    }
    return;
  }
  fetchDetail(id, key);
}

async function fetchDetail(id, key) {
  const ctrl = new AbortController();
  detail.inflight = ctrl;
  detail.lastFetch = Date.now();
  detail.pendingForce = false;
  try {
    const res = await fetch(`${API}/jobs/${encodeURIComponent(id)}`, {
      signal: ctrl.signal,
      headers: { Accept: 'application/json' },
      cache: 'no-store',
    });
    if (detail.id !== id) return;
    detail.notFound = res.status === 404;
    if (res.status === 404) {
      detail.data = null;
      detail.error = 'This job does not exist on the coordinator (any more).';
    } else if (!res.ok) {
      detail.error = `Could not load job details (HTTP ${res.status}).`;
    } else {
      detail.data = await res.json();
      detail.error = null;
    }
    detail.key = key;
  } catch (err) {
    if (ctrl.signal.aborted || detail.id !== id) return;
    detail.error = 'Could not load job details (coordinator unreachable).';
  } finally {
    if (detail.inflight === ctrl) detail.inflight = null;
  }
  if (detail.id !== id) return;
  renderDetail();
  // Progress may have moved while the request was in flight.
  if (detail.pendingForce || progressKey(state.jobsById.get(id)) !== key) refreshDetail(false);
}

function renderDetail() {
  const id = state.selected;
  D.close.hidden = !id;
  D.placeholder.hidden = !!id;
  D.body.hidden = !id;
  if (!id) {
    setText(D.title, 'Job details');
    return;
  }
  // Counts from the live list are the freshest; spec and samples come from the detail call.
  const listed = state.jobsById.get(id);
  const job = { id, ...(detail.data || {}), ...(listed || {}) };
  const known = !!(listed || detail.data);

  setText(D.title, 'Job details');
  setText(D.name, job.name || (known ? '(unnamed)' : 'Loading…'));
  setText(D.id, id);
  const st = String(job.state || (known ? 'queued' : '…'));
  setText(D.state, st);
  setData(D.state, 'state', st);

  updateProgress(detailProgress, job);

  const errText = job.error ? job.error : (!listed && detail.error ? detail.error : '');
  D.error.hidden = !errText;
  setText(D.error, errText);

  const shardBits = [`${num(job.shards_done)} / ${num(job.shards_total)} done`];
  if (num(job.shards_failed)) shardBits.push(`${num(job.shards_failed)} failed`);
  setText(D.shards, shardBits.join(' · '));
  const renders = detail.data && typeof detail.data.renders === 'number' ? detail.data.renders : job.renders;
  setText(D.renders, typeof renders === 'number' ? fmtInt(renders) : '–');
  const running = st === 'running' || st === 'finalizing';
  setText(D.rate, running ? `${fmtRate(num(job.samples_per_sec))} samples/s` : '–');
  setText(D.eta, running && num(job.eta_s) > 0 ? fmtDuration(job.eta_s) : '–');
  setText(D.priority, job.priority ?? '–');
  setText(D.created, num(job.created_ms) ? fmtAgo(serverNow() - job.created_ms) : '–');
  setAttr(D.created, 'title', num(job.created_ms) ? fmtTime(job.created_ms) : null);
  setText(D.finished, num(job.finished_ms) ? fmtAgo(serverNow() - job.finished_ms) : '–');
  setAttr(D.finished, 'title', num(job.finished_ms) ? fmtTime(job.finished_ms) : null);
  setText(D.storage, job.storage || '–');
  setAttr(D.storage, 'title', job.storage || null);

  const dead = detail.data && Array.isArray(detail.data.dead_shards) ? detail.data.dead_shards : [];
  renderActions(st, known, dead.length > 0);
  renderDeadShards(dead);
  renderBlocklist(detail.data && Array.isArray(detail.data.blocklisted_workers) ? detail.data.blocklisted_workers : []);

  renderPreviews(id, detail.data && Array.isArray(detail.data.recent_samples) ? detail.data.recent_samples : null);
  renderSpec(detail.data ? detail.data.spec : undefined);
}

// ---------------------------------------------------------------------------------------
// Job control: pause / resume / cancel / retry dead shards / delete

function renderActions(st, known, hasDead) {
  for (const b of D.actionButtons) {
    const action = b.dataset.action;
    let show = known && ACTION_STATES[action].has(st);
    if (action === 'retry') show = show && hasDead;
    b.hidden = !show;
    b.disabled = detail.actionBusy;
    setAttr(b, 'aria-busy', detail.actionBusy && b.dataset.busy === '1' ? 'true' : null);
  }
  D.actionError.hidden = !detail.actionError;
  setText(D.actionError, detail.actionError);
}

const CONFIRM_TEXT = {
  cancel: (id) => `Cancel job ${id}?\n\nShards not rendered yet are dropped. This cannot be undone.`,
  delete: (id) => `Delete job ${id}?\n\nIts record disappears from the coordinator; rendered data stays in storage.`,
};

async function runAction(action, button) {
  const id = state.selected;
  if (!id || detail.actionBusy) return;
  if (CONFIRM_TEXT[action] && !window.confirm(CONFIRM_TEXT[action](id))) return;
  detail.actionBusy = true;
  detail.actionError = '';
  button.dataset.busy = '1';
  renderDetail();
  let ok = false;
  let result = null;
  try {
    const path = `${API}/jobs/${encodeURIComponent(id)}`;
    const res = action === 'delete'
      ? await fetch(path, { method: 'DELETE', headers: { Accept: 'application/json' } })
      : await fetch(`${path}/${action}`, { method: 'POST', headers: { Accept: 'application/json' } });
    const text = await res.text();
    try { result = text ? JSON.parse(text) : null; } catch { result = null; }
    ok = res.ok;
    if (!ok && detail.id === id) {
      const msg = result && typeof result.error === 'string' && result.error ? result.error : (text || '').trim().slice(0, 300);
      detail.actionError = msg ? `${msg} (HTTP ${res.status})` : `Could not ${action} the job (HTTP ${res.status}).`;
    }
  } catch {
    if (detail.id === id) detail.actionError = `Could not ${action} the job: the coordinator is unreachable.`;
  } finally {
    detail.actionBusy = false;
    delete button.dataset.busy;
  }
  if (ok && action === 'delete') {
    // Gone: drop it from the list right away; the next snapshot agrees.
    state.jobs = state.jobs.filter((j) => j.id !== id);
    state.jobsById.delete(id);
    if (state.selected === id) clearSelection();
    render();
    refreshNow();
    return;
  }
  if (ok && result && typeof result.state === 'string') {
    // Show the new state at once instead of waiting for the next snapshot.
    const listed = state.jobsById.get(id);
    if (listed) listed.state = result.state;
    if (detail.id === id && detail.data) detail.data.state = result.state;
    render();
  }
  renderDetail();
  if (ok) {
    refreshNow();
    if (detail.id === id) {
      detail.lastFetch = 0;  // an action is worth an immediate detail refresh
      refreshDetail(true);
    }
  }
}

for (const b of D.actionButtons) b.addEventListener('click', () => runAction(b.dataset.action, b));

function renderDeadShards(dead) {
  const items = dead.filter((d) => d && typeof d === 'object');
  const key = JSON.stringify(items.map((d) => [d.shard, d.attempts, d.error]));
  D.deadSection.hidden = items.length === 0;
  if (key === detail.deadKey) return;
  detail.deadKey = key;
  setText(D.deadCount, items.length ? `${items.length}` : '');
  D.deadList.replaceChildren(...items.map((d) => {
    const shard = Number.isFinite(Number(d.shard)) ? Number(d.shard) : String(d.shard ?? '?');
    const attempts = num(d.attempts);
    const li = h('li', { class: 'dead-item', testid: 'dead-shard' },
      h('div', { class: 'dead-head' },
        h('span', { class: 'dead-shard', text: `shard ${shard}` }),
        h('span', { class: 'dead-attempts', text: `${attempts} attempt${attempts === 1 ? '' : 's'}` })),
      h('div', { class: 'dead-error', text: d.error ? String(d.error) : '(no error recorded)' }));
    li.dataset.shard = String(shard);
    return li;
  }));
}

function renderBlocklist(workers) {
  const ids = workers.filter((w) => w != null && w !== '').map(String);
  const key = JSON.stringify(ids);
  D.blockSection.hidden = ids.length === 0;
  if (key === detail.blockKey) return;
  detail.blockKey = key;
  setText(D.blockCount, ids.length ? `${ids.length}` : '');
  D.blockList.replaceChildren(...ids.map((w) => {
    const li = h('li', { class: 'block-item', text: w, title: 'This worker failed this job\'s shards too often and gets none of them any more' });
    li.dataset.worker = w;
    return li;
  }));
}

function sampleUrl(id, index) {
  return `${API}/jobs/${encodeURIComponent(id)}/samples/${index}.png`;
}

function loadThumbImage(t) {
  const img = h('img', { alt: `Sample ${t.index}`, loading: 'lazy', decoding: 'async', src: t.url });
  img.addEventListener('load', () => {
    t.failed = false;
    t.a.classList.remove('is-missing');
    t.missing.hidden = true;
  });
  img.addEventListener('error', () => {
    const job = state.jobsById.get(detail.id) || detail.data || {};
    setText(t.missing, ['done', 'failed', 'partial'].includes(job.state) ? 'no preview' : 'not ready');
    t.failed = true;
    t.a.classList.add('is-missing');
    img.hidden = true;
    t.missing.hidden = false;
  });
  if (t.img) t.img.replaceWith(img);
  else t.a.prepend(img);
  t.img = img;
}

function renderPreviews(id, indices) {
  if (indices === null) {
    // Details not loaded yet (or failed): keep whatever is shown.
    setText(D.previewsEmpty, detail.data || detail.error ? 'No samples finished yet.' : 'Loading…');
    D.previewsEmpty.hidden = detail.thumbs.size > 0;
    return;
  }
  const wanted = [];
  const seen = new Set();
  for (const raw of indices) {
    const index = Number(raw);
    if (!Number.isInteger(index) || index < 0 || seen.has(index)) continue;
    seen.add(index);
    let t = detail.thumbs.get(index);
    if (!t) {
      t = { index, url: sampleUrl(id, index), img: null, failed: false, retriedAt: detail.lastFetch };
      t.missing = h('span', { class: 'missing', text: 'not ready', hidden: true });
      t.a = h('a', {
        class: 'thumb', href: t.url, target: '_blank', rel: 'noopener',
        title: `Sample ${index} (open full size)`, testid: 'sample-preview',
      }, t.missing, h('span', { class: 'cap', text: `#${index}` }));
      t.a.dataset.sampleIndex = String(index);
      loadThumbImage(t);
      detail.thumbs.set(index, t);
    } else if (t.failed && t.retriedAt !== detail.lastFetch) {
      // The preview 404'd earlier (not written yet); try again after each detail refresh.
      t.retriedAt = detail.lastFetch;
      t.failed = false;
      t.missing.hidden = true;
      loadThumbImage(t);
    }
    wanted.push(t.a);
  }
  for (const idx of [...detail.thumbs.keys()]) if (!seen.has(idx)) detail.thumbs.delete(idx);
  reconcileChildren(D.previews, wanted);
  setText(D.previewCount, wanted.length ? `${wanted.length}` : '');
  setText(D.previewsEmpty, 'No samples finished yet.');
  D.previewsEmpty.hidden = wanted.length > 0;
}

/** Pretty JSON with light syntax colouring, built from text nodes and spans only. */
function highlightJson(text) {
  const frag = document.createDocumentFragment();
  const re = /("(?:\\.|[^"\\])*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b|([{}[\],])/g;
  let last = 0;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > last) frag.append(text.slice(last, m.index));
    if (m[1] !== undefined) {
      frag.append(h('span', { class: m[2] !== undefined ? 'k' : 's', text: m[1] }));
      if (m[2] !== undefined) frag.append(h('span', { class: 'p', text: m[2] }));
    } else if (m[3] !== undefined) {
      frag.append(h('span', { class: 'n', text: m[3] }));
    } else if (m[4] !== undefined) {
      frag.append(h('span', { class: 'b', text: m[4] }));
    } else {
      frag.append(h('span', { class: 'p', text: m[5] }));
    }
    last = re.lastIndex;
  }
  if (last < text.length) frag.append(text.slice(last));
  return frag;
}

function renderSpec(spec) {
  let text;
  if (spec === undefined) text = detail.data ? '(no spec in the response)' : 'Loading…';
  else text = JSON.stringify(spec, null, 2);
  if (text === detail.specText) return;
  detail.specText = text;
  if (spec === undefined) D.spec.replaceChildren(text);
  else D.spec.replaceChildren(highlightJson(text));
}

D.close.addEventListener('click', () => clearSelection());
document.addEventListener('keydown', (ev) => {
  if (ev.key !== 'Escape' || !state.selected) return;
  const t = ev.target;
  if (t instanceof HTMLTextAreaElement || t instanceof HTMLInputElement) return;
  clearSelection();
});

async function copyText(text, button) {
  let ok = false;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      ok = true;
    }
  } catch { /* fall through to the legacy path */ }
  if (!ok) {
    const ta = h('textarea', { readonly: true, style: 'position:fixed;left:-9999px;top:0' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    ta.remove();
  }
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.textContent = ok ? 'Copied' : 'Copy failed';
  clearTimeout(button._t);
  button._t = setTimeout(() => { button.textContent = label; }, 1200);
}

$('copy-storage').addEventListener('click', () => copyText(D.storage.title || D.storage.textContent, $('copy-storage')));
$('copy-spec').addEventListener('click', (ev) => {
  ev.preventDefault(); // the button sits in <summary>: don't toggle the <details>
  copyText(detail.specText || '', $('copy-spec'));
});

// Selection in the URL (#job=<id>) so a detail view can be linked and survives reloads.
function writeHash(id) {
  const url = id ? `#job=${encodeURIComponent(id)}` : `${location.pathname}${location.search}`;
  try { history.replaceState(null, '', url); } catch { /* ignore */ }
}

function readHash() {
  const m = /^#job=(.+)$/.exec(location.hash);
  if (!m) return null;
  try { return decodeURIComponent(m[1]); } catch { return null; }
}

window.addEventListener('hashchange', () => {
  const id = readHash();
  if (id && id !== state.selected) selectJob(id, { scroll: true });
});

// ---------------------------------------------------------------------------------------
// Live connection: SSE with a polling fallback

const connEl = $('conn');
const connLabel = $('conn-status');
const connNote = $('conn-note');

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

function setConn(status, note = '', tooltip = '') {
  live.status = status;
  const label = status === 'offline' ? 'reconnecting' : status;
  setData(connEl, 'state', status);
  setText(connLabel, label);
  setText(connNote, note);
  const titles = {
    live: 'Receiving live updates from the coordinator',
    connecting: 'Connecting to the live event stream…',
    reconnecting: 'Live stream lost: reconnecting, polling every 2 s meanwhile',
    offline: 'Coordinator unreachable: retrying',
  };
  setAttr(connEl, 'title', tooltip || titles[status] || '');
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
          applyData(data);
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
      applyData(data);
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

async function getJson(path) {
  const res = await fetch(`${API}${path}`, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

async function pollOnce() {
  clearTimeout(live.pollTimer);
  live.pollTimer = 0;
  if (!live.polling) return;
  try {
    const [j, w] = await Promise.all([getJson('/jobs'), getJson('/workers')]);
    if (!live.polling) return;   // the stream came back meanwhile; its data wins
    live.pollFailures = 0;
    setConn('reconnecting', 'polling');
    applyData({ jobs: j.jobs || [], workers: w.workers || [], totals: null });
  } catch {
    if (!live.polling) return;
    live.pollFailures++;
    setConn('offline', 'server unreachable');
  }
  if (live.polling) live.pollTimer = setTimeout(pollOnce, POLL_MS);
}

/** Fresh data now (after a submit), whatever the connection mode. */
function refreshNow() {
  if (live.polling) pollOnce();
  else {
    Promise.all([getJson('/jobs'), getJson('/workers')])
      .then(([j, w]) => {
        // Only fill gaps: the next snapshot replaces this anyway.
        applyData({ jobs: j.jobs || [], workers: w.workers || [], totals: state.totals });
      })
      .catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------
// Submit job

const form = $('submit-form');
const specInput = $('submit-spec');
const submitBtn = $('submit-button');
const submitResult = $('submit-result');

specInput.value = EXAMPLE_SPEC;

function showResult(kind, ...children) {
  submitResult.dataset.kind = kind;
  submitResult.replaceChildren(...children);
}

/** Puts the caret at a 1-based line/column of the spec and scrolls there. */
function focusSpecAt(line, column) {
  const lines = specInput.value.split('\n');
  const li = Math.max(1, Math.min(line, lines.length)) - 1;
  let offset = 0;
  for (let i = 0; i < li; i++) offset += lines[i].length + 1;
  const col = Math.max(1, Math.min(column || 1, lines[li].length + 1)) - 1;
  specInput.focus();
  specInput.setSelectionRange(offset + col, offset + lines[li].length);
  const lh = parseFloat(getComputedStyle(specInput).lineHeight) || 18;
  specInput.scrollTop = Math.max(0, (li - 2) * lh);
}

function renderSubmitErrors(status, data, rawText) {
  const title = h('div', { class: 'title' },
    data && typeof data.error === 'string' && data.error ? data.error : `Submission failed (HTTP ${status})`);
  const errs = data && Array.isArray(data.errors) ? data.errors : [];
  if (!errs.length) {
    const detailText = !data && rawText ? rawText.trim().slice(0, 600) : '';
    showResult('error', title, detailText ? h('div', { class: 'raw' }, detailText) : null);
    return;
  }
  const list = h('ul', { testid: 'submit-errors' });
  for (const e of errs) {
    const line = num(e && e.line);
    const column = num(e && e.column);
    // line 0 means "no position" (e.g. a semantic problem with output.storage).
    let locBtn = null;
    if (line) {
      locBtn = h('button', { type: 'button', class: 'err-loc', title: 'Show in the editor' },
        `line ${line}${column ? `:${column}` : ''}`);
      locBtn.addEventListener('click', () => focusSpecAt(line, column));
    }
    const path = e && e.path ? String(e.path) : '';
    list.append(h('li', { testid: 'submit-error', class: locBtn ? null : 'no-loc' },
      locBtn, locBtn ? ' ' : null,
      h('span', { class: 'err-text' },
        path ? h('span', { class: 'err-path' }, path) : null,
        path ? ': ' : null,
        h('span', { class: 'err-msg' }, String((e && e.message) || 'invalid'))),
    ));
  }
  showResult('error', title, list);
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = specInput.value;
  if (!body.trim()) {
    showResult('error', h('div', { class: 'title' }, 'The spec is empty.'));
    return;
  }
  submitBtn.disabled = true;
  showResult('pending', 'Submitting…');
  try {
    const res = await fetch(`${API}/jobs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/yaml', Accept: 'application/json' },
      body,
    });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (res.ok && data && typeof data.id === 'string') {
      const id = data.id;
      const link = h('button', { type: 'button', class: 'link-btn', testid: 'submit-job-id', title: 'Show job details' }, id);
      link.addEventListener('click', () => selectJob(id, { scroll: true }));
      const shards = num(data.shards);
      showResult('ok',
        h('span', { class: 'title' }, 'Submitted '), link,
        shards ? ` · ${shards} shard${shards === 1 ? '' : 's'}` : '');
      // Highlight the new row when it shows up (not selected: keep this result in view).
      state.justSubmitted = id;
      refreshNow();
    } else if (res.ok) {
      showResult('error', h('div', { class: 'title' }, `Unexpected response (HTTP ${res.status})`),
        text ? h('div', { class: 'raw' }, text.trim().slice(0, 600)) : null);
    } else {
      renderSubmitErrors(res.status, data, text);
    }
  } catch {
    showResult('error', h('div', { class: 'title' }, 'Could not reach the coordinator. Check the connection and try again.'));
  } finally {
    submitBtn.disabled = false;
  }
});

specInput.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
    ev.preventDefault();
    form.requestSubmit();
  }
});

$('submit-reset').addEventListener('click', () => {
  specInput.value = EXAMPLE_SPEC;
  submitResult.replaceChildren();
  delete submitResult.dataset.kind;
  specInput.focus();
});

// ---------------------------------------------------------------------------------------
// Start

// Relative times ("2m ago", heartbeat ages) keep moving between updates.
setInterval(() => {
  if (!state.hasData) return;
  renderJobs();
  renderWorkers();
  if (state.selected) renderDetail();
}, 1000);

render();
const initial = readHash();
if (initial) selectJob(initial);
connect();
if (streamWorker.worker) bootstrapSnapshot();
