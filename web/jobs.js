// The jobs table (#jobs-body): one row per job keyed by id (data-job-id), updated in place
// so selection, focus and scroll positions survive updates; the state filter buttons and
// their counts; row selection by click and keyboard; the progress bar widget, also used
// by the job detail panel. Server data reaches the DOM only through textContent and
// attribute setters, never innerHTML.

import {
  $, fmtAgo, fmtDuration, fmtRate, fmtResidual, fmtTime, h, num, percent, reconcileChildren, setAttr, setData, setText,
} from './dom.js';
import { ACTIVE_STATES, serverNow, state } from './state.js';

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

export function updateProgress(p, job) {
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
  else if (job.task && job.task !== 'render') sub = `task ${job.task}`;
  setText(refs.sub, sub);
  setAttr(refs.sub, 'title', sub || null);
  setText(refs.badge, st);
  setData(refs.badge, 'state', st);
  setData(tr, 'state', st);
  updateProgress(refs.progress, job);

  const running = st === 'running' || st === 'finalizing';
  if (job.task === 'fit_people') {
    // A fitting job's natural figure: how far its fits land from the keypoints.
    const residual = fmtResidual(job.mean_residual_px);
    setText(refs.rate, residual);
    setAttr(refs.rate, 'title', 'mean reprojection error of the fitted people');
    refs.rate.classList.toggle('faint', residual === '–');
  } else {
    setText(refs.rate, running ? fmtRate(num(job.samples_per_sec)) : '–');
    refs.rate.classList.toggle('faint', !running);
  }
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

export function renderJobs() {
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

/** Marks the row of job `id` (none if null) as the selected one. */
export function markSelectedRow(id) {
  for (const [jid, row] of jobRows) setAttr(row.tr, 'aria-selected', jid === id ? 'true' : 'false');
}

export function scrollToRow(id) {
  jobRows.get(id)?.tr.scrollIntoView({ block: 'nearest' });
}

function setFilter(filter) {
  state.filter = filter;
  for (const b of filterButtons) setAttr(b, 'aria-pressed', b.dataset.filter === filter ? 'true' : 'false');
  renderJobs();
}

/** Wires the filter buttons and row selection; `select(id, options)` selects a job. */
export function initJobs({ select }) {
  for (const b of filterButtons) b.addEventListener('click', () => setFilter(b.dataset.filter));

  jobsBody.addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-job-id]');
    if (tr) select(tr.dataset.jobId, { reveal: true });
  });

  jobsBody.addEventListener('keydown', (ev) => {
    const tr = ev.target.closest('tr[data-job-id]');
    if (!tr) return;
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      select(tr.dataset.jobId);
    } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      let next = tr;
      do {
        next = ev.key === 'ArrowDown' ? next.nextElementSibling : next.previousElementSibling;
      } while (next && next.hidden);
      if (next) {
        next.focus();
        select(next.dataset.jobId);
      }
    }
  });
}
