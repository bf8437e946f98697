// Skinned glTF character import (gltf/gltf.h): .glb or .gltf files a spec names
// (humans.characters), read by workers from storage. A loaded character is posed, as a
// render would: the bind pose and its first animation at its start, middle and end, which
// follow every parsed index (joints, weights, nodes, animation keys).
// Properties: no crash; the loaded arrays agree with each other and the poses keep them.
#include "fuzz/fuzz_check.h"
#include "gltf/gltf.h"

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;
namespace gltf = synthfarm::gltf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto character = gltf::load_gltf_character(as_text(data, size), "fuzz.glb");
  if (!character) return 0;
  const size_t vertices = character->vertex_count();
  check(character->positions.size() == 3 * vertices, "three coordinates per vertex");
  check(character->colors.size() == 3 * vertices, "a colour per vertex");
  check(character->vertex_joints.size() == 4 * vertices, "four joints per vertex");
  check(character->vertex_weights.size() == 4 * vertices, "four weights per vertex");
  check(character->indices.size() % 3 == 0, "whole triangles");
  for (uint32_t i : character->indices) check(i < vertices, "indices within the vertices");
  for (uint32_t j : character->vertex_joints) {
    check(j < character->joints.size(), "vertex joints within the joints");
  }
  auto posed = character->pose(gltf::GltfCharacter::kBindPose, 0);
  check(posed.positions.size() == character->positions.size(), "the bind pose keeps every vertex");
  check(posed.joints.size() == character->joints.size(), "the bind pose places every joint");
  if (!character->animations.empty()) {
    const double end = character->duration_s(0);
    for (double t : {0.0, end / 2, end}) (void)character->pose(0, t);
  }
  return 0;
}
