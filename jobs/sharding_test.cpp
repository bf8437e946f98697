// Tests for the shard arithmetic in jobs/sharding.h.
#include "jobs/sharding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace synthfarm::jobs {
namespace {

TEST(Sharding, Counts) {
  EXPECT_EQ(shard_count(0, 50), 0u);
  EXPECT_EQ(shard_count(1, 50), 1u);
  EXPECT_EQ(shard_count(49, 50), 1u);
  EXPECT_EQ(shard_count(50, 50), 1u);
  EXPECT_EQ(shard_count(51, 50), 2u);
  EXPECT_EQ(shard_count(10000, 50), 200u);
  EXPECT_EQ(shard_count(10001, 50), 201u);
  EXPECT_EQ(shard_count(7, 1), 7u);
  EXPECT_EQ(shard_count(100000000, 1), 100000000u);
  EXPECT_EQ(shard_count(100000000, 100000), 1000u);
  static_assert(shard_count(105, 50) == 3);
}

TEST(Sharding, LastShardIsShort) {
  EXPECT_EQ(shard_range(105, 50, 0), (SampleRange{0, 50}));
  EXPECT_EQ(shard_range(105, 50, 1), (SampleRange{50, 100}));
  EXPECT_EQ(shard_range(105, 50, 2), (SampleRange{100, 105}));
  EXPECT_EQ(shard_range(105, 50, 2).size(), 5u);
  EXPECT_EQ(shard_range(100, 50, 1), (SampleRange{50, 100}));  // exact fit: no short shard
  static_assert(shard_range(105, 50, 2).end - shard_range(105, 50, 2).begin == 5);
}

TEST(Sharding, PastTheEndIsEmpty) {
  EXPECT_EQ(shard_range(105, 50, 3), (SampleRange{105, 105}));
  EXPECT_EQ(shard_range(105, 50, 3).size(), 0u);
  EXPECT_EQ(shard_range(105, 50, 1000000), (SampleRange{105, 105}));
  EXPECT_EQ(shard_range(0, 50, 0).size(), 0u);
}

TEST(Sharding, RangesCoverEverySampleExactlyOnce) {
  const std::vector<std::pair<uint64_t, uint64_t>> cases = {
      {1, 1}, {1, 50}, {7, 3}, {49, 50}, {50, 50}, {51, 50}, {1000, 7}, {10000, 50}, {99991, 100}};
  for (auto [samples, shard_size] : cases) {
    std::vector<int> seen(samples, 0);
    uint64_t shards = shard_count(samples, shard_size);
    uint64_t next = 0;
    for (uint64_t k = 0; k < shards; ++k) {
      SampleRange r = shard_range(samples, shard_size, k);
      EXPECT_EQ(r.begin, next) << samples << "/" << shard_size << " shard " << k;
      EXPECT_GT(r.size(), 0u);
      EXPECT_LE(r.size(), shard_size);
      if (k + 1 < shards) {
        EXPECT_EQ(r.size(), shard_size);
      }
      for (uint64_t i = r.begin; i < r.end; ++i) ++seen[i];
      next = r.end;
    }
    EXPECT_EQ(next, samples);
    for (uint64_t i = 0; i < samples; ++i) ASSERT_EQ(seen[i], 1) << "sample " << i;
    EXPECT_EQ(shard_range(samples, shard_size, shards).size(), 0u);
  }
}

TEST(Sharding, ShardOfASampleIsIndexDividedBySize) {
  for (uint64_t i : {0ull, 49ull, 50ull, 104ull}) {
    SampleRange r = shard_range(105, 50, i / 50);
    EXPECT_LE(r.begin, i);
    EXPECT_LT(i, r.end);
  }
}

}  // namespace
}  // namespace synthfarm::jobs
