// The dashboard's sample viewer in a real headless Chromium, on samples a real worker
// rendered: every keypoint mark sits where the sample's JSON puts it and shows its
// visibility; each overlay switches off and on; the layer images the coordinator draws
// from the EXR load at the sample's size; Previous/Next and a clip's frame slider change
// what is shown. And the layer endpoint itself: its PNG matches the EXR's instance ids
// pixel for pixel, bad requests are named, and a second request comes from the cache.
#include <gtest/gtest.h>
#include <httplib.h>
#include <png.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "coordinator/layer_image.h"
#include "render/exr_testing.h"
#include "tests/farm.h"
#include "tests/webdriver.h"

namespace synthfarm::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

// Small and quick: two people in view, the layers the viewer draws. Sample 1 has keypoints
// of every visibility: a person partly out of the narrow view has some with v = 0.
constexpr const char* kStillSpec =
    "name: viewer\nsamples: 3\nshard_size: 3\nseed: 11\ncamera: {resolution: [128, 96], fov_deg: 35}\n"
    "render: {spp: 2}\n"
    "humans: {count: 2}\noutput: {layers: [rgb, depth, normal, instance, semantic, part]}\n";
constexpr const char* kClipSpec =
    "name: viewer-clip\nsamples: 1\nseed: 5\ncamera: {resolution: [96, 72]}\nrender: {spp: 1}\n"
    "humans: {count: 1, motion: walk}\noutput: {layers: [rgb, depth, instance]}\nclip: {frames: 3, fps: 12}\n";

std::vector<uint32_t> exr_instance_ids(const std::string& bytes, int& width, int& height) {
  render::exr_testing::ExrImage image = render::exr_testing::read_exr(bytes);
  width = image.width;
  height = image.height;
  return image.uints["instance.id"];
}

std::vector<uint8_t> decode_rgba_png(const std::string& bytes, int& width, int& height) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) return {};
  png.format = PNG_FORMAT_RGBA;
  std::vector<uint8_t> rgba(PNG_IMAGE_SIZE(png));
  width = static_cast<int>(png.width);
  height = static_cast<int>(png.height);
  if (!png_image_finish_read(&png, nullptr, rgba.data(), 0, nullptr)) return {};
  return rgba;
}

class SampleViewerTest : public ::testing::Test {
 protected:
  // One farm and two rendered jobs for every test here (rendering is the slow part).
  static void SetUpTestSuite() {
    farm_ = std::make_unique<Farm>(FarmOptions{.workers = 1, .threads = 2});
    still_ = farm_->submit(kStillSpec);
    clip_ = farm_->submit(kClipSpec);
    for (const std::string& id : {still_, clip_}) {
      json job = farm_->wait(id, seconds(240));
      ASSERT_EQ(job["state"], "done") << farm_->logs();
    }
  }
  static void TearDownTestSuite() { farm_.reset(); }

  static json sample_json(const std::string& job, int index, int frame = 0) {
    auto [status, body] =
        farm_->get("/api/jobs/" + job + "/samples/" + std::to_string(index) + ".json?frame=" + std::to_string(frame));
    EXPECT_EQ(status, 200) << body;
    return body;
  }

  // Opens the page once and waits for the viewer to show `index` of `job` at `frame`.
  void wait_for_sample(WebDriver& browser, int index, int frame = 0) {
    const std::string check = "const d = document.querySelector('[data-testid=sample-viewer]'); "
                              "return !!d && d.open && d.dataset.state === 'ready' && d.dataset.sample === '" +
                              std::to_string(index) + "' && d.dataset.frame === '" + std::to_string(frame) + "';";
    ASSERT_EQ(browser.wait_for(check, true, seconds(20)), true)
        << browser.run("return document.querySelector('[data-testid=viewer-status]')?.textContent ?? null;").dump();
  }

  // Every mark the viewer drew, with where it sits on screen mapped back to image pixels.
  static json marks(WebDriver& browser) {
    return browser.run(R"(
      const d = document.querySelector('[data-testid=sample-viewer]');
      const svg = document.querySelector('[data-testid=viewer-overlay]').getBoundingClientRect();
      const w = Number(d.dataset.width), h = Number(d.dataset.height);
      return [...document.querySelectorAll('[data-testid=overlay-skeleton-group] .kp')].map((m) => {
        const r = m.getBoundingClientRect();
        return { person: Number(m.dataset.person), joint: Number(m.dataset.joint), v: Number(m.dataset.v),
                 x: Number(m.dataset.x), y: Number(m.dataset.y), cls: m.getAttribute('class'),
                 sx: (r.left + r.width / 2 - svg.left) * w / svg.width,
                 sy: (r.top + r.height / 2 - svg.top) * h / svg.height };
      });)");
  }

