// The colour filter array of a Bayer sensor: which colour each photosite sees. Plain data
// shared by the mosaic, the demosaicers, the raw EXR layer and the spec.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace synthfarm::sensor {

// Named by the colours of the top-left 2 x 2 block, row by row (OpenCV/DNG convention).
enum class Cfa { kRggb, kBggr, kGrbg, kGbrg };
inline constexpr std::array<Cfa, 4> kAllCfas = {Cfa::kRggb, Cfa::kBggr, Cfa::kGrbg, Cfa::kGbrg};

// 0 = red, 1 = green, 2 = blue: the colour photosite (x, y) of `cfa` records.
constexpr int cfa_colour(Cfa cfa, int x, int y) {
  const int cell = (y & 1) * 2 + (x & 1);
  switch (cfa) {
    case Cfa::kRggb: return cell == 0 ? 0 : cell == 3 ? 2 : 1;
    case Cfa::kBggr: return cell == 0 ? 2 : cell == 3 ? 0 : 1;
    case Cfa::kGrbg: return cell == 1 ? 0 : cell == 2 ? 2 : 1;
    case Cfa::kGbrg: return cell == 1 ? 2 : cell == 2 ? 0 : 1;
  }
  return 1;
}

std::string_view cfa_name(Cfa cfa);                         // "rggb", ...
std::optional<Cfa> cfa_from_name(std::string_view name);     // nullopt for an unknown name

}  // namespace synthfarm::sensor
