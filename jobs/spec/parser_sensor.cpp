// The Parser's sensor section (internal/parser.h): the camera after the lens (exposure,
// colour, Bayer sensor, noise, ISP, JPEG, lens distortion, motion blur, a learned model).
// What each field does is in docs/spec.md and docs/sensor.md; the stage itself is sensor/.
#include "jobs/spec/internal/parser.h"

#include <array>
#include <string>
#include <string_view>

#include "base/math.h"
#include "jobs/spec/internal/text.h"
#include "jobs/spec/internal/yaml_scalars.h"
#include "sensor/colour_matrices.h"
#include "sensor/lens.h"

namespace synthfarm::jobs::spec_internal {

namespace {

constexpr std::array<std::string_view, 4> kCfas = {"rggb", "bggr", "grbg", "gbrg"};
constexpr std::array<std::string_view, 3> kLensModels = {"none", "brown_conrady", "fisheye"};
constexpr std::array<std::string_view, 2> kSensorLayers = {"camera", "raw"};

bool contains(const std::vector<std::string>& words, std::string_view word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

}  // namespace

std::optional<double> Parser::number(const Field& field, const Range& range) {
  auto value = field.node.IsScalar() ? to_number(field.node) : std::nullopt;
  if (!value || !range.holds(*value)) {
    fail(field, "must be a number between " + range.text() + ", got " + describe(field.node));
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> Parser::word(const Field& field, std::string_view what,
                                        std::span<const std::string_view> allowed) {
  auto value = string(field, "one of " + join(allowed));
  if (!value || !check_word(field, *value, what, allowed, {})) return std::nullopt;
  return value;
}

std::optional<std::string> Parser::file_uri(const Field& field, std::span<const std::string_view> extensions) {
  auto uri = string(field, "a file:// or s3:// URI");
  if (!uri) return std::nullopt;
  if (!(uri->starts_with("file://") || uri->starts_with("s3://")) || !is_clean_text(*uri)) {
    fail(field, "must be a file:// or s3:// URI, got " + describe(field.node));
    return std::nullopt;
  }
  if (!is_file_uri(*uri, extensions)) {
    fail(field, "must name a " + join(extensions, " or ") + " file, got " + describe(field.node));
    return std::nullopt;
  }
  return uri;
}

void Parser::sensor_noise(const Field& field, SensorNoiseSpec& out) {
  static constexpr std::array<std::string_view, 8> kKeys = {
      "model", "shot", "read_slope", "read_intercept", "read_jitter", "profile", "row", "bit_depth"};
  static constexpr std::array<std::string_view, 2> kModels = {"poisson_gaussian", "none"};
  static constexpr std::array<std::string_view, 4> kProfileKeys = {"s_gain", "s_offset", "o_gain", "o_offset"};
  static constexpr std::array<std::string_view, 2> kYaml = {".yaml", ".yml"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "model") {
      set(out.model, word(value, "noise model", kModels));
    } else if (key == "shot") {
      set(out.shot, bounds(value, {1e-7, 1}, false));
    } else if (key == "read_slope") {
      set(out.read_slope, number(value, {-10, 10}));
    } else if (key == "read_intercept") {
      set(out.read_intercept, number(value, {-50, 50}));
    } else if (key == "read_jitter") {
      set(out.read_jitter, number(value, {0, 5}));
    } else if (key == "row") {
      set(out.row, value, {0, 0.1});
    } else if (key == "bit_depth") {
      auto bits = integer(value, 0, 16);
      if (bits && *bits != 0 && *bits < 8) {
        fail(value, "must be 0 (no quantisation) or between 8 and 16, got " + describe(value.node));
      } else if (bits) {
        out.bit_depth = static_cast<int>(*bits);
      }
    } else if (value.node.IsScalar()) {  // profile: a calibrate-sensor file
      out.has_profile = true;
      set(out.profile_uri, file_uri(value, kYaml));
    } else {  // profile: {s_gain, s_offset, o_gain, o_offset}
      out.has_profile = true;
      std::array<double*, 4> targets = {&out.s_gain, &out.s_offset, &out.o_gain, &out.o_offset};
      mapping(value, kProfileKeys, {}, [&](std::string_view name, const Field& coefficient) {
        const auto at = std::find(kProfileKeys.begin(), kProfileKeys.end(), name) - kProfileKeys.begin();
        set(*targets[static_cast<size_t>(at)], number(coefficient, {-1, 1}));
      });
    }
  });
}

namespace {

// The lenses a distortion section can draw that a submit-time check looks at: each model
// with every combination of each drawn coefficient's smallest and largest value (a
// constant has one), or, past 64 combinations, the two joint extremes and each
// coefficient's extremes alone. A lens that folds is found this way for every model the
// fields make monotone in each coefficient; the worker checks each sample's own draw again.
std::vector<sensor::Distortion> lens_corners(const SensorDistortionSpec& spec) {
  // OpenCV's order: k1, k2, p1, p2, k3, k4, k5, k6.
  const std::array<const Distribution*, 8> opencv = {&spec.k1, &spec.k2, &spec.p1, &spec.p2,
                                                     &spec.k3, &spec.k4, &spec.k5, &spec.k6};
  std::vector<sensor::Distortion> out;
  for (const std::string& name : spec.model.values) {
    const auto model = sensor::lens_model_from_name(name);
    if (!model || *model == sensor::LensModel::kNone) continue;
    // Fisheye takes k1..k4 (k1, k2, k3, k4 of the spec) in its first four slots.
    std::array<const Distribution*, 8> slots = opencv;
    if (*model == sensor::LensModel::kFisheye) slots = {&spec.k1, &spec.k2, &spec.k3, &spec.k4, nullptr, nullptr,
                                                        nullptr, nullptr};
    std::vector<size_t> drawn;
    sensor::Distortion low{*model, {}}, high{*model, {}};
    for (size_t i = 0; i < slots.size(); ++i) {
      if (!slots[i]) continue;
      low.k[i] = slots[i]->min_value();
      high.k[i] = slots[i]->max_value();
      if (low.k[i] != high.k[i]) drawn.push_back(i);
    }
    if (drawn.size() <= 6) {
      for (uint32_t mask = 0; mask < (1u << drawn.size()); ++mask) {
        sensor::Distortion d = low;
        for (size_t bit = 0; bit < drawn.size(); ++bit)
          if (mask & (1u << bit)) d.k[drawn[bit]] = high.k[drawn[bit]];
        out.push_back(d);
      }
    } else {
      out.push_back(low);
      out.push_back(high);
      for (size_t i : drawn) {
        sensor::Distortion a = low, b = high;
        a.k[i] = high.k[i];
        b.k[i] = low.k[i];
        out.push_back(a);
        out.push_back(b);
      }
    }
  }
  return out;
}

}  // namespace

void Parser::check_lens(const JobSpec& spec) {
  if (!distortion_field_) return;
  // The same geometry as the camera's (look_at_camera), at a small size: what the lens
  // needs is the field of view's, the pixel count only refines the border.
  constexpr int kProbeWidth = 64;
  const int probe_height = std::max(1, static_cast<int>(kProbeWidth * static_cast<int64_t>(spec.camera.height) /
                                                        std::max(1, spec.camera.width)));
  for (double fov : {spec.camera.fov_deg.min_value(), spec.camera.fov_deg.max_value()}) {
    const double half = 0.5 * deg_to_rad(fov);
    const double f = 0.5 * kProbeWidth * portable_cos(half) / portable_sin(half);
    const sensor::Pinhole probe{f, f, 0.5 * kProbeWidth, 0.5 * probe_height, kProbeWidth, probe_height};
    for (const sensor::Distortion& lens : lens_corners(spec.sensor.distortion)) {
      if (auto wide = sensor::wide_pinhole(lens, probe); !wide) {
        fail(*distortion_field_, wide.error() + " (with camera.fov_deg = " + format_number(fov) + ")");
        return;
      }
    }
  }
}

void Parser::sensor_distortion(const Field& field, SensorDistortionSpec& out) {
  distortion_field_ = field;
  static constexpr std::array<std::string_view, 9> kKeys = {"model", "k1", "k2", "k3", "k4",
                                                            "k5",    "k6", "p1", "p2"};
  std::array<Distribution*, 8> coefficients = {&out.k1, &out.k2, &out.k3, &out.k4,
                                               &out.k5, &out.k6, &out.p1, &out.p2};
  std::vector<Field> set_fields(kKeys.size());
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    const auto at = static_cast<size_t>(std::find(kKeys.begin(), kKeys.end(), key) - kKeys.begin());
    set_fields[at] = value;
    if (key == "model") {
      set(out.model, choice(value, "lens model", kLensModels, {}));
    } else {
      set(*coefficients[at - 1], value, key[0] == 'p' ? Range{-0.5, 0.5} : Range{-10, 10});
    }
  });
  // Kannala-Brandt has k1..k4 only: a k5, k6, p1 or p2 would be silently ignored.
  if (contains(out.model.values, "fisheye")) {
    for (size_t at : {5u, 6u, 7u, 8u}) {
      if (set_fields[at].node && (coefficients[at - 1]->min_value() != 0 || coefficients[at - 1]->max_value() != 0)) {
        fail(set_fields[at], "the fisheye model (Kannala-Brandt) has only k1..k4; " + std::string(kKeys[at]) +
                                 " must be 0 when model can be fisheye");
      }
    }
  }
}

