// The differentiable body (body_model.h): humans/body_geometry.cpp's make_geometry in
// LibTorch operations, the template's vertices rebuilt from their bindings, forward
// kinematics by tree level, skinning and keypoints.
#include "recon/torch/body_model.h"

#include <algorithm>
#include <cmath>

#include "humans/body.h"
#include "humans/body_binding.h"
#include "humans/skeleton.h"

namespace synthfarm::recon::torch_fit {
namespace {

using humans::BodyPrimitive;
using humans::Joint;
constexpr int kJoints = humans::kJointCount;


int prim(BodyPrimitive p) { return static_cast<int>(p); }
int jnt(Joint j) { return humans::index(j); }

// [B] tensors -> [B, 3].
Tensor vec(const Tensor& x, const Tensor& y, const Tensor& z) { return torch::stack({x, y, z}, -1); }

// The geometry's per-shape scalars (make_geometry's first lines), each [B].
struct Factors {
  Tensor h, child, male, gx, gy, gd, leg, arm, head, shoulder, hips, chest, waist, neck_len;
};

Factors factors(const Tensor& s) {
  Factors f;
  f.h = s.select(1, kHeight);
  f.child = torch::clamp((18.0 - s.select(1, kAge)) / 14.0, 0.0, 1.0);
  f.male = s.select(1, kSex);
  const Tensor bmi_ratio = s.select(1, kBmi) / 22.0;
  f.gx = torch::sqrt(bmi_ratio);
  f.gy = f.gx * torch::sqrt(f.gx);
  f.gd = torch::sqrt(f.gx);
  f.leg = s.select(1, kLeg) * (1.0 - 0.17 * f.child);
  f.arm = s.select(1, kArm) * (1.0 - 0.10 * f.child);
  f.head = s.select(1, kHead) * (1.0 + 0.50 * f.child);
  f.shoulder = s.select(1, kShoulder) * (0.92 + 0.16 * f.male) * (1.0 - 0.12 * f.child);
  f.hips = s.select(1, kHip) * (1.06 - 0.12 * f.male);
  f.chest = 0.94 + 0.12 * f.male;
  f.waist = 0.95 + 0.10 * f.male;
  f.neck_len = 0.06 * (1.0 - 0.3 * f.child);
  return f;
}

Tensor clamp_shape(const Tensor& shape) {
  static const Tensor lo = torch::tensor({0.9, 12.0, 0.0, 2.0, 0.85, 0.85, 0.85, 0.85, 0.85}, kF64);
  static const Tensor hi = torch::tensor({2.1, 60.0, 1.0, 100.0, 1.15, 1.15, 1.15, 1.15, 1.15}, kF64);
  return torch::max(torch::min(shape, hi), lo);
}

}  // namespace

Tensor euler_to_matrix(const Tensor& e) {
  const Tensor c = torch::cos(e), s = torch::sin(e);
  const Tensor cx = c.select(-1, 0), cy = c.select(-1, 1), cz = c.select(-1, 2);
  const Tensor sx = s.select(-1, 0), sy = s.select(-1, 1), sz = s.select(-1, 2);
  const Tensor r = torch::stack({cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
                                 sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
                                 -sy, cy * sx, cy * cx}, -1);
  auto sizes = e.sizes().vec();
  sizes.back() = 3;
  sizes.push_back(3);
  return r.reshape(sizes);
}

Tensor axis_angle_to_matrix(const Tensor& w) {
  const Tensor theta2 = (w * w).sum(-1, true);
  const Tensor theta = torch::sqrt(theta2 + 1e-30);
  const Tensor small = theta2 < 1e-8;
  // sin(t)/t and (1 - cos t)/t^2, by their Taylor series near zero.
  const Tensor a = torch::where(small, 1.0 - theta2 / 6.0, torch::sin(theta) / theta);
  const Tensor b = torch::where(small, 0.5 - theta2 / 24.0, (1.0 - torch::cos(theta)) / (theta2 + 1e-30));
  const Tensor x = w.select(-1, 0), y = w.select(-1, 1), z = w.select(-1, 2);
  const Tensor zero = torch::zeros_like(x);
  auto sizes = w.sizes().vec();
  sizes.back() = 3;
  sizes.push_back(3);
  const Tensor k = torch::stack({zero, -z, y, z, zero, -x, -y, x, zero}, -1).reshape(sizes);
  const Tensor eye = torch::eye(3, kF64).expand(sizes);
  return eye + a.unsqueeze(-1) * k + b.unsqueeze(-1) * torch::matmul(k, k);
}

BodyModel BodyModel::create() {
  BodyModel m;
  const humans::Topology& topo = humans::topology();
  const auto bindings = humans::vertex_bindings();
  const int64_t n = static_cast<int64_t>(bindings.size());
  std::vector<int64_t> all(n);
  for (int64_t v = 0; v < n; ++v) all[v] = v;
  m.all_ = m.subset(all);
  std::vector<int64_t> coarse;
  for (int64_t v = 0; v < n; v += kCoarseVertexStride) coarse.push_back(v);
  m.coarse_ = m.subset(coarse);
  m.face_ = m.subset(std::vector<int64_t>(topo.face_keypoints.begin(), topo.face_keypoints.end()));
  // Vertices that can be the lowest or the highest: near the soles or the skull top of the
  // neutral body (the shape changes proportions smoothly; the test checks the scale).
  const humans::RestBody neutral = humans::build_rest_body(humans::Shape{});
  const double height = neutral.shape.height_m;
  std::vector<int64_t> extremes;
  for (int64_t v = 0; v < n; ++v) {
    const double z = neutral.vertices[v].z;
    if (z < 0.01 * height || z > 0.99 * height) extremes.push_back(v);
  }
  m.extremes_ = m.subset(extremes);
  // Tree levels for forward kinematics.
  std::array<int, kJoints> depth{};
  int max_depth = 0;
  for (int j = 1; j < kJoints; ++j) {
    depth[j] = depth[humans::kParents[j]] + 1;
    max_depth = std::max(max_depth, depth[j]);
  }
  m.levels_.resize(max_depth);
  m.level_parents_.resize(max_depth);
  for (int j = 1; j < kJoints; ++j) {
    m.levels_[depth[j] - 1].push_back(j);
    m.level_parents_[depth[j] - 1].push_back(humans::kParents[j]);
  }
  return m;
}

VertexSet BodyModel::subset(const std::vector<int64_t>& vertices) const {
  const auto bindings = humans::vertex_bindings();
  const humans::Topology& topo = humans::topology();
  const int64_t n = static_cast<int64_t>(vertices.size());
  VertexSet s;
  s.index = torch::tensor(vertices, kI64);
  s.prim = torch::empty({n, 4}, kI64);
  s.bind_weight = torch::empty({n, 4}, kF64);
  s.t = torch::empty({n, 4}, kF64);
  s.q = torch::empty({n, 4, 3}, kF64);
  s.skin_joint = torch::empty({n, 4}, kI64);
  s.skin_weight = torch::empty({n, 4}, kF64);
  auto prim = s.prim.accessor<int64_t, 2>();
  auto bw = s.bind_weight.accessor<double, 2>();
  auto t = s.t.accessor<double, 2>();
  auto q = s.q.accessor<double, 3>();
  auto sj = s.skin_joint.accessor<int64_t, 2>();
  auto sw = s.skin_weight.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const humans::VertexBinding& b = bindings[vertices[i]];
    const humans::SkinWeights& w = topo.weights[vertices[i]];
    for (int k = 0; k < 4; ++k) {
      prim[i][k] = b.prim[k];
      bw[i][k] = b.weight[k];
      t[i][k] = b.local[k].t;
      q[i][k][0] = b.local[k].q.x;
      q[i][k][1] = b.local[k].q.y;
      q[i][k][2] = b.local[k].q.z;
      sj[i][k] = w.joint[k];
      sw[i][k] = w.weight[k];
    }
  }
  return s;
}

