// sensor_cost: what the physical camera stage (sensor/camera_model.h) costs per frame.
//
// Runs expose + mosaic + add_noise + develop (Malvar, smoothstep, sharpening, JPEG at the
// given quality) on one thread, timed by that thread's CPU clock, over a deterministic synthetic
// 640 x 480 scene-referred image (smooth HDR gradients with a fine pattern; the cost does not
// depend on the content beyond JPEG's entropy coding), `--rounds` times, and prints the median of
// each stage and of the whole call, then the heap the call allocated at its peak (every operator
// new in this process is counted; libjpeg's own malloc of a few hundred KB is not) and the growth
// of the maximum resident size over the first call. The last line is one key=value record
// that scripts read:
//   sensor_cost physical_ms=... jpeg_ms=... bytes_per_frame=...
// then the peer measured in the same run: the CPU time of rendering sample 0 of `--spec`
// (the quickstart by default) at the same size on one render thread, and the ratio of the
// camera's time to it (the target: under 5%):
//   sensor_cost physical_ms=... jpeg_ms=... bytes_per_frame=... render_ms=... ratio=...
//
//   build/bin/sensor_cost [--rounds 30] [--width 640] [--height 480] [--jpeg-quality 90]
//                         [--spec examples/quickstart.yaml] [--render-rounds 3]
#include <fmt/format.h>
#include <malloc.h>
#include <sys/resource.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "base/math.h"
#include "jobs/sample.h"
#include "jobs/spec.h"
#include "sensor/camera_model.h"
#include "sensor/jpeg.h"

namespace {

// Heap accounting for the whole process: bytes live now and the most since the last reset.
std::atomic<int64_t> g_live{0}, g_peak{0};

void* counted_alloc(size_t size) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (!p) throw std::bad_alloc();
  const int64_t live = g_live += static_cast<int64_t>(malloc_usable_size(p));
  int64_t peak = g_peak.load();
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
  return p;
}

void counted_free(void* p) {
  if (!p) return;
  g_live -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}

}  // namespace

void* operator new(size_t size) { return counted_alloc(size); }
void* operator new[](size_t size) { return counted_alloc(size); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, size_t) noexcept { counted_free(p); }
void operator delete[](void* p, size_t) noexcept { counted_free(p); }

namespace {

using namespace synthfarm;
// The calling thread's CPU time: the stage runs on one thread, and on a shared machine
// this leaves out the time other processes hold the core (wall time would count it).
struct Clock {
  using time_point = std::chrono::duration<double, std::milli>;
  static time_point now() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return time_point(t.tv_sec * 1e3 + t.tv_nsec * 1e-6);
  }
};

