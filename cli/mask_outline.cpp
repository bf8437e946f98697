#include "cli/mask_outline.h"

#include <limits>

namespace synthfarm::cli {
namespace {

// Steps along pixel edges, clockwise on the image (y down): right, down, left, up. Turning
// right is d + 1.
constexpr std::array<int, 4> kDx = {1, 0, -1, 0};
constexpr std::array<int, 4> kDy = {0, 1, 0, -1};

// Twice the polygon's signed area: positive for a clockwise outline on the image (y down).
int64_t twice_signed_area(const Polygon& polygon) {
  int64_t sum = 0;
  for (size_t i = 0; i < polygon.size(); ++i) {
    const auto& a = polygon[i];
    const auto& b = polygon[(i + 1) % polygon.size()];
    sum += int64_t{a[0]} * b[1] - int64_t{b[0]} * a[1];
  }
  return sum;
}

}  // namespace

std::vector<Polygon> outer_outlines(std::span<const uint8_t> mask, int width, int height) {
  const size_t stride = static_cast<size_t>(width) + 1;  // vertices per row
  auto at = [&](int x, int y) {
    return x >= 0 && y >= 0 && x < width && y < height &&
           mask[static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)] != 0;
  };
  // Every boundary edge, directed so the region is on its right, as a bit (its direction)
  // on the vertex it leaves.
  std::vector<uint8_t> out(stride * (static_cast<size_t>(height) + 1), 0);
  auto add = [&](int x, int y, int d) {
    out[static_cast<size_t>(y) * stride + static_cast<size_t>(x)] |= 1 << d;
  };
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      if (!at(x, y)) continue;
      if (!at(x, y - 1)) add(x, y, 0);
      if (!at(x + 1, y)) add(x + 1, y, 1);
      if (!at(x, y + 1)) add(x + 1, y + 1, 2);
      if (!at(x - 1, y)) add(x, y + 1, 3);
    }
  }
  std::vector<Polygon> outlines;
  for (size_t start = 0; start < out.size(); ++start) {
    while (out[start] != 0) {
      int d = 0;
      while (!(out[start] & (1 << d))) ++d;
      const int sx = static_cast<int>(start % stride), sy = static_cast<int>(start / stride);
      int x = sx, y = sy;
      std::vector<std::array<int, 2>> vertices;
      std::vector<int> steps;
      for (;;) {
        out[static_cast<size_t>(y) * stride + static_cast<size_t>(x)] &=
            static_cast<uint8_t>(~(1 << d));
        vertices.push_back({x, y});
        steps.push_back(d);
        x += kDx[d];
        y += kDy[d];
        if (x == sx && y == sy) break;
        // Right turn first: where two regions meet at a corner, the outline stays with its
        // own region, which keeps the regions 4-connected and the outlines simple.
        const uint8_t here = out[static_cast<size_t>(y) * stride + static_cast<size_t>(x)];
        int next = -1;
        for (int turn : {1, 0, 3}) {
          if (here & (1 << ((d + turn) % 4))) {
            next = (d + turn) % 4;
            break;
          }
        }
        if (next < 0) break;  // cannot happen: every vertex has as many edges out as in
        d = next;
      }
      Polygon polygon;  // the corners: where the step direction changes
      for (size_t i = 0; i < vertices.size(); ++i) {
        if (steps[i] != steps[(i + steps.size() - 1) % steps.size()])
          polygon.push_back(vertices[i]);
      }
      if (twice_signed_area(polygon) > 0) outlines.push_back(std::move(polygon));
    }
  }
  return outlines;
}

Polygon join_outlines(const std::vector<Polygon>& outlines) {
  if (outlines.empty()) return {};
  Polygon joined = outlines[0];
  for (size_t k = 1; k < outlines.size(); ++k) {
    const Polygon& next = outlines[k];
    if (next.empty()) continue;
    if (joined.empty()) {
      joined = next;
      continue;
    }
    size_t best_i = 0, best_j = 0;
    int64_t best = std::numeric_limits<int64_t>::max();
    for (size_t i = 0; i < joined.size(); ++i) {
      for (size_t j = 0; j < next.size(); ++j) {
        const int64_t dx = joined[i][0] - next[j][0], dy = joined[i][1] - next[j][1];
        if (dx * dx + dy * dy < best) {
          best = dx * dx + dy * dy;
          best_i = i;
          best_j = j;
        }
      }
    }
    // joined[0..i], then the whole of `next` from j round to j, then back to joined[i] and
    // on; a vertex repeated back to back (outlines that touch) is written once.
    Polygon merged;
    auto push = [&](const std::array<int, 2>& p) {
      if (merged.empty() || merged.back() != p) merged.push_back(p);
    };
    for (size_t i = 0; i <= best_i; ++i) push(joined[i]);
    for (size_t n = 0; n <= next.size(); ++n) push(next[(best_j + n) % next.size()]);
    for (size_t i = best_i; i < joined.size(); ++i) push(joined[i]);
    joined = std::move(merged);
  }
  return joined;
}

}  // namespace synthfarm::cli
