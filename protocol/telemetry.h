// Telemetry transport: workers PUSH Cap'n Proto messages to a coordinator's PULL socket
// over ZeroMQ. This is the fast path for live progress only; losing a message never
// loses data (Redis is the truth), so sends never block the render loop: a full queue
// drops the message and counts it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "protocol/messages.h"

namespace synthfarm::protocol {

// Not thread-safe: one owner thread (ZeroMQ sockets are single-threaded).
class TelemetrySender {
 public:
  // endpoint: "tcp://host:port". Connects lazily; never fails for an absent peer.
  static tl::expected<std::unique_ptr<TelemetrySender>, std::string> connect(
      const std::string& endpoint);
  virtual ~TelemetrySender() = default;
  // false when the message was dropped (peer absent and queue full).
  virtual bool send(const Telemetry& message) = 0;
  virtual uint64_t dropped() const = 0;
};

// Not thread-safe: one owner thread.
class TelemetryReceiver {
 public:
  // endpoint: "tcp://host:port"; port 0 is not supported, pick a free one.
  static tl::expected<std::unique_ptr<TelemetryReceiver>, std::string> bind(
      const std::string& endpoint);
  virtual ~TelemetryReceiver() = default;
  // Waits up to `timeout` for one message; nullopt on timeout. Undecodable messages are
  // counted and skipped.
  virtual std::optional<Telemetry> receive(std::chrono::milliseconds timeout) = 0;
  virtual uint64_t malformed() const = 0;
};

}  // namespace synthfarm::protocol
