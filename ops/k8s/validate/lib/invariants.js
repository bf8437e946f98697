// What must hold in every overlay of ops/k8s beyond the schemas: security context and
// resources of every container, the probes, the worker's stop path, Redis' durability and
// users, who may reach whom, and that the autoscalers and the dashboard read metrics the
// coordinator really exports. Each check has a name; the report counts how often each
// held and lists every failure as "overlay: Kind/name: what is wrong".
'use strict';

const {
  containers,
  describe,
  flagValue,
  parseQuantity,
  podLabels,
  podSpec,
  selectorMatches,
  serviceSelects,
} = require('./manifests');
const { labelMatchers, metricNames } = require('./promql');

const COMPONENT = 'app.kubernetes.io/component';
// The metrics the autoscaling signal is made of (coordinator/coordinator.cpp, metrics()).
const SIGNAL = ['synthfarm_shards_pending', 'synthfarm_shards_leased'];
// What the Grafana dashboard must show (one metric each at least).
const DASHBOARD_METRICS = [
  'synthfarm_shards_pending',
  'synthfarm_shards_leased',
  'synthfarm_workers_alive',
  'synthfarm_samples_per_second',
  'synthfarm_jobs',
  'synthfarm_leases_reaped_total',
  'synthfarm_telemetry_rejected_total',
];

class Report {
  constructor(overlay) {
    this.overlay = overlay;
    this.counts = new Map(); // check name -> times it was evaluated
    this.errors = [];
  }
  check(name, subject, ok, message) {
    this.counts.set(name, (this.counts.get(name) || 0) + 1);
    if (!ok) this.errors.push(`${this.overlay}: ${subject}: ${message} [${name}]`);
    return ok;
  }
}

function args(c) {
  return [...(c.command || []), ...(c.args || [])].map(String);
}

function mainContainer(workload, name) {
  const spec = podSpec(workload);
  return ((spec && spec.containers) || []).find((c) => c.name === name);
}

// ---- every pod --------------------------------------------------------------------

function checkPods(m, r, ctx) {
  for (const w of m.workloads()) {
    const spec = podSpec(w);
    const psc = spec.securityContext || {};
    const what = describe(w);
    r.check('host-isolation', what, !spec.hostNetwork && !spec.hostPID && !spec.hostIPC,
      'hostNetwork, hostPID and hostIPC must stay off');
    r.check('no-hostpath', what, !(spec.volumes || []).some((v) => v.hostPath), 'a hostPath volume');
    const volumes = new Map((spec.volumes || []).map((v) => [v.name, v]));
    const claimTemplates = new Set(((w.spec && w.spec.volumeClaimTemplates) || []).map((t) => t.metadata.name));
    for (const { container: c, init } of containers(spec)) {
      const where = `${what} container ${c.name}${init ? ' (init)' : ''}`;
      const sc = c.securityContext || {};
      const nonRoot = sc.runAsNonRoot !== undefined ? sc.runAsNonRoot : psc.runAsNonRoot;
      const uid = sc.runAsUser !== undefined ? sc.runAsUser : psc.runAsUser;
      r.check('non-root', where, nonRoot === true, 'runAsNonRoot must be true (pod or container)');
      r.check('non-root', where, Number.isInteger(uid) && uid > 0,
        `runAsUser must be a numeric uid other than 0, is ${JSON.stringify(uid)}`);
      r.check('read-only-root', where, sc.readOnlyRootFilesystem === true, 'readOnlyRootFilesystem must be true');
      r.check('no-privilege-escalation', where, sc.allowPrivilegeEscalation === false && sc.privileged !== true,
        'allowPrivilegeEscalation must be false (and privileged unset)');
      const caps = sc.capabilities || {};
      r.check('capabilities-dropped', where, (caps.drop || []).includes('ALL') && !(caps.add || []).length,
        'capabilities must drop ALL and add none');
      const res = c.resources || {};
      for (const kind of ['requests', 'limits']) {
        for (const resource of ['cpu', 'memory']) {
          const q = res[kind] && res[kind][resource];
          r.check('resources', where, q !== undefined && parseQuantity(q) > 0,
            `resources.${kind}.${resource} must be set`);
        }
      }
      for (const resource of ['cpu', 'memory']) {
        const req = parseQuantity(res.requests && res.requests[resource]);
        const lim = parseQuantity(res.limits && res.limits[resource]);
        if (req > 0 && lim > 0) r.check('resources', where, req <= lim, `${resource} request exceeds its limit`);
      }
      for (const mount of c.volumeMounts || []) {
        r.check('volumes-resolve', where, volumes.has(mount.name) || claimTemplates.has(mount.name),
          `mounts volume ${mount.name}, which the pod does not declare`);
      }
      checkEnv(m, r, where, c, ctx);
      if (ctx.overlayImages && /^synthfarm(:|$)/.test(c.image || '')) {
        const tag = (c.image || '').split(':')[1];
        r.check('image-tag', where, tag !== undefined && tag !== 'latest',
          `image ${c.image}: the overlay must set a tag (images:)`);
      }
    }
    for (const v of spec.volumes || []) checkVolumeRef(m, r, `${what} volume ${v.name}`, v, ctx);
  }
}