void Parser::sensor(const Field& field, SensorSpec& out) {
  static constexpr std::array<std::string_view, 22> kKeys = {
      "exposure",   "ev",          "iso",        "shutter_s",            "f_number",  "camera",
      "red_gain",   "blue_gain",   "cfa",        "noise",                "demosaic",  "tone_curve",
      "jpeg_quality", "vignetting", "chromatic_aberration", "sharpen",   "distortion", "motion_blur",
      "camera_speed_m_s", "model",  "layers",    "enabled"};
  static constexpr std::array<std::string_view, 2> kExposures = {"auto", "manual"};
  static constexpr std::array<std::string_view, 2> kDemosaics = {"malvar", "bilinear"};
  static constexpr std::array<std::string_view, 2> kTones = {"smoothstep", "none"};
  static constexpr std::array<std::string_view, 2> kModelExtensions = {".pt", ".ts"};
  out.enabled = true;
  std::optional<Field> camera_speed;
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "enabled") {
      set(out.enabled, boolean(value));
    } else if (key == "exposure") {
      set(out.exposure, word(value, "exposure mode", kExposures));
    } else if (key == "ev") {
      set(out.ev, value, {-10, 10});
    } else if (key == "iso") {
      set(out.iso, value, {25, 409600});
    } else if (key == "shutter_s") {
      set(out.shutter_s, value, {1e-6, 1});
    } else if (key == "f_number") {
      set(out.f_number, value, {0.5, 64});
    } else if (key == "camera") {
      std::vector<std::string_view> cameras = {"random"};
      for (std::string_view preset : sensor::camera_presets()) cameras.push_back(preset);
      set(out.camera, choice(value, "camera", cameras, {}));
    } else if (key == "red_gain") {
      set(out.red_gain, value, {0.1, 10});
    } else if (key == "blue_gain") {
      set(out.blue_gain, value, {0.1, 10});
    } else if (key == "cfa") {
      set(out.cfa, choice(value, "Bayer pattern", kCfas, {}));
    } else if (key == "noise") {
      sensor_noise(value, out.noise);
    } else if (key == "demosaic") {
      set(out.demosaic, word(value, "demosaicing method", kDemosaics));
    } else if (key == "tone_curve") {
      set(out.tone_curve, word(value, "tone curve", kTones));
    } else if (key == "jpeg_quality") {
      set(out.jpeg_quality, value, {0, 100, true});
    } else if (key == "vignetting") {
      set(out.vignetting, value, {0, 1});
    } else if (key == "chromatic_aberration") {
      set(out.chromatic_aberration, value, {0, 10});
    } else if (key == "sharpen") {
      set(out.sharpen, value, {0, 4});
    } else if (key == "distortion") {
      sensor_distortion(value, out.distortion);
    } else if (key == "motion_blur") {
      set(out.motion_blur, boolean(value));
    } else if (key == "camera_speed_m_s") {
      camera_speed = value;
      set(out.camera_speed_m_s, value, {0, 20});
    } else if (key == "model") {
      set(out.model, file_uri(value, kModelExtensions));
    } else {
      auto layers = word_list<std::string>(value, "sensor layer", kSensorLayers, {},
                                           [](std::string_view w) { return std::string(w); });
      set(out.layers, layers);
    }
  });
  // `enabled: false` keeps a section in the file but switches the stage off: nothing of it
  // is kept, so the canonical spec is the one without the section.
  if (!out.enabled) out = SensorSpec{};
  if (camera_speed && !out.motion_blur && out.camera_speed_m_s.max_value() > 0) {
    fail(*camera_speed, "the camera moves only during a shutter with motion_blur: true");
  }
}

}  // namespace synthfarm::jobs::spec_internal
