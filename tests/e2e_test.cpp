// End to end: real redis-server, coordinator and workers as separate processes talking
// over real sockets; datasets checked on disk.
#include <OpenEXR/ImfChannelList.h>
#include <OpenEXR/ImfFrameBuffer.h>
#include <OpenEXR/ImfHeader.h>
#include <OpenEXR/ImfInputFile.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "jobs/coco_testing.h"
#include "storage/object_store.h"
#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

using nlohmann::json;

std::string tiny_spec(const std::string& name, int samples, int shard_size, int spp = 2) {
  return "name: " + name + "\nsamples: " + std::to_string(samples) + "\nshard_size: " + std::to_string(shard_size) +
         "\nseed: 7\ncamera:\n  resolution: [64, 48]\nrender:\n  spp: " + std::to_string(spp) +
         "\n  max_bounces: 1\n";
}

std::set<std::string> exr_channels(const std::filesystem::path& path) {
  Imf::InputFile file(path.c_str());
  std::set<std::string> names;
  for (auto it = file.header().channels().begin(); it != file.header().channels().end(); ++it) {
    names.insert(it.name());
  }
  return names;
}

// The instance.id layer of an EXR, row-major.
std::vector<uint32_t> exr_instance_ids(const std::filesystem::path& path, int& width, int& height) {
  Imf::InputFile file(path.c_str());
  const Imath::Box2i window = file.header().dataWindow();
  width = window.max.x - window.min.x + 1;
  height = window.max.y - window.min.y + 1;
  std::vector<uint32_t> ids(static_cast<size_t>(width) * height);
  Imf::FrameBuffer buffer;
  buffer.insert("instance.id", Imf::Slice(Imf::UINT,
                                          reinterpret_cast<char*>(ids.data() - window.min.x -
                                                                  window.min.y * width),
                                          sizeof(uint32_t), sizeof(uint32_t) * width));
  file.setFrameBuffer(buffer);
  file.readPixels(window.min.y, window.max.y);
  return ids;
}

struct CocoCounts {
  size_t images = 0, people = 0, images_without_people = 0, scene_annotations = 0;
};

// Checks one COCO file of the dataset at `root` the way a training pipeline would rely on
// it: ids contiguous from 1, every image listed with its size and an existing file, every
// annotation's RLE decoding (independently of the encoder) to exactly the pixels of its
// instance in the EXR's instance layer, with the annotation's area and tight box, and for
// people, 51 keypoint numbers with every labelled keypoint inside the image.
void check_coco_file(const std::filesystem::path& root, const std::string& key, bool keypoints,
                     CocoCounts& counts) {
  SCOPED_TRACE(key);
  const json coco = json::parse(slurp(root / key));
  for (const char* field : {"images", "annotations", "categories"}) {
    EXPECT_TRUE(coco.contains(field) && coco[field].is_array()) << field;
  }
  std::set<int> categories;
  for (const json& c : coco["categories"]) {
    categories.insert(c["id"].get<int>());
    if (keypoints) {
      EXPECT_EQ(c["name"], "person");
      EXPECT_EQ(c["keypoints"].size(), 17u);
      EXPECT_EQ(c["skeleton"].size(), 19u);
    }
  }
  std::map<int, json> images;
  for (size_t i = 0; i < coco["images"].size(); ++i) {
    const json& image = coco["images"][i];
    EXPECT_EQ(image["id"], i + 1) << "image ids are contiguous from 1";
    EXPECT_EQ(image["width"], 64);
    EXPECT_EQ(image["height"], 48);
    EXPECT_TRUE(std::filesystem::exists(root / image["file_name"].get<std::string>()))
        << image.dump();
    images[image["id"].get<int>()] = image;
  }
  counts.images = images.size();
  std::map<int, std::vector<uint32_t>> layers;  // image id -> instance.id layer
  std::set<int> with_people;
  for (size_t a = 0; a < coco["annotations"].size(); ++a) {
    const json& ann = coco["annotations"][a];
    SCOPED_TRACE(ann.dump().substr(0, 200));
    EXPECT_EQ(ann["id"], a + 1) << "annotation ids are contiguous from 1";
    const int image_id = ann["image_id"].get<int>();
    ASSERT_TRUE(images.count(image_id));
    EXPECT_TRUE(categories.count(ann["category_id"].get<int>()));
    EXPECT_EQ(ann["iscrowd"], 0);
    ASSERT_TRUE(ann["area"].is_number());
    ASSERT_EQ(ann["segmentation"]["size"], json::array({48, 64}));
    auto runs = jobs::coco_testing::decode_counts(ann["segmentation"]["counts"].get<std::string>());
    ASSERT_TRUE(runs.has_value());
    auto mask = jobs::coco_testing::decode_mask(*runs, 48, 64);
    ASSERT_TRUE(mask.has_value());
    uint64_t area = 0;
    int x0 = 64, y0 = 48, x1 = -1, y1 = -1;
    for (int y = 0; y < 48; ++y) {
      for (int x = 0; x < 64; ++x) {
        if (!(*mask)[static_cast<size_t>(y) * 64 + x]) continue;
        ++area;
        x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
      }
    }
    EXPECT_GT(area, 0u);
    EXPECT_EQ(ann["area"].get<uint64_t>(), area);
    EXPECT_EQ(ann["bbox"], json::array({x0, y0, x1 - x0 + 1, y1 - y0 + 1}));
    // The mask is exactly the instance's pixels in the EXR (orientation and order included).
    if (!layers.count(image_id)) {
      std::string exr = images[image_id]["file_name"].get<std::string>();
      exr = exr.substr(0, exr.rfind('.')) + ".exr";
      int w = 0, h = 0;
      layers[image_id] = exr_instance_ids(root / exr, w, h);
      EXPECT_EQ(w, 64);
      EXPECT_EQ(h, 48);
    }
    const std::vector<uint32_t>& layer = layers[image_id];
    const uint32_t instance = ann["instance_id"].get<uint32_t>();
    size_t differing = 0;
    for (size_t p = 0; p < layer.size(); ++p)
      differing += (layer[p] == instance) != ((*mask)[p] == 1);
    EXPECT_EQ(differing, 0u) << "instance " << instance;
    if (ann["category_id"] == 1) with_people.insert(image_id);
    if (ann["category_id"] == 2 || ann["category_id"] == 3) ++counts.scene_annotations;
    if (!keypoints) continue;
    ++counts.people;
    EXPECT_EQ(ann["category_id"], 1);
    ASSERT_EQ(ann["keypoints"].size(), 51u);
    int labelled = 0;
    for (int k = 0; k < 17; ++k) {
      const double x = ann["keypoints"][3 * k].get<double>(),
                   y = ann["keypoints"][3 * k + 1].get<double>();
      const int v = ann["keypoints"][3 * k + 2].get<int>();
      EXPECT_TRUE(v == 0 || v == 1 || v == 2) << v;
      if (v == 0) continue;
      ++labelled;
      EXPECT_TRUE(x >= 0 && x < 64 && y >= 0 && y < 48)
          << "keypoint " << k << " at " << x << ", " << y;
    }
    EXPECT_EQ(ann["num_keypoints"], labelled);
  }
  counts.images_without_people = images.size() - with_people.size();
}