// $(VAR) in command and args must be defined in the container's env (else Kubernetes
// passes the text "$(VAR)" on), and every ConfigMap/Secret key an env var reads must exist.
function checkEnv(m, r, where, c, ctx) {
  const defined = new Set((c.env || []).map((e) => e.name));
  for (const a of args(c)) {
    for (const ref of a.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
      r.check('env-expansion', where, defined.has(ref[1]), `"${a}" uses $(${ref[1]}), which the container's env does not define`);
    }
    // --flag=$(VAR) with VAR empty passes --flag= , which the programs refuse (a value is required).
    const flag = /^(--[a-z0-9-]+)=(.*)$/.exec(a);
    if (flag && flag[2].includes('$(')) {
      const value = flag[2].replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (x, name) => envValue(m, c, name) || '');
      r.check('env-expansion', where, value !== '', `${flag[1]} would be given an empty value`);
    }
  }
  for (const e of c.env || []) {
    const from = e.valueFrom || {};
    if (from.configMapKeyRef) {
      const cm = m.configMap(from.configMapKeyRef.name);
      r.check('refs-resolve', where, cm && cm.data && Object.prototype.hasOwnProperty.call(cm.data, from.configMapKeyRef.key),
        `env ${e.name} reads ConfigMap ${from.configMapKeyRef.name} key ${from.configMapKeyRef.key}, which the overlay does not hold`);
    }
    if (from.secretKeyRef) checkSecretRef(r, where, from.secretKeyRef.name, [from.secretKeyRef.key], ctx);
  }
  for (const src of c.envFrom || []) {
    if (src.configMapRef) r.check('refs-resolve', where, !!m.configMap(src.configMapRef.name), `envFrom ConfigMap ${src.configMapRef.name} is missing`);
    if (src.secretRef) checkSecretRef(r, where, src.secretRef.name, [], ctx);
  }
}

// The literal value of a container's env var where the overlay holds it (a value, or a
// ConfigMap key); undefined for what only the cluster knows (Secrets, fields).
function envValue(m, c, name) {
  const e = (c.env || []).find((x) => x.name === name);
  if (!e) return undefined;
  if (!e.valueFrom) return e.value === undefined ? '' : String(e.value);
  const ref = e.valueFrom.configMapKeyRef;
  const cm = ref && m.configMap(ref.name);
  if (cm && cm.data && ref.key in cm.data) return cm.data[ref.key];
  return 'from the cluster';
}

function checkVolumeRef(m, r, where, v, ctx) {
  if (v.configMap) {
    const cm = m.configMap(v.configMap.name);
    r.check('refs-resolve', where, !!cm, `ConfigMap ${v.configMap.name} is not in the overlay`);
    for (const item of v.configMap.items || []) {
      r.check('refs-resolve', where, cm && cm.data && item.key in cm.data, `ConfigMap ${v.configMap.name} has no key ${item.key}`);
    }
  }
  if (v.secret) checkSecretRef(r, where, v.secret.secretName, (v.secret.items || []).map((i) => i.key), ctx);
  if (v.persistentVolumeClaim) {
    r.check('refs-resolve', where, !!m.find('PersistentVolumeClaim', v.persistentVolumeClaim.claimName),
      `PersistentVolumeClaim ${v.persistentVolumeClaim.claimName} is not in the overlay`);
  }
}

// Secrets are made by the operator, never kept in the repository: each one used must be
// one docs/deploy.md says how to create, with the keys used.
function checkSecretRef(r, where, name, keys, ctx) {
  if (!ctx.documentedSecrets) return;
  const documented = ctx.documentedSecrets.get(name);
  r.check('secrets-documented', where, !!documented, `Secret ${name} is not created anywhere in ${ctx.docsName}`);
  for (const key of keys) {
    if (documented) {
      r.check('secrets-documented', where, documented.has(key),
        `Secret ${name} key ${key}: ${ctx.docsName} creates the Secret without it (it has ${[...documented].join(', ')})`);
    }
  }
}

