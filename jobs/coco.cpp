#include "jobs/coco.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "jobs/scene.h"

namespace synthfarm::jobs::coco {

using render::SemanticClass;
using render::semantic_class_name;

namespace {

using nlohmann::json;

// The semantic classes that become detection categories (every class but background).
constexpr std::array<SemanticClass, 4> kCategories = {SemanticClass::kPerson, SemanticClass::kFloor,
                                                      SemanticClass::kWall, SemanticClass::kProp};

std::string_view supercategory(SemanticClass semantic) {
  switch (semantic) {
    case SemanticClass::kPerson:
      return "person";
    case SemanticClass::kFloor:
    case SemanticClass::kWall:
      return "scene";
    default:
      return "object";
  }
}

json person_category() {
  json names = json::array();
  for (std::string_view name : kKeypointNames) names.push_back(std::string(name));
  json skeleton = json::array();
  for (const auto& [a, b] : kPersonSkeleton) skeleton.push_back({a, b});
  return {{"id", static_cast<uint32_t>(SemanticClass::kPerson)},
          {"name", "person"},
          {"supercategory", "person"},
          {"keypoints", std::move(names)},
          {"skeleton", std::move(skeleton)}};
}

json instance_categories() {
  json out = json::array();
  for (SemanticClass c : kCategories) {
    out.push_back({{"id", static_cast<uint32_t>(c)},
                   {"name", std::string(semantic_class_name(c))},
                   {"supercategory", std::string(supercategory(c))}});
  }
  return out;
}

bool is_category(uint64_t semantic_id) {
  for (SemanticClass c : kCategories) {
    if (static_cast<uint64_t>(c) == semantic_id) return true;
  }
  return false;
}

// A non-negative integer field of `j`; the error names the field path.
tl::expected<uint64_t, std::string> unsigned_field(const json& j, const char* key,
                                                   const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) {
    return tl::unexpected(fmt::format("{}.{}: expected a non-negative integer", path, key));
  }
  return it->get<uint64_t>();
}

// Checks that `segmentation` is {size: [height, width], counts: "..."} and that its runs
// cover the image and `area` pixels.
tl::expected<void, std::string> check_segmentation(const json& segmentation, uint64_t width,
                                                   uint64_t height, uint64_t area,
                                                   const std::string& path) {
  if (!segmentation.is_object() || !segmentation.contains("size") ||
      !segmentation.contains("counts") || !segmentation["counts"].is_string()) {
    return tl::unexpected(
        fmt::format("{}.segmentation: expected {{size: [h, w], counts: \"...\"}}", path));
  }
  if (segmentation["size"] != json::array({height, width})) {
    return tl::unexpected(fmt::format("{}.segmentation.size: {} is not the image's [{}, {}]", path,
                                      segmentation["size"].dump(), height, width));
  }
  auto counts = rle_from_string(segmentation["counts"].get_ref<const std::string&>());
  if (!counts)
    return tl::unexpected(fmt::format("{}.segmentation.counts: {}", path, counts.error()));
  uint64_t pixels = 0, ones = 0;
  for (size_t i = 0; i < counts->size(); ++i) {
    pixels += (*counts)[i];
    if (i % 2 == 1) ones += (*counts)[i];
  }
  if (pixels != width * height || ones != area) {
    return tl::unexpected(
        fmt::format("{}.segmentation.counts: runs cover {} pixels of which {} set; expected {} and "
                    "area {}",
                    path, pixels, ones, width * height, area));
  }
  return {};
}

}  // namespace

std::vector<RleMask> encode_id_masks(std::span<const uint32_t> ids, int width, int height,
                                     uint32_t max_id) {
  const uint64_t total = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
  if (width < 0 || height < 0 || ids.size() != total ||
      total > std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument(
        fmt::format("encode_id_masks: {} ids for a {}x{} image (at most 2^32 - 1 pixels)",
                    ids.size(), width, height));
  }
  std::vector<RleMask> masks(max_id, RleMask{height, width, {}});
  // Per id, the column-major position just after its last pixel seen so far.
  std::vector<uint64_t> end(max_id, 0);
  for (int x = 0; x < width; ++x) {
    for (int y = 0; y < height; ++y) {
      const uint32_t id =
          ids[static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)];
      if (id == 0 || id > max_id) continue;
      const uint64_t p =
          static_cast<uint64_t>(x) * static_cast<uint64_t>(height) + static_cast<uint64_t>(y);
      std::vector<uint32_t>& counts = masks[id - 1].counts;
      uint64_t& e = end[id - 1];
      if (!counts.empty() && e == p) {
        ++counts.back();
      } else {
        counts.push_back(
            static_cast<uint32_t>(p - e));  // the 0s since the last run (0 at the very start)
        counts.push_back(1);
      }
      e = p + 1;
    }
  }
  for (uint32_t k = 0; k < max_id; ++k) {
    std::vector<uint32_t>& counts = masks[k].counts;
    if (counts.empty()) {
      counts.push_back(static_cast<uint32_t>(total));
    } else if (end[k] < total) {
      counts.push_back(static_cast<uint32_t>(total - end[k]));
    }
  }
  return masks;
}

