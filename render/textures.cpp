// Image textures and procedural patterns (see textures.h).
#include "render/internal/textures.h"

#include <algorithm>
#include <cmath>

#include "base/rng.h"

namespace synthfarm::render {

namespace {

int64_t wrap(int64_t i, int64_t n) {
  int64_t r = i % n;
  return r < 0 ? r + n : r;
}

// The key of a lattice seed, computed once per noise evaluation.
uint64_t lattice_key(uint64_t seed) { return mix64(seed ^ 0x2545f4914f6cdd1dull); }

// A hash of lattice point (x, y, z): the coordinates spread by large odd multipliers
// (wrapping), combined, and finalised by one SplitMix round. One mix per corner keeps
// fBm cheap (it runs at every path vertex on patterned surfaces).
uint64_t lattice_hash(int64_t x, int64_t y, int64_t z, uint64_t key) {
  return mix64(key ^ (static_cast<uint64_t>(x) * 0x9e3779b97f4a7c15ull) ^
               (static_cast<uint64_t>(y) * 0xc2b2ae3d27d4eb4full) ^ (static_cast<uint64_t>(z) * 0x165667b19e3779f9ull));
}

// One of the 12 edge directions of a cube, chosen by the hash's top 4 bits: Perlin's
// improved noise (2002) pads them to 16 with four repeats, so the choice is a shift and a
// table lookup rather than a division by 12.
double gradient_dot(uint64_t hash, double x, double y, double z) {
  static constexpr signed char kGradients[16][3] = {
      {1, 1, 0}, {-1, 1, 0}, {1, -1, 0}, {-1, -1, 0}, {1, 0, 1},  {-1, 0, 1},  {1, 0, -1}, {-1, 0, -1},
      {0, 1, 1}, {0, -1, 1}, {0, 1, -1}, {0, -1, -1}, {1, 1, 0}, {-1, 1, 0}, {0, -1, 1}, {0, -1, -1}};
  const signed char* g = kGradients[hash >> 60];
  return g[0] * x + g[1] * y + g[2] * z;
}

double fade(double t) { return t * t * t * (t * (t * 6.0 - 15.0) + 10.0); }
double lerp(double a, double b, double t) { return a + (b - a) * t; }
double fract(double x) { return x - std::floor(x); }

Rgb mix(Rgb a, Rgb b, double t) {
  t = std::clamp(t, 0.0, 1.0);
  return {static_cast<float>(a.r + (b.r - a.r) * t), static_cast<float>(a.g + (b.g - a.g) * t),
          static_cast<float>(a.b + (b.b - a.b) * t)};
}

double smoothstep(double e0, double e1, double x) {
  double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3.0 - 2.0 * t);
}

}  // namespace

Rgba sample_texture(const Texture& texture, double u, double v) {
  const int64_t w = texture.width, h = texture.height;
  if (w <= 0 || h <= 0 || texture.texels.size() < static_cast<size_t>(4 * w * h))
    return {1, 1, 1, 1};
  if (!std::isfinite(u) || !std::isfinite(v)) u = v = 0;
  // Keep the coordinate small before scaling so floor() stays exact for huge u, v.
  double x = fract(u) * static_cast<double>(w) - 0.5;
  double y = fract(v) * static_cast<double>(h) - 0.5;
  double fx = std::floor(x), fy = std::floor(y);
  double tx = x - fx, ty = y - fy;
  int64_t x0 = wrap(static_cast<int64_t>(fx), w), x1 = wrap(static_cast<int64_t>(fx) + 1, w);
  int64_t y0 = wrap(static_cast<int64_t>(fy), h), y1 = wrap(static_cast<int64_t>(fy) + 1, h);
  auto texel = [&](int64_t tx_, int64_t ty_) {
    return &texture.texels[static_cast<size_t>(4 * (ty_ * w + tx_))];
  };
  const float *a = texel(x0, y0), *b = texel(x1, y0), *c = texel(x0, y1), *d = texel(x1, y1);
  auto channel = [&](int k) {
    return static_cast<float>(lerp(lerp(a[k], b[k], tx), lerp(c[k], d[k], tx), ty));
  };
  return {channel(0), channel(1), channel(2), channel(3)};
}

double gradient_noise(Vec3 p, uint64_t seed) {
  double fx = std::floor(p.x), fy = std::floor(p.y), fz = std::floor(p.z);
  auto ix = static_cast<int64_t>(fx), iy = static_cast<int64_t>(fy), iz = static_cast<int64_t>(fz);
  double x = p.x - fx, y = p.y - fy, z = p.z - fz;
  double u = fade(x), v = fade(y), w = fade(z);
  const uint64_t key = lattice_key(seed);
  auto g = [&](int dx, int dy, int dz) {
    return gradient_dot(lattice_hash(ix + dx, iy + dy, iz + dz, key), x - dx, y - dy, z - dz);
  };
  double x00 = lerp(g(0, 0, 0), g(1, 0, 0), u), x10 = lerp(g(0, 1, 0), g(1, 1, 0), u);
  double x01 = lerp(g(0, 0, 1), g(1, 0, 1), u), x11 = lerp(g(0, 1, 1), g(1, 1, 1), u);
  return lerp(lerp(x00, x10, v), lerp(x01, x11, v), w);
}

