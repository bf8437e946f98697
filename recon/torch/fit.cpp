// The optimisation of fit.h: observations as tensors, the start (depth from the torso,
// triangulation), stage 1 over orientation hypotheses, stage 2 over everything, and the
// results with the last finite parameters of any body that diverged.
#include "recon/torch/fit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "recon/torch/fit_tools.h"

namespace synthfarm::recon::torch_fit {
namespace {

constexpr int kKeypoints = 17;
constexpr double kSigma = 100;        // Geman-McClure scale, canonical pixels
constexpr double kCanonicalPx = 400;  // residuals are scaled to a person this tall
constexpr int kYaws = 4;
constexpr int kHypotheses = 2 * kYaws;

using Vec = std::array<double, 3>;

Vec add(Vec a, Vec b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }
Vec sub(Vec a, Vec b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
Vec scale(Vec a, double s) { return {a[0] * s, a[1] * s, a[2] * s}; }
double norm(Vec a) { return std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]); }
Vec mul(const std::array<double, 9>& m, Vec v) {
  return {m[0] * v[0] + m[1] * v[1] + m[2] * v[2], m[3] * v[0] + m[4] * v[1] + m[5] * v[2],
          m[6] * v[0] + m[7] * v[1] + m[8] * v[2]};
}
Vec mul_transposed(const std::array<double, 9>& m, Vec v) {
  return {m[0] * v[0] + m[3] * v[1] + m[6] * v[2], m[1] * v[0] + m[4] * v[1] + m[7] * v[2],
          m[2] * v[0] + m[5] * v[1] + m[8] * v[2]};
}
std::array<double, 9> matmul3(const std::array<double, 9>& a, const std::array<double, 9>& b) {
  std::array<double, 9> c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) c[3 * i + j] += a[3 * i + k] * b[3 * k + j];
  return c;
}
std::array<double, 9> rotation_z(double a) {
  return {std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0, 0, 0, 1};
}

bool labelled(const Observation& o, int k) { return o.xyv[3 * k + 2] > 0; }
std::array<double, 2> pixel(const Observation& o, int k) { return {o.xyv[3 * k], o.xyv[3 * k + 1]}; }

// The diagonal of the labelled keypoints' box, pixels.
double extent_px(const Observation& o) {
  double lo[2] = {1e300, 1e300}, hi[2] = {-1e300, -1e300};
  for (int k = 0; k < kKeypoints; ++k) {
    if (!labelled(o, k)) continue;
    for (int a = 0; a < 2; ++a) lo[a] = std::min(lo[a], o.xyv[3 * k + a]), hi[a] = std::max(hi[a], o.xyv[3 * k + a]);
  }
  if (hi[0] < lo[0]) return 1;
  return std::max(std::hypot(hi[0] - lo[0], hi[1] - lo[1]), 1.0);
}

// Keypoints of an average body (adult or child) in the prior's mean pose, body frame.
using BodyKeypoints = std::array<Vec, kKeypoints>;

// An anchor: a 2D point in a view and the body-frame point it shows.
struct Anchor {
  std::array<double, 2> uv;
  Vec body;
};
// The hip centre, else the shoulder centre, else the labelled keypoints' centroid.
Anchor anchor_of(const Observation& o, const BodyKeypoints& kp, int type) {
  const int pairs[2][2] = {{11, 12}, {5, 6}};
  if (type < 2) {
    const auto [a, b] = pairs[type];
    const auto pa = pixel(o, a), pb = pixel(o, b);
    return {{0.5 * (pa[0] + pb[0]), 0.5 * (pa[1] + pb[1])}, scale(add(kp[a], kp[b]), 0.5)};
  }
  Anchor c{{0, 0}, {0, 0, 0}};
  int n = 0;
  for (int k = 0; k < kKeypoints; ++k) {
    if (!labelled(o, k)) continue;
    c.uv[0] += o.xyv[3 * k], c.uv[1] += o.xyv[3 * k + 1];
    c.body = add(c.body, kp[k]);
    ++n;
  }
  c.uv[0] /= std::max(n, 1), c.uv[1] /= std::max(n, 1);
  c.body = scale(c.body, 1.0 / std::max(n, 1));
  return c;
}
bool has_anchor(const Observation& o, int type) {
  if (type == 0) return labelled(o, 11) && labelled(o, 12);
  if (type == 1) return labelled(o, 5) && labelled(o, 6);
  return true;
}

