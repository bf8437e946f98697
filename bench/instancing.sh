#!/usr/bin/env bash
# Instancing of repeated props: the same scene rendered with each repeated mesh built once
# and instanced (render-gltf's default) and with every node carrying its own copy
# (--no-instancing), in one run.
#
#   bench/instancing.sh [SCENE.glb] [COPIES]
#
# The scene (default ../shared/bench/scenes/room.glb) gets COPIES (default 24) more nodes
# for each of its meshes of at least 1,000 triangles, set out on a grid beside the
# originals (bench/instancing_scene.py writes that .glb, python3's standard library only).
# Both modes then render it at 640x480, 2 threads: labels only (fastest of 5) and 16 spp,
# 4 bounces. Printed per mode: Embree's memory for the frame's geometry and BVHs, the BVH
# build seconds, labels-only frames per second (BVH build included), and the 16-spp render
# seconds; then the ratios, copies / instanced. The images of both modes are compared too
# (oiiotool, from openimageio-tools): instances name their mesh and resolve on its own
# triangles, so they differ only where a ray grazing an edge meets the instanced triangle
# (intersected in the shape's space) and its copy differently.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scene=${1:-$root/../shared/bench/scenes/room.glb}
copies=${2:-24}
build=${BUILD:-$root/build}
synthfarm=$build/bin/synthfarm
[[ -x $synthfarm ]] || { echo "build first: $synthfarm is missing" >&2; exit 2; }
[[ -f $scene ]] || { echo "not found: $scene" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/bench/instancing_scene.py" "$scene" "$work/repeated.glb" --copies "$copies" >&2

settings=(--width 640 --height 480 --threads 2 --background 0.3)
field() { sed -n "s/.*$1=\([0-9.e+-]*\).*/\1/p" | head -1; }
measure() {  # MODE-FLAGS...: prints "bytes build_s labels_fps render_s triangles"
  local labels rgb
  labels=$("$synthfarm" render-gltf "$work/repeated.glb" --labels-only --repeat 5 "${settings[@]}" \
    "$@" --out "$work/labels$#.exr" 2>/dev/null)
  rgb=$("$synthfarm" render-gltf "$work/repeated.glb" --spp 16 --bounces 4 "${settings[@]}" "$@" \
    --out "$work/rgb$#.exr" 2>/dev/null)
  echo "$(echo "$labels" | field bvh_bytes) $(echo "$labels" | field build_seconds)" \
    "$(echo "$labels" | field render_seconds) $(echo "$rgb" | field render_seconds)" \
    "$(echo "$labels" | field triangles) $(echo "$labels" | field instanced_meshes)"
}
read -r i_bytes i_build i_labels i_render triangles instanced <<<"$(measure)"
read -r c_bytes c_build c_labels c_render _ _ <<<"$(measure --no-instancing)"
same() {  # how many pixels of two EXRs differ
  if cmp -s "$1" "$2"; then echo identical; return; fi
  { oiiotool "$1" "$2" --diff 2>&1 || true; } | awk '/over 1e-06/ { print $1, $2, "differ"; exit }'
}
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3g", a / b }'; }

printf 'bench instancing scene=%s copies=%d triangles=%d instanced_meshes=%d cores=%d\n' \
  "$(basename "$scene")" "$copies" "$triangles" "$instanced" "$(nproc)"
printf '  %-12s %14s %10s %14s %12s\n' mode embree_bytes build_s labels_fps render_s
printf '  %-12s %14d %10.4f %14.2f %12.3f\n' instanced "$i_bytes" "$i_build" \
  "$(div 1 "$i_labels")" "$i_render"
printf '  %-12s %14d %10.4f %14.2f %12.3f\n' copies "$c_bytes" "$c_build" \
  "$(div 1 "$c_labels")" "$c_render"
printf '  copies/instanced: memory %s, build %s, labels-only frame time %s, 16-spp render %s\n' \
  "$(div "$c_bytes" "$i_bytes")" "$(div "$c_build" "$i_build")" "$(div "$c_labels" "$i_labels")" \
  "$(div "$c_render" "$i_render")"
printf '  images: labels %s, 16 spp %s\n' "$(same "$work/labels0.exr" "$work/labels1.exr")" \
  "$(same "$work/rgb0.exr" "$work/rgb1.exr")"
