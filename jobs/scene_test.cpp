// Tests of the procedural scene generator.
#include "jobs/scene.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace synthfarm::jobs {

using render::Camera;
using render::Environment;
using render::Instance;
using render::Light;
using render::Material;
using render::Mesh;
using render::Pattern;
using render::Scene;
using render::SemanticClass;
using render::Sky;
namespace {

JobSpec base_spec() {
  JobSpec spec;
  spec.name = "scene-test";
  spec.samples = 1000;
  spec.seed = 42;
  spec.camera.width = 64;
  spec.camera.height = 48;
  return spec;
}

// Axis-aligned bounds of every mesh of one instance.
struct Bounds {
  Vec3 lo{1e300, 1e300, 1e300}, hi{-1e300, -1e300, -1e300};
};
Bounds instance_bounds(const Scene& scene, uint32_t id) {
  Bounds b;
  for (const Mesh& m : scene.meshes) {
    if (m.instance_id != id) continue;
    for (size_t i = 0; i < m.positions.size(); i += 3) {
      b.lo = {std::min<double>(b.lo.x, m.positions[i]),
              std::min<double>(b.lo.y, m.positions[i + 1]),
              std::min<double>(b.lo.z, m.positions[i + 2])};
      b.hi = {std::max<double>(b.hi.x, m.positions[i]),
              std::max<double>(b.hi.y, m.positions[i + 1]),
              std::max<double>(b.hi.z, m.positions[i + 2])};
    }
  }
  return b;
}

TEST(SceneTest, SameInputsGiveTheSameBits) {
  JobSpec spec = base_spec();
  for (uint64_t index = 0; index < 5; ++index) {
    SampleScene a = build_scene(spec, index), b = build_scene(spec, index);
    ASSERT_EQ(a.meshes.size(), b.meshes.size());
    for (size_t i = 0; i < a.meshes.size(); ++i) {
      EXPECT_EQ(a.meshes[i].positions, b.meshes[i].positions);
      EXPECT_EQ(a.meshes[i].indices, b.meshes[i].indices);
      EXPECT_EQ(a.meshes[i].albedo, b.meshes[i].albedo);
    }
    EXPECT_EQ(a.camera.position, b.camera.position);
    EXPECT_EQ(a.sun.direction, b.sun.direction);
  }
  SampleScene other = build_scene(spec, 5);
  EXPECT_NE(other.camera.position, build_scene(spec, 6).camera.position);
}

TEST(SceneTest, InstanceIdsPutHumansFirst) {
  JobSpec spec = base_spec();
  spec.scene.props = Distribution::constant(5);
  for (const char* kind : {"room", "outdoor", "studio"}) {
    spec.scene.kind = {{kind}, {}};
    for (uint64_t index = 0; index < 8; ++index) {
      SampleScene scene = build_scene(spec, index);
      ASSERT_FALSE(scene.instances.empty());
      for (size_t i = 0; i < scene.instances.size(); ++i) {
        const Instance& inst = scene.instances[i];
        EXPECT_EQ(inst.id, i + 1);
        bool is_human = i < scene.humans.size();
        EXPECT_EQ(inst.semantic == SemanticClass::kPerson, is_human);
        if (is_human) {
          EXPECT_EQ(scene.keypoints[i].instance_id, inst.id);
          EXPECT_EQ(scene.humans[i].instance_id, inst.id);
        }
      }
      // Props before structure.
      bool seen_structure = false;
      for (const Instance& inst : scene.instances) {
        if (inst.semantic == SemanticClass::kFloor || inst.semantic == SemanticClass::kWall)
          seen_structure = true;
        if (inst.semantic == SemanticClass::kProp) {
          EXPECT_FALSE(seen_structure);
        }
      }
      for (const Mesh& mesh : scene.meshes) {
        ASSERT_GE(mesh.instance_id, 1u);
        ASSERT_LE(mesh.instance_id, scene.instances.size());
        EXPECT_EQ(mesh.semantic, scene.instances[mesh.instance_id - 1].semantic);
        EXPECT_EQ(mesh.indices.size() % 3, 0u);
        for (uint32_t v : mesh.indices) ASSERT_LT(v, mesh.positions.size() / 3);
        EXPECT_LT(std::max({mesh.albedo.r, mesh.albedo.g, mesh.albedo.b}), 1.0f);
      }
    }
  }
}

TEST(SceneTest, HumansStandOnTheFloorWithoutOverlapping) {
  JobSpec spec = base_spec();
  spec.humans.count = Distribution::constant(6);
  spec.humans.motion = {{"static", "walk", "idle", "wave"}, {}};
  for (uint64_t index = 0; index < 6; ++index) {
    SampleScene scene = build_scene(spec, index);
    ASSERT_EQ(scene.humans.size(), 6u);
    for (size_t i = 0; i < scene.humans.size(); ++i) {
      Bounds b = instance_bounds(scene, scene.humans[i].instance_id);
      EXPECT_NEAR(b.lo.z, 0.0, 1e-6);
      double h = scene.humans[i].shape.height_m;
      EXPECT_GT(b.hi.z, 0.9 * h);
      EXPECT_LT(b.hi.z, 1.35 * h);  // a waving hand may rise above the head
      for (size_t k = 0; k < i; ++k) {
        Vec3 d = scene.humans[i].position - scene.humans[k].position;
        EXPECT_GT(std::hypot(d.x, d.y), 0.3);
      }
    }
  }
}

TEST(SceneTest, HeightBmiAndSkinToneShapeTheBody) {
  JobSpec spec = base_spec();
  spec.humans.count = Distribution::constant(1);
  spec.humans.height_m = Distribution::constant(1.8);
  spec.humans.motion = {{"static"}, {}};
  spec.humans.bmi = Distribution::constant(18);
  SampleScene thin = build_scene(spec, 3);
  spec.humans.bmi = Distribution::constant(35);
  SampleScene heavy = build_scene(spec, 3);
  Bounds bt = instance_bounds(thin, 1), bh = instance_bounds(heavy, 1);
  EXPECT_NEAR(bt.hi.z, 1.8, 0.06);
  EXPECT_NEAR(thin.humans[0].shape.height_m, 1.8, 1e-12);
  // Same pose and yaw, wider body: the horizontal extent grows.
  double wt = std::hypot(bt.hi.x - bt.lo.x, bt.hi.y - bt.lo.y);
  double wh = std::hypot(bh.hi.x - bh.lo.x, bh.hi.y - bh.lo.y);
  EXPECT_GT(wh, wt * 1.05);

  // Skin tone 1 is the lightest, 10 the darkest (the first mesh of a human is its body;
  // its nose vertex is skin).
  // The Monk swatches 1-3 differ in hue more than in lightness, so allow a little slack.
  std::vector<double> luminance;
  for (int tone = 1; tone <= 10; ++tone) {
    spec.humans.skin_tone = Distribution::constant(tone);
    SampleScene scene = build_scene(spec, 3);
    EXPECT_EQ(scene.humans[0].skin_tone, tone);
    const size_t nose = humans::topology().face_keypoints[0];
    const float* rgb = &scene.meshes[0].colors[3 * nose];
    Rgb c{rgb[0], rgb[1], rgb[2]};
    luminance.push_back(0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b);
    if (tone > 1) {
      EXPECT_LT(luminance[tone - 1], luminance[tone - 2] * 1.05) << tone;
    }
  }
  EXPECT_GT(luminance[0], 1.5 * luminance[4]);
  EXPECT_GT(luminance[4], 10 * luminance[9]);
}

TEST(SceneTest, MotionsPoseTheSkeleton) {
  JobSpec spec = base_spec();
  spec.humans.count = Distribution::constant(1);
  using humans::Joint;
  auto z = [](const Human& h, Joint j) { return h.joints[humans::index(j)].z; };
  spec.humans.motion = {{"wave"}, {}};
  for (uint64_t index = 0; index < 10; ++index) {
    SampleScene scene = build_scene(spec, index);
    const Human& h = scene.humans[0];
    EXPECT_GT(std::max(z(h, Joint::kLeftWrist), z(h, Joint::kRightWrist)), z(h, Joint::kNeck))
        << index;
  }
  spec.humans.motion = {{"static"}, {}};
  for (uint64_t index = 0; index < 10; ++index) {
    SampleScene scene = build_scene(spec, index);
    const Human& h = scene.humans[0];
    // Static poses may gesture with one arm, not wave with both.
    EXPECT_LT(std::min(z(h, Joint::kLeftWrist), z(h, Joint::kRightWrist)), z(h, Joint::kNeck));
    EXPECT_GT(z(h, Joint::kHead), z(h, Joint::kNeck));
    EXPECT_GT(z(h, Joint::kNeck), z(h, Joint::kSpine3));
    EXPECT_GT(z(h, Joint::kLeftKnee), z(h, Joint::kLeftAnkle));
  }
  spec.humans.motion = {{"walk"}, {}};
  double widest_stride = 0;
  for (uint64_t index = 0; index < 10; ++index) {
    SampleScene scene = build_scene(spec, index);
    const Human& h = scene.humans[0];
    Vec3 d = h.joints[humans::index(Joint::kLeftAnkle)] - h.joints[humans::index(Joint::kRightAnkle)];
    widest_stride = std::max(widest_stride, std::hypot(d.x, d.y));
  }
  EXPECT_GT(widest_stride, 0.35);
}

// The body model's frame is left-handed; placed in the world, left_* joints must be on the
// person's left: facing f (from the head towards the nose), left is f turned +90 degrees
// counter-clockwise seen from above.
TEST(SceneTest, LeftJointsAreOnThePersonsLeft) {
  JobSpec spec = base_spec();
  spec.humans.count = Distribution::constant(3);
  spec.humans.motion = {{"static"}, {}};
  using humans::Joint;
  for (uint64_t index = 0; index < 8; ++index) {
    SampleScene scene = build_scene(spec, index);
    for (const Human& h : scene.humans) {
      Vec3 f = h.keypoints[0] - h.joints[humans::index(Joint::kHead)];
      Vec3 left{-f.y, f.x, 0};
      for (auto [l, r] : {std::pair{Joint::kLeftHip, Joint::kRightHip},
                          std::pair{Joint::kLeftShoulder, Joint::kRightShoulder}}) {
        EXPECT_GT(dot(h.joints[humans::index(l)] - h.joints[humans::index(r)], left), 0) << index;
      }
      EXPECT_GT(dot(h.keypoints[1] - h.keypoints[2], left), 0) << "left eye on the left";
    }
  }
}

TEST(SceneTest, CameraKeepsHumansInFrame) {
  JobSpec spec = base_spec();
  spec.humans.count = Distribution::uniform_int(1, 3);
  int all_inside = 0;
  constexpr int kScenes = 20;
  for (uint64_t index = 0; index < kScenes; ++index) {
    SampleScene scene = build_scene(spec, index);
    const Camera& cam = scene.camera;
    EXPECT_EQ(cam.width, 64);
    EXPECT_NEAR(cam.fx, 0.5 * 64 / std::tan(0.5 * deg_to_rad(cam.fov_deg)), 1e-9);
    EXPECT_NEAR(cam.position.z, cam.height_m, 1e-12);
    bool inside = true;
    for (const Human& h : scene.humans) {
      for (const Vec3& j : h.joints) {
        Vec3 c = cam.to_camera(j);
        auto [u, v] = cam.project(c);
        inside = inside && c.z > 0 && u >= 0 && u <= 64 && v >= 0 && v <= 48;
      }
    }
    all_inside += inside ? 1 : 0;
  }
  EXPECT_GE(all_inside, kScenes * 9 / 10);
}

TEST(SceneTest, HumanCountIsClamped) {
  JobSpec spec = base_spec();
  spec.humans.count = Distribution::constant(40);
  spec.scene.props = Distribution::constant(0);
  EXPECT_EQ(build_scene(spec, 0).humans.size(), 16u);
  spec.humans.count = Distribution::constant(0);
  SampleScene empty = build_scene(spec, 0);
  EXPECT_TRUE(empty.humans.empty());
  EXPECT_FALSE(empty.instances.empty());  // the room is still there
}

TEST(SceneTest, SunDirectionFollowsElevationAndAzimuth) {
  JobSpec spec = base_spec();
  spec.lighting.sun_elevation_deg = Distribution::constant(0);
  spec.lighting.sun_azimuth_deg = Distribution::constant(90);  // east = +x
  Vec3 d = build_scene(spec, 0).sun.direction;
  EXPECT_NEAR(d.x, 1, 1e-12);
  EXPECT_NEAR(d.y, 0, 1e-12);
  EXPECT_NEAR(d.z, 0, 1e-12);
  spec.lighting.sun_elevation_deg = Distribution::constant(90);
  EXPECT_NEAR(build_scene(spec, 0).sun.direction.z, 1, 1e-12);
}

TEST(SceneTest, RoomEnclosesCameraAndPeople) {
  JobSpec spec = base_spec();
  spec.scene.kind = {{"room"}, {}};
  for (uint64_t index = 0; index < 10; ++index) {
    SampleScene scene = build_scene(spec, index);
    const Instance* floor = nullptr;
    for (const Instance& inst : scene.instances) {
      if (inst.name == "floor") floor = &inst;
    }
    ASSERT_NE(floor, nullptr);
    Bounds b = instance_bounds(scene, floor->id);
    EXPECT_GT(scene.camera.position.x, b.lo.x);
    EXPECT_LT(scene.camera.position.x, b.hi.x);
    EXPECT_GT(scene.camera.position.y, b.lo.y);
    EXPECT_LT(scene.camera.position.y, b.hi.y);
    for (const Human& h : scene.humans) {
      EXPECT_GT(h.position.x, b.lo.x);
      EXPECT_LT(h.position.x, b.hi.x);
    }
  }
}

// Floors, walls and props wear materials: plain, patterned (every pattern kind shows up
// over 150 samples), or metal; people keep their per-vertex colours.
}  // namespace
}  // namespace synthfarm::jobs

