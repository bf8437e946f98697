// The sample viewer: one sample of a job at a readable size, in a modal <dialog> opened from
// a preview thumbnail of the job panel or from the URL (#job=<id>&sample=<n>[&frame=<k>]).
// The preview image carries overlays drawn from the sample's JSON in an SVG whose viewBox is
// the image's pixel grid (so a mark's coordinates are the JSON's, exactly): per person the
// COCO skeleton and keypoint marks, and the person boxes; and label layers of the sample's
// EXR (instance, semantic, part, depth, normal, albedo, uv) as semi-transparent images the
// coordinator draws (GET /api/jobs/{id}/samples/{n}/layers/{layer}.png), so the browser
// decodes no EXR. Clips get a frame slider; Previous/Next walk the job's samples; links
// lead to the sample's objects.
//
// Keypoint marks (one per COCO keypoint, in the SVG's group [data-testid=overlay-skeleton-group]):
//   v = 2 (visible)   a filled circle   .kp-visible
//   v = 1 (occluded)  a hollow circle   .kp-occluded
//   v = 0 (outside the image or behind the camera; the JSON writes x = y = 0, as COCO does):
//                     a cross .kp-out where the keypoint's 3D camera point projects (pinhole,
//                     K), moved onto the image's border; no mark when it lies behind the camera
// Every mark has data-person (the instance id), data-joint (0..16, COCO order), data-name,
// data-v, and data-x / data-y: its position in image pixels, the JSON's [x, y] for v > 0.
// Limbs join keypoints with v > 0.
//
// Server data reaches the DOM only through textContent and attribute setters.

import { h, setAttr, setText } from './dom.js';
import { apiError, fetchJob, fetchSample, layerUrl, readJsonBody, sampleUrl } from './api.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const KEYPOINT_NAMES = [
  'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder', 'left_elbow',
  'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle',
  'right_ankle',
];
// COCO's person skeleton (jobs/coco.h), 0-based.
const SKELETON = [
  [15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11], [6, 12], [5, 6], [5, 7], [6, 8], [7, 9], [8, 10],
  [1, 2], [0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [4, 6],
];
const VISIBILITY = ['out', 'occluded', 'visible'];
// Overlays drawn from the JSON, then the EXR layers the coordinator can draw, in toggle order.
const MARK_OVERLAYS = [['skeleton', 'Skeleton'], ['boxes', 'Boxes']];
const LAYERS = [
  ['instance', 'Instances'], ['semantic', 'Classes'], ['part', 'Parts'], ['depth', 'Depth'], ['normal', 'Normals'],
  ['albedo', 'Albedo'], ['uv', 'UV'],
];
const MAX_UPSCALE = 8;

const V = {
  root: null,           // the <dialog>, built on first open
  ui: {},               // its parts
  job: null,            // job id shown
  samples: null,        // the job's sample count, when known
  index: 0,
  frame: 0,
  sample: null,         // the sample's JSON
  seq: 0,               // bumps per load: answers of older loads are dropped
  inflight: null,       // AbortController of the running load
  shown: new Set(['skeleton', 'boxes']),
  opacity: 0.6,
};

/** Opens the viewer on sample `index` (frame `frame`) of job `id`. */
export function openSample(id, index, frame = 0) {
  if (!V.root) build();
  if (!V.root.open) V.root.showModal();
  if (id !== V.job) {
    V.job = id;
    V.samples = null;
    loadJobSize(id);
  }
  show(index, frame);
}

/** The sample the URL names (#job=<id>&sample=<n>[&frame=<k>]), or null. */
export function readViewerHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const job = params.get('job');
  const sample = Number(params.get('sample'));
  const frame = Number(params.get('frame') || 0);
  if (!job || params.get('sample') === null || !Number.isInteger(sample) || sample < 0) return null;
  return { job, sample, frame: Number.isInteger(frame) && frame > 0 ? frame : 0 };
}

/** Follows the URL when it names a sample (a pasted link, the browser's back button). */
export function initViewer() {
  window.addEventListener('hashchange', () => {
    const wanted = readViewerHash();
    if (wanted && (wanted.job !== V.job || wanted.sample !== V.index || wanted.frame !== V.frame || !V.root?.open)) {
      openSample(wanted.job, wanted.sample, wanted.frame);
    }
  });
  window.addEventListener('resize', () => { if (V.root?.open && V.sample) fitStage(); });
}

