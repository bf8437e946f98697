# shellcheck shell=bash disable=SC2034  # NF_* variables are set for the caller
# Shell functions that run one synthfarm across several hosts on this machine: each host
# is a Linux network namespace with its own address on a bridge, so every connection
# between the programs crosses a real interface, and a program that assumes one host
# (dials 127.0.0.1, binds 0.0.0.0) shows up. Security is on as in production: an API
# token, the Redis ACL users of ops/redis.acl with passwords, and CURVE keys for the
# coordinator and for each worker. Sourced by tests/multihost_test.sh and
# bench/multihost.sh. Needs root (ip netns), iproute2, redis-server, curl.
#
# Layouts (nf_farm_start):
#   hosts     host a (10.77.0.1): redis-server and the coordinator, bound to that address
#             only; hosts b (10.77.0.2) and c (10.77.0.3): one worker each; the CLI runs
#             on b, as a user on another machine would.
#   loopback  the same programs with the same flags in one namespace, every address
#             127.0.0.1: the single-host farm to compare with.
#
# The namespaces share this machine's file system, so the farm's file:// storage stands
# for a shared file system (NFS and the like) that every host mounts.
#
# Set before nf_init: NF_CLI, NF_COORDINATOR, NF_WORKER (the programs), NF_SOURCE (the
# source tree, for ops/redis.conf and ops/redis.acl). Mistakes a test must catch can be
# put in on purpose: NF_WORKER_REDIS=(URL_FOR_B URL_FOR_C) replaces the workers' Redis
# addresses, NF_COORDINATOR_LISTEN the address the coordinator's HTTP server binds. Then:
#   nf_init WORK_DIR; nf_netns_permitted || skip; trap nf_cleanup EXIT
#   nf_network_up; nf_security; nf_farm_start hosts LEASE_MS; nf_cli submit ...
# Every namespace is named nf-<random run id>-<host> and the bridge lives in a namespace
# of its own, so two runs never collide and nothing is added to the caller's namespace.
# Ports are the deployment defaults (docs/deploy.md): in a new namespace they are free.

declare -A NF_ADDR=([a]=10.77.0.1 [b]=10.77.0.2 [c]=10.77.0.3)
NF_REDIS_PORT=6379
NF_HTTP_PORT=8080
NF_TELEMETRY_PORT=5555
NF_CONTROL_PORT=5556
NF_NAMESPACES=()
NF_PIDS=()
declare -A NF_PID=()  # process name (redis, coordinator, worker-b, ...) -> pid

# nf_init WORK_DIR: the run's id and its directory (logs, keys, storage).
nf_init() {
  NF_WORK=$1
  mkdir -p "$NF_WORK"
  NF_RUN_ID=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
  NF_PREFIX=nf-$NF_RUN_ID
  NF_STARTS=0
}

nf_ns() { echo "$NF_PREFIX-$1"; }

# Whether this process may make network namespaces; NF_NETNS_ERROR says why not.
nf_netns_permitted() {
  local probe
  probe=$(nf_ns probe)
  NF_NETNS_ERROR=$(ip netns add "$probe" 2>&1) || return 1
  ip netns del "$probe"
}

nf_add_ns() {
  local ns
  ns=$(nf_ns "$1")
  ip netns add "$ns"
  NF_NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
}

# Namespace net holds bridge br0; hosts a, b and c each have eth0 (their address, /24)
# whose peer is the bridge's port to-<host>. (The loopback layout's host, l, is made
# when first used.)
nf_network_up() {
  local net host
  nf_add_ns net
  net=$(nf_ns net)
  ip -n "$net" link add br0 type bridge
  ip -n "$net" link set br0 up
  for host in a b c; do
    nf_add_ns "$host"
    ip -n "$net" link add "to-$host" type veth peer name eth0 netns "$(nf_ns "$host")"
    ip -n "$net" link set "to-$host" master br0 up
    ip -n "$(nf_ns "$host")" addr add "${NF_ADDR[$host]}/24" dev eth0
    ip -n "$(nf_ns "$host")" link set eth0 up
  done
}

# nf_link HOST up|down: plugs a host's cable into the bridge, or pulls it out.
nf_link() { ip -n "$(nf_ns net)" link set "to-$1" "$2"; }