Geometry BodyModel::geometry(const Tensor& requested) const {
  const Tensor s = clamp_shape(requested);
  const Factors f = factors(s);
  const Tensor& h = f.h;
  const Tensor zero = torch::zeros_like(h);
  // P(x, y, z) * h with x, y, z numbers or [B] tensors.
  auto P = [&](const Tensor& x, const Tensor& y, const Tensor& z) { return vec(x, y, z) * h.unsqueeze(1); };
  auto C = [&](double v) { return zero + v; };
  std::vector<Tensor> j(kJoints);
  const double ankle_z = 0.045;
  const Tensor knee_z = ankle_z + 0.24 * f.leg, hip_z = knee_z + 0.225 * f.leg;
  const Tensor hip_x = 0.052 * f.hips * (0.7 + 0.3 * f.gx);
  const Tensor pelvis_z = hip_z + 0.035;
  const Tensor neck_z = pelvis_z + 0.285;
  j[jnt(Joint::kPelvis)] = P(zero, zero, pelvis_z);
  j[jnt(Joint::kSpine1)] = P(zero, C(-0.008), pelvis_z + 0.055);
  j[jnt(Joint::kSpine2)] = P(zero, C(-0.012), pelvis_z + 0.125);
  j[jnt(Joint::kSpine3)] = P(zero, C(-0.010), pelvis_z + 0.185);
  j[jnt(Joint::kNeck)] = P(zero, C(-0.012), neck_z);
  j[jnt(Joint::kHead)] = P(zero, zero, neck_z + f.neck_len);
  const Tensor hs = f.head.unsqueeze(1);
  const Tensor head_centre = j[jnt(Joint::kHead)] + P(zero, C(0.010), C(0.042)) * hs;
  const Tensor head_radii = P(C(0.046), C(0.056), C(0.068)) * hs;
  std::array<Tensor, 2> finger_tip;
  const double kSqrtHalf = 0.70710678118654752440;
  for (int k = 0; k < 2; ++k) {
    const double sx = k == 0 ? 1.0 : -1.0;
    auto J = [&](Joint left) { return jnt(left) + k; };
    j[J(Joint::kLeftHip)] = P(sx * hip_x, zero, hip_z);
    j[J(Joint::kLeftKnee)] = P(sx * (hip_x + 0.004), C(0.005), knee_z);
    j[J(Joint::kLeftAnkle)] = P(sx * (hip_x + 0.008), C(-0.008), C(ankle_z));
    j[J(Joint::kLeftFoot)] = P(sx * (hip_x + 0.011), C(0.067), C(0.012));
    j[J(Joint::kLeftCollar)] = P(C(sx * 0.03), C(-0.012), neck_z - 0.02);
    const Tensor shoulder_joint =
        P(sx * 0.10 * f.shoulder * (0.8 + 0.2 * f.gx), C(-0.012), neck_z - 0.035);
    j[J(Joint::kLeftShoulder)] = shoulder_joint;
    const Tensor down = P(C(sx * kSqrtHalf), zero, C(-kSqrtHalf));
    const Tensor arm = f.arm.unsqueeze(1);
    j[J(Joint::kLeftElbow)] = shoulder_joint + down * (0.16 * arm);
    j[J(Joint::kLeftWrist)] = shoulder_joint + down * (0.30 * arm);
    j[J(Joint::kLeftHand)] = shoulder_joint + down * (0.35 * arm);
    finger_tip[k] = shoulder_joint + down * (0.395 * arm);
  }

  std::vector<Tensor> a(humans::kBodyPrimitiveCount), b(a.size()), ra(a.size()), rb(a.size());
  auto set = [&](BodyPrimitive p, int offset, Tensor pa, Tensor pb, Tensor r_a, Tensor r_b) {
    const int i = prim(p) + offset;
    a[i] = std::move(pa);
    b[i] = std::move(pb);
    ra[i] = std::move(r_a);
    rb[i] = std::move(r_b);
  };
  const Tensor gx = f.gx.unsqueeze(1), gd = f.gd.unsqueeze(1);  // for [B, 3] products
  auto R = [&](double x, double y, double z) { return P(C(x), C(y), C(z)); };
  const Tensor crotch = P(zero, C(-0.005), hip_z - 0.02);
  const Tensor chest_top = j[jnt(Joint::kNeck)] - R(0, 0, 0.025);
  auto R3 = [&](const Tensor& x, const Tensor& y, double z) { return vec(x, y, C(z)) * h.unsqueeze(1); };
  const Tensor r_crotch = R3(0.075 * f.hips * f.gx, 0.055 * f.gy, 0.04);
  const Tensor r_pelvis = R3(0.090 * f.hips * f.gx, 0.062 * f.gy, 0.04);
  const Tensor r_spine1 = R3(0.082 * f.waist * f.gx, 0.060 * f.gy, 0.04);
  const Tensor r_spine2 = R3(0.078 * f.waist * f.gx, 0.058 * f.gy, 0.04);
  const Tensor r_spine3 = R3(0.090 * f.chest * f.shoulder * f.gx, 0.066 * f.gx, 0.04);
  const Tensor r_chest_top = R3(0.080 * f.chest * f.shoulder * f.gx, 0.050 * f.gx, 0.03);
  set(BodyPrimitive::kCrotch, 0, crotch, j[jnt(Joint::kPelvis)], r_crotch, r_pelvis);
  set(BodyPrimitive::kPelvis, 0, j[jnt(Joint::kPelvis)], j[jnt(Joint::kSpine1)], r_pelvis, r_spine1);
  set(BodyPrimitive::kSpineLow, 0, j[jnt(Joint::kSpine1)], j[jnt(Joint::kSpine2)], r_spine1, r_spine2);
  set(BodyPrimitive::kSpineMid, 0, j[jnt(Joint::kSpine2)], j[jnt(Joint::kSpine3)], r_spine2, r_spine3);
  set(BodyPrimitive::kChest, 0, j[jnt(Joint::kSpine3)], chest_top, r_spine3, r_chest_top);
  set(BodyPrimitive::kNeck, 0, j[jnt(Joint::kNeck)], j[jnt(Joint::kHead)], R(0.036, 0.038, 0.036) * gd,
      R(0.031, 0.033, 0.031) * gd);
  set(BodyPrimitive::kHead, 0, head_centre, head_centre, head_radii, head_radii);
  const Tensor nose_centre = head_centre + R(0, 0.050, -0.014) * hs;
  const Tensor nose_radii = R(0.008, 0.013, 0.015) * hs;
  set(BodyPrimitive::kNose, 0, nose_centre, nose_centre, nose_radii, nose_radii);
  std::array<Tensor, 2> heel_back, toe_tip;
  for (int k = 0; k < 2; ++k) {
    const double sx = k == 0 ? 1.0 : -1.0;
    auto J = [&](Joint left) { return j[jnt(left) + k]; };
    set(BodyPrimitive::kLeftCollar, k, P(C(sx * 0.02), C(-0.012), neck_z - 0.03), J(Joint::kLeftShoulder),
        R(0.035, 0.045, 0.035) * gx, R(0.042, 0.042, 0.042) * gx);
    set(BodyPrimitive::kLeftUpperArm, k, J(Joint::kLeftShoulder), J(Joint::kLeftElbow),
        R(0.038, 0.038, 0.038) * gx, R(0.030, 0.030, 0.030) * gx);
    set(BodyPrimitive::kLeftForearm, k, J(Joint::kLeftElbow), J(Joint::kLeftWrist),
        R(0.029, 0.030, 0.029) * gd, R(0.018, 0.024, 0.018) * gd);
    set(BodyPrimitive::kLeftPalm, k, J(Joint::kLeftWrist), J(Joint::kLeftHand), R(0.016, 0.024, 0.020),
        R(0.015, 0.029, 0.015));
    const Tensor d = J(Joint::kLeftHand) - J(Joint::kLeftWrist);
    const Tensor down = d / torch::sqrt((d * d).sum(-1, true));
    const Tensor r_tip = R(0.010, 0.021, 0.013);
    set(BodyPrimitive::kLeftFingers, k, J(Joint::kLeftHand),
        finger_tip[k] - down * r_tip.select(1, 2).unsqueeze(1), R(0.013, 0.028, 0.016), r_tip);
    set(BodyPrimitive::kLeftThigh, k, J(Joint::kLeftHip), J(Joint::kLeftKnee), R(0.052, 0.054, 0.052) * gx,
        R(0.036, 0.038, 0.036) * gd);
    set(BodyPrimitive::kLeftShin, k, J(Joint::kLeftKnee), J(Joint::kLeftAnkle), R(0.035, 0.037, 0.035) * gd,
        R(0.021, 0.022, 0.021) * gd);
    const Tensor ankle = J(Joint::kLeftAnkle), ball = J(Joint::kLeftFoot);
    const Tensor r_heel = R(0.022, 0.022, 0.020), r_ball = R(0.030, 0.017, 0.020);
    const Tensor r_toe = R(0.022, 0.011, 0.012);
    auto X = [](const Tensor& v, int i) { return v.select(1, i); };
    const Tensor heel = vec(X(ankle, 0), X(ankle, 1) - 0.03 * h + X(r_heel, 2), X(r_heel, 1));
    const Tensor ball_c = vec(X(ball, 0), X(ball, 1), X(r_ball, 1));
    const Tensor toe = vec(X(ball, 0), X(ball, 1) + 0.0375 * h - X(r_toe, 2), X(r_toe, 1));
    set(BodyPrimitive::kLeftHeel, k, heel, ball_c, r_heel, r_ball);
    set(BodyPrimitive::kLeftToes, k, ball_c, toe, r_ball, r_toe);
  }

  Geometry g;
  g.joints = torch::stack(j, 1);
  g.a = torch::stack(a, 1);
  g.b = torch::stack(b, 1);
  g.ra = torch::stack(ra, 1);
  g.rb = torch::stack(rb, 1);
  // Frames (body_geometry.cpp's set_frame). The skull and the nose are points (a == b):
  // their axis is +z; 1 is added to their zero length so that no gradient meets sqrt(0).
  static const Tensor point_prim = [] {
    Tensor m = torch::zeros({humans::kBodyPrimitiveCount, 1}, kF64);
    m[prim(BodyPrimitive::kHead)][0] = 1;
    m[prim(BodyPrimitive::kNose)][0] = 1;
    return m;
  }();
  static const Tensor hint = [] {
    Tensor t = torch::zeros({humans::kBodyPrimitiveCount, 3}, kF64);
    for (int i = 0; i < humans::kBodyPrimitiveCount; ++i) t[i][humans::kPrimitiveDepthIsUp[i] ? 2 : 1] = 1;
    return t;
  }();
  static const Tensor up = torch::tensor({0.0, 0.0, 1.0}, kF64);
  const Tensor ab = g.b - g.a;
  const Tensor len = torch::sqrt((ab * ab).sum(-1, true) + point_prim);
  g.e3 = torch::where(point_prim > 0, up, ab / len);
  const Tensor e2 = hint - g.e3 * (hint * g.e3).sum(-1, true);
  g.e2 = e2 / torch::sqrt((e2 * e2).sum(-1, true));
  g.e1 = torch::cross(g.e2, g.e3, -1);
  return g;
}

