// Samples posed from motion-capture clips (humans.bvh): a clip read through the asset
// reader poses the people; a broken clip or joint map fails the sample with a message that
// names the spec field, the file and the problem.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "humans/body.h"
#include "humans/bvh_writer.h"
#include "jobs/sample.h"

namespace synthfarm::jobs {
namespace {

// A small CMU-named skeleton in centimetres (T-pose rest): hips, legs, spine, head, arms.
// Frame 0 is the rest pose; frame 1 bends both knees by 70 degrees.
std::string cmu_bvh(int frames_declared = 2, bool truncate_last_row = false) {
  std::string h =
      "HIERARCHY\n"
      "ROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
      "  JOINT LeftUpLeg\n  {\n    OFFSET 9 0 0\n    CHANNELS 3 Zrotation Xrotation Yrotation\n"
      "    JOINT LeftLeg\n    {\n      OFFSET 0 -42 0\n      CHANNELS 3 Zrotation Xrotation Yrotation\n"
      "      JOINT LeftFoot\n      {\n        OFFSET 0 -40 0\n        CHANNELS 3 Zrotation Xrotation Yrotation\n"
      "        End Site\n        {\n          OFFSET 0 -4 12\n        }\n      }\n    }\n  }\n"
      "  JOINT RightUpLeg\n  {\n    OFFSET -9 0 0\n    CHANNELS 3 Zrotation Xrotation Yrotation\n"
      "    JOINT RightLeg\n    {\n      OFFSET 0 -42 0\n      CHANNELS 3 Zrotation Xrotation Yrotation\n"
      "      JOINT RightFoot\n      {\n        OFFSET 0 -40 0\n        CHANNELS 3 Zrotation Xrotation Yrotation\n"
      "        End Site\n        {\n          OFFSET 0 -4 12\n        }\n      }\n    }\n  }\n"
      "  JOINT Spine\n  {\n    OFFSET 0 10 0\n    CHANNELS 3 Zrotation Xrotation Yrotation\n"
      "    JOINT Neck\n    {\n      OFFSET 0 40 0\n      CHANNELS 3 Zrotation Xrotation Yrotation\n"
      "      JOINT Head\n      {\n        OFFSET 0 10 0\n        CHANNELS 3 Zrotation Xrotation Yrotation\n"
      "        End Site\n        {\n          OFFSET 0 18 0\n        }\n      }\n    }\n  }\n}\n";
  // 6 + 9 * 3 = 33 channels per frame.
  std::string rest, bent;
  for (int c = 0; c < 33; ++c) {
    rest += "0 ";
    // Channel order per joint: Z X Y; the knees (LeftLeg, RightLeg) are joints 2 and 5.
    const bool knee_x = c == 6 + 3 * 1 + 1 || c == 6 + 3 * 4 + 1;
    bent += knee_x ? "70 " : (c == 1 ? "-8 " : "0 ");
  }
  std::string motion = "MOTION\nFrames: " + std::to_string(frames_declared) + "\nFrame Time: 0.0333333\n" + rest +
                       "\n" + (truncate_last_row ? bent.substr(0, bent.size() / 2) : bent) + "\n";
  return h + motion;
}

struct Files {
  std::map<std::string, std::string> by_uri;
  AssetReader reader() const {
    return [this](const std::string& uri) -> tl::expected<std::string, std::string> {
      auto it = by_uri.find(uri);
      if (it == by_uri.end()) return tl::unexpected(uri + ": no such file");
      return it->second;
    };
  }
};

JobSpec mocap_spec() {
  JobSpec spec;
  spec.name = "mocap";
  spec.samples = 10;
  spec.seed = 5;
  spec.camera.width = 96;
  spec.camera.height = 72;
  spec.render.spp = 1;
  spec.humans.count = Distribution::constant(1);
  spec.humans.motion = {{"bvh"}, {}};
  spec.humans.motion_phase = Distribution::constant(0.99);  // the last frame: knees bent
  spec.humans.bvh = {"file:///mocap/squat.bvh"};
  return spec;
}

TEST(Mocap, AClipFromTheSpecPosesThePeople) {
  Files files;
  files.by_uri["file:///mocap/squat.bvh"] = cmu_bvh();
  auto renderer = SampleRenderer::create(1, files.reader());
  ASSERT_TRUE(renderer.has_value()) << renderer.error();
  const JobSpec spec = mocap_spec();
  auto objects = (*renderer)->render(spec, 0);
  ASSERT_TRUE(objects.has_value()) << objects.error();
  auto j = nlohmann::json::parse(objects->json);
  const auto& person = j["instances"][0];
  EXPECT_EQ(person["motion"], "bvh");
  EXPECT_EQ(person["motion_clip"].get<std::string>().rfind("file:///mocap/squat.bvh#", 0), 0u) << person;
  // Knees bent by about 70 degrees: the thigh and shank directions differ by that much.
  auto joint = [&](const char* name) {
    const auto& v = person["joints_3d_world"][name];
    return Vec3{v[0], v[1], v[2]};
  };
  Vec3 thigh = normalize(joint("left_knee") - joint("left_hip"));
  Vec3 shank = normalize(joint("left_ankle") - joint("left_knee"));
  const double angle = std::acos(std::clamp(dot(thigh, shank), -1.0, 1.0)) * 180.0 / kPi;
  EXPECT_NEAR(angle, 70 * 0.99, 3.0);
}

TEST(Mocap, BrokenClipsFailTheSampleWithFieldFileAndLine) {
  Files files;
  files.by_uri["file:///mocap/squat.bvh"] = cmu_bvh(2, /*truncate_last_row=*/true);
  auto renderer = SampleRenderer::create(1, files.reader());
  ASSERT_TRUE(renderer.has_value());
  JobSpec spec = mocap_spec();
  auto truncated = (*renderer)->render(spec, 0);
  ASSERT_FALSE(truncated.has_value());
  EXPECT_NE(truncated.error().find("humans.bvh[0]: squat.bvh:"), std::string::npos) << truncated.error();
  EXPECT_NE(truncated.error().find("expected 33"), std::string::npos) << truncated.error();

  spec.humans.bvh = {"file:///mocap/missing.bvh"};
  auto missing = (*renderer)->render(spec, 0);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().find("humans.bvh[0]: file:///mocap/missing.bvh: no such file"), std::string::npos)
      << missing.error();

