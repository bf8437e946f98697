// Samples posed from motion-capture clips (humans.bvh): a clip read through the asset
// reader poses the people; a broken clip or joint map fails the sample with a message that
// names the spec field, the file and the problem.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

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

}  // namespace
}  // namespace synthfarm::jobs
