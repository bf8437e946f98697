// Object storage: where datasets go. An ObjectStore maps keys ("samples/00000001.exr")
// under one root (a job's prefix) to immutable byte strings. The file:// backend is the
// embedded default; s3:// (AWS S3 and S3-compatible servers) sits behind the same interface.
//
// Keys are relative, '/'-separated, and may not escape the root: no empty segments, no
// "." or "..", no leading '/', no backslashes or NUL. Writes are atomic: a reader sees
// either the old object or the whole new one, never a part.
//
// A put may carry a commit guard and be create-only (PutOptions): the guard is how a caller
// fences its writes (the worker passes its lease's: a write after the lease ended is not
// made), create-only how a commit marker refuses a second commit. The store does not know
// what a guard stands for.
//
// Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace synthfarm::storage {

struct Error {
  // kFenced: the put's commit guard refused it; nothing was written.
  // kAlreadyExists: a create-only put found the key taken; nothing was written.
  enum class Code { kInvalidKey, kInvalidUri, kNotFound, kIo, kFenced, kAlreadyExists };
  Code code;
  std::string message;  // names the URI or key and what the system said
};

template <typename T>
using Result = tl::expected<T, Error>;

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
};

// Called by a backend immediately before the step that makes a put visible: the file
// store's rename (or link) into place, each attempt of an S3 PUT, each attempt of a
// CompleteMultipartUpload. nullopt lets the put go on; a reason refuses it
// (Error::Code::kFenced, the message names the object and the reason). Called from the
// thread that called put() (or one of its part threads), so it must be thread-safe.
using CommitGuard = std::function<std::optional<std::string>()>;

struct PutOptions {
  CommitGuard guard;  // empty: always go on
  // Refuse with Error::Code::kAlreadyExists when the key exists (the file store: link(2),
  // atomic; S3: `If-None-Match: *`, after a HEAD for servers that ignore it: see
  // docs/storage.md).
  bool create_only = false;
};

// A streamed write of one object: bytes go out as they are written (the file store to a
// temp file, S3 as multipart parts once more than a part is buffered), and nothing is
// visible under the key until commit() returns success. Dropping a writer before commit
// leaves no object (and aborts an S3 multipart upload). commit() asks the PutOptions'
// guard right before the step that makes the object visible, as put() does. Not
// thread-safe: one writer is used by one thread.
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual Result<void> write(std::string_view bytes) = 0;
  virtual Result<void> commit() = 0;
  // Bytes written so far.
  virtual uint64_t size() const = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // The URI of the root, e.g. "file:///data/out/job-1".
  virtual std::string uri() const = 0;
  Result<void> put(std::string_view key, std::string_view bytes) { return put(key, bytes, PutOptions{}); }
  virtual Result<void> put(std::string_view key, std::string_view bytes, const PutOptions& options) = 0;
  virtual Result<std::string> get(std::string_view key) const = 0;
  // `size` bytes from `offset` (a tar member of a webdataset shard, say). A range past the
  // object's end is kIo, naming the object, the range and the size. The default reads the
  // whole object; both stores read only the range.
  virtual Result<std::string> get_range(std::string_view key, uint64_t offset, uint64_t size) const;
  // A streamed write (ObjectWriter above). The default buffers the whole object and put()s
  // it at commit; both stores stream.
  virtual Result<std::unique_ptr<ObjectWriter>> open_writer(std::string_view key, const PutOptions& options);
  // Expected absence is not an error.
  virtual Result<std::optional<ObjectInfo>> head(std::string_view key) const = 0;
  // Every object whose key starts with `prefix`, sorted by key.
  virtual Result<std::vector<ObjectInfo>> list(std::string_view prefix) const = 0;
  virtual Result<void> remove(std::string_view key) = 0;
  // The store's own leftovers under `prefix`, which list() never shows: the file store's
  // temp files of writers killed mid-put (names relative to the root). Empty for stores
  // without any (S3 keeps an interrupted multipart upload's parts out of the bucket's
  // listing; a lifecycle rule removes them, docs/storage.md).
  virtual Result<std::vector<ObjectInfo>> list_scratch(std::string_view /*prefix*/) const {
    return std::vector<ObjectInfo>();
  }
  // Removes one leftover named by list_scratch(); anything else is refused.
  virtual Result<void> remove_scratch(std::string_view name) {
    return tl::unexpected(Error{Error::Code::kInvalidKey, std::string(name) + ": this store keeps no scratch"});
  }
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

// The same, fed in pieces: for objects written as a stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes);
  std::string hex();  // ends the digest; call once

 private:
  void* context_;  // EVP_MD_CTX*
};

// "file://" + absolute path of `uri` when it is a relative file URI; other URIs unchanged.
Result<std::string> canonical_uri(std::string_view uri);

}  // namespace synthfarm::storage
