// The plugin's one exported symbol (recon/people_fit.h): the factory that
// recon::plugin_people_fitter() looks up with dlsym.
#include "recon/torch/fitter.h"

extern "C" __attribute__((visibility("default"))) void synthfarm_recon_torch_fitter(
    int abi, int threads, tl::expected<std::shared_ptr<const synthfarm::recon::PeopleFitter>, std::string>* out) {
  using namespace synthfarm::recon;
  if (abi != kPeopleFitterAbi) {
    *out = tl::unexpected(std::string(kReconPluginLibrary) + " speaks interface version " +
                          std::to_string(kPeopleFitterAbi) + ", the program " + std::to_string(abi) +
                          ": install the plugin built with this program");
    return;
  }
  *out = torch_fit::make_torch_fitter(threads);
}
