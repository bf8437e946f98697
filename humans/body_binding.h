// How the parametric body (body.h) rebuilds its template vertices from a Shape, exposed for
// models that re-express build_rest_body in other arithmetic (recon/torch's differentiable
// body). Plain data only: which primitives each template vertex follows, with what weights
// and local coordinates, and the per-primitive constants a re-implementation of the
// primitives needs. The primitives' geometry itself (ends, radii, frames for a Shape) is
// documented in humans/body_geometry.cpp; a re-implementation must follow it term by term.
//
// Rebuilding vertex v for a Shape's primitives P[0..25] (before the final shift and scale):
//   x = sum_k weight[k] * (a + (b - a) t + e1 q.x r.x + e2 q.y r.y + e3 q.z r.z),
//   with (a, b, ra, rb, e1, e2, e3) = P[prim[k]], (t, q) = local[k], r = ra + (rb - ra) t;
//   slots with weight 0 are skipped. Then x <- (x - (0, 0, zmin)) * height / (zmax - zmin),
//   zmin and zmax over every vertex.
// Thread safety: the bindings are built with the topology (topology()) and read-only after.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "base/math.h"
#include "humans/skeleton.h"

namespace synthfarm::humans {

// The body's primitives, in the order of VertexBinding::prim (left/right pairs adjacent,
// left first).
constexpr int kBodyPrimitiveCount = 26;
enum class BodyPrimitive : int {
  kCrotch, kPelvis, kSpineLow, kSpineMid, kChest, kNeck, kHead, kNose,
  kLeftCollar, kRightCollar, kLeftUpperArm, kRightUpperArm, kLeftForearm, kRightForearm,
  kLeftPalm, kRightPalm, kLeftFingers, kRightFingers, kLeftThigh, kRightThigh,
  kLeftShin, kRightShin, kLeftHeel, kRightHeel, kLeftToes, kRightToes,
};

// Per primitive: its frame's depth axis e2 is the projection of +z (feet) instead of +y.
// e3 = (b - a) / |b - a| (or +z when a == b), e2 = normalize(hint - e3 (hint . e3)),
// e1 = cross(e2, e3).
constexpr std::array<bool, kBodyPrimitiveCount> kPrimitiveDepthIsUp = {
    false, false, false, false, false, false, false, false, false, false, false, false, false,
    false, false, false, false, false, false, false, false, false, true,  true,  true,  true};

// A point's coordinates in one primitive: the axis parameter t (0..1) and the offset from
// the axis point divided by the semi-axes there.
struct PrimitiveLocal {
  double t = 0;
  Vec3 q;
};

// One template vertex: up to four primitives; weights sum to 1, unused slots weigh 0.
struct VertexBinding {
  std::array<uint8_t, 4> prim{};
  std::array<double, 4> weight{};
  std::array<PrimitiveLocal, 4> local{};
};

// One binding per template vertex (topology().vertex_count of them).
std::span<const VertexBinding> vertex_bindings();

}  // namespace synthfarm::humans
