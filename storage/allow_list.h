// Which storage locations a process may read and write: a list of location prefixes
// ("file:///srv/datasets", "s3://bucket/prefix"). A job's output and every input its spec
// names must lie under one of them, so a spec cannot make a coordinator or a worker write
// to /etc or read /root/.ssh. File paths are compared after `..` and symbolic links are
// resolved, and only whole path segments match ("file:///srv/out" does not allow
// "file:///srv/outside").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/object_store.h"

namespace synthfarm::storage {

// Immutable, so thread-safe.
class AllowList {
 public:
  // Every location; what a process without a list allows.
  static AllowList everything() { return AllowList(true, {}); }
  // Fails naming an entry that is not a storage URI.
  static Result<AllowList> parse(const std::vector<std::string>& locations);

  bool allows_everything() const { return all_; }
  // nullopt when `uri` lies under an entry; otherwise why not, naming the entries.
  std::optional<std::string> check(std::string_view uri) const;
  // The entries, comma-separated (for logs and errors).
  std::string describe() const;

 private:
  AllowList(bool all, std::vector<std::string> entries) : all_(all), entries_(std::move(entries)) {}
  bool all_;
  std::vector<std::string> entries_;  // normalised: canonical, symlinks resolved, no trailing '/'
};

}  // namespace synthfarm::storage
