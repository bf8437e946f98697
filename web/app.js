// synthfarm dashboard: live view of jobs and workers, job details, job submission, and the
// farm's failures.
//
// Plain ES modules, no dependencies, no build step. Data comes from the coordinator's
// JSON API (same origin): a Server-Sent Events stream (/api/events, one `snapshot` event
// a second) while it is up, and polling of /api/jobs + /api/workers every 2 s while it
// is not (api.js). The DOM is updated in place (rows keyed by id, text only rewritten when
// it changes) so selection, focus and scroll positions survive updates.
//
// Safety: every piece of server or user data reaches the DOM through textContent or
// attribute setters, never through innerHTML.
//
// This entry module only wires the others together: it stores incoming data and
// re-renders the views, hands each view its callbacks (so no module imports a view that
// imports it back), ticks relative times, switches between the two views (the header's
// links: jobs, and #failures), and starts the live connection. Modules:
//   dom.js          DOM helpers and formatters
//   state.js        shared client-side state (jobs, workers, totals, selection)
//   api.js          API requests, the live stream and its polling fallback
//   header.js       farm totals and the connection indicator
//   jobs.js         jobs table and its filters
//   workers.js      workers table: sorted, filtered and virtualised (rows in view only)
//   worker_page.js  one worker's page (#worker=<id>): its figures and samples/s chart
//   job_detail.js   job selection and the job detail panel
//   job_actions.js  job-control buttons in the detail panel
//   sample_viewer.js one sample with its labels over it: skeletons, boxes, EXR layers the
//                   coordinator draws as PNG; frames of a clip; #job=<id>&sample=<n>
//   shard_grid.js   the job panel's shard grid (a canvas) and the detail of a shard
//   failures.js     the Failures view (#failures): dead letters, retry, blocklisted workers
//   submit.js       spec submission form
//   charts.js       the farm's and the selected job's time series (Chart.js)
//   session.js      login (token, login link or session cookie) and the CSRF header

import { startLive } from './api.js';
import { ensureSession } from './session.js';
import { ACTIVE_STATES, state, storeData } from './state.js';
import { renderConn, renderTotals } from './header.js';
import { initJobs, renderJobs } from './jobs.js';
import { initWorkers, renderWorkers } from './workers.js';
import { initWorkerPage, openWorker, readWorkerHash, renderWorkerPage } from './worker_page.js';
import { initDetail, readHash, refreshDetail, renderDetail, selectJob } from './job_detail.js';
import { initSubmit } from './submit.js';
import { initViewer, openSample, readViewerHash } from './sample_viewer.js';
import { addFarmPoint, initCharts, showJobChart, startCharts } from './charts.js';
import { renderFailuresCount, showFailures } from './failures.js';
import { $ } from './dom.js';

function render() {
  renderTotals();
  renderFailuresCount();
  renderJobs();
  renderWorkers();
  renderWorkerPage();
  renderDetail();
  const selected = state.selected ? state.jobsById.get(state.selected) : null;
  showJobChart(state.selected, Boolean(selected && ACTIVE_STATES.has(selected.state)));
}

// 'dashboard-ready': when the first data has been drawn, layout included (the load-time
// figure of bench/dashboard_load: from navigation start, with its job and worker counts).
let readyMarked = false;

function applyData(data) {
  storeData(data);
  render();
  if (!readyMarked) {
    readyMarked = true;
    void document.body.offsetHeight;
    performance.mark('dashboard-ready', { detail: { jobs: state.jobs.length, workers: state.workers.length } });
  }
  refreshDetail(false);
  if (data.history) addFarmPoint(data.history);
}

initCharts();
initJobs({ select: selectJob });
initDetail({ renderAll: render, openSample });
initViewer();
initSubmit({ select: selectJob });
initWorkers({ select: selectJob, open: openWorker });
initWorkerPage({ select: selectJob });

// Two views: the jobs (the default) and the failures (#failures). A job's link (#job=<id>)
// leads back to the jobs, where job_detail.js selects it.
function showView() {
  const failures = location.hash === '#failures';
  $('app').hidden = failures;
  showFailures(failures);
  for (const a of document.querySelectorAll('.view-link')) {
    a.setAttribute('aria-current', (a.dataset.view === 'failures') === failures ? 'page' : 'false');
  }
}
window.addEventListener('hashchange', showView);

// Relative times ("2m ago", heartbeat ages) keep moving between updates.
setInterval(() => {
  if (!state.hasData) return;
  renderJobs();
  renderWorkers();
  renderWorkerPage();
  if (state.selected) renderDetail();
}, 1000);

// Nothing is fetched before the page may call the API (a login link's #login= is consumed
// here, before the job selection reads the hash).
await ensureSession();
startCharts();
showView();
render();
const initial = readHash();
const initialSample = readViewerHash();
if (initial) selectJob(initial);
if (initialSample) openSample(initialSample.job, initialSample.sample, initialSample.frame);
const initialWorker = readWorkerHash();
if (initialWorker) openWorker(initialWorker);
startLive({
  onData: applyData,
  // Lists fetched outside polling only fill gaps: keep the snapshot's totals.
  onLists: (lists) => applyData({ ...lists, totals: state.totals }),
  onStatus: renderConn,
});
