// PeopleFitter::fit_scan (people_fit.h): registering the body to a scan's points. Not
// written yet: the result comes back skipped (not fitted). Its place is here.
#include "recon/torch/fitter.h"

namespace synthfarm::recon::torch_fit {

ScanFitResult TorchPeopleFitter::fit_scan(std::span<const Vec3>, std::span<const std::array<uint32_t, 3>>) const {
  ScanFitResult r;
  r.fit = skipped_result(0);
  return r;
}

}  // namespace synthfarm::recon::torch_fit
