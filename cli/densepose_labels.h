// DensePose-COCO chart annotations of one person, from the sample EXR's part.id and uv.U/V
// layers (render/renderer.h): the fields DensePose's loaders read beside a COCO person
// annotation. Internal to cli/; pure, no files.
//
//   dp_I, dp_U, dp_V  the fine part (1..24) and its (u, v) at up to kDensePosePoints pixels
//                     of the person (pixels of its mask with a part: hair and skirts have
//                     none), spread evenly over them in row-major order: with n such pixels
//                     the k-th point is pixel floor((k + 0.5) * n / 100) of the list (all n
//                     when n <= 100).
//   dp_x, dp_y        each point's pixel centre relative to the box's top-left corner, scaled
//                     as if the box were 256 x 256: (x + 0.5 - box_x) * 256 / box_w.
//   dp_masks          14 coarse parts (DensePose's order: torso, right hand, left hand, left
//                     foot, right foot, upper leg right, upper leg left, lower leg right,
//                     lower leg left, upper arm left, upper arm right, lower arm left, lower
//                     arm right, head), each a 256 x 256 mask over the box as COCO compressed
//                     RLE {size: [256, 256], counts}, [] for a part not seen. Mask pixel
//                     (column c, row r) is the image pixel under the box point
//                     (box_x + (c + 0.5) * box_w / 256, box_y + (r + 0.5) * box_h / 256).
//
// The part numbers are DensePose's own (humans/body.h lists them); the (u, v) of each part
// are synthfarm's parametrisation of its body (body.h), the same kind of chart coordinates
// in [0, 1] but not the charts of DensePose's SMPL-based model.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

namespace synthfarm::cli {

inline constexpr int kDensePosePoints = 100;
inline constexpr int kDensePoseMaskSide = 256;
inline constexpr int kDensePoseCoarseParts = 14;

// The part and uv layers of one image, row-major.
struct IuvImage {
  int width = 0, height = 0;
  std::vector<float> part, u, v;  // part 0: none
};

// DensePose's coarse part (1..14) of a fine part (1..24); 0 for anything else.
int coarse_part(int fine_part);

// The dp_* fields of one person (box x, y, w, h in pixels; `mask` row-major over the
// image): an object with dp_x, dp_y, dp_I, dp_U, dp_V and dp_masks, or an empty object
// when no pixel of the person has a part (DensePose's loaders skip an annotation without
// them, as DensePose-COCO leaves most COCO people unannotated).
nlohmann::json densepose_fields(const std::array<double, 4>& box, std::span<const uint8_t> mask,
                                const IuvImage& iuv);

}  // namespace synthfarm::cli
