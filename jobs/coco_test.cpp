// COCO RLE: known answers worked out by hand from the format (pycocotools' maskApi.c
// rleEncode / rleToString), round trips through an independent decoder, and the dataset
// files built from sample JSONs.
#include "jobs/coco.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "jobs/coco_testing.h"
#include "base/rng.h"

namespace synthfarm::jobs::coco {
namespace {

using nlohmann::json;

// A mask drawn as rows of '.' (0) and '#' (1), to an instance-id image (1 where '#').
std::vector<uint32_t> draw(const std::vector<std::string>& rows) {
  std::vector<uint32_t> ids;
  for (const std::string& row : rows) {
    for (char c : row) ids.push_back(c == '#' ? 1u : 0u);
  }
  return ids;
}

RleMask encode_one(const std::vector<std::string>& rows) {
  auto masks = encode_id_masks(draw(rows), static_cast<int>(rows[0].size()),
                               static_cast<int>(rows.size()), 1);
  return masks.at(0);
}

TEST(CocoRle, FullMaskStartsWithAnEmptyRunOfZeros) {
  RleMask m = encode_one({"##", "##"});
  EXPECT_EQ(m.height, 2);
  EXPECT_EQ(m.width, 2);
  EXPECT_EQ(m.counts, (std::vector<uint32_t>{0, 4}));
  // 0 -> '0' (48), 4 -> '4' (52): one group each.
  EXPECT_EQ(rle_to_string(m.counts), "04");
}

TEST(CocoRle, CentrePixel) {
  RleMask m = encode_one({"...", ".#.", "..."});
  // Column-major: the centre is pixel 1 * 3 + 1 = 4.
  EXPECT_EQ(m.counts, (std::vector<uint32_t>{4, 1, 4}));
  EXPECT_EQ(rle_to_string(m.counts), "414");
}

TEST(CocoRle, EmptyMaskIsOneRunOfZeros) {
  RleMask m = encode_one({".....", ".....", ".....", "....."});
  EXPECT_EQ(m.counts, (std::vector<uint32_t>{20}));
  // 20 = 0b10100 has bit 16, the sign bit of a last group, so a positive 20 takes two
  // groups: 20 | 32 = 52 -> 'd', then 0 -> '0'.
  EXPECT_EQ(rle_to_string(m.counts), "d0");
}

TEST(CocoRle, ColumnMajorRunsDifferencesAndSignsByHand) {
  // Column-major runs: column 0 has 5 zeros then 5 ones; columns 1-3 are ones; column 4
  // has 5 ones then 5 zeros; column 5 has 5 zeros, 3 ones, 2 zeros; columns 6-9 zeros.
  // counts = [5, 40, 10, 3, 42].
  RleMask m = encode_one({".####.....", ".####.....", ".####.....", ".####.....", ".####.....",
                          "####.#....", "####.#....", "####.#....", "####......", "####......"});
  ASSERT_EQ(m.counts, (std::vector<uint32_t>{5, 40, 10, 3, 42}));
  // 5 -> '5'.
  // 40 = 0b1'01000: low group 8 with "more" (8 | 32 = 40, + 48 = 'X'), then 1 -> '1'.
  // 10 -> ':' (58): the third count is still stored as is (differences start at i > 2).
  // 3 - 40 = -37: low group -37 & 31 = 27 (sign bit 16 set, more since -37 >> 5 = -2 is
  //   not -1: 27 | 32 = 59 -> 'k'), then -2 & 31 = 30 (-2 >> 5 = -1: done) -> 'N'.
  // 42 - 10 = 32: low group 0 with "more" (32 -> 'P'), then 1 -> '1'.
  EXPECT_EQ(rle_to_string(m.counts), "5X1:kNP1");
}

TEST(CocoRle, MultiGroupCountKnownAnswer) {
  // 100000 = 3 * 32^3 + 1 * 32^2 + 21 * 32 + 0: groups 0 (more: 'P'), 21 (more: 21 + 32 +
  // 48 = 'e'), 1 (more: 'Q'), 3 ('3'). Group 21 has the sign bit but is not the last, so the
  // value stays positive.
  std::vector<uint32_t> counts = {100000};
  EXPECT_EQ(rle_to_string(counts), "PeQ3");
  EXPECT_EQ(rle_from_string("PeQ3"), counts);
  EXPECT_EQ(coco_testing::decode_counts("PeQ3"), counts);
}

TEST(CocoRle, StringParserRejectsMalformedText) {
  EXPECT_FALSE(rle_from_string("X").has_value()) << "continuation without a next group";
  EXPECT_FALSE(rle_from_string("4 4").has_value()) << "a space is outside the alphabet";
  EXPECT_FALSE(rle_from_string("04\x7f").has_value());
  EXPECT_FALSE(rle_from_string("O").has_value()) << "a negative count (31 with the sign bit: -1)";
  EXPECT_FALSE(rle_from_string("PPPPPPPP0").has_value()) << "more groups than 32 bits need";
  EXPECT_EQ(rle_from_string(""), std::vector<uint32_t>{});
}

TEST(CocoRle, SeveralIdsInOnePassMatchTheirOwnMasks) {
  // Ids 1..3, id 2 absent, id 5 above max_id (ignored).
  const std::vector<std::string> rows = {"1133", "1.33", "5.3.", "1113"};
  std::vector<uint32_t> ids;
  for (const auto& row : rows) {
    for (char c : row) ids.push_back(c == '.' ? 0u : static_cast<uint32_t>(c - '0'));
  }
  auto masks = encode_id_masks(ids, 4, 4, 3);
  ASSERT_EQ(masks.size(), 3u);
  // Id 1, column-major: column 0 = 1,1,0,1; column 1 = 1,0,0,1; column 2 = 0,0,0,1.
  EXPECT_EQ(masks[0].counts, (std::vector<uint32_t>{0, 2, 1, 2, 2, 1, 3, 1, 4}));
  EXPECT_EQ(masks[1].counts, (std::vector<uint32_t>{16}));
  // Id 3: column 2 = 1,1,1,0; column 3 = 1,1,0,1.
  EXPECT_EQ(masks[2].counts, (std::vector<uint32_t>{8, 3, 1, 2, 1, 1}));
}

TEST(CocoRle, RandomMasksRoundTripThroughAnIndependentDecoder) {
  Pcg32 rng(20240501, 7);
  for (int trial = 0; trial < 200; ++trial) {
    const int width = 1 + static_cast<int>(rng.next_u32() % 40),
              height = 1 + static_cast<int>(rng.next_u32() % 40);
    const uint32_t max_id = 1 + rng.next_u32() % 6;
    // Blobs: each pixel keeps its left neighbour's id most of the time, so runs vary.
    std::vector<uint32_t> ids(static_cast<size_t>(width) * height);
    for (size_t p = 0; p < ids.size(); ++p) {
      const bool keep = p > 0 && rng.next_u32() % 8 != 0;
      ids[p] = keep ? ids[p - 1] : rng.next_u32() % (max_id + 2);  // max_id + 1: ignored
    }
    auto masks = encode_id_masks(ids, width, height, max_id);
    ASSERT_EQ(masks.size(), max_id);
    for (uint32_t id = 1; id <= max_id; ++id) {
      const RleMask& m = masks[id - 1];
      const std::string text = rle_to_string(m.counts);
      auto counts = coco_testing::decode_counts(text);
      ASSERT_TRUE(counts.has_value()) << text;
      EXPECT_EQ(*counts, m.counts) << text;
      EXPECT_EQ(rle_from_string(text), m.counts) << text;
      auto mask = coco_testing::decode_mask(*counts, height, width);
      ASSERT_TRUE(mask.has_value());
      for (size_t p = 0; p < ids.size(); ++p) {
        ASSERT_EQ((*mask)[p], ids[p] == id ? 1 : 0)
            << "trial " << trial << " id " << id << " pixel " << p;
      }
    }
  }
}

TEST(CocoRle, LargeAndNegativeDifferencesRoundTrip) {
  Pcg32 rng(99, 1);
  for (int trial = 0; trial < 1000; ++trial) {
    std::vector<uint32_t> counts(1 + rng.next_u32() % 9);
    for (auto& c : counts) c = trial % 3 == 0 ? rng.next_u32() : rng.next_u32() % 5000;
    const std::string text = rle_to_string(counts);
    EXPECT_EQ(rle_from_string(text), counts) << text;
    EXPECT_EQ(coco_testing::decode_counts(text), counts) << text;
  }
}

// A sample JSON as jobs/sample.cpp writes it, cut down to the fields COCO needs.
json sample(uint64_t index, json instances) {
  return {{"index", index}, {"width", 4}, {"height", 3}, {"instances", std::move(instances)}};
}

json person(uint32_t id, const std::vector<std::string>& rows, json bbox) {
  auto masks = encode_id_masks(draw(rows), 4, 3, 1);
  uint64_t area = 0;
  for (const auto& r : rows) area += std::count(r.begin(), r.end(), '#');
  json keypoints = json::array();
  for (int k = 0; k < 17; ++k) {
    const bool labelled = k < 3;
    // Unlabelled keypoints with a stray position: COCO gets 0, 0, 0 for them.
    keypoints.push_back(labelled ? json(1.5 + k * 0.5) : json(7.5));
    keypoints.push_back(labelled ? json(1.25) : json(nullptr));
    keypoints.push_back(labelled ? 2 - k % 2 : 0);
  }
  return {{"id", id},
          {"semantic_id", 1},
          {"class", "person"},
          {"area", area},
          {"visible_pixels", area},
          {"bbox", std::move(bbox)},
          {"segmentation", {{"size", {3, 4}}, {"counts", rle_to_string(masks[0].counts)}}},
          {"keypoints", std::move(keypoints)},
          {"num_keypoints", 3}};
}

json thing(uint32_t id, uint32_t semantic, uint64_t area, std::string counts, json bbox) {
  return {{"id", id},
          {"semantic_id", semantic},
          {"area", area},
          {"bbox", std::move(bbox)},
          {"segmentation", {{"size", {3, 4}}, {"counts", std::move(counts)}}}};
}

TEST(CocoDataset, BuildsBothFilesWithContiguousIdsAndEveryImage) {
  DatasetBuilder builder(R"({"description":"test"})");
  // Image 1: a person and a floor; a prop that is fully hidden (area 0) is left out.
  json first = sample(
      0,
      {person(1, {".#..", ".#..", "...."}, {1, 0, 1, 2}), thing(2, 4, 0, "<", {0, 0, 0, 0}),
       thing(3, 2, 4, rle_to_string(std::vector<uint32_t>{2, 1, 2, 1, 2, 1, 2, 1}), {0, 2, 4, 1})});
  ASSERT_TRUE(builder.add_image(first.dump(), "samples/00000000.png", "samples/00000000.json"));
  // Image 2: nobody in it.
  json second = sample(1, {thing(1, 3, 12, "0<", {0, 0, 4, 3})});
  ASSERT_TRUE(builder.add_image(second.dump(), "samples/00000001.png", "samples/00000001.json"));
  // Image 3: a clip frame with one person.
  json third = sample(2, {person(1, {"....", "..##", "...."}, {2, 1, 2, 1})});
  third["clip"] = {{"frame", 1}, {"frames", 2}};
  third["K"] = {{100.0, 0.0, 2.0}, {0.0, 100.0, 1.5}, {0.0, 0.0, 1.0}};
  third["world_to_camera"] = {{1, 0, 0, 0}, {0, 0, -1, 1.5}, {0, 1, 0, 4}, {0, 0, 0, 1}};
  ASSERT_TRUE(
      builder.add_image(third.dump(), "samples/00000002.f001.png", "samples/00000002.f001.json"));
  EXPECT_EQ(builder.images(), 3u);
  EXPECT_EQ(builder.person_annotations(), 2u);
  EXPECT_EQ(builder.instance_annotations(), 4u);

  DatasetBuilder::Files files = builder.finish();
  json people = json::parse(files.person_keypoints);
  json instances = json::parse(files.instances);
  for (const json* file : {&people, &instances}) {
    ASSERT_EQ((*file)["images"].size(), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*file)["images"][i]["id"], i + 1);
    EXPECT_EQ((*file)["images"][1]["file_name"], "samples/00000001.png");
    EXPECT_EQ((*file)["images"][1]["width"], 4);
    EXPECT_EQ((*file)["images"][1]["height"], 3);
    EXPECT_EQ((*file)["images"][2]["frame"], 1);
    EXPECT_EQ((*file)["info"]["description"], "test");
    EXPECT_TRUE((*file)["licenses"].is_array());
    for (size_t a = 0; a < (*file)["annotations"].size(); ++a) {
      const json& ann = (*file)["annotations"][a];
      EXPECT_EQ(ann["id"], a + 1);
      EXPECT_TRUE(ann["area"].is_number());
      EXPECT_EQ(ann["iscrowd"], 0);
      EXPECT_EQ(ann["segmentation"]["size"], json::array({3, 4}));
    }
  }
  ASSERT_EQ(people["annotations"].size(), 2u);
  const json& p = people["annotations"][0];
  EXPECT_EQ(p["image_id"], 1);
  EXPECT_EQ(p["category_id"], 1);
  EXPECT_EQ(p["area"], 2);
  EXPECT_EQ(p["bbox"], json::array({1, 0, 1, 2}));
  EXPECT_EQ(p["keypoints"].size(), 51u);
  EXPECT_EQ(p["num_keypoints"], 3);
  EXPECT_EQ(p["keypoints"][3], 2.0);
  // synthfarm's extension for fitting: the camera of each image that has one, and a track
  // id for the people of a clip's frames.
  EXPECT_FALSE(people["images"][0].contains("K"));
  EXPECT_EQ(people["images"][2]["K"][0][0], 100.0);
  EXPECT_EQ(people["images"][2]["world_to_camera"][2][3], 4);
  EXPECT_EQ(people["images"][2]["frame_index"], 1);
  EXPECT_FALSE(p.contains("track_id"));
  EXPECT_EQ(people["annotations"][1]["track_id"], 2 * kTrackIdsPerSample + 1);
  EXPECT_EQ(p["keypoints"][5], 1);
  for (int i = 9; i < 51; ++i) EXPECT_EQ(p["keypoints"][i], 0) << i;
  EXPECT_EQ(people["annotations"][1]["image_id"], 3);
  ASSERT_EQ(people["categories"].size(), 1u);
  EXPECT_EQ(people["categories"][0]["name"], "person");
  EXPECT_EQ(people["categories"][0]["keypoints"].size(), 17u);
  EXPECT_EQ(people["categories"][0]["keypoints"][0], "nose");
  EXPECT_EQ(people["categories"][0]["skeleton"].size(), 19u);
  EXPECT_EQ(people["categories"][0]["skeleton"][0], json::array({16, 14}));

