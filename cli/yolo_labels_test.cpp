// YOLO lines checked against the Ultralytics dataset docs (pose: "<class-index> <x> <y>
// <width> <height> <px1> <py1> <p1-visibility> ..."; segment: "<class-index> <x1> <y1>
// <x2> <y2> ...", every coordinate normalised to 0..1), with the expected lines worked out
// by hand from a known box, keypoints and mask; the people read from a per-sample JSON as
// jobs/sample.cpp writes it; the split rule; the data YAML.
#include "cli/yolo_labels.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "jobs/coco.h"

namespace synthfarm::cli {
namespace {

using nlohmann::json;

// COCO compressed RLE of the rectangle [x0, x0 + w) x [y0, y0 + h) in a width x height image.
json rect_segmentation(int width, int height, int x0, int y0, int w, int h) {
  std::vector<uint32_t> ids(static_cast<size_t>(width * height), 0);
  for (int y = y0; y < y0 + h; ++y) {
    for (int x = x0; x < x0 + w; ++x) ids[static_cast<size_t>(y * width + x)] = 1;
  }
  const auto masks = jobs::coco::encode_id_masks(ids, width, height, 1);
  return {{"size", {height, width}}, {"counts", jobs::coco::rle_to_string(masks[0].counts)}};
}

// A 64 x 48 sample: a person in the box [16, 12, 32, 24] (centre (32, 24), the image's
// centre) with the nose at (32, 24) visible, the left eye at (16, 12) occluded, the right
// ankle at (64, 48) visible and every other keypoint not labelled; then a floor, and a
// person hidden behind it (area 0): COCO lists neither.
json sample_json() {
  json keypoints = json::array();
  for (int k = 0; k < 17; ++k)
    keypoints.insert(keypoints.end(), {5, 7, 0});  // not labelled: position ignored
  keypoints[0] = 32, keypoints[1] = 24, keypoints[2] = 2;
  keypoints[3] = 16, keypoints[4] = 12, keypoints[5] = 1;
  keypoints[48] = 64, keypoints[49] = 48, keypoints[50] = 2;
  json person = {{"id", 1},
                 {"semantic_id", 1},
                 {"area", 32 * 24},
                 {"bbox", {16, 12, 32, 24}},
                 {"keypoints", keypoints},
                 {"segmentation", rect_segmentation(64, 48, 16, 12, 32, 24)}};
  json floor = {{"id", 3},
                {"semantic_id", 2},
                {"area", 10},
                {"bbox", {0, 40, 64, 8}},
                {"segmentation", rect_segmentation(64, 48, 0, 40, 64, 8)}};
  json hidden = {{"id", 2}, {"semantic_id", 1}, {"area", 0}, {"bbox", {0, 0, 0, 0}}};
  return {{"index", 3}, {"width", 64}, {"height", 48}, {"instances", {person, floor, hidden}}};
}

TEST(YoloLabels, PoseLineIsTheBoxThenEachKeypointNormalised) {
  auto labels = people_of_sample(sample_json(), "samples/00000003.json");
  ASSERT_TRUE(labels) << labels.error();
  ASSERT_EQ(labels->people.size(), 1u);
  std::string expected =
      "0 0.500000 0.500000 0.500000 0.500000";  // cx 32/64, cy 24/48, w 32/64, h 24/48
  expected += " 0.500000 0.500000 2.000000";    // nose (32, 24), visible
  expected += " 0.250000 0.250000 1.000000";    // left eye (16, 12), occluded
  for (int k = 2; k < 16; ++k) expected += " 0.000000 0.000000 0.000000";  // not labelled
  expected += " 1.000000 1.000000 2.000000";                               // right ankle (64, 48)
  EXPECT_EQ(yolo_pose_line(labels->people[0], 64, 48), expected);
}

TEST(YoloLabels, SegLineIsTheOutlineNormalised) {
  auto labels = people_of_sample(sample_json(), "samples/00000003.json");
  ASSERT_TRUE(labels) << labels.error();
  ASSERT_EQ(labels->people.size(), 1u);
  // The box's pixels: corners (16, 12), (48, 12), (48, 36), (16, 36), clockwise on the image.
  EXPECT_EQ(yolo_seg_line(labels->people[0], 64, 48),
            "0 0.250000 0.250000 0.750000 0.250000 0.750000 0.750000 0.250000 0.750000");
  PersonLabel nobody;
  nobody.mask.assign(64 * 48, 0);
  EXPECT_EQ(yolo_seg_line(nobody, 64, 48), "");
}

TEST(YoloLabels, SegmentationDecodesColumnMajorRuns) {
  // A 3 x 2 image, runs 1 zero, 2 ones, 3 zeros down the columns: pixels (0, 1) and (1, 0).
  const json rle = {{"size", {2, 3}},
                    {"counts", jobs::coco::rle_to_string(std::vector<uint32_t>{1, 2, 3})}};
  auto mask = decode_segmentation(rle, 3, 2, "a");
  ASSERT_TRUE(mask) << mask.error();
  EXPECT_EQ(*mask, (std::vector<uint8_t>{0, 1, 0, 1, 0, 0}));
  auto wrong_size = decode_segmentation(rle, 2, 3, "a");
  ASSERT_FALSE(wrong_size);
  EXPECT_EQ(wrong_size.error(), "a.segmentation.size: expected the image's [3, 2]");
  const json short_runs = {{"size", {2, 3}},
                           {"counts", jobs::coco::rle_to_string(std::vector<uint32_t>{1, 2})}};
  EXPECT_FALSE(decode_segmentation(short_runs, 3, 2, "a"));
}

TEST(YoloLabels, BadSampleFieldsAreNamed) {
  json no_box = sample_json();
  no_box["instances"][0].erase("bbox");
  auto a = people_of_sample(no_box, "s.json");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error(), "s.json.instances[0].bbox: expected [x, y, w, h]");
  json bad_visibility = sample_json();
  bad_visibility["instances"][0]["keypoints"][2] = 3;
  auto b = people_of_sample(bad_visibility, "s.json");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error(), "s.json.instances[0].keypoints[2]: visibility must be 0, 1 or 2");
  json no_width = sample_json();
  no_width.erase("width");
  EXPECT_FALSE(people_of_sample(no_width, "s.json"));
}

