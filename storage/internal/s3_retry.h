// storage-internal header, for the S3Store's own files: which failures s3_retry.cpp (the
// retry loop of S3Store::send, exponential backoff with full jitter) retries, as the
// transport in s3_store.cpp needs to know it.
#pragma once

#include <curl/curl.h>

namespace synthfarm::storage::s3_internal {

// curl failures worth another attempt: the server was away, slow or cut us off.
bool retryable(CURLcode code);

}  // namespace synthfarm::storage::s3_internal
