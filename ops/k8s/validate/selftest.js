#!/usr/bin/env node
// Shows that every check of validate.js can fail: the same rendered overlays, first as
// they are (they must pass), then broken one way at a time (a probe removed, root allowed,
// the grace period shorter than two leases, a metric the coordinator does not export, ...).
// Each broken copy must be reported by the check meant to catch it, with its message.
// Takes validate.js's arguments.
'use strict';

const { loadObjects } = require('./lib/manifests');
const { context, run } = require('./validate');

function parse(argv) {
  // validate.js's own parser exits on bad arguments with its usage; reuse its rules.
  const opts = { overlays: [], expectAutoscaler: new Set(), expectMonitoring: new Set() };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--metrics') opts.metrics = argv[++i];
    else if (a === '--redis-acl') opts.redisAcl = argv[++i];
    else if (a === '--docs') opts.docs = argv[++i];
    else if (a === '--adapter-values') opts.adapterValues = argv[++i];
    else if (a === '--expect-autoscaler') opts.expectAutoscaler.add(argv[++i]);
    else if (a === '--expect-monitoring') opts.expectMonitoring.add(argv[++i]);
    else {
      const eq = a.indexOf('=');
      if (eq <= 0) {
        process.stderr.write(`selftest.js: expected NAME=RENDERED.yaml, got ${a}\n`);
        process.exit(2);
      }
      opts.overlays.push({ name: a.slice(0, eq), file: a.slice(eq + 1) });
    }
  }
  return opts;
}

const find = (objects, kind, name) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`self-test: no ${kind}/${name} to break`);
  return o;
};
const pod = (objects, kind, name) => find(objects, kind, name).spec.template.spec;
const container = (objects, kind, name, c) => pod(objects, kind, name).containers.find((x) => x.name === c);
const coordinator = (o) => container(o, 'Deployment', 'synthfarm-coordinator', 'coordinator');
const worker = (o) => container(o, 'Deployment', 'synthfarm-worker', 'worker');
const setArg = (c, flag, value) => {
  c.args = c.args.map((a) => (a.startsWith(`${flag}=`) ? `${flag}=${value}` : a));
};
const scaledObject = (o) => o.find((x) => x.kind === 'ScaledObject');
const configMapWith = (o, key) => o.find((x) => x.kind === 'ConfigMap' && x.data && key in x.data);

