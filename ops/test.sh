#!/usr/bin/env bash
# The one test command: installs what is missing (Debian packages), builds, and runs the
# whole suite: every ctest label (unit, e2e, chaos, browser, security, cluster, fuzz; e2e
# includes the S3 tests; cluster needs root and is skipped without it), then the unit
# tests of the core libraries again under AddressSanitizer + UBSan, then the fuzz targets
# built with clang's libFuzzer, fuzzing briefly.
# Extra arguments go to the main ctest run and skip the sanitizer and fuzzing passes, e.g.
#   ops/test.sh -L unit          only the unit tests
#   ops/test.sh -R EndToEnd      tests whose name matches
set -euo pipefail
cd "$(dirname "$0")/.."

ops/setup.sh
# s3rver, pinned by ops/s3rver/package-lock.json, for the S3 tests.
if [[ ! -x ops/s3rver/node_modules/.bin/s3rver ]]; then
  npm ci --prefix ops/s3rver --no-audit --no-fund --loglevel=error >/dev/null
fi
# The Kubernetes manifests' checks (label cluster): the schema packages pinned by
# ops/k8s/validate/package-lock.json, and Debian's kubectl 1.20 (kustomize v2.0.3)
# unpacked into ops/k8s/.tools/ by ops/k8s/tools.sh.
if [[ ! -d ops/k8s/validate/node_modules/kubernetes-models ]]; then
  npm ci --prefix ops/k8s/validate --no-audit --no-fund --loglevel=error >/dev/null
fi
ops/k8s/tools.sh install >/dev/null
# -g1 (line tables only): enough for file:line in backtraces and sanitizer reports, and a
# much lighter compile than full debug info on 2 cores. Unity builds (CMake joins up to 8
# sources of a target into one translation unit) parse the heavy headers (yaml-cpp,
# nlohmann/json, cpp-httplib, tinygltf, GoogleTest) once per batch instead of once per
# file: about a quarter less compile time. File-local names (anonymous namespaces) must
# therefore be unique within a target; a clash fails this build.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_UNITY_BUILD=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
cmake --build build -j "$(nproc)"
# Unit tests run in parallel; e2e and browser tests are RUN_SERIAL (each starts a whole
# farm and wants the cores to itself).
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900 "$@"

if (($# == 0)); then
  # -O1: what the sanitizers recommend; with -g1 it compiles in well under half the time
  # of -O2 -g under the sanitizers.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNTHFARM_SANITIZE=ON -DCMAKE_UNITY_BUILD=ON \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" >/dev/null
  cmake --build build-asan -j "$(nproc)" --target base_test render_test humans_test gltf_test sensor_test jobs_test storage_test dataset_test queue_test auth_test protocol_test coordinator_test worker_test recon_test
  # The statistical label tests repeat the same code over hundreds of rendered samples; the
  # optimised build above runs them, the sanitizers see those paths in the smaller tests.
  # systemd_units and cli_torch_link_check check the programs, which this pass does not build;
  # nor does it build the LibTorch plugin, its tests or its model writer (LibTorch itself is
  # not sanitizer-built).
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 900 -L unit \
    -E 'HumanLabels.VisibleKeypoints|SceneLooksTest.SurfacesGetPatterns|CharacterTest.VisibleCharacterKeypoints|systemd_units|sensor_torch_write_models|cli_torch_link_check'

  # Fuzzing (label fuzz): the parsers of outside bytes (fuzz/) built with clang, libFuzzer,
  # ASan and UBSan, only the fuzz targets and the libraries under them. Each target replays
  # its seed corpus (every input that once crashed it included), then fuzzes for
  # SYNTHFARM_FUZZ_SECONDS (10 s) in a scratch copy of it; bench/fuzz.sh runs them longer.
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNTHFARM_FUZZ=ON \
    -DCMAKE_UNITY_BUILD=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" >/dev/null
  cmake --build build-fuzz -j "$(nproc)" --target fuzz_targets
  ctest --test-dir build-fuzz --output-on-failure -j "$(nproc)" --timeout 300 -L fuzz
fi
