// The live view shared by several coordinators of one farm. Each worker's telemetry
// reaches only the coordinator its ZeroMQ connection landed on (behind a Kubernetes
// Service, any replica), so on its own each coordinator would show part of the farm. With
// the relay on (--shared-view), every coordinator appends what it receives to one capped
// Redis stream, `<prefix>:telemetry`, and builds its view from that stream, its own
// messages included: every replica shows every worker and the same throughput. Redis stays
// the only shared state; losing the stream loses live telemetry only, never data.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "base/clock.h"
#include "coordinator/farm_view.h"
#include "protocol/messages.h"
#include "queue/redis.h"

namespace synthfarm::coordinator {

class TelemetryRelay {
 public:
  // Entries kept in the stream (approximately: MAXLEN ~): a few seconds of a large farm,
  // enough for a reader that missed one poll.
  static constexpr int kStreamLength = 10000;

  TelemetryRelay(const queue::RedisEndpoint& endpoint, std::string stream_key);

  // Appends the messages in one round trip. Called from one thread only (the receiver's).
  queue::RedisResult<void> publish(const std::vector<protocol::Telemetry>& messages);

  // The messages appended since the last read (the first read starts at the stream's end),
  // waiting up to `wait` for one. Called from one thread only (the reader's). Entries that
  // do not decode are skipped and counted.
  queue::RedisResult<std::vector<protocol::Telemetry>> read(std::chrono::milliseconds wait);
  uint64_t undecodable() const { return undecodable_; }

  // On the receiver's thread: publishes `batch`, or, while Redis cannot take it, applies it
  // to `view` directly, so this coordinator still shows its own workers (said once when
  // it starts and once when it ends).
  void publish_or_apply(const std::vector<protocol::Telemetry>& batch, FarmView& view, int64_t now_ms);
  // On a thread of its own until `stop`: every coordinator's telemetry into `view`.
  void apply_loop(FarmView& view, const Clock& clock, const std::atomic<bool>& stop);

 private:
  std::string key_;
  std::unique_ptr<queue::RedisClient> writer_, reader_;
  std::string last_id_ = "$";
  uint64_t undecodable_ = 0;
  bool publishing_ = true;
};

}  // namespace synthfarm::coordinator
