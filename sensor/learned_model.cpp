#include "sensor/learned_model.h"

#include <dlfcn.h>

#include <mutex>

namespace synthfarm::sensor {
namespace {

// The plugin's factory, or why it could not be found. dlopen is per process: the first
// call opens the library, later calls reuse it, and it is never closed (LibTorch does not
// support being unloaded).
struct Plugin {
  TorchPluginFactory factory = nullptr;
  std::string error;
};

Plugin open_plugin() {
  Plugin plugin;
  // RTLD_LOCAL: LibTorch's symbols stay out of the program's global namespace.
  void* handle = dlopen(kTorchPluginLibrary, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    plugin.error = std::string("learned camera models need ") + kTorchPluginLibrary +
                   " (and LibTorch's runtime libraries), which did not load: " +
                   (why != nullptr ? why : "unknown dlopen error") +
                   "; it is installed in lib/synthfarm/ beside the programs";
    return plugin;
  }
  dlerror();  // clear, so that a null symbol is told from a failed lookup
  void* symbol = dlsym(handle, kTorchPluginFactory);
  if (symbol == nullptr) {
    const char* why = dlerror();
    plugin.error = std::string(kTorchPluginLibrary) + ": no factory " + kTorchPluginFactory +
                   (why != nullptr ? std::string(": ") + why : std::string()) +
                   " (not a synthfarm plugin, or from another version)";
    return plugin;
  }
  plugin.factory = reinterpret_cast<TorchPluginFactory>(symbol);
  return plugin;
}

}  // namespace

tl::expected<LearnedModelLoader, std::string> plugin_model_loader(int threads) {
  static std::once_flag once;
  static Plugin plugin;
  std::call_once(once, [] { plugin = open_plugin(); });
  if (plugin.factory == nullptr) return tl::unexpected(plugin.error);
  tl::expected<LearnedModelLoader, std::string> loader =
      tl::unexpected(std::string(kTorchPluginLibrary) + ": its factory returned nothing");
  plugin.factory(kLearnedModelAbi, threads, &loader);
  return loader;
}

}  // namespace synthfarm::sensor
