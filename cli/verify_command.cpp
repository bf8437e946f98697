// `synthfarm verify JOB` and `synthfarm gc JOB`: what lies under a finished job's prefix
// besides its dataset. A stray is any object manifest.json does not list (shard manifests,
// the commit markers, and manifest.json itself excepted): an object of a foreign writer, or
// of a worker that wrote after the job's end. Scratch is the store's own leftovers, e.g.
// the file store's `.tmp.*` files of a process killed mid-write. verify names them (and
// any listed object that is missing or has another size); gc removes them, and refuses
// while the job has not ended or has no manifest.json.
#include <fmt/format.h>

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/coordinator_client.h"
#include "cli/job_store.h"
#include "jobs/manifest.h"
#include "storage/object_store.h"

namespace synthfarm::cli {
namespace {

struct Survey {
  std::vector<std::string> strays;    // keys
  std::vector<std::string> scratch;   // scratch names
  std::vector<std::string> problems;  // listed objects missing or of another size
};


tl::expected<Survey, std::string> survey(const storage::ObjectStore& store) {
  auto manifest_bytes = store.get("manifest.json");
  if (!manifest_bytes) return tl::unexpected("no dataset manifest: " + manifest_bytes.error().message);
  auto manifest = jobs::parse_dataset_manifest(*manifest_bytes);
  if (!manifest) return tl::unexpected(store.uri() + "/manifest.json: " + manifest.error());
  auto listed = store.list("");
  if (!listed) return tl::unexpected(listed.error().message);
  auto scratch = store.list_scratch("");
  if (!scratch) return tl::unexpected(scratch.error().message);
  std::map<std::string, uint64_t> present;
  for (const auto& info : *listed) present[info.key] = info.size;
  Survey out;
  std::set<std::string> known = {"manifest.json"};
  for (const auto& o : manifest->objects) {
    known.insert(o.key);
    auto it = present.find(o.key);
    if (it == present.end()) {
      out.problems.push_back(fmt::format("{}: listed in manifest.json, missing", o.key));
    } else if (it->second != o.size) {
      out.problems.push_back(fmt::format("{}: manifest.json says {} bytes, the store has {}", o.key, o.size, it->second));
    }
  }
  static const std::regex shard_manifest(R"(^shards/\d{6}\.manifest\.json$)");
  for (const auto& [key, size] : present) {
    if (!known.count(key) && !std::regex_match(key, shard_manifest)) out.strays.push_back(key);
  }
  for (const auto& info : *scratch) out.scratch.push_back(info.key);
  return out;
}

}  // namespace

int cmd_verify(const Remote& remote, const std::string& job, bool collect_garbage) {
  auto opened = open_job_store(remote, job, collect_garbage ? "gc removes nothing until the job has ended" : nullptr);
  if (!opened) return opened.error();
  const std::string& state = opened->state;
  auto& store = opened->store;
  const std::string& uri = opened->uri;
  auto found = survey(*store);
  if (!found) {
    fmt::print(stderr, "error: job {} ({}): {}\n", job, state, found.error());
    return kExitFailure;
  }
  for (const auto& p : found->problems) fmt::print(stderr, "error: {}\n", p);
  if (!collect_garbage) {
    for (const auto& key : found->strays) fmt::print("stray: {}/{} (not in manifest.json)\n", uri, key);
    for (const auto& name : found->scratch) fmt::print("temp: {}/{} (left by an interrupted write)\n", uri, name);
    fmt::print(stderr, "job {}: {} stray object(s), {} temp file(s), {} problem(s) with listed objects\n", job,
               found->strays.size(), found->scratch.size(), found->problems.size());
    return found->strays.empty() && found->scratch.empty() && found->problems.empty() ? 0 : kExitFailure;
  }
  size_t removed_strays = 0, removed_scratch = 0, failed = 0;
  for (const auto& key : found->strays) {
    if (auto removed = store->remove(key); removed) {
      fmt::print("removed: {}/{}\n", uri, key);
      ++removed_strays;
    } else {
      fmt::print(stderr, "error: {}: {}\n", key, removed.error().message);
      ++failed;
    }
  }
  for (const auto& name : found->scratch) {
    if (auto removed = store->remove_scratch(name); removed) {
      fmt::print("removed: {}/{}\n", uri, name);
      ++removed_scratch;
    } else {
      fmt::print(stderr, "error: {}: {}\n", name, removed.error().message);
      ++failed;
    }
  }
  fmt::print(stderr, "job {}: removed {} stray object(s) and {} temp file(s)\n", job, removed_strays, removed_scratch);
  return failed == 0 && found->problems.empty() ? 0 : kExitFailure;
}

}  // namespace synthfarm::cli