// Depth of the body from one view: the torso's length, else the labelled keypoints' extent.
double depth_from(const Observation& o, const BodyKeypoints& kp) {
  const double f = 0.5 * (o.camera.fx + o.camera.fy);
  if (labelled(o, 5) && labelled(o, 6) && labelled(o, 11) && labelled(o, 12)) {
    const auto s5 = pixel(o, 5), s6 = pixel(o, 6), h11 = pixel(o, 11), h12 = pixel(o, 12);
    const double torso_px = std::hypot(0.5 * (s5[0] + s6[0] - h11[0] - h12[0]), 0.5 * (s5[1] + s6[1] - h11[1] - h12[1]));
    const double torso_m = norm(sub(scale(add(kp[5], kp[6]), 0.5), scale(add(kp[11], kp[12]), 0.5)));
    if (torso_px > 4) return f * torso_m / torso_px;
  }
  Vec lo{1e300, 1e300, 1e300}, hi{-1e300, -1e300, -1e300};
  for (int k = 0; k < kKeypoints; ++k) {
    if (!labelled(o, k)) continue;
    for (int a = 0; a < 3; ++a) lo[a] = std::min(lo[a], kp[k][a]), hi[a] = std::max(hi[a], kp[k][a]);
  }
  const double extent_m = std::max(hi[2] - lo[2], std::hypot(hi[0] - lo[0], hi[1] - lo[1]));
  return f * std::max(extent_m, 0.1) / extent_px(o);
}

// The back-projection of a pixel at camera depth z, in the world.
Vec back_project(const Camera& c, std::array<double, 2> uv, double z) {
  const Vec xc{(uv[0] - c.cx) / c.fx * z, (uv[1] - c.cy) / c.fy * z, z};
  return mul_transposed(c.rotation, sub(xc, Vec{c.translation[0], c.translation[1], c.translation[2]}));
}

// The point nearest to the rays through an anchor in several views (least squares).
std::optional<Vec> triangulate(const std::vector<const Observation*>& views, int type, const BodyKeypoints& kp) {
  double a[9] = {}, b[3] = {};
  int rays = 0;
  for (const Observation* o : views) {
    if (!has_anchor(*o, type)) continue;
    const Camera& c = o->camera;
    const Anchor an = anchor_of(*o, kp, type);
    const Vec centre = mul_transposed(c.rotation, scale(Vec{c.translation[0], c.translation[1], c.translation[2]}, -1));
    Vec d = mul_transposed(c.rotation, Vec{(an.uv[0] - c.cx) / c.fx, (an.uv[1] - c.cy) / c.fy, 1});
    d = scale(d, 1.0 / norm(d));
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        const double p = (i == j ? 1.0 : 0.0) - d[i] * d[j];
        a[3 * i + j] += p;
        b[i] += p * centre[j];
      }
    ++rays;
  }
  if (rays < 2) return std::nullopt;
  // Solve the 3x3 system by Cramer's rule; refuse near-parallel rays.
  auto det3 = [](const double* m) {
    return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
  };
  const double det = det3(a);
  if (!(std::abs(det) > 1e-6)) return std::nullopt;
  Vec x;
  for (int c = 0; c < 3; ++c) {
    double m[9];
    std::copy(a, a + 9, m);
    for (int r = 0; r < 3; ++r) m[3 * r + c] = b[r];
    x[c] = det3(m) / det;
  }
  return x;
}

// Observations as tensors, with per-keypoint weights.
struct Observed {
  Tensor row, rotation, translation, intrinsics, xy, weight, norm;
};

