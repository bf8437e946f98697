// Demosaicing: a full RGB image from one colour per photosite, for every CFA pattern.
// Malvar, He & Cutler 2004 ("High-quality linear interpolation for demosaicing of
// Bayer-patterned color images"): bilinear interpolation corrected by the Laplacian of the
// photosite's own colour, 5 x 5 filters; and plain bilinear interpolation as the option.
// Borders are mirrored without repeating the edge (which keeps the CFA's parity). It works
// on linear values and must not clip, white-balance or colour-correct: develop() does.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "sensor/cfa.h"

namespace synthfarm::sensor {

enum class Demosaic { kMalvar, kBilinear };

std::string_view demosaic_name(Demosaic method);                    // "malvar", "bilinear"
std::optional<Demosaic> demosaic_from_name(std::string_view name);  // nullopt if unknown

// `mosaic`: width * height values, row-major, photosite (x, y) of colour cfa_colour(cfa, x,
// y). Returns width * height * 3 values, RGB interleaved; the known colour of each photosite
// is kept exactly. width and height must be at least 2 (std::invalid_argument otherwise,
// as for a size that does not match).
std::vector<float> demosaic(std::span<const float> mosaic, int width, int height, Cfa cfa,
                            Demosaic method);

}  // namespace synthfarm::sensor
