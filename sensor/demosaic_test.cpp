#include "sensor/demosaic.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "base/math.h"
#include "render/renderer.h"
#include "render/scene.h"
#include "sensor/camera_model.h"

namespace synthfarm::sensor {
namespace {


// A mosaic of `rgb` (interleaved) by `cfa`, no colour transform.
std::vector<float> sample_cfa(const std::vector<float>& rgb, int width, int height, Cfa cfa) {
  std::vector<float> mosaic(static_cast<size_t>(width) * height);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const size_t i = static_cast<size_t>(y) * width + x;
      mosaic[i] = rgb[3 * i + cfa_colour(cfa, x, y)];
    }
  return mosaic;
}

TEST(Demosaic, ConstantColourIsReproducedExactlyEverywhere) {
  constexpr int kW = 9, kH = 7;  // odd sizes: every border case
  std::vector<float> rgb;
  for (int i = 0; i < kW * kH; ++i) rgb.insert(rgb.end(), {0.25f, 0.5f, 0.75f});
  for (Cfa cfa : kAllCfas)
    for (Demosaic method : {Demosaic::kMalvar, Demosaic::kBilinear}) {
      const auto out = demosaic(sample_cfa(rgb, kW, kH, cfa), kW, kH, cfa, method);
      for (size_t i = 0; i < out.size(); ++i)
        ASSERT_NEAR(out[i], rgb[i], 1e-6)
            << cfa_name(cfa) << " " << demosaic_name(method) << " at " << i / 3;
    }
}

TEST(Demosaic, KeepsEachPhotositesOwnColour) {
  constexpr int kW = 8, kH = 6;
  std::vector<float> mosaic;
  for (int i = 0; i < kW * kH; ++i) mosaic.push_back(static_cast<float>((i * 37) % 17) / 17.0f);
  for (Cfa cfa : kAllCfas) {
    const auto out = demosaic(mosaic, kW, kH, cfa, Demosaic::kMalvar);
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x) {
        const size_t i = static_cast<size_t>(y) * kW + x;
        ASSERT_EQ(out[3 * i + cfa_colour(cfa, x, y)], mosaic[i]);
      }
  }
}

TEST(Demosaic, RejectsMismatchedSizes) {
  std::vector<float> mosaic(10);
  EXPECT_THROW(demosaic(mosaic, 4, 3, Cfa::kRggb, Demosaic::kMalvar), std::invalid_argument);
  EXPECT_THROW(demosaic(std::vector<float>(3), 3, 1, Cfa::kRggb, Demosaic::kMalvar),
               std::invalid_argument);
  EXPECT_EQ(demosaic_from_name("bilinear"), Demosaic::kBilinear);
  EXPECT_FALSE(demosaic_from_name("ahd").has_value());
}

// A small studio: a checkered floor, coloured boxes and a ball under the sun and a sky,
// seen from above at an angle so the checker recedes to fine detail.
render::Scene studio_scene(int width, int height) {
  using namespace render;
  Scene scene;
  scene.kind = "demosaic-test";
  scene.camera = look_at_camera(width, height, 55, {0.4, -3.2, 1.8}, {0, 0.4, 0.3});
  scene.sky = Sky::uniform(0.5);
  scene.sun.intensity = 2.5;
  scene.sun.direction = normalize(Vec3{0.5, -0.4, 0.75});
  Pattern checker;
  checker.kind = Pattern::Kind::kChecker;
  checker.scale = 3;
  checker.a = {0.08f, 0.08f, 0.1f};
  checker.b = {0.85f, 0.8f, 0.7f};
  scene.patterns = {checker};
  Material floor_material;
  floor_material.pattern = 0;
  floor_material.roughness = 0.9f;
  floor_material.specular = 0.2f;
  scene.materials = {floor_material};
  auto mesh = [&](uint32_t id, Rgb albedo, SemanticClass semantic, const char* name) {
    Mesh m;
    m.albedo = albedo;
    m.instance_id = id;
    m.semantic = semantic;
    scene.instances.push_back({id, semantic, name});
    return m;
  };
  Mesh floor = mesh(1, {0.5f, 0.5f, 0.5f}, SemanticClass::kFloor, "floor");
  add_quad(floor, {-6, -6, 0}, {6, -6, 0}, {6, 8, 0}, {-6, 8, 0});
  floor.material = 0;
  scene.meshes.push_back(std::move(floor));
  Mesh red = mesh(2, {0.8f, 0.1f, 0.08f}, SemanticClass::kProp, "box");
  add_box(red, {-0.8, 0.2, 0.3}, Mat3::rotation_z(0.4), {0.3, 0.3, 0.3});
  scene.meshes.push_back(std::move(red));
  Mesh blue = mesh(3, {0.1f, 0.2f, 0.8f}, SemanticClass::kProp, "box");
  add_box(blue, {0.7, 0.6, 0.45}, Mat3::rotation_z(-0.3), {0.25, 0.25, 0.45});
  scene.meshes.push_back(std::move(blue));
  Mesh green = mesh(4, {0.15f, 0.7f, 0.2f}, SemanticClass::kProp, "sphere");
  add_ellipsoid(green, {0.0, -0.4, 0.25}, Mat3{}, {0.25, 0.25, 0.25}, 48, 24);
  scene.meshes.push_back(std::move(green));
  Mesh yellow = mesh(5, {0.85f, 0.75f, 0.1f}, SemanticClass::kProp, "cylinder");
  add_cylinder(yellow, {0.1, 1.4, 0}, 0.2, 0.8, 48);
  scene.meshes.push_back(std::move(yellow));
  return scene;
}