// ---------------------------------------------------------------------------------------
// Building the dialog

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

function toggle(name, label, testid) {
  const input = h('input', { type: 'checkbox', testid });
  input.checked = V.shown.has(name);
  input.addEventListener('change', () => {
    if (input.checked) V.shown.add(name);
    else V.shown.delete(name);
    applyToggles();
  });
  const wrap = h('label', { class: 'viewer-toggle' }, input, ` ${label}`);
  wrap.dataset.overlay = name;
  return { input, wrap };
}

function build() {
  const u = V.ui;
  u.title = h('h2', { id: 'viewer-title', testid: 'viewer-title', text: 'Sample' });
  u.jobId = h('code', { class: 'viewer-job', testid: 'viewer-job' });
  u.prev = h('button', { type: 'button', class: 'btn btn-sm', testid: 'sample-prev', title: 'Previous sample (←)' }, '‹ Previous');
  u.next = h('button', { type: 'button', class: 'btn btn-sm', testid: 'sample-next', title: 'Next sample (→)' }, 'Next ›');
  u.close = h('button', { type: 'button', class: 'icon-btn', testid: 'viewer-close', title: 'Close (Esc)', 'aria-label': 'Close the sample viewer' }, '×');
  u.prev.addEventListener('click', () => step(-1));
  u.next.addEventListener('click', () => step(1));
  u.close.addEventListener('click', () => V.root.close());

  u.toggles = new Map();
  for (const [name, label] of [...MARK_OVERLAYS, ...LAYERS]) u.toggles.set(name, toggle(name, label, `overlay-${name}`));
  u.opacity = h('input', { type: 'range', min: 10, max: 100, value: Math.round(V.opacity * 100), testid: 'layer-opacity', 'aria-label': 'Layer opacity' });
  u.opacity.addEventListener('input', () => {
    V.opacity = Number(u.opacity.value) / 100;
    for (const img of u.layerImages.values()) img.style.opacity = String(V.opacity);
  });

  u.frame = h('input', { type: 'range', min: 0, max: 0, value: 0, step: 1, testid: 'frame-slider', 'aria-label': 'Frame of the clip' });
  u.frameLabel = h('span', { class: 'viewer-frame-label', testid: 'frame-label' });
  u.frame.addEventListener('input', () => show(V.index, Number(u.frame.value)));
  u.frameRow = h('div', { class: 'viewer-frame', hidden: true }, h('span', { text: 'Frame' }), u.frame, u.frameLabel);

  u.image = h('img', { class: 'viewer-preview', testid: 'viewer-image', alt: '' });
  u.layerImages = new Map(LAYERS.map(([name]) => {
    const img = h('img', { class: 'viewer-layer', testid: `layer-image-${name}`, alt: '', hidden: true });
    img.dataset.layer = name;
    img.style.opacity = String(V.opacity);
    img.addEventListener('error', () => layerFailed(name, img));
    return [name, img];
  }));
  u.boxes = svg('g', { class: 'boxes', 'data-testid': 'overlay-boxes-group' });
  u.skeleton = svg('g', { class: 'skeleton', 'data-testid': 'overlay-skeleton-group' });
  u.overlay = svg('svg', { class: 'viewer-overlay', 'data-testid': 'viewer-overlay', preserveAspectRatio: 'none' });
  u.overlay.append(u.boxes, u.skeleton);
  u.stage = h('div', { class: 'viewer-stage', testid: 'viewer-stage' }, u.image, ...u.layerImages.values(), u.overlay);

  u.status = h('p', { class: 'viewer-status', testid: 'viewer-status', role: 'status' });
  u.links = ['exr', 'json', 'png'].map((ext) => {
    const a = h('a', {
      class: 'mini-btn', testid: `sample-link-${ext}`, target: '_blank', rel: 'noopener',
      text: ext === 'png' ? 'Preview' : ext.toUpperCase(),
    });
    a.dataset.ext = ext;
    return a;
  });
  const legend = h('span', { class: 'viewer-legend' },
    h('span', { class: 'lg lg-visible', text: 'visible' }), h('span', { class: 'lg lg-occluded', text: 'occluded' }),
    h('span', { class: 'lg lg-out', text: 'outside the image (at its edge)' }));

  V.root = h('dialog', { class: 'viewer', id: 'sample-viewer', testid: 'sample-viewer', 'aria-labelledby': 'viewer-title' },
    h('div', { class: 'viewer-head' },
      h('div', { class: 'viewer-names' }, u.title, u.jobId),
      h('div', { class: 'viewer-nav' }, u.prev, u.next), u.close),
    h('div', { class: 'viewer-tools' },
      h('div', { class: 'viewer-group', role: 'group', 'aria-label': 'Labels' },
        ...MARK_OVERLAYS.map(([name]) => u.toggles.get(name).wrap)),
      h('div', { class: 'viewer-group', role: 'group', 'aria-label': 'Layers' },
        ...LAYERS.map(([name]) => u.toggles.get(name).wrap), h('label', { class: 'viewer-toggle' }, 'Opacity ', u.opacity))),
    u.frameRow, u.stage, u.status,
    h('div', { class: 'viewer-foot' }, legend, h('span', { class: 'viewer-links' }, 'Objects: ', ...u.links)));
  V.root.addEventListener('keydown', onKey);
  V.root.addEventListener('close', closed);
  document.body.append(V.root);
}

