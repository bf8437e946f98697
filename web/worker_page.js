// The worker page (#worker-page; in the URL as #worker=<id>): one worker's host, pid,
// threads, state, current job and shard (a button that selects the job), samples done and
// rate, its timings and failures when the coordinator sends them (`metrics`: render,
// upload and queue-wait means per sample, samples rendered, failures by kind; '–' when
// absent), the age of its last heartbeat, and its samples/s over the last hour as a chart.
//
// GET /api/workers/{id} gives the worker with its history when the page opens and again
// every sample interval while it stays open; the live fields come from each snapshot
// (state.workers) in between. The chart's canvas describes itself like charts.js's
// (data-points, data-last, data-max). Server data reaches the DOM only through
// textContent and attribute setters.

import { getJson } from './api.js';
import { describe, lineChart, points } from './charts.js';
import { $, fmtHeartbeat, fmtInt, fmtRate, fmtTime, h, num, setAttr, setData, setText } from './dom.js';
import { state } from './state.js';
import { failuresTotal, fmtSeconds, heartbeatAge } from './workers.js';

const MIN_RELOAD_MS = 1000;
const MAX_RELOAD_MS = 15000;

const P = {
  root: $('worker-page'),
  id: $('wp-id'),
  error: $('wp-error'),
  host: $('wp-host'),
  beat: $('wp-beat'),
  state: $('wp-state'),
  pid: $('wp-pid'),
  threads: $('wp-threads'),
  job: $('wp-job'),
  shard: $('wp-shard'),
  noJob: $('wp-nojob'),
  done: $('wp-done'),
  rate: $('wp-rate'),
  render: $('wp-render'),
  upload: $('wp-upload'),
  wait: $('wp-wait'),
  rendered: $('wp-rendered'),
  failures: $('wp-failures'),
  chartBox: $('worker-chart-box'),
  chartEmpty: $('worker-chart-empty'),
};

const page = {
  id: null,        // the worker shown
  data: null,      // its last GET /api/workers/{id}
  error: null,
  timer: 0,
  seq: 0,
  chart: null,
  failuresKey: '',
};

// Set by initWorkerPage(): selects a job.
let onSelectJob = () => {};

function writeHash(id) {
  const url = id ? `#worker=${encodeURIComponent(id)}`
    : state.selected ? `#job=${encodeURIComponent(state.selected)}` : `${location.pathname}${location.search}`;
  try { history.replaceState(null, '', url); } catch { /* ignore */ }
}

export function readWorkerHash() {
  const m = /^#worker=(.+)$/.exec(location.hash);
  if (!m) return null;
  try { return decodeURIComponent(m[1]); } catch { return null; }
}

