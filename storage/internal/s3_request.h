// storage-internal header, for the S3Store's own files (s3_store.cpp, s3_retry.cpp,
// s3_config.cpp): the request and response of one S3 call, and the error shorthand they
// all use. Nothing outside storage/ includes it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/object_store.h"
#include "storage/s3_store.h"

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

namespace s3_internal {

inline Error make_error(Error::Code code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace s3_internal
}  // namespace synthfarm::storage
