// The parametric human body of synthfarm: one fixed triangle mesh
// topology shared by every person, a shape (height, BMI, sex, age, proportions) that moves
// its vertices, and linear blend skinning onto a posed skeleton (skeleton.h). It knows
// nothing of clothing or colour (appearance.h) nor of scenes and rendering.
//
// How the mesh is made
//   A neutral rest body (Shape{}) is described by 26 primitives: tapered capsules with
//   elliptical cross-sections (and two ellipsoids, the skull and the nose) along the bones.
//   Their smooth union is polygonised ONCE by marching tetrahedra, welded, relaxed and
//   projected back onto the surface. Every template vertex is then bound to up to four
//   primitives by local coordinates (the parameter along the primitive's axis and the
//   offset from the axis divided by the primitive's semi-axes). A Shape rebuilds the
//   primitives with new lengths and radii and every vertex is rebuilt from its bindings:
//   same vertices, same triangles, smooth deformation.
//
// Conventions
//   Body frame, rest pose and skinning as in skeleton.h: metres, +x the person's left, +y
//     forward, +z up, soles on z = 0, pelvis above the origin, A-pose.
//   Height: sole to the top of the head, met exactly (a final uniform scale).
//   Triangles wind counter-clockwise seen from outside in the (left-handed) body frame:
//     cross(b - a, c - a) points out of the body.
//   DensePose parts (1..24), "front" = the side facing +y (forward) in the rest pose, "back"
//     the side facing -y; for the arms that is the side facing forward in the A-pose. The
//     neck belongs to the head parts.
//        1 torso back            2 torso front           3 right hand          4 left hand
//        5 left foot             6 right foot            7 upper leg right back
//        8 upper leg left back   9 upper leg right front 10 upper leg left front
//       11 lower leg right back 12 lower leg left back  13 lower leg right front
//       14 lower leg left front 15 upper arm left front 16 upper arm right front
//       17 upper arm left back  18 upper arm right back 19 lower arm left front
//       20 lower arm right front 21 lower arm left back 22 lower arm right back
//       23 head right (x < 0)   24 head left (x >= 0)
//   Part surface coordinates (u, v), both in [0, 1]: v runs along the part's bone from the
//     proximal end (0) to the distal end (1): torso from the crotch to the base of the neck,
//     head from the base of the neck to the top of the skull, upper arm shoulder -> elbow,
//     lower arm elbow -> wrist, hand wrist -> fingertips, upper leg hip -> knee, lower leg
//     knee -> ankle, foot heel -> toe tip. u is the angle around the bone, measured from
//     the bone's reference side e1 (the person's left for the torso, the -x side of the
//     legs, the underside of the arms in the A-pose): for front/back parts it runs over the
//     half from the e1 edge (0) to the opposite edge (1); for the head halves from the face
//     (0) to the back (1); for the hands and feet once around (0..1, the seam on the side
//     opposite e1). A triangle's corners use its own part, clamped to that part's range.
//   Determinism: build_rest_body() and skin() use only + - * / sqrt, so a shape and a pose
//     give the same bits on any x86-64 machine. topology() is built once (any deterministic
//     maths) and is identical on every run.
//   Thread safety: every function is pure; topology() is built once, thread-safely, on the
//     first call and is read-only afterwards.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "humans/skeleton.h"
#include "base/math.h"

namespace synthfarm::humans {

// Body shape. Values outside the valid ranges are clamped by build_rest_body().
struct Shape {
  double height_m = 1.70;  // 0.9..2.1 (adults typically 1.45..2.05)
  double bmi = 22;         // kg/m^2, 17..40 typical; 12..60 accepted. Girth only, never height
  double sex = 0.5;        // 0 female .. 1 male (a blend of proportions)
  double age = 30;  // years, 2..100: <= 4 full child proportions (bigger head, shorter legs,
                    // narrower shoulders), >= 18 adult, blended between
  // Proportion ratios, each 0.85..1.15 (1 = typical for the sex and age).
  double shoulder_width = 1, hip_width = 1, leg_length = 1, arm_length = 1, head_size = 1;

