// Private to recon/: the sparse block grid behind TsdfVolume (tsdf.h) and the polygoniser
// that reads it (tsdf_mesh.cpp). Blocks of 8^3 lattice samples, hashed by their packed
// block coordinates; block (bx, by, bz) holds lattice points 8 * (bx, by, bz) + (0..7)^3.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "recon/tsdf.h"

namespace synthfarm::recon::internal {

inline constexpr int kBlockSide = 8;
inline constexpr int kBlockSamples = kBlockSide * kBlockSide * kBlockSide;
// Block coordinates stay within +-2^16, so lattice indices stay within +-2^19 and a lattice
// edge packs into 63 bits (tsdf_mesh.cpp). At 1 cm voxels that is +-5 km around the origin.
inline constexpr int kMaxBlockCoordinate = 1 << 16;

struct Block {
  std::array<float, kBlockSamples> tsdf;    // -1 .. 1, in truncations
  std::array<float, kBlockSamples> weight;  // views that updated the sample; 0 = unobserved
  std::vector<float> color;                 // empty, or 4 per sample: mean linear r, g, b, count
  Block() {
    tsdf.fill(1.0f);
    weight.fill(0.0f);
  }
};

inline int local_index(int x, int y, int z) { return x + kBlockSide * (y + kBlockSide * z); }
// floor(i / 8) for any sign.
inline int floor_div(int i) {
  return i >= 0 ? i / kBlockSide : -((-i + kBlockSide - 1) / kBlockSide);
}

// Packed so that sorting keys sorts blocks by (x, y, z).
inline uint64_t block_key(int bx, int by, int bz) {
  constexpr int64_t kBias = int64_t{1} << 20;
  return (static_cast<uint64_t>(bx + kBias) << 42) | (static_cast<uint64_t>(by + kBias) << 21) |
         static_cast<uint64_t>(bz + kBias);
}
inline std::tuple<int, int, int> block_coordinates(uint64_t key) {
  constexpr int64_t kBias = int64_t{1} << 20;
  constexpr uint64_t kMask = (uint64_t{1} << 21) - 1;
  return {static_cast<int>(static_cast<int64_t>((key >> 42) & kMask) - kBias),
          static_cast<int>(static_cast<int64_t>((key >> 21) & kMask) - kBias),
          static_cast<int>(static_cast<int64_t>(key & kMask) - kBias)};
}

struct BlockMap {
  double voxel_size = 0.01;
  bool has_color = false;
  std::unordered_map<uint64_t, size_t> index;  // key -> blocks / keys position
  std::vector<uint64_t> keys;                  // in allocation order
  std::vector<std::unique_ptr<Block>> blocks;

  const Block* find(uint64_t key) const {
    auto it = index.find(key);
    return it == index.end() ? nullptr : blocks[it->second].get();
  }
  Block& get_or_add(uint64_t key) {
    auto [it, added] = index.try_emplace(key, blocks.size());
    if (added) {
      keys.push_back(key);
      blocks.push_back(std::make_unique<Block>());
    }
    return *blocks[it->second];
  }
};

// The closed mesh of the grid's zero level set (tsdf_mesh.cpp), on `threads` threads
// (0: all cores); the same bits for any count.
FusedMesh polygonise(const BlockMap& grid, int threads);

}  // namespace synthfarm::recon::internal
