// The workers table (#workers-body): one row per worker keyed by id (data-worker-id),
// updated in place; alive dot, state, current job/shard (a button that selects the job),
// samples done, rate and heartbeat age (growing while the live stream is down, so stale
// data looks stale). Server data reaches the DOM only through textContent and attribute
// setters, never innerHTML.

import {
  $, fmtHeartbeat, fmtInt, fmtRate, fmtTime, h, num, reconcileChildren, setAttr, setData, setText,
} from './dom.js';
import { isLive } from './api.js';
import { serverNow, state } from './state.js';

const LATE_HEARTBEAT_MS = 5000;

const workersBody = $('workers-body');
const workersEmpty = $('workers-empty');
const workerRows = new Map();   // id → { tr, refs }

// Set by initWorkers(): selects a job, e.g. select(id, { scroll: true, reveal: true }).
let onSelect = () => {};

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
    if (id) onSelect(id, { scroll: true, reveal: true });
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
  if (Number.isFinite(age) && !isLive()) age += Date.now() - state.receivedAt;
  setText(refs.beat, fmtHeartbeat(age));
  setAttr(refs.beat, 'title', num(w.last_heartbeat_ms) ? `last heartbeat ${fmtTime(w.last_heartbeat_ms)}` : null);
  refs.beat.classList.toggle('beat-late', alive && age > LATE_HEARTBEAT_MS);
  refs.beat.classList.toggle('beat-dead', !alive);
}

export function renderWorkers() {
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

/** `select(id, options)` selects a job (a row's job button calls it). */
export function initWorkers({ select }) {
  onSelect = select;
}