Observed tensors_of(const std::vector<Observation>& obs, const std::vector<int64_t>& rows,
                    const std::array<double, kKeypoints>& keypoint_weight) {
  const int64_t n = static_cast<int64_t>(obs.size());
  Observed t;
  t.row = torch::tensor(rows, kI64);
  t.rotation = torch::empty({n, 3, 3}, kF64);
  t.translation = torch::empty({n, 3}, kF64);
  t.intrinsics = torch::empty({n, 4}, kF64);
  t.xy = torch::zeros({n, kKeypoints, 2}, kF64);
  t.weight = torch::zeros({n, kKeypoints}, kF64);
  t.norm = torch::empty({n}, kF64);
  auto r = t.rotation.accessor<double, 3>();
  auto tr = t.translation.accessor<double, 2>();
  auto in = t.intrinsics.accessor<double, 2>();
  auto xy = t.xy.accessor<double, 3>();
  auto w = t.weight.accessor<double, 2>();
  auto nm = t.norm.accessor<double, 1>();
  for (int64_t i = 0; i < n; ++i) {
    const Observation& o = obs[i];
    for (int a = 0; a < 9; ++a) r[i][a / 3][a % 3] = o.camera.rotation[a];
    for (int a = 0; a < 3; ++a) tr[i][a] = o.camera.translation[a];
    in[i][0] = o.camera.fx, in[i][1] = o.camera.fy, in[i][2] = o.camera.cx, in[i][3] = o.camera.cy;
    nm[i] = kCanonicalPx / extent_px(o);
    for (int k = 0; k < kKeypoints; ++k) {
      if (!labelled(o, k)) continue;
      xy[i][k][0] = o.xyv[3 * k], xy[i][k][1] = o.xyv[3 * k + 1];
      w[i][k] = (o.xyv[3 * k + 2] >= 2 ? 1.0 : 0.7) * keypoint_weight[k];
    }
  }
  return t;
}

// Pixels [O, 17, 2] and camera depths [O, 17] of world keypoints [R, 17, 3].
std::pair<Tensor, Tensor> project(const Observed& o, const Tensor& world) {
  const Tensor x = world.index_select(0, o.row);
  const Tensor xc = torch::matmul(x, o.rotation.transpose(1, 2)) + o.translation.unsqueeze(1);
  const Tensor z = xc.select(-1, 2);
  const Tensor zs = torch::clamp_min(z, 1e-2);
  const Tensor u = o.intrinsics.select(1, 0).unsqueeze(1) * xc.select(-1, 0) / zs + o.intrinsics.select(1, 2).unsqueeze(1);
  const Tensor v = o.intrinsics.select(1, 1).unsqueeze(1) * xc.select(-1, 1) / zs + o.intrinsics.select(1, 3).unsqueeze(1);
  return {torch::stack({u, v}, -1), z};
}

// The robust data term per row [rows].
Tensor data_term(const Observed& o, const Tensor& world, int64_t rows) {
  const Tensor uv = project(o, world).first;
  const Tensor e = (uv - o.xy) * o.norm.reshape({-1, 1, 1});
  const Tensor r2 = (e * e).sum(-1);
  const Tensor rho = kSigma * kSigma * r2 / (kSigma * kSigma + r2);
  return torch::zeros({rows}, kF64).index_add(0, o.row, (rho * o.weight).sum(1));
}

struct State {
  Tensor start_rotation;  // [R, 3, 3], constant
  Tensor w, t, euler, z;  // [R, 3], [R, 3], [R, 23, 3], [R, 9]
};

struct Forward {
  Tensor keypoints;  // [R, 17, 3] world
  Tensor joints;     // [R, 24, 3] world
  Tensor rotation;   // [R, 3, 3]
};

