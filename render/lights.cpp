// Local lights and the background for next-event estimation (see lights.h).
#include "render/internal/lights.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace synthfarm::render {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kSkyTableWidth = 256, kSkyTableHeight = 128;

double luminance(Rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b; }

// glTF KHR_lights_punctual's smooth spot falloff.
double spot_falloff(double cos_angle, double cos_inner, double cos_outer) {
  double scale = 1.0 / std::max(1e-3, cos_inner - cos_outer);
  double t = std::clamp((cos_angle - cos_outer) * scale, 0.0, 1.0);
  return t * t;
}

}  // namespace

LocalLights::LocalLights(const std::vector<Light>& lights) {
  std::vector<double> power;
  for (const Light& light : lights) {
    Prepared p;
    p.light = light;
    p.emitted = Spectrum{light.color.r, light.color.g, light.color.b} * light.intensity;
    double lum = std::max(0.0, luminance(light.color) * light.intensity);
    double phi = 0;
    switch (light.kind) {
      case Light::Kind::kPoint:
        phi = 4 * kPi * lum;
        break;
      case Light::Kind::kSpot: {
        double inner = deg_to_rad(std::clamp(light.inner_cone_deg, 0.0, 90.0));
        double outer = deg_to_rad(std::clamp(light.outer_cone_deg, 0.0, 90.0));
        inner = std::min(inner, outer);
        p.cos_inner = portable_cos(inner);
        p.cos_outer = portable_cos(outer);
        p.normal = length(light.direction) > 0 ? normalize(light.direction) : Vec3{0, 0, -1};
        phi = 2 * kPi * (1 - portable_cos(0.5 * (inner + outer))) * lum;
        break;
      }
      case Light::Kind::kRect: {
        Vec3 n = cross(light.u_axis, light.v_axis);
        double len = length(n);
        p.area = 4 * len;
        p.axis_u = light.u_axis;
        p.axis_v = light.v_axis;
        p.normal = len > 0 ? n * (1.0 / len) : Vec3{0, 0, -1};
        if (dot(p.normal, light.direction) < 0) p.normal = -p.normal;
        phi = kPi * p.area * lum;
        break;
      }
      case Light::Kind::kDisk: {
        p.normal = length(light.direction) > 0 ? normalize(light.direction) : Vec3{0, 0, -1};
        ShadingFrame frame = ShadingFrame::from_normal(p.normal);
        p.axis_u = frame.t;
        p.axis_v = frame.b;
        p.area = kPi * light.radius * light.radius;
        phi = kPi * p.area * lum;
        break;
      }
    }
    if ((light.kind == Light::Kind::kPoint || light.kind == Light::Kind::kSpot) &&
        light.radius > 0) {
      // The same power as the point: intensity I = L pi r^2 from every side.
      p.sphere = true;
      p.emitted = p.emitted * (1.0 / (kPi * light.radius * light.radius));
    }
    if (!std::isfinite(phi)) phi = 0;
    has_area_ = has_area_ || p.sphere || light.kind == Light::Kind::kRect ||
                light.kind == Light::Kind::kDisk;
    power.push_back(phi);
    lights_.push_back(p);
  }
  selection_ = Distribution1D(std::move(power));
}

double LocalLights::falloff_towards(const Prepared& l, Vec3 p) {
  if (l.light.kind != Light::Kind::kSpot) return 1;
  const Vec3 from = p - l.light.position;
  const double d2 = dot(from, from);
  if (!(d2 > 0)) return 0;
  return spot_falloff(dot(from, l.normal) / std::sqrt(d2), l.cos_inner, l.cos_outer);
}

namespace {

// 1 - cos of the half-angle a sphere of squared radius r2 subtends at squared distance d2
// (> r2), without the cancellation of 1 - sqrt(1 - r2 / d2) for small spheres.
double sphere_one_minus_cos(double r2, double d2) {
  const double s = r2 / d2;
  return s / (1.0 + std::sqrt(std::max(0.0, 1.0 - s)));
}

}  // namespace

