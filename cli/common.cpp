#include "cli/common.h"

#include <fstream>
#include <sstream>

#include "storage/object_store.h"

namespace synthfarm::cli {

tl::expected<std::string, std::string> read_asset(const std::string& uri) {
  auto bytes = storage::read_uri(uri);
  if (!bytes) return tl::unexpected(bytes.error().message);
  return std::move(*bytes);
}

std::string read_file(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--";
  auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h {:02d}m", s / 3600, (s / 60) % 60);
  if (s >= 60) return fmt::format("{}m {:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

void print_spec_errors(const std::vector<jobs::SpecError>& errors) {
  for (const auto& e : errors) fmt::print(stderr, "error: {}\n", e.to_string());
}

std::optional<jobs::JobSpec> load_spec(const std::string& path, std::string& text) {
  bool ok = false;
  text = read_file(path, ok);
  if (!ok) {
    fmt::print(stderr, "error: cannot read {}\n", path);
    return std::nullopt;
  }
  auto spec = jobs::parse_spec(text, path);
  if (!spec) {
    print_spec_errors(spec.error());
    return std::nullopt;
  }
  return std::move(*spec);
}

}  // namespace synthfarm::cli
