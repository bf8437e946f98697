// Portable trigonometry (fdlibm __kernel_sin / __kernel_cos coefficients) and rotations.
#include "base/math.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace synthfarm {

namespace {

constexpr double kTwoOverPi = 6.36619772367581382433e-01;
constexpr double kPio2Hi = 1.57079632673412561417e+00;  // first 33 bits of pi/2
constexpr double kPio2Lo = 6.07710050650619224932e-11;  // pi/2 - kPio2Hi

using math_internal::kernel_cos;
using math_internal::kernel_sin;

// Beyond this the two-part pi/2 below no longer reduces accurately (fdlibm's bound for it,
// 2^19 * pi/2), and n soon no longer fits an integer.
constexpr double kMediumArgument = 823550.0;
constexpr double kTwoPi = 6.28318530717958647692;

// x = n * pi/2 + r with |r| <= ~pi/4; returns n mod 4. x must be finite. A larger x is
// first taken modulo 2 pi (the double nearest it): not sin's true argument reduction,
// but exact (fmod rounds nothing), so the result is the same on every machine, and
// bounded; no angle that large means anything (it comes from bad input, e.g. a BVH file).
int reduce_quadrant(double x, double& r) {
  if (std::fabs(x) > kMediumArgument) x = std::fmod(x, kTwoPi);
  double n = std::floor(x * kTwoOverPi + 0.5);
  r = (x - n * kPio2Hi) - n * kPio2Lo;
  return static_cast<int>(static_cast<int64_t>(n) & 3);
}

}  // namespace

double portable_sin(double x) {
  if (!std::isfinite(x)) return std::numeric_limits<double>::quiet_NaN();
  double r = 0;
  switch (reduce_quadrant(x, r)) {
    case 0:
      return kernel_sin(r);
    case 1:
      return kernel_cos(r);
    case 2:
      return -kernel_sin(r);
    default:
      return -kernel_cos(r);
  }
}

double portable_cos(double x) {
  if (!std::isfinite(x)) return std::numeric_limits<double>::quiet_NaN();
  double r = 0;
  switch (reduce_quadrant(x, r)) {
    case 0:
      return kernel_cos(r);
    case 1:
      return -kernel_sin(r);
    case 2:
      return -kernel_cos(r);
    default:
      return kernel_sin(r);
  }
}

namespace {

constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kInvLn2 = 1.44269504088896338700e+00;

// atan(x) for x >= 0 (fdlibm s_atan.c): reduce to |x| < 7/16 around 0.5, 1, 1.5 or infinity.
double atan_nonnegative(double x) {
  constexpr double kAtanHi[] = {4.63647609000806093515e-01, 7.85398163397448278999e-01,
                                9.82793723247329054082e-01, 1.57079632679489655800e+00};
  constexpr double kAtanLo[] = {2.26987774529616870924e-17, 3.06161699786838301793e-17,
                                1.39033110312309984516e-17, 6.12323399573676603587e-17};
  constexpr double kT[] = {
      3.33333333333329318027e-01,  -1.99999999998764832476e-01, 1.42857142725034663711e-01,
      -1.11111104054623557880e-01, 9.09088713343650656196e-02,  -7.69187620504482999495e-02,
      6.66107313738753120669e-02,  -5.83357013379057348645e-02, 4.97687799461593236017e-02,
      -3.65315727442169155270e-02, 1.62858201153657823623e-02};
  if (std::isnan(x)) return x;
  if (x > 1e17) return kAtanHi[3] + kAtanLo[3];
  int id = -1;
  if (x < 0.4375) {
    if (x < 1e-9) return x;
  } else if (x < 0.6875) {
    id = 0;
    x = (2.0 * x - 1.0) / (2.0 + x);
  } else if (x < 1.1875) {
    id = 1;
    x = (x - 1.0) / (x + 1.0);
  } else if (x < 2.4375) {
    id = 2;
    x = (x - 1.5) / (1.0 + 1.5 * x);
  } else {
    id = 3;
    x = -1.0 / x;
  }
  double z = x * x, w = z * z;
  double s1 = z * (kT[0] + w * (kT[2] + w * (kT[4] + w * (kT[6] + w * (kT[8] + w * kT[10])))));
  double s2 = w * (kT[1] + w * (kT[3] + w * (kT[5] + w * (kT[7] + w * kT[9]))));
  if (id < 0) return x - x * (s1 + s2);
  return kAtanHi[id] - ((x * (s1 + s2) - kAtanLo[id]) - x);
}

}  // namespace

