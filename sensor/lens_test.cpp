// The lens models (lens.h): OpenCV's conventions checked against values worked out by hand,
// distort / undistort round trips over whole images, the fold checks, and the wide render's
// coverage.
#include "sensor/lens.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace synthfarm::sensor {
namespace {

Distortion brown(double k1, double k2, double p1, double p2, double k3, double k4 = 0,
                 double k5 = 0, double k6 = 0) {
  return {LensModel::kBrownConrady, {k1, k2, p1, p2, k3, k4, k5, k6}};
}
Distortion fisheye(double k1, double k2, double k3, double k4) {
  return {LensModel::kFisheye, {k1, k2, k3, k4, 0, 0, 0, 0}};
}

// Strong lenses on a 640 x 480 image, each with the focal length it is used at.
struct Case {
  const char* name;
  Distortion d;
  Pinhole camera;
};
std::vector<Case> strong_cases() {
  return {
      // Barrel with tangential terms: the corners come from r = 1.02 (45.6 degrees).
      {"brown_conrady", brown(-0.35, 0.12, 0.002, -0.0015, -0.02), {500, 500, 320, 240, 640, 480}},
      // The rational model as OpenCV's CALIB_RATIONAL_MODEL fits wide lenses (k1 ~ k4).
      {"rational",
       brown(2.0, 0.5, 0.001, -0.001, 0.01, 2.3, 0.9, 0.05),
       {420, 420, 318, 243, 640, 480}},
      // A fisheye whose corners see 80 degrees off the axis (beyond what a pinhole renders).
      {"fisheye", fisheye(-0.05, 0.01, -0.003, 0.0005), {300, 300, 320, 240, 640, 480}},
  };
}

// (a) Every pixel centre of the image, undistorted and distorted again, comes back within
// 0.01 px (in practice to ~1e-10 px); and the undistorted point survives the opposite trip.
TEST(Lens, DistortUndistortRoundTripsEveryPixelCentre) {
  for (const Case& c : strong_cases()) {
    const Pinhole& k = c.camera;
    double max_error_px = 0, max_inverse_error = 0;
    for (int j = 0; j < k.height; ++j) {
      for (int i = 0; i < k.width; ++i) {
        const double u = i + 0.5, v = j + 0.5;
        const double xd = (u - k.cx) / k.fx, yd = (v - k.cy) / k.fy;
        auto p = undistort(c.d, xd, yd);
        ASSERT_TRUE(p.has_value()) << c.name << " at (" << u << ", " << v << "): " << p.error();
        const Point2 back = distort(c.d, p->x, p->y);
        max_error_px = std::max(
            {max_error_px, std::abs(k.fx * back.x + k.cx - u), std::abs(k.fy * back.y + k.cy - v)});
        auto again = undistort(c.d, back.x, back.y);
        ASSERT_TRUE(again.has_value()) << again.error();
        max_inverse_error =
            std::max({max_inverse_error, std::abs(again->x - p->x), std::abs(again->y - p->y)});
      }
    }
    std::printf("%-14s max round-trip error %.3g px (undistorted side %.3g)\n", c.name,
                max_error_px, max_inverse_error);
    EXPECT_LT(max_error_px, 0.01) << c.name;
    EXPECT_LT(max_error_px, 1e-8) << c.name << ": the iteration stops at a 1e-12 residual";
    EXPECT_LT(max_inverse_error, 1e-9) << c.name;
  }
}

// (b) cv::projectPoints' Brown-Conrady formula at (x, y) = (0.3, -0.2), worked by hand:
//   r2 = 0.09 + 0.04 = 0.13; r4 = 0.0169; r6 = 0.002197
//   k = (-0.3, 0.1, 0.01, -0.02, 0.05): radial = 1 - 0.039 + 0.00169 + 0.00010985 = 0.96279985
//   xd = 0.3 * 0.96279985 + 2 * 0.01 * 0.3 * -0.2 - 0.02 * (0.13 + 0.18) = 0.281439955
//   yd = -0.2 * 0.96279985 + 0.01 * (0.13 + 0.08) + 2 * -0.02 * 0.3 * -0.2 = -0.18805997
// and with k4..k6 = (0.2, 0.03, 0.001): the denominator 1 + 0.026 + 0.000507 + 0.000002197 =
// 1.026509197, radial = 0.96279985 / 1.026509197 = 0.937935921873674,
//   xd = 0.3 * 0.937935921873674 - 0.0012 - 0.0062 = 0.27398077656210224
//   yd = -0.2 * 0.937935921873674 + 0.0021 + 0.0024 = -0.1830871843747348.
TEST(Lens, BrownConradyMatchesOpenCvsFormulaByHand) {
  const Point2 plain = distort(brown(-0.3, 0.1, 0.01, -0.02, 0.05), 0.3, -0.2);
  EXPECT_NEAR(plain.x, 0.281439955, 1e-15);
  EXPECT_NEAR(plain.y, -0.18805997, 1e-15);
  const Distortion rational = brown(-0.3, 0.1, 0.01, -0.02, 0.05, 0.2, 0.03, 0.001);
  const Point2 p = distort(rational, 0.3, -0.2);
  EXPECT_NEAR(p.x, 0.27398077656210224, 1e-15);
  EXPECT_NEAR(p.y, -0.1830871843747348, 1e-15);
  auto back = undistort(rational, p.x, p.y);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_NEAR(back->x, 0.3, 1e-12);
  EXPECT_NEAR(back->y, -0.2, 1e-12);
  // p1 moves x by 2 p1 x y and y by p1 (r2 + 2 y^2); p2 the other way round (OpenCV's order
  // k1, k2, p1, p2, k3: the third coefficient is p1).
  const Point2 only_p1 = distort(brown(0, 0, 0.01, 0, 0), 0.3, -0.2);
  EXPECT_NEAR(only_p1.x, 0.3 - 0.0012, 1e-15);
  EXPECT_NEAR(only_p1.y, -0.2 + 0.0021, 1e-15);
}

// cv::fisheye at (x, y) = (0.6, 0.8): r = 1, theta = pi / 4; with k = (0.1, -0.05, 0.01, -0.002)
// theta_d = pi/4 (1 + 0.1 (pi/4)^2 - 0.05 (pi/4)^4 + 0.01 (pi/4)^6 - 0.002 (pi/4)^8)
//         = 0.8205191186006062, and (xd, yd) = (0.6, 0.8) * theta_d / 1.
TEST(Lens, FisheyeMatchesKannalaBrandtByHand) {
  const Distortion d = fisheye(0.1, -0.05, 0.01, -0.002);
  const Point2 p = distort(d, 0.6, 0.8);
  EXPECT_NEAR(p.x, 0.4923114711603637, 1e-15);
  EXPECT_NEAR(p.y, 0.656415294880485, 1e-15);
  auto back = undistort(d, p.x, p.y);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_NEAR(back->x, 0.6, 1e-12);
  EXPECT_NEAR(back->y, 0.8, 1e-12);
  // With no coefficients the fisheye is the equidistant lens: distorted radius = angle.
  const Point2 equidistant = distort(fisheye(0, 0, 0, 0), 1, 0);
  EXPECT_NEAR(equidistant.x, 0.78539816339744831, 1e-15);
  EXPECT_EQ(distort(d, 0, 0).x, 0);
}

TEST(Lens, JacobianMatchesFiniteDifferences) {
  for (const Case& c : strong_cases()) {
    for (auto [x, y] : {std::pair{0.3, -0.2}, {-0.7, 0.45}, {1e-6, 2e-6}, {0.0, 0.0}}) {
      const auto j = distortion_jacobian(c.d, x, y);
      const double h = 1e-6;
      const Point2 px0 = distort(c.d, x - h, y), px1 = distort(c.d, x + h, y);
      const Point2 py0 = distort(c.d, x, y - h), py1 = distort(c.d, x, y + h);
      EXPECT_NEAR(j[0], (px1.x - px0.x) / (2 * h), 1e-7) << c.name << " at " << x << ", " << y;
      EXPECT_NEAR(j[1], (py1.x - py0.x) / (2 * h), 1e-7) << c.name;
      EXPECT_NEAR(j[2], (px1.y - px0.y) / (2 * h), 1e-7) << c.name;
      EXPECT_NEAR(j[3], (py1.y - py0.y) / (2 * h), 1e-7) << c.name;
    }
  }
}

// (c) r (1 - 0.9 r^2) peaks at r = 1 / sqrt(2.7) = 0.6086: beyond it the image folds.
TEST(Lens, FoldErrorReportsAFoldingRadialModel) {
  const Distortion strong = brown(-0.9, 0, 0, 0, 0);
  auto error = fold_error(strong, 1.0);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("k1 = -0.9"), std::string::npos) << *error;
  EXPECT_NE(error->find("folds at r = 0.609"), std::string::npos) << *error;
  EXPECT_NEAR(unfolded_radius(strong, 1.0), 0.6086, 1e-3);
  EXPECT_FALSE(fold_error(strong, 0.6).has_value()) << "valid below the fold";
  // A mild barrel: 1 - 0.6 r^2 > 0 up to r = 1.
  EXPECT_FALSE(fold_error(brown(-0.2, 0, 0, 0, 0), 1.0).has_value());
  EXPECT_EQ(unfolded_radius(brown(-0.2, 0, 0, 0, 0), 1.0), 1.0);
  // The rational denominator 1 - r^2 reaches 0 at r = 1.
  auto pole = fold_error(brown(0, 0, 0, 0, 0, -1, 0, 0), 1.5);
  ASSERT_TRUE(pole.has_value());
  EXPECT_NE(pole->find("denominator"), std::string::npos) << *pole;
  // Strong tangential terms fold the image although the radial part is the identity.
  auto tangential = fold_error(brown(0, 0, 0.4, 0, 0), 2.0);
  ASSERT_TRUE(tangential.has_value());
  EXPECT_NE(tangential->find("tangential"), std::string::npos) << *tangential;
  EXPECT_FALSE(fold_error(brown(0, 0, 0.002, -0.0015, 0), 1.0).has_value());
  EXPECT_TRUE(fold_error(brown(NAN, 0, 0, 0, 0), 1.0).has_value());
  EXPECT_FALSE(fold_error(Distortion{}, 100).has_value());
}

