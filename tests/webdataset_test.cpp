// output.format: webdataset on a real farm: a tar per shard holding exactly the files the
// files layout writes, byte for byte, read back by the system's tar, by byte range through
// the API and the CLI; the same tars from `render --local` with other thread counts; and a
// worker killed mid-tar leaves no visible tar (label chaos).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "storage/object_store.h"
#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;

std::string spec(const std::string& name, const std::string& format, int samples = 10, int shard_size = 4,
                 int resolution = 64, int spp = 2) {
  return "name: " + name + "\nsamples: " + std::to_string(samples) + "\nshard_size: " + std::to_string(shard_size) +
         "\nseed: 11\noutput:\n  format: " + format + "\n  labels: [sample_json, coco]\ncamera:\n  resolution: [" +
         std::to_string(resolution) + ", " + std::to_string(resolution * 3 / 4) + "]\nrender:\n  spp: " +
         std::to_string(spp) + "\n  max_bounces: 1\n";
}

// Regular files under `root` (no temp files), relative path -> bytes.
std::map<std::string, std::string> files_under(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.path().filename().string().starts_with(".tmp.")) continue;
    out[entry.path().lexically_relative(root).generic_string()] = slurp(entry.path());
  }
  return out;
}

TEST(WebDataset, TarShardsHoldTheFilesLayoutsBytesAndReadBackEveryWay) {
  Farm farm({.workers = 2});
  const std::string files_id = farm.submit(spec("wds-files", "files"));
  const std::string tars_id = farm.submit(spec("wds-tars", "webdataset"));
  ASSERT_EQ(farm.wait(files_id)["state"], "done") << farm.logs();
  ASSERT_EQ(farm.wait(tars_id)["state"], "done") << farm.logs();
  const auto files = files_under(farm.out_root() / files_id);
  const auto tars = files_under(farm.out_root() / tars_id);

  // The objects: three tars (shards of 4, 4 and 2 samples), their manifests, the dataset's
  // own files, and no sample object of its own.
  std::set<std::string> keys;
  for (const auto& [key, bytes] : tars) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"annotations/coco_person_keypoints.json", "annotations/instances.json",
                                         "dataset_card.html", "dataset_card.json", "manifest.json",
                                         "shards/000000.manifest.json", "shards/000000.tar",
                                         "shards/000001.manifest.json", "shards/000001.tar",
                                         "shards/000002.manifest.json", "shards/000002.tar"}));
  size_t sample_files = 0;
  for (const auto& [key, bytes] : files) sample_files += key.starts_with("samples/") ? 1 : 0;
  EXPECT_EQ(sample_files, 30u) << "10 samples, each an EXR, a PNG and a JSON";
  std::cout << "[webdataset] objects for 10 samples in shards of 4: files " << files.size() << ", webdataset "
            << tars.size() << std::endl;

  // manifest.json: the layout, and each tar with its members; every member's bytes (read at
  // its offset) equal the files layout's object of the same name.
  const json manifest = json::parse(tars.at("manifest.json"));
  EXPECT_EQ(manifest["layout"]["format"], "webdataset");
  EXPECT_EQ(json::parse(files.at("manifest.json"))["layout"]["format"], "files");
  size_t members = 0;
  for (const json& object : manifest["objects"]) {
    const std::string key = object["key"];
    if (!key.ends_with(".tar")) {
      EXPECT_FALSE(object.contains("members")) << key;
      continue;
    }
    const std::string& tar = tars.at(key);
    EXPECT_EQ(object["sha256"], storage::sha256_hex(tar)) << key;
    std::string listed;
    for (const json& m : object["members"]) {
      const std::string name = m["name"];
      const std::string bytes = tar.substr(m["offset"].get<size_t>(), m["size"].get<size_t>());
      ASSERT_TRUE(files.count("samples/" + name)) << name;
      EXPECT_TRUE(bytes == files.at("samples/" + name)) << key << ": " << name << " differs from the files layout's";
      EXPECT_EQ(m["sha256"], storage::sha256_hex(bytes)) << name;
      listed += name + "\n";
      ++members;
    }
    // GNU tar reads it as the same members in the same order.
    auto [code, out] = run_command({"tar", "-tf", (farm.out_root() / tars_id / key).string()}, seconds(30));
    EXPECT_EQ(code, 0) << out;
    EXPECT_EQ(out, listed) << key;
  }
  EXPECT_EQ(members, 30u);

  // The COCO files list the same images and annotations (only the header names the job).
  for (const char* coco : {"annotations/coco_person_keypoints.json", "annotations/instances.json"}) {
    json a = json::parse(files.at(coco)), b = json::parse(tars.at(coco));
    EXPECT_EQ(a["images"], b["images"]) << coco;
    EXPECT_EQ(a["annotations"], b["annotations"]) << coco;
  }

  // The API serves a sample's files and layer images out of the tar.
  for (const auto& [path, key] : std::map<std::string, std::string>{
           {"5.json", "samples/00000005.json"}, {"5.png", "samples/00000005.png"}, {"9.exr", "samples/00000009.exr"}}) {
    auto [status, body] = farm.get_raw("/api/jobs/" + tars_id + "/samples/" + path);
    ASSERT_EQ(status, 200) << path << ": " << body;
    EXPECT_TRUE(body == files.at(key)) << path;
  }
  auto [layer_status, layer] = farm.get_raw("/api/jobs/" + tars_id + "/samples/2/layers/instance.png");
  EXPECT_EQ(layer_status, 200) << layer;
  EXPECT_EQ(farm.get_raw("/api/jobs/" + tars_id + "/samples/10.json").first, 404);

  // The CLI: verify finds no stray, fetch downloads and checks the tars.
  auto [verify_code, verify_out] = run_command({binary("synthfarm"), "--url", farm.url(), "verify", tars_id}, seconds(60));
  EXPECT_EQ(verify_code, 0) << verify_out;
  TempDir fetched;
  auto [fetch_code, fetch_out] =
      run_command({binary("synthfarm"), "--url", farm.url(), "fetch", tars_id, fetched.path().string()}, seconds(60));
  ASSERT_EQ(fetch_code, 0) << fetch_out;
  EXPECT_TRUE(slurp(fetched.path() / "shards/000001.tar") == tars.at("shards/000001.tar"));

  // The same spec rendered in-process with another thread count writes the same tars.
  TempDir local;
  std::ofstream(local.path() / "spec.yaml") << spec("wds-tars", "webdataset");
  auto [render_code, render_out] = run_command({binary("synthfarm"), "render", "--local", (local.path() / "spec.yaml").string(),
                                                "--out", (local.path() / "out").string(), "--threads", "2"},
                                               seconds(300));
  ASSERT_EQ(render_code, 0) << render_out;
  for (const char* tar : {"shards/000000.tar", "shards/000001.tar", "shards/000002.tar"}) {
    EXPECT_TRUE(slurp(local.path() / "out" / tar) == tars.at(tar)) << tar << " differs between the farm and render --local";
  }
}

