#!/usr/bin/env bash
# The Kubernetes manifests (ops/k8s), without a cluster (ctest label cluster):
#  1. every overlay renders with kustomize v2.0.3 (Debian's kubectl 1.20, ops/k8s/tools.sh);
#  2. each overlay's pods run here as written (ops/k8s/validate/emulate.js): Redis with its
#     rendered ACL file, the real coordinator and worker with the manifests' flags, Secrets
#     made as docs/deploy.md makes them; probes, /metrics with a viewer token over verified
#     TLS, the worker alive over CURVE, a small job through dev's farm into its claim, a
#     worker stopped (SIGTERM) while it holds a lease giving its shard back at once, every
#     program ending with 0 on SIGTERM within its grace period;
#  3. every object validates against its schema and the farm's invariants hold
#     (ops/k8s/validate/validate.js), with the metric names that coordinator exported;
#  4. the checks can fail: each of the self-test's broken copies is reported, and an
#     overlay patched to drop the worker's liveness probe, rendered by kustomize, fails.
#
#   tests/k8s_manifests_test.sh COORDINATOR_BIN WORKER_BIN SYNTHFARM_BIN
#
# Needs ops/k8s/validate/node_modules (npm ci --prefix ops/k8s/validate), openssl,
# redis-server, and the kubectl that ops/k8s/tools.sh unpacks (ops/test.sh sets all up).
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 COORDINATOR_BIN WORKER_BIN SYNTHFARM_BIN" >&2; exit 2; }
coordinator_bin=$(realpath "$1")
worker_bin=$(realpath "$2")
cli=$(realpath "$3")
cd "$(dirname "$0")/.."
root=$(pwd)
validate=ops/k8s/validate
if [[ ! -d $validate/node_modules/kubernetes-models ]]; then
  echo "k8s_manifests: $validate/node_modules is missing: run npm ci --prefix $validate" >&2
  exit 1