// ---- the coordinator ----------------------------------------------------------------

function listenPort(value) {
  const m = /:(\d+)$/.exec(String(value || ''));
  return m ? Number(m[1]) : undefined;
}

function containerPort(c, port) {
  if (typeof port === 'number') return port;
  const p = (c.ports || []).find((x) => x.name === port);
  return p ? p.containerPort : undefined;
}

function checkCoordinator(m, r) {
  const ws = m.component('coordinator');
  r.check('coordinator', m.name, ws.length === 1, `expected one coordinator workload, found ${ws.length}`);
  for (const w of ws) {
    const what = describe(w);
    r.check('coordinator-replicas', what, (w.spec.replicas || 1) >= 2, `replicas ${w.spec.replicas || 1}: two or more keep the API up while one restarts`);
    const c = mainContainer(w, 'coordinator');
    if (!r.check('coordinator', what, !!c, 'no container named coordinator')) continue;
    const a = args(c);
    const httpPort = listenPort(flagValue(a, '--listen'));
    const tls = flagValue(a, '--tls-cert') !== undefined;
    r.check('coordinator-flags', what, flagValue(a, '--auth') === 'on', '--auth=on is required');
    r.check('coordinator-flags', what, (w.spec.replicas || 1) < 2 || flagValue(a, '--shared-view') === true,
      'several replicas need --shared-view, or each shows only the workers connected to it');
    r.check('coordinator-flags', what, /^0\.0\.0\.0:\d+$/.test(String(flagValue(a, '--listen'))), '--listen must be 0.0.0.0:PORT in a pod');
    r.check('coordinator-flags', what, tls && flagValue(a, '--tls-key') !== undefined, '--tls-cert and --tls-key are required');
    r.check('coordinator-flags', what, flagValue(a, '--curve-key') !== undefined && flagValue(a, '--curve-workers') !== undefined,
      '--curve-key and --curve-workers are required');
    r.check('coordinator-flags', what, flagValue(a, '--redis-password-file') !== undefined, '--redis-password-file is required');
    r.check('coordinator-flags', what, /^redis:\/\/coordinator@/.test(String(flagValue(a, '--redis'))),
      '--redis must name the ACL user coordinator');
    for (const kind of ['readinessProbe', 'livenessProbe']) {
      const probe = c[kind];
      const get = probe && probe.httpGet;
      r.check('coordinator-probes', what, !!get, `${kind} must be an httpGet probe`);
      if (!get) continue;
      r.check('coordinator-probes', what, get.path === '/healthz', `${kind} path ${get.path}, expected /healthz`);
      r.check('coordinator-probes', what, get.scheme === (tls ? 'HTTPS' : 'HTTP'),
        `${kind} scheme ${get.scheme || 'HTTP'}, expected ${tls ? 'HTTPS (TLS is on)' : 'HTTP'}`);
      r.check('coordinator-probes', what, containerPort(c, get.port) === httpPort,
        `${kind} port ${get.port} is not the --listen port ${httpPort}`);
    }
    // The Service carries every port the workers and users need.
    const labels = podLabels(w);
    const services = m.ofKind('Service').filter((s) => serviceSelects(s, labels));
    r.check('coordinator-service', what, services.length >= 1, 'no Service selects the coordinator pods');
    const wanted = [httpPort, listenPort(flagValue(a, '--telemetry')), listenPort(flagValue(a, '--control'))];
    for (const s of services) {
      for (const port of wanted) {
        r.check('coordinator-service', describe(s), (s.spec.ports || []).some((p) => containerPort(c, p.targetPort) === port),
          `no port of the Service reaches container port ${port}`);
      }
    }
    const pdb = m.ofKind('PodDisruptionBudget').some((p) => selectorMatches(p.spec.selector, labels));
    r.check('pdb', what, pdb, 'no PodDisruptionBudget covers the coordinator pods');
  }
}

// ---- workers ------------------------------------------------------------------------

