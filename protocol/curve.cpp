#include "protocol/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "protocol/internal/curve_sockets.h"

namespace synthfarm::protocol {
namespace {

constexpr size_t kZ85KeyChars = 40;
// An allow-list of this size holds some 400 000 keys: anything larger is not one.
constexpr int64_t kMaxKeyFileBytes = 16 << 20;

// Closes the descriptor it holds.
class KeyFileDescriptor {
 public:
  explicit KeyFileDescriptor(int fd) : fd_(fd) {}
  ~KeyFileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  KeyFileDescriptor(const KeyFileDescriptor&) = delete;
  KeyFileDescriptor& operator=(const KeyFileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct KeyFileText {
  std::string text;
  struct stat status {};
};

// A small regular file's bytes and its status, both from one open descriptor (no race
// between the mode check and the read).
tl::expected<KeyFileText, std::string> read_key_file_text(const std::string& path) {
  KeyFileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    return tl::unexpected(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  KeyFileText out;
  if (fstat(fd.get(), &out.status) != 0) {
    return tl::unexpected(fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
  }
  if (!S_ISREG(out.status.st_mode)) return tl::unexpected(path + " is not a regular file");
  if (out.status.st_size > kMaxKeyFileBytes) {
    return tl::unexpected(
        fmt::format("{} is {} bytes: too large for a key file", path, out.status.st_size));
  }
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    }
    out.text.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Writes `content` to `path` with exactly `mode` (whatever the umask). The file is created
// 0600 and only then given its mode, so a secret is never readable by others, even
// briefly. Without `overwrite` an existing file is an error; with it, the file is written
// beside and renamed over the old one.
tl::expected<void, std::string> write_key_file_text(const std::string& path,
                                                    const std::string& content, mode_t mode,
                                                    bool overwrite) {
  const std::string target = overwrite ? fmt::format("{}.tmp-{}", path, getpid()) : path;
  if (overwrite) unlink(target.c_str());
  int raw = open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (raw < 0) {
    if (errno == EEXIST) return tl::unexpected(path + " already exists");
    return tl::unexpected(fmt::format("cannot create {}: {}", target, std::strerror(errno)));
  }
  {
    KeyFileDescriptor fd(raw);
    size_t written = 0;
    while (written < content.size()) {
      ssize_t n = write(fd.get(), content.data() + written, content.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int error = errno;
        unlink(target.c_str());
        return tl::unexpected(fmt::format("cannot write {}: {}", target, std::strerror(error)));
      }
      written += static_cast<size_t>(n);
    }
    if (fchmod(fd.get(), mode) != 0 || fsync(fd.get()) != 0) {
      int error = errno;
      unlink(target.c_str());
      return tl::unexpected(fmt::format("cannot write {}: {}", target, std::strerror(error)));
    }
  }
  if (overwrite && rename(target.c_str(), path.c_str()) != 0) {
    int error = errno;
    unlink(target.c_str());
    return tl::unexpected(fmt::format("cannot replace {}: {}", path, std::strerror(error)));
  }
  return {};
}

std::string_view trimmed(std::string_view s) {
  const char* space = " \t\r\n";
  size_t begin = s.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(space);
  return s.substr(begin, end - begin + 1);
}

std::vector<std::string_view> key_file_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// The first whitespace-separated word of `line`, and what follows it (trimmed).
std::pair<std::string_view, std::string_view> first_word(std::string_view line) {
  line = trimmed(line);
  size_t end = line.find_first_of(" \t");
  if (end == std::string_view::npos) return {line, {}};
  return {line.substr(0, end), trimmed(line.substr(end))};
}

}  // namespace

bool curve_available() { return zmq_has("curve") != 0; }

bool is_z85_key(const std::string& text) {
  if (text.size() != kZ85KeyChars) return false;
  uint8_t binary[32];
  return zmq_z85_decode(binary, text.c_str()) != nullptr;
}

tl::expected<CurveKeyPair, std::string> generate_curve_key_pair() {
  if (!curve_available()) return tl::unexpected(internal::curve_unavailable_message());
  char public_key[kZ85KeyChars + 1] = {};
  char secret_key[kZ85KeyChars + 1] = {};
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    return tl::unexpected(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()));
  }
  return CurveKeyPair{public_key, secret_key};
}

tl::expected<void, std::string> write_curve_key_files(const std::string& prefix,
                                                      const CurveKeyPair& keys, bool overwrite) {
  if (!is_z85_key(keys.public_key) || !is_z85_key(keys.secret_key)) {
    return tl::unexpected("not a Z85 CURVE key pair; nothing written to " + prefix + ".key");
  }
  const std::string key_path = prefix + ".key", pub_path = prefix + ".pub";
  if (!overwrite) {
    // Both checked before either is written: never half a key pair on disk.
    for (const auto& path : {key_path, pub_path}) {
      struct stat st {};
      if (lstat(path.c_str(), &st) == 0) return tl::unexpected(path + " already exists");
    }
  }
  auto key =
      write_key_file_text(key_path,
                          "# synthfarm CURVE key pair (Z85). Keep this file secret: mode 0600.\n"
                          "public: " +
                              keys.public_key + "\nsecret: " + keys.secret_key + "\n",
                          0600, overwrite);
  if (!key) return key;
  auto pub = write_key_file_text(pub_path, keys.public_key + "\n", 0644, overwrite);
  if (!pub && !overwrite) unlink(key_path.c_str());
  return pub;
}

tl::expected<CurveKeyPair, std::string> read_curve_key_file(const std::string& path) {
  if (!curve_available())
    return tl::unexpected(path + ": " + internal::curve_unavailable_message());
  auto file = read_key_file_text(path);
  if (!file) return tl::unexpected(file.error());
  if (file->status.st_mode & (S_IRWXG | S_IRWXO)) {
    return tl::unexpected(fmt::format(
        "{} holds a secret key but group or others may open it (mode {:04o}); refusing it: "
        "chmod 600 {}",
        path, file->status.st_mode & 07777, path));
  }
  CurveKeyPair keys;
  auto lines = key_file_lines(file->text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = trimmed(lines[i]);
    if (line.empty() || line.front() == '#') continue;
    size_t colon = line.find(':');
    std::string field(trimmed(line.substr(0, colon == std::string_view::npos ? 0 : colon)));
    std::string* slot = field == "public"   ? &keys.public_key
                        : field == "secret" ? &keys.secret_key
                                            : nullptr;
    if (colon == std::string_view::npos || slot == nullptr) {
      return tl::unexpected(
          fmt::format("{}:{}: expected 'public: KEY' or 'secret: KEY'", path, i + 1));
    }
    if (!slot->empty())
      return tl::unexpected(fmt::format("{}:{}: a second {} key", path, i + 1, field));
    *slot = std::string(trimmed(line.substr(colon + 1)));
    if (!is_z85_key(*slot)) {
      return tl::unexpected(
          fmt::format("{}:{}: the {} key is not 40 Z85 characters", path, i + 1, field));
    }
  }
  if (keys.secret_key.empty())
    return tl::unexpected(path + ": no 'secret:' line (is this a .pub file?)");
  if (keys.public_key.empty()) return tl::unexpected(path + ": no 'public:' line");
  char derived[kZ85KeyChars + 1] = {};
  if (zmq_curve_public(derived, keys.secret_key.c_str()) != 0 || keys.public_key != derived) {
    return tl::unexpected(path + ": the public key is not the secret key's (was the file edited?)");
  }
  return keys;
}

tl::expected<std::string, std::string> read_curve_public_key(const std::string& key_or_path) {
  struct stat st {};
  if (is_z85_key(key_or_path) && stat(key_or_path.c_str(), &st) != 0) return key_or_path;
  auto file = read_key_file_text(key_or_path);
  if (!file) {
    return tl::unexpected(
        fmt::format("'{}' is neither a Z85 public key (40 characters) nor a readable "
                    "file ({})",
                    key_or_path, file.error()));
  }
  auto keys = CurveAllowList::parse(file->text, key_or_path);
  if (!keys) return tl::unexpected(keys.error());
  if (keys->size() != 1) {
    return tl::unexpected(
        fmt::format("{}: expected one public key, found {}", key_or_path, keys->size()));
  }
  return *keys->begin();
}

// ---- CurveAllowList ---------------------------------------------------------------------

tl::expected<std::set<std::string>, std::string> CurveAllowList::parse(const std::string& text,
                                                                       const std::string& source) {
  std::set<std::string> keys;
  auto lines = key_file_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    auto [word, rest] = first_word(lines[i]);
    if (word.empty()) continue;
    std::string key(word);
    if (is_z85_key(key)) {
      if (!rest.empty() && rest.front() != '#') {
        return tl::unexpected(
            fmt::format("{}:{}: only a '# comment' may follow the key", source, i + 1));
      }
      keys.insert(std::move(key));
      continue;
    }
    if (word.front() == '#') continue;
    if (word == "secret:" || word == "public:") {
      return tl::unexpected(
          fmt::format("{}:{}: a line of a .key file; give public keys alone, as in a .pub file",
                      source, i + 1));
    }
    return tl::unexpected(
        fmt::format("{}:{}: '{}' is not a Z85 public key (40 characters, as in a .pub file)",
                    source, i + 1, word.substr(0, 60)));
  }
  return keys;
}

tl::expected<std::shared_ptr<CurveAllowList>, std::string> CurveAllowList::load(
    const std::string& path, ReloadListener on_reload) {
  // Not make_shared: the constructor is private.
  std::shared_ptr<CurveAllowList> list(new CurveAllowList(path, std::move(on_reload)));
  auto read = list->read();
  if (!read) return tl::unexpected(read.error());
  list->keys_ = std::move(read->first);
  list->stamp_ = read->second;
  return list;
}

tl::expected<std::pair<std::set<std::string>, CurveAllowList::FileStamp>, std::string>
CurveAllowList::read() const {
  auto file = read_key_file_text(path_);
  if (!file) return tl::unexpected(file.error());
  auto keys = parse(file->text, path_);
  if (!keys) return tl::unexpected(keys.error());
  const struct stat& st = file->status;
  FileStamp stamp{static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                  static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
  return std::pair{std::move(*keys), stamp};
}

void CurveAllowList::reload_if_changed() {
  struct stat st {};
  FileStamp now{-1, -1, 0};  // the file cannot be stat'ed: itself a change to report once
  if (stat(path_.c_str(), &st) == 0) {
    now = {static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
           static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
  }
  {
    std::lock_guard lock(mutex_);
    if (stamp_ == now) return;
    stamp_ = now;  // this caller re-reads; a concurrent one keeps the list it has
  }
  // The file is read without the lock held (no lock across I/O).
  auto read = this->read();
  size_t count = 0;
  {
    std::lock_guard lock(mutex_);
    if (read) keys_ = std::move(read->first);
    count = keys_.size();
  }
  if (!on_reload_) return;
  if (read) {
    on_reload_(true, fmt::format("{} re-read: {} allowed key(s)", path_, count));
  } else {
    on_reload_(false, fmt::format("{}; the previous {} key(s) stay in force", read.error(), count));
  }
}

bool CurveAllowList::allows(const std::string& public_key) {
  reload_if_changed();
  std::lock_guard lock(mutex_);
  return keys_.count(public_key) > 0;
}

size_t CurveAllowList::size() const {
  std::lock_guard lock(mutex_);
  return keys_.size();
}

}  // namespace synthfarm::protocol
