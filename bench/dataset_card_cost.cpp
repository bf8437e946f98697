// dataset_card_cost: what the dataset card (jobs/dataset_card.h) costs the finalizer, and
// that its memory stays flat over a 1,000,000-sample job.
//
// Generates `--samples` synthetic sample JSONs in-process, shaped and sized like the farm's
// (sample_json in jobs/sample.cpp at 640 x 480: 1-4 people with keypoints, joints, pose,
// shape and RLE masks, 4-10 props, a floor and walls; about 31 KB each), deterministic in
// the index, and runs two passes over the same texts in one process:
//   pass 1: nlohmann::json::parse of each text alone, the peer: the finalizer parses every
//           sample JSON anyway, for COCO;
//   pass 2: the same parse, then DatasetCard::add_parsed, as the finalizer feeds the card,
//           each timed on its own; then json() and html() once at the end.
// Only those calls are timed (steady clock around each), not the generation. The card's
// time against the parse it follows, sample by sample in the same pass, is the ratio that
// machine load cannot skew; pass 2's time against pass 1's is given too. Before each pass
// the peak RSS mark is reset (writing 5 to /proc/self/clear_refs); the pass's peak RSS
// growth is VmHWM after it minus VmRSS before it. The heap the card still holds after the
// last sample (mallinfo2) is its retained state; a second card filled to its bounds (every
// categorical field full of 64-byte names, long skipped keys) gives the most it can hold.
// Prints a table and one record:
//   dataset_card_cost samples=... parse_us=... card_us=... card_over_parse=... ...
//
//   build/bin/dataset_card_cost [--samples 1000000]
#include <fmt/format.h>
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "base/rng.h"
#include "jobs/dataset_card.h"

namespace {

using Clock = std::chrono::steady_clock;

// The body joints every person's pose, joints_2d and 3D joints name (humans/skeleton.h).
constexpr std::array<const char*, 24> kJoints = {
    "pelvis",     "left_hip",    "right_hip",    "spine1",      "left_knee",     "right_knee",
    "spine2",     "left_ankle",  "right_ankle",  "spine3",      "left_foot",     "right_foot",
    "neck",       "left_collar", "right_collar", "head",        "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist",   "right_wrist", "left_hand",     "right_hand"};
constexpr std::array<const char*, 7> kMotions = {"static", "walk", "run", "idle",
                                                 "wave",   "sit",  "bvh"};
constexpr std::array<const char*, 3> kScenes = {"room", "outdoor", "studio"};

// Writes one synthetic sample JSON into `out` (cleared first).
class SampleWriter {
 public:
  explicit SampleWriter(std::string& out) : out_(out) {}

  void write(uint64_t index) {
    rng_ = synthfarm::Pcg32::for_purpose(index, "dataset_card_cost");
    out_.clear();
    const int people = 1 + static_cast<int>(rng_.next_below(4));
    const int props = 4 + static_cast<int>(rng_.next_below(7));
    const int walls = 1 + static_cast<int>(rng_.next_below(3));
    const double fov = uniform(45, 70);
    put(R"({{"K":[[{},0.0,320.0],[0.0,{},240.0],[0.0,0.0,1.0]],)", 320 / std::tan(fov * 0.00872665),
        320 / std::tan(fov * 0.00872665));
    put(R"("camera":{{"aperture_radius_m":0.0,"distance_m":{},"focus_distance_m":1.0,"fov_deg":{},)",
        uniform(3, 6), fov);
    put(R"("height_m":{},"position":[{},{},{}]}},"height":480,"index":{},"instances":[)",
        uniform(1.2, 2), uniform(-5, 5), uniform(-5, 5), uniform(1.2, 2), index);
    int id = 1;
    for (int p = 0; p < people; ++p) person(id++);
    for (int p = 0; p < props; ++p) thing(id++, "prop", 4, 20, 200);
    thing(id++, "floor", 2, 1500, 3500);
    for (int w = 0; w < walls; ++w) thing(id++, "wall", 3, 4, 1200);
    out_.back() = ']';
    put(R"(,"job_seed":2026,"layers":["rgb","depth","normal","instance"],"render":{{"max_bounces":2,"spp":16}},)");
    put(R"("scene":{{"environment":null,"kind":"{}","lights":[],"sky":"preetham","sky_intensity":1.0,)",
        kScenes[rng_.next_below(3)]);
    put(R"("sun":{{"azimuth_deg":{},"direction":[{},{},{}],"elevation_deg":{},"intensity":3.0}},)",
        uniform(0, 360), uniform(-1, 1), uniform(-1, 1), uniform(0, 1), uniform(15, 75));
    put(R"("turbidity":{}}},"seed":{},"width":640,"world_to_camera":[)", uniform(2, 6),
        rng_.next_u32());
    for (int r = 0; r < 3; ++r)
      put("[{},{},{},{}],", uniform(-1, 1), uniform(-1, 1), uniform(-1, 1), uniform(-5, 5));
    put("[0.0,0.0,0.0,1.0]]}}");
  }

