// Telemetry transport: workers PUSH Cap'n Proto messages to a coordinator's PULL socket
// over ZeroMQ. This is the fast path for live progress only; losing a message never
// loses data (Redis is the truth), so sends never block the render loop: a full queue
// drops the message and counts it.
//
// With CURVE (protocol/curve.h) the coordinator's socket admits only the worker keys it
// lists, and the sender watches its handshakes (link()), so that a worker whose key is
// refused can say so and stop instead of rendering unheard.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "protocol/curve.h"
#include "protocol/messages.h"

namespace synthfarm::protocol {

// What the security handshakes of a sender's connection to the coordinator came to, from
// ZeroMQ's socket monitor. kRefused, kMismatch and kFailed are final: ZeroMQ does not
// retry a connection whose handshake failed that way.
enum class LinkState {
  kWaiting,   // no handshake has completed yet: the coordinator is absent, or slow
  kUp,        // a handshake completed (with CURVE: the coordinator accepted this key)
  kRefused,   // the coordinator refused this sender's CURVE key
  kMismatch,  // CURVE on one side only, seen by this side
  kFailed,    // another handshake error (`detail`)
};

struct TelemetryLink {
  LinkState state = LinkState::kWaiting;
  // Handshakes the coordinator cut short (closed the connection) since the last one that
  // completed. A CURVE server does this to a client that encrypted its hello to another
  // server's key, and either side to the other when CURVE is on one side only and that
  // side notices first. ZeroMQ retries these every 100 ms, so they are counted, not final.
  uint64_t dropped_handshakes = 0;
  std::string detail;  // ZeroMQ's status or error code, for kRefused and kFailed
};

// Not thread-safe: one owner thread (ZeroMQ sockets are single-threaded), except link().
class TelemetrySender {
 public:
  // endpoint: "tcp://host:port". Connects lazily; never fails for an absent peer. With
  // `curve`, the socket is a CURVE client of the coordinator's key.
  static tl::expected<std::unique_ptr<TelemetrySender>, std::string> connect(
      const std::string& endpoint, const std::optional<CurveClientConfig>& curve = std::nullopt);
  virtual ~TelemetrySender() = default;
  // false when the message was dropped (peer absent and queue full).
  virtual bool send(const Telemetry& message) = 0;
  virtual uint64_t dropped() const = 0;
  // Thread-safe.
  virtual TelemetryLink link() const = 0;
};

// Not thread-safe: one owner thread, except rejected().
class TelemetryReceiver {
 public:
  // endpoint: "tcp://host:port"; port 0 is not supported, pick a free one. With `curve`,
  // the socket is a CURVE server that admits only the clients in its allow-list.
  static tl::expected<std::unique_ptr<TelemetryReceiver>, std::string> bind(
      const std::string& endpoint, const std::optional<CurveServerConfig>& curve = std::nullopt);
  virtual ~TelemetryReceiver() = default;
  // Waits up to `timeout` for one message; nullopt on timeout. Undecodable messages are
  // counted and skipped; a peer that sends a frame larger than kMaxTelemetryBytes is
  // disconnected by ZeroMQ (not counted).
  virtual std::optional<Telemetry> receive(std::chrono::milliseconds timeout) = 0;
  virtual uint64_t malformed() const = 0;
  // CURVE clients refused since the socket was bound (their key is not allowed).
  // Thread-safe.
  virtual uint64_t rejected() const = 0;
};

}  // namespace synthfarm::protocol
