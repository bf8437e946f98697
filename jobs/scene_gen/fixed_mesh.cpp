// The scene mesh, a stage of the scene generator (scene_gen/internal/stages.h): the
// spec's scene.mesh standing in for the generated structure and props.
#include <cstddef>
#include <utility>
#include <vector>

#include "jobs/scene_gen/internal/stages.h"
#include "jobs/scene_mesh.h"
#include "render/scene.h"

namespace synthfarm::jobs::scene_gen {

using render::Material;
using render::Mesh;
using render::SemanticClass;

std::vector<PendingInstance> mesh_structure(const SceneMesh& mesh, render::Scene& scene) {
  const render::Scene& parts = mesh.parts();
  const int material_base = static_cast<int>(scene.materials.size());
  const int texture_base = static_cast<int>(scene.textures.size());
  const int shape_base = static_cast<int>(scene.shapes.size());
  scene.textures.insert(scene.textures.end(), parts.textures.begin(), parts.textures.end());
  scene.shapes.insert(scene.shapes.end(), parts.shapes.begin(), parts.shapes.end());
  for (Material m : parts.materials) {
    for (int* t : {&m.base_color_texture, &m.metallic_roughness_texture, &m.emission_texture}) {
      if (*t >= 0) *t += texture_base;
    }
    m.pattern = -1;  // glTF has no procedural patterns
    scene.materials.push_back(std::move(m));
  }
  std::vector<PendingInstance> out(2);
  out[0] = {SemanticClass::kFloor, "scene mesh floor", {}};
  out[1] = {SemanticClass::kWall, "scene mesh", {}};
  for (const Mesh& part : parts.meshes) {
    Mesh m = part;
    if (m.material >= 0) m.material += material_base;
    if (m.shape >= 0) m.shape += shape_base;
    out[part.semantic == SemanticClass::kFloor ? 0 : 1].meshes.push_back(std::move(m));
  }
  std::vector<PendingInstance> kept;
  for (PendingInstance& instance : out) {
    if (!instance.meshes.empty()) kept.push_back(std::move(instance));
  }
  return kept;
}

}  // namespace synthfarm::jobs::scene_gen
