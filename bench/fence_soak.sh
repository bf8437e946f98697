#!/usr/bin/env bash
# The lease fence's pause trials (tests/fence_chaos_test.cpp) at soak length: TRIALS per
# store (default 60, a third per phase: paused while rendering, inside an upload, before
# the shard manifest), on files and on s3rver, with a fresh seed each run unless
# SYNTHFARM_CHAOS_SEED is set. The test suite runs 12 per store with a fixed seed; this is
# for a change to the worker's fence, leases or storage commit.
#
#   bench/fence_soak.sh          60 trials per store (about 10 minutes)
#   bench/fence_soak.sh 300
#
# Prints each store's "[fence]" summary: trials, how many paused in each phase before the
# rescuer finished, and trials with writes after manifest.json (must be 0).
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-60}
build=${BUILD_DIR:-build}
[[ -x "$build/bin/fence_chaos_test" ]] || cmake --build "$build" --target fence_chaos_test
export SYNTHFARM_FENCE_TRIALS=$trials
export SYNTHFARM_CHAOS_SEED=${SYNTHFARM_CHAOS_SEED:-$(date +%s)}
"$build/bin/fence_chaos_test" --gtest_filter='FenceChaos.PausedWorkerCutOffFromRedis*' 2>&1 |
  grep -E '^\[fence\]|^\[  (FAILED|PASSED|     OK) '
