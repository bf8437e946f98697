#include "jobs/dataset_card.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "base/keypoints.h"

// Everything but the public class lives in a namespace of its own rather than an anonymous
// one: unity builds join this file with coco.cpp and distribution.cpp, whose anonymous
// namespaces would be the same as ours.
namespace synthfarm::jobs::card_detail {

using Json = nlohmann::json;

// ---- the card's fields ----------------------------------------------------------------

// A numeric field and its bins. Bins are [edge i, edge i + 1); the last is closed at the
// top, so a range's upper end (sex 1, occlusion 1, the 10th skin tone) falls in it. A value
// on an interior edge belongs to the bin above it.
struct NumericField {
  const char* name;    // its key under "histograms"
  const char* title;   // its heading in the HTML
  const char* source;  // where the value is in the sample JSON
  const char* per;     // what one count is
  const char* group;   // "drawn" (the spec's draws) or "outcome" (what the render gave)
  const char* unit;
  bool integer;         // one bin per whole number
  double lo, hi, step;  // uniform bins; step 0: kBoxHeightEdges
};

enum Numeric {
  kPeoplePerImage,
  kHeight,
  kBmi,
  kAge,
  kSex,
  kSkinTone,
  kCameraDistance,
  kFieldOfView,
  kSunElevation,
  kBoxHeight,
  kOcclusion,
  kNumericCount
};

// The ranges follow the spec's accepted ranges (docs/spec.md) where those are narrow, and
// the usual values where they are wide (camera distance: 0.5 - 100 m accepted, beyond 20 m
// is overflow). docs/dataset_card.md lists them: change both together.
constexpr std::array<NumericField, kNumericCount> kNumericFields = {{
    {"people_per_image", "People per image", "instances[class=person]", "image", "drawn", "people",
     true, 0, 17, 1},
    {"height_m", "Height", "instances[].shape.height_m", "parametric person", "drawn", "m", false,
     0.5, 2.5, 0.05},
    {"bmi", "BMI", "instances[].shape.bmi", "parametric person", "drawn", "kg/m²", false, 12, 60,
     2},
    {"age", "Age", "instances[].shape.age", "parametric person", "drawn", "years", false, 0, 100,
     5},
    {"sex", "Sex blend (0 female, 1 male)", "instances[].shape.sex", "parametric person", "drawn",
     "", false, 0, 1, 0.1},
    {"skin_tone", "Skin tone (Monk scale, 1 lightest)", "instances[].skin_tone",
     "parametric person", "drawn", "", true, 1, 11, 1},
    {"camera_distance_m", "Camera distance", "camera.distance_m", "image", "drawn", "m", false, 0,
     20, 0.5},
    {"camera_fov_deg", "Field of view (horizontal)", "camera.fov_deg", "image", "drawn", "°", false,
     10, 150, 5},
    {"sun_elevation_deg", "Sun elevation", "scene.sun.elevation_deg", "image", "drawn", "°", false,
     0, 90, 5},
    {"person_box_height_px", "Person box height", "instances[].bbox[3]", "visible person",
     "outcome", "px", false, 0, 0, 0},
    {"occlusion_fraction", "Occlusion per person", "instances[].keypoints",
     "person with a labelled keypoint in the image", "outcome", "", false, 0, 1, 0.1},
}};

// Box heights grow geometrically: one bin per factor of about 1.5 from 1 px to 2048 px.
constexpr std::array<double, 17> kBoxHeightEdges = {1,   8,   16,  24,  32,  48,   64,   96,  128,
                                                    192, 256, 384, 512, 768, 1024, 1536, 2048};

struct CategoryField {
  const char* name;
  const char* title;
  const char* source;
  const char* per;
  const char* group;
};

enum Category { kMotion, kSceneKind, kInstanceClass, kCategoryCount };

constexpr std::array<CategoryField, kCategoryCount> kCategoryFields = {{
    {"motion", "Motion", "instances[].motion", "person", "drawn"},
    {"scene_kind", "Scene kind", "scene.kind", "image", "drawn"},
    {"instance_class", "Instances by class", "instances[].class", "instance", "outcome"},
}};

// Bounds that keep the card's memory fixed whatever the samples say.
constexpr size_t kMaxCategoryValues = 64;  // distinct values per field; the rest is "other"
constexpr size_t kMaxNameBytes = 64;       // a longer value is cut (at a UTF-8 boundary)
constexpr size_t kMaxSkippedListed = 16;   // skipped samples named; the rest only counted
constexpr size_t kMaxSkippedBytes = 256;   // of a skipped sample's key and of its error

constexpr const char* kOcclusionDefinition =
    "A person's occlusion fraction is their occluded labelled keypoints over their labelled "
    "keypoints inside the image (v = 1 over v in {1, 2}; COCO-17, visibility by ray casting). "
    "The sample JSON has no amodal mask, so this is a keypoint measure, not an area one. A "
    "person with no keypoint in the image has no value.";
constexpr const char* kWeightingDefinition =
    "Every histogram counts per image: a still sample is one image, and each frame of a clip is "
    "one, so a person in a 30-frame clip counts 30 times, as training code sees them.";
constexpr const char* kBinsDefinition =
    "Bins are [low, high); the last bin also holds its upper edge. Values below the first edge are "
    "counted as underflow, above the last as overflow, and absent ones as missing. Categorical "
    "fields keep 64 distinct values; later new values are counted as other.";

// Cut to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view cut_utf8(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Rounded so that the edges print as written (0.3, not 0.30000000000000004).
double round_edge(double e) { return std::round(e * 1e9) / 1e9; }

class Histogram {
 public:
  explicit Histogram(const NumericField& field) {
    if (field.step > 0) {
      const int bins = static_cast<int>(std::lround((field.hi - field.lo) / field.step));
      for (int i = 0; i <= bins; ++i) edges_.push_back(round_edge(field.lo + i * field.step));
    } else {
      edges_.assign(kBoxHeightEdges.begin(), kBoxHeightEdges.end());
    }
    counts_.assign(edges_.size() - 1, 0);
  }

