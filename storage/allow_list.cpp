#include "storage/allow_list.h"

#include <fmt/format.h>

#include <filesystem>

namespace synthfarm::storage {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kFile = "file://";

// The form entries and candidates are compared in: canonical_uri's, with the symbolic
// links of the existing part of a file path resolved and no trailing '/'.
Result<std::string> normalise(std::string_view uri) {
  auto canonical = canonical_uri(uri);
  if (!canonical) return canonical;
  std::string out = *canonical;
  if (out.rfind(kFile, 0) == 0) {
    std::error_code ec;
    fs::path resolved = fs::weakly_canonical(fs::path(out.substr(kFile.size())), ec);
    if (!ec) out = std::string(kFile) + resolved.lexically_normal().string();
  }
  while (!out.empty() && out.back() == '/' && out.size() > kFile.size() + 1) out.pop_back();
  return out;
}

bool under(std::string_view candidate, std::string_view entry) {
  if (candidate.size() < entry.size() || candidate.compare(0, entry.size(), entry) != 0)
    return false;
  return candidate.size() == entry.size() || entry.back() == '/' || candidate[entry.size()] == '/';
}

}  // namespace

Result<AllowList> AllowList::parse(const std::vector<std::string>& locations) {
  std::vector<std::string> entries;
  for (const auto& location : locations) {
    auto normal = normalise(location);
    if (!normal) return tl::unexpected(normal.error());
    entries.push_back(*normal);
  }
  return AllowList(false, std::move(entries));
}

std::optional<std::string> AllowList::check(std::string_view uri) const {
  if (all_) return std::nullopt;
  auto normal = normalise(uri);
  if (!normal) return normal.error().message;
  for (const auto& entry : entries_) {
    if (under(*normal, entry)) return std::nullopt;
  }
  if (*normal != uri) {
    return fmt::format("{} (that is {}) is outside the allowed storage ({})", uri, *normal,
                       describe());
  }
  return fmt::format("{} is outside the allowed storage ({})", uri, describe());
}

std::string AllowList::describe() const {
  if (all_) return "everything";
  if (entries_.empty()) return "nothing";
  std::string out;
  for (const auto& e : entries_) out += (out.empty() ? "" : ", ") + e;
  return out;
}

}  // namespace synthfarm::storage
