// The camera stage through a real farm (coordinator, worker, Redis, file storage): a job with
// every part of the camera (physical pipeline, JPEG, lens, motion blur, a TorchScript model)
// gives exactly the bytes `synthfarm render --local` gives at one and at two threads; a
// broken model fails its shard cleanly with the file and the problem, storing nothing; a bad
// sensor section is refused at submission with its field and line, queueing nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// A test model (written by the sensor_torch_models fixture) copied into the farm's directory,
// as a user's file:// model; returns its URI.
std::string model_uri(const Farm& farm, const std::string& name) {
  const fs::path target = farm.dir() / name;
  fs::copy_file(fs::path(SENSOR_TORCH_TESTDATA) / name, target, fs::copy_options::overwrite_existing);
  return "file://" + target.string();
}

std::string camera_spec(const std::string& name, int samples, const std::string& model) {
  return "name: " + name + "\nsamples: " + std::to_string(samples) +
         "\nshard_size: 2\nmax_attempts: 1\nseed: 11\ncamera:\n  resolution: [64, 48]\nrender: {spp: 2, "
         "max_bounces: 1}\nhumans:\n  count: 2\n  motion: walk\nsensor:\n  iso: {uniform: [100, 6400]}\n"
         "  jpeg_quality: {uniform_int: [30, 95]}\n  vignetting: 0.3\n  cfa: {choice: [rggb, gbrg]}\n"
         "  distortion: {model: {choice: [brown_conrady, fisheye]}, k1: {uniform: [-0.1, -0.02]}}\n"
         "  motion_blur: true\n  shutter_s: 0.03\n  camera_speed_m_s: 0.5\n  layers: [camera, raw]\n" +
         (model.empty() ? "" : "  model: " + model + "\n");
}

// Every object of a sample the farm and the local render hold.
void expect_same_samples(const fs::path& farm_root, const fs::path& local, int first, int last,
                         const std::string& what) {
  for (int i = first; i < last; ++i) {
    for (const char* ext : {"exr", "jpg", "json"}) {
      char key[40];
      std::snprintf(key, sizeof key, "samples/%08d.%s", i, ext);
      const std::string farm_bytes = read_file(farm_root / key);
      ASSERT_FALSE(farm_bytes.empty()) << key;
      EXPECT_EQ(farm_bytes, read_file(local / key)) << key << " differs: " << what;
    }
  }
}

TEST(SensorFarm, TheWholeCameraGivesTheLocalBytesAtAnyThreadCount) {
  Farm farm({.workers = 1, .threads = 2});
  const std::string spec = camera_spec("camera", 4, model_uri(farm, "conv.pt"));
  const fs::path spec_path = farm.dir() / "camera.yaml";
  std::ofstream(spec_path) << spec;
  const std::string id = farm.submit(spec);
  const json job = farm.wait(id, std::chrono::seconds(240));
  ASSERT_EQ(job["state"], "done") << job << farm.logs();
  for (int threads : {1, 2}) {
    const fs::path local = farm.dir() / ("local-" + std::to_string(threads));
    auto [code, output] = run_command({binary("synthfarm"), "render", "--local", spec_path.string(), "--out",
                                       local.string(), "--threads", std::to_string(threads)},
                                      std::chrono::seconds(240));
    ASSERT_EQ(code, 0) << output;
    expect_same_samples(farm.out_root() / id, local, 0, 4, std::to_string(threads) + " thread(s)");
  }
  // The dataset's COCO names the JPEG previews.
  const json coco = json::parse(read_file(farm.out_root() / id / "annotations/coco_person_keypoints.json"));
  ASSERT_FALSE(coco["images"].empty());
  EXPECT_TRUE(coco["images"][0]["file_name"].get<std::string>().ends_with(".jpg")) << coco["images"][0];
}

TEST(SensorFarm, ABrokenModelFailsTheShardCleanly) {
  Farm farm({.workers = 1, .threads = 1});
  for (const auto& [name, problem] : {std::pair<std::string, std::string>{"not_torchscript.pt", "not a TorchScript"},
                                      {"nan.pt", "NaN"}}) {
    const std::string id = farm.submit(camera_spec("broken", 2, model_uri(farm, name)));
    const json job = farm.wait(id, std::chrono::seconds(120));
    EXPECT_EQ(job["state"], "failed") << job;
    const std::string error = job.value("error", "");
    EXPECT_NE(error.find("sensor.model"), std::string::npos) << error;
    EXPECT_NE(error.find(name), std::string::npos) << error;
    EXPECT_NE(error.find(problem), std::string::npos) << error;
    EXPECT_FALSE(fs::exists(farm.out_root() / id / "samples")) << "a failed sample stores nothing";
  }
  EXPECT_TRUE(farm.workers()[0]->running()) << farm.logs();
}

TEST(SensorFarm, ABadSensorSectionIsRefusedAtSubmission) {
  Farm farm({.workers = 0});
  const std::string head = "name: bad\nsamples: 4\nsensor:\n";
  const std::vector<std::tuple<std::string, std::string, int, std::string>> cases = {
      {"  cfa: rgbg\n", "sensor.cfa", 4, "unknown Bayer pattern"},
      {"  iso: 10\n", "sensor.iso", 4, "between 25 and 409600"},
      {"  distortion: {model: brown_conrady, k1: -0.9}\n", "sensor.distortion", 4, "folds"},
  };
  for (const auto& [body, path, line, message] : cases) {
    auto [status, reply] = farm.post("/api/jobs", head + body);
    EXPECT_EQ(status, 400) << reply;
    ASSERT_TRUE(reply.contains("errors")) << reply;
    EXPECT_EQ(reply["errors"][0]["path"], path) << reply;
    EXPECT_EQ(reply["errors"][0]["line"], line) << reply;
    EXPECT_NE(reply["errors"][0]["message"].get<std::string>().find(message), std::string::npos) << reply;
  }
  auto [status, jobs] = farm.get("/api/jobs");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(jobs["jobs"].empty()) << jobs;
}

}  // namespace
}  // namespace synthfarm::testing
