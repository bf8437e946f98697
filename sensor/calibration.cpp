#include "sensor/calibration.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <tuple>

namespace synthfarm::sensor {
namespace {

double mean_of(const MonoImage& image) {
  double sum = 0;
  for (float v : image.data) sum += v;
  return sum / static_cast<double>(image.data.size());
}

// var(A - B) / 2, the sample variance of the difference (two passes, in double).
double half_difference_variance(const MonoImage& a, const MonoImage& b) {
  const size_t n = a.data.size();
  double mean = 0;
  for (size_t i = 0; i < n; ++i) mean += static_cast<double>(a.data[i]) - b.data[i];
  mean /= static_cast<double>(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a.data[i]) - b.data[i] - mean;
    sum += d * d;
  }
  return sum / static_cast<double>(n - 1) / 2.0;
}

// Mean half-variance over the disjoint pairs (0, 1), (2, 3), ...; an odd last frame only
// counts towards the mean level.
double pair_variance(const std::vector<const CalibrationFrame*>& frames) {
  double sum = 0;
  int pairs = 0;
  for (size_t i = 0; i + 1 < frames.size(); i += 2, ++pairs)
    sum += half_difference_variance(frames[i]->image, frames[i + 1]->image);
  return sum / pairs;
}

double mean_level(const std::vector<const CalibrationFrame*>& frames) {
  double sum = 0;
  for (const auto* frame : frames) sum += mean_of(frame->image);
  return sum / static_cast<double>(frames.size());
}

// Fits y = gain * t + offset minimising sum ((y - fit) / y)^2.
std::pair<double, double> fit_relative(const std::vector<double>& t, const std::vector<double>& y) {
  double largest = 0;
  for (double v : y) largest = std::max(largest, std::abs(v));
  double sw = 0, st = 0, stt = 0, sy = 0, sty = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    const double scale = std::max(std::abs(y[i]), 1e-6 * largest);
    const double w = scale > 0 ? 1.0 / (scale * scale) : 1.0;
    sw += w;
    st += w * t[i];
    stt += w * t[i] * t[i];
    sy += w * y[i];
    sty += w * t[i] * y[i];
  }
  const double det = sw * stt - st * st;
  return {(sw * sty - st * sy) / det, (stt * sy - st * sty) / det};
}

struct IsoFrames {
  std::vector<const CalibrationFrame*> darks;
  std::map<std::string, std::vector<const CalibrationFrame*>> levels;
};

tl::expected<IsoCalibration, std::string> calibrate_iso(int iso, const IsoFrames& frames) {
  IsoCalibration result;
  result.iso = iso;
  if (frames.darks.empty()) {
    const auto* any = frames.levels.begin()->second.front();
    return tl::unexpected(
        fmt::format("{}: there are no dark frames at iso {} (names with iso{} and 'dark'); the "
                    "read noise and the black level are measured on a pair of them",
                    any->name, iso, iso));
  }
  if (frames.darks.size() < 2)
    return tl::unexpected(
        fmt::format("{}: the only dark frame at iso {}; the read noise needs a pair",
                    frames.darks[0]->name, iso));
  if (frames.levels.empty())
    return tl::unexpected(
        fmt::format("{}: iso {} has dark frames but no flats (names with 'flat-<tag>')",
                    frames.darks[0]->name, iso));
  result.dark_frames = static_cast<int>(frames.darks.size());
  result.black_level = mean_level(frames.darks);
  result.b = pair_variance(frames.darks);
  double sxy = 0, sxx = 0;
  for (const auto& [tag, level] : frames.levels) {
    if (level.size() < 2)
      return tl::unexpected(
          fmt::format("{}: the only frame of level flat-{} at iso {}; a level needs a pair of "
                      "frames at the same exposure",
                      level[0]->name, tag, iso));
    for (const auto* frame : level) {
      const double mean = mean_of(frame->image);
      if (mean > 0.9)
        return tl::unexpected(
            fmt::format("{}: flat frame is saturated (mean {:.4f} of white, above 0.9): clipped "
                        "values hide the noise; use a shorter exposure",
                        frame->name, mean));
    }
    FlatLevel stat{tag, static_cast<int>(level.size()), mean_level(level) - result.black_level,
                   pair_variance(level)};
    sxy += stat.signal * (stat.variance - result.b);
    sxx += stat.signal * stat.signal;
    result.levels.push_back(std::move(stat));
  }
  if (!(sxx > 0) || std::all_of(result.levels.begin(), result.levels.end(),
                                [](const FlatLevel& l) { return l.signal <= 0; }))
    return tl::unexpected(
        fmt::format("{}: the flats at iso {} are no brighter than its dark frames",
                    frames.levels.begin()->second.front()->name, iso));
  result.a = sxy / sxx;
  return result;
}

}  // namespace

