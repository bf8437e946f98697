// The priors of fitting (priors.h): the pose samples from the farm's motion library, EM for
// the Gaussian mixture, its log density in LibTorch, joint limits and the shape latent.
#include "recon/torch/priors.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/rng.h"
#include "humans/body.h"
#include "humans/motion.h"
#include "humans/skeleton.h"

namespace synthfarm::recon::torch_fit {
namespace {

constexpr int D = kPoseSize;
using Sample = std::array<double, D>;

constexpr double kDiagonalRegulariser = 0.0523598775598298873 * 0.0523598775598298873;  // (3 deg)^2

Sample euler_of(const humans::Pose& pose) {
  Sample s{};
  for (int j = 1; j < humans::kJointCount; ++j) {
    const Vec3 e = humans::matrix_to_euler(pose.local[j]);
    s[3 * (j - 1) + 0] = deg_to_rad(e.x);
    s[3 * (j - 1) + 1] = deg_to_rad(e.y);
    s[3 * (j - 1) + 2] = deg_to_rad(e.z);
  }
  return s;
}

double squared_distance(const Sample& a, const Sample& b) {
  double d = 0;
  for (int i = 0; i < D; ++i) d += (a[i] - b[i]) * (a[i] - b[i]);
  return d;
}

// In-place lower Cholesky factor of a symmetric positive definite D x D matrix (row-major).
void cholesky(std::vector<double>& a) {
  for (int i = 0; i < D; ++i) {
    for (int j = 0; j <= i; ++j) {
      double s = a[i * D + j];
      for (int k = 0; k < j; ++k) s -= a[i * D + k] * a[j * D + k];
      a[i * D + j] = i == j ? std::sqrt(std::max(s, 1e-300)) : s / a[j * D + j];
    }
    for (int j = i + 1; j < D; ++j) a[i * D + j] = 0;
  }
}

// |L^-1 d|^2 by forward substitution.
double mahalanobis(const std::vector<double>& l, const Sample& d) {
  std::array<double, D> y{};
  double m = 0;
  for (int i = 0; i < D; ++i) {
    double s = d[i];
    for (int k = 0; k < i; ++k) s -= l[i * D + k] * y[k];
    y[i] = s / l[i * D + i];
    m += y[i] * y[i];
  }
  return m;
}

// Weighted mean and covariance (+ the regulariser) of the samples; returns the weight sum.
double moments(const std::vector<Sample>& x, const std::vector<double>& r, Sample& mean,
               std::vector<double>& cov) {
  double total = 0;
  mean.fill(0);
  for (size_t n = 0; n < x.size(); ++n) {
    total += r[n];
    for (int i = 0; i < D; ++i) mean[i] += r[n] * x[n][i];
  }
  const double inv = total > 0 ? 1.0 / total : 0.0;
  for (double& m : mean) m *= inv;
  cov.assign(D * D, 0.0);
  Sample d;
  for (size_t n = 0; n < x.size(); ++n) {
    if (r[n] == 0) continue;
    for (int i = 0; i < D; ++i) d[i] = x[n][i] - mean[i];
    for (int i = 0; i < D; ++i) {
      const double ri = r[n] * d[i];
      for (int j = 0; j <= i; ++j) cov[i * D + j] += ri * d[j];
    }
  }
  for (int i = 0; i < D; ++i) {
    for (int j = 0; j <= i; ++j) cov[i * D + j] *= inv;
    cov[i * D + i] += kDiagonalRegulariser;
    for (int j = 0; j < i; ++j) cov[j * D + i] = cov[i * D + j];
  }
  return total;
}

}  // namespace

std::vector<Sample> farm_pose_samples() {
  std::vector<humans::Shape> shapes(4);
  shapes[1].age = 6, shapes[1].height_m = 1.15;
  shapes[2].sex = 1, shapes[2].height_m = 1.9, shapes[2].bmi = 27;
  shapes[3].sex = 0, shapes[3].height_m = 1.6, shapes[3].bmi = 32;
  std::vector<humans::RestBody> bodies;
  for (const humans::Shape& s : shapes) bodies.push_back(humans::build_rest_body(s));
  std::vector<Sample> out;
  for (size_t b = 0; b < bodies.size(); ++b) {
    Pcg32 rng(0x5eedf17, b);
    for (int i = 0; i < 100; ++i) out.push_back(euler_of(humans::random_static_pose(rng, bodies[b].joints, bodies[b].radius)));
  }
  using humans::Clip;
  for (Clip clip : {Clip::kWalk, Clip::kRun, Clip::kIdle, Clip::kWave, Clip::kSit}) {
    for (int style_index = 0; style_index < 8; ++style_index) {
      Pcg32 rng(0x5771e, static_cast<uint64_t>(style_index));
      const humans::MotionStyle style = humans::draw_motion_style(rng);
      const humans::RestBody& body = bodies[style_index % bodies.size()];
      for (int variant = 0; variant < (clip == Clip::kWave ? 2 : 1); ++variant) {
        for (int p = 0; p < 16; ++p) {
          humans::ClipParams params;
          // Sit is a transition: standing at 0, seated from 1 on.
          params.phase = clip == Clip::kSit ? 1.25 * p / 15.0 : p / 16.0;
          params.variant = variant;
          params.in_place = true;
          out.push_back(euler_of(humans::clip_pose(clip, params, body.joints, style)));
        }
      }
    }
  }
  return out;
}

Gmm fit_gmm(const std::vector<Sample>& x, int k_count) {
  const size_t n = x.size();
  // Farthest-point seeding from the sample nearest the mean, then k-means.
  Sample mean{};
  for (const Sample& s : x)
    for (int i = 0; i < D; ++i) mean[i] += s[i] / double(n);
  std::vector<Sample> centre;
  size_t first = 0;
  for (size_t i = 1; i < n; ++i)
    if (squared_distance(x[i], mean) < squared_distance(x[first], mean)) first = i;
  centre.push_back(x[first]);
  std::vector<double> nearest(n, std::numeric_limits<double>::infinity());
  while (static_cast<int>(centre.size()) < k_count) {
    size_t best = 0;
    for (size_t i = 0; i < n; ++i) {
      nearest[i] = std::min(nearest[i], squared_distance(x[i], centre.back()));
      if (nearest[i] > nearest[best]) best = i;
    }
    centre.push_back(x[best]);
  }
  std::vector<int> label(n, 0);
  for (int iteration = 0; iteration < 10; ++iteration) {
    for (size_t i = 0; i < n; ++i) {
      for (int k = 1; k < k_count; ++k)
        if (squared_distance(x[i], centre[k]) < squared_distance(x[i], centre[label[i]])) label[i] = k;
    }
    for (int k = 0; k < k_count; ++k) {
      Sample c{};
      int count = 0;
      for (size_t i = 0; i < n; ++i)
        if (label[i] == k) {
          ++count;
          for (int d = 0; d < D; ++d) c[d] += x[i][d];
        }
      if (count > 0)
        for (int d = 0; d < D; ++d) centre[k][d] = c[d] / count;
    }
  }
  // Responsibilities from the k-means labels, then EM.
  std::vector<std::vector<double>> r(k_count, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i) r[label[i]][i] = 1;
  Gmm g;
  g.weight.resize(k_count);
  g.mean.resize(k_count);
  g.cholesky.resize(k_count);
  for (int step = 0; step <= 10; ++step) {
    for (int k = 0; k < k_count; ++k) {
      const double total = moments(x, r[k], g.mean[k], g.cholesky[k]);
      g.weight[k] = std::max(total / double(n), 1e-6);
      cholesky(g.cholesky[k]);
    }
    if (step == 10) break;
    std::vector<double> log_p(k_count);
    for (size_t i = 0; i < n; ++i) {
      double top = -std::numeric_limits<double>::infinity();
      for (int k = 0; k < k_count; ++k) {
        Sample d;
        for (int c = 0; c < D; ++c) d[c] = x[i][c] - g.mean[k][c];
        double log_det = 0;
        for (int c = 0; c < D; ++c) log_det += std::log(g.cholesky[k][c * D + c]);
        log_p[k] = std::log(g.weight[k]) - log_det - 0.5 * mahalanobis(g.cholesky[k], d);
        top = std::max(top, log_p[k]);
      }
      double sum = 0;
      for (int k = 0; k < k_count; ++k) sum += std::exp(log_p[k] - top);
      // Negligible responsibilities are dropped, so the M-step skips those samples.
      for (int k = 0; k < k_count; ++k) {
        const double rk = std::exp(log_p[k] - top) / sum;
        r[k][i] = rk < 1e-9 ? 0.0 : rk;
      }
    }
  }
  return g;
}

PosePrior::PosePrior(const Gmm& g, const std::vector<Sample>& samples) {
  const int64_t k_count = static_cast<int64_t>(g.weight.size());
  means_ = torch::empty({k_count, D}, kF64);
  whiten_ = torch::zeros({k_count, D, D}, kF64);
  log_weight_ = torch::empty({k_count}, kF64);
  auto mean = means_.accessor<double, 2>();
  auto white = whiten_.accessor<double, 3>();
  auto logw = log_weight_.accessor<double, 1>();
  for (int64_t k = 0; k < k_count; ++k) {
    const std::vector<double>& l = g.cholesky[k];
    double log_det = 0;
    for (int i = 0; i < D; ++i) {
      mean[k][i] = g.mean[k][i];
      log_det += std::log(l[i * D + i]);
    }
    logw[k] = std::log(g.weight[k]) - log_det;
    // L^-1, column by column (forward substitution on the identity).
    for (int c = 0; c < D; ++c) {
      for (int i = c; i < D; ++i) {
        double s = i == c ? 1.0 : 0.0;
        for (int m = c; m < i; ++m) s -= l[i * D + m] * white[k][m][c];
        white[k][i][c] = s / l[i * D + i];
      }
    }
  }
  log_weight_ -= log_weight_.max();
  mean_pose_ = torch::zeros({D}, kF64);
  auto mp = mean_pose_.accessor<double, 1>();
  for (const Sample& s : samples)
    for (int i = 0; i < D; ++i) mp[i] += s[i] / double(samples.size());
}

Tensor PosePrior::operator()(const Tensor& pose) const {
  const Tensor d = pose.unsqueeze(1) - means_;                          // [B, K, 69]
  const Tensor y = torch::matmul(whiten_, d.unsqueeze(-1)).squeeze(-1);  // [B, K, 69]
  return -torch::logsumexp(log_weight_ - 0.5 * (y * y).sum(-1), 1);
}

Tensor joint_limit_penalty(const Tensor& euler) {
  static const std::array<Tensor, 2> bounds = [] {
    Tensor lo = torch::empty({humans::kJointCount, 3}, kF64), hi = torch::empty({humans::kJointCount, 3}, kF64);
    const auto& limits = humans::joint_limits();
    for (int j = 0; j < humans::kJointCount; ++j) {
      const humans::JointLimit& l = limits[j];
      for (int a = 0; a < 3; ++a) {
        lo[j][a] = deg_to_rad(a == 0 ? l.min_deg.x : a == 1 ? l.min_deg.y : l.min_deg.z);
        hi[j][a] = deg_to_rad(a == 0 ? l.max_deg.x : a == 1 ? l.max_deg.y : l.max_deg.z);
      }
    }
    return std::array<Tensor, 2>{lo.narrow(0, 1, humans::kJointCount - 1),
                                 hi.narrow(0, 1, humans::kJointCount - 1)};
  }();
  const Tensor e = euler.narrow(1, 1, humans::kJointCount - 1);
  const Tensor excess = torch::relu(bounds[0] - e) + torch::relu(e - bounds[1]);
  return (excess * excess).sum({1, 2});
}

namespace {
// Prior scales of the latent: sigma per entry, and the centre of the child entry.
const double kLatentSigma[kShapeLatentSize] = {1.0, 1.0, 2.0, 3.0, 0.4, 0.4, 0.4, 0.4, 0.4};
constexpr double kAdultChild = -4.0, kChildChild = 1.0;
}  // namespace

Tensor shape_from_latent(const Tensor& z) {
  const Tensor child = torch::sigmoid(z.select(1, 3));
  const Tensor height = 1.70 * (1.0 - 0.41 * child) * torch::exp(0.08 * z.select(1, 0));
  const Tensor bmi = 22.0 * torch::exp(0.2 * z.select(1, 1));
  const Tensor sex = torch::sigmoid(z.select(1, 2));
  const Tensor age = 18.0 - 14.0 * child;
  const Tensor ratios = 1.0 + 0.15 * torch::tanh(z.narrow(1, 4, 5));
  return torch::cat({torch::stack({height, bmi, sex, age}, 1), ratios}, 1);
}

Tensor shape_prior(const Tensor& z) {
  static const Tensor sigma = torch::tensor(std::vector<double>(kLatentSigma, kLatentSigma + kShapeLatentSize), kF64);
  static const Tensor centre = torch::tensor({0.0, 0.0, 0.0, kAdultChild, 0.0, 0.0, 0.0, 0.0, 0.0}, kF64);
  const Tensor u = (z - centre) / sigma;
  return 0.5 * (u * u).sum(1);
}

Tensor adult_latent(int64_t rows) {
  Tensor z = torch::zeros({rows, kShapeLatentSize}, kF64);
  z.select(1, 3).fill_(kAdultChild);
  return z;
}

Tensor child_latent(int64_t rows) {
  Tensor z = torch::zeros({rows, kShapeLatentSize}, kF64);
  z.select(1, 3).fill_(kChildChild);
  return z;
}

}  // namespace synthfarm::recon::torch_fit
