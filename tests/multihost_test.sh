#!/usr/bin/env bash
# A farm across hosts (label cluster): three network namespaces on a bridge stand for
# three machines (ops/lib/netns_farm.sh). Host a (10.77.0.1) runs redis-server and the
# coordinator, bound to that address only; hosts b and c run one worker each. Security is
# on: a submitter token, the Redis ACL users with passwords, CURVE keys for all three.
#
#  1. A 200-sample job (tests/multihost.yaml) is done and its samples are byte for byte
#     those of `synthfarm render --local`; manifest.json lists every object's sha256.
#  2. A second job: host c's cable is pulled while c holds a lease. Its lease expires, the
#     reaper puts the shard back, b renders it again, and the dataset is exact. When c's
#     cable is back, c's late completion is refused (its log says so, and the count of
#     accepted completions does not move), and the dataset's files are what they were.
#  3. Nothing reaches loopback by accident: tripwires listen on 127.0.0.1 and ::1 at the
#     farm's ports on b and c and must see no connection; on a, `ss` shows every listener
#     bound to a's address; the workers' connections all go to a.
# No timing is asserted (bench/multihost.sh measures).
#
#   tests/multihost_test.sh SYNTHFARM SYNTHFARM_COORDINATOR SYNTHFARM_WORKER
#
# Exits 77 (skipped) when this process may not make network namespaces. Needs root,
# iproute2, redis-server, python3, curl (ops/setup.sh). MULTIHOST_BREAK puts a mistake in
# on purpose, and the test must then fail: loopback-redis gives b's worker
# redis://worker@127.0.0.1:6379 (the tripwire), wildcard-listen binds the coordinator's
# HTTP server to 0.0.0.0 (the listener check). MULTIHOST_KEEP=1 keeps the run's directory.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/.." && pwd)
NF_CLI=$(realpath "$1")
NF_COORDINATOR=$(realpath "$2")
NF_WORKER=$(realpath "$3")
NF_SOURCE=$source_dir
# shellcheck source=ops/lib/netns_farm.sh
source "$source_dir/ops/lib/netns_farm.sh"
spec=$source_dir/tests/multihost.yaml
lease_ms=2000  # short, so that c's lease runs out quickly; b renews it every 667 ms

started=$(date +%s.%N)
say() { awk -v t0="$started" -v t="$(date +%s.%N)" -v m="$*" 'BEGIN { printf "multihost: %5.1f s  %s\n", t - t0, m }'; }
fail() {
  echo "multihost: FAIL: $*" >&2
  exit 1
}
command -v ip >/dev/null || fail "ip not found: install iproute2 (ops/setup.sh)"

work=$(mktemp -d "${TMPDIR:-/tmp}/synthfarm-multihost.XXXXXX")
nf_init "$work"
if ! nf_netns_permitted; then
  echo "multihost: SKIPPED: 'ip netns add' is not permitted here: $NF_NETNS_ERROR" >&2
  echo "multihost: (network namespaces need root, or CAP_SYS_ADMIN in a container)" >&2
  rm -rf "$work"
  exit 77
fi

