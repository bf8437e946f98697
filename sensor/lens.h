// Lens distortion as pure math: OpenCV's Brown-Conrady (rational) model and its fisheye
// (Kannala-Brandt) model on normalised camera coordinates, their exact inverses, the checks
// that a model does not fold the image onto itself, and the wider undistorted pinhole camera
// to render so that a warp (lens_warp.h) can fill every distorted output pixel.
//
// Must not depend on render/ or on the spec: the coordinator links this file (in the
// synthfarm_sensor_models target, with the camera presets) to validate a spec's lens at
// submission, without the renderer.
// Every transcendental function that feeds output is base/math.h's portable_*, so results
// are bit-identical on any x86-64 machine; nothing here is random or stateful.
//
// Conventions (OpenCV's, so cv2.projectPoints / cv2.undistortPoints and cv2.fisheye.* agree
// with the labels):
//   Normalised coordinates: x = X / Z, y = Y / Z of a camera-space point (OpenCV camera:
//     x right, y down, z forward); "undistorted" = the pinhole's, "distorted" = after the lens.
//   Pixels: u = fx * x + cx, v = fy * y + cy; the centre of pixel (i, j) is (i + 0.5, j + 0.5).
//   Brown-Conrady, k = (k1, k2, p1, p2, k3, k4, k5, k6), r2 = x^2 + y^2:
//     f  = (1 + k1 r2 + k2 r2^2 + k3 r2^3) / (1 + k4 r2 + k5 r2^2 + k6 r2^3)
//     xd = x f + 2 p1 x y + p2 (r2 + 2 x^2),  yd = y f + p1 (r2 + 2 y^2) + 2 p2 x y
//     (k4 = k5 = k6 = 0 is the plain five-coefficient model).
//   Fisheye, k = (k1, k2, k3, k4, 0, 0, 0, 0), r = |(x, y)|, theta = atan(r):
//     theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8)
//     (xd, yd) = (x, y) * theta_d / r   (1 at r = 0).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace synthfarm::sensor {

enum class LensModel { kNone, kBrownConrady, kFisheye };

// "none", "brown_conrady", "fisheye" (the spec's and the sample JSON's names).
std::string_view lens_model_name(LensModel model);
std::optional<LensModel> lens_model_from_name(std::string_view name);
// How many of Distortion::k the model uses, in OpenCV's order: 0, 8, 4.
int coefficient_count(LensModel model);

struct Distortion {
  LensModel model = LensModel::kNone;
  // Brown-Conrady: k1, k2, p1, p2, k3, k4, k5, k6. Fisheye: k1, k2, k3, k4, then zeros.
  std::array<double, 8> k{};
  friend bool operator==(const Distortion&, const Distortion&) = default;
};

// An OpenCV pinhole camera: intrinsics in pixels and the image size.
struct Pinhole {
  double fx = 0, fy = 0, cx = 0, cy = 0;
  int width = 0, height = 0;
  friend bool operator==(const Pinhole&, const Pinhole&) = default;
};

struct Point2 {
  double x = 0, y = 0;
};

// The lens: undistorted normalised -> distorted normalised coordinates. kNone is the
// identity. Fisheye is defined for any (x, y) (z > 0); Brown-Conrady anywhere its
// denominator is non-zero (it is only meaningful within unfolded_radius()).
Point2 distort(const Distortion& d, double x, double y);

// d(xd, yd) / d(x, y) at (x, y), row-major: {dxd/dx, dxd/dy, dyd/dx, dyd/dy}.
std::array<double, 4> distortion_jacobian(const Distortion& d, double x, double y);

// The exact inverse of distort(): the undistorted point whose distortion is (xd, yd), by
// damped Newton iteration (Brown-Conrady: on the 2-D map with its Jacobian; fisheye: on
// theta, as cv::fisheye::undistortPoints) until the residual is below 1e-12 (relative to
// 1 + |(xd, yd)|). An error when it does not converge, or when the fisheye ray lies 90
// degrees or more off the axis (no pinhole point). Converges to the unfolded solution for
// points the model maps from within unfolded_radius().
tl::expected<Point2, std::string> undistort(const Distortion& d, double xd, double yd);

// Why the model is not a valid lens over the undistorted normalised radii 0..max_radius, or
// nullopt when it is: a coefficient that is not finite; the radial mapping not strictly
// increasing (the image would fold onto itself); the rational denominator reaching 0; the
// tangential terms folding the image (the 2-D map's Jacobian determinant reaching 0). E.g.
// "brown_conrady (k1 = -0.9): the radial model folds at r = 0.609 (the image would fold
// onto itself)". Checked on a grid of 4096 radii uniform in the angle off the axis (and 64
// directions for the tangential terms); the radius reported is the first bad grid radius.
std::optional<std::string> fold_error(const Distortion& d, double max_radius);

// The largest undistorted normalised radius <= limit up to which the model is valid (what
// fold_error checks): points farther out are not imaged by the lens (their distortion would
// land back inside the image). +inf for kNone; `limit` when nothing folds before it.
double unfolded_radius(const Distortion& d, double limit = 1e4);

// The largest undistorted normalised radius the image of `output` needs: the undistortion
// of its border (pixel edges, so the whole of every pixel), after checking that the model
// does not fold before the image corners. Errors name the model and what is wrong. Use it
// with fold_error to validate a lens for an image size at submission; wide_pinhole() does
// both.
tl::expected<double, std::string> required_radius(const Distortion& d, const Pinhole& output);

// The undistorted pinhole camera to render so that the distorted `output` image can be
// warped from it: it covers the undistorted ray of every point of every output pixel (the
// undistorted border's bounding box plus 2 pixels for bilinear sampling), with the output's
// focal lengths (the same pixel density at the centre, where every model is the identity
// to first order). The same as `output` for kNone. When that would take more than
// max_pixels pixels (0: 16 times the output's, and never more than 16384 a side) the
// focal lengths are scaled down to fit: still covering, less dense.
// Errors: a model that folds within the image (fold_error), an undistortion that does not
// converge, and a field of view a pinhole cannot render: rays more than 75 degrees off the
// axis (a fisheye wider than 150 degrees), named with the angle needed.
tl::expected<Pinhole, std::string> wide_pinhole(const Distortion& d, const Pinhole& output,
                                                int64_t max_pixels = 0);

// Pixel position in the `camera` image, through the lens, of the camera-space point
// (X, Y, Z) (OpenCV's projectPoints with no rotation or translation); nullopt when the point
// is not in front of the camera (Z <= 1e-9) or lies farther than `max_radius` off the axis
// (normalised, undistorted: beyond unfolded_radius() the lens does not image it). The
// point may still fall outside the image.
std::optional<Point2> project_point(const Distortion& d, const Pinhole& camera, double X, double Y,
                                    double Z, double max_radius);

}  // namespace synthfarm::sensor
