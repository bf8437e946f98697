// The capture formats of depth_inputs.h: the farm's samples (EXR + sample JSON) and depth
// PNGs with a poses file. The PNG codecs are in depth_png.cpp.
#include "recon/depth_inputs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "render/image_io.h"

namespace synthfarm::recon {
namespace {

using nlohmann::json;

constexpr int kMaxSide = 16384;

// Errors read "{what}: cannot read {path}", or without the prefix when `what` is empty.
tl::expected<std::string, std::string> read_file(const std::filesystem::path& path, std::string_view what) {
  const std::string prefix = what.empty() ? std::string() : fmt::format("{}: ", what);
  std::ifstream in(path, std::ios::binary);
  if (!in) return tl::unexpected(fmt::format("{}cannot read {}", prefix, path.string()));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return tl::unexpected(fmt::format("{}error reading {}", prefix, path.string()));
  return bytes.str();
}

tl::expected<json, std::string> parse_json(std::string_view bytes, std::string_view name) {
  try {
    return json::parse(bytes);
  } catch (const json::parse_error& e) {
    return tl::unexpected(fmt::format("{}: not valid JSON: {}", name, e.what()));
  }
}

// A finite number at `where`.
tl::expected<double, std::string> number(const json& value, const std::string& where) {
  if (!value.is_number()) return tl::unexpected(fmt::format("{}: expected a number", where));
  const double v = value.get<double>();
  if (!std::isfinite(v)) return tl::unexpected(fmt::format("{}: {} is not finite", where, v));
  return v;
}

// A rows x cols matrix of finite numbers, row-major.
tl::expected<std::vector<double>, std::string> matrix(const json& parent, const char* key, int rows,
                                                      int cols, const std::string& where) {
  const std::string at = where + "." + key;
  if (!parent.contains(key)) return tl::unexpected(fmt::format("{}: missing", at));
  const json& m = parent.at(key);
  if (!m.is_array() || m.size() != static_cast<size_t>(rows)) {
    return tl::unexpected(fmt::format("{}: expected {} rows of {} numbers", at, rows, cols));
  }
  std::vector<double> out;
  for (int r = 0; r < rows; ++r) {
    if (!m[r].is_array() || m[r].size() != static_cast<size_t>(cols)) {
      return tl::unexpected(fmt::format("{}[{}]: expected {} numbers", at, r, cols));
    }
    for (int c = 0; c < cols; ++c) {
      auto v = number(m[r][c], fmt::format("{}[{}][{}]", at, r, c));
      if (!v) return tl::unexpected(v.error());
      out.push_back(*v);
    }
  }
  return out;
}

tl::expected<int, std::string> side(const json& parent, const char* key, const std::string& where) {
  const std::string at = where + "." + key;
  if (!parent.contains(key)) return tl::unexpected(fmt::format("{}: missing", at));
  const json& v = parent.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > kMaxSide) {
    return tl::unexpected(
        fmt::format("{}: expected a whole number of pixels in 1 .. {}", at, kMaxSide));
  }
  return v.get<int>();
}

// Fills view.K and the camera from `K`, `width`, `height` and `world_to_camera` of `frame`.
tl::expected<void, std::string> read_camera(const json& frame, const std::string& where,
                                            DepthView& view) {
  auto K = matrix(frame, "K", 3, 3, where);
  if (!K) return tl::unexpected(K.error());
  const std::vector<double>& k = *K;
  if (!(k[0] > 0 && k[4] > 0) || k[1] != 0 || k[3] != 0 || k[6] != 0 || k[7] != 0 || k[8] != 1) {
    return tl::unexpected(
        fmt::format("{}.K: expected [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0", where));
  }
  auto width = side(frame, "width", where);
  if (!width) return tl::unexpected(width.error());
  auto height = side(frame, "height", where);
  if (!height) return tl::unexpected(height.error());
  view.K = {k[0], k[4], k[2], k[5], *width, *height};
  auto m = matrix(frame, "world_to_camera", 4, 4, where);
  if (!m) return tl::unexpected(m.error());
  const std::vector<double>& w = *m;
  if (w[12] != 0 || w[13] != 0 || w[14] != 0 || w[15] != 1) {
    return tl::unexpected(fmt::format("{}.world_to_camera[3]: expected [0, 0, 0, 1]", where));
  }
  view.rotation = Mat3::from_rows({w[0], w[1], w[2]}, {w[4], w[5], w[6]}, {w[8], w[9], w[10]});
  view.translation = {w[3], w[7], w[11]};
  const Mat3 should_be_identity = view.rotation * view.rotation.transposed();
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      if (std::abs(should_be_identity.m[r][c] - (r == c ? 1.0 : 0.0)) > 1e-4) {
        return tl::unexpected(
            fmt::format("{}.world_to_camera: the 3x3 block is not a rotation", where));
      }
    }
  }
  return {};
}

