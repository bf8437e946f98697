// Tests of the path tracer's light transport on analytic scenes: white furnace, a grey
// enclosure around a light, a Lambertian plane under the sun, point, sphere, sun-disk and
// area lights, one shadow ray per deep vertex, indirect clamping, depth and normals of a
// sphere, the Preetham sky, thin-lens focus, NaN samples, layer subsets, and identical
// bytes for any thread count and tiling.
#include "render/renderer.h"
#include "render/renderer_testing.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include "base/keypoints.h"
#include "render/scene.h"
#include "render/scene_testing.h"

namespace synthfarm::render {
namespace {

using scene_testing::plane_scene;

Mesh lambertian_mesh(uint32_t id, SemanticClass semantic, float albedo) {
  Mesh mesh;
  mesh.instance_id = id;
  mesh.semantic = semantic;
  mesh.albedo = {albedo, albedo, albedo};
  return mesh;
}

std::shared_ptr<Environment> constant_environment(float radiance) {
  auto env = std::make_shared<Environment>();
  env->width = 8;
  env->height = 4;
  env->texels.assign(3 * 8 * 4, radiance);
  return env;
}

// Every surface white (albedo 1) inside a uniform radiance of 1: the rendering equation's
// solution is 1 everywhere, whatever the geometry. The sphere rests on a floor beside a box,
// so paths bounce between them many times (white surfaces keep the whole throughput, so
// Russian roulette never ends them: GreyEnclosureAroundALightIsAnalytic tests it); the
// environment variant adds importance sampling and MIS.
TEST(PathTracerTest, WhiteFurnaceRendersOne) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene;
  scene.kind = "furnace";
  scene.camera = look_at_camera(48, 36, 50, {0, -3, 1.2}, {0, 0, 0.5});
  Mesh sphere = lambertian_mesh(1, SemanticClass::kProp, 1.0f);
  add_ellipsoid(sphere, {0, 0, 0.5}, Mat3{}, {0.5, 0.5, 0.5}, 32, 16);
  Mesh box = lambertian_mesh(2, SemanticClass::kProp, 1.0f);
  add_box(box, {0.7, 0.3, 0.3}, Mat3{}, {0.2, 0.3, 0.3});
  Mesh floor = lambertian_mesh(3, SemanticClass::kFloor, 1.0f);
  add_quad(floor, {-3, -3, 0}, {3, -3, 0}, {3, 3, 0}, {-3, 3, 0});
  scene.meshes = {sphere, box, floor};
  scene.instances = {{1, SemanticClass::kProp, "sphere"},
                     {2, SemanticClass::kProp, "box"},
                     {3, SemanticClass::kFloor, "floor"}};
  RenderSettings settings{16, 64, 3, 2};
  for (bool environment : {false, true}) {
    scene.sky = Sky::uniform(1.0);
    scene.environment = environment ? constant_environment(1.0f) : nullptr;
    Frame frame = renderer_testing::render_frame(*renderer, scene, settings);
    double sum = 0, sphere_sum = 0;
    int count = 0, sphere_count = 0;
    for (size_t p = 0; p < frame.instance.size(); ++p) {
      if (frame.instance[p] == 0) continue;
      double l = frame.rgb[3 * p + 1];
      sum += l;
      ++count;
      if (frame.instance[p] == 1) sphere_sum += l, ++sphere_count;
    }
    ASSERT_GT(sphere_count, 200);
    EXPECT_NEAR(sphere_sum / sphere_count, 1.0, 0.01) << "environment " << environment;
    EXPECT_NEAR(sum / count, 1.0, 0.01) << "environment " << environment;
    EXPECT_EQ(frame.invalid_samples, 0u);
  }
}

// A grey furnace around a light: a closed Lambertian sphere (radius R, albedo a) with a small
// sphere light (intensity I, radius r) at its centre. Every wall point gets the light's
// irradiance I / R^2, and by the sphere's symmetry the same irradiance back from the rest of
// the wall, all of it but the share s = (r / R)^2 of its cosine-weighted view that the light
// covers; so its radiance is L = a I / (pi R^2 (1 - a (1 - s))). Paths keep only a of their
// throughput at each bounce, so Russian roulette ends most of them from the third bounce on:
// a fault in its reweighting shows here (the white furnace never plays roulette).
TEST(PathTracerTest, GreyEnclosureAroundALightIsAnalytic) {
  auto renderer = renderer_testing::make_renderer();
  const double radius = 2.0, albedo = 0.5, intensity = 4.0, light_radius = 0.1;
  Scene scene;
  scene.kind = "enclosure";
  scene.sky = Sky::uniform(0.0);
  scene.camera = look_at_camera(48, 36, 60, {0.5, 0, 0}, {2, 0.3, 0.2});
  Mesh wall = lambertian_mesh(1, SemanticClass::kWall, static_cast<float>(albedo));
  add_ellipsoid(wall, {0, 0, 0}, Mat3{}, {radius, radius, radius}, 96, 48);
  scene.meshes = {wall};
  scene.instances = {{1, SemanticClass::kWall, "wall"}};
  Light light;
  light.kind = Light::Kind::kPoint;
  light.intensity = intensity;
  light.radius = light_radius;
  scene.lights = {light};
  const double s = (light_radius / radius) * (light_radius / radius);
  const double expected = albedo * intensity / (kPi * radius * radius * (1 - albedo * (1 - s)));
  Frame frame = renderer_testing::render_frame(*renderer, scene, RenderSettings{64, 64, 7, 2});
  double sum = 0;
  for (size_t p = 0; p < frame.instance.size(); ++p) {
    ASSERT_EQ(frame.instance[p], 1u);
    sum += frame.rgb[3 * p + 1];
  }
  EXPECT_NEAR(sum / static_cast<double>(frame.instance.size()), expected, 0.01 * expected);
  EXPECT_EQ(frame.invalid_samples, 0u);
}

// A lone Lambertian plane lit by the sun only: radiance = albedo * intensity * cos exactly.
TEST(PathTracerTest, SunOnALambertianPlaneIsAnalytic) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene = plane_scene(0.6, 0.0, 2.5, 35.0);
  Frame frame = renderer_testing::render_frame(*renderer, scene, RenderSettings{4, 2, 1, 2});
  const double expected = 0.6 * 2.5 * std::sin(deg_to_rad(35.0));
  int checked = 0;
  for (size_t p = 0; p < frame.instance.size(); ++p) {
    // Pixels whose whole footprint sees the plane (the horizon row is mixed).
    if (p / frame.width < 16) continue;
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(frame.rgb[3 * p + c], expected, 1e-5);
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

// World position of a pixel's label hit, from the depth layer.
Vec3 label_point(const Scene& scene, const Frame& frame, int x, int y) {
  const Camera& cam = scene.camera;
  double z = frame.depth[static_cast<size_t>(y) * frame.width + x];
  Vec3 c{(x + 0.5 - cam.cx) / cam.fx * z, (y + 0.5 - cam.cy) / cam.fy * z, z};
  return cam.rotation.transposed() * c + cam.position;
}

// A point light over a Lambertian plane: L = albedo / pi * I cos / r^2 at every point.
TEST(PathTracerTest, PointLightOnAPlaneIsInverseSquare) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene = plane_scene(0.5, 0.0, 0.0, 45.0);
  Light light;
  light.kind = Light::Kind::kPoint;
  light.intensity = 10;
  light.position = {1, 5, 1.2};
  scene.lights.push_back(light);
  Frame frame = renderer_testing::render_frame(*renderer, scene, RenderSettings{16, 0, 2, 2});
  double rel_sum = 0;
  int count = 0;
  for (int y = 18; y < frame.height; ++y) {
    for (int x = 0; x < frame.width; ++x) {
      Vec3 p = label_point(scene, frame, x, y);
      Vec3 to = light.position - p;
      double r2 = dot(to, to);
      double expected = 0.5 / kPi * light.intensity * (to.z / std::sqrt(r2)) / r2;
      double got = frame.rgb[3 * (static_cast<size_t>(y) * frame.width + x)];
      EXPECT_NEAR(got, expected, 0.03 * expected) << x << "," << y;
      rel_sum += got / expected;
      ++count;
    }
  }
  EXPECT_NEAR(rel_sum / count, 1.0, 2e-3);
}

// A sphere light lights a plane exactly as a point of the same intensity does (a uniformly
// emitting sphere wholly above a point's horizon gives it the irradiance I cos / r^2), but
// through cone sampling, MIS with BSDF rays that hit the sphere, and a clipped shadow ray.
TEST(PathTracerTest, SphereLightOnAPlaneMatchesThePointOfTheSameIntensity) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene = plane_scene(0.5, 0.0, 0.0, 45.0);
  Light light;
  light.kind = Light::Kind::kPoint;
  light.intensity = 10;
  light.position = {1, 5, 1.2};
  light.radius = 0.4;
  scene.lights.push_back(light);
  Frame frame = renderer_testing::render_frame(*renderer, scene, RenderSettings{64, 1, 2, 2});
  double rel_sum = 0;
  int count = 0;
  for (int y = 18; y < frame.height; ++y) {
    for (int x = 0; x < frame.width; ++x) {
      Vec3 p = label_point(scene, frame, x, y);
      Vec3 to = light.position - p;
      double r2 = dot(to, to);
      if (to.z < light.radius) continue;  // the sphere dips below this point's horizon
      double expected = 0.5 / kPi * light.intensity * (to.z / std::sqrt(r2)) / r2;
      double got = frame.rgb[3 * (static_cast<size_t>(y) * frame.width + x)];
      EXPECT_NEAR(got, expected, 0.06 * expected) << x << "," << y;
      rel_sum += got / expected;
      ++count;
    }
  }
  ASSERT_GT(count, 500);
  EXPECT_NEAR(rel_sum / count, 1.0, 5e-3);
  EXPECT_EQ(frame.invalid_samples, 0u);
}

