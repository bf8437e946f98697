// The API's views of shards and failures, read through queue::QueueView:
//   GET /api/jobs/{id}/shards[?from=&count=]  a page of a job's shards (the shard grid)
//   GET /api/jobs/{id}/shards/{n}             one shard in full, with its log tail
//   GET /api/failures[?limit=]                the farm's dead letters, newest first, and
//                                             the blocklisted workers with their reasons
// and the blocklist details of GET /api/jobs/{id}. Free functions: the coordinator hands
// each a Redis connection and the time; they answer the request. Internal to coordinator/.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "queue/keys.h"
#include "queue/redis.h"

namespace synthfarm::coordinator {

// Shards a page of GET /api/jobs/{id}/shards holds at most (and by default): with one
// character of state and one number of attempts per shard, about 30 KB, and details only
// for shards claimed and not done, at most kMaxShardDetails of them.
inline constexpr uint64_t kShardPage = 10000;
inline constexpr size_t kMaxShardDetails = 1000;
// Dead letters GET /api/failures returns by default and at most (each with a log tail of
// up to 30 lines).
inline constexpr int kFailuresDefault = 50;
inline constexpr int kFailuresMax = 200;

void get_job_shards(queue::RedisClient& redis, const queue::keys::Keys& keys,
                    const std::string& job_id, const httplib::Request& req, httplib::Response& res,
                    int64_t now_ms);
void get_job_shard(queue::RedisClient& redis, const queue::keys::Keys& keys,
                   const std::string& job_id, const std::string& shard, httplib::Response& res,
                   int64_t now_ms);
void get_failures(queue::RedisClient& redis, const queue::keys::Keys& keys,
                  const httplib::Request& req, httplib::Response& res, int64_t now_ms);
// The job's blocklisted workers with why ([] when Redis does not answer): GET /api/jobs/{id}'s
// "blocklist".
nlohmann::json blocklist_json(queue::RedisClient& redis, const queue::keys::Keys& keys,
                              const std::string& job_id);

}  // namespace synthfarm::coordinator