  std::vector<int> categories;
  for (const json& a : instances["annotations"]) categories.push_back(a["category_id"]);
  EXPECT_EQ(categories, (std::vector<int>{1, 2, 3, 1}));
  std::set<std::string> names;
  for (const json& c : instances["categories"]) names.insert(c["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"person", "floor", "wall", "prop"}));
}

TEST(CocoDataset, NoPeopleStillHasAnAnnotationsList) {
  DatasetBuilder builder("{}");
  ASSERT_TRUE(builder.add_image(sample(0, json::array()).dump(), "samples/00000000.exr", "s.json"));
  auto files = builder.finish();
  json people = json::parse(files.person_keypoints);
  ASSERT_TRUE(people.contains("annotations"));
  EXPECT_TRUE(people["annotations"].is_array());
  EXPECT_TRUE(people["annotations"].empty());
  EXPECT_EQ(people["images"].size(), 1u);
  // An empty dataset is still a valid file.
  json empty = json::parse(DatasetBuilder("{}").finish().instances);
  EXPECT_TRUE(empty["images"].is_array());
  EXPECT_TRUE(empty["annotations"].is_array());
}

TEST(CocoDataset, BadSampleJsonIsRefusedNamingTheFieldAndAddsNothing) {
  DatasetBuilder builder("{}");
  json bad = sample(0, {person(1, {".#..", ".#..", "...."}, {1, 0, 1, 2})});
  bad["instances"][0]["area"] = 3;  // the mask has 2 pixels
  auto r = builder.add_image(bad.dump(), "a.png", "samples/00000000.json");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("samples/00000000.json.instances[0].segmentation.counts"),
            std::string::npos)
      << r.error();
  json old = sample(0, {person(1, {".#..", ".#..", "...."}, {1, 0, 1, 2})});
  old["instances"][0].erase("area");
  r = builder.add_image(old.dump(), "a.png", "x.json");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("x.json.instances[0].area"), std::string::npos) << r.error();
  json short_keypoints = sample(0, {person(1, {".#..", ".#..", "...."}, {1, 0, 1, 2})});
  short_keypoints["instances"][0]["keypoints"].erase(0);
  r = builder.add_image(short_keypoints.dump(), "a.png", "y.json");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("y.json.instances[0].keypoints"), std::string::npos) << r.error();
  EXPECT_FALSE(builder.add_image("[1, 2", "a.png", "z.json").has_value());
  // A clip frame that is not a non-negative integer once threw (a string) or overflowed
  // int (1e300) out of add_image.
  for (json frame : {json("one"), json(1e300), json(-1)}) {
    json clip = sample(0, json::array());
    clip["clip"] = {{"frame", frame}, {"frames", 3}};
    r = builder.add_image(clip.dump(), "a.png", "c.json");
    ASSERT_FALSE(r.has_value()) << frame;
    EXPECT_NE(r.error().find("c.json.clip.frame"), std::string::npos) << r.error();
  }
  EXPECT_EQ(builder.images(), 0u);
  EXPECT_EQ(json::parse(builder.finish().instances)["images"].size(), 0u);
}

}  // namespace
}  // namespace synthfarm::jobs::coco
