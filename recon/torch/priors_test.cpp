// recon/torch/priors.h: the pose mixture is deterministic, quick to fit and prefers the
// farm's poses to arbitrary ones within the joint limits; joint limits and the shape
// latent behave at and beyond their bounds.
#include "recon/torch/priors.h"

#include <gtest/gtest.h>

#include <chrono>

#include "base/rng.h"
#include "humans/body.h"
#include "humans/motion.h"
#include "humans/skeleton.h"

namespace synthfarm::recon::torch_fit {
namespace {


TEST(PosePrior, FitsQuicklyAndTheSameEveryTime) {
  const auto start = std::chrono::steady_clock::now();
  const auto samples = farm_pose_samples();
  const Gmm a = fit_gmm(samples, 8);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("pose prior: %zu samples, 8 components, fitted in %.2f s\n", samples.size(), seconds);
  EXPECT_LT(seconds, 2.0);
  const Gmm b = fit_gmm(samples, 8);
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_EQ(a.cholesky, b.cholesky);
  double total = 0;
  for (double w : a.weight) total += w;
  EXPECT_NEAR(total, 1.0, 1e-9);
}

TEST(PosePrior, PrefersTheFarmsPosesToArbitraryPosesWithinLimits) {
  const auto samples = farm_pose_samples();
  const PosePrior prior(fit_gmm(samples, 8), samples);
  // Held-out farm poses (another seed) against uniform draws within the joint limits.
  const humans::RestBody body = humans::build_rest_body(humans::Shape{});
  Pcg32 rng(99, 3);
  const int n = 50;
  Tensor farm = torch::empty({n, kPoseSize}, kF64), arbitrary = torch::empty({n, kPoseSize}, kF64);
  const auto& limits = humans::joint_limits();
  for (int i = 0; i < n; ++i) {
    const humans::Pose p = humans::random_static_pose(rng, body.joints, body.radius);
    for (int j = 1; j < humans::kJointCount; ++j) {
      const Vec3 e = humans::matrix_to_euler(p.local[j]);
      const humans::JointLimit& l = limits[j];
      const double u[3] = {uniform(rng, l.min_deg.x, l.max_deg.x), uniform(rng, l.min_deg.y, l.max_deg.y),
                           uniform(rng, l.min_deg.z, l.max_deg.z)};
      const double f[3] = {e.x, e.y, e.z};
      for (int a = 0; a < 3; ++a) {
        farm[i][3 * (j - 1) + a] = deg_to_rad(f[a]);
        arbitrary[i][3 * (j - 1) + a] = deg_to_rad(u[a]);
      }
    }
  }
  const double farm_nll = prior(farm).median().item<double>();
  const double arbitrary_nll = prior(arbitrary).median().item<double>();
  std::printf("pose prior median: farm poses %.1f, arbitrary poses within limits %.1f\n", farm_nll, arbitrary_nll);
  EXPECT_LT(farm_nll + 100, arbitrary_nll);
  EXPECT_GT(prior(prior.mean_pose().unsqueeze(0)).item<double>(), -1.0);
  Tensor x = prior.mean_pose().unsqueeze(0).clone().requires_grad_(true);
  prior(x).sum().backward();
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
}

TEST(JointLimits, ZeroWithinAndGrowingBeyond) {
  Tensor e = torch::zeros({3, humans::kJointCount, 3}, kF64);
  e[1][4][0] = deg_to_rad(-150.0);  // left knee, 5 degrees past full flexion
  e[2][4][0] = deg_to_rad(-160.0);
  e[0][0][2] = 3.0;  // the root is not limited here (global rotation)
  const Tensor p = joint_limit_penalty(e);
  EXPECT_EQ(p[0].item<double>(), 0.0);
  EXPECT_NEAR(p[1].item<double>(), std::pow(deg_to_rad(5.0), 2), 1e-12);
  EXPECT_GT(p[2].item<double>(), p[1].item<double>());
}

TEST(ShapeLatent, MapsIntoTheBodysRangesWithAChildAndAnAdultStart) {
  const Tensor adult = shape_from_latent(adult_latent(1));
  const Tensor child = shape_from_latent(child_latent(1));
  EXPECT_GT(adult[0][3].item<double>(), 17.5);   // age: adult proportions
  EXPECT_NEAR(adult[0][0].item<double>(), 1.69, 0.02);
  EXPECT_LT(child[0][3].item<double>(), 9.0);
  EXPECT_LT(child[0][0].item<double>(), 1.3);
  Tensor z = torch::full({1, kShapeLatentSize}, 50.0, kF64);
  const Tensor s = shape_from_latent(z);
  for (int k = 4; k < 9; ++k) EXPECT_LE(s[0][k].item<double>(), 1.15);
  EXPECT_EQ(shape_prior(adult_latent(1)).item<double>(), 0.0);
  EXPECT_GT(shape_prior(child_latent(1)).item<double>(), 0.0);
}

}  // namespace
}  // namespace synthfarm::recon::torch_fit
