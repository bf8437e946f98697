#include "auth/quota.h"

#include <fmt/format.h>

namespace synthfarm::auth {
namespace {

// KEYS[1] the hour's hash; ARGV: samples, max jobs, max samples (0: none), ttl seconds.
// Returns 0 when taken, 1 when the jobs limit refuses, 2 when the samples limit does.
constexpr const char* kTakeScript = R"lua(
local jobs = tonumber(redis.call('HGET', KEYS[1], 'jobs') or '0')
local samples = tonumber(redis.call('HGET', KEYS[1], 'samples') or '0')
local n, max_jobs, max_samples = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if max_jobs > 0 and jobs + 1 > max_jobs then return {1, jobs, samples} end
if max_samples > 0 and samples + n > max_samples then return {2, jobs, samples} end
redis.call('HINCRBY', KEYS[1], 'jobs', 1)
redis.call('HINCRBY', KEYS[1], 'samples', n)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {0, jobs + 1, samples + n}
)lua";

}  // namespace

tl::expected<std::optional<QuotaRefusal>, std::string> take_quota(
    queue::RedisClient& redis, const std::string& prefix, const std::string& name, int64_t samples,
    const QuotaLimits& limits, int64_t now_ms) {
  if (limits.jobs_per_hour <= 0 && limits.samples_per_hour <= 0)
    return std::optional<QuotaRefusal>();
  constexpr int64_t kHourMs = 3600 * 1000;
  int64_t hour = now_ms / kHourMs;
  int64_t retry_after_s = ((hour + 1) * kHourMs - now_ms + 999) / 1000;
  auto reply =
      redis.eval(kTakeScript, {fmt::format("{}:auth:quota:{}:{}", prefix, name, hour)},
                 {std::to_string(samples), std::to_string(limits.jobs_per_hour),
                  std::to_string(limits.samples_per_hour), std::to_string(retry_after_s + 3600)});
  if (!reply) return tl::unexpected("redis: " + reply.error().message);
  if (reply->elements.size() != 3)
    return tl::unexpected(std::string("redis: unexpected quota reply"));
  int64_t verdict = reply->elements[0].as_int();
  if (verdict == 0) return std::optional<QuotaRefusal>();
  std::string message =
      verdict == 1
          ? fmt::format("token '{}' submitted {} jobs this hour, the limit is {}", name,
                        reply->elements[1].as_int(), limits.jobs_per_hour)
          : fmt::format(
                "token '{}' submitted {} samples this hour; {} more would pass the limit of {}",
                name, reply->elements[2].as_int(), samples, limits.samples_per_hour);
  return std::optional<QuotaRefusal>(QuotaRefusal{message, retry_after_s});
}

}  // namespace synthfarm::auth