function checkWorker(m, r, ctx) {
  const ws = m.component('worker');
  r.check('worker', m.name, ws.length === 1, `expected one worker workload, found ${ws.length}`);
  for (const w of ws) {
    const what = describe(w);
    const spec = podSpec(w);
    const c = mainContainer(w, 'worker');
    if (!r.check('worker', what, !!c, 'no container named worker')) continue;
    const a = args(c);

    // The stop path: SIGTERM, finish the sample, give the shard back.
    const leaseMs = Number(flagValue(a, '--lease-ms'));
    r.check('grace-period', what, Number.isFinite(leaseMs) && leaseMs > 0, '--lease-ms must be given explicitly');
    const grace = spec.terminationGracePeriodSeconds === undefined ? 30 : spec.terminationGracePeriodSeconds;
    if (Number.isFinite(leaseMs)) {
      r.check('grace-period', what, grace >= 2 * Math.ceil(leaseMs / 1000),
        `terminationGracePeriodSeconds ${grace} < 2 x --lease-ms (${leaseMs} ms): a stopping worker may be killed before it gives its shard back`);
    }

    // Liveness on the health file the worker rewrites.
    const healthFile = flagValue(a, '--health-file');
    r.check('worker-liveness', what, typeof healthFile === 'string', '--health-file PATH is required');
    const probe = c.livenessProbe;
    const probeCmd = probe && probe.exec && (probe.exec.command || []).join(' ');
    r.check('worker-liveness', what, !!probeCmd, 'livenessProbe (exec) is missing');
    if (probeCmd && typeof healthFile === 'string') {
      r.check('worker-liveness', what, probeCmd.includes(healthFile) && /-mmin\s+-\d+/.test(probeCmd),
        `livenessProbe "${probeCmd}" does not test the age of ${healthFile}`);
      const mount = (c.volumeMounts || []).find((v) => healthFile.startsWith(v.mountPath.replace(/\/?$/, '/')));
      const volume = mount && (spec.volumes || []).find((v) => v.name === mount.name);
      r.check('worker-liveness', what, !!(volume && volume.emptyDir && !mount.readOnly),
        `${healthFile} must lie on a writable emptyDir mount`);
    }

    // Render threads match the CPUs requested.
    const threads = Number(flagValue(a, '--threads'));
    const cpu = parseQuantity(c.resources && c.resources.requests && c.resources.requests.cpu);
    r.check('threads', what, Number.isInteger(threads) && threads > 0 && threads === cpu,
      `--threads ${flagValue(a, '--threads')} must equal the CPU request ${cpu}`);

    r.check('worker-flags', what, flagValue(a, '--curve-key') !== undefined && flagValue(a, '--coordinator-key') !== undefined,
      '--curve-key and --coordinator-key are required');
    r.check('worker-flags', what, flagValue(a, '--redis-password-file') !== undefined, '--redis-password-file is required');
    r.check('worker-flags', what, /^redis:\/\/worker@/.test(String(flagValue(a, '--redis'))), '--redis must name the ACL user worker');

    // The endpoints reach the coordinator's telemetry and control ports through its Service.
    const coordinator = m.component('coordinator')[0];
    const cc = coordinator && mainContainer(coordinator, 'coordinator');
    if (cc) {
      const ca = args(cc);
      const services = m.ofKind('Service').filter((s) => serviceSelects(s, podLabels(coordinator)));
      for (const [flag, coordFlag] of [['--coordinator', '--telemetry'], ['--control', '--control']]) {
        const target = /^tcp:\/\/([^:]+):(\d+)$/.exec(String(flagValue(a, flag)));
        const ok = !!target && services.some((s) => s.metadata.name === target[1] &&
          (s.spec.ports || []).some((p) => p.port === Number(target[2]) &&
            containerPort(cc, p.targetPort) === listenPort(flagValue(ca, coordFlag))));
        r.check('worker-endpoints', what, ok, `${flag} ${flagValue(a, flag)} does not reach the coordinator's ${coordFlag} port through its Service`);
      }
    }

    const anti = spec.affinity && spec.affinity.podAntiAffinity;
    const spread = ((anti && anti.preferredDuringSchedulingIgnoredDuringExecution) || []).some((t) =>
      t.podAffinityTerm && t.podAffinityTerm.topologyKey === 'kubernetes.io/hostname' &&
      selectorMatches(t.podAffinityTerm.labelSelector, podLabels(w)));
    r.check('anti-affinity', what, spread, 'no preferred pod anti-affinity spreads workers over nodes');

    const pdb = m.ofKind('PodDisruptionBudget').some((p) => selectorMatches(p.spec.selector, podLabels(w)));
    r.check('pdb', what, pdb, 'no PodDisruptionBudget covers the worker pods');

    // An autoscaler owns the replica count; a count in the Deployment would be reset by
    // every `kubectl apply`.
    const scaled = autoscalersOf(m, w).length > 0;
    r.check('replicas-owner', what, scaled ? w.spec.replicas === undefined : Number.isInteger(w.spec.replicas),
      scaled ? 'an autoscaler scales the workers: the Deployment must not set replicas'
        : 'no autoscaler: the Deployment must set replicas');
    r.check('autoscaler-count', what, autoscalersOf(m, w).length <= 1, 'more than one autoscaler targets the workers');
    if (ctx.requireAutoscaler) r.check('autoscaler-count', what, scaled, 'no autoscaler targets the workers');
  }
}