// name, overlay to break, check that must report it, text its message must hold.
const CASES = [
  ['worker liveness probe removed', 'dev', 'worker-liveness', 'livenessProbe (exec) is missing', (o) => { delete worker(o).livenessProbe; }],
  ['worker probe tests another file', 'prod', 'worker-liveness', 'does not test the age of', (o) => { worker(o).livenessProbe.exec.command = ['/bin/true']; }],
  ['health file not on an emptyDir', 'dev', 'worker-liveness', 'writable emptyDir', (o) => { setArg(worker(o), '--health-file', '/var/lib/worker.alive'); worker(o).livenessProbe.exec.command[2] = 'find /var/lib/worker.alive -mmin -1'; }],
  ['coordinator readiness probe removed', 'prod', 'coordinator-probes', 'readinessProbe must be an httpGet probe', (o) => { delete coordinator(o).readinessProbe; }],
  ['coordinator probe over HTTP with TLS on', 'dev', 'coordinator-probes', 'expected HTTPS', (o) => { coordinator(o).livenessProbe.httpGet.scheme = 'HTTP'; }],
  ['coordinator probe on another path', 'prod-hpa', 'coordinator-probes', 'expected /healthz', (o) => { coordinator(o).livenessProbe.httpGet.path = '/api/jobs'; }],
  ['grace period under two leases', 'prod', 'grace-period', '< 2 x --lease-ms', (o) => { pod(o, 'Deployment', 'synthfarm-worker').terminationGracePeriodSeconds = 59; }],
  ['lease not given explicitly', 'dev', 'grace-period', '--lease-ms must be given', (o) => { worker(o).args = worker(o).args.filter((a) => !a.startsWith('--lease-ms')); }],
  ['pod and container run as root', 'dev', 'non-root', 'other than 0', (o) => { pod(o, 'Deployment', 'synthfarm-worker').securityContext.runAsUser = 0; delete worker(o).securityContext.runAsUser; }],
  ['runAsNonRoot off in a container', 'prod', 'non-root', 'runAsNonRoot must be true', (o) => { coordinator(o).securityContext.runAsNonRoot = false; }],
  ['memory limit missing', 'prod', 'resources', 'resources.limits.memory must be set', (o) => { delete worker(o).resources.limits.memory; }],
  ['request above limit', 'dev', 'resources', 'cpu request exceeds its limit', (o) => { coordinator(o).resources.requests.cpu = '2'; }],
  ['writable root in an init container', 'dev', 'read-only-root', 'readOnlyRootFilesystem', (o) => { pod(o, 'StatefulSet', 'synthfarm-redis').initContainers[0].securityContext.readOnlyRootFilesystem = false; }],
  ['privilege escalation allowed', 'prod', 'no-privilege-escalation', 'allowPrivilegeEscalation', (o) => { worker(o).securityContext.allowPrivilegeEscalation = true; }],
  ['capabilities kept', 'prod-hpa', 'capabilities-dropped', 'drop ALL', (o) => { coordinator(o).securityContext.capabilities = { drop: ['NET_RAW'] }; }],
  ['host network', 'dev', 'host-isolation', 'hostNetwork', (o) => { pod(o, 'Deployment', 'synthfarm-worker').hostNetwork = true; }],
  ['a field of the wrong type', 'dev', 'schema', 'must be integer', (o) => { find(o, 'Deployment', 'synthfarm-coordinator').spec.replicas = 'two'; }],
  ['a misspelt field', 'prod', 'schema', 'unknown field /spec/template/spec/containers/0/livenesProbe', (o) => { const c = coordinator(o); c.livenesProbe = c.livenessProbe; delete c.livenessProbe; }],
  ['a misspelt KEDA field', 'prod', 'schema', 'unknown field /spec/pollingIntervall', (o) => { const s = scaledObject(o).spec; s.pollingIntervall = s.pollingInterval; delete s.pollingInterval; }],
  ['an unknown kind', 'dev', 'schema', 'unknown kind', (o) => { o.push({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }); }],
  ['--threads unlike the CPU request', 'prod', 'threads', 'must equal the CPU request', (o) => { setArg(worker(o), '--threads', '4'); }],
  ['$(VAR) not in env', 'dev', 'env-expansion', 'does not define', (o) => { worker(o).args.push('--allow-storage=$(NOWHERE)'); }],
  ['flag given an empty value', 'prod', 'env-expansion', 'empty value', (o) => { configMapWith(o, 'S3_ENDPOINT').data.S3_ENDPOINT = ''; }],
  ['two coordinators without a shared view', 'dev', 'coordinator-flags', '--shared-view', (o) => { coordinator(o).args = coordinator(o).args.filter((a) => a !== '--shared-view'); }],
  ['coordinator without --auth on', 'prod', 'coordinator-flags', '--auth=on is required', (o) => { setArg(coordinator(o), '--auth', 'off'); }],
  ['worker without CURVE', 'dev', 'worker-flags', '--curve-key and --coordinator-key', (o) => { worker(o).args = worker(o).args.filter((a) => !a.startsWith('--coordinator-key')); }],
  ['worker endpoint on the wrong port', 'prod', 'worker-endpoints', 'does not reach', (o) => { setArg(worker(o), '--control', 'tcp://synthfarm-coordinator:5555'); }],
  ['no anti-affinity', 'prod', 'anti-affinity', 'spreads workers', (o) => { delete pod(o, 'Deployment', 'synthfarm-worker').affinity; }],
  ['no worker PodDisruptionBudget', 'dev', 'pdb', 'worker pods', (o) => { o.splice(o.indexOf(find(o, 'PodDisruptionBudget', 'synthfarm-worker')), 1); }],
  ['replicas beside an autoscaler', 'prod', 'replicas-owner', 'must not set replicas', (o) => { find(o, 'Deployment', 'synthfarm-worker').spec.replicas = 3; }],
  ['image left at latest', 'prod', 'image-tag', 'must set a tag', (o) => { worker(o).image = 'synthfarm:latest'; }],
  ['Redis without AOF', 'dev', 'redis-config', 'appendonly must be yes', (o) => { const cm = configMapWith(o, 'redis.conf'); cm.data['redis.conf'] = cm.data['redis.conf'].replace('appendonly yes', 'appendonly no'); }],
  ['Redis evicting', 'prod', 'redis-config', 'noeviction', (o) => { const cm = configMapWith(o, 'redis.conf'); cm.data['redis.conf'] = cm.data['redis.conf'].replace('maxmemory-policy noeviction', 'maxmemory-policy allkeys-lru'); }],
  ['ACL file not ops/redis.acl', 'prod', 'redis-acl', 'differs from', (o) => { const cm = configMapWith(o, 'redis.acl'); cm.data['redis.acl'] = cm.data['redis.acl'].replace('user default off', 'user default on nopass'); }],
  ['Redis open to every pod', 'prod', 'network-policy', 'pods outside the farm', (o) => { find(o, 'NetworkPolicy', 'synthfarm-redis').spec.ingress[0].from.push({ podSelector: {} }); }],
  ['telemetry port open to all', 'dev', 'network-policy', 'port 5555 admits', (o) => { find(o, 'NetworkPolicy', 'synthfarm-coordinator').spec.ingress[1].from = []; }],
  ['query on a metric nobody exports', 'prod', 'metrics-exported', 'does not export', (o) => { const t = scaledObject(o).spec.triggers[0].metadata; t.query = t.query.replace('synthfarm_shards_pending', 'synthfarm_queue_depth'); }],
  ['query summing over replicas', 'prod', 'autoscaling-signal', 'must take max()', (o) => { const t = scaledObject(o).spec.triggers[0].metadata; t.query = t.query.replace(/^max/, 'sum'); }],
  ['query of another namespace', 'prod', 'autoscaling-signal', 'not the overlay\'s namespace', (o) => { const t = scaledObject(o).spec.triggers[0].metadata; t.query = t.query.replace(/namespace="synthfarm"/g, 'namespace="other"'); }],
  ['KEDA without scale-down window', 'prod', 'autoscaling-behavior', 'stabilizationWindowSeconds', (o) => { delete scaledObject(o).spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds; }],
  ['KEDA not from zero', 'prod', 'scaledobject', 'minReplicaCount must be 0', (o) => { scaledObject(o).spec.minReplicaCount = 1; }],
  ['HPA on an unknown metric', 'prod-hpa', 'metrics-exported', 'neither exported', (o) => { o.find((x) => x.kind === 'HorizontalPodAutoscaler').spec.metrics[0].external.metric.name = 'shards'; }],
  ['HPA on a utilization target', 'prod-hpa', 'hpa', 'AverageValue', (o) => { o.find((x) => x.kind === 'HorizontalPodAutoscaler').spec.metrics[0].external.target = { type: 'Value', value: '2' }; }],
  ['ServiceMonitor without the token', 'prod', 'servicemonitor', 'needs a bearer token', (o) => { delete o.find((x) => x.kind === 'ServiceMonitor').spec.endpoints[0].authorization; }],
  ['dashboard panel on a missing metric', 'prod-hpa', 'grafana-dashboard', 'does not export', (o) => { const cm = o.find((x) => x.metadata.labels && x.metadata.labels.grafana_dashboard); cm.data['synthfarm.json'] = cm.data['synthfarm.json'].replace('synthfarm_workers_alive{', 'synthfarm_workers_up{'); }],
  ['a Secret the docs never create', 'dev', 'secrets-documented', 'is not created anywhere', (o) => { pod(o, 'Deployment', 'synthfarm-worker').volumes.find((v) => v.secret).secret.secretName = 'synthfarm-undocumented'; }],
  ['a ConfigMap key that is missing', 'dev', 'refs-resolve', 'does not hold', (o) => { delete configMapWith(o, 'ALLOW_STORAGE').data.ALLOW_STORAGE; }],
];

