// People in a scene: draws one person's shape, appearance and
// motion from the spec and the sample's seed, builds the parametric body (human/body.h),
// poses it (human/motion.h), dresses it (human/appearance.h) and places the result in the
// right-handed world, facing `yaw_deg`, with the root at the origin. scene.cpp then moves
// it to its place on the floor.
//
// The body model's frame is left-handed (skeleton.h); placing a body mirrors x and
// reverses triangle winding so that left_* joints land on the person's left.
#pragma once

#include <cstdint>
#include <vector>

#include "jobs/scene.h"
#include "jobs/spec.h"

namespace synthfarm::jobs {

struct Person {
  Human info;               // instance_id not yet set; position = origin
  std::vector<render::Mesh> meshes;  // body (per-vertex colours, parts, uvs), then hair, skirt
  double footprint = 0;      // radius around the root on the floor, metres
};

// Person `index` of the sample with seed `seed`, facing `yaw_deg` (0 = +y, counter-
// clockwise seen from above), `time_s` seconds into the sample's clip (0 for a still
// image or a clip's first frame). Every field draws from its own named stream, none from
// the time, so a person keeps its identity in every frame; moving people advance along
// their motion (clips: phase + time / cycle; motion capture: its own frame rate; glTF
// animations: seconds, looping) and travel from where they stand at time 0.
// Motion "bvh" and body "character" use `assets`; they throw std::invalid_argument when
// the assets are missing.
Person build_person(const JobSpec& spec, uint64_t seed, int index, double yaw_deg,
                    const SceneAssets* assets = nullptr, double time_s = 0);

// Standing height of a child of `age` years as a fraction of the adult height (1 from 18).
double growth_fraction(double age);

}  // namespace synthfarm::jobs