// A worker SIGKILLed while its shard's tar is half written: no tar is visible (only the
// store's temp file), a fresh worker takes the shard over, and the finished tar is whole.
TEST(WebDatasetChaos, WorkerKilledMidTarLeavesNoVisibleTar) {
  Farm farm({.workers = 1, .lease_ms = 3000});
  const std::string id = farm.submit(spec("wds-chaos", "webdataset", 6, 6, 160, 16));
  const fs::path root = farm.out_root() / id;
  auto temp_tar = [&] {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root / "shards", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with(".tmp.000000.tar") && entry.file_size() > 0) return true;
    }
    return false;
  };
  ASSERT_TRUE(eventually(temp_tar, seconds(120))) << "the tar's temp file never grew\n" << farm.logs();
  farm.kill_worker(0);  // SIGKILL, and a fresh worker in its place
  EXPECT_FALSE(fs::exists(root / "shards/000000.tar")) << "a half-written tar became visible";
  EXPECT_FALSE(fs::exists(root / "shards/000000.manifest.json"));

  json job = farm.wait(id, seconds(300));
  ASSERT_EQ(job["state"], "done") << job.dump() << farm.all_logs();
  const std::string tar = slurp(root / "shards/000000.tar");
  const json manifest = json::parse(slurp(root / "shards/000000.manifest.json"));
  ASSERT_EQ(manifest["objects"].size(), 1u);
  EXPECT_EQ(manifest["objects"][0]["sha256"], storage::sha256_hex(tar));
  EXPECT_EQ(manifest["objects"][0]["members"].size(), 18u);
  auto [code, out] = run_command({"tar", "-tf", (root / "shards/000000.tar").string()}, seconds(30));
  EXPECT_EQ(code, 0) << out;
  // The killed writer's temp file is the only leftover; gc removes it.
  auto [verify_code, verify_out] = run_command({binary("synthfarm"), "--url", farm.url(), "verify", id}, seconds(60));
  EXPECT_NE(verify_out.find(".tmp.000000.tar"), std::string::npos) << verify_out;
  auto [gc_code, gc_out] = run_command({binary("synthfarm"), "--url", farm.url(), "gc", id}, seconds(60));
  EXPECT_EQ(gc_code, 0) << gc_out;
  for (const auto& entry : fs::directory_iterator(root / "shards")) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp.")) << entry.path();
  }
}

}  // namespace
}  // namespace synthfarm::testing
