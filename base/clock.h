// Wall-clock time, behind an interface so that code which stamps times (job records,
// telemetry, manifests, rates) can be given a clock a test sets by hand. main() builds
// the system clock and passes it down; nothing reads the system time behind its back.
//
// Lease deadlines are not this clock's business: they come from Redis TIME (queue/).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace synthfarm {

// Thread-safe: wall_ms() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t wall_ms() const = 0;
};

// The machine's real-time clock.
std::shared_ptr<const Clock> system_clock();

// A clock that stands still until a test moves it.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t wall_ms() const override { return now_ms_.load(); }
  void set(int64_t now_ms) { now_ms_.store(now_ms); }
  void advance(int64_t delta_ms) { now_ms_.fetch_add(delta_ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace synthfarm
