// DensePose fields checked against DensePose-COCO's documentation (DensePose's
// DENSEPOSE_DATASETS.md: dp_x, dp_y relative to the box's top-left corner, scaled as if the
// box were 256 x 256; dp_I the fine part; dp_masks the 14 coarse parts as 256 x 256 RLE
// over the box, in its listed order), with every value worked out by hand.
#include "cli/densepose_labels.h"

#include <gtest/gtest.h>

#include "jobs/coco.h"

namespace synthfarm::cli {
namespace {

using nlohmann::json;

TEST(DensePoseLabels, FinePartsMapToTheFourteenCoarseOnes) {
  // DensePose's coarse order: torso, right hand, left hand, left foot, right foot, upper leg
  // right, upper leg left, lower leg right, lower leg left, upper arm left, upper arm right,
  // lower arm left, lower arm right, head; its fine parts as humans/body.h lists them.
  const std::vector<std::pair<int, int>> fine_to_coarse = {
      {1, 1},   {2, 1},   {3, 2},   {4, 3},   {5, 4},   {6, 5},   {7, 6},   {9, 6},   {8, 7},
      {10, 7},  {11, 8},  {13, 8},  {12, 9},  {14, 9},  {15, 10}, {17, 10}, {16, 11}, {18, 11},
      {19, 12}, {21, 12}, {20, 13}, {22, 13}, {23, 14}, {24, 14}, {0, 0},   {25, 0}};
  for (auto [fine, coarse] : fine_to_coarse)
    EXPECT_EQ(coarse_part(fine), coarse) << "fine part " << fine;
}

// A 4 x 4 image; the person is the 2 x 2 box [1, 1, 2, 2]: pixel (1, 1) torso front (2),
// (2, 1) head right (23), (1, 2) hair (no part), (2, 2) left hand (4). Pixel (0, 0) has a
// part (5) but is another person's.
struct Scene {
  IuvImage iuv{4, 4, std::vector<float>(16, 0), std::vector<float>(16, 0),
               std::vector<float>(16, 0)};
  std::vector<uint8_t> mask = std::vector<uint8_t>(16, 0);
  Scene() {
    auto set = [&](int x, int y, int part, float u, float v, bool person) {
      const size_t i = static_cast<size_t>(y * 4 + x);
      iuv.part[i] = static_cast<float>(part);
      iuv.u[i] = u;
      iuv.v[i] = v;
      mask[i] = person ? 1 : 0;
    };
    set(1, 1, 2, 0.25f, 0.5f, true);
    set(2, 1, 23, 0.75f, 0.125f, true);
    set(1, 2, 0, 0, 0, true);
    set(2, 2, 4, 0.5f, 1.0f, true);
    set(0, 0, 5, 0.5f, 0.5f, false);
  }
};

// Counts of a 256 x 256 mask that is one quadrant (column-major runs from a 0-run).
std::vector<uint32_t> quadrant(bool right, bool bottom) {
  std::vector<uint32_t> counts;
  const uint32_t before = (right ? 128 * 256 : 0) + (bottom ? 128 : 0);
  counts.push_back(before);
  for (int column = 0; column < 128; ++column) {
    if (column > 0) counts.push_back(128);  // the 0s between two columns' 1s
    counts.push_back(128);
  }
  const uint32_t after = (right ? 0 : 128 * 256) + (bottom ? 0 : 128);
  if (after > 0) counts.push_back(after);
  return counts;
}

TEST(DensePoseLabels, PointsAreThePersonsPartPixelsInBoxCoordinates) {
  const Scene scene;
  const json dp = densepose_fields({1, 1, 2, 2}, scene.mask, scene.iuv);
  // Row-major: (1, 1), (2, 1), (2, 2); the hair pixel has no part, (0, 0) is not the person's.
  // dp_x = (x + 0.5 - 1) * 256 / 2.
  EXPECT_EQ(dp["dp_x"], json({64.0, 192.0, 192.0}));
  EXPECT_EQ(dp["dp_y"], json({64.0, 64.0, 192.0}));
  EXPECT_EQ(dp["dp_I"], json({2, 23, 4}));
  EXPECT_EQ(dp["dp_U"], json({0.25, 0.75, 0.5}));
  EXPECT_EQ(dp["dp_V"], json({0.5, 0.125, 1.0}));
}

TEST(DensePoseLabels, MasksAreTheCoarsePartsOverTheBox) {
  const Scene scene;
  const json dp = densepose_fields({1, 1, 2, 2}, scene.mask, scene.iuv);
  ASSERT_EQ(dp["dp_masks"].size(), 14u);
  // Box column c < 128 falls on image column 1, c >= 128 on column 2 (1 + (c + 0.5) * 2 / 256);
  // rows alike: torso top-left, head top-right, left hand bottom-right, hair (no part)
  // bottom-left.
  const std::map<int, std::vector<uint32_t>> expected = {
      {1, quadrant(false, false)}, {14, quadrant(true, false)}, {3, quadrant(true, true)}};
  for (int coarse = 1; coarse <= 14; ++coarse) {
    const json& m = dp["dp_masks"][static_cast<size_t>(coarse - 1)];
    auto it = expected.find(coarse);
    if (it == expected.end()) {
      EXPECT_EQ(m, json::array()) << "coarse part " << coarse << " is not in the image";
      continue;
    }
    EXPECT_EQ(m["size"], json({256, 256}));
    auto counts = jobs::coco::rle_from_string(m["counts"].get<std::string>());
    ASSERT_TRUE(counts) << counts.error();
    EXPECT_EQ(*counts, it->second) << "coarse part " << coarse;
  }
}

TEST(DensePoseLabels, AHundredPointsSpreadEvenlyOverMorePixels) {
  // One row of 250 pixels, all the person's and all torso: point k is pixel
  // floor((k + 0.5) * 250 / 100): 1, 3, 6, ..., 248.
  IuvImage iuv{250, 1, std::vector<float>(250, 1), std::vector<float>(250, 0),
               std::vector<float>(250, 0)};
  const std::vector<uint8_t> mask(250, 1);
  const json dp = densepose_fields({0, 0, 250, 1}, mask, iuv);
  ASSERT_EQ(dp["dp_x"].size(), 100u);
  EXPECT_DOUBLE_EQ(dp["dp_x"][0].get<double>(), 1.5 * 256 / 250);
  EXPECT_DOUBLE_EQ(dp["dp_x"][1].get<double>(), 3.5 * 256 / 250);
  EXPECT_DOUBLE_EQ(dp["dp_x"][2].get<double>(), 6.5 * 256 / 250);
  EXPECT_DOUBLE_EQ(dp["dp_x"][99].get<double>(), 248.5 * 256 / 250);
  EXPECT_EQ(dp["dp_y"][0], 128.0);
}

TEST(DensePoseLabels, APersonWithNoPartPixelGetsNoFields) {
  Scene scene;
  std::fill(scene.iuv.part.begin(), scene.iuv.part.end(), 0.0f);
  EXPECT_EQ(densepose_fields({1, 1, 2, 2}, scene.mask, scene.iuv), json::object());
}

}  // namespace
}  // namespace synthfarm::cli