// A sun with a disk (penumbrae) gives an unshadowed Lambertian plane what the delta sun
// gives, within the disk's tiny spread of angles.
TEST(PathTracerTest, SunDiskOnALambertianPlaneIsAnalytic) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene = plane_scene(0.6, 0.0, 2.5, 35.0);
  scene.sun.angular_diameter_deg = 0.53;
  Frame frame = renderer_testing::render_frame(*renderer, scene, RenderSettings{4, 2, 1, 2});
  const double expected = 0.6 * 2.5 * std::sin(deg_to_rad(35.0));
  int checked = 0;
  for (size_t p = 0; p < frame.instance.size(); ++p) {
    if (p / frame.width < 16) continue;
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(frame.rgb[3 * p + c], expected, 2e-3 * expected);
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

// Deeper path vertices trace one shadow ray, to a light chosen by its unoccluded
// contribution; that must be an unbiased estimate of lighting by all of them. Light is
// additive, so a scene lit by the sun, a sphere light and an environment, with occluders
// casting shadows and interreflections, must average what three renders with one light
// each sum to (they choose nothing).
TEST(PathTracerTest, OneShadowRayPerDeepVertexIsUnbiased) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene;
  scene.kind = "analytic";
  scene.camera = look_at_camera(48, 36, 55, {0, -3.2, 1.6}, {0, 0, 0.4});
  Mesh floor = lambertian_mesh(1, SemanticClass::kFloor, 0.8f);
  add_quad(floor, {-3, -3, 0}, {3, -3, 0}, {3, 3, 0}, {-3, 3, 0});
  Mesh wall = lambertian_mesh(2, SemanticClass::kWall, 0.7f);
  add_box(wall, {0, 1.2, 0.8}, Mat3{}, {1.5, 0.05, 0.8});
  Mesh ball = lambertian_mesh(3, SemanticClass::kProp, 0.9f);
  add_ellipsoid(ball, {0.3, 0, 0.4}, Mat3{}, {0.4, 0.4, 0.4}, 24, 12);
  scene.meshes = {floor, wall, ball};
  scene.instances = {{1, SemanticClass::kFloor, "floor"},
                     {2, SemanticClass::kWall, "wall"},
                     {3, SemanticClass::kProp, "ball"}};
  scene.sky = Sky::uniform(0.0);
  Scene sun = scene, lamp = scene, sky = scene;
  sun.sun.intensity = 1.5;
  sun.sun.direction = normalize(Vec3{0.4, -0.5, 0.75});
  sun.sun.angular_diameter_deg = 2;
  Light light;
  light.kind = Light::Kind::kPoint;
  light.intensity = 3;
  light.position = {-1, -0.5, 1.5};
  light.radius = 0.2;
  lamp.lights = {light};
  auto env = constant_environment(0.4f);
  env->texels[3 * 5] = 40.0f;  // one bright texel: the sky is importance-sampled
  sky.environment = env;
  Scene all = sun;
  all.lights = lamp.lights;
  all.environment = sky.environment;
  const RenderSettings settings{32, 3, 7, 2};
  auto mean = [&](const Scene& s) {
    Frame frame = renderer_testing::render_frame(*renderer, s, settings);
    EXPECT_EQ(frame.invalid_samples, 0u);
    double sum = 0;
    for (float v : frame.rgb) sum += v;
    return sum / static_cast<double>(frame.rgb.size());
  };
  const double parts = mean(sun) + mean(lamp) + mean(sky);
  EXPECT_NEAR(mean(all), parts, 0.01 * parts);
}

