#!/usr/bin/env bash
# Replays a day of job submissions against the worker autoscaling rules (the KEDA
# ScaledObject and the plain HPA of ops/k8s/overlays/, or the stand-ins in
# bench/autoscale/testdata/ until those exist) and against a fixed farm of the same cost,
# with the cost of a sample measured here by rendering examples/quickstart.yaml; then sweeps
# the ScaledObject's threshold, cooldownPeriod and maxReplicaCount. See bench/autoscale_sim.cpp.
#
#   bench/autoscale_sim.sh [autoscale_sim flags]      e.g. --seconds-per-sample 0.7 --no-sweep
#
# Env: BUILD_DIR (default build). Flags: build/bin/autoscale_sim --help.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
[[ -f $build/build.ninja || -f $build/Makefile ]] || {
  echo "configure first: cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo" >&2
  exit 2
}
cmake --build "$build" --target autoscale_sim >&2
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the measured cost)"
echo "  commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores"
"$build/bin/autoscale_sim" "$@"
