#include "storage/s3_signer.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

namespace synthfarm::storage::sigv4 {
namespace {

std::string digest(const EVP_MD* md, std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &length, md, nullptr) != 1) {
    throw std::runtime_error("OpenSSL EVP_Digest failed");
  }
  return std::string(reinterpret_cast<const char*>(out.data()), length);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &length) == nullptr) {
    throw std::runtime_error("OpenSSL HMAC(SHA-256) failed");
  }
  return std::string(reinterpret_cast<const char*>(out.data()), length);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and collapses runs of spaces, as the canonical header value wants.
std::string trim_value(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> canonical_headers(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : headers) out.emplace_back(lower(name), trim_value(value));
  std::sort(out.begin(), out.end());
  return out;
}

std::string signed_header_names(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string names;
  for (const auto& [name, value] : canonical_headers(headers)) {
    if (!names.empty()) names.push_back(';');
    names += name;
  }
  return names;
}

}  // namespace

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string md5(std::string_view bytes) { return digest(EVP_md5(), bytes); }
std::string sha256(std::string_view bytes) { return digest(EVP_sha256(), bytes); }
std::string sha256_hex(std::string_view bytes) { return hex(digest(EVP_sha256(), bytes)); }
std::string sha256_base64(std::string_view bytes) { return base64(digest(EVP_sha256(), bytes)); }
std::string md5_hex(std::string_view bytes) { return hex(digest(EVP_md5(), bytes)); }
std::string md5_base64(std::string_view bytes) { return base64(digest(EVP_md5(), bytes)); }

std::string uri_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string uri_encode_path(std::string_view path) {
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    out += uri_encode(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

std::string canonical_query(std::vector<std::pair<std::string, std::string>> query) {
  for (auto& [name, value] : query) {
    name = uri_encode(name);
    value = uri_encode(value);
  }
  std::sort(query.begin(), query.end());
  std::string out;
  for (const auto& [name, value] : query) {
    if (!out.empty()) out.push_back('&');
    out += name + "=" + value;
  }
  return out;
}

std::string canonical_request(const Request& request) {
  std::string out =
      request.method + "\n" + request.canonical_path + "\n" + canonical_query(request.query) + "\n";
  for (const auto& [name, value] : canonical_headers(request.headers)) {
    out += name + ":" + value + "\n";
  }
  out += "\n" + signed_header_names(request.headers) + "\n" + request.payload_sha256;
  return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view region,
                           std::string_view service, std::string_view canonical) {
  const std::string_view date = amz_date.substr(0, 8);
  return "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + std::string(date) + "/" +
         std::string(region) + "/" + std::string(service) + "/aws4_request\n" +
         sha256_hex(canonical);
}

std::string authorization(const Request& request, const Credentials& credentials,
                          std::string_view region, std::string_view service,
                          std::string_view amz_date) {
  const std::string_view date = amz_date.substr(0, 8);
  const std::string to_sign = string_to_sign(amz_date, region, service, canonical_request(request));
  std::string key = hmac_sha256("AWS4" + credentials.secret_access_key, date);
  key = hmac_sha256(key, region);
  key = hmac_sha256(key, service);
  key = hmac_sha256(key, "aws4_request");
  const std::string signature = hex(hmac_sha256(key, to_sign));
  return "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + std::string(date) +
         "/" + std::string(region) + "/" + std::string(service) +
         "/aws4_request,SignedHeaders=" + signed_header_names(request.headers) +
         ",Signature=" + signature;
}

}  // namespace synthfarm::storage::sigv4
