// Static glTF scene import (gltf/scene_import.h): .glb or .gltf files given to
// `synthfarm render-gltf` and the renderer comparison. Properties: no crash; what the
// renderer would take unchecked is consistent: whole triangles with indices within their
// vertices, per-vertex arrays of the right length, material and shape indices that exist.
#include "fuzz/fuzz_check.h"
#include "gltf/scene_import.h"

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;
namespace gltf = synthfarm::gltf;

namespace {

template <typename MeshLike>
void check_triangles(const MeshLike& mesh) {
  check(mesh.positions.size() % 3 == 0, "three coordinates per vertex");
  check(mesh.indices.size() % 3 == 0, "whole triangles");
  const size_t vertices = mesh.positions.size() / 3;
  for (uint32_t i : mesh.indices) check(i < vertices, "indices within the vertices");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gltf::GltfSceneOptions options;
  options.width = 64;
  options.height = 48;
  auto loaded = gltf::load_gltf_scene(as_text(data, size), "fuzz.glb", options);
  if (!loaded) return 0;
  const auto& scene = loaded->scene;
  for (const auto& shape : scene.shapes) check_triangles(shape);
  for (const auto& mesh : scene.meshes) {
    check_triangles(mesh);
    const size_t vertices = mesh.positions.size() / 3;
    check(mesh.texcoords.empty() || mesh.texcoords.size() == 2 * vertices, "two texcoords per vertex");
    check(mesh.normals.empty() || mesh.normals.size() == 3 * vertices, "a normal per vertex");
    check(mesh.material >= -1 && mesh.material < static_cast<int>(scene.materials.size()),
          "material indices exist");
    check(mesh.shape >= -1 && mesh.shape < static_cast<int>(scene.shapes.size()), "shape indices exist");
  }
  return 0;
}
