// The LibTorch implementation of sensor::LearnedModel, built as the shared library
// libsynthfarm_sensor_torch.so. Programs reach it through sensor::plugin_model_loader()
// (dlopen of the extern "C" factory declared below); its own tests and benchmarks link it and
// call torch_model_loader(). No LibTorch type appears here.
//
// Model format: a TorchScript archive (torch.jit.save / torch::jit::Module::save) whose
//   forward(image: Tensor, params: Tensor) -> Tensor
// takes the image as float32 1 x C x H x W (C = 1 for raw, 3 for rgb) and the camera
// parameters as a 1-D float32 tensor in sensor::kModelParameters order, and returns a
// float32 1 x C x H x W image. The archive carries the extra file synthfarm.json:
//   {"domain": "raw"}   or   {"domain": "rgb"}
//
// Determinism (the contract: identical bytes at any worker thread count):
// - Every forward runs on ONE LibTorch intra-op thread. LibTorch's parallel reductions
//   (e.g. image.sum()) split the work by thread count and so change the low bits when the
//   count changes; conv2d (oneDNN) and matmul (OpenBLAS) happen not to, but a user's model
//   may use anything. Parallelism comes from several sample threads calling apply() at once.
// - A model that draws random numbers (randn_like, rand, normal, bernoulli, dropout, ...;
//   found in its graph at load time) runs under one process-wide lock, after
//   torch::manual_seed(seed): LibTorch 1.13 has no per-call generator that TorchScript's
//   random ops honour. Models without random ops run concurrently, without the lock.
// - The graph executor's optimisations are off (the graph runs as written, the same on
//   the first call as on the hundredth).
// - The random numbers are LibTorch's (its CPU generator and normal sampler): a different
//   LibTorch version may draw differently; the worker image pins Debian's libtorch1.13.
//   Bits are the same on every machine with the same CPU kernels; ATen and oneDNN choose
//   kernels by instruction set (AVX2, AVX-512), which may differ in the last bits.
#pragma once

#include <string>
#include <tl/expected.hpp>

#include "sensor/learned_model.h"

#define SYNTHFARM_SENSOR_TORCH_API __attribute__((visibility("default")))

namespace synthfarm::sensor {

struct TorchModelOptions {
  // How many apply() calls may run a model at the same time (others wait their turn);
  // 0 = the number of cores. Bounds the models' memory and cores, never their bits.
  int threads = 1;
  // LibTorch intra-op threads of each forward call (process-wide: at::set_num_threads).
  // 1 is the deterministic setting (see above); more is for measurements only.
  int intra_op_threads = 1;
  // Run models on CUDA when torch::cuda::is_available(). Off: GPU kernels give other bits
  // than the CPU's, so a farm mixing GPU and CPU workers would not be deterministic.
  // (No machine here has a GPU: this path is untested.)
  bool use_cuda = false;
};

// A loader for TorchScript camera models. Errors: threads or intra_op_threads out of range.
SYNTHFARM_SENSOR_TORCH_API tl::expected<LearnedModelLoader, std::string> torch_model_loader(
    const TorchModelOptions& options);

// The loader with TorchModelOptions{.threads = threads}.
SYNTHFARM_SENSOR_TORCH_API tl::expected<LearnedModelLoader, std::string> torch_model_loader(
    int threads);

}  // namespace synthfarm::sensor

// The plugin's factory (sensor::TorchPluginFactory, named by sensor::kTorchPluginFactory):
// torch_model_loader(threads) into *out, or an error when `abi` is not this library's
// sensor::kLearnedModelAbi.
extern "C" SYNTHFARM_SENSOR_TORCH_API void synthfarm_sensor_torch_loader(
    int abi, int threads, tl::expected<synthfarm::sensor::LearnedModelLoader, std::string>* out);
