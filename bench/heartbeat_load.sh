#!/usr/bin/env bash
# Coordinator CPU under worker heartbeats: a real synthfarm-coordinator (with its own
# redis-server) receives one protocol::Heartbeat per second from each of 500 simulated
# workers (500 TelemetrySender objects: 500 ZeroMQ contexts and 500 TCP connections, the
# same sender class the worker uses) for 30 s, against the same coordinator idle for
# 10 s. CPU is utime+stime from /proc/PID/stat at the start and end of each window.
# Then checks that GET /api/workers lists the 500 workers, all alive.
#
#   bench/heartbeat_load.sh        (needs a build: cmake --build build)
#
# Env: BUILD_DIR (default build), WORKERS (500), SECONDS_LOAD (30), SECONDS_IDLE (10),
# SECURITY (both: off then on, and the ratio; or off, or on). Security on is CURVE on the
# telemetry socket (every simulated worker's key listed) and API tokens.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
workers=${WORKERS:-500}
load_s=${SECONDS_LOAD:-30}
idle_s=${SECONDS_IDLE:-10}
case ${SECURITY:-both} in both) modes="off on" ;; off|on) modes=$SECURITY ;; *) echo "SECURITY: both, off or on" >&2; exit 2 ;; esac
for b in synthfarm synthfarm-coordinator heartbeat_load; do
  [[ -x $build/bin/$b ]] || { echo "build first: cmake -S . -B $build -G Ninja && cmake --build $build" >&2; exit 2; }
done

# Each sender holds about 7 descriptors (context, I/O thread, mailboxes, the TCP socket);
# the coordinator one per connection. Raise the soft limit as far as the hard one allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
need=$((workers * 8 + 256))
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $need ]]; then
  echo "fd limit $(ulimit -n) < $need needed for $workers senders; raise ulimit -Hn" >&2
  exit 2
fi

source ops/lib/farm.sh  # port_busy, free_port
work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One run: its own redis-server and coordinator, security off (no CURVE, no API tokens) or
# on (CURVE on telemetry with every simulated worker's key listed, API tokens); prints the
# figures and leaves "idle_pct load_pct" in $work/result-MODE.
run_mode() {
  local mode=$1 redis_port http_port tele_port control_port coord
  redis_port=$(free_port "${SYNTHFARM_REDIS_PORT:-6590}")
  http_port=$(free_port "${SYNTHFARM_HTTP_PORT:-8590}")
  tele_port=$(free_port "${SYNTHFARM_TELEMETRY_PORT:-5590}")
  control_port=$(free_port $((tele_port + 1)))
  mkdir -p "$work/$mode/out"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/$mode" --daemonize no \
    >"$work/$mode/redis.log" 2>&1 &
  local redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 100); do
    port_busy "$redis_port" && break
    sleep 0.1
  done
  local security=(--auth off) client=()
  unset SYNTHFARM_TOKEN
  if [[ $mode == on ]]; then
    "$build/bin/synthfarm" keygen --out "$work/coordinator" >/dev/null 2>&1
    "$build/bin/synthfarm" keygen --out "$work/workers" >/dev/null 2>&1
    cp "$work/workers.pub" "$work/allowed_workers"
    SYNTHFARM_TOKEN=$("$build/bin/synthfarm" token create --role viewer --name bench \
      --redis "redis://127.0.0.1:$redis_port" 2>/dev/null)
    export SYNTHFARM_TOKEN
    security=(--auth on --curve-key "$work/coordinator.key" --curve-workers "$work/allowed_workers")
    client=(--curve-key "$work/workers.key" --coordinator-key "$work/coordinator.pub")
  fi
  "$build/bin/synthfarm-coordinator" --redis "redis://127.0.0.1:$redis_port" --listen "127.0.0.1:$http_port" \
    --telemetry "tcp://127.0.0.1:$tele_port" --control "tcp://127.0.0.1:$control_port" \
    --storage-root "file://$work/$mode/out" "${security[@]}" >"$work/$mode/coordinator.log" 2>&1 &
  coord=$!
  pids+=("$coord")
  for _ in $(seq 100); do
    port_busy "$http_port" && break
    sleep 0.1
  done
  port_busy "$http_port" || { echo "coordinator did not start:" >&2; cat "$work/$mode/coordinator.log" >&2; exit 1; }
  sleep 1  # past start-up work

  echo "  security $mode:"
  local idle load
  idle=$("$build/bin/heartbeat_load" --pid "$coord" --telemetry "tcp://127.0.0.1:$tele_port" \
    --api "http://127.0.0.1:$http_port" --workers 0 --seconds "$idle_s" "${client[@]}")
  # Count the coordinator's established telemetry connections in the middle of the window.
  ( sleep $((load_s / 2 + 2)); ss -Htn state established "( sport = :$tele_port )" | wc -l >"$work/conns" ) &
  local ss_pid=$!
  load=$("$build/bin/heartbeat_load" --pid "$coord" --telemetry "tcp://127.0.0.1:$tele_port" \
    --api "http://127.0.0.1:$http_port" --workers "$workers" --hz 1 --seconds "$load_s" "${client[@]}")
  wait "$ss_pid" 2>/dev/null || true
  echo "$load" | grep -v '^RESULT' | sed 's/^/    /'
  local conns idle_pct load_pct listed alive sent received
  conns=$(cat "$work/conns" 2>/dev/null || echo "?")
  idle_pct=$(field cpu_pct "$idle")
  load_pct=$(field cpu_pct "$load")
  listed=$(field listed "$load")
  alive=$(field alive "$load")
  sent=$(field sent "$load")
  received=$(field received "$load")
  printf '    established telemetry connections at mid-window: %s; heartbeats sent %s, received %s\n' \
    "$conns" "$sent" "$received"
  printf '    coordinator CPU idle (no workers, %d s): %.2f%% of one core\n' "$idle_s" "$idle_pct"
  printf '    coordinator CPU: %.2f%% of one core with %d workers heartbeating at 1 Hz (target < 10%%)\n' \
    "$load_pct" "$workers"
  printf '    GET /api/workers: %s workers listed, %s alive (expected %d)\n' "$listed" "$alive" "$workers"
  echo "$idle_pct $load_pct" >"$work/result-$mode"
  kill -TERM "$coord" "$redis_pid" 2>/dev/null || true
  wait "$coord" "$redis_pid" 2>/dev/null || true
  [[ $listed == "$workers" && $alive == "$workers" ]] || { echo "  FAIL: /api/workers does not list every worker" >&2; exit 1; }
}

field() { sed -nE "s/^RESULT .*[ ]$1=([-0-9.]+).*/\1/p" <<<"$2"; }

printf 'bench heartbeat_load workers=%d rate=1 Hz window=%d s idle=%d s cores=%d fd-limit=%s\n' \
  "$workers" "$load_s" "$idle_s" "$(nproc)" "$(ulimit -n)"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews both sides)"
for mode in $modes; do run_mode "$mode"; done
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -f $work/result-off && -f $work/result-on ]]; then
  read -r _ off_pct <"$work/result-off"
  read -r _ on_pct <"$work/result-on"
  python3 -c "import sys; off, on = float(sys.argv[1]), float(sys.argv[2]); print(f'  security on/off coordinator CPU under load: {on:.2f}% / {off:.2f}% = {on / off:.2f}x')" \
    "$off_pct" "$on_pct"
fi