std::optional<LightSample> LocalLights::sample(Vec3 p, double u_select,
                                               std::array<double, 2> u) const {
  if (empty()) return std::nullopt;
  double select = 1;
  size_t i = 0;
  if (lights_.size() > 1) i = selection_.sample_discrete(u_select, &select);
  if (!(select > 0)) return std::nullopt;
  const Prepared& l = lights_[i];
  LightSample s;
  if (l.sphere) {
    // Uniform over the cone the sphere subtends: a concentric disk point (x, y), radius
    // rho, becomes the direction with 1 - cos theta = rho^2 (1 - cos theta_max).
    const Vec3 to = l.light.position - p;
    const double d2 = dot(to, to), r2 = l.light.radius * l.light.radius;
    if (!(d2 > r2)) return std::nullopt;  // inside the light
    const double falloff = falloff_towards(l, p);
    if (!(falloff > 0)) return std::nullopt;
    const double d = std::sqrt(d2);
    const double omc_max = sphere_one_minus_cos(r2, d2);
    const auto [x, y] = concentric_disk(u);
    const double omc = (x * x + y * y) * omc_max;
    const double cos_t = 1.0 - omc, sin2 = omc * (2.0 - omc);
    const double scale = std::sqrt(omc_max * (2.0 - omc));
    const ShadingFrame frame = ShadingFrame::from_normal(to * (1.0 / d));
    s.wi = frame.to_world({x * scale, y * scale, cos_t});  // unit: rho^2 scale^2 + cos^2 = 1
    s.distance = d * cos_t - std::sqrt(std::max(0.0, r2 - d2 * sin2));
    s.radiance = l.emitted * falloff;
    s.pdf = select / (2.0 * kPi * omc_max);
    return s;
  }
  switch (l.light.kind) {
    case Light::Kind::kPoint:
    case Light::Kind::kSpot: {
      Vec3 to = l.light.position - p;
      double d2 = dot(to, to);
      if (!(d2 > 0)) return std::nullopt;
      s.distance = std::sqrt(d2);
      s.wi = to * (1.0 / s.distance);
      const double falloff = falloff_towards(l, p);
      if (falloff <= 0) return std::nullopt;
      s.radiance = l.emitted * (falloff / d2);
      s.pdf = select;
      s.delta = true;
      return s;
    }
    case Light::Kind::kRect:
    case Light::Kind::kDisk: {
      Vec3 q;
      if (l.light.kind == Light::Kind::kRect) {
        q = l.light.position + l.axis_u * (2 * u[0] - 1) + l.axis_v * (2 * u[1] - 1);
      } else {
        auto [dx, dy] = concentric_disk(u);
        q = l.light.position + (l.axis_u * dx + l.axis_v * dy) * l.light.radius;
      }
      Vec3 to = q - p;
      double d2 = dot(to, to);
      if (!(d2 > 0) || !(l.area > 0)) return std::nullopt;
      s.distance = std::sqrt(d2);
      s.wi = to * (1.0 / s.distance);
      double cos_light = -dot(s.wi, l.normal);
      if (cos_light <= 0) return std::nullopt;
      s.radiance = l.emitted;
      s.pdf = select * d2 / (l.area * cos_light);
      return s;
    }
  }
  return std::nullopt;
}

double LocalLights::pdf(size_t light, Vec3 p, Vec3 wi, double t) const {
  const Prepared& l = lights_[light];
  if (l.sphere) {
    const Vec3 to = l.light.position - p;
    const double d2 = dot(to, to), r2 = l.light.radius * l.light.radius;
    if (!(d2 > r2)) return 0;
    return selection_.cell_probability(light) / (2.0 * kPi * sphere_one_minus_cos(r2, d2));
  }
  if (l.light.kind != Light::Kind::kRect && l.light.kind != Light::Kind::kDisk) return 0;
  double cos_light = -dot(wi, l.normal);
  if (cos_light <= 0 || !(l.area > 0)) return 0;
  return selection_.cell_probability(light) * t * t / (l.area * cos_light);
}