// clamp_indirect limits light after a bounce and never direct light.
TEST(PathTracerTest, ClampIndirectLeavesDirectLightAlone) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene = plane_scene(0.6, 0.0, 2.5, 35.0);
  RenderSettings settings{4, 2, 1, 2};
  Frame plain = renderer_testing::render_frame(*renderer, scene, settings);
  settings.clamp_indirect = 1e-6;
  Frame clamped = renderer_testing::render_frame(*renderer, scene, settings);
  EXPECT_EQ(plain.rgb, clamped.rgb);  // a lone plane has no indirect light

  // A box open to the sky: most of its light has bounced. A clamp far above any value
  // changes nothing; a tight one removes light.
  Scene box;
  box.kind = "analytic";
  box.camera = look_at_camera(32, 24, 60, {0, -0.2, 0.5}, {0, 1, 0.5});
  Mesh walls = lambertian_mesh(1, SemanticClass::kWall, 0.8f);
  add_quad(walls, {-1, -1, 0}, {1, -1, 0}, {1, 1.5, 0}, {-1, 1.5, 0});
  add_quad(walls, {-1, 1.5, 0}, {1, 1.5, 0}, {1, 1.5, 2}, {-1, 1.5, 2});
  box.meshes = {walls};
  box.instances = {{1, SemanticClass::kWall, "walls"}};
  box.sun.intensity = 2;
  box.sun.direction = normalize(Vec3{0, -0.3, 1});
  settings.clamp_indirect = 0;
  const Frame unclamped = renderer_testing::render_frame(*renderer, box, settings);
  settings.clamp_indirect = 1e9;
  EXPECT_EQ(renderer_testing::render_frame(*renderer, box, settings).rgb, unclamped.rgb);
  settings.clamp_indirect = 0.01;
  const Frame tight = renderer_testing::render_frame(*renderer, box, settings);
  double sum_unclamped = 0, sum_tight = 0;
  for (size_t i = 0; i < unclamped.rgb.size(); ++i) {
    EXPECT_LE(tight.rgb[i], unclamped.rgb[i] + 1e-6f) << i;
    sum_unclamped += unclamped.rgb[i];
    sum_tight += tight.rgb[i];
  }
  EXPECT_LT(sum_tight, 0.99 * sum_unclamped);
}