Rest BodyModel::rest(const Tensor& shape, const VertexSet& set) const { return rest(shape, set, extremes_); }

Rest BodyModel::rest(const Tensor& shape, const VertexSet& set, const VertexSet& scale_set) const {
  const Tensor height = clamp_shape(shape).select(1, kHeight);
  return rest_from(geometry(shape), height, set, scale_set);
}

Rest BodyModel::rest_from(const Geometry& g, const Tensor& height, const VertexSet& set,
                          const VertexSet& scale_set) const {
  // Unscaled vertices of a set: [B, V, 3].
  auto rebuild = [&](const VertexSet& s) {
    const int64_t v = s.prim.size(0);
    const Tensor flat = s.prim.reshape({-1});
    auto gather = [&](const Tensor& p) { return p.index_select(1, flat).reshape({p.size(0), v, 4, 3}); };
    const Tensor a = gather(g.a), b = gather(g.b), ra = gather(g.ra), rb = gather(g.rb);
    const Tensor e1 = gather(g.e1), e2 = gather(g.e2), e3 = gather(g.e3);
    const Tensor t = s.t.unsqueeze(-1);
    const Tensor r = ra + (rb - ra) * t;
    const Tensor qr = s.q * r;
    const Tensor x = a + (b - a) * t + e1 * qr.select(-1, 0).unsqueeze(-1) +
                     e2 * qr.select(-1, 1).unsqueeze(-1) + e3 * qr.select(-1, 2).unsqueeze(-1);
    return (x * s.bind_weight.unsqueeze(-1)).sum(2);
  };
  const Tensor scale_vertices = rebuild(scale_set);
  const Tensor z = scale_vertices.select(-1, 2);
  const Tensor zmin = std::get<0>(z.min(1)), zmax = std::get<0>(z.max(1));
  const Tensor scale = (height / (zmax - zmin)).reshape({-1, 1, 1});
  const Tensor base = torch::stack({torch::zeros_like(zmin), torch::zeros_like(zmin), zmin}, -1).unsqueeze(1);
  Rest out;
  out.joints = (g.joints - base) * scale;
  const Tensor vertices = &set == &scale_set ? scale_vertices : rebuild(set);
  out.vertices = (vertices - base) * scale;
  return out;
}

