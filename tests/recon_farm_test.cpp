// Reconstruction jobs through a real farm (Redis, coordinator, workers, file storage): a
// render job's own COCO keypoints are fitted by a fit_people job, whose poses.jsonl and
// shapes.jsonl then pose and shape the people of a third job; bad inputs are refused at
// submission (not COCO) or fail their shard naming the file and the element with nothing
// stored (a scan with a NaN); a render-only worker leaves fitting shards queued for one
// that can fit; a fitted walk becomes a BVH clip that animates the next dataset; a render
// job's depth is fused by a fuse_depth job into a closed glTF mesh, and a capture that
// names a missing depth map fails its shard naming the frame.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<json> jsonl(const fs::path& path) {
  std::vector<json> lines;
  std::istringstream in(slurp(path));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(json::parse(line));
  }
  return lines;
}

TEST(ReconFarm, RenderedPeopleAreFittedAndTheirFitsPoseTheNextDataset) {
  Farm farm({.workers = 2, .threads = 1});
  const std::string render_id = farm.submit(
      "name: people\nsamples: 6\nshard_size: 3\nseed: 4\ncamera: {resolution: [160, 120]}\n"
      "render: {spp: 1, max_bounces: 0}\nhumans: {count: {uniform_int: [1, 2]}, motion: static}\n"
      "output: {layers: [instance]}\n");
  ASSERT_EQ(farm.wait(render_id)["state"], "done") << farm.logs();
  const fs::path coco = farm.out_root() / render_id / "annotations/coco_person_keypoints.json";
  ASSERT_TRUE(fs::exists(coco));

  auto [status, submitted] = farm.post("/api/jobs", "name: fit\ntask: fit_people\nshard_size: 2\ninputs: file://" +
                                                        coco.string() + "\n");
  ASSERT_EQ(status, 201) << submitted;
  const std::string fit_id = submitted["id"];
  const json fit_job = farm.wait(fit_id);
  ASSERT_EQ(fit_job["state"], "done") << fit_job << farm.logs();
  const fs::path fit_root = farm.out_root() / fit_id;
  const std::vector<json> poses = jsonl(fit_root / "poses.jsonl");
  const std::vector<json> shapes = jsonl(fit_root / "shapes.jsonl");
  ASSERT_FALSE(poses.empty());
  EXPECT_EQ(poses.size(), shapes.size());
  int converged = 0;
  for (const json& line : poses) {
    converged += line["converged"].get<bool>() ? 1 : 0;
    EXPECT_LT(line["mean_residual_px"].get<double>(), 10.0) << line;  // exact keypoints, K known
    EXPECT_EQ(line["pose"].size(), 24u);
  }
  EXPECT_GE(converged * 10, static_cast<int>(poses.size()) * 8) << "most fits of exact keypoints converge";
  // The unit JSONs carry per-keypoint residuals, null where the keypoint is unlabelled.
  const json unit = json::parse(slurp(fit_root / "fits/00000000.json"));
  ASSERT_FALSE(unit["people"].empty());
  EXPECT_EQ(unit["people"][0]["residuals_px"][0].size(), 17u);
  const json manifest = json::parse(slurp(fit_root / "manifest.json"));
  EXPECT_EQ(manifest["annotations"]["poses"], "poses.jsonl");
  EXPECT_EQ(manifest["counts"]["people_fitted"], shapes.size());

  const std::string again = farm.submit("name: refit\nsamples: 2\nseed: 9\ncamera: {resolution: [64, 48]}\n"
                                        "render: {spp: 1}\nhumans:\n  count: 1\n  poses: file://" +
                                        (fit_root / "poses.jsonl").string() + "\n  shapes: file://" +
                                        (fit_root / "shapes.jsonl").string() + "\n");
  ASSERT_EQ(farm.wait(again)["state"], "done") << farm.logs();
  const json sample = json::parse(slurp(farm.out_root() / again / "samples/00000000.json"));
  const json& person = sample["instances"][0];
  EXPECT_EQ(person["motion"], "fitted") << person;
  EXPECT_TRUE(person["motion_clip"].get<std::string>().starts_with("poses.jsonl:")) << person;
  EXPECT_TRUE(person["shape_source"].get<std::string>().starts_with("shapes.jsonl:")) << person;
}

