// Turns a job whose shards are all complete into a dataset: reads every shard manifest
// (the commit markers written by workers) and writes `manifest.json` under the job's
// prefix. Idempotent: running it twice writes the same manifest.
#pragma once

#include <set>
#include <string>

#include <tl/expected.hpp>

#include "protocol/queue.h"
#include "storage/object_store.h"

namespace synthfarm::coordinator {

struct ManifestSummary {
  int64_t samples = 0;
  int64_t objects = 0;
  uint64_t bytes = 0;
};

// `spec_json` is the canonical spec; `job` the Redis record; `dead_shards` the shards that
// were dead-lettered: they are listed as missing instead of read.
tl::expected<ManifestSummary, std::string> write_dataset_manifest(storage::ObjectStore& store,
                                                                  const protocol::JobRecord& job,
                                                                  const std::string& spec_json,
                                                                  const std::set<uint64_t>& dead_shards,
                                                                  int64_t now_ms);

}  // namespace synthfarm::coordinator
