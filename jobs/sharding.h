// How a job's samples are cut into shards: shard k holds samples
// [k * shard_size, min((k + 1) * shard_size, samples)); the last shard may be short.
#pragma once

#include <cstdint>

namespace synthfarm::jobs {

struct SampleRange {
  uint64_t begin = 0;  // first sample index
  uint64_t end = 0;    // one past the last
  uint64_t size() const { return end - begin; }
  friend bool operator==(const SampleRange&, const SampleRange&) = default;
};

// Number of shards; 0 when there are no samples. shard_size must be > 0.
constexpr uint64_t shard_count(uint64_t samples, uint64_t shard_size) {
  return (samples + shard_size - 1) / shard_size;
}

// The samples of shard `shard`; an empty range past the end.
constexpr SampleRange shard_range(uint64_t samples, uint64_t shard_size, uint64_t shard) {
  uint64_t begin = shard * shard_size;
  if (begin >= samples) return {samples, samples};
  uint64_t end = begin + shard_size < samples ? begin + shard_size : samples;
  return {begin, end};
}

}  // namespace synthfarm::jobs
