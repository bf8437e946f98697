// The shard queue: job records, shard leases with fencing tokens, completion, failure
// and recovery, as atomic Lua scripts over Redis. Coordinators and workers both use it;
// Redis holds every fact needed to resume after any process dies.
//
// Delivery is at least once, the effect exactly once: a shard's outputs are
// deterministic, and only the holder of the current fencing token can complete it.
// Lease deadlines come from Redis TIME, never from a worker's clock.
// docs/queue.md documents every key and state transition.
//
// Not thread-safe (it borrows a RedisClient, which is single-threaded).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jobs/spec.h"
#include "protocol/keys.h"
#include "protocol/messages.h"
#include "protocol/redis.h"

namespace synthfarm::protocol {

// Job states: queued -> running -> finalizing -> done, or -> failed.
struct JobRecord {
  std::string id;
  std::string name;
  std::string state;
  int priority = 0;
  int64_t samples = 0;
  int64_t shard_size = 0;
  int64_t shards_total = 0;
  int64_t shards_done = 0;
  int64_t shards_dead = 0;
  int64_t samples_done = 0;  // samples of completed shards
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  int max_attempts = 3;
  std::string storage;
  std::string error;
};

struct Lease {
  ShardRef shard;
  int64_t deadline_ms = 0;  // Redis TIME
};

enum class FailOutcome { kRetry, kDead, kStale };

class Queue {
 public:
  explicit Queue(RedisClient& redis, keys::Keys keys = {}) : redis_(redis), keys_(std::move(keys)) {}

  const keys::Keys& keys() const { return keys_; }

  // Stores the job and queues all its shards in one transaction. `spec.output.storage`
  // must already be resolved. Fails if the id exists.
  RedisResult<void> submit(const std::string& job_id, const jobs::JobSpec& spec, int64_t now_ms);

  // Takes the next pending shard, or nullopt when the queue is empty.
  RedisResult<std::optional<Lease>> claim(const std::string& worker_id, int64_t lease_ms);
  // New deadline, or nullopt if the lease is no longer ours (token moved on).
  RedisResult<std::optional<int64_t>> extend(const ShardRef& shard, int64_t lease_ms);
  // true: accepted. false: stale token, the shard belongs to someone else now.
  RedisResult<bool> complete(const ShardRef& shard);
  // Gives the shard back without counting an attempt (graceful stop). false if stale.
  RedisResult<bool> release(const ShardRef& shard);
  RedisResult<FailOutcome> fail(const ShardRef& shard, const std::string& error);
  // Puts shards whose leases expired back at the head of the queue; returns how many.
  RedisResult<int64_t> reap_expired(int limit = 1000);

  RedisResult<std::optional<std::string>> job_spec_bytes(const std::string& job_id);
  RedisResult<std::optional<JobRecord>> job(const std::string& job_id);
  // Newest first.
  RedisResult<std::vector<JobRecord>> jobs(int limit = 200);
  // Jobs whose shards are all done and that wait for their dataset manifest.
  RedisResult<std::vector<std::string>> finalizable();
  // Marks a finalizing job done (idempotent) and takes it off the finalize list.
  RedisResult<void> mark_done(const std::string& job_id);
  RedisResult<void> mark_failed(const std::string& job_id, const std::string& error);

  RedisResult<int64_t> pending_shards();
  RedisResult<int64_t> leased_shards();
  RedisResult<int64_t> samples_rendered();

 private:
  RedisClient& redis_;
  keys::Keys keys_;
};

JobRecord job_record_from_hash(const std::string& id, const std::map<std::string, std::string>& fields);

}  // namespace synthfarm::protocol
