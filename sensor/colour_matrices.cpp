#include "sensor/colour_matrices.h"

#include <algorithm>
#include <cmath>

namespace synthfarm::sensor {
namespace {

// Adobe DNG ColorMatrix2 (D65) values / 10000. The Nexus 6P's is the phone's own DNG
// matrix (in 1/128 steps), as Brooks et al.'s code lists it.
constexpr std::array<CameraPreset, 4> kPresets = {{
    {"nexus_6p", {1.0234, -0.2969, -0.2266, -0.5625, 1.6328, -0.0469, -0.0703, 0.2188, 0.6406}},
    {"sony_a7r", {0.4913, -0.0541, -0.0202, -0.6130, 1.3513, 0.2906, -0.1564, 0.2151, 0.7183}},
    {"olympus_em10", {0.8380, -0.2630, -0.0639, -0.2887, 1.0725, 0.2496, -0.0627, 0.1427, 0.5438}},
    {"sony_rx100_iv", {0.6596, -0.2079, -0.0562, -0.4782, 1.3016, 0.1933, -0.0970, 0.1581, 0.5181}},
}};

constexpr std::array<std::string_view, kPresets.size()> kPresetNames = {
    kPresets[0].name, kPresets[1].name, kPresets[2].name, kPresets[3].name};

}  // namespace

Matrix3 multiply(const Matrix3& a, const Matrix3& b) {
  Matrix3 out{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      out[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
  return out;
}

Rgb3 multiply(const Matrix3& m, const Rgb3& v) {
  return {m[0] * v[0] + m[1] * v[1] + m[2] * v[2], m[3] * v[0] + m[4] * v[1] + m[5] * v[2],
          m[6] * v[0] + m[7] * v[1] + m[8] * v[2]};
}

std::optional<Matrix3> invert(const Matrix3& m) {
  const double c00 = m[4] * m[8] - m[5] * m[7], c01 = m[5] * m[6] - m[3] * m[8],
               c02 = m[3] * m[7] - m[4] * m[6];
  const double det = m[0] * c00 + m[1] * c01 + m[2] * c02;
  double scale = 0;
  for (double v : m) scale = std::max(scale, std::abs(v));
  if (!std::isfinite(det) || std::abs(det) <= 1e-12 * scale * scale * scale || scale == 0)
    return std::nullopt;
  const double r = 1.0 / det;
  return Matrix3{c00 * r, (m[2] * m[7] - m[1] * m[8]) * r, (m[1] * m[5] - m[2] * m[4]) * r,
                 c01 * r, (m[0] * m[8] - m[2] * m[6]) * r, (m[2] * m[3] - m[0] * m[5]) * r,
                 c02 * r, (m[1] * m[6] - m[0] * m[7]) * r, (m[0] * m[4] - m[1] * m[3]) * r};
}

std::span<const CameraPreset> camera_preset_table() { return kPresets; }
std::span<const std::string_view> camera_presets() { return kPresetNames; }

Matrix3 rgb_to_camera_from_xyz(const Matrix3& xyz_to_camera) {
  Matrix3 m = multiply(xyz_to_camera, kSrgbToXyz);
  for (int i = 0; i < 3; ++i) {
    const double sum = m[3 * i] + m[3 * i + 1] + m[3 * i + 2];
    for (int j = 0; j < 3; ++j) m[3 * i + j] /= sum;
  }
  return m;
}

Matrix3 ccm_from_xyz_to_camera(const Matrix3& xyz_to_camera) {
  // The presets (and any convex combination of them) are far from singular.
  return invert(rgb_to_camera_from_xyz(xyz_to_camera)).value_or(kIdentity3);
}

std::optional<Matrix3> preset_ccm(std::string_view camera) {
  for (const auto& preset : kPresets)
    if (preset.name == camera) return ccm_from_xyz_to_camera(preset.xyz_to_camera);
  return std::nullopt;
}

Matrix3 random_ccm(Pcg32& rng) {
  std::array<double, kPresets.size()> weights{};
  double total = 0;
  for (double& w : weights) {
    w = uniform(rng, 1e-8, 1e8);
    total += w;
  }
  Matrix3 mixed{};
  for (size_t k = 0; k < kPresets.size(); ++k)
    for (int i = 0; i < 9; ++i) mixed[i] += kPresets[k].xyz_to_camera[i] * weights[k];
  for (double& v : mixed) v /= total;
  return ccm_from_xyz_to_camera(mixed);
}

}  // namespace synthfarm::sensor
