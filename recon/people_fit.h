// Fitting the parametric body (humans/body.h) to a user's real observations: COCO
// keypoints in one image, in several calibrated views of one instant, along a tracked
// sequence, or a 3D scan. This header is the whole interface the farm sees; it names no
// LibTorch type. The fitter itself (a differentiable body model, priors and LibTorch's
// optimisers) lives in recon/torch/, a shared library (libsynthfarm_recon_torch.so) that
// programs open with plugin_people_fitter(): a worker that opens it advertises the
// fit_people task, one that cannot does not, and the coordinator never loads it.
//
// Conventions
//   Cameras are OpenCV's (x right, y down, z forward), pixels with centres at integer + 0.5,
//   as the farm's sample JSON writes K; the world is the farm's (metres, z up).
//   A fitted body is placed as the farm places bodies (jobs/people.h): the body frame
//   (left-handed, skeleton.h) is mirrored x -> -x, then turned by `global_rotation` and
//   moved by `translation`: X = global_rotation * (-p.x, p.y, p.z) + translation. The pose's
//   root (joint 0) is the identity: its orientation is all in global_rotation.
//   Determinism: the same observations give the same bits whatever the thread count.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "base/keypoints.h"
#include "base/math.h"
#include "humans/body.h"
#include "humans/skeleton.h"

namespace synthfarm::recon {

struct Intrinsics {
  double fx = 0, fy = 0, cx = 0, cy = 0;
  int width = 0, height = 0;
};

// The horizontal field of view guessed for an image without intrinsics (fit.fov_deg's
// default), degrees.
constexpr double kGuessedFovDeg = 55;

// Whether `k` holds intrinsics to use: finite, fx and fy positive.
bool usable_intrinsics(const Intrinsics& k);

// `k` when usable; else a pinhole of horizontal field of view `fov_deg` centred on the
// image of k.width x k.height, or, when the size is unknown too, on the extent of the
// labelled keypoints (v > 0) of `frames` (each 3 x 17 numbers x, y, v), three times its
// diagonal wide. One rule for the worker (fit.fov_deg) and the fitter.
Intrinsics guessed_intrinsics(const Intrinsics& k, std::span<const std::array<double, 3 * kKeypointCount>> frames,
                              double fov_deg = kGuessedFovDeg);

// A calibrated camera: intrinsics and the world-to-camera transform X_c = R X_w + t.
struct View {
  Intrinsics K;
  Mat3 rotation;  // identity by default
  Vec3 translation;
};

// COCO-17 keypoints of one person in one image: (x, y) in pixels and v (0 unlabelled,
// 1 labelled but occluded, 2 visible), in COCO order. v = 0 keypoints are ignored.
struct Keypoints {
  std::array<double, 3 * kKeypointCount> xyv{};
  int labelled() const {
    int n = 0;
    for (int k = 0; k < kKeypointCount; ++k) n += xyv[3 * k + 2] > 0 ? 1 : 0;
    return n;
  }
};

// Fewer labelled keypoints than this and a person is skipped (and counted as skipped).
inline constexpr int kMinLabelledKeypoints = 6;

struct FitResult {
  humans::Shape shape;
  std::array<Vec3, humans::kJointCount> pose_euler_deg{};  // local rotations; [0] is zero
  Mat3 global_rotation;
  Vec3 translation;
  // The fitted body's joints: camera frame for a single image, world for several views.
  std::array<Vec3, humans::kJointCount> joints{};
  // Per view, per COCO keypoint: the reprojection error in pixels; NaN where unlabelled.
  std::vector<std::array<double, kKeypointCount>> residual_px;
  double loss = 0;
  bool converged = false;  // false also for a fit that diverged (its values are then the
                           // last finite ones; never NaN)
  int iterations = 0;
  // Not fitted: fewer than kMinLabelledKeypoints labelled keypoints (or no usable camera);
  // the other fields are then defaults and converged is false.
  bool skipped = false;
};

// A scan registration: the fit, and the mean distance from the scan's points to the fitted
// body's surface, metres.
struct ScanFitResult {
  FitResult fit;
  double mean_point_to_surface_m = 0;
};

// One person in one image, to be fitted on its own. Without intrinsics (fx == 0) the
// camera is guessed from the image size and a 55-degree horizontal field of view.
struct ImagePerson {
  Keypoints keypoints;
  Intrinsics K;
};

// Thread-safe: every call may come from any thread. Each call uses the thread count the
// fitter was made with.
class PeopleFitter {
 public:
  virtual ~PeopleFitter() = default;
  // Each person on their own (batched inside for speed); one result per person.
  virtual std::vector<FitResult> fit_images(std::span<const ImagePerson> people) const = 0;
  // One person seen at one instant by several calibrated cameras (one Keypoints per view).
  virtual FitResult fit_multiview(std::span<const Keypoints> keypoints,
                                  std::span<const View> views) const = 0;
  // One tracked person along a sequence (one Keypoints per frame, a frame's keypoints may
  // all be v = 0): one shape for the whole sequence, a temporal smoothness term.
  virtual std::vector<FitResult> fit_sequence(std::span<const Keypoints> frames,
                                              const Intrinsics& K, double fps) const = 0;
  // A point cloud (or a mesh's vertices, with its triangles when given) of one person.
  virtual ScanFitResult fit_scan(std::span<const Vec3> points,
                                 std::span<const std::array<uint32_t, 3>> triangles) const = 0;
  // The BLAS LibTorch runs on and its thread count, for the start-up log.
  virtual std::string describe() const = 0;
};

// Opens the LibTorch plugin (libsynthfarm_recon_torch.so, through the program's RUNPATH as
// for the sensor plugin) on first use and makes a fitter with `threads` intra-op threads.
// An error names the library and why it did not load.
tl::expected<std::shared_ptr<const PeopleFitter>, std::string> plugin_people_fitter(int threads);

// What plugin_people_fitter() looks for. kPeopleFitterAbi changes whenever this header's
// types change, so that a stale plugin is refused instead of misread.
inline constexpr const char* kReconPluginLibrary = "libsynthfarm_recon_torch.so";
inline constexpr const char* kReconPluginFactory = "synthfarm_recon_torch_fitter";
inline constexpr int kPeopleFitterAbi = 2;
using ReconPluginFactory = void (*)(int abi, int threads,
                                    tl::expected<std::shared_ptr<const PeopleFitter>, std::string>* out);

}  // namespace synthfarm::recon
