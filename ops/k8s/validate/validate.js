#!/usr/bin/env node
// Checks rendered overlays of ops/k8s offline: every object against its schema (an
// unknown kind or field is an error), then the farm's invariants (lib/invariants.js).
// Prints what it counted per overlay; exits 1 naming every failure, 2 on bad arguments.
//
//   node validate.js --metrics METRICS.txt [--redis-acl ops/redis.acl] [--docs docs/deploy.md]
//       [--adapter-values FILE] [--expect-autoscaler NAME]... [--expect-monitoring NAME]...
//       NAME=RENDERED.yaml...
//
// METRICS.txt is what a real coordinator's /metrics answered (tests/k8s_manifests_test.sh
// fetches it); RENDERED.yaml is `ops/k8s/tools.sh kustomize ops/k8s/overlays/NAME`.
'use strict';

const fs = require('fs');
const path = require('path');
const YAML = require('yaml');
const { Manifests, describe, loadObjects } = require('./lib/manifests');
const { packageVersions, validateObject } = require('./lib/schema');
const { exportedNames } = require('./lib/promql');
const { documentedSecrets } = require('./lib/docs');
const { Report, checkOverlay, checkSameSignal } = require('./lib/invariants');

function usage(message) {
  process.stderr.write(`validate.js: ${message}\n`);
  process.stderr.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 11).join('\n').replace(/^\/\/ ?/gm, '') + '\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { overlays: [], expectAutoscaler: new Set(), expectMonitoring: new Set() };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--metrics') opts.metrics = value();
    else if (a === '--redis-acl') opts.redisAcl = value();
    else if (a === '--docs') opts.docs = value();
    else if (a === '--adapter-values') opts.adapterValues = value();
    else if (a === '--expect-autoscaler') opts.expectAutoscaler.add(value());
    else if (a === '--expect-monitoring') opts.expectMonitoring.add(value());
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else {
      const eq = a.indexOf('=');
      if (eq <= 0) usage(`expected NAME=RENDERED.yaml, got ${a}`);
      opts.overlays.push({ name: a.slice(0, eq), file: a.slice(eq + 1) });
    }
  }
  if (!opts.metrics) usage('--metrics is required: the text of a real coordinator\'s /metrics');
  if (!opts.overlays.length) usage('no overlay given');
  for (const name of [...opts.expectAutoscaler, ...opts.expectMonitoring]) {
    if (!opts.overlays.some((o) => o.name === name)) usage(`--expect-*: no overlay named ${name}`);
  }
  return opts;
}

function readFile(file, what) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    usage(`${what} ${file}: ${e.message}`);
  }
  return undefined;
}

// Everything the checks read besides the manifests themselves.
function context(opts) {
  const exported = exportedNames(readFile(opts.metrics, '--metrics'));
  if (exported.size === 0) usage(`--metrics ${opts.metrics} holds no metric`);
  const ctx = { exported, queries: [], overlayImages: true };
  if (opts.redisAcl) {
    ctx.redisAcl = readFile(opts.redisAcl, '--redis-acl');
    ctx.redisAclName = opts.redisAcl;
  }
  if (opts.docs) {
    ctx.documentedSecrets = documentedSecrets(readFile(opts.docs, '--docs'));
    ctx.docsName = opts.docs;
    if (ctx.documentedSecrets.size === 0) usage(`--docs ${opts.docs} creates no Secret (no "kubectl create secret" command)`);
  }
  if (opts.adapterValues) {
    const values = YAML.parse(readFile(opts.adapterValues, '--adapter-values'));
    ctx.adapterRules = (values && values.rules && values.rules.external) || [];
    ctx.adapterName = opts.adapterValues;
    if (!ctx.adapterRules.length) usage(`--adapter-values ${opts.adapterValues} has no rules.external`);
  }
  return ctx;
}

// Runs every check on the overlays; returns the reports (one per overlay and one across
// them) without printing. Shared with selftest.js.
function run(overlays, ctx, expect) {
  const reports = [];
  for (const { name, objects } of overlays) {
    const m = new Manifests(name, objects);
    const schema = new Report(name);
    for (const obj of objects) {
      for (const error of validateObject(obj)) schema.check('schema', describe(obj), false, error);
      schema.check('schema', describe(obj), true, '');
    }
    const local = {
      ...ctx,
      requireAutoscaler: expect.autoscaler.has(name),
      requireMonitoring: expect.monitoring.has(name),
    };
    const r = checkOverlay(m, local);
    for (const [k, v] of schema.counts) r.counts.set(k, v);
    r.errors.unshift(...schema.errors);
    r.objects = objects;
    reports.push(r);
  }
  const across = new Report('all overlays');
  checkSameSignal(ctx.queries, across);
  return { reports, across };
}

function summary(r) {
  const kinds = new Map();
  for (const o of r.objects) kinds.set(o.kind, (kinds.get(o.kind) || 0) + 1);
  const list = [...kinds].sort((a, b) => a[0].localeCompare(b[0])).map(([k, n]) => `${k} ${n}`).join(', ');
  const checks = [...r.counts.values()].reduce((a, b) => a + b, 0);
  return `overlay ${r.overlay}: ${r.objects.length} objects (${list}); ${r.counts.size} invariants, ${checks} checks`;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const ctx = context(opts);
  const overlays = opts.overlays.map(({ name, file }) => {
    let objects;
    try {
      objects = loadObjects(file);
    } catch (e) {
      usage(e.message);
    }
    if (!objects.length) usage(`${file} holds no object`);
    return { name, objects };
  });
  const { reports, across } = run(overlays, ctx, { autoscaler: opts.expectAutoscaler, monitoring: opts.expectMonitoring });
  const versions = Object.entries(packageVersions()).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`schemas: ${versions}; /metrics exports ${ctx.exported.size} names`);
  const all = new Map();
  for (const r of [...reports, across]) {
    if (r.objects) console.log(summary(r));
    for (const [k, v] of r.counts) all.set(k, (all.get(k) || 0) + v);
  }
  console.log('invariants (checks over all overlays):');
  for (const [k, v] of [...all].sort()) console.log(`  ${k.padEnd(24)} ${v}`);
  const errors = [...reports, across].flatMap((r) => r.errors);
  if (errors.length) {
    console.log(`FAILED: ${errors.length} problem(s):`);
    for (const e of errors) console.log(`  ${e}`);
    process.exit(1);
  }
  console.log(`ok: ${reports.length} overlays, ${reports.reduce((n, r) => n + r.objects.length, 0)} objects valid, every invariant holds`);
}

if (require.main === module) main();

module.exports = { context, run };
