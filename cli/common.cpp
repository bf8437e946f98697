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

httplib::Client client_for(const std::string& url) {
  httplib::Client client(url);
  client.set_connection_timeout(5);
  client.set_read_timeout(30);
  return client;
}

std::string transport_error(const std::string& url, httplib::Error err) {
  return fmt::format("cannot reach the coordinator at {}: {}", url, httplib::to_string(err));
}

tl::expected<json, std::string> get_json(const std::string& url, const std::string& path,
                                         int& status) {
  auto client = client_for(url);
  auto res = client.Get(path);
  if (!res) return tl::unexpected(transport_error(url, res.error()));
  status = res->status;
  auto body = json::parse(res->body, nullptr, false);
  if (body.is_discarded())
    return tl::unexpected(fmt::format("coordinator answered {} with non-JSON", res->status));
  if (res->status != 200)
    return tl::unexpected(body.value("error", fmt::format("HTTP {}", res->status)));
  return body;
}

}  // namespace synthfarm::cli
