// S3Store: the s3:// ObjectStore, for AWS S3 and any S3-compatible server (MinIO, Ceph,
// s3rver, ...). Callers should use open_store("s3://bucket/prefix") from object_store.h;
// this header exists for the factory, the options and the tests.
//
// Requests are plain HTTP(S) through libcurl, signed with AWS Signature Version 4
// (s3_signer.h). Every upload carries Content-MD5 and its SHA-256 (signed
// x-amz-content-sha256, and x-amz-checksum-sha256 on single PUTs), and the ETag the server
// answers must equal the MD5 of the bytes sent: a put returns success only once the server
// confirmed it holds exactly those bytes. Objects above a threshold go up as a multipart
// upload (parts in parallel; aborted on failure). 5xx, 429, timeouts, resets and a
// mismatched ETag are retried with exponential backoff and full jitter within a time budget;
// other 4xx are not. Errors name the object's URI and the server's <Code> and <Message>.
// A put's commit guard is asked before every attempt of the request that makes the object
// visible (the PUT, or CompleteMultipartUpload); a create-only put sends `If-None-Match: *`
// (412 -> kAlreadyExists) after a HEAD, for servers that ignore the header.
//
// Thread-safe: options are immutable after open(); the curl handle pool has its own mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/object_store.h"
#include "storage/s3_signer.h"

namespace synthfarm::storage {

struct S3Options {
  // "http(s)://host[:port]" of an S3-compatible server; empty: AWS in `region`.
  std::string endpoint;
  std::string region = "us-east-1";
  sigv4::Credentials credentials;
  // Path-style ("endpoint/bucket/key") or virtual-host ("bucket.endpoint/key") addressing.
  // Unset: path-style with a custom endpoint, virtual-host on AWS (path-style there too for
  // bucket names with dots, which HTTPS certificates do not cover).
  std::optional<bool> path_style;
  uint64_t multipart_threshold = 16ull << 20;     // bytes; larger objects go up in parts
  uint64_t part_size = 8ull << 20;                // bytes (AWS wants >= 5 MiB but the last)
  int part_threads = 4;                           // parallel part uploads per object
  std::chrono::milliseconds retry_budget{60000};  // give up retrying after this long
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::seconds stall_timeout{30};  // a transfer making no progress this long fails
  std::string ca_bundle;                   // PEM file of trusted CAs; empty: the system's
  bool verify_tls = true;
  bool verify_etag = true;    // off for SSE-KMS buckets, whose ETags are not MD5s
  int list_page_keys = 1000;  // max-keys of each ListObjectsV2 page
  bool check_bucket = true;   // open() lists one key to fail early on a bad bucket/credentials
  // Test hook: may alter the body of an upload attempt (attempt 0, 1, ...) after its
  // checksums were computed, as a corrupting network would.
  std::function<void(std::string& body, int attempt)> tamper_upload_for_test;
};

// Options from the environment: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_REGION /
// AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else
// the AWS_PROFILE (default "default") profile of AWS_SHARED_CREDENTIALS_FILE
// (~/.aws/credentials) and AWS_CONFIG_FILE (~/.aws/config), AWS_CA_BUNDLE, and
// SYNTHFARM_S3_ADDRESSING_STYLE (path|virtual|auto), SYNTHFARM_S3_MULTIPART_THRESHOLD,
// SYNTHFARM_S3_PART_SIZE (bytes), SYNTHFARM_S3_PART_THREADS, SYNTHFARM_S3_RETRY_SECONDS,
// SYNTHFARM_S3_VERIFY_ETAG (0|1).
Result<S3Options> s3_options_from_environment();

struct S3Location {
  std::string bucket;
  std::string prefix;  // no leading or trailing '/'; may be empty
};
// "s3://bucket/some/prefix" -> {bucket, "some/prefix"}; checks the bucket name and the prefix.
Result<S3Location> parse_s3_uri(std::string_view uri);

// An S3 error response body: <Error><Code>..</Code><Message>..</Message></Error>.
struct S3ErrorBody {
  std::string code;
  std::string message;
};
std::optional<S3ErrorBody> parse_s3_error(std::string_view xml);

// One page of a ListObjectsV2 answer (<ListBucketResult>): the objects whose keys start
// with `root` (the store's "prefix/", or empty), keyed relative to it, leaving out keys
// this store could not have written; and whether more pages follow, with the token that
// asks for the next. nullopt: the body is not a ListBucketResult.
struct S3ListPage {
  std::vector<ObjectInfo> objects;
  bool truncated = false;
  std::optional<std::string> next_token;  // NextContinuationToken, when the answer has one
};
std::optional<S3ListPage> parse_s3_list_page(std::string_view xml, std::string_view root);

class S3Store final : public ObjectStore {
 public:
  static Result<std::unique_ptr<S3Store>> open(std::string_view uri, S3Options options);
  ~S3Store() override;

