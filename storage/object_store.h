// Object storage: where datasets go. An ObjectStore maps keys ("samples/00000001.exr")
// under one root (a job's prefix) to immutable byte strings. The file:// backend is the
// embedded default; s3:// (AWS S3 and S3-compatible servers) sits behind the same interface.
//
// Keys are relative, '/'-separated, and may not escape the root: no empty segments, no
// "." or "..", no leading '/', no backslashes or NUL. Writes are atomic: a reader sees
// either the old object or the whole new one, never a part.
//
// Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace synthfarm::storage {

struct Error {
  enum class Code { kInvalidKey, kInvalidUri, kNotFound, kIo };
  Code code;
  std::string message;  // names the URI or key and what the system said
};

template <typename T>
using Result = tl::expected<T, Error>;

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // The URI of the root, e.g. "file:///data/out/job-1".
  virtual std::string uri() const = 0;
  virtual Result<void> put(std::string_view key, std::string_view bytes) = 0;
  virtual Result<std::string> get(std::string_view key) const = 0;
  // Expected absence is not an error.
  virtual Result<std::optional<ObjectInfo>> head(std::string_view key) const = 0;
  // Every object whose key starts with `prefix`, sorted by key.
  virtual Result<std::vector<ObjectInfo>> list(std::string_view prefix) const = 0;
  virtual Result<void> remove(std::string_view key) = 0;
};

// Checks a key against the rules above; the error names the key and the rule.
Result<void> validate_key(std::string_view key);

// Opens the store at `uri`: "file:///abs/dir" or "file://./rel/dir" (relative paths are
// made absolute against the current directory; the directory is created if needed), or
// "s3://bucket/prefix" on AWS or the S3-compatible server of AWS_ENDPOINT_URL, configured
// from the environment (s3_store.h); the bucket must exist and is checked on opening.
Result<std::unique_ptr<ObjectStore>> open_store(std::string_view uri);

// Reads one whole object named by its full URI ("file:///assets/walk.bvh",
// "s3://assets/walk.bvh"): the inputs a spec points at. Creates nothing; a missing object
// is kNotFound.
Result<std::string> read_uri(std::string_view uri);

// Lower-case hex SHA-256 of `bytes` (manifests record it for every object).
std::string sha256_hex(std::string_view bytes);

// "file://" + absolute path of `uri` when it is a relative file URI; other URIs unchanged.
Result<std::string> canonical_uri(std::string_view uri);

}  // namespace synthfarm::storage
