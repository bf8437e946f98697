// Time-series charts: the farm's throughput, queue and workers over the last hour (or the
// whole run), and the selected job's progress and throughput. lineChart, points and
// describe are shared with the worker page (worker_page.js).
//
// The series live on the coordinator (/api/history, /api/jobs/{id}/history; one point per
// sample interval, the last hour kept at it and the run at a point a minute), so a page
// opened later still shows the past: the page loads them once, then appends the newest
// farm point each live snapshot carries (`history`), and reloads a job's series every
// interval while it is selected. Drawn with Chart.js, Debian's libjs-chart.js, which the
// coordinator serves under /vendor/chart.js/ (an ES module, no build step).
//
// Each canvas says what it holds for tests and for people reading the page: data-points
// (points drawn), data-first-t and data-last-t (server times, ms), data-last and data-max
// (per dataset, its newest and largest value, as JSON).

import {
  Chart, Filler, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip,
} from '/vendor/chart.js/chart.esm.js';
import { getJson } from './api.js';
import { $, fmtRate, setData } from './dom.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip, Filler);

const COLORS = { rate: '#2563eb', pending: '#d97706', leased: '#7c3aed', workers: '#059669', done: '#0f766e' };

const farm = {
  range: 'hour',        // 'hour' (the interval's points) or 'all' (a point a minute)
  series: null,         // the server's reply: { interval_ms, t: [...], <column>: [...] }
  charts: {},           // rate, queue
  loading: null,
};
const job = { id: null, series: null, chart: null, timer: null, seq: 0 };

// "14:05" on the x axis (server times in ms; the axis is linear in time), "14:05:30" when
// the axis spans less than ten minutes.
function clock(ms, index, ticks) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  const span = ticks && ticks.length > 1 ? ticks[ticks.length - 1].value - ticks[0].value : Infinity;
  return span < 600000 ? `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
    : `${two(d.getHours())}:${two(d.getMinutes())}`;
}

// A line needs two points: a series of one or two (the first minute of the per-minute
// series) is drawn as dots instead of nothing.
const FEW_POINTS_RADIUS = (ctx) => (ctx.dataset.data.length < 3 ? 3 : 0);

/** A line chart of `datasets` ({label, color, fill, axis}) over server time; used by worker_page.js too. */
export function lineChart(canvas, datasets, yTitle) {
  return new Chart(canvas, {
    type: 'line',
    data: { datasets: datasets.map((d) => ({
      label: d.label, data: [], borderColor: d.color, backgroundColor: `${d.color}22`,
      borderWidth: 1.5, pointRadius: FEW_POINTS_RADIUS, tension: 0.2, spanGaps: false, fill: Boolean(d.fill), yAxisID: d.axis || 'y',
    })) },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      plugins: {
        legend: { display: datasets.length > 1, labels: { boxWidth: 10, font: { size: 11 } } },
        tooltip: { callbacks: { title: (items) => (items.length ? new Date(items[0].parsed.x).toLocaleTimeString() : '') } },
      },
      scales: {
        x: { type: 'linear', ticks: { callback: clock, maxTicksLimit: 7, font: { size: 10 } }, grid: { display: false } },
        y: { beginAtZero: true, title: { display: Boolean(yTitle), text: yTitle, font: { size: 10 } },
             ticks: { font: { size: 10 } } },
        ...Object.fromEntries(datasets.filter((d) => d.axis).map((d) => [d.axis, {
          position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { font: { size: 10 } },
          title: { display: true, text: d.label, font: { size: 10 } },
        }])),
      },
    },
  });
}

// Points {x: t, y} of one column; nulls (unknown: Redis did not answer) stay gaps.
export const points = (series, column) => series.t.map((t, i) => ({ x: t, y: series[column][i] }));

export function describe(chart, series) {
  const { canvas } = chart;
  const n = series ? series.t.length : 0;
  setData(canvas, 'points', n);
  setData(canvas, 'firstT', n ? series.t[0] : '');
  setData(canvas, 'lastT', n ? series.t[n - 1] : '');
  // Per dataset: its newest value and its largest.
  const ys = chart.data.datasets.map((d) => d.data.map((p) => p.y).filter((y) => y != null));
  setData(canvas, 'last', JSON.stringify(ys.map((y) => (y.length ? y[y.length - 1] : null))));
  setData(canvas, 'max', JSON.stringify(ys.map((y) => (y.length ? Math.max(...y) : null))));
}

function drawFarm() {
  const s = farm.series;
  if (!s) return;
  const { rate, queue } = farm.charts;
  rate.data.datasets[0].data = points(s, 'samples_per_sec');
  queue.data.datasets[0].data = points(s, 'shards_pending');
  queue.data.datasets[1].data = points(s, 'shards_leased');
  queue.data.datasets[2].data = points(s, 'workers_alive');
  rate.update('none');
  queue.update('none');
  describe(rate, s);
  describe(queue, s);
  const last = s.t.length ? s.samples_per_sec[s.t.length - 1] : null;
  $('farm-chart-now').textContent = last == null ? '' : `${fmtRate(last)} samples/s now`;
}

async function loadFarm() {
  const seq = (farm.loading = Symbol('load'));
  try {
    const series = await getJson(`/history${farm.range === 'all' ? '?range=all' : ''}`);
    if (farm.loading !== seq) return;
    farm.series = series;
    $('farm-chart-error').hidden = true;
    drawFarm();
  } catch (err) {
    if (farm.loading !== seq) return;
    $('farm-chart-error').hidden = false;
    $('farm-chart-error').textContent = `The farm's history is unavailable (${err.message}).`;
  }
}

