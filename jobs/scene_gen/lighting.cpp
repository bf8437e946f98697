// Lighting, a stage of the scene generator (scene_gen/internal/stages.h): the sun and the
// sky (or an environment map), and the local lights: ceiling panels in rooms and
// softboxes in studios (area lights, none outdoors), bulbs and spots anywhere (lamps).
// Each light from a stream of its own.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "base/colour.h"
#include "base/math.h"
#include "base/rng.h"
#include "jobs/scene_gen/internal/stages.h"
#include "jobs/scene_mesh.h"
#include "jobs/spec.h"
#include "render/scene.h"

namespace synthfarm::jobs::scene_gen {

namespace {

// `gap` under the scene mesh's surface above (x, y) (from 1 m up), or 2.8 m where there is
// none.
double under_surface(const SceneMesh& mesh, Vec3 p, double gap) {
  return mesh.surface_above({p.x, p.y, 1.0}).value_or(2.8 + gap) - gap;
}

// Whether a light at `p` in the scene mesh reaches the people (1 m above their centre on
// the floor) with no surface between: lights behind walls are left out.
// Draws of a light's place in a scene mesh before it is left out.
constexpr int kLightTries = 16;

bool lights_people(const SceneMesh& mesh, Vec3 p, Vec3 centre) {
  return mesh.line_of_sight(p, centre + Vec3{0, 0, 1.0});
}

}  // namespace

using render::Camera;
using render::Environment;
using render::Light;
using render::Scene;
using render::Sky;

void add_sun_and_sky(const JobSpec& spec, uint64_t seed, const SceneAssets* assets,
                     Scene& scene) {
  const LightingSpec& light = spec.lighting;
  scene.sun.elevation_deg = std::clamp(
      draw_field(light.sun_elevation_deg, seed, "lighting.sun_elevation_deg"), 0.0, 90.0);
  scene.sun.azimuth_deg = draw_field(light.sun_azimuth_deg, seed, "lighting.sun_azimuth_deg");
  scene.sun.intensity =
      std::max(0.0, draw_field(light.sun_intensity, seed, "lighting.sun_intensity"));
  scene.sky.intensity =
      std::max(0.0, draw_field(light.sky_intensity, seed, "lighting.sky_intensity"));
  {
    double el = deg_to_rad(scene.sun.elevation_deg), az = deg_to_rad(scene.sun.azimuth_deg);
    scene.sun.direction = {portable_cos(el) * portable_sin(az), portable_cos(el) * portable_cos(az),
                           portable_sin(el)};
  }
  scene.sky.model = draw_field(light.sky, seed, "lighting.sky") == "gradient" ? Sky::Model::kGradient
                                                                              : Sky::Model::kPreetham;
  scene.sky.turbidity = std::clamp(draw_field(light.turbidity, seed, "lighting.turbidity"), 2.0, 10.0);
  if (const std::string& map = draw_field(light.environment, seed, "lighting.environment"); map != "sky") {
    if (assets == nullptr || !assets->environments.contains(map)) {
      throw std::invalid_argument("lighting.environment '" + map + "' was not loaded");
    }
    // A copy of the texels per scene, since intensity and rotation are the sample's.
    auto environment = std::make_shared<Environment>(*assets->environments.at(map));
    environment->intensity =
        std::max(0.0, draw_field(light.environment_intensity, seed, "lighting.environment_intensity"));
    environment->rotation_deg = draw_field(light.environment_rotation_deg, seed, "lighting.environment_rotation_deg");
    scene.environment = std::move(environment);
    scene.sun.intensity = 0;  // the map carries its own sun
  }
}

void add_lights(const JobSpec& spec, uint64_t seed, Scene& scene, double structure_top, Vec3 group_centre,
                const Camera& camera, const SceneMesh* fixed) {
  const LightingSpec& ls = spec.lighting;
  Pcg32 count_rng = Pcg32::for_purpose(seed, "lighting.lights");
  const int area_count = scene.kind == "outdoor" ? 0 : draw_count(ls.area_lights, count_rng, 8);
  const int lamp_count = draw_count(ls.lamps, count_rng, 8);
  const Vec3 centre{group_centre.x, group_centre.y, 0};
  const Vec3 to_camera = normalize(Vec3{camera.position.x - centre.x, camera.position.y - centre.y, 0});
  const Vec3 across{-to_camera.y, to_camera.x, 0};
  auto warm_white = [](Pcg32& rng) {
    const double warmth = uniform(rng, 0, 1);  // 0 neutral .. 1 warm (about 3000 K)
    return Rgb{1.0f, static_cast<float>(1 - 0.18 * warmth), static_cast<float>(1 - 0.45 * warmth)};
  };
  for (int i = 0; i < area_count; ++i) {
    const auto who = static_cast<uint64_t>(i);
    Pcg32 rng = Pcg32::for_purpose(seed, "lighting.area_light", who);
    Light light;
    light.color = warm_white(rng);
    light.intensity = std::max(0.0, draw_field(ls.area_light_intensity, seed, "lighting.area_light_intensity", who));
    if (scene.kind == "room" || fixed != nullptr) {
      // Just under the top of the walls (a scene mesh: the surface above), above a point
      // near the people, facing down.
      light.position = centre + Vec3{uniform(rng, -2.5, 2.5), uniform(rng, -2.5, 2.5), structure_top - 0.05};
      if (fixed != nullptr) {
        // Under the surface above; drawn again nearer the people while behind a wall.
        double reach = 2.5;
        for (int tries = 1;; ++tries) {
          light.position.z = under_surface(*fixed, light.position, 0.05);
          if (lights_people(*fixed, light.position - Vec3{0, 0, 0.05}, centre) || tries == kLightTries) break;
          reach *= 0.85;
          light.position = centre + Vec3{uniform(rng, -reach, reach), uniform(rng, -reach, reach), 0};
        }
      }
      light.direction = {0, 0, -1};
      const double yaw = uniform(rng, 0, kPi);
      const Vec3 u{portable_cos(yaw), portable_sin(yaw), 0}, v{-u.y, u.x, 0};
      if (rng.next_below(2) == 0) {
        light.kind = Light::Kind::kRect;
        light.u_axis = u * uniform(rng, 0.3, 0.6);
        light.v_axis = v * uniform(rng, 0.15, 0.3);
      } else {
        light.kind = Light::Kind::kDisk;
        light.radius = uniform(rng, 0.15, 0.35);
      }
    } else {
      // A softbox on the camera's side, left or right, above head height, facing the people.
      const double side = rng.next_below(2) == 0 ? -1.0 : 1.0;
      light.position = centre + to_camera * uniform(rng, 1.0, 2.5) + across * (side * uniform(rng, 1.5, 3.0)) +
                       Vec3{0, 0, uniform(rng, 1.8, 2.8)};
      light.direction = normalize(centre + Vec3{0, 0, 1.0} - light.position);
      light.kind = Light::Kind::kRect;
      const Vec3 u = normalize(cross(light.direction, Vec3{0, 0, 1}));
      const Vec3 v = cross(u, light.direction);
      light.u_axis = u * uniform(rng, 0.4, 0.7);
      light.v_axis = v * uniform(rng, 0.5, 0.8);
    }
    if (fixed != nullptr && !lights_people(*fixed, light.position - Vec3{0, 0, 0.05}, centre)) continue;
    scene.lights.push_back(light);
  }
  for (int i = 0; i < lamp_count; ++i) {
    const auto who = static_cast<uint64_t>(i);
    Pcg32 rng = Pcg32::for_purpose(seed, "lighting.lamp", who);
    Light light;
    light.color = warm_white(rng);
    light.intensity = std::max(0.0, draw_field(ls.lamp_intensity, seed, "lighting.lamp_intensity", who));
    const double bearing = uniform(rng, 0, 2 * kPi);
    light.position = centre + Vec3{portable_cos(bearing), portable_sin(bearing), 0} * uniform(rng, 1.0, 3.5) +
                     Vec3{0, 0, uniform(rng, 2.0, 3.2)};
    if (fixed != nullptr) {
      // Under the surface above, clear of walls and seeing the people: drawn again nearer
      // the people until it is.
      double reach = 3.5;
      for (int tries = 1;; ++tries) {
        light.position.z = std::min(light.position.z, under_surface(*fixed, light.position, 0.15));
        if ((fixed->clear(light.position, 0.1) && lights_people(*fixed, light.position, centre)) ||
            tries == kLightTries) {
          break;
        }
        reach *= 0.85;
        const double turn = uniform(rng, 0, 2 * kPi);
        light.position = centre + Vec3{portable_cos(turn), portable_sin(turn), 0} * uniform(rng, 0.5, reach) +
                         Vec3{0, 0, uniform(rng, 2.0, 3.2)};
      }
    }
    if (rng.next_below(2) == 0) {
      light.kind = Light::Kind::kPoint;
    } else {
      light.kind = Light::Kind::kSpot;
      light.direction = normalize(centre + Vec3{0, 0, uniform(rng, 0.5, 1.3)} - light.position);
      light.outer_cone_deg = uniform(rng, 20, 45);
      light.inner_cone_deg = light.outer_cone_deg * uniform(rng, 0.4, 0.9);
    }
    if (fixed != nullptr && !(fixed->clear(light.position, 0.1) && lights_people(*fixed, light.position, centre))) {
      continue;  // no place found
    }
    scene.lights.push_back(light);
  }
}

}  // namespace synthfarm::jobs::scene_gen
