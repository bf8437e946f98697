// Small fixed-size vector math shared by the scene generator, the human model and the
// renderer (jobs-internal header). Everything is double precision and built from exactly
// rounded operations, so results are bit-identical on any x86-64 machine.
#pragma once

#include <array>
#include <cmath>

namespace synthfarm::jobs {

// sin and cos from + - * only (fdlibm kernels, Cody-Waite reduction), so results do not
// depend on which libm code path (FMA or not) a machine selects. Accurate to ~1 ulp for
// |x| < 1e5, which is all the scene and the renderer need.
double portable_sin(double x);
double portable_cos(double x);
// The same for |x| <= pi/4 only, skipping the argument reduction (hot sampling code).
double portable_sin_small(double x);
double portable_cos_small(double x);
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

}  // namespace synthfarm::jobs
