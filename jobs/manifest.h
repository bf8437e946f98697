// Shard manifests: the commit marker a worker writes after every object of a shard is
// stored; and the reader of a dataset's manifest.json. It lists each object with its size and sha256; readers trust manifests only.
// The bytes depend only on the shard's contents (no worker id, token or time), so a
// shard rendered twice writes the same manifest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace synthfarm::jobs {

// One file inside a tar object (output.format: webdataset): `offset` is where its data
// starts in the tar, so a reader fetches it with one byte-range read.
struct TarMember {
  std::string name;  // "00000042.json": the files layout's key without "samples/"
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string sha256;  // lower-case hex, of the member's bytes
  friend bool operator==(const TarMember&, const TarMember&) = default;
};

struct ManifestEntry {
  std::string key;
  uint64_t size = 0;
  std::string sha256;  // lower-case hex
  std::vector<TarMember> members;  // a tar's files, in tar order; empty for any other object
  friend bool operator==(const ManifestEntry&, const ManifestEntry&) = default;
};

// The JSON text of one entry, as both manifests write it ("members" only for a tar).
std::string manifest_entry_json(const ManifestEntry& entry);

struct ShardManifest {
  std::string job_id;
  uint64_t shard = 0;
  uint64_t first_sample = 0;
  uint64_t sample_count = 0;
  std::vector<ManifestEntry> objects;
  friend bool operator==(const ShardManifest&, const ShardManifest&) = default;
};

// "shards/000042.manifest.json"
std::string shard_manifest_key(uint64_t shard);
std::string shard_manifest_to_json(const ShardManifest& manifest);
tl::expected<ShardManifest, std::string> parse_shard_manifest(std::string_view bytes);

// The objects a dataset's manifest.json lists (the coordinator's finalizer writes it;
// `synthfarm fetch` downloads and checks what it lists). Read from storage, so never
// trusted: an entry without a string key, an unsigned size and a string sha256 is a
// problem ("objects[3] lacks key, size or sha256"), reported beside the good entries, in
// order. A tar's "members" are read too; a malformed member makes its whole entry a
// problem ("objects[3].members[2] lacks ..."). Keys are not checked here: the reader checks them against where it writes.
// Errors: not JSON, or no "objects" array.
struct DatasetManifest {
  std::vector<ManifestEntry> objects;
  std::vector<std::string> problems;
  std::string format = "files";  // layout.format; "files" when absent (written before tars)
  std::string spec_json;         // the "spec" object as JSON text; empty when absent
};
tl::expected<DatasetManifest, std::string> parse_dataset_manifest(std::string_view bytes);

}  // namespace synthfarm::jobs