// The dataset card of a finished job: both files stored and listed in manifest.json like
// the annotation files, its counts those of the COCO person file (which annotates the
// people in view), and both served by the API as stored.
void check_dataset_card(const Farm& farm, const std::string& id, const CocoCounts& coco, size_t samples) {
  SCOPED_TRACE("dataset card");
  const auto root = farm.out_root() / id;
  const json manifest = json::parse(slurp(root / "manifest.json"));
  EXPECT_EQ(manifest["dataset_card"], (json{{"json", "dataset_card.json"}, {"html", "dataset_card.html"}}));
  std::map<std::string, json> objects;
  for (const json& o : manifest["objects"]) objects[o["key"].get<std::string>()] = o;
  for (const char* key : {"dataset_card.json", "dataset_card.html"}) {
    ASSERT_TRUE(objects.count(key)) << key << " is not in manifest.json";
    const std::string bytes = slurp(root / key);
    EXPECT_EQ(objects[key]["size"].get<uint64_t>(), bytes.size());
    EXPECT_EQ(objects[key]["sha256"].get<std::string>(), storage::sha256_hex(bytes));
  }
  const std::string text = slurp(root / "dataset_card.json");
  const json card = json::parse(text);
  const json& counts = card["counts"];
  EXPECT_EQ(counts["images"].get<size_t>(), coco.images);
  EXPECT_EQ(counts["images"], manifest["counts"]["images"]);
  EXPECT_EQ(counts["samples"].get<size_t>(), samples);
  EXPECT_EQ(counts["people_visible"].get<size_t>(), coco.people);
  EXPECT_GE(counts["people"].get<size_t>(), coco.people);
  EXPECT_EQ(counts["skipped_samples"], 0);
  const json& keypoints = counts["keypoints"];
  EXPECT_EQ(keypoints["visible"].get<size_t>() + keypoints["occluded"].get<size_t>() +
                keypoints["unlabelled"].get<size_t>(),
            17 * counts["people"].get<size_t>());
  EXPECT_EQ(card["name"], manifest["name"]);

  httplib::Client client(farm.url());
  client.set_bearer_token_auth(farm.token().c_str());
  auto served = client.Get("/api/jobs/" + id + "/card.json");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
  EXPECT_EQ(served->body, text);
  served = client.Get("/api/jobs/" + id + "/card.html");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
  EXPECT_EQ(served->get_header_value("Content-Type"), "text/html; charset=utf-8");
  // Its own policy in place of the dashboard's (which would refuse its inline CSS).
  EXPECT_EQ(served->get_header_value_count("Content-Security-Policy"), 1u);
  EXPECT_NE(served->get_header_value("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(served->body, slurp(root / "dataset_card.html"));
  EXPECT_EQ(served->body.find("<script"), std::string::npos);
}

TEST(EndToEnd, CocoFilesMatchTheRenderedMasksAndFetchVerifiesEveryObject) {
  Farm farm({.workers = 2, .threads = 1});
  const std::string people =
      "\nhumans:\n  count: {uniform_int: [0, 2]}\noutput:\n  layers: [rgb, instance]\n";
  std::string still = farm.submit(tiny_spec("coco", 8, 3, 1) + people);
  // The card is written when the job is finalized; until then the API has none.
  EXPECT_EQ(farm.get("/api/jobs/" + still + "/card.json").first, 404);
  std::string clip = farm.submit(tiny_spec("clip", 2, 1, 1) + people + "clip:\n  frames: 3\n");
  ASSERT_EQ(farm.wait(still)["state"], "done") << farm.logs();
  ASSERT_EQ(farm.wait(clip)["state"], "done") << farm.logs();

  for (const auto& [id, images] : {std::pair<std::string, size_t>{still, 8}, {clip, 6}}) {
    SCOPED_TRACE(id);
    const auto root = farm.out_root() / id;
    const json manifest = json::parse(slurp(root / "manifest.json"));
    std::map<std::string, json> objects;
    for (const json& o : manifest["objects"]) objects[o["key"].get<std::string>()] = o;
    for (const char* key :
         {"annotations/coco_person_keypoints.json", "annotations/instances.json"}) {
      ASSERT_TRUE(objects.count(key)) << key << " is not in manifest.json";
      const std::string bytes = slurp(root / key);
      EXPECT_EQ(objects[key]["size"].get<uint64_t>(), bytes.size());
      EXPECT_EQ(objects[key]["sha256"].get<std::string>(), storage::sha256_hex(bytes));
    }
    EXPECT_EQ(manifest["counts"]["images"], images);
    CocoCounts person, detection;
    check_coco_file(root, "annotations/coco_person_keypoints.json", true, person);
    check_coco_file(root, "annotations/instances.json", false, detection);
    EXPECT_EQ(person.images, images);
    EXPECT_EQ(detection.images, images);
    EXPECT_GT(detection.scene_annotations, 0u) << "floors and walls are labelled too";
    check_dataset_card(farm, id, person, id == still ? 8 : 2);
    if (id == still) {
      EXPECT_GT(person.people, 0u);
      EXPECT_GT(person.images_without_people, 0u)
          << "seed 7 draws no people for some of the 8 samples";
    } else {
      const json coco = json::parse(slurp(root / "annotations/coco_person_keypoints.json"));
      EXPECT_EQ(coco["images"][4]["file_name"], "samples/00000001.f001.png");
    }
  }

  // fetch: everything manifest.json lists, verified; again, nothing to download; a local
  // file damaged since is downloaded again.
  const auto dest = farm.dir() / "fetched";
  auto fetch = [&](const std::filesystem::path& dir) {
    return run_command({binary("synthfarm"), "--url", farm.url(), "fetch", still, dir.string()});
  };
  auto [code, output] = fetch(dest);
  ASSERT_EQ(code, 0) << output;
  const auto source = farm.out_root() / still;
  const json manifest = json::parse(slurp(source / "manifest.json"));
  for (const json& o : manifest["objects"]) {
    const std::string bytes = slurp(dest / o["key"].get<std::string>());
    EXPECT_EQ(storage::sha256_hex(bytes), o["sha256"].get<std::string>()) << o["key"];
  }
  EXPECT_EQ(slurp(dest / "manifest.json"), slurp(source / "manifest.json"));
  const size_t count = manifest["objects"].size();
  std::tie(code, output) = fetch(dest);
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("fetched 0 object(s)"), std::string::npos) << output;
  EXPECT_NE(output.find(std::to_string(count) + " already present"), std::string::npos) << output;
  std::ofstream(dest / "samples/00000001.png", std::ios::binary | std::ios::trunc) << "not a png";
  std::tie(code, output) = fetch(dest);
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("fetched 1 object(s)"), std::string::npos) << output;
  EXPECT_EQ(slurp(dest / "samples/00000001.png"), slurp(source / "samples/00000001.png"));

  // An object damaged in storage: named, exit 1, and no manifest.json in the copy.
  std::string exr = slurp(source / "samples/00000002.exr");
  exr[exr.size() / 2] ^= 0x5a;
  std::ofstream(source / "samples/00000002.exr", std::ios::binary | std::ios::trunc) << exr;
  const auto damaged = farm.dir() / "damaged";
  std::tie(code, output) = fetch(damaged);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("samples/00000002.exr: sha256 mismatch"), std::string::npos) << output;
  EXPECT_FALSE(std::filesystem::exists(damaged / "manifest.json"));
  EXPECT_FALSE(std::filesystem::exists(damaged / "samples/00000002.exr"));
  EXPECT_TRUE(std::filesystem::exists(damaged / "samples/00000003.exr"))
      << "the other objects are still fetched";

  auto [missing, message] = run_command({binary("synthfarm"), "--url", farm.url(), "fetch",
                                         "no-such-job", (farm.dir() / "none").string()});
  EXPECT_EQ(missing, 2) << message;
}

