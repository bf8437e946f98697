#include "jobs/manifest.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>

namespace synthfarm::jobs {

std::string shard_manifest_key(uint64_t shard) { return fmt::format("shards/{:06d}.manifest.json", shard); }

namespace {

nlohmann::json entry_json(const ManifestEntry& entry) {
  nlohmann::json j = {{"key", entry.key}, {"size", entry.size}, {"sha256", entry.sha256}};
  if (!entry.members.empty()) {
    nlohmann::json members = nlohmann::json::array();
    for (const auto& m : entry.members) {
      members.push_back({{"name", m.name}, {"offset", m.offset}, {"size", m.size}, {"sha256", m.sha256}});
    }
    j["members"] = std::move(members);
  }
  return j;
}

// A tar entry's members, each inside the tar's bytes; nullopt and `problem` set otherwise.
std::optional<std::vector<TarMember>> parse_members(const nlohmann::json& entry, uint64_t tar_size,
                                                    std::string& problem) {
  std::vector<TarMember> out;
  if (!entry.contains("members")) return out;
  const nlohmann::json& members = entry["members"];
  if (!members.is_array()) {
    problem = "members is not an array";
    return std::nullopt;
  }
  for (size_t i = 0; i < members.size(); ++i) {
    const nlohmann::json& m = members[i];
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string() || !m.contains("offset") ||
        !m["offset"].is_number_unsigned() || !m.contains("size") || !m["size"].is_number_unsigned() ||
        !m.contains("sha256") || !m["sha256"].is_string()) {
      problem = fmt::format("members[{}] lacks name, offset, size or sha256", i);
      return std::nullopt;
    }
    TarMember member{m["name"].get<std::string>(), m["offset"].get<uint64_t>(), m["size"].get<uint64_t>(),
                     m["sha256"].get<std::string>()};
    if (member.offset > tar_size || member.size > tar_size - member.offset) {
      problem = fmt::format("members[{}] ({}) lies outside the tar's {} bytes", i, member.name, tar_size);
      return std::nullopt;
    }
    out.push_back(std::move(member));
  }
  return out;
}

}  // namespace

std::string manifest_entry_json(const ManifestEntry& entry) { return entry_json(entry).dump(); }

std::string shard_manifest_to_json(const ShardManifest& m) {
  nlohmann::json objects = nlohmann::json::array();
  for (const auto& o : m.objects) objects.push_back(entry_json(o));
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
    // get<uint64_t>() converts any number, and a float beyond 2^64 (or a negative one) has
    // no uint64_t value at all: counts must be written as non-negative integers.
    auto count = [](const nlohmann::json& value, const char* field) {
      if (!value.is_number_unsigned()) {
        throw nlohmann::json::type_error::create(302, std::string(field) + " must be a non-negative integer", &value);
      }
      return value.get<uint64_t>();
    };
    ShardManifest m;
    m.job_id = j.at("job").get<std::string>();
    m.shard = count(j.at("shard"), "shard");
    m.first_sample = count(j.at("first_sample"), "first_sample");
    m.sample_count = count(j.at("sample_count"), "sample_count");
    for (const auto& o : j.at("objects")) {
      ManifestEntry entry{o.at("key").get<std::string>(), count(o.at("size"), "objects[].size"),
                          o.at("sha256").get<std::string>(), {}};
      std::string problem;
      auto members = parse_members(o, entry.size, problem);
      if (!members) return tl::unexpected(fmt::format("malformed shard manifest: {}: {}", entry.key, problem));
      entry.members = std::move(*members);
      m.objects.push_back(std::move(entry));
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    return tl::unexpected(std::string("malformed shard manifest: ") + e.what());
  }
}

tl::expected<DatasetManifest, std::string> parse_dataset_manifest(std::string_view bytes) {
  const nlohmann::json manifest = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded() || !manifest.is_object() || !manifest.contains("objects") ||
      !manifest["objects"].is_array()) {
    return tl::unexpected(std::string("not a dataset manifest (no \"objects\" array)"));
  }
  DatasetManifest out;
  if (const auto layout = manifest.find("layout"); layout != manifest.end() && layout->is_object()) {
    if (const auto format = layout->find("format"); format != layout->end() && format->is_string()) {
      out.format = format->get<std::string>();
    }
  }
  if (const auto spec = manifest.find("spec"); spec != manifest.end()) out.spec_json = spec->dump();
  const nlohmann::json& objects = manifest["objects"];
  for (size_t i = 0; i < objects.size(); ++i) {
    const nlohmann::json& o = objects[i];
    if (!o.is_object() || !o.contains("key") || !o["key"].is_string() || !o.contains("size") ||
        !o["size"].is_number_unsigned() || !o.contains("sha256") || !o["sha256"].is_string()) {
      out.problems.push_back(fmt::format("objects[{}] lacks key, size or sha256", i));
      continue;
    }
    ManifestEntry entry{o["key"].get<std::string>(), o["size"].get<uint64_t>(), o["sha256"].get<std::string>(), {}};
    std::string problem;
    auto members = parse_members(o, entry.size, problem);
    if (!members) {
      out.problems.push_back(fmt::format("objects[{}].{}", i, problem));
      continue;
    }
    entry.members = std::move(*members);
    out.objects.push_back(std::move(entry));
  }
  return out;
}

}  // namespace synthfarm::jobs
