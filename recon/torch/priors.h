// The priors of fitting: a pose prior (a Gaussian mixture over the 23 non-root joints'
// Euler angles), joint limits as a differentiable penalty, and the shape parametrisation
// with its prior.
//
// Choices (SMPLify's, adapted to this body)
//   Pose prior: 8 components with full covariances over 69 numbers (23 joints x Euler x, y,
//     z in radians), fitted by EM on the farm's own poses: humans::random_static_pose for
//     four body shapes, and humans::clip_pose for walk, run, idle, wave (both hands) and
//     sit over 16 phases and 8 motion styles (fixed seeds: the same mixture on every run).
//     Initialised by deterministic farthest-point seeding and k-means, then 10 EM steps;
//     every covariance gets (3 degrees)^2 added to its diagonal, so that joints the farm
//     never moves (fingers, toes) may still move a little. Fitted in plain C++ (about 0.3 s
//     at plugin start), so the mixture's bits do not depend on LibTorch or BLAS threads.
//     Its value is the mixture's negative log density, shifted so that its minimum is about 0.
//   Joint limits: sum of squared excess (radians) beyond humans::joint_limits() per angle.
//   Shape: fitted through an unconstrained latent z (9 numbers, prior 0.5 |z / sigma|^2):
//     child c = sigmoid(z3) (age = 18 - 14 c: the body's proportions depend on age only
//     below 18, so adults are all c ~ 0), height = 1.70 m * (1 - 0.41 c) * exp(0.08 z0)
//     (the adult median, and a growth curve's ratio for children, +-8 %), BMI = 22 exp(0.2 z1),
//     sex = sigmoid(z2), proportion ratios 1 + 0.15 tanh(z), whose range is the body's own
//     0.85..1.15.
// Thread safety: immutable after construction.
#pragma once

#include <torch/torch.h>

#include "recon/torch/body_model.h"

#include <array>
#include <vector>

namespace synthfarm::recon::torch_fit {

using torch::Tensor;

constexpr int kPoseSize = 69;  // joints 1..23, Euler x, y, z (radians)

// A pose sample set (rows of kPoseSize radians) drawn from the farm's motion library.
std::vector<std::array<double, kPoseSize>> farm_pose_samples();

struct Gmm {
  std::vector<double> weight;                      // K
  std::vector<std::array<double, kPoseSize>> mean;  // K
  std::vector<std::vector<double>> cholesky;       // K lower-triangular factors of the covariances, row-major
};
// EM with `components` components on `samples` (deterministic).
Gmm fit_gmm(const std::vector<std::array<double, kPoseSize>>& samples, int components);

class PosePrior {
 public:
  explicit PosePrior(const Gmm& gmm, const std::vector<std::array<double, kPoseSize>>& samples);
  // Negative log density of poses [B, 69] (>= about 0), per row [B].
  Tensor operator()(const Tensor& pose) const;
  // The mean of the training samples [69]: the starting pose of a fit.
  const Tensor& mean_pose() const { return mean_pose_; }
  int components() const { return static_cast<int>(log_weight_.size(0)); }
  // The components' means [K, 69]: starting poses for fits that may be far from the mean.
  const Tensor& component_means() const { return means_; }

 private:
  Tensor means_;       // [K, 69]
  Tensor whiten_;      // [K, 69, 69]: L^-1
  Tensor log_weight_;  // [K]: log pi - log det L, shifted
  Tensor mean_pose_;
};

// Joint-limit excess, per row [B], of Euler angles [B, 24, 3] (radians; the root is skipped).
Tensor joint_limit_penalty(const Tensor& euler);

// The shape latent (see the top of this file).
constexpr int kShapeLatentSize = 9;
Tensor shape_from_latent(const Tensor& z);  // [B, 9] -> [B, 9] humans::Shape fields
Tensor shape_prior(const Tensor& z);        // [B]
// Latent starting points: an adult and a child of about 8.
Tensor adult_latent(int64_t rows);
Tensor child_latent(int64_t rows);

}  // namespace synthfarm::recon::torch_fit