double fbm(Vec3 p, int octaves, uint64_t seed) {
  octaves = std::clamp(octaves, 1, 16);
  double sum = 0, amplitude = 1, total = 0, frequency = 1;
  for (int o = 0; o < octaves; ++o) {
    // Each octave its own lattice (seed + o) so their features do not line up.
    sum += amplitude * gradient_noise(p * frequency, seed + static_cast<uint64_t>(o));
    total += amplitude;
    amplitude *= 0.5;
    frequency *= 2.0;
  }
  return sum / total;
}

Rgb eval_pattern(const Pattern& pattern, Vec3 p) {
  const Vec3 q = p * pattern.scale;
  // Lattice cells are int64: keep the conversions defined for broken or absurdly far points.
  constexpr double kLimit = 1e12;  // times 2^15 for the finest fBm octave
  if (!(std::abs(q.x) < kLimit && std::abs(q.y) < kLimit && std::abs(q.z) < kLimit))
    return pattern.a;
  switch (pattern.kind) {
    case Pattern::Kind::kNoise:
      return mix(pattern.a, pattern.b, 0.5 + 0.5 * gradient_noise(q, pattern.seed));
    case Pattern::Kind::kFbm:
      return mix(pattern.a, pattern.b, 0.5 + 0.5 * fbm(q, pattern.octaves, pattern.seed));
    case Pattern::Kind::kChecker: {
      // A tiny bias keeps points computed on the lattice planes (z = 0 floors) on one side.
      constexpr double kBias = 1e-7;
      auto cell = static_cast<int64_t>(std::floor(q.x + kBias)) +
                  static_cast<int64_t>(std::floor(q.y + kBias)) +
                  static_cast<int64_t>(std::floor(q.z + kBias));
      return (cell & 1) != 0 ? pattern.b : pattern.a;
    }
    case Pattern::Kind::kBrick: {
      double course = std::floor(q.z);
      double shift = wrap(static_cast<int64_t>(course), 2) == 1 ? 0.5 : 0.0;
      double bx = q.x * 0.5 + shift, by = q.y * 0.5 + shift;
      double half_mortar = 0.5 * pattern.mortar;
      auto in_joint = [&](double t, double width) {
        double f = fract(t);
        return f < width || f > 1.0 - width;
      };
      if (in_joint(q.z, half_mortar) || in_joint(bx, 0.5 * half_mortar) ||
          in_joint(by, 0.5 * half_mortar)) {
        return pattern.a;
      }
      uint64_t h =
          lattice_hash(static_cast<int64_t>(std::floor(bx)), static_cast<int64_t>(std::floor(by)),
                       static_cast<int64_t>(course), lattice_key(pattern.seed));
      double jitter = 0.85 + 0.3 * static_cast<double>(h >> 11) * 0x1p-53;
      return {static_cast<float>(pattern.b.r * jitter), static_cast<float>(pattern.b.g * jitter),
              static_cast<float>(pattern.b.b * jitter)};
    }
    case Pattern::Kind::kWood: {
      double r = std::sqrt(q.x * q.x + q.y * q.y) +
                 pattern.distortion * fbm(q, pattern.octaves, pattern.seed);
      double ring = fract(r);
      // Early wood fades to a sharper band of late wood at the ring's edge.
      double t = smoothstep(0.0, 0.8, ring) * (1.0 - smoothstep(0.8, 1.0, ring));
      return mix(pattern.a, pattern.b, t);
    }
    case Pattern::Kind::kMarble: {
      double s =
          portable_sin(q.x + pattern.distortion * 4.0 * fbm(q, pattern.octaves, pattern.seed));
      double vein = 1.0 - std::abs(s);  // 1 on the veins
      double v2 = vein * vein;
      return mix(pattern.b, pattern.a, v2 * v2 * v2);
    }
  }
  return pattern.a;
}

Rgb eval_pattern(std::span<const Pattern> patterns, size_t index, Vec3 p) {
  if (index >= patterns.size()) return {0.5f, 0.5f, 0.5f};
  Pattern node = patterns[index];
  auto input = [&](int i, Rgb& colour) {
    if (i >= 0 && static_cast<size_t>(i) < index) colour = eval_pattern(patterns, static_cast<size_t>(i), p);
  };
  input(node.a_input, node.a);
  input(node.b_input, node.b);
  return eval_pattern(node, p);
}

}  // namespace synthfarm::render