finish() {
  local status=$?
  nf_cleanup
  if ((status == 0)); then
    if [[ -n ${MULTIHOST_KEEP:-} ]]; then echo "multihost: logs, keys and datasets kept in $work"; else rm -rf "$work"; fi
    return
  fi
  echo "multihost: failed (status $status); logs, keys and datasets kept in $work" >&2
  local log
  for log in "$work"/local.log "$work"/tripwire-*.log "$work"/farm-*/*.log; do
    [[ -s $log ]] || continue
    echo "----- ${log#"$work"/} (last 30 lines)" >&2
    tail -n 30 "$log" >&2
  done
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# sha256 of every file under DIR/SUBDIR, by path: what two datasets must share.
hashes() { (cd "$1" && find "$2" -type f | LC_ALL=C sort | xargs -r sha256sum); }

# The job's samples are the reference's, and manifest.json lists exactly the files
# under samples/, each with its size and sha256.
check_dataset() {
  local job=$1 dir=$NF_OUT/$1
  [[ -s $dir/manifest.json ]] || fail "job $job: no manifest.json in $dir"
  hashes "$dir" samples >"$work/$job.sha256"
  diff -u "$work/local.sha256" "$work/$job.sha256" >"$work/$job.diff" ||
    fail "job $job: samples differ from render --local (see $work/$job.diff): $(head -c 600 "$work/$job.diff")"
  python3 - "$dir" "$samples" <<'EOF' || fail "job $job: manifest.json does not match the files"
import hashlib, json, os, sys
root, samples = sys.argv[1], int(sys.argv[2])
manifest = json.load(open(os.path.join(root, "manifest.json")))
listed = {o["key"]: o for o in manifest["objects"]}
for key, o in listed.items():
    data = open(os.path.join(root, key), "rb").read()
    assert len(data) == o["size"] and hashlib.sha256(data).hexdigest() == o["sha256"], key
on_disk = {"samples/" + f for f in os.listdir(os.path.join(root, "samples"))}
assert on_disk == {k for k in listed if k.startswith("samples/")}, "samples/ and the manifest differ"
assert manifest["counts"]["samples"] == samples, manifest["counts"]
assert manifest.get("complete", True) is True, "manifest says incomplete"
EOF
}

# Every TCP and UDP listener on host a is bound to a's address: none on 0.0.0.0, ::,
# or loopback; and redis-server and the coordinator listen on all four farm ports.
check_listeners() {
  local listeners local_address process port
  listeners=$(nf_run a ss -Htulnp)
  while read -r _ _ _ _ local_address _ process; do
    [[ $local_address == "${NF_ADDR[a]}":* ]] ||
      fail "on host a, a socket listens on $local_address, not on ${NF_ADDR[a]} only: $process"
  done <<<"$listeners"
  for port in "$NF_REDIS_PORT:${NF_PID[redis]}" "$NF_HTTP_PORT:${NF_PID[coordinator]}" \
    "$NF_TELEMETRY_PORT:${NF_PID[coordinator]}" "$NF_CONTROL_PORT:${NF_PID[coordinator]}"; do
    grep -qE "^tcp +LISTEN .* ${NF_ADDR[a]}:${port%%:*} .*pid=${port#*:}," <<<"$listeners" ||
      fail "on host a, pid ${port#*:} does not listen on ${NF_ADDR[a]}:${port%%:*}: $listeners"
  done
}

# A worker's TCP connections all go to host a (Redis, telemetry, control), and it has
# each of the three.
check_worker_peers() {
  local host=$1 pid=${NF_PID[worker-$1]} connections port
  connections=$(nf_run "$host" ss -Htnp state established | grep "pid=$pid," || true)
  while read -r _ _ _ peer _; do
    [[ -z $peer || $peer =~ ^${NF_ADDR[a]}:($NF_REDIS_PORT|$NF_TELEMETRY_PORT|$NF_CONTROL_PORT)$ ]] ||
      fail "the worker on host $host is connected to $peer, not to host a"
  done <<<"$connections"
  for port in "$NF_REDIS_PORT" "$NF_TELEMETRY_PORT" "$NF_CONTROL_PORT"; do
    grep -qF " ${NF_ADDR[a]}:$port " <<<"$connections" ||
      fail "the worker on host $host has no connection to ${NF_ADDR[a]}:$port: $connections"
  done
}

check_tripwires() {
  local host
  for host in b c; do
    [[ ! -s $work/tripwire-$host.log ]] ||
      fail "on host $host something dialled loopback instead of host a: $(head -n 3 "$work/tripwire-$host.log")"
  done
}

# wait_for_line FILE REGEX SECONDS [FROM_LINE]: prints the first match at or after line
# FROM_LINE (default 1) of FILE, waiting up to SECONDS for it.
wait_for_line() {
  local file=$1 regex=$2 seconds=$3 from=${4:-1} line
  for _ in $(seq $((seconds * 50))); do
    line=$(tail -n +"$from" "$file" 2>/dev/null | grep -m1 -oE "$regex" || true)
    [[ -n $line ]] && { echo "$line"; return 0; }
    sleep 0.02
  done
  return 1
}

say "hosts: a ${NF_ADDR[a]}, b ${NF_ADDR[b]}, c ${NF_ADDR[c]} on a bridge (namespaces $NF_PREFIX-*)"
nf_network_up
nf_security
samples=$("$NF_CLI" validate "$spec" | sed -E 's/.*\(([0-9]+) samples\).*/\1/')

say "reference: render --local of $(basename "$spec") ($samples samples)"
"$NF_CLI" render --local "$spec" --out "$work/local" --threads 2 2>"$work/local.log"
hashes "$work/local" samples >"$work/local.sha256"
(($(wc -l <"$work/local.sha256") > 0)) || fail "render --local wrote no samples"

# Tripwires first, so they catch a program's very first connection.
for host in b c; do
  nf_spawn "$host" "tripwire-$host" "$work/tripwire-$host.stderr" python3 "$source_dir/tests/tripwire.py" \
    "$work/tripwire-$host.log" "$work/tripwire-$host.ready" \
    "$NF_REDIS_PORT" "$NF_HTTP_PORT" "$NF_TELEMETRY_PORT" "$NF_CONTROL_PORT"
done
for _ in $(seq 100); do
  [[ -e $work/tripwire-b.ready && -e $work/tripwire-c.ready ]] && break
  sleep 0.1
done
[[ -e $work/tripwire-b.ready && -e $work/tripwire-c.ready ]] ||
  fail "the tripwires did not start: $(cat "$work"/tripwire-*.stderr)"

case ${MULTIHOST_BREAK:-} in
  '') ;;
  loopback-redis)
    say "MULTIHOST_BREAK=loopback-redis: b's worker dials Redis on 127.0.0.1; this run must fail"
    NF_WORKER_REDIS=("redis://worker@127.0.0.1:$NF_REDIS_PORT")
    ;;
  wildcard-listen)
    say "MULTIHOST_BREAK=wildcard-listen: the coordinator's HTTP server binds 0.0.0.0; this run must fail"
    NF_COORDINATOR_LISTEN=0.0.0.0
    ;;
  *) fail "MULTIHOST_BREAK=$MULTIHOST_BREAK: expected loopback-redis or wildcard-listen" ;;
