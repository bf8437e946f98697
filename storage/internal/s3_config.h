// storage-internal header, for the S3Store's own files: what s3_config.cpp (the options
// from the environment and ~/.aws, and s3:// URIs) shares with them.
#pragma once

#include <string>
#include <string_view>

namespace synthfarm::storage::s3_internal {

// `text` without leading and trailing white space: INI lines and values, and the values of
// HTTP response headers (s3_store.cpp).
std::string trim(std::string_view text);

}  // namespace synthfarm::storage::s3_internal
