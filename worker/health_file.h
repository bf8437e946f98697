// HealthFile: a file whose modification time tells a probe that the worker is healthy.
//
// A worker listens on no port, so whatever wants to know whether it is alive (a Kubernetes
// liveness probe, a person on the machine) looks at the age of this file instead, e.g.
// `find PATH -mmin -1` prints PATH while it was written within the last minute. The
// worker's heartbeat thread calls refresh() about once a second while the worker is
// healthy and stops calling it when it is not, so the file goes stale. The destructor
// removes it: after a clean stop it is gone; after a crash it is simply left to go stale.
//
// Every write is atomic: the text goes to a temporary file in the same directory, which is
// then renamed over PATH, so a reader never sees a half-written file, and the file never
// disappears while the worker runs. Nothing is fsynced: the file says something about this
// boot of this process only, and usually lives on a tmpfs (/run/synthfarm).
//
// Not thread-safe: one owner thread at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace synthfarm::worker {

class HealthFile {
 public:
  // Writes the file a first time, so that a path the worker cannot write is an error at
  // start rather than a probe that never passes. The directory must exist.
  static tl::expected<std::unique_ptr<HealthFile>, std::string> create(std::filesystem::path path,
                                                                       std::string_view text);
  ~HealthFile();
  HealthFile(const HealthFile&) = delete;
  HealthFile& operator=(const HealthFile&) = delete;

  // Replaces the file with one holding `text`: a new modification time.
  tl::expected<void, std::string> refresh(std::string_view text);
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit HealthFile(std::filesystem::path path);
  std::filesystem::path path_;
  std::filesystem::path temp_path_;  // beside path_, so rename() never crosses file systems
  bool written_ = false;             // the destructor removes only a file this object wrote
};

}  // namespace synthfarm::worker