// A disk light above a white plane, seen through a narrow camera looking straight down at
// the point under its centre: L = radiance R^2 / (h^2 + R^2). Light sampling and BSDF rays
// that hit the disk are combined by MIS; the rect light is checked the same way.
TEST(PathTracerTest, AreaLightsOnAPlaneMatchClosedForms) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene;
  scene.kind = "analytic";
  scene.camera = look_at_camera(16, 16, 1.0, {0, -1e-3, 0.5}, {0, 0, 0});
  scene.sky = Sky::uniform(0.0);
  Mesh floor = lambertian_mesh(1, SemanticClass::kFloor, 1.0f);
  add_quad(floor, {-5, -5, 0}, {5, -5, 0}, {5, 5, 0}, {-5, 5, 0});
  scene.meshes = {floor};
  scene.instances = {{1, SemanticClass::kFloor, "floor"}};
  const double h = 1.0, radius = 0.8, radiance = 2.0;
  Light disk;
  disk.kind = Light::Kind::kDisk;
  disk.intensity = radiance;
  disk.position = {0, 0, h};
  disk.radius = radius;
  disk.direction = {0, 0, -1};
  Light rect = disk;
  rect.kind = Light::Kind::kRect;
  rect.u_axis = {0.5, 0, 0};
  rect.v_axis = {0, 0.3, 0};
  double X = 0.5 / h, Y = 0.3 / h;
  double view_factor = (X / std::sqrt(1 + X * X) * std::atan(Y / std::sqrt(1 + X * X)) +
                        Y / std::sqrt(1 + Y * Y) * std::atan(X / std::sqrt(1 + Y * Y))) /
                       (2 * kPi);
  const std::pair<Light, double> cases[] = {
      {disk, radiance * radius * radius / (h * h + radius * radius)},
      {rect, 4 * radiance * view_factor}};
  for (const auto& [light, expected] : cases) {
    scene.lights = {light};
    Frame frame = renderer_testing::render_frame(*renderer, scene, RenderSettings{64, 0, 9, 2});
    double sum = 0;
    for (size_t p = 0; p < frame.instance.size(); ++p) sum += frame.rgb[3 * p];
    EXPECT_NEAR(sum / frame.instance.size(), expected, 0.01 * expected)
        << static_cast<int>(light.kind);
  }
}

