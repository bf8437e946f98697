#include "coordinator/shared_snapshot.h"

#include <utility>

namespace synthfarm::coordinator {

SharedSnapshot::SharedSnapshot(std::chrono::milliseconds max_age, Build build)
    : max_age_(max_age), build_(std::move(build)) {}

std::shared_ptr<const std::string> SharedSnapshot::get() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (frame_ && SteadyClock::now() - built_at_ < max_age_) return frame_;
    if (!building_) break;
    built_.wait(lock);  // another caller is building it
  }
  building_ = true;
  const auto started = SteadyClock::now();
  lock.unlock();
  std::shared_ptr<const std::string> fresh;
  try {
    fresh = std::make_shared<const std::string>(build_());
  } catch (...) {
    lock.lock();
    building_ = false;
    built_.notify_all();  // a waiter builds it again
    throw;
  }
  lock.lock();
  frame_ = std::move(fresh);
  built_at_ = started;  // its data is as old as the start of the build
  building_ = false;
  ++builds_;
  built_.notify_all();
  return frame_;
}

uint64_t SharedSnapshot::builds() const {
  std::lock_guard lock(mutex_);
  return builds_;
}

}  // namespace synthfarm::coordinator
