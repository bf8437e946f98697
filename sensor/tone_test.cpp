#include "sensor/tone.h"

#include <gtest/gtest.h>

namespace synthfarm::sensor {
namespace {

TEST(Tone, SrgbEncodingKnownValues) {
  EXPECT_EQ(srgb_encode(0), 0);
  EXPECT_NEAR(srgb_encode(1), 1, 1e-15);
  EXPECT_NEAR(srgb_encode(0.0031308), 0.040449936, 1e-8);  // the two pieces meet
  EXPECT_NEAR(srgb_encode(0.18), 0.461356129, 1e-8);       // middle grey
  EXPECT_EQ(srgb_encode(-1), 0);
  EXPECT_EQ(srgb_encode(2), srgb_encode(1));
}

TEST(Tone, SmoothstepIsBrooksEtAlsCurve) {
  EXPECT_EQ(smoothstep_tone(0), 0);
  EXPECT_EQ(smoothstep_tone(1), 1);
  EXPECT_EQ(smoothstep_tone(0.5), 0.5);
  EXPECT_DOUBLE_EQ(smoothstep_tone(0.25), 3 * 0.0625 - 2 * 0.015625);
  EXPECT_DOUBLE_EQ(display_transfer(0.18, ToneCurve::kSmoothstep),
                   smoothstep_tone(srgb_encode(0.18)));
  EXPECT_DOUBLE_EQ(display_transfer(0.18, ToneCurve::kNone), srgb_encode(0.18));
}

TEST(Tone, TableIsWithinOneMillionthOfTheFunction) {
  for (ToneCurve tone : {ToneCurve::kSmoothstep, ToneCurve::kNone}) {
    const DisplayTransfer table(tone);
    double worst = 0;
    for (int i = 0; i <= 200000; ++i) {
      const double x = (i / 200000.0) * (i / 200000.0);
      worst = std::max(worst, std::abs(table(static_cast<float>(x)) -
                                       display_transfer(static_cast<float>(x), tone)));
    }
    EXPECT_LT(worst, 1e-6) << tone_curve_name(tone);
    EXPECT_EQ(table(-1.0f), 0.0f);
    EXPECT_EQ(table(5.0f), table(1.0f));
  }
  EXPECT_EQ(tone_curve_from_name("none"), ToneCurve::kNone);
  EXPECT_FALSE(tone_curve_from_name("filmic").has_value());
}

}  // namespace
}  // namespace synthfarm::sensor
