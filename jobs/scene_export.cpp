#include "jobs/scene_export.h"

#include <map>

#include "gltf/gltf.h"

namespace synthfarm::jobs {

tl::expected<std::string, std::string> export_sample_glb(const SampleScene& scene) {
  std::map<uint32_t, gltf::GlbInstanceExtras> extras;
  for (const Human& human : scene.humans) {
    extras[human.instance_id] = {{{"height_m", human.shape.height_m}}, {{"motion", human.motion}}};
  }
  return gltf::export_glb(scene, extras);
}

}  // namespace synthfarm::jobs
