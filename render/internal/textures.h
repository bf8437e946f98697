// Surface colour sources for materials: image textures (bilinear,
// wrapping) and procedural patterns evaluated at a world-space point. Deterministic: integer
// lattice hashes, + - * / sqrt floor and the portable trigonometry of math.h only.
//
// Pattern kinds (q = point * scale, features per metre):
//   noise   a + (b - a) * t with t = gradient noise remapped to [0, 1]
//   fbm     the same with fractal Brownian motion over `octaves` octaves
//   checker a and b alternating on the unit lattice of q (3D, so every plane shows squares)
//   brick   running bond laid in horizontal courses (z up): courses 1 / scale high, bricks
//           two courses long, every other course shifted by half a brick; `a` is the mortar
//           (`mortar` wide relative to a course), `b` the bricks, each brick's brightness
//           jittered by a hash of its lattice cell
//   wood    rings around the z axis, one per 1 / scale metres, warped by fBm * distortion;
//           `a` at the ring edges (late wood), `b` inside
//   marble  veins along x, sin(q.x + distortion * fBm(q)) shaped to thin dark lines of `a`
//           in `b`
#pragma once

#include <cstdint>
#include <span>

#include "base/math.h"
#include "render/scene.h"

namespace synthfarm::render {

struct Rgba {
  float r = 0, g = 0, b = 0, a = 0;
};

// Bilinear lookup at texture coordinate (u, v) with (0, 0) the top-left corner of the image,
// texel centres at half-integers, wrapping (repeat) in both directions. An empty texture
// reads as opaque white, so a missing image leaves the factor it multiplies unchanged.
Rgba sample_texture(const Texture& texture, double u, double v);

// Gradient (Perlin-style) noise with gradients hashed from the integer lattice and `seed`:
// smooth, 0 on lattice points, roughly in [-1, 1].
double gradient_noise(Vec3 p, uint64_t seed);
// Fractal Brownian motion: `octaves` octaves of gradient_noise at doubling frequency and
// halving amplitude, normalised back to roughly [-1, 1].
double fbm(Vec3 p, int octaves, uint64_t seed);

// The pattern's colour at world point `p`, ignoring its inputs (a leaf node).
Rgb eval_pattern(const Pattern& pattern, Vec3 p);
// Node `index` of a pattern graph at `p`: its inputs evaluated first. An input must be an
// earlier index (so graphs have no cycles); one that is not, or that is out of range, is
// ignored (the node's own colour stands).
Rgb eval_pattern(std::span<const Pattern> patterns, size_t index, Vec3 p);

}  // namespace synthfarm::render
