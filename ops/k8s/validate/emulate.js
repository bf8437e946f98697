#!/usr/bin/env node
// Runs the pods of one rendered overlay on this machine, as the kubelet would run them but
// without a cluster: Redis, one coordinator and one worker, each with its volumes made
// from Secrets (files given), ConfigMaps (from the overlay), emptyDirs and claims (empty
// folders), its init containers first, then its command and args exactly as written, with
// $(VAR) expanded from its env. What cannot be the same is moved, and only that:
//   - paths inside the image and mount paths become folders of the sandbox;
//   - every pod shares this machine's loopback, so each container port gets a free port
//     and Service addresses (synthfarm-redis:6379) point at it; redis-server is told its
//     port and loopback address on its command line, after the configuration file.
// Then it checks what the cluster would: every probe passes (httpGet, tcpSocket, exec);
// /healthz answers without credentials; /metrics refuses a request without a token and
// answers the viewer token the docs say to make (`synthfarm token create`, run with the
// coordinator container's Redis user and password file), over TLS verified with the CA
// and server name the ServiceMonitor uses; the worker (its Redis user, its CURVE key
// copied by its init container, the coordinator's allow-list) shows up alive in
// /metrics; on SIGTERM every program exits 0 within its pod's grace period.
//
//   node emulate.js --overlay RENDERED.yaml --secrets DIR --work DIR --metrics-out FILE
//       --image-path /usr/bin/synthfarm-coordinator=BUILD/bin/synthfarm-coordinator ...
//       [--submit SPEC [--stop-during SPEC2]]
//
// --submit: also submits SPEC through the API with an admin token made the same way, waits
// for the job, and checks its manifest.json where the coordinator's file:// --storage-root
// (the overlay's claim) says. --stop-during: then submits SPEC2 (a shard that takes a few
// seconds) and stops the worker with SIGTERM while it holds the lease, as a scale-down
// does: the shard must be back in the queue at once and the worker gone within its grace.
//
// DIR of --secrets holds one folder per Secret with one file per key
// (DIR/synthfarm-redis/worker); the viewer token is written to
// DIR/synthfarm-metrics-token/token.
'use strict';

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const https = require('https');
const net = require('net');
const path = require('path');
const { containers, flagValue, loadObjects, podLabels, podSpec, serviceSelects } = require('./lib/manifests');

function fail(message) {
  process.stderr.write(`emulate: ${message}\n`);
  throw new EmulationError(message);
}
class EmulationError extends Error {}

