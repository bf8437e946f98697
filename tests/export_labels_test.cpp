// `synthfarm export-labels` on a real farm: a small job rendered once in each storage
// layout (a file per object, and webdataset tars) and exported in every format. The
// counts agree with the dataset's COCO person file, coco is the dataset's files byte for
// byte, and both layouts give the same export; a clip's frames go to their sample's split.
// Bad input (an unknown format, a job still running, an OUT that cannot be written) fails
// with an error that names it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;

// Regular files under `root`, relative path -> bytes.
std::map<std::string, std::string> files_under(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file())
      out[entry.path().lexically_relative(root).generic_string()] = slurp(entry.path());
  }
  return out;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, separator)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// 8 samples of 96 x 72 with people, the part and uv layers and PNG previews.
std::string spec(const std::string& format, int samples = 8) {
  return "name: export-labels\nsamples: " + std::to_string(samples) +
         "\nshard_size: 3\nseed: 5\noutput:\n  format: " + format +
         "\n  layers: [rgb, instance, part, uv]\n  preview: true\n  labels: [sample_json, coco]\n"
         "camera:\n  resolution: [96, 72]\nrender:\n  spp: 1\n  max_bounces: 1\nhumans:\n  count: "
         "{uniform_int: [2, 3]}\n";
}

std::pair<int, std::string> export_labels(const Farm& farm, const std::string& job,
                                          const std::string& format, const fs::path& out,
                                          const std::vector<std::string>& more = {}) {
  std::vector<std::string> argv = {binary("synthfarm"), "--url", farm.url(),  "export-labels", job,
                                   "--format",          format,  out.string()};
  argv.insert(argv.end(), more.begin(), more.end());
  return run_command(argv, seconds(120));
}

using Exports =
    std::map<std::string, std::map<std::string, std::string>>;  // format -> file -> bytes

