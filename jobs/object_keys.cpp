#include "jobs/object_keys.h"

#include <fmt/format.h>

namespace synthfarm::jobs {

std::string sample_key(uint64_t index, std::string_view extension) {
  return fmt::format("samples/{:08d}.{}", index, extension);
}

std::string frame_key(uint64_t index, int frame, std::string_view extension) {
  return fmt::format("samples/{:08d}.f{:03d}.{}", index, frame, extension);
}

std::string unit_key(std::string_view folder, uint64_t index, std::string_view extension) {
  return fmt::format("{}/{:08d}.{}", folder, index, extension);
}

}  // namespace synthfarm::jobs
