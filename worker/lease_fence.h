// LeaseFence: the worker's own knowledge of when its lease on one shard ends, and the one
// check every write of that shard goes through.
//
// Redis decides who holds a shard (the fencing token), but a worker learns it lost a lease
// only when it next hears from Redis, and a worker that is paused (SIGSTOP, a stall, a
// suspended VM) or cut off from Redis hears nothing. So the worker keeps a deadline of its
// own: the moment it *sent* the claim, or the last renewal that succeeded, plus the lease
// length, minus a safety margin (margin_ms()). The moment of sending is earlier than the
// moment Redis set its deadline, so this deadline falls before Redis's, and before the
// reaper can give the shard to anyone else. An unanswered or failed renewal never extends it.
// Time is CLOCK_BOOTTIME (base/boot_clock.h): it keeps counting while the process is
// stopped or the machine suspended, and the wall clock is never read.
//
// check() is the only test of the deadline: the render loop calls it between samples and
// the storage backends call it (through guard()) immediately before each commit step, so a
// write whose deadline passed is not made. Once it has refused, it refuses for good: a
// renewal answered after the deadline does not revive the shard (the worker drops it).
//
// Thread-safe: renewed() from the heartbeat thread, check() from the render loop, the
// uploader threads and the heartbeat thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/boot_clock.h"
#include "storage/object_store.h"

namespace synthfarm::worker {

class LeaseFence {
 public:
  // The margin kept between the worker's deadline and Redis's: max(1 s, 10% of the lease),
  // but at most a third of the lease, so that with renewals every lease/3 (or more often)
  // one late renewal does not end a short lease (test leases of a few seconds).
  static int64_t margin_ms(int64_t lease_ms);

  // A lease of `lease_ms` whose claim was sent at `sent_boot_ms` (clock->boot_ms()).
  LeaseFence(std::shared_ptr<const BootClock> clock, int64_t lease_ms, int64_t sent_boot_ms);

  // A renewal sent at `sent_boot_ms` was accepted: the deadline moves to sent + lease -
  // margin, unless the fence has already refused (or the deadline has already passed).
  void renewed(int64_t sent_boot_ms);
  // nullopt while the lease holds; otherwise why not (the deadline and how late it is).
  std::optional<std::string> check() const;
  // check() as a storage commit guard, for PutOptions. The fence must outlive its uses.
  storage::CommitGuard guard() const;
  int64_t deadline_boot_ms() const;

 private:
  const std::shared_ptr<const BootClock> clock_;
  const int64_t lease_ms_;
  mutable std::mutex mutex_;
  int64_t deadline_ms_;          // GUARDED_BY(mutex_), boot clock
  mutable bool refused_ = false;  // GUARDED_BY(mutex_)
};

}  // namespace synthfarm::worker
