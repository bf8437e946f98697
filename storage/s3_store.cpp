#include "storage/s3_store.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

namespace synthfarm::storage {

struct S3Store::Request {
  std::string method;
  std::string key;  // the object's full key in the bucket; empty for bucket requests
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;  // signed, besides the usual
  std::string_view body;
  std::string body_sha256;  // hex; computed from `body` when empty
};

struct S3Store::Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string endpoint;                        // for messages
};

namespace {

constexpr std::string_view kS3Scheme = "s3://";

Error make_error(Error::Code code, std::string message) { return Error{code, std::move(message)}; }

std::string getenv_string(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

std::string trim(std::string_view text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return std::string(text.substr(begin, end - begin));
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

std::string xml_unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    const size_t semi = text.find(';', i);
    if (semi == std::string_view::npos) {
      out.push_back('&');
      continue;
    }
    const std::string_view entity = text.substr(i + 1, semi - i - 1);
    if (entity == "amp")
      out.push_back('&');
    else if (entity == "lt")
      out.push_back('<');
    else if (entity == "gt")
      out.push_back('>');
    else if (entity == "quot")
      out.push_back('"');
    else if (entity == "apos")
      out.push_back('\'');
    else if (entity.size() > 1 && entity[0] == '#') {
      const bool hexa = entity[1] == 'x' || entity[1] == 'X';
      const unsigned long cp =
          std::strtoul(std::string(entity.substr(hexa ? 2 : 1)).c_str(), nullptr, hexa ? 16 : 10);
      // Keys are UTF-8; encode the code point.
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    } else {
      out.append(text.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// The text of the first <tag>...</tag> in `xml` at or after `from`; `end` (optional)
// receives the position after the closing tag. S3's responses are small, flat documents:
// tag extraction is enough, no XML parser needed.
std::optional<std::string> xml_value(std::string_view xml, std::string_view tag, size_t from = 0,
                                     size_t* end = nullptr) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const size_t start = xml.find(open, from);
  if (start == std::string_view::npos) return std::nullopt;
  const size_t stop = xml.find(close, start + open.size());
  if (stop == std::string_view::npos) return std::nullopt;
  if (end) *end = stop + close.size();
  return xml_unescape(xml.substr(start + open.size(), stop - start - open.size()));
}

std::string amz_date_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string unquote(std::string_view etag) {
  std::string out;
  for (char c : etag) {
    if (c != '"') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

std::string snippet(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 200)) {
    out.push_back(std::isprint(static_cast<unsigned char>(c)) ? c : '?');
  }
  if (body.size() > 200) out += "...";
  return out;
}

// curl failures worth another attempt: the server was away, slow or cut us off.
bool retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool retryable_status(long status, std::string_view body) {
  if (status >= 500 || status == 429) return true;
  if (status == 400) {
    auto error = parse_s3_error(body);
    return error && (error->code == "RequestTimeout" || error->code == "BadDigest");
  }
  return false;
}

struct UploadCursor {
  std::string_view remaining;
};

size_t read_body(char* buffer, size_t size, size_t count, void* user) {
  auto* cursor = static_cast<UploadCursor*>(user);
  const size_t n = std::min(size * count, cursor->remaining.size());
  std::copy_n(cursor->remaining.data(), n, buffer);
  cursor->remaining.remove_prefix(n);
  return n;
}

size_t write_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t write_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response (after 100 Continue or a redirect)
  } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    (*headers)[name] = trim(line.substr(colon + 1));
  }
  return size * count;
}

std::once_flag curl_init_once;

}  // namespace

std::optional<S3ErrorBody> parse_s3_error(std::string_view xml) {
  const size_t error = xml.find("<Error>");
  if (error == std::string_view::npos) return std::nullopt;
  auto code = xml_value(xml, "Code", error);
  if (!code) return std::nullopt;
  return S3ErrorBody{*code, xml_value(xml, "Message", error).value_or("")};
}

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

S3Store::S3Store(S3Location location, S3Options options, std::string scheme, std::string host)
    : location_(std::move(location)),
      options_(std::move(options)),
      scheme_(std::move(scheme)),
      host_(std::move(host)) {}

