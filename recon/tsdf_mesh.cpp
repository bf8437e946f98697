// The polygoniser of the sparse TSDF grid (internal/tsdf_grid.h): marching tetrahedra on
// the Kuhn split of every lattice cell, over every cell that touches an observed inside
// sample, with unobserved samples read as +1 (outside). Written for recon's sparse grid.
//
// Why it is closed: the Kuhn split cuts every cube face along the same diagonal from
// either side, so neighbouring tetrahedra share whole faces; a vertex is made once per
// lattice edge (keyed by the edge's lower end and direction) and never at an edge's end
// (t is kept inside (0, 1)); and every cell with an inside corner is visited (the cells of
// each block holding an inside sample and of its -x, -y, -z neighbours: the padding ring).
// Then each tetrahedron face crossed by the surface holds one segment shared by the two
// tetrahedra on either side, and every edge of the mesh belongs to exactly two triangles.
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/math.h"
#include "recon/internal/tsdf_grid.h"

namespace synthfarm::recon::internal {
namespace {

constexpr int kSide = kBlockSide + 1;  // a cell block reads 9^3 samples
constexpr int kSamples = kSide * kSide * kSide;
// Cube corners as bits (x = 1, y = 2, z = 4); each tetrahedron is a monotone path from
// corner 0 to corner 7, so of any two of its corners one is the other plus a direction.
constexpr int kKuhnTets[6][4] = {{0, 1, 3, 7}, {0, 1, 5, 7}, {0, 2, 3, 7},
                                 {0, 2, 6, 7}, {0, 4, 5, 7}, {0, 4, 6, 7}};
// A vertex closer than this to a lattice point (in edge lengths) is moved off it, so no
// two lattice edges ever give the same point.
constexpr double kEdgeMargin = 1e-3;

int cell_index(int x, int y, int z) { return x + kSide * (y + kSide * z); }

// The samples at lattice points origin + (0..8)^3: a block and the first layer of its
// +x, +y and +z neighbours.
struct Neighbourhood {
  std::array<float, kSamples> value;
  std::array<uint8_t, kSamples> observed;
  std::array<float, 4 * kSamples> color;  // r, g, b, count
  bool any_inside = false;
};

void gather(const BlockMap& grid, int bx, int by, int bz, Neighbourhood& n) {
  n.value.fill(1.0f);
  n.observed.fill(0);
  if (grid.has_color) n.color.fill(0.0f);
  n.any_inside = false;
  for (int d = 0; d < 8; ++d) {
    const int dx = d & 1, dy = (d >> 1) & 1, dz = (d >> 2) & 1;
    const Block* block = grid.find(block_key(bx + dx, by + dy, bz + dz));
    if (!block) continue;
    const int nx = dx ? 1 : kBlockSide, ny = dy ? 1 : kBlockSide, nz = dz ? 1 : kBlockSide;
    for (int z = 0; z < nz; ++z) {
      for (int y = 0; y < ny; ++y) {
        for (int x = 0; x < nx; ++x) {
          const int s = local_index(x, y, z);
          if (block->weight[s] == 0) continue;
          const int t = cell_index(x + dx * kBlockSide, y + dy * kBlockSide, z + dz * kBlockSide);
          n.value[t] = block->tsdf[s];
          n.observed[t] = 1;
          if (block->tsdf[s] < 0) n.any_inside = true;
          if (!block->color.empty()) {
            std::copy_n(&block->color[4 * static_cast<size_t>(s)], 4,
                        &n.color[4 * static_cast<size_t>(t)]);
          }
        }
      }
    }
  }
}

struct Point {
  int x, y, z;
};

class Mesher {
 public:
  // `cell_blocks`: how many blocks will be polygonised, to size the tables once.
  Mesher(const BlockMap& grid, FusedMesh& out, size_t cell_blocks) : grid_(grid), out_(out) {
    const size_t vertices = 160 * cell_blocks;  // about what a block crossed by a wall gives
    vertices_.reserve(vertices);
    closing_.reserve(vertices);
    keys_.reserve(vertices);
    out_.positions.reserve(3 * vertices);
    out_.indices.reserve(6 * vertices);
    out_.closing.reserve(2 * vertices);
    if (grid.has_color) out_.colors.reserve(3 * vertices);
  }

  // Polygonises the 8^3 cells whose lower corner lies in block (bx, by, bz).
  void cells(const Neighbourhood& n, int bx, int by, int bz) {
    origin_ = {bx * kBlockSide, by * kBlockSide, bz * kBlockSide};
    for (int z = 0; z < kBlockSide; ++z) {
      for (int y = 0; y < kBlockSide; ++y) {
        for (int x = 0; x < kBlockSide; ++x) {
          int inside = 0;
          for (int c = 0; c < 8; ++c) {
            inside += n.value[cell_index(x + (c & 1), y + ((c >> 1) & 1), z + ((c >> 2) & 1))] < 0;
          }
          if (inside == 0 || inside == 8) continue;
          for (const auto& tet : kKuhnTets) tetrahedron(n, {x, y, z}, tet);
        }
      }
    }
  }