namespace synthfarm::jobs {
namespace {

TEST(SceneTest, EachFieldDrawsFromItsOwnStream) {
  // Making BMI and the sun's elevation random must not change anyone's height, skin tone
  // or motion, nor the sky: every field has a stream of its own.
  JobSpec fixed = base_spec();
  fixed.humans.count = Distribution::constant(3);
  fixed.humans.bmi = Distribution::constant(22);
  fixed.lighting.sun_elevation_deg = Distribution::constant(40);
  fixed.humans.motion = {{"static", "walk", "wave"}, {}};
  JobSpec random = fixed;
  random.humans.bmi = Distribution::uniform(18, 35);
  random.lighting.sun_elevation_deg = Distribution::uniform(10, 80);
  for (uint64_t index = 0; index < 8; ++index) {
    SampleScene a = build_scene(fixed, index);
    SampleScene b = build_scene(random, index);
    ASSERT_EQ(a.humans.size(), b.humans.size());
    for (size_t h = 0; h < a.humans.size(); ++h) {
      EXPECT_EQ(a.humans[h].shape.height_m, b.humans[h].shape.height_m)
          << "sample " << index << " person " << h;
      EXPECT_EQ(a.humans[h].skin_tone, b.humans[h].skin_tone);
      EXPECT_EQ(a.humans[h].motion, b.humans[h].motion);
    }
    EXPECT_EQ(a.sky.intensity, b.sky.intensity);
    EXPECT_EQ(a.sun.azimuth_deg, b.sun.azimuth_deg);
  }
}

// Floors, walls and props wear materials: plain, patterned (every pattern kind shows up
// over 150 samples), or metal; people keep their per-vertex colours.
TEST(SceneLooksTest, SurfacesGetPatternsAndMetalsDrawnPerSample) {
  JobSpec spec = base_spec();
  std::map<Pattern::Kind, int> kinds;
  int metals = 0, plain = 0, surfaces = 0;
  for (uint64_t index = 0; index < 150; ++index) {
    const SampleScene scene = build_scene(spec, index);
    for (const Mesh& mesh : scene.meshes) {
      if (mesh.semantic == SemanticClass::kPerson) {
        EXPECT_EQ(mesh.material, -1);
        continue;
      }
      ++surfaces;
      ASSERT_GE(mesh.material, 0);
      ASSERT_LT(static_cast<size_t>(mesh.material), scene.materials.size());
      const Material& m = scene.materials[static_cast<size_t>(mesh.material)];
      EXPECT_GE(m.roughness, 0.05f);
      EXPECT_LE(m.roughness, 1.0f);
      if (m.metallic > 0) {
        EXPECT_EQ(mesh.semantic, SemanticClass::kProp) << "only props are metal";
        ++metals;
      } else if (m.pattern >= 0) {
        ++kinds[scene.patterns.at(static_cast<size_t>(m.pattern)).kind];
      } else {
        ++plain;
      }
    }
  }
  for (auto kind : {Pattern::Kind::kNoise, Pattern::Kind::kFbm, Pattern::Kind::kChecker, Pattern::Kind::kBrick,
                    Pattern::Kind::kWood, Pattern::Kind::kMarble}) {
    EXPECT_GT(kinds[kind], 10) << "pattern kind " << static_cast<int>(kind);
  }
  EXPECT_GT(metals, 50);
  EXPECT_GT(plain, surfaces / 10);

  spec.scene.patterns = Distribution::constant(0);
  spec.scene.metal = Distribution::constant(0);
  for (uint64_t index = 0; index < 20; ++index) {
    const SampleScene scene = build_scene(spec, index);
    EXPECT_TRUE(scene.patterns.empty());
    for (const Material& m : scene.materials) EXPECT_EQ(m.metallic, 0);
  }
}

// Rooms get ceiling panels under the wall tops, studios softboxes aimed at the people,
// outdoor scenes no area lights; lamps anywhere; counts follow the spec.
TEST(SceneLooksTest, LightsFollowTheSceneKindAndTheSpec) {
  JobSpec spec = base_spec();
  spec.lighting.area_lights = Distribution::constant(2);
  spec.lighting.lamps = Distribution::constant(1);
  for (const char* kind : {"room", "studio", "outdoor"}) {
    spec.scene.kind = {{kind}, {}};
    for (uint64_t index = 0; index < 20; ++index) {
      const SampleScene scene = build_scene(spec, index);
      int area = 0, lamps = 0;
      for (const Light& light : scene.lights) {
        const bool is_area = light.kind == Light::Kind::kRect || light.kind == Light::Kind::kDisk;
        area += is_area;
        lamps += !is_area;
        EXPECT_GT(light.intensity, 0);
        EXPECT_NEAR(length(light.direction), 1, 1e-9);
        EXPECT_GT(light.position.z, 1.5) << kind << ": lights hang above head height";
        if (is_area && std::string(kind) == "room") {
          EXPECT_DOUBLE_EQ(light.direction.z, -1);
        }
        if (is_area && std::string(kind) == "studio") {
          EXPECT_LT(light.direction.z, 0) << "a softbox faces down";
        }
      }
      EXPECT_EQ(area, std::string(kind) == "outdoor" ? 0 : 2) << kind;
      EXPECT_EQ(lamps, 1) << kind;
    }
  }
  spec.lighting.area_lights = Distribution::constant(0);
  spec.lighting.lamps = Distribution::constant(0);
  EXPECT_TRUE(build_scene(spec, 3).lights.empty());
}

TEST(SceneLooksTest, SkyModelAndAnEnvironmentMapFromTheSpec) {
  JobSpec spec = base_spec();
  EXPECT_EQ(build_scene(spec, 0).sky.model, Sky::Model::kPreetham);
  spec.lighting.sky = {{"gradient"}, {}};
  EXPECT_EQ(build_scene(spec, 0).sky.model, Sky::Model::kGradient);

  spec.lighting.environment = {{"file:///maps/park.exr"}, {}};
  spec.lighting.environment_intensity = Distribution::constant(2.5);
  spec.lighting.environment_rotation_deg = Distribution::constant(30);
  EXPECT_THROW(build_scene(spec, 0), std::invalid_argument) << "a map must be loaded first";
  SceneAssets assets;
  auto map = std::make_shared<Environment>();
  map->name = "file:///maps/park.exr";
  map->width = 2;
  map->height = 1;
  map->texels = {1, 2, 3, 4, 5, 6};
  assets.environments[map->name] = map;
  const SampleScene scene = build_scene(spec, 0, &assets);
  ASSERT_TRUE(scene.environment);
  EXPECT_EQ(scene.environment->texels, map->texels);
  EXPECT_DOUBLE_EQ(scene.environment->intensity, 2.5);
  EXPECT_DOUBLE_EQ(scene.environment->rotation_deg, 30);
  EXPECT_EQ(scene.sun.intensity, 0) << "the map carries its own sun";
  EXPECT_DOUBLE_EQ(map->intensity, 1) << "the shared map is not changed";
  // The same sample without the map: same people, same camera.
  spec.lighting.environment = {{"sky"}, {}};
  const SampleScene sky = build_scene(spec, 0, &assets);
  EXPECT_FALSE(sky.environment);
  EXPECT_GT(sky.sun.intensity, 0);
  EXPECT_EQ(sky.camera.position.x, scene.camera.position.x);
  ASSERT_EQ(sky.humans.size(), scene.humans.size());
  for (size_t h = 0; h < sky.humans.size(); ++h) EXPECT_EQ(sky.humans[h].keypoints[0].x, scene.humans[h].keypoints[0].x);
}

// camera.f_number gives a thin lens focused on the people; 0 keeps the pinhole.
TEST(SceneLooksTest, AnFNumberGivesAThinLensFocusedOnThePeople) {
  JobSpec spec = base_spec();
  EXPECT_EQ(build_scene(spec, 5).camera.aperture_radius_m, 0);
  spec.camera.f_number = Distribution::constant(2);
  spec.humans.count = Distribution::constant(1);
  const SampleScene scene = build_scene(spec, 5);
  const Camera& cam = scene.camera;
  const double focal_m = 0.036 * cam.fx / cam.width;
  EXPECT_NEAR(cam.aperture_radius_m, focal_m / 4, 1e-12);
  EXPECT_GT(focal_m, 0.01);
  EXPECT_LT(focal_m, 0.2);
  // In focus: the person (pelvis) lies near the focus plane.
  const double pelvis_z = cam.to_camera(scene.humans[0].joints[0]).z;
  EXPECT_NEAR(cam.focus_distance_m, pelvis_z, 0.5);
  spec.camera.f_number = Distribution::constant(8);
  EXPECT_NEAR(build_scene(spec, 5).camera.aperture_radius_m, focal_m / 16, 1e-12);
}

}  // namespace
}  // namespace synthfarm::jobs
