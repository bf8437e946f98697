// Small DOM helpers and formatters shared by the dashboard's views: element lookup and
// building, change-only text/attribute setters, in-place child reconciliation, clipboard
// copy, JSON colouring, and the number/duration/time formatting. No state of its own.
//
// Safety: every piece of server or user data reaches the DOM through textContent or
// attribute setters, never through innerHTML. Keep it that way in every module.

// ---------------------------------------------------------------------------------------
// Small DOM helpers

export const $ = (id) => document.getElementById(id);

/** Creates an element. Strings among `children` become text nodes (never parsed as HTML). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'testid') node.dataset.testid = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

/** Sets textContent only when it differs, so unchanged cells cause no DOM mutation. */
export function setText(node, text) {
  const s = text == null ? '' : String(text);
  if (node.textContent !== s) node.textContent = s;
}

export function setAttr(node, name, value) {
  if (value == null || value === false) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
    return;
  }
  const s = value === true ? '' : String(value);
  if (node.getAttribute(name) !== s) node.setAttribute(name, s);
}

export function setData(node, key, value) {
  const s = String(value);
  if (node.dataset[key] !== s) node.dataset[key] = s;
}

/**
 * Makes `parent`'s children exactly `nodes`, in order, moving only what is out of place.
 * Nodes not in the list are removed.
 */
export function reconcileChildren(parent, nodes) {
  const keep = new Set(nodes);
  for (const child of [...parent.children]) if (!keep.has(child)) child.remove();
  let cursor = parent.firstElementChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      parent.insertBefore(node, cursor);
    }
  }
}

/** Copies `text` to the clipboard; `button` says "Copied" (or "Copy failed") for a moment. */
export async function copyText(text, button) {
  let ok = false;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      ok = true;
    }
  } catch { /* fall through to the legacy path */ }
  if (!ok) {
    const ta = h('textarea', { readonly: true, style: 'position:fixed;left:-9999px;top:0' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    ta.remove();
  }
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.textContent = ok ? 'Copied' : 'Copy failed';
  clearTimeout(button._t);
  button._t = setTimeout(() => { button.textContent = label; }, 1200);
}

/** Pretty JSON with light syntax colouring, built from text nodes and spans only. */
export function highlightJson(text) {
  const frag = document.createDocumentFragment();
  const re = /("(?:\\.|[^"\\])*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b|([{}[\],])/g;
  let last = 0;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > last) frag.append(text.slice(last, m.index));
    if (m[1] !== undefined) {
      frag.append(h('span', { class: m[2] !== undefined ? 'k' : 's', text: m[1] }));
      if (m[2] !== undefined) frag.append(h('span', { class: 'p', text: m[2] }));
    } else if (m[3] !== undefined) {
      frag.append(h('span', { class: 'n', text: m[3] }));
    } else if (m[4] !== undefined) {
      frag.append(h('span', { class: 'b', text: m[4] }));
    } else {
      frag.append(h('span', { class: 'p', text: m[5] }));
    }
    last = re.lastIndex;
  }
  if (last < text.length) frag.append(text.slice(last));
  return frag;
}

// ---------------------------------------------------------------------------------------
// Formatting

export const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const pad2 = (n) => String(n).padStart(2, '0');

/** 4.4 → "4s", 65 → "1m 05s", 3720 → "1h 02m", 97200 → "1d 03h". */
export function fmtDuration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad2(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad2(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d ${pad2(Math.floor((s % 86400) / 3600))}h`;
}

/** Milliseconds in the past → "just now", "12s ago", "2m ago", "3h ago", "4d ago". */
export function fmtAgo(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 2) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** Heartbeat age: "0.8 s ago", "14 s ago", "3m 05s ago". */
export function fmtHeartbeat(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  const v = Math.max(0, ms);
  if (v < 10000) return `${(v / 1000).toFixed(1)} s ago`;
  if (v < 60000) return `${Math.round(v / 1000)} s ago`;
  return `${fmtDuration(v / 1000)} ago`;
}

export function fmtRate(r) {
  if (typeof r !== 'number' || !Number.isFinite(r)) return '–';
  if (r >= 100) return r.toFixed(0);
  return r.toFixed(1);
}

// A fitting job's mean reprojection error, pixels ('–' when there is none yet).
export function fmtResidual(px) {
  if (typeof px !== 'number' || !Number.isFinite(px)) return '–';
  return `${px.toFixed(px >= 10 ? 0 : 1)} px`;
}

export function fmtInt(n) {
  return num(n).toLocaleString('en-US');
}

/** Absolute local time "2024-05-01 14:03:22". */
export function fmtTime(ms) {
  if (!num(ms)) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
         `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export function percent(done, total) {
  if (num(total) <= 0) return 0;
  return Math.max(0, Math.min(100, (num(done) / num(total)) * 100));
}
