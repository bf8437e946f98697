#include "jobs/object_keys.h"

#include <fmt/format.h>

namespace synthfarm::jobs {

std::string sample_key(uint64_t index, std::string_view extension) {
  return fmt::format("samples/{:08d}.{}", index, extension);
}

std::string frame_key(uint64_t index, int frame, std::string_view extension) {
  return fmt::format("samples/{:08d}.f{:03d}.{}", index, frame, extension);
}

std::string tar_key(uint64_t shard) { return fmt::format("shards/{:06d}.tar", shard); }

std::string tar_member_name(std::string_view key) {
  constexpr std::string_view kFolder = "samples/";
  if (key.starts_with(kFolder)) key.remove_prefix(kFolder.size());
  return std::string(key);
}

std::string tar_member_key(std::string_view name) { return fmt::format("samples/{}", name); }

std::string unit_key(std::string_view folder, uint64_t index, std::string_view extension) {
  return fmt::format("{}/{:08d}.{}", folder, index, extension);
}

}  // namespace synthfarm::jobs