S3Store::~S3Store() {
  for (void* handle : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

Result<std::unique_ptr<S3Store>> S3Store::open(std::string_view uri, S3Options options) {
  auto location = parse_s3_uri(uri);
  if (!location) return tl::unexpected(location.error());
  if (options.credentials.access_key_id.empty() || options.credentials.secret_access_key.empty()) {
    return tl::unexpected(make_error(
        Error::Code::kInvalidUri,
        fmt::format("{}: no S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a "
                    "profile in ~/.aws/credentials)",
                    uri)));
  }
  std::string scheme = "https";
  std::string host;
  if (options.endpoint.empty()) {
    host = fmt::format("s3.{}.amazonaws.com", options.region);
    // AWS's wildcard certificate does not cover "my.bucket.s3...": dotted names go path-style.
    if (!options.path_style) options.path_style = location->bucket.find('.') != std::string::npos;
  } else {
    std::string_view endpoint = options.endpoint;
    const size_t sep = endpoint.find("://");
    if (sep == std::string_view::npos) {
      return tl::unexpected(make_error(
          Error::Code::kInvalidUri,
          fmt::format("S3 endpoint {:?}: expected http://host[:port] or https://host[:port]",
                      options.endpoint)));
    }
    scheme = std::string(endpoint.substr(0, sep));
    if (scheme != "http" && scheme != "https") {
      return tl::unexpected(make_error(
          Error::Code::kInvalidUri,
          fmt::format("S3 endpoint {:?}: scheme must be http or https", options.endpoint)));
    }
    host = std::string(endpoint.substr(sep + 3));
    while (!host.empty() && host.back() == '/') host.pop_back();
    if (host.empty() || host.find('/') != std::string::npos) {
      return tl::unexpected(make_error(
          Error::Code::kInvalidUri,
          fmt::format("S3 endpoint {:?}: expected host[:port] with no path", options.endpoint)));
    }
    if (!options.path_style) options.path_style = true;
  }
  if (options.part_size == 0) options.part_size = 8ull << 20;
  if (options.part_threads < 1) options.part_threads = 1;
  if (options.list_page_keys < 1) options.list_page_keys = 1000;
  std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

  const bool check = options.check_bucket;
  std::unique_ptr<S3Store> store(
      new S3Store(std::move(*location), std::move(options), std::move(scheme), std::move(host)));
  if (check) {
    // One cheap authenticated request: a wrong endpoint, wrong credentials or a missing
    // bucket fail here, when a job is submitted, not in the middle of rendering.
    Request request{"GET", "", {{"list-type", "2"}, {"max-keys", "1"}}, {}, {}, {}};
    if (!store->location_.prefix.empty())
      request.query.emplace_back("prefix", store->location_.prefix + "/");
    auto response = store->send(request, store->uri());
    if (!response) return tl::unexpected(response.error());
    if (response->status != 200) {
      return tl::unexpected(store->http_error(store->uri(), "cannot open the bucket", *response));
    }
    if (response->body.find("<ListBucketResult") == std::string::npos) {
      return tl::unexpected(
          make_error(Error::Code::kIo,
                     fmt::format("{}: the server at {} answered a bucket listing with {:?}",
                                 store->uri(), response->endpoint, snippet(response->body))));
    }
  }
  return store;
}

std::string S3Store::uri() const {
  return location_.prefix.empty() ? fmt::format("s3://{}", location_.bucket)
                                  : fmt::format("s3://{}/{}", location_.bucket, location_.prefix);
}

std::string S3Store::object_key(std::string_view key) const {
  return location_.prefix.empty() ? std::string(key) : location_.prefix + "/" + std::string(key);
}

std::string S3Store::object_uri(std::string_view key) const {
  return fmt::format("s3://{}/{}", location_.bucket, object_key(key));
}

void* S3Store::acquire_handle() const {
  {
    std::lock_guard lock(handles_mutex_);
    if (!idle_handles_.empty()) {
      void* handle = idle_handles_.back();
      idle_handles_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void S3Store::release_handle(void* handle) const {
  std::lock_guard lock(handles_mutex_);
  idle_handles_.push_back(handle);
}

Error S3Store::http_error(std::string_view uri, std::string_view what,
                          const Response& response) const {
  std::string detail;
  if (auto error = parse_s3_error(response.body)) {
    detail =
        error->message.empty() ? error->code : fmt::format("{}: {}", error->code, error->message);
    if (error->code == "NoSuchBucket") {
      detail +=
          fmt::format(" (bucket {:?} does not exist at {})", location_.bucket, response.endpoint);
    }
  } else if (response.body.empty()) {
    detail = response.status == 404 ? "not found"
             : response.status == 403
                 ? "access denied (check the credentials and the bucket policy)"
                 : "no error body";
  } else {
    detail = fmt::format("unexpected answer {:?}", snippet(response.body));
  }
  const bool not_found = response.status == 404 && detail.find("NoSuchBucket") == std::string::npos;
  return make_error(not_found ? Error::Code::kNotFound : Error::Code::kIo,
                    fmt::format("{}: {}: {} (HTTP {} from {})", uri, what, detail, response.status,
                                response.endpoint));
}

Result<S3Store::Response> S3Store::send_once(const Request& request, std::string_view body,
                                             bool* retry) const {
  const bool path_style = options_.path_style.value_or(true);
  std::string path = path_style ? "/" + location_.bucket : "";
  if (!request.key.empty()) path += "/" + sigv4::uri_encode_path(request.key);
  if (path.empty()) path = "/";
  const std::string host = path_style ? host_ : location_.bucket + "." + host_;
  const std::string query = sigv4::canonical_query(request.query);
  const std::string url = scheme_ + "://" + host + path + (query.empty() ? "" : "?" + query);

  sigv4::Request signing;
  signing.method = request.method;
  signing.canonical_path = path;
  signing.query = request.query;
  signing.payload_sha256 =
      request.body_sha256.empty() ? sigv4::sha256_hex(request.body) : request.body_sha256;
  const std::string amz_date = amz_date_now();
  signing.headers = {
      {"host", host}, {"x-amz-date", amz_date}, {"x-amz-content-sha256", signing.payload_sha256}};
  if (!options_.credentials.session_token.empty()) {
    signing.headers.emplace_back("x-amz-security-token", options_.credentials.session_token);
  }
  for (const auto& header : request.headers) signing.headers.push_back(header);
  const std::string authorization =
      sigv4::authorization(signing, options_.credentials, options_.region, "s3", amz_date);

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : signing.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  headers = curl_slist_append(headers, ("Authorization: " + authorization).c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  if (request.method == "POST")
    headers = curl_slist_append(headers, "Content-Type: application/xml");

  CURL* curl = static_cast<CURL*>(acquire_handle());
  if (!curl) {
    curl_slist_free_all(headers);
    return tl::unexpected(make_error(Error::Code::kIo, "curl_easy_init failed"));
  }
  curl_easy_reset(curl);
  Response response;
  response.endpoint = scheme_ + "://" + host_;
  UploadCursor cursor{body};
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_bundle.empty())
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, write_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(curl, CURLOPT_READDATA, &cursor);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
    if (request.method == "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    curl_easy_cleanup(curl);  // the connection may be broken; do not reuse it
    const std::string message = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
    if (retry) *retry = retryable(code);
    return tl::unexpected(make_error(
        Error::Code::kIo,
        fmt::format(
            "{} {}: {}", request.method, response.endpoint,
            code == CURLE_WEIRD_SERVER_REPLY || message.find("HTTP/0.9") != std::string::npos
                ? "the server did not answer with HTTP (" + message + "); is this an S3 endpoint?"
                : message)));
  }
  release_handle(curl);
  return response;
}

Result<S3Store::Response> S3Store::send(
    const Request& request, std::string_view uri,
    const std::function<std::optional<std::string>(const Response&)>& retry_reason) const {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  thread_local std::minstd_rand jitter(
      static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id()) ^
                            static_cast<size_t>(clock::now().time_since_epoch().count())));
  std::string last_problem;
  for (int attempt = 0;; ++attempt) {
    std::string tampered;
    std::string_view body = request.body;
    if (options_.tamper_upload_for_test && !body.empty()) {
      tampered = std::string(body);
      options_.tamper_upload_for_test(tampered, attempt);
      body = tampered;
    }
    bool retry = false;
    auto response = send_once(request, body, &retry);
    if (response) {
      std::optional<std::string> reason;
      if (retryable_status(response->status, response->body)) {
        reason = http_error(uri, request.method, *response).message;
      } else if (retry_reason) {
        reason = retry_reason(*response);
      }
      if (!reason) return response;
      last_problem = *reason;
    } else {
      if (!retry) {
        return tl::unexpected(
            make_error(Error::Code::kIo, fmt::format("{}: {}", uri, response.error().message)));
      }
      last_problem = fmt::format("{}: {}", uri, response.error().message);
    }
    // Full jitter: sleep a uniform time in [0, min(cap, base * 2^attempt)].
    const auto ceiling =
        std::chrono::milliseconds(std::min<int64_t>(2000, int64_t{100} << std::min(attempt, 10)));
    const auto sleep = std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(0, ceiling.count())(jitter));
    const auto elapsed = clock::now() - start;
    if (elapsed + sleep > options_.retry_budget) {
      return tl::unexpected(
          make_error(Error::Code::kIo,
                     fmt::format("{} (gave up after {} attempts in {:.1f} s)", last_problem,
                                 attempt + 1, std::chrono::duration<double>(elapsed).count())));
    }
    std::this_thread::sleep_for(sleep);
  }
}

Result<void> S3Store::put(std::string_view key, std::string_view bytes) {
  if (auto valid = validate_key(key); !valid) return tl::unexpected(valid.error());
  if (bytes.size() > options_.multipart_threshold) return put_multipart(key, bytes);
  return put_single(key, bytes);
}

Result<void> S3Store::put_single(std::string_view key, std::string_view bytes) {
  const std::string uri = object_uri(key);
  // Each digest computed once: hashing is a good part of the CPU time of an upload.
  const std::string md5_raw = sigv4::md5(bytes);
  const std::string sha256_raw = sigv4::sha256(bytes);
  const std::string md5 = sigv4::hex(md5_raw);
  Request request{"PUT", object_key(key), {}, {}, bytes, sigv4::hex(sha256_raw)};
  request.headers = {{"content-md5", sigv4::base64(md5_raw)},
                     {"x-amz-checksum-sha256", sigv4::base64(sha256_raw)}};
  auto response = send(request, uri, etag_check(md5, uri));
  if (!response) return tl::unexpected(response.error());
  if (response->status != 200) return tl::unexpected(http_error(uri, "PUT", *response));
  return {};
}

std::function<std::optional<std::string>(const S3Store::Response&)> S3Store::etag_check(
    std::string md5_hex, std::string uri) const {
  return [this, md5_hex = std::move(md5_hex),
          uri = std::move(uri)](const Response& response) -> std::optional<std::string> {
    if (response.status != 200 || !options_.verify_etag) return std::nullopt;
    auto etag = response.headers.find("etag");
    if (etag == response.headers.end() || unquote(etag->second) == md5_hex) return std::nullopt;
    return fmt::format("{}: the server stored bytes with MD5 {} but {} were sent", uri,
                       unquote(etag->second), md5_hex);
  };
}

Result<void> S3Store::put_multipart(std::string_view key, std::string_view bytes) {
  const std::string uri = object_uri(key);
  const std::string full_key = object_key(key);
  Request create{"POST", full_key, {{"uploads", ""}}, {}, {}, {}};
  auto created = send(create, uri);
  if (!created) return tl::unexpected(created.error());
  if (created->status != 200)
    return tl::unexpected(http_error(uri, "starting a multipart upload", *created));
  const auto upload_id = xml_value(created->body, "UploadId");
  if (!upload_id || upload_id->empty()) {
    return tl::unexpected(make_error(
        Error::Code::kIo, fmt::format("{}: starting a multipart upload: no UploadId in {:?}", uri,
                                      snippet(created->body))));
  }

  // S3 allows at most 10000 parts.
  const uint64_t part_size = std::max<uint64_t>(options_.part_size, (bytes.size() + 9999) / 10000);
  const size_t parts = static_cast<size_t>((bytes.size() + part_size - 1) / part_size);
  std::vector<std::string> etags(parts);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::optional<Error> first_error;  // GUARDED_BY(error_mutex)
  auto upload_parts = [&] {
    for (size_t i = next++; i < parts && !failed; i = next++) {
      const std::string_view part = bytes.substr(i * part_size, part_size);
      const std::string md5_raw = sigv4::md5(part);
      const std::string md5 = sigv4::hex(md5_raw);
      const std::string part_uri = fmt::format("{} (part {} of {})", uri, i + 1, parts);
      Request request{"PUT",
                      full_key,
                      {{"partNumber", std::to_string(i + 1)}, {"uploadId", *upload_id}},
                      {{"content-md5", sigv4::base64(md5_raw)}},
                      part,
                      sigv4::sha256_hex(part)};
      auto response = send(request, part_uri, etag_check(md5, part_uri));
      std::optional<Error> error;
      if (!response)
        error = response.error();
      else if (response->status != 200)
        error = http_error(part_uri, "PUT", *response);
      else if (auto etag = response->headers.find("etag"); etag != response->headers.end())
        etags[i] = etag->second;
      else
        etags[i] = "\"" + md5 + "\"";
      if (error) {
        failed = true;
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::move(*error);
        return;
      }
    }
  };
  const size_t thread_count = std::min<size_t>(static_cast<size_t>(options_.part_threads), parts);
  std::vector<std::thread> threads;
  for (size_t t = 1; t < thread_count; ++t) threads.emplace_back(upload_parts);
  upload_parts();
  for (auto& thread : threads) thread.join();

  auto abort_upload = [&] {
    // Best effort: a leftover upload costs storage until the bucket's lifecycle rule
    // (AbortIncompleteMultipartUpload, docs/storage.md) removes it.
    Request abort{"DELETE", full_key, {{"uploadId", *upload_id}}, {}, {}, {}};
    (void)send_once(abort, {}, nullptr);
  };
  if (failed) {
    abort_upload();
    return tl::unexpected(*first_error);
  }
  std::string xml = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < parts; ++i) {
    xml += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1,
                       xml_escape(etags[i]));
  }
  xml += "</CompleteMultipartUpload>";
  Request complete{"POST", full_key, {{"uploadId", *upload_id}}, {}, xml, {}};
  // A completion can fail after "200 OK": S3 then sends an <Error> body.
  auto error_in_body = [&](const Response& response) -> std::optional<std::string> {
    if (response.status != 200) return std::nullopt;
    auto error = parse_s3_error(response.body);
    if (error && (error->code == "InternalError" || error->code == "SlowDown")) {
      return fmt::format("{}: completing the multipart upload: {}: {}", uri, error->code,
                         error->message);
    }
    return std::nullopt;
  };
  auto completed = send(complete, uri, error_in_body);
  if (!completed) {
    abort_upload();
    return tl::unexpected(completed.error());
  }
  if (completed->status != 200 || parse_s3_error(completed->body) ||
      completed->body.find("CompleteMultipartUploadResult") == std::string::npos) {
    abort_upload();
    if (completed->status == 200 && !parse_s3_error(completed->body)) {
      return tl::unexpected(
          make_error(Error::Code::kIo,
                     fmt::format("{}: completing the multipart upload: unexpected answer {:?}", uri,
                                 snippet(completed->body))));
    }
    return tl::unexpected(http_error(uri, "completing the multipart upload", *completed));
  }
  return {};
}

