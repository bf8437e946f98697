// Read-only views of the queue for the API and the dashboard: every shard of a job with
// its state and attempts (the job page's shard grid), one shard in full (with the failing
// worker's log tail), the farm's dead letters newest first, and blocklisted workers with
// why they were blocklisted. Nothing here changes Redis, and nothing reads the whole
// keyspace: each call reads the keys of the shards, jobs or dead letters it was asked for,
// in one pipelined round trip where it reads many.
//
// Not thread-safe (it borrows a RedisClient, which is single-threaded).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "queue/keys.h"
#include "queue/redis.h"

namespace synthfarm::queue {

// A shard as its hash holds it. A shard never claimed has no hash yet: it is `pending`
// with 0 attempts.
struct ShardStatus {
  uint64_t shard = 0;
  std::string state;  // pending, leased, done, dead (whatever the hash says)
  int64_t attempts = 0;
  std::string worker;       // leased: the lease holder
  int64_t deadline_ms = 0;  // leased: when the lease runs out (Redis TIME)
  int64_t claimed_ms = 0;   // the latest claim
  int64_t done_ms = 0;      // done: when
  int64_t dead_ms = 0;      // dead: when it was dead-lettered (0 before this was recorded)
  std::string last_error;   // the latest failure (kept after a later success)
  std::string log_tail;     // the failing worker's last log lines; only from shard()
};

// A worker blocklisted for a job, and why: the failure that made it the third of this job
// (recorded by fail.lua since it began to; blocklists from before have no reason).
struct BlocklistEntry {
  std::string job_id;
  std::string worker;
  int64_t failures = 0;  // failures of this job's shards by this worker
  bool reason_known = false;
  uint64_t shard = 0;  // with reason_known: the shard whose failure blocklisted it
  std::string error;
  int64_t at_ms = 0;
};

struct DeadLetter {
  std::string job_id;
  ShardStatus shard;  // with its log tail
};

class QueueView {
 public:
  explicit QueueView(RedisClient& redis, keys::Keys keys = {})
      : redis_(redis), keys_(std::move(keys)) {}

  // Shards [first, first + count) of a job with `shards_total` shards (the range is cut
  // to it), without log tails: one pipelined HMGET per shard.
  RedisResult<std::vector<ShardStatus>> shards(const std::string& job_id, uint64_t first,
                                               uint64_t count, uint64_t shards_total);
  // One shard in full, log tail included.
  RedisResult<ShardStatus> shard(const std::string& job_id, uint64_t shard);
  // The newest `limit` dead letters of the whole farm, newest first (the dead-letter list
  // is pushed at its head), with their shards' hashes; `more` says whether older ones exist.
  struct DeadLetters {
    std::vector<DeadLetter> newest;
    bool more = false;
  };
  RedisResult<DeadLetters> dead_letters(int limit);
  // The blocklisted workers of each job in `job_ids`, with their reasons, in one round trip.
  RedisResult<std::vector<BlocklistEntry>> blocklists(const std::vector<std::string>& job_ids);

 private:
  RedisClient& redis_;
  keys::Keys keys_;
};

}  // namespace synthfarm::queue