std::string size_mismatch(std::string_view element, const DepthView& view, std::string_view file,
                          int width, int height) {
  return fmt::format("{}: {} x {}, but {} is {} x {}", element, view.K.width, view.K.height, file,
                     width, height);
}

}  // namespace

tl::expected<DepthView, std::string> decode_farm_sample(std::string_view exr_bytes,
                                                        std::string_view exr_name,
                                                        std::string_view json_bytes,
                                                        std::string_view json_name,
                                                        bool with_colour) {
  auto sample = parse_json(json_bytes, json_name);
  if (!sample) return tl::unexpected(sample.error());
  if (!sample->is_object())
    return tl::unexpected(fmt::format("{}: expected a JSON object", json_name));
  if (sample->contains("distortion")) {
    return tl::unexpected(
        fmt::format("{}: distortion: the sample went through a lens model, so its depth is not a "
                    "pinhole image; fuse samples rendered without sensor.lens",
                    json_name));
  }
  DepthView view;
  view.name = std::string(exr_name);
  if (auto camera = read_camera(*sample, std::string(json_name), view); !camera) {
    return tl::unexpected(camera.error());
  }
  auto depth = render::decode_exr_channel(exr_bytes, exr_name, {"depth.Z"}, kMaxSide,
                                          /*allow_positive_infinity=*/true);
  if (!depth) return tl::unexpected(depth.error());
  if (depth->width != view.K.width || depth->height != view.K.height) {
    return tl::unexpected(size_mismatch(fmt::format("{}: width x height", json_name), view,
                                        fmt::format("{} {}", exr_name, depth->channel),
                                        depth->width, depth->height));
  }
  view.depth = std::move(depth->values);
  if (with_colour) {
    const size_t pixels = view.depth.size();
    view.rgb.resize(3 * pixels);
    for (int ch = 0; ch < 3; ++ch) {
      auto channel =
          render::decode_exr_channel(exr_bytes, exr_name, {std::string(1, "RGB"[ch])}, kMaxSide);
      if (!channel) return tl::unexpected(channel.error());
      if (channel->values.size() != pixels) {
        return tl::unexpected(fmt::format("{}: {} has {} values, depth.Z {}", exr_name,
                                          channel->channel, channel->values.size(), pixels));
      }
      for (size_t i = 0; i < pixels; ++i) view.rgb[3 * i + ch] = channel->values[i];
    }
  }
  return view;
}

tl::expected<DepthView, std::string> load_farm_sample(const std::filesystem::path& exr,
                                                      const std::filesystem::path& json_path,
                                                      bool with_colour) {
  auto exr_bytes = read_file(exr, exr.filename().string());
  if (!exr_bytes) return tl::unexpected(exr_bytes.error());
  auto json_bytes = read_file(json_path, json_path.filename().string());
  if (!json_bytes) return tl::unexpected(json_bytes.error());
  return decode_farm_sample(*exr_bytes, exr.string(), *json_bytes, json_path.string(), with_colour);
}

