// The BVH writer (humans/bvh_writer.h).
#include "humans/bvh_writer.h"

#include <fmt/format.h>

#include <cmath>

namespace synthfarm::humans {

const std::array<std::string_view, kJointCount> kBvhJointNames = {
    "Hips",          "LeftUpLeg",    "RightUpLeg",  "Spine",        "LeftLeg",         "RightLeg",
    "Spine1",        "LeftFoot",     "RightFoot",   "Spine2",       "LeftToeBase",     "RightToeBase",
    "Neck",          "LeftShoulder", "RightShoulder", "Head",       "LeftArm",         "RightArm",
    "LeftForeArm",   "RightForeArm", "LeftHand",    "RightHand",    "LeftHandMiddle1", "RightHandMiddle1"};

namespace {

// Body axes (x left, y forward, z up) to BVH's (x left, y up, z forward).
Vec3 to_file_axes(Vec3 v) { return {v.x, v.z, v.y}; }

bool finite(Vec3 v) { return std::isfinite(v.x) && std::isfinite(v.y) && std::isfinite(v.z); }

// The angles (x, y, z) of R = Rz(z) Ry(y) Rx(x), degrees. Not matrix_to_euler: its asin
// loses half the digits of y near +-90 degrees, atan2 of the whole column keeps them.
Vec3 euler_zyx_deg(const Mat3& r) {
  constexpr double kRadToDeg = 180.0 / kPi;
  const double cy = std::sqrt(r.m[0][0] * r.m[0][0] + r.m[1][0] * r.m[1][0]);
  const double y = std::atan2(-r.m[2][0], cy);
  double x = 0, z = 0;
  if (cy > 1e-12) {
    x = std::atan2(r.m[2][1], r.m[2][2]);
    z = std::atan2(r.m[1][0], r.m[0][0]);
  } else {  // gimbal lock: all of the remaining rotation about x
    x = std::atan2(-r.m[1][2], r.m[1][1]);
  }
  return {x * kRadToDeg, y * kRadToDeg, z * kRadToDeg};
}

std::string vec_text(Vec3 v) { return fmt::format("{} {} {}", v.x, v.y, v.z); }

void write_joint(const BvhClip& clip, double units, int joint, int depth, std::string& out) {
  const std::string indent(2 * static_cast<size_t>(depth), ' ');
  const int parent = kParents[joint];
  const Vec3 offset = parent < 0 ? clip.rest[joint] : clip.rest[joint] - clip.rest[parent];
  out += indent + (parent < 0 ? "ROOT " : "JOINT ") + std::string(kBvhJointNames[joint]) + "\n";
  out += indent + "{\n";
  out += indent + "  OFFSET " + vec_text(to_file_axes(offset) * units) + "\n";
  out += indent + (parent < 0 ? "  CHANNELS 6 Xposition Yposition Zposition Yrotation Zrotation Xrotation\n"
                              : "  CHANNELS 3 Yrotation Zrotation Xrotation\n");
  bool leaf = true;
  for (int child = joint + 1; child < kJointCount; ++child) {
    if (kParents[child] != joint) continue;
    leaf = false;
    write_joint(clip, units, child, depth + 1, out);
  }
  if (leaf) {
    out += indent + "  End Site\n" + indent + "  {\n";
    out += indent + "    OFFSET " + vec_text(to_file_axes(offset) * (0.5 * units)) + "\n";
    out += indent + "  }\n";
  }
  out += indent + "}\n";
}

// The joints in the order the hierarchy declares them (depth first), which is the order
// of their channels in a frame row.
void declaration_order(int joint, std::vector<int>& out) {
  out.push_back(joint);
  for (int child = joint + 1; child < kJointCount; ++child) {
    if (kParents[child] == joint) declaration_order(child, out);
  }
}

}  // namespace

tl::expected<std::string, std::string> write_bvh(const BvhClip& clip, const BvhWriteOptions& options) {
  if (clip.frames.empty()) return tl::unexpected(std::string("a BVH clip needs at least one frame"));
  if (!std::isfinite(clip.fps) || clip.fps <= 0)
    return tl::unexpected(fmt::format("frame rate {} is not a positive number", clip.fps));
  const double units = options.units_per_metre;
  if (!std::isfinite(units) || units <= 0)
    return tl::unexpected(fmt::format("units_per_metre {} is not a positive number", units));
  for (int j = 0; j < kJointCount; ++j) {
    if (!finite(clip.rest[j]))
      return tl::unexpected(fmt::format("rest joint {} is not finite", kJointNames[j]));
  }

  std::string out = "HIERARCHY\n";
  write_joint(clip, units, 0, 0, out);
  std::vector<int> order;
  declaration_order(0, order);
  out += fmt::format("MOTION\nFrames: {}\nFrame Time: {}\n", clip.frames.size(), 1.0 / clip.fps);
  for (size_t f = 0; f < clip.frames.size(); ++f) {
    const Pose& pose = clip.frames[f];
    if (!finite(pose.root_translation))
      return tl::unexpected(fmt::format("frame {}: the root translation is not finite", f));
    out += vec_text(to_file_axes(clip.rest[0] + pose.root_translation) * units);
    for (int j : order) {
      const Vec3 euler = euler_zyx_deg(pose.local[j]);
      if (!finite(euler))
        return tl::unexpected(fmt::format("frame {}: the rotation of {} is not finite", f, kJointNames[j]));
      out += fmt::format(" {} {} {}", -euler.z, -euler.y, -euler.x);
    }
    out += '\n';
  }
  return out;
}

}  // namespace synthfarm::humans
