// PeopleFitter::fit_scan (people_fit.h): registering the body's shape and pose to a 3D scan
// of one person (a point cloud, or a mesh's vertices and triangles) by point-to-surface
// distance. The fitted shape is the scan's identity (what shapes.jsonl carries).
//
// Choices
//   Frame: the scan's units are metres and its axes the farm's world (z up), as the farm's
//     own exports; the fitted body is placed as people_fit.h says (mirror, rotation,
//     translation), in the scan's frame.
//   Start: soles on the scan's lowest point, centred on its points' mean, the standing
//     height its vertical extent; 8 orientations about z (45 degrees apart) are tried as
//     one batch (rotation, translation and shape only, pose at the prior's mean,
//     point-to-point distances) and the one with the lowest loss is kept. Then pose modes:
//     from that orientation, the prior's mean pose, its 8 components' means and their
//     left-right mirrors (17 starts) get a short round with everything free, and the
//     lowest loss goes on. From the mean pose alone ICP sticks with limbs far from it (a
//     raised arm, a stride's other leg forward): 20 test scans went from 16 mm to about
//     2 mm mean error.
//   Coarse first: the orientation and pose-mode rounds (25 rows, 70 steps, at 5 - 10 cm
//     robust scales) fit every 3rd body vertex to every 3rd scan sample, with the normals
//     of the whole surface at each matching; the three rounds after fit the whole body.
//     That halves a registration (20 test scans: 448 s -> 236 s on 2 threads) for 1.90 ->
//     2.30 mm mean error.
//   Data: a symmetric, robust (Geman-McClure) distance between surfaces, in centimetres:
//       scan -> body: each of up to kScanSamples scan points to its nearest body vertex,
//         along that vertex's normal (point-to-plane), plus a twentieth of the
//         point-to-point distance so that points do not slide along the surface;
//       body -> scan: every kBodyStride-th body vertex to its nearest scan point, along the
//         scan's normal when it has triangles, else point-to-point.
//     Nearest neighbours (a k-d tree, exact) are recomputed every few steps with the
//     body's normals then, as ICP does; between updates the correspondences are fixed and
//     the distances differentiable.
//   Rounds: pose, shape, rotation and translation by Adam in three rounds of decreasing
//     Geman-McClure scale (5, 2, 1 cm) and pose prior weight, the last with a decaying step.
//   mean_point_to_surface_m: the mean over every scan point of its distance to the fitted
//     body's triangles incident to its nearest body vertex: exact when the closest surface
//     point lies on one of them (almost always on a body's mesh), an upper bound otherwise.
//   Converged: finite, and the loss changed by less than 0.5 % over the last 15 steps.
//   Fewer than kMinScanPoints finite points: skipped.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <unordered_map>

#include <nanoflann.hpp>

#include "recon/torch/fit_tools.h"
#include "recon/torch/fitter.h"

namespace synthfarm::recon::torch_fit {
namespace scan_detail {
namespace {

constexpr int kMinScanPoints = 50;
constexpr int kScanSamples = 3000;
constexpr int kBodyStride = 4;
constexpr int kCoarseStride = kCoarseVertexStride;  // coarse rounds: every 3rd vertex and scan sample
constexpr int kCoarseBodyStride = 2;  // and every 2nd of those vertices matched to the scan
constexpr int kYawHypotheses = 8;
constexpr int kStartSteps = 40;
constexpr int kModeSteps = 30;
constexpr double kDataWeight = 100;  // per mean squared centimetre

// Exact nearest neighbours among fixed points: a k-d tree (nanoflann, Debian's
// libnanoflann-dev). Its cost does not grow with the distance to the nearest point, as a
// uniform grid's ring search does for a limb far from where the scan has it.
class PointGrid {
 public:
  PointGrid(const std::vector<Vec3>& points, double /*cell*/)
      : cloud_{points}, tree_(3, cloud_, nanoflann::KDTreeSingleIndexAdaptorParams(16)) {}
  // The index of the point nearest to q.
  int nearest(Vec3 q) const {
    const double query[3] = {q.x, q.y, q.z};
    size_t index = 0;
    double d2 = 0;
    nanoflann::KNNResultSet<double> result(1);
    result.init(&index, &d2);
    tree_.findNeighbors(result, query, nanoflann::SearchParams());
    return static_cast<int>(index);
  }

