// S3Store itself: opening a bucket, the curl transport (signed requests over a pool of
// handles) and the ObjectStore operations. Its configuration is in s3_config.cpp, the XML
// of the S3 API in s3_xml.cpp and the retry loop (S3Store::send) in s3_retry.cpp.
#include "storage/s3_store.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <iterator>
#include <map>
#include <mutex>
#include <thread>

#include "storage/internal/s3_config.h"
#include "storage/internal/s3_request.h"
#include "storage/internal/s3_retry.h"
#include "storage/internal/s3_xml.h"

namespace synthfarm::storage {

using s3_internal::make_error;
using s3_internal::retryable;
using s3_internal::trim;
using s3_internal::xml_escape;
using s3_internal::xml_value;

namespace {

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

Result<void> S3Store::put(std::string_view key, std::string_view bytes, const PutOptions& options) {
  if (auto valid = validate_key(key); !valid) return tl::unexpected(valid.error());
  if (options.create_only) {
    if (auto free = refuse_existing(key); !free) return free;
  }
  if (bytes.size() > options_.multipart_threshold) return put_multipart(key, bytes, options);
  return put_single(key, bytes, options);
}

Result<void> S3Store::refuse_existing(std::string_view key) const {
  auto existing = head(key);
  if (!existing) return tl::unexpected(existing.error());
  if (existing->has_value()) {
    return tl::unexpected(make_error(Error::Code::kAlreadyExists,
                                     fmt::format("{}: already exists; not replaced", object_uri(key))));
  }
  return {};
}

namespace {

// A conditional write that found the key taken (412), or lost the race to a concurrent
// conditional write of it (409 ConditionalRequestConflict).
bool condition_refused(long status, std::string_view body) {
  if (status == 412) return true;
  auto error = parse_s3_error(body);
  return status == 409 && error && error->code == "ConditionalRequestConflict";
}

}  // namespace

Result<void> S3Store::put_single(std::string_view key, std::string_view bytes, const PutOptions& options) {
  const std::string uri = object_uri(key);
  // Each digest computed once: hashing is a good part of the CPU time of an upload.
  const std::string md5_raw = sigv4::md5(bytes);
  const std::string sha256_raw = sigv4::sha256(bytes);
  const std::string md5 = sigv4::hex(md5_raw);
  Request request{"PUT", object_key(key), {}, {}, bytes, sigv4::hex(sha256_raw)};
  request.headers = {{"content-md5", sigv4::base64(md5_raw)},
                     {"x-amz-checksum-sha256", sigv4::base64(sha256_raw)}};
  if (options.create_only) request.headers.emplace_back("if-none-match", "*");
  auto response = send(request, uri, etag_check(md5, uri), &options.guard);
  if (!response) return tl::unexpected(response.error());
  if (options.create_only && condition_refused(response->status, response->body)) {
    return tl::unexpected(
        make_error(Error::Code::kAlreadyExists, fmt::format("{}: already exists; not replaced (HTTP {})", uri,
                                                            response->status)));
  }
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

Result<std::string> S3Store::start_multipart(std::string_view key) const {
  const std::string uri = object_uri(key);
  Request create{"POST", object_key(key), {{"uploads", ""}}, {}, {}, {}};
  auto created = send(create, uri);
  if (!created) return tl::unexpected(created.error());
  if (created->status != 200) return tl::unexpected(http_error(uri, "starting a multipart upload", *created));
  const auto upload_id = xml_value(created->body, "UploadId");
  if (!upload_id || upload_id->empty()) {
    return tl::unexpected(make_error(Error::Code::kIo, fmt::format("{}: starting a multipart upload: no UploadId in {:?}",
                                                                   uri, snippet(created->body))));
  }
  return *upload_id;
}

Result<std::string> S3Store::upload_part(std::string_view key, const std::string& upload_id, size_t number,
                                         size_t parts, std::string_view part) const {
  const std::string md5_raw = sigv4::md5(part);
  const std::string md5 = sigv4::hex(md5_raw);
  const std::string part_uri = parts > 0 ? fmt::format("{} (part {} of {})", object_uri(key), number, parts)
                                         : fmt::format("{} (part {})", object_uri(key), number);
  Request request{"PUT",
                  object_key(key),
                  {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
                  {{"content-md5", sigv4::base64(md5_raw)}},
                  part,
                  sigv4::sha256_hex(part)};
  auto response = send(request, part_uri, etag_check(md5, part_uri));
  if (!response) return tl::unexpected(response.error());
  if (response->status != 200) return tl::unexpected(http_error(part_uri, "PUT", *response));
  if (auto etag = response->headers.find("etag"); etag != response->headers.end()) return etag->second;
  return "\"" + md5 + "\"";
}

void S3Store::abort_multipart(std::string_view key, const std::string& upload_id) const {
  // Best effort: a leftover upload costs storage until the bucket's lifecycle rule
  // (AbortIncompleteMultipartUpload, docs/storage.md) removes it.
  Request abort{"DELETE", object_key(key), {{"uploadId", upload_id}}, {}, {}, {}};
  (void)send_once(abort, {}, nullptr);
}

Result<void> S3Store::complete_multipart(std::string_view key, const std::string& upload_id,
                                         const std::vector<std::string>& etags, const PutOptions& options) const {
  const std::string uri = object_uri(key);
  std::string xml = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); ++i) {
    xml += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1, xml_escape(etags[i]));
  }
  xml += "</CompleteMultipartUpload>";
  Request complete{"POST", object_key(key), {{"uploadId", upload_id}}, {}, xml, {}};
  if (options.create_only) complete.headers.emplace_back("if-none-match", "*");
  // A completion can fail after "200 OK": S3 then sends an <Error> body.
  auto error_in_body = [&](const Response& response) -> std::optional<std::string> {
    if (response.status != 200) return std::nullopt;
    auto error = parse_s3_error(response.body);
    if (error && (error->code == "InternalError" || error->code == "SlowDown")) {
      return fmt::format("{}: completing the multipart upload: {}: {}", uri, error->code, error->message);
    }
    return std::nullopt;
  };
  auto completed = send(complete, uri, error_in_body, &options.guard);
  if (!completed) {
    abort_multipart(key, upload_id);
    return tl::unexpected(completed.error());
  }
  if (options.create_only && condition_refused(completed->status, completed->body)) {
    abort_multipart(key, upload_id);
    return tl::unexpected(make_error(Error::Code::kAlreadyExists,
                                     fmt::format("{}: already exists; not replaced (HTTP {})", uri, completed->status)));
  }
  if (completed->status != 200 || parse_s3_error(completed->body) ||
      completed->body.find("CompleteMultipartUploadResult") == std::string::npos) {
    abort_multipart(key, upload_id);
    if (completed->status == 200 && !parse_s3_error(completed->body)) {
      return tl::unexpected(make_error(Error::Code::kIo, fmt::format("{}: completing the multipart upload: unexpected "
                                                                     "answer {:?}",
                                                                     uri, snippet(completed->body))));
    }
    return tl::unexpected(http_error(uri, "completing the multipart upload", *completed));
  }
  return {};
}

Result<void> S3Store::put_multipart(std::string_view key, std::string_view bytes, const PutOptions& options) {
  auto upload_id = start_multipart(key);
  if (!upload_id) return tl::unexpected(upload_id.error());
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
      auto etag = upload_part(key, *upload_id, i + 1, parts, bytes.substr(i * part_size, part_size));
      if (!etag) {
        failed = true;
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::move(etag.error());
        return;
      }
      etags[i] = std::move(*etag);
    }
  };
  const size_t thread_count = std::min<size_t>(static_cast<size_t>(options_.part_threads), parts);
  std::vector<std::thread> threads;
  for (size_t t = 1; t < thread_count; ++t) threads.emplace_back(upload_parts);
  upload_parts();
  for (auto& thread : threads) thread.join();
  if (failed) {
    abort_multipart(key, *upload_id);
    return tl::unexpected(*first_error);
  }
  return complete_multipart(key, *upload_id, etags, options);
}

