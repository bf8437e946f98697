// The portable transcendental functions of base/math.h against libm: they must agree to
// an ulp or so while giving the same bits on every machine.
#include "base/math.h"

#include <gtest/gtest.h>

#include <cmath>

namespace synthfarm {
namespace {

TEST(PortableMathTest, MatchesLibmClosely) {
  for (double x = -100.0; x <= 100.0; x += 0.0137) {
    EXPECT_NEAR(portable_sin(x), std::sin(x), 1e-15) << x;
    EXPECT_NEAR(portable_cos(x), std::cos(x), 1e-15) << x;
  }
  EXPECT_EQ(portable_sin(0.0), 0.0);
  EXPECT_EQ(portable_cos(0.0), 1.0);
}

// Angles from outside (a BVH file's rotation channels) can be anything: a huge one once
// overflowed the quadrant's integer conversion (undefined behaviour, found by fuzzing).
TEST(PortableMathTest, HugeAndNonFiniteArguments) {
  for (double x : {1e6, -3e8, 1.23457e39, -1e300, 1.7976931348623157e308}) {
    EXPECT_GE(portable_sin(x), -1.0) << x;
    EXPECT_LE(portable_sin(x), 1.0) << x;
    EXPECT_GE(portable_cos(x), -1.0) << x;
    EXPECT_LE(portable_cos(x), 1.0) << x;
    EXPECT_NEAR(portable_sin(x) * portable_sin(x) + portable_cos(x) * portable_cos(x), 1.0, 1e-12) << x;
  }
  for (double x : {INFINITY, -INFINITY, NAN}) {
    EXPECT_TRUE(std::isnan(portable_sin(x))) << x;
    EXPECT_TRUE(std::isnan(portable_cos(x))) << x;
  }
  EXPECT_NEAR(portable_sin(800000.0), std::sin(800000.0), 1e-9) << "below the bound: the accurate path";
}

TEST(PortableMathTest, ExpLogAtan2AcosMatchLibm) {
  for (double x = -30; x <= 30; x += 0.01237) {
    EXPECT_NEAR(portable_exp(x), std::exp(x), 4e-16 * std::exp(x)) << x;
  }
  for (double x = 1e-300; x < 1e300; x *= 1.7777) {
    EXPECT_NEAR(portable_log(x), std::log(x), 4e-16 * std::abs(std::log(x)) + 1e-300) << x;
  }
  for (double y = -3; y <= 3; y += 0.0731) {
    for (double x = -3; x <= 3; x += 0.0917) {
      EXPECT_NEAR(portable_atan2(y, x), std::atan2(y, x), 1e-15) << y << " " << x;
    }
  }
  for (double x = -1; x <= 1; x += 0.001) EXPECT_NEAR(portable_acos(x), std::acos(x), 2e-15) << x;
  EXPECT_EQ(portable_exp(-1000), 0.0);
  EXPECT_TRUE(std::isinf(portable_exp(1000)));
  EXPECT_TRUE(std::isinf(portable_log(0)));
  EXPECT_EQ(portable_atan2(0, 0), 0.0);
  EXPECT_EQ(portable_acos(2), 0.0);
}

TEST(PointTriangleDistance, FaceEdgesCornersAndDegenerate) {
  const Vec3 a{0, 0, 0}, b{2, 0, 0}, c{0, 2, 0};
  EXPECT_DOUBLE_EQ(point_triangle_distance({0.5, 0.5, 3}, a, b, c), 3.0);   // above the face
  EXPECT_DOUBLE_EQ(point_triangle_distance({1, -1, 0}, a, b, c), 1.0);      // beside edge ab
  EXPECT_DOUBLE_EQ(point_triangle_distance({2, 2, 0}, a, b, c), std::sqrt(2.0));  // beyond edge bc
  EXPECT_DOUBLE_EQ(point_triangle_distance({-3, -4, 0}, a, b, c), 5.0);     // past corner a
  EXPECT_DOUBLE_EQ(point_triangle_distance({3, 0, 0}, a, b, c), 1.0);       // past corner b
  EXPECT_DOUBLE_EQ(point_triangle_distance({0, 0.5, 0}, a, b, c), 0.0);     // on the edge ca
  // A triangle collapsed to a segment: the distance to the segment.
  EXPECT_DOUBLE_EQ(point_triangle_distance({1, 1, 0}, a, b, b), 1.0);
}

}  // namespace
}  // namespace synthfarm
