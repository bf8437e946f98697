// spec_locations(): the storage locations a spec reads or writes (jobs/spec.h).
#include "jobs/spec.h"

namespace synthfarm::jobs {

std::vector<SpecLocation> spec_locations(const JobSpec& spec) {
  std::vector<SpecLocation> out;
  if (!spec.output.storage.empty()) out.push_back({"output.storage", spec.output.storage});
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    out.push_back({spec.inputs.size() == 1 ? std::string("inputs") : "inputs[" + std::to_string(i) + "]",
                   spec.inputs[i]});
  }
  if (!spec.scene.mesh.empty()) out.push_back({"scene.mesh", spec.scene.mesh});
  if (!spec.humans.poses.empty()) out.push_back({"humans.poses", spec.humans.poses});
  if (!spec.humans.shapes.empty()) out.push_back({"humans.shapes", spec.humans.shapes});
  for (size_t i = 0; i < spec.humans.bvh.size(); ++i) {
    out.push_back({"humans.bvh[" + std::to_string(i) + "]", spec.humans.bvh[i]});
  }
  for (size_t i = 0; i < spec.humans.characters.size(); ++i) {
    out.push_back({"humans.characters[" + std::to_string(i) + "]", spec.humans.characters[i]});
  }
  for (const auto& value : spec.lighting.environment.values) {
    if (value != "sky") out.push_back({"lighting.environment", value});
  }
  if (!spec.sensor.noise.profile_uri.empty()) out.push_back({"sensor.noise.profile", spec.sensor.noise.profile_uri});
  if (!spec.sensor.model.empty()) out.push_back({"sensor.model", spec.sensor.model});
  return out;
}

}  // namespace synthfarm::jobs
