// The people of one image as the label exporters need them (box, COCO-17 keypoints and
// mask), read from a per-sample JSON (jobs/sample.cpp) or a COCO annotation
// (jobs/coco.h). Internal to cli/; knows nothing of storage or of any output format.
//
// Which people: exactly those the dataset's COCO person file lists, in its order: persons
// (semantic_id 1) with at least one visible pixel (area > 0).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "base/keypoints.h"

namespace synthfarm::cli {

struct PersonLabel {
  std::array<double, 4> bbox{};  // x, y, width, height in pixels (COCO)
  // x1, y1, v1, ..., x17, y17, v17: pixels (pixel (x, y) covers [x, x + 1)); v 0 not
  // labelled (then x = y = 0, as COCO writes it), 1 occluded, 2 visible.
  std::array<double, 3 * kKeypointCount> keypoints{};
  std::vector<uint8_t> mask;  // row-major, width * height of the image, 1 = the person's
};

struct ImageLabels {
  int width = 0, height = 0;
  std::vector<PersonLabel> people;
};

// The people of a per-sample JSON. `source` names the JSON in errors, which give the field
// path ("samples/00000003.json.instances[1].bbox: expected [x, y, w, h]").
tl::expected<ImageLabels, std::string> people_of_sample(const nlohmann::json& sample,
                                                        std::string_view source);

// A person from one COCO annotation (bbox, keypoints, segmentation) of an image of this
// size; `path` names the annotation in errors.
tl::expected<PersonLabel, std::string> person_of_annotation(const nlohmann::json& annotation,
                                                            int width, int height,
                                                            const std::string& path);

// COCO's compressed RLE {size: [h, w], counts: "..."} (column-major runs, jobs/coco.h) as a
// row-major mask of this size. Errors: another size, runs that do not cover the image.
tl::expected<std::vector<uint8_t>, std::string> decode_segmentation(
    const nlohmann::json& segmentation, int width, int height, const std::string& path);

}  // namespace synthfarm::cli
