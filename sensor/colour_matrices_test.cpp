#include "sensor/colour_matrices.h"

#include <gtest/gtest.h>

namespace synthfarm::sensor {
namespace {

void expect_rows_sum_to_one(const Matrix3& m, double tolerance) {
  for (int i = 0; i < 3; ++i)
    EXPECT_NEAR(m[3 * i] + m[3 * i + 1] + m[3 * i + 2], 1.0, tolerance) << "row " << i;
}

TEST(ColourMatrices, PresetsAreNamedAndKeepWhite) {
  ASSERT_EQ(camera_presets().size(), 4u);
  for (std::string_view name : camera_presets()) {
    auto ccm = preset_ccm(name);
    ASSERT_TRUE(ccm.has_value()) << name;
    expect_rows_sum_to_one(*ccm, 1e-12);
    // A camera's primaries overlap more than sRGB's: the CCM boosts saturation, so its
    // diagonal exceeds 1 and some off-diagonal entries are negative.
    for (int i = 0; i < 3; ++i) EXPECT_GT((*ccm)[4 * i], 1.0) << name;
  }
  EXPECT_FALSE(preset_ccm("leica_m3").has_value());
}

TEST(ColourMatrices, ConstructionIsBrooksEtAls) {
  // Sony A7R: rgb_to_camera = xyz_to_camera * sRGB->XYZ, rows normalised; ccm its inverse.
  const auto& a7r = camera_preset_table()[1];
  ASSERT_EQ(a7r.name, "sony_a7r");
  const Matrix3 rgb_to_camera = rgb_to_camera_from_xyz(a7r.xyz_to_camera);
  // First entry by hand: 0.4913 * 0.4124564 - 0.0541 * 0.2126729 - 0.0202 * 0.0193339,
  // over its row's sum.
  const double r00 = 0.4913 * 0.4124564 - 0.0541 * 0.2126729 - 0.0202 * 0.0193339;
  const double r01 = 0.4913 * 0.3575761 - 0.0541 * 0.7151522 - 0.0202 * 0.1191920;
  const double r02 = 0.4913 * 0.1804375 - 0.0541 * 0.0721750 - 0.0202 * 0.9503041;
  EXPECT_NEAR(rgb_to_camera[0], r00 / (r00 + r01 + r02), 1e-12);
  const Matrix3 product = multiply(*preset_ccm("sony_a7r"), rgb_to_camera);
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(product[i], kIdentity3[i], 1e-12) << i;
}

TEST(ColourMatrices, InverseIsExact) {
  const Matrix3 m = {0.9, 0.2, -0.1, -0.3, 1.4, -0.1, 0.05, -0.4, 1.35};
  auto inverse = invert(m);
  ASSERT_TRUE(inverse.has_value());
  for (const Matrix3& product : {multiply(m, *inverse), multiply(*inverse, m)})
    for (int i = 0; i < 9; ++i) EXPECT_NEAR(product[i], kIdentity3[i], 1e-14) << i;
  const Rgb3 v = multiply(*inverse, multiply(m, Rgb3{0.2, 0.5, 0.7}));
  EXPECT_NEAR(v[0], 0.2, 1e-15);
  EXPECT_NEAR(v[2], 0.7, 1e-15);
  EXPECT_FALSE(invert({1, 2, 3, 2, 4, 6, 0, 0, 1}).has_value());
  EXPECT_FALSE(invert({0, 0, 0, 0, 0, 0, 0, 0, 0}).has_value());
}

TEST(ColourMatrices, RandomCcmRowsSumToOneAndDependOnlyOnTheStream) {
  Pcg32 rng = Pcg32::for_purpose(77, "sensor.ccm");
  Matrix3 first{};
  for (int draw = 0; draw < 200; ++draw) {
    const Matrix3 ccm = random_ccm(rng);
    if (draw == 0) first = ccm;
    expect_rows_sum_to_one(ccm, 1e-12);
    // Mixtures of the presets stay in the family: a saturation boost on the diagonal.
    for (int i = 0; i < 3; ++i) ASSERT_GT(ccm[4 * i], 1.0);
  }
  Pcg32 again = Pcg32::for_purpose(77, "sensor.ccm");
  EXPECT_EQ(random_ccm(again), first);
  Pcg32 other = Pcg32::for_purpose(78, "sensor.ccm");
  EXPECT_NE(random_ccm(other), first);
}

}  // namespace
}  // namespace synthfarm::sensor
