// The finalizer on a real file store: shard manifests and sample JSONs in, the dataset
// manifest and (when the spec asks for `coco`) the COCO files out.
#include "coordinator/finalizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "jobs/manifest.h"
#include "jobs/spec.h"
#include "storage/object_store.h"

namespace synthfarm::coordinator {
namespace {

using nlohmann::json;

class FinalizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("synthfarm-finalizer-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto store = storage::open_store("file://" + dir_.string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    job_.id = "j1";
    job_.name = "people";
    job_.samples = 2;
    job_.shard_size = 2;
    // One shard of two samples: one with a person, one empty room.
    jobs::ShardManifest shard{"j1", 0, 0, 2, {}};
    const json person = {{"id", 1},          {"semantic_id", 1},  {"class", "person"},
                         {"area", 1},        {"visible_pixels", 1}, {"bbox", {1, 0, 1, 1}},
                         {"segmentation", {{"size", {2, 2}}, {"counts", "211"}}},
                         {"keypoints", json(std::vector<int>(51, 0))}, {"num_keypoints", 0}};
    for (uint64_t i = 0; i < 2; ++i) {
      json sample = {{"index", i}, {"width", 2}, {"height", 2},
                     {"instances", i == 0 ? json::array({person}) : json::array()}};
      put(shard, "samples/0000000" + std::to_string(i) + ".json", sample.dump());
      put(shard, "samples/0000000" + std::to_string(i) + ".exr", "exr bytes " + std::to_string(i));
    }
    ASSERT_TRUE(store_->put(jobs::shard_manifest_key(0), jobs::shard_manifest_to_json(shard)));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void put(jobs::ShardManifest& shard, const std::string& key, const std::string& bytes) {
    ASSERT_TRUE(store_->put(key, bytes));
    shard.objects.push_back({key, bytes.size(), storage::sha256_hex(bytes)});
  }

  std::string spec_json(const std::string& labels) {
    auto spec = jobs::parse_spec("name: people\nsamples: 2\noutput: {labels: " + labels + "}\n");
    EXPECT_TRUE(spec.has_value());
    return jobs::spec_to_json(*spec);
  }

  json manifest() { return json::parse(*store_->get("manifest.json")); }

  std::filesystem::path dir_;
  std::unique_ptr<storage::ObjectStore> store_;
  queue::JobRecord job_;
};

TEST_F(FinalizerTest, CocoLabelWritesBothAnnotationFilesAndListsThem) {
  auto summary = write_dataset_manifest(*store_, job_, spec_json("[sample_json, coco]"), {}, 1000);
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_EQ(summary->images, 2u);
  EXPECT_EQ(summary->person_annotations, 1u);
  EXPECT_EQ(summary->objects, 6);  // 2 JSONs, 2 EXRs, 2 annotation files
  const json m = manifest();
  EXPECT_EQ(m["annotations"]["coco_person_keypoints"], kPersonKeypointsKey);
  std::set<std::string> keys;
  for (const json& o : m["objects"]) keys.insert(o["key"].get<std::string>());
  EXPECT_TRUE(keys.count(kPersonKeypointsKey) && keys.count(kInstancesKey));
  const json coco = json::parse(*store_->get(kPersonKeypointsKey));
  ASSERT_EQ(coco["images"].size(), 2u);
  EXPECT_EQ(coco["images"][1]["file_name"], "samples/00000001.exr");  // no preview: the EXR
  ASSERT_EQ(coco["annotations"].size(), 1u);
  EXPECT_EQ(coco["annotations"][0]["area"], 1);
}

TEST_F(FinalizerTest, WithoutTheCocoLabelNoAnnotationFilesAreWritten) {
  auto summary = write_dataset_manifest(*store_, job_, spec_json("[sample_json]"), {}, 1000);
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_EQ(summary->objects, 4);
  EXPECT_EQ(summary->images, 0u);
  EXPECT_FALSE(store_->head(kPersonKeypointsKey)->has_value());
  EXPECT_FALSE(store_->head(kInstancesKey)->has_value());
  EXPECT_TRUE(manifest()["annotations"].empty());
}

TEST_F(FinalizerTest, ASampleJsonThatDiffersFromItsShardManifestFailsNamingIt) {
  ASSERT_TRUE(store_->put("samples/00000001.json", "{}"));
  auto summary = write_dataset_manifest(*store_, job_, spec_json("[sample_json, coco]"), {}, 1000);
  ASSERT_FALSE(summary);
  EXPECT_NE(summary.error().find("samples/00000001.json: size or sha256 differs"), std::string::npos)
      << summary.error();
  EXPECT_FALSE(store_->head("manifest.json")->has_value());
}

}  // namespace
}  // namespace synthfarm::coordinator
