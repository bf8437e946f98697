#!/usr/bin/env bash
# Fuzzes one libFuzzer target in a scratch copy of its seed corpus, so that the inputs it
# finds never land in the source tree; what it finds, and its log, stay in WORKDIR:
#   WORKDIR/corpus/       the seeds plus every input that found new coverage
#   WORKDIR/artifacts/    crash-*, leak-*, timeout-*, oom-* inputs (none when it passed)
#   WORKDIR/fuzz.log      libFuzzer's output, with -print_final_stats
# Used by ctest -L fuzz (fuzz/CMakeLists.txt) and bench/fuzz.sh.
#
#   fuzz/run_fuzz.sh TARGET_BINARY SEED_CORPUS_DIR WORKDIR SECONDS [libFuzzer flags...]
#
# Exit status: libFuzzer's (0: nothing found in SECONDS).
set -euo pipefail
if (($# < 4)); then
  echo "usage: $0 TARGET_BINARY SEED_CORPUS_DIR WORKDIR SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
binary=$1 seeds=$2 work=$3 seconds=$4
shift 4
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp -r "$seeds"/. "$work/corpus/"
# -timeout: one input taking longer is a finding (a hang); -rss_limit_mb: libFuzzer's
# default, written out; -malloc_limit_mb: one allocation of more than 512 MB is a finding
# (a parser sizing a buffer from a header before reading what it describes).
set +e
"$binary" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
  -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" >"$work/fuzz.log" 2>&1
status=$?
set -e
# ctest shows this on failure: the end of the log has the report and the input's name.
tail -n 40 "$work/fuzz.log"
exit "$status"
