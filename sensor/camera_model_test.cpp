#include "sensor/camera_model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/math.h"
#include "sensor/jpeg.h"

namespace synthfarm::sensor {
namespace {


std::vector<float> constant_image(int width, int height, float r, float g, float b) {
  std::vector<float> rgb;
  for (int i = 0; i < width * height; ++i) rgb.insert(rgb.end(), {r, g, b});
  return rgb;
}

// Smooth colour: slow sinusoids, well inside [0, 1].
std::vector<float> smooth_image(int width, int height) {
  std::vector<float> rgb;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double u = static_cast<double>(x) / width, v = static_cast<double>(y) / height;
      rgb.push_back(static_cast<float>(0.35 + 0.25 * portable_sin(2 * u + 1.3 * v)));
      rgb.push_back(static_cast<float>(0.40 + 0.20 * portable_cos(1.5 * u - 2 * v)));
      rgb.push_back(static_cast<float>(0.30 + 0.20 * portable_sin(3 * v + 0.5)));
    }
  return rgb;
}

// Detail for JPEG and noise tests: a smooth image with a fine pattern on top.
std::vector<float> textured_image(int width, int height) {
  auto rgb = smooth_image(width, height);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[3 * (static_cast<size_t>(y) * width + x) + c] *=
            static_cast<float>(0.6 + 0.4 * (((x / 3) + (y / 5) + c) % 2));
  return rgb;
}

CameraParams clean_params() {
  CameraParams p;
  p.ccm = *preset_ccm("sony_a7r");
  p.tone = ToneCurve::kNone;
  return p;
}

TEST(CameraModel, MosaicSamplesTheCfasColour) {
  constexpr int kW = 6, kH = 4;
  const auto rgb = constant_image(kW, kH, 0.2f, 0.5f, 0.8f);
  for (Cfa cfa : kAllCfas) {
    CameraParams p;  // identity ccm
    p.cfa = cfa;
    p.rgb_gain = p.red_gain = p.blue_gain = 1;
    p.black_level = 0;
    const RawImage raw = mosaic(rgb, kW, kH, p);
    ASSERT_EQ(raw.cfa, cfa);
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x) {
        // The name spells the top-left 2 x 2 block.
        const char letter = cfa_name(cfa)[2 * (y % 2) + x % 2];
        const int channel = letter == 'r' ? 0 : letter == 'g' ? 1 : 2;
        EXPECT_EQ(raw.data[static_cast<size_t>(y) * kW + x], rgb[channel])
            << cfa_name(cfa) << " (" << x << ", " << y << ")";
      }
  }
}

TEST(CameraModel, MosaicDividesWhiteBalanceAndAddsThePedestal) {
  CameraParams p;
  p.rgb_gain = 1.25;
  p.red_gain = 2;
  p.blue_gain = 1.6;
  p.black_level = 0.0625;
  const RawImage raw = mosaic(constant_image(2, 2, 0.5f, 0.5f, 0.5f), 2, 2, p);  // RGGB
  EXPECT_NEAR(raw.data[0], 0.0625 + 0.9375 * 0.5 / (1.25 * 2), 1e-7);            // red
  EXPECT_NEAR(raw.data[1], 0.0625 + 0.9375 * 0.5 / 1.25, 1e-7);                  // green
  EXPECT_NEAR(raw.data[3], 0.0625 + 0.9375 * 0.5 / (1.25 * 1.6), 1e-7);          // blue
  const RawImage bright = mosaic(constant_image(2, 2, 5, 5, 5), 2, 2, p);
  EXPECT_EQ(bright.data[1], 1.0f) << "saturates at the white level";
}