 private:
  template <typename... Args>
  void put(fmt::format_string<Args...> format, Args&&... args) {
    fmt::format_to(std::back_inserter(out_), format, std::forward<Args>(args)...);
  }

  double uniform(double lo, double hi) { return lo + (hi - lo) * rng_.next_double(); }

  // An RLE string of COCO's alphabet, as long as a mask of that size compresses to.
  void rle(size_t lo, size_t hi) {
    put(R"("segmentation":{{"counts":")");
    const size_t n = lo + rng_.next_below(static_cast<uint32_t>(hi - lo));
    for (size_t i = 0; i < n; ++i) {
      const char c = static_cast<char>('0' + rng_.next_below(64));
      out_ += c;
      if (c == '\\') out_ += c;  // escaped in JSON, as the farm's masks are
    }
    put(R"(","size":[480,640]}},)");
  }

  void joints(const char* name, int dims, double lo, double hi) {
    put(R"("{}":{{)", name);
    for (const char* joint : kJoints) {
      put(R"("{}":[{},{})", joint, uniform(lo, hi), uniform(lo, hi));
      if (dims == 3) put(",{}", uniform(lo, hi));
      out_ += "],";
    }
    out_.back() = '}';
    out_ += ',';
  }

  void person(int id) {
    const int pixels = 1000 + static_cast<int>(rng_.next_below(20000));
    put(R"({{"area":{0},"bbox":[{1},{2},{3},{4}],"body":"parametric","class":"person","id":{5},)",
        pixels, rng_.next_below(500), rng_.next_below(300), 20 + rng_.next_below(120),
        40 + rng_.next_below(300), id);
    joints("joints_2d", 2, 0, 640);
    joints("joints_3d_camera", 3, -2, 6);
    joints("joints_3d_world", 3, -2, 6);
    out_ += R"("keypoints":[)";
    for (int k = 0; k < 17; ++k)
      put("{},{},{},", uniform(0, 640), uniform(0, 480), rng_.next_below(3));
    out_.back() = ']';
    out_ += R"(,"keypoints_3d_camera":[)";
    for (int k = 0; k < 17; ++k) put("[{},{},{}],", uniform(-2, 2), uniform(-2, 2), uniform(2, 6));
    out_.back() = ']';
    put(R"(,"motion":"{}","motion_phase":{},"motion_speed":{},"name":"person","num_keypoints":17,)",
        kMotions[rng_.next_below(kMotions.size())], uniform(0, 1), uniform(0.8, 1.2));
    out_ += R"("outfit":"short-sleeve shirt, shorts (stripes), shoes, short hair",)";
    joints("pose", 3, -40, 40);
    put(R"("position":[{},{},0.0],)", uniform(-1, 1), uniform(-1, 1));
    rle(300, 800);
    put(R"("semantic_id":1,"shape":{{"age":{},"arm_length":{},"bmi":{},"head_size":{},"height_m":{},)",
        uniform(18, 70), uniform(0.9, 1.1), uniform(18, 35), uniform(0.9, 1.1), uniform(1.5, 1.95));
    put(R"("hip_width":{},"leg_length":{},"sex":{},"shoulder_width":{}}},"skin_tone":{},)",
        uniform(0.9, 1.1), uniform(0.9, 1.1), uniform(0, 1), uniform(0.9, 1.1),
        1 + rng_.next_below(10));
    put(R"("visible_pixels":{},"yaw_deg":{}}},)", pixels, uniform(0, 360));
  }

  void thing(int id, const char* cls, int semantic, size_t rle_lo, size_t rle_hi) {
    const int pixels = static_cast<int>(rng_.next_below(40000));
    put(R"({{"area":{0},"bbox":[{1},{2},{3},{4}],"class":"{5}","id":{6},"name":"{5}",)", pixels,
        rng_.next_below(600), rng_.next_below(400), rng_.next_below(300), rng_.next_below(200), cls,
        id);
    rle(rle_lo, rle_hi);
    put(R"("semantic_id":{},"visible_pixels":{}}},)", semantic, pixels);
  }

  std::string& out_;
  synthfarm::Pcg32 rng_{0, 0};
};

// A field of /proc/self/status in KiB (VmRSS, VmHWM).
int64_t status_kib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

// Starts a new peak RSS mark at the current RSS (Linux 4.0+); false if refused.
bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

struct Pass {
  double seconds = 0;  // in the timed calls only
  int64_t hwm_growth_kib = 0;
  uint64_t bytes = 0;  // of the texts
};

