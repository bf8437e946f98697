#!/usr/bin/env bash
# The container image runs a farm (ctest label cluster).
#
# CI runs the image's root file system under unshare and chroot, not under podman: on CI's
# machines container runtimes (podman, crun) cannot start a container (setrlimit is
# refused), while buildah still builds images. So this test does by hand what a runtime
# would do with the image, using its config (entrypoint, user, environment, working
# directory): ops/image/build.sh builds the image from this build tree (in CI from
# nothing: about a minute on 2 cores), and each process then runs in its own mount and PID
# namespaces, chrooted into the image's root file system mounted read-only, as uid/gid
# 10001, under tini as PID 1, with /proc, a minimal /dev, a tmpfs on /tmp and /run, and
# its volumes bound in: /var/lib/synthfarm (shared, the datasets), /run/synthfarm (its own)
# and /run/secrets/synthfarm (read-only). The network is this machine's: Redis runs here,
# outside the image, with the ACL users of ops/redis.acl, and every program uses its own.
#
# Checks: the OCI image holds exactly that root file system, entrypoint tini, user 10001;
# the root file system is read-only to the programs; the image's `synthfarm token create`
# makes the admin token and `synthfarm keygen` the CURVE keys; a coordinator and two
# workers (security on: tokens, Redis ACL users, CURVE) finish a small job, whose
# manifest.json lists every object with its size and sha256; the coordinator serves the
# installed dashboard and /healthz; the workers' health files are fresh, checked by the
# Kubernetes probe run inside their namespaces as kubelet would; SIGTERM to each
# container's PID 1 ends it with exit 0 after the program logged the signal (the workers
# remove their health files), PID 1 being tini or, for one worker, the program itself (as
# ops/k8s runs it: `command:` replaces the entrypoint); a library missing from the root
# file system makes the programs fail to start.
#
#   tests/image_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "image test: needs root (mmdebstrap, unshare, chroot); skipped"
  exit 77
fi
# shellcheck source=ops/lib/farm.sh
source ops/lib/farm.sh  # free_port, port_busy
fail() { echo "image test: FAILED: $*" >&2; exit 1; }
t_start=$SECONDS

# ---- the image ----------------------------------------------------------------------
ops/image/build.sh --build "$build" --out "$build/image"
image=$build/image
rootfs=$image/rootfs
t_built=$SECONDS

# The image's config, as a runtime reads it.
config=$(python3 - "$image/oci" <<'EOF'
import json, sys
layout = sys.argv[1]
blob = lambda d: f"{layout}/blobs/sha256/{d.split(':')[1]}"
index = json.load(open(f"{layout}/index.json"))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))["config"]
assert len(manifest["layers"]) == 1, "one layer"
print(blob(manifest["layers"][0]["digest"]))
print(config["User"])
print(config.get("WorkingDir", "/"))
print("\x1f".join(config["Entrypoint"]))
print("\x1f".join(config.get("Env", [])))
EOF
)
{ read -r layer; read -r image_user; read -r image_workdir; read -r entrypoint; read -r image_env; } <<<"$config"
IFS=$'\x1f' read -r -a entrypoint <<<"$entrypoint"
IFS=$'\x1f' read -r -a image_env <<<"$image_env"
[[ $image_user == 10001:10001 ]] || fail "the image's user is '$image_user', not 10001:10001"
[[ ${entrypoint[*]} == "/usr/bin/tini --" ]] || fail "the image's entrypoint is '${entrypoint[*]}', not tini"
# Its one layer is the root file system this test runs, file for file.
diff <(tar -tzf "$layer" | sed 's|^\./||; s|/$||' | grep -v '^$' | sort) \
     <(tar -tf "$image/synthfarm-rootfs.tar" | sed 's|^\./||; s|/$||' | grep -v '^$' | sort) >/dev/null ||
  fail "the image's layer and the root file system the test runs differ"

