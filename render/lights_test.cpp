// Tests of light sampling without Embree: irradiance from point, spot, rect and disk lights
// against closed forms, the MIS densities of area lights, environment-map importance
// sampling (its pdf integrates to 1 and matches what it samples), and the Preetham sky.
#include "render/internal/lights.h"

#include <gtest/gtest.h>

#include <cmath>

#include "render/internal/sky.h"
#include "render/internal/textures.h"

namespace synthfarm::render {
namespace {

// Irradiance at `p` with normal +z from `lights`, by next-event estimation alone.
double irradiance(const LocalLights& lights, Vec3 p, int n) {
  SobolSampler s(11, 3);
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    s.start_sample(static_cast<uint32_t>(i));
    auto ls = lights.sample(p, s.get1d(0), s.get2d(1));
    if (!ls || ls->wi.z <= 0) continue;
    sum += ls->radiance.g * ls->wi.z / ls->pdf;
  }
  return sum / n;
}

TEST(LightsTest, PointAndSpotIrradianceIsInverseSquare) {
  Light point;
  point.kind = Light::Kind::kPoint;
  point.intensity = 50;
  point.position = {1, 0, 2};
  LocalLights lights({point});
  // E = I cos / r^2 at the origin: r^2 = 5, cos = 2 / sqrt(5).
  EXPECT_NEAR(irradiance(lights, {0, 0, 0}, 4), 50 * (2 / std::sqrt(5.0)) / 5, 1e-12);

  Light spot = point;
  spot.kind = Light::Kind::kSpot;
  spot.position = {0, 0, 2};
  spot.direction = {0, 0, -1};
  spot.inner_cone_deg = 20;
  spot.outer_cone_deg = 40;
  LocalLights spots({spot});
  EXPECT_NEAR(irradiance(spots, {0, 0, 0}, 1), 50 / 4.0, 1e-12);  // inside the inner cone
  EXPECT_EQ(irradiance(spots, {3, 0, 0}, 1), 0.0);                // 56 deg off the axis
  // Between the cones: glTF's smooth falloff ((cos - cos_outer) / (cos_inner - cos_outer))^2.
  Vec3 p{2 * std::tan(deg_to_rad(30)), 0, 0};
  double c = std::cos(deg_to_rad(30)),
         t = (c - std::cos(deg_to_rad(40))) / (std::cos(deg_to_rad(20)) - std::cos(deg_to_rad(40)));
  EXPECT_NEAR(irradiance(spots, p, 1), 50 * t * t * c / (2 / (c * c) * 2), 1e-9);
}

// A rectangle of radiance L parallel to the receiver at height h, centred above it: four
// corner rectangles a x b, each contributing pi L F with the classic view factor
// F = 1/(2 pi) [X/sqrt(1+X^2) atan(Y/sqrt(1+X^2)) + Y/sqrt(1+Y^2) atan(X/sqrt(1+Y^2))].
TEST(LightsTest, RectAndDiskIrradianceMatchClosedForms) {
  const double h = 1.5, a = 0.4, b = 0.7, radiance = 3;
  Light rect;
  rect.kind = Light::Kind::kRect;
  rect.intensity = radiance;
  rect.position = {0, 0, h};
  rect.u_axis = {a, 0, 0};
  rect.v_axis = {0, b, 0};
  rect.direction = {0, 0, -1};
  double X = a / h, Y = b / h;
  double f = (X / std::sqrt(1 + X * X) * std::atan(Y / std::sqrt(1 + X * X)) +
              Y / std::sqrt(1 + Y * Y) * std::atan(X / std::sqrt(1 + Y * Y))) /
             (2 * kPi);
  EXPECT_NEAR(irradiance(LocalLights({rect}), {0, 0, 0}, 1 << 14), 4 * kPi * radiance * f,
              2e-3 * 4 * kPi * radiance * f);

  Light disk;
  disk.kind = Light::Kind::kDisk;
  disk.intensity = radiance;
  disk.position = {0, 0, h};
  disk.radius = 0.6;
  disk.direction = {0, 0, -1};
  double expected = kPi * radiance * 0.36 / (h * h + 0.36);
  EXPECT_NEAR(irradiance(LocalLights({disk}), {0, 0, 0}, 1 << 14), expected, 2e-3 * expected);

  // Facing away: nothing.
  disk.direction = {0, 0, 1};
  EXPECT_EQ(irradiance(LocalLights({disk}), {0, 0, 0}, 16), 0.0);
}

TEST(LightsTest, AreaLightDensitiesAgreeWithIntersection) {
  Light rect;
  rect.kind = Light::Kind::kRect;
  rect.intensity = 2;
  rect.position = {0.3, -0.2, 2};
  rect.u_axis = {0.5, 0, 0};
  rect.v_axis = {0, 0.25, 0};
  rect.direction = {0, 0, -1};
  Light disk = rect;
  disk.kind = Light::Kind::kDisk;
  disk.radius = 0.4;
  disk.position = {-1, 0, 1.5};
  disk.direction = normalize(Vec3{0.3, 0, -1});
  Light point;
  point.intensity = 0.1;
  point.position = {0, 0, 3};
  LocalLights lights({rect, point, disk});
  SobolSampler s(3, 3);
  Vec3 p{0.1, 0.1, 0};
  int area_samples = 0;
  for (uint32_t i = 0; i < 256; ++i) {
    s.start_sample(i);
    auto ls = lights.sample(p, s.get1d(0), s.get2d(1));
    if (!ls || ls->delta) continue;
    auto hit = lights.intersect(p, ls->wi, 1e9, false);
    ASSERT_TRUE(hit.has_value());
    EXPECT_NEAR(hit->t, ls->distance, 1e-9);
    EXPECT_NEAR(lights.pdf(hit->light, p, ls->wi, hit->t), ls->pdf, 1e-9 * ls->pdf);
    ++area_samples;
  }
  EXPECT_GT(area_samples, 10);
  // Camera rays skip invisible lights; back faces are never hit.
  rect.visible = false;
  LocalLights hidden({rect});
  EXPECT_FALSE(hidden.intersect({0.3, -0.2, 0}, {0, 0, 1}, 1e9, true).has_value());
  EXPECT_TRUE(hidden.intersect({0.3, -0.2, 0}, {0, 0, 1}, 1e9, false).has_value());
  EXPECT_FALSE(hidden.intersect({0.3, -0.2, 3}, {0, 0, -1}, 1e9, false).has_value());
}

Scene environment_scene(int width, int height, double rotation_deg) {
  auto env = std::make_shared<Environment>();
  env->width = width;
  env->height = height;
  env->intensity = 2;
  env->rotation_deg = rotation_deg;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      // A bright blob and a gradient, so the distribution is far from uniform.
      double v = 0.1 + 0.05 * x + (x == 5 && y == 3 ? 40.0 : 0.0);
      env->texels.insert(env->texels.end(),
                         {static_cast<float>(v), static_cast<float>(0.5 * v), 0.2f});
    }
  }
  Scene scene;
  scene.environment = env;
  return scene;
}

