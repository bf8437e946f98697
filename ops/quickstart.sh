#!/usr/bin/env bash
# Runs a dataset job end to end on this machine: installs what is missing (Debian
# packages), builds, starts redis-server, one coordinator and two workers on loopback,
# submits examples/quickstart.yaml, shows progress, and prints where the dataset is and
# the dashboard URL (with --keep, a link that logs the browser in once: authentication is
# on). Stops what it started when it ends, unless --keep.
#
#   ops/quickstart.sh [--keep] [--spec FILE] [--workers N] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

keep=0
spec=examples/quickstart.yaml
workers=2
threads=1
while (($#)); do
  case "$1" in
    --keep) keep=1 ;;
    --spec) spec=$2; shift ;;
    --workers) workers=$2; shift ;;
    --threads) threads=$2; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "quickstart: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

ops/setup.sh --runtime
echo "quickstart: building (first time takes a few minutes)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target synthfarm synthfarm-coordinator synthfarm-worker

# shellcheck source=ops/lib/farm.sh
source ops/lib/farm.sh
cleanup() {
  if ((keep)); then
    echo "quickstart: left running (pids ${FARM_PIDS[*]}); stop them with: kill ${FARM_PIDS[*]}"
    return
  fi
  farm_stop
}
trap cleanup EXIT
mkdir -p "$root/out"
farm_start "$root/.cache/quickstart" "file://$root/out" "$workers" "$threads"
redis=$FARM_REDIS
url=$FARM_URL

echo "quickstart: redis $redis, coordinator $url, $workers workers (logs in .cache/quickstart/)"
job=$(build/bin/synthfarm --url "$url" submit "$spec")
echo "quickstart: submitted $job"
status=0
build/bin/synthfarm --url "$url" wait "$job" || status=$?

echo
if ((status == 0)); then
  echo "Dataset:   $root/out/$job  (manifest.json, annotations/*.json (COCO), samples/*.exr|png|json)"
else
  echo "The job did not finish; see .cache/quickstart/*.log"
fi
if ((keep)); then
  # A link that logs one browser in once (within 15 minutes) as the farm's admin token.
  echo "Dashboard: $(build/bin/synthfarm token login-link "$FARM_TOKEN_NAME" "$url" --redis "$redis" 2>/dev/null)"
  echo "           (a one-time login link; later: synthfarm token login-link $FARM_TOKEN_NAME $url --redis $redis)"
else
  echo "Dashboard: $url/  (the farm stops now; run with --keep to leave it and the dashboard up)"
fi
exit "$status"
