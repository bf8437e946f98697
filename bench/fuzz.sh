#!/usr/bin/env bash
# Every libFuzzer target of fuzz/ for SECONDS each (default 60), one after another on one
# core, with ASan and UBSan: a table of executions, executions per second, coverage (the
# edges libFuzzer's last status line counts, "cov:"), new corpus inputs and crashes per
# target. Each target runs in a scratch copy of its seed corpus (fuzz/run_fuzz.sh);
# whatever it finds stays under bench/results/fuzz-<time>/<target>/ (gitignored): the
# grown corpus, crash-* / timeout-* / oom-* / leak-* inputs and the log. A finding ends
# that target's run (libFuzzer's default), so "crashes" is 0 or 1 per target per run.
#
#   bench/fuzz.sh              60 s per target (11 targets: about 12 minutes)
#   bench/fuzz.sh 600          ten minutes per target
#   TARGETS="spec bvh" bench/fuzz.sh 120
#
# Builds build-fuzz (clang, SYNTHFARM_FUZZ=ON) first when its targets are missing or
# stale; BUILD_DIR names another. A crash found here is fixed in the parser and its input
# added to fuzz/corpus/<target>/ (see docs/security.md, "Fuzzing").
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${BUILD_DIR:-build-fuzz}
all_targets=(spec telemetry control bvh gltf_character gltf_scene exr_environment s3_xml manifest sample_json http_api)
read -r -a targets <<<"${TARGETS:-${all_targets[*]}}"

if [[ ! -f $build/CMakeCache.txt ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNTHFARM_FUZZ=ON \
    -DCMAKE_UNITY_BUILD=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target $(printf '%s_fuzz ' "${targets[@]}") >/dev/null

results=bench/results/fuzz-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$results"
table=$results/summary.txt
printf '%-16s %12s %9s %8s %9s %8s  %s\n' target executions exec/s cov new_units crashes finding | tee "$table"
for t in "${targets[@]}"; do
  work=$results/$t
  status=0
  # -detect_leaks=1: a leak is a finding too (libFuzzer's default, stated).
  fuzz/run_fuzz.sh "$build/bin/${t}_fuzz" "fuzz/corpus/$t" "$work" "$seconds" -detect_leaks=1 >/dev/null || status=$?
  log=$work/fuzz.log
  # The last status line ("#12345  DONE  cov: 812 ft: 2301 corp: 40/9Kb ...") has the
  # executions and the coverage; -print_final_stats the rest.
  status_line=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1)
  [[ -n $execs ]] || execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$status_line")
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -n 1)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$status_line")
  new=$(sed -nE 's/^stat::new_units_added: *([0-9]+)/\1/p' "$log" | tail -n 1)
  crashes=$(find "$work/artifacts" -type f | wc -l)
  finding=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-z-]+[^ ]*|runtime error: .{0,60}|fuzz check failed: .{0,60}' "$log" || true)
  [[ $status -eq 0 || -n $finding ]] || finding="exit status $status"
  printf '%-16s %12s %9s %8s %9s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${new:-?}" "$crashes" \
    "${finding:--}" | tee -a "$table"
done
echo "(${seconds} s per target; logs, grown corpora and crash inputs in $results)"
