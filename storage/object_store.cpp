// Free functions of object_store.h: key validation, URI parsing and dispatch, SHA-256.
#include "storage/object_store.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include "storage/file_store.h"
#include "storage/s3_store.h"

namespace synthfarm::storage {
namespace {

std::string to_hex(const unsigned char* digest, unsigned int length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

namespace fs = std::filesystem;

constexpr size_t kMaxKeyBytes = 1024;
constexpr std::string_view kFileScheme = "file://";

Result<void> key_error(std::string_view key, std::string_view rule) {
  return tl::unexpected(
      Error{Error::Code::kInvalidKey, fmt::format("invalid object key {:?}: {}", key, rule)});
}

Error uri_error(std::string_view uri, std::string_view why) {
  return Error{Error::Code::kInvalidUri, fmt::format("invalid storage URI {:?}: {}", uri, why)};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The scheme of "scheme://rest", or empty when `uri` has none.
std::string_view scheme_of(std::string_view uri) {
  const size_t sep = uri.find("://");
  if (sep == std::string_view::npos || sep == 0) return {};
  const std::string_view scheme = uri.substr(0, sep);
  if (!std::isalpha(static_cast<unsigned char>(scheme[0]))) return {};
  for (char c : scheme) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return {};
    }
  }
  return scheme;
}

// The absolute, lexically normalised directory named by a file:// URI, without a trailing
// slash. "file://rel/dir" is relative to the current directory (there is no host part).
Result<fs::path> file_uri_path(std::string_view uri) {
  const std::string_view rest = uri.substr(kFileScheme.size());
  if (rest.empty()) return tl::unexpected(uri_error(uri, "file URI has no path"));
  for (char c : rest) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return tl::unexpected(uri_error(uri, "control character in path"));
    }
  }
  std::error_code ec;
  fs::path path = fs::absolute(fs::path(rest), ec);
  if (ec) return tl::unexpected(uri_error(uri, ec.message()));
  std::string normal = path.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return fs::path(normal);
}

}  // namespace

Result<void> validate_key(std::string_view key) {
  if (key.empty()) return key_error(key, "key is empty");
  if (key.size() > kMaxKeyBytes) {
    return key_error(key, fmt::format("key is longer than {} bytes", kMaxKeyBytes));
  }
  if (key.front() == '/') return key_error(key, "key starts with '/'");
  for (size_t i = 0; i < key.size(); ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c == '\\') return key_error(key, "key contains a backslash");
    if (c == 0) return key_error(key, "key contains NUL");
    if (c < 0x20 || c == 0x7f) return key_error(key, "key contains a control character");
    if (c == '%' && i + 2 < key.size()) {
      const int hi = hex_value(key[i + 1]);
      const int lo = hex_value(key[i + 2]);
      if (hi >= 0 && lo >= 0) {
        const char decoded = static_cast<char>(hi * 16 + lo);
        if (decoded == '.' || decoded == '/' || decoded == '\\') {
          return key_error(key, "key contains a percent-encoded '.', '/' or '\\'");
        }
      }
    }
  }
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    const std::string_view segment = key.substr(start, end - start);
    if (segment.empty()) return key_error(key, "key has an empty segment");
    if (segment == "." || segment == "..") {
      return key_error(key, "key has a '.' or '..' segment");
    }
    start = end + 1;
  }
  return {};
}

Result<std::string> canonical_uri(std::string_view uri) {
  if (uri.empty()) return tl::unexpected(uri_error(uri, "URI is empty"));
  const std::string_view scheme = scheme_of(uri);
  if (scheme.empty()) {
    return tl::unexpected(uri_error(uri, "missing scheme (expected e.g. file:///abs/dir)"));
  }
  if (scheme != "file") return std::string(uri);
  auto path = file_uri_path(uri);
  if (!path) return tl::unexpected(path.error());
  return std::string(kFileScheme) + path->string();
}

