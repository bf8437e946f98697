#!/usr/bin/env bash
# Cost of making one human (parametric body build + random pose + skinning) on one thread,
# against the 20 ms per-person budget; memory of the topology and of one body; optionally
# a contact sheet of 16 dressed humans.
#
#   bench/human_build.sh                 (builds the human_build target, then runs it)
#
# Env: BUILD_DIR (default build), SHAPES (default 200), SEED (default 1), SHEET (PNG path
# for the contact sheet, default none).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
shapes=${SHAPES:-200}
seed=${SEED:-1}
[[ -f $build/build.ninja || -f $build/Makefile ]] || {
  echo "configure first: cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo" >&2
  exit 2
}
cmake --build "$build" --target human_build >&2
args=(--shapes "$shapes" --seed "$seed")
[[ -n ${SHEET:-} ]] && args+=(--sheet "$SHEET")
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews timings)"
# One core: pinned when taskset is available, so the numbers are single-core numbers.
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
"${pin[@]}" "$build/bin/human_build" "${args[@]}"
