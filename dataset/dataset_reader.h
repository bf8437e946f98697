// Reading a job's files through its manifests, whatever output.format wrote them: each its
// own object ("files"), or a member of its shard's tar ("webdataset", read with one
// byte-range read). A FileRef names a file by its files-layout key
// ("samples/00000042.json") and says where its bytes lie; every read is checked against
// the size and sha256 the manifest lists. The finalizer, the coordinator's sample API and
// the CLI's exporters read samples only through here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "jobs/manifest.h"
#include "storage/object_store.h"

namespace synthfarm::dataset {

struct FileRef {
  std::string key;     // files-layout key: "samples/00000042.exr"
  std::string object;  // the object holding it: the key itself, or "shards/000000.tar"
  uint64_t offset = 0;  // where its bytes start in `object`
  uint64_t size = 0;
  std::string sha256;
  bool in_tar() const { return object != key; }
};

// The files one manifest entry holds: the entry itself, or a tar's members (their keys
// spelled as the files layout would).
std::vector<FileRef> entry_files(const jobs::ManifestEntry& entry);
// Every file of a shard manifest, sorted by key.
std::vector<FileRef> shard_files(const jobs::ShardManifest& manifest);

// Reads one file; an error names the file (and its tar) and what went wrong, a size or
// sha256 different from the manifest's included.
tl::expected<std::string, std::string> read_file(const storage::ObjectStore& store, const FileRef& file);

// A finished dataset, from its manifest.json.
class Dataset {
 public:
  // Errors: no manifest.json, or one that is not a dataset manifest.
  static tl::expected<Dataset, std::string> open(const storage::ObjectStore& store);
  const std::string& format() const { return format_; }  // "files" or "webdataset"
  // Every file, sorted by key (COCO files, the card and the tars' members included).
  const std::vector<FileRef>& files() const { return files_; }
  const FileRef* find(std::string_view key) const;
  // manifest.json's own spec (the job's canonical spec JSON text) and problems
  // (entries it could not read, reported and skipped).
  const std::string& spec_json() const { return spec_json_; }
  const std::vector<std::string>& problems() const { return problems_; }
  tl::expected<std::string, std::string> read(std::string_view key) const;

 private:
  explicit Dataset(const storage::ObjectStore& store) : store_(&store) {}
  const storage::ObjectStore* store_;
  std::string format_ = "files";
  std::string spec_json_;
  std::vector<FileRef> files_;
  std::vector<std::string> problems_;
};

// The files of a job's shard, which may still be running: its manifest's, sorted by key;
// nullopt while the shard is not committed. Errors: the store failed, or the manifest is
// malformed.
tl::expected<std::optional<std::vector<FileRef>>, std::string> committed_shard_files(
    const storage::ObjectStore& store, uint64_t shard);

// One file of such a shard (committed_shard_files), looked up by key.
struct Lookup {
  std::optional<FileRef> file;  // nullopt: the shard is not committed or lacks the key
  std::string error;            // set when the store failed (not for a plain absence)
};
Lookup find_in_shard(const storage::ObjectStore& store, uint64_t shard, std::string_view key);

}  // namespace synthfarm::dataset
