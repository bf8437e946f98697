// The CLI's side of the coordinator's HTTP API: a client with the CLI's timeouts, transport
// errors that name the URL, and JSON GETs. Only the commands that talk to a coordinator
// include it (cpp-httplib is a heavy header). Internal to cli/.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

#include <tl/expected.hpp>

namespace synthfarm::cli {

using nlohmann::json;

// A client for the coordinator at `url` with the CLI's timeouts.
httplib::Client client_for(const std::string& url);
std::string transport_error(const std::string& url, httplib::Error err);
// GET `path` as JSON; `status` receives the HTTP status (0 when unreachable).
tl::expected<json, std::string> get_json(const std::string& url, const std::string& path, int& status);

}  // namespace synthfarm::cli
