#!/usr/bin/env bash
# Samples/s of a farm across hosts against the same farm on loopback, in one run. Across
# hosts: network namespaces on a bridge (ops/lib/netns_farm.sh), redis-server and the
# coordinator on host a (10.77.0.1), one worker on each of hosts b and c. Loopback: the
# same programs with the same flags (tokens, Redis ACL users, CURVE, 1 render thread per
# worker, 30 s leases) in one namespace, every address 127.0.0.1. Each round runs the job
# once on each layout (which goes first alternates); the best rate of each is kept. A
# job is timed by the farm itself, from its creation to its end (manifest.json written),
# in Redis' clock. Prints both rates and the ratio across hosts / loopback, and whether
# every job wrote the same sample bytes.
#
#   bench/multihost.sh [SPEC]      (default tests/multihost.yaml, 200 samples; ROUNDS, default 2)
#
# Needs root (ip netns), a build in build/ (BUILD_DIR), iproute2, redis-server, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
spec=$(realpath "${1:-tests/multihost.yaml}")
rounds=${ROUNDS:-2}
bin=$(realpath "${BUILD_DIR:-build}")/bin
[[ -x $bin/synthfarm-worker ]] || { echo "build first: cmake -S . -B build -G Ninja && cmake --build build" >&2; exit 2; }
NF_CLI=$bin/synthfarm
NF_COORDINATOR=$bin/synthfarm-coordinator
NF_WORKER=$bin/synthfarm-worker
NF_SOURCE=$PWD
# shellcheck source=ops/lib/netns_farm.sh
source ops/lib/netns_farm.sh

work=$(mktemp -d)
nf_init "$work"
nf_netns_permitted || { echo "bench/multihost.sh: 'ip netns add' is not permitted here: $NF_NETNS_ERROR" >&2; exit 2; }
trap 'nf_cleanup; rm -rf "$work"' EXIT
nf_network_up
nf_security
samples=$("$NF_CLI" validate "$spec" | sed -E 's/.*\(([0-9]+) samples\).*/\1/')

# run_job LAYOUT: starts that farm, runs the spec's job, stops the farm; the job's
# samples/s in $rate. (Not in a subshell: the farm's pids must stay known for cleanup.)
run_job() {
  nf_farm_start "$1" 30000
  local job created finished
  job=$(nf_cli submit "$spec" 2>/dev/null)
  nf_cli wait "$job" --timeout 900 >/dev/null 2>&1 || { echo "job $job on $1 did not end done; logs in $NF_FARM" >&2; exit 1; }
  created=$(nf_job_field "$job" created_ms)
  finished=$(nf_job_field "$job" finished_ms)
  (cd "$NF_OUT/$job" && find samples -type f | LC_ALL=C sort | xargs sha256sum) >"$work/$1-$job.sha256"
  nf_farm_stop
  rate=$(awk -v n="$samples" -v a="$created" -v b="$finished" 'BEGIN { printf "%.3f", n * 1000 / (b - a) }')
}

best_hosts=0 best_loopback=0 runs_hosts=() runs_loopback=()
for round in $(seq "$rounds"); do
  order=(hosts loopback)
  ((round % 2)) || order=(loopback hosts)
  for layout in "${order[@]}"; do
    run_job "$layout"
    echo "round $round: $layout $rate samples/s" >&2
    if [[ $layout == hosts ]]; then
      runs_hosts+=("$rate")
      best_hosts=$(awk -v a="$best_hosts" -v b="$rate" 'BEGIN { print (b > a ? b : a) }')
    else
      runs_loopback+=("$rate")
      best_loopback=$(awk -v a="$best_loopback" -v b="$rate" 'BEGIN { print (b > a ? b : a) }')
    fi
  done
done

same=yes
sums=("$work"/*.sha256)
for f in "${sums[@]}"; do cmp -s "$f" "${sums[0]}" || same=no; done
printf 'bench multihost spec=%s samples=%d rounds=%d cores=%d\n' "${spec#"$PWD"/}" "$samples" "$rounds" "$(nproc)"
printf '  loopback     one namespace, 127.0.0.1      : %.3f samples/s  (rounds: %s)\n' "$best_loopback" "${runs_loopback[*]}"
printf '  across hosts a: redis + coordinator; b, c  : %.3f samples/s  (rounds: %s)\n' "$best_hosts" "${runs_hosts[*]}"
printf '  ratio        across hosts / loopback       : %.3f\n' "$(awk -v h="$best_hosts" -v l="$best_loopback" 'BEGIN { print h / l }')"
printf '  identical sample bytes in every job        : %s\n' "$same"
