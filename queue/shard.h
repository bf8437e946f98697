// One shard of one job as its lease holder names it. The queue hands these out with a
// claim; workers echo them in telemetry (protocol/messages.h), so the struct lives at the
// bottom, in queue/, and knows nothing else.
#pragma once

#include <cstdint>
#include <string>

namespace synthfarm::queue {

struct ShardRef {
  std::string job_id;
  uint64_t shard = 0;
  uint64_t token = 0;  // fencing token of the lease
  uint64_t first_sample = 0;
  uint64_t sample_count = 0;
  friend bool operator==(const ShardRef&, const ShardRef&) = default;
};

}  // namespace synthfarm::queue