// Depth and normal of a sphere against a ray-sphere intersection (the mesh is a fine
// tessellation, hence the tolerances).
TEST(PathTracerTest, DepthAndNormalOfASphereAreAnalytic) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene;
  scene.kind = "analytic";
  scene.camera = look_at_camera(48, 48, 40, {0, -4, 0.5}, {0, 0, 0.5});
  const Vec3 centre{0, 0, 0.5};
  const double radius = 0.8;
  Mesh sphere = lambertian_mesh(1, SemanticClass::kProp, 0.5f);
  add_ellipsoid(sphere, centre, Mat3{}, {radius, radius, radius}, 192, 96);
  scene.meshes = {sphere};
  scene.instances = {{1, SemanticClass::kProp, "sphere"}};
  RenderSettings settings{1, 0, 1, 2};
  settings.labels_only = true;
  Frame frame = renderer_testing::render_frame(*renderer, scene, settings);
  const Camera& cam = scene.camera;
  int checked = 0;
  for (int y = 0; y < frame.height; ++y) {
    for (int x = 0; x < frame.width; ++x) {
      size_t p = static_cast<size_t>(y) * frame.width + x;
      Vec3 d_cam{(x + 0.5 - cam.cx) / cam.fx, (y + 0.5 - cam.cy) / cam.fy, 1};
      Vec3 d = normalize(cam.rotation.transposed() * d_cam);
      Vec3 oc = cam.position - centre;
      double b = dot(oc, d), disc = b * b - (dot(oc, oc) - radius * radius);
      if (disc < 0.25 * radius * radius) continue;  // misses, or too close to the silhouette
      double t = -b - std::sqrt(disc);
      Vec3 hit = cam.position + d * t;
      double depth = cam.to_camera(hit).z;
      ASSERT_EQ(frame.instance[p], 1u);
      EXPECT_NEAR(frame.depth[p], depth, 2e-3 * radius);
      Vec3 n = cam.rotation * normalize(hit - centre);
      EXPECT_NEAR(frame.normal[3 * p], n.x, 0.03);
      EXPECT_NEAR(frame.normal[3 * p + 1], n.y, 0.03);
      EXPECT_NEAR(frame.normal[3 * p + 2], n.z, 0.03);
      ++checked;
    }
  }
  EXPECT_GT(checked, 300);
}

