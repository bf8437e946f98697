#!/usr/bin/env bash
# S3 upload throughput of synthfarm's client against `aws s3 cp --recursive` (Debian's
# awscli) on the same 200 files of 1 MiB, in one run against a local s3rver (ops/s3rver),
# both with 10 concurrent requests (awscli's default), median of three rounds each. Then
# the peak RSS of one worker streaming a 2000-sample job (tiny images) to S3, read at 500
# and at 2000 samples: with the bounded upload queue it must stay flat.
#
#   bench/s3_upload.sh            (needs a build: s3_upload, synthfarm, coordinator, worker)
#   BUILD_DIR=other-build bench/s3_upload.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
for b in s3_upload synthfarm synthfarm-coordinator synthfarm-worker; do
  [[ -x $build/bin/$b ]] || { echo "build first: cmake --build $build (missing $b)" >&2; exit 2; }
done
[[ -x ops/s3rver/node_modules/.bin/s3rver ]] || npm ci --prefix ops/s3rver --no-audit --no-fund --loglevel=error >/dev/null
work=$(mktemp -d)
source ops/lib/farm.sh
s3_pid=""
cleanup() {
  farm_stop
  if [[ -n $s3_pid ]]; then kill "$s3_pid" 2>/dev/null || true; wait "$s3_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

s3_port=$(free_port 14568)
mkdir -p "$work/s3"
# s3rver's continuation tokens use DES: Node 17+ needs OpenSSL's legacy provider for it.
NODE_OPTIONS=--openssl-legacy-provider ops/s3rver/node_modules/.bin/s3rver --directory "$work/s3" \
  --address 127.0.0.1 --port "$s3_port" --silent --configure-bucket bench >"$work/s3rver.log" 2>&1 &
s3_pid=$!
for _ in $(seq 100); do port_busy "$s3_port" && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_PAGER=""
export AWS_ENDPOINT_URL=http://127.0.0.1:$s3_port
unset AWS_SESSION_TOKEN AWS_PROFILE
aws=(/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL")

mkdir -p "$work/files"
for i in $(seq -w 1 200); do head -c 1048576 /dev/urandom >"$work/files/object-$i.bin"; done
now() { date +%s.%N; }

# Three rounds, alternating who goes first; each side's median rate is reported (the
# machine is shared with whatever else runs, so one round alone is noisy).
ours_runs=() theirs_runs=()
upload_ours() {
  local t0 t1
  t0=$(now)
  "$build/bin/s3_upload" --uri "s3://bench/synthfarm-$1" --dir "$work/files" --threads 10 >"$work/synthfarm.out"
  t1=$(now)
  ours_runs+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print 200 / (b - a) }')")
}
upload_theirs() {
  local t0 t1
  t0=$(now)
  "${aws[@]}" s3 cp --recursive --only-show-errors "$work/files" "s3://bench/awscli-$1"
  t1=$(now)
  theirs_runs+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print 200 / (b - a) }')")
}
for round in 1 2 3; do
  if ((round % 2)); then upload_ours "$round"; upload_theirs "$round"; else upload_theirs "$round"; upload_ours "$round"; fi
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
ours=$(median "${ours_runs[@]}")
theirs=$(median "${theirs_runs[@]}")
n_ours=$("${aws[@]}" s3 ls --recursive s3://bench/synthfarm-1/ | wc -l)
n_theirs=$("${aws[@]}" s3 ls --recursive s3://bench/awscli-1/ | wc -l)

# A 2000-sample job at 16x12, one worker (1 render thread, the default 2 uploaders),
# writing to S3; the worker's VmHWM (peak RSS) at 500 and at 2000 samples done.
cat >"$work/rss.yaml" <<YAML
name: bench-rss
samples: 2000
shard_size: 50
seed: 5
output:
  storage: s3://bench/rss
camera:
  resolution: [16, 12]
render:
  spp: 1
  max_bounces: 1
YAML
farm_start "$work/farm" s3://bench/default 1 1
worker_pid=${FARM_PIDS[-1]}
job=$("$build/bin/synthfarm" --url "$FARM_URL" submit "$work/rss.yaml" 2>/dev/null)
hwm() { awk '/VmHWM/ { print $2 }' "/proc/$worker_pid/status"; }
rss_500="" t_start=$(now)
while :; do
  done_n=$(curl -s -H "Authorization: Bearer $SYNTHFARM_TOKEN" "$FARM_URL/api/jobs/$job" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["samples_done"], j["state"])')
  read -r n state <<<"$done_n"
  [[ -z $rss_500 && $n -ge 500 ]] && rss_500=$(hwm)
  [[ $state == done || $state == failed || $state == partial ]] && break
  sleep 0.5
done
rss_end=$(hwm)
t_end=$(now)
stored=$("${aws[@]}" s3 ls --recursive s3://bench/rss/samples/ | wc -l)

printf 'bench s3_upload objects=200x1MiB concurrency=10 cores=%d\n' "$(nproc)"
printf '  synthfarm S3Store        : %.1f objects/s (%.1f MiB/s) median of %s; %d stored\n' "$ours" "$ours" "${ours_runs[*]}" "$n_ours"
printf '  aws s3 cp --recursive    : %.1f objects/s (%.1f MiB/s) median of %s; %d stored\n' "$theirs" "$theirs" "${theirs_runs[*]}" "$n_theirs"
printf '  ratio synthfarm/awscli   : %.2f\n' "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { print a / b }')"
printf 'bench worker_rss job=2000 samples 16x12 to s3, 1 worker: %s in %.0f s, %d objects\n' "$state" \
  "$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { print b - a }')" "$stored"
printf '  worker peak RSS at  500 samples : %d MiB\n' "$((rss_500 / 1024))"
printf '  worker peak RSS at 2000 samples : %d MiB\n' "$((rss_end / 1024))"
