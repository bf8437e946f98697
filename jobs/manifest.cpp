#include "jobs/manifest.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace synthfarm::jobs {

std::string shard_manifest_key(uint64_t shard) { return fmt::format("shards/{:06d}.manifest.json", shard); }

std::string shard_manifest_to_json(const ShardManifest& m) {
  nlohmann::json objects = nlohmann::json::array();
  for (const auto& o : m.objects) objects.push_back({{"key", o.key}, {"size", o.size}, {"sha256", o.sha256}});
  nlohmann::json j = {{"format", "synthfarm.shard/1"}, {"job", m.job_id},
                      {"shard", m.shard},              {"first_sample", m.first_sample},
                      {"sample_count", m.sample_count}, {"objects", std::move(objects)}};
  return j.dump(1) + "\n";
}

tl::expected<ShardManifest, std::string> parse_shard_manifest(std::string_view bytes) {
  try {
    auto j = nlohmann::json::parse(bytes);
    if (j.value("format", "") != "synthfarm.shard/1") {
      return tl::unexpected(std::string("not a synthfarm shard manifest (format field)"));
    }
    ShardManifest m;
    m.job_id = j.at("job").get<std::string>();
    m.shard = j.at("shard").get<uint64_t>();
    m.first_sample = j.at("first_sample").get<uint64_t>();
    m.sample_count = j.at("sample_count").get<uint64_t>();
    for (const auto& o : j.at("objects")) {
      m.objects.push_back({o.at("key").get<std::string>(), o.at("size").get<uint64_t>(),
                           o.at("sha256").get<std::string>()});
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    return tl::unexpected(std::string("malformed shard manifest: ") + e.what());
  }
}

}  // namespace synthfarm::jobs