TEST(EndToEnd, FortySampleJobThroughTwoWorkers) {
  Farm farm({.workers = 2, .threads = 1});
  std::string id = farm.submit(tiny_spec("e2e", 40, 6));
  ASSERT_FALSE(id.empty());
  json job = farm.wait(id);
  ASSERT_EQ(job["state"], "done") << job.dump() << farm.logs();
  EXPECT_EQ(job["samples_done"], 40);
  EXPECT_EQ(job["shards_total"], 7) << "40 samples in shards of 6: the last is short";

  auto root = farm.out_root() / id;
  auto manifest = json::parse(slurp(root / "manifest.json"));
  EXPECT_EQ(manifest["counts"]["samples"], 40);
  std::set<std::string> keys;
  for (const auto& o : manifest["objects"]) {
    std::string key = o["key"];
    EXPECT_TRUE(keys.insert(key).second) << "listed twice: " << key;
    std::string bytes = slurp(root / key);
    EXPECT_EQ(bytes.size(), o["size"].get<uint64_t>()) << key;
    EXPECT_EQ(storage::sha256_hex(bytes), o["sha256"].get<std::string>()) << key;
  }
  for (int i = 0; i < 40; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "samples/%08d", i);
    for (const char* ext : {".exr", ".png", ".json"}) {
      EXPECT_TRUE(keys.count(std::string(name) + ext)) << name << ext << " missing from the manifest";
    }
    auto channels = exr_channels(root / (std::string(name) + ".exr"));
    std::set<std::string> expected = {"R", "G", "B", "depth.Z", "normal.X", "normal.Y", "normal.Z", "instance.id"};
    EXPECT_EQ(channels, expected) << name;
  }
  EXPECT_EQ(keys.size(), 40u * 3u + 4u) << "the samples, the two COCO files and the card's two";
  EXPECT_TRUE(keys.count("annotations/coco_person_keypoints.json"));
  EXPECT_TRUE(keys.count("annotations/instances.json"));
  EXPECT_TRUE(keys.count("dataset_card.json") && keys.count("dataset_card.html"));

  // The API and metrics agree with what happened.
  // Both workers are known from their heartbeats (one a second; the first may be sent
  // before the ZeroMQ connection is up, and is then dropped by design).
  json workers;
  for (int i = 0; i < 50; ++i) {
    auto [ws, body] = farm.get("/api/workers");
    EXPECT_EQ(ws, 200);
    workers = body;
    if (workers["workers"].size() == 2u) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(workers["workers"].size(), 2u) << workers.dump();
  for (const auto& w : workers["workers"]) EXPECT_TRUE(w["alive"].get<bool>()) << w.dump();
  auto [ms, metrics] = farm.get_raw("/metrics");
  EXPECT_EQ(ms, 200);
  EXPECT_NE(metrics.find("synthfarm_jobs{state=\"done\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("synthfarm_samples_completed_total 40"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("synthfarm_shards_pending 0"), std::string::npos) << metrics;
  auto [ps, png] = farm.get_raw("/api/jobs/" + id + "/samples/3.png");
  EXPECT_EQ(ps, 200);
  EXPECT_EQ(png.substr(1, 3), "PNG");

}

// The first `snapshot` event of GET /api/events, parsed; null if none came.
json first_snapshot(const Farm& farm) {
  httplib::Client client(farm.url());
  client.set_read_timeout(10, 0);
  client.set_bearer_token_auth(farm.token().c_str());
  std::string stream;
  client.Get("/api/events", [&](const char* data, size_t size) {
    stream.append(data, size);
    return stream.find("\n\n") == std::string::npos;  // one event is enough
  });
  const std::string prefix = "event: snapshot\ndata: ";
  if (stream.rfind(prefix, 0) != 0) return nullptr;
  return json::parse(stream.substr(prefix.size(), stream.find("\n\n") - prefix.size()), nullptr, false);
}

// /metrics and the dashboard's snapshot count jobs by state from the queue's counters,
// every state listed; a coordinator starting on a Redis without counters (jobs from
// before them) counts the job hashes once, to the same numbers.
TEST(Metrics, JobsByStateFromTheCountersAndRecountedOnARedisFromBeforeThem) {
  Farm farm({.workers = 0});
  farm.submit(tiny_spec("m-queued", 2, 1));
  std::string paused = farm.submit(tiny_spec("m-paused", 2, 1));
  std::string cancelled = farm.submit(tiny_spec("m-cancelled", 2, 1));
  ASSERT_EQ(farm.post("/api/jobs/" + paused + "/pause", "").first, 200);
  ASSERT_EQ(farm.post("/api/jobs/" + cancelled + "/cancel", "").first, 200);
  auto jobs_by_state = [&] {
    auto [code, metrics] = farm.get_raw("/metrics");
    EXPECT_EQ(code, 200);
    std::string lines;
    std::istringstream in(metrics);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("synthfarm_jobs{", 0) == 0) lines += line + "\n";
    }
    return lines;
  };
  const std::string expected =
      "synthfarm_jobs{state=\"cancelled\"} 1\nsynthfarm_jobs{state=\"done\"} 0\n"
      "synthfarm_jobs{state=\"failed\"} 0\nsynthfarm_jobs{state=\"finalizing\"} 0\n"
      "synthfarm_jobs{state=\"partial\"} 0\nsynthfarm_jobs{state=\"paused\"} 1\n"
      "synthfarm_jobs{state=\"queued\"} 1\nsynthfarm_jobs{state=\"running\"} 0\n";
  EXPECT_EQ(jobs_by_state(), expected);
  json snapshot = first_snapshot(farm);
  ASSERT_TRUE(snapshot.is_object()) << snapshot.dump();
  EXPECT_EQ(snapshot["jobs"].size(), 3u);
  EXPECT_EQ(snapshot["totals"]["jobs_by_state"],
            json({{"cancelled", 1}, {"done", 0}, {"failed", 0}, {"finalizing", 0}, {"partial", 0}, {"paused", 1},
                  {"queued", 1}, {"running", 0}}))
      << snapshot["totals"].dump();

  // The Redis of a farm from before the counters: the same job hashes, no counters.
  auto [code, deleted] =
      run_command({"redis-cli", "-p", std::to_string(farm.redis()->port()), "DEL", "sf:stats:jobs_by_state"});
  ASSERT_EQ(code, 0) << deleted;
  ASSERT_EQ(deleted.substr(0, 1), "1") << deleted;
  farm.restart_coordinator();
  EXPECT_EQ(jobs_by_state(), expected) << farm.logs();
  EXPECT_NE(slurp(farm.dir() / "coordinator.log").find("counted 3 job(s) per state"), std::string::npos)
      << farm.logs();
}

