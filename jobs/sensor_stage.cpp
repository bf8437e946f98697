#include "jobs/sensor_stage.h"

#include <fmt/format.h>

#include <array>
#include <cmath>

#include "base/rng.h"
#include "sensor/cfa.h"

namespace synthfarm::jobs {

using nlohmann::json;

namespace {

// 2^ev, from exactly rounded operations only (ev is a drawn double).
double exposure_compensation(double ev) { return portable_exp(ev * 0.69314718055994530942); }

sensor::NoiseParams draw_noise(const SensorNoiseSpec& spec, const SensorAssets& assets, double iso,
                               uint64_t seed) {
  sensor::NoiseParams noise;
  if (spec.model == "none") return noise;
  if (assets.profile) {
    noise = sensor::profile_noise(*assets.profile, iso);
  } else if (spec.has_profile) {
    noise = sensor::profile_noise({spec.s_gain, spec.s_offset, spec.o_gain, spec.o_offset}, iso);
  } else {
    Pcg32 rng = Pcg32::for_purpose(seed, "sensor.noise");
    noise = sensor::brooks_noise(rng, spec.shot.first, spec.shot.second, spec.read_slope, spec.read_intercept,
                                 spec.read_jitter);
  }
  noise.row = draw_field(spec.row, seed, "sensor.noise.row");
  noise.bit_depth = spec.bit_depth;
  return noise;
}

}  // namespace

SensorDraw draw_sensor(const SensorSpec& spec, const SensorAssets& assets, uint64_t seed,
                       const render::Frame& first_frame) {
  SensorDraw draw;
  sensor::CameraParams& p = draw.params;
  draw.iso = draw_field(spec.iso, seed, "sensor.iso");
  draw.shutter_s = draw_field(spec.shutter_s, seed, "sensor.shutter_s");
  draw.f_number = draw_field(spec.f_number, seed, "sensor.f_number");
  draw.ev = draw_field(spec.ev, seed, "sensor.ev");
  draw.metered_exposure = spec.exposure == "manual"
                              ? sensor::manual_exposure(draw.iso, draw.shutter_s, draw.f_number)
                              : sensor::auto_exposure(first_frame.rgb, first_frame.width, first_frame.height);
  p.exposure = draw.metered_exposure * exposure_compensation(draw.ev);

  draw.camera = draw_field(spec.camera, seed, "sensor.camera");
  if (auto preset = sensor::preset_ccm(draw.camera)) {
    p.ccm = *preset;
  } else {
    Pcg32 rng = Pcg32::for_purpose(seed, "sensor.ccm");
    p.ccm = sensor::random_ccm(rng);
  }
  p.rgb_gain = 1;
  p.red_gain = draw_field(spec.red_gain, seed, "sensor.red_gain");
  p.blue_gain = draw_field(spec.blue_gain, seed, "sensor.blue_gain");
  p.cfa = sensor::cfa_from_name(draw_field(spec.cfa, seed, "sensor.cfa")).value_or(sensor::Cfa::kRggb);
  p.noise = draw_noise(spec.noise, assets, draw.iso, seed);
  p.demosaic = spec.demosaic == "bilinear" ? sensor::Demosaic::kBilinear : sensor::Demosaic::kMalvar;
  p.tone = spec.tone_curve == "none" ? sensor::ToneCurve::kNone : sensor::ToneCurve::kSmoothstep;
  p.jpeg_quality = static_cast<int>(draw_field(spec.jpeg_quality, seed, "sensor.jpeg_quality"));
  p.vignetting = draw_field(spec.vignetting, seed, "sensor.vignetting");
  p.chromatic_aberration = draw_field(spec.chromatic_aberration, seed, "sensor.chromatic_aberration");
  p.sharpen = draw_field(spec.sharpen, seed, "sensor.sharpen");
  return draw;
}

tl::expected<SensorFrame, std::string> run_sensor(const SensorSpec& spec, const SensorAssets& assets,
                                                  const SensorDraw& draw, const render::Frame& frame,
                                                  uint64_t noise_seed) {
  const sensor::CameraParams& p = draw.params;
  const sensor::LearnedModel* model = assets.model.get();
  const std::array<double, sensor::kModelParameters.size()> model_params = {
      draw.iso,        p.exposure,   p.noise.shot, p.noise.read, p.red_gain,
      p.blue_gain,     static_cast<double>(p.cfa), static_cast<double>(p.jpeg_quality)};
  auto apply_model = [&](std::vector<float>& image) -> tl::expected<void, std::string> {
    auto applied = model->apply(image, frame.width, frame.height, model_params, noise_seed);
    if (!applied) return tl::unexpected(fmt::format("sensor.model: {}", applied.error()));
    return {};
  };

  std::vector<float> exposed = sensor::expose(frame.rgb, frame.width, frame.height, p);
  if (model && model->domain() == sensor::ModelDomain::kRgb) {
    if (auto applied = apply_model(exposed); !applied) return tl::unexpected(applied.error());
  }
  sensor::RawImage raw = sensor::mosaic(exposed, frame.width, frame.height, p);
  if (model && model->domain() == sensor::ModelDomain::kRaw) {
    if (auto applied = apply_model(raw.data); !applied) return tl::unexpected(applied.error());
  } else {
    sensor::add_noise(raw, p.noise, noise_seed);
  }
  auto image = sensor::develop(raw, p);
  if (!image) return tl::unexpected(image.error());
  SensorFrame out;
  out.image = std::move(*image);
  if (std::find(spec.layers.begin(), spec.layers.end(), "raw") != spec.layers.end()) out.raw = std::move(raw.data);
  return out;
}

json sensor_json(const SensorSpec& spec, const SensorDraw& draw) {
  const sensor::CameraParams& p = draw.params;
  json j;
  j["exposure_mode"] = spec.exposure;
  j["exposure"] = p.exposure;
  j["metered_exposure"] = draw.metered_exposure;
  j["ev"] = draw.ev;
  j["iso"] = draw.iso;
  if (spec.exposure == "manual") {
    j["shutter_s"] = draw.shutter_s;
    j["f_number"] = draw.f_number;
  }
  j["camera"] = draw.camera;
  j["ccm"] = p.ccm;  // camera RGB -> linear sRGB, row-major
  j["white_balance"] = {{"red_gain", p.red_gain}, {"blue_gain", p.blue_gain}, {"rgb_gain", p.rgb_gain}};
  j["cfa"] = std::string(sensor::cfa_name(p.cfa));
  j["noise"] = {{"model", spec.noise.model},
                {"a", p.noise.shot},
                {"b", p.noise.read},
                {"row", p.noise.row},
                {"bit_depth", p.noise.bit_depth}};
  j["demosaic"] = spec.demosaic;
  j["tone_curve"] = spec.tone_curve;
  j["jpeg_quality"] = p.jpeg_quality;
  j["vignetting"] = p.vignetting;
  j["chromatic_aberration"] = p.chromatic_aberration;
  j["sharpen"] = p.sharpen;
  if (!spec.model.empty()) j["model"] = spec.model;
  return j;
}

std::vector<render::ExtraChannel> sensor_channels(const SensorSpec& spec, const SensorFrame& out) {
  std::vector<render::ExtraChannel> channels;
  for (const std::string& layer : spec.layers) {
    if (layer == "camera") {
      // The camera's image as it left the ISP (display-referred, 0..1), before 8 bits.
      const float* display = out.image.display.data();
      channels.push_back({"camera.R", display, 3});
      channels.push_back({"camera.G", display + 1, 3});
      channels.push_back({"camera.B", display + 2, 3});
    } else if (layer == "raw") {
      channels.push_back({"raw.Y", out.raw.data(), 1});
    }
  }
  return channels;
}

}  // namespace synthfarm::jobs