// theta (1 - 0.5 theta^2) stops increasing at theta = 1 / sqrt(1.5) = 0.8165 (46.78 degrees,
// r = tan theta = 1.0642).
TEST(Lens, FoldErrorReportsADecreasingFisheye) {
  const Distortion d = fisheye(-0.5, 0, 0, 0);
  auto error = fold_error(d, 2.0);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("theta_d stops increasing at theta = 46.8 degrees"), std::string::npos)
      << *error;
  EXPECT_FALSE(fold_error(d, 1.0).has_value());
  EXPECT_NEAR(unfolded_radius(d, 2.0), 1.0642, 1e-3);
  EXPECT_FALSE(fold_error(fisheye(-0.05, 0.01, -0.003, 0.0005), 1e4).has_value());
}

// A keypoint beyond the fold would otherwise land back inside the image: r = 1.5 with
// k1 = -0.35 distorts to 1.5 (1 - 0.7875) = 0.32, well inside.
TEST(Lens, ProjectPointRefusesPointsBeyondTheFold) {
  const Distortion d = brown(-0.35, 0, 0, 0, 0);
  const Pinhole camera{500, 500, 320, 240, 640, 480};
  const double valid = unfolded_radius(d);
  EXPECT_NEAR(valid, std::sqrt(1 / 1.05), 1e-3);
  EXPECT_FALSE(project_point(d, camera, 1.5, 0, 1, valid).has_value());
  EXPECT_NEAR(distort(d, 1.5, 0).x, 0.31875, 1e-12) << "the fold the check prevents";
  auto inside = project_point(d, camera, 0.4, -0.3, 2, valid);
  ASSERT_TRUE(inside.has_value());
  const Point2 n = distort(d, 0.2, -0.15);
  EXPECT_DOUBLE_EQ(inside->x, 500 * n.x + 320);
  EXPECT_DOUBLE_EQ(inside->y, 500 * n.y + 240);
  EXPECT_FALSE(project_point(d, camera, 0, 0, -1, valid).has_value()) << "behind the camera";
}

