// Small TorchScript camera models made in C++ (no Python), as archive bytes: for the
// plugin's tests, the fixture files of the dlopen test and bench/torch_model_cost. Test
// support only (a static library linking LibTorch); never linked into a program.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synthfarm::sensor::test_models {

// The metadata a model of each domain carries.
inline constexpr std::string_view kRawMetadata = R"({"domain": "raw"})";
inline constexpr std::string_view kRgbMetadata = R"({"domain": "rgb"})";

// A module whose TorchScript source is `source` (one or more `def`, forward among them),
// saved with `metadata` as synthfarm.json (none when nullopt).
std::string script_model(std::string_view source, std::optional<std::string_view> metadata);

// forward: image + sigma * torch.randn_like(image).
std::string noise_model(double sigma, std::string_view metadata = kRgbMetadata);

// forward: the 3 x 3 colour matrix `m` (row-major) applied to every pixel, out = m * rgb;
// the matrix is a registered parameter.
std::string colour_matrix_model(const std::array<float, 9>& m);

// forward: a residual CNN, image + conv(relu(conv(relu(conv(image))))), 3 x 3 kernels with
// 3 -> width -> width -> 3 channels, weights drawn from `seed`. width 20: 4,723 parameters.
std::string conv_model(int width, uint64_t seed);
int64_t conv_model_parameters(int width);

}  // namespace synthfarm::sensor::test_models
