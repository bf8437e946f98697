# Shell functions that start a farm on loopback: redis-server, one coordinator and N
# workers, each on a free port, logs under $FARM_RUN. Sourced by ops/quickstart.sh and
# the benchmarks. Call farm_start, then use $FARM_URL; farm_stop ends what was started.
# Programs come from $BUILD_DIR/bin (default build/bin). Authentication is on, as in
# production: farm_start makes an admin token and exports it as SYNTHFARM_TOKEN, which
# the synthfarm CLI reads; $FARM_TOKEN_NAME names it (for `synthfarm token login-link`).
# FARM_SECURITY: tokens (the default), full (tokens, and CURVE on telemetry and control
# with every worker's key listed), off (no tokens, plain ZeroMQ; loopback only).

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p=$1
  while port_busy "$p"; do p=$((p + 1)); done
  echo "$p"
}

FARM_PIDS=()

# farm_start RUN_DIR STORAGE_ROOT WORKERS THREADS
farm_start() {
  FARM_RUN=$1
  local storage_root=$2 workers=$3 threads=$4
  mkdir -p "$FARM_RUN/redis"
  local redis_port http_port telemetry_port control_port
  redis_port=$(free_port "${SYNTHFARM_REDIS_PORT:-6390}")
  http_port=$(free_port "${SYNTHFARM_HTTP_PORT:-8080}")
  telemetry_port=$(free_port "${SYNTHFARM_TELEMETRY_PORT:-5555}")
  control_port=$(free_port "${SYNTHFARM_CONTROL_PORT:-$((telemetry_port + 1))}")
  FARM_REDIS=redis://127.0.0.1:$redis_port
  FARM_TELEMETRY=tcp://127.0.0.1:$telemetry_port
  FARM_CONTROL=tcp://127.0.0.1:$control_port
  FARM_URL=http://127.0.0.1:$http_port

  redis-server ops/redis.conf --port "$redis_port" --dir "$FARM_RUN/redis" --daemonize no \
    >"$FARM_RUN/redis.log" 2>&1 &
  FARM_PIDS+=($!)
  for _ in $(seq 100); do
    port_busy "$redis_port" && break
    sleep 0.1
  done
  local bin=${BUILD_DIR:-build}/bin security=${FARM_SECURITY:-tokens}
  local coordinator_security=() worker_security=()
  if [[ $security == off ]]; then
    coordinator_security=(--auth off)
    unset SYNTHFARM_TOKEN
  else
    FARM_TOKEN_NAME="farm-$(date +%Y%m%d-%H%M%S)-$$"
    SYNTHFARM_TOKEN=$("$bin/synthfarm" token create --role admin --name "$FARM_TOKEN_NAME" \
      --redis "$FARM_REDIS" 2>>"$FARM_RUN/token.log") || {
      echo "farm: cannot make an API token; see $FARM_RUN/token.log" >&2
      return 1
    }
    export SYNTHFARM_TOKEN
  fi
  if [[ $security == full ]]; then
    "$bin/synthfarm" keygen --out "$FARM_RUN/coordinator" --force >/dev/null 2>&1
    "$bin/synthfarm" keygen --out "$FARM_RUN/worker" --force >/dev/null 2>&1
    cp "$FARM_RUN/worker.pub" "$FARM_RUN/allowed_workers"
    coordinator_security=(--curve-key "$FARM_RUN/coordinator.key" --curve-workers "$FARM_RUN/allowed_workers")
    worker_security=(--curve-key "$FARM_RUN/worker.key" --coordinator-key "$FARM_RUN/coordinator.pub")
  fi
  "$bin/synthfarm-coordinator" --redis "$FARM_REDIS" --listen "127.0.0.1:$http_port" \
    --telemetry "$FARM_TELEMETRY" --control "$FARM_CONTROL" --storage-root "$storage_root" \
    "${coordinator_security[@]}" >"$FARM_RUN/coordinator.log" 2>&1 &
  FARM_PIDS+=($!)
  local i
  for i in $(seq "$workers"); do
    "$bin/synthfarm-worker" --redis "$FARM_REDIS" --coordinator "$FARM_TELEMETRY" \
      --control "$FARM_CONTROL" --threads "$threads" --id "w$i" "${worker_security[@]}" >"$FARM_RUN/worker-$i.log" 2>&1 &
    FARM_PIDS+=($!)
  done
  for _ in $(seq 100); do
    port_busy "$http_port" && return 0
    sleep 0.1
  done
  echo "farm: the coordinator did not start; see $FARM_RUN/coordinator.log" >&2
  return 1
}

farm_stop() {
  local pid
  for pid in "${FARM_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${FARM_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  FARM_PIDS=()
}