  files.by_uri["file:///mocap/good.bvh"] = cmu_bvh();
  spec.humans.bvh = {"file:///mocap/good.bvh"};
  spec.humans.bvh_joint_map = {{"left_hip", "LThigh"}};
  auto bad_map = (*renderer)->render(spec, 0);
  ASSERT_FALSE(bad_map.has_value());
  EXPECT_NE(bad_map.error().find("'LThigh'"), std::string::npos) << bad_map.error();
  EXPECT_NE(bad_map.error().find("left_hip"), std::string::npos) << bad_map.error();
}

// A clip written by humans' BVH writer (what a fitted video becomes) poses a sample's person
// with the rotations it was written with: written with the person's own rest joints (the
// shape the sample JSON reports), the sample's `pose` is the clip's first frame.
TEST(Mocap, AWrittenClipPosesThePersonWithItsRotations) {
  Files files;
  files.by_uri["file:///mocap/squat.bvh"] = cmu_bvh();
  auto renderer = SampleRenderer::create(1, files.reader());
  ASSERT_TRUE(renderer.has_value()) << renderer.error();
  JobSpec spec = mocap_spec();
  spec.humans.motion_phase = Distribution::constant(0);  // the clip's first frame
  auto first = (*renderer)->render(spec, 0);
  ASSERT_TRUE(first.has_value()) << first.error();
  const nlohmann::json first_json = nlohmann::json::parse(first->json);
  const auto& shape_json = first_json["instances"][0]["shape"];
  humans::Shape shape;
  shape.height_m = shape_json["height_m"];
  shape.bmi = shape_json["bmi"];
  shape.sex = shape_json["sex"];
  shape.age = shape_json["age"];
  shape.shoulder_width = shape_json["shoulder_width"];
  shape.hip_width = shape_json["hip_width"];
  shape.leg_length = shape_json["leg_length"];
  shape.arm_length = shape_json["arm_length"];
  shape.head_size = shape_json["head_size"];

  std::array<Vec3, humans::kJointCount> euler{};
  euler[humans::index(humans::Joint::kLeftKnee)] = {65, 0, 0};
  euler[humans::index(humans::Joint::kLeftHip)] = {-40, 10, 5};
  euler[humans::index(humans::Joint::kRightShoulder)] = {20, -30, 15};
  euler[humans::index(humans::Joint::kSpine2)] = {10, 0, -12};
  humans::BvhClip clip;
  clip.rest = humans::build_rest_body(shape).joints;
  clip.frames = {humans::Pose::from_euler(euler, {}), humans::Pose::rest()};
  auto text = humans::write_bvh(clip);
  ASSERT_TRUE(text.has_value()) << text.error();
  files.by_uri["file:///mocap/fitted.bvh"] = *text;
  spec.humans.bvh = {"file:///mocap/fitted.bvh"};
  auto objects = (*renderer)->render(spec, 0);
  ASSERT_TRUE(objects.has_value()) << objects.error();
  const nlohmann::json sample = nlohmann::json::parse(objects->json);
  const auto& person = sample["instances"][0];
  EXPECT_EQ(person["motion_clip"], "file:///mocap/fitted.bvh#0.00");
  double worst = 0;
  for (int j = 0; j < humans::kJointCount; ++j) {
    const auto& got = person["pose"][std::string(humans::kJointNames[j])];
    worst = std::max({worst, std::abs(got[0].get<double>() - euler[j].x), std::abs(got[1].get<double>() - euler[j].y),
                      std::abs(got[2].get<double>() - euler[j].z)});
  }
  std::printf("written clip through the sample pipeline: worst Euler angle error %.3g degrees\n", worst);
  EXPECT_LT(worst, 1e-6);
}

}  // namespace
}  // namespace synthfarm::jobs
