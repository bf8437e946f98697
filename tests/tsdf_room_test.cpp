// Depth fusion end to end: the closed room of tsdf_room_scene.h rendered by render's
// renderer from 30 views at 640 x 480 (label pass: exact camera-z depth, one ray per pixel),
// fused at 1 cm voxels (4 cm truncation), compared with the scene's true triangles.
//
// Protocol (docs/recon.md, "Evaluation")
//   Truth: 200,000 points drawn uniformly by area on the scene's triangles, kept when at
//     least one view sees them (projected into the view, in the image, and within 1 cm of
//     that pixel's rendered depth).
//   Fused: 200,000 points drawn uniformly by area on the mesh's observed faces, i.e. every
//     face but the closing ones (FusedMesh::closing: faces with a vertex on a lattice edge
//     that reaches an unobserved sample: the backs of the wall slabs, the hollow insides
//     of the boxes, the rims). Their share of the area is printed; the closing faces are not
//     a claim about the scene, and their distance to the truth is printed too, unasserted.
//   Accuracy: each fused point's exact distance to the nearest true triangle.
//   Completeness: each true point's exact distance to the nearest observed fused triangle
//     (searched within 10 cm; farther counts as 10 cm and is counted in "capped").
//   Chamfer-L1 = (mean accuracy + mean completeness) / 2. F-score at 1 cm: the harmonic
//     mean of the share of fused points within 1 cm of the truth (precision) and of true
//     points within 1 cm of the fused surface (recall).
//   Watertight: every edge of the whole output mesh (closing faces included) is in exactly
//     two triangles, once in each direction.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <unordered_map>
#include <vector>

#include "base/rng.h"
#include "recon/tsdf.h"
#include "tests/tsdf_room_scene.h"

namespace synthfarm::testing {
namespace {

using Triangle = std::array<Vec3, 3>;

// Points uniform by area on `triangles`.
std::vector<Vec3> sample_uniform(const std::vector<Triangle>& triangles, size_t count,
                                 uint64_t seed) {
  std::vector<double> cumulative;
  double total = 0;
  for (const Triangle& t : triangles) {
    total += 0.5 * length(cross(t[1] - t[0], t[2] - t[0]));
    cumulative.push_back(total);
  }
  Pcg32 rng = Pcg32::for_purpose(seed, "tsdf room samples");
  std::vector<Vec3> points;
  for (size_t i = 0; i < count; ++i) {
    const double pick = rng.next_double() * total;
    const size_t k = std::min<size_t>(
        std::upper_bound(cumulative.begin(), cumulative.end(), pick) - cumulative.begin(),
        triangles.size() - 1);
    double r1 = rng.next_double(), r2 = rng.next_double();
    if (r1 + r2 > 1) r1 = 1 - r1, r2 = 1 - r2;
    const Triangle& t = triangles[k];
    points.push_back(t[0] + (t[1] - t[0]) * r1 + (t[2] - t[0]) * r2);
  }
  return points;
}

// Nearest-triangle distances over a uniform grid of buckets (cell `cell` metres). A
// triangle goes in every bucket its bounding box meets, or, when `within_cells` says each
// triangle lies inside one grid cell (the fused mesh's do: their corners are on one 1 cm
// lattice cell's edges), in its centroid's bucket only. Either way a triangle's nearest
// point to p lies in one of its buckets, so rings of buckets can stop early.
class TriangleGrid {
 public:
  TriangleGrid(const std::vector<Triangle>& triangles, double cell, bool within_cells)
      : triangles_(triangles), cell_(cell) {
    for (uint32_t i = 0; i < triangles.size(); ++i) {
      const Triangle& t = triangles[i];
      if (within_cells) {
        const Vec3 c = (t[0] + t[1] + t[2]) * (1.0 / 3);
        buckets_[key(bucket(c.x), bucket(c.y), bucket(c.z))].push_back(i);
        continue;
      }
      std::array<int, 3> lo, hi;
      for (int axis = 0; axis < 3; ++axis) {
        auto coord = [&](const Vec3& v) { return axis == 0 ? v.x : axis == 1 ? v.y : v.z; };
        lo[axis] = bucket(std::min({coord(t[0]), coord(t[1]), coord(t[2])}));
        hi[axis] = bucket(std::max({coord(t[0]), coord(t[1]), coord(t[2])}));
      }
      for (int x = lo[0]; x <= hi[0]; ++x)
        for (int y = lo[1]; y <= hi[1]; ++y)
          for (int z = lo[2]; z <= hi[2]; ++z) buckets_[key(x, y, z)].push_back(i);
    }
  }
  // The distance to the nearest triangle, or `cap` when none is within it.
  double distance(Vec3 p, double cap) const {
    const int cx = bucket(p.x), cy = bucket(p.y), cz = bucket(p.z);
    double best = cap;
    for (int ring = 0; ring * cell_ < best + cell_ && ring * cell_ <= cap + cell_; ++ring) {
      for (int x = cx - ring; x <= cx + ring; ++x) {
        for (int y = cy - ring; y <= cy + ring; ++y) {
          for (int z = cz - ring; z <= cz + ring; ++z) {
            if (std::max({std::abs(x - cx), std::abs(y - cy), std::abs(z - cz)}) != ring) continue;
            auto it = buckets_.find(key(x, y, z));
            if (it == buckets_.end()) continue;
            for (uint32_t t : it->second)
              best = std::min(best, point_triangle_distance(p, triangles_[t][0], triangles_[t][1], triangles_[t][2]));
          }
        }
      }
    }
    return best;
  }