Result<std::string> S3Store::get(std::string_view key) const {
  if (auto valid = validate_key(key); !valid) return tl::unexpected(valid.error());
  const std::string uri = object_uri(key);
  Request request{"GET", object_key(key), {}, {}, {}, {}};
  auto response = send(request, uri);
  if (!response) return tl::unexpected(response.error());
  if (response->status != 200) return tl::unexpected(http_error(uri, "GET", *response));
  return std::move(response->body);
}

Result<std::optional<ObjectInfo>> S3Store::head(std::string_view key) const {
  if (auto valid = validate_key(key); !valid) return tl::unexpected(valid.error());
  const std::string uri = object_uri(key);
  Request request{"HEAD", object_key(key), {}, {}, {}, {}};
  auto response = send(request, uri);
  if (!response) return tl::unexpected(response.error());
  if (response->status == 404) return std::optional<ObjectInfo>();
  if (response->status != 200) return tl::unexpected(http_error(uri, "HEAD", *response));
  auto length = response->headers.find("content-length");
  if (length == response->headers.end()) {
    return tl::unexpected(
        make_error(Error::Code::kIo, fmt::format("{}: HEAD: no Content-Length", uri)));
  }
  return ObjectInfo{std::string(key), std::strtoull(length->second.c_str(), nullptr, 10)};
}