// White balance and the CCM undo mosaic()'s inverses exactly: a flat colour (which every
// demosaicer reproduces exactly) comes back as its sRGB encoding, for every CFA and preset.
TEST(CameraModel, DevelopInvertsMosaicOnAFlatColour) {
  constexpr int kW = 8, kH = 6;
  const float colour[3] = {0.3f, 0.45f, 0.2f};
  const auto rgb = constant_image(kW, kH, colour[0], colour[1], colour[2]);
  for (std::string_view camera : camera_presets())
    for (Cfa cfa : kAllCfas) {
      CameraParams p = clean_params();
      p.ccm = *preset_ccm(camera);
      p.cfa = cfa;
      auto image = develop(mosaic(rgb, kW, kH, p), p);
      ASSERT_TRUE(image) << image.error();
      for (size_t i = 0; i < image->display.size(); ++i)
        ASSERT_NEAR(image->display[i], srgb_encode(colour[i % 3]), 2e-6)
            << camera << " " << cfa_name(cfa);
    }
}

TEST(CameraModel, DevelopRecoversASmoothImage) {
  constexpr int kW = 96, kH = 64;
  const auto rgb = smooth_image(kW, kH);
  for (Demosaic method : {Demosaic::kMalvar, Demosaic::kBilinear}) {
    CameraParams p = clean_params();
    p.demosaic = method;
    auto image = develop(mosaic(expose(rgb, kW, kH, p), kW, kH, p), p);
    ASSERT_TRUE(image) << image.error();
    // Inside, the interpolation error of a smooth image; on the outermost two photosites the
    // mirrored border flattens the slope, so an error up to about one pixel's change.
    double inside = 0, border = 0;
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x)
        for (int c = 0; c < 3; ++c) {
          const size_t i = 3 * (static_cast<size_t>(y) * kW + x) + c;
          const double error = std::abs(image->display[i] - srgb_encode(rgb[i]));
          const bool edge = x < 2 || y < 2 || x >= kW - 2 || y >= kH - 2;
          (edge ? border : inside) = std::max(edge ? border : inside, error);
        }
    std::cout << demosaic_name(method) << ": worst error inside " << inside << ", on the border "
              << border << "\n";
    EXPECT_LT(inside, 1e-3) << demosaic_name(method);
    EXPECT_LT(border, 0.02) << demosaic_name(method);
    for (size_t i = 0; i < rgb.size(); ++i)
      ASSERT_EQ(image->srgb8[i], static_cast<uint8_t>(image->display[i] * 255.0f + 0.5f));
  }
}

TEST(CameraModel, ExposureVignettingAndLateralAberration) {
  constexpr int kW = 200, kH = 100;
  CameraParams p;
  p.exposure = 2;
  p.vignetting = 0.4;
  const auto out = expose(constant_image(kW, kH, 0.25f, 0.25f, 0.25f), kW, kH, p);
  const size_t centre = 3 * (static_cast<size_t>(kH / 2) * kW + kW / 2), corner = 0;
  EXPECT_NEAR(out[centre], 0.5, 1e-3);
  EXPECT_NEAR(out[corner], 0.5 * 0.6, 0.005) << "the corner keeps 1 - vignetting";
  EXPECT_GT(out[3 * static_cast<size_t>(kW / 2)], out[corner]) << "falls off with the radius";

  // A small grey blob out towards a corner: red moves outwards, blue inwards, green stays.
  constexpr double kBx = 170.5, kBy = 80.5;
  std::vector<float> blob(static_cast<size_t>(kW) * kH * 3);
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x) {
      const double d2 = (x + 0.5 - kBx) * (x + 0.5 - kBx) + (y + 0.5 - kBy) * (y + 0.5 - kBy);
      for (int c = 0; c < 3; ++c)
        blob[3 * (static_cast<size_t>(y) * kW + x) + c] = static_cast<float>(portable_exp(-d2 / 8));
    }
  CameraParams ca;
  ca.chromatic_aberration = 4;
  const auto shifted = expose(blob, kW, kH, ca);
  auto centroid_x = [&](int c) {
    double sum = 0, weight = 0;
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x) {
        const double v = shifted[3 * (static_cast<size_t>(y) * kW + x) + c];
        sum += v * (x + 0.5);
        weight += v;
      }
    return sum / weight;
  };
  const double corner_radius = std::sqrt(100.0 * 100.0 + 50.0 * 50.0);
  const double expected_shift = 4 * (kBx - 100) / corner_radius;  // x component at the blob
  EXPECT_NEAR(centroid_x(1), kBx, 0.01);
  EXPECT_NEAR(centroid_x(0) - kBx, expected_shift, 0.1);
  EXPECT_NEAR(centroid_x(2) - kBx, -expected_shift, 0.15);
}