TEST(EndToEnd, FarmAndLocalRenderAreByteIdenticalAtAnyThreadCount) {
  Farm farm({.workers = 1, .threads = 2});
  std::string spec = tiny_spec("det", 6, 4, 3);
  auto spec_path = farm.dir() / "spec.yaml";
  std::ofstream(spec_path) << spec;
  std::string id = farm.submit(spec);
  ASSERT_EQ(farm.wait(id)["state"], "done") << farm.logs();
  for (int threads : {1, 2}) {
    auto local = farm.dir() / ("local-" + std::to_string(threads));
    auto [code, output] = run_command({binary("synthfarm"), "render", "--local", spec_path.string(), "--out",
                                       local.string(), "--samples", "2:6", "--threads", std::to_string(threads)});
    ASSERT_EQ(code, 0) << output;
    for (int i = 2; i < 6; ++i) {
      for (const char* ext : {"exr", "png", "json"}) {
        char key[40];
        std::snprintf(key, sizeof key, "samples/%08d.%s", i, ext);
        std::string farm_bytes = slurp(farm.out_root() / id / key);
        ASSERT_FALSE(farm_bytes.empty()) << key;
        EXPECT_EQ(farm_bytes, slurp(local / key)) << key << " differs with " << threads << " thread(s)";
      }
    }
  }
}

