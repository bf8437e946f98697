// recon/torch/body_model.h against the C++ body (humans/body.h): rest joints, every vertex
// and posed joints, keypoints and vertices for 100 random shapes and poses, within 1e-5 m;
// the height scale from the extreme vertices equals the one from all of them; gradients
// are finite.
#include "recon/torch/body_model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/rng.h"
#include "humans/body.h"
#include "humans/skeleton.h"

namespace synthfarm::recon::torch_fit {
namespace {


const BodyModel& model() {
  static const BodyModel m = BodyModel::create();
  return m;
}

// A shape drawn over (and a little beyond, to exercise the clamps) the valid ranges.
humans::Shape random_shape(Pcg32& rng) {
  auto u = [&](double lo, double hi) { return lo + (hi - lo) * rng.next_double(); };
  humans::Shape s;
  s.height_m = u(0.85, 2.15);
  s.bmi = u(11, 45);
  s.sex = u(-0.1, 1.1);
  s.age = u(1, 90);
  s.shoulder_width = u(0.8, 1.2);
  s.hip_width = u(0.8, 1.2);
  s.leg_length = u(0.8, 1.2);
  s.arm_length = u(0.8, 1.2);
  s.head_size = u(0.8, 1.2);
  return s;
}

Tensor shape_tensor(const std::vector<humans::Shape>& shapes) {
  Tensor t = torch::empty({static_cast<int64_t>(shapes.size()), kShapeSize}, kF64);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const humans::Shape& s = shapes[i];
    const double v[kShapeSize] = {s.height_m, s.bmi, s.sex, s.age, s.shoulder_width,
                                  s.hip_width, s.leg_length, s.arm_length, s.head_size};
    for (int k = 0; k < kShapeSize; ++k) t[i][k] = v[k];
  }
  return t;
}

double max_abs_diff(const Tensor& got, const std::vector<Vec3>& want) {
  auto a = got.accessor<double, 2>();
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max({worst, std::abs(a[i][0] - want[i].x), std::abs(a[i][1] - want[i].y),
                      std::abs(a[i][2] - want[i].z)});
  }
  return worst;
}

struct Case {
  humans::Shape shape;
  std::array<Vec3, humans::kJointCount> euler_deg;
  Vec3 root_translation;
};

std::vector<Case> random_cases(int n) {
  Pcg32 rng(20261207, 1);
  std::vector<Case> cases(n);
  const auto& limits = humans::joint_limits();
  for (Case& c : cases) {
    c.shape = random_shape(rng);
    for (int j = 0; j < humans::kJointCount; ++j) {
      const humans::JointLimit& l = limits[j];
      auto u = [&](double lo, double hi) { return lo + (hi - lo) * rng.next_double(); };
      c.euler_deg[j] = {u(l.min_deg.x, l.max_deg.x), u(l.min_deg.y, l.max_deg.y), u(l.min_deg.z, l.max_deg.z)};
    }
    c.root_translation = {rng.next_double() - 0.5, rng.next_double() - 0.5, rng.next_double() * 0.3};
  }
  return cases;
}

TEST(BodyModel, MatchesTheCppBodyOnRestAndPosedJointsKeypointsAndVertices) {
  constexpr int kCases = 100;
  const std::vector<Case> cases = random_cases(kCases);
  std::vector<humans::Shape> shapes;
  for (const Case& c : cases) shapes.push_back(c.shape);
  const Tensor shape = shape_tensor(shapes);
  const BodyModel& m = model();
  const Rest rest = m.rest(shape, m.all(), m.all());
  Tensor euler = torch::empty({kCases, humans::kJointCount, 3}, kF64);
  Tensor root = torch::empty({kCases, 3}, kF64);
  for (int i = 0; i < kCases; ++i) {
    for (int j = 0; j < humans::kJointCount; ++j) {
      const Vec3 e = cases[i].euler_deg[j];
      euler[i][j][0] = deg_to_rad(e.x);
      euler[i][j][1] = deg_to_rad(e.y);
      euler[i][j][2] = deg_to_rad(e.z);
    }
    root[i][0] = cases[i].root_translation.x;
    root[i][1] = cases[i].root_translation.y;
    root[i][2] = cases[i].root_translation.z;
  }
  const Posed posed = m.pose(rest.joints, euler_to_matrix(euler), root);
  const Tensor vertices = m.skin(rest.vertices, m.all(), rest.joints, posed);
  const Tensor face = vertices.index_select(1, m.face().index);
  const Tensor keypoints = m.keypoints(posed, face);

  double worst_rest_joint = 0, worst_rest_vertex = 0, worst_joint = 0, worst_vertex = 0, worst_kp = 0;
  const humans::Topology& topo = humans::topology();
  for (int i = 0; i < kCases; ++i) {
    const humans::RestBody body = humans::build_rest_body(cases[i].shape);
    const humans::Pose pose = humans::Pose::from_euler(cases[i].euler_deg, cases[i].root_translation);
    const humans::Posed want = humans::forward_kinematics(body.joints, pose);
    std::vector<Vec3> skinned;
    humans::skin(body, want, skinned);
    worst_rest_joint = std::max(worst_rest_joint,
                                max_abs_diff(rest.joints[i], {body.joints.begin(), body.joints.end()}));
    worst_rest_vertex = std::max(worst_rest_vertex, max_abs_diff(rest.vertices[i], body.vertices));
    worst_joint = std::max(worst_joint, max_abs_diff(posed.position[i], {want.position.begin(), want.position.end()}));
    worst_vertex = std::max(worst_vertex, max_abs_diff(vertices[i], skinned));
    // Keypoints as jobs/people.cpp makes them (before placing the body in the world).
    std::vector<Vec3> kp;
    const Vec3 head = want.position[humans::index(humans::Joint::kHead)];
    for (int k = 0; k < 5; ++k) {
      const Vec3 s = skinned[topo.face_keypoints[k]];
      kp.push_back(s + normalize(head - s) * 0.012);
    }
    for (int64_t j : kBodyKeypointJoints) kp.push_back(want.position[j]);
    worst_kp = std::max(worst_kp, max_abs_diff(keypoints[i], kp));
  }
  EXPECT_LT(worst_rest_joint, 1e-5);
  EXPECT_LT(worst_rest_vertex, 1e-5);
  EXPECT_LT(worst_joint, 1e-5);
  EXPECT_LT(worst_vertex, 1e-5);
  EXPECT_LT(worst_kp, 1e-5);
  std::printf("torch vs C++ body, 100 shapes and poses, max |difference| m: rest joints %.2e, rest "
              "vertices %.2e, posed joints %.2e, posed vertices %.2e, keypoints %.2e\n",
              worst_rest_joint, worst_rest_vertex, worst_joint, worst_vertex, worst_kp);
}