 private:
  struct Cloud {
    const std::vector<Vec3>& points;
    size_t kdtree_get_point_count() const { return points.size(); }
    double kdtree_get_pt(size_t i, size_t axis) const {
      return axis == 0 ? points[i].x : axis == 1 ? points[i].y : points[i].z;
    }
    template <class Box>
    bool kdtree_get_bbox(Box&) const {
      return false;
    }
  };
  using Tree = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<double, Cloud>, Cloud, 3>;
  Cloud cloud_;
  Tree tree_;
};

struct Scan {
  std::vector<Vec3> points;   // finite points
  std::vector<Vec3> normals;  // per point when the scan has triangles, else empty
  std::vector<Vec3> samples;  // up to kScanSamples of the points, evenly by index
  std::vector<Vec3> sample_normals;
  Vec3 lo, hi, mean;
};

Scan scan_of(std::span<const Vec3> points, std::span<const std::array<uint32_t, 3>> triangles) {
  Scan s;
  std::vector<int64_t> remap(points.size(), -1);
  for (size_t i = 0; i < points.size(); ++i) {
    const Vec3 p = points[i];
    if (!(std::isfinite(p.x) && std::isfinite(p.y) && std::isfinite(p.z))) continue;
    remap[i] = static_cast<int64_t>(s.points.size());
    s.points.push_back(p);
  }
  if (s.points.empty()) return s;
  std::vector<std::array<uint32_t, 3>> kept;
  for (const auto& t : triangles) {
    bool ok = true;
    std::array<uint32_t, 3> r{};
    for (int a = 0; a < 3; ++a) {
      ok = ok && t[a] < remap.size() && remap[t[a]] >= 0;
      if (ok) r[a] = static_cast<uint32_t>(remap[t[a]]);
    }
    if (ok) kept.push_back(r);
  }
  if (!kept.empty()) {
    s.normals = humans::vertex_normals(s.points, kept);
    for (Vec3& n : s.normals)
      if (!(std::isfinite(n.x) && std::isfinite(n.y) && std::isfinite(n.z))) n = {};
  }
  const size_t n = s.points.size(), m = std::min<size_t>(n, kScanSamples);
  for (size_t i = 0; i < m; ++i) {
    const size_t at = i * n / m;
    s.samples.push_back(s.points[at]);
    if (!s.normals.empty()) s.sample_normals.push_back(s.normals[at]);
  }
  s.lo = s.hi = s.points.front();
  for (const Vec3& p : s.points) {
    s.lo = {std::min(s.lo.x, p.x), std::min(s.lo.y, p.y), std::min(s.lo.z, p.z)};
    s.hi = {std::max(s.hi.x, p.x), std::max(s.hi.y, p.y), std::max(s.hi.z, p.z)};
    s.mean = s.mean + p * (1.0 / static_cast<double>(n));
  }
  return s;
}

Tensor tensor_of(const std::vector<Vec3>& v) {
  Tensor t = torch::empty({static_cast<int64_t>(v.size()), 3}, kF64);
  auto a = t.accessor<double, 2>();
  for (size_t i = 0; i < v.size(); ++i) a[i][0] = v[i].x, a[i][1] = v[i].y, a[i][2] = v[i].z;
  return t;
}

std::vector<Vec3> vectors_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  auto a = c.accessor<double, 2>();
  std::vector<Vec3> v(c.size(0));
  for (size_t i = 0; i < v.size(); ++i) v[i] = {a[i][0], a[i][1], a[i][2]};
  return v;
}

struct Body {
  Tensor start_rotation;        // [B, 3, 3], constant
  Tensor w, t, euler, z;        // [B, 3], [B, 3], [B, 23, 3], [B, 9]
};

struct Placed {
  Tensor vertices;  // [B, V, 3] world
  Tensor joints;    // [B, 24, 3] world
  Tensor rotation;  // [B, 3, 3]
};

Placed place(const Context& ctx, const Body& s, const VertexSet& set) {
  const int64_t rows = s.w.size(0);
  const Rest rest = ctx.body.rest(shape_from_latent(s.z), set);
  const Tensor euler = torch::cat({torch::zeros({rows, 1, 3}, kF64), s.euler}, 1);
  const Posed posed = ctx.body.pose(rest.joints, euler_to_matrix(euler), torch::zeros({rows, 3}, kF64));
  static const Tensor mirror = torch::tensor({-1.0, 1.0, 1.0}, kF64);
  Placed out;
  out.rotation = torch::matmul(s.start_rotation, axis_angle_to_matrix(s.w));
  const Tensor rt = out.rotation.transpose(1, 2);
  const Tensor skinned = ctx.body.skin(rest.vertices, set, rest.joints, posed);
  out.vertices = torch::matmul(skinned * mirror, rt) + s.t.unsqueeze(1);
  out.joints = torch::matmul(posed.position * mirror, rt) + s.t.unsqueeze(1);
  return out;
}

// Fixed correspondences of every row: scan sample i <-> body vertex scan_to_body[b][i];
// body vertex body_index[k] <-> scan point body_to_scan[b][k]; with the normals then.
struct Matches {
  Tensor scan_to_body;  // [B, S] long
  Tensor body_normal;   // [B, S, 3] the matched body vertices' normals (zero: point-to-point)
  Tensor body_index;    // [K] long
  Tensor body_to_scan;  // [B, K, 3] the matched scan points
  Tensor scan_normal;   // [B, K, 3] their normals (zero without triangles)
};

// The body a round fits and the scan samples it fits to: the whole body against every
// sample (point to plane), or, for the coarse first rounds, every kCoarseStride-th vertex
// against every kCoarseStride-th sample (the normals taken from the whole surface).
// A third of the vertices makes those rounds about three times cheaper; their distances
// (5 - 10 cm) are far coarser than the vertex spacing.
struct Level {
  const VertexSet* set = nullptr;
  std::vector<Vec3> samples;
  Tensor sample_tensor;  // [S, 3]
  int64_t body_stride = kBodyStride;
  bool whole = true;
};

Level whole_level(const Context& ctx, const Scan& scan) {
  return {&ctx.body.all(), scan.samples, tensor_of(scan.samples), kBodyStride, true};
}

Level coarse_level(const Context& ctx, const Scan& scan) {
  Level level{&ctx.body.coarse(), {}, {}, kCoarseBodyStride, false};
  for (size_t i = 0; i < scan.samples.size(); i += kCoarseStride) level.samples.push_back(scan.samples[i]);
  level.sample_tensor = tensor_of(level.samples);
  return level;
}

// `whole_vertices` [B, V, 3]: the whole body, for the normals of a coarse level's vertices
// (undefined for the whole level, whose `vertices` are the whole body).
Matches match(const Level& level, const Scan& scan, const PointGrid& scan_grid, const Tensor& vertices,
              bool normals, const Tensor& whole_vertices) {
  const int64_t rows = vertices.size(0), v_count = vertices.size(1);
  const int64_t s_count = static_cast<int64_t>(level.samples.size());
  const auto& triangles = humans::topology().triangles;
  Matches m;
  std::vector<int64_t> body_index;
  for (int64_t v = 0; v < v_count; v += level.body_stride) body_index.push_back(v);
  const int64_t k_count = static_cast<int64_t>(body_index.size());
  m.body_index = torch::tensor(body_index, kI64);
  m.scan_to_body = torch::empty({rows, s_count}, kI64);
  m.body_normal = torch::zeros({rows, s_count, 3}, kF64);
  m.body_to_scan = torch::empty({rows, k_count, 3}, kF64);
  m.scan_normal = torch::zeros({rows, k_count, 3}, kF64);
  auto sb = m.scan_to_body.accessor<int64_t, 2>();
  auto bn = m.body_normal.accessor<double, 3>();
  auto bs = m.body_to_scan.accessor<double, 3>();
  auto sn = m.scan_normal.accessor<double, 3>();
  for (int64_t b = 0; b < rows; ++b) {
    const std::vector<Vec3> body = vectors_of(vertices[b]);
    const PointGrid body_grid(body, 0.02);
    std::vector<Vec3> body_normals;
    if (normals && level.whole) body_normals = humans::vertex_normals(body, triangles);
    if (normals && !level.whole) {
      const std::vector<Vec3> all = humans::vertex_normals(vectors_of(whole_vertices[b]), triangles);
      const auto index = level.set->index.accessor<int64_t, 1>();
      for (int64_t v = 0; v < v_count; ++v) body_normals.push_back(all[static_cast<size_t>(index[v])]);
    }
    for (int64_t i = 0; i < s_count; ++i) {
      const int v = body_grid.nearest(level.samples[i]);
      sb[b][i] = v;
      if (normals) bn[b][i][0] = body_normals[v].x, bn[b][i][1] = body_normals[v].y, bn[b][i][2] = body_normals[v].z;
    }
    for (int64_t k = 0; k < k_count; ++k) {
      const int p = scan_grid.nearest(body[body_index[k]]);
      const Vec3 q = scan.points[p];
      bs[b][k][0] = q.x, bs[b][k][1] = q.y, bs[b][k][2] = q.z;
      if (normals && !scan.normals.empty()) {
        const Vec3 n = scan.normals[p];
        sn[b][k][0] = n.x, sn[b][k][1] = n.y, sn[b][k][2] = n.z;
      }
    }
  }
  m.body_normal = torch::nan_to_num(m.body_normal, 0.0, 0.0, 0.0);
  return m;
}

// Squared distances [B, N] along `normal` where it is non-zero, else point to point.
Tensor distance2(const Tensor& diff, const Tensor& normal, double tangential) {
  const Tensor along = (diff * normal).sum(-1);
  const Tensor has = (normal.abs().sum(-1) > 0).to(kF64);
  const Tensor full = (diff * diff).sum(-1);
  return has * (along * along + tangential * full) + (1 - has) * full;
}

// The data term per row [B]: robust mean squared distances both ways, in cm^2.
Tensor data_term(const Scan& scan, const Tensor& scan_samples, const Matches& m, const Tensor& vertices,
                 double sigma_m) {
  const int64_t rows = vertices.size(0);
  const Tensor matched = torch::gather(vertices, 1, m.scan_to_body.unsqueeze(-1).expand({rows, -1, 3}));
  const Tensor d1 = distance2(scan_samples.unsqueeze(0) - matched, m.body_normal, 0.05);
  const Tensor own = vertices.index_select(1, m.body_index);
  const Tensor d2 = distance2(own - m.body_to_scan, m.scan_normal, 0.05);
  const double s2 = sigma_m * sigma_m;
  auto robust = [&](const Tensor& d) { return (s2 * d / (s2 + d)).mean(1) * 1e4; };
  (void)scan;
  return kDataWeight * (robust(d1) + robust(d2));
}

// Poses [B, 23, 3] (Euler x, y, z of joints 1..23) mirrored left to right: left and right
// joints swapped, and each rotation conjugated by the x mirror, Rz(c) Ry(b) Rx(a) ->
// Rz(-c) Ry(-b) Rx(a). A stride's other phase, a wave with the other hand.
Tensor mirrored_poses(const Tensor& poses) {
  std::vector<int64_t> order(23);
  for (int64_t j = 0; j < 23; ++j) order[j] = j;
  for (auto [l, r] : {std::pair{1, 2}, {4, 5}, {7, 8}, {10, 11}, {13, 14}, {16, 17}, {18, 19}, {20, 21}, {22, 23}}) {
    order[l - 1] = r - 1;
    order[r - 1] = l - 1;
  }
  static const Tensor flip = torch::tensor({1.0, -1.0, -1.0}, kF64);
  return poses.index_select(1, torch::tensor(order, kI64)) * flip;
}

struct Round {
  double sigma_m, pose_weight;
  int steps, match_every;
  bool normals;
  bool coarse = false;  // the coarse body (Level)
};

// Adam on `params` of `s` through `rounds`; returns the last step's per-row loss history.
std::vector<Tensor> run_rounds(const Context& ctx, const Scan& scan, const PointGrid& grid, Body& s,
                               const std::vector<Round>& rounds, bool pose_free, int& iterations) {
  torch::AutoGradMode grad(true);
  const Level whole = whole_level(ctx, scan);
  std::optional<Level> coarse;
  std::vector<Tensor*> params = {&s.w, &s.t, &s.z};
  std::vector<std::pair<Tensor, double>> groups = {{s.w, 0.02}, {s.t, 0.01}, {s.z, 0.03}};
  if (pose_free) params.push_back(&s.euler), groups.push_back({s.euler, 0.02});
  for (Tensor* p : params) p->requires_grad_(true);
  std::vector<double> base_lr;
  for (const auto& g : groups) base_lr.push_back(g.second);
  torch::optim::Adam adam = make_grouped_adam(groups);
  LastFiniteParams last;
  std::vector<Tensor> history;
  std::optional<Matches> m;
  for (size_t r = 0; r < rounds.size(); ++r) {
    const Round& round = rounds[r];
    if (round.coarse && !coarse) coarse = coarse_level(ctx, scan);
    const Level& level = round.coarse ? *coarse : whole;
    for (int step = 0; step < round.steps; ++step) {
      if (r + 1 == rounds.size()) scale_learning_rates(adam, base_lr, 1.0 - 0.9 * step / round.steps);
      Placed p = place(ctx, s, *level.set);
      if (step % round.match_every == 0) {
        Tensor whole_vertices;  // the coarse body's normals come from the whole surface
        if (!level.whole && round.normals) {
          torch::NoGradGuard no_grad;
          whole_vertices = place(ctx, s, ctx.body.all()).vertices;
        }
        m = match(level, scan, grid, p.vertices.detach(), round.normals, whole_vertices);
      }
      const int64_t rows = s.w.size(0);
      const Tensor euler = torch::cat({torch::zeros({rows, 1, 3}, kF64), s.euler}, 1);
      const Tensor loss = data_term(scan, level.sample_tensor, *m, p.vertices, round.sigma_m) +
                          round.pose_weight * ctx.pose_prior(s.euler.reshape({rows, kPoseSize})) +
                          1e4 * joint_limit_penalty(euler) + 0.5 * shape_prior(s.z);
      const Tensor total = loss.sum();
      if (!std::isfinite(total.item<double>())) {
        last.restore(params);
        for (Tensor* q : params) *q = q->detach();
        return {};
      }
      std::vector<Tensor> values;
      for (Tensor* q : params) values.push_back(*q);
      last.keep(values);
      if (r + 1 == rounds.size()) history.push_back(loss.detach());
      adam.zero_grad();
      total.backward();
      for (Tensor* q : params) q->mutable_grad().nan_to_num_(0.0, 0.0, 0.0);
      adam.step();
      ++iterations;
    }
  }
  for (Tensor* q : params) *q = q->detach();
  return history;
}

// The mean distance from every scan point to the body's surface (see the top of the file).
double mean_point_to_surface(const Scan& scan, const std::vector<Vec3>& body) {
  const auto& triangles = humans::topology().triangles;
  std::vector<std::vector<uint32_t>> around(body.size());
  for (uint32_t t = 0; t < triangles.size(); ++t)
    for (uint32_t v : triangles[t]) around[v].push_back(t);
  const PointGrid grid(body, 0.02);
  double sum = 0;
  for (const Vec3& p : scan.points) {
    const int v = grid.nearest(p);
    double best = length(p - body[v]);
    for (uint32_t t : around[v]) {
      const auto& tri = triangles[t];
      best = std::min(best, point_triangle_distance(p, body[tri[0]], body[tri[1]], body[tri[2]]));
    }
    sum += best;
  }
  return sum / static_cast<double>(scan.points.size());
}

}  // namespace
}  // namespace scan_detail