  // Checks the marks against the sample's JSON: one per keypoint with v > 0 at its [x, y],
  // and one per v = 0 keypoint in front of the camera, at its projection on the border.
  static void expect_marks_match(const json& drawn, const json& sample) {
    const double width = sample["width"], height = sample["height"];
    const json& K = sample["K"];
    size_t expected = 0, people = 0;
    for (const json& inst : sample["instances"]) {
      if (!inst.contains("keypoints")) continue;
      ++people;
      for (int k = 0; k < 17; ++k) {
        const double x = inst["keypoints"][3 * k], y = inst["keypoints"][3 * k + 1];
        const int v = inst["keypoints"][3 * k + 2];
        double ex = x, ey = y;
        if (v == 0) {
          const json& p = inst["keypoints_3d_camera"][k];
          if (p[2].get<double>() <= 1e-6) continue;  // behind the camera: no mark
          ex = std::clamp(K[0][0].get<double>() * p[0].get<double>() / p[2].get<double>() + K[0][2].get<double>(), 0.0, width);
          ey = std::clamp(K[1][1].get<double>() * p[1].get<double>() / p[2].get<double>() + K[1][2].get<double>(), 0.0, height);
        }
        ++expected;
        auto mark = std::find_if(drawn.begin(), drawn.end(), [&](const json& m) {
          return m["person"] == inst["id"] && m["joint"] == k;
        });
        SCOPED_TRACE("person " + inst["id"].dump() + " joint " + std::to_string(k) + " v " + std::to_string(v));
        ASSERT_NE(mark, drawn.end());
        EXPECT_EQ((*mark)["v"], v);
        const char* kClasses[] = {"kp kp-out", "kp kp-occluded", "kp kp-visible"};
        EXPECT_EQ((*mark)["cls"], kClasses[v]);
        EXPECT_NEAR((*mark)["x"].get<double>(), ex, 0.5);
        EXPECT_NEAR((*mark)["y"].get<double>(), ey, 0.5);
        EXPECT_NEAR((*mark)["sx"].get<double>(), ex, 0.5) << "where it is drawn on the screen";
        EXPECT_NEAR((*mark)["sy"].get<double>(), ey, 0.5);
      }
    }
    EXPECT_GT(people, 0u) << "the sample has people";
    EXPECT_EQ(drawn.size(), expected);
  }

  static bool shown(WebDriver& browser, const std::string& testid) {
    return browser
        .run("const e = document.querySelector('[data-testid=" + testid +
             "]'); return !!e && !e.closest('[hidden]') && getComputedStyle(e).display !== 'none';")
        .get<bool>();
  }

  static void click(WebDriver& browser, const std::string& testid) {
    browser.run("document.querySelector('[data-testid=" + testid + "]').click(); return null;");
  }

  static inline std::unique_ptr<Farm> farm_;
  static inline std::string still_, clip_;
};

