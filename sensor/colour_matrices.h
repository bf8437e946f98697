// The camera's colour matrices: published XYZ -> camera matrices of real cameras combined
// with the standard sRGB <-> XYZ (D65) matrices into colour correction matrices (camera RGB
// -> linear sRGB), and random draws of them as Brooks et al. 2019 ("Unprocessing Images
// for Learned Raw Denoising") make them. Pure functions over 3 x 3 row-major matrices; it
// must not know about images, white balance or the spec.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string_view>

#include "base/rng.h"

namespace synthfarm::sensor {

using Matrix3 = std::array<double, 9>;  // row-major
using Rgb3 = std::array<double, 3>;

// Linear sRGB -> CIE XYZ, D65 white (IEC 61966-2-1; the values Brooks et al. use).
inline constexpr Matrix3 kSrgbToXyz = {0.4124564, 0.3575761, 0.1804375,  //
                                       0.2126729, 0.7151522, 0.0721750,  //
                                       0.0193339, 0.1191920, 0.9503041};

constexpr Matrix3 kIdentity3 = {1, 0, 0, 0, 1, 0, 0, 0, 1};

Matrix3 multiply(const Matrix3& a, const Matrix3& b);
Rgb3 multiply(const Matrix3& m, const Rgb3& v);
// The inverse by the adjugate; nullopt when |det| is below 1e-12 times the matrix's scale.
std::optional<Matrix3> invert(const Matrix3& m);

// A camera whose colour response is modelled: its XYZ -> camera matrix for D65 light (the
// DNG ColorMatrix2 of Adobe's DNG Converter, as dcraw and LibRaw tabulate it).
struct CameraPreset {
  std::string_view name;
  Matrix3 xyz_to_camera;
};
// The four cameras of the Darmstadt Noise Dataset, whose matrices Brooks et al.'s
// unprocessing code mixes: Huawei Nexus 6P, Sony A7R, Olympus E-M10, Sony RX100 IV.
std::span<const CameraPreset> camera_preset_table();
// Their names ("nexus_6p", "sony_a7r", "olympus_em10", "sony_rx100_iv").
std::span<const std::string_view> camera_presets();

// Brooks et al.'s construction: rgb_to_camera = xyz_to_camera * kSrgbToXyz with each row
// scaled to sum to 1 (so white stays white before white balance), and the CCM is its
// inverse: camera RGB -> linear sRGB, rows summing to 1 as well.
Matrix3 rgb_to_camera_from_xyz(const Matrix3& xyz_to_camera);
Matrix3 ccm_from_xyz_to_camera(const Matrix3& xyz_to_camera);

// The CCM of a named preset; nullopt for an unknown name.
std::optional<Matrix3> preset_ccm(std::string_view camera);
// The CCM of a random convex combination of the presets' XYZ -> camera matrices (weights
// uniform in [1e-8, 1e8) and normalised, as Brooks et al. draw them). Four draws from `rng`.
Matrix3 random_ccm(Pcg32& rng);

}  // namespace synthfarm::sensor
