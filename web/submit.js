// The "Submit job" form (#submit-form): the spec editor (pre-filled with EXAMPLE_SPEC,
// Ctrl+Enter submits, "Reset example"), POST /api/jobs, and the result line: the new
// job's id (a button that selects it) or the spec's problems, each with its field path
// and a button that puts the caret on its line. Server and user data reach the DOM only
// through textContent and attribute setters, never innerHTML.

import { $, h, num } from './dom.js';
import { apiError, readJsonBody, refreshNow, submitSpec } from './api.js';
import { state } from './state.js';

const EXAMPLE_SPEC = `name: demo
samples: 8
camera:
  resolution: [160, 120]
`;

const form = $('submit-form');
const specInput = $('submit-spec');
const submitBtn = $('submit-button');
const submitResult = $('submit-result');

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
  const title = h('div', { class: 'title' }, apiError(data) || `Submission failed (HTTP ${status})`);
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

/** Submits the spec; `select(id, options)` selects a job (the new job's id button calls it). */
async function submit(select) {
  const body = specInput.value;
  if (!body.trim()) {
    showResult('error', h('div', { class: 'title' }, 'The spec is empty.'));
    return;
  }
  submitBtn.disabled = true;
  showResult('pending', 'Submitting…');
  try {
    const res = await submitSpec(body);
    const { text, data } = await readJsonBody(res);
    if (res.ok && data && typeof data.id === 'string') {
      const id = data.id;
      const link = h('button', { type: 'button', class: 'link-btn', testid: 'submit-job-id', title: 'Show job details' }, id);
      link.addEventListener('click', () => select(id, { scroll: true }));
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
}

/** Fills in the example spec and wires the form. */
export function initSubmit({ select }) {
  specInput.value = EXAMPLE_SPEC;

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit(select);
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
}
