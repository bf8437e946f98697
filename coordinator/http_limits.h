// What one HTTP client may ask of the coordinator (flags of synthfarm-coordinator; see
// docs/security.md for the defaults' reasons).
#pragma once

#include <chrono>
#include <cstddef>

namespace synthfarm::coordinator {

struct HttpLimits {
  std::chrono::milliseconds request_timeout{10000};    // the whole request, from its first byte
  std::chrono::milliseconds write_timeout{10000};      // each write of a response
  std::chrono::milliseconds keep_alive_timeout{5000};  // idle time between kept-alive requests
  int max_connections_per_client = 16;                 // open connections per client address
  size_t max_body_bytes = 1 << 20;                     // larger request bodies get 413
  size_t max_header_bytes = 16 << 10;                  // request line and headers; more get 431
  // Connections served at once: each dashboard's live stream holds one while open.
  int threads = 64;
};

}  // namespace synthfarm::coordinator