TEST(YoloLabels, ValSplitTakesEveryOneOverFthSampleByIndex) {
  auto val_of = [](double f, uint64_t n) {
    std::vector<uint64_t> val;
    for (uint64_t i = 0; i < n; ++i) {
      if (in_val_split(i, f)) val.push_back(i);
    }
    return val;
  };
  EXPECT_EQ(val_of(0.1, 30), (std::vector<uint64_t>{9, 19, 29}));
  EXPECT_EQ(val_of(0.25, 12), (std::vector<uint64_t>{3, 7, 11}));
  EXPECT_EQ(val_of(0.5, 6), (std::vector<uint64_t>{1, 3, 5}));
  EXPECT_EQ(val_of(0.0, 10), (std::vector<uint64_t>{}));
  EXPECT_EQ(val_of(1.0, 3), (std::vector<uint64_t>{0, 1, 2}));
}

TEST(YoloLabels, DataYamlNamesTheSplitsKeypointsAndClass) {
  const YAML::Node pose = YAML::Load(yolo_data_yaml("/data/export", true));
  EXPECT_EQ(pose["path"].as<std::string>(), "/data/export");
  EXPECT_EQ(pose["train"].as<std::string>(), "images/train");
  EXPECT_EQ(pose["val"].as<std::string>(), "images/val");
  EXPECT_EQ(pose["kpt_shape"].as<std::vector<int>>(), (std::vector<int>{17, 3}));
  // COCO-17 mirrored: nose stays, then each left/right pair swaps.
  EXPECT_EQ(pose["flip_idx"].as<std::vector<int>>(),
            (std::vector<int>{0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15}));
  EXPECT_EQ(pose["names"].size(), 1u);
  EXPECT_EQ(pose["names"][0].as<std::string>(), "person");
  const YAML::Node seg = YAML::Load(yolo_data_yaml("/data/export", false));
  EXPECT_FALSE(seg["kpt_shape"]);
  EXPECT_FALSE(seg["flip_idx"]);
  EXPECT_EQ(seg["names"][0].as<std::string>(), "person");
}

}  // namespace
}  // namespace synthfarm::cli
