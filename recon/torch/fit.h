// Fitting the differentiable body (body_model.h) to COCO keypoints seen by calibrated
// cameras: the optimisation behind PeopleFitter::fit_images and fit_multiview. One problem
// holds several bodies and any number of observations (a body seen in one view); all
// bodies are fitted at once as one optimisation of a summed loss (LibTorch's per-operation
// cost is paid once per batch), and since Adam's updates are per parameter, each body's
// result does not depend on the others in its batch.
//
// Choices (SMPLify's recipe on this body)
//   Parameters per body: global rotation (axis-angle on top of a starting rotation),
//     translation, the 23 non-root joints' Euler angles (priors.h), the shape latent.
//   Data term: per labelled keypoint (v > 0) the Geman-McClure penalty
//     sigma^2 r^2 / (sigma^2 + r^2), sigma = 100, of the reprojection error r in pixels scaled
//     to a person 400 px tall (so that the priors weigh the same for near and far people);
//     weight 1 for v = 2, 0.7 for v = 1.
//   Start: depth from the torso's length in pixels (or the labelled keypoints' extent) and
//     an average body, the hip centre back-projected (several views: triangulated).
//   Stage 1 (global): 8 hypotheses per body, facing 4 directions 90 degrees apart (front
//     and back as SMPLify, and both sides) x adult or child proportions, pose at the prior's
//     mean; rotation and translation only, limbs down-weighted, a term holding the start
//     depth (one view); the hypothesis with the lowest loss is kept.
//   Stage 2: pose, shape, rotation and translation together, in three rounds of decreasing
//     prior weights (pose prior, joint limits, shape prior), Adam with a decaying step.
//   Convergence: finite, and the loss changed by less than 1 % (+ 1 canonical px^2) over the
//     last 15 steps. A
//     body whose loss stops being finite is reported with its last finite parameters and not
//     converged.
// Thread safety: fit() may run concurrently on one Context.
#pragma once

#include <array>
#include <vector>

#include "recon/torch/body_model.h"
#include "recon/torch/priors.h"

namespace synthfarm::recon::torch_fit {

struct Context {
  BodyModel body;
  PosePrior pose_prior;
};

// A camera: X_c = rotation X_w + translation, row-major rotation; pixels u = fx x/z + cx.
struct Camera {
  std::array<double, 9> rotation{1, 0, 0, 0, 1, 0, 0, 0, 1};
  std::array<double, 3> translation{};
  double fx = 0, fy = 0, cx = 0, cy = 0;
};

struct Observation {
  int body = 0;
  Camera camera;
  std::array<double, 51> xyv{};  // COCO-17 (x, y, v)
};

struct Problem {
  int bodies = 0;
  std::vector<Observation> observations;
  // true: the bodies stand upright in the cameras' world (+z up), as the farm's; false: a
  // single camera's frame is the world and the person stands roughly upright in the image.
  bool world_z_up = false;
};

struct BodyResult {
  std::array<double, 9> shape{};  // humans::Shape fields
  std::array<std::array<double, 3>, 24> euler_rad{};  // [0] zero
  std::array<double, 9> global_rotation{};  // row-major
  std::array<double, 3> translation{};
  std::array<std::array<double, 3>, 24> joints{};  // world
  std::vector<std::array<double, 17>> residual_px;  // per observation of this body; NaN for v = 0
  double loss = 0;
  bool converged = false;
  int iterations = 0;
};

std::vector<BodyResult> fit(const Context& context, const Problem& problem);

}  // namespace synthfarm::recon::torch_fit