std::vector<float> synthetic_scene(int width, int height) {
  std::vector<float> rgb(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double u = static_cast<double>(x) / width, v = static_cast<double>(y) / height;
      const double pattern = ((x / 4 + y / 6) % 2) ? 1.0 : 0.55;
      const double light = 0.2 + 1.8 * u * v;  // up to 2: some highlights clip
      float* p = rgb.data() + 3 * (static_cast<size_t>(y) * width + x);
      p[0] = static_cast<float>(light * pattern * (0.5 + 0.4 * portable_sin(6 * u + 1)));
      p[1] = static_cast<float>(light * pattern * (0.5 + 0.4 * portable_cos(5 * v)));
      p[2] = static_cast<float>(light * pattern * (0.45 + 0.35 * portable_sin(4 * (u + v))));
    }
  return rgb;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double ms_since(Clock::time_point t0) { return (Clock::now() - t0).count(); }

// Process CPU time, ms: the renderer runs its tiles on threads of its own.
double process_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

// The median CPU time (ms) of rendering sample 0 of the spec at `spec_path` at width x height
// with one render thread; an error names the file.
tl::expected<double, std::string> render_ms(const std::string& spec_path, int width, int height, int rounds) {
  std::ifstream in(spec_path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return tl::unexpected(spec_path + ": cannot read");
  auto spec = jobs::parse_spec(text.str(), spec_path);
  if (!spec) return tl::unexpected(spec.error().front().to_string());
  spec->camera.width = width;
  spec->camera.height = height;
  auto renderer = jobs::SampleRenderer::create(1);
  if (!renderer) return tl::unexpected(renderer.error());
  std::vector<double> times;
  for (int r = 0; r < rounds; ++r) {
    const double t0 = process_cpu_ms();
    auto objects = (*renderer)->render(*spec, 0);
    times.push_back(process_cpu_ms() - t0);
    if (!objects) return tl::unexpected(objects.error());
  }
  return median(times);
}

int64_t max_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return int64_t{usage.ru_maxrss} * 1024;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("sensor_cost: milliseconds and memory per frame of the physical camera pipeline");
  int rounds = 30, width = 640, height = 480, quality = 90, render_rounds = 3;
  std::string spec_path = "examples/quickstart.yaml";
  app.add_option("--rounds", rounds, "timed rounds (the median is printed)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--width", width, "pixels")->check(CLI::Range(2, 16384));
  app.add_option("--height", height, "pixels")->check(CLI::Range(2, 16384));
  app.add_option("--jpeg-quality", quality, "1..100")->check(CLI::Range(1, 100));
  app.add_option("--spec", spec_path, "the spec whose sample 0 is the peer (render time)");
  app.add_option("--render-rounds", render_rounds, "renders of the peer (the median is used)")
      ->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);

  const std::vector<float> scene = synthetic_scene(width, height);
  sensor::CameraParams p;
  Pcg32 rng = Pcg32::for_purpose(1, "sensor.ccm");
  p.ccm = sensor::random_ccm(rng);
  p.exposure = sensor::auto_exposure(scene, width, height);
  p.noise = sensor::profile_noise({1e-6, 5e-6, 1e-12, 2e-7}, 800);
  p.noise.row = 0.0005;
  p.noise.bit_depth = 12;
  p.vignetting = 0.25;
  p.chromatic_aberration = 1.0;
  p.sharpen = 0.5;
  p.jpeg_quality = quality;
  if (auto ok = sensor::check_camera_params(p); !ok) {
    fmt::print(stderr, "sensor_cost: {}\n", ok.error());
    return 2;
  }

  // Memory: the first call, alone.
  const int64_t rss_before = max_rss_bytes();
  const int64_t live_before = g_live.load();
  g_peak = live_before;
  auto first = sensor::apply_camera(scene, width, height, p, 0);
  const int64_t peak_bytes = g_peak.load() - live_before;
  const int64_t rss_growth = max_rss_bytes() - rss_before;
  if (!first) {
    fmt::print(stderr, "sensor_cost: {}\n", first.error());
    return 1;
  }
  const size_t jpeg_bytes = first->jpeg.size();
  first = {};

  std::vector<double> whole, expose_ms, mosaic_ms, noise_ms, develop_ms, jpeg_ms;
  sensor::CameraParams no_jpeg = p;
  no_jpeg.jpeg_quality = 0;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    auto image = sensor::apply_camera(scene, width, height, p, static_cast<uint64_t>(r));
    whole.push_back(ms_since(t0));
    if (!image) return 1;

    t0 = Clock::now();
    auto exposed = sensor::expose(scene, width, height, p);
    expose_ms.push_back(ms_since(t0));
    t0 = Clock::now();
    auto raw = sensor::mosaic(exposed, width, height, p);
    mosaic_ms.push_back(ms_since(t0));
    t0 = Clock::now();
    sensor::add_noise(raw, p.noise, static_cast<uint64_t>(r));
    noise_ms.push_back(ms_since(t0));
    t0 = Clock::now();
    auto developed = sensor::develop(raw, no_jpeg);
    develop_ms.push_back(ms_since(t0));
    if (!developed) return 1;
    t0 = Clock::now();
    auto jpeg = sensor::encode_jpeg(developed->srgb8, width, height, quality);
    auto decoded = jpeg ? sensor::decode_jpeg(*jpeg) : tl::unexpected(jpeg.error());
    jpeg_ms.push_back(ms_since(t0));
    if (!decoded) return 1;
  }

  fmt::print("bench sensor_cost {}x{} rounds={} jpeg_quality={} (one thread, CPU time, medians)\n",
             width, height, rounds, quality);
  fmt::print("  expose   {:7.2f} ms   (exposure, vignetting, lateral CA)\n", median(expose_ms));
  fmt::print("  mosaic   {:7.2f} ms   (inverse CCM and white balance, CFA)\n", median(mosaic_ms));
  fmt::print("  noise    {:7.2f} ms   (shot, read, row, 12-bit quantisation)\n", median(noise_ms));
  fmt::print("  develop  {:7.2f} ms   (WB, Malvar, CCM, tone, sharpen, 8 bits; no JPEG)\n",
             median(develop_ms));
  fmt::print("  jpeg     {:7.2f} ms   (encode + decode, {} bytes)\n", median(jpeg_ms), jpeg_bytes);
  fmt::print("  whole    {:7.2f} ms   (apply_camera with JPEG)\n", median(whole));
  fmt::print("  heap peak of one call {:.1f} MB ({:.1f} bytes/pixel); max RSS grew {:.1f} MB\n",
             peak_bytes / 1e6,
             static_cast<double>(peak_bytes) / (static_cast<double>(width) * height),
             rss_growth / 1e6);
  auto peer = render_ms(spec_path, width, height, render_rounds);
  if (!peer) {
    fmt::print(stderr, "sensor_cost: {}\n", peer.error());
    return 1;
  }
  fmt::print("  peer: sample 0 of {} rendered at {}x{} on one thread: {:.1f} ms CPU; the camera is {:.2f}% of it\n",
             spec_path, width, height, *peer, 100.0 * median(whole) / *peer);
  std::vector<std::pair<std::string, std::string>> record = {
      {"physical_ms", fmt::format("{:.2f}", median(whole))},
      {"jpeg_ms", fmt::format("{:.2f}", median(jpeg_ms))},
      {"bytes_per_frame", std::to_string(peak_bytes)},
      {"render_ms", fmt::format("{:.1f}", *peer)},
      {"ratio", fmt::format("{:.4f}", median(whole) / *peer)},
  };
  std::string line = "sensor_cost";
  for (const auto& [key, value] : record) line += " " + key + "=" + value;
  fmt::print("{}\n", line);
  return 0;
}