TEST(CameraModel, ExposureChoices) {
  EXPECT_NEAR(auto_exposure(constant_image(8, 8, 0.09f, 0.09f, 0.09f), 8, 8), 0.18 / (0.09f + 1e-4),
              1e-6);
  EXPECT_EQ(auto_exposure({}, 0, 0), 1.0);
  EXPECT_DOUBLE_EQ(manual_exposure(100, 0.01, 16), 0.25)
      << "sunny 16 puts the default daylight's white at 1";
  EXPECT_DOUBLE_EQ(manual_exposure(200, 0.01, 16), 0.5);
}

TEST(CameraModel, SharpeningRaisesEdgeContrast) {
  constexpr int kW = 32, kH = 8;
  std::vector<float> edge;
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x)
      for (int c = 0; c < 3; ++c) edge.push_back(x < kW / 2 ? 0.1f : 0.4f);
  CameraParams p;
  p.rgb_gain = p.red_gain = p.blue_gain = 1;
  p.tone = ToneCurve::kNone;
  auto soft = develop(mosaic(edge, kW, kH, p), p);
  p.sharpen = 1.5;
  auto sharp = develop(mosaic(edge, kW, kH, p), p);
  ASSERT_TRUE(soft && sharp);
  const size_t dark = 3 * static_cast<size_t>(kW / 2 - 1), light = 3 * static_cast<size_t>(kW / 2);
  EXPECT_LT(sharp->display[dark + 1], soft->display[dark + 1] - 0.02);
  EXPECT_GT(sharp->display[light + 1], soft->display[light + 1] + 0.02);
  EXPECT_NEAR(sharp->display[3 * 2 + 1], soft->display[3 * 2 + 1], 1e-6) << "flat areas unchanged";
}

TEST(CameraModel, LowerJpegQualityMeansSmallerFilesAndLargerErrors) {
  constexpr int kW = 128, kH = 96;
  const auto rgb = textured_image(kW, kH);
  CameraParams p = clean_params();
  auto reference = apply_camera(rgb, kW, kH, p, 1);
  ASSERT_TRUE(reference) << reference.error();
  EXPECT_TRUE(reference->jpeg.empty());
  size_t previous_size = 0;
  double previous_error = -1;
  for (int quality : {95, 75, 40, 10}) {
    p.jpeg_quality = quality;
    auto image = apply_camera(rgb, kW, kH, p, 1);
    ASSERT_TRUE(image) << image.error();
    ASSERT_EQ(image->jpeg.substr(0, 3), "\xff\xd8\xff");
    auto decoded = decode_jpeg(image->jpeg);
    ASSERT_TRUE(decoded) << decoded.error();
    EXPECT_EQ(decoded->pixels, image->srgb8) << "the camera image is the decoded JPEG";
    double error = 0;
    for (size_t i = 0; i < image->srgb8.size(); ++i) {
      const double d = static_cast<double>(image->srgb8[i]) - reference->srgb8[i];
      error += d * d;
    }
    error /= static_cast<double>(image->srgb8.size());
    std::cout << "jpeg quality " << quality << ": " << image->jpeg.size() << " bytes, mse " << error
              << "\n";
    if (previous_error >= 0) {
      EXPECT_LT(image->jpeg.size(), previous_size) << quality;
      EXPECT_GT(error, previous_error) << quality;
    }
    previous_size = image->jpeg.size();
    previous_error = error;
  }
}

