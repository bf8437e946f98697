// S3Store's configuration: S3Options from the environment and the AWS shared config and
// credentials files (s3_options_from_environment), and s3:// URIs (parse_s3_uri).
#include "storage/internal/s3_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>

#include "storage/internal/s3_request.h"
#include "storage/s3_store.h"

namespace synthfarm::storage {
namespace s3_internal {

std::string trim(std::string_view text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return std::string(text.substr(begin, end - begin));
}

}  // namespace s3_internal

using s3_internal::make_error;
using s3_internal::trim;

namespace {

constexpr std::string_view kS3Scheme = "s3://";

std::string getenv_string(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

// One section of an INI file (~/.aws/credentials, ~/.aws/config) as key -> value.
std::map<std::string, std::string> ini_section(const std::string& path,
                                               const std::string& section) {
  std::map<std::string, std::string> values;
  std::ifstream in(path);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      inside = trim(std::string_view(t).substr(1, t.size() - 2)) == section;
      continue;
    }
    if (!inside) continue;
    const size_t eq = t.find('=');
    if (eq == std::string::npos) continue;
    values[trim(std::string_view(t).substr(0, eq))] = trim(std::string_view(t).substr(eq + 1));
  }
  return values;
}

Result<uint64_t> env_number(const char* name, uint64_t fallback, uint64_t min_value) {
  const std::string text = getenv_string(name);
  if (text.empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0' || value < min_value) {
    return tl::unexpected(
        make_error(Error::Code::kInvalidUri,
                   fmt::format("{}={:?}: expected a whole number >= {}", name, text, min_value)));
  }
  return static_cast<uint64_t>(value);
}

bool valid_bucket_name(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
      return false;
    }
  }
  return std::isalnum(static_cast<unsigned char>(bucket.front())) &&
         std::isalnum(static_cast<unsigned char>(bucket.back()));
}

}  // namespace

Result<S3Location> parse_s3_uri(std::string_view uri) {
  auto bad = [&](std::string_view why) {
    return tl::unexpected(make_error(Error::Code::kInvalidUri,
                                     fmt::format("invalid storage URI {:?}: {}", uri, why)));
  };
  if (!uri.starts_with(kS3Scheme)) return bad("expected s3://bucket/prefix");
  std::string_view rest = uri.substr(kS3Scheme.size());
  const size_t slash = rest.find('/');
  S3Location location;
  location.bucket = std::string(rest.substr(0, slash));
  if (!valid_bucket_name(location.bucket)) {
    return bad("bucket names are 3 to 63 characters of a-z, 0-9, '.' and '-'");
  }
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash + 1);
    while (prefix.ends_with('/')) prefix.remove_suffix(1);
    if (!prefix.empty()) {
      if (auto valid = validate_key(prefix); !valid) return bad(valid.error().message);
    }
    location.prefix = std::string(prefix);
  }
  return location;
}

Result<S3Options> s3_options_from_environment() {
  S3Options options;
  options.endpoint = getenv_string("AWS_ENDPOINT_URL_S3");
  if (options.endpoint.empty()) options.endpoint = getenv_string("AWS_ENDPOINT_URL");

  const std::string home = getenv_string("HOME");
  std::string profile = getenv_string("AWS_PROFILE");
  const bool profile_named = !profile.empty();
  if (profile.empty()) profile = "default";
  std::string credentials_file = getenv_string("AWS_SHARED_CREDENTIALS_FILE");
  if (credentials_file.empty() && !home.empty()) credentials_file = home + "/.aws/credentials";
  std::string config_file = getenv_string("AWS_CONFIG_FILE");
  if (config_file.empty() && !home.empty()) config_file = home + "/.aws/config";
  const auto config =
      ini_section(config_file, profile == "default" ? "default" : "profile " + profile);

  options.region = getenv_string("AWS_REGION");
  if (options.region.empty()) options.region = getenv_string("AWS_DEFAULT_REGION");
  if (options.region.empty() && config.count("region")) options.region = config.at("region");
  if (options.region.empty()) options.region = "us-east-1";

  options.credentials.access_key_id = getenv_string("AWS_ACCESS_KEY_ID");
  options.credentials.secret_access_key = getenv_string("AWS_SECRET_ACCESS_KEY");
  options.credentials.session_token = getenv_string("AWS_SESSION_TOKEN");
  if (options.credentials.access_key_id.empty() || options.credentials.secret_access_key.empty()) {
    auto section = ini_section(credentials_file, profile);
    if (section.empty()) section = config;  // credentials may sit in the config file too
    if (section.empty() && profile_named) {
      return tl::unexpected(make_error(
          Error::Code::kInvalidUri, fmt::format("AWS_PROFILE={:?}: no such profile in {:?} or {:?}",
                                                profile, credentials_file, config_file)));
    }
    options.credentials.access_key_id = section["aws_access_key_id"];
    options.credentials.secret_access_key = section["aws_secret_access_key"];
    options.credentials.session_token = section["aws_session_token"];
  }

  const std::string style = getenv_string("SYNTHFARM_S3_ADDRESSING_STYLE");
  if (style == "path")
    options.path_style = true;
  else if (style == "virtual")
    options.path_style = false;
  else if (!style.empty() && style != "auto") {
    return tl::unexpected(make_error(
        Error::Code::kInvalidUri,
        fmt::format("SYNTHFARM_S3_ADDRESSING_STYLE={:?}: expected path, virtual or auto", style)));
  }
  options.ca_bundle = getenv_string("AWS_CA_BUNDLE");

  auto threshold = env_number("SYNTHFARM_S3_MULTIPART_THRESHOLD", options.multipart_threshold, 1);
  if (!threshold) return tl::unexpected(threshold.error());
  options.multipart_threshold = *threshold;
  auto part = env_number("SYNTHFARM_S3_PART_SIZE", options.part_size, 1);
  if (!part) return tl::unexpected(part.error());
  options.part_size = *part;
  auto threads =
      env_number("SYNTHFARM_S3_PART_THREADS", static_cast<uint64_t>(options.part_threads), 1);
  if (!threads) return tl::unexpected(threads.error());
  options.part_threads = static_cast<int>(std::min<uint64_t>(*threads, 64));
  auto budget = env_number("SYNTHFARM_S3_RETRY_SECONDS",
                           static_cast<uint64_t>(options.retry_budget.count() / 1000), 0);
  if (!budget) return tl::unexpected(budget.error());
  options.retry_budget = std::chrono::seconds(*budget);
  options.verify_etag = getenv_string("SYNTHFARM_S3_VERIFY_ETAG") != "0";
  return options;
}

}  // namespace synthfarm::storage