  void add(std::optional<double> value) {
    if (!value || std::isnan(*value)) {
      ++missing_;
      return;
    }
    const double x = *value;
    // A value within rounding of an edge is on it: 0.1 * 3 is an edge of 0.3.
    const double tolerance = 1e-9 * std::max(1.0, std::abs(x));
    if (x < edges_.front() - tolerance) {
      ++underflow_;
    } else if (x > edges_.back() + tolerance) {
      ++overflow_;
    } else {
      auto above = std::upper_bound(edges_.begin(), edges_.end(), x + tolerance);
      const auto bin = std::min<ptrdiff_t>(above - edges_.begin() - 1,
                                           static_cast<ptrdiff_t>(counts_.size()) - 1);
      ++counts_[static_cast<size_t>(std::max<ptrdiff_t>(bin, 0))];
    }
  }

  Json to_json(const NumericField& field) const {
    return {{"kind", "numeric"},        {"title", field.title},  {"source", field.source},
            {"per", field.per},         {"group", field.group},  {"unit", field.unit},
            {"integer", field.integer}, {"edges", edges_},       {"counts", counts_},
            {"underflow", underflow_},  {"overflow", overflow_}, {"missing", missing_}};
  }

 private:
  std::vector<double> edges_;     // fixed at construction
  std::vector<uint64_t> counts_;  // edges_.size() - 1, fixed
  uint64_t underflow_ = 0, overflow_ = 0, missing_ = 0;
};

// Counts per distinct value, bounded: past kMaxCategoryValues distinct values a new one is
// counted as other.
class Categories {
 public:
  void add(std::optional<std::string_view> value) {
    if (!value) {
      ++missing_;
      return;
    }
    const std::string_view name = cut_utf8(*value, kMaxNameBytes);
    auto it = counts_.find(name);
    if (it != counts_.end()) {
      ++it->second;
    } else if (counts_.size() < kMaxCategoryValues) {
      counts_.emplace(std::string(name), 1);
    } else {
      ++other_;
    }
  }