TEST(EnvironmentTest, PdfIntegratesToOneAndMatchesSampling) {
  Scene scene = environment_scene(16, 8, 30);
  Background bg(scene);
  ASSERT_TRUE(bg.importance_sampled());
  SobolSampler s(8, 8);
  constexpr int kN = 1 << 16;
  double pdf_integral = 0, estimate = 0;
  for (int i = 0; i < kN; ++i) {
    s.start_sample(static_cast<uint32_t>(i));
    // Uniform sphere directions: integral of pdf = 4 pi E[pdf].
    auto u = s.get2d(0);
    double z = 1 - 2 * u[0], r = std::sqrt(std::max(0.0, 1 - z * z)), phi = 2 * kPi * u[1];
    pdf_integral += bg.pdf({r * std::cos(phi), r * std::sin(phi), z}) * 4 * kPi;
    // Importance-sampled estimate of the integral of radiance over the sphere.
    auto ls = bg.sample(s.get2d(1));
    ASSERT_TRUE(ls.has_value());
    EXPECT_NEAR(ls->pdf, bg.pdf(ls->wi), 1e-6 * ls->pdf);
    estimate += ls->radiance.r / ls->pdf;
  }
  EXPECT_NEAR(pdf_integral / kN, 1.0, 0.01);
  // Exact: sum over texels of radiance * solid angle (2 pi / w) (cos theta0 - cos theta1).
  const Environment& env = *scene.environment;
  double exact = 0;
  for (int y = 0; y < env.height; ++y) {
    double band = std::cos(kPi * y / env.height) - std::cos(kPi * (y + 1) / env.height);
    for (int x = 0; x < env.width; ++x) {
      exact += env.texels[3 * (y * env.width + x)] * env.intensity * 2 * kPi / env.width * band;
    }
  }
  EXPECT_NEAR(estimate / kN, exact, 2e-3 * exact);
}