Posed BodyModel::pose(const Tensor& rest_joints, const Tensor& local, const Tensor& root_translation) const {
  Posed p;
  const int64_t batch = rest_joints.size(0);
  Tensor rotation = torch::zeros({batch, kJoints, 3, 3}, kF64);
  Tensor position = torch::zeros({batch, kJoints, 3}, kF64);
  const Tensor root = torch::zeros({1}, kI64);
  rotation = rotation.index_copy(1, root, local.narrow(1, 0, 1));
  position = position.index_copy(1, root, (rest_joints.select(1, 0) + root_translation).unsqueeze(1));
  for (size_t level = 0; level < levels_.size(); ++level) {
    const Tensor joints = torch::tensor(levels_[level], kI64);
    const Tensor parents = torch::tensor(level_parents_[level], kI64);
    const Tensor parent_rotation = rotation.index_select(1, parents);
    const Tensor bone = rest_joints.index_select(1, joints) - rest_joints.index_select(1, parents);
    const Tensor g = torch::matmul(parent_rotation, local.index_select(1, joints));
    const Tensor x = position.index_select(1, parents) +
                     torch::matmul(parent_rotation, bone.unsqueeze(-1)).squeeze(-1);
    rotation = rotation.index_copy(1, joints, g);
    position = position.index_copy(1, joints, x);
  }
  p.rotation = rotation;
  p.position = position;
  return p;
}