Forward forward(const Context& ctx, const State& s, const Rest* fixed_rest) {
  const int64_t rows = s.w.size(0);
  const Rest rest = fixed_rest != nullptr ? *fixed_rest : ctx.body.rest(shape_from_latent(s.z), ctx.body.face());
  const Tensor euler = torch::cat({torch::zeros({rows, 1, 3}, kF64), s.euler}, 1);
  const Posed posed = ctx.body.pose(rest.joints, euler_to_matrix(euler), torch::zeros({rows, 3}, kF64));
  const Tensor face = ctx.body.skin(rest.vertices, ctx.body.face(), rest.joints, posed);
  static const Tensor mirror = torch::tensor({-1.0, 1.0, 1.0}, kF64);
  Forward f;
  f.rotation = torch::matmul(s.start_rotation, axis_angle_to_matrix(s.w));
  const Tensor rt = f.rotation.transpose(1, 2);
  f.keypoints = torch::matmul(ctx.body.keypoints(posed, face) * mirror, rt) + s.t.unsqueeze(1);
  f.joints = torch::matmul(posed.position * mirror, rt) + s.t.unsqueeze(1);
  return f;
}

// Keeps each row's last finite values.
struct LastFinite {
  std::vector<Tensor> values;
  void update(const std::vector<Tensor>& params, const Tensor& finite_rows) {
    values.resize(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const Tensor p = params[i].detach();
      std::vector<int64_t> shape(p.dim(), 1);
      shape[0] = p.size(0);
      const Tensor ok = finite_rows.reshape(shape) & torch::isfinite(p);
      values[i] = values[i].defined() ? torch::where(ok, p, values[i]) : p.clone();
    }
  }
};

// The last round's weights are those of the reported loss.
struct StageRound {
  double pose, limits, shape;
  int steps;
};
constexpr StageRound kRounds[] = {{60, 1e4, 10, 30}, {25, 1e4, 6, 30}, {12, 1e4, 4, 50}};
constexpr int kStage1Steps = 30;

Tensor stage2_loss(const Context& ctx, const Observed& observed, const State& s, const Forward& f, const StageRound& round) {
  const int64_t bodies = s.w.size(0);
  const Tensor euler = torch::cat({torch::zeros({bodies, 1, 3}, kF64), s.euler}, 1);
  return data_term(observed, f.keypoints, bodies) + round.pose * ctx.pose_prior(s.euler.reshape({bodies, kPoseSize})) +
         round.limits * joint_limit_penalty(euler) + round.shape * shape_prior(s.z);
}

// Average bodies (adult, child) in the mean pose: the keypoints the starts are placed by.
std::array<BodyKeypoints, 2> average_bodies(const Context& ctx, const Tensor& latent_start) {
  State s{torch::eye(3, kF64).expand({2, 3, 3}), torch::zeros({2, 3}, kF64), torch::zeros({2, 3}, kF64),
          ctx.pose_prior.mean_pose().reshape({1, 23, 3}).expand({2, 23, 3}), latent_start};
  Tensor kp = forward(ctx, s, nullptr).keypoints;  // mirrored: undo it
  kp = kp * torch::tensor({-1.0, 1.0, 1.0}, kF64);
  auto a = kp.accessor<double, 3>();
  std::array<BodyKeypoints, 2> average{};
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < kKeypoints; ++k) average[h][k] = {a[h][k][0], a[h][k][1], a[h][k][2]};
  return average;
}

// Stage 1's starts: kHypotheses rows per body (4 yaws, adult and child), each placed so
// its anchor lands where the views put it (triangulated, else from a torso-length depth).
struct Hypotheses {
  Tensor start_rotation, t, depth_target, depth_weight, z;
};