function autoscalersOf(m, w) {
  return m.objects.filter((o) => (o.kind === 'ScaledObject' || o.kind === 'HorizontalPodAutoscaler') &&
    o.spec && o.spec.scaleTargetRef && o.spec.scaleTargetRef.name === w.metadata.name &&
    (o.spec.scaleTargetRef.kind || 'Deployment') === w.kind);
}

// ---- Redis --------------------------------------------------------------------------

function redisConf(text) {
  const conf = new Map();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [key, ...rest] = t.split(/\s+/);
    conf.set(key.toLowerCase(), rest.join(' '));
  }
  return conf;
}

function checkRedis(m, r, ctx) {
  const ws = m.component('redis');
  r.check('redis', m.name, ws.length === 1 && ws[0].kind === 'StatefulSet', 'expected Redis as one StatefulSet');
  for (const w of ws) {
    const what = describe(w);
    const spec = podSpec(w);
    const c = (spec.containers || [])[0];
    const mounts = (c && c.volumeMounts) || [];
    const volumes = new Map((spec.volumes || []).map((v) => [v.name, v]));
    // The configuration file the server is started with, from its ConfigMap.
    const confPath = args(c).find((x) => x.endsWith('.conf'));
    const confMount = mounts.find((v) => confPath && (v.mountPath === confPath || confPath.startsWith(v.mountPath + '/')));
    const confVolume = confMount && volumes.get(confMount.name);
    const cm = confVolume && confVolume.configMap && m.configMap(confVolume.configMap.name);
    const key = confMount && (confMount.subPath || confPath.slice(confMount.mountPath.length + 1));
    const text = cm && cm.data && cm.data[key];
    if (!r.check('redis-config', what, typeof text === 'string', `cannot find the text of ${confPath} in a ConfigMap`)) continue;
    const conf = redisConf(text);
    r.check('redis-config', what, conf.get('appendonly') === 'yes', 'appendonly must be yes');
    r.check('redis-config', what, conf.get('maxmemory-policy') === 'noeviction', 'maxmemory-policy must be noeviction');
    r.check('redis-config', what, conf.get('protected-mode') !== 'no', 'protected-mode must stay on');
    const limit = parseQuantity(c.resources && c.resources.limits && c.resources.limits.memory);
    const maxmemory = parseRedisBytes(conf.get('maxmemory'));
    r.check('redis-config', what, maxmemory > 0 && maxmemory < limit,
      `maxmemory ${conf.get('maxmemory')} must be set below the memory limit, or the kernel kills Redis before it refuses writes`);
    // The AOF lives on the claim.
    const dataMount = mounts.find((v) => v.mountPath === conf.get('dir'));
    const claims = new Set((w.spec.volumeClaimTemplates || []).map((t) => t.metadata.name));
    r.check('redis-config', what, !!dataMount && claims.has(dataMount.name), `dir ${conf.get('dir')} must be a PersistentVolumeClaim mount`);
    // Users: the ACL file, and no way in without a password.
    const aclfile = conf.get('aclfile');
    r.check('redis-acl', what, !!aclfile, 'aclfile must be set: without it the default user has every right and no password');
    const template = (spec.volumes || []).map((v) => v.configMap && m.configMap(v.configMap.name))
      .find((x) => x && x.data && typeof x.data['redis.acl'] === 'string');
    const acl = template && template.data['redis.acl'];
    if (r.check('redis-acl', what, !!acl, 'no ConfigMap holds redis.acl')) {
      if (ctx.redisAcl !== undefined) {
        r.check('redis-acl', what, acl === ctx.redisAcl, `the redis.acl of the manifests differs from ${ctx.redisAclName}`);
      }
      for (const line of acl.split('\n').filter((l) => l.startsWith('user '))) {
        const user = line.split(/\s+/)[1];
        r.check('redis-acl', what, !/\bnopass\b/.test(line) && !/\+@all\b/.test(line) && !/(^|\s)allcommands\b/.test(line),
          `ACL user ${user} has nopass or every command`);
        if (user === 'default') r.check('redis-acl', what, /\soff(\s|$)/.test(line), 'the default user must be off');
      }
    }
    const init = (spec.initContainers || []).find((ic) => args(ic).join(' ').includes(aclfile || '\0'));
    r.check('redis-acl', what, !!init, `no init container writes ${aclfile}`);
  }
}

