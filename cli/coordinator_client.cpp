#include "cli/coordinator_client.h"

#include <fmt/format.h>

namespace synthfarm::cli {

httplib::Client client_for(const Remote& remote) {
  httplib::Client client(remote.url);
  client.set_connection_timeout(5);
  client.set_read_timeout(30);
  if (!remote.token.empty()) client.set_bearer_token_auth(remote.token.c_str());
  // https:// only: the certificate must chain to the given CA bundle (else the system's)
  // and name the host.
  client.enable_server_certificate_verification(true);
  if (!remote.ca_file.empty()) client.set_ca_cert_path(remote.ca_file.c_str());
  return client;
}

std::string transport_error(const std::string& url, httplib::Error err) {
  if (err == httplib::Error::SSLServerVerification) {
    return fmt::format("the coordinator at {} presented a certificate that does not verify against {}; give the CA "
                       "that signed it with --ca-file (or ca_file in the config file)",
                       url, "the trusted CAs");
  }
  return fmt::format("cannot reach the coordinator at {}: {}", url, httplib::to_string(err));
}

tl::expected<json, std::string> get_json(const Remote& remote, const std::string& path, int& status) {
  auto client = client_for(remote);
  auto res = client.Get(path);
  if (!res) return tl::unexpected(transport_error(remote.url, res.error()));
  status = res->status;
  auto body = json::parse(res->body, nullptr, false);
  if (body.is_discarded())
    return tl::unexpected(fmt::format("coordinator answered {} with non-JSON", res->status));
  if (res->status != 200)
    return tl::unexpected(body.value("error", fmt::format("HTTP {}", res->status)));
  return body;
}

}  // namespace synthfarm::cli
