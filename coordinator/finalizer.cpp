#include "coordinator/finalizer.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "jobs/sharding.h"
#include "jobs/manifest.h"

namespace synthfarm::coordinator {

tl::expected<ManifestSummary, std::string> write_dataset_manifest(storage::ObjectStore& store,
                                                                  const protocol::JobRecord& job,
                                                                  const std::string& spec_json,
                                                                  const std::set<uint64_t>& dead_shards,
                                                                  int64_t now_ms) {
  using nlohmann::json;
  const uint64_t shards = jobs::shard_count(job.samples, job.shard_size);
  json objects = json::array();
  ManifestSummary summary;
  std::vector<bool> seen(static_cast<size_t>(job.samples), false);
  json missing = json::array();
  for (uint64_t n = 0; n < shards; ++n) {
    if (dead_shards.count(n)) {
      auto range = jobs::shard_range(job.samples, job.shard_size, n);
      missing.push_back({{"shard", n}, {"first_sample", range.begin}, {"sample_count", range.size()}});
      continue;
    }
    auto key = jobs::shard_manifest_key(n);
    auto bytes = store.get(key);
    if (!bytes) return tl::unexpected(fmt::format("job {}: cannot read {}: {}", job.id, key, bytes.error().message));
    auto manifest = jobs::parse_shard_manifest(*bytes);
    if (!manifest) return tl::unexpected(fmt::format("job {}: {}: {}", job.id, key, manifest.error()));
    auto range = jobs::shard_range(job.samples, job.shard_size, n);
    if (manifest->first_sample != range.begin || manifest->sample_count != range.size()) {
      return tl::unexpected(fmt::format("job {}: {} covers samples {}+{}, expected {}+{}", job.id, key,
                                        manifest->first_sample, manifest->sample_count, range.begin,
                                        range.size()));
    }
    for (uint64_t i = range.begin; i < range.end; ++i) seen[i] = true;
    for (const auto& o : manifest->objects) {
      objects.push_back({{"key", o.key}, {"size", o.size}, {"sha256", o.sha256}});
      summary.bytes += o.size;
      ++summary.objects;
    }
  }
  summary.samples = std::count(seen.begin(), seen.end(), true);
  json manifest = {
      {"format", "synthfarm.dataset/1"},
      {"job", job.id},
      {"name", job.name},
      {"software", {{"name", "synthfarm"}, {"version", SYNTHFARM_VERSION}}},
      {"spec", json::parse(spec_json)},
      {"complete", missing.empty()},
      {"counts", {{"samples", summary.samples}, {"shards", shards}, {"objects", summary.objects},
                  {"bytes", summary.bytes}, {"missing_shards", missing.size()}}},
      {"missing", std::move(missing)},
      {"timing", {{"created_ms", job.created_ms}, {"started_ms", job.started_ms}, {"finalized_ms", now_ms}}},
      {"layout", {{"sample", "samples/{index:08d}.{exr,png,json}"}, {"shard_manifest", "shards/{shard:06d}.manifest.json"}}},
      {"objects", std::move(objects)},
  };
  auto put = store.put("manifest.json", manifest.dump(1) + "\n");
  if (!put) return tl::unexpected(fmt::format("job {}: cannot write manifest.json: {}", job.id, put.error().message));
  return summary;
}

}  // namespace synthfarm::coordinator
