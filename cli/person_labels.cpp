#include "cli/person_labels.h"

#include <fmt/format.h>

#include <algorithm>

#include "jobs/coco.h"

namespace synthfarm::cli {
namespace {

using nlohmann::json;

constexpr uint64_t kPersonSemanticId = 1;  // render::SemanticClass::kPerson

// A whole number >= 0 (parsed JSON holds it unsigned; JSON built in code may hold it signed).
bool non_negative(const json& j) {
  return j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0);
}

// A positive image side of `j`; the error names the field.
tl::expected<int, std::string> side(const json& j, const char* key, std::string_view source) {
  auto it = j.find(key);
  if (it == j.end() || !non_negative(*it) || it->get<uint64_t>() == 0 ||
      it->get<uint64_t>() > 65536) {
    return tl::unexpected(
        fmt::format("{}.{}: expected an image side of 1 .. 65536 pixels", source, key));
  }
  return static_cast<int>(it->get<uint64_t>());
}

}  // namespace

tl::expected<std::vector<uint8_t>, std::string> decode_segmentation(const json& segmentation,
                                                                    int width, int height,
                                                                    const std::string& path) {
  if (!segmentation.is_object() || !segmentation.contains("counts") ||
      !segmentation["counts"].is_string()) {
    return tl::unexpected(
        fmt::format("{}.segmentation: expected {{size: [h, w], counts: \"...\"}}", path));
  }
  if (segmentation.value("size", json()) != json::array({height, width})) {
    return tl::unexpected(
        fmt::format("{}.segmentation.size: expected the image's [{}, {}]", path, height, width));
  }
  auto counts = jobs::coco::rle_from_string(segmentation["counts"].get_ref<const std::string&>());
  if (!counts)
    return tl::unexpected(fmt::format("{}.segmentation.counts: {}", path, counts.error()));
  const uint64_t pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
  std::vector<uint8_t> mask(pixels, 0);
  uint64_t p = 0;  // column-major position
  for (size_t i = 0; i < counts->size(); ++i) {
    const uint64_t run = (*counts)[i];
    if (p + run > pixels) break;
    if (i % 2 == 1) {
      for (uint64_t q = p; q < p + run; ++q) {
        const uint64_t x = q / static_cast<uint64_t>(height), y = q % static_cast<uint64_t>(height);
        mask[y * static_cast<uint64_t>(width) + x] = 1;
      }
    }
    p += run;
  }
  if (p != pixels) {
    return tl::unexpected(fmt::format(
        "{}.segmentation.counts: the runs do not cover the {} x {} image", path, width, height));
  }
  return mask;
}

tl::expected<PersonLabel, std::string> person_of_annotation(const json& item, int width, int height,
                                                            const std::string& path) {
  PersonLabel person;
  const json& bbox = item.contains("bbox") ? item["bbox"] : json();
  if (!bbox.is_array() || bbox.size() != 4 ||
      !std::all_of(bbox.begin(), bbox.end(), [](const json& v) { return v.is_number(); })) {
    return tl::unexpected(fmt::format("{}.bbox: expected [x, y, w, h]", path));
  }
  for (size_t i = 0; i < 4; ++i) person.bbox[i] = bbox[i].get<double>();
  const json& keypoints = item.contains("keypoints") ? item["keypoints"] : json();
  if (!keypoints.is_array() || keypoints.size() != 3 * kKeypointCount) {
    return tl::unexpected(
        fmt::format("{}.keypoints: expected {} numbers", path, 3 * kKeypointCount));
  }
  for (size_t k = 0; k < static_cast<size_t>(kKeypointCount); ++k) {
    const json& v = keypoints[3 * k + 2];
    if (!non_negative(v) || v.get<uint64_t>() > 2) {
      return tl::unexpected(
          fmt::format("{}.keypoints[{}]: visibility must be 0, 1 or 2", path, 3 * k + 2));
    }
    if (v.get<uint64_t>() == 0) continue;  // not labelled: 0, 0, 0 whatever the position says
    if (!keypoints[3 * k].is_number() || !keypoints[3 * k + 1].is_number()) {
      return tl::unexpected(
          fmt::format("{}.keypoints[{}]: a labelled keypoint needs x and y", path, 3 * k));
    }
    person.keypoints[3 * k] = keypoints[3 * k].get<double>();
    person.keypoints[3 * k + 1] = keypoints[3 * k + 1].get<double>();
    person.keypoints[3 * k + 2] = static_cast<double>(v.get<uint64_t>());
  }
  auto mask = decode_segmentation(item.contains("segmentation") ? item["segmentation"] : json(),
                                  width, height, path);
  if (!mask) return tl::unexpected(mask.error());
  person.mask = std::move(*mask);
  return person;
}

tl::expected<ImageLabels, std::string> people_of_sample(const json& sample,
                                                        std::string_view source) {
  if (!sample.is_object()) return tl::unexpected(fmt::format("{}: not a JSON object", source));
  ImageLabels out;
  auto width = side(sample, "width", source);
  if (!width) return tl::unexpected(width.error());
  auto height = side(sample, "height", source);
  if (!height) return tl::unexpected(height.error());
  out.width = *width;
  out.height = *height;
  if (!sample.contains("instances") || !sample["instances"].is_array()) {
    return tl::unexpected(fmt::format("{}.instances: expected an array", source));
  }
  const json& instances = sample["instances"];
  for (size_t i = 0; i < instances.size(); ++i) {
    const json& item = instances[i];
    const std::string path = fmt::format("{}.instances[{}]", source, i);
    if (!item.is_object()) return tl::unexpected(fmt::format("{}: expected an object", path));
    const json semantic = item.value("semantic_id", json()), area = item.value("area", json());
    if (!non_negative(semantic) || !non_negative(area)) {
      return tl::unexpected(
          fmt::format("{}: expected non-negative integers semantic_id and area", path));
    }
    if (semantic.get<uint64_t>() != kPersonSemanticId || area.get<uint64_t>() == 0) continue;
    auto person = person_of_annotation(item, out.width, out.height, path);
    if (!person) return tl::unexpected(person.error());
    out.people.push_back(std::move(*person));
  }
  return out;
}

}  // namespace synthfarm::cli