function parseArgs(argv) {
  const opts = { imagePaths: [] };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--overlay') opts.overlay = value();
    else if (a === '--secrets') opts.secrets = value();
    else if (a === '--work') opts.work = value();
    else if (a === '--metrics-out') opts.metricsOut = value();
    else if (a === '--submit') opts.submit = path.resolve(value());
    else if (a === '--stop-during') opts.stopDuring = path.resolve(value());
    else if (a === '--image-path') {
      const [from, to] = value().split('=');
      if (!from || !to) usage('--image-path FROM=TO');
      opts.imagePaths.push([from, path.resolve(to)]);
    } else usage(`unknown argument ${a}`);
  }
  for (const k of ['overlay', 'secrets', 'work', 'metricsOut']) if (!opts[k]) usage(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required`);
  return opts;
}

function usage(message) {
  process.stderr.write(`emulate.js: ${message}\n`);
  process.exit(2);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the sandbox: volumes and the rewriting of paths and addresses ------------------

class Pod {
  constructor(sandbox, workload, objects, secretsDir, claims) {
    this.workload = workload;
    this.name = workload.metadata.name;
    this.spec = podSpec(workload);
    this.dir = path.join(sandbox, this.name);
    fs.mkdirSync(this.dir, { recursive: true });
    this.volumes = new Map(); // volume name -> folder
    this.configMapVolumes = new Set();
    const configMaps = new Map(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o]));
    for (const v of this.spec.volumes || []) {
      const dir = path.join(this.dir, 'volumes', v.name);
      fs.mkdirSync(dir, { recursive: true });
      if (v.secret) {
        const src = path.join(secretsDir, v.secret.secretName);
        if (!fs.existsSync(src)) fail(`${this.name}: volume ${v.name}: no Secret ${v.secret.secretName} in ${secretsDir}`);
        const items = v.secret.items || fs.readdirSync(src).map((key) => ({ key, path: key }));
        for (const item of items) {
          const from = path.join(src, item.key);
          if (!fs.existsSync(from)) fail(`${this.name}: Secret ${v.secret.secretName} has no key ${item.key}`);
          const to = path.join(dir, item.path);
          fs.copyFileSync(from, to);
          // The kubelet writes a Secret's files as root with defaultMode (0644 when unset).
          fs.chmodSync(to, item.mode !== undefined ? item.mode : v.secret.defaultMode !== undefined ? v.secret.defaultMode : 0o644);
        }
      } else if (v.configMap) {
        const cm = configMaps.get(v.configMap.name);
        if (!cm) fail(`${this.name}: volume ${v.name}: no ConfigMap ${v.configMap.name} in the overlay`);
        const items = v.configMap.items || Object.keys(cm.data || {}).map((key) => ({ key, path: key }));
        for (const item of items) {
          fs.writeFileSync(path.join(dir, item.path), cm.data[item.key]);
        }
        this.configMapVolumes.add(v.name);
      } else if (v.persistentVolumeClaim) {
        this.volumes.set(v.name, claims(v.persistentVolumeClaim.claimName));
        continue;
      } else if (!v.emptyDir) {
        fail(`${this.name}: volume ${v.name}: only secret, configMap, emptyDir and persistentVolumeClaim volumes are emulated`);
      }
      this.volumes.set(v.name, dir);
    }
    for (const t of workload.spec.volumeClaimTemplates || []) {
      this.volumes.set(t.metadata.name, claims(`${t.metadata.name}-${this.name}-0`));
    }
  }

  // mountPath -> where it is here, for one container.
  mounts(container) {
    const out = [];
    for (const mount of container.volumeMounts || []) {
      const dir = this.volumes.get(mount.name);
      if (!dir) fail(`${this.name}/${container.name}: mounts ${mount.name}, which is no volume`);
      out.push([mount.mountPath, mount.subPath ? path.join(dir, mount.subPath) : dir]);
    }
    return out;
  }

  // Configuration files from ConfigMaps name paths inside the container (redis.conf's
  // dir and aclfile): each container gets its own copy of them with the paths moved.
  rewriteConfigMaps(container, mounts, rewrite) {
    return mounts.map(([mountPath, local], i) => {
      const mount = container.volumeMounts[i];
      if (!this.configMapVolumes.has(mount.name)) return [mountPath, local];
      const copy = path.join(this.dir, 'config', container.name, mount.name, mount.subPath || '');
      fs.mkdirSync(mount.subPath ? path.dirname(copy) : copy, { recursive: true });
      const files = mount.subPath ? [[local, copy]] : fs.readdirSync(local).map((f) => [path.join(local, f), path.join(copy, f)]);
      for (const [from, to] of files) fs.writeFileSync(to, rewrite(fs.readFileSync(from, 'utf8')));
      return [mountPath, copy];
    });
  }
}

// Replaces whole path prefixes (FROM followed by '/' or the end of a path, also inside
// file:// locations and comma-separated lists) and addresses,
// in one pass: a replacement is never rewritten again (the sandbox may lie under /tmp,
// itself a mount path).
function rewriter(pathMap, addressMap) {
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const paths = new Map(pathMap);
  const addresses = new Map(addressMap);
  const longestFirst = (keys) => [...keys].sort((a, b) => b.length - a.length).map(escape).join('|');
  const re = new RegExp(
    `(${longestFirst(addresses.keys()) || '(?!)'})(?![0-9])` +
    `|(^|[\\s=:"'(,]|file://)(${longestFirst(paths.keys()) || '(?!)'})(?=/|$|[\\s"';)&|,])`, 'gm');
  return (text) => String(text).replace(re, (match, address, lead, p) =>
    (address !== undefined ? addresses.get(address) : lead + paths.get(p)));
}

// $(VAR) from the container's env, as the kubelet expands command and args.
function environment(container, objects, secretsDir, podName) {
  const env = {};
  const configMaps = new Map(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o]));
  for (const e of container.env || []) {
    const from = e.valueFrom;
    if (!from) env[e.name] = e.value === undefined ? '' : String(e.value);
    else if (from.configMapKeyRef) {
      const cm = configMaps.get(from.configMapKeyRef.name);
      if (!cm || !cm.data || cm.data[from.configMapKeyRef.key] === undefined) {
        fail(`${container.name}: env ${e.name}: ConfigMap ${from.configMapKeyRef.name} key ${from.configMapKeyRef.key} is missing`);
      }
      env[e.name] = cm.data[from.configMapKeyRef.key];
    } else if (from.secretKeyRef) {
      const file = path.join(secretsDir, from.secretKeyRef.name, from.secretKeyRef.key);
      if (!fs.existsSync(file)) fail(`${container.name}: env ${e.name}: no Secret key ${from.secretKeyRef.name}/${from.secretKeyRef.key}`);
      env[e.name] = fs.readFileSync(file, 'utf8');
    } else if (from.fieldRef && from.fieldRef.fieldPath === 'metadata.name') {
      env[e.name] = `${podName}-emulated`;
    } else {
      fail(`${container.name}: env ${e.name}: only value, configMapKeyRef, secretKeyRef and fieldRef metadata.name are emulated`);
    }
  }
  return env;
}