// A scene with every feature: materials (dielectric, metal, emissive), image textures,
// procedural patterns, shading normals, every light type, an environment map and a thin
// lens.
Scene everything_scene() {
  Scene scene;
  scene.kind = "everything";
  scene.camera = look_at_camera(40, 30, 55, {0.2, -3.5, 1.4}, {0, 0, 0.5});
  scene.camera.aperture_radius_m = 0.02;
  scene.camera.focus_distance_m = 3.5;
  scene.sun.direction = normalize(Vec3{0.4, -0.3, 0.8});
  scene.sun.intensity = 1.5;
  auto env = std::make_shared<Environment>();
  env->width = 32;
  env->height = 16;
  env->rotation_deg = 20;
  for (int i = 0; i < 32 * 16; ++i) {
    float v = 0.2f + 0.8f * static_cast<float>((i * 37) % 11) / 11.0f;
    env->texels.insert(env->texels.end(), {v, 0.9f * v, 0.7f * v});
  }
  scene.environment = env;
  Texture texture;
  texture.width = 4;
  texture.height = 4;
  for (int i = 0; i < 16; ++i) {
    float v = static_cast<float>((i * 7) % 5) / 5.0f;
    texture.texels.insert(texture.texels.end(), {v, 1 - v, 0.5f, 1});
  }
  scene.textures = {texture};
  Pattern checker;
  checker.kind = Pattern::Kind::kChecker;
  checker.scale = 2;
  Pattern marble;
  marble.kind = Pattern::Kind::kMarble;
  marble.scale = 4;
  marble.distortion = 1;
  marble.seed = 3;
  scene.patterns = {checker, marble};
  Material floor_material;
  floor_material.pattern = 0;
  floor_material.roughness = 0.7f;
  Material metal;
  metal.base_color = {0.9f, 0.6f, 0.3f};
  metal.metallic = 1;
  metal.roughness = 0.3f;
  metal.metallic_roughness_texture = 0;
  Material textured;
  textured.base_color_texture = 0;
  textured.roughness = 0.4f;
  Material stone;
  stone.pattern = 1;
  Material glow;
  glow.base_color = {0, 0, 0};
  glow.emission = {3, 2, 1};
  scene.materials = {floor_material, metal, textured, stone, glow};

  Mesh floor = lambertian_mesh(1, SemanticClass::kFloor, 0.5f);
  add_quad(floor, {-4, -4, 0}, {4, -4, 0}, {4, 4, 0}, {-4, 4, 0});
  floor.material = 0;
  Mesh ball = lambertian_mesh(2, SemanticClass::kProp, 0.5f);
  add_ellipsoid(ball, {-0.5, 0, 0.4}, Mat3{}, {0.4, 0.4, 0.4}, 24, 12);
  ball.material = 2;
  for (size_t v = 0; v < ball.positions.size() / 3; ++v) {
    Vec3 n = normalize(ball.vertex(static_cast<uint32_t>(v)) - Vec3{-0.5, 0, 0.4});
    ball.normals.insert(ball.normals.end(), {static_cast<float>(n.x), static_cast<float>(n.y),
                                             static_cast<float>(n.z)});
    ball.texcoords.insert(ball.texcoords.end(),
                          {static_cast<float>(n.x * 2), static_cast<float>(n.z)});
  }
  Mesh box = lambertian_mesh(3, SemanticClass::kProp, 0.5f);
  add_box(box, {0.6, 0.3, 0.35}, Mat3::rotation_z(0.5), {0.3, 0.3, 0.35});
  box.material = 1;
  Mesh pillar = lambertian_mesh(4, SemanticClass::kProp, 0.5f);
  add_cylinder(pillar, {0.1, 1.2, 0}, 0.2, 1.2, 16);
  pillar.material = 3;
  Mesh lamp = lambertian_mesh(5, SemanticClass::kProp, 0.5f);
  add_quad(lamp, {-1.5, 1.5, 1.2}, {-1.0, 1.5, 1.2}, {-1.0, 1.5, 1.7}, {-1.5, 1.5, 1.7});
  lamp.material = 4;
  Mesh person = lambertian_mesh(6, SemanticClass::kPerson, 0.4f);
  add_capsule(person, {1.4, -0.5, 0.2}, {1.4, -0.5, 1.4}, {1, 0, 0}, 0.15, 0.12, 12, 4);
  scene.meshes = {floor, ball, box, pillar, lamp, person};
  for (uint32_t id = 1; id <= 6; ++id)
    scene.instances.push_back({id, scene.meshes[id - 1].semantic, "thing"});

  Light point;
  point.kind = Light::Kind::kPoint;
  point.intensity = 2;
  point.position = {1, -1, 2};
  Light spot;
  spot.kind = Light::Kind::kSpot;
  spot.intensity = 8;
  spot.position = {-1, -1, 2.5};
  spot.direction = normalize(Vec3{0.3, 0.3, -1});
  spot.inner_cone_deg = 15;
  spot.outer_cone_deg = 35;
  Light rect;
  rect.kind = Light::Kind::kRect;
  rect.intensity = 3;
  rect.color = {1, 0.9f, 0.8f};
  rect.position = {0, 0.5, 2.2};
  rect.u_axis = {0.4, 0, 0};
  rect.v_axis = {0, 0.3, 0};
  rect.direction = {0, 0, -1};
  Light disk;
  disk.kind = Light::Kind::kDisk;
  disk.intensity = 4;
  disk.position = {1.5, 1.0, 1.0};
  disk.radius = 0.25;
  disk.direction = normalize(Vec3{-1, -0.5, -0.2});
  scene.lights = {point, spot, rect, disk};
  return scene;
}

