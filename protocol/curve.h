// ZeroMQ CURVE for the telemetry and control sockets (docs/security.md): key pairs, the
// key files that hold them, and the coordinator's list of the worker keys it admits.
// With CURVE on, the coordinator's two sockets are CURVE servers that let in only listed
// client keys (a ZAP handler inside protocol/ asks CurveAllowList), and every message
// between the coordinator and its workers is encrypted and authenticated.
//
// Keys are Z85 text, 40 characters for 32 bytes, as ZeroMQ prints them. No ZeroMQ type
// appears here. This module reads only the files it is given and never logs: refusals and
// re-reads of the allow-list reach the caller through callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace synthfarm::protocol {

// Whether this libzmq was built with CURVE (libsodium). Everything below that needs CURVE
// fails with a message saying so when it was not.
bool curve_available();

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
  friend bool operator==(const CurveKeyPair&, const CurveKeyPair&) = default;
};

tl::expected<CurveKeyPair, std::string> generate_curve_key_pair();

// Whether `text` is a Z85 key: 40 characters of ZeroMQ's Z85 alphabet.
bool is_z85_key(const std::string& text);

// Writes `<prefix>.key`, mode 0600:
//     # synthfarm CURVE key pair (Z85). Keep this file secret: mode 0600.
//     public: <40 characters>
//     secret: <40 characters>
// and `<prefix>.pub`, mode 0644: the public key alone on one line. Refuses to replace
// either file unless `overwrite` (then each is replaced atomically).
tl::expected<void, std::string> write_curve_key_files(const std::string& prefix,
                                                      const CurveKeyPair& keys, bool overwrite);

// Reads a `.key` file as written above (blank lines and `#` lines are ignored). Refuses a
// file that group or others may read or write, and one whose public key does not belong
// to its secret key; every error names the path (and the line).
tl::expected<CurveKeyPair, std::string> read_curve_key_file(const std::string& path);

// A public key given as itself (40 Z85 characters) or as the path of a `.pub` file (one
// key; `#` comment lines allowed).
tl::expected<std::string, std::string> read_curve_public_key(const std::string& key_or_path);

// The client public keys a CURVE server admits, from a text file: one Z85 key per line;
// blank lines, lines starting with `#` and a `# comment` after a key are ignored, so
// `cat worker.pub >> allowed_workers` adds a worker. (Z85 has `#` too, but as its highest
// digit it cannot begin a key: 84 * 85^4 is over 2^32.)
//
// The file is re-read at the next handshake after it changed (modification time, size or
// inode): adding or removing a worker needs no restart, and an edit by rename is seen as
// well as one in place. A re-read that fails (unreadable, a bad line) leaves the previous
// list in force. Thread-safe.
class CurveAllowList {
 public:
  // ok false: the file changed but was not taken (the message says why).
  using ReloadListener = std::function<void(bool ok, const std::string& message)>;

  // Reads the file now; errors name the file and line.
  static tl::expected<std::shared_ptr<CurveAllowList>, std::string> load(
      const std::string& path, ReloadListener on_reload = {});

  // Re-reads the file first if it changed since the last read.
  bool allows(const std::string& public_key);
  size_t size() const;
  const std::string& path() const { return path_; }

  // The keys in `text` (a file's contents; `source` names it in errors).
  static tl::expected<std::set<std::string>, std::string> parse(const std::string& text,
                                                                const std::string& source);

 private:
  struct FileStamp {
    int64_t mtime_ns = 0;
    int64_t size = 0;
    uint64_t inode = 0;
    friend bool operator==(const FileStamp&, const FileStamp&) = default;
  };
  CurveAllowList(std::string path, ReloadListener on_reload)
      : path_(std::move(path)), on_reload_(std::move(on_reload)) {}
  // The file's keys and stamp; an error names the file.
  tl::expected<std::pair<std::set<std::string>, FileStamp>, std::string> read() const;
  void reload_if_changed();

  const std::string path_;
  const ReloadListener on_reload_;
  mutable std::mutex mutex_;
  std::set<std::string> keys_;  // GUARDED_BY(mutex_)
  // The stamp of the last read, taken or not, so a bad file is reported once per change.
  std::optional<FileStamp> stamp_;  // GUARDED_BY(mutex_)
};

// A client the ZAP handler turned away because its key is not in the allow-list.
struct CurveRefusal {
  std::string socket;      // "telemetry" or "control"
  std::string address;     // the client's IP address
  std::string public_key;  // the refused key, Z85
  uint64_t refused_total;  // refusals on this socket so far, this one included
};

// A CURVE server's settings (the coordinator's telemetry and control sockets).
struct CurveServerConfig {
  CurveKeyPair keys;  // the server's own
  std::shared_ptr<CurveAllowList> allowed_clients;
  // Called on the ZAP handler's thread for each refusal; must be quick and thread-safe.
  std::function<void(const CurveRefusal&)> on_refusal;
};

// A CURVE client's settings (a worker's telemetry and control sockets).
struct CurveClientConfig {
  CurveKeyPair keys;              // the client's own
  std::string server_public_key;  // Z85
};

}  // namespace synthfarm::protocol
