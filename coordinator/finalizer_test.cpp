// The finalizer on a real file store: shard manifests and sample JSONs in, the dataset
// manifest, the dataset card and (when the spec asks for `coco`) the COCO files out.
#include "coordinator/finalizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
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
  EXPECT_EQ(summary->objects, 8);  // 2 JSONs, 2 EXRs, 2 annotation files, the card's 2 files
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
  EXPECT_EQ(summary->objects, 6);  // the samples and the card
  EXPECT_EQ(summary->images, 0u);
  EXPECT_FALSE(store_->head(kPersonKeypointsKey)->has_value());
  EXPECT_FALSE(store_->head(kInstancesKey)->has_value());
  EXPECT_TRUE(manifest()["annotations"].empty());
}

// The card is read from the same sample JSONs in the same pass, stored before manifest.json
// and listed in it with its size and sha256, like the annotation files.
TEST_F(FinalizerTest, TheDatasetCardIsWrittenAndListed) {
  for (const char* labels : {"[sample_json, coco]", "[sample_json]"}) {
    SCOPED_TRACE(labels);
    ASSERT_TRUE(write_dataset_manifest(*store_, job_, spec_json(labels), {}, 1000));
    const json m = manifest();
    EXPECT_EQ(m["dataset_card"], (json{{"json", kDatasetCardJsonKey}, {"html", kDatasetCardHtmlKey}}));
    std::map<std::string, json> objects;
    for (const json& o : m["objects"]) objects[o["key"].get<std::string>()] = o;
    for (const char* key : {kDatasetCardJsonKey, kDatasetCardHtmlKey}) {
      ASSERT_TRUE(objects.count(key)) << key;
      const std::string bytes = *store_->get(key);
      EXPECT_EQ(objects[key]["size"], bytes.size());
      EXPECT_EQ(objects[key]["sha256"], storage::sha256_hex(bytes));
    }
    const json card = json::parse(*store_->get(kDatasetCardJsonKey));
    EXPECT_EQ(card["job"], "j1");
    EXPECT_EQ(card["name"], "people");
    EXPECT_EQ(card["counts"]["images"], 2);
    EXPECT_EQ(card["counts"]["people"], 1);
    EXPECT_EQ(card["counts"]["keypoints"]["unlabelled"], 17);
    EXPECT_NE(store_->get(kDatasetCardHtmlKey)->find("<h1>Dataset card: people</h1>"), std::string::npos);
  }
}

TEST_F(FinalizerTest, WithoutLabelsThereIsNoCard) {
  ASSERT_TRUE(write_dataset_manifest(*store_, job_, spec_json("[]"), {}, 1000));
  EXPECT_FALSE(store_->head(kDatasetCardJsonKey)->has_value());
  EXPECT_FALSE(store_->head(kDatasetCardHtmlKey)->has_value());
  EXPECT_TRUE(manifest()["dataset_card"].empty());
}

// A sample JSON that is intact (its sha256 matches) but not valid JSON: the COCO files
// cannot be built, but a job without them still gets its card, which names the sample.
TEST_F(FinalizerTest, AMalformedSampleJsonIsSkippedByTheCardNotFatal) {
  std::filesystem::remove_all(dir_);
  jobs::ShardManifest shard{"j1", 0, 0, 2, {}};
  put(shard, "samples/00000000.json", json{{"index", 0}, {"instances", json::array()}}.dump());
  put(shard, "samples/00000001.json", "{\"index\": 1, \"instances\": [");
  ASSERT_TRUE(store_->put(jobs::shard_manifest_key(0), jobs::shard_manifest_to_json(shard)));
  auto summary = write_dataset_manifest(*store_, job_, spec_json("[sample_json]"), {}, 1000);
  ASSERT_TRUE(summary) << summary.error();
  const json card = json::parse(*store_->get(kDatasetCardJsonKey));
  EXPECT_EQ(card["counts"]["images"], 1);
  EXPECT_EQ(card["skipped"]["count"], 1);
  EXPECT_EQ(card["skipped"]["listed"][0]["key"], "samples/00000001.json");
  EXPECT_FALSE(write_dataset_manifest(*store_, job_, spec_json("[sample_json, coco]"), {}, 1000))
      << "the COCO files refuse it";
}

TEST_F(FinalizerTest, ASampleJsonThatDiffersFromItsShardManifestFailsNamingIt) {
  ASSERT_TRUE(store_->put("samples/00000001.json", "{}"));
  auto summary = write_dataset_manifest(*store_, job_, spec_json("[sample_json, coco]"), {}, 1000);
  ASSERT_FALSE(summary);
  EXPECT_NE(summary.error().find("samples/00000001.json: size or sha256 differs"), std::string::npos)
      << summary.error();
  EXPECT_FALSE(store_->head("manifest.json")->has_value());
}

// A fit_people job's units (worker/recon_runner.h) gathered into poses.jsonl and
// shapes.jsonl: one line per person in unit order, unconverged fits kept but marked (the
// render side never draws them), both files listed in the manifest.
TEST_F(FinalizerTest, AFitPeopleJobGathersItsUnitsIntoPosesAndShapes) {
  std::filesystem::remove_all(dir_);
  jobs::ShardManifest shard{"j1", 0, 0, 2, {}};
  auto fitted_person = [](int annotation, bool converged, double height) {
    json pose = json::object();
    pose["left_knee"] = {-30.0, 0.0, 0.0};
    return json{{"annotation_id", annotation}, {"image_id", 7},        {"track_id", nullptr},
                {"shape", {{"height_m", height}}}, {"pose", pose},       {"global_rotation", {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}},
                {"translation", {0.0, 0.5, 4.0}},  {"converged", converged}, {"mean_residual_px", 2.5}};
  };
  put(shard, "fits/00000000.json",
      json{{"unit", 0}, {"mode", "image"}, {"people", {fitted_person(40, true, 1.8), fitted_person(41, false, 1.6)}}}
          .dump());
  put(shard, "fits/00000001.json", json{{"unit", 1}, {"mode", "image"}, {"people", {fitted_person(42, true, 1.7)}}}.dump());
  ASSERT_TRUE(store_->put(jobs::shard_manifest_key(0), jobs::shard_manifest_to_json(shard)));
  auto spec = jobs::parse_spec("name: fit\ntask: fit_people\ninputs: file:///in/people.json\n");
  ASSERT_TRUE(spec.has_value());
  spec->samples = 2;
  auto summary = write_dataset_manifest(*store_, job_, jobs::spec_to_json(*spec), {}, 1000);
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_EQ(summary->people_fitted, 3u);
  EXPECT_EQ(summary->people_converged, 2u);
  const std::string poses = *store_->get(kPosesKey);
  const std::string shapes = *store_->get(kShapesKey);
  ASSERT_EQ(std::count(poses.begin(), poses.end(), '\n'), 3);
  const json first = json::parse(poses.substr(0, poses.find('\n')));
  EXPECT_EQ(first["annotation_id"], 40);
  EXPECT_EQ(first["pose"]["left_knee"][0], -30.0);
  EXPECT_EQ(first["fits"], "fits/00000000.json");
  const size_t line2 = shapes.find('\n') + 1;
  const json second_shape = json::parse(shapes.substr(line2, shapes.find('\n', line2) - line2));
  EXPECT_EQ(second_shape["converged"], false);
  EXPECT_EQ(second_shape["shape"]["height_m"], 1.6);
  const json m = manifest();
  EXPECT_EQ(m["annotations"]["poses"], kPosesKey);
  EXPECT_EQ(m["counts"]["people_converged"], 2);
}

}  // namespace
}  // namespace synthfarm::coordinator