TEST_F(SampleViewerTest, DrawsKeypointsWhereTheJsonPutsThemAndTogglesEveryOverlay) {
  WebDriver browser(farm_->dir());
  browser.open(farm_->login_url());
  ASSERT_EQ(browser.wait_for(text_of("[data-testid=conn-status]"), "live", seconds(20)), "live");
  const std::string row = "[data-job-id=\"" + still_ + "\"]";
  ASSERT_EQ(browser.wait_for("return !!document.querySelector('" + row + "');", true, seconds(20)), true);
  browser.run("document.querySelector('" + row + "').click(); return null;");
  // A preview thumbnail of the job panel opens the viewer.
  const std::string thumb = "[data-testid=sample-preview][data-sample-index=\"0\"]";
  ASSERT_EQ(browser.wait_for("return !!document.querySelector('" + thumb + "');", true, seconds(20)), true);
  browser.run("document.querySelector('" + thumb + "').click(); return null;");
  wait_for_sample(browser, 0);
  EXPECT_EQ(browser.run("return location.hash;"), "#job=" + still_ + "&sample=0");
  EXPECT_EQ(browser.wait_for("const i = document.querySelector('[data-testid=viewer-image]'); "
                             "return i.complete && i.naturalWidth;",
                             128, seconds(10)),
            128);
  const json sample0 = sample_json(still_, 0);
  expect_marks_match(marks(browser), sample0);
  EXPECT_EQ(browser.run("return document.querySelectorAll('[data-testid=overlay-boxes-group] rect').length;"),
            static_cast<int>(std::count_if(sample0["instances"].begin(), sample0["instances"].end(), [](const json& i) {
              return i.contains("keypoints") && i["bbox"][2] > 0;
            })));
  EXPECT_EQ(browser.run("return document.querySelector('[data-testid=sample-link-exr]').getAttribute('href');"),
            "/api/jobs/" + still_ + "/samples/0.exr");

  // Marks from the JSON: off and on again.
  for (const std::string name : {"skeleton", "boxes"}) {
    SCOPED_TRACE(name);
    const std::string group = "overlay-" + name + "-group";
    EXPECT_TRUE(shown(browser, group));
    click(browser, "overlay-" + name);
    EXPECT_FALSE(shown(browser, group));
    click(browser, "overlay-" + name);
    EXPECT_TRUE(shown(browser, group));
  }
  // Layers from the EXR: each loads at the sample's size when switched on, and hides again.
  EXPECT_FALSE(shown(browser, "overlay-albedo")) << "not in this sample's EXR: no toggle";
  for (const std::string name : {"instance", "semantic", "part", "depth", "normal"}) {
    SCOPED_TRACE(name);
    const std::string image = "layer-image-" + name;
    EXPECT_FALSE(shown(browser, image));
    click(browser, "overlay-" + name);
    EXPECT_EQ(browser.wait_for("const i = document.querySelector('[data-testid=" + image +
                                   "]'); return !i.hidden && i.complete && i.naturalWidth;",
                               128, seconds(10)),
              128);
    EXPECT_TRUE(shown(browser, image));
    click(browser, "overlay-" + name);
    EXPECT_FALSE(shown(browser, image));
  }

  // Next and previous: sample 1's marks are sample 1's JSON's, of all three kinds.
  click(browser, "sample-next");
  wait_for_sample(browser, 1);
  const json drawn1 = marks(browser);
  expect_marks_match(drawn1, sample_json(still_, 1));
  for (int v = 0; v <= 2; ++v) {
    EXPECT_TRUE(std::any_of(drawn1.begin(), drawn1.end(), [&](const json& m) { return m["v"] == v; }))
        << "sample 1 has a keypoint with v = " << v;
  }
  EXPECT_EQ(browser.run("return location.hash;"), "#job=" + still_ + "&sample=1");
  click(browser, "overlay-instance");
  EXPECT_EQ(browser.wait_for("const i = document.querySelector('[data-testid=layer-image-instance]'); "
                             "return i.complete && i.naturalWidth;",
                             128, seconds(10)),
            128);
  browser.screenshot(std::filesystem::path(SYNTHFARM_BINARY_DIR) / "dashboard-viewer.png");
  click(browser, "sample-prev");
  wait_for_sample(browser, 0);
  EXPECT_EQ(browser.run("return document.querySelector('[data-testid=sample-prev]').disabled;"), true);
  expect_marks_match(marks(browser), sample0);
  click(browser, "viewer-close");
  EXPECT_EQ(browser.run("return document.querySelector('[data-testid=sample-viewer]').open;"), false);
  // The dialog's close event, which rewrites the address, is queued as a task: wait for it.
  EXPECT_EQ(browser.wait_for("return location.hash;", "#job=" + still_, seconds(5)), "#job=" + still_);
}

TEST_F(SampleViewerTest, AClipLinkOpensTheViewerAndTheSliderChangesTheFrame) {
  WebDriver browser(farm_->dir());
  browser.open(farm_->login_url());
  ASSERT_EQ(browser.wait_for(text_of("[data-testid=conn-status]"), "live", seconds(20)), "live");
  browser.run("location.hash = '#job=" + clip_ + "&sample=0'; return null;");
  wait_for_sample(browser, 0);
  EXPECT_TRUE(shown(browser, "frame-slider"));
  EXPECT_EQ(browser.run("return document.querySelector('[data-testid=frame-slider]').max;"), "2");
  expect_marks_match(marks(browser), sample_json(clip_, 0, 0));
  click(browser, "overlay-depth");

  browser.run(R"(const s = document.querySelector('[data-testid=frame-slider]');
                 s.value = '2'; s.dispatchEvent(new Event('input')); return null;)");
  wait_for_sample(browser, 0, 2);
  const json frame2 = sample_json(clip_, 0, 2);
  ASSERT_EQ(frame2["clip"]["frame"], 2);
  expect_marks_match(marks(browser), frame2);
  EXPECT_EQ(browser.run(text_of("[data-testid=frame-label]")), "3 / 3");
  const std::string images = "return [document.querySelector('[data-testid=viewer-image]'), "
                             "document.querySelector('[data-testid=layer-image-depth]')]";
  EXPECT_EQ(browser.wait_for(images + ".every((i) => i.getAttribute('src').endsWith('?frame=2') && i.complete "
                                      "&& i.naturalWidth === 96);",
                             true, seconds(10)),
            true);
  EXPECT_EQ(browser.run("return location.hash;"), "#job=" + clip_ + "&sample=0&frame=2");
  EXPECT_EQ(browser.run("return document.querySelector('[data-testid=sample-next]').disabled;"), true)
      << "the job has one sample";
}

