// TorchScript camera models: loading, checking and running them (see torch_model.h).
#include "sensor/torch/torch_model.h"

#include <ATen/Parallel.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace synthfarm::sensor {
namespace {

constexpr const char* kMetadataFile = "synthfarm.json";

// LibTorch's messages run over several lines (and c10::Error::what() adds a C++ stack):
// the first line says what went wrong. The TorchScript interpreter's say it last, after
// tracebacks whose last `File "...", line N, in f` is where in the model's own code.
std::string one_line(std::string_view message) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  };
  message = trim(message);
  if (message.find("\nTraceback of TorchScript") == std::string_view::npos) {
    return std::string(message.substr(0, message.find('\n')));
  }
  std::string line(trim(message.substr(message.rfind('\n') + 1)));
  const auto file = message.rfind("File \"");
  if (file != std::string_view::npos) {
    line += " (" + std::string(trim(message.substr(file, message.find('\n', file) - file))) + ")";
  }
  return line;
}

std::string describe(const std::exception& e) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&e)) {
    return one_line(torch_error->what_without_backtrace());
  }
  return one_line(e.what());
}

// The domain from the archive's synthfarm.json: {"domain": "raw" | "rgb"}, nothing else.
tl::expected<ModelDomain, std::string> parse_metadata(const std::string& json,
                                                      const std::string& name) {
  const std::string where = name + ": " + kMetadataFile;
  if (json.empty()) {
    return tl::unexpected(name + ": no " + kMetadataFile +
                          " in the archive (save it as an extra file: " +
                          "{\"domain\": \"raw\"} or {\"domain\": \"rgb\"})");
  }
  const auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return tl::unexpected(where + ": not valid JSON");
  if (!doc.is_object()) return tl::unexpected(where + ": expected a JSON object");
  for (const auto& [key, value] : doc.items()) {
    if (key != "domain")
      return tl::unexpected(where + ": unknown key '" + key + "' (known: domain)");
  }
  const auto domain = doc.find("domain");
  if (domain == doc.end()) return tl::unexpected(where + ": no \"domain\" (\"raw\" or \"rgb\")");
  if (*domain == "raw") return ModelDomain::kRaw;
  if (*domain == "rgb") return ModelDomain::kRgb;
  return tl::unexpected(where + ": domain must be \"raw\" or \"rgb\", got " + domain->dump());
}

// forward(self, image: Tensor, params: Tensor) -> Tensor, checked on the archive's schema
// so that a wrong model fails at load, not on the first sample.
tl::expected<void, std::string> check_forward_schema(const torch::jit::Module& module,
                                                     const std::string& name) {
  const auto forward = module.find_method("forward");
  if (!forward) return tl::unexpected(name + ": the module has no forward method");
  const c10::FunctionSchema& schema = forward->function().getSchema();
  const auto& args = schema.arguments();  // args[0] is self
  std::string signature;
  for (size_t i = 1; i < args.size(); ++i) {
    signature += (i > 1 ? ", " : "") + args[i].name() + ": " + args[i].type()->annotation_str();
  }
  const std::string expected = "expected forward(image: Tensor, params: Tensor) -> Tensor";
  if (args.size() != 3) {
    return tl::unexpected(name + ": forward takes " + std::to_string(args.size() - 1) +
                          " argument" + (args.size() == 2 ? "" : "s") + " (" + signature + "), " +
                          expected);
  }
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i].type()->kind() != c10::TypeKind::TensorType) {
      return tl::unexpected(name + ": forward's argument " + args[i].name() + " is " +
                            args[i].type()->annotation_str() + ", " + expected);
    }
  }
  const auto& returns = schema.returns();
  if (returns.size() != 1 || returns[0].type()->kind() != c10::TypeKind::TensorType) {
    std::string got;
    for (const auto& r : returns) got += (got.empty() ? "" : ", ") + r.type()->annotation_str();
    return tl::unexpected(name + ": forward returns " + (got.empty() ? "nothing" : got) + ", " +
                          expected);
  }
  return {};
}

// Whether a graph may draw random numbers: any aten op named like one of LibTorch's random
// ops or taking a Generator, and any call left after inlining (it could draw). Erring on
// the side of "random" only costs concurrency.
bool may_draw_random(const torch::jit::Block* block) {
  static constexpr std::string_view kRandomNames[] = {
      "rand",    "normal",      "bernoulli", "dropout",   "poisson", "multinomial",
      "uniform", "exponential", "cauchy",    "geometric", "rrelu"};
  for (const torch::jit::Node* node : block->nodes()) {
    for (const torch::jit::Block* inner : node->blocks()) {
      if (may_draw_random(inner)) return true;
    }
    const c10::Symbol kind = node->kind();
    if (kind == c10::prim::CallFunction || kind == c10::prim::CallMethod) return true;
    if (!kind.is_aten()) continue;
    const std::string op = kind.toUnqualString();
    for (std::string_view random : kRandomNames) {
      if (op.find(random) != std::string::npos) return true;
    }
    if (const c10::FunctionSchema* schema = node->maybeSchema()) {
      for (const auto& arg : schema->arguments()) {
        if (arg.type()->str().find("Generator") != std::string::npos) return true;
      }
    }
  }
  return false;
}

