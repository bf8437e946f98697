// Procedural scenes: humans on a skeleton, props, a room / outdoor ground / studio cove,
// sun, sky and a camera aimed at the people. See scene.h for the conventions.
#include "jobs/scene.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>

#include "jobs/people.h"
#include "jobs/scene_gen/internal/stages.h"
#include "base/rng.h"

namespace synthfarm::jobs {

using render::Camera;
using render::Environment;
using render::Light;
using render::Material;
using render::Mesh;
using render::Pattern;
using render::Scene;
using render::SemanticClass;
using render::Sky;
using render::add_box;
using render::add_cylinder;
using render::add_ellipsoid;
using render::add_quad;
using render::look_at_camera;
using scene_gen::Footprint;
using scene_gen::PendingInstance;
using scene_gen::draw_count;
using scene_gen::overlaps;
using scene_gen::planar_length;

// ---------------------------------------------------------------------------------------
// The scene generator.

namespace {

void translate(Mesh& mesh, Vec3 offset) {
  for (size_t i = 0; i < mesh.positions.size(); i += 3) {
    mesh.positions[i] = static_cast<float>(mesh.positions[i] + offset.x);
    mesh.positions[i + 1] = static_cast<float>(mesh.positions[i + 1] + offset.y);
    mesh.positions[i + 2] = static_cast<float>(mesh.positions[i + 2] + offset.z);
  }
}

// How many humans have every vertex inside the image, in front of the camera.
int humans_in_frame(const Camera& camera, const std::vector<Person>& humans) {
  int inside = 0;
  for (const Person& human : humans) {
    bool ok = true;
    for (const Mesh& mesh : human.meshes) {
      for (size_t i = 0; ok && i < mesh.positions.size(); i += 3) {
        Vec3 c =
            camera.to_camera({mesh.positions[i], mesh.positions[i + 1], mesh.positions[i + 2]});
        if (c.z < 0.05) {
          ok = false;
          break;
        }
        auto [u, v] = camera.project(c);
        ok = u >= 0 && v >= 0 && u <= camera.width && v <= camera.height;
      }
    }
    inside += ok ? 1 : 0;
  }
  return inside;
}

// The root joint of a person, world: the pelvis, or a character's first root joint.
Vec3 root_joint(const Human& h) {
  if (h.body == "character") {
    return h.character_joints.empty() ? h.position : h.character_joints[static_cast<size_t>(h.character_root)];
  }
  return h.joints[humans::index(humans::Joint::kPelvis)];
}

// Moves a person built around the origin to `p` on the floor.
void place_person(Person& person, Vec3 p) {
  for (Mesh& m : person.meshes) translate(m, p);
  for (Vec3& j : person.info.joints) j = j + p;
  for (Vec3& k : person.info.keypoints) k = k + p;
  for (Vec3& j : person.info.character_joints) j = j + p;
  person.info.position = p;
}


}  // namespace

SampleScene build_scene(const JobSpec& spec, uint64_t index, const SceneAssets* assets, int frame) {
  const uint64_t seed = sample_seed(spec.seed, index);
  SampleScene scene;

  scene.kind = scene_gen::draw_kind(spec, seed);

  // The camera's bearing around the group comes first: people mostly face it.
  Pcg32 camera_rng = Pcg32::for_purpose(seed, "camera", 0);
  const double camera_azimuth = uniform(camera_rng, 0, 2 * kPi);
  const double facing_deg = camera_azimuth * (180.0 / kPi) - 90.0;

  // Humans, placed on the floor around the origin without overlapping.
  Pcg32 count_rng = Pcg32::for_purpose(seed, "humans");
  const int human_count = draw_count(spec.humans.count, count_rng, 16);
  std::vector<Person> humans;
  std::vector<Footprint> footprints;
  Pcg32 place_rng = Pcg32::for_purpose(seed, "placement");
  double region = 0.5 + 0.7 * std::sqrt(static_cast<double>(human_count));
  for (int i = 0; i < human_count; ++i) {
    // People mostly face the camera.
    Pcg32 facing_rng = Pcg32::for_purpose(seed, "human", static_cast<uint64_t>(i));
    Person human = build_person(spec, seed, i, facing_deg + uniform(facing_rng, -120, 120), assets);
    Vec3 p;
    for (int attempt = 0;; ++attempt) {
      if (attempt > 0 && attempt % 200 == 0) region *= 1.25;
      p = {uniform(place_rng, -region, region), uniform(place_rng, -region, region), 0};
      if (planar_length(p.x, p.y) > region) continue;
      if (!overlaps(footprints, p, human.footprint, 0.05)) break;
    }
    footprints.push_back({p, human.footprint});
    place_person(human, p);
    humans.push_back(std::move(human));
  }

  // Camera: aim at the centre of the people's bounding box; retry draws until every
  // person is fully in frame, keeping the best attempt.
  Vec3 lo{-0.5, -0.5, 0}, hi{0.5, 0.5, 1.7};
  if (!humans.empty()) {
    double inf = std::numeric_limits<double>::infinity();
    lo = {inf, inf, inf};
    hi = -lo;
    for (const Person& human : humans) {
      for (const Mesh& m : human.meshes) {
        for (size_t i = 0; i < m.positions.size(); i += 3) {
          lo = {std::min<double>(lo.x, m.positions[i]), std::min<double>(lo.y, m.positions[i + 1]),
                std::min<double>(lo.z, m.positions[i + 2])};
          hi = {std::max<double>(hi.x, m.positions[i]), std::max<double>(hi.y, m.positions[i + 1]),
                std::max<double>(hi.z, m.positions[i + 2])};
        }
      }
    }
  }
  const Vec3 group_centre = (lo + hi) * 0.5;
  const bool aim_at_humans = spec.camera.keep_in_frame == "humans";
  const int attempts = aim_at_humans && !humans.empty() ? 8 : 1;
  int best_score = -2;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    Pcg32 rng = Pcg32::for_purpose(seed, "camera", static_cast<uint64_t>(attempt) + 1);
    const auto try_n = static_cast<uint64_t>(attempt);
    double fov =
        std::clamp(draw_field(spec.camera.fov_deg, seed, "camera.fov_deg", try_n), 1.0, 179.0);
    double eye_height =
        std::max(0.05, draw_field(spec.camera.height_m, seed, "camera.height_m", try_n));
    double distance =
        std::max(0.1, draw_field(spec.camera.distance_m, seed, "camera.distance_m", try_n));
    Vec3 target = group_centre;
    if (!aim_at_humans) {
      target = target + Vec3{uniform(rng, -1, 1), uniform(rng, -1, 1), uniform(rng, -0.5, 0.5)};
    }
    Vec3 eye = {target.x + distance * portable_cos(camera_azimuth),
                target.y + distance * portable_sin(camera_azimuth), eye_height};
    if (planar_length(eye.x - target.x, eye.y - target.y) < 1e-3) eye.x += 0.1;
    Camera camera = look_at_camera(spec.camera.width, spec.camera.height, fov, eye, target);
    camera.distance_m = distance;
    int score = overlaps(footprints, eye, 0.2, 0.0) ? -1 : humans_in_frame(camera, humans);
    if (score > best_score) {
      best_score = score;
      scene.camera = camera;
    }
    if (score == human_count) break;
  }
  // Depth of field: a thin lens of a full-frame equivalent (36 mm wide sensor), focused on
  // the people's centre.
  if (const double f_number = draw_field(spec.camera.f_number, seed, "camera.f_number"); f_number > 0) {
    const double focal_m = 0.036 * scene.camera.fx / scene.camera.width;
    scene.camera.aperture_radius_m = focal_m / (2 * f_number);
    const double focus = scene.camera.to_camera(group_centre).z;
    scene.camera.focus_distance_m = focus > 0.1 ? focus : scene.camera.distance_m;
  }
  const Camera& camera = scene.camera;

