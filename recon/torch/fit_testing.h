// Helpers shared by recon/torch's fitting tests (fit_test.cpp, sequence_scan_test.cpp).
#pragma once

#include <array>

#include "base/math.h"
#include "recon/torch/fitter.h"

namespace synthfarm::recon::torch_fit::fit_testing {

// One fitter per thread count (1 or 2), made once per test binary.
inline const TorchPeopleFitter& shared_fitter(int threads) {
  static auto one = make_torch_fitter(1);
  static auto two = make_torch_fitter(2);
  return static_cast<const TorchPeopleFitter&>(*(threads == 1 ? one.value() : two.value()));
}

// Mean joint error after removing each set's mean (translation), metres.
inline double centred_error(const std::array<Vec3, 24>& a, const std::array<Vec3, 24>& b) {
  Vec3 ca, cb;
  for (int j = 0; j < 24; ++j) ca = ca + a[j] * (1.0 / 24), cb = cb + b[j] * (1.0 / 24);
  double e = 0;
  for (int j = 0; j < 24; ++j) e += length((a[j] - ca) - (b[j] - cb)) / 24;
  return e;
}

}  // namespace synthfarm::recon::torch_fit::fit_testing
