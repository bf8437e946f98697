// PeopleFitter::fit_sequence (people_fit.h): one tracked person along a video, one shape for
// the whole track, per-frame pose, rotation and translation, and a temporal smoothness term.
//
// Choices
//   Start: every kKeyframeStride-th frame with at least kMinLabelledKeypoints labelled
//     keypoints (and the last such frame) is fitted on its own by fit_images (fit.h's
//     hypotheses find its orientation); a keyframe facing the other way from most of its
//     neighbours (front/back confusion) takes its nearest agreeing neighbour's orientation
//     and pose. Frames between keyframes start from the keyframes' pose and translation
//     interpolated linearly, the nearer keyframe's rotation; the shared shape starts at the
//     keyframes' mean latent.
//   Joint optimisation: all frames are the rows of one batch (the body's rest pose is
//     computed once per step for the one shape and shared), Adam on every frame's rotation
//     (axis-angle on top of its start), translation and 23 joints' Euler angles, and the
//     shape latent, kSteps steps, the last half with a decaying step. The loss is fit.h's
//     per frame (Geman-McClure reprojection with one pixel scale for the whole track: the
//     median person size over the frames, pose prior, joint limits) plus
//       - the shape prior once per observed frame (the same balance as one image alone);
//       - smoothness: the squared acceleration of the 24 joints' positions, in metres per
//         (1/30 s)^2 so that the weight means the same at any frame rate, and, weaker,
//         of the Euler angles (for twists the keypoints do not show). Acceleration rather
//         than velocity, as the video fitters (VIBE's and SLAHMR's smoothness terms) do:
//         it leaves steady motion (a walk's travel) unpenalised.
//   Frames without enough keypoints: frames whose keypoints are all v = 0 (or fewer than
//     kMinLabelledKeypoints labelled) have no data term, or a partial one; the smoothness
//     term fills them in. They come back with values, skipped = false and converged =
//     false; their residuals are NaN where unlabelled, as always.
//   Converged: the whole track's loss changed by less than 0.5 % over the last 15 steps,
//     and the frame has at least kMinLabelledKeypoints labelled keypoints.
//   Never NaN: a step whose loss is not finite is undone (the last finite parameters are
//     put back and the optimisation stops there, every frame then not converged).
//   Determinism: one intra-op thread; the keyframe fits are fit_images' (same bits for any
//     thread count), the joint optimisation runs on the calling thread.
#include <algorithm>
#include <cmath>
#include <limits>

#include "recon/torch/fit_tools.h"
#include "recon/torch/fitter.h"

