// What one token may submit per clock hour: jobs and samples, counted in Redis so that
// every coordinator of the farm enforces one budget.
//   <p>:auth:quota:<name>:<hour>  HASH {jobs, samples}, expires an hour after its hour ends
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <tl/expected.hpp>

#include "queue/redis.h"

namespace synthfarm::auth {

struct QuotaLimits {
  int64_t jobs_per_hour = 0;     // 0: no limit
  int64_t samples_per_hour = 0;  // 0: no limit
};

struct QuotaRefusal {
  std::string message;        // which limit, and what is used of it
  int64_t retry_after_s = 0;  // until the next hour starts
};

// Takes one job of `samples` from the budget of token `name`, or refuses without taking
// anything. Not thread-safe (it borrows one RedisClient); atomic in Redis.
tl::expected<std::optional<QuotaRefusal>, std::string> take_quota(
    queue::RedisClient& redis, const std::string& prefix, const std::string& name, int64_t samples,
    const QuotaLimits& limits, int64_t now_ms);

}  // namespace synthfarm::auth
