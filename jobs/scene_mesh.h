// A fixed scene mesh (the spec's scene.mesh): a static glTF scene, such as a fuse_depth
// job's meshes/{unit}.glb of a user's own room, that a render job's people stand in, in
// place of the generated room, props and their looks.
//
// The file is read with gltf/scene_import.h (its meshes, materials, textures and vertex
// colours; no camera needed: the job frames its own) and must be in synthfarm's frame once
// imported: z up, metres, the floor at z = 0 (a farm capture fused by fuse_depth is; a
// capture of one's own needs its poses levelled so). The scene generator asks the mesh
// where people and the camera may go (jobs/scene_gen/): it is voxelised once, when loaded,
// into cells of kCell metres that its surface passes through, and the questions are asked
// of those cells:
//   - a person stands where there is floor under it (surface within one cell of z = 0) and
//     nothing in the cylinder of its footprint from 0.15 m up to its height;
//   - the camera's eye has floor under it, nothing within 0.3 m, and sees the people's
//     centre with no surface between;
//   - lights hang under the surface above them and see the people's centre.
// Answers are conservative by up to a cell: a surface that passes through a cell blocks
// the whole cell.
//
// Thread safety: immutable once loaded; shared read-only by every sample of a worker.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "base/math.h"
#include "render/scene.h"

namespace synthfarm::jobs {

class SceneMesh {
 public:
  static constexpr double kCell = 0.05;         // metres, the occupancy cells' edge
  static constexpr double kMaxExtent = 200.0;   // metres, the widest mesh accepted

  const std::string& uri() const { return uri_; }
  // The file's meshes in the world (render::Scene's meshes, shapes, materials, textures);
  // their instance ids and semantic classes are the generator's to give.
  const render::Scene& parts() const { return parts_; }
  size_t triangle_count() const { return triangles_; }
  Vec3 lower() const { return lo_; }
  Vec3 upper() const { return hi_; }

  // Whether the surface passes through the cell holding `p`.
  bool occupied(Vec3 p) const;
  // Whether no occupied cell comes within `radius` of `p`.
  bool clear(Vec3 p, double radius) const;
  // Whether the vertical cylinder of `radius` around (p.x, p.y) from z0 to z1 is clear.
  bool clear_column(Vec3 p, double radius, double z0, double z1) const;
  // Whether the segment from `a` to `b` passes through no occupied cell (sampled every
  // half cell).
  bool line_of_sight(Vec3 a, Vec3 b) const;
  // Whether there is floor at (x, y): an occupied cell within one cell of z = 0.
  bool floor_at(double x, double y) const;
  // The lowest surface above `p` in its column (the bottom of its cell), if any.
  std::optional<double> surface_above(Vec3 p) const;

  size_t cell_count() const { return cells_.size(); }

 private:
  friend tl::expected<std::shared_ptr<const SceneMesh>, std::string> load_scene_mesh(
      std::string_view bytes, const std::string& uri);
  bool cell(int64_t i, int64_t j, int64_t k) const;

  std::string uri_;
  render::Scene parts_;
  size_t triangles_ = 0;
  Vec3 lo_, hi_;
  std::vector<uint64_t> cells_;  // sorted keys of the occupied cells
};

// Reads `bytes` (a .glb or a .gltf with embedded buffers) named `uri` and voxelises it.
// Errors name the file: what gltf/scene_import.h refuses, a file with no triangles, or a
// mesh wider than kMaxExtent in any direction.
tl::expected<std::shared_ptr<const SceneMesh>, std::string> load_scene_mesh(std::string_view bytes,
                                                                            const std::string& uri);

}  // namespace synthfarm::jobs
