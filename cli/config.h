// The CLI's configuration file: $XDG_CONFIG_HOME/synthfarm/config.yaml (by default
// ~/.config/synthfarm/config.yaml), for what should not be typed on every command line, and
// the API token, which must never be: a command-line argument shows up in `ps` and in
// shell history. Internal to cli/.
//
//   url: https://farm.example.org:8443   # default for --url
//   token: sft_...                       # API token (SYNTHFARM_TOKEN overrides it)
//   ca_file: /etc/synthfarm/ca.pem       # default for --ca-file
//
// A file that holds a token must be private to its owner (mode 0600 or stricter); the
// CLI refuses to read one that others can.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <tl/expected.hpp>

namespace synthfarm::cli {

struct CliConfig {
  std::optional<std::string> url, token, ca_file;
};

// Where the file is looked for: $XDG_CONFIG_HOME/synthfarm/config.yaml, else
// $HOME/.config/synthfarm/config.yaml; empty when neither variable is set.
std::filesystem::path config_path();
// A missing file is an empty config; an unreadable, malformed or too-open one an error
// naming the file (and the line, for YAML errors).
tl::expected<CliConfig, std::string> load_config(const std::filesystem::path& path);

}  // namespace synthfarm::cli
