#!/usr/bin/env bash
# The one test command: installs what is missing (Debian packages), builds, and runs the
# whole suite: every ctest label (unit, e2e, browser). Extra arguments go to ctest, e.g.
#   ops/test.sh -L unit          only the unit tests
#   ops/test.sh -R EndToEnd      tests whose name matches
set -euo pipefail
cd "$(dirname "$0")/.."

ops/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$(nproc)"
# Unit tests run in parallel; e2e and browser tests are marked RUN_SERIAL (each starts
# a whole farm and wants the cores to itself).
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900 "$@"
