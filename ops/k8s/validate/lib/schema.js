// Every object against the JSON schema of its apiVersion and kind, from the pinned
// kubernetes-models packages: Kubernetes' own OpenAPI (kubernetes-models), KEDA's CRDs
// (@kubernetes-models/keda) and prometheus-operator's (@kubernetes-models/prometheus-operator).
// A kind none of them knows is an error: an object nobody can check is not applied.
//
// Kubernetes' schemas allow fields they do not define (no additionalProperties: false), so a
// misspelt field (`livenesProbe`) would pass them and be dropped by the API server. The
// schemas here are compiled validators that read every property they know from each object
// they check; reading the objects through a Proxy shows which properties were never read,
// and those are the unknown fields (what `kubectl apply --validate=strict` refuses). An
// object whose properties the validator reads none of, nor iterates, is free-form
// (a ConfigMap's data, a trigger's metadata): its fields are not judged.
'use strict';

const path = require('path');

// apiVersion -> the module folder that holds its kinds.
const GROUPS = [
  { match: (group) => group === '', pkg: 'kubernetes-models', dir: (g, v) => v },
  { match: (group) => group === 'keda.sh', pkg: '@kubernetes-models/keda', dir: (g, v) => `${g}/${v}` },
  {
    match: (group) => group === 'monitoring.coreos.com',
    pkg: '@kubernetes-models/prometheus-operator',
    dir: (g, v) => `${g}/${v}`,
  },
  // Every other group with a dot or a plain name (apps, policy, autoscaling, batch,
  // networking.k8s.io, rbac.authorization.k8s.io, ...) is Kubernetes' own.
  { match: () => true, pkg: 'kubernetes-models', dir: (g, v) => `${g}/${v}` },
];

function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    return undefined;
  }
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  if (!/^v[0-9a-z]+$/.test(version) || !/^[a-z0-9.-]*$/.test(group)) return undefined;
  const entry = GROUPS.find((g) => g.match(group));
  let mod;
  try {
    mod = require(`${entry.pkg}/${entry.dir(group, version)}/${kind}`);
  } catch (e) {
    if (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return undefined;
    throw e;
  }
  const model = mod[kind];
  // Nested types (Container, Affinity, ...) live beside the kinds but are no objects of
  // their own: only top-level kinds carry their apiVersion and kind.
  if (!model || model.apiVersion !== apiVersion || model.kind !== kind) return undefined;
  return model;
}

// Wraps value so that reads of its properties, at every depth, are recorded in `seen`.
function track(value, where, seen) {
  if (value === null || typeof value !== 'object') return value;
  const record = { where, value, read: new Set(), iterated: false };
  seen.push(record);
  return new Proxy(value, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (typeof key !== 'string') return v;
      record.read.add(key);
      if (Object.prototype.hasOwnProperty.call(target, key)) return track(v, `${where}/${key}`, seen);
      return v;
    },
    has(target, key) {
      if (typeof key === 'string') record.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      record.iterated = true;
      return Reflect.ownKeys(target);
    },
  });
}

// Errors of one object: [] when it is valid and every field is one its schema knows.
function validateObject(obj) {
  const model = modelFor(obj.apiVersion, obj.kind);
  if (!model) {
    return [`unknown kind: no schema for apiVersion ${JSON.stringify(obj.apiVersion)} kind ${JSON.stringify(obj.kind)}`];
  }
  const seen = [];
  try {
    // The model's validate() runs the compiled schema on `this`; the constructor would
    // deep-copy the object (and read every field), so call it on the tracked object itself.
    model.prototype.validate.call(track(obj, '', seen));
  } catch (e) {
    return [`schema: ${e.message}`];
  }
  const unknown = [];
  for (const r of seen) {
    if (Array.isArray(r.value) || r.iterated || r.read.size === 0) continue;
    for (const key of Object.keys(r.value)) {
      if (!r.read.has(key)) unknown.push(`${r.where}/${key}`);
    }
  }
  return unknown.map((field) => `schema: unknown field ${field}`);
}

function packageVersions() {
  const out = {};
  for (const pkg of ['kubernetes-models', '@kubernetes-models/keda', '@kubernetes-models/prometheus-operator']) {
    const file = require.resolve(`${pkg}/package.json`, { paths: [path.join(__dirname, '..')] });
    out[pkg] = require(file).version;
  }
  return out;
}

module.exports = { modelFor, packageVersions, validateObject };
