#!/usr/bin/env bash
# Samples/s of the farm (coordinator + 2 workers, 1 render thread each, Redis, ZeroMQ,
# file storage) against `synthfarm render --local --threads 2` on the same spec and the
# same machine, in one run. Prints both rates and the ratio farm/local (target >= 0.95).
#
#   bench/farm_vs_local.sh [SPEC]      (default bench/throughput.yaml; needs a build)
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${1:-bench/throughput.yaml}
[[ -x build/bin/synthfarm ]] || { echo "build first: cmake -S . -B build -G Ninja && cmake --build build" >&2; exit 2; }
work=$(mktemp -d)
source ops/lib/farm.sh
trap 'farm_stop; rm -rf "$work"' EXIT

samples=$(build/bin/synthfarm validate "$spec" | sed -E 's/.*\(([0-9]+) samples\).*/\1/')
now() { date +%s.%N; }

# In-process: one process, 2 render threads inside each sample.
t0=$(now)
build/bin/synthfarm render --local "$spec" --out "$work/local" --threads 2 2>/dev/null
t1=$(now)
local_rate=$(awk -v n="$samples" -v a="$t0" -v b="$t1" 'BEGIN { print n / (b - a) }')

# Farm: 2 workers with 1 render thread each; from submission until the job is done
# (includes queueing, storage, shard manifests and the dataset manifest).
farm_start "$work/farm" "file://$work/farm-out" 2 1
t0=$(now)
job=$(build/bin/synthfarm --url "$FARM_URL" submit "$spec" 2>/dev/null)
build/bin/synthfarm --url "$FARM_URL" wait "$job" 2>/dev/null
t1=$(now)
farm_rate=$(awk -v n="$samples" -v a="$t0" -v b="$t1" 'BEGIN { print n / (b - a) }')

# The two datasets must be the same bytes.
same=yes
for f in "$work"/local/samples/*; do
  cmp -s "$f" "$work/farm-out/$job/samples/$(basename "$f")" || { same=no; break; }
done

printf 'bench farm_vs_local spec=%s samples=%d cores=%d\n' "$spec" "$samples" "$(nproc)"
printf '  local  render --local --threads 2 : %.3f samples/s\n' "$local_rate"
printf '  farm   coordinator + 2 workers    : %.3f samples/s\n' "$farm_rate"
printf '  ratio  farm/local                 : %.3f  (target >= 0.95)\n' "$(awk -v f="$farm_rate" -v l="$local_rate" 'BEGIN { print f / l }')"
printf '  identical sample bytes            : %s\n' "$same"
