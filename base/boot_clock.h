// Time for deadlines that must hold while this process is not running: CLOCK_BOOTTIME.
//
// A lease deadline is a promise about elapsed time. steady_clock (CLOCK_MONOTONIC) stops
// while the machine is suspended, and the wall clock can be stepped by NTP or an operator;
// either would let a worker believe it still holds a lease it lost long ago. CLOCK_BOOTTIME
// counts every nanosecond since boot, suspended or stopped (SIGSTOP) included, and is never
// stepped. Only the worker's lease fence (worker/lease_fence.h) reads it; wall times for
// records and telemetry come from Clock (clock.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace synthfarm {

// Thread-safe: boot_ms() may be called from any thread.
class BootClock {
 public:
  virtual ~BootClock() = default;
  // Milliseconds since boot, suspend and stopped time included; never goes back.
  virtual int64_t boot_ms() const = 0;
};

// CLOCK_BOOTTIME of this machine.
std::shared_ptr<const BootClock> system_boot_clock();

// A boot clock that stands still until a test moves it (forward only, as the real one).
class ManualBootClock final : public BootClock {
 public:
  explicit ManualBootClock(int64_t now_ms = 0) : now_ms_(now_ms) {}
  int64_t boot_ms() const override { return now_ms_.load(); }
  void advance(int64_t delta_ms) { now_ms_.fetch_add(delta_ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace synthfarm