TEST(CameraModel, JpegErrorsAreMessages) {
  EXPECT_FALSE(decode_jpeg("not a jpeg"));
  EXPECT_FALSE(decode_jpeg(""));
  std::vector<uint8_t> rgb(12, 128);
  EXPECT_FALSE(encode_jpeg(rgb, 2, 2, 0));
  EXPECT_FALSE(encode_jpeg(rgb, 3, 2, 50));
  auto jpeg = encode_jpeg(rgb, 2, 2, 50);
  ASSERT_TRUE(jpeg);
  EXPECT_TRUE(decode_jpeg(*jpeg));
}

TEST(CameraModel, SameSeedSameBytesOtherSeedOtherBytes) {
  constexpr int kW = 64, kH = 48;
  const auto rgb = textured_image(kW, kH);
  CameraParams p;
  Pcg32 rng = Pcg32::for_purpose(9, "sensor.ccm");
  p.ccm = random_ccm(rng);
  p.noise = profile_noise({1e-6, 5e-6, 1e-12, 2e-7}, 1600);
  p.noise.row = 0.002;
  p.noise.bit_depth = 12;
  p.jpeg_quality = 85;
  p.vignetting = 0.3;
  p.chromatic_aberration = 1.5;
  p.sharpen = 0.5;
  auto a = apply_camera(rgb, kW, kH, p, 1234);
  auto b = apply_camera(rgb, kW, kH, p, 1234);
  auto c = apply_camera(rgb, kW, kH, p, 1235);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->jpeg, b->jpeg);
  EXPECT_EQ(a->srgb8, b->srgb8);
  EXPECT_EQ(a->display, b->display);
  EXPECT_NE(a->jpeg, c->jpeg);
  EXPECT_NE(a->srgb8, c->srgb8);
}

TEST(CameraModel, ParameterErrorsNameTheField) {
  const auto rgb = constant_image(4, 4, 0.5f, 0.5f, 0.5f);
  auto error_of = [&](auto change) {
    CameraParams p;
    change(p);
    auto image = apply_camera(rgb, 4, 4, p, 0);
    return image ? std::string("accepted") : image.error();
  };
  EXPECT_NE(error_of([](CameraParams& p) { p.jpeg_quality = 101; }).find("jpeg_quality"),
            std::string::npos);
  EXPECT_NE(error_of([](CameraParams& p) { p.noise.bit_depth = 4; }).find("bit_depth"),
            std::string::npos);
  EXPECT_NE(error_of([](CameraParams& p) { p.exposure = 0; }).find("exposure"), std::string::npos);
  EXPECT_NE(error_of([](CameraParams& p) { p.red_gain = NAN; }).find("red_gain"),
            std::string::npos);
  EXPECT_NE(error_of([](CameraParams& p) { p.ccm[0] = 2; }).find("ccm row 0"), std::string::npos);
  EXPECT_NE(error_of([](CameraParams& p) { p.ccm = {1, 0, 0, 1, 0, 0, 0, 0, 1}; }).find("singular"),
            std::string::npos);
  EXPECT_NE(error_of([](CameraParams& p) { p.vignetting = 1.5; }).find("vignetting"),
            std::string::npos);
  EXPECT_EQ(error_of([](CameraParams&) {}), "accepted");
  CameraParams p;
  EXPECT_FALSE(apply_camera(rgb, 4, 3, p, 0).has_value()) << "size does not match";
  RawImage raw;
  raw.width = 4;
  raw.height = 4;
  raw.data.resize(15);
  EXPECT_FALSE(develop(raw, p).has_value());
  EXPECT_THROW(expose(rgb, 4, 3, p), std::invalid_argument);
}

}  // namespace
}  // namespace synthfarm::sensor
