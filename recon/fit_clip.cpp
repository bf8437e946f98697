// The fitted sequence as a skeleton clip (fit_clip.h).
#include "recon/fit_clip.h"

#include <fmt/format.h>

#include <cmath>

namespace synthfarm::recon {
namespace {

bool finite(Vec3 v) { return std::isfinite(v.x) && std::isfinite(v.y) && std::isfinite(v.z); }
bool finite(const Mat3& m) {
  for (const auto& row : m.m)
    for (double v : row)
      if (!std::isfinite(v)) return false;
  return true;
}

// The x-mirror M applied on both sides: M A M.
Mat3 mirrored(const Mat3& a) {
  Mat3 out = a;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) out.m[i][j] = a.m[i][j] * ((i == 0) != (j == 0) ? -1.0 : 1.0);
  return out;
}

}  // namespace

tl::expected<humans::BvhClip, std::string> clip_from_fits(std::span<const FitResult> frames,
                                                          const humans::Shape& shape, double fps) {
  if (frames.empty()) return tl::unexpected(std::string("a fitted clip needs at least one frame"));
  if (!std::isfinite(fps) || fps <= 0) return tl::unexpected(fmt::format("frame rate {} is not a positive number", fps));
  size_t first = 0;
  while (first < frames.size() && frames[first].skipped) ++first;
  if (first == frames.size()) return tl::unexpected(std::string("no frame of the sequence was fitted"));
  for (size_t f = first; f < frames.size(); ++f) {
    if (frames[f].skipped) continue;
    if (!finite(frames[f].global_rotation)) return tl::unexpected(fmt::format("frame {}: the global rotation is not finite", f));
    if (!finite(frames[f].joints[0])) return tl::unexpected(fmt::format("frame {}: the pelvis is not finite", f));
    for (int j = 1; j < humans::kJointCount; ++j)
      if (!finite(frames[f].pose_euler_deg[j]))
        return tl::unexpected(fmt::format("frame {}: the rotation of {} is not finite", f, humans::kJointNames[j]));
  }

  humans::BvhClip clip;
  clip.rest = humans::build_rest_body(shape).joints;
  clip.fps = fps;
  const FitResult& origin = frames[first];
  const Mat3 r0t = origin.global_rotation.transposed();
  size_t held = first;
  for (size_t f = 0; f < frames.size(); ++f) {
    if (!frames[f].skipped) held = f;
    const FitResult& fit = frames[std::max(held, first)];
    humans::Pose pose = humans::Pose::from_euler(fit.pose_euler_deg, {});
    pose.local[0] = mirrored(r0t * fit.global_rotation);
    const Vec3 d = r0t * (fit.joints[0] - origin.joints[0]);
    pose.root_translation = {-d.x, d.y, d.z};
    clip.frames.push_back(pose);
  }
  return clip;
}

}  // namespace synthfarm::recon