// The streamed write: bytes are buffered up to a part; once more than a part was written
// the object becomes a multipart upload whose parts go up as they fill (one at a time, from
// the writing thread), completed at commit. An object that never filled a part is one PUT.
class S3Store::Writer final : public ObjectWriter {
 public:
  Writer(S3Store& store, std::string key, PutOptions options)
      : store_(store), key_(std::move(key)), options_(std::move(options)) {}
  ~Writer() override {
    if (upload_id_ && !done_) store_.abort_multipart(key_, *upload_id_);
  }
  Result<void> write(std::string_view bytes) override {
    if (done_) return closed();
    buffer_.append(bytes);
    size_ += bytes.size();
    const uint64_t part_size = std::max<uint64_t>(store_.options_.part_size, 5ull << 20);
    while (buffer_.size() > part_size) {  // keep at least one byte back for the last part
      if (auto sent = send_part(std::string_view(buffer_).substr(0, part_size)); !sent) return sent;
      buffer_.erase(0, part_size);
    }
    return {};
  }
  Result<void> commit() override {
    if (done_) return closed();
    done_ = true;
    if (!upload_id_) {
      if (options_.create_only) {
        if (auto free = store_.refuse_existing(key_); !free) return free;
      }
      return store_.put_single(key_, buffer_, options_);
    }
    if (auto sent = send_part(buffer_); !sent) {
      store_.abort_multipart(key_, *upload_id_);
      return sent;
    }
    std::string().swap(buffer_);
    if (options_.create_only) {
      if (auto free = store_.refuse_existing(key_); !free) {
        store_.abort_multipart(key_, *upload_id_);
        return free;
      }
    }
    return store_.complete_multipart(key_, *upload_id_, etags_, options_);
  }
  uint64_t size() const override { return size_; }

