// PeopleFitter::fit_sequence (people_fit.h): one shape for a tracked person along a
// sequence, with a temporal smoothness term. Not written yet: every frame comes back
// skipped (not fitted). Its place is here, on fit.h's machinery.
#include "recon/torch/fitter.h"

namespace synthfarm::recon::torch_fit {

std::vector<FitResult> TorchPeopleFitter::fit_sequence(std::span<const Keypoints> frames, const Intrinsics&,
                                                       double) const {
  return std::vector<FitResult>(frames.size(), skipped_result(1));
}

}  // namespace synthfarm::recon::torch_fit
