// The Failures view (#failures, the header's "Failures" link): the farm's dead-lettered
// shards, newest first and grouped by job, each with its attempts, last error and the
// failing worker's log tail (monospace, collapsible), a Retry button per job (POST
// /api/jobs/{id}/retry), and the blocklisted workers with why (the failure that made them
// the third of a job). Data: GET /api/failures, fetched when the view opens and every
// REFRESH_MS while it is open. The header's count is the dead shards of the listed jobs,
// from the live snapshot.
// Server data reaches the DOM only through textContent and attribute setters.

import { $, fmtAgo, fmtInt, fmtTime, h, num, setAttr, setData, setText } from './dom.js';
import { apiError, fetchFailures, readJsonBody, refreshNow, requestJobAction } from './api.js';
import { serverNow, state } from './state.js';

const REFRESH_MS = 3000;
// Job states whose dead shards the retry puts back (as the job panel offers it).
const RETRY_STATES = new Set(['failed', 'partial', 'running']);

const F = {
  view: $('failures-view'),
  jobs: $('failure-jobs'),
  count: $('failures-count'),
  updated: $('failures-updated'),
  error: $('failures-error'),
  empty: $('failures-empty'),
  blockedBody: $('blocked-body'),
  blockedCount: $('blocked-count'),
  blockedEmpty: $('blocked-empty'),
  navCount: $('nav-failures-count'),
};

const view = {
  shown: false,
  data: null,
  error: '',
  inflight: null,
  timer: 0,
  shownKey: '',          // the data the DOM was built from
  openLogs: new Set(),   // "job/shard" of the log tails the user opened
  busy: new Set(),       // jobs whose retry is in flight
  actionErrors: new Map(), // job → error of its last retry
};

/** Shows (`on`) or hides the view; while shown it refreshes itself. */
export function showFailures(on) {
  view.shown = on;
  F.view.hidden = !on;
  clearTimeout(view.timer);
  view.timer = 0;
  if (on) load();
}

/** The header's count: dead shards of the jobs in the live list. */
export function renderFailuresCount() {
  const dead = state.jobs.reduce((sum, j) => sum + num(j.shards_failed), 0);
  F.navCount.hidden = dead === 0;
  setText(F.navCount, dead ? fmtInt(dead) : '');
}

async function load() {
  view.inflight?.abort();  // a newer answer is wanted (after a retry)
  const ctrl = new AbortController();
  view.inflight = ctrl;
  clearTimeout(view.timer);
  view.timer = 0;
  try {
    const res = await fetchFailures(ctrl.signal);
    const { data } = await readJsonBody(res);
    if (ctrl.signal.aborted) return;
    if (res.ok && data && Array.isArray(data.dead)) {
      view.data = data;
      view.error = '';
    } else {
      view.error = `${apiError(data) || 'Could not load the failures'} (HTTP ${res.status})`;
    }
  } catch {
    if (ctrl.signal.aborted) return;
    view.error = 'Could not load the failures: the coordinator is unreachable.';
  } finally {
    if (view.inflight === ctrl) view.inflight = null;
  }
  render();
  schedule();
}

function schedule() {
  clearTimeout(view.timer);
  view.timer = 0;
  if (!view.shown) return;
  view.timer = setTimeout(() => {
    view.timer = 0;
    if (!view.shown) return;
    if (document.hidden) schedule();
    else load();
  }, REFRESH_MS);
}

function render() {
  F.error.hidden = !view.error;
  setText(F.error, view.error);
  const d = view.data;
  if (!d) return;
  setText(F.updated, `updated ${new Date().toLocaleTimeString()}`);
  const key = JSON.stringify([d.dead, d.blocklisted, d.more, [...view.busy], [...view.actionErrors]]);
  if (key === view.shownKey) return;
  view.shownKey = key;
  renderDead(d.dead.filter((x) => x && typeof x === 'object'), Boolean(d.more));
  renderBlocked(Array.isArray(d.blocklisted) ? d.blocklisted.filter((x) => x && typeof x === 'object') : []);
}

function renderDead(dead, more) {
  // Grouped by job, the job of the newest dead letter first.
  const groups = new Map();
  for (const d of dead) {
    const id = String(d.job ?? '');
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id).push(d);
  }
  setText(F.count, dead.length ? `${fmtInt(dead.length)}${more ? '+' : ''} in ${groups.size} job${groups.size === 1 ? '' : 's'}` : '');
  F.empty.hidden = dead.length > 0;
  F.jobs.replaceChildren(...[...groups].map(([id, shards]) => jobCard(id, shards)));
  if (more) {
    F.jobs.append(h('p', { class: 'empty small', text: 'Older dead letters are not shown; retry these first, or see each job\'s panel.' }));
  }
}