  Shape clamped() const;
};

// DensePose body parts, 1..24 (see the table above).
constexpr int kPartCount = 24;

// Body regions for clothing.
enum class Region : uint8_t {
  kTorso,
  kNeck,
  kHead,
  kUpperArm,
  kForearm,
  kHand,
  kThigh,
  kShin,
  kFoot,
};

// Where a template vertex is on the body, for clothing.
struct VertexRegion {
  Region region = Region::kTorso;
  int8_t side = 0;  // +1 the person's left, -1 right, 0 the midline (torso, neck, head)
  // Position along the region's limb chain, continuous across joints:
  //   torso 0 (crotch) .. 1 (base of the neck); neck and head 0 (base of the neck) .. 1
  //   (top of the skull); arms 0 shoulder, 1 elbow, 2 wrist, 3 fingertips; legs 0 hip,
  //   1 knee, 2 ankle, 3 toe tip.
  float chain = 0;
};

// Up to four (joint, weight) pairs; weights sum to 1, unused slots have weight 0.
struct SkinWeights {
  std::array<uint8_t, 4> joint{};
  std::array<double, 4> weight{};
};

// COCO face keypoints, in COCO order.
enum class FaceKeypoint : int { kNose, kLeftEye, kRightEye, kLeftEar, kRightEar };

// The mesh topology and labels shared by every body.
struct Topology {
  uint32_t vertex_count = 0;
  std::vector<std::array<uint32_t, 3>> triangles;
  std::vector<SkinWeights> weights;       // per vertex, joints of skeleton.h
  std::vector<uint8_t> vertex_part;       // per vertex, 1..24
  std::vector<std::array<float, 2>> vertex_uv;  // per vertex (u, v) in its own part
  std::vector<uint8_t> triangle_part;     // per triangle, 1..24
  std::vector<std::array<float, 6>> corner_uv;  // per triangle (u0, v0, u1, v1, u2, v2)
  std::vector<VertexRegion> regions;      // per vertex
  std::array<uint32_t, 5> face_keypoints{};  // vertex index, FaceKeypoint order

  // Bytes held by this topology plus the shape binding behind it.
  size_t memory_bytes() const;
};

// The topology, built on first use (~0.7 s) and shared read-only afterwards.
const Topology& topology();

// One body in its rest pose.
struct RestBody {
  std::vector<Vec3> vertices;  // topology().vertex_count, metres, body frame
  RestJoints joints;
  // Body surface radius around each joint (metres): the mean cross-section radius of the
  // body there, for keypoint visibility and self-intersection tests.
  std::array<double, kJointCount> radius{};
  Shape shape;  // as used (clamped)
};

RestBody build_rest_body(const Shape& shape);

// Linear blend skinning of any mesh bound to the skeleton (the body or an extra mesh):
//   x' = sum_k w_k * (G[j_k] * (x - rest[j_k]) + p[j_k]).
// `out` is resized to rest_vertices.size().
void skin_vertices(std::span<const Vec3> rest_vertices, std::span<const SkinWeights> weights,
                   const RestJoints& rest_joints, const Posed& posed, std::vector<Vec3>& out);
// The posed body mesh.
void skin(const RestBody& body, const Posed& posed, std::vector<Vec3>& out);

// COCO body keypoints 5..16 (shoulders, elbows, wrists, hips, knees, ankles; COCO order)
// and the skeleton joints they sit at.
constexpr std::array<Joint, 12> kBodyKeypointJoints = {
    Joint::kLeftShoulder, Joint::kRightShoulder, Joint::kLeftElbow, Joint::kRightElbow,
    Joint::kLeftWrist,    Joint::kRightWrist,    Joint::kLeftHip,   Joint::kRightHip,
    Joint::kLeftKnee,     Joint::kRightKnee,     Joint::kLeftAnkle, Joint::kRightAnkle};
// How far under the skin a face keypoint lies, towards the head joint, metres.
constexpr double kFaceKeypointDepth = 0.012;

// The 17 COCO person keypoints of a posed body, in its frame, COCO order: the five face
// points (topology().face_keypoints: nose, eyes, ears) kFaceKeypointDepth under the skin
// towards the head joint, so that one seen at the silhouette (a nose in profile) still
// projects onto the face; the twelve body points at their joints' centres. `vertices`: the
// posed body mesh (skin()) of `posed`. The labels of every rendered person (jobs/people.h)
// and the fitter's model of them (recon/torch/body_model.h) are this.
std::array<Vec3, 17> coco_keypoints(std::span<const Vec3> vertices, const Posed& posed);

// Outward normals of a mesh (area-weighted vertex normals, unit length).
std::vector<Vec3> vertex_normals(std::span<const Vec3> vertices,
                                 std::span<const std::array<uint32_t, 3>> triangles);

}  // namespace synthfarm::humans
