#include "sensor/cfa.h"

#include <gtest/gtest.h>

namespace synthfarm::sensor {
namespace {

TEST(Cfa, TopLeftBlockSpellsTheName) {
  for (Cfa cfa : {Cfa::kRggb, Cfa::kBggr, Cfa::kGrbg, Cfa::kGbrg}) {
    std::string spelled;
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 2; ++x) spelled += "rgb"[cfa_colour(cfa, x + 4, y + 6)];
    EXPECT_EQ(spelled, cfa_name(cfa));
    EXPECT_EQ(cfa_from_name(spelled), cfa);
  }
  EXPECT_FALSE(cfa_from_name("rgbg").has_value());
}

}  // namespace
}  // namespace synthfarm::sensor
