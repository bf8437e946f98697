#include "storage/file_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <system_error>
#include <thread>

namespace synthfarm::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTempPrefix = ".tmp.";
// Keeps temp names under NAME_MAX (255) whatever the key's basename length.
constexpr size_t kTempNameStemBytes = 128;

tl::unexpected<Error> io_error(const fs::path& path, std::string_view what, int err) {
  return tl::unexpected(
      Error{Error::Code::kIo, fmt::format("{} {:?}: {}", what, path.string(), std::strerror(err))});
}

tl::unexpected<Error> io_error(const fs::path& path, std::string_view what,
                               const std::error_code& ec) {
  return tl::unexpected(
      Error{Error::Code::kIo, fmt::format("{} {:?}: {}", what, path.string(), ec.message())});
}

bool is_temp_name(std::string_view name) { return name.starts_with(kTempPrefix); }

bool has_temp_segment(std::string_view key) {
  size_t start = 0;
  while (start < key.size()) {
    if (is_temp_name(key.substr(start))) return true;
    const size_t slash = key.find('/', start);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return false;
}

// Owns a file descriptor; closes it on destruction.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports the result (close can report deferred write errors).
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

int open_retry(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path, flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Returns 0 or an errno value.
int write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

int fsync_dir(const fs::path& dir) {
  Fd fd(open_retry(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return errno;
  if (::fsync(fd.get()) != 0) return errno;
  return 0;
}

// Removes a temp file when a put fails before the rename.
class TempFileGuard {
 public:
  explicit TempFileGuard(const fs::path& path) : path_(path) {}
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;
  ~TempFileGuard() {
    if (armed_) ::unlink(path_.c_str());
  }
  void release() { armed_ = false; }

 private:
  const fs::path& path_;
  bool armed_ = true;
};

}  // namespace

FileStore::FileStore(fs::path root, fs::path real_root)
    : root_(std::move(root)), real_root_(std::move(real_root)) {}

Result<std::unique_ptr<FileStore>> FileStore::open(const fs::path& root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return io_error(root, "cannot create store directory", ec);
  if (!fs::is_directory(root, ec)) {
    return io_error(root, "store root is not a directory", ec ? ec.value() : ENOTDIR);
  }
  fs::path real_root = fs::canonical(root, ec);
  if (ec) return io_error(root, "cannot resolve store directory", ec);
  // The constructor is private, so make_unique cannot reach it (Abseil tip #134).
  return std::unique_ptr<FileStore>(new FileStore(root, std::move(real_root)));
}

std::string FileStore::uri() const { return "file://" + root_.string(); }

Result<void> FileStore::check_inside(const fs::path& path, std::string_view key) const {
  std::error_code ec;
  const fs::path resolved = fs::weakly_canonical(path, ec);
  if (ec) return io_error(path, "cannot resolve", ec);
  const fs::path relative = resolved.lexically_relative(real_root_);
  if (relative.empty() || relative == "." || *relative.begin() == "..") {
    return tl::unexpected(
        Error{Error::Code::kInvalidKey,
              fmt::format("invalid object key {:?}: resolves to {:?}, outside the store root {:?}",
                          key, resolved.string(), real_root_.string())});
  }
  return {};
}

Result<fs::path> FileStore::path_for(std::string_view key) const {
  if (auto valid = validate_key(key); !valid) return tl::unexpected(valid.error());
  if (has_temp_segment(key)) {
    return tl::unexpected(
        Error{Error::Code::kInvalidKey,
              fmt::format("invalid object key {:?}: segments starting with {:?} are reserved for "
                          "temporary files",
                          key, kTempPrefix)});
  }
  fs::path path = real_root_ / fs::path(key);
  if (auto inside = check_inside(path, key); !inside) return tl::unexpected(inside.error());
  return path;
}

Result<FileStore::Staged> FileStore::stage(std::string_view key) {
  auto target = path_for(key);
  if (!target) return tl::unexpected(target.error());
  const fs::path dir = target->parent_path();

  std::error_code ec;
  fs::create_directories(dir, ec);
  // Another thread may have created it concurrently; only a missing directory is a failure.
  std::error_code ignored;
  if (ec && !fs::is_directory(dir, ignored)) return io_error(dir, "cannot create directory", ec);
  // The directories now exist, so resolve again: a symlink may have been among them.
  if (auto inside = check_inside(*target, key); !inside) return tl::unexpected(inside.error());

  const std::string stem = target->filename().string().substr(0, kTempNameStemBytes);
  Staged staged;
  staged.key = std::string(key);
  staged.target = *target;
  staged.temp = dir / fmt::format("{}{}.{}.{:x}.{}", kTempPrefix, stem, ::getpid(),
                                  std::hash<std::thread::id>{}(std::this_thread::get_id()),
                                  temp_counter_.fetch_add(1, std::memory_order_relaxed));
  staged.fd = open_retry(staged.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (staged.fd < 0) return io_error(staged.temp, "cannot create temporary file", errno);
  return staged;
}

Result<void> FileStore::append(Staged& staged, std::string_view bytes) {
  if (int err = write_all(staged.fd, bytes); err != 0) return io_error(staged.temp, "cannot write temporary file", err);
  return {};
}

Result<void> FileStore::publish(Staged& staged, const PutOptions& options) {
  Fd fd(staged.fd);
  staged.fd = -1;
  TempFileGuard guard(staged.temp);
  const fs::path& temp = staged.temp;
  const fs::path& target = staged.target;
  const std::string& key = staged.key;
  if (::fsync(fd.get()) != 0) return io_error(temp, "cannot fsync temporary file", errno);
  if (fd.close() != 0) return io_error(temp, "cannot close temporary file", errno);
  // The commit point: nothing before it is visible to readers, so the guard is asked here,
  // as late as possible, and a refusal leaves nothing behind but the removed temp file.
  if (options.guard) {
    if (auto refused = options.guard()) {
      return tl::unexpected(Error{Error::Code::kFenced,
                                  fmt::format("{}/{}: not written: {}", uri(), key, *refused)});
    }
  }
  if (options.create_only) {
    // link(2) fails with EEXIST instead of replacing: an atomic create-only commit. The
    // temp name is removed by the guard either way.
    if (::link(temp.c_str(), target.c_str()) != 0) {
      if (errno == EEXIST) {
        return tl::unexpected(Error{Error::Code::kAlreadyExists,
                                    fmt::format("{}/{}: already exists; not replaced", uri(), key)});
      }
      return io_error(target, "cannot link temporary file to", errno);
    }
  } else {
    if (::rename(temp.c_str(), target.c_str()) != 0) {
      return io_error(target, "cannot rename temporary file onto", errno);
    }
    guard.release();
  }
  if (int err = fsync_dir(target.parent_path()); err != 0) return io_error(target.parent_path(), "cannot fsync directory", err);
  return {};
}

void FileStore::discard(Staged& staged) {
  if (staged.fd < 0) return;
  ::close(staged.fd);
  staged.fd = -1;
  ::unlink(staged.temp.c_str());
}

Result<void> FileStore::put(std::string_view key, std::string_view bytes, const PutOptions& options) {
  auto staged = stage(key);
  if (!staged) return tl::unexpected(staged.error());
  if (auto written = append(*staged, bytes); !written) {
    discard(*staged);
    return written;
  }
  return publish(*staged, options);
}

// The streamed write: a temp file that grows with each write() and is published at commit.
class FileStore::Writer final : public ObjectWriter {
 public:
  Writer(FileStore& store, Staged staged, PutOptions options)
      : store_(store), staged_(std::move(staged)), options_(std::move(options)) {}
  ~Writer() override { store_.discard(staged_); }
  Result<void> write(std::string_view bytes) override {
    if (staged_.fd < 0) return closed();
    auto written = store_.append(staged_, bytes);
    if (written) size_ += bytes.size();
    return written;
  }
  Result<void> commit() override {
    if (staged_.fd < 0) return closed();
    return store_.publish(staged_, options_);
  }
  uint64_t size() const override { return size_; }

 private:
  Result<void> closed() const {
    return tl::unexpected(Error{Error::Code::kIo, fmt::format("{}/{}: writer already committed", store_.uri(),
                                                              staged_.key)});
  }
  FileStore& store_;
  Staged staged_;
  const PutOptions options_;
  uint64_t size_ = 0;
};

Result<std::unique_ptr<ObjectWriter>> FileStore::open_writer(std::string_view key, const PutOptions& options) {
  auto staged = stage(key);
  if (!staged) return tl::unexpected(staged.error());
  return std::unique_ptr<ObjectWriter>(std::make_unique<Writer>(*this, std::move(*staged), options));
}

Result<std::string> FileStore::get_range(std::string_view key, uint64_t offset, uint64_t size) const {
  auto path = path_for(key);
  if (!path) return tl::unexpected(path.error());
  Fd fd(open_retry(path->c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return tl::unexpected(Error{Error::Code::kNotFound, fmt::format("object {:?} not found in {}", key, uri())});
    }
    return io_error(*path, "cannot open", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error(*path, "cannot stat", errno);
  const auto file_size = static_cast<uint64_t>(st.st_size);
  if (offset > file_size || size > file_size - offset) {
    return tl::unexpected(Error{Error::Code::kIo, fmt::format("{}/{}: bytes {}+{} lie past its end ({} bytes)", uri(),
                                                              key, offset, size, file_size)});
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t n = ::pread(fd.get(), bytes.data() + filled, bytes.size() - filled,
                              static_cast<off_t>(offset + filled));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(*path, "cannot read", errno);
    }
    if (n == 0) return io_error(*path, "cannot read (shrank while read)", EIO);
    filled += static_cast<size_t>(n);
  }
  return bytes;
}

Result<std::string> FileStore::get(std::string_view key) const {
  auto path = path_for(key);
  if (!path) return tl::unexpected(path.error());
  auto not_found = [&] {
    return tl::unexpected(
        Error{Error::Code::kNotFound,
              fmt::format("object {:?} not found at {:?} in {}", key, path->string(), uri())});
  };
  Fd fd(open_retry(path->c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return not_found();
    return io_error(*path, "cannot open", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error(*path, "cannot stat", errno);
  if (!S_ISREG(st.st_mode)) return not_found();

  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t filled = 0;
  while (true) {
    if (filled == bytes.size()) bytes.resize(bytes.size() + 4096);  // grew since fstat
    const ssize_t n = ::read(fd.get(), bytes.data() + filled, bytes.size() - filled);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(*path, "cannot read", errno);
    }
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  bytes.resize(filled);
  return bytes;
}

Result<std::optional<ObjectInfo>> FileStore::head(std::string_view key) const {
  auto path = path_for(key);
  if (!path) return tl::unexpected(path.error());
  struct stat st {};
  if (::stat(path->c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<ObjectInfo>();
    return io_error(*path, "cannot stat", errno);
  }
  if (!S_ISREG(st.st_mode)) return std::optional<ObjectInfo>();
  return ObjectInfo{std::string(key), static_cast<uint64_t>(st.st_size)};
}

Result<std::vector<ObjectInfo>> FileStore::list(std::string_view prefix) const {
  // The prefix may end mid-name or with '/'; only its directory part names a path to walk.
  const size_t last_slash = prefix.rfind('/');
  const std::string_view dir_key =
      last_slash == std::string_view::npos ? std::string_view() : prefix.substr(0, last_slash);
  if (!prefix.empty()) {
    // "samples/" is a fine prefix although it is not a key; validate it without the slash.
    const std::string_view as_key =
        last_slash + 1 == prefix.size() ? prefix.substr(0, last_slash) : prefix;
    if (auto valid = validate_key(as_key); !valid) return tl::unexpected(valid.error());
  }
  fs::path dir = real_root_;
  if (!dir_key.empty()) {
    auto path = path_for(dir_key);
    if (!path) return tl::unexpected(path.error());
    dir = *path;
  }

  std::vector<ObjectInfo> objects;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return objects;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) return io_error(dir, "cannot list", ec);
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return io_error(dir, "cannot list", ec);
    const fs::directory_entry& entry = *it;
    if (is_temp_name(entry.path().filename().string())) continue;
    const fs::file_status link_status = entry.symlink_status(ec);
    if (ec) continue;  // vanished under us, e.g. a temp file renamed away
    if (fs::is_symlink(link_status)) {
      if (!fs::is_regular_file(entry.status(ec)) || ec) continue;
    } else if (!fs::is_regular_file(link_status)) {
      continue;
    }
    std::string key = entry.path().lexically_relative(real_root_).generic_string();
    if (!std::string_view(key).starts_with(prefix)) continue;
    if (!validate_key(key) || has_temp_segment(key)) continue;
    if (fs::is_symlink(link_status) && !check_inside(entry.path(), key)) continue;
    const uintmax_t size = entry.file_size(ec);
    if (ec) continue;
    objects.push_back(ObjectInfo{std::move(key), static_cast<uint64_t>(size)});
  }
  if (ec) return io_error(dir, "cannot list", ec);
  std::sort(objects.begin(), objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return objects;
}

Result<void> FileStore::remove(std::string_view key) {
  auto path = path_for(key);
  if (!path) return tl::unexpected(path.error());
  if (::unlink(path->c_str()) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return {};
    return io_error(*path, "cannot remove", errno);
  }
  return {};
}

Result<std::vector<ObjectInfo>> FileStore::list_scratch(std::string_view prefix) const {
  std::vector<ObjectInfo> temps;
  std::error_code ec;
  fs::recursive_directory_iterator it(real_root_, fs::directory_options::none, ec);
  if (ec) return io_error(real_root_, "cannot list", ec);
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return io_error(real_root_, "cannot list", ec);
    if (!is_temp_name(it->path().filename().string())) continue;
    const fs::file_status status = it->symlink_status(ec);
    if (ec || !fs::is_regular_file(status)) continue;
    std::string name = it->path().lexically_relative(real_root_).generic_string();
    if (!std::string_view(name).starts_with(prefix)) continue;
    const uintmax_t size = it->file_size(ec);
    temps.push_back(ObjectInfo{std::move(name), ec ? 0 : static_cast<uint64_t>(size)});
  }
  std::sort(temps.begin(), temps.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return temps;
}

Result<void> FileStore::remove_scratch(std::string_view name) {
  // Only a temp file's name: a valid key whose last segment is a temp name, inside the root.
  const size_t slash = name.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  if (!is_temp_name(base) || !validate_key(name)) {
    return tl::unexpected(
        Error{Error::Code::kInvalidKey, fmt::format("{:?} is not a temporary file of this store", name)});
  }
  const fs::path path = real_root_ / fs::path(name);
  if (auto inside = check_inside(path, name); !inside) return tl::unexpected(inside.error());
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error(path, "cannot remove", errno);
  return {};
}

}  // namespace synthfarm::storage
