#!/usr/bin/env bash
# What security costs a farm in throughput: the same job (bench/throughput.yaml) on a farm
# of 2 workers (1 render thread each) with security off (no API tokens, plain ZeroMQ) and
# full (API tokens, ZeroMQ CURVE on telemetry and control), alternated ROUNDS times; each
# side keeps its best run (the machine is shared). Prints samples/s of both and the ratio.
#
#   bench/security_cost.sh [SPEC]     (needs a build; ROUNDS, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${1:-bench/throughput.yaml}
rounds=${ROUNDS:-2}
[[ -x build/bin/synthfarm ]] || { echo "build first: cmake -S . -B build -G Ninja && cmake --build build" >&2; exit 2; }
work=$(mktemp -d)
source ops/lib/farm.sh
trap 'farm_stop; rm -rf "$work"' EXIT
samples=$(build/bin/synthfarm validate "$spec" | sed -E 's/.*\(([0-9]+) samples\).*/\1/')
now() { date +%s.%N; }

# One farm with FARM_SECURITY=$1, one job from submission to done; prints samples/s.
rate() {
  local run="$work/$1-$2"
  FARM_SECURITY=$1 farm_start "$run" "file://$run/out" 2 1 >/dev/null
  local t0 t1 job
  t0=$(now)
  job=$(build/bin/synthfarm --url "$FARM_URL" submit "$spec" 2>/dev/null)
  build/bin/synthfarm --url "$FARM_URL" wait "$job" 2>/dev/null
  t1=$(now)
  farm_stop
  if [[ $1 == full ]] && ! grep -q "CURVE" "$run/coordinator.log"; then
    echo "security_cost: the coordinator did not run with CURVE; see $run/coordinator.log" >&2
    exit 1
  fi
  awk -v n="$samples" -v a="$t0" -v b="$t1" 'BEGIN { print n / (b - a) }'
}

best_off=0 best_full=0
for r in $(seq "$rounds"); do
  off=$(rate off "$r")
  full=$(rate full "$r")
  printf '  round %d: off %.3f samples/s, full %.3f samples/s\n' "$r" "$off" "$full"
  best_off=$(awk -v a="$best_off" -v b="$off" 'BEGIN { print (b > a) ? b : a }')
  best_full=$(awk -v a="$best_full" -v b="$full" 'BEGIN { print (b > a) ? b : a }')
done
printf 'bench security_cost spec=%s samples=%d rounds=%d cores=%d\n' "$spec" "$samples" "$rounds" "$(nproc)"
printf '  security off  (no tokens, plain ZeroMQ)  : %.3f samples/s\n' "$best_off"
printf '  security full (tokens, CURVE)            : %.3f samples/s\n' "$best_full"
printf '  ratio full/off                           : %.3f\n' "$(awk -v f="$best_full" -v o="$best_off" 'BEGIN { print f / o }')"