std::string rle_to_string(std::span<const uint32_t> counts) {
  std::string out;
  out.reserve(counts.size() * 2);
  for (size_t i = 0; i < counts.size(); ++i) {
    // From the fourth count on (i > 2, exactly as maskApi.c), the difference from the
    // count two before: runs of one kind tend to be alike, so the numbers stay small.
    int64_t x = counts[i];
    if (i > 2) x -= counts[i - 2];
    bool more = true;
    while (more) {
      int c = static_cast<int>(x & 0x1f);
      x >>= 5;  // arithmetic: the sign is carried down
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      out.push_back(static_cast<char>(c + 48));
    }
  }
  return out;
}

tl::expected<std::vector<uint32_t>, std::string> rle_from_string(std::string_view text) {
  std::vector<uint32_t> counts;
  size_t p = 0;
  while (p < text.size()) {
    const size_t start = p;
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= text.size())
        return tl::unexpected(
            fmt::format("count {} at offset {} is truncated", counts.size(), start));
      const int c = static_cast<unsigned char>(text[p]) - 48;
      if (c < 0 || c > 63) {
        return tl::unexpected(
            fmt::format("byte {} at offset {} is not in the RLE alphabet (48 .. 111)",
                        static_cast<unsigned char>(text[p]), p));
      }
      // Seven 5-bit groups hold any difference of two 32-bit counts with its sign.
      if (k == 7)
        return tl::unexpected(
            fmt::format("count {} at offset {} is too long", counts.size(), start));
      x |= static_cast<int64_t>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(int64_t{1} << (5 * k));  // sign-extend
    }
    if (counts.size() > 2) x += counts[counts.size() - 2];
    if (x < 0 || x > std::numeric_limits<uint32_t>::max()) {
      return tl::unexpected(fmt::format("count {} at offset {} is {}, outside 0 .. 2^32 - 1",
                                        counts.size(), start, x));
    }
    counts.push_back(static_cast<uint32_t>(x));
  }
  return counts;
}

DatasetBuilder::DatasetBuilder(std::string info_json)
    : info_json_(std::move(info_json)),
      person_("{\"annotations\":["),
      instances_("{\"annotations\":[") {}

