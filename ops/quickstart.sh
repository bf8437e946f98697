#!/usr/bin/env bash
# Runs a dataset job end to end on this machine: installs what is missing (Debian
# packages), builds, starts redis-server, one coordinator and two workers on loopback,
# submits examples/quickstart.yaml, shows progress, and prints where the dataset is and
# the dashboard URL. Stops what it started when it ends, unless --keep.
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

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p=$1
  while port_busy "$p"; do p=$((p + 1)); done
  echo "$p"
}
redis_port=$(free_port "${SYNTHFARM_REDIS_PORT:-6390}")
http_port=$(free_port "${SYNTHFARM_HTTP_PORT:-8080}")
telemetry_port=$(free_port "${SYNTHFARM_TELEMETRY_PORT:-5555}")

run=$root/.cache/quickstart
mkdir -p "$run/redis" "$root/out"
pids=()
cleanup() {
  if ((keep)); then
    echo "quickstart: left running (pids ${pids[*]}); stop them with: kill ${pids[*]}"
    return
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$run/redis" --appendonly yes \
  --appendfsync everysec --maxmemory-policy noeviction --save "" --daemonize no \
  >"$run/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done

redis=redis://127.0.0.1:$redis_port
telemetry=tcp://127.0.0.1:$telemetry_port
url=http://127.0.0.1:$http_port
build/bin/synthfarm-coordinator --redis "$redis" --listen "127.0.0.1:$http_port" \
  --telemetry "$telemetry" --storage-root "file://$root/out" >"$run/coordinator.log" 2>&1 &
pids+=($!)
for i in $(seq "$workers"); do
  build/bin/synthfarm-worker --redis "$redis" --coordinator "$telemetry" --threads "$threads" \
    --id "quickstart-w$i" >"$run/worker-$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 100); do
  port_busy "$http_port" && break
  sleep 0.1
done

echo "quickstart: redis $redis, coordinator $url, $workers workers (logs in .cache/quickstart/)"
job=$(build/bin/synthfarm --url "$url" submit "$spec")
echo "quickstart: submitted $job"
status=0
build/bin/synthfarm --url "$url" wait "$job" || status=$?

echo
if ((status == 0)); then
  echo "Dataset:   $root/out/$job  (manifest.json, samples/*.exr|png|json)"
else
  echo "The job did not finish; see .cache/quickstart/*.log"
fi
echo "Dashboard: $url/"
if ((!keep)); then echo "(the farm stops now; run with --keep to leave it and the dashboard up)"; fi
exit "$status"