# nf_run HOST CMD...: runs CMD on that host.
nf_run() {
  local host=$1
  shift
  ip netns exec "$(nf_ns "$host")" "$@"
}

# nf_spawn HOST NAME LOG CMD...: starts CMD in the background on HOST, NF_PID[NAME] its pid.
# `ip netns exec` execs the command, so the pid is the program's own.
nf_spawn() {
  local host=$1 name=$2 log=$3
  shift 3
  ip netns exec "$(nf_ns "$host")" "$@" >"$log" 2>&1 &
  NF_PIDS+=($!)
  NF_PID[$name]=$!
}

# nf_wait_port HOST ADDR PORT [TRIES]: until something accepts connections there, trying
# every 0.1 s (100 tries by default).
nf_wait_port() {
  local host=$1 addr=$2 port=$3 tries=${4:-100}
  for _ in $(seq "$tries"); do
    nf_run "$host" bash -c "exec 3<>/dev/tcp/$addr/$port" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "netns_farm: nothing accepts connections on $addr:$port (host $host) after $((tries / 10)) s" >&2
  return 1
}

nf_keygen() {
  "$NF_CLI" keygen --out "$1" >"$1.keygen.log" 2>&1 || {
    cat "$1.keygen.log" >&2
    return 1
  }
}

# nf_security: each host's secrets in its own directory under $NF_WORK/hosts: Redis
# passwords (files of mode 0600) and the ACL file, CURVE key pairs, the allow-list.
nf_security() {
  local h=$NF_WORK/hosts user password host placeholder
  mkdir -p "$h/a" "$h/b" "$h/c"
  placeholder="#$(printf '0%.0s' {1..64})"
  cp "$NF_SOURCE/ops/redis.acl" "$h/a/redis.acl"
  for user in coordinator worker; do
    password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    # The shipped file with each user's placeholder hash replaced, as docs/security.md says.
    sed -i "/^user $user /s/$placeholder/#$(printf %s "$password" | sha256sum | cut -d' ' -f1)/" "$h/a/redis.acl"
    if ! grep -q "^user $user " "$h/a/redis.acl" || grep "^user $user " "$h/a/redis.acl" | grep -qF "$placeholder"; then
      echo "netns_farm: ops/redis.acl has no line 'user $user ... $placeholder' to put a password in" >&2
      return 1
    fi
    if [[ $user == coordinator ]]; then
      (umask 077 && printf '%s\n' "$password" >"$h/a/redis-coordinator.password")
    else
      for host in b c; do (umask 077 && printf '%s\n' "$password" >"$h/$host/redis-worker.password"); done
    fi
  done
  chmod 600 "$h/a/redis.acl"
  nf_keygen "$h/a/coordinator" || return 1
  : >"$h/a/allowed_workers"
  for host in b c; do
    nf_keygen "$h/$host/worker" || return 1
    echo "$(cat "$h/$host/worker.pub")  # worker on host $host" >>"$h/a/allowed_workers"
    cp "$h/a/coordinator.pub" "$h/$host/coordinator.pub"
  done
}

