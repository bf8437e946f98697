// The PeopleFitter of recon/people_fit.h on LibTorch (plugin-internal): turns the
// interface's people and views into fit.h problems and back. fit_images and fit_multiview
// are in fitter.cpp; fit_sequence (sequence_fit.cpp) and fit_scan (scan_fit.cpp) each have
// their own file.
//
// Threads: LibTorch runs on one intra-op thread (at::set_num_threads(1), as the sensor
// plugin does: ATen splits large reductions by thread count, which would change bits);
// `threads` fits chunks of kChunk people side by side instead. Chunks are cut the same way
// whatever the thread count and each body's result does not depend on its batch (fit.h),
// so the same input gives the same bits for any thread count.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "recon/people_fit.h"
#include "recon/torch/fit.h"

namespace synthfarm::recon::torch_fit {

class TorchPeopleFitter final : public PeopleFitter {
 public:
  static constexpr int kChunk = 16;  // people per optimisation

  TorchPeopleFitter(int threads, std::shared_ptr<const Context> context);
  std::vector<FitResult> fit_images(std::span<const ImagePerson> people) const override;
  FitResult fit_multiview(std::span<const Keypoints> keypoints, std::span<const View> views) const override;
  std::vector<FitResult> fit_sequence(std::span<const Keypoints> frames, const Intrinsics& K,
                                      double fps) const override;
  ScanFitResult fit_scan(std::span<const Vec3> points,
                         std::span<const std::array<uint32_t, 3>> triangles) const override;
  std::string describe() const override;

  const Context& context() const { return *context_; }

 private:
  int threads_;
  std::shared_ptr<const Context> context_;
};

// Builds the context (body model, pose prior fitted by EM) and the fitter.
tl::expected<std::shared_ptr<const PeopleFitter>, std::string> make_torch_fitter(int threads);

// A result for a person that was not fitted (skipped, or not supported yet).
FitResult skipped_result(size_t views);

// The interface's result from a fitted body (as fit_images makes it): canonical Euler
// ranges, any non-finite number replaced by a default and the fit then not converged.
FitResult fit_result_of(const BodyResult& body);

}  // namespace synthfarm::recon::torch_fit
