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

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/keys.h"
#include "queue/redis.h"
#include "queue/shard.h"

namespace synthfarm::queue {

// Job states: queued -> running -> finalizing -> done, or failed (a shard dead-lettered:
// the other shards still finish and the dataset lists what was completed) or partial (the
// same, for a job that accepts dead shards); paused; cancelled.
inline constexpr std::array<std::string_view, 8> kJobStates = {
    "queued", "running", "paused", "finalizing", "done", "partial", "failed", "cancelled"};

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
  int64_t renders = 0;       // sample renders, repeats included
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  int max_attempts = 3;
  std::string storage;
  std::string error;
  std::string owner;  // the name of the API token that submitted the job ("" before tokens)
  std::string task = "render";  // what its shards ask of a worker (kTasks)
  double residual_sum_px = 0;   // fit_people: the completed units' mean residuals, summed
  int64_t residual_units = 0;   // and how many
};

// What the queue stores for a new job: the fields the scripts read (priority, shard
// count, attempts, what to do with dead shards, where outputs go) and the canonical spec
// as JSON, the one stored form of the spec, which workers parse with the coordinator's
// parser. The queue never looks inside the spec.
struct JobSubmission {
  std::string name;
  int priority = 0;
  int64_t samples = 0;
  int64_t shard_size = 0;
  int64_t shards = 0;
  int max_attempts = 3;
  std::string on_dead_shards = "fail";  // "fail" or "partial"
  std::string storage;                  // resolved storage URI of the outputs
  std::string owner;                    // who submitted it: the API token's name
  std::string task = "render";          // only workers that can run it claim its shards
  std::string spec_json;
};

// Jobs per state, from the counters every script that changes a job's state keeps in step
// (keys::Keys::jobs_by_state): what /metrics and the dashboard's totals need, read in one
// round trip however many jobs Redis holds.
struct JobCounts {
  std::map<std::string, int64_t> by_state;  // every state of kJobStates (0 when none), and
                                            // any other the counters hold
  int64_t total() const;
};

// A fit_people shard's units' mean reprojection errors, summed (pixels), and how many.
struct ShardResiduals {
  double sum_px = 0;
  int64_t units = 0;
};

struct Lease {
  ShardRef shard;
  int64_t deadline_ms = 0;  // Redis TIME
};

enum class FailOutcome { kRetry, kDead, kStale };

struct ReapResult {
  int64_t requeued = 0;  // back at the head of the queue
  int64_t dead = 0;      // out of attempts: dead-lettered
};

enum class JobAction { kPause, kResume, kCancel, kRetryDead, kDelete };

struct ControlOutcome {
  bool found = false;    // the job exists
  bool changed = false;  // false: the action does not apply in the job's state
  int64_t count = 0;     // kRetryDead: shards put back
};

struct DeadShard {
  uint64_t shard = 0;
  int64_t attempts = 0;
  std::string last_error;
  std::string log_tail;  // the failing worker's last log lines
};

class Queue {
 public:
  explicit Queue(RedisClient& redis, keys::Keys keys = {}) : redis_(redis), keys_(std::move(keys)) {}

  const keys::Keys& keys() const { return keys_; }

  // Stores the job and queues all its shards in one transaction. Fails if the id exists.
  RedisResult<void> submit(const std::string& job_id, const JobSubmission& job, int64_t now_ms);