 private:
  Result<void> send_part(std::string_view part) {
    if (!upload_id_) {
      auto started = store_.start_multipart(key_);
      if (!started) return tl::unexpected(started.error());
      upload_id_ = std::move(*started);
    }
    auto etag = store_.upload_part(key_, *upload_id_, etags_.size() + 1, 0, part);
    if (!etag) return tl::unexpected(etag.error());
    etags_.push_back(std::move(*etag));
    return {};
  }
  Result<void> closed() const {
    return tl::unexpected(make_error(Error::Code::kIo, fmt::format("{}: writer already committed", store_.object_uri(key_))));
  }

  S3Store& store_;
  const std::string key_;
  const PutOptions options_;
  std::string buffer_;
  uint64_t size_ = 0;
  std::optional<std::string> upload_id_;
  std::vector<std::string> etags_;
  bool done_ = false;
};

Result<std::unique_ptr<ObjectWriter>> S3Store::open_writer(std::string_view key, const PutOptions& options) {
  if (auto valid = validate_key(key); !valid) return tl::unexpected(valid.error());
  return std::unique_ptr<ObjectWriter>(std::make_unique<Writer>(*this, std::string(key), options));
}

Result<std::string> S3Store::get_range(std::string_view key, uint64_t offset, uint64_t size) const {
  if (auto valid = validate_key(key); !valid) return tl::unexpected(valid.error());
  if (size == 0) return std::string();
  const std::string uri = object_uri(key);
  Request request{"GET", object_key(key), {}, {{"range", fmt::format("bytes={}-{}", offset, offset + size - 1)}}, {}, {}};
  auto response = send(request, uri);
  if (!response) return tl::unexpected(response.error());
  if (response->status == 416) {
    return tl::unexpected(make_error(Error::Code::kIo, fmt::format("{}: bytes {}+{} lie past its end", uri, offset, size)));
  }
  if (response->status != 206 && response->status != 200) return tl::unexpected(http_error(uri, "GET (range)", *response));
  if (response->status == 200) {  // a server that ignores Range sends the whole object
    if (offset > response->body.size() || size > response->body.size() - offset) {
      return tl::unexpected(make_error(Error::Code::kIo, fmt::format("{}: bytes {}+{} lie past its end ({} bytes)", uri,
                                                                     offset, size, response->body.size())));
    }
    return response->body.substr(static_cast<size_t>(offset), static_cast<size_t>(size));
  }
  // The answer must start where asked (Content-Range "bytes a-b/total"). A server may send
  // more than asked (s3rver 3.7 reads "bytes=0-0" as the whole object): the rest is dropped.
  auto content_range = response->headers.find("content-range");
  const std::string expected_start = fmt::format("bytes {}-", offset);
  if (content_range == response->headers.end() || !content_range->second.starts_with(expected_start) ||
      response->body.size() < size) {
    return tl::unexpected(make_error(Error::Code::kIo, fmt::format("{}: asked for bytes {}+{}, got {} bytes ({})", uri,
                                                                   offset, size, response->body.size(),
                                                                   content_range == response->headers.end()
                                                                       ? "no Content-Range"
                                                                       : content_range->second)));
  }
  response->body.resize(static_cast<size_t>(size));
  return std::move(response->body);
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
    auto page = parse_s3_list_page(response->body, root);
    if (!page) {
      return tl::unexpected(make_error(Error::Code::kIo, fmt::format("{}: LIST: unexpected answer {:?}",
                                                                     what, snippet(response->body))));
    }
    std::move(page->objects.begin(), page->objects.end(), std::back_inserter(objects));
    if (!page->truncated) break;
    const auto& next = page->next_token;
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
