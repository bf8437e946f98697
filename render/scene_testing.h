// Hand-built analytic scenes shared by the renderer's tests (renderer_test.cpp,
// path_tracer_test.cpp). Test code only.
#pragma once

#include <utility>

#include "base/math.h"
#include "render/scene.h"

namespace synthfarm::render::scene_testing {

// A large Lambertian plane z = 0 under a uniform sky and optionally the sun: every path
// from the plane escapes upwards after one bounce, so the radiance is exact.
inline Scene plane_scene(double albedo, double sky, double sun_intensity, double sun_elevation_deg) {
  Scene scene;
  scene.kind = "analytic";
  scene.camera = look_at_camera(48, 32, 60, {0.3, -0.2, 1.5}, {1.0, 6.0, 0.0});
  scene.sky = Sky::uniform(sky);
  scene.sun.intensity = sun_intensity;
  double el = deg_to_rad(sun_elevation_deg);
  scene.sun.direction = {0, portable_cos(el), portable_sin(el)};
  Mesh plane;
  auto a = static_cast<float>(albedo);
  plane.albedo = {a, a, a};
  plane.instance_id = 1;
  plane.semantic = SemanticClass::kFloor;
  add_quad(plane, {-1000, -1000, 0}, {1000, -1000, 0}, {1000, 1000, 0}, {-1000, 1000, 0});
  scene.meshes.push_back(std::move(plane));
  scene.instances.push_back({1, SemanticClass::kFloor, "floor"});
  return scene;
}

}  // namespace synthfarm::render::scene_testing