TEST(BodyModel, ScaleFromTheExtremeVerticesEqualsTheScaleFromAll) {
  Pcg32 rng(7, 2);
  std::vector<humans::Shape> shapes;
  for (int i = 0; i < 60; ++i) shapes.push_back(random_shape(rng));
  // The corners of the shape box too (the clamps' limits).
  for (int corner = 0; corner < 64; ++corner) {
    humans::Shape s;
    s.bmi = corner & 1 ? 60 : 12;
    s.age = corner & 2 ? 2 : 100;
    s.leg_length = corner & 4 ? 0.85 : 1.15;
    s.head_size = corner & 8 ? 0.85 : 1.15;
    s.sex = corner & 16 ? 0 : 1;
    s.height_m = corner & 32 ? 0.9 : 2.1;
    shapes.push_back(s);
  }
  const Tensor shape = shape_tensor(shapes);
  const BodyModel& m = model();
  const Tensor from_all = m.rest(shape, m.face(), m.all()).joints;
  const Tensor from_extremes = m.rest(shape, m.face(), m.extremes()).joints;
  EXPECT_LT((from_all - from_extremes).abs().max().item<double>(), 1e-12);
  EXPECT_LT(m.extremes().index.size(0), m.all().index.size(0) / 4);
  std::printf("height scale from %lld of %lld vertices\n", static_cast<long long>(m.extremes().index.size(0)),
              static_cast<long long>(m.all().index.size(0)));
}

TEST(BodyModel, GradientsThroughShapeAndPoseAreFinite) {
  const BodyModel& m = model();
  Tensor shape = torch::tensor({{1.7, 22.0, 0.5, 30.0, 1.0, 1.0, 1.0, 1.0, 1.0}}, kF64).requires_grad_(true);
  Tensor euler = torch::zeros({1, humans::kJointCount, 3}, kF64).requires_grad_(true);
  const Rest rest = m.rest(shape, m.face());
  const Posed posed = m.pose(rest.joints, euler_to_matrix(euler), torch::zeros({1, 3}, kF64));
  const Tensor kp = m.keypoints(posed, m.skin(rest.vertices, m.face(), rest.joints, posed));
  kp.pow(2).sum().backward();
  EXPECT_TRUE(torch::isfinite(shape.grad()).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(euler.grad()).all().item<bool>());
  EXPECT_GT(shape.grad().abs().sum().item<double>(), 0);
}

TEST(Rotations, AxisAngleMatchesEulerAboutOneAxisAndIsSmoothAtZero) {
  const Tensor w = torch::tensor({{0.0, 0.0, 0.7}, {0.3, 0.0, 0.0}}, kF64);
  const Tensor e = torch::tensor({{0.0, 0.0, 0.7}, {0.3, 0.0, 0.0}}, kF64);
  EXPECT_LT((axis_angle_to_matrix(w) - euler_to_matrix(e)).abs().max().item<double>(), 1e-14);
  Tensor zero = torch::zeros({1, 3}, kF64).requires_grad_(true);
  axis_angle_to_matrix(zero).select(-1, 0).select(-1, 1).sum().backward();
  EXPECT_TRUE(torch::isfinite(zero.grad()).all().item<bool>());
  EXPECT_NEAR(zero.grad()[0][2].item<double>(), 1.0, 1e-12);  // d R10 / d wz = 1 at zero
}

}  // namespace
}  // namespace synthfarm::recon::torch_fit
