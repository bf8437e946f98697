// A fitted sequence (PeopleFitter::fit_sequence, people_fit.h) as a clip of synthfarm's
// skeleton, ready for humans::write_bvh: what makes a real motion animate synthetic people
// through `humans.bvh`. No LibTorch: the farm's finalizer and tests call it directly.
//
// Conventions
//   Rest joints: humans::build_rest_body(shape).joints, the fitted person's own skeleton.
//   Joints 1..23: the frame's pose_euler_deg, as local rotations (skeleton.h).
//   Root: the fit places the body frame as X = R(t) M p + T(t) (M the x-mirror, people_fit.h),
//     in the camera's frame for a single camera. The clip's body frame is frame 0's:
//       root rotation    Q(t) = M R(0)^T R(t) M            (identity at frame 0),
//       root translation M R(0)^T (pelvis(t) - pelvis(0))  (zero at frame 0),
//     so the camera's tilt and the person's placement in frame 0 drop out, and a person
//     walking towards any direction walks forward (+y) in the clip.
//   Skipped frames (fit_sequence skips frames only when the whole track is unfittable) hold
//     the nearest earlier fitted frame (the first fitted frame for leading ones).
// Thread-safe: a pure function.
#pragma once

#include <span>
#include <string>

#include <tl/expected.hpp>

#include "humans/body.h"
#include "humans/bvh_writer.h"
#include "recon/people_fit.h"

namespace synthfarm::recon {

// Errors: no frames, no fitted frame, fps not positive and finite, a non-finite rotation or
// joint in a fitted frame ("frame 12: the global rotation is not finite").
tl::expected<humans::BvhClip, std::string> clip_from_fits(std::span<const FitResult> frames,
                                                          const humans::Shape& shape, double fps);

}  // namespace synthfarm::recon