namespace {

// A path inside a capture: relative, no "..", so a capture reads only beside itself.
tl::expected<void, std::string> check_relative(const std::string& path, const std::string& where) {
  const std::filesystem::path p(path);
  bool climbs = false;
  for (const auto& part : p) climbs = climbs || part == "..";
  if (path.empty() || p.is_absolute() || climbs) {
    return tl::unexpected(fmt::format("{}: \"{}\" must be a relative path inside the capture's folder", where, path));
  }
  return {};
}

tl::expected<DepthView, std::string> farm_sample_frame(const std::string& stem, const std::string& where,
                                                      const CaptureReader& read, bool with_colour) {
  if (auto ok = check_relative(stem, where); !ok) return tl::unexpected(ok.error());
  auto exr = read(stem + ".exr");
  if (!exr) return tl::unexpected(fmt::format("{}: {}", where, exr.error()));
  auto js = read(stem + ".json");
  if (!js) return tl::unexpected(fmt::format("{}: {}", where, js.error()));
  auto view = decode_farm_sample(*exr, stem + ".exr", *js, stem + ".json", with_colour);
  if (!view) return tl::unexpected(fmt::format("{}: {}", where, view.error()));
  return view;
}

tl::expected<DepthView, std::string> png_frame(const json& frame, const std::string& where,
                                               const CaptureReader& read, bool with_colour) {
  if (!frame.contains("depth") || !frame.at("depth").is_string()) {
    return tl::unexpected(fmt::format("{}.depth: expected the depth PNG's path", where));
  }
  DepthView view;
  const std::string depth_file = frame.at("depth").get<std::string>();
  if (auto ok = check_relative(depth_file, where + ".depth"); !ok) return tl::unexpected(ok.error());
  view.name = depth_file;
  if (auto camera = read_camera(frame, where, view); !camera) return tl::unexpected(camera.error());
  auto depth_bytes = read(depth_file);
  if (!depth_bytes) return tl::unexpected(fmt::format("{}.depth: {}", where, depth_bytes.error()));
  auto depth = decode_depth_png_mm(*depth_bytes, depth_file);
  if (!depth) return tl::unexpected(fmt::format("{}.depth: {}", where, depth.error()));
  if (depth->width != view.K.width || depth->height != view.K.height) {
    return tl::unexpected(size_mismatch(where + ".width x height", view, depth_file, depth->width, depth->height));
  }
  view.depth = std::move(depth->depth_m);
  if (frame.contains("rgb") && with_colour) {
    if (!frame.at("rgb").is_string()) return tl::unexpected(fmt::format("{}.rgb: expected the colour PNG's path", where));
    const std::string rgb_file = frame.at("rgb").get<std::string>();
    if (auto ok = check_relative(rgb_file, where + ".rgb"); !ok) return tl::unexpected(ok.error());
    auto rgb_bytes = read(rgb_file);
    if (!rgb_bytes) return tl::unexpected(fmt::format("{}.rgb: {}", where, rgb_bytes.error()));
    auto rgb = decode_colour_png(*rgb_bytes, rgb_file);
    if (!rgb) return tl::unexpected(fmt::format("{}.rgb: {}", where, rgb.error()));
    if (rgb->width != view.K.width || rgb->height != view.K.height) {
      return tl::unexpected(size_mismatch(where + ".width x height", view, rgb_file, rgb->width, rgb->height));
    }
    view.rgb = std::move(rgb->rgb);
  }
  return view;
}

// A farm dataset's manifest: every sample (and clip frame) whose EXR it lists, in key order.
tl::expected<std::vector<DepthView>, std::string> manifest_views(const json& manifest, std::string_view name,
                                                                 const CaptureReader& read, bool with_colour) {
  if (!manifest.contains("objects") || !manifest.at("objects").is_array()) {
    return tl::unexpected(fmt::format("{}: objects: a dataset manifest lists its objects", name));
  }
  std::vector<std::string> stems;
  for (const json& o : manifest.at("objects")) {
    if (!o.is_object() || !o.contains("key") || !o.at("key").is_string()) continue;
    const std::string key = o.at("key").get<std::string>();
    if (key.starts_with("samples/") && key.ends_with(".exr")) stems.push_back(key.substr(0, key.size() - 4));
  }
  std::sort(stems.begin(), stems.end());
  if (stems.empty()) {
    return tl::unexpected(fmt::format("{}: the dataset has no EXR samples (output.exr off?): nothing to fuse", name));
  }
  std::vector<DepthView> views;
  for (size_t i = 0; i < stems.size(); ++i) {
    auto view = farm_sample_frame(stems[i], fmt::format("{}: {}", name, stems[i]), read, with_colour);
    if (!view) return tl::unexpected(view.error());
    views.push_back(std::move(*view));
  }
  return views;
}

}  // namespace

