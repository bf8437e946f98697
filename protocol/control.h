// Job control transport: the coordinator PUBlishes JobControl messages (cancel, delete)
// on a ZeroMQ socket and every worker SUBscribes, so a cancelled job's shards are dropped
// at once, mid-sample. This is a fast path only: a message lost (worker not yet
// connected, coordinator restarting) costs at most one lease renewal interval, because
// the renewal of a cancelled job's lease is refused by Redis, the source of truth.
// With CURVE (protocol/curve.h) the messages are encrypted and only workers whose key the
// coordinator lists can subscribe.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "protocol/curve.h"
#include "protocol/messages.h"

namespace synthfarm::protocol {

// Thread-safe: publish() may be called from any thread (HTTP handlers).
class ControlPublisher {
 public:
  // endpoint: "tcp://host:port". With `curve`, the socket is a CURVE server that admits
  // only the subscribers in its allow-list.
  static tl::expected<std::unique_ptr<ControlPublisher>, std::string> bind(
      const std::string& endpoint, const std::optional<CurveServerConfig>& curve = std::nullopt);
  virtual ~ControlPublisher() = default;
  virtual void publish(const JobControl& message) = 0;
};

// Not thread-safe: one owner thread.
class ControlSubscriber {
 public:
  // endpoints: one per coordinator ("tcp://host:port"); connects lazily, never fails for
  // an absent peer. With `curve`, a CURVE client of every coordinator (they share one key).
  static tl::expected<std::unique_ptr<ControlSubscriber>, std::string> connect(
      const std::vector<std::string>& endpoints,
      const std::optional<CurveClientConfig>& curve = std::nullopt);
  virtual ~ControlSubscriber() = default;
  // Waits up to `timeout` for one message; nullopt on timeout. Undecodable messages are
  // skipped.
  virtual std::optional<JobControl> receive(std::chrono::milliseconds timeout) = 0;
};

}  // namespace synthfarm::protocol
