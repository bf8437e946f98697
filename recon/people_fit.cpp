#include "recon/people_fit.h"

#include <dlfcn.h>

#include <mutex>

namespace synthfarm::recon {
namespace {

// The plugin's factory, or why it could not be found. Opened once per process and never
// closed (LibTorch does not support being unloaded).
struct Plugin {
  ReconPluginFactory factory = nullptr;
  std::string error;
};

Plugin open_plugin() {
  Plugin plugin;
  // RTLD_LOCAL: LibTorch's symbols stay out of the program's global namespace.
  void* handle = dlopen(kReconPluginLibrary, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    plugin.error = std::string("fitting people needs ") + kReconPluginLibrary +
                   " (and LibTorch's runtime libraries), which did not load: " +
                   (why != nullptr ? why : "unknown dlopen error") +
                   "; it is installed in lib/synthfarm/ beside the programs";
    return plugin;
  }
  dlerror();
  void* symbol = dlsym(handle, kReconPluginFactory);
  if (symbol == nullptr) {
    const char* why = dlerror();
    plugin.error = std::string(kReconPluginLibrary) + ": no factory " + kReconPluginFactory +
                   (why != nullptr ? std::string(": ") + why : std::string()) +
                   " (not a synthfarm plugin, or from another version)";
    return plugin;
  }
  plugin.factory = reinterpret_cast<ReconPluginFactory>(symbol);
  return plugin;
}

}  // namespace

tl::expected<std::shared_ptr<const PeopleFitter>, std::string> plugin_people_fitter(int threads) {
  static std::once_flag once;
  static Plugin plugin;
  std::call_once(once, [] { plugin = open_plugin(); });
  if (plugin.factory == nullptr) return tl::unexpected(plugin.error);
  tl::expected<std::shared_ptr<const PeopleFitter>, std::string> fitter =
      tl::unexpected(std::string(kReconPluginLibrary) + ": its factory returned nothing");
  plugin.factory(kPeopleFitterAbi, threads, &fitter);
  return fitter;
}

}  // namespace synthfarm::recon
