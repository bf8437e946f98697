#include "cli/densepose_labels.h"

#include <algorithm>
#include <cmath>

#include "jobs/coco.h"

namespace synthfarm::cli {
namespace {

using nlohmann::json;

// The image pixel under box coordinate t in 0 .. 256 along one axis.
int box_pixel(double box_start, double box_size, double t, int image_size) {
  const double at = box_start + t * box_size / kDensePoseMaskSide;
  return std::clamp(static_cast<int>(std::floor(at)), 0, image_size - 1);
}

}  // namespace

int coarse_part(int fine) {
  // DensePose's fine parts 1..24 (humans/body.h) -> its 14 coarse parts: front and back
  // halves of a limb segment, and the two head halves, share a coarse part.
  // Indexed by fine part, 0..24.
  // clang-format off
  static constexpr std::array<int, 25> kCoarse = {0,  1,  1,  2,  3,  4,  5,  6,  7,  6,  7,  8,  9,
                                                  8,  9, 10, 11, 10, 11, 12, 13, 12, 13, 14, 14};
  // clang-format on
  return fine >= 1 && fine <= 24 ? kCoarse[static_cast<size_t>(fine)] : 0;
}

json densepose_fields(const std::array<double, 4>& box, std::span<const uint8_t> mask,
                      const IuvImage& iuv) {
  const size_t width = static_cast<size_t>(iuv.width);
  auto part_at = [&](size_t x, size_t y) -> int {
    const size_t i = y * width + x;
    return mask[i] != 0 ? static_cast<int>(iuv.part[i]) : 0;
  };
  std::vector<size_t> pixels;  // row-major indices of the person's pixels that have a part
  for (size_t i = 0; i < mask.size(); ++i) {
    if (part_at(i % width, i / width) > 0) pixels.push_back(i);
  }
  if (pixels.empty()) return json::object();
  json xs = json::array(), ys = json::array(), parts = json::array(), us = json::array(),
       vs = json::array();
  const size_t n = pixels.size(), points = std::min<size_t>(n, kDensePosePoints);
  for (size_t k = 0; k < points; ++k) {
    const size_t i =
        n <= kDensePosePoints ? pixels[k] : pixels[(2 * k + 1) * n / (2 * kDensePosePoints)];
    const double x = static_cast<double>(i % width) + 0.5, y = static_cast<double>(i / width) + 0.5;
    xs.push_back((x - box[0]) * kDensePoseMaskSide / box[2]);
    ys.push_back((y - box[1]) * kDensePoseMaskSide / box[3]);
    parts.push_back(static_cast<int>(iuv.part[i]));
    us.push_back(iuv.u[i]);
    vs.push_back(iuv.v[i]);
  }
  // The coarse part under each pixel of the 256 x 256 box grid, then one mask per part.
  constexpr size_t kSide = kDensePoseMaskSide;
  std::vector<uint32_t> coarse(kSide * kSide, 0);
  for (size_t r = 0; r < kSide; ++r) {
    const auto y =
        static_cast<size_t>(box_pixel(box[1], box[3], static_cast<double>(r) + 0.5, iuv.height));
    for (size_t c = 0; c < kSide; ++c) {
      const auto x =
          static_cast<size_t>(box_pixel(box[0], box[2], static_cast<double>(c) + 0.5, iuv.width));
      coarse[r * kSide + c] = static_cast<uint32_t>(coarse_part(part_at(x, y)));
    }
  }
  const auto masks = jobs::coco::encode_id_masks(coarse, kDensePoseMaskSide, kDensePoseMaskSide,
                                                 kDensePoseCoarseParts);
  json dp_masks = json::array();
  for (const auto& m : masks) {
    const bool empty = m.counts.size() == 1;  // a single run of 0s
    dp_masks.push_back(empty ? json::array()
                             : json{{"counts", jobs::coco::rle_to_string(m.counts)},
                                    {"size", {kDensePoseMaskSide, kDensePoseMaskSide}}});
  }
  return {{"dp_I", std::move(parts)},        {"dp_U", std::move(us)}, {"dp_V", std::move(vs)},
          {"dp_masks", std::move(dp_masks)}, {"dp_x", std::move(xs)}, {"dp_y", std::move(ys)}};
}

}  // namespace synthfarm::cli
