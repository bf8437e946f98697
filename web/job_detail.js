// The job detail panel (#detail) and which job is selected (mirrored in the URL as
// #job=<id>): fetches GET /api/jobs/{id} when the job's progress moves (at most once a
// second) and shows its state, progress, counts, times, storage, dead shards with their
// errors and log tails, blocklisted workers with why, recent sample previews (a click opens
// the sample viewer) and spec; its job-control buttons are job_actions.js's and its shard
// grid is shard_grid.js's.
// Server data reaches the DOM only through textContent and attribute setters.

import {
  $, copyText, fmtAgo, fmtDuration, fmtInt, fmtRate, fmtResidual, fmtTime, h, highlightJson, num, reconcileChildren,
  setAttr, setData, setText,
} from './dom.js';
import { fetchJob, refreshNow, sampleUrl } from './api.js';
import { forgetJob, serverNow, state } from './state.js';
import { markSelectedRow, scrollToRow, updateProgress } from './jobs.js';
import { clearActionError, initJobActions, renderActions } from './job_actions.js';
import { initShardGrid, refreshShardGrid, showShard, showShardGrid } from './shard_grid.js';

const DETAIL_MIN_GAP_MS = 1000;  // at most one job-detail fetch a second

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
  cardRow: $('kv-card-row'),
  card: $('kv-card'),
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
  thumbs: new Map(), // sample index → { a, img, missing, failed }
};

// Set by initDetail(): re-renders every view (after a job action changed the lists), and
// opens the sample viewer on a job's sample.
let renderAll = () => {};
let openSample = () => {};

function progressKey(job) {
  return job ? `${job.state}|${job.samples_done}|${job.shards_done}|${job.shards_failed}` : 'none';
}

export function selectJob(id, { scroll = false, reveal = false } = {}) {
  if (!id) return;
  if (state.selected !== id) {
    state.selected = id;
    resetDetail(id);
    writeHash(id);
  }
  markSelectedRow(id);
  renderDetail();
  refreshDetail(true);
  if (scroll) scrollToRow(id);
  if (reveal && window.matchMedia('(max-width: 1180px)').matches) {
    // Single-column layout: the panel is below the tables, bring it into view.
    $('detail').scrollIntoView({ block: 'start', behavior: 'smooth' });
  }
}

function clearSelection() {
  state.selected = null;
  resetDetail(null);
  writeHash(null);
  markSelectedRow(null);
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
  clearActionError();
  detail.thumbs.clear();
  D.deadList.replaceChildren();
  D.blockList.replaceChildren();
  D.previews.replaceChildren();
  D.spec.replaceChildren();
}

/** Fetches the selected job's details when its progress moved (or when forced). */
export function refreshDetail(force) {
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
    const res = await fetchJob(id, ctrl.signal);
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
  refreshShardGrid();  // the job moved (or an action changed it): so did its shards
  // Progress may have moved while the request was in flight.
  if (detail.pendingForce || progressKey(state.jobsById.get(id)) !== key) refreshDetail(false);
}

