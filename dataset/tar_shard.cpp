#include "dataset/tar_shard.h"

#include <fmt/format.h>

#include <cstring>

namespace synthfarm::dataset {
namespace {

constexpr size_t kBlock = 512;
// 11 octal digits: the largest size a plain ustar header holds.
constexpr uint64_t kMaxMemberBytes = (1ull << 33) - 1;

void put_octal(std::string& header, size_t offset, size_t width, uint64_t value) {
  // width - 1 digits, zero-padded, then NUL.
  const std::string digits = fmt::format("{:0{}o}", value, width - 1);
  std::memcpy(header.data() + offset, digits.data(), width - 1);
}

}  // namespace

std::string tar_header(std::string_view name, uint64_t size) {
  std::string h(kBlock, '\0');
  std::memcpy(h.data(), name.data(), name.size());  // name[100]
  put_octal(h, 100, 8, 0644);                        // mode
  put_octal(h, 108, 8, 0);                           // uid
  put_octal(h, 116, 8, 0);                           // gid
  put_octal(h, 124, 12, size);                       // size
  put_octal(h, 136, 12, 0);                          // mtime
  h[156] = '0';                                      // typeflag: regular file
  std::memcpy(h.data() + 257, "ustar", 6);           // magic, NUL-terminated
  std::memcpy(h.data() + 263, "00", 2);              // version
  // The checksum: the sum of the header's bytes with the checksum field read as spaces,
  // written as six octal digits, NUL, space.
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  const std::string checksum = fmt::format("{:06o}", sum);
  std::memcpy(h.data() + 148, checksum.data(), 6);
  h[154] = '\0';
  h[155] = ' ';
  return h;
}

storage::Result<std::unique_ptr<TarShard>> TarShard::open(storage::ObjectStore& store, std::string key,
                                                          const storage::PutOptions& options) {
  auto writer = store.open_writer(key, options);
  if (!writer) return tl::unexpected(writer.error());
  return std::unique_ptr<TarShard>(new TarShard(std::move(key), std::move(*writer)));
}

storage::Result<void> TarShard::write(std::string_view bytes) {
  sha256_.update(bytes);
  size_ += bytes.size();
  return writer_->write(bytes);
}

storage::Result<jobs::TarMember> TarShard::add(std::string_view name, std::string_view bytes) {
  if (name.empty() || name.size() >= 100 || name.find('\0') != std::string_view::npos) {
    return tl::unexpected(storage::Error{storage::Error::Code::kInvalidKey,
                                         fmt::format("{}: tar member name {:?} must be 1..99 bytes", key_, name)});
  }
  if (bytes.size() > kMaxMemberBytes) {
    return tl::unexpected(storage::Error{storage::Error::Code::kIo,
                                         fmt::format("{}: {} is {} bytes, more than a tar member holds", key_, name,
                                                     bytes.size())});
  }
  if (auto written = write(tar_header(name, bytes.size())); !written) return tl::unexpected(written.error());
  jobs::TarMember member{std::string(name), size_, bytes.size(), storage::sha256_hex(bytes)};
  if (auto written = write(bytes); !written) return tl::unexpected(written.error());
  if (const size_t tail = bytes.size() % kBlock; tail != 0) {
    if (auto written = write(std::string(kBlock - tail, '\0')); !written) return tl::unexpected(written.error());
  }
  members_.push_back(member);
  return member;
}

storage::Result<jobs::ManifestEntry> TarShard::finish() {
  if (auto written = write(std::string(2 * kBlock, '\0')); !written) return tl::unexpected(written.error());
  if (auto committed = writer_->commit(); !committed) return tl::unexpected(committed.error());
  return jobs::ManifestEntry{key_, size_, sha256_.hex(), std::move(members_)};
}

}  // namespace synthfarm::dataset