TEST(EndToEnd, BadSpecsAreRejectedWithFieldAndLineAndNothingIsQueued) {
  Farm farm({.workers = 0});
  auto [status, body] = farm.post("/api/jobs", "name: bad\nsamples: 10\ncamera:\n  resolution: [0, 480]\n");
  EXPECT_EQ(status, 400);
  ASSERT_TRUE(body.contains("errors")) << body.dump();
  EXPECT_EQ(body["errors"][0]["path"], "camera.resolution[0]");
  EXPECT_EQ(body["errors"][0]["line"], 4);
  auto [s2, b2] = farm.post("/api/jobs", "name: bad\nsamples: [oops\n");
  EXPECT_EQ(s2, 400) << b2.dump();
  auto [s3, b3] = farm.post("/api/jobs", R"({"name": "bad", "samples": 5, "outptu": {}})", "application/json");
  EXPECT_EQ(s3, 400);
  EXPECT_EQ(b3["errors"][0]["path"], "outptu");
  auto [ls, list] = farm.get("/api/jobs");
  EXPECT_EQ(ls, 200);
  EXPECT_TRUE(list["jobs"].empty()) << "nothing was queued: " << list.dump();

  // The CLI says the same, with the file name, and exits 2.
  auto spec_path = farm.dir() / "bad.yaml";
  std::ofstream(spec_path) << "name: bad\nsamples: 0\n";
  auto [code, output] = run_command({binary("synthfarm"), "--url", farm.url(), "submit", spec_path.string()});
  EXPECT_EQ(code, 2) << output;
  EXPECT_NE(output.find("bad.yaml:2"), std::string::npos) << output;
  EXPECT_NE(output.find("samples"), std::string::npos) << output;
}

TEST(EndToEnd, CliSubmitsAndWaitsWithAProgressBar) {
  Farm farm({.workers = 2, .threads = 1});
  auto spec_path = farm.dir() / "job.yaml";
  std::ofstream(spec_path) << tiny_spec("cli", 8, 2);
  auto [code, output] = run_command({binary("synthfarm"), "--url", farm.url(), "submit", spec_path.string()});
  ASSERT_EQ(code, 0) << output;
  std::string id = output.substr(0, output.find('\n'));
  auto [wcode, progress] = run_command({binary("synthfarm"), "--url", farm.url(), "wait", id, "--timeout", "240"});
  EXPECT_EQ(wcode, 0) << progress << farm.logs();
  EXPECT_NE(progress.find("8/8 samples"), std::string::npos) << progress;
  EXPECT_NE(progress.find("samples/s"), std::string::npos) << progress;
  auto [scode, status] = run_command({binary("synthfarm"), "--url", farm.url(), "status"});
  EXPECT_EQ(scode, 0);
  EXPECT_NE(status.find(id), std::string::npos) << status;
}