function jobCard(id, shards) {
  const first = shards[0];
  const jobState = String(first.job_state || '');
  const retry = h('button', {
    type: 'button', class: 'btn btn-sm', testid: 'failures-retry',
    title: 'Put this job\'s dead shards back in the queue with fresh attempts',
    text: view.busy.has(id) ? 'Retrying…' : `Retry ${shards.length === 1 ? 'dead shard' : 'dead shards'}`,
  });
  retry.dataset.job = id;
  retry.hidden = !RETRY_STATES.has(jobState);
  retry.disabled = view.busy.has(id);
  setAttr(retry, 'aria-busy', view.busy.has(id) ? 'true' : null);
  retry.addEventListener('click', () => runRetry(id));
  const badge = h('span', { class: 'badge', text: jobState || 'deleted' });
  setData(badge, 'state', jobState);
  const error = view.actionErrors.get(id) || '';
  const card = h('article', { class: 'failure-job', testid: 'failure-job' },
    h('div', { class: 'failure-job-head' },
      h('a', { class: 'job-id', href: `#job=${encodeURIComponent(id)}`, testid: 'failure-job-link', text: id,
        title: 'Open the job' }),
      h('span', { class: 'muted failure-job-name', text: first.job_name ? String(first.job_name) : '' }),
      badge, retry),
    h('p', { class: 'action-error', testid: 'failures-retry-error', role: 'alert', hidden: !error, text: error }),
    h('ul', { class: 'dead-list failure-list' }, ...shards.map((d) => deadItem(id, d))));
  card.dataset.job = id;
  return card;
}

function deadItem(id, d) {
  const shard = Number.isFinite(Number(d.shard)) ? Number(d.shard) : String(d.shard ?? '?');
  const attempts = num(d.attempts);
  const bits = [`${attempts} attempt${attempts === 1 ? '' : 's'}`];
  if (num(d.dead_ms)) bits.push(fmtAgo(serverNow() - d.dead_ms));
  const count = num(d.samples?.count);
  const first = num(d.samples?.first);
  const head = h('div', { class: 'dead-head' },
    h('span', { class: 'dead-shard', text: `shard ${shard}` }),
    h('span', { class: 'muted', text: count ? (count === 1 ? `sample ${first}` : `samples ${first}–${first + count - 1}`) : '' }),
    h('span', { class: 'dead-attempts', text: bits.join(' · '), title: num(d.dead_ms) ? fmtTime(d.dead_ms) : null }));
  const li = h('li', { class: 'dead-item', testid: 'failure-shard' }, head,
    h('div', { class: 'dead-error', testid: 'failure-error', text: d.error ? String(d.error) : '(no error recorded)' }));
  li.dataset.shard = String(shard);
  const tail = d.log_tail ? String(d.log_tail) : '';
  if (tail) {
    const key = `${id}/${shard}`;
    const lines = tail.replace(/\n$/, '').split('\n').length;
    const details = h('details', { class: 'log-box', open: view.openLogs.has(key) },
      h('summary', { testid: 'failure-log-toggle', text: `Log tail of the failing worker (${lines} line${lines === 1 ? '' : 's'})` }),
      h('pre', { class: 'log-tail', testid: 'failure-log', text: tail }));
    details.addEventListener('toggle', () => {
      if (details.open) view.openLogs.add(key);
      else view.openLogs.delete(key);
    });
    li.append(details);
  } else {
    li.append(h('div', { class: 'faint small-note', text: 'No log tail (the lease expired: the worker died or hung).' }));
  }
  return li;
}

function renderBlocked(rows) {
  setText(F.blockedCount, rows.length ? fmtInt(rows.length) : '');
  F.blockedEmpty.hidden = rows.length > 0;
  F.blockedBody.replaceChildren(...rows.map((b) => {
    const job = String(b.job ?? '');
    const known = b.shard !== undefined && b.shard !== null;
    const why = known
      ? h('span', {}, h('span', { class: 'dead-shard', text: `shard ${b.shard}` }), ': ',
        h('span', { class: 'dead-error inline', text: b.error ? String(b.error) : '(no error recorded)' }))
      : h('span', { class: 'faint', text: '(not recorded: blocklisted before reasons were kept)' });
    const tr = h('tr', { testid: 'blocked-worker' },
      h('td', { class: 'wid', text: String(b.worker ?? '') }),
      h('td', {}, h('a', { class: 'job-id', href: `#job=${encodeURIComponent(job)}`, text: job })),
      h('td', { class: 'num', text: fmtInt(b.failures) }),
      h('td', { class: 'why', testid: 'blocked-why' }, why),
      h('td', { text: num(b.at_ms) ? fmtAgo(serverNow() - b.at_ms) : '–', title: num(b.at_ms) ? fmtTime(b.at_ms) : null }));
    tr.dataset.worker = String(b.worker ?? '');
    tr.dataset.job = job;
    return tr;
  }));
}

async function runRetry(id) {
  if (view.busy.has(id)) return;
  view.busy.add(id);
  view.actionErrors.delete(id);
  render();
  try {
    const res = await requestJobAction(id, 'retry');
    const { text, data } = await readJsonBody(res);
    if (!res.ok) {
      const msg = apiError(data) || (text || '').trim().slice(0, 300);
      view.actionErrors.set(id, msg ? `${msg} (HTTP ${res.status})` : `Could not retry the job (HTTP ${res.status}).`);
    }
  } catch {
    view.actionErrors.set(id, 'Could not retry the job: the coordinator is unreachable.');
  } finally {
    view.busy.delete(id);
  }
  refreshNow();
  view.shownKey = '';
  await load();
}
