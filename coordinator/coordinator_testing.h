// Test hook beside coordinator.h, for the HTTP API's fuzz target (fuzz/http_api_fuzz.cpp):
// a coordinator set up exactly as Coordinator::create() sets one up (Redis checked,
// sockets bound, routes and access checks in place), whose HTTP connections the caller
// hands in one at a time instead of its listener accepting them. run() is never called,
// so no background loop (telemetry, reaper, finalizer) runs beside the requests and every
// request is served on the caller's thread, start to end: a fuzz input's coverage and
// any sanitizer report belong to that input. Test code only.
#pragma once

#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "coordinator/coordinator.h"

namespace synthfarm::coordinator::testing {

// Not thread-safe: serve one connection at a time.
class ConnectionServer {
 public:
  static tl::expected<std::unique_ptr<ConnectionServer>, std::string> create(CoordinatorOptions options);
  virtual ~ConnectionServer() = default;
  // Serves every request on the connected stream socket `fd` (kept-alive ones too) as a
  // connection the listener accepted, until the peer stops sending; then closes `fd`.
  virtual void serve(int fd) = 0;
};

}  // namespace synthfarm::coordinator::testing