tl::expected<FrameName, std::string> parse_frame_name(std::string_view file_name) {
  const size_t slash = file_name.find_last_of('/');
  const std::string_view base =
      slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
  std::string lower(base);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  FrameName name;
  for (size_t at = lower.find("iso"); at != std::string::npos; at = lower.find("iso", at + 1)) {
    size_t end = at + 3;
    long iso = 0;
    while (end < lower.size() && std::isdigit(static_cast<unsigned char>(lower[end])) &&
           iso <= 10'000'000)
      iso = iso * 10 + (lower[end++] - '0');
    if (end > at + 3) {
      if (iso < 1 || iso > 10'000'000)
        return tl::unexpected(fmt::format("{}: iso{} is outside 1..10000000", file_name, iso));
      name.iso = static_cast<int>(iso);
      break;
    }
  }
  if (name.iso == 0)
    return tl::unexpected(fmt::format(
        "{}: the name must say its ISO as iso<N>, e.g. iso800-flat-a-1.pgm", file_name));
  const size_t dark = lower.find("dark"), flat = lower.find("flat");
  if ((dark == std::string::npos) == (flat == std::string::npos))
    return tl::unexpected(
        fmt::format("{}: the name must contain exactly one of 'dark' and 'flat-<tag>'", file_name));
  if (dark != std::string::npos) return name;
  name.kind = FrameKind::kFlat;
  size_t tag = flat + 4;
  if (tag < lower.size() && (lower[tag] == '-' || lower[tag] == '_')) ++tag;
  size_t end = tag;
  while (end < lower.size() && std::isalnum(static_cast<unsigned char>(lower[end]))) ++end;
  if (end == tag || tag == flat + 4)
    return tl::unexpected(
        fmt::format("{}: a flat frame's name must give its level as flat-<tag>, e.g. "
                    "iso800-flat-a-1.pgm",
                    file_name));
  name.level = lower.substr(tag, end - tag);
  return name;
}

tl::expected<SensorCalibration, std::string> calibrate_noise(
    std::span<const CalibrationFrame> frames) {
  if (frames.empty()) return tl::unexpected(std::string("calibration: no frames"));
  const CalibrationFrame& first = frames[0];
  std::vector<const CalibrationFrame*> sorted;
  for (const auto& frame : frames) {
    if (frame.image.width != first.image.width || frame.image.height != first.image.height ||
        frame.image.data.size() != static_cast<size_t>(first.image.width) * first.image.height)
      return tl::unexpected(
          fmt::format("{}: a {} x {} frame, but {} is {} x {}; every frame must have one size",
                      frame.name, frame.image.width, frame.image.height, first.name,
                      first.image.width, first.image.height));
    sorted.push_back(&frame);
  }
  if (first.image.data.size() < 2)
    return tl::unexpected(fmt::format("{}: a frame needs at least two pixels", first.name));
  // Pairs are formed in name order, so the result does not depend on the order given.
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->name < b->name; });
  std::map<int, IsoFrames> by_iso;
  for (const auto* frame : sorted) {
    auto& iso = by_iso[frame->what.iso];
    if (frame->what.kind == FrameKind::kDark) {
      iso.darks.push_back(frame);
    } else {
      iso.levels[frame->what.level].push_back(frame);
    }
  }
  SensorCalibration calibration;
  for (const auto& [iso, iso_frames] : by_iso) {
    auto fitted = calibrate_iso(iso, iso_frames);
    if (!fitted) return tl::unexpected(fitted.error());
    calibration.per_iso.push_back(std::move(*fitted));
  }
  if (calibration.per_iso.size() < 2)
    return tl::unexpected(
        fmt::format("{}: every frame is at iso {}; fitting S(iso) and O(iso) needs two or more ISO "
                    "settings",
                    first.name, calibration.per_iso[0].iso));
  std::vector<double> iso, iso2, a, b;
  for (const auto& fit : calibration.per_iso) {
    iso.push_back(fit.iso);
    iso2.push_back(static_cast<double>(fit.iso) * fit.iso);
    a.push_back(fit.a);
    b.push_back(fit.b);
  }
  std::tie(calibration.profile.s_gain, calibration.profile.s_offset) = fit_relative(iso, a);
  std::tie(calibration.profile.o_gain, calibration.profile.o_offset) = fit_relative(iso2, b);
  return calibration;
}

