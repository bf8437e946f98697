#include "humans/mocap_bvh.h"

#include "humans/test_skeleton.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <sstream>

namespace synthfarm::humans {
namespace {


// ---- Writing test files ----------------------------------------------------------------

struct TestJoint {
  std::string name;
  std::string parent;  // empty for the root
  Vec3 offset;
  std::optional<Vec3> end_site;
};

// A CMU-style skeleton in a T-pose (file axes: Y up, facing +Z, left +X; inch-like units).
std::vector<TestJoint> cmu_skeleton() {
  std::vector<TestJoint> j = {
      {"Hips", "", {0, 0, 0}, {}},
      {"LowerBack", "Hips", {0, 0.5, 0}, {}},
      {"Spine", "LowerBack", {0, 2.5, 0}, {}},
      {"Spine1", "Spine", {0, 2.5, 0}, {}},
      {"Neck", "Spine1", {0, 3, 0}, {}},
      {"Neck1", "Neck", {0, 1, 0}, {}},
      {"Head", "Neck1", {0, 1, 0.2}, Vec3{0, 3, 0}},
  };
  for (int side : {1, -1}) {
    std::string s = side == 1 ? "Left" : "Right", l = side == 1 ? "L" : "R";
    j.push_back({l + "HipJoint", "Hips", {0, 0, 0}, {}});
    j.push_back({s + "UpLeg", l + "HipJoint", {side * 1.5, -1, 0}, {}});
    j.push_back({s + "Leg", s + "UpLeg", {0, -7.5, 0}, {}});
    j.push_back({s + "Foot", s + "Leg", {0, -7, 0}, {}});
    j.push_back({s + "ToeBase", s + "Foot", {0, -1, 2.5}, Vec3{0, 0, 1}});
    j.push_back({s + "Shoulder", "Spine1", {side * 1.0, 2.5, 0}, {}});
    j.push_back({s + "Arm", s + "Shoulder", {side * 2.5, 0, 0}, {}});
    j.push_back({s + "ForeArm", s + "Arm", {side * 5.0, 0, 0}, {}});
    j.push_back({s + "Hand", s + "ForeArm", {side * 4.5, 0, 0}, {}});
    j.push_back({s + "FingerBase", s + "Hand", {side * 1.0, 0, 0}, Vec3{side * 1.0, 0, 0}});
  }
  return j;
}

// The same proportions with Mixamo names, centimetres and one more spine joint.
std::vector<TestJoint> mixamo_skeleton() {
  auto m = [](std::string n) { return "mixamorig:" + n; };
  std::vector<TestJoint> j = {
      {m("Hips"), "", {0, 100, 0}, {}},         {m("Spine"), m("Hips"), {0, 6, 0}, {}},
      {m("Spine1"), m("Spine"), {0, 6, 0}, {}}, {m("Spine2"), m("Spine1"), {0, 6, 0}, {}},
      {m("Neck"), m("Spine2"), {0, 12, 0}, {}}, {m("Head"), m("Neck"), {0, 8, 1}, Vec3{0, 18, 0}},
  };
  for (int side : {1, -1}) {
    std::string s = side == 1 ? "Left" : "Right";
    j.push_back({m(s + "UpLeg"), m("Hips"), {side * 9.0, -6, 0}, {}});
    j.push_back({m(s + "Leg"), m(s + "UpLeg"), {0, -44, 0}, {}});
    j.push_back({m(s + "Foot"), m(s + "Leg"), {0, -42, 0}, {}});
    j.push_back({m(s + "ToeBase"), m(s + "Foot"), {0, -6, 13}, Vec3{0, 0, 8}});
    j.push_back({m(s + "Shoulder"), m("Spine2"), {side * 6.0, 10, 0}, {}});
    j.push_back({m(s + "Arm"), m(s + "Shoulder"), {side * 12.0, 0, 0}, {}});
    j.push_back({m(s + "ForeArm"), m(s + "Arm"), {side * 27.0, 0, 0}, {}});
    j.push_back({m(s + "Hand"), m(s + "ForeArm"), {side * 25.0, 0, 0}, {}});
    j.push_back({m(s + "HandMiddle1"), m(s + "Hand"), {side * 9.0, 0, 0}, Vec3{side * 4.0, 0, 0}});
  }
  return j;
}

struct TestFrame {
  Vec3 root_position;
  std::map<std::string, Vec3> rotation_deg;  // joint -> (x, y, z); unlisted joints: zero
};

// A BVH file of `joints` (depth-first as written) whose rotation channels are listed in
// `order` (e.g. "ZYX": Zrotation Yrotation Xrotation).
std::string write_bvh(const std::vector<TestJoint>& joints, const std::vector<TestFrame>& frames,
                      std::string_view order = "ZYX") {
  std::ostringstream out;
  std::vector<std::string> dfs;
  std::string channels;
  for (char c : order) channels += std::string(" ") + c + "rotation";
  std::function<void(const TestJoint&, int)> write = [&](const TestJoint& j, int depth) {
    std::string pad(2 * depth, ' ');
    out << pad << (j.parent.empty() ? "ROOT " : "JOINT ") << j.name << "\n" << pad << "{\n";
    out << pad << "  OFFSET " << j.offset.x << " " << j.offset.y << " " << j.offset.z << "\n";
    if (j.parent.empty()) {
      out << pad << "  CHANNELS 6 Xposition Yposition Zposition" << channels << "\n";
    } else {
      out << pad << "  CHANNELS 3" << channels << "\n";
    }
    dfs.push_back(j.name);
    for (const TestJoint& child : joints) {
      if (child.parent == j.name) write(child, depth + 1);
    }
    if (j.end_site) {
      out << pad << "  End Site\n"
          << pad << "  {\n"
          << pad << "    OFFSET " << j.end_site->x << " " << j.end_site->y << " " << j.end_site->z
          << "\n"
          << pad << "  }\n";
    }
    out << pad << "}\n";
  };
  out << "HIERARCHY\n";
  write(joints[0], 0);
  out << "MOTION\nFrames: " << frames.size() << "\nFrame Time: 0.0333333\n";
  for (const TestFrame& f : frames) {
    out << f.root_position.x << " " << f.root_position.y << " " << f.root_position.z;
    for (const std::string& name : dfs) {
      auto it = f.rotation_deg.find(name);
      Vec3 e = it == f.rotation_deg.end() ? Vec3{} : it->second;
      for (char c : order) out << " " << (c == 'X' ? e.x : c == 'Y' ? e.y : e.z);
    }
    out << "\n";
  }
  return out.str();
}

// File axes to body axes, for expected directions.
Vec3 body(Vec3 file_vector) { return {file_vector.x, file_vector.z, file_vector.y}; }
Mat3 rx(double deg) { return Mat3::rotation_x(deg_to_rad(deg)); }
Mat3 ry(double deg) { return Mat3::rotation_y(deg_to_rad(deg)); }

double angle_deg(Vec3 a, Vec3 b) {
  double c = std::clamp(dot(normalize(a), normalize(b)), -1.0, 1.0);
  return std::acos(c) * 180.0 / kPi;
}

Vec3 bone(const Posed& posed, Joint from, Joint to) {
  return posed.position[index(to)] - posed.position[index(from)];
}

double left_leg_length(const RestJoints& r) {
  return length(r[index(Joint::kLeftKnee)] - r[index(Joint::kLeftHip)]) +
         length(r[index(Joint::kLeftAnkle)] - r[index(Joint::kLeftKnee)]);
}

// Frames 0: T-pose; 1: left knee bent 60, left arm down, root forward and down;
// 2: also the hips turned 30 about the vertical and the left thigh forward 30.
std::vector<TestFrame> test_frames(Vec3 root0, double unit) {
  return {
      {root0, {}},
      {root0 + Vec3{0, -0.5, 10} * unit, {{"LeftLeg", {60, 0, 0}}, {"LeftArm", {0, 0, -90}}}},
      {root0 + Vec3{2, 0, 20} * unit,
       {{"Hips", {0, 30, 0}},
        {"LeftUpLeg", {-30, 0, 0}},
        {"LeftLeg", {60, 0, 0}},
        {"RightArm", {0, 0, 90}}}},
  };
}

// Renames the test frames' joints for the Mixamo skeleton.
std::vector<TestFrame> with_prefix(std::vector<TestFrame> frames, const std::string& prefix) {
  for (TestFrame& f : frames) {
    std::map<std::string, Vec3> renamed;
    for (auto& [name, e] : f.rotation_deg) renamed[prefix + name] = e;
    f.rotation_deg = renamed;
  }
  return frames;
}

// ---- Tests -----------------------------------------------------------------------------

TEST(BvhParse, ReadsHierarchyAndMotion) {
  std::string text = write_bvh(cmu_skeleton(), test_frames({0, 16.5, 0}, 1.0));
  auto motion = parse_bvh(text, "cmu.bvh");
  ASSERT_TRUE(motion) << motion.error().to_string();
  EXPECT_EQ(motion->joints.size(), cmu_skeleton().size());
  EXPECT_EQ(motion->frame_count, 3);
  EXPECT_NEAR(motion->frame_time_s, 0.0333333, 1e-12);
  EXPECT_EQ(motion->channel_count, 6 + 3 * (static_cast<int>(cmu_skeleton().size()) - 1));
  EXPECT_EQ(motion->values.size(), 3u * motion->channel_count);
  auto leg = motion->find_joint("LeftLeg");
  ASSERT_TRUE(leg);
  const BvhJoint& j = motion->joints[*leg];
  EXPECT_EQ(motion->joints[j.parent].name, "LeftUpLeg");
  EXPECT_EQ(j.offset, (Vec3{0, -7.5, 0}));
  ASSERT_EQ(j.channels.size(), 3u);
  EXPECT_EQ(j.channels[0], BvhChannel::kZrotation);
  EXPECT_EQ(j.channels[2], BvhChannel::kXrotation);
  EXPECT_EQ(motion->frame(1)[j.first_channel + 2], 60.0);  // Xrotation of frame 1
  EXPECT_TRUE(motion->joints[*motion->find_joint("LeftToeBase")].end_site.has_value());
  EXPECT_FALSE(motion->find_joint("Tail"));
}

TEST(BvhParse, AcceptsCrlfTabsAndJoinedFrames) {
  std::string text =
      "HIERARCHY\r\nROOT Hips\r\n{\r\n\tOFFSET 0 0 0\r\n\tCHANNELS 3 Xposition Yposition "
      "Zposition\r\n\tEnd Site\r\n\t{\r\n\t\tOFFSET 0 1 0\r\n\t}\r\n}\r\nMOTION\r\n"
      "Frames:2\r\nFrame Time: 0.5\r\n1 2 3\r\n\r\n+4 5e0 -6\r\n";
  auto motion = parse_bvh(text, "crlf.bvh");
  ASSERT_TRUE(motion) << motion.error().to_string();
  EXPECT_EQ(motion->frame_count, 2);
  EXPECT_EQ(motion->values, (std::vector<double>{1, 2, 3, 4, 5, -6}));
  EXPECT_EQ(motion->duration_s(), 0.5);
}

struct MalformedCase {
  std::string name;
  std::function<std::string(std::string)> edit;
  std::string expected;
};

std::string replace_once(std::string s, std::string_view from, std::string_view to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

std::string first_lines(const std::string& s, int lines) {
  size_t at = 0;
  for (int i = 0; i < lines; ++i) at = s.find('\n', at) + 1;
  return s.substr(0, at);
}

TEST(BvhParse, MalformedFilesNameFileLineAndProblem) {
  const std::string good =
      "HIERARCHY\n"                                                                 // 1
      "ROOT Hips\n"                                                                 // 2
      "{\n"                                                                         // 3
      "  OFFSET 0 0 0\n"                                                            // 4
      "  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"  // 5
      "  JOINT Chest\n"                                                             // 6
      "  {\n"                                                                       // 7
      "    OFFSET 0 5 0\n"                                                          // 8
      "    CHANNELS 3 Zrotation Xrotation Yrotation\n"                              // 9
      "    End Site\n"                                                              // 10
      "    {\n"                                                                     // 11
      "      OFFSET 0 3 0\n"                                                        // 12
      "    }\n"                                                                     // 13
      "  }\n"                                                                       // 14
      "}\n"                                                                         // 15
      "MOTION\n"                                                                    // 16
      "Frames: 2\n"                                                                 // 17
      "Frame Time: 0.0333333\n"                                                     // 18
      "0 10 0 0 0 0 0 0 0\n"                                                        // 19
      "1 10 0 0 0 0 5 0 0\n";                                                       // 20
  ASSERT_TRUE(parse_bvh(good, "bad.bvh"));

  const std::vector<MalformedCase> cases = {
      {"empty", [](std::string) { return std::string(); },
       "bad.bvh:1: empty file, expected HIERARCHY"},
      {"blank", [](std::string) { return std::string(" \n\n"); },
       "bad.bvh:1: empty file, expected HIERARCHY"},
      {"no HIERARCHY", [](std::string s) { return replace_once(s, "HIERARCHY", "HIERARCHI"); },
       "bad.bvh:1: expected HIERARCHY, got 'HIERARCHI'"},
      {"missing open brace",
       [](std::string s) { return replace_once(s, "  {\n    OFFSET", "    OFFSET"); },
       "bad.bvh:7: expected '{' after JOINT 'Chest', got 'OFFSET'"},
      {"missing close brace", [](std::string s) { return replace_once(s, "  }\n}\n", "}\n"); },
       "bad.bvh:15: unexpected 'MOTION' inside ROOT 'Hips' (missing '}'?)"},
      {"unknown channel",
       [](std::string s) {
         return replace_once(s, "Xrotation Yrotation\n    End", "Xrotation Wrotation\n    End");
       },
       "bad.bvh:9: unknown channel 'Wrotation' in 'Chest' (expected Xposition, Yposition, "
       "Zposition, Xrotation, Yrotation or Zrotation)"},
      {"channel count above list",
       [](std::string s) { return replace_once(s, "CHANNELS 3", "CHANNELS 4"); },
       "bad.bvh:10: CHANNELS of 'Chest' announces 4 channels but lists 3"},
      {"channel count out of range",
       [](std::string s) { return replace_once(s, "CHANNELS 6", "CHANNELS 7"); },
       "bad.bvh:5: CHANNELS of 'Hips': expected a channel count from 0 to 6, got '7'"},
      {"offset not a number",
       [](std::string s) { return replace_once(s, "OFFSET 0 5 0", "OFFSET 0 five 0"); },
       "bad.bvh:8: OFFSET of 'Chest': expected a number, got 'five'"},
      {"duplicate joint",
       [](std::string s) { return replace_once(s, "JOINT Chest", "JOINT Hips"); },
       "bad.bvh:6: duplicate joint name 'Hips' (first declared at line 2)"},
      {"truncated hierarchy", [](std::string s) { return first_lines(s, 9); },
       "bad.bvh:9: unexpected end of file inside JOINT 'Chest' (opened at line 6)"},
      {"no MOTION", [](std::string s) { return first_lines(s, 15); },
       "bad.bvh:15: expected MOTION after the hierarchy, got end of file"},
      {"bad frame count", [](std::string s) { return replace_once(s, "Frames: 2", "Frames: -2"); },
       "bad.bvh:17: Frames: expected a positive whole number, got '-2'"},
      {"bad frame time",
       [](std::string s) { return replace_once(s, "Time: 0.0333333", "Time: 0"); },
       "bad.bvh:18: Frame Time: expected a positive number of seconds, got '0'"},
      {"missing Frame Time",
       [](std::string s) { return replace_once(s, "Frame Time: 0.0333333\n", ""); },
       "bad.bvh:18: expected 'Frame Time:', got '0'"},
      {"short row",
       [](std::string s) { return replace_once(s, "1 10 0 0 0 0 5 0 0", "1 10 0 0 0 0 5 0"); },
       "bad.bvh:20: frame 1 has 8 values, expected 9"},
      {"long row",
       [](std::string s) { return replace_once(s, "0 10 0 0 0 0 0 0 0", "0 10 0 0 0 0 0 0 0 0"); },
       "bad.bvh:19: frame 0 has 10 values, expected 9"},
      {"fewer rows than Frames",
       [](std::string s) { return replace_once(s, "Frames: 2", "Frames: 3"); },
       "bad.bvh:20: file ends after 2 of 3 frames"},
      {"truncated motion", [](std::string s) { return first_lines(s, 18); },
       "bad.bvh:18: file ends after 0 of 2 frames"},
      {"not a number in a row",
       [](std::string s) { return replace_once(s, "1 10 0 0 0 0 5 0 0", "1 10 0 0 0 0 x 0 0"); },
       "bad.bvh:20: frame 1, value 7: expected a number, got 'x'"},
      {"nan in a row",
       [](std::string s) { return replace_once(s, "1 10 0 0 0 0 5 0 0", "1 10 0 nan 0 0 5 0 0"); },
       "bad.bvh:20: frame 1, value 4: expected a number, got 'nan'"},
      {"more rows than Frames", [](std::string s) { return s + "2 10 0 0 0 0 5 0 0\n"; },
       "bad.bvh:21: data after the last of 2 frames (Frames: says 2)"},
  };
  for (const MalformedCase& c : cases) {
    auto result = parse_bvh(c.edit(good), "bad.bvh");
    ASSERT_FALSE(result) << c.name;
    EXPECT_EQ(result.error().to_string(), c.expected) << c.name;
    EXPECT_EQ(result.error().file, "bad.bvh") << c.name;
  }
}

TEST(BvhJointMap, CmuPresetAndAuto) {
  auto motion = parse_bvh(write_bvh(cmu_skeleton(), test_frames({0, 16.5, 0}, 1.0)), "cmu.bvh");
  ASSERT_TRUE(motion);
  for (std::string_view preset : {"cmu", "auto"}) {
    auto map = resolve_joint_map(*motion, preset);
    ASSERT_TRUE(map) << map.error().to_string();
    EXPECT_EQ(map->preset, "cmu");
    auto expect = [&](Joint ours, std::string_view theirs) {
      ASSERT_GE(map->source[index(ours)], 0) << kJointNames[index(ours)];
      EXPECT_EQ(motion->joints[map->source[index(ours)]].name, theirs);
    };
    expect(Joint::kPelvis, "Hips");
    expect(Joint::kLeftHip, "LeftUpLeg");
    expect(Joint::kRightKnee, "RightLeg");
    expect(Joint::kSpine1, "LowerBack");
    expect(Joint::kSpine3, "Spine1");
    expect(Joint::kLeftCollar, "LeftShoulder");
    expect(Joint::kRightShoulder, "RightArm");
    expect(Joint::kRightHand, "RightFingerBase");
    expect(Joint::kLeftFoot, "LeftToeBase");
  }
}

TEST(BvhJointMap, OverridesAndErrors) {
  auto motion = parse_bvh(write_bvh(cmu_skeleton(), test_frames({0, 16.5, 0}, 1.0)), "walk.bvh");
  ASSERT_TRUE(motion);
  auto missing =
      resolve_joint_map(*motion, "none", {{"pelvis", "Hips"}, {"left_hip", "LeftThigh"}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().to_string(),
            "walk.bvh: joint map names 'LeftThigh' for left_hip, but the file has no joint "
            "'LeftThigh'");
  auto unknown = resolve_joint_map(*motion, "cmu", {{"left_hipp", "LeftUpLeg"}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().to_string(),
            "walk.bvh: joint map names 'LeftUpLeg' for 'left_hipp', which is not a synthfarm "
            "joint");
  auto preset = resolve_joint_map(*motion, "vicon");
  ASSERT_FALSE(preset);
  EXPECT_NE(preset.error().message.find("'vicon'"), std::string::npos);
  auto no_pelvis = resolve_joint_map(*motion, "none", {{"left_hip", "LeftUpLeg"}});
  ASSERT_FALSE(no_pelvis);
  EXPECT_NE(no_pelvis.error().message.find("pelvis"), std::string::npos);

  auto custom = resolve_joint_map(*motion, "cmu", {{"neck", "Neck1"}, {"left_hand", ""}});
  ASSERT_TRUE(custom) << custom.error().to_string();
  EXPECT_EQ(motion->joints[custom->source[index(Joint::kNeck)]].name, "Neck1");
  EXPECT_EQ(custom->source[index(Joint::kLeftHand)], -1);
}

// Retargets the three test frames and checks bone directions against the source's.
// `unit` is the file's length unit relative to the frames' nominal displacements.
void check_retarget(const BvhMotion& motion, const JointMap& map, double source_leg_length,
                    double unit) {
  RestJoints rest = test_rest(1.8);
  double scale = left_leg_length(rest) / source_leg_length * unit;

  // Frame 0 is the file's T-pose: our arms go horizontal, legs stay straight.
  Posed p0 = forward_kinematics(rest, retarget_frame(motion, map, rest, 0));
  EXPECT_LT(angle_deg(bone(p0, Joint::kLeftShoulder, Joint::kLeftElbow), {1, 0, 0}), 1e-6);
  EXPECT_LT(angle_deg(bone(p0, Joint::kRightShoulder, Joint::kRightElbow), {-1, 0, 0}), 1e-6);
  EXPECT_LT(angle_deg(bone(p0, Joint::kLeftKnee, Joint::kLeftAnkle), {0, 0, -1}), 1e-6);
  EXPECT_NEAR(length(p0.position[0] - rest[0]), 0.0, 1e-12);

  // Frame 1: the left knee bends 60 deg (shank back), the left arm hangs down.
  Pose pose1 = retarget_frame(motion, map, rest, 1);
  Posed p1 = forward_kinematics(rest, pose1);
  Vec3 shank1 = body(rx(60) * Vec3{0, -1, 0});
  EXPECT_LT(angle_deg(bone(p1, Joint::kLeftKnee, Joint::kLeftAnkle), shank1), 1.0);
  EXPECT_LT(bone(p1, Joint::kLeftKnee, Joint::kLeftAnkle).y, -0.1);  // backwards
  EXPECT_LT(angle_deg(bone(p1, Joint::kLeftShoulder, Joint::kLeftElbow), {0, 0, -1}), 1.0);
  EXPECT_LT(angle_deg(bone(p1, Joint::kLeftElbow, Joint::kLeftWrist), {0, 0, -1}), 1.0);
  EXPECT_LT(angle_deg(bone(p1, Joint::kRightKnee, Joint::kRightAnkle), {0, 0, -1}), 1.0);
  Vec3 expected_root = Vec3{0, 10, -0.5} * scale;
  EXPECT_NEAR(pose1.root_translation.x, expected_root.x, 1e-9);
  EXPECT_NEAR(pose1.root_translation.y, expected_root.y, 1e-9);
  EXPECT_NEAR(pose1.root_translation.z, expected_root.z, 1e-9);

  // Frame 2: turned hips, left thigh forward 30, knee 60; right arm down.
  Pose pose2 = retarget_frame(motion, map, rest, 2);
  Posed p2 = forward_kinematics(rest, pose2);
  Vec3 thigh2 = body(ry(30) * rx(-30) * Vec3{0, -1, 0});
  Vec3 shank2 = body(ry(30) * rx(-30) * rx(60) * Vec3{0, -1, 0});
  Vec3 left_arm2 = body(ry(30) * Vec3{1, 0, 0});
  EXPECT_LT(angle_deg(bone(p2, Joint::kLeftHip, Joint::kLeftKnee), thigh2), 1.0);
  EXPECT_LT(angle_deg(bone(p2, Joint::kLeftKnee, Joint::kLeftAnkle), shank2), 1.0);
  EXPECT_LT(angle_deg(bone(p2, Joint::kLeftShoulder, Joint::kLeftElbow), left_arm2), 1.0);
  EXPECT_LT(angle_deg(bone(p2, Joint::kRightShoulder, Joint::kRightElbow), {0, 0, -1}), 1.0);
  EXPECT_LT(angle_deg(bone(p2, Joint::kSpine2, Joint::kSpine3), {0, 0, 1}), 5.0);
  EXPECT_NEAR(pose2.root_translation.x, 2 * scale, 1e-9);
  EXPECT_NEAR(pose2.root_translation.y, 20 * scale, 1e-9);

  // Halfway between frames 0 and 1 the knee is bent 30 deg and the root halfway.
  Pose half = retarget_frame(motion, map, rest, 0.5);
  Posed ph = forward_kinematics(rest, half);
  EXPECT_NEAR(angle_deg(bone(ph, Joint::kLeftKnee, Joint::kLeftAnkle), {0, 0, -1}), 30.0, 0.5);
  EXPECT_NEAR(half.root_translation.y, 5 * scale, 1e-9);
  // Out-of-range frames clamp.
  Pose late = retarget_frame(motion, map, rest, 99);
  EXPECT_EQ(std::memcmp(&late, &pose2, sizeof(Pose)), 0);
}

TEST(BvhRetarget, CmuFileBonesFollowTheSource) {
  auto motion = parse_bvh(write_bvh(cmu_skeleton(), test_frames({0, 16.5, 0}, 1.0)), "cmu.bvh");
  ASSERT_TRUE(motion) << motion.error().to_string();
  auto map = resolve_joint_map(*motion, "cmu");
  ASSERT_TRUE(map);
  check_retarget(*motion, *map, 14.5, 1.0);
}

TEST(BvhRetarget, MixamoFileWithAutoPreset) {
  auto frames = with_prefix(test_frames({0, 100, 0}, 2.54), "mixamorig:");
  // Mixamo writes rotations in Z X Y order.
  auto motion = parse_bvh(write_bvh(mixamo_skeleton(), frames, "ZXY"), "mixamo.bvh");
  ASSERT_TRUE(motion) << motion.error().to_string();
  auto map = resolve_joint_map(*motion, "auto");
  ASSERT_TRUE(map) << map.error().to_string();
  EXPECT_EQ(map->preset, "mixamo");
  EXPECT_EQ(motion->joints[map->source[index(Joint::kLeftKnee)]].name, "mixamorig:LeftLeg");
  EXPECT_EQ(motion->joints[map->source[index(Joint::kSpine3)]].name, "mixamorig:Spine2");
  EXPECT_EQ(motion->joints[map->source[index(Joint::kRightHand)]].name,
            "mixamorig:RightHandMiddle1");
  check_retarget(*motion, *map, 86.0, 2.54);
}

TEST(BvhRetarget, MixamoNamesWithoutPrefix) {
  auto skeleton = mixamo_skeleton();
  for (TestJoint& j : skeleton) {
    j.name = j.name.substr(10);
    if (!j.parent.empty()) j.parent = j.parent.substr(10);
  }
  auto motion = parse_bvh(write_bvh(skeleton, test_frames({0, 100, 0}, 2.54), "ZXY"), "m.bvh");
  ASSERT_TRUE(motion) << motion.error().to_string();
  auto map = resolve_joint_map(*motion, "auto");
  ASSERT_TRUE(map);
  EXPECT_EQ(map->preset, "mixamo");
  check_retarget(*motion, *map, 86.0, 2.54);
}

TEST(BvhRetarget, DeterministicAndOptionallyClamped) {
  auto motion = parse_bvh(write_bvh(cmu_skeleton(), test_frames({0, 16.5, 0}, 1.0)), "cmu.bvh");
  ASSERT_TRUE(motion);
  auto map = resolve_joint_map(*motion, "cmu");
  ASSERT_TRUE(map);
  RestJoints rest = test_rest(1.7);
  Pose a = retarget_frame(*motion, *map, rest, 1.25), b = retarget_frame(*motion, *map, rest, 1.25);
  EXPECT_EQ(std::memcmp(&a, &b, sizeof(Pose)), 0);
  // With clamping every joint is inside its limits.
  Pose clamped = retarget_frame(*motion, *map, rest, 2, {.clamp_to_limits = true});
  for (int j = 0; j < kJointCount; ++j) {
    Vec3 e = matrix_to_euler(clamped.local[j]);
    Vec3 c = joint_limits()[j].clamp(e);
    EXPECT_LT(length(e - c), 1e-6) << kJointNames[j];
  }
}

}  // namespace
}  // namespace synthfarm::humans
