// Small pieces shared by the sequence and scan fitters (sequence_fit.cpp, scan_fit.cpp),
// which run their own optimisation loops on body_model.h and priors.h: the shape latent's
// inverse, Adam with one learning rate per parameter, and keeping a problem's last finite
// parameters. Plugin-internal.
// Thread safety: pure functions; LastFiniteParams is a plain value owned by one fit.
#pragma once

#include <torch/torch.h>

#include <utility>
#include <vector>

#include "humans/body.h"
#include "recon/torch/priors.h"

namespace synthfarm::recon::torch_fit {

// The latent (priors.h) whose shape_from_latent is `shape`, clamped into the latent's
// range (an adult gets the adult latent's child term). [1, 9].
Tensor latent_from_shape(const humans::Shape& shape);

// Adam with one parameter group per (tensor, learning rate).
torch::optim::Adam make_grouped_adam(const std::vector<std::pair<Tensor, double>>& params);
// Sets every group's learning rate to its base times `factor`.
void scale_learning_rates(torch::optim::Adam& adam, const std::vector<double>& base, double factor);

// The parameters of a whole problem at the last step whose loss was finite.
struct LastFiniteParams {
  std::vector<Tensor> values;
  void keep(const std::vector<Tensor>& params);
  // Puts the kept values back (no-op when nothing was kept).
  void restore(const std::vector<Tensor*>& params) const;
};

// Row-major 3x3 from a [3, 3] tensor and back.
std::array<double, 9> matrix_of(const Tensor& m);

}  // namespace synthfarm::recon::torch_fit