  Json to_json(const CategoryField& field) const {
    Json counts = Json::object();
    for (const auto& [name, n] : counts_) counts[name] = n;
    return {{"kind", "categorical"}, {"title", field.title}, {"source", field.source},
            {"per", field.per},      {"group", field.group}, {"counts", counts},
            {"other", other_},       {"missing", missing_},  {"max_values", kMaxCategoryValues}};
  }

 private:
  std::map<std::string, uint64_t, std::less<>> counts_;  // at most kMaxCategoryValues
  uint64_t other_ = 0, missing_ = 0;
};

// ---- one sample, read before anything is counted ----------------------------------------

struct PersonTally {
  bool character = false;  // body: character (no shape, no skin tone)
  std::optional<double> height_m, bmi, age, sex, skin_tone;
  std::optional<std::string_view> motion;
  double box_height_px = 0;
  std::array<int, kKeypointCount> visibility{};
};

struct ImageTally {
  bool first_frame = true;  // a still, or frame 0 of a clip: one sample
  std::optional<double> distance_m, fov_deg, sun_elevation_deg;
  std::optional<std::string_view> scene_kind;
  std::vector<std::string_view> classes;  // of every instance
  std::vector<PersonTally> people;
};

// Reads the fields the card needs from one sample JSON. An absent or null field is no
// value; a field of the wrong type makes the sample malformed: the first such problem is
// kept in `error` (with its path) and the sample is skipped whole, so a card never counts
// half a sample.
class SampleReader {
 public:
  // "camera." for "camera", nothing for the sample itself ("").
  static std::string field_path(std::string_view path) {
    return path.empty() ? std::string() : std::string(path) + ".";
  }

  std::optional<double> number(const Json& obj, const char* key, std::string_view path) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) {
      fail(fmt::format("{}{}: expected a number", field_path(path), key));
      return std::nullopt;
    }
    return it->get<double>();
  }

  std::optional<std::string_view> string(const Json& obj, const char* key, std::string_view path) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
      fail(fmt::format("{}{}: expected a string", field_path(path), key));
      return std::nullopt;
    }
    return std::string_view(it->get_ref<const std::string&>());
  }

  // nullptr when absent, null or not an object (the last is an error).
  const Json* object(const Json& obj, const char* key, std::string_view path) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    if (!it->is_object()) {
      fail(fmt::format("{}{}: expected an object", field_path(path), key));
      return nullptr;
    }
    return &*it;
  }

  void person(const Json& item, const std::string& path, PersonTally& p) {
    p.character = string(item, "body", path) == "character";
    if (!p.character) {
      if (const Json* shape = object(item, "shape", path)) {
        const std::string at = path + ".shape";
        p.height_m = number(*shape, "height_m", at);
        p.bmi = number(*shape, "bmi", at);
        p.age = number(*shape, "age", at);
        p.sex = number(*shape, "sex", at);
      }
      p.skin_tone = number(item, "skin_tone", path);
    }
    p.motion = string(item, "motion", path);

    auto bbox = item.find("bbox");
    if (bbox == item.end() || !bbox->is_array() || bbox->size() != 4 ||
        !std::all_of(bbox->begin(), bbox->end(), [](const Json& v) { return v.is_number(); })) {
      return fail(path + ".bbox: expected [x, y, w, h]");
    }
    p.box_height_px = (*bbox)[3].get<double>();

    auto keypoints = item.find("keypoints");
    if (keypoints == item.end() || !keypoints->is_array() ||
        keypoints->size() != 3 * kKeypointCount) {
      return fail(fmt::format("{}.keypoints: expected {} numbers", path, 3 * kKeypointCount));
    }
    for (int k = 0; k < kKeypointCount; ++k) {
      const Json& v = (*keypoints)[static_cast<size_t>(3 * k + 2)];
      const double value = v.is_number() ? v.get<double>() : -1;
      if (value != 0 && value != 1 && value != 2) {
        return fail(fmt::format("{}.keypoints[{}]: visibility must be 0, 1 or 2", path, 3 * k + 2));
      }
      p.visibility[static_cast<size_t>(k)] = static_cast<int>(value);
    }
  }

  void image(const Json& j, ImageTally& t) {
    if (!j.is_object()) return fail("not a JSON object");
    if (const Json* clip = object(j, "clip", "")) {
      const std::optional<double> frame = number(*clip, "frame", "clip");
      t.first_frame = !frame || *frame == 0;
    }
    if (const Json* camera = object(j, "camera", "")) {
      t.distance_m = number(*camera, "distance_m", "camera");
      t.fov_deg = number(*camera, "fov_deg", "camera");
    }
    if (const Json* scene = object(j, "scene", "")) {
      t.scene_kind = string(*scene, "kind", "scene");
      if (const Json* sun = object(*scene, "sun", "scene")) {
        t.sun_elevation_deg = number(*sun, "elevation_deg", "scene.sun");
      }
    }
    auto instances = j.find("instances");
    if (instances == j.end() || !instances->is_array()) return fail("instances: expected an array");
    for (size_t i = 0; i < instances->size() && error.empty(); ++i) {
      const Json& item = (*instances)[i];
      const std::string path = fmt::format("instances[{}]", i);
      if (!item.is_object()) return fail(path + ": expected an object");
      const std::optional<std::string_view> cls = string(item, "class", path);
      if (!cls) {
        if (error.empty()) fail(path + ".class: missing");
        return;
      }
      t.classes.push_back(*cls);
      if (*cls == "person") person(item, path, t.people.emplace_back());
    }
  }

  std::string error;  // the first problem; empty when the sample is good

 private:
  void fail(std::string message) {
    if (error.empty()) error = std::move(message);
  }
};