ScanFitResult TorchPeopleFitter::fit_scan(std::span<const Vec3> points,
                                         std::span<const std::array<uint32_t, 3>> triangles) const {
  using namespace scan_detail;
  torch::NoGradGuard no_grad;
  ScanFitResult out;
  out.fit = skipped_result(0);
  const Scan scan = scan_of(points, triangles);
  if (static_cast<int>(scan.points.size()) < kMinScanPoints) return out;
  const Context& ctx = context();
  const PointGrid grid(scan.points, 0.02);

  // Start: orientation hypotheses about z, soles on the floor, the height of the extent.
  const int64_t rows = kYawHypotheses;
  Body s;
  s.start_rotation = torch::empty({rows, 3, 3}, kF64);
  for (int64_t h = 0; h < rows; ++h) {
    const Mat3 r = Mat3::rotation_z(2 * kPi * static_cast<double>(h) / kYawHypotheses);
    for (int i = 0; i < 9; ++i) s.start_rotation[h][i / 3][i % 3] = r.m[i / 3][i % 3];
  }
  s.w = torch::zeros({rows, 3}, kF64);
  s.t = torch::tensor({scan.mean.x, scan.mean.y, scan.lo.z}, kF64).expand({rows, 3}).clone();
  s.euler = ctx.pose_prior.mean_pose().reshape({1, 23, 3}).expand({rows, 23, 3}).clone();
  humans::Shape start_shape;
  start_shape.height_m = std::clamp(scan.hi.z - scan.lo.z, 0.9, 2.1);
  s.z = latent_from_shape(start_shape).expand({rows, kShapeLatentSize}).clone();
  int iterations = 0;
  const std::vector<Tensor> start_history =
      run_rounds(ctx, scan, grid, s, {{0.1, 1.0, kStartSteps, 10, false, true}}, false, iterations);
  if (start_history.empty()) return out;
  const Tensor best = std::get<1>(torch::nan_to_num(start_history.back(), std::numeric_limits<double>::infinity()).min(0));
  const Tensor pick = best.reshape({1});
  // Pose modes: the best orientation started from the prior's mean and from each of its
  // components' means (a wave, a stride), a short pose-free round each, as one batch; the
  // lowest loss is kept. ICP from the mean pose alone sticks in local minima with limbs far
  // from it (a raised arm registered to the torso).
  const Tensor means = ctx.pose_prior.component_means().reshape({-1, 23, 3});
  const int64_t modes = 1 + 2 * means.size(0);
  const Tensor repeat = pick.expand({modes});
  Body tries{s.start_rotation.index_select(0, repeat), s.w.index_select(0, repeat).clone(),
             s.t.index_select(0, repeat).clone(),
             torch::cat({s.euler.index_select(0, pick), means, mirrored_poses(means)}, 0),
             s.z.index_select(0, repeat).clone()};
  const std::vector<Tensor> mode_history =
      run_rounds(ctx, scan, grid, tries, {{0.05, 1.0, kModeSteps, 5, true, true}}, true, iterations);
  if (mode_history.empty()) return out;
  const Tensor mode = std::get<1>(torch::nan_to_num(mode_history.back(), std::numeric_limits<double>::infinity()).min(0));
  const Tensor take = mode.reshape({1});
  Body one{tries.start_rotation.index_select(0, take), tries.w.index_select(0, take).clone(),
           tries.t.index_select(0, take).clone(), tries.euler.index_select(0, take).clone(),
           tries.z.index_select(0, take).clone()};

  // Everything, in rounds of tighter distances and weaker priors.
  const std::vector<Round> rounds = {{0.05, 1.0, 80, 5, true}, {0.02, 0.2, 80, 5, true}, {0.01, 0.05, 100, 5, true}};
  const std::vector<Tensor> history = run_rounds(ctx, scan, grid, one, rounds, true, iterations);

  const Placed p = place(ctx, one, ctx.body.all());
  const std::vector<Vec3> body = vectors_of(p.vertices[0]);
  out.mean_point_to_surface_m = mean_point_to_surface(scan, body);
  BodyResult b;
  const Tensor shape = shape_from_latent(one.z);
  auto sh = shape.accessor<double, 2>();
  auto eu = one.euler.accessor<double, 3>();
  auto jo = p.joints.accessor<double, 3>();
  for (int i = 0; i < kShapeLatentSize; ++i) b.shape[i] = sh[0][i];
  for (int j = 1; j < humans::kJointCount; ++j)
    for (int a = 0; a < 3; ++a) b.euler_rad[j][a] = eu[0][j - 1][a];
  b.global_rotation = matrix_of(p.rotation[0]);
  for (int a = 0; a < 3; ++a) b.translation[a] = one.t[0][a].item<double>();
  for (int j = 0; j < humans::kJointCount; ++j)
    for (int a = 0; a < 3; ++a) b.joints[j][a] = jo[0][j][a];
  b.loss = history.empty() ? std::numeric_limits<double>::quiet_NaN() : history.back()[0].item<double>();
  b.iterations = iterations;
  if (history.size() > 15) {
    const double now = history.back()[0].item<double>(), before = history[history.size() - 16][0].item<double>();
    b.converged = std::isfinite(now) && std::abs(now - before) <= 0.005 * std::abs(now) + 1e-6;
  }
  out.fit = fit_result_of(b);
  if (!std::isfinite(out.mean_point_to_surface_m)) {
    out.mean_point_to_surface_m = 0;
    out.fit.converged = false;
  }
  return out;
}

}  // namespace synthfarm::recon::torch_fit
