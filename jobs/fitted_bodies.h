// Bodies learnt from real data: the poses.jsonl and shapes.jsonl a fit_people job writes
// (docs/recon.md), read for a render spec's humans.poses and humans.shapes. Each person of
// a sample draws one line: a fitted pose replaces the procedural pose (the person stands
// still in it), a fitted shape replaces the shape fields' draws. Lines of fits that did
// not converge are skipped, so a dataset never learns from a failed fit.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "base/math.h"
#include "humans/body.h"
#include "humans/skeleton.h"

namespace synthfarm::jobs {

struct FittedPose {
  std::array<Vec3, humans::kJointCount> euler_deg{};  // local rotations (skeleton.h); [0] zero
  std::string source;                                 // "<file>:<line>", for the sample JSON
};

struct FittedShape {
  humans::Shape shape;
  std::string source;
};

// Every converged line of a poses.jsonl / shapes.jsonl. `name` (the file's URI) starts
// every error, with the line and the field: "poses.jsonl:7: pose.left_knee: expected
// [x, y, z] in degrees". A file with no converged line is an error too.
tl::expected<std::vector<FittedPose>, std::string> parse_fitted_poses(std::string_view text,
                                                                      const std::string& name);
tl::expected<std::vector<FittedShape>, std::string> parse_fitted_shapes(std::string_view text,
                                                                        const std::string& name);

}  // namespace synthfarm::jobs
