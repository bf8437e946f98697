#!/usr/bin/env bash
# Self-test of ops/check_layering.py: a check that never fails proves nothing, so this
# builds a tiny fake tree (nothing copied from the repository, whose layering changes
# under the reorganisation) and shows the script passes it clean and catches both kinds
# of violation, with file:line, once they are added. Exits non-zero on any failed
# expectation. Run by ctest as layering_selftest.
set -uo pipefail

script="$(cd "$(dirname "$0")" && pwd)/check_layering.py"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT

failures=0
checks=0
expect() {  # expect DESCRIPTION COMMAND...: counts a failure instead of stopping, so
  checks=$((checks + 1))  # one run reports every broken expectation at once
  if ! "${@:2}"; then
    echo "FAIL: $1" >&2
    failures=$((failures + 1))
  fi
}
has_line() { grep -qxF -- "$1" <<<"$out"; }

# -B: no __pycache__ written next to the script in the source tree.
layering() { out="$(python3 -B "$script" --root "$tree" "$@" 2>&1)"; rc=$?; }

# The clean tree: an allowed edge, plus the exceptions the rules grant, so a check that
# flags too much fails here too.
mkdir -p "$tree"/{base,render/internal,tests}
printf '#pragma once\n' >"$tree/base/a.h"
printf '// render sits on base.\n#pragma once\n#include "base/a.h"\n' >"$tree/render/r.h"
printf '#pragma once\n#include "base/a.h"\n' >"$tree/render/internal/y.h"
# A module may use its own internals.
printf '#include "render/r.h"\n#include "render/internal/y.h"\n' >"$tree/render/r.cpp"
# Test files may use the fixtures in tests/; a commented-out include is no include.
printf '#include "tests/fixtures.h"\n// #include "jobs/spec.h"\n/* #include "jobs/spec.h" */\n' \
  >"$tree/render/r_test.cpp"
printf '#pragma once\n#include "render/r.h"\n' >"$tree/tests/fixtures.h"

layering
expect "clean tree exits 0 (got $rc)" test "$rc" -eq 0
expect "clean tree summary" has_line "layering: 6 files, 6 includes, 0 violations"
[[ $rc -eq 0 ]] || echo "$out" >&2

# The bad tree: a layer including one above it, and a module reaching into another
# module's internal/ folder through an otherwise allowed edge.
mkdir -p "$tree/jobs"
printf '#pragma once\n' >"$tree/jobs/spec.h"
printf '// Forbidden: render sits below jobs.\n#pragma once\n#include "jobs/spec.h"\n' \
  >"$tree/render/bad.h"
printf '// jobs may use render, but not its internals.\n#include "render/r.h"\n#include "render/internal/y.h"\n' \
  >"$tree/jobs/x.cpp"

layering
expect "bad tree exits 1 (got $rc)" test "$rc" -eq 1
expect "bad tree names render/bad.h:3" has_line \
  "render/bad.h:3: module 'render' may not include 'jobs/spec.h' (render may include: base)"
expect "bad tree names jobs/x.cpp:3" has_line \
  "jobs/x.cpp:3: module 'jobs' may not include 'render/internal/y.h' (internal to render)"
expect "bad tree has exactly 2 violations" has_line "layering: 9 files, 9 includes, 2 violations"
[[ $rc -eq 1 ]] || echo "$out" >&2

# The graph reports are for docs: they show the bad edge and still exit 0.
layering --graph
expect "--graph exits 0 (got $rc)" test "$rc" -eq 0
expect "--graph marks render -> jobs" has_line \
  "render -> base (2), jobs (1, 1 NOT ALLOWED), tests (1, test files only)"
layering --dot
expect "--dot exits 0 (got $rc)" test "$rc" -eq 0
expect "--dot draws render -> jobs in red" has_line \
  '  "render" -> "jobs" [label="1", color=red, fontcolor=red];'

# The rule table must stay a DAG; the real table is loaded by every run above, so feed
# the same check a cyclic one.
cycle_check() {
  python3 -B - "$script" <<'EOF'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("check_layering", sys.argv[1])
layering = importlib.util.module_from_spec(spec)
spec.loader.exec_module(layering)
try:
    layering.check_rule_table({"base": set(), "a": {"base", "b"}, "b": {"a"}})
except layering.RuleTableError as e:
    sys.exit(0 if "a -> b -> a" in str(e) else 1)
sys.exit(1)
EOF
}
expect "a cyclic rule table is rejected" cycle_check

if ((failures)); then
  echo "check_layering self-test: $failures of $checks checks FAILED" >&2
  exit 1
fi
echo "check_layering self-test: $checks checks passed"
