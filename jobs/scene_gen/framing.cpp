// Framing, a stage of the scene generator (scene_gen/internal/stages.h): the camera's
// bearing around the people (drawn before them, since they mostly face it), its place
// and aim at the centre of the people, and its depth of field.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "base/math.h"
#include "base/rng.h"
#include "jobs/people.h"
#include "jobs/scene_mesh.h"
#include "jobs/scene_gen/internal/stages.h"
#include "jobs/spec.h"
#include "render/scene.h"

namespace synthfarm::jobs::scene_gen {

using render::Camera;
using render::Mesh;
using render::Scene;
using render::look_at_camera;

namespace {

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

// Camera draws in a scene mesh (8 otherwise): many fall in or behind its walls.
constexpr int kMeshAttempts = 32;

// Whether a camera at `eye` aimed at `target` fits in the scene mesh: over its floor, with
// room around it, seeing the target with no surface between.
bool camera_fits(const SceneMesh& mesh, Vec3 eye, Vec3 target) {
  return mesh.floor_at(eye.x, eye.y) && mesh.clear(eye, 0.3) && mesh.line_of_sight(eye, target);
}

}  // namespace

double draw_camera_azimuth(uint64_t seed) {
  Pcg32 camera_rng = Pcg32::for_purpose(seed, "camera", 0);
  return uniform(camera_rng, 0, 2 * kPi);
}

Vec3 centre_of_people(const std::vector<Person>& humans) {
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
  return (lo + hi) * 0.5;
}

void frame_camera(const JobSpec& spec, uint64_t seed, double camera_azimuth, Vec3 group_centre,
                  const People& people, const SceneMesh* fixed, Scene& scene) {
  const std::vector<Person>& humans = people.humans;
  const std::vector<Footprint>& footprints = people.footprints;
  const int human_count = static_cast<int>(humans.size());
  const bool aim_at_humans = spec.camera.keep_in_frame == "humans";
  const int attempts = fixed != nullptr ? kMeshAttempts : aim_at_humans && !humans.empty() ? 8 : 1;
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
    // In a scene mesh, later draws bring the camera closer when the drawn distances keep
    // putting it in or behind a wall.
    for (int closer = kMeshAttempts / 2; fixed != nullptr && closer <= attempt; ++closer) distance *= 0.85;
    Vec3 target = group_centre;
    if (!aim_at_humans) {
      target = target + Vec3{uniform(rng, -1, 1), uniform(rng, -1, 1), uniform(rng, -0.5, 0.5)};
    }
    // In a scene mesh, later draws also swing round the people (up to half a turn either
    // way by the 16th), when the wall is behind the people's backs on the drawn bearing.
    double azimuth = camera_azimuth;
    if (fixed != nullptr && attempt >= 4) {
      azimuth += uniform(rng, -1, 1) * kPi * std::min(1.0, (attempt - 3) / 12.0);
    }
    Vec3 eye = {target.x + distance * portable_cos(azimuth),
                target.y + distance * portable_sin(azimuth), eye_height};
    if (planar_length(eye.x - target.x, eye.y - target.y) < 1e-3) eye.x += 0.1;
    Camera camera = look_at_camera(spec.camera.width, spec.camera.height, fov, eye, target);
    camera.distance_m = distance;
    int score = overlaps(footprints, eye, 0.2, 0.0) ? -1 : humans_in_frame(camera, humans);
    if (fixed != nullptr && !camera_fits(*fixed, eye, target)) score = -1;
    if (score > best_score) {
      best_score = score;
      scene.camera = camera;
    }
    if (score == human_count || (!aim_at_humans && score >= 0)) break;
  }
  // Depth of field: a thin lens of a full-frame equivalent (36 mm wide sensor), focused on
  // the people's centre.
  if (const double f_number = draw_field(spec.camera.f_number, seed, "camera.f_number"); f_number > 0) {
    const double focal_m = 0.036 * scene.camera.fx / scene.camera.width;
    scene.camera.aperture_radius_m = focal_m / (2 * f_number);
    const double focus = scene.camera.to_camera(group_centre).z;
    scene.camera.focus_distance_m = focus > 0.1 ? focus : scene.camera.distance_m;
  }
}

}  // namespace synthfarm::jobs::scene_gen