double psnr(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    sum += d * d;
  }
  return 10.0 * std::log10(static_cast<double>(a.size()) / sum);
}

std::vector<float> encoded(const std::vector<float>& linear) {
  std::vector<float> out(linear.size());
  for (size_t i = 0; i < linear.size(); ++i) out[i] = static_cast<float>(srgb_encode(linear[i]));
  return out;
}

// Acceptance: on a frame the renderer made (160 x 120, 256 spp), Malvar-He-Cutler beats
// bilinear interpolation by at least 3 dB, for every CFA pattern.
TEST(Demosaic, MalvarBeatsBilinearOnARenderedFrame) {
  constexpr int kW = 160, kH = 120;
  auto renderer = render::Renderer::create();
  ASSERT_TRUE(renderer) << renderer.error();
  render::RenderSettings settings;
  settings.spp = 256;
  settings.max_bounces = 2;
  settings.seed = 2024;
  settings.threads = 2;
  settings.layers = render::layer_bit(render::Layer::kRgb);
  auto frame = (*renderer)->render(studio_scene(kW, kH), settings);
  ASSERT_TRUE(frame) << frame.error();
  // Metered as the camera does, clipped at the white level, then sampled as a clean raw
  // (identity colour, unit gains, no pedestal).
  CameraParams params;
  params.exposure = auto_exposure(frame->rgb, kW, kH);
  params.rgb_gain = params.red_gain = params.blue_gain = 1;
  params.black_level = 0;
  auto exposed = expose(frame->rgb, kW, kH, params);
  for (float& v : exposed) v = std::clamp(v, 0.0f, 1.0f);
  const auto reference = encoded(exposed);
  for (Cfa cfa : kAllCfas) {
    params.cfa = cfa;
    const RawImage raw = mosaic(exposed, kW, kH, params);
    const auto malvar = demosaic(raw.data, kW, kH, cfa, Demosaic::kMalvar);
    const auto bilinear = demosaic(raw.data, kW, kH, cfa, Demosaic::kBilinear);
    auto clipped = [](std::vector<float> v) {
      for (float& x : v) x = std::clamp(x, 0.0f, 1.0f);
      return v;
    };
    // Three measures. Linear: the demosaicer's own domain, the raw data (the assertion).
    // Gamma: Malvar et al.'s protocol (Kodak images are gamma-encoded, so they mosaic and
    // demosaic encoded values). Displayed: linear demosaicing viewed through the sRGB curve,
    // whose steep toe magnifies errors near black (reported, not asserted).
    const double linear_malvar = psnr(clipped(malvar), exposed),
                 linear_bilinear = psnr(clipped(bilinear), exposed);
    const auto encoded_mosaic = sample_cfa(reference, kW, kH, cfa);
    const double gamma_malvar =
        psnr(clipped(demosaic(encoded_mosaic, kW, kH, cfa, Demosaic::kMalvar)), reference);
    const double gamma_bilinear =
        psnr(clipped(demosaic(encoded_mosaic, kW, kH, cfa, Demosaic::kBilinear)), reference);
    const double shown_malvar = psnr(encoded(clipped(malvar)), reference);
    const double shown_bilinear = psnr(encoded(clipped(bilinear)), reference);
    std::cout << fmt::format(
        "demosaic {} PSNR dB (malvar / bilinear / gain): linear {:.2f} / {:.2f} / {:+.2f}; gamma "
        "{:.2f} / {:.2f} / "
        "{:+.2f}; displayed {:.2f} / {:.2f} / {:+.2f}\n",
        cfa_name(cfa), linear_malvar, linear_bilinear, linear_malvar - linear_bilinear,
        gamma_malvar, gamma_bilinear, gamma_malvar - gamma_bilinear, shown_malvar, shown_bilinear,
        shown_malvar - shown_bilinear);
    if (cfa == Cfa::kRggb) {
      RecordProperty("malvar_linear_psnr_db", fmt::format("{:.2f}", linear_malvar));
      RecordProperty("bilinear_linear_psnr_db", fmt::format("{:.2f}", linear_bilinear));
    }
    EXPECT_GE(linear_malvar, linear_bilinear + 3.0) << cfa_name(cfa);
    EXPECT_GE(gamma_malvar, gamma_bilinear + 3.0) << cfa_name(cfa);
  }
}

}  // namespace
}  // namespace synthfarm::sensor