function parseRedisBytes(v) {
  const m = /^(\d+)\s*(b|k|kb|m|mb|g|gb)?$/i.exec(String(v || ''));
  if (!m) return NaN;
  const unit = (m[2] || 'b').toLowerCase();
  const mult = { b: 1, k: 1000, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 }[unit];
  return Number(m[1]) * mult;
}

// ---- network ------------------------------------------------------------------------

// Which of the overlay's pods (by component) a NetworkPolicy rule admits.
function admitted(m, policy, rule) {
  const ns = policy.metadata && policy.metadata.namespace;
  const out = new Set();
  if (!rule.from || rule.from.length === 0) return new Set(['*']);
  for (const peer of rule.from) {
    if (peer.ipBlock || peer.namespaceSelector) {
      out.add('*');
      continue;
    }
    for (const w of m.workloads()) {
      if (((w.metadata && w.metadata.namespace) || ns) !== ns) continue;
      if (selectorMatches(peer.podSelector, podLabels(w))) out.add(podLabels(w)[COMPONENT]);
    }
    // Unless it pins the component label to values, a selector also matches pods of
    // other programs in the namespace (podSelector {} matches every one).
    if (!pinsLabel(peer.podSelector, COMPONENT)) out.add('*');
  }
  return out;
}

function pinsLabel(selector, key) {
  if (!selector) return false;
  if (selector.matchLabels && selector.matchLabels[key] !== undefined) return true;
  return (selector.matchExpressions || []).some((e) => e.key === key && e.operator === 'In');
}

function rulePorts(rule) {
  if (!rule.ports || rule.ports.length === 0) return null; // every port
  return rule.ports.map((p) => p.port);
}

function checkNetwork(m, r) {
  const policies = m.ofKind('NetworkPolicy');
  for (const [component, port, allowed] of [
    ['redis', 6379, ['coordinator', 'worker']],
    ['coordinator', 5555, ['worker']],
    ['coordinator', 5556, ['worker']],
  ]) {
    const w = m.component(component)[0];
    if (!w) continue;
    const selecting = policies.filter((p) => selectorMatches(p.spec.podSelector, podLabels(w)) &&
      (p.spec.policyTypes || ['Ingress']).includes('Ingress'));
    r.check('network-policy', describe(w), selecting.length > 0, 'no NetworkPolicy restricts who connects');
    if (!selecting.length) continue;
    const from = new Set();
    for (const p of selecting) {
      for (const rule of p.spec.ingress || []) {
        const ports = rulePorts(rule);
        if (ports !== null && !ports.includes(port)) continue;
        for (const x of admitted(m, p, rule)) from.add(x);
      }
    }
    const extra = [...from].filter((x) => !allowed.includes(x));
    r.check('network-policy', describe(w), extra.length === 0,
      `port ${port} admits ${extra.map((x) => (x === '*' ? 'pods outside the farm' : x)).join(', ')}; only ${allowed.join(' and ')} may connect`);
    for (const a of allowed) {
      r.check('network-policy', describe(w), from.has(a), `port ${port} does not admit the ${a} pods`);
    }
  }
}

// ---- autoscaling and monitoring -----------------------------------------------------

