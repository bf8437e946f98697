// The dashboard's live snapshot (GET /api/events), built once and shared by every open
// stream for up to `max_age`: with N dashboards open the coordinator reads the job list
// from Redis and serialises every job and worker once per max_age, not N times a second.
// Every subscriber gets the same bytes, which is right only because a snapshot holds
// nothing that depends on who asks (access is checked when the stream opens).
//
// Thread-safe: the first caller that finds the snapshot stale builds a new one while the
// others that need it wait; the lock is not held while building.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace synthfarm::coordinator {

class SharedSnapshot {
 public:
  using Build = std::function<std::string()>;
  SharedSnapshot(std::chrono::milliseconds max_age, Build build);

  // The newest snapshot, built now if the last one is older than max_age. A build that
  // throws leaves the last snapshot as it was and throws to the caller that ran it.
  std::shared_ptr<const std::string> get();
  uint64_t builds() const;

 private:
  using SteadyClock = std::chrono::steady_clock;
  const std::chrono::milliseconds max_age_;
  const Build build_;
  mutable std::mutex mutex_;
  std::condition_variable built_;
  bool building_ = false;                     // GUARDED_BY(mutex_)
  SteadyClock::time_point built_at_;          // GUARDED_BY(mutex_): when the build began
  std::shared_ptr<const std::string> frame_;  // GUARDED_BY(mutex_)
  uint64_t builds_ = 0;                       // GUARDED_BY(mutex_)
};

}  // namespace synthfarm::coordinator
