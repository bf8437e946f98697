#!/usr/bin/env bash
# The memory of a worker writing one 1000-sample shard, as a tar (output.format:
# webdataset) against as separate objects (files), measured in the same run: the peak RSS
# (VmHWM) of the one worker of a loopback farm after each job, and the objects each layout
# stores. A tar is streamed (the file store's temp file, S3 parts as they fill), so its
# worker should need no more memory than the files layout's.
#
#   bench/webdataset_rss.sh [SAMPLES]     (default 1000; 64x48, 1 spp: about a minute each)
set -euo pipefail
cd "$(dirname "$0")/.."
samples=${1:-1000}
source ops/lib/farm.sh
run=$(mktemp -d)
trap 'farm_stop; rm -rf "$run"' EXIT

measure() {  # FORMAT -> prints "peak_kib objects"
  local format=$1
  farm_start "$run/$format" "file://$run/out-$format" 1 1 >/dev/null
  local spec=$run/$format.yaml
  printf 'name: rss-%s\nsamples: %s\nshard_size: %s\nseed: 3\noutput: {format: %s}\ncamera: {resolution: [64, 48]}\nrender: {spp: 1, max_bounces: 1}\n' \
    "$format" "$samples" "$samples" "$format" >"$spec"
  local job
  job=$(build/bin/synthfarm --url "$FARM_URL" submit "$spec")
  build/bin/synthfarm --url "$FARM_URL" wait "$job" >/dev/null
  local worker_pid=${FARM_PIDS[-1]}  # farm_start starts the workers last
  local peak
  peak=$(awk '/VmHWM/ {print $2}' "/proc/$worker_pid/status")
  local objects
  objects=$(find "$run/out-$format/$job" -type f ! -name '.tmp.*' | wc -l)
  farm_stop
  echo "$peak $objects"
}

read -r files_kib files_objects < <(measure files)
read -r tar_kib tar_objects < <(measure webdataset)
echo "worker peak RSS writing one ${samples}-sample shard:"
awk -v f="$files_kib" -v t="$tar_kib" -v fo="$files_objects" -v to="$tar_objects" 'BEGIN {
  printf "  files       %8.1f MiB  (%d objects)\n", f / 1024, fo
  printf "  webdataset  %8.1f MiB  (%d objects)\n", t / 1024, to
  printf "  ratio webdataset / files: %.3f\n", t / f }'