std::optional<AreaLightHit> LocalLights::intersect(Vec3 o, Vec3 d, double t_max,
                                                   bool camera_ray) const {
  std::optional<AreaLightHit> best;
  for (size_t i = 0; i < lights_.size(); ++i) {
    const Prepared& l = lights_[i];
    if (camera_ray && !l.light.visible) continue;
    if (l.sphere) {
      // The near root of |o + t d - c|^2 = r^2, from outside the sphere.
      const Vec3 oc = o - l.light.position;
      const double r2 = l.light.radius * l.light.radius;
      const double c = dot(oc, oc) - r2;
      if (!(c > 0)) continue;
      const double b = dot(oc, d);
      if (b >= 0) continue;  // moving away
      const double disc = b * b - c;
      if (!(disc >= 0)) continue;
      const double t = c / (-b + std::sqrt(disc));  // = -b - sqrt(disc), without cancellation
      if (!(t > 1e-9) || !(t < t_max) || (best && t >= best->t)) continue;
      const double falloff = falloff_towards(l, o);
      if (!(falloff > 0)) continue;
      best = AreaLightHit{i, t, l.emitted * falloff};
      continue;
    }
    if (l.light.kind != Light::Kind::kRect && l.light.kind != Light::Kind::kDisk) continue;
    double denom = dot(d, l.normal);
    if (denom >= 0) continue;  // the back face, or parallel
    double t = dot(l.light.position - o, l.normal) / denom;
    if (!(t > 1e-9) || !(t < t_max) || (best && t >= best->t)) continue;
    Vec3 off = o + d * t - l.light.position;
    if (l.light.kind == Light::Kind::kRect) {
      double a = dot(off, l.axis_u) / dot(l.axis_u, l.axis_u);
      double b = dot(off, l.axis_v) / dot(l.axis_v, l.axis_v);
      if (std::abs(a) > 1 || std::abs(b) > 1) continue;
    } else if (dot(off, off) > l.light.radius * l.light.radius) {
      continue;
    }
    best = AreaLightHit{i, t, l.emitted};
  }
  return best;
}

Background::Background(const Scene& scene)
    : environment_(scene.environment), sky_(scene.sky, scene.sun) {
  std::vector<double> func;
  int width = 0, height = 0;
  if (environment_) {
    const Environment& env = *environment_;
    rotation_rad_ = deg_to_rad(env.rotation_deg);
    width = env.width;
    height = env.height;
    if (width <= 0 || height <= 0 || env.texels.size() < static_cast<size_t>(3) * width * height) {
      width = height = 0;
    } else {
      func.resize(static_cast<size_t>(width) * height);
      for (int row = 0; row < height; ++row) {
        double sin_theta = portable_sin(kPi * (row + 0.5) / height);
        for (int col = 0; col < width; ++col) {
          const float* t = &env.texels[3 * (static_cast<size_t>(row) * width + col)];
          func[static_cast<size_t>(row) * width + col] = luminance({t[0], t[1], t[2]}) * sin_theta;
        }
      }
    }
  } else if (sky_.model() == Sky::Model::kPreetham) {
    // The radiance map first (radiance() below reads it), vertex (i, j) at disk point
    // (X, Y) = (2 i / (n - 1) - 1, 2 j / (n - 1) - 1), clamped onto the unit disk.
    constexpr int n = kSkyMapSize;
    sky_map_.resize(static_cast<size_t>(n) * n);
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < n; ++i) {
        double x = 2.0 * i / (n - 1) - 1.0, y = 2.0 * j / (n - 1) - 1.0;
        double r2 = x * x + y * y;
        if (r2 > 1.0) {
          const double s = 1.0 / std::sqrt(r2);
          x *= s, y *= s, r2 = 1.0;
        }
        const double z = 1.0 - r2, planar = std::sqrt(2.0 - r2);
        sky_map_[static_cast<size_t>(j) * n + i] =
            sky_.radiance(normalize(Vec3{x * planar, y * planar, z}));
      }
    }
    width = kSkyTableWidth;
    height = kSkyTableHeight;
    func.resize(static_cast<size_t>(width) * height);
    double total = 0;
    for (int row = 0; row < height; ++row) {
      double sin_theta = portable_sin(kPi * (row + 0.5) / height);
      for (int col = 0; col < width; ++col) {
        double value =
            radiance(uv_to_direction({(col + 0.5) / width, (row + 0.5) / height})).luminance();
        func[static_cast<size_t>(row) * width + col] = value * sin_theta;
        total += value * sin_theta;
      }
    }
    // The analytic sky varies inside a table cell: a floor keeps every cell samplable.
    double floor = 1e-3 * total / static_cast<double>(func.size());
    for (double& f : func) f += floor;
  }
  if (width > 0 && height > 0) distribution_ = Distribution2D(func, width, height);
}