// (d) The wide render holds every output pixel's undistorted ray (pixel edges included),
// with 0.5 px to spare for bilinear sampling, at the output's density at the centre.
TEST(Lens, WidePinholeCoversEveryOutputPixel) {
  std::vector<Case> cases = strong_cases();
  cases[2].camera = {400, 400, 320, 240, 640, 480};  // the fisheye within 75 degrees
  for (const Case& c : cases) {
    auto wide = wide_pinhole(c.d, c.camera);
    ASSERT_TRUE(wide.has_value()) << c.name << ": " << wide.error();
    EXPECT_EQ(wide->fx, c.camera.fx);
    EXPECT_EQ(wide->fy, c.camera.fy);
    auto required = required_radius(c.d, c.camera);
    ASSERT_TRUE(required.has_value()) << required.error();
    EXPECT_FALSE(fold_error(c.d, *required).has_value());
    double margin = 1e9, farthest = 0;
    auto check = [&](double u, double v) {
      auto p = undistort(c.d, (u - c.camera.cx) / c.camera.fx, (v - c.camera.cy) / c.camera.fy);
      ASSERT_TRUE(p.has_value()) << p.error();
      farthest = std::max(farthest, std::hypot(p->x, p->y));
      const double uw = wide->fx * p->x + wide->cx, vw = wide->fy * p->y + wide->cy;
      margin = std::min({margin, uw, vw, wide->width - uw, wide->height - vw});
    };
    for (int j = 0; j < c.camera.height; ++j)
      for (int i = 0; i < c.camera.width; ++i) check(i + 0.5, j + 0.5);
    for (int i = 0; i <= c.camera.width; ++i) check(i, 0), check(i, c.camera.height);
    for (int j = 0; j <= c.camera.height; ++j) check(0, j), check(c.camera.width, j);
    std::printf(
        "%-14s wide render %d x %d (fx %.1f, cx %.1f, cy %.1f), smallest margin %.2f px, r %.3f\n",
        c.name, wide->width, wide->height, wide->fx, wide->cx, wide->cy, margin, *required);
    EXPECT_GE(margin, 1.0) << c.name;
    EXPECT_NEAR(farthest, *required, 1e-9) << c.name;
    // Capped: fewer pixels, a smaller focal length, still covering.
    auto capped = wide_pinhole(c.d, c.camera, 640 * 480);
    ASSERT_TRUE(capped.has_value()) << capped.error();
    EXPECT_LE(static_cast<int64_t>(capped->width) * capped->height, 640 * 480) << c.name;
    margin = 1e9;
    wide = capped;
    for (int i = 0; i <= c.camera.width; ++i) check(i, 0), check(i, c.camera.height);
    for (int j = 0; j <= c.camera.height; ++j) check(0, j), check(c.camera.width, j);
    EXPECT_GE(margin, 1.0) << c.name << " capped";
  }
  const Pinhole camera{500, 500, 320, 240, 640, 480};
  auto none = wide_pinhole(Distortion{}, camera);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(*none, camera);
}