/** Opens the page of worker `id` (or shows it again). */
export function openWorker(id) {
  if (!id) return;
  if (page.id !== id) {
    page.id = id;
    page.data = null;
    page.error = null;
    page.failuresKey = '';
    page.chart.data.datasets[0].data = [];
    page.chart.update('none');
    describe(page.chart, null);
    writeHash(id);
  }
  P.root.hidden = false;
  renderWorkerPage();
  load();
  P.root.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

function closeWorker() {
  page.id = null;
  page.data = null;
  page.seq += 1;
  clearTimeout(page.timer);
  page.timer = 0;
  P.root.hidden = true;
  writeHash(null);
}

async function load() {
  const id = page.id;
  const seq = ++page.seq;
  clearTimeout(page.timer);
  page.timer = 0;
  let next = 5000;
  try {
    const data = await getJson(`/workers/${encodeURIComponent(id)}`);
    if (seq !== page.seq) return;
    page.data = data;
    page.error = null;
    next = num(data.history && data.history.interval_ms) || next;
    drawChart(data.history);
  } catch (err) {
    if (seq !== page.seq) return;
    page.error = err.message === 'HTTP 404'
      ? 'The coordinator has not heard from this worker in the last hour.'
      : `Could not load the worker (${err.message}).`;
  }
  renderWorkerPage();
  page.timer = setTimeout(load, Math.min(MAX_RELOAD_MS, Math.max(MIN_RELOAD_MS, next)));
}

function drawChart(series) {
  const has = series && Array.isArray(series.t) && series.t.length > 0;
  P.chartBox.hidden = !has;
  P.chartEmpty.hidden = has;
  if (!has) return;
  page.chart.data.datasets[0].data = points(series, 'samples_per_sec');
  page.chart.update('none');
  describe(page.chart, series);
}

function renderFailures(metrics) {
  const failures = metrics && metrics.failures;
  const key = failures && typeof failures === 'object' ? JSON.stringify(failures) : '';
  if (key === page.failuresKey && P.failures.childNodes.length) return;
  page.failuresKey = key;
  setAttr(P.failures, 'title', null);
  if (!key) {
    P.failures.replaceChildren('–');
    return;
  }
  const kinds = Object.entries(failures).filter(([, n]) => num(n) > 0);
  if (!kinds.length) {
    P.failures.replaceChildren(h('span', { class: 'faint', text: 'none' }));
    return;
  }
  P.failures.replaceChildren(...kinds.map(([kind, n]) =>
    h('span', { class: 'fail-kind', 'data-kind': kind, text: `${kind}: ${fmtInt(num(n))}` })));
  setAttr(P.failures, 'title', `${fmtInt(failuresTotal({ metrics }))} in all`);
}

/** Redraws the page from the freshest data: the live snapshot's entry over the fetched one. */
export function renderWorkerPage() {
  if (!page.id) return;
  const listed = state.workers.find((w) => w.id === page.id);
  const w = { id: page.id, ...(page.data || {}), ...(listed || {}) };
  const known = !!(listed || page.data);
  setText(P.id, page.id);
  P.error.hidden = !page.error || !!listed;
  setText(P.error, page.error || '');
  setText(P.host, w.host || (known ? '–' : 'Loading…'));
  const st = !known ? '' : w.alive ? String(w.state || 'idle') : 'lost';
  setText(P.state, st);
  setData(P.state, 'state', st);
  P.state.hidden = !st;
  const age = known ? heartbeatAge(w) : null;
  setText(P.beat, age == null ? '' : `last heartbeat ${fmtHeartbeat(age)}`);
  setAttr(P.beat, 'title', num(w.last_heartbeat_ms) ? fmtTime(w.last_heartbeat_ms) : null);
  setText(P.pid, num(w.pid) ? String(w.pid) : '–');
  setText(P.threads, num(w.threads) ? String(w.threads) : '–');
  const hasJob = typeof w.job === 'string' && w.job !== '';
  P.job.hidden = !hasJob;
  P.noJob.hidden = hasJob;
  setText(P.job, hasJob ? w.job : '');
  setData(P.job, 'job', hasJob ? w.job : '');
  setText(P.shard, hasJob && typeof w.shard === 'number' ? ` / shard ${w.shard}` : '');
  setText(P.done, known ? fmtInt(num(w.samples_done)) : '–');
  const rendering = w.alive && w.state === 'rendering';
  setText(P.rate, rendering ? `${fmtRate(num(w.samples_per_sec))}` : '–');
  const m = w.metrics && typeof w.metrics === 'object' ? w.metrics : null;
  setText(P.render, fmtSeconds(m ? m.render_s_mean : null));
  setText(P.upload, fmtSeconds(m ? m.upload_s_mean : null));
  setText(P.wait, fmtSeconds(m ? m.queue_wait_s_mean : null));
  setText(P.rendered, m && typeof m.samples_rendered === 'number' ? fmtInt(m.samples_rendered) : '–');
  renderFailures(m);
}

/** Wires the page; `select(id, options)` selects a job (the page's job button). */
export function initWorkerPage({ select }) {
  onSelectJob = select;
  page.chart = lineChart($('worker-chart'), [{ label: 'samples/s', color: '#2563eb', fill: true }], 'samples/s');
  $('worker-page-close').addEventListener('click', closeWorker);
  P.job.addEventListener('click', () => {
    if (P.job.dataset.job) onSelectJob(P.job.dataset.job, { scroll: true, reveal: true });
  });
  window.addEventListener('hashchange', () => {
    const id = readWorkerHash();
    if (id && id !== page.id) openWorker(id);
  });
}