bool forward_may_draw_random(const torch::jit::Module& module) {
  auto graph = module.get_method("forward").graph()->copy();
  torch::jit::Inline(*graph);
  return may_draw_random(graph->block());
}

// A counting semaphore sized at run time: at most `count` holders at once.
class Slots {
 public:
  explicit Slots(int count) : free_(count) {}
  void acquire() {
    std::unique_lock lock(mutex_);
    freed_.wait(lock, [this] { return free_ > 0; });
    --free_;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      ++free_;
    }
    freed_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable freed_;
  int free_;  // guarded by mutex_
};

class SlotHold {
 public:
  explicit SlotHold(Slots& slots) : slots_(slots) { slots_.acquire(); }
  ~SlotHold() { slots_.release(); }
  SlotHold(const SlotHold&) = delete;
  SlotHold& operator=(const SlotHold&) = delete;

 private:
  Slots& slots_;
};

// LibTorch's default generators are one per process, so seeded forward calls of every
// model of every loader take turns.
std::mutex& random_forward_mutex() {
  static std::mutex mutex;
  return mutex;
}

// The first non-finite value of an HWC image, as an error naming its pixel.
std::optional<std::string> find_non_finite(const std::vector<float>& image, int width,
                                           int channels) {
  const auto bad =
      std::find_if(image.begin(), image.end(), [](float v) { return !std::isfinite(v); });
  if (bad == image.end()) return std::nullopt;
  const auto pixel = static_cast<size_t>(bad - image.begin()) / static_cast<size_t>(channels);
  return std::string(std::isnan(*bad) ? "NaN" : "Inf") + " at pixel (" +
         std::to_string(pixel % width) + ", " + std::to_string(pixel / width) + ")";
}