# ---- running a program of the image -------------------------------------------------
work=$(mktemp -d)
host_pids=()
cleanup() {
  local pid
  for pid in "${host_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${host_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/data" "$work/secrets" "$work/logs"
chown 10001:10001 "$work/data"

# What each process runs in: a fresh mount and PID namespace (unshare --kill-child: the
# process dies with its unshare), the root file system read-only, the volumes, then the
# image's entrypoint as its user in its working directory with its environment.
inside='
set -e
r=$IMAGE_ROOT
mount --bind "$r" "$r"
mount -o remount,bind,ro,nosuid,nodev "$r"
mount -t proc -o nosuid,nodev,noexec proc "$r/proc"
mount -t tmpfs -o nosuid,noexec,mode=0755,size=1m dev "$r/dev"
for d in null zero full random urandom tty; do touch "$r/dev/$d"; mount --bind "/dev/$d" "$r/dev/$d"; done
mkdir "$r/dev/shm"; mount -t tmpfs -o nosuid,nodev,noexec shm "$r/dev/shm"
ln -s /proc/self/fd "$r/dev/fd"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp "$r/tmp"
mount -t tmpfs -o nosuid,nodev,mode=0755 run "$r/run"
mkdir -p "$r/run/synthfarm" "$r/run/secrets/synthfarm"
mount --bind "$VOLUME_RUN" "$r/run/synthfarm"
mount --bind -o ro "$VOLUME_SECRETS" "$r/run/secrets/synthfarm"
mount -o remount,bind,ro "$r/run/secrets/synthfarm"
mount --bind "$VOLUME_DATA" "$r/var/lib/synthfarm"
[ -z "$HIDE_LIBRARY" ] || mount --bind /dev/null "$r$HIDE_LIBRARY"
exec chroot --userspec="$IMAGE_USER" "$r" /usr/bin/env -i -C "$IMAGE_WORKDIR" "$@"
'
# volume NAME: the host directory bound at /run/synthfarm for the process NAME.
volume() {
  mkdir -p "$work/run-$1"
  chown 10001:10001 "$work/run-$1"
}
# in_image NAME [VAR=value...] -- COMMAND...: runs COMMAND through the entrypoint in the
# background (with NO_ENTRYPOINT=1, COMMAND alone, as Kubernetes runs a container whose
# `command:` is set), stdout to $work/logs/NAME.log (the programs log there), stderr to
# NAME.err; $last_pid is its unshare process.
in_image() {
  local name=$1 env=() entry=("${entrypoint[@]}")
  [[ -z ${NO_ENTRYPOINT:-} ]] || entry=()
  shift
  while [[ $1 != -- ]]; do env+=("$1"); shift; done
  shift
  volume "$name"
  IMAGE_ROOT=$rootfs IMAGE_USER=$image_user IMAGE_WORKDIR=$image_workdir HIDE_LIBRARY=${HIDE_LIBRARY:-} \
    VOLUME_RUN=$work/run-$name VOLUME_SECRETS=$work/secrets VOLUME_DATA=$work/data \
    unshare --mount --pid --fork --kill-child -- sh -c "$inside" inside \
    "${image_env[@]}" "${env[@]}" "${entry[@]}" "$@" >"$work/logs/$name.log" 2>"$work/logs/$name.err" &
  last_pid=$!
  host_pids+=("$last_pid")
}
# run_image NAME [VAR=value...] -- COMMAND...: the same in the foreground; its stdout.
run_image() {
  local status=0
  in_image "$@"
  wait "$last_pid" || status=$?
  cat "$work/logs/$1.log"
  return "$status"
}
# The container's PID 1 (tini, or the program itself) as this machine sees it: the child
# of its unshare, once it has become that.
container_init() {
  local pid=$1 init= exe=
  for _ in $(seq 50); do
    init=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{print $1}')
    exe=$(readlink "/proc/$init/exe" 2>/dev/null || true)
    [[ -n $init && ( $exe == */tini || $exe == */synthfarm* ) ]] && break
    sleep 0.1
  done
  [[ -n $init ]] || fail "no process under unshare $pid"
  echo "$init"
}

# The root file system is read-only to the programs; the volumes are not.
out=$(run_image readonly -- /bin/sh -c 'touch /usr/bin/x /etc/x 2>&1; touch /var/lib/synthfarm/x /run/synthfarm/x && id -u && id -g') ||
  fail "the volumes are not writable in the image: $out $(cat "$work/logs/readonly.err")"
grep -q 'Read-only file system' <<<"$out" || fail "the root file system is writable in the image: $out"
[[ $(tail -2 <<<"$out" | tr '\n' ' ') == "10001 10001 " ]] || fail "the volumes are not writable as 10001: $out"
rm -f "$work/data/x"

# ---- Redis on this machine, with the ACL users and their passwords -------------------
redis_port=$(free_port 16400)
mkdir -p "$work/redis"
hash() { tr -d '\n' <"$1" | sha256sum | cut -d' ' -f1; }
for user in coordinator worker; do
  openssl rand -hex 24 >"$work/secrets/redis-$user"
done
sed -e "/^user coordinator /s/#0\{64\}/#$(hash "$work/secrets/redis-coordinator")/" \
    -e "/^user worker /s/#0\{64\}/#$(hash "$work/secrets/redis-worker")/" ops/redis.acl >"$work/redis/users.acl"
redis-server ops/redis.conf --port "$redis_port" --dir "$work/redis" --aclfile "$work/redis/users.acl" \
  --appendonly no --daemonize no >"$work/logs/redis.log" 2>&1 &
host_pids+=($!)
for _ in $(seq 100); do port_busy "$redis_port" && break; sleep 0.1; done
port_busy "$redis_port" || fail "redis-server did not start: $(cat "$work/logs/redis.log")"
redis_as() { echo "redis://$1@127.0.0.1:$redis_port"; }

# ---- keys and the token, made by the image's CLI ------------------------------------
keys=$work/run-keys
for who in coordinator w1 w2; do
  run_image keys -- synthfarm keygen --out "/run/synthfarm/$who" >/dev/null || fail "keygen: $(cat "$work/logs/keys.err")"
done
cp "$keys"/coordinator.key "$keys"/coordinator.pub "$keys"/w1.key "$keys"/w2.key "$work/secrets/"
cat "$keys/w1.pub" "$keys/w2.pub" >"$work/secrets/allowed_workers"
# The secrets are the user's alone, as the programs demand (mode 600 or 400).
chown -R 10001:10001 "$work/secrets"
chmod 0400 "$work"/secrets/*
chmod 0444 "$work/secrets/coordinator.pub" "$work/secrets/allowed_workers"
token=$(run_image token -- synthfarm token create --role admin --name image-test \
  --redis "$(redis_as coordinator)" --redis-password-file /run/secrets/synthfarm/redis-coordinator) ||
  fail "token create: $(cat "$work/logs/token.err")"
[[ $token == sft_* ]] || fail "token create printed no token: $token"

# ---- the farm: a coordinator and two workers ----------------------------------------
http_port=$(free_port 18090)
telemetry_port=$(free_port 15565)
control_port=$(free_port $((telemetry_port + 1)))
in_image coordinator -- synthfarm-coordinator \
  --redis "$(redis_as coordinator)" --redis-password-file /run/secrets/synthfarm/redis-coordinator \
  --listen "127.0.0.1:$http_port" --telemetry "tcp://127.0.0.1:$telemetry_port" \
  --control "tcp://127.0.0.1:$control_port" --storage-root file:///var/lib/synthfarm/datasets \
  --curve-key /run/secrets/synthfarm/coordinator.key --curve-workers /run/secrets/synthfarm/allowed_workers
coordinator=$last_pid
url=http://127.0.0.1:$http_port
for _ in $(seq 100); do port_busy "$http_port" && break; sleep 0.1; done
[[ $(curl -s "$url/healthz") == ok ]] || fail "no /healthz from the coordinator: $(cat "$work/logs/coordinator.log")"
page=$(curl -s "$url/")
grep -q '<html' <<<"$page" || fail "the coordinator does not serve the installed dashboard"
# The second worker runs as ops/k8s runs it: its `command:` replaces the entrypoint, so the
# program itself is PID 1 and must take SIGTERM without tini.
workers=()
for w in w1 w2; do
  NO_ENTRYPOINT=$([[ $w == w2 ]] && echo 1 || true) in_image "$w" -- synthfarm-worker --id "image-$w" --threads 1 \
    --redis "$(redis_as worker)" --redis-password-file /run/secrets/synthfarm/redis-worker \
    --coordinator "tcp://127.0.0.1:$telemetry_port" --control "tcp://127.0.0.1:$control_port" \
    --curve-key "/run/secrets/synthfarm/$w.key" --coordinator-key /run/secrets/synthfarm/coordinator.pub
  workers+=("$last_pid")
done

# A small job: four samples of 64 x 48 at 2 samples per pixel, one shard each.
volume cli
printf 'name: image-test\nsamples: 4\nshard_size: 1\nseed: 11\ncamera:\n  resolution: [64, 48]\nrender:\n  spp: 2\n  max_bounces: 1\n' \
  >"$work/run-cli/spec.yaml"
job=$(run_image cli "SYNTHFARM_TOKEN=$token" -- synthfarm --url "$url" submit /run/synthfarm/spec.yaml) ||
  fail "submit: $job $(cat "$work/logs/cli.err")"
run_image cli "SYNTHFARM_TOKEN=$token" -- synthfarm --url "$url" wait "$job" --timeout 240 >/dev/null ||
  fail "job $job did not finish: $(tail -5 "$work/logs/cli.err"; tail -20 "$work"/logs/w*.log)"

# The dataset, as its manifest lists it.
python3 - "$work/data/datasets/$job" <<'EOF' || fail "the dataset's manifest.json does not check out"
import hashlib, json, os, sys
root = sys.argv[1]
manifest = json.load(open(os.path.join(root, "manifest.json")))
keys = {o["key"]: o for o in manifest["objects"]}
for i in range(4):
    for ext in ("exr", "png", "json"):
        assert f"samples/{i:08d}.{ext}" in keys, f"samples/{i:08d}.{ext} not listed"
assert "annotations/coco_person_keypoints.json" in keys
for key, o in keys.items():
    data = open(os.path.join(root, key), "rb").read()
    assert len(data) == o["size"], key
    assert hashlib.sha256(data).hexdigest() == o["sha256"], key
assert manifest["counts"]["images"] == 4, manifest["counts"]
print(f"image test: manifest.json lists {len(keys)} objects, every one present with its size and sha256")
EOF

# The probes: /healthz for the coordinator; for the workers, the health file, checked in
# each worker's namespaces as its user, the way kubelet runs the manifests' exec probe.
[[ $(curl -s "$url/healthz") == ok ]] || fail "/healthz after the job"
inits=()
for i in 0 1; do
  init=$(container_init "${workers[$i]}")
  inits+=("$init")
  [[ $(awk '/^NSpid:/ {print $NF}' "/proc/$init/status") == 1 ]] || fail "worker $((i + 1)) is not PID 1 in its container"
  expected=$([[ $i == 0 ]] && echo tini || echo synthfarm-worker)
  [[ $(readlink "/proc/$init/exe") == */$expected ]] || fail "worker $((i + 1))'s PID 1 is not $expected"
  nsenter --target "$init" --mount --pid --root --wd --setuid 10001 --setgid 10001 -- \
    /bin/sh -c 'test -n "$(find /run/synthfarm/worker.alive -mmin -1)"' || fail "worker $((i + 1))'s health probe fails"