template <typename Step>
Pass run(uint64_t samples, bool& reset, Step&& step) {
  std::string text, key;
  text.reserve(1 << 17);
  SampleWriter writer(text);
  reset = reset_peak_rss() && reset;
  const int64_t rss_before = status_kib("VmRSS");
  Pass pass;
  for (uint64_t i = 0; i < samples; ++i) {
    writer.write(i);
    key = fmt::format("samples/{:08d}.json", i);
    pass.bytes += text.size();
    const auto t0 = Clock::now();
    step(text, key);
    pass.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  pass.hwm_growth_kib = status_kib("VmHWM") - rss_before;
  return pass;
}

// The heap a card holds at its bound: every categorical field full of 64-byte names, more
// names past the 64th, and more skipped samples than it names, with long keys and errors.
size_t bounded_heap() {
  const size_t before = mallinfo2().uordblks;
  synthfarm::jobs::DatasetCard card({"bench-000000", "worst case", "synthfarm bench", 0});
  for (int i = 0; i < 200; ++i) {
    const std::string name = fmt::format("{:064d}", i);
    const std::string sample =
        fmt::format(R"({{"scene":{{"kind":"{0}"}},"instances":[{{"class":"{0}"}},)"
                    R"({{"class":"person","motion":"{0}","bbox":[0,0,1,1],"keypoints":[{1}0]}}]}})",
                    name, [] {
                      std::string k;
                      for (int j = 0; j < 50; ++j) k += "0,";
                      return k;
                    }());
    if (!card.add(sample, "k")) std::abort();  // the bench's own sample must be good
    card.add("{" + std::string(300, 'x'), std::string(300, 'k'));
  }
  return mallinfo2().uordblks - before;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"What the dataset card costs per sample JSON, against parsing the JSON alone"};
  uint64_t samples = 1'000'000;
  app.add_option("--samples", samples, "Sample JSONs per pass");
  CLI11_PARSE(app, argc, argv);

  bool reset = true;
  size_t sink = 0;  // keeps the parse from being optimised away
  const Pass parse = run(samples, reset, [&](const std::string& text, const std::string&) {
    sink += nlohmann::json::parse(text).size();
  });

  const size_t heap_before = mallinfo2().uordblks;
  synthfarm::jobs::DatasetCard card(
      {"bench-000000", "dataset card cost", "synthfarm bench", static_cast<int64_t>(samples)});
  double card_seconds = 0;  // of pass 2's time, in add_parsed
  const Pass both = run(samples, reset, [&](const std::string& text, const std::string& key) {
    const nlohmann::json sample = nlohmann::json::parse(text);
    const auto t0 = Clock::now();
    card.add_parsed(sample, key);
    card_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  });
  const size_t card_heap = mallinfo2().uordblks - heap_before;
  const auto t0 = Clock::now();
  const std::string json = card.json(), html = card.html();
  const double write_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  const size_t bound_heap = bounded_heap();

  const double n = static_cast<double>(samples);
  const double parse_us = 1e6 * parse.seconds / n;
  const double parse2_us = 1e6 * (both.seconds - card_seconds) / n,
               card_us = 1e6 * card_seconds / n;
  fmt::print(
      "dataset card cost: {} synthetic sample JSONs per pass, mean {:.1f} KB, {} people in all{}\n",
      samples, static_cast<double>(parse.bytes) / n / 1e3, card.people(),
      reset ? ""
            : " (peak RSS could not be reset: the second pass's growth is from the first's peak)");
  fmt::print("  {:<40} {:>6.0f} samples/s {:>7.1f} us/sample   peak RSS growth {:>6.1f} MiB\n",
             "pass 1: nlohmann::json::parse alone", 1e6 / parse_us, parse_us,
             parse.hwm_growth_kib / 1024.0);
  fmt::print("  {:<40} {:>6.0f} samples/s {:>7.1f} us/sample   peak RSS growth {:>6.1f} MiB\n",
             "pass 2: parse + DatasetCard::add_parsed", 1e6 / (parse2_us + card_us),
             parse2_us + card_us, both.hwm_growth_kib / 1024.0);
  fmt::print("  {:<40} {:>24.1f} us/sample (the parse {:.1f})\n", "        of which the card",
             card_us, parse2_us);
  fmt::print("  the card over the parse it follows {:.2f}%; pass 2 over pass 1 time {:.3f}\n",
             100 * card_us / parse2_us, (parse2_us + card_us) / parse_us);
  fmt::print(
      "  heap the card holds after the last sample {:.1f} KiB (at its bound, every field full: "
      "{:.1f} KiB); json() {:.1f} KB and html() {:.1f} KB in {:.1f} ms\n",
      card_heap / 1024.0, bound_heap / 1024.0, json.size() / 1e3, html.size() / 1e3, write_ms);
  fmt::print(
      "dataset_card_cost samples={} parse_us={:.2f} parse2_us={:.2f} card_us={:.3f} "
      "card_over_parse={:.4f} pass_ratio={:.3f} parse_hwm_growth_kib={} card_hwm_growth_kib={} "
      "card_heap_kib={:.1f} bound_heap_kib={:.1f} skipped={} sink={}\n",
      samples, parse_us, parse2_us, card_us, card_us / parse2_us, (parse2_us + card_us) / parse_us,
      parse.hwm_growth_kib, both.hwm_growth_kib, card_heap / 1024.0, bound_heap / 1024.0,
      card.skipped(), sink % 10);
  return card.skipped() == 0 ? 0 : 1;
}