TEST(EnvironmentTest, DirectionsMapToTheDocumentedTexels) {
  Scene scene = environment_scene(16, 8, 0);
  Background bg(scene);
  // Row 0 is the zenith; column 0 is azimuth -pi (the -x direction), the centre column +x.
  auto uv = bg.direction_to_uv({0, 0, 1});
  EXPECT_NEAR(uv[1], 0.0, 1e-12);
  uv = bg.direction_to_uv(normalize(Vec3{1, 0, -0.01}));
  EXPECT_NEAR(uv[0], 0.5, 1e-12);
  uv = bg.direction_to_uv(normalize(Vec3{-1, -1e-9, 0}));
  EXPECT_NEAR(uv[0], 0.0, 1e-6);
  for (double u : {0.1, 0.4, 0.9}) {
    for (double v : {0.2, 0.5, 0.8}) {
      auto back = bg.direction_to_uv(bg.uv_to_direction({u, v}));
      EXPECT_NEAR(back[0], u, 1e-12);
      EXPECT_NEAR(back[1], v, 1e-12);
    }
  }
  // Rotating the map by 90 degrees counter-clockwise brings column u = 0.5 to +y.
  Background rotated(environment_scene(16, 8, 90));
  EXPECT_NEAR(rotated.direction_to_uv({0, 1, 0})[0], 0.5, 1e-12);
}

TEST(SkyTest, PreethamIsBrightestTowardsTheSunAndNormalisedAtTheZenith) {
  Sky sky;
  sky.model = Sky::Model::kPreetham;
  sky.intensity = 2;
  sky.turbidity = 3;
  Sun sun;
  sun.direction = normalize(Vec3{0, 1, 0.5});
  SkyModel model(sky, sun);
  Spectrum zenith = model.radiance({0, 0, 1});
  EXPECT_NEAR(zenith.luminance(), 2.0, 0.05);
  EXPECT_GT(zenith.b, zenith.r) << "a clear sky is blue";
  Spectrum near_sun = model.radiance(normalize(Vec3{0, 1, 0.55}));
  Spectrum opposite = model.radiance(normalize(Vec3{0, -1, 0.5}));
  EXPECT_GT(near_sun.luminance(), 3 * opposite.luminance());
  EXPECT_EQ(model.radiance({0, 0, -1}).r, sky.ground.r * 2.0);
  // Importance-sampled through a table; densities agree with what is sampled.
  Scene scene;
  scene.sky = sky;
  scene.sun = sun;
  Background bg(scene);
  ASSERT_TRUE(bg.importance_sampled());
  SobolSampler s(1, 1);
  for (uint32_t i = 0; i < 64; ++i) {
    s.start_sample(i);
    auto ls = bg.sample(s.get2d(0));
    ASSERT_TRUE(ls.has_value());
    EXPECT_NEAR(ls->pdf, bg.pdf(ls->wi), 1e-6 * ls->pdf);
  }
  // The other models are not importance-sampled.
  scene.sky.model = Sky::Model::kGradient;
  EXPECT_FALSE(Background(scene).importance_sampled());
}

