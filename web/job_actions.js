// Job control, in the job detail panel (#job-actions): the pause / resume / cancel /
// retry-dead-shards / delete buttons, which of them each job state offers (ACTION_STATES),
// the confirmation prompts, the request, its busy state and its error line
// (#job-action-error). What follows a request (new state, refreshes) is up to the panel.
// Server data reaches the DOM only through textContent and attribute setters.

import { $, setAttr, setText } from './dom.js';
import { apiError, readJsonBody, requestJobAction } from './api.js';
import { state } from './state.js';

// Which job-control buttons each job state offers (retry also needs dead shards).
const ACTION_STATES = {
  pause: new Set(['queued', 'running']),
  resume: new Set(['paused']),
  cancel: new Set(['queued', 'running', 'paused']),
  retry: new Set(['failed', 'partial', 'running']),
  delete: new Set(['done', 'failed', 'partial', 'cancelled']),
};

const CONFIRM_TEXT = {
  cancel: (id) => `Cancel job ${id}?\n\nShards not rendered yet are dropped. This cannot be undone.`,
  delete: (id) => `Delete job ${id}?\n\nIts record disappears from the coordinator; rendered data stays in storage.`,
};

const buttons = [...document.querySelectorAll('#job-actions [data-action]')];
const errorEl = $('job-action-error');

const actions = {
  busy: false, // a job-control request is in flight
  error: '',   // error text of the last failed job-control request (this job)
};

// Set by initJobActions(): render() redraws the panel, shows(id) tells whether the panel
// still shows job `id`, done(id, action, ok, result) takes over after a request.
let panel = { render() {}, shows: () => false, done() {} };

/** Forgets the last error (another job was selected). */
export function clearActionError() {
  actions.error = '';
}

/** Shows the buttons job state `st` offers; `known`: the job exists, `hasDead`: it has dead shards. */
export function renderActions(st, known, hasDead) {
  for (const b of buttons) {
    const action = b.dataset.action;
    let show = known && ACTION_STATES[action].has(st);
    if (action === 'retry') show = show && hasDead;
    b.hidden = !show;
    b.disabled = actions.busy;
    setAttr(b, 'aria-busy', actions.busy && b.dataset.busy === '1' ? 'true' : null);
  }
  errorEl.hidden = !actions.error;
  setText(errorEl, actions.error);
}

async function runAction(action, button) {
  const id = state.selected;
  if (!id || actions.busy) return;
  if (CONFIRM_TEXT[action] && !window.confirm(CONFIRM_TEXT[action](id))) return;
  actions.busy = true;
  actions.error = '';
  button.dataset.busy = '1';
  panel.render();
  let ok = false;
  let result = null;
  try {
    const res = await requestJobAction(id, action);
    const { text, data } = await readJsonBody(res);
    result = data;
    ok = res.ok;
    if (!ok && panel.shows(id)) {
      const msg = apiError(result) || (text || '').trim().slice(0, 300);
      actions.error = msg ? `${msg} (HTTP ${res.status})` : `Could not ${action} the job (HTTP ${res.status}).`;
    }
  } catch {
    if (panel.shows(id)) actions.error = `Could not ${action} the job: the coordinator is unreachable.`;
  } finally {
    actions.busy = false;
    delete button.dataset.busy;
  }
  panel.done(id, action, ok, result);
}

export function initJobActions(callbacks) {
  panel = callbacks;
  for (const b of buttons) b.addEventListener('click', () => runAction(b.dataset.action, b));
}
