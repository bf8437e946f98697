// The sparse TSDF grid of tsdf.h: block hashing, integration of one depth map, and the
// glTF export of the fused mesh. The polygoniser is in tsdf_mesh.cpp.
#include "recon/tsdf.h"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "gltf/gltf.h"
#include "recon/internal/tsdf_grid.h"
#include "render/scene.h"

namespace synthfarm::recon {

using internal::Block;
using internal::block_key;
using internal::kBlockSamples;
using internal::kBlockSide;

namespace {

bool finite_positive(double v) { return std::isfinite(v) && v > 0; }

std::string view_problem(const DepthView& view) {
  const Intrinsics& K = view.K;
  if (!finite_positive(K.fx) || !finite_positive(K.fy) || !std::isfinite(K.cx) ||
      !std::isfinite(K.cy)) {
    return fmt::format("{}: K: fx {} fy {} cx {} cy {}: focal lengths must be finite and > 0",
                       view.name, K.fx, K.fy, K.cx, K.cy);
  }
  if (K.width < 1 || K.height < 1) {
    return fmt::format("{}: width x height {} x {} must be at least 1 x 1", view.name, K.width,
                       K.height);
  }
  const size_t pixels = static_cast<size_t>(K.width) * static_cast<size_t>(K.height);
  if (view.depth.size() != pixels) {
    return fmt::format("{}: depth: {} values, but the intrinsics' width x height {} x {} needs {}",
                       view.name, view.depth.size(), K.width, K.height, pixels);
  }
  if (!view.rgb.empty() && view.rgb.size() != 3 * pixels) {
    return fmt::format("{}: rgb: {} values, but the intrinsics' width x height {} x {} needs {}",
                       view.name, view.rgb.size(), K.width, K.height, 3 * pixels);
  }
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      if (!std::isfinite(view.rotation.m[r][c])) {
        return fmt::format("{}: world_to_camera[{}][{}] is not finite", view.name, r, c);
      }
    }
  }
  if (!std::isfinite(view.translation.x) || !std::isfinite(view.translation.y) ||
      !std::isfinite(view.translation.z)) {
    return fmt::format("{}: world_to_camera translation is not finite", view.name);
  }
  return {};
}

// Runs body(begin, end) over [0, n) on `threads` threads (0: all cores). Every index is
// handled by exactly one call, so results cannot depend on the split.
template <typename Body>
void parallel_over(size_t n, int threads, Body&& body) {
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, n, 16),
                      [&](const tbb::blocked_range<size_t>& r) { body(r.begin(), r.end()); });
  });
}

}  // namespace

struct TsdfVolume::Impl {
  TsdfParams params;
  internal::BlockMap grid;
};

