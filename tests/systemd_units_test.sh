#!/usr/bin/env bash
# The systemd units of ops/systemd (label unit): `systemd-analyze verify` finds nothing
# to say about them (unknown keys, bad values, a program that is not there: ExecStart is
# pointed at this build's programs), `systemd-analyze security` rates each one's
# exposure 2.0 or lower (it rates them 1.3 and 1.4; 10 is a unit with no hardening), and
# every SYNTHFARM_ variable the units and the example env files set is one the program
# reads (its --help lists it), so a misspelt setting cannot be ignored silently.
#
#   tests/systemd_units_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd units: no systemd-analyze here; skipped"
  exit 77
fi
fail() { echo "systemd units: FAILED: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

units=(synthfarm-coordinator.service synthfarm-worker@.service)
for unit in "${units[@]}"; do
  sed "s|/usr/bin/synthfarm|$build/bin/synthfarm|" "ops/systemd/$unit" >"$work/$unit"
done
out=$(cd "$work" && systemd-analyze verify "${units[@]}" 2>&1) || fail "systemd-analyze verify: $out"
[[ -z $out ]] || fail "systemd-analyze verify: $out"
for unit in "${units[@]}"; do
  # --threshold is in tenths.
  (cd "$work" && systemd-analyze security --offline=yes --threshold=20 "$unit" >"$work/security.txt" 2>&1) ||
    fail "$unit: $(tail -1 "$work/security.txt")"
  echo "systemd units: $(tail -1 "$work/security.txt" | sed 's/^→ //')"
done

# Every SYNTHFARM_ variable set is one the program reads (the *_FLAGS ones are the units' own).
check_variables() {
  local program=$1 known
  shift
  known=$("$build/bin/$program" --help | grep -o 'Env:SYNTHFARM_[A-Z_]*' | sed 's/^Env://')
  for name in $(sed -n 's/^#\{0,1\}\(SYNTHFARM_[A-Z_]*\)=.*/\1/p; s/^Environment=//p' "$@" |
                grep -o 'SYNTHFARM_[A-Z_]*' | sort -u); do
    [[ $name == *_FLAGS ]] && continue
    grep -qx "$name" <<<"$known" || fail "$name (in $*) is not a variable $program reads"
  done
}
check_variables synthfarm-coordinator ops/systemd/synthfarm-coordinator.service ops/systemd/coordinator.env
check_variables synthfarm-worker ops/systemd/synthfarm-worker@.service ops/systemd/worker.env
echo "systemd units: verified"