fi
for tool in node openssl redis-server; do
  command -v "$tool" >/dev/null || { echo "k8s_manifests: $tool is not installed (ops/setup.sh)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
overlays=(dev prod prod-hpa)

# 1. Render.
for o in "${overlays[@]}"; do
  ops/k8s/tools.sh kustomize "ops/k8s/overlays/$o" >"$work/$o.yaml"
done
echo "rendered ${overlays[*]} with $(ops/k8s/tools.sh kubectl version --client --short 2>/dev/null)"

# 2. Secrets, made the way docs/deploy.md makes them (one folder per Secret, one file per
# key), then each overlay's pods.
s=$work/secrets
mkdir -p "$s"/{synthfarm-redis,synthfarm-tls,synthfarm-curve-coordinator,synthfarm-curve-worker,synthfarm-s3} "$work/keys"
(umask 077
  openssl rand -base64 32 >"$s/synthfarm-redis/coordinator"
  openssl rand -base64 32 >"$s/synthfarm-redis/worker")
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=synthfarm-test-ca \
  -keyout "$work/keys/ca.key" -out "$s/synthfarm-tls/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=synthfarm-coordinator \
  -keyout "$s/synthfarm-tls/tls.key" -out "$work/keys/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:synthfarm-coordinator,DNS:localhost\n' >"$work/keys/san.ext"
openssl x509 -req -in "$work/keys/tls.csr" -CA "$s/synthfarm-tls/ca.crt" -CAkey "$work/keys/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/keys/san.ext" -out "$s/synthfarm-tls/tls.crt" 2>/dev/null
"$cli" keygen --out "$work/keys/coordinator" >/dev/null
"$cli" keygen --out "$work/keys/worker" >/dev/null
cp "$work/keys/coordinator.key" "$s/synthfarm-curve-coordinator/coordinator.key"
cp "$work/keys/worker.pub" "$s/synthfarm-curve-coordinator/allowed_workers"
cp "$work/keys/worker.key" "$s/synthfarm-curve-worker/worker.key"
cp "$work/keys/coordinator.pub" "$s/synthfarm-curve-worker/coordinator.pub"
printf 'AKIAK8SMANIFESTTEST' >"$s/synthfarm-s3/AWS_ACCESS_KEY_ID"
openssl rand -hex 20 | tr -d '\n' >"$s/synthfarm-s3/AWS_SECRET_ACCESS_KEY"

image_paths=(
  --image-path "/usr/bin/synthfarm-coordinator=$coordinator_bin"
  --image-path "/usr/bin/synthfarm-worker=$worker_bin"
  --image-path "/usr/bin/synthfarm=$cli"
  --image-path "/usr/share/synthfarm/web=$root/web"
)
# dev keeps datasets on a claim (a folder here): a small job goes through that farm too,
# then a job of one slower shard, during which the worker gets SIGTERM (a scale-down).
printf 'name: k8s-dev\nsamples: 2\nshard_size: 1\nseed: 1\ncamera:\n  resolution: [32, 24]\nrender:\n  spp: 1\n' \
  >"$work/spec.yaml"
printf 'name: k8s-stop\nsamples: 8\nshard_size: 8\nseed: 2\ncamera:\n  resolution: [160, 120]\nrender:\n  spp: 32\n' \
  >"$work/stop.yaml"
for o in "${overlays[@]}"; do
  echo "overlay $o, its pods run here:"
  submit=()
  [[ $o == dev ]] && submit=(--submit "$work/spec.yaml" --stop-during "$work/stop.yaml")
  node "$validate/emulate.js" --overlay "$work/$o.yaml" --secrets "$s" --work "$work/run-$o" \
    --metrics-out "$work/$o.metrics" "${image_paths[@]}" "${submit[@]}"
done
# Every coordinator exported the same names (one binary); any of them will do.
cmp -s <(grep -o '^[a-z_]*' "$work/dev.metrics" | sort -u) <(grep -o '^[a-z_]*' "$work/prod.metrics" | sort -u) ||
  { echo "k8s_manifests: the coordinators of dev and prod exported different metrics" >&2; exit 1; }

# 3. Schemas and invariants.
check_args=(
  --metrics "$work/dev.metrics"
  --redis-acl ops/redis.acl
  --docs docs/deploy.md
  --adapter-values ops/k8s/overlays/prod-hpa/prometheus-adapter-values.yaml
  --expect-autoscaler prod --expect-autoscaler prod-hpa
  --expect-monitoring prod --expect-monitoring prod-hpa
)
named=()
for o in "${overlays[@]}"; do named+=("$o=$work/$o.yaml"); done
node "$validate/validate.js" "${check_args[@]}" "${named[@]}"

# 4. The checks fail when they should.
node "$validate/selftest.js" "${check_args[@]}" "${named[@]}"
# A broken overlay, through kustomize like the real ones: dev without the worker's
# liveness probe.
cp -r ops/k8s "$work/k8s-broken"
rm -rf "$work/k8s-broken/.tools"
cat >"$work/k8s-broken/overlays/dev/no-liveness.yaml" <<'EOF'
- op: remove
  path: /spec/template/spec/containers/0/livenessProbe
EOF
cat >>"$work/k8s-broken/overlays/dev/kustomization.yaml" <<'EOF'
patchesJson6902:
  - target: {group: apps, version: v1, kind: Deployment, name: synthfarm-worker}
    path: no-liveness.yaml
EOF
ops/k8s/tools.sh kustomize "$work/k8s-broken/overlays/dev" >"$work/dev-broken.yaml"
if node "$validate/validate.js" --metrics "$work/dev.metrics" "dev=$work/dev-broken.yaml" >"$work/broken.out" 2>&1; then
  cat "$work/broken.out"
  echo "k8s_manifests: the dev overlay without the worker's liveness probe passed validation" >&2
  exit 1
fi
grep -q 'Deployment/synthfarm-worker: livenessProbe (exec) is missing \[worker-liveness\]' "$work/broken.out" || {
  cat "$work/broken.out"
  echo "k8s_manifests: the dev overlay without the worker's liveness probe failed, but not for that" >&2
  exit 1
}
echo "the dev overlay rendered without the worker's liveness probe is refused: $(grep -m1 '\[worker-liveness\]' "$work/broken.out" | sed 's/^ *//')"
echo "k8s manifests: ${#overlays[@]} overlays rendered, run and validated"