TEST(TextureTest, BilinearWrappingLookup) {
  Texture t;
  t.width = 2;
  t.height = 2;
  // Top row: red, green; bottom row: blue, white.
  t.texels = {1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1};
  Rgba top_left = sample_texture(t, 0.25, 0.25);
  EXPECT_FLOAT_EQ(top_left.r, 1);
  EXPECT_FLOAT_EQ(top_left.g, 0);
  Rgba bottom_right = sample_texture(t, 0.75, 0.75);
  EXPECT_FLOAT_EQ(bottom_right.g, 1);
  EXPECT_FLOAT_EQ(bottom_right.b, 1);
  // Halfway between the two top texels, and wrapping across the left edge.
  EXPECT_FLOAT_EQ(sample_texture(t, 0.5, 0.25).r, 0.5f);
  EXPECT_FLOAT_EQ(sample_texture(t, 0.0, 0.25).r, 0.5f);
  EXPECT_FLOAT_EQ(sample_texture(t, 3.25, -0.75).r, 1.0f);
  EXPECT_FLOAT_EQ(sample_texture(Texture{}, 0.3, 0.3).r, 1.0f);
}

TEST(PatternTest, PatternsAreDeterministicAndBetweenTheirColours) {
  for (auto kind : {Pattern::Kind::kNoise, Pattern::Kind::kFbm, Pattern::Kind::kChecker,
                    Pattern::Kind::kBrick, Pattern::Kind::kWood, Pattern::Kind::kMarble}) {
    Pattern p;
    p.kind = kind;
    p.a = {0.1f, 0.2f, 0.3f};
    p.b = {0.6f, 0.5f, 0.4f};
    p.scale = 3;
    p.distortion = 0.5;
    p.seed = 99;
    double lo = 1, hi = 0;
    for (int i = 0; i < 500; ++i) {
      Vec3 x{0.137 * i, 0.071 * i - 3, 0.013 * i};
      Rgb c = eval_pattern(p, x);
      EXPECT_EQ(c, eval_pattern(p, x));
      lo = std::min(lo, static_cast<double>(c.r));
      hi = std::max(hi, static_cast<double>(c.r));
      // Brick jitters its bricks' brightness by up to 15%.
      EXPECT_GE(c.r, 0.1f - 1e-6f);
      EXPECT_LE(c.r, 0.6f * 1.15f + 1e-6f);
    }
    EXPECT_GT(hi - lo, 0.1) << static_cast<int>(kind) << ": the pattern varies";
  }
  // A checker alternates between neighbouring unit cells of scale * p.
  Pattern checker;
  checker.kind = Pattern::Kind::kChecker;
  checker.scale = 2;
  EXPECT_EQ(eval_pattern(checker, {0.1, 0.1, 0}), checker.a);
  EXPECT_EQ(eval_pattern(checker, {0.6, 0.1, 0}), checker.b);
  EXPECT_EQ(eval_pattern(checker, {0.6, 0.6, 0}), checker.a);
  // Noise lattices depend on the seed.
  EXPECT_NE(gradient_noise({0.3, 0.7, 0.2}, 1), gradient_noise({0.3, 0.7, 0.2}, 2));
  EXPECT_EQ(gradient_noise({1, 2, 3}, 5), 0.0);
}

// Pattern nodes form a graph: an input node replaces a colour; inputs must come earlier.
TEST(PatternTest, InputNodesReplaceColoursAndCyclesAreIgnored) {
  Pattern noise;
  noise.kind = Pattern::Kind::kNoise;
  noise.a = {0.1f, 0.1f, 0.1f};
  noise.b = {0.9f, 0.2f, 0.2f};
  noise.scale = 3;
  Pattern checker;
  checker.kind = Pattern::Kind::kChecker;
  checker.a = {0, 0, 1};
  checker.b = {0, 1, 0};
  checker.b_input = 0;
  std::vector<Pattern> graph = {noise, checker};
  const Vec3 in_a{0.1, 0.1, 0}, in_b{1.5, 0.1, 0};
  EXPECT_EQ(eval_pattern(graph, 1, in_a), checker.a);
  EXPECT_EQ(eval_pattern(graph, 1, in_b), eval_pattern(noise, in_b)) << "b comes from node 0";
  graph[1].b_input = 1;  // itself: ignored
  EXPECT_EQ(eval_pattern(graph, 1, in_b), checker.b);
  graph[0].a_input = 1;  // a later node: ignored
  EXPECT_EQ(eval_pattern(graph, 0, in_b), eval_pattern(noise, in_b));
}

}  // namespace
}  // namespace synthfarm::render