// Exports one job in every format into `dir` and checks each against the job's COCO person
// file and the sample files under `samples_root` (a files-layout dataset of the same spec);
// `out` receives each format's files.
void export_every_format(const Farm& farm, const std::string& job, const fs::path& samples_root,
                         const fs::path& dir, Exports& out) {
  const fs::path dataset = farm.out_root() / job;
  const json coco = json::parse(slurp(dataset / "annotations/coco_person_keypoints.json"));
  std::map<uint64_t, const json*> images;                     // image id -> image
  std::map<std::string, std::vector<const json*>> people_of;  // file name -> its annotations
  for (const json& image : coco["images"]) images[image["id"].get<uint64_t>()] = &image;
  for (const json& a : coco["annotations"]) {
    people_of[images.at(a["image_id"].get<uint64_t>())->at("file_name").get<std::string>()]
        .push_back(&a);
  }
  for (const std::string format : {"yolo-pose", "yolo-seg", "coco", "densepose"}) {
    auto [code, log] = export_labels(farm, job, format, dir / format, {"--val-fraction", "0.25"});
    EXPECT_EQ(code, 0) << format << ": " << log;
    std::cout << "[export-labels] " << log;
    out[format] = files_under(dir / format);
  }

  // YOLO: one label file per COCO image, beside its image, in the split of its sample
  // (0.25: samples 3 and 7 in val), one line per COCO person annotation.
  for (const std::string format : {"yolo-pose", "yolo-seg"}) {
    const auto& files = out[format];
    size_t label_files = 0, lines = 0;
    for (const auto& [id, image] : images) {
      const std::string file_name = image->at("file_name");  // samples/0000000N.png
      const std::string name = fs::path(file_name).stem().string();
      const uint64_t sample = image->at("sample");
      const std::string part = sample == 3 || sample == 7 ? "val" : "train";
      ASSERT_TRUE(files.count("images/" + part + "/" + name + ".png")) << format << " " << name;
      EXPECT_TRUE(files.at("images/" + part + "/" + name + ".png") ==
                  slurp(samples_root / file_name))
          << file_name;
      const std::string label_key = "labels/" + part + "/" + name + ".txt";
      ASSERT_TRUE(files.count(label_key)) << format << " " << label_key;
      ++label_files;
      const auto rows = split(files.at(label_key), '\n');
      const auto& people = people_of[file_name];
      ASSERT_EQ(rows.size(), people.size()) << format << " " << label_key;
      lines += rows.size();
      const double w = image->at("width"), h = image->at("height");
      for (size_t p = 0; p < rows.size(); ++p) {
        const auto fields = split(rows[p], ' ');
        const json& a = *people[p];
        EXPECT_EQ(fields[0], "0");
        if (format == "yolo-pose") {
          ASSERT_EQ(fields.size(), 5u + 51u) << rows[p];
          const json& box = a["bbox"];
          EXPECT_NEAR(std::stod(fields[1]), (box[0].get<double>() + box[2].get<double>() / 2) / w,
                      1e-6);
          EXPECT_NEAR(std::stod(fields[4]), box[3].get<double>() / h, 1e-6);
          for (size_t k = 0; k < 17; ++k) {
            EXPECT_NEAR(std::stod(fields[5 + 3 * k]), a["keypoints"][3 * k].get<double>() / w,
                        1e-6);
            EXPECT_EQ(std::stod(fields[7 + 3 * k]), a["keypoints"][3 * k + 2].get<double>());
          }
        } else {
          // An outline along pixel edges holds at least the mask's pixels (more where a
          // hole is left out) and no more than its box (up to the six decimals' rounding).
          ASSERT_EQ(fields.size() % 2, 1u);
          ASSERT_GE(fields.size(), 9u) << rows[p];
          double twice_area = 0;
          const size_t n = (fields.size() - 1) / 2;
          for (size_t i = 0; i < n; ++i) {
            const size_t j = (i + 1) % n;
            twice_area += std::stod(fields[1 + 2 * i]) * w * std::stod(fields[2 + 2 * j]) * h -
                          std::stod(fields[1 + 2 * j]) * w * std::stod(fields[2 + 2 * i]) * h;
          }
          EXPECT_GE(twice_area / 2, a["area"].get<double>() - 0.5) << rows[p];
          EXPECT_LE(twice_area / 2, a["bbox"][2].get<double>() * a["bbox"][3].get<double>() + 0.5)
              << rows[p];
        }
      }
    }
    EXPECT_EQ(label_files, coco["images"].size()) << format;
    EXPECT_EQ(lines, coco["annotations"].size()) << format;
    EXPECT_GT(lines, 0u);
    EXPECT_TRUE(files.count("data.yaml"));
  }

  // COCO: the dataset's two files, byte for byte, and the images they name.
  for (const char* key : {"annotations/coco_person_keypoints.json", "annotations/instances.json"}) {
    EXPECT_EQ(out["coco"].at(key), slurp(dataset / key)) << key;
  }
  EXPECT_EQ(out["coco"].size(), 2 + coco["images"].size());
  for (const json& image : coco["images"]) {
    const std::string file_name = image["file_name"];
    EXPECT_TRUE(out["coco"].count(file_name) &&
                out["coco"].at(file_name) == slurp(samples_root / file_name))
        << file_name;
  }

  // DensePose: the COCO person file with dp_* fields added, none changed; points inside
  // the 256 x 256 box, fine parts 1..24, 14 coarse masks.
  json densepose = json::parse(out["densepose"].at("annotations/densepose.json"));
  EXPECT_EQ(densepose["images"], coco["images"]);
  EXPECT_EQ(out["densepose"].size(), 1 + coco["images"].size());
  ASSERT_EQ(densepose["annotations"].size(), coco["annotations"].size());
  size_t with_points = 0;
  for (size_t a = 0; a < densepose["annotations"].size(); ++a) {
    json annotation = densepose["annotations"][a];
    if (annotation.contains("dp_I")) {
      ++with_points;
      const size_t n = annotation["dp_I"].size();
      EXPECT_GE(n, 1u);
      EXPECT_LE(n, 100u);
      for (const char* field : {"dp_x", "dp_y", "dp_U", "dp_V"})
        EXPECT_EQ(annotation[field].size(), n) << field;
      for (size_t i = 0; i < n; ++i) {
        EXPECT_GE(annotation["dp_I"][i].get<int>(), 1);
        EXPECT_LE(annotation["dp_I"][i].get<int>(), 24);
        EXPECT_GE(annotation["dp_x"][i].get<double>(), 0);
        EXPECT_LE(annotation["dp_x"][i].get<double>(), 256);
        EXPECT_GE(annotation["dp_y"][i].get<double>(), 0);
        EXPECT_LE(annotation["dp_y"][i].get<double>(), 256);
      }
      EXPECT_EQ(annotation["dp_masks"].size(), 14u);
    }
    for (const char* field : {"dp_x", "dp_y", "dp_I", "dp_U", "dp_V", "dp_masks"})
      annotation.erase(field);
    EXPECT_EQ(annotation, coco["annotations"][a]);
  }
  EXPECT_GT(with_points, 0u);
}