  // Takes the next pending shard of a job whose task is one of `tasks` (keys::kTasks;
  // render only when empty), or nullopt when there is none. Shards of other tasks stay
  // queued in order.
  RedisResult<std::optional<Lease>> claim(const std::string& worker_id, int64_t lease_ms,
                                          const std::vector<std::string>& tasks = {});
  // New deadline, or nullopt if the lease is no longer ours (token moved on).
  RedisResult<std::optional<int64_t>> extend(const ShardRef& shard, int64_t lease_ms);
  // true: accepted. false: stale token, the shard belongs to someone else now. `renders`:
  // the sample renders this lease stored, added to the job's `renders` in the same script
  // (accepted or not; once per token, so a retried call adds nothing more).
  // `residuals`: a fit_people shard's units' mean reprojection errors, added to the job's
  // residual_sum_px and residual_units when the completion is accepted.
  RedisResult<bool> complete(const ShardRef& shard, int64_t renders = 0, const ShardResiduals& residuals = {});
  // Gives the shard back without counting an attempt (graceful stop). false if stale.
  RedisResult<bool> release(const ShardRef& shard);
  // Counts an attempt; retried after a backoff (base * 2^(attempt-1), at most 60 s) until
  // the job's max_attempts, then dead-lettered. A worker failing 3 shards of one job is
  // blocklisted for that job.
  // `log_tail`: the worker's last log lines, kept with the shard for the dead letter.
  RedisResult<FailOutcome> fail(const ShardRef& shard, const std::string& error, const std::string& worker_id,
                                const std::string& log_tail = "");
  // Puts shards whose leases expired back at the head of the queue, or dead-letters those
  // out of attempts.
  RedisResult<ReapResult> reap_expired(int limit = 1000);

  // Pause (claims skip the job; shards in flight finish), resume, cancel (workers drop
  // the job's shards at their next lease renewal), retry dead shards, delete.
  RedisResult<ControlOutcome> control(JobAction action, const std::string& job_id);
  // The sample renders a lease stored that ends without a completion (failed, given back,
  // lost), for the job's `renders` counter (stored renders, repeats included). Once per
  // token: safe to retry. Returns the renders added (0: added before, or the job is gone).
  RedisResult<int64_t> add_renders(const ShardRef& shard, int64_t renders);
  RedisResult<std::vector<DeadShard>> dead_shards(const std::string& job_id);
  RedisResult<std::vector<std::string>> blocklist(const std::string& job_id);
  void set_retry_backoff_ms(int64_t ms) { retry_backoff_ms_ = ms; }

  // The canonical spec as JSON, as stored at submission: what workers render from, what
  // the API shows and what the dataset manifest records.
  RedisResult<std::optional<std::string>> job_spec_json(const std::string& job_id);
  RedisResult<std::optional<JobRecord>> job(const std::string& job_id);
  // Newest first. Reads `limit` job hashes: for lists, never for totals (job_counts()).
  RedisResult<std::vector<JobRecord>> jobs(int limit = 200);
  // Jobs per state in one round trip, O(states). On a Redis from before the counters the
  // first call (or the first state change) counts the job hashes once.
  RedisResult<JobCounts> job_counts();
  // Recounts the counters from the job hashes, O(jobs), atomically: in place of what they
  // held, so neither a transition in between nor a second run counts a job twice.
  // `only_if_missing`: only when there are no counters yet (a coordinator at start, on a
  // Redis from before them). The jobs counted, or nullopt when the counters were there.
  RedisResult<std::optional<int64_t>> rebuild_job_counts(bool only_if_missing = false);
  // Jobs whose shards are all done and that wait for their dataset manifest.
  RedisResult<std::vector<std::string>> finalizable();
  // Before writing a job's dataset: with several coordinators on one Redis, one finalizes a
  // job at a time. Takes or renews the job's finalizer lock for `owner` (for `ttl_ms`) and
  // returns the job's finalized time, fixed at the first claim so that every attempt writes
  // the same manifest bytes; nullopt while another owner holds the lock, or while any shard
  // of the job is leased. mark_done and mark_failed drop the lock.
  RedisResult<std::optional<int64_t>> finalize_claim(const std::string& job_id, const std::string& owner,
                                                     int64_t ttl_ms);
  // Marks a finalizing job done (idempotent) and takes it off the finalize list.
  RedisResult<void> mark_done(const std::string& job_id);
  RedisResult<void> mark_failed(const std::string& job_id, const std::string& error);

  // Shards waiting, every task's queue together.
  RedisResult<int64_t> pending_shards();
  RedisResult<int64_t> leased_shards();
  RedisResult<int64_t> samples_rendered();

 private:
  RedisClient& redis_;
  keys::Keys keys_;
  int64_t retry_backoff_ms_ = 1000;
};

JobRecord job_record_from_hash(const std::string& id, const std::map<std::string, std::string>& fields);

}  // namespace synthfarm::queue