function checkQuery(r, what, query, ctx, m, label) {
  let names;
  try {
    names = metricNames(query);
  } catch (e) {
    r.check('metrics-exported', what, false, `${label}: ${e.message}`);
    return;
  }
  r.check('metrics-exported', what, names.length > 0, `${label} names no metric`);
  for (const n of names) {
    r.check('metrics-exported', what, ctx.exported.has(n), `${label} reads ${n}, which the coordinator's /metrics does not export`);
  }
  for (const n of SIGNAL) {
    r.check('autoscaling-signal', what, names.includes(n), `${label} must count ${n} (pending + leased shards)`);
  }
  r.check('autoscaling-signal', what, /^\s*max\s*\(/.test(query),
    `${label} must take max() over the coordinator replicas, which all export the same Redis numbers`);
  // The namespace filter names the namespace the farm is deployed in.
  const namespaces = [...m.namespaces()].filter(Boolean);
  for (const matchers of labelMatchers(query)) {
    r.check('autoscaling-signal', what, matchers.namespace !== undefined && namespaces.includes(matchers.namespace),
      `${label}: namespace="${matchers.namespace}" is not the overlay's namespace (${namespaces.join(', ') || 'none'})`);
  }
}

function checkBehavior(r, what, behavior, label) {
  const down = behavior && behavior.scaleDown;
  r.check('autoscaling-behavior', what, !!down && Number.isInteger(down.stabilizationWindowSeconds) && down.stabilizationWindowSeconds > 0,
    `${label}.scaleDown.stabilizationWindowSeconds must be set`);
}

function checkAutoscaling(m, r, ctx) {
  const workers = m.component('worker');
  for (const so of m.ofKind('ScaledObject')) {
    const what = describe(so);
    const s = so.spec;
    const target = workers.find((w) => w.metadata.name === s.scaleTargetRef.name);
    r.check('scaledobject', what, !!target, `scaleTargetRef ${s.scaleTargetRef.name} is not the worker Deployment`);
    r.check('scaledobject', what, s.minReplicaCount === 0, 'minReplicaCount must be 0 (no shards, no workers)');
    r.check('scaledobject', what, Number.isInteger(s.maxReplicaCount) && s.maxReplicaCount >= 1, 'maxReplicaCount must be set');
    r.check('scaledobject', what, Number.isInteger(s.pollingInterval) && s.pollingInterval > 0, 'pollingInterval must be set');
    r.check('scaledobject', what, Number.isInteger(s.cooldownPeriod) && s.cooldownPeriod > 0, 'cooldownPeriod must be set');
    checkBehavior(r, what, s.advanced && s.advanced.horizontalPodAutoscalerConfig && s.advanced.horizontalPodAutoscalerConfig.behavior,
      'advanced.horizontalPodAutoscalerConfig.behavior');
    const triggers = s.triggers || [];
    r.check('scaledobject', what, triggers.length === 1 && triggers[0].type === 'prometheus', 'expected one prometheus trigger');
    for (const t of triggers.filter((x) => x.type === 'prometheus')) {
      const threshold = Number(t.metadata && t.metadata.threshold);
      r.check('scaledobject', what, threshold > 0, 'the trigger needs a positive threshold (shards per worker)');
      r.check('scaledobject', what, /^https?:\/\//.test(String(t.metadata && t.metadata.serverAddress)), 'the trigger needs serverAddress');
      checkQuery(r, what, t.metadata && t.metadata.query, ctx, m, 'the trigger query');
      ctx.queries.push({ overlay: m.name, what, query: t.metadata && t.metadata.query });
    }
  }
  for (const hpa of m.ofKind('HorizontalPodAutoscaler')) {
    const what = describe(hpa);
    const s = hpa.spec;
    r.check('hpa', what, hpa.apiVersion === 'autoscaling/v2', 'apiVersion must be autoscaling/v2');
    r.check('hpa', what, workers.some((w) => w.metadata.name === s.scaleTargetRef.name && s.scaleTargetRef.kind === w.kind),
      `scaleTargetRef ${s.scaleTargetRef.kind}/${s.scaleTargetRef.name} is not the worker Deployment`);
    r.check('hpa', what, Number.isInteger(s.minReplicas) && s.minReplicas >= 1 && s.maxReplicas >= s.minReplicas,
      'minReplicas (at least 1) and maxReplicas must be set');
    checkBehavior(r, what, s.behavior, 'behavior');
    const metrics = s.metrics || [];
    r.check('hpa', what, metrics.length === 1, 'expected one metric');
    for (const metric of metrics) {
      const body = metric.type === 'External' ? metric.external : metric.type === 'Object' ? metric.object : undefined;
      r.check('hpa', what, !!body, `metric type ${metric.type}: expected External or Object`);
      if (!body) continue;
      r.check('hpa', what, body.target && body.target.type === 'AverageValue' && parseQuantity(body.target.averageValue) > 0,
        'the target must be an AverageValue (shards per worker)');
      const name = body.metric && body.metric.name;
      // The HPA reads the metric through prometheus-adapter: its rule says which query.
      const rule = (ctx.adapterRules || []).find((x) => x.name && x.name.as === name);
      if (ctx.exported.has(name)) {
        checkQuery(r, what, name, ctx, m, `metric ${name}`);
      } else if (r.check('metrics-exported', what, !!rule,
        `metric ${name} is neither exported by the coordinator nor made by a prometheus-adapter rule (${ctx.adapterName || 'none given'})`)) {
        checkQuery(r, what, rule.metricsQuery, ctx, m, `the prometheus-adapter rule for ${name}`);
        ctx.queries.push({ overlay: m.name, what: `${what} (prometheus-adapter rule ${name})`, query: rule.metricsQuery });
      }
    }
  }
}

function checkMonitoring(m, r, ctx) {
  const coordinator = m.component('coordinator')[0];
  const cc = coordinator && mainContainer(coordinator, 'coordinator');
  const metricsAuth = cc && flagValue(args(cc), '--metrics-auth') !== undefined;
  const tls = cc && flagValue(args(cc), '--tls-cert') !== undefined;
  for (const sm of m.ofKind('ServiceMonitor')) {
    const what = describe(sm);
    const services = m.ofKind('Service').filter((s) => selectorMatches(sm.spec.selector, s.metadata.labels || {}));
    const service = services.find((s) => coordinator && serviceSelects(s, podLabels(coordinator)));
    r.check('servicemonitor', what, !!service, 'selects no Service of the coordinator');
    for (const ep of sm.spec.endpoints || []) {
      r.check('servicemonitor', what, !!service && (service.spec.ports || []).some((p) => p.name === ep.port),
        `port ${ep.port} is not a port name of the coordinator's Service`);
      r.check('servicemonitor', what, (ep.path || '/metrics') === '/metrics', `path ${ep.path}`);
      if (tls) r.check('servicemonitor', what, ep.scheme === 'https', 'the coordinator serves HTTPS: scheme must be https');
      if (metricsAuth) {
        const cred = (ep.authorization && ep.authorization.credentials) || ep.bearerTokenSecret;
        if (r.check('servicemonitor', what, !!(cred && cred.name && cred.key), 'the coordinator runs with --metrics-auth: the endpoint needs a bearer token')) {
          checkSecretRef(r, what, cred.name, [cred.key], ctx);
        }
      }
      const ca = ep.tlsConfig && ep.tlsConfig.ca && ep.tlsConfig.ca.secret;
      if (ca) checkSecretRef(r, what, ca.name, [ca.key], ctx);
    }
  }
  for (const cm of m.ofKind('ConfigMap').filter((x) => x.metadata.labels && x.metadata.labels.grafana_dashboard)) {
    const what = describe(cm);
    for (const [file, text] of Object.entries(cm.data || {})) {
      let dash;
      try {
        dash = JSON.parse(text);
      } catch (e) {
        r.check('grafana-dashboard', what, false, `${file} is not JSON: ${e.message}`);
        continue;
      }
      const exprs = [];
      const walk = (panels) => {
        for (const p of panels || []) {
          for (const t of p.targets || []) if (t.expr) exprs.push({ panel: p.title, expr: t.expr });
          walk(p.panels);
        }
      };
      walk(dash.panels);
      r.check('grafana-dashboard', what, exprs.length > 0, `${file} has no queries`);
      const seen = new Set();
      for (const { panel, expr } of exprs) {
        let names = [];
        try {
          names = metricNames(expr);
        } catch (e) {
          r.check('grafana-dashboard', what, false, `panel "${panel}": ${e.message}`);
        }
        for (const n of names) {
          seen.add(n);
          r.check('grafana-dashboard', what, ctx.exported.has(n), `panel "${panel}" reads ${n}, which the coordinator's /metrics does not export`);
        }
      }
      for (const n of DASHBOARD_METRICS) {
        r.check('grafana-dashboard', what, seen.has(n), `${file} shows nothing of ${n}`);
      }
    }
  }
  if (ctx.requireMonitoring) {
    r.check('servicemonitor', m.name, m.ofKind('ServiceMonitor').length === 1, 'expected one ServiceMonitor');
    r.check('grafana-dashboard', m.name,
      m.ofKind('ConfigMap').some((x) => x.metadata.labels && x.metadata.labels.grafana_dashboard), 'expected the Grafana dashboard ConfigMap');
  }
}

function checkOverlay(m, ctx) {
  const r = new Report(m.name);
  checkPods(m, r, ctx);
  checkCoordinator(m, r);
  checkWorker(m, r, ctx);
  checkRedis(m, r, ctx);
  checkNetwork(m, r);
  checkAutoscaling(m, r, ctx);
  checkMonitoring(m, r, ctx);
  return r;
}

// Across overlays: KEDA and the HPA scale on one and the same query.
function checkSameSignal(queries, r) {
  const norm = (q) => String(q).replace(/\s+/g, '');
  for (const q of queries.slice(1)) {
    r.check('same-signal', q.what, norm(q.query) === norm(queries[0].query),
      `scales on "${q.query}", but ${queries[0].overlay} ${queries[0].what} on "${queries[0].query}"`);
  }
}

module.exports = { Report, checkOverlay, checkSameSignal, DASHBOARD_METRICS, SIGNAL };