void expect_same_frames(const Frame& a, const Frame& b, const std::string& what) {
  EXPECT_EQ(a.rgb, b.rgb) << what;
  EXPECT_EQ(a.depth, b.depth) << what;
  EXPECT_EQ(a.normal, b.normal) << what;
  EXPECT_EQ(a.albedo, b.albedo) << what;
  EXPECT_EQ(a.instance, b.instance) << what;
  EXPECT_EQ(a.semantic, b.semantic) << what;
  EXPECT_EQ(a.invalid_samples, b.invalid_samples) << what;
}

TEST(PathTracerTest, IdenticalBytesForAnyThreadCountAndTiling) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene = everything_scene();
  RenderSettings settings{8, 3, 77, 1};
  Frame one = renderer_testing::render_frame(*renderer, scene, settings);
  settings.threads = 2;
  Frame two = renderer_testing::render_frame(*renderer, scene, settings);
  settings.tile_size = 7;
  Frame odd_tiles = renderer_testing::render_frame(*renderer, scene, settings);
  settings.tile_size = 1;
  Frame pixel_tiles = renderer_testing::render_frame(*renderer, scene, settings);
  expect_same_frames(one, two, "1 vs 2 threads");
  expect_same_frames(one, odd_tiles, "16 vs 7 pixel tiles");
  expect_same_frames(one, pixel_tiles, "16 vs 1 pixel tiles");
  EXPECT_EQ(one.invalid_samples, 0u);
  // Every light and material shows: the image is lit, finite, and not flat.
  double lo = 1e9, hi = 0;
  for (float v : one.rgb) {
    ASSERT_TRUE(std::isfinite(v));
    lo = std::min(lo, static_cast<double>(v));
    hi = std::max(hi, static_cast<double>(v));
  }
  EXPECT_GT(hi, 0.5);
  EXPECT_LT(lo, 0.3);
  // Another seed renders different noise, the same labels.
  settings.seed = 78;
  Frame other = renderer_testing::render_frame(*renderer, scene, settings);
  EXPECT_NE(one.rgb, other.rgb);
  EXPECT_EQ(one.depth, other.depth);
}

TEST(PathTracerTest, PreethamSkyRendersAndIsBluerOverhead) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene = plane_scene(0.5, 1.0, 3.0, 30.0);
  scene.sky.model = Sky::Model::kPreetham;
  scene.sky.turbidity = 2.5;
  // The sun behind the camera: the view is away from the white circumsolar glow.
  scene.sun.direction = {0, -scene.sun.direction.y, scene.sun.direction.z};
  Frame a = renderer_testing::render_frame(*renderer, scene, RenderSettings{4, 1, 5, 1});
  Frame b = renderer_testing::render_frame(*renderer, scene, RenderSettings{4, 1, 5, 2});
  EXPECT_EQ(a.rgb, b.rgb);
  EXPECT_EQ(a.invalid_samples, 0u);
  // The top row looks at a clear sky away from the sun: bluer than red.
  for (int x = 0; x < a.width; ++x) {
    ASSERT_EQ(a.instance[x], 0u);
    EXPECT_GT(a.rgb[3 * x + 2], a.rgb[3 * x]);
  }
}

// Pixels in the middle row that are neither fully 0 nor fully 1.
int blurred_pixels(const Frame& frame) {
  int count = 0;
  const int y = frame.height / 2;
  for (int x = 0; x < frame.width; ++x) {
    float v = frame.rgb[3 * (static_cast<size_t>(y) * frame.width + x)];
    count += v > 0.02f && v < 0.98f ? 1 : 0;
  }
  return count;
}

