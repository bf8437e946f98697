// The CLI's side of the coordinator's HTTP API: a client with the CLI's timeouts, transport
// errors that name the URL, and JSON GETs. Only the commands that talk to a coordinator
// include it (cpp-httplib is a heavy header). Internal to cli/.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

#include <tl/expected.hpp>

#include "cli/commands.h"

namespace synthfarm::cli {

using nlohmann::json;

// A client for the coordinator with the CLI's timeouts, the API token as a bearer header,
// and for https:// certificate checks against the system's CAs or `remote.ca_file`.
httplib::Client client_for(const Remote& remote);
std::string transport_error(const std::string& url, httplib::Error err);
// GET `path` as JSON; `status` receives the HTTP status (0 when unreachable).
tl::expected<json, std::string> get_json(const Remote& remote, const std::string& path, int& status);

}  // namespace synthfarm::cli
