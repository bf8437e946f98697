#include "recon/people_fit.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
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

bool usable_intrinsics(const Intrinsics& k) {
  return std::isfinite(k.fx) && std::isfinite(k.fy) && std::isfinite(k.cx) && std::isfinite(k.cy) && k.fx > 0 &&
         k.fy > 0;
}

Intrinsics guessed_intrinsics(const Intrinsics& k, std::span<const std::array<double, 3 * kKeypointCount>> frames,
                              double fov_deg) {
  if (usable_intrinsics(k)) return k;
  Intrinsics out = k;
  double width = k.width, cx = 0.5 * k.width, cy = 0.5 * k.height;
  if (!(k.width > 0 && k.height > 0)) {
    double lo[2] = {1e300, 1e300}, hi[2] = {-1e300, -1e300};
    for (const auto& xyv : frames) {
      for (int i = 0; i < kKeypointCount; ++i) {
        if (xyv[3 * i + 2] <= 0) continue;
        for (int a = 0; a < 2; ++a) lo[a] = std::min(lo[a], xyv[3 * i + a]), hi[a] = std::max(hi[a], xyv[3 * i + a]);
      }
    }
    if (hi[0] < lo[0]) lo[0] = lo[1] = hi[0] = hi[1] = 0;
    cx = 0.5 * (lo[0] + hi[0]), cy = 0.5 * (lo[1] + hi[1]);
    width = 3 * std::max(std::hypot(hi[0] - lo[0], hi[1] - lo[1]), 1.0);
  }
  out.fx = out.fy = 0.5 * width / std::tan(0.5 * fov_deg * kPi / 180.0);
  out.cx = cx, out.cy = cy;
  return out;
}

}  // namespace synthfarm::recon