tl::expected<void, std::string> DatasetBuilder::add_image(std::string_view sample_json,
                                                          const std::string& file_name,
                                                          std::string_view source) {
  const json j = json::parse(sample_json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return tl::unexpected(fmt::format("{}: not a JSON object", source));
  return add_parsed_image(j, file_name, source);
}

tl::expected<void, std::string> DatasetBuilder::add_parsed_image(const json& j,
                                                                 const std::string& file_name,
                                                                 std::string_view source) {
  const std::string where(source);
  if (!j.is_object()) return tl::unexpected(fmt::format("{}: not a JSON object", where));
  auto width = unsigned_field(j, "width", where);
  if (!width) return tl::unexpected(width.error());
  auto height = unsigned_field(j, "height", where);
  if (!height) return tl::unexpected(height.error());
  auto index = unsigned_field(j, "index", where);
  if (!index) return tl::unexpected(index.error());
  if (!j.contains("instances") || !j["instances"].is_array()) {
    return tl::unexpected(fmt::format("{}.instances: expected an array", where));
  }

  const uint64_t image_id = images_ + 1;
  json image = {{"id", image_id},
                {"file_name", file_name},
                {"width", *width},
                {"height", *height},
                {"sample", *index}};
  // The camera, as synthfarm's extension of COCO that recon/coco_input.h reads: a fit of
  // these keypoints then needs no guess of the field of view. Not for a sample with a lens:
  // its keypoints are the distorted image's, which no pinhole K describes.
  for (const char* camera : {"K", "world_to_camera"}) {
    if (!j.contains("distortion") && j.contains(camera) && j[camera].is_array()) image[camera] = j[camera];
  }
  const bool clip_frame = j.contains("clip") && j["clip"].is_object();
  if (clip_frame) {
    // Not value("frame", 0): it converts whatever is there, throwing on a string and
    // undefined for a number beyond int.
    const json& clip = j["clip"];
    auto frame = clip.contains("frame") ? unsigned_field(clip, "frame", where + ".clip")
                                        : tl::expected<uint64_t, std::string>(0);
    if (!frame) return tl::unexpected(frame.error());
    image["frame"] = *frame;
    image["frame_index"] = *frame;  // the name recon/coco_input.h reads, with track_id below
  }

  // Built aside and appended only when the whole image is good.
  std::string person_items, instance_items;
  uint64_t person_count = 0, instance_count = 0;
  const json& instances = j["instances"];
  for (size_t i = 0; i < instances.size(); ++i) {
    const json& item = instances[i];
    const std::string path = fmt::format("{}.instances[{}]", where, i);
    if (!item.is_object()) return tl::unexpected(fmt::format("{}: expected an object", path));
    auto semantic = unsigned_field(item, "semantic_id", path);
    if (!semantic) return tl::unexpected(semantic.error());
    if (!item.contains("area")) {
      return tl::unexpected(
          fmt::format("{}.area: missing (rendered before masks were stored per sample?)", path));
    }
    auto area = unsigned_field(item, "area", path);
    if (!area) return tl::unexpected(area.error());
    if (*area == 0 || !is_category(*semantic)) continue;
    auto id = unsigned_field(item, "id", path);
    if (!id) return tl::unexpected(id.error());
    const json& bbox = item.contains("bbox") ? item["bbox"] : json();
    if (!bbox.is_array() || bbox.size() != 4 ||
        !std::all_of(bbox.begin(), bbox.end(), [](const json& v) { return v.is_number(); })) {
      return tl::unexpected(fmt::format("{}.bbox: expected [x, y, w, h]", path));
    }
    const json& segmentation = item.contains("segmentation") ? item["segmentation"] : json();
    if (auto ok = check_segmentation(segmentation, *width, *height, *area, path); !ok) {
      return tl::unexpected(ok.error());
    }
    json annotation = {{"id", instance_annotations_ + instance_count + 1},
                       {"image_id", image_id},
                       {"category_id", *semantic},
                       {"bbox", bbox},
                       {"area", *area},
                       {"segmentation", segmentation},
                       {"iscrowd", 0},
                       {"instance_id", *id}};
    if (!instance_items.empty() || instance_annotations_ > 0) instance_items += ',';
    instance_items += annotation.dump();
    ++instance_count;

    if (*semantic != static_cast<uint64_t>(SemanticClass::kPerson)) continue;
    const json& keypoints = item.contains("keypoints") ? item["keypoints"] : json();
    if (!keypoints.is_array() || keypoints.size() != 3 * kKeypointCount) {
      return tl::unexpected(
          fmt::format("{}.keypoints: expected {} numbers", path, 3 * kKeypointCount));
    }
    // COCO writes an unlabelled keypoint (v = 0) as 0, 0, 0, whatever the sample JSON holds
    // for its position.
    json coco_keypoints = json::array();
    int labelled = 0;
    for (int k = 0; k < kKeypointCount; ++k) {
      const json &x = keypoints[3 * k], &y = keypoints[3 * k + 1], &v = keypoints[3 * k + 2];
      if (!v.is_number_unsigned() || v.get<uint64_t>() > 2) {
        return tl::unexpected(
            fmt::format("{}.keypoints[{}]: visibility must be 0, 1 or 2", path, 3 * k + 2));
      }
      if (v.get<uint64_t>() == 0) {
        coco_keypoints.insert(coco_keypoints.end(), {0, 0, 0});
        continue;
      }
      if (!x.is_number() || !y.is_number()) {
        return tl::unexpected(
            fmt::format("{}.keypoints[{}]: a labelled keypoint needs x and y", path, 3 * k));
      }
      coco_keypoints.insert(coco_keypoints.end(), {x, y, v});
      ++labelled;
    }
    annotation["id"] = person_annotations_ + person_count + 1;
    annotation["keypoints"] = std::move(coco_keypoints);
    annotation["num_keypoints"] = labelled;
    // One person along a clip's frames (PoseTrack's track_id): unique in the dataset.
    if (clip_frame) annotation["track_id"] = *index * kTrackIdsPerSample + *id;
    if (!person_items.empty() || person_annotations_ > 0) person_items += ',';
    person_items += annotation.dump();
    ++person_count;
  }

  if (images_ > 0) images_json_ += ',';
  images_json_ += image.dump();
  person_ += person_items;
  instances_ += instance_items;
  ++images_;
  person_annotations_ += person_count;
  instance_annotations_ += instance_count;
  return {};
}

DatasetBuilder::Files DatasetBuilder::finish() {
  // Keys in sorted order, as every JSON synthfarm writes: annotations, categories, images,
  // info, licenses.
  auto close = [&](std::string& file, const json& categories) {
    file += "],\"categories\":";
    file += categories.dump();
    file += ",\"images\":[";
    file += images_json_;
    file += "],\"info\":";
    file += info_json_;
    file += ",\"licenses\":[]}\n";
  };
  close(person_, json::array({person_category()}));
  close(instances_, instance_categories());
  Files files{std::move(person_), std::move(instances_)};
  person_ = instances_ = "{\"annotations\":[";
  images_json_.clear();
  images_ = person_annotations_ = instance_annotations_ = 0;
  return files;
}

}  // namespace synthfarm::jobs::coco