function main() {
  const opts = parse(process.argv.slice(2));
  const ctx0 = context(opts);
  const pristine = opts.overlays.map(({ name, file }) => ({ name, objects: loadObjects(file) }));
  const expect = { autoscaler: opts.expectAutoscaler, monitoring: opts.expectMonitoring };
  const errorsOf = ({ reports, across }) => [...reports, across].flatMap((r) => r.errors);

  const baseline = errorsOf(run(pristine, { ...ctx0, queries: [] }, expect));
  if (baseline.length) {
    console.log(`self-test: the overlays as rendered already fail:\n  ${baseline.join('\n  ')}`);
    process.exit(1);
  }
  let missed = 0;
  let ran = 0;
  for (const [title, overlay, check, text, mutate] of CASES) {
    if (!pristine.some((o) => o.name === overlay)) continue;
    const broken = pristine.map(({ name, objects }) => ({ name, objects: structuredClone(objects) }));
    mutate(broken.find((o) => o.name === overlay).objects);
    const errors = errorsOf(run(broken, { ...ctx0, queries: [] }, expect));
    const hit = errors.find((e) => e.startsWith(`${overlay}: `) && e.includes(text) && e.endsWith(`[${check}]`));
    ran += 1;
    if (hit) {
      console.log(`  caught: ${title}: ${hit}`);
    } else {
      missed += 1;
      console.log(`  MISSED: ${title} (${overlay}): no [${check}] error with "${text}"; reported instead:\n    ${errors.join('\n    ') || '(nothing)'}`);
    }
  }
  // The cross-overlay check: the HPA's prometheus-adapter rule on another query than KEDA's.
  if (ctx0.adapterRules) {
    const ctx = { ...ctx0, queries: [], adapterRules: structuredClone(ctx0.adapterRules) };
    ctx.adapterRules[0].metricsQuery = ctx.adapterRules[0].metricsQuery.replace(/^max/, 'max(max') + ')';
    const errors = errorsOf(run(pristine, ctx, expect));
    const hit = errors.find((e) => e.endsWith('[same-signal]'));
    ran += 1;
    if (hit) console.log(`  caught: the HPA and KEDA on different queries: ${hit}`);
    else {
      missed += 1;
      console.log('  MISSED: the HPA and KEDA on different queries: no [same-signal] error');
    }
  }
  if (missed) {
    console.log(`self-test FAILED: ${missed} of ${ran} broken copies went unreported`);
    process.exit(1);
  }
  console.log(`self-test: ${ran} broken copies, each reported by the check meant to catch it`);
}

main();
