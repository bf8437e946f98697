#!/usr/bin/env bash
# The coordinator parses specs, shards jobs and writes manifests and COCO files; it must
# not carry the renderer, the human model or glTF. Checks the linked binary itself: no
# shared library of the renderer's (Embree, TBB, OpenEXR's C++ library and Imath, tinygltf,
# LibTorch) is NEEDED, and no function of synthfarm::render, ::humans or ::gltf is defined
# in it. The codecs the sample viewer's layer images use are allowed: OpenEXRCore (OpenEXR's
# C library, which reads a sample's EXR) and libpng.
#
#   tests/link_check.sh build/bin/synthfarm-coordinator
set -euo pipefail
bin=$1
fail=0
needed=$(readelf -d "$bin" | grep NEEDED | grep -Ei 'embree|tbb|tinygltf|torch|libOpenEXR-|libOpenEXRUtil|libIlmThread|libIex-|libImath' || true)
if [[ -n "$needed" ]]; then
  echo "link check: $(basename "$bin") needs renderer libraries:" >&2
  echo "$needed" >&2
  fail=1
fi
# Defined code (T/t/W/w) whose own name lies in a forbidden namespace; a jobs function that
# merely takes a render::Layer is fine.
code=$(nm -C --defined-only "$bin" | awk '$2 ~ /^[TtWw]$/ { $1 = ""; $2 = ""; sub(/^  /, ""); print }' |
  grep -E '^synthfarm::(render|humans|gltf)::' || true)
if [[ -n "$code" ]]; then
  echo "link check: $(basename "$bin") defines code of render/, humans/ or gltf/:" >&2
  echo "$code" | head -20 >&2
  fail=1
fi
if ((fail == 0)); then
  echo "link check: $(basename "$bin") links no renderer, human model or glTF code"
fi
exit $fail