function expand(text, env) {
  return String(text).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name) => (name in env ? env[name] : m));
}

// ---- running containers ---------------------------------------------------------------

class Farm {
  constructor(opts, objects) {
    this.opts = opts;
    this.objects = objects;
    this.processes = [];
    this.claimsDir = path.join(opts.work, 'claims');
    this.notes = [];
  }

  claim(name) {
    const dir = path.join(this.claimsDir, name);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  workload(component) {
    const w = this.objects.find((o) => podSpec(o) && podLabels(o)['app.kubernetes.io/component'] === component);
    if (!w) fail(`no ${component} workload in the overlay`);
    return w;
  }

  // Container port -> local port, and every Service address -> local address.
  async allocatePorts() {
    this.ports = new Map();
    for (const w of this.objects.filter((o) => podSpec(o))) {
      for (const { container } of containers(podSpec(w))) {
        for (const p of container.ports || []) {
          if (!this.ports.has(p.containerPort)) this.ports.set(p.containerPort, await freePort());
        }
      }
    }
    this.addresses = [];
    for (const [port, local] of this.ports) this.addresses.push([`0.0.0.0:${port}`, `127.0.0.1:${local}`]);
    for (const s of this.objects.filter((o) => o.kind === 'Service')) {
      const w = this.objects.find((o) => podSpec(o) && serviceSelects(s, podLabels(o)));
      if (!w) continue;
      for (const p of s.spec.ports || []) {
        const target = this.containerPort(w, p.targetPort === undefined ? p.port : p.targetPort);
        const local = this.ports.get(target);
        if (local) this.addresses.push([`${s.metadata.name}:${p.port}`, `127.0.0.1:${local}`]);
      }
    }
  }

  containerPort(w, port) {
    if (typeof port === 'number') return port;
    for (const { container } of containers(podSpec(w))) {
      const p = (container.ports || []).find((x) => x.name === port);
      if (p) return p.containerPort;
    }
    return undefined;
  }

  prepare(pod, container) {
    const mounts = pod.mounts(container);
    const rewriteFiles = rewriter([...this.opts.imagePaths, ...mounts], this.addresses);
    const map = [...this.opts.imagePaths, ...pod.rewriteConfigMaps(container, mounts, rewriteFiles)];
    const rewrite = rewriter(map, this.addresses);
    const env = environment(container, this.objects, this.opts.secrets, pod.name);
    const argv = [...(container.command || []), ...(container.args || [])].map((a) => rewrite(expand(a, env)));
    if (!argv.length) fail(`${pod.name}/${container.name}: no command (the image's entrypoint is not emulated)`);
    return { argv, env, rewrite };
  }

  // Runs an init container to its end; it must exit 0.
  runInit(pod, container) {
    const { argv, env } = this.prepare(pod, container);
    const r = spawnSync(argv[0], argv.slice(1), {
      env: { ...process.env, ...env },
      cwd: pod.dir,
      encoding: 'utf8',
      timeout: 20000,
    });
    if (r.status !== 0) {
      fail(`${pod.name}: init container ${container.name} exited ${r.status}${r.error ? ` (${r.error.message})` : ''}: ${r.stderr}`);
    }
  }

  start(pod, container, extraArgs = []) {
    const { argv, env, rewrite } = this.prepare(pod, container);
    const log = path.join(this.opts.work, `${pod.name}.${container.name}.log`);
    const out = fs.openSync(log, 'w');
    const child = spawn(argv[0], [...argv.slice(1), ...extraArgs], {
      env: { ...process.env, ...env },
      cwd: pod.dir,
      stdio: ['ignore', out, out],
    });
    const proc = { pod, container, child, log, argv, rewrite, exited: null };
    child.on('exit', (code, signal) => {
      proc.exited = { code, signal };
    });
    child.on('error', (e) => {
      proc.exited = { code: -1, signal: null, error: e.message };
    });
    this.processes.push(proc);
    return proc;
  }

  // The kubelet's probes.
  async probe(proc, probe, kind) {
    const port = (p) => this.ports.get(this.containerPort(proc.pod.workload, p));
    if (probe.httpGet) {
      const g = probe.httpGet;
      const status = await request({
        scheme: (g.scheme || 'HTTP').toLowerCase(),
        port: port(g.port),
        path: g.path || '/',
        // The kubelet does not verify a probe's certificate.
        verify: false,
      }).then((r) => r.status, () => 0);
      return { ok: status >= 200 && status < 400, what: `${kind} ${g.scheme || 'HTTP'} GET ${g.path} -> ${status}` };
    }
    if (probe.tcpSocket) {
      const ok = await new Promise((resolve) => {
        const s = net.connect(port(probe.tcpSocket.port), '127.0.0.1');
        s.on('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      return { ok, what: `${kind} tcp ${probe.tcpSocket.port}` };
    }
    if (probe.exec) {
      const cmd = probe.exec.command.map((a) => proc.rewrite(a));
      const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', timeout: 10000 });
      return { ok: r.status === 0, what: `${kind} exec ${JSON.stringify(probe.exec.command)} -> ${r.status}` };
    }
    fail(`${proc.pod.name}: ${kind} of an unknown kind`);
    return undefined;
  }

  // Waits until every probe of the container passes (startup, readiness, liveness).
  async ready(proc, timeoutMs, skipExec) {
    const c = proc.container;
    const probes = ['startupProbe', 'readinessProbe', 'livenessProbe'].filter((k) => c[k]);
    const results = [];
    for (const kind of probes) {
      if (skipExec && c[kind].exec) continue;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (proc.exited) fail(`${proc.pod.name}/${c.name} exited (${JSON.stringify(proc.exited)}); log:\n${tail(proc.log)}`);
        const r = await this.probe(proc, c[kind], kind);
        if (r.ok) {
          results.push(r.what);
          break;
        }
        if (Date.now() > deadline) fail(`${proc.pod.name}/${c.name}: ${r.what} still failing after ${timeoutMs} ms; log:\n${tail(proc.log)}`);
        await sleep(200);
      }
    }
    return results;
  }

  // SIGTERM, as the kubelet stops a pod; it must end with 0 within the grace period.
  async stop(proc) {
    if (proc.exited) fail(`${proc.pod.name}/${proc.container.name} had already exited (${JSON.stringify(proc.exited)}); log:\n${tail(proc.log)}`);
    const grace = proc.pod.spec.terminationGracePeriodSeconds === undefined ? 30 : proc.pod.spec.terminationGracePeriodSeconds;
    const t0 = Date.now();
    proc.child.kill('SIGTERM');
    while (!proc.exited && Date.now() - t0 < grace * 1000) await sleep(50);
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    if (!proc.exited) {
      proc.child.kill('SIGKILL');
      fail(`${proc.pod.name}/${proc.container.name} did not stop within its ${grace} s grace period`);
    }
    if (proc.exited.code !== 0) {
      fail(`${proc.pod.name}/${proc.container.name} exited ${JSON.stringify(proc.exited)} on SIGTERM; log:\n${tail(proc.log)}`);
    }
    return `${proc.container.name} stopped on SIGTERM with 0 in ${seconds} s (grace ${grace} s)`;
  }

  killAll() {
    for (const p of this.processes) if (!p.exited) p.child.kill('SIGKILL');
  }
}

function tail(file) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch (e) {
    return `(no log: ${e.message})`;
  }
}

function request({ scheme, port, path: urlPath, headers = {}, verify, ca, servername }) {
  return new Promise((resolve, reject) => {
    const mod = scheme === 'https' ? https : http;
    const req = mod.request({
      host: '127.0.0.1',
      port,
      path: urlPath,
      headers,
      rejectUnauthorized: verify,
      ca,
      servername,
      timeout: 5000,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

// ---- the farm's checks ---------------------------------------------------------------

async function emulate(opts) {
  const objects = loadObjects(opts.overlay);
  const farm = new Farm(opts, objects);
  const lines = [];
  try {
    await farm.allocatePorts();
    const claims = (name) => farm.claim(name);
    const redisW = farm.workload('redis');
    const coordW = farm.workload('coordinator');
    const workerW = farm.workload('worker');
    const pods = {};
    for (const [k, w] of [['redis', redisW], ['coordinator', coordW], ['worker', workerW]]) {
      pods[k] = new Pod(path.join(opts.work, 'pods'), w, objects, opts.secrets, claims);
    }

    // Redis: the ACL file from the init container, then the server.
    for (const c of podSpec(redisW).initContainers || []) farm.runInit(pods.redis, c);
    const redisC = podSpec(redisW).containers[0];
    const redisPort = farm.ports.get(farm.containerPort(redisW, (redisC.ports || [])[0].containerPort));
    const redis = farm.start(pods.redis, redisC, ['--port', String(redisPort), '--bind', '127.0.0.1']);
    lines.push(...(await farm.ready(redis, 10000)));
    lines.push(`redis-server up with the rendered redis.conf and ACL file (port 6379 -> ${redisPort})`);

    // The coordinator.
    for (const c of podSpec(coordW).initContainers || []) farm.runInit(pods.coordinator, c);
    const coordC = podSpec(coordW).containers.find((c) => c.name === 'coordinator');
    const coordinator = farm.start(pods.coordinator, coordC);
    lines.push(...(await farm.ready(coordinator, 20000)));

    // A viewer token for Prometheus, as docs/deploy.md makes it: `synthfarm token create`
    // in the coordinator's container, with its Redis user and password file.
    const cli = coordinator.rewrite('/usr/bin/synthfarm');
    const ca = coordinator.argv;
    const redisUrl = flagValue(ca, '--redis');
    const passwordFile = flagValue(ca, '--redis-password-file');
    const created = spawnSync(cli, ['token', 'create', '--role', 'viewer', '--name', 'prometheus',
      '--redis', redisUrl, '--redis-password-file', passwordFile], { encoding: 'utf8', timeout: 20000 });
    if (created.status !== 0) fail(`synthfarm token create exited ${created.status}: ${created.stderr}`);
    const token = created.stdout.trim();
    if (!/^sft_[0-9a-f]{64}$/.test(token)) fail(`synthfarm token create printed no token: ${created.stdout}`);
    const tokenDir = path.join(opts.secrets, 'synthfarm-metrics-token');
    fs.mkdirSync(tokenDir, { recursive: true });
    // As docs/deploy.md stores it: the token alone, no line break (an HTTP header value).
    fs.writeFileSync(path.join(tokenDir, 'token'), token, { mode: 0o600 });

    // /metrics as Prometheus scrapes it: the ServiceMonitor's scheme, port, path, token
    // and TLS settings where the overlay has one; else HTTPS on the --listen port.
    const sm = objects.find((o) => o.kind === 'ServiceMonitor');
    const service = objects.find((o) => o.kind === 'Service' && serviceSelects(o, podLabels(coordW)));
    let scrape = { scheme: flagValue(ca, '--tls-cert') ? 'https' : 'http', portName: 'http', path: '/metrics', servername: service.metadata.name };
    let tokenFile = path.join(tokenDir, 'token');
    let caFile = path.join(opts.secrets, 'synthfarm-tls', 'ca.crt');
    if (sm) {
      const ep = sm.spec.endpoints[0];
      const cred = (ep.authorization && ep.authorization.credentials) || ep.bearerTokenSecret;
      tokenFile = path.join(opts.secrets, cred.name, cred.key);
      const caRef = ep.tlsConfig && ep.tlsConfig.ca && ep.tlsConfig.ca.secret;
      if (caRef) caFile = path.join(opts.secrets, caRef.name, caRef.key);
      scrape = { scheme: ep.scheme || 'http', portName: ep.port, path: ep.path || '/metrics',
        servername: (ep.tlsConfig && ep.tlsConfig.serverName) || service.metadata.name };
    }
    const servicePort = service.spec.ports.find((p) => p.name === scrape.portName);
    if (!servicePort) fail(`the coordinator's Service has no port ${scrape.portName}`);
    const port = farm.ports.get(farm.containerPort(coordW, servicePort.targetPort));
    const tls = { verify: true, ca: fs.readFileSync(caFile), servername: scrape.servername };
    const anonymous = await request({ scheme: scrape.scheme, port, path: scrape.path, ...tls });
    if (anonymous.status !== 401) fail(`GET ${scrape.path} without a token answered ${anonymous.status}, expected 401 (--metrics-auth)`);
    const bearer = { Authorization: `Bearer ${fs.readFileSync(tokenFile, 'utf8')}` };
    // A token made within 100 ms of the coordinator's last read of its token table may be
    // refused once (auth/authenticator.h): Prometheus scrapes again; so does this, for 3 s.
    let metrics;
    for (const deadline = Date.now() + 3000; ;) {
      metrics = await request({ scheme: scrape.scheme, port, path: scrape.path, headers: bearer, ...tls });
      if (metrics.status === 200 || Date.now() > deadline) break;
      await sleep(150);
    }
    if (metrics.status !== 200) fail(`GET ${scrape.path} with the viewer token answered ${metrics.status}`);
    fs.writeFileSync(opts.metricsOut, metrics.body);
    lines.push(`${scrape.path}: 401 without a token, 200 with the viewer token over ${scrape.scheme} (certificate verified as ${scrape.servername})`);

    // A worker: its Redis user, its CURVE key as its init container copies it, the
    // coordinator's allow-list. Alive in /metrics means every link works.
    for (const c of podSpec(workerW).initContainers || []) farm.runInit(pods.worker, c);
    const workerC = podSpec(workerW).containers.find((c) => c.name === 'worker');
    const workerBin = farm.prepare(pods.worker, workerC).argv[0];
    const help = spawnSync(workerBin, ['--help'], { encoding: 'utf8' }).stdout || '';
    let skipExec = false;
    const originalArgs = workerC.args;
    if (!help.includes('--health-file')) {
      // The flag comes with the worker's health file; this binary predates it.
      workerC.args = (workerC.args || []).filter((a) => !String(a).startsWith('--health-file'));
      skipExec = true;
      farm.notes.push(`NOTE: ${workerBin} has no --health-file yet: started without it, and its exec probes were not run`);
    }
    const worker = farm.start(pods.worker, workerC);
    workerC.args = originalArgs;
    lines.push(...(await farm.ready(worker, 30000, skipExec)));
    const deadline = Date.now() + 20000;
    for (;;) {
      if (worker.exited) fail(`the worker exited (${JSON.stringify(worker.exited)}); log:\n${tail(worker.log)}`);
      const r = await request({ scheme: scrape.scheme, port, path: scrape.path, headers: bearer, ...tls });
      const alive = /^synthfarm_workers_alive (\d+)/m.exec(r.body);
      if (alive && Number(alive[1]) >= 1) break;
      if (Date.now() > deadline) fail(`the worker never showed up in synthfarm_workers_alive; worker log:\n${tail(worker.log)}\ncoordinator log:\n${tail(coordinator.log)}`);
      await sleep(250);
    }
    lines.push('worker alive in /metrics (Redis user worker, CURVE both ways)');

    // A job through the API, rendered by the worker and finalized by the coordinator into
    // the storage the overlay names (a file:// root: the claim's folder here).
    let client;
    if (opts.submit) {
      client = await submitJob(opts, { cli, redisUrl, passwordFile, port, caFile, coordinatorArgs: ca });
      lines.push(client.line);
    }

    if (opts.stopDuring) {
      if (!client) fail('--stop-during needs --submit');
      const scrapeMetrics = async () => (await request({ scheme: scrape.scheme, port, path: scrape.path, headers: bearer, ...tls })).body;
      lines.push(await stopDuringShard(farm, worker, client, opts.stopDuring, scrapeMetrics));
    } else {
      lines.push(await farm.stop(worker));
    }
    lines.push(await farm.stop(coordinator));
    lines.push(await farm.stop(redis));
    return { lines, notes: farm.notes };
  } finally {
    farm.killAll();
  }
}

async function submitJob(opts, { cli, redisUrl, passwordFile, port, caFile, coordinatorArgs }) {
  const root = flagValue(coordinatorArgs, '--storage-root');
  if (!/^file:\/\//.test(String(root))) fail(`--submit: the coordinator's --storage-root ${root} is not a file:// location here`);
  const env = { ...process.env, XDG_CONFIG_HOME: path.join(opts.work, 'cli-config') };
  const run = (args, what) => {
    const r = spawnSync(cli, args, { encoding: 'utf8', timeout: 120000, env });
    if (r.status !== 0) fail(`${what} exited ${r.status}: ${r.stderr}`);
    return r.stdout.trim();
  };
  env.SYNTHFARM_TOKEN = run(['token', 'create', '--role', 'admin', '--name', 'emulated-admin',
    '--redis', redisUrl, '--redis-password-file', passwordFile], 'synthfarm token create --role admin');
  // The coordinator reads its token table again on an unknown token at most ten times a
  // second (auth/authenticator.h): a token made within 100 ms of its last read can be
  // refused once. Wait until it is accepted, as a person's next try would be.
  const deadline = Date.now() + 3000;
  for (;;) {
    const r = await request({ scheme: 'https', port, path: '/api/jobs', verify: true, ca: fs.readFileSync(caFile),
      servername: 'localhost', headers: { Authorization: `Bearer ${env.SYNTHFARM_TOKEN}` } });
    if (r.status === 200) break;
    if (Date.now() > deadline) fail(`the new admin token is still refused after 3 s: ${r.status} ${r.body}`);
    await sleep(150);
  }
  // The certificate names localhost (docs/deploy.md, step 3), as for kubectl port-forward.
  const remote = ['--url', `https://localhost:${port}`, '--ca-file', caFile];
  const job = run([...remote, 'submit', opts.submit], 'synthfarm submit');
  run([...remote, 'wait', job, '--timeout', '90'], `synthfarm wait ${job}`);
  const manifest = path.join(root.replace(/^file:\/\//, ''), job, 'manifest.json');
  if (!fs.existsSync(manifest)) fail(`job ${job} is done but ${manifest} does not exist`);
  const dataset = JSON.parse(fs.readFileSync(manifest, 'utf8'));
  if (dataset.complete !== true) fail(`job ${job}: ${manifest} says the dataset is not complete`);
  const line = `job ${job} submitted with an admin token, rendered and finalized: a complete dataset of ` +
    `${dataset.counts.samples} samples (${dataset.counts.objects} objects) where --storage-root points`;
  return { line, submit: (spec) => run([...remote, 'submit', spec], 'synthfarm submit') };
}

function gauge(body, name) {
  const m = new RegExp(`^${name} ([0-9.]+)$`, 'm').exec(body);
  return m ? Number(m[1]) : undefined;
}

// Scale-down's path: SIGTERM reaches a worker while it holds a lease. It must give the shard
// back to the queue at once (not leave it to expire after --lease-ms) and exit 0 within
// its grace period.
async function stopDuringShard(farm, worker, client, spec, scrapeMetrics) {
  const job = client.submit(spec);
  const deadline = Date.now() + 30000;
  for (;;) {
    if (worker.exited) fail(`the worker exited (${JSON.stringify(worker.exited)}); log:\n${tail(worker.log)}`);
    if (gauge(await scrapeMetrics(), 'synthfarm_shards_leased') >= 1) break;
    if (Date.now() > deadline) fail(`job ${job}: no shard was leased within 30 s; worker log:\n${tail(worker.log)}`);
    await sleep(100);
  }
  const t0 = Date.now();
  const stopped = await farm.stop(worker);
  const leaseMs = Number(flagValue(worker.argv, '--lease-ms') || 30000);
  let body;
  for (;;) {
    body = await scrapeMetrics();
    if (gauge(body, 'synthfarm_shards_leased') === 0 && gauge(body, 'synthfarm_shards_pending') >= 1) break;
    if (Date.now() - t0 > leaseMs / 2) {
      fail(`after SIGTERM the shard was not given back (leased ${gauge(body, 'synthfarm_shards_leased')}, ` +
        `pending ${gauge(body, 'synthfarm_shards_pending')}); worker log:\n${tail(worker.log)}`);
    }
    await sleep(100);
  }
  if (!/returned to the queue \(stop requested\)/.test(fs.readFileSync(worker.log, 'utf8'))) {
    fail(`the worker's log does not say it returned its shard; log:\n${tail(worker.log)}`);
  }
  return `SIGTERM while the worker held a lease of job ${job}: ${stopped}; the shard was back in the queue ` +
    `${((Date.now() - t0) / 1000).toFixed(1)} s after the signal (its lease: ${leaseMs / 1000} s)`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  // A free port may be taken by another program between being chosen and being bound
  // (other tests on the machine): then the whole run starts again on new ports, twice at most.
  for (let attempt = 1; ; ++attempt) {
    const work = attempt === 1 ? opts.work : `${opts.work}.${attempt}`;
    fs.mkdirSync(work, { recursive: true });
    try {
      const { lines, notes } = await emulate({ ...opts, work });
      for (const l of lines) console.log(`  ${l}`);
      for (const n of notes) console.log(`  ${n}`);
      return;
    } catch (e) {
      if (!(e instanceof EmulationError)) process.stderr.write(`emulate: ${e.stack}\n`);
      if (e instanceof EmulationError && /address already in use|EADDRINUSE|port in use/i.test(e.message) && attempt < 3) {
        process.stderr.write('emulate: a port was taken meanwhile; again on new ports\n');
        continue;
      }
      process.exit(1);
    }
  }
}

if (require.main === module) main();
