#include "worker/lease_fence.h"

#include <fmt/format.h>

#include <algorithm>

namespace synthfarm::worker {

int64_t LeaseFence::margin_ms(int64_t lease_ms) {
  return std::min(std::max<int64_t>(1000, lease_ms / 10), lease_ms / 3);
}

LeaseFence::LeaseFence(std::shared_ptr<const BootClock> clock, int64_t lease_ms, int64_t sent_boot_ms)
    : clock_(std::move(clock)), lease_ms_(lease_ms), deadline_ms_(sent_boot_ms + lease_ms - margin_ms(lease_ms)) {}

void LeaseFence::renewed(int64_t sent_boot_ms) {
  const int64_t now = clock_->boot_ms();
  std::lock_guard lock(mutex_);
  if (refused_ || now >= deadline_ms_) return;  // too late: the lease may be someone else's
  deadline_ms_ = std::max(deadline_ms_, sent_boot_ms + lease_ms_ - margin_ms(lease_ms_));
}

std::optional<std::string> LeaseFence::check() const {
  const int64_t now = clock_->boot_ms();
  std::lock_guard lock(mutex_);
  if (!refused_ && now < deadline_ms_) return std::nullopt;
  refused_ = true;
  return fmt::format("the shard's lease ended {} ms ago on this worker's clock (no renewal succeeded in time)",
                     now - deadline_ms_);
}

storage::CommitGuard LeaseFence::guard() const {
  return [this] { return check(); };
}

int64_t LeaseFence::deadline_boot_ms() const {
  std::lock_guard lock(mutex_);
  return deadline_ms_;
}

}  // namespace synthfarm::worker