std::string calibration_to_yaml(const SensorCalibration& calibration) {
  YAML::Emitter out;
  out.SetDoublePrecision(10);
  out << YAML::Comment(
      "synthfarm calibrate-sensor: photon-transfer noise fit, raw units (white level = 1)");
  out << YAML::BeginMap;
  out << YAML::Key << "noise_profile" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "s_gain" << YAML::Value << calibration.profile.s_gain;
  out << YAML::Key << "s_offset" << YAML::Value << calibration.profile.s_offset;
  out << YAML::Key << "o_gain" << YAML::Value << calibration.profile.o_gain;
  out << YAML::Key << "o_offset" << YAML::Value << calibration.profile.o_offset;
  out << YAML::EndMap;
  out << YAML::Key << "per_iso" << YAML::Value << YAML::BeginSeq;
  for (const auto& fit : calibration.per_iso) {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "iso" << YAML::Value << fit.iso;
    out << YAML::Key << "a" << YAML::Value << fit.a;
    out << YAML::Key << "b" << YAML::Value << fit.b;
    out << YAML::Key << "levels" << YAML::Value << static_cast<int>(fit.levels.size());
    out << YAML::Key << "black_level" << YAML::Value << fit.black_level;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

tl::expected<NoiseProfile, std::string> noise_profile_from_yaml(std::string_view text,
                                                                std::string_view source) {
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    const YAML::Node map = root["noise_profile"];
    if (!map || !map.IsMap())
      return tl::unexpected(fmt::format("{}: noise_profile: missing or not a map", source));
    NoiseProfile profile;
    const std::pair<const char*, double*> fields[] = {{"s_gain", &profile.s_gain},
                                                      {"s_offset", &profile.s_offset},
                                                      {"o_gain", &profile.o_gain},
                                                      {"o_offset", &profile.o_offset}};
    for (const auto& entry : map) {
      const auto key = entry.first.as<std::string>();
      if (std::none_of(std::begin(fields), std::end(fields),
                       [&](const auto& f) { return key == f.first; }))
        return tl::unexpected(fmt::format("{}:{}: noise_profile.{}: unknown field", source,
                                          entry.first.Mark().line + 1, key));
    }
    for (const auto& [key, value] : fields) {
      const YAML::Node node = map[key];
      if (!node) return tl::unexpected(fmt::format("{}: noise_profile.{}: missing", source, key));
      try {
        *value = node.as<double>();
      } catch (const YAML::Exception&) {
        return tl::unexpected(fmt::format("{}:{}: noise_profile.{}: not a number", source,
                                          node.Mark().line + 1, key));
      }
      if (!std::isfinite(*value))
        return tl::unexpected(
            fmt::format("{}:{}: noise_profile.{}: not finite", source, node.Mark().line + 1, key));
    }
    return profile;
  } catch (const YAML::Exception& e) {
    return tl::unexpected(fmt::format("{}: {}", source, e.what()));
  }
}

}  // namespace synthfarm::sensor
