// AWS Signature Version 4 for S3 requests, and the hashes S3 requests carry.
//
// This is the one piece of the S3 protocol written by hand: it turns a request (method,
// path, query, headers, payload hash) into the Authorization header, following
// "Authenticating Requests: Using the Authorization Header (AWS Signature Version 4)".
// It does no I/O and knows nothing of HTTP clients; s3_store.cpp uses it, and the tests
// check it against the example requests of the AWS documentation.
//
// Thread-safe: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace synthfarm::storage::sigv4 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

struct Request {
  std::string method;          // "GET", "PUT", ...
  std::string canonical_path;  // already URI-encoded (see uri_encode_path), e.g. "/bucket/a%20b"
  // Query parameters, not encoded; sorted and encoded when signing. A valueless
  // parameter ("?uploads") has an empty value.
  std::vector<std::pair<std::string, std::string>> query;
  // Headers to sign (names in any case); must include host, x-amz-date and
  // x-amz-content-sha256.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256;  // lower-case hex, or "UNSIGNED-PAYLOAD"
};

// The pieces, exposed so tests can compare each step with the documentation.
std::string canonical_request(const Request& request);
std::string string_to_sign(std::string_view amz_date, std::string_view region,
                           std::string_view service, std::string_view canonical_request);
// The value of the Authorization header. `amz_date` is "YYYYMMDDTHHMMSSZ" and must equal
// the request's x-amz-date header.
std::string authorization(const Request& request, const Credentials& credentials,
                          std::string_view region, std::string_view service,
                          std::string_view amz_date);

// RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - . _ ~ is %XX
// (upper-case hex); uri_encode_path keeps '/'.
std::string uri_encode(std::string_view text);
std::string uri_encode_path(std::string_view path);
// "?a=1&b=" from sorted, encoded parameters: the canonical query string (without '?').
std::string canonical_query(std::vector<std::pair<std::string, std::string>> query);

// Raw digests (16 and 32 bytes); hex() and base64() turn them into header values.
std::string md5(std::string_view bytes);
std::string sha256(std::string_view bytes);
std::string sha256_hex(std::string_view bytes);
std::string md5_base64(std::string_view bytes);
std::string md5_hex(std::string_view bytes);
std::string sha256_base64(std::string_view bytes);
std::string hex(std::string_view bytes);
std::string base64(std::string_view bytes);

}  // namespace synthfarm::storage::sigv4