function onKey(ev) {
  if (ev.key === 'Escape') {
    ev.stopPropagation();  // closes the dialog only, not the job panel behind it
    return;
  }
  if (ev.target instanceof HTMLInputElement && ev.target.type === 'range') return;  // arrows move the slider
  if (ev.key === 'ArrowLeft') step(-1);
  else if (ev.key === 'ArrowRight') step(1);
}

function closed() {
  V.inflight?.abort();
  V.seq += 1;
  if (V.job) writeHash(V.job, null);
}

// ---------------------------------------------------------------------------------------
// Loading a sample

async function loadJobSize(id) {
  try {
    const res = await fetchJob(id);
    if (!res.ok || V.job !== id) return;
    const job = await res.json();
    if (V.job === id && Number.isInteger(job.samples)) V.samples = job.samples;
    renderNav();
  } catch { /* the buttons stay enabled; a sample past the end says so */ }
}

function step(delta) {
  const index = V.index + delta;
  if (index < 0 || (V.samples !== null && index >= V.samples)) return;
  show(index, 0);
}

async function show(index, frame) {
  V.inflight?.abort();
  const ctrl = new AbortController();
  V.inflight = ctrl;
  const seq = ++V.seq;
  const job = V.job;
  V.index = index;
  V.frame = frame;
  V.root.dataset.sample = String(index);
  V.root.dataset.frame = String(frame);
  V.root.dataset.state = 'loading';
  writeHash(job, index, frame);
  setText(V.ui.title, `Sample ${index}`);
  setText(V.ui.jobId, job);
  renderNav();
  renderLinks();
  let res;
  let sample = null;
  try {
    res = await fetchSample(job, index, frame, ctrl.signal);
    if (res.ok) sample = await res.json();
  } catch {
    if (ctrl.signal.aborted) return;
  }
  if (seq !== V.seq) return;
  V.inflight = null;
  if (!sample) {
    const { data } = res ? await readJsonBody(res).catch(() => ({ data: null })) : { data: null };
    if (seq !== V.seq) return;
    return showMissing(res ? res.status : 0, apiError(data));
  }
  V.sample = sample;
  V.root.dataset.state = 'ready';
  renderSample(sample);
}

function showMissing(status, message) {
  V.sample = null;
  V.root.dataset.state = status === 404 ? 'missing' : 'error';
  V.ui.stage.hidden = true;
  V.ui.frameRow.hidden = true;
  const text = status === 404 ? `Sample ${V.index} is not stored (yet): the job may still be rendering it.`
    : status ? `Could not load sample ${V.index} (HTTP ${status}${message ? `: ${message}` : ''}).`
      : `Could not load sample ${V.index} (coordinator unreachable).`;
  setText(V.ui.status, text);
}

// ---------------------------------------------------------------------------------------
// Drawing a sample

