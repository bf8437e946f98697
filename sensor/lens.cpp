#include "sensor/lens.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "base/math.h"

namespace synthfarm::sensor {
namespace {

constexpr double kHalfPi = 0.5 * kPi;
// The undistortion's convergence threshold, relative to 1 + |distorted point|.
constexpr double kUndistortTolerance = 1e-12;
constexpr int kMaxNewtonIterations = 100;
// fold_error's grid: radii uniform in the angle off the axis; directions for the tangential
// terms.
constexpr int kFoldRadii = 4096;
constexpr int kFoldDirections = 64;
// A pinhole render covers rays up to this far off the axis (a 150 degree field of view).
constexpr double kMaxPinholeAngleDeg = 75;
constexpr int kWideMarginPx = 2;  // around the wide render, for bilinear sampling
constexpr int kMaxWideSide = 16384;
// How far out unfolded_radius() and the image checks look for a fold (89.994 degrees).
constexpr double kFoldSearchLimit = 1e4;

constexpr std::array<std::string_view, 8> kBrownNames = {"k1", "k2", "p1", "p2",
                                                         "k3", "k4", "k5", "k6"};
constexpr std::array<std::string_view, 4> kFisheyeNames = {"k1", "k2", "k3", "k4"};

double portable_tan(double angle) { return portable_sin(angle) / portable_cos(angle); }
double rad_to_deg(double radians) { return radians * (180.0 / kPi); }

// "brown_conrady (k1 = -0.9, p1 = 0.01)": the model and its non-zero coefficients.
std::string describe(const Distortion& d) {
  std::string text(lens_model_name(d.model));
  std::string coefficients;
  for (int i = 0; i < coefficient_count(d.model); ++i) {
    if (d.k[i] == 0) continue;
    const std::string_view name =
        d.model == LensModel::kFisheye ? kFisheyeNames[i] : kBrownNames[i];
    coefficients += fmt::format("{}{} = {:.6g}", coefficients.empty() ? "" : ", ", name, d.k[i]);
  }
  return coefficients.empty() ? text : fmt::format("{} ({})", text, coefficients);
}

// The Brown-Conrady radial factor f(r2) = num / den and its derivative in r2.
struct Radial {
  double f = 1, df_dr2 = 0, den = 1;
};
Radial brown_radial(const std::array<double, 8>& k, double r2) {
  const double r4 = r2 * r2, r6 = r4 * r2;
  const double num = 1 + k[0] * r2 + k[1] * r4 + k[4] * r6;
  const double den = 1 + k[5] * r2 + k[6] * r4 + k[7] * r6;
  const double dnum = k[0] + 2 * k[1] * r2 + 3 * k[4] * r4;
  const double dden = k[5] + 2 * k[6] * r2 + 3 * k[7] * r4;
  return {num / den, (dnum * den - num * dden) / (den * den), den};
}

// Kannala-Brandt theta_d(theta) and its derivative in theta.
std::pair<double, double> fisheye_theta_d(const std::array<double, 8>& k, double theta) {
  const double theta2 = theta * theta, theta3 = theta2 * theta, theta4 = theta2 * theta2;
  const double theta5 = theta4 * theta, theta6 = theta3 * theta3, theta7 = theta6 * theta;
  const double theta8 = theta4 * theta4, theta9 = theta8 * theta;
  const double theta_d = theta + k[0] * theta3 + k[1] * theta5 + k[2] * theta7 + k[3] * theta9;
  const double slope =
      1 + 3 * k[0] * theta2 + 5 * k[1] * theta4 + 7 * k[2] * theta6 + 9 * k[3] * theta8;
  return {theta_d, slope};
}

// The distorted radius of undistorted radius r along the radial model alone (no tangential
// terms): r f(r^2) for Brown-Conrady, theta_d(atan r) for fisheye.
double radial_image(const Distortion& d, double r) {
  if (d.model == LensModel::kBrownConrady) return r * brown_radial(d.k, r * r).f;
  if (d.model == LensModel::kFisheye) return fisheye_theta_d(d.k, portable_atan2(r, 1.0)).first;
  return r;
}

bool finite_coefficients(const Distortion& d) {
  return std::all_of(d.k.begin(), d.k.end(), [](double v) { return std::isfinite(v); });
}

// The first grid radius (of kFoldRadii, uniform in angle up to atan(max_radius)) where the
// model stops being a valid lens, and why; nullopt when it is valid up to max_radius.
struct Fold {
  double radius = 0;    // the first bad grid radius
  double previous = 0;  // the last good one
  std::string message;  // what is wrong there
};
std::optional<Fold> first_fold(const Distortion& d, double max_radius) {
  if (d.model == LensModel::kNone || !(max_radius > 0)) return std::nullopt;
  const double max_angle = portable_atan2(max_radius, 1.0);
  const bool tangential = d.model == LensModel::kBrownConrady && (d.k[2] != 0 || d.k[3] != 0);
  double previous_r = 0, previous_image = 0;
  for (int i = 1; i <= kFoldRadii; ++i) {
    const double angle = max_angle * i / kFoldRadii;
    const double r = i == kFoldRadii ? max_radius : portable_tan(angle);
    auto fold = [&](std::string message) { return Fold{r, previous_r, std::move(message)}; };
    double slope = 0, image = 0;
    if (d.model == LensModel::kBrownConrady) {
      const Radial radial = brown_radial(d.k, r * r);
      if (!(radial.den > 0))
        return fold(fmt::format("the rational model's denominator reaches 0 at r = {:.3g}", r));
      slope = radial.f + 2 * r * r * radial.df_dr2;  // d(r f) / dr
      image = r * radial.f;
    } else {
      auto [theta_d, theta_slope] = fisheye_theta_d(d.k, angle);
      slope = theta_slope;
      image = theta_d;
    }
    if (!(slope > 0) || !(image > previous_image)) {
      return fold(
          d.model == LensModel::kFisheye
              ? fmt::format("theta_d stops increasing at theta = {:.3g} degrees (r = {:.3g}) "
                            "(the image would fold onto itself)",
                            rad_to_deg(angle), r)
              : fmt::format("the radial model folds at r = {:.3g} (the image would fold "
                            "onto itself)",
                            r));
    }
    if (tangential) {
      for (int j = 0; j < kFoldDirections; ++j) {
        const double phi = 2 * kPi * j / kFoldDirections;
        const double x = r * portable_cos(phi), y = r * portable_sin(phi);
        const auto jac = distortion_jacobian(d, x, y);
        if (!(jac[0] * jac[3] - jac[1] * jac[2] > 0)) {
          return fold(
              fmt::format("the tangential terms fold the image at (x, y) = ({:.3g}, {:.3g}), "
                          "r = {:.3g} (the image would fold onto itself)",
                          x, y, r));
        }
      }
    }
    previous_r = r;
    previous_image = image;
  }
  return std::nullopt;
}

// The output's normalised distorted coordinates of pixel position (u, v).
Point2 normalised(const Pinhole& camera, double u, double v) {
  return {(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy};
}

std::optional<std::string> pinhole_error(const Pinhole& camera) {
  if (!(camera.fx > 0 && camera.fy > 0 && std::isfinite(camera.fx) && std::isfinite(camera.fy) &&
        std::isfinite(camera.cx) && std::isfinite(camera.cy)))
    return fmt::format(
        "camera intrinsics must be finite with fx, fy > 0, got fx = {}, fy = {}, cx = {}, cy = {}",
        camera.fx, camera.fy, camera.cx, camera.cy);
  if (camera.width <= 0 || camera.height <= 0)
    return fmt::format("camera size must be positive, got {} x {}", camera.width, camera.height);
  return std::nullopt;
}

// The undistorted border of `output` (every half pixel along its edges): bounding box and
// largest radius, normalised.
struct Extent {
  double x0 = 0, x1 = 0, y0 = 0, y1 = 0, radius = 0;
};
tl::expected<Extent, std::string> undistorted_extent(const Distortion& d, const Pinhole& output) {
  if (auto bad = pinhole_error(output)) return tl::unexpected(*bad);
  if (!finite_coefficients(d)) return tl::unexpected(describe(d) + ": coefficients must be finite");
  double corner = 0;  // the image's largest distorted radius, at a corner
  for (double u : {0.0, static_cast<double>(output.width)}) {
    for (double v : {0.0, static_cast<double>(output.height)}) {
      const Point2 p = normalised(output, u, v);
      corner = std::max(corner, std::sqrt(p.x * p.x + p.y * p.y));
    }
  }
  // Where the lens stops being one, and the largest distorted radius it reaches before.
  const auto fold = first_fold(d, kFoldSearchLimit);
  const double limit = fold ? fold->previous : kFoldSearchLimit;
  const double reach = radial_image(d, limit);
  if (reach < corner) {
    if (!fold) {
      return tl::unexpected(
          fmt::format("{}: the image corners lie at distorted radius {:.3g}, which needs rays 90 "
                      "degrees or more "
                      "off the axis (the model reaches {:.3g} at most)",
                      describe(d), corner, reach));
    }
    return tl::unexpected(
        fmt::format("{}: the image corners lie at distorted radius {:.3g}, but {}, where the model "
                    "reaches only "
                    "{:.3g}",
                    describe(d), corner, fold->message, reach));
  }
  Extent extent{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                0};
  auto add = [&](double u, double v) -> std::optional<std::string> {
    const Point2 pd = normalised(output, u, v);
    auto p = undistort(d, pd.x, pd.y);
    if (!p) return fmt::format("{}: pixel position ({}, {}): {}", describe(d), u, v, p.error());
    extent.x0 = std::min(extent.x0, p->x);
    extent.x1 = std::max(extent.x1, p->x);
    extent.y0 = std::min(extent.y0, p->y);
    extent.y1 = std::max(extent.y1, p->y);
    extent.radius = std::max(extent.radius, std::sqrt(p->x * p->x + p->y * p->y));
    return std::nullopt;
  };
  for (int i = 0; i <= 2 * output.width; ++i) {
    for (double v : {0.0, static_cast<double>(output.height)})
      if (auto bad = add(0.5 * i, v)) return tl::unexpected(*bad);
  }
  for (int i = 0; i <= 2 * output.height; ++i) {
    for (double u : {0.0, static_cast<double>(output.width)})
      if (auto bad = add(u, 0.5 * i)) return tl::unexpected(*bad);
  }
  if (extent.radius >= limit) {
    return tl::unexpected(
        fmt::format("{}: the image needs undistorted radius {:.3g}, beyond r = {:.3g} "
                    "where the model folds (the image would fold onto itself)",
                    describe(d), extent.radius, limit));
  }
  return extent;
}

tl::expected<Point2, std::string> undistort_brown(const Distortion& d, double xd, double yd) {
  const double tolerance = kUndistortTolerance * (1 + std::sqrt(xd * xd + yd * yd));
  Point2 p{xd, yd};
  auto residual_at = [&](Point2 q, Point2& f) {
    const Point2 image = distort(d, q.x, q.y);
    f = {image.x - xd, image.y - yd};
    const double r = std::max(std::abs(f.x), std::abs(f.y));
    return std::isfinite(r) ? r : std::numeric_limits<double>::infinity();
  };
  Point2 f;
  double residual = residual_at(p, f);
  for (int iteration = 0; iteration < kMaxNewtonIterations; ++iteration) {
    if (residual <= tolerance) return p;
    const auto j = distortion_jacobian(d, p.x, p.y);
    const double det = j[0] * j[3] - j[1] * j[2];
    if (!(std::abs(det) > 0) || !std::isfinite(det)) break;
    const Point2 step{-(j[3] * f.x - j[1] * f.y) / det, -(-j[2] * f.x + j[0] * f.y) / det};
    // Damped: halve the step until the residual decreases.
    bool improved = false;
    for (double t = 1; t > 1e-12; t *= 0.5) {
      const Point2 q{p.x + t * step.x, p.y + t * step.y};
      Point2 fq;
      const double rq = residual_at(q, fq);
      if (rq < residual) {
        p = q;
        f = fq;
        residual = rq;
        improved = true;
        break;
      }
    }
    if (!improved) break;
  }
  if (residual <= tolerance) return p;
  return tl::unexpected(fmt::format(
      "undistorting ({:.6g}, {:.6g}) did not converge (residual {:.3g})", xd, yd, residual));
}

tl::expected<Point2, std::string> undistort_fisheye(const Distortion& d, double xd, double yd) {
  const double theta_d = std::sqrt(xd * xd + yd * yd);
  if (theta_d == 0) return Point2{0, 0};
  const double tolerance = kUndistortTolerance * (1 + theta_d);
  double theta = std::min(theta_d, kHalfPi * 0.999);
  auto residual_at = [&](double t) {
    const double r = std::abs(fisheye_theta_d(d.k, t).first - theta_d);
    return std::isfinite(r) ? r : std::numeric_limits<double>::infinity();
  };
  double residual = residual_at(theta);
  for (int iteration = 0; iteration < kMaxNewtonIterations && residual > tolerance; ++iteration) {
    auto [image, slope] = fisheye_theta_d(d.k, theta);
    if (!(slope > 0)) break;
    const double step = -(image - theta_d) / slope;
    bool improved = false;
    for (double t = 1; t > 1e-12; t *= 0.5) {
      const double next = theta + t * step;
      if (!(next >= 0 && next < kHalfPi)) continue;
      const double rn = residual_at(next);
      if (rn < residual) {
        theta = next;
        residual = rn;
        improved = true;
        break;
      }
    }
    if (!improved) break;
  }
  if (!(residual <= tolerance)) {
    return tl::unexpected(
        fmt::format("undistorting ({:.6g}, {:.6g}) did not converge (residual {:.3g}; the ray may "
                    "lie 90 degrees or "
                    "more off the axis)",
                    xd, yd, residual));
  }
  const double scale = portable_tan(theta) / theta_d;
  return Point2{xd * scale, yd * scale};
}

}  // namespace

std::string_view lens_model_name(LensModel model) {
  switch (model) {
    case LensModel::kNone:
      return "none";
    case LensModel::kBrownConrady:
      return "brown_conrady";
    case LensModel::kFisheye:
      return "fisheye";
  }
  return "none";
}

std::optional<LensModel> lens_model_from_name(std::string_view name) {
  for (LensModel model : {LensModel::kNone, LensModel::kBrownConrady, LensModel::kFisheye})
    if (lens_model_name(model) == name) return model;
  return std::nullopt;
}

int coefficient_count(LensModel model) {
  switch (model) {
    case LensModel::kNone:
      return 0;
    case LensModel::kBrownConrady:
      return 8;
    case LensModel::kFisheye:
      return 4;
  }
  return 0;
}

Point2 distort(const Distortion& d, double x, double y) {
  const auto& k = d.k;
  if (d.model == LensModel::kBrownConrady) {
    // cv::projectPoints' order of operations.
    const double r2 = x * x + y * y, r4 = r2 * r2, r6 = r4 * r2;
    const double a1 = 2 * x * y, a2 = r2 + 2 * x * x, a3 = r2 + 2 * y * y;
    const double cdist = 1 + k[0] * r2 + k[1] * r4 + k[4] * r6;
    const double icdist2 = 1. / (1 + k[5] * r2 + k[6] * r4 + k[7] * r6);
    return {x * cdist * icdist2 + k[2] * a1 + k[3] * a2,
            y * cdist * icdist2 + k[2] * a3 + k[3] * a1};
  }
  if (d.model == LensModel::kFisheye) {
    // cv::fisheye::projectPoints.
    const double r = std::sqrt(x * x + y * y);
    const double theta_d = fisheye_theta_d(k, portable_atan2(r, 1.0)).first;
    const double cdist = r > 1e-8 ? theta_d * (1.0 / r) : 1;
    return {x * cdist, y * cdist};
  }
  return {x, y};
}

std::array<double, 4> distortion_jacobian(const Distortion& d, double x, double y) {
  const auto& k = d.k;
  if (d.model == LensModel::kBrownConrady) {
    const Radial radial = brown_radial(k, x * x + y * y);
    const double f = radial.f, g = radial.df_dr2;
    const double p1 = k[2], p2 = k[3];
    const double cross = 2 * x * y * g + 2 * p1 * x + 2 * p2 * y;
    return {f + 2 * x * x * g + 2 * p1 * y + 6 * p2 * x, cross, cross,
            f + 2 * y * y * g + 6 * p1 * y + 2 * p2 * x};
  }
  if (d.model == LensModel::kFisheye) {
    // (xd, yd) = (x, y) s(r) with s = theta_d / r: d xd / dx = s + x^2 s'(r) / r, ...
    const double r2 = x * x + y * y, r = std::sqrt(r2);
    double s = 1, ds_over_r = 2 * (k[0] - 1.0 / 3);  // the limits at r -> 0
    if (r > 1e-4) {
      auto [theta_d, slope] = fisheye_theta_d(k, portable_atan2(r, 1.0));
      s = theta_d / r;
      ds_over_r = (slope / (1 + r2) * r - theta_d) / (r2 * r);
    }
    return {s + x * x * ds_over_r, x * y * ds_over_r, x * y * ds_over_r, s + y * y * ds_over_r};
  }
  return {1, 0, 0, 1};
}

tl::expected<Point2, std::string> undistort(const Distortion& d, double xd, double yd) {
  if (!std::isfinite(xd) || !std::isfinite(yd))
    return tl::unexpected(
        fmt::format("cannot undistort a point that is not finite ({}, {})", xd, yd));
  switch (d.model) {
    case LensModel::kNone:
      return Point2{xd, yd};
    case LensModel::kBrownConrady:
      return undistort_brown(d, xd, yd);
    case LensModel::kFisheye:
      return undistort_fisheye(d, xd, yd);
  }
  return Point2{xd, yd};
}

std::optional<std::string> fold_error(const Distortion& d, double max_radius) {
  if (!finite_coefficients(d)) return describe(d) + ": coefficients must be finite";
  if (!(max_radius >= 0) || !std::isfinite(max_radius))
    return fmt::format("{}: the radius to check must be finite and >= 0, got {}", describe(d),
                       max_radius);
  auto fold = first_fold(d, max_radius);
  if (!fold) return std::nullopt;
  return fmt::format("{}: {}", describe(d), fold->message);
}

double unfolded_radius(const Distortion& d, double limit) {
  if (d.model == LensModel::kNone) return std::numeric_limits<double>::infinity();
  if (!finite_coefficients(d)) return 0;
  auto fold = first_fold(d, limit);
  return fold ? fold->previous : limit;
}

tl::expected<double, std::string> required_radius(const Distortion& d, const Pinhole& output) {
  auto extent = undistorted_extent(d, output);
  if (!extent) return tl::unexpected(extent.error());
  return extent->radius;
}

tl::expected<Pinhole, std::string> wide_pinhole(const Distortion& d, const Pinhole& output,
                                                int64_t max_pixels) {
  if (d.model == LensModel::kNone) {
    if (auto bad = pinhole_error(output)) return tl::unexpected(*bad);
    return output;
  }
  auto extent = undistorted_extent(d, output);
  if (!extent) return tl::unexpected(extent.error());
  const double angle_deg = rad_to_deg(portable_atan2(extent->radius, 1.0));
  if (angle_deg > kMaxPinholeAngleDeg) {
    return tl::unexpected(
        fmt::format("{}: the image needs rays {:.1f} degrees off the axis; a pinhole render covers "
                    "at most {:g} "
                    "(a {:g} degree field of view)",
                    describe(d), angle_deg, kMaxPinholeAngleDeg, 2 * kMaxPinholeAngleDeg));
  }
  const double cap = max_pixels > 0 ? static_cast<double>(max_pixels)
                                    : 16.0 * output.width * static_cast<double>(output.height);
  auto fit = [&](double scale) {
    Pinhole wide;
    wide.fx = output.fx * scale;
    wide.fy = output.fy * scale;
    wide.cx = kWideMarginPx - extent->x0 * wide.fx;
    wide.cy = kWideMarginPx - extent->y0 * wide.fy;
    wide.width =
        static_cast<int>(std::ceil((extent->x1 - extent->x0) * wide.fx)) + 2 * kWideMarginPx;
    wide.height =
        static_cast<int>(std::ceil((extent->y1 - extent->y0) * wide.fy)) + 2 * kWideMarginPx;
    return wide;
  };
  Pinhole wide = fit(1);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const double pixels = static_cast<double>(wide.width) * wide.height;
    if (pixels <= cap && wide.width <= kMaxWideSide && wide.height <= kMaxWideSide) return wide;
    const double shrink =
        std::min({std::sqrt(cap / pixels), static_cast<double>(kMaxWideSide) / wide.width,
                  static_cast<double>(kMaxWideSide) / wide.height, 1.0});
    wide = fit(wide.fx / output.fx * shrink * 0.999);
  }
  return tl::unexpected(
      fmt::format("{}: no wide render of at most {:g} pixels covers the image", describe(d), cap));
}

std::optional<Point2> project_point(const Distortion& d, const Pinhole& camera, double X, double Y,
                                    double Z, double max_radius) {
  if (!(Z > 1e-9)) return std::nullopt;
  const double x = X / Z, y = Y / Z;
  if (!(x * x + y * y <= max_radius * max_radius)) return std::nullopt;
  const Point2 p = distort(d, x, y);
  return Point2{camera.fx * p.x + camera.cx, camera.fy * p.y + camera.cy};
}

}  // namespace synthfarm::sensor
