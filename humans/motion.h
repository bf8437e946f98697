// Procedural motion for synthfarm humans: natural static poses, a
// capsule self-intersection test, ground contact, and parametric clips (walk, run, idle,
// wave, sit-down) that produce skeleton Poses. It knows nothing of meshes or rendering and
// does not draw body shapes; callers pass the rest joints and joint radii of a built body.
//
// Conventions (see skeleton.h for the body frame, Euler angles and forward kinematics)
//   Lengths in metres, angles in degrees, times in seconds.
//   Radius of joint j: the body's surface radius around joint j (metres). A bone from a
//     joint to its child is a tapered capsule whose radius goes linearly from one end to
//     the other.
//   Floor: z = 0. The sole of each foot is approximated by three rest-pose points on the
//     floor (heel and ball carried by the ankle, toe tip carried by the toe joint), so a
//     rest-pose body has sole_height() == 0.
//   Clip phase: cycles since the start of the clip (0..1 is the first cycle; larger values
//     are later cycles of periodic clips). Joint angles are periodic in the phase; walk and
//     run also travel along +y by stride * phase unless ClipParams::in_place is set.
//     Sit is a one-shot transition: standing at phase 0, seated at phase >= 1.
//   Determinism: every value that reaches a Pose is computed with + - * / sqrt and the
//     portable_sin/portable_cos of base/math.h, so results are bit-identical on any x86-64
//     machine. All functions are pure and thread-safe.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "humans/skeleton.h"
#include "base/math.h"
#include "base/rng.h"

namespace synthfarm::humans {

using JointRadii = std::array<double, kJointCount>;  // metres

// ---- Geometry checks -------------------------------------------------------------------

// Closest points of segments [p0, p1] and [q0, q1]: parameters s, t in [0, 1] and the
// distance between p0 + s (p1 - p0) and q0 + t (q1 - q0).
struct SegmentClosest {
  double s = 0, t = 0, distance = 0;
};
SegmentClosest segment_closest(Vec3 p0, Vec3 p1, Vec3 q0, Vec3 q1);

// True when two non-adjacent body capsules (forearm or hand through the torso, head or
// thighs; leg through leg; arm through arm) interpenetrate deeper than half the smaller
// radius at the contact, beyond any overlap the pair already has in the rest pose (heavy
// bodies touch at the thighs when standing). Contact and shallow overlap are allowed.
bool self_intersects(const RestJoints& rest, const JointRadii& radius, const Pose& pose);

// Every joint's Euler angles (as matrix_to_euler would report them) within joint_limits().
// Computed without inverse trigonometry so that decisions based on it are portable.
bool within_joint_limits(const Pose& pose);

// Height of the lowest sole point of either foot above the floor (metres; 0 at rest).
double sole_height(const RestJoints& rest, const Pose& pose);
// Shifts pose.root_translation.z so that the lowest sole point touches the floor.
void place_on_floor(const RestJoints& rest, Pose& pose);

// ---- Static poses ----------------------------------------------------------------------

// A natural standing pose: arms mostly down or gesturing, mild spine bend and head turn,
// legs nearly straight (sometimes a step, sometimes a raised arm), feet on the floor,
// every angle within joint_limits(), no gross self-intersection (draws are repeated up to
// a fixed number of times, then a relaxed standing pose is returned). Deterministic in
// the rng state. root_translation.x/y are 0; z puts the lowest sole point on the floor.
Pose random_static_pose(Pcg32& rng, const RestJoints& rest, const JointRadii& radius);

// ---- Clips -----------------------------------------------------------------------------

enum class Clip { kStatic, kWalk, kRun, kIdle, kWave, kSit };
std::string_view clip_name(Clip clip);  // "static", "walk", "run", "idle", "wave", "sit"
std::optional<Clip> clip_from_name(std::string_view name);

struct ClipParams {
  double speed = 1.0;     // multiplier of the natural pace: stride and cadence each scale by
                          // sqrt(speed), so walking speed scales by `speed`. Clamped to
                          // [0.25, 3].
  double phase = 0;       // cycles since the clip started (see the header comment)
  int variant = 0;        // wave: 0 = the style's hand, 1 = the other hand
  bool in_place = false;  // walk/run: no forward travel (for single still frames)
};

// How one person moves, drawn once per identity so that every frame of every clip of
// that person is consistent. Multipliers are relative to a typical adult.
struct MotionStyle {
  double stride = 1.0;         // stride length multiplier
  double cadence = 1.0;        // steps per second multiplier
  double arm_swing = 1.0;      // arm swing amplitude multiplier
  double bounce = 1.0;         // vertical bounce multiplier (run flight height)
  double arm_out_deg = 8;      // arms away from the body when hanging
  double elbow_bend_deg = 15;  // elbow flexion when relaxed
  double lean_deg = 3;         // forward trunk lean while moving
  double head_yaw_deg = 0;     // habitual head turn
  double sway = 1.0;           // idle weight-shift amplitude multiplier
  double idle_offset = 0;      // phase offset of idle head and breathing (cycles)
  bool wave_left = false;      // waves with the left hand (variant 0)
  double wave_rate = 1.0;      // waves per second multiplier
};
MotionStyle draw_motion_style(Pcg32& rng);

// Duration of one cycle of a clip in seconds (sit: the sit-down transition), so that a
// clip sampled at times t gives phase = t / clip_cycle_seconds(...).
double clip_cycle_seconds(Clip clip, const MotionStyle& style, double speed);

// The pose of `clip` at params.phase for a person with `style` and rest joints `rest`.
// Smooth in the phase; all angles within joint_limits(). Walk, run, idle and static keep
// the lowest sole point on the floor (run adds a flight arc above it); sit keeps the
// ankles where they are at rest while the pelvis moves back and down.
Pose clip_pose(Clip clip, const ClipParams& params, const RestJoints& rest,
               const MotionStyle& style);

}  // namespace synthfarm::humans