function renderSample(sample) {
  const u = V.ui;
  const width = Number(sample.width) || 0;
  const height = Number(sample.height) || 0;
  V.root.dataset.width = String(width);
  V.root.dataset.height = String(height);
  u.stage.hidden = false;
  setText(u.status, '');
  setAttr(u.image, 'alt', `Sample ${V.index}${isClip(sample) ? `, frame ${V.frame}` : ''}`);
  setAttr(u.image, 'src', sampleUrl(V.job, V.index, 'png', V.frame));
  u.overlay.setAttribute('viewBox', `0 0 ${width} ${height}`);
  fitStage();

  const clip = isClip(sample) ? sample.clip : null;
  u.frameRow.hidden = !clip;
  if (clip) {
    u.frame.max = String(Math.max(0, Number(clip.frames) - 1));
    u.frame.value = String(V.frame);
    setText(u.frameLabel, `${V.frame + 1} / ${clip.frames}`);
  }
  const people = (Array.isArray(sample.instances) ? sample.instances : [])
    .filter((inst) => inst && Array.isArray(inst.keypoints) && inst.keypoints.length === 3 * KEYPOINT_NAMES.length);
  drawBoxes(people, width, height);
  drawSkeletons(people, sample, width, height);

  // Only the layers this sample's EXR has (the spec's output.layers, listed in its JSON).
  const layers = new Set(Array.isArray(sample.layers) ? sample.layers.map(String) : []);
  for (const [name] of LAYERS) u.toggles.get(name).wrap.hidden = !layers.has(name);
  applyToggles();
}

const isClip = (sample) => sample && sample.clip && Number(sample.clip.frames) > 1;

/** Sizes the stage: the image as large as the window allows, pixels kept square. */
function fitStage() {
  const width = Number(V.root.dataset.width) || 1;
  const height = Number(V.root.dataset.height) || 1;
  const maxWidth = Math.max(160, Math.min(window.innerWidth - 96, 1200));
  const maxHeight = Math.max(120, window.innerHeight - 300);
  const scale = Math.min(maxWidth / width, maxHeight / height, MAX_UPSCALE);
  V.ui.stage.style.width = `${Math.round(width * scale)}px`;
  V.ui.stage.style.height = `${Math.round(height * scale)}px`;
  V.ui.stage.classList.toggle('is-upscaled', scale >= 2);
}

function drawBoxes(people, width, height) {
  const size = Math.max(width, height);
  V.ui.boxes.replaceChildren(...people.filter((p) => Array.isArray(p.bbox) && p.bbox[2] > 0 && p.bbox[3] > 0).map((p) => {
    const [x, y, w, hgt] = p.bbox.map(Number);
    const g = svg('g', { class: 'box', 'data-person': p.id });
    g.append(svg('rect', { x, y, width: w, height: hgt, 'vector-effect': 'non-scaling-stroke' }));
    const label = svg('text', { x: x + size / 200, y: Math.max(y - size / 150, size / 40), 'font-size': size / 36 });
    label.textContent = `person ${p.id}`;
    g.append(label);
    return g;
  }));
}

// Where keypoint k of `person` is drawn: { x, y, v } in image pixels, or null for no mark.
function markPosition(person, k, sample, width, height) {
  const [x, y, v] = person.keypoints.slice(3 * k, 3 * k + 3).map(Number);
  if (v > 0) return { x, y, v };
  // Outside the image: where it projects, on the border; nothing when behind the camera.
  const point = Array.isArray(person.keypoints_3d_camera) ? person.keypoints_3d_camera[k] : null;
  const K = sample.K;
  if (!Array.isArray(point) || !(Number(point[2]) > 1e-6) || !Array.isArray(K)) return null;
  const u = (K[0][0] * point[0]) / point[2] + K[0][2];
  const w = (K[1][1] * point[1]) / point[2] + K[1][2];
  if (!Number.isFinite(u) || !Number.isFinite(w)) return null;
  return { x: Math.min(Math.max(u, 0), width), y: Math.min(Math.max(w, 0), height), v: 0 };
}

