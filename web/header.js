// The top bar: farm totals (throughput, pending shards, workers alive, active jobs), the
// "Redis unreachable" warning, the page title's running-job count, and the live
// connection indicator (#conn). Server data reaches the DOM only through textContent and
// attribute setters, never innerHTML.

import { $, fmtInt, fmtRate, num, setAttr, setData, setText } from './dom.js';
import { ACTIVE_STATES, state } from './state.js';

const totalEls = {
  rate: $('total-rate'),
  pending: $('total-pending'),
  workers: $('total-workers'),
  workersOf: $('total-workers-of'),
  active: $('total-active'),
};

export function renderTotals() {
  if (!state.hasData) return;
  const t = state.totals || {};
  setText(totalEls.rate, fmtRate(num(t.samples_per_sec)));
  // The coordinator reports -1 when it cannot count the queue.
  setText(totalEls.pending, num(t.shards_pending) >= 0 ? fmtInt(t.shards_pending) : '–');
  $('redis-warn').hidden = !state.redisDown;
  const alive = typeof t.workers_alive === 'number' ? t.workers_alive : state.workers.filter((w) => w.alive).length;
  setText(totalEls.workers, fmtInt(alive));
  setText(totalEls.workersOf, state.workers.length ? `of ${state.workers.length}` : '');
  // Snapshots count every job per state; the job list holds only the newest 200, so
  // counting it is the fallback while polling.
  const byState = t.jobs_by_state && typeof t.jobs_by_state === 'object' ? t.jobs_by_state : null;
  const count = (states) => (byState
    ? states.reduce((sum, s) => sum + Math.max(0, num(byState[s])), 0)
    : state.jobs.filter((j) => states.includes(j.state)).length);
  const active = count([...ACTIVE_STATES]);
  setText(totalEls.active, fmtInt(active));
  const running = count(['running', 'finalizing']);
  const title = running ? `(${running}) synthfarm` : 'synthfarm';
  if (document.title !== title) document.title = title;
}

const connEl = $('conn');
const connLabel = $('conn-status');
const connNote = $('conn-note');

/** Shows the live connection's status: live, connecting, reconnecting (polling) or offline. */
export function renderConn(status, note = '', tooltip = '') {
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
