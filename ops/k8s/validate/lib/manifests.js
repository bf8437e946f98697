// Reading rendered manifests (the output of `kustomize build`) and the questions every
// check asks of them: which object is the coordinator's Deployment, which containers a
// pod has, what a label selector matches, what a flag's value is.
'use strict';

const fs = require('fs');
const YAML = require('yaml');

// Every document of a multi-document YAML file, with where it came from. kustomize prints
// YAML 1.1 (go-yaml); nothing it prints reads differently under the 1.2 core schema except
// octal-looking numbers, which it never prints (0440 comes out as 288).
function loadObjects(file) {
  const text = fs.readFileSync(file, 'utf8');
  const docs = YAML.parseAllDocuments(text);
  const objects = [];
  docs.forEach((doc, i) => {
    if (doc.errors.length) {
      throw new Error(`${file}: document ${i + 1}: ${doc.errors[0].message}`);
    }
    const value = doc.toJS();
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`${file}: document ${i + 1} is not a Kubernetes object`);
    }
    objects.push(value);
  });
  return objects;
}

function describe(obj) {
  const name = obj && obj.metadata && obj.metadata.name;
  return `${obj.kind || '?'}/${name || '?'}`;
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicaSet']);

function podSpec(obj) {
  if (WORKLOAD_KINDS.has(obj.kind)) return obj.spec && obj.spec.template && obj.spec.template.spec;
  if (obj.kind === 'Pod') return obj.spec;
  if (obj.kind === 'CronJob') {
    return obj.spec && obj.spec.jobTemplate && obj.spec.jobTemplate.spec.template.spec;
  }
  return undefined;
}

function podLabels(obj) {
  if (obj.kind === 'Pod') return (obj.metadata && obj.metadata.labels) || {};
  const t = obj.spec && obj.spec.template;
  return (t && t.metadata && t.metadata.labels) || {};
}

// Init containers first, as the kubelet runs them.
function containers(spec) {
  const out = [];
  for (const c of (spec && spec.initContainers) || []) out.push({ container: c, init: true });
  for (const c of (spec && spec.containers) || []) out.push({ container: c, init: false });
  return out;
}

// A LabelSelector (matchLabels and matchExpressions) against a set of labels.
function selectorMatches(selector, labels) {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels || {})) {
    if (labels[k] !== v) return false;
  }
  for (const e of selector.matchExpressions || []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values || [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(labels[e.key])) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[e.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

// A Service's selector is a plain map.
function serviceSelects(service, labels) {
  const sel = (service.spec && service.spec.selector) || {};
  if (Object.keys(sel).length === 0) return false;
  return selectorMatches({ matchLabels: sel }, labels);
}

// `--name=value` or `--name value` in an argument list; a flag given alone reads as true.
function flagValue(args, name) {
  for (let i = 0; i < args.length; ++i) {
    const a = String(args[i]);
    if (a === name) {
      const next = args[i + 1];
      return next !== undefined && !String(next).startsWith('--') ? String(next) : true;
    }
    if (a.startsWith(name + '=')) return a.slice(name.length + 1);
  }
  return undefined;
}

function flagNames(args) {
  return args.map(String).filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]);
}

// Kubernetes quantities to numbers: CPU in cores, memory in bytes.
function parseQuantity(q) {
  if (typeof q === 'number') return q;
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(q));
  if (!m) return NaN;
  const n = Number(m[1]);
  const units = {
    '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12,
    Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4,
  };
  return units[m[2]] === undefined ? NaN : n * units[m[2]];
}

// The object set of one overlay, with the lookups the checks share.
class Manifests {
  constructor(name, objects) {
    this.name = name;
    this.objects = objects;
  }
  ofKind(kind) {
    return this.objects.filter((o) => o.kind === kind);
  }
  find(kind, name) {
    return this.objects.find((o) => o.kind === kind && o.metadata && o.metadata.name === name);
  }
  workloads() {
    return this.objects.filter((o) => podSpec(o) !== undefined);
  }
  // The workload whose pods carry app.kubernetes.io/component=COMPONENT.
  component(component) {
    return this.workloads().filter((o) => podLabels(o)['app.kubernetes.io/component'] === component);
  }
  // ConfigMaps by name, generated names included (kustomize appends a hash: callers pass
  // the name a reference uses, which kustomize rewrote to the hashed one).
  configMap(name) {
    return this.find('ConfigMap', name);
  }
  namespaces() {
    return new Set(this.objects.map((o) => (o.metadata && o.metadata.namespace) || ''));
  }
}

module.exports = {
  Manifests,
  containers,
  describe,
  flagNames,
  flagValue,
  loadObjects,
  parseQuantity,
  podLabels,
  podSpec,
  selectorMatches,
  serviceSelects,
};
