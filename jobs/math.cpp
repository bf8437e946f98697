// Portable trigonometry (fdlibm __kernel_sin / __kernel_cos coefficients) and rotations.
#include "jobs/math.h"

namespace synthfarm::jobs {


namespace {

constexpr double kS1 = -1.66666666666666324348e-01;
constexpr double kS2 = 8.33333333332248946124e-03;
constexpr double kS3 = -1.98412698298579493134e-04;
constexpr double kS4 = 2.75573137070700676789e-06;
constexpr double kS5 = -2.50507602534068634195e-08;
constexpr double kS6 = 1.58969099521155010221e-10;
constexpr double kC1 = 4.16666666666666019037e-02;
constexpr double kC2 = -1.38888888888741095749e-03;
constexpr double kC3 = 2.48015872894767294178e-05;
constexpr double kC4 = -2.75573143513906633035e-07;
constexpr double kC5 = 2.08757232129817482790e-09;
constexpr double kC6 = -1.13596475577881948265e-11;
constexpr double kTwoOverPi = 6.36619772367581382433e-01;
constexpr double kPio2Hi = 1.57079632673412561417e+00;  // first 33 bits of pi/2
constexpr double kPio2Lo = 6.07710050650619224932e-11;  // pi/2 - kPio2Hi

double kernel_sin(double x) {
  double z = x * x;
  double v = z * x;
  double r = kS2 + z * (kS3 + z * (kS4 + z * (kS5 + z * kS6)));
  return x + v * (kS1 + z * r);
}

double kernel_cos(double x) {
  double z = x * x;
  double r = z * (kC1 + z * (kC2 + z * (kC3 + z * (kC4 + z * (kC5 + z * kC6)))));
  double hz = 0.5 * z;
  double w = 1.0 - hz;
  return w + (((1.0 - w) - hz) + z * r);
}

// x = n * pi/2 + r with |r| <= ~pi/4; returns n mod 4.
int reduce_quadrant(double x, double& r) {
  double n = std::floor(x * kTwoOverPi + 0.5);
  r = (x - n * kPio2Hi) - n * kPio2Lo;
  return static_cast<int>(static_cast<int64_t>(n) & 3);
}


}  // namespace

double portable_sin(double x) {
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

}  // namespace synthfarm::jobs
