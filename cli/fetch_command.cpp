// `synthfarm fetch`: a finished dataset copied to a local directory (or another store),
// every object checked against the manifest.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/coordinator_client.h"
#include "cli/job_store.h"
#include "jobs/manifest.h"
#include "storage/object_store.h"

namespace synthfarm::cli {

// Downloads job `job`'s dataset into `dir` (a path or a storage URI): every object that
// manifest.json lists, read through storage/ from where the job stored it (the `storage`
// of GET /api/jobs/JOB), each checked against the manifest's size and sha256 before it is
// written. An object already in `dir` with the right size and sha256 is kept, so a fetch
// that was interrupted resumes; manifest.json itself is written last, once every object
// checked out. A mismatch names the object, and the others are still checked.
int cmd_fetch(const Remote& remote, const std::string& job, const std::string& dir) {
  auto opened = open_job_store(remote, job, "only a job that has ended can be fetched");
  if (!opened) return opened.error();
  const std::string& state = opened->state;
  auto& source = opened->store;
  const std::string& source_uri = opened->uri;
  auto manifest_bytes = source->get("manifest.json");
  if (!manifest_bytes) {
    fmt::print(stderr, "error: job {} ({}) has no dataset manifest: {}\n", job, state,
               manifest_bytes.error().message);
    return kExitFailure;
  }
  auto manifest = jobs::parse_dataset_manifest(*manifest_bytes);
  if (!manifest) {
    fmt::print(stderr, "error: {}/manifest.json: {}\n", source_uri, manifest.error());
    return kExitFailure;
  }
  std::string dest_uri = dir.find("://") == std::string::npos ? "file://" + dir : dir;
  auto canonical = storage::canonical_uri(dest_uri);
  auto dest = canonical ? storage::open_store(*canonical) : tl::unexpected(canonical.error());
  if (!dest) {
    fmt::print(stderr, "error: {}: {}\n", dir, dest.error().message);
    return kExitBadInput;
  }

  const std::vector<jobs::ManifestEntry>& objects = manifest->objects;
  const size_t listed = objects.size() + manifest->problems.size();
  // Progress on one line redrawn in place on a terminal; nothing on a pipe but the summary.
  const bool tty = isatty(fileno(stderr));
  auto progress = [&](size_t done) {
    if (tty) fmt::print(stderr, "\rfetch {}/{} objects\x1b[K", done, listed);
  };
  uint64_t fetched = 0, kept = 0, fetched_bytes = 0;
  std::vector<std::string> failures;
  for (const std::string& problem : manifest->problems) failures.push_back("manifest.json: " + problem);
  for (size_t i = 0; i < objects.size(); ++i) {
    const std::string& key = objects[i].key;
    const uint64_t size = objects[i].size;
    const std::string& sha256 = objects[i].sha256;
    // Keys come from the manifest: never let one write outside `dir`.
    if (auto valid = storage::validate_key(key); !valid || key == "manifest.json") {
      failures.push_back(
          fmt::format("{}: refused: {}", key, valid ? "reserved name" : valid.error().message));
      continue;
    }
    auto local = (*dest)->head(key);
    if (local && local->has_value() && (*local)->size == size) {
      auto bytes = (*dest)->get(key);
      if (bytes && storage::sha256_hex(*bytes) == sha256) {
        ++kept;
        progress(i + 1);
        continue;
      }
    }
    auto bytes = source->get(key);
    if (!bytes) {
      failures.push_back(fmt::format("{}: cannot read: {}", key, bytes.error().message));
      continue;
    }
    if (bytes->size() != size) {
      failures.push_back(fmt::format("{}: size mismatch: manifest.json says {} bytes, {} has {}",
                                     key, size, source_uri, bytes->size()));
      continue;
    }
    if (const std::string actual = storage::sha256_hex(*bytes); actual != sha256) {
      failures.push_back(fmt::format("{}: sha256 mismatch: manifest.json says {}, {} has {}", key,
                                     sha256, source_uri, actual));
      continue;
    }
    if (auto put = (*dest)->put(key, *bytes); !put) {
      if (tty) fmt::print(stderr, "\n");
      fmt::print(stderr, "error: {}: cannot write: {}\n", key, put.error().message);
      return kExitFailure;
    }
    ++fetched;
    fetched_bytes += bytes->size();
    progress(i + 1);
  }
  if (tty) fmt::print(stderr, "\n");
  if (!failures.empty()) {
    for (const std::string& f : failures) fmt::print(stderr, "error: {}\n", f);
    fmt::print(stderr,
               "error: job {}: {} of {} object(s) failed; manifest.json not written to {}\n", job,
               failures.size(), listed, (*dest)->uri());
    return kExitFailure;
  }
  if (auto put = (*dest)->put("manifest.json", *manifest_bytes); !put) {
    fmt::print(stderr, "error: manifest.json: cannot write: {}\n", put.error().message);
    return kExitFailure;
  }
  fmt::print(stderr, "fetched {} object(s) ({:.1f} MB), {} already present and verified -> {}\n",
             fetched, static_cast<double>(fetched_bytes) / 1e6, kept, (*dest)->uri());
  return 0;
}

}  // namespace synthfarm::cli
