// Motion blur of a sample (spec sensor.motion_blur): what the path tracer needs to blur a
// frame over the shutter, and what the per-sample JSON says about it. The renderer samples
// the time (render/renderer.h); this file gives it the scene at the shutter's ends: the
// people where they are shutter_s / 2 before and after the frame's moment (their clips,
// motion capture or animations run on, build_scene's time offset) and the camera panning
// along its own x axis at sensor.camera_speed_m_s, centred on where it stands.
//
// Labels are untouched: every label layer, the keypoints, the boxes and the 3D joints stay
// those of the scene as built, the frame's own moment, which is mid-shutter. A sample with
// motion blur therefore has the same labels as without it, and only its colour blurs.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>

#include "base/math.h"
#include "jobs/scene.h"
#include "jobs/spec.h"

namespace synthfarm::jobs {

// One sample's shutter, as drawn.
struct SampleShutter {
  double shutter_s = 0;      // how long it is open, seconds; > 0
  Vec3 camera_velocity_m_s;  // the camera's pan, world; zero when it holds still
};

// Motion blur for frame `frame` of sample `index`, whose scene `scene` was built for that
// frame (build_scene(spec, index, assets, frame)). When it applies (sensor.enabled,
// sensor.motion_blur, and a drawn sensor.shutter_s > 0) the people's meshes get their
// vertices at shutter open and close (Mesh::shutter_positions; only meshes that move), the
// camera its positions when sensor.camera_speed_m_s draws > 0 (Camera::shutter_positions),
// and Scene::motion_blur is set; the shutter is returned for the JSON. Otherwise the
// scene is left as it is and nothing is returned.
// Draws come from the sample's seed: sensor.shutter_s (the stream the sensor stage's
// exposure draws it from too, so both see the same shutter), sensor.camera_speed_m_s and
// the pan's direction (+x or -x of the camera, stream "sensor.camera_motion"); every frame
// of a clip has the same. Throws what build_scene throws.
std::optional<SampleShutter> add_motion_blur(const JobSpec& spec, uint64_t index,
                                             const SceneAssets* assets, int frame,
                                             SampleScene& scene);

// The per-sample JSON's "shutter" object: open_s and close_s, seconds relative to the
// labelled moment (-shutter_s / 2, +shutter_s / 2); labels_at "mid" (every label is that
// of mid-shutter); and, when the camera pans, camera_velocity_m_s [x, y, z] (world, m/s).
nlohmann::json shutter_json(const SampleShutter& shutter);

}  // namespace synthfarm::jobs