std::array<double, 2> Background::direction_to_uv(Vec3 d) const {
  if (!std::isfinite(d.x) || !std::isfinite(d.y) || !std::isfinite(d.z)) return {0, 0};
  double phi = portable_atan2(d.y, d.x) - rotation_rad_;
  double u = (phi + kPi) / (2 * kPi);
  u -= std::floor(u);
  double v = portable_acos(d.z) / kPi;
  return {u, std::clamp(v, 0.0, 1.0)};
}

Vec3 Background::uv_to_direction(std::array<double, 2> uv) const {
  double phi = 2 * kPi * uv[0] - kPi + rotation_rad_;
  double theta = kPi * uv[1];
  double s = portable_sin(theta);
  return {s * portable_cos(phi), s * portable_sin(phi), portable_cos(theta)};
}

Spectrum Background::sky_map_radiance(Vec3 d) const {
  constexpr int n = kSkyMapSize;
  const double s = 1.0 / std::sqrt(1.0 + std::clamp(d.z, 0.0, 1.0));
  const double fx = std::clamp((d.x * s + 1.0) * 0.5 * (n - 1), 0.0, n - 1.0);
  const double fy = std::clamp((d.y * s + 1.0) * 0.5 * (n - 1), 0.0, n - 1.0);
  const int i = std::min(static_cast<int>(fx), n - 2), j = std::min(static_cast<int>(fy), n - 2);
  const double tx = fx - i, ty = fy - j;
  const Spectrum* row0 = &sky_map_[static_cast<size_t>(j) * n + i];
  const Spectrum* row1 = row0 + n;
  return (row0[0] * (1 - tx) + row0[1] * tx) * (1 - ty) + (row1[0] * (1 - tx) + row1[1] * tx) * ty;
}

Spectrum Background::radiance(Vec3 d) const {
  if (!environment_) {
    if (sky_map_.empty() || d.z < 0 || !std::isfinite(d.x) || !std::isfinite(d.y) ||
        !std::isfinite(d.z)) {
      return sky_.radiance(d);
    }
    return sky_map_radiance(d);
  }
  const Environment& env = *environment_;
  if (env.width <= 0 || env.height <= 0 ||
      env.texels.size() < static_cast<size_t>(3) * env.width * env.height) {
    return {};
  }
  auto [u, v] = direction_to_uv(d);
  int col = std::clamp(static_cast<int>(u * env.width), 0, env.width - 1);
  int row = std::clamp(static_cast<int>(v * env.height), 0, env.height - 1);
  const float* t = &env.texels[3 * (static_cast<size_t>(row) * env.width + col)];
  return Spectrum{t[0], t[1], t[2]} * env.intensity;
}

std::optional<LightSample> Background::sample(std::array<double, 2> u) const {
  if (!importance_sampled()) return std::nullopt;
  double pdf_uv = 0;
  auto uv = distribution_.sample(u, &pdf_uv);
  if (!(pdf_uv > 0)) return std::nullopt;
  double sin_theta = portable_sin(kPi * uv[1]);
  if (!(sin_theta > 0)) return std::nullopt;
  LightSample s;
  s.wi = uv_to_direction(uv);
  s.distance = kInf;
  s.pdf = pdf_uv / (2 * kPi * kPi * sin_theta);
  s.radiance = radiance(s.wi);
  return s;
}

double Background::pdf(Vec3 d) const {
  if (!importance_sampled()) return 0;
  auto [u, v] = direction_to_uv(d);
  double sin_theta = std::sqrt(std::max(0.0, 1.0 - d.z * d.z));
  if (!(sin_theta > 0)) return 0;
  return distribution_.pdf(u, v) / (2 * kPi * kPi * sin_theta);
}

}  // namespace synthfarm::render