Hypotheses place_hypotheses(const Problem& problem, const std::vector<std::vector<const Observation*>>& views,
                            const std::array<BodyKeypoints, 2>& average, const Tensor& latent_start) {
  const int64_t rows = int64_t(problem.bodies) * kHypotheses;
  Hypotheses h{torch::empty({rows, 3, 3}, kF64), torch::empty({rows, 3}, kF64), torch::zeros({rows}, kF64),
               torch::zeros({rows}, kF64), torch::empty({rows, kShapeLatentSize}, kF64)};
  // Facing the camera: body forward (+y) to -z, up (+z) to -y, the mirrored x to -x.
  const std::array<double, 9> facing_camera{-1, 0, 0, 0, 0, -1, 0, -1, 0};
  for (int b = 0; b < problem.bodies; ++b) {
    const std::vector<const Observation*>& v = views[b];
    for (int hy = 0; hy < kHypotheses; ++hy) {
      const int64_t row = int64_t(b) * kHypotheses + hy;
      const int child = hy / kYaws;
      const std::array<double, 9> yaw = rotation_z(0.5 * 3.14159265358979323846 * (hy % kYaws));
      const std::array<double, 9> r = problem.world_z_up ? yaw : matmul3(facing_camera, yaw);
      for (int a = 0; a < 9; ++a) h.start_rotation[row][a / 3][a % 3] = r[a];
      h.z[row] = latent_start[child];
      // Where the anchor goes: triangulated, else from the first view's depth guess.
      std::optional<Vec> target;
      int type = 2;
      for (int ty = 0; ty < 2 && !target && v.size() > 1; ++ty) {
        target = triangulate(v, ty, average[child]);
        type = ty;
      }
      const Observation& first = *v.front();
      if (!target) {
        type = has_anchor(first, 0) ? 0 : has_anchor(first, 1) ? 1 : 2;
        const double depth = depth_from(first, average[child]);
        target = back_project(first.camera, anchor_of(first, average[child], type).uv, depth);
        if (v.size() == 1) {
          h.depth_target[row] = depth;
          h.depth_weight[row] = 1.0;
        }
      }
      const Vec anchor_body = anchor_of(first, average[child], type).body;
      const Vec placed = mul(r, Vec{-anchor_body[0], anchor_body[1], anchor_body[2]});
      const Vec t = sub(*target, placed);
      for (int a = 0; a < 3; ++a) h.t[row][a] = t[a];
    }
  }
  return h;
}

// Stage 1: every hypothesis's global rotation and translation against the torso-weighted
// keypoints (and the depth guess with one view); the best hypothesis per body starts stage 2.
State best_hypotheses(const Context& ctx, const Problem& problem, const Hypotheses& h) {
  const int bodies = problem.bodies;
  const int64_t rows = int64_t(bodies) * kHypotheses;
  std::vector<Observation> obs;
  std::vector<int64_t> rows_of_obs;
  for (const Observation& o : problem.observations)
    for (int hy = 0; hy < kHypotheses; ++hy) {
      obs.push_back(o);
      rows_of_obs.push_back(int64_t(o.body) * kHypotheses + hy);
    }
  std::array<double, kKeypoints> weight{};
  for (int k = 0; k < kKeypoints; ++k) weight[k] = k < 5 ? 0.5 : (k == 5 || k == 6 || k == 11 || k == 12) ? 1.0 : 0.25;
  const Observed observed = tensors_of(obs, rows_of_obs, weight);

  State s{h.start_rotation, torch::zeros({rows, 3}, kF64), h.t,
          ctx.pose_prior.mean_pose().reshape({1, 23, 3}).expand({rows, 23, 3}).clone(), h.z};
  const Rest rest = ctx.body.rest(shape_from_latent(h.z), ctx.body.face());
  // The depth term, as a pelvis depth in the body's first camera (one view only).
  std::vector<int64_t> first_obs(rows);
  for (int64_t i = int64_t(obs.size()) - 1; i >= 0; --i) first_obs[rows_of_obs[i]] = i;
  const Tensor first_index = torch::tensor(first_obs, kI64);
  const Observed first{observed.row.index_select(0, first_index), observed.rotation.index_select(0, first_index),
                       observed.translation.index_select(0, first_index), {}, {}, {}, {}};
  Tensor loss;
  {
    torch::AutoGradMode grad(true);
    s.w.requires_grad_(true);
    s.t.requires_grad_(true);
    torch::optim::Adam adam = make_grouped_adam({{s.w, 0.05}, {s.t, 0.02}});
    for (int step = 0; step <= kStage1Steps; ++step) {
      const Forward f = forward(ctx, s, &rest);
      const Tensor data = data_term(observed, f.keypoints, rows);
      const Tensor pelvis = f.joints.narrow(1, 0, 1);
      const Tensor pelvis_c = torch::matmul(pelvis, first.rotation.transpose(1, 2)) + first.translation.unsqueeze(1);
      const Tensor dz = pelvis_c.select(-1, 2).squeeze(1) - h.depth_target;
      if (step == kStage1Steps) {
        loss = data.detach();
        break;
      }
      adam.zero_grad();
      (data + 2000.0 * h.depth_weight * dz * dz).sum().backward();
      adam.step();
    }
  }
  // The best hypothesis per body (non-finite losses lose).
  const Tensor l = torch::nan_to_num(loss, std::numeric_limits<double>::infinity()).reshape({bodies, kHypotheses});
  const Tensor pick = torch::arange(bodies, kI64) * kHypotheses + std::get<1>(l.min(1));
  State best{h.start_rotation.index_select(0, pick), s.w.detach().index_select(0, pick).clone(),
             s.t.detach().index_select(0, pick).clone(), s.euler.detach().index_select(0, pick).clone(),
             h.z.index_select(0, pick).clone()};
  // Non-finite starts (bad input that got this far) start from zero rotation.
  best.w = torch::nan_to_num(best.w, 0.0, 0.0, 0.0);
  best.t = torch::nan_to_num(best.t, 0.0, 0.0, 0.0);
  return best;
}

