// Learned camera models: a user's TorchScript module that replaces part of the physical
// camera for one sample (a noise flow on the raw mosaic, or an RGB-to-camera mapping).
// This header is the whole interface the sample pipeline sees; it names no LibTorch type.
// The implementation lives in sensor/torch/, a shared library (libsynthfarm_sensor_torch.so)
// that programs open with plugin_model_loader(): the worker at start, the CLI when a spec
// names a model; none NEEDs LibTorch to start, and the coordinator never loads it.
//
// Determinism: apply() with the same bytes, image, parameters and seed returns the same
// bits whatever the thread count of the calling program (sensor/torch/torch_model.h says
// how the plugin keeps that promise).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace synthfarm::sensor {

// kRaw: the Bayer mosaic (1 channel) before noise; the model replaces the physical noise
// step (a noise flow). kRgb: linear RGB (3 channels) after exposure, before the physical
// camera.
enum class ModelDomain { kRaw, kRgb };

// The camera parameters drawn for the sample, passed to every model in this order as a
// 1-D float tensor. cfa is the index of sensor::Cfa (0..3); jpeg_quality is 0 for PNG.
inline constexpr std::array<std::string_view, 8> kModelParameters = {
    "iso", "exposure", "noise_shot", "noise_read", "red_gain", "blue_gain", "cfa", "jpeg_quality"};

// Channels of an image in `domain`: 1 (raw) or 3 (rgb).
constexpr int model_channels(ModelDomain domain) { return domain == ModelDomain::kRaw ? 1 : 3; }

// Thread-safe: apply() may be called from several threads at once.
class LearnedModel {
 public:
  virtual ~LearnedModel() = default;
  virtual ModelDomain domain() const = 0;
  // image: interleaved HWC floats (model_channels(domain()) per pixel), replaced by the
  // model's output of the same shape. params: kModelParameters.size() values in that order.
  // seed: every random draw of the model comes from it. An error names the model and the
  // problem ("camera.pt: output has NaN at pixel (3, 7)"); `image` is then unspecified.
  virtual tl::expected<void, std::string> apply(std::vector<float>& image, int width, int height,
                                                std::span<const double> params,
                                                uint64_t seed) const = 0;
};

// Reads a model from the bytes of its file; `name` (the file's name) starts every error.
// Thread-safe.
using LearnedModelLoader =
    std::function<tl::expected<std::shared_ptr<const LearnedModel>, std::string>(
        const std::string& bytes, const std::string& name)>;

// Opens the LibTorch plugin (libsynthfarm_sensor_torch.so, found through the program's
// RUNPATH: the build tree's lib/, or lib/synthfarm/ beside the installed programs) on first
// use and returns its loader; `threads` as for torch_model_loader(). The library stays
// loaded until the process exits. An error names the library and why it did not load when
// it is not installed.
tl::expected<LearnedModelLoader, std::string> plugin_model_loader(int threads);

// What plugin_model_loader() looks for; the plugin defines the factory (extern "C", so its
// name is plain). kLearnedModelAbi changes whenever this header's types change, so that a
// stale plugin is refused instead of misread.
inline constexpr const char* kTorchPluginLibrary = "libsynthfarm_sensor_torch.so";
inline constexpr const char* kTorchPluginFactory = "synthfarm_sensor_torch_loader";
inline constexpr int kLearnedModelAbi = 1;

// The factory's type. It writes the loader (or an error) to `out`; `abi` is the caller's
// kLearnedModelAbi. Both sides are built from this tree with one compiler, which is what
// lets C++ types cross the C name.
using TorchPluginFactory = void (*)(int abi, int threads,
                                    tl::expected<LearnedModelLoader, std::string>* out);

}  // namespace synthfarm::sensor