esac
nf_farm_start hosts "$lease_ms"
say "farm: redis and coordinator on a, workers on b and c (lease $lease_ms ms, CURVE, ACL users, token)"

# Both workers through their CURVE handshake with the coordinator, across the bridge.
for _ in $(seq 300); do
  workers=$(nf_api /api/workers 2>/dev/null |
    python3 -c 'import json, sys; print(sum(w["state"] != "lost" for w in json.load(sys.stdin)["workers"]))' || echo 0)
  ((workers == 2)) && break
  sleep 0.1
done
((workers == 2)) || fail "the coordinator sees $workers of 2 workers after 30 s"
check_listeners
check_tripwires
check_worker_peers b
check_worker_peers c

# 1. A job across hosts, exact.
job1=$(nf_cli submit "$spec")
nf_cli wait "$job1" --timeout 300 >"$work/wait-$job1.log" 2>&1 || fail "job $job1 did not end done: $(tail -n 3 "$work/wait-$job1.log")"
check_dataset "$job1"
say "job $job1: done, $samples samples identical to render --local, manifest verified" \
  "($(printf %.1f "$(nf_job_field "$job1" samples_per_sec)") samples/s)"
check_tripwires

# 2. Host c cut off mid-shard.
completed_before=$(nf_metric synthfarm_samples_completed_total)
job2=$(nf_cli submit "$spec")
claim=$(wait_for_line "$NF_FARM/worker-c.log" "shard $job2/[0-9]+ \(samples [0-9]+\.\.[0-9]+\) token [0-9]+" 120) ||
  fail "the worker on c claimed no shard of $job2"
