// TarShard: a shard's samples as one tar object (output.format: webdataset), streamed to
// storage as samples are stored, in sample order.
//
// The tar is POSIX ustar, each member's header fixed but for its name and size (mode 0644,
// uid and gid 0, no user or group name, mtime 0), so a shard's tar is the same bytes on any
// worker. The tar is written by hand rather than through libarchive because the manifest
// needs each member's data offset, which libarchive does not report; the format is 512-byte
// blocks: a header, the data padded to a block, and two zero blocks at the end.
//
// Nothing is visible until finish(): the store's writer streams to a temp file or a
// multipart upload and commits (fenced by the PutOptions' guard) only then. A TarShard
// dropped before finish() leaves no object.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "jobs/manifest.h"
#include "storage/object_store.h"

namespace synthfarm::dataset {

// The 512-byte ustar header of a regular-file member (exposed for the tests).
std::string tar_header(std::string_view name, uint64_t size);

class TarShard {
 public:
  // Opens the stream of `key` ("shards/000042.tar").
  static storage::Result<std::unique_ptr<TarShard>> open(storage::ObjectStore& store, std::string key,
                                                         const storage::PutOptions& options);
  // Appends one file; `name` is its member name (at most 99 bytes). Returns its member entry.
  storage::Result<jobs::TarMember> add(std::string_view name, std::string_view bytes);
  // Ends the tar and commits it; returns its manifest entry, members included.
  storage::Result<jobs::ManifestEntry> finish();

 private:
  TarShard(std::string key, std::unique_ptr<storage::ObjectWriter> writer)
      : key_(std::move(key)), writer_(std::move(writer)) {}
  storage::Result<void> write(std::string_view bytes);

  const std::string key_;
  std::unique_ptr<storage::ObjectWriter> writer_;
  storage::Sha256 sha256_;
  uint64_t size_ = 0;
  std::vector<jobs::TarMember> members_;
};

}  // namespace synthfarm::dataset
