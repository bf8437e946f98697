#!/usr/bin/env bash
# A program that runs learned camera models through the LibTorch plugin on demand (the
# synthfarm CLI) must not NEED LibTorch: it opens libsynthfarm_sensor_torch.so with dlopen
# when a spec names a model, so it starts on machines without LibTorch. Checks the linked
# binary: no libtorch*/libc10* (nor the plugin itself) among its NEEDED entries, and, when
# a plugin directory is given, that the binary's RUNPATH names it and the plugin is there.
#
#   tests/torch_link_check.sh build/bin/synthfarm [build/lib]
set -euo pipefail
bin=$1
plugin_dir=${2:-}
name=$(basename "$bin")
dynamic=$(readelf -d "$bin")
needed=$(grep NEEDED <<<"$dynamic" | grep -Ei 'torch|c10' || true)
if [[ -n "$needed" ]]; then
  echo "torch link check: $name needs LibTorch at start (it should dlopen the plugin):" >&2
  echo "$needed" >&2
  exit 1
fi
if [[ -n "$plugin_dir" ]]; then
  runpath=$(sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]$/\2/p' <<<"$dynamic")
  if ! tr ':' '\n' <<<"$runpath" | grep -qxF "$plugin_dir"; then
    echo "torch link check: $name's RUNPATH ($runpath) does not name $plugin_dir: dlopen would not find the plugin" >&2
    exit 1
  fi
  if [[ ! -f $plugin_dir/libsynthfarm_sensor_torch.so ]]; then
    echo "torch link check: no libsynthfarm_sensor_torch.so in $plugin_dir" >&2
    exit 1
  fi
fi
echo "torch link check: $name does not NEED LibTorch${plugin_dir:+; its RUNPATH finds the plugin in $plugin_dir}"
