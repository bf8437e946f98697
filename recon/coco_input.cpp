// Parsing and checking a COCO person-keypoints file (recon/coco_input.h); the grouping
// into work units is in coco_units.cpp.
#include "recon/coco_input.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

namespace synthfarm::recon {
namespace {

using nlohmann::json;

// A value as it appears in a message: scalars as JSON (long strings cut), containers by
// kind (never dumped whole: a deeply nested value would recurse).
std::string coco_describe(const json& v) {
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s.size() > 40) s = s.substr(0, 40) + "...";
    return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (v.is_array()) return fmt::format("an array of {}", v.size());
  if (v.is_object()) return "an object";
  return v.dump();
}

// Parses JSON, naming the element of a number that overflows a double (nlohmann refuses
// 1e999 without saying where): a parser callback keeps the path of the value being read.
tl::expected<json, std::string> coco_parse_json(std::string_view bytes, const std::string& name) {
  struct Level {
    bool array = false;
    size_t index = 0;
    std::string key;
  };
  std::vector<Level> stack;
  json::parser_callback_t track = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        stack.push_back({false, 0, {}});
        break;
      case json::parse_event_t::array_start:
        stack.push_back({true, 0, {}});
        break;
      case json::parse_event_t::key:
        if (!stack.empty()) stack.back().key = parsed.get<std::string>();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!stack.empty()) stack.pop_back();
        [[fallthrough]];
      case json::parse_event_t::value:
        if (!stack.empty() && stack.back().array) ++stack.back().index;
        break;
    }
    return true;
  };
  auto path = [&] {
    std::string out;
    for (const Level& level : stack) {
      if (level.array) {
        out += fmt::format("[{}]", level.index);
      } else {
        if (!out.empty()) out += '.';
        out += level.key;
      }
    }
    return out.empty() ? std::string("(top level)") : out;
  };
  try {
    return json::parse(bytes.begin(), bytes.end(), track);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    const size_t at = what.find("parse error");
    return tl::unexpected(
        fmt::format("{}: not JSON: {}", name, at == std::string::npos ? what : what.substr(at)));
  } catch (const json::out_of_range& e) {
    std::string what = e.what();
    const size_t open = what.find('\''), close = what.rfind('\'');
    const std::string number =
        open != std::string::npos && close > open ? what.substr(open + 1, close - open - 1) : "a number";
    return tl::unexpected(
        fmt::format("{}: {}: {} is not a finite number (it overflows a double)", name, path(), number));
  }
}

class CocoReader {
 public:
  CocoReader(std::string_view file_name) { out_.name = std::string(file_name); }

  tl::expected<CocoFile, std::string> run(std::string_view bytes) {
    auto parsed = coco_parse_json(bytes, out_.name);
    if (!parsed) return tl::unexpected(parsed.error());
    const json& root = *parsed;
    if (!root.is_object())
      return fail("(top level)", "expected a JSON object, got " + coco_describe(root));
    if (!read_categories(root) || !read_images(root) || !read_annotations(root))
      return tl::unexpected(*error_);
    return std::move(out_);
  }

 private:
  bool failed(const std::string& path, const std::string& message) {
    error_ = fmt::format("{}: {}: {}", out_.name, path, message);
    return false;
  }
  tl::unexpected<std::string> fail(const std::string& path, const std::string& message) {
    failed(path, message);
    return tl::unexpected(*error_);
  }

  // A required (or, with `optional`, possibly absent) non-negative integer field.
  std::optional<uint64_t> unsigned_field(const json& item, const char* key, const std::string& path,
                                         bool optional, bool* present = nullptr) {
    auto it = item.find(key);
    if (present != nullptr) *present = it != item.end();
    if (it == item.end()) {
      if (optional) return 0;
      failed(path + "." + key, "missing");
      return std::nullopt;
    }
    if (!it->is_number_unsigned()) {
      failed(path + "." + key, "expected a non-negative integer, got " + coco_describe(*it));
      return std::nullopt;
    }
    return it->get<uint64_t>();
  }