 private:
  void tetrahedron(const Neighbourhood& n, Point cell, const int (&corner)[4]) {
    std::array<Point, 4> p;
    int inside[4], outside[4], ni = 0, no = 0;
    for (int q = 0; q < 4; ++q) {
      const int c = corner[q];
      p[q] = {cell.x + (c & 1), cell.y + ((c >> 1) & 1), cell.z + ((c >> 2) & 1)};
      if (n.value[cell_index(p[q].x, p[q].y, p[q].z)] < 0) {
        inside[ni++] = q;
      } else {
        outside[no++] = q;
      }
    }
    if (ni == 0 || no == 0) return;
    // From the inside corners towards the outside ones: where the normals must point.
    Vec3 towards_outside;
    for (int k = 0; k < no; ++k)
      towards_outside = towards_outside + as_vec(p[outside[k]]) * (1.0 / no);
    for (int k = 0; k < ni; ++k)
      towards_outside = towards_outside - as_vec(p[inside[k]]) * (1.0 / ni);
    auto edge = [&](int a, int b) {
      if (a > b) std::swap(a, b);  // corner[a] is corner[b]'s lower end
      return vertex(n, p[a], corner[a] ^ corner[b]);
    };
    if (ni == 1) {
      triangle(edge(inside[0], outside[0]), edge(inside[0], outside[1]),
               edge(inside[0], outside[2]), towards_outside);
    } else if (ni == 3) {
      triangle(edge(inside[0], outside[0]), edge(inside[1], outside[0]),
               edge(inside[2], outside[0]), towards_outside);
    } else {
      const uint32_t ac = edge(inside[0], outside[0]), ad = edge(inside[0], outside[1]),
                     bd = edge(inside[1], outside[1]), bc = edge(inside[1], outside[0]);
      triangle(ac, ad, bd, towards_outside);
      triangle(ac, bd, bc, towards_outside);
    }
  }

  static Vec3 as_vec(Point p) { return {double(p.x), double(p.y), double(p.z)}; }

  // The vertex on the lattice edge from local point `lo` along direction bits `dir`.
  uint32_t vertex(const Neighbourhood& n, Point lo, int dir) {
    const Point g = {origin_.x + lo.x, origin_.y + lo.y, origin_.z + lo.z};
    constexpr int64_t kBias = int64_t{1} << 19;
    const uint64_t key = (static_cast<uint64_t>(g.x + kBias) << 43) |
                         (static_cast<uint64_t>(g.y + kBias) << 23) |
                         (static_cast<uint64_t>(g.z + kBias) << 3) | static_cast<uint64_t>(dir);
    auto [it, added] = vertices_.try_emplace(key, static_cast<uint32_t>(closing_.size()));
    if (!added) return it->second;
    keys_.push_back(key);
    const Point step = {dir & 1, (dir >> 1) & 1, (dir >> 2) & 1};
    const int a = cell_index(lo.x, lo.y, lo.z),
              b = cell_index(lo.x + step.x, lo.y + step.y, lo.z + step.z);
    const double va = n.value[a], vb = n.value[b];
    const double t = std::clamp(va / (va - vb), kEdgeMargin, 1 - kEdgeMargin);
    const double voxel = grid_.voxel_size;
    out_.positions.push_back(static_cast<float>((g.x + t * step.x) * voxel));
    out_.positions.push_back(static_cast<float>((g.y + t * step.y) * voxel));
    out_.positions.push_back(static_cast<float>((g.z + t * step.z) * voxel));
    if (grid_.has_color) {
      const float* ca = &n.color[4 * static_cast<size_t>(a)];
      const float* cb = &n.color[4 * static_cast<size_t>(b)];
      for (int ch = 0; ch < 3; ++ch) {
        double c = 0.5;  // neither end saw colour
        if (ca[3] > 0 && cb[3] > 0) {
          c = ca[ch] + t * (cb[ch] - ca[ch]);
        } else if (ca[3] > 0) {
          c = ca[ch];
        } else if (cb[3] > 0) {
          c = cb[ch];
        }
        out_.colors.push_back(static_cast<float>(std::clamp(c, 0.0, 1.0)));
      }
    }
    closing_.push_back(n.observed[a] && n.observed[b] ? 0 : 1);
    return it->second;
  }