TsdfVolume::TsdfVolume(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TsdfVolume::TsdfVolume(TsdfVolume&&) noexcept = default;
TsdfVolume& TsdfVolume::operator=(TsdfVolume&&) noexcept = default;
TsdfVolume::~TsdfVolume() = default;

tl::expected<TsdfVolume, std::string> TsdfVolume::create(const TsdfParams& params) {
  if (!(params.voxel_size_m >= 0.001 && params.voxel_size_m <= 1)) {
    return tl::unexpected(
        fmt::format("tsdf: voxel_size_m {} is outside 0.001 .. 1", params.voxel_size_m));
  }
  if (!(params.truncation_m >= params.voxel_size_m) || !std::isfinite(params.truncation_m)) {
    return tl::unexpected(fmt::format("tsdf: truncation_m {} must be at least one voxel ({})",
                                      params.truncation_m, params.voxel_size_m));
  }
  if (!finite_positive(params.max_depth_m)) {
    return tl::unexpected(
        fmt::format("tsdf: max_depth_m {} must be finite and > 0", params.max_depth_m));
  }
  if (params.threads < 0)
    return tl::unexpected(fmt::format("tsdf: threads {} is negative", params.threads));
  auto impl = std::make_unique<Impl>();
  impl->params = params;
  impl->grid.voxel_size = params.voxel_size_m;
  return TsdfVolume(std::move(impl));
}

const TsdfParams& TsdfVolume::params() const { return impl_->params; }
size_t TsdfVolume::block_count() const { return impl_->grid.blocks.size(); }

TsdfVolume::Sample TsdfVolume::sample(int i, int j, int k) const {
  const Block* block = impl_->grid.find(
      block_key(internal::floor_div(i), internal::floor_div(j), internal::floor_div(k)));
  if (!block) return {};
  const int s =
      internal::local_index(i & (kBlockSide - 1), j & (kBlockSide - 1), k & (kBlockSide - 1));
  if (block->weight[s] == 0) return {};
  return {block->tsdf[s], block->weight[s]};
}

namespace {

// The keys of every block the truncation band of `view` passes through, sorted, unique.
std::vector<uint64_t> touched_blocks(const DepthView& view, const TsdfParams& params) {
  const Intrinsics& K = view.K;
  const Mat3 to_world = view.rotation.transposed();
  const Vec3 centre = -(to_world * view.translation);
  const double block_m = params.voxel_size_m * kBlockSide, trunc = params.truncation_m;
  const double limit = (internal::kMaxBlockCoordinate - 2) * block_m;  // room for the padding ring
  const double per_block = 1 / block_m;
  constexpr int kRowsPerChunk = 16;
  const int chunks = (K.height + kRowsPerChunk - 1) / kRowsPerChunk;
  std::vector<std::vector<uint64_t>> found(static_cast<size_t>(chunks));
  parallel_over(found.size(), params.threads, [&](size_t begin, size_t end) {
    for (size_t chunk = begin; chunk < end; ++chunk) {
      std::vector<uint64_t>& keys = found[chunk];
      uint64_t recent[8] = {~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull};
      int next = 0;
      const int row_end = std::min(K.height, static_cast<int>(chunk + 1) * kRowsPerChunk);
      for (int v = static_cast<int>(chunk) * kRowsPerChunk; v < row_end; ++v) {
        for (int u = 0; u < K.width; ++u) {
          const double d = view.depth[static_cast<size_t>(v) * K.width + u];
          if (!(d > 0 && d <= params.max_depth_m)) continue;  // also NaN
          const Vec3 ray = to_world * Vec3{(u + 0.5 - K.cx) / K.fx, (v + 0.5 - K.cy) / K.fy, 1.0};
          const double z0 = std::max(d - trunc, 1e-3), z1 = d + trunc;
          const int steps =
              std::max(1, static_cast<int>(std::ceil((z1 - z0) * length(ray) / (0.5 * block_m))));
          for (int s = 0; s <= steps; ++s) {
            const Vec3 p = centre + ray * (z0 + (z1 - z0) * s / steps);
            if (!(std::abs(p.x) < limit && std::abs(p.y) < limit && std::abs(p.z) < limit))
              continue;
            const uint64_t key = block_key(static_cast<int>(std::floor(p.x * per_block)),
                                           static_cast<int>(std::floor(p.y * per_block)),
                                           static_cast<int>(std::floor(p.z * per_block)));
            if (std::find(std::begin(recent), std::end(recent), key) != std::end(recent)) continue;
            recent[next] = key;
            next = (next + 1) & 7;
            keys.push_back(key);
          }
        }
      }
    }
  });
  std::vector<uint64_t> keys;
  for (const auto& part : found) keys.insert(keys.end(), part.begin(), part.end());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

// Fuses `view` into one block (its samples only), in a fixed order.
void update_block(Block& block, uint64_t key, const DepthView& view, const TsdfParams& params) {
  const Intrinsics& K = view.K;
  const auto [bx, by, bz] = internal::block_coordinates(key);
  const double voxel = params.voxel_size_m, trunc = params.truncation_m;
  const Mat3& R = view.rotation;
  const bool colour = !view.rgb.empty();
  if (colour && block.color.empty()) block.color.assign(4 * kBlockSamples, 0.0f);
  const Vec3 step_x = R.column(0) * voxel, step_y = R.column(1) * voxel,
             step_z = R.column(2) * voxel;
  const Vec3 origin =
      R * (Vec3{double(bx), double(by), double(bz)} * (voxel * kBlockSide)) + view.translation;
  for (int z = 0; z < kBlockSide; ++z) {
    for (int y = 0; y < kBlockSide; ++y) {
      const Vec3 row = origin + step_z * double(z) + step_y * double(y);
      for (int x = 0; x < kBlockSide; ++x) {
        const Vec3 c = row + step_x * double(x);
        if (!(c.z > 1e-6)) continue;
        const double u = K.fx * c.x / c.z + K.cx, v = K.fy * c.y / c.z + K.cy;
        if (!(u >= 0 && v >= 0 && u < K.width && v < K.height)) continue;
        const size_t pixel = static_cast<size_t>(v) * K.width + static_cast<size_t>(u);
        const double d = view.depth[pixel];
        if (!(d > 0 && d <= params.max_depth_m)) continue;
        const double sdf = d - c.z;
        if (sdf < -trunc) continue;
        const int s = internal::local_index(x, y, z);
        const float w = block.weight[s];
        const double tsdf = std::min(1.0, sdf / trunc);
        block.tsdf[s] = static_cast<float>((block.tsdf[s] * w + tsdf) / (w + 1));
        block.weight[s] = w + 1;
        if (colour && sdf < trunc) {
          float* col = &block.color[4 * static_cast<size_t>(s)];
          const float cw = col[3];
          for (int ch = 0; ch < 3; ++ch) {
            const float value = view.rgb[3 * pixel + ch];
            if (std::isfinite(value)) col[ch] = (col[ch] * cw + value) / (cw + 1);
          }
          col[3] = cw + 1;
        }
      }
    }
  }
}

}  // namespace

tl::expected<void, std::string> TsdfVolume::integrate(const DepthView& view) {
  if (std::string problem = view_problem(view); !problem.empty()) return tl::unexpected(problem);
  const std::vector<uint64_t> keys = touched_blocks(view, impl_->params);
  std::vector<Block*> blocks(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) blocks[i] = &impl_->grid.get_or_add(keys[i]);
  parallel_over(keys.size(), impl_->params.threads, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) update_block(*blocks[i], keys[i], view, impl_->params);
  });
  if (!view.rgb.empty()) impl_->grid.has_color = true;
  return {};
}