  std::string uri() const override;
  using ObjectStore::put;
  Result<void> put(std::string_view key, std::string_view bytes, const PutOptions& options) override;
  Result<std::string> get(std::string_view key) const override;
  // A Range GET.
  Result<std::string> get_range(std::string_view key, uint64_t offset, uint64_t size) const override;
  // Multipart once more than part_size was written (parts sent as they fill), one PUT otherwise.
  Result<std::unique_ptr<ObjectWriter>> open_writer(std::string_view key, const PutOptions& options) override;
  Result<std::optional<ObjectInfo>> head(std::string_view key) const override;
  Result<std::vector<ObjectInfo>> list(std::string_view prefix) const override;
  // Removing a missing key succeeds (idempotent).
  Result<void> remove(std::string_view key) override;

  struct Request;
  struct Response;

 private:
  class Writer;
  S3Store(S3Location location, S3Options options, std::string scheme, std::string host);
  // The steps of a multipart upload. `parts` in upload_part only names the part in
  // messages (0: unknown yet). complete_multipart asks the guard before each attempt and
  // aborts the upload when it fails; abort_multipart is best effort.
  Result<std::string> start_multipart(std::string_view key) const;
  Result<std::string> upload_part(std::string_view key, const std::string& upload_id, size_t number, size_t parts,
                                  std::string_view part) const;
  Result<void> complete_multipart(std::string_view key, const std::string& upload_id,
                                  const std::vector<std::string>& etags, const PutOptions& options) const;
  void abort_multipart(std::string_view key, const std::string& upload_id) const;

  std::string object_key(std::string_view key) const;  // prefix + "/" + key
  std::string object_uri(std::string_view key) const;  // "s3://bucket/prefix/key"
  Result<void> put_single(std::string_view key, std::string_view bytes, const PutOptions& options);
  Result<void> put_multipart(std::string_view key, std::string_view bytes, const PutOptions& options);
  // kAlreadyExists when a create-only put's key is taken (a HEAD: the fallback for servers
  // that ignore If-None-Match); nothing otherwise.
  Result<void> refuse_existing(std::string_view key) const;
  // Sends with retries. `retry_reason` may call a received response retryable (e.g. a
  // mismatched ETag); the returned response is the last one, whatever its status. `guard`
  // (optional) is asked before every attempt: a refusal ends the call with kFenced.
  Result<Response> send(
      const Request& request, std::string_view uri,
      const std::function<std::optional<std::string>(const Response&)>& retry_reason = {},
      const CommitGuard* guard = nullptr) const;
  // One attempt; on a transport failure `retry` (optional) says whether another may help.
  Result<Response> send_once(const Request& request, std::string_view body, bool* retry) const;
  Error http_error(std::string_view uri, std::string_view what, const Response& response) const;
  // A retry_reason for an upload of bytes whose MD5 is `md5_hex`: a 200 whose ETag is
  // another MD5 means the server stored other bytes (unless options_.verify_etag is off).
  std::function<std::optional<std::string>(const Response&)> etag_check(std::string md5_hex,
                                                                        std::string uri) const;

  void* acquire_handle() const;
  void release_handle(void* handle) const;

  const S3Location location_;
  const S3Options options_;
  const std::string scheme_;  // "http" or "https"
  const std::string host_;    // "host[:port]" of the endpoint
  mutable std::mutex handles_mutex_;
  mutable std::vector<void*> idle_handles_;  // GUARDED_BY(handles_mutex_): CURL* kept for reuse
};

}  // namespace synthfarm::storage