TEST(EndToEnd, SigtermFinishesTheSampleReturnsTheShardAndExitsZero) {
  Farm farm({.workers = 1, .threads = 1});
  // Slow enough samples that the worker is mid-shard when the signal comes.
  std::string id = farm.submit("name: slow\nsamples: 6\nshard_size: 6\ncamera:\n  resolution: [160, 120]\n"
                               "render:\n  spp: 64\n");
  auto& worker = *farm.workers()[0];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && worker.log().find("shard " + id) == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  worker.signal(SIGTERM);
  auto status = worker.wait(std::chrono::seconds(60));
  ASSERT_TRUE(status.has_value()) << "worker did not stop\n" << worker.log();
  EXPECT_EQ(*status, 0) << worker.log();
  EXPECT_NE(worker.log().find("returned to the queue"), std::string::npos) << worker.log();
  // The shard is back in the queue, and another worker finishes the job.
  auto [s, job] = farm.get("/api/jobs/" + id);
  EXPECT_EQ(job["shards_done"], 0);
  auto other = farm.start_worker();
  EXPECT_EQ(farm.wait(id)["state"], "done") << other->log();
}

TEST(EndToEnd, ProcessesWaitForAnUnreachableRedisAndCarryOn) {
  int redis_port = free_tcp_port();
  TempDir dir;
  std::string redis_url = "redis://127.0.0.1:" + std::to_string(redis_port);
  int http_port = free_tcp_port();
  std::string telemetry = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  std::string control = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  auto coordinator = ChildProcess::spawn({binary("synthfarm-coordinator"), "--redis", redis_url, "--listen",
                                          "127.0.0.1:" + std::to_string(http_port), "--telemetry", telemetry,
                                          "--control", control, "--auth", "off",
                                          "--storage-root", "file://" + (dir.path() / "out").string()},
                                         dir.path() / "coordinator.log");
  auto worker = ChildProcess::spawn({binary("synthfarm-worker"), "--redis", redis_url, "--coordinator", telemetry, "--control", control,
                                     "--threads", "1"},
                                    dir.path() / "worker.log");
  ASSERT_TRUE(wait_for_tcp(http_port, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_TRUE(coordinator->running()) << coordinator->log();
  EXPECT_TRUE(worker->running()) << worker->log();
  EXPECT_NE(worker->log().find("unreachable"), std::string::npos) << worker->log();
  EXPECT_NE(coordinator->log().find("127.0.0.1:" + std::to_string(redis_port)), std::string::npos);
  // Redis comes up on that port: the same processes go on and finish a job.
  auto redis = RedisServer::start({}, redis_port);
  auto spec_path = dir.path() / "job.yaml";
  std::ofstream(spec_path) << tiny_spec("late", 2, 1);
  std::string url = "http://127.0.0.1:" + std::to_string(http_port);
  std::pair<int, std::string> submitted;
  for (int i = 0; i < 50; ++i) {
    submitted = run_command({binary("synthfarm"), "--url", url, "submit", spec_path.string()});
    if (submitted.first == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(submitted.first, 0) << submitted.second;
  std::string id = submitted.second.substr(0, submitted.second.find('\n'));
  auto [code, out] = run_command({binary("synthfarm"), "--url", url, "wait", id, "--timeout", "120"});
  EXPECT_EQ(code, 0) << out << worker->log();
}

}  // namespace
}  // namespace synthfarm::testing

namespace synthfarm::testing {
namespace {

TEST(EndToEnd, CoordinatorRefusesARedisThatMayEvictKeys) {
  auto redis = RedisServer::start({"--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"});
  TempDir dir;
  auto coordinator = ChildProcess::spawn(
      {binary("synthfarm-coordinator"), "--redis", redis->url(), "--listen",
       "127.0.0.1:" + std::to_string(free_tcp_port()), "--telemetry",
       "tcp://127.0.0.1:" + std::to_string(free_tcp_port()), "--storage-root", "file://" + dir.path().string()},
      dir.path() / "coordinator.log");
  auto status = coordinator->wait(std::chrono::seconds(20));
  ASSERT_TRUE(status.has_value()) << "it must refuse to start\n" << coordinator->log();
  EXPECT_EQ(*status, 1);
  EXPECT_NE(coordinator->log().find("maxmemory-policy allkeys-lru"), std::string::npos) << coordinator->log();
  EXPECT_NE(coordinator->log().find("noeviction"), std::string::npos) << coordinator->log();
}

// Cancelling a job whose sample takes seconds to render: the coordinator's control
// message (ZeroMQ) stops the render mid-sample and the worker is idle within 2 s. With the
// control socket unreachable, the refused lease renewal (Redis) does the same.
void cancel_drops_the_shard_mid_sample(bool worker_control) {
  Farm farm({.workers = 1, .threads = 1, .worker_control = worker_control});
  std::string id = farm.submit("name: slow\nsamples: 3\nshard_size: 3\ncamera:\n  resolution: [640, 480]\n"
                               "render:\n  spp: 2048\n");
  auto worker_state = [&] {
    auto workers = farm.get("/api/workers").second["workers"];
    return workers.empty() ? std::string() : workers[0]["state"].get<std::string>();
  };
  auto wait_until = [&](auto pred, double seconds) {
    for (int i = 0; i < seconds * 50 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return pred();
  };
  ASSERT_TRUE(wait_until([&] { return worker_state() == "rendering"; }, 30)) << farm.logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // well into the first sample
  auto cancelled_at = std::chrono::steady_clock::now();
  ASSERT_EQ(farm.post("/api/jobs/" + id + "/cancel", "").first, 200);
  ASSERT_TRUE(wait_until([&] { return worker_state() == "idle"; }, 10)) << farm.logs();
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - cancelled_at).count();
  std::printf("cancel -> worker idle in %.2f s\n", took);
  EXPECT_LT(took, 2.0) << "the worker kept the cancelled job's shard for " << took << " s\n" << farm.logs();
  const std::string log = farm.workers()[0]->log();
  if (worker_control) {
    EXPECT_NE(log.find("cancelled (control message)"), std::string::npos) << log;
    EXPECT_NE(log.find("job cancelled; shard dropped"), std::string::npos) << log;
  } else {
    EXPECT_NE(log.find("lost: another worker holds it, or the job was cancelled"), std::string::npos) << log;
    EXPECT_NE(log.find("dropping it"), std::string::npos) << log;
  }
  // The sample in progress was interrupted: nothing of the job was stored.
  int stored = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(farm.out_root())) {
    stored += entry.path().extension() == ".exr" ? 1 : 0;
  }
  EXPECT_EQ(stored, 0) << farm.logs();
}

// A spec pointing at a truncated BVH clip: the shard fails cleanly with a message naming
// the file and the line, the job fails, nothing of it is stored, the worker lives on.
TEST(EndToEnd, ABrokenMocapClipFailsTheShardCleanly) {
  Farm farm({.workers = 1, .threads = 1});
  const auto clip = farm.dir() / "walk.bvh";
  std::ofstream(clip) << "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n"
                         "  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
                         "  End Site\n  {\n    OFFSET 0 10 0\n  }\n}\nMOTION\nFrames: 3\nFrame Time: 0.04\n"
                         "0 0 0 0 0 0\n0 0 0 0\n";
  std::string id = farm.submit("name: mocap\nsamples: 4\nshard_size: 4\nmax_attempts: 1\ncamera:\n"
                               "  resolution: [64, 48]\nrender: {spp: 1}\nhumans:\n  motion: bvh\n"
                               "  bvh: [file://" + clip.string() + "]\n");
  auto job = farm.wait(id, std::chrono::seconds(60));
  EXPECT_EQ(job["state"], "failed") << job;
  const std::string error = job["error"];
  EXPECT_NE(error.find("humans.bvh[0]: walk.bvh:15: frame 1 has 4 values, expected 6"), std::string::npos) << error;
  int stored = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(farm.out_root())) {
    stored += entry.path().extension() == ".exr" || entry.path().extension() == ".json" ? 1 : 0;
  }
  EXPECT_EQ(stored, 4) << "only manifest.json, the two COCO files and the dataset card (no images), no sample";
  EXPECT_TRUE(farm.workers()[0]->running()) << farm.logs();
}

// A character file without a skin (a static scene written by `synthfarm export-scene`):
// the shard fails cleanly with a message naming the field, the file and the problem.
TEST(EndToEnd, ACharacterWithoutASkinFailsTheShardCleanly) {
  Farm farm({.workers = 1, .threads = 1});
  const auto spec_path = farm.dir() / "still.yaml";
  std::ofstream(spec_path) << "name: still\nsamples: 1\ncamera:\n  resolution: [64, 48]\n";
  const auto glb = farm.dir() / "statue.glb";
  auto [status, output] = run_command({binary("synthfarm"), "export-scene", spec_path.string(), "--sample", "0",
                                       "-o", glb.string()});
  ASSERT_EQ(status, 0) << output;
  std::string id = farm.submit("name: statue\nsamples: 4\nshard_size: 4\nmax_attempts: 1\ncamera:\n"
                               "  resolution: [64, 48]\nrender: {spp: 1}\nhumans:\n  body: character\n"
                               "  characters: [file://" + glb.string() + "]\n");
  auto job = farm.wait(id, std::chrono::seconds(60));
  EXPECT_EQ(job["state"], "failed") << job;
  const std::string error = job["error"];
  EXPECT_NE(error.find("humans.characters[0]: statue.glb: no skinned mesh"), std::string::npos) << error;
  int stored = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(farm.out_root())) {
    stored += entry.path().extension() == ".exr" || entry.path().extension() == ".json" ? 1 : 0;
  }
  EXPECT_EQ(stored, 4) << "only manifest.json, the two COCO files and the dataset card (no images), no sample";
  EXPECT_TRUE(farm.workers()[0]->running()) << farm.logs();
}

TEST(EndToEnd, CancelReachesTheWorkerOverZeroMqMidSample) { cancel_drops_the_shard_mid_sample(true); }

TEST(EndToEnd, CancelFallsBackToTheRefusedLeaseRenewal) { cancel_drops_the_shard_mid_sample(false); }

TEST(EndToEnd, PauseResumeCancelRetryAndDeleteFromTheCli) {
  Farm farm({.workers = 1, .threads = 1});
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {binary("synthfarm"), "--url", farm.url()});
    return run_command(args);
  };
  auto spec_path = farm.dir() / "job.yaml";
  std::ofstream(spec_path) << "name: ctl\nsamples: 40\nshard_size: 1\ncamera:\n  resolution: [160, 120]\n"
                              "render:\n  spp: 16\n";
  auto [code, out] = cli({"submit", spec_path.string()});
  ASSERT_EQ(code, 0) << out;
  std::string id = out.substr(0, out.find('\n'));
  auto job = [&] { return farm.get("/api/jobs/" + id).second; };
  auto worker_state = [&] {
    auto workers = farm.get("/api/workers").second["workers"];
    return workers.empty() ? std::string() : workers[0]["state"].get<std::string>();
  };
  auto wait_until = [&](auto pred, int seconds) {
    for (int i = 0; i < seconds * 20 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return pred();
  };
  ASSERT_TRUE(wait_until([&] { return job()["shards_done"].get<int>() >= 1; }, 60)) << farm.logs();

  // Pause: the shard in flight finishes, then nothing more is handed out.
  auto [pcode, pout] = cli({"pause", id});
  ASSERT_EQ(pcode, 0) << pout;
  EXPECT_NE(pout.find("paused"), std::string::npos);
  // A heartbeat may still say "idle" from between two shards: let the shard in flight end.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_TRUE(wait_until([&] { return worker_state() == "idle"; }, 10)) << farm.logs();
  int done_while_paused = job()["shards_done"];
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(job()["shards_done"], done_while_paused) << "a paused job hands out no shards";
  EXPECT_EQ(cli({"pause", id}).first, 2) << "pausing twice is refused";

  // Resume: work goes on.
  ASSERT_EQ(cli({"resume", id}).first, 0);
  ASSERT_TRUE(wait_until([&] { return job()["shards_done"].get<int>() > done_while_paused; }, 30)) << farm.logs();

  // Cancel: the worker drops the job within about a second (its next lease renewal).
  ASSERT_TRUE(wait_until([&] { return worker_state() == "rendering"; }, 10));
  auto cancelled_at = std::chrono::steady_clock::now();
  auto [ccode, cout_] = cli({"cancel", id});
  ASSERT_EQ(ccode, 0) << cout_;
  ASSERT_TRUE(wait_until([&] { return worker_state() == "idle"; }, 10)) << farm.logs();
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - cancelled_at).count();
  EXPECT_LT(took, 2.5) << "the worker kept the cancelled job's shard for " << took << " s";
  EXPECT_EQ(job()["state"], "cancelled");
  EXPECT_EQ(cli({"resume", id}).first, 2) << "a cancelled job cannot be resumed";

  // Delete: the job and its queue entries are gone.
  ASSERT_EQ(cli({"delete", id}).first, 0);
  EXPECT_EQ(farm.get("/api/jobs/" + id).first, 404);
  auto [mcode, metrics] = farm.get_raw("/metrics");
  EXPECT_NE(metrics.find("synthfarm_shards_pending 0"), std::string::npos) << metrics;
}