Result<std::unique_ptr<ObjectStore>> open_store(std::string_view uri) {
  auto canonical = canonical_uri(uri);
  if (!canonical) return tl::unexpected(canonical.error());
  const std::string_view scheme = scheme_of(uri);
  if (scheme == "s3") {
    auto options = s3_options_from_environment();
    if (!options) return tl::unexpected(options.error());
    auto store = S3Store::open(uri, std::move(*options));
    if (!store) return tl::unexpected(store.error());
    return std::unique_ptr<ObjectStore>(std::move(*store));
  }
  if (scheme != "file") {
    return tl::unexpected(
        uri_error(uri, fmt::format("unsupported scheme {:?} (supported: file://, s3://)", scheme)));
  }
  auto store = FileStore::open(fs::path(canonical->substr(kFileScheme.size())));
  if (!store) return tl::unexpected(store.error());
  return std::unique_ptr<ObjectStore>(std::move(*store));
}

Result<std::string> read_uri(std::string_view uri) {
  const std::string_view scheme = scheme_of(uri);
  if (scheme == "s3") {
    // s3://bucket/key: a store rooted at the bucket, without the opening check (one GET).
    auto location = parse_s3_uri(uri);
    if (!location) return tl::unexpected(location.error());
    if (location->prefix.empty()) return tl::unexpected(uri_error(uri, "names a bucket, not an object"));
    auto options = s3_options_from_environment();
    if (!options) return tl::unexpected(options.error());
    options->check_bucket = false;
    auto store = S3Store::open(fmt::format("s3://{}", location->bucket), std::move(*options));
    if (!store) return tl::unexpected(store.error());
    return (*store)->get(location->prefix);
  }
  auto canonical = canonical_uri(uri);
  if (!canonical) return tl::unexpected(canonical.error());
  const fs::path path(canonical->substr(kFileScheme.size()));
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    const bool exists = fs::exists(path, ec);
    return tl::unexpected(Error{exists ? Error::Code::kIo : Error::Code::kNotFound,
                                fmt::format("{}: {}", uri, exists ? "cannot be read" : "no such file")});
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return tl::unexpected(Error{Error::Code::kIo, fmt::format("{}: read failed", uri)});
  return bytes;
}

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL EVP_Digest(SHA-256) failed");
  }
  return to_hex(digest.data(), length);
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (context_ == nullptr || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(context_), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL EVP_DigestInit_ex(SHA-256) failed");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context_)); }

void Sha256::update(std::string_view bytes) {
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(context_), bytes.data(), bytes.size()) != 1) {
    throw std::runtime_error("OpenSSL EVP_DigestUpdate(SHA-256) failed");
  }
}

std::string Sha256::hex() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(context_), digest.data(), &length) != 1) {
    throw std::runtime_error("OpenSSL EVP_DigestFinal_ex(SHA-256) failed");
  }
  return to_hex(digest.data(), length);
}

Result<std::string> ObjectStore::get_range(std::string_view key, uint64_t offset, uint64_t size) const {
  auto bytes = get(key);
  if (!bytes) return bytes;
  if (offset > bytes->size() || size > bytes->size() - offset) {
    return tl::unexpected(Error{Error::Code::kIo, fmt::format("{}/{}: bytes {}+{} lie past its end ({} bytes)", uri(),
                                                              key, offset, size, bytes->size())});
  }
  return bytes->substr(static_cast<size_t>(offset), static_cast<size_t>(size));
}

namespace {

// The default writer: the whole object in memory, put() at commit.
class BufferedWriter final : public ObjectWriter {
 public:
  BufferedWriter(ObjectStore& store, std::string key, PutOptions options)
      : store_(store), key_(std::move(key)), options_(std::move(options)) {}
  Result<void> write(std::string_view bytes) override {
    bytes_.append(bytes);
    return {};
  }
  Result<void> commit() override { return store_.put(key_, bytes_, options_); }
  uint64_t size() const override { return bytes_.size(); }

 private:
  ObjectStore& store_;
  const std::string key_;
  const PutOptions options_;
  std::string bytes_;
};

}  // namespace

Result<std::unique_ptr<ObjectWriter>> ObjectStore::open_writer(std::string_view key, const PutOptions& options) {
  if (auto valid = validate_key(key); !valid) return tl::unexpected(valid.error());
  return std::unique_ptr<ObjectWriter>(std::make_unique<BufferedWriter>(*this, std::string(key), options));
}

}  // namespace synthfarm::storage
