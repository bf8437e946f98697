#include "sensor/noise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/math.h"
#include "sensor/calibration_testing.h"

namespace synthfarm::sensor {
namespace {

using calibration_testing::kProfile;
using calibration_testing::noisy_flat;

double mean_of(const RawImage& raw) {
  double sum = 0;
  for (float v : raw.data) sum += v;
  return sum / static_cast<double>(raw.data.size());
}

// var(A - B) / 2: the temporal variance of one frame, as photon transfer measures it.
double half_difference_variance(const RawImage& a, const RawImage& b) {
  double mean = 0;
  for (size_t i = 0; i < a.data.size(); ++i) mean += static_cast<double>(a.data[i]) - b.data[i];
  mean /= static_cast<double>(a.data.size());
  double sum = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    const double d = static_cast<double>(a.data[i]) - b.data[i] - mean;
    sum += d * d;
  }
  return sum / static_cast<double>(a.data.size() - 1) / 2;
}

// Acceptance: at three ISO settings, flat fields at several levels and dark frames, in pairs;
// b from the dark pair, a by least squares of (var - b) on the signal through the origin.
TEST(Noise, PhotonTransferRecoversTheProfileAtThreeIsos) {
  constexpr int kSize = 256, kBitDepth = 14;
  constexpr double kBlack = 0.0625;
  const std::vector<double> levels = {0.05, 0.1, 0.2, 0.4, 0.6};
  uint64_t seed = 1000;
  for (int iso : {100, 800, 3200}) {
    const NoiseParams truth = profile_noise(kProfile, iso);
    const RawImage dark1 = noisy_flat(kSize, kSize, kBlack, 0, kProfile, iso, kBitDepth, ++seed);
    const RawImage dark2 = noisy_flat(kSize, kSize, kBlack, 0, kProfile, iso, kBitDepth, ++seed);
    const double b = half_difference_variance(dark1, dark2);
    const double black = 0.5 * (mean_of(dark1) + mean_of(dark2));
    double sxy = 0, sxx = 0;
    for (double level : levels) {
      const RawImage f1 = noisy_flat(kSize, kSize, kBlack, level, kProfile, iso, kBitDepth, ++seed);
      const RawImage f2 = noisy_flat(kSize, kSize, kBlack, level, kProfile, iso, kBitDepth, ++seed);
      const double x = 0.5 * (mean_of(f1) + mean_of(f2)) - black;
      const double var = half_difference_variance(f1, f2);
      EXPECT_NEAR(x, level, 1e-3) << "iso " << iso;
      sxy += x * (var - b);
      sxx += x * x;
    }
    const double a = sxy / sxx;
    const double a_error = a / truth.shot - 1, b_error = b / truth.read - 1;
    std::cout << fmt::format(
        "noise iso={} a={:.5g} (profile {:.5g}, {:+.2f}%) b={:.5g} (profile {:.5g}, {:+.2f}%)\n",
        iso, a, truth.shot, 100 * a_error, b, truth.read, 100 * b_error);
    RecordProperty(fmt::format("iso{}_a", iso), fmt::format("{:.6g}", a));
    RecordProperty(fmt::format("iso{}_b", iso), fmt::format("{:.6g}", b));
    EXPECT_LT(std::abs(a_error), 0.05) << "iso " << iso;
    EXPECT_LT(std::abs(b_error), 0.10) << "iso " << iso;
    EXPECT_NEAR(black, kBlack, 1e-4) << "the pedestal keeps the noise around black unclipped";
  }
}

TEST(Noise, RowOffsetsHaveTheirStd) {
  RawImage raw;
  raw.width = 512;
  raw.height = 512;
  raw.black_level = 0.25;
  raw.data.assign(512 * 512, 0.5f);
  NoiseParams noise;
  noise.row = 0.01;
  add_noise(raw, noise, 7);
  double sum = 0, sum2 = 0;
  for (int y = 0; y < raw.height; ++y) {
    const double offset = raw.data[static_cast<size_t>(y) * raw.width] - 0.5;
    for (int x = 1; x < raw.width; ++x)
      ASSERT_EQ(raw.data[static_cast<size_t>(y) * raw.width + x],
                raw.data[static_cast<size_t>(y) * raw.width])
          << "without shot and read noise a row is one offset";
    sum += offset;
    sum2 += offset * offset;
  }
  const double stddev = std::sqrt(sum2 / raw.height - (sum / raw.height) * (sum / raw.height));
  EXPECT_NEAR(stddev, 0.01, 0.001);
}

TEST(Noise, QuantisesToTheBitDepthAndClips) {
  RawImage raw;
  raw.width = 64;
  raw.height = 64;
  for (int i = 0; i < 64 * 64; ++i)
    raw.data.push_back(static_cast<float>(i) / (64 * 64 - 1) * 1.2f - 0.1f);
  NoiseParams noise;
  noise.bit_depth = 10;
  add_noise(raw, noise, 1);
  for (float v : raw.data) {
    ASSERT_GE(v, 0.0f);
    ASSERT_LE(v, 1.0f);
    const double code = v * 1023.0;
    ASSERT_NEAR(code, std::round(code), 1e-3) << v;
  }
  EXPECT_EQ(raw.data.front(), 0.0f);
  EXPECT_EQ(raw.data.back(), 1.0f);
}

TEST(Noise, SameSeedSameNoiseAndRowsAreIndependentStreams) {
  const RawImage a = noisy_flat(64, 32, 0.0625, 0.3, kProfile, 1600, 0, 42);
  const RawImage b = noisy_flat(64, 32, 0.0625, 0.3, kProfile, 1600, 0, 42);
  const RawImage c = noisy_flat(64, 32, 0.0625, 0.3, kProfile, 1600, 0, 43);
  EXPECT_EQ(a.data, b.data);
  EXPECT_NE(a.data, c.data);
  // A taller frame repeats the shorter one's rows: each row draws from its own stream.
  const RawImage tall = noisy_flat(64, 64, 0.0625, 0.3, kProfile, 1600, 0, 42);
  EXPECT_TRUE(std::equal(a.data.begin(), a.data.end(), tall.data.begin()));
}

TEST(Noise, BrooksDrawsFollowTheirLogLinearModel) {
  Pcg32 rng(5, 9);
  constexpr int kDraws = 4000;
  double residual_sum = 0, residual_sum2 = 0;
  for (int i = 0; i < kDraws; ++i) {
    const NoiseParams p = brooks_noise(rng, 0.0001, 0.012, 2.18, 1.2, 0.26);
    ASSERT_GE(p.shot, 0.0001 * (1 - 1e-12));
    ASSERT_LE(p.shot, 0.012 * (1 + 1e-12));
    const double residual = portable_log(p.read) - (2.18 * portable_log(p.shot) + 1.2);
    residual_sum += residual;
    residual_sum2 += residual * residual;
  }
  const double mean = residual_sum / kDraws;
  EXPECT_NEAR(mean, 0, 0.02);
  EXPECT_NEAR(std::sqrt(residual_sum2 / kDraws - mean * mean), 0.26, 0.01);
}

TEST(Noise, ProfileNoiseIsTheDngForm) {
  const NoiseParams p = profile_noise({2e-6, 1e-5, 3e-12, 4e-7}, 400);
  EXPECT_DOUBLE_EQ(p.shot, 2e-6 * 400 + 1e-5);
  EXPECT_DOUBLE_EQ(p.read, 3e-12 * 400 * 400 + 4e-7);
  EXPECT_EQ(profile_noise({-1, 0, -1, 0}, 100).shot, 0) << "never a negative variance";
}

TEST(Noise, StandardNormalMoments) {
  Pcg32 rng(11, 3);
  double sum = 0, sum2 = 0, sum4 = 0;
  constexpr int kDraws = 200000;
  for (int i = 0; i < kDraws; ++i) {
    const double z = standard_normal(rng);
    sum += z;
    sum2 += z * z;
    sum4 += z * z * z * z;
  }
  EXPECT_NEAR(sum / kDraws, 0, 0.01);
  EXPECT_NEAR(sum2 / kDraws, 1, 0.01);
  EXPECT_NEAR(sum4 / kDraws, 3, 0.05) << "Gaussian tails (kurtosis 3)";
}

}  // namespace
}  // namespace synthfarm::sensor