TEST(Lens, WidePinholeRefusesWhatAPinholeCannotRender) {
  // An equidistant fisheye whose corners are 1.33 rad (76 degrees) off the axis.
  auto too_wide = wide_pinhole(fisheye(0, 0, 0, 0), {300, 300, 320, 240, 640, 480});
  ASSERT_FALSE(too_wide.has_value());
  EXPECT_NE(too_wide.error().find("76.4 degrees off the axis"), std::string::npos)
      << too_wide.error();
  EXPECT_NE(too_wide.error().find("150 degree field of view"), std::string::npos)
      << too_wide.error();
  // Corners at theta_d = 1.6 rad: beyond 90 degrees.
  auto behind = wide_pinhole(fisheye(0, 0, 0, 0), {250, 250, 320, 240, 640, 480});
  ASSERT_FALSE(behind.has_value());
  EXPECT_NE(behind.error().find("90 degrees or more"), std::string::npos) << behind.error();
  // k1 = -0.9 folds at r = 0.609, where it reaches 0.406 < the corner's 0.8.
  auto folded = wide_pinhole(brown(-0.9, 0, 0, 0, 0), {500, 500, 320, 240, 640, 480});
  ASSERT_FALSE(folded.has_value());
  EXPECT_NE(folded.error().find("the radial model folds at r = 0.609"), std::string::npos)
      << folded.error();
  auto bad_camera = wide_pinhole(brown(-0.1, 0, 0, 0, 0), {0, 500, 320, 240, 640, 480});
  EXPECT_FALSE(bad_camera.has_value());
}

TEST(Lens, ModelNames) {
  for (LensModel model : {LensModel::kNone, LensModel::kBrownConrady, LensModel::kFisheye})
    EXPECT_EQ(lens_model_from_name(lens_model_name(model)), model);
  EXPECT_FALSE(lens_model_from_name("pinhole").has_value());
  EXPECT_EQ(coefficient_count(LensModel::kBrownConrady), 8);
  EXPECT_EQ(coefficient_count(LensModel::kFisheye), 4);
}

}  // namespace
}  // namespace synthfarm::sensor