  void triangle(uint32_t a, uint32_t b, uint32_t c, Vec3 towards_outside) {
    auto position = [&](uint32_t v) {
      return Vec3{out_.positions[3 * v], out_.positions[3 * v + 1], out_.positions[3 * v + 2]};
    };
    const Vec3 pa = position(a);
    if (dot(cross(position(b) - pa, position(c) - pa), towards_outside) < 0) std::swap(b, c);
    out_.indices.insert(out_.indices.end(), {a, b, c});
    out_.closing.push_back(closing_[a] | closing_[b] | closing_[c]);
  }

  const BlockMap& grid_;
  FusedMesh& out_;
  Point origin_ = {0, 0, 0};
  std::unordered_map<uint64_t, uint32_t> vertices_;  // lattice edge -> vertex
  std::vector<uint8_t> closing_;                     // per vertex: an end is unobserved
  std::vector<uint64_t> keys_;                       // per vertex: its lattice edge

 public:
  const std::vector<uint64_t>& keys() const { return keys_; }
  const std::vector<uint8_t>& vertex_closing() const { return closing_; }
};

// One run of blocks' share of the mesh, with the lattice edge of each of its vertices.
struct Piece {
  FusedMesh mesh;
  std::vector<uint64_t> keys;
};

FusedMesh join(std::vector<Piece>& pieces, bool colour) {
  size_t vertices = 0, triangles = 0;
  for (const Piece& piece : pieces) {
    vertices += piece.keys.size();
    triangles += piece.mesh.triangle_count();
  }
  FusedMesh out;
  out.positions.reserve(3 * vertices);
  if (colour) out.colors.reserve(3 * vertices);
  out.indices.reserve(3 * triangles);
  out.closing.reserve(triangles);
  std::unordered_map<uint64_t, uint32_t> index;
  index.reserve(vertices);
  std::vector<uint32_t> remap;
  for (Piece& piece : pieces) {
    remap.resize(piece.keys.size());
    for (size_t v = 0; v < piece.keys.size(); ++v) {
      const uint32_t next = static_cast<uint32_t>(out.positions.size() / 3);
      auto [it, added] = index.try_emplace(piece.keys[v], next);
      remap[v] = it->second;
      if (!added) continue;
      out.positions.insert(out.positions.end(), &piece.mesh.positions[3 * v],
                           &piece.mesh.positions[3 * v + 3]);
      if (colour)
        out.colors.insert(out.colors.end(), &piece.mesh.colors[3 * v],
                          &piece.mesh.colors[3 * v + 3]);
    }
    for (uint32_t local : piece.mesh.indices) out.indices.push_back(remap[local]);
    out.closing.insert(out.closing.end(), piece.mesh.closing.begin(), piece.mesh.closing.end());
    piece = {};  // its memory back before the next
  }
  return out;
}

}  // namespace

FusedMesh polygonise(const BlockMap& grid, int threads) {
  // The blocks holding an inside sample and their -x, -y, -z neighbours (whose cells reach
  // into them), sorted so the output's order is fixed.
  std::vector<uint64_t> cell_blocks;
  for (size_t i = 0; i < grid.blocks.size(); ++i) {
    const Block& block = *grid.blocks[i];
    bool inside = false;
    for (int s = 0; s < kBlockSamples && !inside; ++s)
      inside = block.weight[s] > 0 && block.tsdf[s] < 0;
    if (!inside) continue;
    const auto [bx, by, bz] = block_coordinates(grid.keys[i]);
    for (int d = 0; d < 8; ++d)
      cell_blocks.push_back(block_key(bx - (d & 1), by - ((d >> 1) & 1), bz - ((d >> 2) & 1)));
  }
  std::sort(cell_blocks.begin(), cell_blocks.end());
  cell_blocks.erase(std::unique(cell_blocks.begin(), cell_blocks.end()), cell_blocks.end());

  // Fixed runs of blocks, polygonised in parallel, each with its own vertices; then joined
  // in run order, a vertex on a lattice edge two runs share kept once. A vertex is first
  // met in the same place as in one pass over all blocks, so the output does not depend on
  // the thread count (nor on the run length).
  constexpr size_t kRun = 256;
  std::vector<Piece> pieces((cell_blocks.size() + kRun - 1) / kRun);
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
  arena.execute([&] {
    tbb::parallel_for(size_t{0}, pieces.size(), [&](size_t p) {
      const size_t begin = p * kRun, end = std::min(cell_blocks.size(), begin + kRun);
      Mesher mesher(grid, pieces[p].mesh, end - begin);
      auto n = std::make_unique<Neighbourhood>();
      for (size_t b = begin; b < end; ++b) {
        const auto [bx, by, bz] = block_coordinates(cell_blocks[b]);
        gather(grid, bx, by, bz, *n);
        if (n->any_inside) mesher.cells(*n, bx, by, bz);
      }
      pieces[p].keys = mesher.keys();
    });
  });
  return join(pieces, grid.has_color);
}

}  // namespace synthfarm::recon::internal
