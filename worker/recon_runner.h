// The work units of reconstruction jobs (task fit_people or fuse_depth, docs/recon.md),
// run by the same claim loop, leases, fences and uploads as render samples: a unit is to a
// reconstruction job what a sample is to a render job. For each unit the runner reads the
// job's inputs (each parsed once per process, through the storage reader), cuts them into
// units as the coordinator did when it counted them, runs the fitter (recon/people_fit.h,
// the LibTorch plugin) and returns the unit's objects:
//   fits/{unit:08d}.json   the fitted people of the unit: per person the shape, the pose,
//                          global rotation and translation, the 3D joints, per-keypoint
//                          residuals in pixels, the final loss and a convergence flag.
//   clips/{unit:08d}.bvh   (fit mode sequence) the track's motion as a BVH clip of the
//                          person's own skeleton (recon/fit_clip.h), for humans.bvh;
//   meshes/{unit:08d}.glb  (fuse_depth) the capture's closed fused mesh as binary glTF, with
//                          vertex colours when the capture has colour and fusion.colour;
//   meshes/{unit:08d}.json its summary: views, blocks, vertices, triangles, bounds.
// A bad input fails the unit with the file and the element named, and nothing is stored
// for it; a fit that diverges is stored as not converged, never as NaN.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "jobs/sample.h"
#include "jobs/spec.h"
#include "recon/people_fit.h"

namespace synthfarm::worker {

struct UnitObjects {
  std::vector<std::pair<std::string, std::string>> objects;  // (storage key, bytes)
  double mean_residual_px = -1;  // over the unit's labelled keypoints, for telemetry; -1: none
};

class ReconRunner {
 public:
  // `fitter` may be null: such a worker does not advertise fit_people (tasks()). `threads`
  // fuse depth (0: all cores).
  ReconRunner(std::shared_ptr<const recon::PeopleFitter> fitter, jobs::AssetReader read_input, int threads);
  ~ReconRunner();

  // The reconstruction tasks this worker can run.
  std::vector<std::string> tasks() const;

  // Unit `unit` of `spec` (spec.reconstruction()). Thread-safe.
  tl::expected<UnitObjects, std::string> run(const jobs::JobSpec& spec, uint64_t unit) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace synthfarm::worker
