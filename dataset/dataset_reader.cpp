#include "dataset/dataset_reader.h"

#include <fmt/format.h>

#include <algorithm>

#include "jobs/object_keys.h"

namespace synthfarm::dataset {

std::vector<FileRef> entry_files(const jobs::ManifestEntry& entry) {
  if (entry.members.empty()) return {FileRef{entry.key, entry.key, 0, entry.size, entry.sha256}};
  std::vector<FileRef> out;
  out.reserve(entry.members.size());
  for (const auto& m : entry.members) {
    out.push_back(FileRef{jobs::tar_member_key(m.name), entry.key, m.offset, m.size, m.sha256});
  }
  return out;
}

namespace {

void sort_by_key(std::vector<FileRef>& files) {
  std::sort(files.begin(), files.end(), [](const FileRef& a, const FileRef& b) { return a.key < b.key; });
}

}  // namespace

std::vector<FileRef> shard_files(const jobs::ShardManifest& manifest) {
  std::vector<FileRef> out;
  for (const auto& entry : manifest.objects) {
    auto files = entry_files(entry);
    out.insert(out.end(), std::make_move_iterator(files.begin()), std::make_move_iterator(files.end()));
  }
  sort_by_key(out);
  return out;
}

tl::expected<std::string, std::string> read_file(const storage::ObjectStore& store, const FileRef& file) {
  const std::string where = file.in_tar() ? fmt::format("{} (in {})", file.key, file.object) : file.key;
  auto bytes = file.in_tar() ? store.get_range(file.object, file.offset, file.size) : store.get(file.object);
  if (!bytes) return tl::unexpected(fmt::format("cannot read {}: {}", where, bytes.error().message));
  if (bytes->size() != file.size || storage::sha256_hex(*bytes) != file.sha256) {
    return tl::unexpected(fmt::format("{}: size or sha256 differs from its manifest", where));
  }
  return std::move(*bytes);
}

tl::expected<Dataset, std::string> Dataset::open(const storage::ObjectStore& store) {
  auto bytes = store.get("manifest.json");
  if (!bytes) return tl::unexpected("no dataset manifest: " + bytes.error().message);
  auto manifest = jobs::parse_dataset_manifest(*bytes);
  if (!manifest) return tl::unexpected(store.uri() + "/manifest.json: " + manifest.error());
  Dataset out(store);
  out.format_ = std::move(manifest->format);
  out.spec_json_ = std::move(manifest->spec_json);
  out.problems_ = std::move(manifest->problems);
  for (const auto& entry : manifest->objects) {
    auto files = entry_files(entry);
    out.files_.insert(out.files_.end(), std::make_move_iterator(files.begin()), std::make_move_iterator(files.end()));
  }
  sort_by_key(out.files_);
  return out;
}

const FileRef* Dataset::find(std::string_view key) const {
  auto it = std::lower_bound(files_.begin(), files_.end(), key,
                             [](const FileRef& f, std::string_view k) { return f.key < k; });
  return it != files_.end() && it->key == key ? &*it : nullptr;
}

tl::expected<std::string, std::string> Dataset::read(std::string_view key) const {
  const FileRef* file = find(key);
  if (file == nullptr) return tl::unexpected(fmt::format("{}: not in {}/manifest.json", key, store_->uri()));
  return read_file(*store_, *file);
}

tl::expected<std::optional<std::vector<FileRef>>, std::string> committed_shard_files(
    const storage::ObjectStore& store, uint64_t shard) {
  const std::string manifest_key = jobs::shard_manifest_key(shard);
  auto bytes = store.get(manifest_key);
  if (!bytes) {
    if (bytes.error().code == storage::Error::Code::kNotFound) return std::nullopt;
    return tl::unexpected(bytes.error().message);
  }
  auto manifest = jobs::parse_shard_manifest(*bytes);
  if (!manifest) return tl::unexpected(fmt::format("{}: {}", manifest_key, manifest.error()));
  return shard_files(*manifest);
}

Lookup find_in_shard(const storage::ObjectStore& store, uint64_t shard, std::string_view key) {
  auto files = committed_shard_files(store, shard);
  if (!files) return {std::nullopt, files.error()};
  if (!*files) return {};
  for (auto& file : **files) {
    if (file.key == key) return {std::move(file), {}};
  }
  return {};
}

}  // namespace synthfarm::dataset
