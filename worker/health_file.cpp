#include "worker/health_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace synthfarm::worker {

HealthFile::HealthFile(std::filesystem::path path)
    : path_(std::move(path)),
      temp_path_(path_.parent_path() /
                 fmt::format(".{}.tmp.{}", path_.filename().string(), getpid())) {}

tl::expected<std::unique_ptr<HealthFile>, std::string> HealthFile::create(
    std::filesystem::path path, std::string_view text) {
  if (path.empty() || !path.has_filename()) {
    return tl::unexpected(fmt::format("'{}' is not a file path", path.string()));
  }
  std::unique_ptr<HealthFile> file(new HealthFile(std::move(path)));
  if (auto written = file->refresh(text); !written) return tl::unexpected(written.error());
  return file;
}

HealthFile::~HealthFile() {
  if (written_) ::unlink(path_.c_str());
}

tl::expected<void, std::string> HealthFile::refresh(std::string_view text) {
  auto failed = [&](const char* what, const std::filesystem::path& which) {
    const int error = errno;
    ::unlink(temp_path_.c_str());
    return tl::unexpected(
        fmt::format("cannot {} {}: {}", what, which.string(), std::strerror(error)));
  };
  const int fd = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return failed("write", temp_path_);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      errno = error;
      return failed("write", temp_path_);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return failed("write", temp_path_);
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) return failed("rename a file over", path_);
  written_ = true;
  return {};
}

}  // namespace synthfarm::worker