TEST_F(SampleViewerTest, LayerEndpointDrawsTheExrAndCachesIt) {
  // Sample 2: the browser tests never open it, so its first request is a cold one.
  const std::string base = "/api/jobs/" + still_ + "/samples/2";
  httplib::Client client(farm_->url());
  client.set_bearer_token_auth(farm_->token().c_str());
  auto timed_get = [&](const std::string& path, double& ms) {
    const auto t0 = std::chrono::steady_clock::now();
    auto res = client.Get(path);
    ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return res;
  };
  double cold_ms = 0, cached_ms = 0;
  auto first = timed_get(base + "/layers/instance.png", cold_ms);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(first->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(first->get_header_value("X-Layer-Cache"), "miss");
  auto second = timed_get(base + "/layers/instance.png", cached_ms);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->get_header_value("X-Layer-Cache"), "hit");
  EXPECT_EQ(second->body, first->body);
  std::printf("layer endpoint (128x96 instance layer): cold %.2f ms, cached %.2f ms\n", cold_ms, cached_ms);

  // Pixel for pixel: each instance's colour where the EXR has its id, clear elsewhere.
  auto [exr_status, exr] = farm_->get_raw(base + ".exr");
  ASSERT_EQ(exr_status, 200);
  int width = 0, height = 0, png_width = 0, png_height = 0;
  const std::vector<uint32_t> ids = exr_instance_ids(exr, width, height);
  const std::vector<uint8_t> rgba = decode_rgba_png(first->body, png_width, png_height);
  ASSERT_EQ(png_width, width);
  ASSERT_EQ(png_height, height);
  size_t person_pixels = 0;
  const json sample = sample_json(still_, 2);
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint8_t* px = &rgba[4 * i];
    if (ids[i] == 0) {
      ASSERT_EQ(px[3], 0) << "background pixel " << i;
      continue;
    }
    const auto colour = coordinator::instance_colour(ids[i]);
    ASSERT_EQ(std::vector<uint8_t>(px, px + 4), (std::vector<uint8_t>{colour[0], colour[1], colour[2], 255}))
        << "pixel " << i << " of instance " << ids[i];
    for (const json& inst : sample["instances"]) person_pixels += inst["id"] == ids[i] && inst.contains("keypoints");
  }
  EXPECT_GT(person_pixels, 0u) << "a person is in view, drawn apart from the background";

  // Bad requests say what is wrong.
  auto [unknown, unknown_body] = farm_->get(base + "/layers/rgb.png");
  EXPECT_EQ(unknown, 400);
  EXPECT_EQ(unknown_body["error"], "unknown layer 'rgb'; the layers are: depth, normal, albedo, instance, semantic, part, uv");
  auto [absent, absent_body] = farm_->get(base + "/layers/albedo.png");
  EXPECT_EQ(absent, 404);
  EXPECT_NE(absent_body["error"].get<std::string>().find("its layers: depth, normal, instance, semantic, part"),
            std::string::npos)
      << absent_body;
  EXPECT_EQ(farm_->get("/api/jobs/" + still_ + "/samples/7/layers/depth.png").first, 404) << "no sample 7";
  EXPECT_EQ(farm_->get(base + "/layers/depth.png?frame=x").first, 400);
  EXPECT_EQ(farm_->get(base + "/layers/depth.png?frame=1").first, 404) << "a still has one frame";
  EXPECT_EQ(farm_->get_raw("/api/jobs/" + clip_ + "/samples/0/layers/depth.png?frame=1").first, 200);
  EXPECT_EQ(farm_->get_raw("/api/jobs/" + clip_ + "/samples/0.json?frame=1").first, 200);
}

}  // namespace
}  // namespace synthfarm::testing