Tensor BodyModel::skin(const Tensor& rest_vertices, const VertexSet& set, const Tensor& rest_joints,
                       const Posed& posed) const {
  // x -> G x + (p - G rest) per joint, blended.
  const Tensor offset =
      posed.position - torch::matmul(posed.rotation, rest_joints.unsqueeze(-1)).squeeze(-1);  // [B, 24, 3]
  const int64_t v = set.skin_joint.size(0);
  const Tensor flat = set.skin_joint.reshape({-1});
  const Tensor g = posed.rotation.index_select(1, flat).reshape({-1, v, 4, 3, 3});
  const Tensor o = offset.index_select(1, flat).reshape({-1, v, 4, 3});
  const Tensor y = torch::matmul(g, rest_vertices.unsqueeze(2).unsqueeze(-1)).squeeze(-1) + o;
  return (y * set.skin_weight.unsqueeze(-1)).sum(2);
}

Tensor BodyModel::keypoints(const Posed& posed, const Tensor& face_vertices) const {
  constexpr double kFaceDepth = humans::kFaceKeypointDepth;  // as humans::coco_keypoints
  const Tensor head = posed.position.select(1, jnt(Joint::kHead)).unsqueeze(1);
  const Tensor d = head - face_vertices;
  const Tensor face = face_vertices + d / torch::sqrt((d * d).sum(-1, true)) * kFaceDepth;
  static const Tensor body_joints = torch::tensor(std::vector<int64_t>(kBodyKeypointJoints.begin(),
                                                                       kBodyKeypointJoints.end()), kI64);
  return torch::cat({face, posed.position.index_select(1, body_joints)}, 1);
}

}  // namespace synthfarm::recon::torch_fit