// The card's counters: fixed in size from construction on.
struct CardState {
  CardInfo info;
  uint64_t images = 0, samples = 0, instances = 0;
  uint64_t people = 0, people_parametric = 0, people_character = 0, people_visible = 0;
  std::array<std::array<uint64_t, 3>, kKeypointCount>
      per_joint{};                 // by v: unlabelled, occluded, visible
  std::vector<Histogram> numeric;  // kNumericFields, in order
  std::array<Categories, kCategoryCount> categories;
  uint64_t skipped = 0;
  std::vector<std::pair<std::string, std::string>> skipped_listed;  // key, error; the first few

  explicit CardState(CardInfo card_info) : info(std::move(card_info)) {
    for (const NumericField& field : kNumericFields) numeric.emplace_back(field);
  }

  void count(const ImageTally& t) {
    ++images;
    samples += t.first_frame ? 1 : 0;
    numeric[kPeoplePerImage].add(static_cast<double>(t.people.size()));
    numeric[kCameraDistance].add(t.distance_m);
    numeric[kFieldOfView].add(t.fov_deg);
    numeric[kSunElevation].add(t.sun_elevation_deg);
    categories[kSceneKind].add(t.scene_kind);
    instances += t.classes.size();
    for (std::string_view cls : t.classes) categories[kInstanceClass].add(cls);
    for (const PersonTally& p : t.people) count(p);
  }

  void count(const PersonTally& p) {
    ++people;
    if (p.character) {
      ++people_character;  // a character has no shape fields: no shape histograms
    } else {
      ++people_parametric;
      numeric[kHeight].add(p.height_m);
      numeric[kBmi].add(p.bmi);
      numeric[kAge].add(p.age);
      numeric[kSex].add(p.sex);
      numeric[kSkinTone].add(p.skin_tone);
    }
    categories[kMotion].add(p.motion);
    if (p.box_height_px > 0) {
      ++people_visible;
      numeric[kBoxHeight].add(p.box_height_px);
    }
    int in_image = 0, occluded = 0;
    for (int k = 0; k < kKeypointCount; ++k) {
      const int v = p.visibility[static_cast<size_t>(k)];
      ++per_joint[static_cast<size_t>(k)][static_cast<size_t>(v)];
      in_image += v > 0 ? 1 : 0;
      occluded += v == 1 ? 1 : 0;
    }
    numeric[kOcclusion].add(in_image > 0
                                ? std::optional<double>(static_cast<double>(occluded) / in_image)
                                : std::nullopt);
  }

