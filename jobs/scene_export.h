// One sample's scene as binary glTF, with what the generator knows of its people: each
// person's node carries height_m and motion in its extras beside the instance id and class
// (gltf.h's export_glb writes everything else). Used by `synthfarm export-scene`.
#pragma once

#include <string>

#include <tl/expected.hpp>

#include "jobs/scene.h"

namespace synthfarm::jobs {

tl::expected<std::string, std::string> export_sample_glb(const SampleScene& scene);

}  // namespace synthfarm::jobs
