// What a learned camera model costs per frame: a residual CNN of 4,723 parameters (3 x 3
// convolutions 3 -> 20 -> 20 -> 3, ReLU, plus the input; sensor/torch/test_models.h) run
// through the plugin's loader on 640 x 480 RGB frames. Prints the median milliseconds per
// frame over --rounds rounds with one sample thread (loader threads 1) and with two sample
// threads applying frames at once (loader threads 2: ms = round time / 2), the parameter
// count and the peak extra memory the model takes (maximum RSS after the runs minus before
// loading it). A second line measures one forward on two LibTorch intra-op threads (not
// what the worker does) and says whether its bits equal the one-thread output: for the
// conv model, and for a model returning its input's whole-image sum on 8 frames.
//
//   build/bin/torch_model_cost [--rounds 10 --width 640 --height 480]
#include <fmt/format.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "sensor/torch/test_models.h"
#include "sensor/torch/torch_model.h"

using namespace synthfarm;

namespace {

const std::vector<double> kParams = {400, 1.0, 0.002, 0.0004, 2.1, 1.7, 0, 0};

double max_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

std::shared_ptr<const sensor::LearnedModel> load(const sensor::TorchModelOptions& options,
                                                 const std::string& bytes) {
  auto loader = sensor::torch_model_loader(options);
  if (!loader) throw std::runtime_error(loader.error());
  auto model = (*loader)(bytes, "model.pt");
  if (!model) throw std::runtime_error(model.error());
  return *model;
}

void apply(const sensor::LearnedModel& model, std::vector<float>& image, int w, int h) {
  if (auto done = model.apply(image, w, h, kParams, 1); !done)
    throw std::runtime_error(done.error());
}

// Median ms per frame with `callers` threads each applying one frame per round.
double ms_per_frame(const sensor::LearnedModel& model, const std::vector<float>& frame, int w,
                    int h, int callers, int rounds) {
  std::vector<double> times;
  for (int r = 0; r < rounds; ++r) {
    std::vector<std::vector<float>> images(callers, frame);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < callers; ++c)
      threads.emplace_back([&, c] { apply(model, images[c], w, h); });
    for (auto& t : threads) t.join();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count() /
        callers);
  }
  return median(times);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ms per frame and memory of a ~5k-parameter TorchScript camera model"};
  int rounds = 10, width = 640, height = 480;
  app.add_option("--rounds", rounds, "timed rounds (the median is printed)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--width", width)->check(CLI::Range(8, 8192));
  app.add_option("--height", height)->check(CLI::Range(8, 8192));
  CLI11_PARSE(app, argc, argv);
  try {
    const std::string conv = sensor::test_models::conv_model(20, 7);
    const std::string summed = sensor::test_models::script_model(
        "def forward(self, image, params):\n    return torch.zeros_like(image) + image.sum()\n",
        sensor::test_models::kRgbMetadata);
    std::vector<float> frame(static_cast<size_t>(width) * height * 3);
    for (size_t i = 0; i < frame.size(); ++i) frame[i] = 0.5f + 0.4f * std::sin(0.001f * float(i));
    const double rss_before = max_rss_mb();

    auto one = load({.threads = 1}, conv);
    auto reference = frame;
    apply(*one, reference, width, height);  // warm-up, and the one-thread bits
    const double ms_1t = ms_per_frame(*one, frame, width, height, 1, rounds);
    const double peak_1t_mb = max_rss_mb() - rss_before;
    auto two = load({.threads = 2}, conv);
    const double ms_2t = ms_per_frame(*two, frame, width, height, 2, rounds);
    const double peak_mb = max_rss_mb() - rss_before;
    fmt::print(
        "torch_model_cost ms_per_frame_1t={:.1f} ms_per_frame_2t={:.1f} params={} "
        "peak_rss_mb={:.1f}\n",
        ms_1t, ms_2t, sensor::test_models::conv_model_parameters(20), peak_mb);

    // The whole-image sum's last bits depend on the data: count the frames (8 phases of the
    // test pattern) where two intra-op threads change them.
    std::vector<std::vector<float>> sum_frames, sum_reference;
    for (int k = 0; k < 8; ++k) {
      auto f = frame;
      for (size_t i = 0; i < f.size(); ++i)
        f[i] = 0.5f + 0.4f * std::sin(0.001f * float(i) + 0.7f * float(k));
      sum_frames.push_back(f);
    }
    auto one_sum = load({.threads = 1}, summed);
    for (auto f : sum_frames) {
      apply(*one_sum, f, width, height);
      sum_reference.push_back(std::move(f));
    }
    // Last: intra-op threads are process-wide, and these loaders set them to 2.
    auto intra = load({.threads = 1, .intra_op_threads = 2}, conv);
    auto intra_sum = load({.threads = 1, .intra_op_threads = 2}, summed);
    auto conv_out = frame;
    apply(*intra, conv_out, width, height);
    int sums_differ = 0;
    for (size_t k = 0; k < sum_frames.size(); ++k) {
      auto f = sum_frames[k];
      apply(*intra_sum, f, width, height);
      sums_differ += same_bits(f, sum_reference[k]) ? 0 : 1;
    }
    const double ms_intra = ms_per_frame(*intra, frame, width, height, 1, rounds);
    fmt::print(
        "torch_model_cost peak_rss_mb_1t={:.1f} intra_op_threads=2 ms_per_frame={:.1f} "
        "conv_bits_equal_1t={} sum_frames_differing={}/{}\n",
        peak_1t_mb, ms_intra, same_bits(conv_out, reference) ? "yes" : "no", sums_differ,
        sum_frames.size());
  } catch (const std::exception& e) {
    fmt::print(stderr, "torch_model_cost: {}\n", e.what());
    return 1;
  }
  return 0;
}