/** Appends the newest farm point a live snapshot carries (hour view only). */
export function addFarmPoint(point) {
  const s = farm.series;
  if (!s || farm.range !== 'hour' || !point || typeof point.t !== 'number') return;
  if (s.t.length && point.t <= s.t[s.t.length - 1]) return;
  s.t.push(point.t);
  for (const column of Object.keys(s)) {
    if (Array.isArray(s[column]) && column !== 't') s[column].push(point[column] ?? null);
  }
  // Keep the server's span: an hour of points at its interval.
  const keep = Math.max(1, Math.round(3600000 / (s.interval_ms || 5000)));
  while (s.t.length > keep) for (const column of Object.keys(s)) if (Array.isArray(s[column])) s[column].shift();
  drawFarm();
}

export function initCharts() {
  farm.charts.rate = lineChart($('farm-chart-rate'),
    [{ label: 'samples/s', color: COLORS.rate, fill: true }], 'samples/s');
  farm.charts.queue = lineChart($('farm-chart-queue'), [
    { label: 'shards pending', color: COLORS.pending },
    { label: 'shards leased', color: COLORS.leased },
    { label: 'workers alive', color: COLORS.workers, axis: 'workers' },
  ], 'shards');
  for (const button of document.querySelectorAll('#farm-range [data-range]')) {
    button.addEventListener('click', () => {
      if (farm.range === button.dataset.range) return;
      farm.range = button.dataset.range;
      for (const b of document.querySelectorAll('#farm-range [data-range]')) {
        b.setAttribute('aria-pressed', String(b === button));
      }
      loadFarm();
    });
  }
  job.chart = lineChart($('job-chart'), [
    { label: 'samples/s', color: COLORS.rate, fill: true },
    { label: 'samples done', color: COLORS.done, axis: 'done' },
    { label: 'ETA (min)', color: COLORS.pending, axis: 'eta' },
  ], 'samples/s');
}

/** Loads the farm's series (once the page may call the API) and keeps the run's view fresh. */
export function startCharts() {
  loadFarm();
  // The whole-run view gains a point a minute: reload it now and then.
  setInterval(() => { if (farm.range === 'all') loadFarm(); }, 60000);
}

async function loadJob() {
  const id = job.id;
  const seq = ++job.seq;
  if (!id) return;
  try {
    const series = await getJson(`/jobs/${encodeURIComponent(id)}/history`);
    if (seq !== job.seq) return;
    job.series = series;
    job.chart.data.datasets[0].data = points(series, 'samples_per_sec');
    job.chart.data.datasets[1].data = points(series, 'samples_done');
    job.chart.data.datasets[2].data = points(series, 'eta_s').map((p) => ({ x: p.x, y: p.y == null ? null : p.y / 60 }));
    job.chart.update('none');
    describe(job.chart, series);
    $('job-chart-box').hidden = false;
    $('job-chart-empty').hidden = true;
  } catch {
    if (seq !== job.seq) return;
    // No series yet (a job this coordinator has not sampled, or one long finished).
    $('job-chart-box').hidden = true;
    $('job-chart-empty').hidden = false;
  }
}

/** The job whose chart the detail panel shows (null: none); reloaded every interval while active. */
export function showJobChart(id, active) {
  if (id !== job.id) {
    job.id = id;
    job.series = null;
    clearInterval(job.timer);
    job.timer = null;
    if (id) loadJob();
  }
  if (id && active && !job.timer) {
    job.timer = setInterval(loadJob, (farm.series && farm.series.interval_ms) || 5000);
  } else if ((!id || !active) && job.timer) {
    clearInterval(job.timer);
    job.timer = null;
    if (id) loadJob();  // the last point, once it has ended
  }
}
