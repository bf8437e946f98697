// The XML of the S3 API: S3's error bodies (parse_s3_error), list pages
// (parse_s3_list_page), the values S3Store reads from its answers and the text it escapes
// in the bodies it sends.
#include "storage/internal/s3_xml.h"

#include <cstdlib>

#include "storage/s3_store.h"

namespace synthfarm::storage {
namespace {

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

}  // namespace

namespace s3_internal {

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

std::optional<std::string> xml_value(std::string_view xml, std::string_view tag, size_t from,
                                     size_t* end) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const size_t start = xml.find(open, from);
  if (start == std::string_view::npos) return std::nullopt;
  const size_t stop = xml.find(close, start + open.size());
  if (stop == std::string_view::npos) return std::nullopt;
  if (end) *end = stop + close.size();
  return xml_unescape(xml.substr(start + open.size(), stop - start - open.size()));
}

}  // namespace s3_internal

using s3_internal::xml_value;

std::optional<S3ErrorBody> parse_s3_error(std::string_view xml) {
  const size_t error = xml.find("<Error>");
  if (error == std::string_view::npos) return std::nullopt;
  auto code = xml_value(xml, "Code", error);
  if (!code) return std::nullopt;
  return S3ErrorBody{*code, xml_value(xml, "Message", error).value_or("")};
}

std::optional<S3ListPage> parse_s3_list_page(std::string_view xml, std::string_view root) {
  if (xml.find("<ListBucketResult") == std::string_view::npos) return std::nullopt;
  S3ListPage page;
  size_t pos = 0, end = 0;
  while (auto contents = xml_value(xml, "Contents", pos, &end)) {
    pos = end;
    auto key = xml_value(*contents, "Key");
    auto size = xml_value(*contents, "Size");
    if (!key || !size || !std::string_view(*key).starts_with(root)) continue;
    std::string relative = key->substr(root.size());
    if (!validate_key(relative)) continue;  // not an object this store could have written
    page.objects.push_back(ObjectInfo{std::move(relative), std::strtoull(size->c_str(), nullptr, 10)});
  }
  page.truncated = xml_value(xml, "IsTruncated").value_or("false") == "true";
  page.next_token = xml_value(xml, "NextContinuationToken");
  return page;
}

}  // namespace synthfarm::storage
