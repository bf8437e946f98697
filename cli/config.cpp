#include "cli/config.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>

namespace synthfarm::cli {

std::filesystem::path config_path() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
    return std::filesystem::path(xdg) / "synthfarm" / "config.yaml";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::filesystem::path(home) / ".config" / "synthfarm" / "config.yaml";
  }
  return {};
}

tl::expected<CliConfig, std::string> load_config(const std::filesystem::path& path) {
  CliConfig config;
  if (path.empty()) return config;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return config;  // no file: nothing configured
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    return tl::unexpected(
        fmt::format("{}:{}:{}: {}", path.string(), e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  if (!root || root.IsNull()) return config;
  if (!root.IsMap())
    return tl::unexpected(
        fmt::format("{}: expected a mapping of url, token, ca_file", path.string()));
  for (const auto& entry : root) {
    std::string key = entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    if (key != "url" && key != "token" && key != "ca_file") {
      return tl::unexpected(fmt::format("{}:{}: unknown key '{}' (expected url, token, ca_file)",
                                        path.string(), entry.first.Mark().line + 1, key));
    }
    if (!value.IsScalar()) {
      return tl::unexpected(
          fmt::format("{}:{}: {} must be a string", path.string(), value.Mark().line + 1, key));
    }
    std::string text = value.as<std::string>();
    if (key == "url") config.url = text;
    if (key == "token") config.token = text;
    if (key == "ca_file") config.ca_file = text;
  }
  if (config.token && (st.st_mode & 077) != 0) {
    return tl::unexpected(
        fmt::format("{} holds an API token but its mode is {:04o}: others may read it. "
                    "Run: chmod 600 {}",
                    path.string(), st.st_mode & 07777, path.string()));
  }
  return config;
}

}  // namespace synthfarm::cli