nf_link c down
cut_line=$(wc -l <"$NF_FARM/worker-c.log")
shard=$(sed -E 's|^shard [^/]+/([0-9]+) .*|\1|' <<<"$claim")
token=${claim##* }
say "job $job2: cut c off while it held shard $shard (token $token)"
nf_cli wait "$job2" --timeout 300 >"$work/wait-$job2.log" 2>&1 || fail "job $job2 did not end done: $(tail -n 3 "$work/wait-$job2.log")"
grep -qE "reaper: [0-9]+ expired lease" "$NF_FARM/coordinator.log" || fail "the reaper never put an expired lease back"
redone=$(grep -m1 -oE "shard $job2/$shard \(samples [0-9]+\.\.[0-9]+\) token [0-9]+" "$NF_FARM/worker-b.log") ||
  fail "the worker on b never took shard $shard of $job2"
((${redone##* } > token)) || fail "b rendered shard $shard with token ${redone##* }, not newer than c's $token"
check_dataset "$job2"
say "job $job2: done without c; b took shard $shard over (token ${redone##* }); dataset exact"

hashes "$NF_OUT" "$job2" >"$work/before-return.sha256"
manifest_stat=$(stat -c '%i %y' "$NF_OUT/$job2/manifest.json")
completed=$(nf_metric synthfarm_samples_completed_total)
((completed == completed_before + samples)) ||
  fail "accepted completions moved by $((completed - completed_before)) samples for one $samples-sample job"

# c, cut off, hears nothing from Redis, but its own lease deadline (the time it sent its
# last renewal that succeeded, plus the lease, minus a margin; CLOCK_BOOTTIME) passes: it
# drops the shard and stores nothing more (docs/queue.md, fencing), then retries reporting
# its stored renders until Redis is back. Or, if it stored the whole shard before that
# deadline, it retries its completion. Either way the retries of its main loop are logged
# (renewals are logged differently).
wait_for_line "$NF_FARM/worker-c.log" "shard $job2/$shard: lease lost \(token $token[: ]|unreachable: .*; retrying in" \
  180 "$cut_line" >/dev/null || fail "c, cut off, neither dropped shard $shard on its deadline nor retried its completion"
say "c, cut off, has stopped writing shard $shard; plugging c back in"
nf_link c up
rejected=$(wait_for_line "$NF_FARM/worker-c.log" \
  "shard $job2/$shard: (lease lost \(token $token[: ]|completion rejected: the lease \(token $token\) is not current any more)" \
  60 "$cut_line") ||
  fail "c, back on the network, neither dropped shard $shard (token $token) nor had its completion rejected"
say "c is back: \"$rejected\""
# Whatever c does next (claims, renewals) must not touch the finished job.
sleep 2
completed_after=$(nf_metric synthfarm_samples_completed_total)
((completed_after == completed)) || fail "c's late completion was counted: $completed -> $completed_after samples"
[[ $(nf_job_field "$job2" shards_done) == "$(nf_job_field "$job2" shards_total)" ]] || fail "job $job2: shards_done != shards_total"
[[ $(nf_job_field "$job2" state) == "done" ]] || fail "job $job2 is $(nf_job_field "$job2" state) after c came back"
hashes "$NF_OUT" "$job2" >"$work/after-return.sha256"
diff -u "$work/before-return.sha256" "$work/after-return.sha256" ||
  fail "the finished dataset of $job2 changed after c came back"
[[ $(stat -c '%i %y' "$NF_OUT/$job2/manifest.json") == "$manifest_stat" ]] ||
  fail "manifest.json of $job2 was written again after c came back"
check_dataset "$job2"
say "job $job2: c's completion refused, $completed accepted samples in all, dataset files unchanged"

# 3. Loopback, once more at the end (c's reconnection included).
check_tripwires
check_listeners
check_worker_peers b
check_worker_peers c
say "no connection to loopback on b or c; a listens on ${NF_ADDR[a]} only; workers talk to a only"
for secret in "$NF_TOKEN" "$(cat "$work/hosts/a/redis-coordinator.password")" "$(cat "$work/hosts/b/redis-worker.password")"; do
  ! grep -rqF "$secret" "$NF_FARM"/*.log "$work"/wait-*.log || fail "a token or Redis password appears in a log under $work"
done
say "PASS"
