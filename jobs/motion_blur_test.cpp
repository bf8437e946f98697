// Tests of motion blur in the sample pipeline (motion_blur.h): build_scene's time offset
// moves the people only; a motion-blurred sample has exactly the labels of the same sample
// without motion blur (mid-shutter) and says so in its JSON's shutter; samples that do not
// blur keep every byte; the camera's pan is drawn per sample.
#include "jobs/motion_blur.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "jobs/sample.h"
#include "jobs/sample_testing.h"
#include "jobs/scene.h"
#include "render/exr_testing.h"

namespace synthfarm::jobs {
namespace {

using sample_testing::make_renderer;
using sample_testing::render_ok;

using nlohmann::json;
using render::Layer;
using render::SemanticClass;
using render::exr_testing::ExrImage;
using render::exr_testing::read_exr;

// People running (the fastest clip), every layer, small and quick.
JobSpec running_spec() {
  JobSpec spec;
  spec.name = "motion-blur-test";
  spec.samples = 100;
  spec.seed = 4321;
  spec.camera.width = 64;
  spec.camera.height = 48;
  spec.render.spp = 8;
  spec.render.max_bounces = 2;
  spec.output.layers = {Layer::kRgb,    Layer::kDepth,    Layer::kNormal,
                        Layer::kAlbedo, Layer::kInstance, Layer::kSemantic,
                        Layer::kPart,   Layer::kUv,       Layer::kMotion};
  spec.scene.kind = {{"outdoor"}, {}};
  spec.humans.count = Distribution::constant(2);
  spec.humans.motion = {{"run"}, {}};
  // The camera stage on (a sensor section), as with blur; its metering sees the blurred
  // image, so its exposure is compared apart from the labels.
  spec.sensor.enabled = true;
  return spec;
}

JobSpec blurred(JobSpec spec, double shutter_s, double camera_speed_m_s) {
  spec.sensor.enabled = true;
  spec.sensor.motion_blur = true;
  spec.sensor.shutter_s = Distribution::constant(shutter_s);
  spec.sensor.camera_speed_m_s = Distribution::constant(camera_speed_m_s);
  return spec;
}

// The mean distance between two layouts of the same vertices.
double mean_displacement(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); i += 3) {
    sum += length(Vec3{a[i] - b[i], a[i + 1] - b[i + 1], a[i + 2] - b[i + 2]});
  }
  return sum / static_cast<double>(a.size() / 3);
}

TEST(MotionBlurJobsTest, ATimeOffsetMovesThePeopleAndNothingElse) {
  const JobSpec spec = running_spec();
  const SampleScene mid = build_scene(spec, 3);
  const SampleScene zero = build_scene(spec, 3, nullptr, 0, 0.0);
  const double t = 1.0 / 30;
  const SampleScene open = build_scene(spec, 3, nullptr, 0, -t / 2);
  const SampleScene close = build_scene(spec, 3, nullptr, 0, t / 2);
  ASSERT_EQ(open.meshes.size(), mid.meshes.size());
  ASSERT_EQ(close.meshes.size(), mid.meshes.size());
  ASSERT_EQ(mid.humans.size(), 2u);
  EXPECT_EQ(zero.camera.position, mid.camera.position);
  EXPECT_EQ(open.camera.position, mid.camera.position);
  EXPECT_EQ(open.camera.rotation.m, mid.camera.rotation.m);
  int people_meshes = 0;
  for (size_t i = 0; i < mid.meshes.size(); ++i) {
    EXPECT_EQ(zero.meshes[i].positions, mid.meshes[i].positions) << "mesh " << i;
    if (mid.meshes[i].semantic != SemanticClass::kPerson) {
      EXPECT_EQ(open.meshes[i].positions, mid.meshes[i].positions) << "mesh " << i;
      EXPECT_EQ(close.meshes[i].positions, mid.meshes[i].positions) << "mesh " << i;
      continue;
    }
    ++people_meshes;
    ASSERT_EQ(open.meshes[i].positions.size(), mid.meshes[i].positions.size());
    // A runner covers some 3 to 6 m/s; the limbs swing faster, the head and trunk slower.
    const double speed = mean_displacement(open.meshes[i].positions, close.meshes[i].positions) / t;
    std::printf("person mesh %zu (instance %u): mean vertex speed over the shutter %.2f m/s\n", i,
                mid.meshes[i].instance_id, speed);
    EXPECT_GT(speed, 1.0);
    EXPECT_LT(speed, 12.0);
  }
  EXPECT_GE(people_meshes, 2);
}

