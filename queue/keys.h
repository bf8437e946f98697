// Every Redis key synthfarm uses, in one place. docs/queue.md describes each key, its
// type and who writes it; keep the two in step. All keys share a prefix (default "sf")
// so several farms can share one Redis. The worker's Redis user may touch only the
// families its scripts use, listed by pattern in ops/redis.acl: a new family a worker
// script touches needs its pattern there (docs/security.md).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace synthfarm::queue::keys {

// What a job's shards ask of a worker (the spec's task). Each has its own pending ZSET.
inline constexpr std::array<std::string_view, 3> kTasks = {"render", "fit_people", "fuse_depth"};

// Shard queue entries and lease members are "<job id>/<shard>".
inline std::string shard_member(std::string_view job_id, uint64_t shard) {
  return std::string(job_id) + "/" + std::to_string(shard);
}

struct Keys {
  std::string prefix = "sf";

  std::string jobs() const { return prefix + ":jobs"; }                  // ZSET id -> created_ms
  std::string job(std::string_view id) const { return prefix + ":job:" + std::string(id); }  // HASH
  std::string job_spec(std::string_view id) const { return job(id) + ":spec"; }  // STRING capnp
  std::string shard(std::string_view id, uint64_t n) const {             // HASH
    return job(id) + ":shard:" + std::to_string(n);
  }
  std::string pending() const { return prefix + ":queue:pending"; }      // ZSET member -> priority/FIFO score (render)
  std::string pending(std::string_view task) const {                    // the same, for another task
    return task == "render" ? pending() : pending() + ":" + std::string(task);
  }
  std::string delayed() const { return prefix + ":queue:delayed"; }      // ZSET member -> retry time ms
  std::string leases() const { return prefix + ":queue:leases"; }        // ZSET member -> deadline_ms
  std::string dead() const { return prefix + ":queue:dead"; }            // LIST of members
  std::string finalize() const { return prefix + ":queue:finalize"; }    // LIST of job ids
  std::string token_seq() const { return prefix + ":seq:token"; }        // STRING counter
  std::string samples_rendered() const { return prefix + ":stats:samples_rendered"; }  // counter
  std::string jobs_by_state() const { return prefix + ":stats:jobs_by_state"; }        // HASH state -> jobs
};

}  // namespace synthfarm::queue::keys
