// FileStore: the file:// ObjectStore. Each key is a regular file under one root directory;
// '/' in a key is a subdirectory. Callers should use open_store() from object_store.h; this
// header exists for the factory and for tests.
//
// Writes go to a temporary file ".tmp.<name>.<pid>.<thread>.<n>" in the target's directory,
// are fsynced, renamed over the target and the directory is fsynced, so readers see the old
// or the whole new object. A put's commit guard is asked just before the rename; a create-only put
// link(2)s the temp file to the target instead, which fails rather than replace one. Names whose segment starts with ".tmp." are reserved for these
// files: such keys are refused and such files never appear in list().
//
// Besides validate_key(), every path is resolved (symlinks followed) and must lie inside the
// root; a symlink leading out is refused with kInvalidKey. This is defence in depth, not a
// sandbox: a concurrent writer swapping symlinks inside the root can race the check.
//
// Thread-safe: the only shared mutable state is an atomic counter for temp-file names.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "storage/object_store.h"

namespace synthfarm::storage {

class FileStore final : public ObjectStore {
 public:
  // Opens (creating if needed) the directory `root`, which must be absolute and normalised.
  static Result<std::unique_ptr<FileStore>> open(const std::filesystem::path& root);

  std::string uri() const override;
  using ObjectStore::put;
  Result<void> put(std::string_view key, std::string_view bytes, const PutOptions& options) override;
  Result<std::string> get(std::string_view key) const override;
  Result<std::string> get_range(std::string_view key, uint64_t offset, uint64_t size) const override;
  // Streams into a temp file (named as put()'s are), renamed into place at commit.
  Result<std::unique_ptr<ObjectWriter>> open_writer(std::string_view key, const PutOptions& options) override;
  Result<std::optional<ObjectInfo>> head(std::string_view key) const override;
  // Regular files only (and symlinks to regular files inside the root), skipping temp files
  // and names that are not valid keys.
  Result<std::vector<ObjectInfo>> list(std::string_view prefix) const override;
  // Removing a missing key succeeds (idempotent). Emptied directories are left in place.
  Result<void> remove(std::string_view key) override;
  // Temp files (".tmp.*") under `prefix`, e.g. of a process killed mid-put.
  Result<std::vector<ObjectInfo>> list_scratch(std::string_view prefix) const override;
  Result<void> remove_scratch(std::string_view name) override;

 private:
  class Writer;
  // A write in progress: the temp file beside the key's target.
  struct Staged {
    std::string key;
    std::filesystem::path target;
    std::filesystem::path temp;
    int fd = -1;  // open for writing until published or discarded
  };

  FileStore(std::filesystem::path root, std::filesystem::path real_root);

  // Creates the temp file for `key` (and its directories).
  Result<Staged> stage(std::string_view key);
  Result<void> append(Staged& staged, std::string_view bytes);
  // fsync, close, ask the guard, rename (or link, create-only) into place, fsync the
  // directory; the temp file is gone afterwards whatever happened.
  Result<void> publish(Staged& staged, const PutOptions& options);
  // Closes and removes an unpublished temp file; nothing for a published one.
  void discard(Staged& staged);

  // Validates `key` and returns its path, checked to resolve inside the root.
  Result<std::filesystem::path> path_for(std::string_view key) const;
  // Refuses `path` unless it resolves (following existing symlinks) inside the root.
  Result<void> check_inside(const std::filesystem::path& path, std::string_view key) const;

  const std::filesystem::path root_;       // as named by the URI
  const std::filesystem::path real_root_;  // symlinks resolved; containment is checked here
  mutable std::atomic<uint64_t> temp_counter_{0};
};

}  // namespace synthfarm::storage