# nf_farm_start LAYOUT LEASE_MS: redis-server, the coordinator and two workers (one
# render thread each), laid out as LAYOUT (hosts or loopback); a submitter token for the
# CLI. Logs, Redis' files and the storage in $NF_FARM (a new directory per start).
nf_farm_start() {
  NF_LAYOUT=$1
  local lease_ms=$2 h=$NF_WORK/hosts server_host worker_hosts host
  NF_STARTS=$((NF_STARTS + 1))
  NF_FARM=$NF_WORK/farm-$NF_STARTS-$NF_LAYOUT
  mkdir -p "$NF_FARM/redis" "$NF_FARM/out"
  if [[ $NF_LAYOUT == hosts ]]; then
    server_host=a worker_hosts=(b c) NF_CLIENT=b NF_SERVER_ADDR=${NF_ADDR[a]}
  else
    server_host=l worker_hosts=(l l) NF_CLIENT=l NF_SERVER_ADDR=127.0.0.1
    [[ " ${NF_NAMESPACES[*]} " == *" $(nf_ns l) "* ]] || nf_add_ns l
  fi
  local addr=$NF_SERVER_ADDR
  NF_URL=http://$addr:$NF_HTTP_PORT
  NF_OUT=$NF_FARM/out

  nf_spawn "$server_host" redis "$NF_FARM/redis.log" redis-server "$NF_SOURCE/ops/redis.conf" \
    --bind "$addr" --port "$NF_REDIS_PORT" --dir "$NF_FARM/redis" --aclfile "$h/a/redis.acl" --daemonize no
  nf_wait_port "$server_host" "$addr" "$NF_REDIS_PORT" || return 1

  # Made on the coordinator's host with the coordinator's Redis user, as an operator would.
  NF_TOKEN=$(nf_run "$server_host" "$NF_CLI" token create --role submitter --name "multihost-$NF_RUN_ID-$NF_STARTS" \
    --redis "redis://coordinator@$addr:$NF_REDIS_PORT" --redis-password-file "$h/a/redis-coordinator.password" \
    2>"$NF_FARM/token.log") || {
    echo "netns_farm: cannot make an API token; see $NF_FARM/token.log" >&2
    return 1
  }
  export SYNTHFARM_TOKEN=$NF_TOKEN
  (umask 077 && printf 'Authorization: Bearer %s\n' "$NF_TOKEN" >"$NF_FARM/auth.header")

  nf_spawn "$server_host" coordinator "$NF_FARM/coordinator.log" "$NF_COORDINATOR" \
    --redis "redis://coordinator@$addr:$NF_REDIS_PORT" --redis-password-file "$h/a/redis-coordinator.password" \
    --listen "${NF_COORDINATOR_LISTEN:-$addr}:$NF_HTTP_PORT" --telemetry "tcp://$addr:$NF_TELEMETRY_PORT" \
    --control "tcp://$addr:$NF_CONTROL_PORT" --storage-root "file://$NF_OUT" \
    --curve-key "$h/a/coordinator.key" --curve-workers "$h/a/allowed_workers"
  nf_wait_port "$server_host" "$addr" "$NF_HTTP_PORT" || return 1

  local keys=(b c) i
  for i in 0 1; do
    host=${worker_hosts[$i]}
    local k=$h/${keys[$i]}
    nf_spawn "$host" "worker-${keys[$i]}" "$NF_FARM/worker-${keys[$i]}.log" "$NF_WORKER" \
      --redis "${NF_WORKER_REDIS[$i]:-redis://worker@$addr:$NF_REDIS_PORT}" --redis-password-file "$k/redis-worker.password" \
      --coordinator "tcp://$addr:$NF_TELEMETRY_PORT" --control "tcp://$addr:$NF_CONTROL_PORT" \
      --curve-key "$k/worker.key" --coordinator-key "$k/coordinator.pub" \
      --threads 1 --lease-ms "$lease_ms" --id "worker-${keys[$i]}"
  done
}

# nf_cli ARGS...: the synthfarm CLI on the client host, with the farm's URL and token.
nf_cli() { nf_run "$NF_CLIENT" "$NF_CLI" --url "$NF_URL" "$@"; }

# nf_api PATH: GET an API path from the client host, with the token.
nf_api() { nf_run "$NF_CLIENT" curl -sS -f -H @"$NF_FARM/auth.header" "$NF_URL$1"; }

# nf_metric NAME: a sample's value from /metrics.
nf_metric() { nf_run "$NF_CLIENT" curl -sS -f "$NF_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# nf_job_field JOB FIELD: one field of GET /api/jobs/JOB.
nf_job_field() {
  nf_api "/api/jobs/$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# Stops what nf_farm_start started: SIGTERM, then SIGKILL after 10 s (a worker cut off
# from Redis keeps retrying to give its shard back).
nf_farm_stop() {
  local pid
  for pid in "${NF_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local alive=0
    for pid in "${NF_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${NF_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${NF_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  NF_PIDS=()
  NF_PID=()
}

# Every process started, then every namespace made (their veths and the bridge go with them).
nf_cleanup() {
  nf_farm_stop
  local ns pids
  for ns in "${NF_NAMESPACES[@]}"; do
    # Only this run's processes can be in this run's namespaces (helpers started by a caller).
    mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null || true)
    ((${#pids[@]} == 0)) || kill -KILL "${pids[@]}" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  NF_NAMESPACES=()
}
