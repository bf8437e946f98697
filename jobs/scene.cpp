// Procedural scenes: humans on a skeleton, props, a room / outdoor ground / studio cove,
// sun, sky and a camera aimed at the people. See scene.h for the conventions.
//
// build_scene() runs the generator's stages in order (jobs/scene_gen/, declared in
// scene_gen/internal/stages.h) and then gives every instance its id. The order follows
// what each stage needs: the camera's bearing comes before the people (they mostly face
// it), and the camera is framed on the people before the structure and the props are
// built (a room encloses the camera, a studio's cove stands behind the people as seen
// from it, props keep off its lines of sight). Every stage draws from streams of its own,
// so the order decides no random draw.
#include "jobs/scene.h"

#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "base/math.h"
#include "base/rng.h"
#include "jobs/people.h"
#include "jobs/scene_mesh.h"
#include "jobs/scene_gen/internal/stages.h"
#include "render/scene.h"

namespace synthfarm::jobs {

using render::Mesh;
using render::SemanticClass;
using scene_gen::PendingInstance;

namespace {

// Instance ids: humans 1..N, then props, then the structure. Moves every mesh into
// `scene`, and the people's keypoints and who they are.
void assign_instance_ids(std::vector<Person>& humans, std::vector<PendingInstance>& props,
                         std::vector<PendingInstance>& structure, SampleScene& scene) {
  uint32_t next_id = 1;
  auto commit = [&](PendingInstance& pending) {
    uint32_t id = next_id++;
    for (Mesh& m : pending.meshes) {
      m.instance_id = id;
      m.semantic = pending.semantic;
      scene.meshes.push_back(std::move(m));
    }
    scene.instances.push_back({id, pending.semantic, pending.name});
  };
  for (Person& human : humans) {
    PendingInstance pending{SemanticClass::kPerson, "person", std::move(human.meshes)};
    human.info.instance_id = next_id;
    scene.keypoints.push_back({next_id, {human.info.keypoints.begin(), human.info.keypoints.end()},
                               {human.info.keypoint_radius.begin(), human.info.keypoint_radius.end()}});
    scene.humans.push_back(std::move(human.info));
    commit(pending);
  }
  for (PendingInstance& prop : props) commit(prop);
  for (PendingInstance& part : structure) commit(part);
}

}  // namespace

SampleScene build_scene(const JobSpec& spec, uint64_t index, const SceneAssets* assets, int frame,
                        double time_offset_s) {
  const uint64_t seed = sample_seed(spec.seed, index);
  SampleScene scene;

  // A scene mesh (scene.mesh) stands in for the generated structure and props.
  const SceneMesh* fixed = assets != nullptr ? assets->scene_mesh.get() : nullptr;
  if (!spec.scene.mesh.empty() && fixed == nullptr) {
    throw std::invalid_argument("scene.mesh is set but the scene assets hold no mesh");
  }
  scene.kind = fixed != nullptr ? "mesh" : scene_gen::draw_kind(spec, seed);

  // The camera's bearing around the group comes first: people mostly face it.
  const double camera_azimuth = scene_gen::draw_camera_azimuth(seed);
  const double facing_deg = camera_azimuth * (180.0 / kPi) - 90.0;

  // Humans, placed on the floor around the origin without overlapping.
  scene_gen::People people = scene_gen::place_people(spec, seed, facing_deg, assets);

  // Camera: aim at the centre of the people's bounding box; retry draws until every
  // person is fully in frame, keeping the best attempt.
  const Vec3 group_centre = scene_gen::centre_of_people(people.humans);
  scene_gen::frame_camera(spec, seed, camera_azimuth, group_centre, people, fixed, scene);
  const render::Camera& camera = scene.camera;

  // Later frames of a clip, or another moment of the shutter: the same people (same draws,
  // same places), moved on in time; the camera, framed on the first frame, stays.
  if (frame > 0 || time_offset_s != 0) {
    scene_gen::move_people_to_frame(spec, seed, facing_deg, assets, frame, time_offset_s,
                                    people.humans);
  }

  // Sun and sky.
  scene_gen::add_sun_and_sky(spec, seed, assets, scene);

  if (fixed != nullptr) {
    std::vector<PendingInstance> props;
    std::vector<PendingInstance> structure = scene_gen::mesh_structure(*fixed, scene);
    scene_gen::add_lights(spec, seed, scene, 0, group_centre, camera, fixed);
    assign_instance_ids(people.humans, props, structure, scene);
    return scene;
  }

  // Structure: room, outdoor ground or studio cove. Props must stay inside it.
  scene_gen::Structure structure =
      scene_gen::build_structure(seed, scene.kind, group_centre, camera, people.footprints);

  // Props: not on the people, the camera, or the lines of sight from the camera to them.
  std::vector<PendingInstance> props = scene_gen::place_props(
      spec, seed, scene.kind, group_centre, camera, people.footprints, structure);

  // Materials for props and structure, then the local lights.
  scene_gen::add_looks(spec, seed, scene, structure.parts, props);
  scene_gen::add_lights(spec, seed, scene, structure.top, group_centre, camera, nullptr);

  assign_instance_ids(people.humans, props, structure.parts, scene);
  return scene;
}

}  // namespace synthfarm::jobs
