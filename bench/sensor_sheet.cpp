// sensor_sheet: the contact sheet of docs/sensor.md. One sample of a spec, the same scene and
// people, through several cameras: the clean render (no sensor section), a camera profile at
// ISO 100, 800 and 6400, JPEG at quality 30, a strong barrel lens, a fisheye, and motion blur
// with a panning camera. Each tile is the sample's preview exactly as the pipeline stores it
// (the PNG, or the JPEG decoded); tiles are laid out in the order above, four per row, and
// written as one PNG.
//
//   build/bin/sensor_sheet [--spec examples/quickstart.yaml] [--sample 5] [--spp 64]
//                          [--out docs/sensor_sheet.png]
#include <fmt/format.h>
#include <png.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "jobs/sample.h"
#include "jobs/spec.h"
#include "render/image_io.h"
#include "sensor/jpeg.h"

using namespace synthfarm;

namespace {

struct Variant {
  std::string caption;
  void (*apply)(jobs::JobSpec&);
};

// A mid-range phone-like sensor: shot and read noise grow with ISO.
void camera_profile(jobs::JobSpec& spec, double iso) {
  spec.sensor.enabled = true;
  spec.sensor.iso = jobs::Distribution::constant(iso);
  spec.sensor.noise.has_profile = true;
  spec.sensor.noise.s_gain = 1.2e-6;
  spec.sensor.noise.s_offset = 0;
  spec.sensor.noise.o_gain = 1.0e-11;
  spec.sensor.noise.o_offset = 2.0e-6;
  spec.sensor.camera = {{"sony_a7r"}, {}};
}

const std::vector<Variant> kVariants = {
    {"clean render (no sensor section)", [](jobs::JobSpec& s) { s.sensor = jobs::SensorSpec{}; }},
    {"ISO 100", [](jobs::JobSpec& s) { camera_profile(s, 100); }},
    {"ISO 800", [](jobs::JobSpec& s) { camera_profile(s, 800); }},
    {"ISO 6400", [](jobs::JobSpec& s) { camera_profile(s, 6400); }},
    {"ISO 400, JPEG quality 30",
     [](jobs::JobSpec& s) {
       camera_profile(s, 400);
       s.sensor.jpeg_quality = jobs::Distribution::constant(30);
     }},
    {"barrel lens, brown_conrady k1 = -0.35, k2 = 0.1",
     [](jobs::JobSpec& s) {
       camera_profile(s, 200);
       s.sensor.distortion.model = {{"brown_conrady"}, {}};
       s.sensor.distortion.k1 = jobs::Distribution::constant(-0.35);
       s.sensor.distortion.k2 = jobs::Distribution::constant(0.1);
     }},
    {"fisheye, k1 = -0.05",
     [](jobs::JobSpec& s) {
       camera_profile(s, 200);
       s.sensor.distortion.model = {{"fisheye"}, {}};
       s.sensor.distortion.k1 = jobs::Distribution::constant(-0.05);
     }},
    {"motion blur, 1/15 s shutter, camera panning 1.5 m/s",
     [](jobs::JobSpec& s) {
       camera_profile(s, 200);
       s.sensor.motion_blur = true;
       s.sensor.shutter_s = jobs::Distribution::constant(1.0 / 15);
       s.sensor.camera_speed_m_s = jobs::Distribution::constant(1.5);
     }},
};

tl::expected<sensor::Rgb8Image, std::string> decode_png(const std::string& bytes) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) return tl::unexpected(std::string(image.message));
  image.format = PNG_FORMAT_RGB;
  sensor::Rgb8Image out{static_cast<int>(image.width), static_cast<int>(image.height), {}};
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr)) return tl::unexpected(std::string(image.message));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("sensor_sheet: one sample through several cameras, as one PNG");
  std::string spec_path = "examples/quickstart.yaml", out_path = "docs/sensor_sheet.png";
  int sample = 5, spp = 64, threads = 0;
  app.add_option("--spec", spec_path, "the spec whose sample is shown");
  app.add_option("--sample", sample, "which sample")->check(CLI::NonNegativeNumber);
  app.add_option("--spp", spp, "samples per pixel of every tile")->check(CLI::Range(1, 65536));
  app.add_option("--threads", threads, "render threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--out", out_path, "the PNG to write");
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(spec_path);
  std::stringstream text;
  text << in.rdbuf();
  auto base = jobs::parse_spec(text.str(), spec_path);
  if (!base) {
    fmt::print(stderr, "sensor_sheet: {}\n", base.error().front().to_string());
    return 2;
  }
  base->render.spp = spp;
  base->humans.motion = {{"walk", "run"}, {}};
  auto renderer = jobs::SampleRenderer::create(threads);
  if (!renderer) {
    fmt::print(stderr, "sensor_sheet: {}\n", renderer.error());
    return 1;
  }
  constexpr int kColumns = 4;
  const int w = base->camera.width, h = base->camera.height;
  const int rows = (static_cast<int>(kVariants.size()) + kColumns - 1) / kColumns;
  std::vector<uint8_t> sheet(static_cast<size_t>(kColumns * w) * rows * h * 3, 255);
  for (size_t v = 0; v < kVariants.size(); ++v) {
    jobs::JobSpec spec = *base;
    kVariants[v].apply(spec);
    auto objects = (*renderer)->render(spec, static_cast<uint64_t>(sample));
    if (!objects) {
      fmt::print(stderr, "sensor_sheet: {}: {}\n", kVariants[v].caption, objects.error());
      return 1;
    }
    auto tile = objects->jpg.empty() ? decode_png(objects->png) : sensor::decode_jpeg(objects->jpg);
    if (!tile || tile->width != w || tile->height != h) {
      fmt::print(stderr, "sensor_sheet: {}: cannot decode the preview\n", kVariants[v].caption);
      return 1;
    }
    const int x0 = static_cast<int>(v % kColumns) * w, y0 = static_cast<int>(v / kColumns) * h;
    for (int y = 0; y < h; ++y) {
      std::memcpy(&sheet[(static_cast<size_t>(y0 + y) * kColumns * w + x0) * 3],
                  &tile->pixels[static_cast<size_t>(y) * w * 3], static_cast<size_t>(w) * 3);
    }
    fmt::print("tile {} (row {}, column {}): {}\n", v + 1, v / kColumns + 1, v % kColumns + 1, kVariants[v].caption);
  }
  std::ofstream(out_path, std::ios::binary) << render::encode_png_rgb8(sheet, kColumns * w, rows * h);
  fmt::print("wrote {} ({}x{})\n", out_path, kColumns * w, rows * h);
  return 0;
}
