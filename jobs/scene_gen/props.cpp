// Props, a stage of the scene generator (scene_gen/internal/stages.h): boxes, spheres and
// cylinders on the floor inside the structure, kept off the people, the camera and the
// lines of sight from the camera to the people. Each prop from a stream of its own.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/colour.h"
#include "base/math.h"
#include "base/rng.h"
#include "jobs/scene_gen/internal/stages.h"
#include "jobs/spec.h"
#include "render/scene.h"

namespace synthfarm::jobs::scene_gen {

using render::Camera;
using render::Mesh;
using render::SemanticClass;
using render::add_box;
using render::add_cylinder;
using render::add_ellipsoid;

namespace {

// Distance from point p to the segment ab, in the floor plane.
double distance_to_segment_2d(Vec3 p, Vec3 a, Vec3 b) {
  double abx = b.x - a.x, aby = b.y - a.y;
  double len2 = abx * abx + aby * aby;
  double t = len2 > 0 ? std::clamp(((p.x - a.x) * abx + (p.y - a.y) * aby) / len2, 0.0, 1.0) : 0.0;
  return planar_length(p.x - (a.x + t * abx), p.y - (a.y + t * aby));
}

}  // namespace

std::vector<PendingInstance> place_props(const JobSpec& spec, uint64_t seed,
                                         const std::string& kind, Vec3 group_centre,
                                         const Camera& camera,
                                         const std::vector<Footprint>& footprints,
                                         const Structure& structure) {
  const Vec3 centre = {group_centre.x, group_centre.y, 0};
  std::vector<PendingInstance> props;
  Pcg32 prop_count_rng = Pcg32::for_purpose(seed, "props", 0);
  const int prop_count = draw_count(spec.scene.props, prop_count_rng, 64);
  std::vector<Footprint> occupied = footprints;
  occupied.push_back({camera.position, 0.5});
  for (int i = 0; i < prop_count; ++i) {
    Pcg32 rng = Pcg32::for_purpose(seed, "props", static_cast<uint64_t>(i) + 1);
    PendingInstance prop{SemanticClass::kProp, "", {}};
    Mesh& mesh = prop.meshes.emplace_back();
    mesh.albedo = hsv_to_linear(rng.next_double(), uniform(rng, 0.1, 0.8), uniform(rng, 0.3, 0.95));
    uint32_t type = rng.next_below(3);
    double radius = 0;
    Vec3 half;
    double yaw = 0, height = 0;
    if (type == 0) {
      prop.name = "box";
      half = {uniform(rng, 0.15, 0.5), uniform(rng, 0.15, 0.5), uniform(rng, 0.15, 0.6)};
      yaw = uniform(rng, 0, 2 * kPi);
      radius = planar_length(half.x, half.y);
    } else if (type == 1) {
      prop.name = "sphere";
      radius = uniform(rng, 0.12, 0.45);
    } else {
      prop.name = "cylinder";
      radius = uniform(rng, 0.1, 0.35);
      height = uniform(rng, 0.3, 1.2);
    }
    bool placed = false;
    Vec3 p;
    double spread = kind == "outdoor" ? 10.0 : 8.0;
    for (int attempt = 0; attempt < 64 && !placed; ++attempt) {
      p = centre + Vec3{uniform(rng, -spread, spread), uniform(rng, -spread, spread), 0};
      if (!structure.inside(p, radius) || overlaps(occupied, p, radius, 0.1)) continue;
      placed = true;
      for (const Footprint& f : footprints) {
        if (distance_to_segment_2d(p, camera.position, f.centre) < radius + 0.3) placed = false;
      }
    }
    if (!placed) continue;
    occupied.push_back({p, radius});
    if (type == 0) {
      add_box(mesh, p + Vec3{0, 0, half.z}, Mat3::rotation_z(yaw), half);
    } else if (type == 1) {
      add_ellipsoid(mesh, p + Vec3{0, 0, radius}, Mat3{}, {radius, radius, radius}, 20, 12);
    } else {
      add_cylinder(mesh, p, radius, height, 20);
    }
    props.push_back(std::move(prop));
  }
  return props;
}

}  // namespace synthfarm::jobs::scene_gen