Result<std::vector<ObjectInfo>> S3Store::list(std::string_view prefix) const {
  if (!prefix.empty()) {
    // "samples/" is a fine prefix although it is not a key; validate it without the slash.
    std::string_view as_key = prefix;
    if (as_key.ends_with('/')) as_key.remove_suffix(1);
    if (auto valid = validate_key(as_key); !valid) return tl::unexpected(valid.error());
  }
  const std::string root = location_.prefix.empty() ? "" : location_.prefix + "/";
  const std::string full_prefix = root + std::string(prefix);
  std::vector<ObjectInfo> objects;
  std::string token;
  for (;;) {
    Request request{
        "GET", "", {{"list-type", "2"}, {"max-keys", std::to_string(options_.list_page_keys)}},
        {},    {}, {}};
    if (!full_prefix.empty()) request.query.emplace_back("prefix", full_prefix);
    if (!token.empty()) request.query.emplace_back("continuation-token", token);
    const std::string what = uri() + "/" + std::string(prefix);
    auto response = send(request, what);
    if (!response) return tl::unexpected(response.error());
    if (response->status != 200) return tl::unexpected(http_error(what, "LIST", *response));
    const std::string& xml = response->body;
    if (xml.find("<ListBucketResult") == std::string::npos) {
      return tl::unexpected(make_error(
          Error::Code::kIo, fmt::format("{}: LIST: unexpected answer {:?}", what, snippet(xml))));
    }
    size_t pos = 0, end = 0;
    while (auto contents = xml_value(xml, "Contents", pos, &end)) {
      pos = end;
      auto key = xml_value(*contents, "Key");
      auto size = xml_value(*contents, "Size");
      if (!key || !size || !std::string_view(*key).starts_with(root)) continue;
      std::string relative = key->substr(root.size());
      if (!validate_key(relative)) continue;  // not an object this store could have written
      objects.push_back(ObjectInfo{std::move(relative), std::strtoull(size->c_str(), nullptr, 10)});
    }
    if (xml_value(xml, "IsTruncated").value_or("false") != "true") break;
    auto next = xml_value(xml, "NextContinuationToken");
    if (!next || next->empty() || *next == token) {
      return tl::unexpected(make_error(
          Error::Code::kIo,
          fmt::format("{}: LIST: truncated answer without a new continuation token", what)));
    }
    token = *next;
  }
  std::sort(objects.begin(), objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return objects;
}

Result<void> S3Store::remove(std::string_view key) {
  if (auto valid = validate_key(key); !valid) return tl::unexpected(valid.error());
  const std::string uri = object_uri(key);
  Request request{"DELETE", object_key(key), {}, {}, {}, {}};
  auto response = send(request, uri);
  if (!response) return tl::unexpected(response.error());
  if (response->status == 204 || response->status == 200 || response->status == 404) {
    if (response->status == 404) {
      if (auto error = parse_s3_error(response->body); error && error->code == "NoSuchBucket") {
        return tl::unexpected(http_error(uri, "DELETE", *response));
      }
    }
    return {};
  }
  return tl::unexpected(http_error(uri, "DELETE", *response));
}

}  // namespace synthfarm::storage