export function renderDetail() {
  const id = state.selected;
  D.close.hidden = !id;
  D.placeholder.hidden = !!id;
  D.body.hidden = !id;
  if (!id) {
    setText(D.title, 'Job details');
    showShardGrid(null, '');
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
  if (job.task === 'fit_people') {
    const residual = fmtResidual(job.mean_residual_px);
    setText(D.rate, residual === '–' ? '–' : `${residual} mean residual`);
  } else {
    setText(D.rate, running ? `${fmtRate(num(job.samples_per_sec))} samples/s` : '–');
  }
  setText(D.eta, running && num(job.eta_s) > 0 ? fmtDuration(job.eta_s) : '–');
  setText(D.priority, job.priority ?? '–');
  setText(D.created, num(job.created_ms) ? fmtAgo(serverNow() - job.created_ms) : '–');
  setAttr(D.created, 'title', num(job.created_ms) ? fmtTime(job.created_ms) : null);
  setText(D.finished, num(job.finished_ms) ? fmtAgo(serverNow() - job.finished_ms) : '–');
  setAttr(D.finished, 'title', num(job.finished_ms) ? fmtTime(job.finished_ms) : null);
  setText(D.storage, job.storage || '–');
  setAttr(D.storage, 'title', job.storage || null);
  // The dataset card (dataset_card.html, written by the finalizer) of a finished render job.
  const carded = job.task !== 'fit_people' && (st === 'done' || st === 'partial');
  D.cardRow.hidden = !carded;
  setAttr(D.card, 'href', carded ? `/api/jobs/${encodeURIComponent(id)}/card.html` : null);

  showShardGrid(id, st);
  const dead = detail.data && Array.isArray(detail.data.dead_shards) ? detail.data.dead_shards : [];
  renderActions(st, known, dead.length > 0);
  renderDeadShards(dead);
  renderBlocklist(detail.data || {});

  renderPreviews(id, detail.data && Array.isArray(detail.data.recent_samples) ? detail.data.recent_samples : null);
  renderSpec(detail.data ? detail.data.spec : undefined);
}

/** After a job-control request (job_actions.js): show its outcome at once, then refresh. */
function actionDone(id, action, ok, result) {
  if (ok && action === 'delete') {
    // Gone: drop it from the list right away; the next snapshot agrees.
    forgetJob(id);
    if (state.selected === id) clearSelection();
    renderAll();
    refreshNow();
    return;
  }
  if (ok && result && typeof result.state === 'string') {
    // Show the new state at once instead of waiting for the next snapshot.
    const listed = state.jobsById.get(id);
    if (listed) listed.state = result.state;
    if (detail.id === id && detail.data) detail.data.state = result.state;
    renderAll();
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

function renderDeadShards(dead) {
  const items = dead.filter((d) => d && typeof d === 'object');
  const key = JSON.stringify(items.map((d) => [d.shard, d.attempts, d.error, d.log_tail]));
  D.deadSection.hidden = items.length === 0;
  if (key === detail.deadKey) return;
  detail.deadKey = key;
  setText(D.deadCount, items.length ? `${items.length}` : '');
  D.deadList.replaceChildren(...items.map((d) => {
    const shard = Number.isFinite(Number(d.shard)) ? Number(d.shard) : String(d.shard ?? '?');
    const attempts = num(d.attempts);
    const show = h('button', {
      type: 'button', class: 'link-btn dead-shard', testid: 'dead-shard-show', text: `shard ${shard}`,
      title: 'Show this shard in the grid',
    });
    if (typeof shard === 'number') show.addEventListener('click', () => showShard(shard));
    const li = h('li', { class: 'dead-item', testid: 'dead-shard' },
      h('div', { class: 'dead-head' },
        show,
        h('span', { class: 'dead-attempts', text: `${attempts} attempt${attempts === 1 ? '' : 's'}` })),
      h('div', { class: 'dead-error', text: d.error ? String(d.error) : '(no error recorded)' }));
    if (d.log_tail) {
      // The failing worker's last log lines, folded: they are long.
      li.append(h('details', { class: 'log-box' },
        h('summary', { testid: 'dead-log-toggle', text: 'Log tail of the failing worker' }),
        h('pre', { class: 'log-tail', testid: 'dead-log', text: String(d.log_tail) })));
    }
    li.dataset.shard = String(shard);
    return li;
  }));
}

// The job's blocklisted workers: with why (`blocklist`) from coordinators that say it,
// else their ids (`blocklisted_workers`).
function renderBlocklist(data) {
  const entries = Array.isArray(data.blocklist)
    ? data.blocklist.filter((b) => b && typeof b === 'object' && b.worker != null)
    : (Array.isArray(data.blocklisted_workers) ? data.blocklisted_workers : [])
      .filter((w) => w != null && w !== '').map((w) => ({ worker: w }));
  const key = JSON.stringify(entries);
  D.blockSection.hidden = entries.length === 0;
  if (key === detail.blockKey) return;
  detail.blockKey = key;
  setText(D.blockCount, entries.length ? `${entries.length}` : '');
  D.blockList.replaceChildren(...entries.map((b) => {
    const w = String(b.worker);
    const known = b.shard !== undefined && b.shard !== null;
    const why = known
      ? `failed ${num(b.failures)} of this job's shards; the last: shard ${b.shard}` +
        `${num(b.at_ms) ? `, ${fmtAgo(serverNow() - b.at_ms)}` : ''}: ${b.error ? String(b.error) : '(no error recorded)'}`
      : 'failed this job\'s shards too often (why was not recorded)';
    const li = h('li', { class: 'block-item', testid: 'blocklisted-worker',
      title: 'This worker gets none of this job\'s shards any more' },
    h('span', { class: 'wid', text: w }), h('span', { class: 'block-why', testid: 'blocklist-why', text: why }));
    li.dataset.worker = w;
    return li;
  }));
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
        title: `Sample ${index}: open the sample viewer`, testid: 'sample-preview',
      }, t.missing, h('span', { class: 'cap', text: `#${index}` }));
      t.a.dataset.sampleIndex = String(index);
      // A plain click opens the sample viewer; a middle or modified click still opens the image.
      t.a.addEventListener('click', (ev) => {
        if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
        ev.preventDefault();
        openSample(id, index);
      });
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

function renderSpec(spec) {
  let text;
  if (spec === undefined) text = detail.data ? '(no spec in the response)' : 'Loading…';
  else text = JSON.stringify(spec, null, 2);
  if (text === detail.specText) return;
  detail.specText = text;
  if (spec === undefined) D.spec.replaceChildren(text);
  else D.spec.replaceChildren(highlightJson(text));
}

// Selection in the URL (#job=<id>) so a detail view can be linked and survives reloads. A
// hash that names the job already (with the sample viewer's &sample=<n>) is left as it is.
function writeHash(id) {
  if (id && readHash() === id) return;
  const url = id ? `#job=${encodeURIComponent(id)}` : `${location.pathname}${location.search}`;
  try { history.replaceState(null, '', url); } catch { /* ignore */ }
}

export function readHash() {
  const m = /^#job=([^&]+)/.exec(location.hash);
  if (!m) return null;
  try { return decodeURIComponent(m[1]); } catch { return null; }
}

/**
 * Wires the panel's buttons, Esc, the URL hash and job control; `renderAll()` redraws every
 * view, `openSample(id, index)` opens the sample viewer.
 */
export function initDetail(callbacks) {
  renderAll = callbacks.renderAll;
  openSample = callbacks.openSample;
  initJobActions({ render: renderDetail, shows: (id) => detail.id === id, done: actionDone });
  initShardGrid();

  D.close.addEventListener('click', () => clearSelection());
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape' || !state.selected) return;
    const t = ev.target;
    if (t instanceof HTMLTextAreaElement || t instanceof HTMLInputElement) return;
    clearSelection();
  });

  $('copy-storage').addEventListener('click', () => copyText(D.storage.title || D.storage.textContent, $('copy-storage')));
  $('copy-spec').addEventListener('click', (ev) => {
    ev.preventDefault(); // the button sits in <summary>: don't toggle the <details>
    copyText(detail.specText || '', $('copy-spec'));
  });

  window.addEventListener('hashchange', () => {
    const id = readHash();
    if (id && id !== state.selected) selectJob(id, { scroll: true });
  });
}
