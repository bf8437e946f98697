// Motion blur of a sample: the scene at the shutter's ends for the path tracer, and the
// shutter for the JSON (see motion_blur.h).
#include "jobs/motion_blur.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "base/rng.h"
#include "render/scene.h"

namespace synthfarm::jobs {

namespace {

// Gives every person's mesh of `scene` its vertices in `open` and `close`, the same scene
// built at the shutter's ends, when they differ from its own: a frame's scenes have the
// same meshes in the same order (same people, same clothes; add_next_positions in
// sample.cpp relies on it too), and only people move. A mesh that holds still (a static
// pose) is left without, so the renderer keeps it in its static BVH.
void add_shutter_positions(SampleScene& scene, const SampleScene& open, const SampleScene& close) {
  if (open.meshes.size() != scene.meshes.size() || close.meshes.size() != scene.meshes.size()) {
    return;
  }
  for (size_t i = 0; i < scene.meshes.size(); ++i) {
    render::Mesh& mesh = scene.meshes[i];
    if (mesh.semantic != render::SemanticClass::kPerson) continue;
    const std::vector<float>& at_open = open.meshes[i].positions;
    const std::vector<float>& at_close = close.meshes[i].positions;
    if (at_open.size() != mesh.positions.size() || at_close.size() != mesh.positions.size()) {
      continue;
    }
    if (at_open == mesh.positions && at_close == mesh.positions) continue;
    mesh.shutter_positions = {at_open, at_close};
  }
}

}  // namespace

std::optional<SampleShutter> add_motion_blur(const JobSpec& spec, uint64_t index,
                                             const SceneAssets* assets, int frame,
                                             SampleScene& scene) {
  const SensorSpec& sensor = spec.sensor;
  if (!sensor.enabled || !sensor.motion_blur) return std::nullopt;
  const uint64_t seed = sample_seed(spec.seed, index);
  const double shutter_s = draw_field(sensor.shutter_s, seed, "sensor.shutter_s");
  if (!(shutter_s > 0)) return std::nullopt;
  SampleShutter shutter{shutter_s, {}};
  const double speed = draw_field(sensor.camera_speed_m_s, seed, "sensor.camera_speed_m_s");
  if (speed > 0) {
    Pcg32 direction = Pcg32::for_purpose(seed, "sensor.camera_motion");
    const double sign = direction.next_below(2) == 0 ? -1.0 : 1.0;
    shutter.camera_velocity_m_s = scene.camera.rotation.row(0) * (sign * speed);
    const Vec3 half = shutter.camera_velocity_m_s * (shutter_s / 2);
    scene.camera.shutter_positions = {{scene.camera.position - half, scene.camera.position + half}};
  }
  add_shutter_positions(scene, build_scene(spec, index, assets, frame, -shutter_s / 2),
                        build_scene(spec, index, assets, frame, shutter_s / 2));
  scene.motion_blur = true;
  return shutter;
}

nlohmann::json shutter_json(const SampleShutter& shutter) {
  nlohmann::json out = {
      {"open_s", -shutter.shutter_s / 2}, {"close_s", shutter.shutter_s / 2}, {"labels_at", "mid"}};
  const Vec3 v = shutter.camera_velocity_m_s;
  if (v.x != 0 || v.y != 0 || v.z != 0) out["camera_velocity_m_s"] = {v.x, v.y, v.z};
  return out;
}

}  // namespace synthfarm::jobs
