#!/usr/bin/env bash
# Cost of a /metrics scrape with 10,000 jobs in Redis, before and after the per-state
# counters (sf:stats:jobs_by_state):
#  1. in process (bench/scrape_bench.cpp): the scrape's Redis reads the old way (every job
#     hash, Queue::jobs(100000), counted by state) against the new (Queue::job_counts()),
#     best of ROUNDS alternating rounds; also the dashboard snapshot's reads and the
#     one-off recount of the counters;
#  2. over HTTP: GET /metrics of a real synthfarm-coordinator on that Redis, which first
#     recounts the counters at start (they are deleted before it starts, as on a Redis from
#     before them; its log gives the time); over one kept-alive connection, as Prometheus
#     scrapes, and with a new connection per request (which a coordinator without
#     TCP_NODELAY, before ae76645, answers without the ~40 ms delayed-ACK stall);
#  3. with BEFORE_BUILD_DIR set (a build of the commit before the counters, e.g. 09cfd20:
#     `git archive 09cfd20 | tar -x -C build-before/src`, then configure and build its
#     synthfarm-coordinator), the same GET /metrics against that coordinator.
#
#   bench/metrics_scrape.sh   (needs: cmake --build build --target scrape_bench synthfarm-coordinator)
#
# Env: BUILD_DIR (default build), JOBS (10000), SCRAPES (20 old-way scrapes a round),
# SCRAPES_AFTER (2000), ROUNDS (3), REQUESTS (HTTP requests to the new coordinator, 1000),
# REQUESTS_BEFORE (to the old one, 30), BEFORE_BUILD_DIR (unset: skip step 3).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
jobs=${JOBS:-10000}
scrapes=${SCRAPES:-20}
scrapes_after=${SCRAPES_AFTER:-2000}
rounds=${ROUNDS:-3}
requests=${REQUESTS:-1000}
requests_before=${REQUESTS_BEFORE:-30}
before_build=${BEFORE_BUILD_DIR:-}
for b in scrape_bench synthfarm-coordinator; do
  [[ -x $build/bin/$b ]] || { echo "build first: cmake --build $build --target scrape_bench synthfarm-coordinator" >&2; exit 2; }
done
if [[ -n $before_build && ! -x $before_build/bin/synthfarm-coordinator ]]; then
  echo "BEFORE_BUILD_DIR=$before_build has no bin/synthfarm-coordinator" >&2
  exit 2
fi
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { echo "needs redis-server and redis-cli" >&2; exit 2; }

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

redis_port=$(free_port "${SYNTHFARM_REDIS_PORT:-6690}")
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --daemonize no \
  >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  port_busy "$redis_port" && break
  sleep 0.1
done
port_busy "$redis_port" || { echo "redis-server did not start:" >&2; cat "$work/redis.log" >&2; exit 1; }
redis_url=redis://127.0.0.1:$redis_port

printf 'bench metrics_scrape jobs=%d cores=%d redis=%s\n' "$jobs" "$(nproc)" \
  "$(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/')"
echo "  redis-server --port $redis_port --bind 127.0.0.1 --save '' --appendonly no"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews both sides)"

echo "  in process: scrape_bench --jobs $jobs --scrapes $scrapes --scrapes-after $scrapes_after --rounds $rounds"
inproc=$("$build/bin/scrape_bench" --redis "$redis_url" --jobs "$jobs" --scrapes "$scrapes" \
  --scrapes-after "$scrapes_after" --rounds "$rounds")
echo "$inproc" | sed 's/^/    /'

# coordinator BIN LABEL REQUESTS: starts BIN on the Redis, times GET /metrics over one
# kept-alive connection, then with a new connection per request, and stops it.
coordinator() {
  local bin=$1 label=$2 n=$3 http_port tele_port control_port pid out
  http_port=$(free_port "${SYNTHFARM_HTTP_PORT:-8690}")
  tele_port=$(free_port "${SYNTHFARM_TELEMETRY_PORT:-5690}")
  control_port=$(free_port $((tele_port + 1)))
  mkdir -p "$work/out"
  "$bin" --redis "$redis_url" --listen "127.0.0.1:$http_port" --telemetry "tcp://127.0.0.1:$tele_port" \
    --control "tcp://127.0.0.1:$control_port" --storage-root "file://$work/out" >"$work/coordinator-$label.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    port_busy "$http_port" && break
    sleep 0.1
  done
  # (A subshell: the cleanup trap does not see $pid, so every way out stops it here.)
  if ! port_busy "$http_port"; then
    kill -TERM "$pid" 2>/dev/null || true
    echo "coordinator ($label) did not start:" >&2
    cat "$work/coordinator-$label.log" >&2
    return 1
  fi
  echo "  over HTTP, $label: scrape_bench --http http://127.0.0.1:$http_port --requests $n [--new-connections]" >&2
  local ok=0
  out=$("$build/bin/scrape_bench" --http "http://127.0.0.1:$http_port" --requests "$n" | sed 's/^RESULT /RESULT keep_alive=1 /' &&
    "$build/bin/scrape_bench" --http "http://127.0.0.1:$http_port" --requests "$n" --new-connections |
    sed 's/^RESULT /RESULT keep_alive=0 /') || ok=$?
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  echo "$out"
  return "$ok"
}

# As on a Redis from before the counters: the new coordinator counts the jobs at start.
redis-cli -p "$redis_port" DEL sf:stats:jobs_by_state >/dev/null
after_http=$(coordinator "$build/bin/synthfarm-coordinator" after "$requests")
echo "$after_http" | sed 's/^/    /'
recount_line=$(grep -o 'counted [0-9]* job(s) per state .*' "$work/coordinator-after.log" || echo "no recount logged")
echo "    coordinator start: $recount_line"
before_http=
if [[ -n $before_build ]]; then
  before_http=$(coordinator "$before_build/bin/synthfarm-coordinator" before "$requests_before")
  echo "$before_http" | sed 's/^/    /'
fi

field() { sed -nE "s/^RESULT .*[ ]$1=([0-9.]+).*/\\1/p" <<<"$2"; }
http_field() { grep "^RESULT keep_alive=$2 " <<<"$3" | sed -nE "s/.*[ ]$1=([0-9.]+).*/\\1/p"; }
echo "  summary:"
printf '    in process (the Redis reads of one scrape), scrape ms: before %.1f, after %.3f, ratio %.0fx\n' \
  "$(field before_ms "$inproc")" "$(field after_ms "$inproc")" "$(field ratio "$inproc")"
for ka in 1 0; do
  how=$([[ $ka == 1 ]] && echo "one kept-alive connection" || echo "a new connection each")
  a=$(http_field mean_ms "$ka" "$after_http")
  if [[ -n $before_http ]]; then
    b=$(http_field mean_ms "$ka" "$before_http")
    printf '    GET /metrics, %s, mean ms: before %.1f, after %.3f, ratio %.0fx\n' "$how" "$b" "$a" \
      "$(awk -v b="$b" -v a="$a" 'BEGIN { print b / a }')"
  else
    printf '    GET /metrics, %s, mean ms: after %.3f (set BEFORE_BUILD_DIR for the old coordinator)\n' "$how" "$a"
  fi
done
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
