// Small fixed-size vector math shared by the scene generator, the human model and the
// renderer (base: every module may use it). Everything is double precision and built from exactly
// rounded operations, so results are bit-identical on any x86-64 machine.
#pragma once

#include <array>
#include <cmath>

namespace synthfarm {

// sin and cos from + - * only (fdlibm kernels, Cody-Waite reduction), so results do not
// depend on which libm code path (FMA or not) a machine selects. Accurate to ~1 ulp for
// |x| < 1e5, which is all the scene and the renderer need. Larger arguments (from bad
// input) are taken modulo 2 pi first: bounded, deterministic, not accurate. NaN for NaN
// and infinities.
double portable_sin(double x);
double portable_cos(double x);
// The same for |x| <= pi/4 only, skipping the argument reduction (hot sampling code, so
// defined here to be inlined).
namespace math_internal {
// fdlibm's __kernel_sin / __kernel_cos coefficients.
inline constexpr double kS1 = -1.66666666666666324348e-01, kS2 = 8.33333333332248946124e-03,
                        kS3 = -1.98412698298579493134e-04, kS4 = 2.75573137070700676789e-06,
                        kS5 = -2.50507602534068634195e-08, kS6 = 1.58969099521155010221e-10;
inline constexpr double kC1 = 4.16666666666666019037e-02, kC2 = -1.38888888888741095749e-03,
                        kC3 = 2.48015872894767294178e-05, kC4 = -2.75573143513906633035e-07,
                        kC5 = 2.08757232129817482790e-09, kC6 = -1.13596475577881948265e-11;
inline double kernel_sin(double x) {
  double z = x * x;
  double v = z * x;
  double r = kS2 + z * (kS3 + z * (kS4 + z * (kS5 + z * kS6)));
  return x + v * (kS1 + z * r);
}
inline double kernel_cos(double x) {
  double z = x * x;
  double r = z * (kC1 + z * (kC2 + z * (kC3 + z * (kC4 + z * (kC5 + z * kC6)))));
  double hz = 0.5 * z;
  double w = 1.0 - hz;
  return w + (((1.0 - w) - hz) + z * r);
}
}  // namespace math_internal
inline double portable_sin_small(double x) { return math_internal::kernel_sin(x); }
inline double portable_cos_small(double x) { return math_internal::kernel_cos(x); }
// exp, log, atan2 and acos the same way (fdlibm's polynomials, exact reductions through
// frexp/ldexp), for the renderer's sampling and sky model: ~1 ulp over their domains.
// portable_exp(x) is 0 below -745 and +inf above 709.78; portable_log(x <= 0) is -inf for 0
// and NaN below; portable_atan2(0, 0) = 0; portable_acos clamps its argument to [-1, 1].
double portable_exp(double x);
double portable_log(double x);
double portable_atan2(double y, double x);
double portable_acos(double x);
constexpr double kPi = 3.14159265358979323846;
constexpr double deg_to_rad(double deg) { return deg * (kPi / 180.0); }

struct Vec3 {
  double x = 0, y = 0, z = 0;
  friend Vec3 operator+(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
  friend Vec3 operator-(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
  friend Vec3 operator-(Vec3 a) { return {-a.x, -a.y, -a.z}; }
  friend Vec3 operator*(Vec3 a, double s) { return {a.x * s, a.y * s, a.z * s}; }
  friend Vec3 operator*(double s, Vec3 a) { return {a.x * s, a.y * s, a.z * s}; }
  friend bool operator==(const Vec3&, const Vec3&) = default;
};
inline double dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline Vec3 cross(Vec3 a, Vec3 b) {
  return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
inline double length(Vec3 a) { return std::sqrt(dot(a, a)); }
inline Vec3 normalize(Vec3 a) { return a * (1.0 / length(a)); }

// The distance from p to the closest point of triangle (a, b, c), edges and corners
// included (Ericson, Real-Time Collision Detection, 5.1.5). A degenerate triangle gives the
// distance to its segment or point.
double point_triangle_distance(Vec3 p, Vec3 a, Vec3 b, Vec3 c);

// Row-major 3x3 matrix.
struct Mat3 {
  std::array<std::array<double, 3>, 3> m = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};

  static Mat3 from_rows(Vec3 r0, Vec3 r1, Vec3 r2) {
    return {{{{r0.x, r0.y, r0.z}, {r1.x, r1.y, r1.z}, {r2.x, r2.y, r2.z}}}};
  }
  static Mat3 from_columns(Vec3 c0, Vec3 c1, Vec3 c2) { return from_rows(c0, c1, c2).transposed(); }
  // Right-handed rotations by `radians` about the x, y and z axes.
  static Mat3 rotation_x(double radians);
  static Mat3 rotation_y(double radians);
  static Mat3 rotation_z(double radians);

  Vec3 row(int i) const { return {m[i][0], m[i][1], m[i][2]}; }
  Vec3 column(int j) const { return {m[0][j], m[1][j], m[2][j]}; }
  Mat3 transposed() const { return from_rows(column(0), column(1), column(2)); }
  friend Vec3 operator*(const Mat3& a, Vec3 v) {
    return {dot(a.row(0), v), dot(a.row(1), v), dot(a.row(2), v)};
  }
  friend Mat3 operator*(const Mat3& a, const Mat3& b) {
    return from_columns(a * b.column(0), a * b.column(1), a * b.column(2));
  }
};

}  // namespace synthfarm
