// Placement, a stage of the scene generator (scene_gen/internal/stages.h): the people on
// the floor and the footprints they take up, which the later stages keep clear.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "base/math.h"
#include "base/rng.h"
#include "humans/skeleton.h"
#include "jobs/people.h"
#include "jobs/scene.h"
#include "jobs/scene_mesh.h"
#include "jobs/scene_gen/internal/stages.h"
#include "jobs/spec.h"
#include "render/scene.h"

namespace synthfarm::jobs::scene_gen {

using render::Mesh;

namespace {

void translate(Mesh& mesh, Vec3 offset) {
  for (size_t i = 0; i < mesh.positions.size(); i += 3) {
    mesh.positions[i] = static_cast<float>(mesh.positions[i] + offset.x);
    mesh.positions[i + 1] = static_cast<float>(mesh.positions[i + 1] + offset.y);
    mesh.positions[i + 2] = static_cast<float>(mesh.positions[i + 2] + offset.z);
  }
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

// Tries per person to find a free spot on a scene mesh's floor before giving up.
constexpr int kMeshPlacementTries = 400;

// The highest point of a person built at the origin.
double person_top(const Person& person) {
  double top = 0;
  for (const Mesh& m : person.meshes) {
    for (size_t i = 2; i < m.positions.size(); i += 3) top = std::max<double>(top, m.positions[i]);
  }
  return top;
}

// Whether a person of footprint `radius` and height `top` can stand at `p` in the scene
// mesh: floor under it, nothing in its column from ankle height to above its head.
bool stands_in(const SceneMesh& mesh, Vec3 p, double radius, double top) {
  return mesh.floor_at(p.x, p.y) && mesh.clear_column(p, radius, 0.15, top + 0.1);
}

}  // namespace

double planar_length(double x, double y) { return std::sqrt(x * x + y * y); }

bool overlaps(const std::vector<Footprint>& placed, Vec3 p, double radius, double gap) {
  for (const Footprint& f : placed) {
    if (planar_length(p.x - f.centre.x, p.y - f.centre.y) < f.radius + radius + gap) return true;
  }
  return false;
}

int draw_count(const Distribution& d, Pcg32& rng, int max) {
  return static_cast<int>(std::clamp(std::round(d.sample(rng)), 0.0, static_cast<double>(max)));
}

People place_people(const JobSpec& spec, uint64_t seed, double facing_deg,
                    const SceneAssets* assets) {
  const SceneMesh* fixed = assets != nullptr ? assets->scene_mesh.get() : nullptr;
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
    const double top = person_top(human);
    Vec3 p;
    bool placed = false;
    for (int attempt = 0; !placed; ++attempt) {
      if (fixed != nullptr && attempt == kMeshPlacementTries) break;
      if (attempt > 0 && attempt % 200 == 0) region *= 1.25;
      p = {uniform(place_rng, -region, region), uniform(place_rng, -region, region), 0};
      if (planar_length(p.x, p.y) > region) continue;
      if (overlaps(footprints, p, human.footprint, 0.05)) continue;
      placed = fixed == nullptr || stands_in(*fixed, p, human.footprint, top);
    }
    // In a scene mesh with no room left, this person and those after it are left out (a
    // clip's later frames rebuild people by their index, so the placed ones stay 0..i-1).
    if (!placed) break;
    footprints.push_back({p, human.footprint});
    place_person(human, p);
    humans.push_back(std::move(human));
  }
  return {std::move(humans), std::move(footprints)};
}

void move_people_to_frame(const JobSpec& spec, uint64_t seed, double facing_deg,
                          const SceneAssets* assets, int frame, double time_offset_s,
                          std::vector<Person>& humans) {
  const int human_count = static_cast<int>(humans.size());
  const double time_s = static_cast<double>(frame) / spec.clip.fps + time_offset_s;
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

}  // namespace synthfarm::jobs::scene_gen