// A glowing wall filling the left half of the view, with its edge on the optical axis: at
// the focus distance the edge is sharp; twice as far it blurs over the circle of confusion
// (radius fx * aperture * |1/focus - 1/z| pixels).
TEST(PathTracerTest, ThinLensFocusesAtTheFocusDistance) {
  auto renderer = renderer_testing::make_renderer();
  Material glow;
  glow.base_color = {0, 0, 0};
  glow.emission = {1, 1, 1};
  auto scene_with_wall_at = [&](double distance) {
    Scene scene;
    scene.kind = "analytic";
    scene.camera = look_at_camera(64, 16, 40, {0, 0, 1}, {0, 1, 1});
    scene.camera.aperture_radius_m = 0.1;
    scene.camera.focus_distance_m = 2;
    scene.sky = Sky::uniform(0.0);
    scene.materials = {glow};
    Mesh wall = lambertian_mesh(1, SemanticClass::kWall, 0.0f);
    wall.material = 0;
    add_quad(wall, {-20, distance, -20}, {0, distance, -20}, {0, distance, 20},
             {-20, distance, 20});
    scene.meshes = {wall};
    scene.instances = {{1, SemanticClass::kWall, "wall"}};
    return scene;
  };
  RenderSettings settings{64, 0, 4, 2};
  Scene sharp_scene = scene_with_wall_at(2.0);
  Frame sharp = renderer_testing::render_frame(*renderer, sharp_scene, settings);
  Frame blurred = renderer_testing::render_frame(*renderer, scene_with_wall_at(4.0), settings);
  EXPECT_LE(blurred_pixels(sharp), 1);
  const double coc_radius = sharp_scene.camera.fx * 0.1 * (1.0 / 2 - 1.0 / 4);  // ~4.4 px
  EXPECT_GE(blurred_pixels(blurred), static_cast<int>(2 * coc_radius) - 2);
  EXPECT_LE(blurred_pixels(blurred), static_cast<int>(2 * coc_radius) + 2);
  // The labels stay pinhole: the instance edge is at the centre column in both.
  EXPECT_EQ(sharp.instance[8 * 64 + 31], 1u);
  EXPECT_EQ(sharp.instance[8 * 64 + 32], 0u);
  EXPECT_EQ(blurred.instance[8 * 64 + 31], 1u);
  EXPECT_EQ(blurred.instance[8 * 64 + 32], 0u);
}

// A texture holding NaN makes some radiance samples NaN: they are dropped and counted, and
// the image stays finite.
TEST(PathTracerTest, NanSamplesAreDroppedAndCounted) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene = plane_scene(0.5, 1.0, 2.0, 45.0);
  Texture broken;
  broken.width = 2;
  broken.height = 1;
  broken.texels = {NAN, NAN, NAN, 1, 1, 1, 1, 1};
  scene.textures = {broken};
  Material m;
  m.base_color_texture = 0;
  scene.materials = {m};
  scene.meshes[0].material = 0;
  // Texture u across the plane: half the floor reads the NaN texel.
  for (size_t v = 0; v < scene.meshes[0].positions.size() / 3; ++v) {
    Vec3 p = scene.meshes[0].vertex(static_cast<uint32_t>(v));
    scene.meshes[0].texcoords.insert(scene.meshes[0].texcoords.end(),
                                     {static_cast<float>(p.x), static_cast<float>(p.y)});
  }
  Frame frame = renderer_testing::render_frame(*renderer, scene, RenderSettings{4, 2, 5, 2});
  EXPECT_GT(frame.invalid_samples, 0u);
  for (float v : frame.rgb) ASSERT_TRUE(std::isfinite(v));
}

TEST(PathTracerTest, LabelsOnlyAndLayerSubsets) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene = everything_scene();
  Frame full = renderer_testing::render_frame(*renderer, scene, RenderSettings{2, 1, 3, 2});
  RenderSettings labels{2, 1, 3, 2};
  labels.labels_only = true;
  Frame fast = renderer_testing::render_frame(*renderer, scene, labels);
  ASSERT_EQ(fast.rgb.size(), full.rgb.size());
  for (float v : fast.rgb) ASSERT_EQ(v, 0.0f);
  EXPECT_EQ(fast.depth, full.depth);
  EXPECT_EQ(fast.normal, full.normal);
  EXPECT_EQ(fast.albedo, full.albedo);
  EXPECT_EQ(fast.instance, full.instance);
  EXPECT_EQ(fast.part, full.part);
  EXPECT_EQ(fast.uv, full.uv);

  RenderSettings subset{2, 1, 3, 2};
  subset.layers = layer_bit(Layer::kRgb) | layer_bit(Layer::kInstance);
  Frame some = renderer_testing::render_frame(*renderer, scene, subset);
  EXPECT_EQ(some.rgb, full.rgb);
  EXPECT_EQ(some.instance, full.instance);
  EXPECT_TRUE(some.depth.empty());
  EXPECT_TRUE(some.normal.empty());
  EXPECT_TRUE(some.albedo.empty());
  EXPECT_TRUE(some.semantic.empty());
  EXPECT_TRUE(some.part.empty());
  EXPECT_TRUE(some.uv.empty());

  RenderSettings bad{2, 1, 3, 2};
  bad.tile_size = 0;
  EXPECT_FALSE(renderer->render(scene, bad).has_value());
}

}  // namespace
}  // namespace synthfarm::render

