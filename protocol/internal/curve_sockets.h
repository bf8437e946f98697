// protocol/'s own CURVE plumbing for its ZeroMQ sockets: the key options, the ZAP handler
// that admits only allowed client keys, and the handshake monitor of a client socket.
// Other modules use protocol/curve.h and the socket classes instead.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <tl/expected.hpp>
#include <zmq.hpp>

#include "protocol/curve.h"
#include "protocol/telemetry.h"

namespace synthfarm::protocol::internal {

// Why CURVE cannot be used with this libzmq.
std::string curve_unavailable_message();

// CURVE available and every key 40 Z85 characters; the message says what is wrong.
tl::expected<void, std::string> check_curve(const CurveServerConfig& config);
tl::expected<void, std::string> check_curve(const CurveClientConfig& config);

// Before bind / connect. Throw zmq::error_t on a key ZeroMQ does not take.
void make_curve_server(zmq::socket_t& socket, const CurveServerConfig& config);
void make_curve_client(zmq::socket_t& socket, const CurveClientConfig& config);

// Answers the ZAP requests (RFC 27) of one ZeroMQ context on its own thread: a CURVE
// client is admitted when its public key is in the allow-list, and refused (counted,
// reported through on_refusal) when it is not. Construct it before the context's CURVE
// server socket binds: a CURVE server in a context without a ZAP handler admits any
// client key. Its destructor stops the thread. Thread-safe.
class ZapHandler {
 public:
  // `socket_name` ("telemetry", "control") is reported with each refusal.
  ZapHandler(zmq::context_t& context, std::string socket_name, CurveServerConfig config);
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;
  uint64_t refused() const { return refused_.load(); }

 private:
  void serve(std::stop_token stop);
  void answer(const std::vector<zmq::message_t>& request);

  const std::string socket_name_;
  const CurveServerConfig config_;
  zmq::socket_t socket_;  // the handler thread's once it runs
  std::atomic<uint64_t> refused_{0};
  std::jthread thread_;  // declared last: stopped and joined before the socket closes
};

// Watches a client socket's security handshakes (zmq_socket_monitor). Construct it
// before the watched socket connects: earlier events are lost. It has no thread of its
// own: link() takes in the events that came since the last call. Thread-safe: it reads
// only its own socket, never the watched one.
class HandshakeMonitor {
 public:
  // `name` makes the monitor's inproc endpoint unique within the context.
  HandshakeMonitor(zmq::context_t& context, zmq::socket_t& watched, const std::string& name);
  TelemetryLink link();

 private:
  std::mutex mutex_;
  zmq::socket_t events_;  // GUARDED_BY(mutex_)
  TelemetryLink link_;    // GUARDED_BY(mutex_)
};

}  // namespace synthfarm::protocol::internal