// Stage 2: pose and shape with the priors, in rounds of falling prior weights; the last
// round's learning rate decays. Returns each row's last finite parameters and the last
// round's loss history (for the convergence test).
struct Stage2 {
  LastFinite last;
  std::vector<Tensor> history;
  int iterations = 0;
};

Stage2 refine(const Context& ctx, const Observed& observed, State& s) {
  const std::vector<double> base_lr = {0.02, 0.01, 0.03, 0.05};
  Stage2 out;
  torch::AutoGradMode grad(true);
  for (Tensor* p : {&s.w, &s.t, &s.euler, &s.z}) p->requires_grad_(true);
  torch::optim::Adam adam =
      make_grouped_adam({{s.w, base_lr[0]}, {s.t, base_lr[1]}, {s.euler, base_lr[2]}, {s.z, base_lr[3]}});
  for (size_t r = 0; r < std::size(kRounds); ++r) {
    const StageRound& round = kRounds[r];
    const bool last_round = r + 1 == std::size(kRounds);
    for (int step = 0; step < round.steps; ++step) {
      if (last_round) scale_learning_rates(adam, base_lr, 1.0 - 0.9 * step / round.steps);
      const Tensor loss_rows = stage2_loss(ctx, observed, s, forward(ctx, s, nullptr), round);
      const Tensor finite = torch::isfinite(loss_rows.detach());
      out.last.update({s.w, s.t, s.euler, s.z}, finite);
      if (last_round) out.history.push_back(loss_rows.detach());
      adam.zero_grad();
      // Rows that are not finite do not poison the others' gradients.
      torch::where(finite, loss_rows, torch::zeros_like(loss_rows)).sum().backward();
      for (Tensor* p : {&s.w, &s.t, &s.euler, &s.z}) p->mutable_grad().nan_to_num_(0.0, 0.0, 0.0);
      adam.step();
      ++out.iterations;
    }
  }
  return out;
}