  bool positive_int(const json& item, const char* key, const std::string& path, int& out) {
    auto it = item.find(key);
    if (it == item.end()) return failed(path + "." + key, "missing");
    if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 || it->get<uint64_t>() > (1u << 24)) {
      return failed(path + "." + key,
                    "expected a positive integer (at most 16777216), got " + coco_describe(*it));
    }
    out = static_cast<int>(it->get<uint64_t>());
    return true;
  }

  // An array of `rows` arrays of `cols` finite numbers.
  bool matrix(const json& v, int rows, int cols, const std::string& path, const char* shape,
              double* out) {
    if (!v.is_array() || v.size() != static_cast<size_t>(rows))
      return failed(path, fmt::format("expected {}, got {}", shape, coco_describe(v)));
    for (int r = 0; r < rows; ++r) {
      const json& row = v[r];
      if (!row.is_array() || row.size() != static_cast<size_t>(cols)) {
        return failed(fmt::format("{}[{}]", path, r),
                      fmt::format("expected a row of {} numbers, got {}", cols, coco_describe(row)));
      }
      for (int c = 0; c < cols; ++c) {
        if (!row[c].is_number() || !std::isfinite(row[c].get<double>())) {
          return failed(fmt::format("{}[{}][{}]", path, r, c),
                        "expected a finite number, got " + coco_describe(row[c]));
        }
        out[r * cols + c] = row[c].get<double>();
      }
    }
    return true;
  }

  bool read_K(const json& v, const std::string& path, Intrinsics& K) {
    double m[9];
    if (!matrix(v, 3, 3, path, "[[fx,0,cx],[0,fy,cy],[0,0,1]]", m)) return false;
    if (m[1] != 0 || m[3] != 0)
      return failed(path, "skew is not supported: K[0][1] and K[1][0] must be 0");
    if (m[6] != 0 || m[7] != 0 || m[8] != 1) return failed(path + "[2]", "expected [0, 0, 1]");
    if (m[0] <= 0 || m[4] <= 0)
      return failed(path, fmt::format("focal lengths fx {} and fy {} must be positive", m[0], m[4]));
    K.fx = m[0];
    K.cx = m[2];
    K.fy = m[4];
    K.cy = m[5];
    return true;
  }

  bool read_world_to_camera(const json& v, const std::string& path, View& view) {
    double m[16];
    if (!matrix(v, 4, 4, path, "a 4x4 matrix, row-major", m)) return false;
    if (m[12] != 0 || m[13] != 0 || m[14] != 0 || m[15] != 1)
      return failed(path + "[3]", "expected [0, 0, 0, 1]");
    Mat3 r = Mat3::from_rows({m[0], m[1], m[2]}, {m[4], m[5], m[6]}, {m[8], m[9], m[10]});
    const Mat3 rrt = r * r.transposed();
    double worst = 0;
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) worst = std::max(worst, std::abs(rrt.m[i][j] - (i == j ? 1.0 : 0.0)));
    }
    const double det = dot(r.row(0), cross(r.row(1), r.row(2)));
    if (worst > 1e-6 || det <= 0) {
      return failed(path, "its upper-left 3x3 is not a rotation (orthonormal, determinant +1)");
    }
    view.rotation = r;
    view.translation = {m[3], m[7], m[11]};
    return true;
  }

  bool read_categories(const json& root) {
    auto it = root.find("categories");
    if (it == root.end()) return true;  // every annotation is a person
    if (!it->is_array())
      return failed("categories", "expected an array, got " + coco_describe(*it));
    for (size_t i = 0; i < it->size(); ++i) {
      const json& c = (*it)[i];
      const std::string path = fmt::format("categories[{}]", i);
      if (!c.is_object()) return failed(path, "expected an object, got " + coco_describe(c));
      auto name = c.find("name");
      if (name == c.end() || !name->is_string() || name->get_ref<const std::string&>() != "person") continue;
      auto id = unsigned_field(c, "id", path, false);
      if (!id) return false;
      person_category_ = *id;
      auto names = c.find("keypoints");
      if (names == c.end()) return true;
      if (!names->is_array() || names->size() != static_cast<size_t>(kKeypointCount)) {
        return failed(path + ".keypoints", fmt::format("expected the {} COCO keypoint names, got {}",
                                                       kKeypointCount, coco_describe(*names)));
      }
      // Another dataset's keypoints at some positions (PoseTrack's head_bottom and
      // head_top where COCO has the eyes): those keypoints are not COCO's and are dropped.
      for (int k = 0; k < kKeypointCount; ++k) {
        const json& n = (*names)[k];
        if (!n.is_string()) {
          return failed(fmt::format("{}.keypoints[{}]", path, k), "expected a name, got " + coco_describe(n));
        }
        if (n.get_ref<const std::string&>() != kKeypointNames[k]) out_.dropped_keypoints.push_back(k);
      }
      return true;
    }
    return failed("categories", "no person category (a person-keypoints file has {\"id\": 1, "
                                "\"name\": \"person\", ...})");
  }

  bool read_image(const json& item, size_t i) {
    const std::string path = fmt::format("images[{}]", i);
    if (!item.is_object()) return failed(path, "expected an object, got " + coco_describe(item));
    CocoImage image;
    image.element = i;
    auto id = unsigned_field(item, "id", path, false);
    if (!id) return false;
    image.id = *id;
    if (auto [at, fresh] = image_index_.emplace(*id, out_.images.size()); !fresh) {
      return failed(path + ".id", fmt::format("{} is also the id of images[{}]", *id,
                                              out_.images[at->second].element));
    }
    if (!positive_int(item, "width", path, image.K.width) ||
        !positive_int(item, "height", path, image.K.height)) {
      return false;
    }
    if (auto it = item.find("file_name"); it != item.end()) {
      if (!it->is_string())
        return failed(path + ".file_name", "expected a string, got " + coco_describe(*it));
      image.file_name = it->get<std::string>();
    }
    auto K = item.find("K");
    if (K != item.end() && !read_K(*K, path + ".K", image.K)) return false;
    if (auto w2c = item.find("world_to_camera"); w2c != item.end()) {
      if (K == item.end()) return failed(path + ".world_to_camera", "given without K");
      View view;
      if (!read_world_to_camera(*w2c, path + ".world_to_camera", view)) return false;
      view.K = image.K;
      image.view = view;
    }
    if (auto it = item.find("instant"); it != item.end()) {
      if (it->is_number_unsigned()) {
        image.instant = std::to_string(it->get<uint64_t>());
      } else if (it->is_string() && !it->get_ref<const std::string&>().empty()) {
        image.instant = it->get<std::string>();
      } else {
        return failed(path + ".instant", "expected a non-negative integer or a non-empty string, got " +
                                             coco_describe(*it));
      }
    }
    bool has_frame = false;
    auto frame = unsigned_field(item, "frame_index", path, true, &has_frame);
    if (!frame) return false;
    if (has_frame) image.frame_index = *frame;
    out_.images.push_back(std::move(image));
    return true;
  }

  bool read_images(const json& root) {
    auto it = root.find("images");
    if (it == root.end()) return failed("images", "missing (a COCO file lists its images)");
    if (!it->is_array()) return failed("images", "expected an array, got " + coco_describe(*it));
    out_.images.reserve(it->size());
    for (size_t i = 0; i < it->size(); ++i) {
      if (!read_image((*it)[i], i)) return false;
    }
    return true;
  }

  bool read_keypoints(const json& v, const std::string& path, Keypoints& out) {
    if (!v.is_array()) return failed(path, "expected an array of 51 numbers, got " + coco_describe(v));
    if (v.size() != static_cast<size_t>(3 * kKeypointCount))
      return failed(path, fmt::format("{} numbers, expected {}", v.size(), 3 * kKeypointCount));
    for (int i = 0; i < 3 * kKeypointCount; ++i) {
      const json& x = v[i];
      if (!x.is_number() || !std::isfinite(x.get<double>()))
        return failed(fmt::format("{}[{}]", path, i), "expected a finite number, got " + coco_describe(x));
      out.xyv[i] = x.get<double>();
    }
    for (int k = 0; k < kKeypointCount; ++k) {
      const double vis = out.xyv[3 * k + 2];
      if (vis != 0 && vis != 1 && vis != 2) {
        return failed(fmt::format("{}[{}]", path, 3 * k + 2),
                      fmt::format("visibility of {} is {}, expected 0, 1 or 2", kKeypointNames[k],
                                  coco_describe(v[3 * k + 2])));
      }
    }
    for (int k : out_.dropped_keypoints) out.xyv[3 * k + 2] = 0;
    for (int k = 0; k < kKeypointCount; ++k) {
      if (out.xyv[3 * k + 2] == 0) out.xyv[3 * k] = out.xyv[3 * k + 1] = 0;
    }
    return true;
  }

  bool read_annotation(const json& item, size_t j) {
    const std::string path = fmt::format("annotations[{}]", j);
    if (!item.is_object()) return failed(path, "expected an object, got " + coco_describe(item));
    auto id = unsigned_field(item, "id", path, false);
    if (!id) return false;
    if (auto [at, fresh] = annotation_ids_.emplace(*id, j); !fresh)
      return failed(path + ".id", fmt::format("{} is also the id of annotations[{}]", *id, at->second));
    bool has_category = false;
    auto category = unsigned_field(item, "category_id", path, true, &has_category);
    if (!category) return false;
    if (person_category_ && has_category && *category != *person_category_) {
      ++out_.other_annotations;
      return true;
    }
    CocoPerson person;
    person.id = *id;
    person.element = j;
    auto image_id = unsigned_field(item, "image_id", path, false);
    if (!image_id) return false;
    auto image = image_index_.find(*image_id);
    if (image == image_index_.end())
      return failed(path + ".image_id", fmt::format("{} is not an image of this file", *image_id));
    person.image = image->second;
    auto keypoints = item.find("keypoints");
    if (keypoints == item.end()) return failed(path + ".keypoints", "missing");
    if (!read_keypoints(*keypoints, path + ".keypoints", person.keypoints)) return false;
    bool has_track = false;
    auto track = unsigned_field(item, "track_id", path, true, &has_track);
    if (!track) return false;
    if (has_track) person.track_id = *track;
    out_.people.push_back(std::move(person));
    return true;
  }

  bool read_annotations(const json& root) {
    auto it = root.find("annotations");
    if (it == root.end()) return failed("annotations", "missing");
    if (!it->is_array()) return failed("annotations", "expected an array, got " + coco_describe(*it));
    out_.people.reserve(it->size());
    for (size_t j = 0; j < it->size(); ++j) {
      if (!read_annotation((*it)[j], j)) return false;
    }
    return true;
  }

  CocoFile out_;
  std::optional<uint64_t> person_category_;
  std::map<uint64_t, size_t> image_index_;     // image id -> index into out_.images
  std::map<uint64_t, size_t> annotation_ids_;  // annotation id -> element
  std::optional<std::string> error_;
};

}  // namespace

tl::expected<CocoFile, std::string> parse_coco_keypoints(std::string_view bytes,
                                                         std::string_view file_name) {
  return CocoReader(file_name).run(bytes);
}

}  // namespace synthfarm::recon