FusedMesh TsdfVolume::extract_mesh() const {
  return internal::polygonise(impl_->grid, impl_->params.threads);
}

tl::expected<std::string, std::string> fused_mesh_glb(const FusedMesh& mesh,
                                                      const std::string& name,
                                                      const std::optional<View>& camera) {
  if (mesh.positions.size() % 3 != 0 || mesh.indices.size() % 3 != 0) {
    return tl::unexpected(fmt::format("{}: positions or indices are not whole triples", name));
  }
  render::Scene scene;
  scene.kind = name;
  if (camera) {
    DepthView check;
    check.name = name + ": camera";
    check.K = camera->K;
    check.rotation = camera->rotation;
    check.translation = camera->translation;
    check.depth.resize(static_cast<size_t>(std::max(0, camera->K.width)) *
                       static_cast<size_t>(std::max(0, camera->K.height)));
    if (std::string problem = view_problem(check); !problem.empty()) return tl::unexpected(problem);
    render::Camera& c = scene.camera;
    c.width = camera->K.width;
    c.height = camera->K.height;
    c.fx = camera->K.fx;
    c.fy = camera->K.fy;
    c.cx = camera->K.cx;
    c.cy = camera->K.cy;
    c.fov_deg = 2 * std::atan(c.width / (2 * c.fx)) * 180 / 3.14159265358979323846;
    c.rotation = camera->rotation;
    c.position = -(camera->rotation.transposed() * camera->translation);
  }
  render::Mesh& out = scene.meshes.emplace_back();
  out.positions = mesh.positions;
  out.indices = mesh.indices;
  out.colors = mesh.colors;
  out.albedo = {0.8f, 0.8f, 0.8f};
  out.instance_id = 1;
  out.semantic = render::SemanticClass::kBackground;
  scene.instances.push_back({1, render::SemanticClass::kBackground, name});
  auto glb = gltf::export_glb(scene);
  if (!glb) return tl::unexpected(fmt::format("{}: {}", name, glb.error()));
  return *glb;
}

}  // namespace synthfarm::recon