TEST(ExportLabels, EveryFormatAgreesWithTheDatasetsCocoInBothLayouts) {
  Farm farm({.workers = 2});
  const std::string files_job = farm.submit(spec("files"));
  const std::string tars_job = farm.submit(spec("webdataset"));
  ASSERT_EQ(farm.wait(files_job)["state"], "done") << farm.logs();
  ASSERT_EQ(farm.wait(tars_job)["state"], "done") << farm.logs();
  TempDir dir;
  Exports from_files, from_tars;
  const fs::path samples_root = farm.out_root() / files_job;
  export_every_format(farm, files_job, samples_root, dir.path() / "files", from_files);
  export_every_format(farm, tars_job, samples_root, dir.path() / "tars", from_tars);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  // The same export from either layout: every file byte for byte, but data.yaml's path (its
  // own directory) and the COCO files' info (which names the job).
  for (const auto& [format, files] : from_files) {
    ASSERT_EQ(from_tars.at(format).size(), files.size()) << format;
    for (const auto& [key, bytes] : files) {
      const std::string& other = from_tars.at(format).at(key);
      if (key == "data.yaml") {
        EXPECT_NE(bytes.find("path: " + (dir.path() / "files" / format).string()),
                  std::string::npos)
            << bytes;
        EXPECT_EQ(bytes.substr(bytes.find("\ntrain:")), other.substr(other.find("\ntrain:")));
      } else if (key.ends_with(".json")) {
        json a = json::parse(bytes), b = json::parse(other);
        EXPECT_EQ(a["info"]["job"], files_job);
        EXPECT_EQ(b["info"]["job"], tars_job);
        a.erase("info");
        b.erase("info");
        EXPECT_EQ(a, b) << format << " " << key;
      } else {
        EXPECT_TRUE(bytes == other) << format << " " << key;
      }
    }
  }
}

TEST(ExportLabels, AClipsFramesGoToTheSplitOfTheirSample) {
  Farm farm({.workers = 1});
  const std::string job = farm.submit(spec("files", 4) + "clip:\n  frames: 2\n");
  ASSERT_EQ(farm.wait(job)["state"], "done") << farm.logs();
  TempDir dir;
  auto [code, log] =
      export_labels(farm, job, "yolo-pose", dir.path() / "pose", {"--val-fraction", "0.25"});
  ASSERT_EQ(code, 0) << log;
  // 0.25 of samples 0..3: sample 3, both its frames; each frame's labels beside its image.
  std::set<std::string> keys;
  for (const auto& [key, bytes] : files_under(dir.path() / "pose")) keys.insert(key);
  std::set<std::string> expected = {"data.yaml"};
  for (int sample = 0; sample < 4; ++sample) {
    for (int frame = 0; frame < 2; ++frame) {
      const std::string split = sample == 3 ? "val" : "train";
      const std::string name = "0000000" + std::to_string(sample) + ".f00" + std::to_string(frame);
      expected.insert("images/" + split + "/" + name + ".png");
      expected.insert("labels/" + split + "/" + name + ".txt");
    }
  }
  EXPECT_EQ(keys, expected);
  // One line per person of each frame in the COCO file (whose images are the frames).
  const json coco =
      json::parse(slurp(farm.out_root() / job / "annotations/coco_person_keypoints.json"));
  ASSERT_EQ(coco["images"].size(), 8u);
  size_t lines = 0;
  for (const std::string& key : keys) {
    if (key.starts_with("labels/")) lines += split(slurp(dir.path() / "pose" / key), '\n').size();
  }
  EXPECT_EQ(lines, coco["annotations"].size());
}

TEST(ExportLabels, BadInputIsNamed) {
  Farm farm({.workers = 1});
  TempDir dir;
  // Unknown format (refused before the coordinator is asked).
  auto [code, out] = export_labels(farm, "no-such-job", "yolo-posex", dir.path() / "a");
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("yolo-posex"), std::string::npos) << out;

  // A job that has not ended: 2000 samples do not render in the moment this takes.
  const std::string running = farm.submit(spec("files", 2000));
  std::tie(code, out) = export_labels(farm, running, "coco", dir.path() / "b");
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("only a job that has ended can be exported"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir.path() / "b"));
  EXPECT_EQ(farm.post("/api/jobs/" + running + "/cancel", "").first, 200);

  const std::string job = farm.submit(spec("files", 2));
  ASSERT_EQ(farm.wait(job)["state"], "done") << farm.logs();
  // OUT below a regular file: it cannot be made.
  std::ofstream(dir.path() / "plain-file") << "x";
  std::tie(code, out) = export_labels(farm, job, "yolo-pose", dir.path() / "plain-file" / "out");
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(
      out.find((dir.path() / "plain-file" / "out").string() + ": cannot create the directory"),
      std::string::npos)
      << out;
  // OUT not empty.
  std::tie(code, out) = export_labels(farm, job, "yolo-pose", dir.path());
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("not empty"), std::string::npos) << out;
  // --val-fraction outside 0..1.
  std::tie(code, out) =
      export_labels(farm, job, "yolo-pose", dir.path() / "c", {"--val-fraction", "1.5"});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--val-fraction"), std::string::npos) << out;
}

}  // namespace
}  // namespace synthfarm::testing