TEST(ReconFarm, BadInputsAreRefusedOrFailTheirShardStoringNothing) {
  Farm farm({.workers = 1, .threads = 1});
  const fs::path not_coco = farm.dir() / "people.json";
  std::ofstream(not_coco) << R"({"images": [{"id": 1, "width": 64, "height": 48}],
 "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "keypoints": [1, 2, 2]}]})";
  auto [status, reply] = farm.post("/api/jobs", "name: fit\ntask: fit_people\ninputs: file://" + not_coco.string());
  EXPECT_EQ(status, 400) << reply;
  EXPECT_EQ(reply["errors"][0]["path"], "inputs") << reply;
  const std::string message = reply["errors"][0]["message"];
  EXPECT_NE(message.find("people.json: annotations[0].keypoints"), std::string::npos) << message;

  const fs::path scan = farm.dir() / "scan.ply";
  std::ofstream(scan) << "ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\n"
                         "property float z\nend_header\n0 0 0\n0 nan 1\n";
  const std::string id =
      farm.submit("name: scan\ntask: fit_people\nmax_attempts: 1\nfit: {mode: scan}\ninputs: [file://" + scan.string() + "]\n");
  const json job = farm.wait(id, std::chrono::seconds(120));
  EXPECT_EQ(job["state"], "failed") << job;
  const std::string error = job.value("error", "");
  EXPECT_NE(error.find("scan.ply"), std::string::npos) << error;
  EXPECT_NE(error.find("vertex 1"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(farm.out_root() / id / "fits")) << "a failed unit stores nothing";
  EXPECT_TRUE(farm.workers()[0]->running()) << farm.logs();
}

TEST(ReconFarm, ARenderOnlyWorkerLeavesFittingShardsToAWorkerThatFits) {
  Farm farm({.workers = 0});
  auto render_only = farm.start_worker({"--tasks", "render"});
  const fs::path coco = farm.dir() / "one.json";
  json keypoints = json::array();
  for (int k = 0; k < 17; ++k) keypoints.insert(keypoints.end(), {100 + 3 * k, 50 + 9 * k, 2});
  std::ofstream(coco) << json{{"images", {{{"id", 1}, {"width", 320}, {"height", 240}}}},
                              {"annotations", {{{"id", 1}, {"image_id", 1}, {"category_id", 1}, {"keypoints", keypoints}}}},
                              {"categories", {{{"id", 1}, {"name", "person"}}}}}
                             .dump();
  const std::string id = farm.submit("name: fit\ntask: fit_people\ninputs: file://" + coco.string() + "\n");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(farm.get("/api/jobs/" + id).second["state"], "queued") << farm.logs();
  auto fitter = farm.start_worker({"--tasks", "fit_people"});
  const json job = farm.wait(id, std::chrono::seconds(120));
  EXPECT_EQ(job["state"], "done") << job << farm.logs();
}

TEST(ReconFarm, ARenderedDatasetsDepthFusesIntoAClosedMesh) {
  Farm farm({.workers = 1, .threads = 2});
  const std::string render_id = farm.submit(
      "name: room\nsamples: 4\nshard_size: 2\nseed: 3\ncamera: {resolution: [96, 72]}\n"
      "render: {spp: 1, max_bounces: 0}\nhumans: {count: 1, motion: static}\n");
  ASSERT_EQ(farm.wait(render_id)["state"], "done") << farm.logs();
  const fs::path manifest = farm.out_root() / render_id / "manifest.json";
  const std::string id = farm.submit("name: fused\ntask: fuse_depth\nfusion: {voxel_m: 0.05, truncation_m: 0.2}\n"
                                     "inputs: [file://" + manifest.string() + "]\n");
  const json job = farm.wait(id, std::chrono::seconds(180));
  ASSERT_EQ(job["state"], "done") << job << farm.logs();
  const fs::path root = farm.out_root() / id;
  const std::string glb = slurp(root / "meshes/00000000.glb");
  ASSERT_GT(glb.size(), 1000u);
  EXPECT_EQ(glb.substr(0, 4), "glTF");
  const json summary = json::parse(slurp(root / "meshes/00000000.json"));
  EXPECT_EQ(summary["views"], 4) << summary;
  EXPECT_GT(summary["triangles"].get<int>(), 100) << summary;
  EXPECT_TRUE(summary["colour"].get<bool>()) << summary;
  const json fused_manifest = json::parse(slurp(root / "manifest.json"));
  bool listed = false;
  for (const json& o : fused_manifest["objects"]) listed = listed || o["key"] == "meshes/00000000.glb";
  EXPECT_TRUE(listed) << fused_manifest;

  // The fused mesh is the scene of the next dataset (scene.mesh): people stand in it, the
  // camera looks at them from inside it, and its floor and the rest are labelled.
  const std::string in_mesh = farm.submit(
      "name: inroom\nsamples: 2\nseed: 4\ncamera: {resolution: [96, 72]}\nrender: {spp: 1, max_bounces: 0}\n"
      "humans: {count: 1, motion: static}\nscene: {mesh: file://" + (root / "meshes/00000000.glb").string() + "}\n");
  ASSERT_EQ(farm.wait(in_mesh, std::chrono::seconds(180))["state"], "done") << farm.logs();
  for (const char* sample : {"samples/00000000.json", "samples/00000001.json"}) {
    const json j = json::parse(slurp(farm.out_root() / in_mesh / sample));
    EXPECT_EQ(j["scene"]["kind"], "mesh") << j["scene"];
    EXPECT_EQ(j["scene"]["mesh"], "file://" + (root / "meshes/00000000.glb").string());
    std::map<std::string, int> pixels;
    for (const json& instance : j["instances"]) pixels[instance["name"]] += instance["visible_pixels"].get<int>();
    EXPECT_GT(pixels["person"], 0) << sample;
    EXPECT_GT(pixels["scene mesh floor"] + pixels["scene mesh"], 96 * 72 / 4) << sample;
  }

  // A capture whose frame names a depth map that is not there: the shard fails naming it.
  const fs::path capture = farm.dir() / "capture" / "poses.json";
  fs::create_directories(capture.parent_path());
  std::ofstream(capture) << json{{"frames",
                                  {{{"depth", "d/000.png"},
                                    {"width", 8},
                                    {"height", 6},
                                    {"K", {{8, 0, 4}, {0, 8, 3}, {0, 0, 1}}},
                                    {"world_to_camera", {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}}}}}}
                                .dump();
  const std::string bad = farm.submit("name: nodepth\ntask: fuse_depth\nmax_attempts: 1\ninputs: file://" +
                                      capture.string() + "\n");
  const json failed = farm.wait(bad, std::chrono::seconds(120));
  EXPECT_EQ(failed["state"], "failed") << failed;
  const std::string error = failed.value("error", "");
  EXPECT_NE(error.find("poses.json: frames[0].depth"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(farm.out_root() / bad / "meshes")) << "a failed unit stores nothing";
}

TEST(ReconFarm, AFittedWalkBecomesAClipThatAnimatesTheNextDataset) {
  Farm farm({.workers = 1, .threads = 2});
  const std::string render_id = farm.submit(
      "name: walk\nsamples: 1\nseed: 5\ncamera: {resolution: [160, 120]}\nrender: {spp: 1, max_bounces: 0}\n"
      "humans: {count: 1, motion: walk}\nclip: {frames: 12, fps: 30}\n");
  ASSERT_EQ(farm.wait(render_id)["state"], "done") << farm.logs();
  const fs::path coco = farm.out_root() / render_id / "annotations/coco_person_keypoints.json";
  const std::string fit_id = farm.submit("name: walkfit\ntask: fit_people\nfit: {mode: sequence, fps: 30}\n"
                                         "inputs: file://" + coco.string() + "\n");
  const json fit_job = farm.wait(fit_id, std::chrono::seconds(300));
  ASSERT_EQ(fit_job["state"], "done") << fit_job << farm.logs();
  const fs::path root = farm.out_root() / fit_id;
  const json unit = json::parse(slurp(root / "fits/00000000.json"));
  EXPECT_EQ(unit["people"].size(), 12u) << "one fitted person per frame of the track";
  EXPECT_EQ(unit["clip"], "clips/00000000.bvh");
  const std::string bvh = slurp(root / "clips/00000000.bvh");
  ASSERT_EQ(bvh.substr(0, 9), "HIERARCHY") << bvh.substr(0, 200);
  EXPECT_NE(bvh.find("Frames: 12"), std::string::npos);
  const json manifest = json::parse(slurp(root / "manifest.json"));
  bool listed = false;
  for (const json& o : manifest["objects"]) listed = listed || o["key"] == "clips/00000000.bvh";
  EXPECT_TRUE(listed) << manifest;

  // The real motion animates a synthetic person through humans.bvh.
  const std::string again = farm.submit("name: rewalk\nsamples: 1\nseed: 6\ncamera: {resolution: [64, 48]}\n"
                                        "render: {spp: 1}\nclip: {frames: 4}\nhumans:\n  count: 1\n  motion: bvh\n"
                                        "  bvh: [file://" + (root / "clips/00000000.bvh").string() + "]\n");
  ASSERT_EQ(farm.wait(again)["state"], "done") << farm.logs();
  EXPECT_TRUE(fs::exists(farm.out_root() / again / "samples/00000000.f003.json"));
}

}  // namespace
}  // namespace synthfarm::testing
