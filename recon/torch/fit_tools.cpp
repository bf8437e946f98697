// The helpers of fit_tools.h.
#include "recon/torch/fit_tools.h"

#include <algorithm>
#include <cmath>

namespace synthfarm::recon::torch_fit {

Tensor latent_from_shape(const humans::Shape& raw) {
  const humans::Shape s = raw.clamped();
  auto logit = [](double p) {
    p = std::clamp(p, 1e-3, 1 - 1e-3);
    return std::log(p / (1 - p));
  };
  auto atanh_ratio = [](double r) { return std::atanh(std::clamp((r - 1) / 0.15, -0.995, 0.995)); };
  Tensor z = adult_latent(1);
  auto a = z.accessor<double, 2>();
  const double child = s.age >= 18 ? 1.0 / (1.0 + std::exp(-a[0][3])) : std::clamp((18 - s.age) / 14, 1e-3, 1 - 1e-3);
  if (s.age < 18) a[0][3] = logit(child);
  a[0][0] = std::log(s.height_m / (1.70 * (1 - 0.41 * child))) / 0.08;
  a[0][1] = std::log(s.bmi / 22) / 0.2;
  a[0][2] = logit(s.sex);
  const double ratios[5] = {s.shoulder_width, s.hip_width, s.leg_length, s.arm_length, s.head_size};
  for (int k = 0; k < 5; ++k) a[0][4 + k] = atanh_ratio(ratios[k]);
  return z;
}

torch::optim::Adam make_grouped_adam(const std::vector<std::pair<Tensor, double>>& params) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (const auto& [p, lr] : params)
    groups.emplace_back(std::vector<Tensor>{p}, std::make_unique<torch::optim::AdamOptions>(lr));
  return torch::optim::Adam(groups, torch::optim::AdamOptions(0.01));
}

void scale_learning_rates(torch::optim::Adam& adam, const std::vector<double>& base, double factor) {
  for (size_t i = 0; i < adam.param_groups().size(); ++i)
    static_cast<torch::optim::AdamOptions&>(adam.param_groups()[i].options()).lr(base[i] * factor);
}

void LastFiniteParams::keep(const std::vector<Tensor>& params) {
  values.resize(params.size());
  for (size_t i = 0; i < params.size(); ++i) values[i] = params[i].detach().clone();
}

void LastFiniteParams::restore(const std::vector<Tensor*>& params) const {
  if (values.size() != params.size()) return;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) params[i]->copy_(values[i]);
}

std::array<double, 9> matrix_of(const Tensor& m) {
  const Tensor c = m.contiguous();
  auto a = c.accessor<double, 2>();
  std::array<double, 9> out{};
  for (int i = 0; i < 9; ++i) out[i] = a[i / 3][i % 3];
  return out;
}

}  // namespace synthfarm::recon::torch_fit
