// The coordinator's HTTP server: cpp-httplib's router and handlers, with the connection
// handling replaced where a server on a shared network needs more than the library gives:
//   - a deadline for the whole request (line, headers and body), not only per read: a
//     client that sends a byte a second is dropped when the deadline passes, and cannot
//     hold a server thread for longer;
//   - at most N open connections per client address; more are answered 503 at once;
//   - TLS from OpenSSL, with the same deadlines on the handshake and every read.
// Internal to coordinator/. Thread-safe as httplib::Server is.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tl/expected.hpp>

#include "coordinator/http_limits.h"

namespace synthfarm::coordinator {

class HardenedServer : public httplib::Server {
 public:
  // `tls_cert`/`tls_key`: PEM files; both empty: plain HTTP.
  static tl::expected<std::unique_ptr<HardenedServer>, std::string> create(
      HttpLimits limits, const std::string& tls_cert, const std::string& tls_key);
  ~HardenedServer() override;
  bool tls() const { return ctx_ != nullptr; }
  // Serves a connection accepted elsewhere exactly as one from the listener (limits,
  // deadlines, keep-alive), on the calling thread, and closes it: the HTTP fuzz target's
  // way in (coordinator_testing.h). false when the connection ended in an error.
  bool serve_connection(socket_t sock) { return process_and_close_socket(sock); }
  // Connections refused for the per-client limit, and requests dropped at their deadline.
  uint64_t refused_connections() const { return refused_.load(); }
  uint64_t timed_out_requests() const { return timed_out_.load(); }

 private:
  explicit HardenedServer(HttpLimits limits) : limits_(limits) {}
  bool process_and_close_socket(socket_t sock) override;
  bool admit(const std::string& ip);
  void release(const std::string& ip);

  HttpLimits limits_;
  SSL_CTX* ctx_ = nullptr;
  std::mutex mutex_;
  std::map<std::string, int> open_per_client_;  // GUARDED_BY(mutex_)
  std::atomic<uint64_t> refused_{0}, timed_out_{0};
};

}  // namespace synthfarm::coordinator