TEST(EndToEnd, ACrashingSampleIsRetriedThenDeadLetteredAndTheRestIsDelivered) {
  Farm farm({.workers = 1, .threads = 1, .worker_env = {{"SYNTHFARM_TEST_FAULT", "throw-on-sample=3"}}});
  std::string id = farm.submit("name: poison\nsamples: 8\nshard_size: 2\nmax_attempts: 2\n"
                               "camera:\n  resolution: [32, 24]\nrender:\n  spp: 1\n");
  json job = farm.wait(id, std::chrono::seconds(120));
  EXPECT_EQ(job["state"], "failed") << job.dump();
  EXPECT_EQ(job["shards_done"], 3);
  EXPECT_EQ(job["shards_failed"], 1);
  EXPECT_NE(job["error"].get<std::string>().find("shard 1"), std::string::npos) << job.dump();
  ASSERT_EQ(job["dead_shards"].size(), 1u) << job.dump();
  EXPECT_EQ(job["dead_shards"][0]["attempts"], 2);
  EXPECT_NE(job["dead_shards"][0]["error"].get<std::string>().find("sample 3"), std::string::npos);
  // The dead letter keeps the tail of the failing worker's log.
  EXPECT_NE(job["dead_shards"][0]["log_tail"].get<std::string>().find("test fault"), std::string::npos)
      << job["dead_shards"][0].dump();
  // The dataset of the completed shards is written and says what is missing.
  auto manifest = json::parse(slurp(farm.out_root() / id / "manifest.json"));
  EXPECT_EQ(manifest["complete"], false);
  EXPECT_EQ(manifest["counts"]["samples"], 6);
  ASSERT_EQ(manifest["missing"].size(), 1u);
  EXPECT_EQ(manifest["missing"][0]["shard"], 1);
  // The COCO files list the delivered samples only.
  EXPECT_EQ(manifest["counts"]["images"], 6);
  EXPECT_EQ(json::parse(slurp(farm.out_root() / id / "annotations/instances.json"))["images"].size(), 6u);
}

}  // namespace
}  // namespace synthfarm::testing
