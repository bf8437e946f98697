// The dashboard's shared client-side state: the latest jobs, workers and farm totals from
// the coordinator, the server clock offset, and the UI's selection, filter and "just
// submitted" marks. Views read it; storeData() and the few helpers below write it.
// No DOM access and no rendering: the entry module re-renders after each change.

import { num } from './dom.js';

export const ACTIVE_STATES = new Set(['queued', 'running', 'finalizing']);

export const state = {
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

// Worker ids in natural order (w2 before w10); one collator, not one per comparison.
const byId = new Intl.Collator('en', { numeric: true });

export const serverNow = () => Date.now() + state.serverOffset;

/** Takes in a snapshot (or polled lists); the caller re-renders. */
export function storeData({ jobs, workers, totals, time_ms: timeMs, redis }) {
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
      .sort((a, b) => byId.compare(a.id, b.id));
  }
  state.totals = totals && typeof totals === 'object' ? totals : deriveTotals(state.jobs, state.workers);
}

/** Drops a deleted job from the lists right away; the next snapshot agrees. */
export function forgetJob(id) {
  state.jobs = state.jobs.filter((j) => j.id !== id);
  state.jobsById.delete(id);
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
