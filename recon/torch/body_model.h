// The parametric body of humans/body.h as LibTorch operations, batched over B people and in
// double precision, so that fitting can differentiate through it: a Shape's primitives
// (humans/body_geometry.cpp re-expressed term by term, with Shape::clamped's clamps), the
// rest joints and any subset of the template's vertices (rebuilt from the bindings of
// humans/body_binding.h, shifted and scaled to the exact height), forward kinematics,
// linear blend skinning and the farm's COCO keypoints (jobs/people.cpp: 5 face keypoints =
// template vertices 12 mm under the skin towards the head joint, 12 body keypoints = joint
// centres). It matches the C++ body to ~1e-12 m (recon_torch_test checks 1e-5 m).
//
// Choices
//   Pose: per joint the skeleton's own Euler angles (R = Rz Ry Rx, skeleton.h), in radians.
//     This is the farm's pose convention, joint limits are then boxes on the parameters
//     and the pose prior is fitted on the very numbers the farm draws. Gimbal lock (y = +-90,
//     reached only by a raised shoulder) makes the parametrisation degenerate there, never
//     singular: forward kinematics stays smooth.
//   Height scale: the C++ body takes min and max z over all vertices; fitting uses only the
//     vertices that can be extreme (`extremes`: template vertices within 1 % of the height of
//     the soles or the skull top), which gives the same scale for every clamped shape
//     (checked by the test against all vertices).
// Thread safety: a BodyModel is immutable after create(); its methods may run concurrently.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <vector>

#include "humans/body.h"

namespace synthfarm::recon::torch_fit {

using torch::Tensor;

// Every tensor of the fitter is double precision; indices are 64-bit.
inline const torch::TensorOptions kF64 = torch::TensorOptions().dtype(torch::kFloat64);
inline const torch::TensorOptions kI64 = torch::TensorOptions().dtype(torch::kInt64);

// Shape tensors: [B, 9] in humans::Shape's field order.
constexpr int kShapeSize = 9;
enum ShapeField : int { kHeight, kBmi, kSex, kAge, kShoulder, kHip, kLeg, kArm, kHead };

// A subset of the template's vertices, with what rebuilding and skinning them needs.
struct VertexSet {
  Tensor index;        // [V] long: template vertex indices
  Tensor prim;         // [V, 4] long
  Tensor bind_weight;  // [V, 4]
  Tensor t;            // [V, 4]
  Tensor q;            // [V, 4, 3]
  Tensor skin_joint;   // [V, 4] long
  Tensor skin_weight;  // [V, 4]
};

// The primitives of B shapes before the final scale (humans/internal/body_geometry.h).
struct Geometry {
  Tensor joints;  // [B, 24, 3]
  Tensor a, b, ra, rb, e1, e2, e3;  // [B, 26, 3]
};

struct Rest {
  Tensor joints;    // [B, 24, 3] metres, body frame, soles on z = 0
  Tensor vertices;  // [B, V, 3] the asked-for vertex set
};

struct Posed {
  Tensor rotation;  // [B, 24, 3, 3] global rotations
  Tensor position;  // [B, 24, 3]
};

// A coarse body keeps every kCoarseVertexStride-th template vertex.
constexpr int kCoarseVertexStride = 3;

class BodyModel {
 public:
  // Reads the template (humans::topology(), humans::vertex_bindings()).
  static BodyModel create();

  const VertexSet& all() const { return all_; }
  const VertexSet& face() const { return face_; }      // the 5 face keypoint vertices
  const VertexSet& extremes() const { return extremes_; }
  // Every kCoarseVertexStride-th vertex: a coarse body for the first rounds of a fit.
  const VertexSet& coarse() const { return coarse_; }
  // The template vertices `vertices` as a set.
  VertexSet subset(const std::vector<int64_t>& vertices) const;

  // Primitives of the clamped shapes.
  Geometry geometry(const Tensor& shape) const;
  // Rest joints and the vertices of `set`. The height scale comes from `scale_set`
  // (extremes() by default; all() reproduces the C++ model's definition literally).
  Rest rest(const Tensor& shape, const VertexSet& set) const;
  Rest rest(const Tensor& shape, const VertexSet& set, const VertexSet& scale_set) const;
  // Forward kinematics from local rotations [B, 24, 3, 3] and the root's offset [B, 3].
  Posed pose(const Tensor& rest_joints, const Tensor& local, const Tensor& root_translation) const;
  // Linear blend skinning of the rest vertices of `set`.
  Tensor skin(const Tensor& rest_vertices, const VertexSet& set, const Tensor& rest_joints,
              const Posed& posed) const;
  // The 17 COCO keypoints in the body frame [B, 17, 3] from a posed body and its skinned
  // face vertices [B, 5, 3].
  Tensor keypoints(const Posed& posed, const Tensor& face_vertices) const;

 private:
  Rest rest_from(const Geometry& g, const Tensor& height, const VertexSet& set,
                 const VertexSet& scale_set) const;

  VertexSet all_, face_, extremes_, coarse_;
  std::vector<std::vector<int64_t>> levels_;  // joints by depth in the tree, root excluded
  std::vector<std::vector<int64_t>> level_parents_;
};

// R = Rz(z) Ry(y) Rx(x) from Euler angles [..., 3] in radians -> [..., 3, 3].
Tensor euler_to_matrix(const Tensor& euler);
// Rodrigues: axis-angle [..., 3] -> [..., 3, 3], smooth at zero.
Tensor axis_angle_to_matrix(const Tensor& w);

// The COCO body keypoints' joints (humans::kBodyKeypointJoints), keypoints 5..16, as
// indices.
constexpr std::array<int64_t, 12> kBodyKeypointJoints = [] {
  std::array<int64_t, 12> out{};
  for (size_t k = 0; k < out.size(); ++k) out[k] = humans::index(humans::kBodyKeypointJoints[k]);
  return out;
}();

}  // namespace synthfarm::recon::torch_fit
