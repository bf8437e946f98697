#include "jobs/manifest.h"

#include <gtest/gtest.h>

namespace synthfarm::jobs {
namespace {

TEST(ShardManifestTest, SurvivesWritingAndParsing) {
  ShardManifest m{"job-1", 3, 12, 4, {{"samples/00000012.exr", 812, std::string(64, 'a')}}};
  auto parsed = parse_shard_manifest(shard_manifest_to_json(m));
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(*parsed, m);
  EXPECT_FALSE(parse_shard_manifest("{\"format\": \"synthfarm.shard/1\", \"job\": 7}"));
  EXPECT_FALSE(parse_shard_manifest("[1, 2]"));
  EXPECT_FALSE(parse_shard_manifest("not json"));
  // Counts must be non-negative integers: a float beyond 2^64 once reached get<uint64_t>()
  // (undefined behaviour, found by fuzzing).
  for (const char* size : {"1.02e107", "-1", "2.5"}) {
    auto bad = parse_shard_manifest(std::string(R"({"format": "synthfarm.shard/1", "job": "j", "shard": 0,
        "first_sample": 0, "sample_count": 1, "objects": [{"key": "k", "sha256": "ab", "size": )") + size + "}]}");
    ASSERT_FALSE(bad) << size;
    EXPECT_NE(bad.error().find("objects[].size must be a non-negative integer"), std::string::npos) << bad.error();
  }
}

TEST(DatasetManifestTest, ReadsGoodEntriesAndReportsTheOthers) {
  auto manifest = parse_dataset_manifest(R"({"format": "synthfarm.dataset/1", "objects": [
    {"key": "samples/00000000.png", "size": 10, "sha256": "ab"},
    {"key": "samples/00000001.png", "size": -1, "sha256": "cd"},
    "samples/00000002.png",
    {"key": "annotations/instances.json", "size": 5, "sha256": "ef"}]})");
  ASSERT_TRUE(manifest) << manifest.error();
  ASSERT_EQ(manifest->objects.size(), 2u);
  EXPECT_EQ(manifest->objects[0], (ManifestEntry{"samples/00000000.png", 10, "ab"}));
  EXPECT_EQ(manifest->objects[1].key, "annotations/instances.json");
  EXPECT_EQ(manifest->problems,
            (std::vector<std::string>{"objects[1] lacks key, size or sha256", "objects[2] lacks key, size or sha256"}));
  for (const char* bad : {"", "[]", "{\"objects\": {}}", "{\"objects\": [}", "null"}) {
    EXPECT_FALSE(parse_dataset_manifest(bad)) << bad;
  }
}

}  // namespace
}  // namespace synthfarm::jobs
