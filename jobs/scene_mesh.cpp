// The fixed scene mesh: loaded, split into floor and the rest, and voxelised (scene_mesh.h).
#include "jobs/scene_mesh.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "gltf/scene_import.h"

namespace synthfarm::jobs {

using render::Mesh;
using render::SemanticClass;

namespace {

constexpr int64_t kKeyOffset = int64_t{1} << 20;  // cells each way from the origin
constexpr double kFloorNormalZ = 0.9;             // a floor triangle faces up within ~25 deg

int64_t cell_of(double x) { return static_cast<int64_t>(std::floor(x / SceneMesh::kCell)); }

uint64_t key_of(int64_t i, int64_t j, int64_t k) {
  return (static_cast<uint64_t>(i + kKeyOffset) << 42) | (static_cast<uint64_t>(j + kKeyOffset) << 21) |
         static_cast<uint64_t>(k + kKeyOffset);
}

// Distance from `p` to the box of cell (i, j, k), in the dimensions `dims` (2: x, y only).
double distance_to_cell(Vec3 p, int64_t i, int64_t j, int64_t k, int dims) {
  auto axis = [](double x, int64_t c) {
    const double lo = static_cast<double>(c) * SceneMesh::kCell, hi = lo + SceneMesh::kCell;
    return x < lo ? lo - x : x > hi ? x - hi : 0.0;
  };
  const double dx = axis(p.x, i), dy = axis(p.y, j), dz = dims == 3 ? axis(p.z, k) : 0.0;
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

// Whether triangle t of `mesh` is floor: facing up, every corner within a cell of z = 0.
bool floor_triangle(const Mesh& mesh, size_t t) {
  const Vec3 a = mesh.vertex(mesh.indices[3 * t]), b = mesh.vertex(mesh.indices[3 * t + 1]),
             c = mesh.vertex(mesh.indices[3 * t + 2]);
  const Vec3 n = cross(b - a, c - a);
  const double len = length(n);
  if (!(len > 0)) return false;
  const double limit = SceneMesh::kCell;
  return n.z / len > kFloorNormalZ && std::abs(a.z) < limit && std::abs(b.z) < limit &&
         std::abs(c.z) < limit;
}

// The triangles of `mesh` that `keep` picks, as a mesh of their own (vertex arrays
// compacted, every per-vertex array carried along).
template <typename Keep>
Mesh pick_triangles(const Mesh& mesh, Keep&& keep) {
  Mesh out;
  out.albedo = mesh.albedo;
  out.material = mesh.material;
  std::vector<int64_t> remap(mesh.positions.size() / 3, -1);
  auto copy = [](const std::vector<float>& from, std::vector<float>& to, size_t v, size_t n) {
    if (!from.empty()) to.insert(to.end(), from.begin() + static_cast<std::ptrdiff_t>(n * v),
                                 from.begin() + static_cast<std::ptrdiff_t>(n * (v + 1)));
  };
  for (size_t t = 0; t < mesh.triangle_count(); ++t) {
    if (!keep(t)) continue;
    for (int c = 0; c < 3; ++c) {
      const uint32_t v = mesh.indices[3 * t + static_cast<size_t>(c)];
      if (remap[v] < 0) {
        remap[v] = static_cast<int64_t>(out.positions.size() / 3);
        copy(mesh.positions, out.positions, v, 3);
        copy(mesh.colors, out.colors, v, 3);
        copy(mesh.normals, out.normals, v, 3);
        copy(mesh.texcoords, out.texcoords, v, 2);
      }
      out.indices.push_back(static_cast<uint32_t>(remap[v]));
    }
  }
  return out;
}

}  // namespace

bool SceneMesh::cell(int64_t i, int64_t j, int64_t k) const {
  return std::binary_search(cells_.begin(), cells_.end(), key_of(i, j, k));
}

bool SceneMesh::occupied(Vec3 p) const { return cell(cell_of(p.x), cell_of(p.y), cell_of(p.z)); }

bool SceneMesh::clear(Vec3 p, double radius) const {
  for (int64_t i = cell_of(p.x - radius); i <= cell_of(p.x + radius); ++i) {
    for (int64_t j = cell_of(p.y - radius); j <= cell_of(p.y + radius); ++j) {
      for (int64_t k = cell_of(p.z - radius); k <= cell_of(p.z + radius); ++k) {
        if (cell(i, j, k) && distance_to_cell(p, i, j, k, 3) < radius) return false;
      }
    }
  }
  return true;
}

bool SceneMesh::clear_column(Vec3 p, double radius, double z0, double z1) const {
  for (int64_t i = cell_of(p.x - radius); i <= cell_of(p.x + radius); ++i) {
    for (int64_t j = cell_of(p.y - radius); j <= cell_of(p.y + radius); ++j) {
      if (distance_to_cell(p, i, j, 0, 2) >= radius) continue;
      for (int64_t k = cell_of(z0); k <= cell_of(z1); ++k) {
        if (cell(i, j, k)) return false;
      }
    }
  }
  return true;
}

bool SceneMesh::line_of_sight(Vec3 a, Vec3 b) const {
  const double len = length(b - a);
  const auto steps = static_cast<int64_t>(std::ceil(len / (0.5 * kCell)));
  for (int64_t s = 0; s <= steps; ++s) {
    const double t = steps == 0 ? 0.0 : static_cast<double>(s) / static_cast<double>(steps);
    if (occupied(a + (b - a) * t)) return false;
  }
  return true;
}

bool SceneMesh::floor_at(double x, double y) const {
  const int64_t i = cell_of(x), j = cell_of(y);
  return cell(i, j, -1) || cell(i, j, 0);
}

std::optional<double> SceneMesh::surface_above(Vec3 p) const {
  const int64_t i = cell_of(p.x), j = cell_of(p.y);
  for (int64_t k = cell_of(p.z) + 1; k <= cell_of(hi_.z); ++k) {
    if (cell(i, j, k)) return static_cast<double>(k) * kCell;
  }
  return std::nullopt;
}

tl::expected<std::shared_ptr<const SceneMesh>, std::string> load_scene_mesh(std::string_view bytes,
                                                                            const std::string& uri) {
  const std::string name = uri.substr(uri.find_last_of('/') + 1);
  gltf::GltfSceneOptions options;
  options.require_camera = false;
  auto file = gltf::load_gltf_scene(bytes, name, options);
  if (!file) return tl::unexpected(file.error());
  auto mesh = std::make_shared<SceneMesh>();
  mesh->uri_ = uri;
  mesh->triangles_ = file->triangle_count;
  if (mesh->triangles_ == 0) return tl::unexpected(fmt::format("{}: no triangles", name));

  // Bounds, and whether the mesh is a place people can stand in around the origin.
  const double inf = std::numeric_limits<double>::infinity();
  Vec3 lo{inf, inf, inf}, hi{-inf, -inf, -inf};
  for (const Mesh& m : file->scene.meshes) {
    for (size_t v = 0; v < m.positions.size() / 3; ++v) {
      const Vec3 p = m.vertex(static_cast<uint32_t>(v));
      lo = {std::min(lo.x, p.x), std::min(lo.y, p.y), std::min(lo.z, p.z)};
      hi = {std::max(hi.x, p.x), std::max(hi.y, p.y), std::max(hi.z, p.z)};
    }
  }
  mesh->lo_ = lo;
  mesh->hi_ = hi;
  const Vec3 size = hi - lo;
  if (std::max({size.x, size.y, size.z}) > SceneMesh::kMaxExtent) {
    return tl::unexpected(fmt::format(
        "{}: the mesh spans {:.1f} x {:.1f} x {:.1f} m; a scene mesh is a room or a site at most "
        "{:.0f} m across",
        name, size.x, size.y, size.z, SceneMesh::kMaxExtent));
  }
  if (lo.x > 0 || hi.x < 0 || lo.y > 0 || hi.y < 0 || lo.z > 0 || hi.z < 0) {
    return tl::unexpected(fmt::format(
        "{}: the mesh spans x {:.2f} .. {:.2f}, y {:.2f} .. {:.2f}, z {:.2f} .. {:.2f} m and does not "
        "surround the origin: people stand around (0, 0) on the floor at z = 0, z up",
        name, lo.x, hi.x, lo.y, hi.y, lo.z, hi.z));
  }

  // Occupancy: every triangle sampled at half a cell or closer. A dense fused mesh gives
  // several samples per cell: they are folded together as they pile up.
  auto fold = [&cells = mesh->cells_] {
    std::sort(cells.begin(), cells.end());
    cells.erase(std::unique(cells.begin(), cells.end()), cells.end());
  };
  size_t fold_at = size_t{1} << 22;
  for (const Mesh& m : file->scene.meshes) {
    for (size_t t = 0; t < m.triangle_count(); ++t) {
      const Vec3 a = m.vertex(m.indices[3 * t]), b = m.vertex(m.indices[3 * t + 1]),
                 c = m.vertex(m.indices[3 * t + 2]);
      const double edge = std::max({length(b - a), length(c - a), length(c - b)});
      const auto n = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(edge / (0.5 * SceneMesh::kCell))));
      for (int64_t u = 0; u <= n; ++u) {
        for (int64_t w = 0; u + w <= n; ++w) {
          const double fu = static_cast<double>(u) / static_cast<double>(n),
                       fw = static_cast<double>(w) / static_cast<double>(n);
          const Vec3 p = a + (b - a) * fu + (c - a) * fw;
          mesh->cells_.push_back(key_of(cell_of(p.x), cell_of(p.y), cell_of(p.z)));
        }
      }
      if (mesh->cells_.size() >= fold_at) {
        fold();
        fold_at = std::max(fold_at, 2 * mesh->cells_.size());
      }
    }
  }
  fold();
  mesh->cells_.shrink_to_fit();

  // Parts: each mesh split into its floor (kFloor) and the rest (kWall); a mesh placed from
  // a shared shape stays whole (kWall).
  render::Scene& parts = mesh->parts_;
  parts.materials = std::move(file->scene.materials);
  parts.textures = std::move(file->scene.textures);
  parts.shapes = std::move(file->scene.shapes);
  for (Mesh& m : file->scene.meshes) {
    if (m.shape >= 0) {
      m.semantic = SemanticClass::kWall;
      parts.meshes.push_back(std::move(m));
      continue;
    }
    for (const bool floor : {true, false}) {
      Mesh piece = pick_triangles(m, [&](size_t t) { return floor_triangle(m, t) == floor; });
      if (piece.indices.empty()) continue;
      piece.semantic = floor ? SemanticClass::kFloor : SemanticClass::kWall;
      parts.meshes.push_back(std::move(piece));
    }
  }
  return std::shared_ptr<const SceneMesh>(std::move(mesh));
}

}  // namespace synthfarm::jobs