  // Later frames of a clip: the same people (same draws, same places), moved on in time;
  // the camera, framed on the first frame, stays.
  if (frame > 0) {
    const double time_s = static_cast<double>(frame) / spec.clip.fps;
    for (int i = 0; i < human_count; ++i) {
      Pcg32 facing_rng = Pcg32::for_purpose(seed, "human", static_cast<uint64_t>(i));
      Person later = build_person(spec, seed, i, facing_deg + uniform(facing_rng, -120, 120), assets, time_s);
      Human& first = humans[static_cast<size_t>(i)].info;
      place_person(later, first.position);
      // The position follows the root on the floor: where the person has walked to.
      const Vec3 travel = root_joint(later.info) - root_joint(first);
      later.info.position = first.position + Vec3{travel.x, travel.y, 0};
      humans[static_cast<size_t>(i)] = std::move(later);
    }
  }

  // Sun and sky.
  scene_gen::add_sun_and_sky(spec, seed, assets, scene);

  // Structure: room, outdoor ground or studio cove. Props must stay inside it.
  scene_gen::Structure structure =
      scene_gen::build_structure(seed, scene.kind, group_centre, camera, footprints);

  // Props: not on the people, the camera, or the lines of sight from the camera to them.
  std::vector<PendingInstance> props =
      scene_gen::place_props(spec, seed, scene.kind, group_centre, camera, footprints, structure);

  scene_gen::add_looks(spec, seed, scene, structure.parts, props);
  scene_gen::add_lights(spec, seed, scene, structure.top, group_centre, camera);

  // Instance ids: humans 1..N, then props, then the structure.
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
  for (PendingInstance& part : structure.parts) commit(part);
  return scene;
}

}  // namespace synthfarm::jobs