  void skip(std::string_view key, const std::string& error) {
    ++skipped;
    if (skipped_listed.size() < kMaxSkippedListed) {
      skipped_listed.emplace_back(std::string(cut_utf8(key, kMaxSkippedBytes)),
                                  std::string(cut_utf8(error, kMaxSkippedBytes)));
    }
  }

  Json to_json() const {
    uint64_t visible = 0, occluded = 0, unlabelled = 0;
    Json joints = Json::array();
    for (int k = 0; k < kKeypointCount; ++k) {
      const auto& n = per_joint[static_cast<size_t>(k)];
      joints.push_back({{"joint", kKeypointNames[static_cast<size_t>(k)]},
                        {"unlabelled", n[0]},
                        {"occluded", n[1]},
                        {"visible", n[2]}});
      unlabelled += n[0], occluded += n[1], visible += n[2];
    }
    Json histograms = Json::object();
    for (size_t i = 0; i < kNumericFields.size(); ++i) {
      histograms[kNumericFields[i].name] = numeric[i].to_json(kNumericFields[i]);
    }
    for (size_t i = 0; i < kCategoryFields.size(); ++i) {
      histograms[kCategoryFields[i].name] = categories[i].to_json(kCategoryFields[i]);
    }
    Json listed = Json::array();
    for (const auto& [key, error] : skipped_listed)
      listed.push_back({{"key", key}, {"error", error}});
    return {
        {"format", "synthfarm.dataset_card/1"},
        {"job", info.job},
        {"name", info.name},
        {"software", info.software},
        {"samples_requested", info.samples_requested},
        {"counts",
         {{"images", images},
          {"samples", samples},
          {"instances", instances},
          {"people", people},
          {"people_parametric", people_parametric},
          {"people_character", people_character},
          {"people_visible", people_visible},
          {"keypoints", {{"visible", visible}, {"occluded", occluded}, {"unlabelled", unlabelled}}},
          {"skipped_samples", skipped}}},
        {"keypoints_per_joint", joints},
        {"histograms", histograms},
        {"skipped",
         {{"count", skipped}, {"listed", listed}, {"listed_at_most", kMaxSkippedListed}}},
        {"definitions",
         {{"occlusion_fraction", kOcclusionDefinition},
          {"weighting", kWeightingDefinition},
          {"bins", kBinsDefinition}}},
    };
  }

  // Reads the whole sample first, so that a malformed one counts nowhere but in skipped.
  bool add(const Json& sample, std::string_view key) {
    if (sample.is_discarded()) {
      skip(key, "not valid JSON");
      return false;
    }
    ImageTally tally;
    SampleReader reader;
    reader.image(sample, tally);
    if (!reader.error.empty()) {
      skip(key, reader.error);
      return false;
    }
    count(tally);
    return true;
  }
};

}  // namespace synthfarm::jobs::card_detail

namespace synthfarm::jobs {

struct DatasetCard::State : card_detail::CardState {
  using CardState::CardState;
};

DatasetCard::DatasetCard(CardInfo info) : state_(std::make_unique<State>(std::move(info))) {}
DatasetCard::~DatasetCard() = default;
DatasetCard::DatasetCard(DatasetCard&&) noexcept = default;
DatasetCard& DatasetCard::operator=(DatasetCard&&) noexcept = default;

bool DatasetCard::add(std::string_view sample_json, std::string_view key) {
  return state_->add(nlohmann::json::parse(sample_json, nullptr, /*allow_exceptions=*/false), key);
}

bool DatasetCard::add_parsed(const nlohmann::json& sample, std::string_view key) {
  return state_->add(sample, key);
}

uint64_t DatasetCard::images() const { return state_->images; }
uint64_t DatasetCard::people() const { return state_->people; }
uint64_t DatasetCard::skipped() const { return state_->skipped; }

std::string DatasetCard::json() const {
  // A key handed in by the caller may not be UTF-8; everything else came through the parser.
  return state_->to_json().dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string DatasetCard::html() const { return dataset_card_html(state_->to_json()); }

}  // namespace synthfarm::jobs
