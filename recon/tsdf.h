// Depth fusion: a truncated signed distance field (TSDF) on a sparse voxel grid, fed depth
// maps with known cameras, and the closed triangle mesh of its zero level set.
//
// What it is for: turning depth captures of a real place (recon/depth_inputs.h reads them)
// into a mesh asset render jobs can place (recon/fused_mesh_glb). What it must not do: guess
// cameras, filter noisy depth, or read files.
//
// The grid
//   Samples sit on the lattice x = voxel_size * (i, j, k) (world metres), grouped in hashed
//   blocks of 8^3 samples allocated where some depth map's truncation band reaches. Each
//   sample keeps the running mean of the truncated distance (in units of the truncation,
//   -1 .. 1, positive in front of the surface), its weight (how many views updated it) and,
//   when views bring colour, the mean linear colour of the views that saw it within the
//   band. A sample no view updated is "unobserved" and counts as +1: outside. So every
//   observed inside region is bounded by outside, and the mesh closes: a wall seen from one
//   side becomes a slab about one truncation thick, whose back face lies against unobserved
//   space. Those faces are "closing" faces (FusedMesh::closing).
//
// The mesh
//   Marching tetrahedra on the Kuhn (Freudenthal) split of every lattice cell into six
//   tetrahedra around its main diagonal, a split every neighbouring cell shares; vertices
//   are welded per lattice edge, and no sample is treated as exactly zero, so the mesh is a
//   closed 2-manifold: every edge is shared by exactly two triangles. Written for recon's
//   sparse grid (humans/body.cpp's polygoniser works on a dense grid and is not used).
//
// Determinism: the same views in the same order give the same bits whatever the thread
// count: each sample is updated by one thread, in view order; blocks are allocated and
// walked in sorted key order.
// Thread safety: a TsdfVolume is not thread-safe; integrate() and extract_mesh() use
// `threads` threads inside.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "base/math.h"
#include "recon/people_fit.h"

namespace synthfarm::recon {

// One depth map and its camera.
struct DepthView {
  std::string name;  // where it came from, for messages ("d/003.png")
  Intrinsics K;      // K.width x K.height must be the depth map's size
  Mat3 rotation;     // world_to_camera: X_c = rotation * X_w + translation (OpenCV camera)
  Vec3 translation;
  // Camera z in metres, row-major from the top-left pixel. A value that is not finite or
  // is <= 0 is no measurement.
  std::vector<float> depth;
  // Optional linear RGB, 3 floats per pixel (empty: no colour).
  std::vector<float> rgb;
};

struct TsdfParams {
  double voxel_size_m = 0.01;
  // The band around the surface where distances are kept; beyond it in front a sample is
  // +1, behind it the sample is left alone. Also about the thickness of a closing slab.
  double truncation_m = 0.04;
  // Depth beyond this is ignored (far measurements are the noisiest and the sparsest).
  double max_depth_m = 10;
  int threads = 0;  // integration and extraction threads, 0: all cores
};

// The fused surface. Triangles wind counter-clockwise seen from outside.
struct FusedMesh {
  std::vector<float> positions;   // x, y, z per vertex, world metres
  std::vector<uint32_t> indices;  // three per triangle
  std::vector<float> colors;      // linear r, g, b per vertex; empty when no view had colour
  // Per triangle: 1 when one of its vertices lies on a lattice edge with an unobserved end,
  // i.e. the face closes the surface against space no view measured (a slab's back, the
  // rim of what was seen); 0 for observed surface.
  std::vector<uint8_t> closing;

  size_t triangle_count() const { return indices.size() / 3; }
};

class TsdfVolume {
 public:
  // Errors: a voxel size outside 1 mm .. 1 m, a truncation under one voxel, a max depth <= 0.
  static tl::expected<TsdfVolume, std::string> create(const TsdfParams& params);
  TsdfVolume(TsdfVolume&&) noexcept;
  TsdfVolume& operator=(TsdfVolume&&) noexcept;
  ~TsdfVolume();

  // Fuses one view. Errors (naming view.name): depth or colour sizes that disagree with
  // K.width x K.height, intrinsics that are not positive and finite, a camera that is not
  // finite. Measurements that are NaN, infinite or <= 0 are skipped.
  tl::expected<void, std::string> integrate(const DepthView& view);

  // The closed mesh of the zero level set.
  FusedMesh extract_mesh() const;

  const TsdfParams& params() const;
  size_t block_count() const;
  // The sample at lattice point (i, j, k): the truncated distance (-1 .. 1) and its weight;
  // {1, 0} when unobserved.
  struct Sample {
    float tsdf = 1;
    float weight = 0;
  };
  Sample sample(int i, int j, int k) const;

 private:
  struct Impl;
  explicit TsdfVolume(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The mesh as binary glTF (.glb), ready for render jobs: one mesh of POSITION, NORMAL
// (area-weighted), indices and COLOR_0 when it has colours, under a node named `name`, in
// glTF's +y-up frame (gltf/gltf.h); with `camera`, also a camera node looking through that
// view (gltf/scene_import.h, which render-gltf uses, wants one to render the file as a
// scene). Errors: a mesh whose arrays disagree, a camera that is not finite.
tl::expected<std::string, std::string> fused_mesh_glb(
    const FusedMesh& mesh, const std::string& name,
    const std::optional<View>& camera = std::nullopt);

}  // namespace synthfarm::recon
