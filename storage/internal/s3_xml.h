// storage-internal header, for the S3Store's own files: reading and writing the small XML
// documents of the S3 API (s3_xml.cpp; parse_s3_error is public, in s3_store.h).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace synthfarm::storage::s3_internal {

// `text` with & < > " as entities, for element text of a request body.
std::string xml_escape(std::string_view text);

// The text of the first <tag>...</tag> in `xml` at or after `from`; `end` (optional)
// receives the position after the closing tag. S3's responses are small, flat documents:
// tag extraction is enough, no XML parser needed.
std::optional<std::string> xml_value(std::string_view xml, std::string_view tag, size_t from = 0,
                                     size_t* end = nullptr);

}  // namespace synthfarm::storage::s3_internal