namespace synthfarm::recon::torch_fit {
namespace sequence_detail {
namespace {

constexpr int kKeyframeStride = 3;
constexpr int kSteps = 160;
constexpr double kSeqSigma = 100;        // Geman-McClure scale, canonical pixels (fit.h)
constexpr double kSeqCanonicalPx = 400;  // residuals scaled to a person this tall (fit.h)
constexpr double kPoseWeight = 3, kLimitWeight = 1e4, kShapeWeight = 1.5;  // fit.h's last round
constexpr double kJointSmoothing = 2000;  // per joint, per (metre / (1/30 s)^2)^2
constexpr double kAngleSmoothing = 20;    // per angle, per (radian / (1/30 s)^2)^2

using Xyv = std::array<double, 51>;

Xyv cleaned(const Keypoints& k) {
  Xyv out = k.xyv;
  for (int i = 0; i < kKeypointCount; ++i) {
    const bool ok = std::isfinite(out[3 * i]) && std::isfinite(out[3 * i + 1]) && std::isfinite(out[3 * i + 2]);
    if (!ok || out[3 * i + 2] <= 0) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = 0;
  }
  return out;
}

int labelled_count(const Xyv& xyv) {
  int n = 0;
  for (int i = 0; i < kKeypointCount; ++i) n += xyv[3 * i + 2] > 0 ? 1 : 0;
  return n;
}

// The diagonal of the labelled keypoints' box, pixels (0 without any).
double diagonal_px(const Xyv& xyv) {
  double lo[2] = {1e300, 1e300}, hi[2] = {-1e300, -1e300};
  for (int k = 0; k < kKeypointCount; ++k) {
    if (xyv[3 * k + 2] <= 0) continue;
    for (int a = 0; a < 2; ++a) lo[a] = std::min(lo[a], xyv[3 * k + a]), hi[a] = std::max(hi[a], xyv[3 * k + a]);
  }
  return hi[0] < lo[0] ? 0 : std::hypot(hi[0] - lo[0], hi[1] - lo[1]);
}

// The track's intrinsics: the given ones, or a 55-degree guess from the image size, or from
// the extent of every frame's keypoints when the size is unknown too (people_fit.h).
Intrinsics track_intrinsics(const Intrinsics& k, const std::vector<Xyv>& frames) {
  return guessed_intrinsics(k, frames);
}

// The keyframes' fits with front/back flips replaced by their nearest agreeing neighbour's
// orientation and pose (the translation is the keyframe's own).
void unflip(std::vector<FitResult>& keys) {
  const int n = static_cast<int>(keys.size());
  auto forward = [&](int i) { return keys[i].global_rotation.column(1); };
  std::vector<bool> flipped(n, false);
  for (int i = 0; i < n; ++i) {
    int against = 0, total = 0;
    for (int j = std::max(0, i - 3); j <= std::min(n - 1, i + 3); ++j) {
      if (j == i) continue;
      ++total;
      against += dot(forward(i), forward(j)) < 0 ? 1 : 0;
    }
    flipped[i] = 2 * against > total;
  }
  const std::vector<FitResult> original = keys;
  for (int i = 0; i < n; ++i) {
    if (!flipped[i]) continue;
    for (int d = 1; d < n; ++d) {
      const int pick = i - d >= 0 && !flipped[i - d] ? i - d : i + d < n && !flipped[i + d] ? i + d : -1;
      if (pick < 0) continue;
      keys[i].global_rotation = original[pick].global_rotation;
      keys[i].pose_euler_deg = original[pick].pose_euler_deg;
      break;
    }
  }
}

// The parameters of every frame and the shared shape.
struct Track {
  Tensor start_rotation;  // [F, 3, 3], constant
  Tensor w, t, euler;     // [F, 3], [F, 3], [F, 23, 3]
  Tensor z;               // [1, 9]
};

// Start values from the keyframes (frame indices `key_frame`, fits `keys`).
Track start_track(int frames, const std::vector<int>& key_frame, const std::vector<FitResult>& keys) {
  Track s;
  s.start_rotation = torch::empty({frames, 3, 3}, kF64);
  s.w = torch::zeros({frames, 3}, kF64);
  s.t = torch::empty({frames, 3}, kF64);
  s.euler = torch::empty({frames, 23, 3}, kF64);
  auto r = s.start_rotation.accessor<double, 3>();
  auto t = s.t.accessor<double, 2>();
  auto e = s.euler.accessor<double, 3>();
  size_t next = 0;  // the first keyframe at or after f
  for (int f = 0; f < frames; ++f) {
    while (next < key_frame.size() && key_frame[next] < f) ++next;
    const size_t b = std::min(next, key_frame.size() - 1), a = next == 0 ? 0 : std::min(next - 1, b);
    const double span = key_frame[b] - key_frame[a];
    const double s_b = span > 0 ? std::clamp((f - key_frame[a]) / span, 0.0, 1.0) : (f >= key_frame[b] ? 1.0 : 0.0);
    const FitResult& nearest = s_b >= 0.5 ? keys[b] : keys[a];
    for (int i = 0; i < 9; ++i) r[f][i / 3][i % 3] = nearest.global_rotation.m[i / 3][i % 3];
    const Vec3 tr = keys[a].translation * (1 - s_b) + keys[b].translation * s_b;
    t[f][0] = tr.x, t[f][1] = tr.y, t[f][2] = tr.z;
    for (int j = 1; j < humans::kJointCount; ++j) {
      const Vec3 ea = keys[a].pose_euler_deg[j], eb = keys[b].pose_euler_deg[j], en = nearest.pose_euler_deg[j];
      const double va[3] = {ea.x, ea.y, ea.z}, vb[3] = {eb.x, eb.y, eb.z}, vn[3] = {en.x, en.y, en.z};
      for (int c = 0; c < 3; ++c) {
        // Angles that wrap between the two keyframes are not interpolated.
        const double deg = std::abs(va[c] - vb[c]) < 90 ? va[c] * (1 - s_b) + vb[c] * s_b : vn[c];
        e[f][j - 1][c] = deg * kPi / 180.0;
      }
    }
  }
  s.z = torch::zeros({1, kShapeLatentSize}, kF64);
  for (const FitResult& k : keys) s.z += latent_from_shape(k.shape) / static_cast<double>(keys.size());
  return s;
}

struct TrackPose {
  Tensor keypoints;  // [F, 17, 3] camera
  Tensor joints;     // [F, 24, 3] camera
  Tensor rotation;   // [F, 3, 3]
};

TrackPose pose_track(const Context& ctx, const Track& s) {
  const int64_t frames = s.w.size(0);
  const Rest rest = ctx.body.rest(shape_from_latent(s.z), ctx.body.face());
  const Tensor joints = rest.joints.expand({frames, humans::kJointCount, 3});
  const Tensor face = rest.vertices.expand({frames, rest.vertices.size(1), 3});
  const Tensor euler = torch::cat({torch::zeros({frames, 1, 3}, kF64), s.euler}, 1);
  const Posed posed = ctx.body.pose(joints, euler_to_matrix(euler), torch::zeros({frames, 3}, kF64));
  const Tensor face_posed = ctx.body.skin(face, ctx.body.face(), joints, posed);
  static const Tensor mirror = torch::tensor({-1.0, 1.0, 1.0}, kF64);
  TrackPose out;
  out.rotation = torch::matmul(s.start_rotation, axis_angle_to_matrix(s.w));
  const Tensor rt = out.rotation.transpose(1, 2);
  out.keypoints = torch::matmul(ctx.body.keypoints(posed, face_posed) * mirror, rt) + s.t.unsqueeze(1);
  out.joints = torch::matmul(posed.position * mirror, rt) + s.t.unsqueeze(1);
  return out;
}

// The observed keypoints as tensors.
struct TrackObservations {
  Tensor xy;      // [F, 17, 2]
  Tensor weight;  // [F, 17]
  double fx = 0, fy = 0, cx = 0, cy = 0;
  double scale = 1;  // canonical pixels per pixel
  int observed_frames = 0;
};

TrackObservations observations_of(const std::vector<Xyv>& frames, const Intrinsics& k) {
  TrackObservations o;
  const int64_t n = static_cast<int64_t>(frames.size());
  o.xy = torch::zeros({n, kKeypointCount, 2}, kF64);
  o.weight = torch::zeros({n, kKeypointCount}, kF64);
  auto xy = o.xy.accessor<double, 3>();
  auto w = o.weight.accessor<double, 2>();
  std::vector<double> sizes;
  for (int64_t f = 0; f < n; ++f) {
    if (labelled_count(frames[f]) >= kMinLabelledKeypoints) {
      sizes.push_back(diagonal_px(frames[f]));
      ++o.observed_frames;
    }
    for (int i = 0; i < kKeypointCount; ++i) {
      if (frames[f][3 * i + 2] <= 0) continue;
      xy[f][i][0] = frames[f][3 * i], xy[f][i][1] = frames[f][3 * i + 1];
      w[f][i] = frames[f][3 * i + 2] >= 2 ? 1.0 : 0.7;
    }
  }
  std::sort(sizes.begin(), sizes.end());
  o.scale = sizes.empty() ? 1.0 : kSeqCanonicalPx / std::max(sizes[sizes.size() / 2], 1.0);
  o.fx = k.fx, o.fy = k.fy, o.cx = k.cx, o.cy = k.cy;
  return o;
}

Tensor pixels_of(const TrackObservations& o, const Tensor& camera_points) {
  const Tensor z = torch::clamp_min(camera_points.select(-1, 2), 1e-2);
  const Tensor u = o.fx * camera_points.select(-1, 0) / z + o.cx;
  const Tensor v = o.fy * camera_points.select(-1, 1) / z + o.cy;
  return torch::stack({u, v}, -1);
}

// Per frame: data, pose prior and joint limits [F]; and the track's shared terms (scalar).
struct TrackLoss {
  Tensor per_frame, shared;
};

TrackLoss track_loss(const Context& ctx, const TrackObservations& o, const Track& s, const TrackPose& p,
                     double fps) {
  const int64_t frames = s.w.size(0);
  const Tensor e = (pixels_of(o, p.keypoints) - o.xy) * o.scale;
  const Tensor r2 = (e * e).sum(-1);
  const Tensor data = (kSeqSigma * kSeqSigma * r2 / (kSeqSigma * kSeqSigma + r2) * o.weight).sum(1);
  const Tensor euler = torch::cat({torch::zeros({frames, 1, 3}, kF64), s.euler}, 1);
  TrackLoss l;
  l.per_frame = data + kPoseWeight * ctx.pose_prior(s.euler.reshape({frames, kPoseSize})) +
                kLimitWeight * joint_limit_penalty(euler);
  l.shared = kShapeWeight * std::max(o.observed_frames, 1) * shape_prior(s.z).sum();
  if (frames >= 3) {
    const double per_30 = (fps / 30.0) * (fps / 30.0);  // frame units to (1/30 s) units
    auto accel = [&](const Tensor& x) { return (x.narrow(0, 2, frames - 2) - 2 * x.narrow(0, 1, frames - 2) + x.narrow(0, 0, frames - 2)) * per_30; };
    l.shared = l.shared + kJointSmoothing * accel(p.joints).pow(2).sum() + kAngleSmoothing * accel(s.euler).pow(2).sum();
  }
  return l;
}

struct Optimised {
  bool finite = true;
  bool settled = false;
  int steps = 0;
};

Optimised optimise(const Context& ctx, const TrackObservations& o, Track& s, double fps) {
  torch::AutoGradMode grad(true);
  const std::vector<Tensor*> params = {&s.w, &s.t, &s.euler, &s.z};
  for (Tensor* p : params) p->requires_grad_(true);
  const std::vector<double> base_lr = {0.02, 0.01, 0.03, 0.05};
  torch::optim::Adam adam = make_grouped_adam({{s.w, base_lr[0]}, {s.t, base_lr[1]}, {s.euler, base_lr[2]}, {s.z, base_lr[3]}});
  LastFiniteParams last;
  std::vector<double> history;
  Optimised out;
  for (int step = 0; step < kSteps; ++step) {
    if (step >= kSteps / 2) scale_learning_rates(adam, base_lr, 1.0 - 0.9 * (step - kSteps / 2) / (kSteps / 2));
    const TrackPose p = pose_track(ctx, s);
    const TrackLoss l = track_loss(ctx, o, s, p, fps);
    const Tensor total = l.per_frame.sum() + l.shared;
    const double value = total.item<double>();
    if (!std::isfinite(value)) {
      last.restore(params);
      out.finite = false;
      break;
    }
    last.keep({s.w, s.t, s.euler, s.z});
    history.push_back(value);
    adam.zero_grad();
    total.backward();
    for (Tensor* p : params) p->mutable_grad().nan_to_num_(0.0, 0.0, 0.0);
    adam.step();
    ++out.steps;
  }
  for (Tensor* p : params) *p = p->detach();
  if (out.finite && history.size() > 15) {
    const double now = history.back(), before = history[history.size() - 16];
    out.settled = std::abs(now - before) <= 0.005 * std::abs(now) + 1e-6;
  }
  return out;
}

}  // namespace
}  // namespace sequence_detail

std::vector<FitResult> TorchPeopleFitter::fit_sequence(std::span<const Keypoints> input, const Intrinsics& K,
                                                       double fps) const {
  using namespace sequence_detail;
  torch::NoGradGuard no_grad;
  const int frames = static_cast<int>(input.size());
  std::vector<Xyv> xyv;
  for (const Keypoints& k : input) xyv.push_back(cleaned(k));
  if (!(std::isfinite(fps) && fps > 0)) fps = 30;
  const Intrinsics k = track_intrinsics(K, xyv);

  // Keyframes, fitted alone.
  std::vector<int> observed;
  for (int f = 0; f < frames; ++f)
    if (labelled_count(xyv[f]) >= kMinLabelledKeypoints) observed.push_back(f);
  if (observed.empty()) return std::vector<FitResult>(frames, skipped_result(1));
  std::vector<int> key_frame;
  for (size_t i = 0; i < observed.size(); i += kKeyframeStride) key_frame.push_back(observed[i]);
  if (key_frame.back() != observed.back()) key_frame.push_back(observed.back());
  std::vector<ImagePerson> key_people;
  for (int f : key_frame) key_people.push_back({input[f], k});
  std::vector<FitResult> keys = fit_images(key_people);
  unflip(keys);
  int key_iterations = 0;
  for (const FitResult& r : keys) key_iterations = std::max(key_iterations, r.iterations);

  // All frames together.
  const TrackObservations o = observations_of(xyv, k);
  Track track = start_track(frames, key_frame, keys);
  const Optimised run = optimise(context(), o, track, fps);

  const TrackPose p = pose_track(context(), track);
  const TrackLoss l = track_loss(context(), o, track, p, fps);
  const Tensor residual = (pixels_of(o, p.keypoints) - o.xy).pow(2).sum(-1).sqrt();
  const Tensor shape = shape_from_latent(track.z);
  auto sh = shape.accessor<double, 2>();
  auto eu = track.euler.accessor<double, 3>();
  auto rot = p.rotation.accessor<double, 3>();
  auto tr = track.t.accessor<double, 2>();
  auto jo = p.joints.accessor<double, 3>();
  auto lo = l.per_frame.accessor<double, 1>();
  auto res = residual.accessor<double, 2>();
  std::vector<FitResult> out;
  for (int f = 0; f < frames; ++f) {
    BodyResult b;
    for (int i = 0; i < kShapeLatentSize; ++i) b.shape[i] = sh[0][i];
    for (int j = 1; j < humans::kJointCount; ++j)
      for (int a = 0; a < 3; ++a) b.euler_rad[j][a] = eu[f][j - 1][a];
    for (int a = 0; a < 9; ++a) b.global_rotation[a] = rot[f][a / 3][a % 3];
    for (int a = 0; a < 3; ++a) b.translation[a] = tr[f][a];
    for (int j = 0; j < humans::kJointCount; ++j)
      for (int a = 0; a < 3; ++a) b.joints[j][a] = jo[f][j][a];
    std::array<double, kKeypointCount> px{};
    for (int i = 0; i < kKeypointCount; ++i)
      px[i] = xyv[f][3 * i + 2] > 0 ? res[f][i] : std::numeric_limits<double>::quiet_NaN();
    b.residual_px.push_back(px);
    b.loss = lo[f];
    b.converged = run.settled && labelled_count(xyv[f]) >= kMinLabelledKeypoints;
    b.iterations = key_iterations + run.steps;
    out.push_back(fit_result_of(b));
  }
  return out;
}

}  // namespace synthfarm::recon::torch_fit