done
[[ -f $work/run-w1/worker.alive && -f $work/run-w2/worker.alive ]] || fail "no health files in the workers' volumes"

# SIGTERM to each container's PID 1 (what a runtime sends): tini passes it on, or the
# program takes it itself; it stops cleanly and its exit status comes back out.
stop_container() {
  local name=$1 pid=$2 init status=0
  init=$(container_init "$pid")
  kill -TERM "$init"
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "$name did not stop within 30 s of SIGTERM"
  wait "$pid" || status=$?
  ((status == 0)) || fail "$name exited $status after SIGTERM: $(tail -5 "$work/logs/$name.log")"
}
for i in 0 1; do
  w=w$((i + 1))
  stop_container "$w" "${workers[$i]}"
  grep -q 'signal 15: finishing the current sample' "$work/logs/$w.log" || fail "$w did not log SIGTERM"
  grep -q 'removing the health file' "$work/logs/$w.log" || fail "$w did not remove its health file"
  grep -q 'stopped after' "$work/logs/$w.log" || fail "$w did not stop cleanly"
  [[ ! -e $work/run-$w/worker.alive ]] || fail "$w left its health file behind"
done
stop_container coordinator "$coordinator"
# The token is printed once, by token create, and appears in no log.
if grep -lF "$token" "$work"/logs/* | grep -v '/token\.log$'; then fail "the token appears in a log"; fi

# A library missing from the root file system: the programs cannot start.
library=$(cd "$rootfs" && find usr/lib -name 'libembree3.so.3*' -type f | head -1 || true)
[[ -n $library ]] || fail "libembree3 not found in the root file system"
status=0
HIDE_LIBRARY=/$library run_image missing -- synthfarm-worker --help >/dev/null || status=$?
((status != 0)) && grep -q 'error while loading shared libraries' "$work/logs/missing.err" ||
  fail "the worker started without libembree3 (exit $status): $(cat "$work/logs/missing.err")"

echo "image test: passed in $((SECONDS - t_start)) s (image built in $((t_built - t_start)) s)"