tl::expected<std::vector<DepthView>, std::string> parse_depth_capture(std::string_view bytes, std::string_view name,
                                                                      const CaptureReader& read, bool with_colour) {
  auto poses = parse_json(bytes, name);
  if (!poses) return tl::unexpected(poses.error());
  if (poses->is_object() && poses->contains("format") && poses->at("format") == "synthfarm.dataset/1") {
    return manifest_views(*poses, name, read, with_colour);
  }
  if (!poses->is_object() || !poses->contains("frames") || !poses->at("frames").is_array()) {
    return tl::unexpected(fmt::format(
        "{}: expected a poses file (an object with a \"frames\" array) or a farm dataset's manifest.json", name));
  }
  for (const auto& [key, value] : poses->items()) {
    if (key != "frames") return tl::unexpected(fmt::format("{}: {}: unknown key", name, key));
  }
  static const std::set<std::string> kKeys = {"depth", "rgb", "K", "width", "height", "world_to_camera"};
  std::vector<DepthView> views;
  const json& frames = poses->at("frames");
  if (frames.empty()) return tl::unexpected(fmt::format("{}: frames: empty, nothing to fuse", name));
  for (size_t f = 0; f < frames.size(); ++f) {
    const std::string where = fmt::format("{}: frames[{}]", name, f);
    const json& frame = frames[f];
    if (!frame.is_object()) return tl::unexpected(fmt::format("{}: expected an object", where));
    if (frame.contains("sample")) {
      // One of the farm's samples: its EXR depth and its JSON's camera.
      if (frame.size() != 1 || !frame.at("sample").is_string()) {
        return tl::unexpected(fmt::format(
            "{}.sample: expected only \"sample\": \"samples/00000003\" (a farm sample, without extension)", where));
      }
      auto view = farm_sample_frame(frame.at("sample").get<std::string>(), where + ".sample", read, with_colour);
      if (!view) return tl::unexpected(view.error());
      views.push_back(std::move(*view));
      continue;
    }
    for (const auto& [key, value] : frame.items()) {
      if (!kKeys.contains(key)) return tl::unexpected(fmt::format("{}.{}: unknown key", where, key));
    }
    auto view = png_frame(frame, where, read, with_colour);
    if (!view) return tl::unexpected(view.error());
    views.push_back(std::move(*view));
  }
  return views;
}

tl::expected<std::vector<DepthView>, std::string> load_depth_captures(const std::filesystem::path& poses_file,
                                                                      bool with_colour) {
  const std::string name = poses_file.filename().string();
  auto bytes = read_file(poses_file, name);
  if (!bytes) return tl::unexpected(bytes.error());
  const std::filesystem::path base = poses_file.parent_path();
  const CaptureReader read = [&](const std::string& relative) { return read_file(base / relative, ""); };
  return parse_depth_capture(*bytes, name, read, with_colour);
}

}  // namespace synthfarm::recon