std::string shape_string(c10::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

// Thread-safe: the module is only read (forward on a shallow copy of its handle), the
// slots and the random lock are thread-safe.
class TorchModel final : public LearnedModel {
 public:
  TorchModel(torch::jit::Module module, std::string name, ModelDomain domain, bool random,
             torch::Device device, std::shared_ptr<Slots> slots)
      : module_(std::move(module)),
        name_(std::move(name)),
        domain_(domain),
        random_(random),
        device_(device),
        slots_(std::move(slots)) {}

  ModelDomain domain() const override { return domain_; }

  tl::expected<void, std::string> apply(std::vector<float>& image, int width, int height,
                                        std::span<const double> params,
                                        uint64_t seed) const override {
    const int channels = model_channels(domain_);
    if (width <= 0 || height <= 0 ||
        image.size() != static_cast<size_t>(width) * static_cast<size_t>(height) * channels) {
      return tl::unexpected(name_ + ": the image has " + std::to_string(image.size()) +
                            " values, expected " + std::to_string(width) + " x " +
                            std::to_string(height) + " x " + std::to_string(channels) + " (" +
                            (channels == 1 ? "raw" : "rgb") + ")");
    }
    if (params.size() != kModelParameters.size()) {
      return tl::unexpected(name_ + ": " + std::to_string(params.size()) +
                            " camera parameters, expected " +
                            std::to_string(kModelParameters.size()));
    }
    SlotHold slot(*slots_);
    try {
      return run(image, width, height, params, seed);
    } catch (const std::exception& e) {
      return tl::unexpected(name_ + ": forward failed: " + describe(e));
    } catch (...) {
      return tl::unexpected(name_ + ": forward failed: an exception that is not a std::exception");
    }
  }

 private:
  tl::expected<void, std::string> run(std::vector<float>& image, int width, int height,
                                      std::span<const double> params, uint64_t seed) const {
    const int channels = model_channels(domain_);
    c10::InferenceMode inference;
    torch::jit::GraphOptimizerEnabledGuard unoptimised(false);  // thread-local
    // Copies, never views of the caller's memory: a model may work in place.
    const auto input = torch::from_blob(image.data(), {1, height, width, channels}, torch::kFloat32)
                           .permute({0, 3, 1, 2})
                           .clone(at::MemoryFormat::Contiguous)
                           .to(device_);
    std::vector<float> values(params.begin(), params.end());
    const auto param_tensor =
        torch::from_blob(values.data(), {static_cast<int64_t>(values.size())}, torch::kFloat32)
            .clone()
            .to(device_);
    torch::jit::Module module = module_;  // a handle: forward() is not const
    c10::IValue result;
    if (random_) {
      std::lock_guard lock(random_forward_mutex());
      torch::manual_seed(seed);
      result = module.forward({input, param_tensor});
    } else {
      result = module.forward({input, param_tensor});
    }
    if (!result.isTensor())
      return tl::unexpected(name_ + ": forward returned " + result.tagKind() + ", not a Tensor");
    const at::Tensor output = result.toTensor();
    const std::vector<int64_t> want = {1, channels, height, width};
    if (output.sizes() != c10::IntArrayRef(want)) {
      return tl::unexpected(name_ + ": output has shape " + shape_string(output.sizes()) +
                            ", expected " + shape_string(want) + " (1 x C x H x W, as the input)");
    }
    if (output.scalar_type() != torch::kFloat32) {
      return tl::unexpected(name_ + ": output is " +
                            std::string(c10::toString(output.scalar_type())) +
                            ", expected Float (float32)");
    }
    const auto hwc = output.to(torch::kCPU).squeeze(0).permute({1, 2, 0}).contiguous();
    std::memcpy(image.data(), hwc.data_ptr<float>(), image.size() * sizeof(float));
    if (auto bad = find_non_finite(image, width, channels))
      return tl::unexpected(name_ + ": output has " + *bad);
    return {};
  }

  torch::jit::Module module_;
  std::string name_;
  ModelDomain domain_;
  bool random_;  // forward may draw random numbers: seeded, under random_forward_mutex()
  torch::Device device_;
  std::shared_ptr<Slots> slots_;  // shared by the loader's models
};

tl::expected<std::shared_ptr<const LearnedModel>, std::string> load_model(
    const std::string& bytes, const std::string& name, torch::Device device,
    const std::shared_ptr<Slots>& slots) {
  // A TorchScript archive is a zip file; anything else is refused before LibTorch sees it.
  if (bytes.size() < 4 || bytes.compare(0, 4, "PK\x03\x04") != 0) {
    return tl::unexpected(name + ": not a TorchScript archive: no zip header (" +
                          std::to_string(bytes.size()) + " bytes)");
  }
  torch::jit::Module module;
  torch::jit::ExtraFilesMap extra = {{kMetadataFile, ""}};
  try {
    std::istringstream stream(bytes);
    module = torch::jit::load(stream, device, extra);
  } catch (const std::exception& e) {
    return tl::unexpected(name + ": not a TorchScript archive: " + describe(e));
  } catch (...) {
    return tl::unexpected(name + ": not a TorchScript archive (an unknown exception)");
  }
  try {
    auto domain = parse_metadata(extra[kMetadataFile], name);
    if (!domain) return tl::unexpected(domain.error());
    if (auto schema = check_forward_schema(module, name); !schema)
      return tl::unexpected(schema.error());
    module.eval();
    const bool random = forward_may_draw_random(module);
    return std::make_shared<const TorchModel>(std::move(module), name, *domain, random, device,
                                              slots);
  } catch (const std::exception& e) {
    return tl::unexpected(name + ": cannot read the model: " + describe(e));
  } catch (...) {
    return tl::unexpected(name + ": cannot read the model (an unknown exception)");
  }
}

}  // namespace

tl::expected<LearnedModelLoader, std::string> torch_model_loader(const TorchModelOptions& options) {
  if (options.threads < 0 || options.threads > 1024) {
    return tl::unexpected("learned models: threads must be 0..1024, got " +
                          std::to_string(options.threads));
  }
  if (options.intra_op_threads < 1 || options.intra_op_threads > 1024) {
    return tl::unexpected("learned models: intra_op_threads must be 1..1024, got " +
                          std::to_string(options.intra_op_threads));
  }
  try {
    at::set_num_threads(options.intra_op_threads);
    const bool cuda = options.use_cuda && torch::cuda::is_available();
    const torch::Device device = cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    const int slots_count =
        options.threads > 0 ? options.threads
                            : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    auto slots = std::make_shared<Slots>(slots_count);
    return LearnedModelLoader([device, slots](const std::string& bytes, const std::string& name) {
      return load_model(bytes, name, device, slots);
    });
  } catch (const std::exception& e) {
    return tl::unexpected("learned models: LibTorch failed to start: " + describe(e));
  } catch (...) {
    return tl::unexpected(std::string("learned models: LibTorch failed to start"));
  }
}

tl::expected<LearnedModelLoader, std::string> torch_model_loader(int threads) {
  return torch_model_loader(TorchModelOptions{.threads = threads});
}

}  // namespace synthfarm::sensor

extern "C" void synthfarm_sensor_torch_loader(
    int abi, int threads, tl::expected<synthfarm::sensor::LearnedModelLoader, std::string>* out) {
  using namespace synthfarm::sensor;
  if (abi != kLearnedModelAbi) {
    *out = tl::unexpected(std::string(kTorchPluginLibrary) + " speaks interface version " +
                          std::to_string(kLearnedModelAbi) + ", the program " +
                          std::to_string(abi) + ": install the plugin built with this program");
    return;
  }
  *out = torch_model_loader(threads);
}
