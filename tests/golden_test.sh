#!/usr/bin/env bash
# Golden sample bytes: renders each golden spec in-process (`synthfarm render --local`) and
# compares the sha256 of every object it writes, and the list of objects itself, with the
# recorded sums (tests/golden/*.sha256). Moving code must keep every byte; a change
# meant to alter the output re-records the sums with --record and says why in its commit.
#
#   tests/golden_test.sh SYNTHFARM_BIN SPEC.yaml SUMS.sha256 [--record]
set -euo pipefail
bin=$1
spec=$2
sums=$3
record=${4:-}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Two threads, whatever the machine: the bytes must not depend on it, and the test's time
# should not either.
"$bin" render --local "$spec" --out "$out/dataset" --threads 2 2>"$out/log" || {
  cat "$out/log" >&2
  exit 1
}
(cd "$out/dataset" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum) >"$out/actual"
# A webdataset spec's tars: each member's sum too, as "<tar>:<member>", extracted by GNU
# tar (an independent reader); they equal the files layout's sums of the same samples.
for tar in $(cd "$out/dataset" && find . -name '*.tar' | sed 's|^\./||' | LC_ALL=C sort); do
  mkdir -p "$out/members/$tar"
  tar -xf "$out/dataset/$tar" -C "$out/members/$tar"
  (cd "$out/members/$tar" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum |
    sed "s|  |  $tar:|") >>"$out/actual"
done

if [[ "$record" == "--record" ]]; then
  cp "$out/actual" "$sums"
  echo "golden: recorded $(wc -l <"$sums") objects in $sums"
  exit 0
fi
if ! diff -u "$sums" "$out/actual" >"$out/diff"; then
  echo "golden: $(basename "$spec"): objects differ from $sums:" >&2
  cat "$out/diff" >&2
  exit 1
fi
echo "golden: $(basename "$spec"): $(wc -l <"$sums") objects, every sha256 as recorded"
