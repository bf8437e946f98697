// The metric names a PromQL expression reads, and the names a /metrics page exports.
// Enough of PromQL for the queries of the autoscalers and the Grafana dashboard: label
// matchers, range and subquery brackets, aggregation modifiers, functions, operators.
'use strict';

const KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless',
  'offset', 'atan2', 'inf', 'nan',
]);

// Metric names in expr. Throws on what it cannot read (unbalanced brackets, a template
// placeholder left in), so a query nobody can check is an error, not a pass.
function metricNames(expr) {
  if (typeof expr !== 'string' || expr.trim() === '') throw new Error('empty query');
  if (/<<|>>|\{\{/.test(expr)) throw new Error(`a template placeholder is left in the query: ${expr}`);
  let s = expr;
  // String literals, then label matchers and range/subquery brackets (no nesting in either).
  s = s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/\{[^{}]*\}/g, ' ');
  s = s.replace(/\[[^\[\]]*\]/g, ' ');
  if (/[{}\[\]]/.test(s)) throw new Error(`unbalanced brackets in the query: ${expr}`);
  // Label lists of aggregation and matching modifiers: by (a, b), on(a), group_left(a).
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)/g, ' ');
  const names = new Set();
  const re = /[A-Za-z_:][A-Za-z0-9_:]*/g;
  let m;
  while ((m = re.exec(s)) !== null) {
    const word = m[0];
    const before = s.slice(0, m.index);
    // Part of a number (1e3, 0x1f) or a duration (5m) outside brackets.
    if (/[0-9.]$/.test(before)) continue;
    const after = s.slice(m.index + word.length);
    if (/^\s*\(/.test(after)) continue; // a function or an aggregation
    if (KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}

// Label matchers of a selector, e.g. {namespace="synthfarm",job="x"} -> {namespace: 'synthfarm', job: 'x'}
// for every selector of the query (an array, one object per selector).
function labelMatchers(expr) {
  const out = [];
  const re = /\{([^{}]*)\}/g;
  let m;
  while ((m = re.exec(expr)) !== null) {
    const labels = {};
    const pair = /([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"/g;
    let p;
    while ((p = pair.exec(m[1])) !== null) {
      if (p[2] === '=') labels[p[1]] = p[3];
    }
    out.push(labels);
  }
  return out;
}

// Names of the series a Prometheus text exposition holds (the HELP/TYPE names and every
// sample's name).
function exportedNames(text) {
  const names = new Set();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    const meta = /^#\s+(?:HELP|TYPE)\s+([A-Za-z_:][A-Za-z0-9_:]*)(?:\s+(\S+))?/.exec(t);
    if (meta) {
      names.add(meta[1]);
      // A histogram family's series are its _bucket, _sum and _count, samples or not yet.
      if (t.startsWith('# TYPE') && meta[2] === 'histogram') {
        for (const suffix of ['_bucket', '_sum', '_count']) names.add(meta[1] + suffix);
      }
      continue;
    }
    if (t.startsWith('#')) continue;
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{|\s)/.exec(t);
    if (!sample) throw new Error(`not a Prometheus text line: ${t}`);
    names.add(sample[1]);
  }
  return names;
}

module.exports = { exportedNames, labelMatchers, metricNames };