double portable_exp(double x) {
  constexpr double kP1 = 1.66666666666666019037e-01, kP2 = -2.77777777770155933842e-03,
                   kP3 = 6.61375632143793436117e-05, kP4 = -1.65339022054652515390e-06,
                   kP5 = 4.13813679705723846039e-08;
  if (std::isnan(x)) return x;
  if (x > 709.782712893383973096) return HUGE_VAL;
  if (x < -745.13321910194110842) return 0.0;
  // x = k ln2 + r, |r| <= ln2 / 2, with ln2 split in two so k ln2 is exact.
  double k = std::floor(x * kInvLn2 + 0.5);
  double hi = x - k * kLn2Hi, lo = k * kLn2Lo;
  double r = hi - lo;
  double t = r * r;
  double c = r - t * (kP1 + t * (kP2 + t * (kP3 + t * (kP4 + t * kP5))));
  double y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
  return std::ldexp(y, static_cast<int>(k));
}

double portable_log(double x) {
  constexpr double kLg1 = 6.666666666666735130e-01, kLg2 = 3.999999999940941908e-01,
                   kLg3 = 2.857142874366239149e-01, kLg4 = 2.222219843214978396e-01,
                   kLg5 = 1.818357216161805012e-01, kLg6 = 1.531383769920937332e-01,
                   kLg7 = 1.479819860511658591e-01;
  if (std::isnan(x) || x < 0) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0) return -HUGE_VAL;
  if (std::isinf(x)) return x;
  // x = 2^k m with m in [sqrt(2)/2, sqrt(2)); frexp and ldexp are exact.
  int e = 0;
  double m = std::frexp(x, &e);  // [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    e -= 1;
  }
  double k = e;
  double f = m - 1.0;
  double s = f / (2.0 + f);
  double z = s * s, w = z * z;
  double t1 = w * (kLg2 + w * (kLg4 + w * kLg6));
  double t2 = z * (kLg1 + w * (kLg3 + w * (kLg5 + w * kLg7)));
  double r = t2 + t1;
  double hfsq = 0.5 * f * f;
  return k * kLn2Hi - ((hfsq - (s * (hfsq + r) + k * kLn2Lo)) - f);
}

double portable_atan2(double y, double x) {
  if (std::isnan(x) || std::isnan(y)) return x + y;
  double ax = std::abs(x), ay = std::abs(y);
  double a = 0;
  if (ay == 0 && ax == 0) {
    a = 0;
  } else if (ax >= ay) {
    a = atan_nonnegative(ay / ax);
  } else {
    a = 0.5 * kPi - atan_nonnegative(ax / ay);
  }
  if (x < 0) a = kPi - a;
  return std::signbit(y) ? -a : a;
}

double portable_acos(double x) {
  x = std::clamp(x, -1.0, 1.0);
  return portable_atan2(std::sqrt((1.0 - x) * (1.0 + x)), x);
}

Mat3 Mat3::rotation_x(double radians) {
  double c = portable_cos(radians), s = portable_sin(radians);
  return from_rows({1, 0, 0}, {0, c, -s}, {0, s, c});
}
Mat3 Mat3::rotation_y(double radians) {
  double c = portable_cos(radians), s = portable_sin(radians);
  return from_rows({c, 0, s}, {0, 1, 0}, {-s, 0, c});
}
Mat3 Mat3::rotation_z(double radians) {
  double c = portable_cos(radians), s = portable_sin(radians);
  return from_rows({c, -s, 0}, {s, c, 0}, {0, 0, 1});
}

double point_triangle_distance(Vec3 p, Vec3 a, Vec3 b, Vec3 c) {
  const Vec3 ab = b - a, ac = c - a, ap = p - a;
  const double d1 = dot(ab, ap), d2 = dot(ac, ap);
  if (d1 <= 0 && d2 <= 0) return length(p - a);
  const Vec3 bp = p - b;
  const double d3 = dot(ab, bp), d4 = dot(ac, bp);
  if (d3 >= 0 && d4 <= d3) return length(p - b);
  const double vc = d1 * d4 - d3 * d2;
  if (vc <= 0 && d1 >= 0 && d3 <= 0) return length(p - (a + ab * (d1 / (d1 - d3))));
  const Vec3 cp = p - c;
  const double d5 = dot(ab, cp), d6 = dot(ac, cp);
  if (d6 >= 0 && d5 <= d6) return length(p - c);
  const double vb = d5 * d2 - d1 * d6;
  if (vb <= 0 && d2 >= 0 && d6 <= 0) return length(p - (a + ac * (d2 / (d2 - d6))));
  const double va = d3 * d6 - d5 * d4;
  if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0) return length(p - (b + (c - b) * ((d4 - d3) / ((d4 - d3) + (d5 - d6)))));
  const double denom = 1.0 / (va + vb + vc);
  return length(p - (a + ab * (vb * denom) + ac * (vc * denom)));
}

}  // namespace synthfarm