TEST(MotionBlurJobsTest, ABlurredSampleHasTheLabelsOfMidShutter) {
  auto renderer = make_renderer(2);
  const JobSpec plain_spec = running_spec();
  const JobSpec blur_spec = blurred(plain_spec, 1.0 / 30, 2.0);
  const uint64_t index = 3;
  const SampleObjects plain = render_ok(*renderer, plain_spec, index);
  const SampleObjects blur = render_ok(*renderer, blur_spec, index);

  // The JSON holds the shutter, and otherwise every label of the sample without blur.
  json plain_json = json::parse(plain.json), blur_json = json::parse(blur.json);
  EXPECT_FALSE(plain_json.contains("shutter"));
  ASSERT_TRUE(blur_json.contains("shutter")) << blur.json.substr(0, 400);
  const json shutter = blur_json["shutter"];
  std::printf("shutter: %s\n", shutter.dump().c_str());
  EXPECT_DOUBLE_EQ(shutter["open_s"].get<double>(), -1.0 / 60);
  EXPECT_DOUBLE_EQ(shutter["close_s"].get<double>(), 1.0 / 60);
  EXPECT_EQ(shutter["labels_at"], "mid");
  ASSERT_TRUE(shutter.contains("camera_velocity_m_s"));
  const Vec3 velocity{shutter["camera_velocity_m_s"][0], shutter["camera_velocity_m_s"][1],
                      shutter["camera_velocity_m_s"][2]};
  EXPECT_NEAR(length(velocity), 2.0, 1e-12);
  // Along the camera's own x axis: the first row of world_to_camera.
  const Vec3 x_axis{blur_json["world_to_camera"][0][0], blur_json["world_to_camera"][0][1],
                    blur_json["world_to_camera"][0][2]};
  EXPECT_NEAR(std::abs(dot(velocity, x_axis)), 2.0, 1e-12);
  blur_json.erase("shutter");
  blur_json.erase("sensor");
  plain_json.erase("sensor");
  EXPECT_TRUE(blur_json == plain_json)
      << "labels (boxes, masks, keypoints, cameras) must be mid-shutter's; they differ by "
      << json::diff(plain_json, blur_json).dump().substr(0, 1000);
  int keypoints_seen = 0;
  for (const json& item : plain_json["instances"]) {
    if (item["class"] == "person") keypoints_seen += item["num_keypoints"].get<int>();
  }
  EXPECT_GT(keypoints_seen, 10);

  // Every label layer bit for bit; only the colour blurs.
  const ExrImage plain_exr = read_exr(plain.exr), blur_exr = read_exr(blur.exr);
  EXPECT_EQ(plain_exr.uints, blur_exr.uints);  // instance, semantic, part ids
  int person_pixels = 0;
  for (uint32_t id : blur_exr.uints.at("instance.id")) person_pixels += id >= 1 && id <= 2;
  EXPECT_GT(person_pixels, 50);
  int colour_channels_differ = 0;
  for (const auto& [name, values] : plain_exr.floats) {
    const bool colour = name == "R" || name == "G" || name == "B";
    if (colour) {
      colour_channels_differ += values != blur_exr.floats.at(name);
    } else {
      EXPECT_EQ(values, blur_exr.floats.at(name)) << name;
    }
  }
  EXPECT_EQ(colour_channels_differ, 3);

  // The blurred sample is deterministic like any other: one thread gives the same bytes.
  auto one = make_renderer(1);
  const SampleObjects blur_one = render_ok(*one, blur_spec, index);
  EXPECT_EQ(blur_one.exr, blur.exr);
  EXPECT_EQ(blur_one.png, blur.png);
  EXPECT_EQ(blur_one.json, blur.json);
}

TEST(MotionBlurJobsTest, SamplesThatDoNotBlurKeepEveryByte) {
  auto renderer = make_renderer(2);
  const JobSpec plain_spec = running_spec();
  const SampleObjects plain = render_ok(*renderer, plain_spec, 5);
  JobSpec off = blurred(plain_spec, 1.0 / 30, 2.0);
  off.sensor.motion_blur = false;
  JobSpec closed = blurred(plain_spec, 0.0, 2.0);
  for (const JobSpec* spec : {&off, &closed}) {
    const SampleObjects other = render_ok(*renderer, *spec, 5);
    EXPECT_EQ(other.exr, plain.exr);
    EXPECT_EQ(other.png, plain.png);
    EXPECT_EQ(other.json, plain.json);
  }
}

TEST(MotionBlurJobsTest, TheCameraPansEitherWayPerSampleAndOnlyWhenItMoves) {
  const JobSpec spec = blurred(running_spec(), 1.0 / 50, 3.0);
  std::set<int> directions;
  for (uint64_t index = 0; index < 12; ++index) {
    SampleScene scene = build_scene(spec, index);
    const Vec3 mid = scene.camera.position;
    const auto shutter = add_motion_blur(spec, index, nullptr, 0, scene);
    ASSERT_TRUE(shutter.has_value());
    EXPECT_TRUE(scene.motion_blur);
    ASSERT_TRUE(scene.camera.shutter_positions.has_value());
    const auto [open, close] = *scene.camera.shutter_positions;
    EXPECT_EQ(scene.camera.position, mid);
    // Centred on the mid position, 3 m/s * 1/50 s apart, along the camera's x axis.
    const Vec3 travel = close - open;
    EXPECT_NEAR(length(travel), 3.0 / 50, 1e-12);
    EXPECT_NEAR(length((open + close) * 0.5 - mid), 0.0, 1e-12);
    const double along_x = dot(travel, scene.camera.rotation.row(0));
    EXPECT_NEAR(std::abs(along_x), 3.0 / 50, 1e-12);
    directions.insert(along_x > 0 ? 1 : -1);
    // People got their shutter positions; nothing else did.
    for (const render::Mesh& mesh : scene.meshes) {
      EXPECT_EQ(mesh.moves_in_shutter(), mesh.semantic == SemanticClass::kPerson);
    }
  }
  EXPECT_EQ(directions.size(), 2u) << "both pan directions over 12 samples";
  // A camera speed of 0: the people blur, the camera holds still and the JSON has no velocity.
  const JobSpec still_camera = blurred(running_spec(), 1.0 / 50, 0.0);
  SampleScene scene = build_scene(still_camera, 0);
  const auto shutter = add_motion_blur(still_camera, 0, nullptr, 0, scene);
  ASSERT_TRUE(shutter.has_value());
  EXPECT_FALSE(scene.camera.shutter_positions.has_value());
  EXPECT_FALSE(shutter_json(*shutter).contains("camera_velocity_m_s"));
}

}  // namespace
}  // namespace synthfarm::jobs