function drawSkeletons(people, sample, width, height) {
  const r = Math.max(width, height) / 110;
  const groups = people.map((person) => {
    const g = svg('g', { class: 'person', 'data-person': person.id });
    const at = KEYPOINT_NAMES.map((_, k) => markPosition(person, k, sample, width, height));
    for (const [a, b] of SKELETON) {
      if (!at[a] || !at[b] || at[a].v === 0 || at[b].v === 0) continue;
      const side = KEYPOINT_NAMES[a].startsWith('left') && KEYPOINT_NAMES[b].startsWith('left') ? 'left'
        : KEYPOINT_NAMES[a].startsWith('right') && KEYPOINT_NAMES[b].startsWith('right') ? 'right' : 'centre';
      g.append(svg('line', {
        class: `limb limb-${side}`, x1: at[a].x, y1: at[a].y, x2: at[b].x, y2: at[b].y, 'vector-effect': 'non-scaling-stroke',
      }));
    }
    at.forEach((p, k) => {
      if (!p) return;
      const mark = p.v > 0
        ? svg('circle', { cx: p.x, cy: p.y, r })
        : svg('path', { d: `M${p.x - r} ${p.y - r}L${p.x + r} ${p.y + r}M${p.x + r} ${p.y - r}L${p.x - r} ${p.y + r}` });
      mark.setAttribute('class', `kp kp-${VISIBILITY[p.v] || 'visible'}`);
      mark.setAttribute('vector-effect', 'non-scaling-stroke');
      for (const [key, value] of Object.entries({ person: person.id, joint: k, name: KEYPOINT_NAMES[k], v: p.v, x: p.x, y: p.y })) {
        mark.setAttribute(`data-${key}`, String(value));
      }
      const title = svg('title');
      title.textContent = `person ${person.id} ${KEYPOINT_NAMES[k]}: ${VISIBILITY[p.v] || 'visible'}`;
      mark.append(title);
      g.append(mark);
    });
    return g;
  });
  V.ui.skeleton.replaceChildren(...groups);
}

/** Shows what the toggles ask for; a layer image is fetched the first time it is shown. */
function applyToggles() {
  const u = V.ui;
  for (const [name, { input }] of u.toggles) input.checked = V.shown.has(name);
  u.skeleton.toggleAttribute('hidden', !V.shown.has('skeleton'));
  u.boxes.toggleAttribute('hidden', !V.shown.has('boxes'));
  if (!V.sample) return;
  for (const [name, img] of u.layerImages) {
    const on = V.shown.has(name) && !u.toggles.get(name).wrap.hidden;
    img.hidden = !on;
    const url = layerUrl(V.job, V.index, name, V.frame);
    if (on && img.getAttribute('src') !== url) {
      u.toggles.get(name).wrap.classList.remove('is-error');
      img.setAttribute('src', url);
    } else if (!on && img.getAttribute('src') && img.getAttribute('src') !== url) {
      img.removeAttribute('src');  // another sample's: not worth keeping
    }
  }
}

async function layerFailed(name, img) {
  const url = img.getAttribute('src');
  if (!url) return;
  V.ui.toggles.get(name).wrap.classList.add('is-error');
  let message = '';
  try {
    message = apiError((await readJsonBody(await fetch(url))).data);
  } catch { /* keep the generic message */ }
  if (img.getAttribute('src') === url) setText(V.ui.status, `The ${name} layer could not be drawn${message ? `: ${message}` : '.'}`);
}

function renderNav() {
  if (!V.root) return;
  V.ui.prev.disabled = V.index <= 0;
  V.ui.next.disabled = V.samples !== null && V.index >= V.samples - 1;
  setAttr(V.root, 'data-samples', V.samples);
}

function renderLinks() {
  for (const a of V.ui.links) a.setAttribute('href', sampleUrl(V.job, V.index, a.dataset.ext, V.frame));
}

// The sample in the URL, so a view can be linked; closing the viewer leaves #job=<id>.
function writeHash(job, index, frame = 0) {
  let hash = `#job=${encodeURIComponent(job)}`;
  if (index !== null) hash += `&sample=${index}${frame > 0 ? `&frame=${frame}` : ''}`;
  if (location.hash === hash) return;
  try { history.replaceState(null, '', hash); } catch { /* ignore */ }
}
