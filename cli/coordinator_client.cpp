#include "cli/coordinator_client.h"

#include <fmt/format.h>

namespace synthfarm::cli {

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
