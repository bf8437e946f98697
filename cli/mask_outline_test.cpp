// Outlines of small masks traced by hand: each vertex a pixel corner, clockwise on the
// image (y down) from the top-left corner, straight runs reduced to their ends.
#include "cli/mask_outline.h"

#include <gtest/gtest.h>

namespace synthfarm::cli {
namespace {

// A width x height mask from rows of '#' (set) and '.'.
std::vector<uint8_t> mask_of(const std::vector<std::string>& rows) {
  std::vector<uint8_t> mask;
  for (const auto& row : rows) {
    for (char c : row) mask.push_back(c == '#' ? 1 : 0);
  }
  return mask;
}

TEST(MaskOutline, OnePixelIsItsFourCorners) {
  const auto mask = mask_of({"....",  //
                             "..#.",  //
                             "...."});
  EXPECT_EQ(outer_outlines(mask, 4, 3), (std::vector<Polygon>{{{2, 1}, {3, 1}, {3, 2}, {2, 2}}}));
}

TEST(MaskOutline, AnLShapeKeepsOnlyItsCorners) {
  const auto mask = mask_of({"#.",  //
                             "##"});
  // (0,0) right to (1,0), down to (1,1), right to (2,1), down to (2,2), left along the
  // bottom to (0,2) (the corner at (1,2) is a straight run), up to the start.
  EXPECT_EQ(outer_outlines(mask, 2, 2),
            (std::vector<Polygon>{{{0, 0}, {1, 0}, {1, 1}, {2, 1}, {2, 2}, {0, 2}}}));
}

TEST(MaskOutline, AHoleIsLeftOut) {
  const auto mask = mask_of({"###",  //
                             "#.#",  //
                             "###"});
  EXPECT_EQ(outer_outlines(mask, 3, 3), (std::vector<Polygon>{{{0, 0}, {3, 0}, {3, 3}, {0, 3}}}));
}

TEST(MaskOutline, PixelsTouchingAtACornerAreTwoOutlines) {
  const auto mask = mask_of({"#.",  //
                             ".#"});
  EXPECT_EQ(outer_outlines(mask, 2, 2), (std::vector<Polygon>{{{0, 0}, {1, 0}, {1, 1}, {0, 1}},
                                                              {{1, 1}, {2, 1}, {2, 2}, {1, 2}}}));
}

TEST(MaskOutline, AnEmptyMaskHasNoOutline) {
  const std::vector<uint8_t> mask(12, 0);
  EXPECT_TRUE(outer_outlines(mask, 4, 3).empty());
  EXPECT_TRUE(join_outlines({}).empty());
}

TEST(MaskOutline, JoiningWalksOutToTheNextOutlineAndBack) {
  // The two corner-touching squares above share the vertex (1, 1): the bridge has no length,
  // and the walk is the first square to (1, 1), round the second, back on the first.
  const std::vector<Polygon> squares = {{{0, 0}, {1, 0}, {1, 1}, {0, 1}},
                                        {{1, 1}, {2, 1}, {2, 2}, {1, 2}}};
  EXPECT_EQ(join_outlines(squares),
            (Polygon{{0, 0}, {1, 0}, {1, 1}, {2, 1}, {2, 2}, {1, 2}, {1, 1}, {0, 1}}));
  // Apart: squares at (0,0)-(1,1) and (3,0)-(4,1); the closest vertices are (1, 0) and
  // (3, 0) (the first pair found at distance 2).
  const std::vector<Polygon> apart = {{{0, 0}, {1, 0}, {1, 1}, {0, 1}},
                                      {{3, 0}, {4, 0}, {4, 1}, {3, 1}}};
  EXPECT_EQ(
      join_outlines(apart),
      (Polygon{{0, 0}, {1, 0}, {3, 0}, {4, 0}, {4, 1}, {3, 1}, {3, 0}, {1, 0}, {1, 1}, {0, 1}}));
}

}  // namespace
}  // namespace synthfarm::cli