 private:
  int bucket(double v) const { return static_cast<int>(std::floor(v / cell_)); }
  static uint64_t key(int x, int y, int z) {
    return (uint64_t(uint32_t(x + (1 << 20))) << 42) | (uint64_t(uint32_t(y + (1 << 20))) << 21) |
           uint64_t(uint32_t(z + (1 << 20)));
  }
  const std::vector<Triangle>& triangles_;
  double cell_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> buckets_;
};

bool seen_by_a_view(Vec3 p, const std::vector<recon::DepthView>& views) {
  for (const recon::DepthView& view : views) {
    const Vec3 c = view.rotation * p + view.translation;
    if (c.z <= 0.01) continue;
    const double u = view.K.fx * c.x / c.z + view.K.cx, v = view.K.fy * c.y / c.z + view.K.cy;
    if (u < 0 || v < 0 || u >= view.K.width || v >= view.K.height) continue;
    const float d = view.depth[static_cast<size_t>(v) * view.K.width + static_cast<size_t>(u)];
    if (std::abs(d - c.z) < 0.01) return true;
  }
  return false;
}

struct Watertight {
  size_t edges = 0, bad_edges = 0;
};
// Sorted directed edges rather than a hash map: 33 million of them here.
Watertight check_watertight(const recon::FusedMesh& mesh) {
  std::vector<uint64_t> directed;
  directed.reserve(mesh.indices.size());
  for (size_t t = 0; t < mesh.triangle_count(); ++t) {
    for (int e = 0; e < 3; ++e) {
      const uint64_t a = mesh.indices[3 * t + e], b = mesh.indices[3 * t + (e + 1) % 3];
      directed.push_back((a << 32) | b);
    }
  }
  std::sort(directed.begin(), directed.end());
  auto count = [&](uint64_t edge) {
    auto [lo, hi] = std::equal_range(directed.begin(), directed.end(), edge);
    return hi - lo;
  };
  Watertight out;
  for (size_t i = 0; i < directed.size(); ++i) {
    const uint64_t a = directed[i] >> 32, b = directed[i] & 0xffffffffu;
    const bool repeated = (i > 0 && directed[i - 1] == directed[i]) ||
                          (i + 1 < directed.size() && directed[i + 1] == directed[i]);
    const auto back = count((b << 32) | a);
    if (a < b || back == 0) ++out.edges;  // each undirected edge once
    if (repeated || back != 1) ++out.bad_edges;
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(TsdfRoom, ThirtyViewsFuseWithinOneCentimetreAndClose) {
  const render::Scene scene = tsdf_room_scene();
  auto views = render_depth_views(scene, tsdf_room_cameras(640, 480, 30));
  ASSERT_TRUE(views) << views.error();

  auto start = std::chrono::steady_clock::now();
  auto volume = recon::TsdfVolume::create({.voxel_size_m = 0.01, .truncation_m = 0.04});
  ASSERT_TRUE(volume) << volume.error();
  for (const recon::DepthView& view : *views) ASSERT_TRUE(volume->integrate(view));
  const double fuse_s = seconds_since(start);
  start = std::chrono::steady_clock::now();
  const recon::FusedMesh mesh = volume->extract_mesh();
  const double extract_s = seconds_since(start);
  std::printf("fused %zu views: %zu blocks, %zu triangles; integrate %.2f s, extract %.2f s\n",
              views->size(), volume->block_count(), mesh.triangle_count(), fuse_s, extract_s);
  for (float x : mesh.positions) ASSERT_TRUE(std::isfinite(x));

  std::vector<Triangle> truth, observed, closing;
  for (const render::Mesh& m : scene.meshes) {
    for (size_t t = 0; t < m.triangle_count(); ++t) {
      truth.push_back({m.vertex(m.indices[3 * t]), m.vertex(m.indices[3 * t + 1]),
                       m.vertex(m.indices[3 * t + 2])});
    }
  }
  double observed_area = 0, closing_area = 0;
  for (size_t t = 0; t < mesh.triangle_count(); ++t) {
    Triangle tri;
    for (int c = 0; c < 3; ++c) {
      const uint32_t v = mesh.indices[3 * t + c];
      tri[c] = {mesh.positions[3 * v], mesh.positions[3 * v + 1], mesh.positions[3 * v + 2]};
    }
    const double area = 0.5 * length(cross(tri[1] - tri[0], tri[2] - tri[0]));
    (mesh.closing[t] ? closing : observed).push_back(tri);
    (mesh.closing[t] ? closing_area : observed_area) += area;
  }

  constexpr size_t kPoints = 200000;
  constexpr double kCap = 0.10, kThreshold = 0.01;
  std::vector<Vec3> true_points;
  for (const Vec3& p : sample_uniform(truth, kPoints, 1)) {
    if (seen_by_a_view(p, *views)) true_points.push_back(p);
  }
  const std::vector<Vec3> fused_points = sample_uniform(observed, kPoints, 2);
  const std::vector<Vec3> closing_points = sample_uniform(closing, kPoints / 10, 3);

  TriangleGrid truth_grid(truth, 0.25, false), fused_grid(observed, 0.01, true);
  double accuracy = 0, completeness = 0, closing_distance = 0;
  size_t precise = 0, recalled = 0, capped = 0;
  for (const Vec3& p : fused_points) {
    const double d = truth_grid.distance(p, 10.0);
    accuracy += d;
    precise += d < kThreshold;
  }
  for (const Vec3& p : true_points) {
    const double d = fused_grid.distance(p, kCap);
    completeness += d;
    recalled += d < kThreshold;
    capped += d >= kCap;
  }
  for (const Vec3& p : closing_points) closing_distance += truth_grid.distance(p, 10.0);
  accuracy /= fused_points.size();
  completeness /= true_points.size();
  closing_distance /= closing_points.size();
  const double chamfer = 0.5 * (accuracy + completeness);
  const double precision = double(precise) / fused_points.size(),
               recall = double(recalled) / true_points.size();
  const double f_score = 2 * precision * recall / (precision + recall);
  const Watertight topology = check_watertight(mesh);

  std::printf("truth points seen by a view: %zu of %zu\n", true_points.size(), kPoints);
  std::printf(
      "accuracy (fused -> truth) %.2f mm, completeness (truth -> fused) %.2f mm, capped %zu\n",
      accuracy * 1000, completeness * 1000, capped);
  std::printf("Chamfer-L1 %.2f mm; F-score at 1 cm %.4f (precision %.4f, recall %.4f)\n",
              chamfer * 1000, f_score, precision, recall);
  std::printf(
      "closing faces: %.1f%% of the area (%.2f m^2 of %.2f m^2), mean distance to the truth %.1f "
      "mm\n",
      100 * closing_area / (closing_area + observed_area), closing_area,
      closing_area + observed_area, closing_distance * 1000);
  std::printf("watertight: %zu edges, %zu not shared by exactly two faces\n", topology.edges,
              topology.bad_edges);

  EXPECT_LT(chamfer, 0.01);
  EXPECT_GT(f_score, 0.9);
  EXPECT_EQ(topology.bad_edges, 0u);
  recon::FusedMesh holed = mesh;  // the check itself: one triangle fewer opens three edges
  holed.indices.resize(holed.indices.size() - 3);
  EXPECT_EQ(check_watertight(holed).bad_edges, 3u);
  EXPECT_GT(true_points.size(), kPoints / 2);
}

}  // namespace
}  // namespace synthfarm::testing