std::vector<BodyResult> results_of(const Problem& problem, const State& final_state, const Forward& f,
                                   const Tensor& loss, const Tensor& converged, const Tensor& residual,
                                   int iterations) {
  const int bodies = problem.bodies;
  const Tensor shape = shape_from_latent(final_state.z);
  std::vector<BodyResult> out(bodies);
  auto sh = shape.accessor<double, 2>();
  auto eu = final_state.euler.accessor<double, 3>();
  auto rot = f.rotation.accessor<double, 3>();
  auto tr = final_state.t.accessor<double, 2>();
  auto jo = f.joints.accessor<double, 3>();
  auto lo = loss.accessor<double, 1>();
  auto cv = converged.accessor<bool, 1>();
  auto res = residual.accessor<double, 2>();
  for (int b = 0; b < bodies; ++b) {
    BodyResult& r = out[b];
    for (int k = 0; k < kShapeLatentSize; ++k) r.shape[k] = sh[b][k];
    for (int j = 1; j < 24; ++j)
      for (int a = 0; a < 3; ++a) r.euler_rad[j][a] = eu[b][j - 1][a];
    for (int a = 0; a < 9; ++a) r.global_rotation[a] = rot[b][a / 3][a % 3];
    for (int a = 0; a < 3; ++a) r.translation[a] = tr[b][a];
    for (int j = 0; j < 24; ++j)
      for (int a = 0; a < 3; ++a) r.joints[j][a] = jo[b][j][a];
    r.loss = lo[b];
    r.converged = cv[b];
    r.iterations = iterations;
  }
  for (size_t i = 0; i < problem.observations.size(); ++i) {
    const Observation& o = problem.observations[i];
    std::array<double, 17> px{};
    for (int k = 0; k < kKeypoints; ++k) px[k] = labelled(o, k) ? res[i][k] : std::numeric_limits<double>::quiet_NaN();
    out[o.body].residual_px.push_back(px);
  }
  return out;
}

}  // namespace

std::vector<BodyResult> fit(const Context& ctx, const Problem& problem) {
  torch::NoGradGuard no_grad_outside;
  const int bodies = problem.bodies;
  if (bodies == 0) return {};
  std::vector<std::vector<const Observation*>> views(bodies);
  for (const Observation& o : problem.observations) views[o.body].push_back(&o);

  const Tensor latent_start = torch::cat({adult_latent(1), child_latent(1)}, 0);
  const Hypotheses hypotheses = place_hypotheses(problem, views, average_bodies(ctx, latent_start), latent_start);
  State s = best_hypotheses(ctx, problem, hypotheses);

  std::vector<int64_t> rows_of_obs;
  for (const Observation& o : problem.observations) rows_of_obs.push_back(o.body);
  std::array<double, kKeypoints> ones;
  ones.fill(1.0);
  const Observed observed = tensors_of(problem.observations, rows_of_obs, ones);
  const Stage2 stage2 = refine(ctx, observed, s);

  State final_state{s.start_rotation, s.w.detach(), s.t.detach(), s.euler.detach(), s.z.detach()};
  auto evaluate = [&](const State& st) {
    const Forward f = forward(ctx, st, nullptr);
    return std::make_pair(f, stage2_loss(ctx, observed, st, f, kRounds[std::size(kRounds) - 1]));
  };
  auto [f, loss] = evaluate(final_state);
  const Tensor finite_now = torch::isfinite(loss) & torch::isfinite(f.joints).flatten(1).all(1);
  Tensor converged = finite_now.clone();
  const std::vector<Tensor>& history = stage2.history;
  if (history.size() > 15) {
    const Tensor now = history.back(), before = history[history.size() - 16];
    converged = converged & ((now - before).abs() <= 0.01 * now.abs() + 1.0);
  }
  if (!finite_now.all().item<bool>()) {
    // Rows that ended non-finite report their last finite parameters (and do not converge).
    auto pick_row = [&](const Tensor& now, const Tensor& good) {
      std::vector<int64_t> shape(now.dim(), 1);
      shape[0] = now.size(0);
      return torch::where(finite_now.reshape(shape), now, good);
    };
    final_state.w = pick_row(final_state.w, stage2.last.values[0]);
    final_state.t = pick_row(final_state.t, stage2.last.values[1]);
    final_state.euler = pick_row(final_state.euler, stage2.last.values[2]);
    final_state.z = pick_row(final_state.z, stage2.last.values[3]);
    std::tie(f, loss) = evaluate(final_state);
  }
  const Tensor residual = ((project(observed, f.keypoints).first - observed.xy).pow(2).sum(-1)).sqrt();
  return results_of(problem, final_state, f, loss, converged, residual, kStage1Steps + stage2.iterations);
}

}  // namespace synthfarm::recon::torch_fit
