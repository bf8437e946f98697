// `synthfarm export-labels JOB --format F OUT`: a finished job's labels in the files the
// common trainers read (docs/export.md). The dataset is read only through dataset/, so the
// output is the same whatever output.format stored it as (a file per object, or tars);
// OUT is written through storage/'s file store (each file whole or not at all).
//
//   yolo-pose, yolo-seg  images/{train,val}/NAME.png|jpg, labels/{train,val}/NAME.txt,
//                        data.yaml (yolo_labels.h); from the per-sample JSONs
//   coco                 annotations/coco_person_keypoints.json and instances.json as the
//                        dataset has them, byte for byte, and the images they name
//   densepose            annotations/densepose.json: the COCO person file with dp_* fields
//                        from each image's EXR (densepose_labels.h), and the images
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/densepose_labels.h"
#include "cli/job_store.h"
#include "cli/person_labels.h"
#include "cli/yolo_labels.h"
#include "dataset/dataset_reader.h"
#include "render/image_io.h"
#include "storage/object_store.h"

namespace synthfarm::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kMaxExrSide = 65536;

struct Counts {
  uint64_t images = 0, val_images = 0, people = 0, densepose_people = 0;
};

// "samples/00000042.f003.json" -> "samples/00000042.f003"
std::string stem_of(const std::string& key) { return key.substr(0, key.rfind('.')); }
// "samples/00000042.f003" -> "00000042.f003"
std::string base_of(const std::string& key) { return key.substr(key.rfind('/') + 1); }

bool is_sample_json(const std::string& key) {
  return key.starts_with("samples/") && key.ends_with(".json");
}

tl::expected<void, std::string> copy(const dataset::Dataset& data, storage::ObjectStore& out,
                                     const std::string& key, const std::string& dest) {
  auto bytes = data.read(key);
  if (!bytes) return tl::unexpected(bytes.error());
  if (auto put = out.put(dest, *bytes); !put) return tl::unexpected(put.error().message);
  return {};
}

tl::expected<void, std::string> write(storage::ObjectStore& out, const std::string& key,
                                      const std::string& bytes) {
  if (auto put = out.put(key, bytes); !put) return tl::unexpected(put.error().message);
  return {};
}

tl::expected<json, std::string> read_json(const dataset::Dataset& data, const std::string& key) {
  auto bytes = data.read(key);
  if (!bytes) return tl::unexpected(bytes.error());
  json j = json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return tl::unexpected(key + ": not JSON");
  return j;
}

// The image COCO names for a sample JSON's stem: the PNG preview, the JPEG, or the EXR
// when the job wrote no preview (as the finalizer chooses, coordinator/finalizer.cpp).
std::string image_of(const dataset::Dataset& data, const std::string& stem, bool exr_too) {
  for (const char* ext : {".png", ".jpg", ".exr"}) {
    if (!exr_too && std::string_view(ext) == ".exr") break;
    if (data.find(stem + ext) != nullptr) return stem + ext;
  }
  return {};
}

tl::expected<Counts, std::string> export_yolo(const dataset::Dataset& data,
                                              storage::ObjectStore& out, const std::string& out_dir,
                                              bool pose, double val_fraction) {
  Counts counts;
  for (const dataset::FileRef& file : data.files()) {  // sorted: sample, then frame
    if (!is_sample_json(file.key)) continue;
    auto sample = read_json(data, file.key);
    if (!sample) return tl::unexpected(sample.error());
    auto labels = people_of_sample(*sample, file.key);
    if (!labels) return tl::unexpected(labels.error());
    const json index = sample->value("index", json());
    if (!index.is_number_unsigned())
      return tl::unexpected(file.key + ".index: expected a sample index");
    const std::string stem = stem_of(file.key);
    const std::string image = image_of(data, stem, /*exr_too=*/false);
    if (image.empty()) {
      return tl::unexpected(
          fmt::format("{}: no .png or .jpg image: YOLO trains on images (the job needs "
                      "rgb among output.layers and output.preview: true)",
                      stem));
    }
    const bool val = in_val_split(index.get<uint64_t>(), val_fraction);
    const std::string split = val ? "val" : "train";
    const std::string name = base_of(stem);
    std::string text;
    for (const PersonLabel& person : labels->people) {
      const std::string line = pose ? yolo_pose_line(person, labels->width, labels->height)
                                    : yolo_seg_line(person, labels->width, labels->height);
      if (line.empty()) continue;
      text += line + "\n";
      ++counts.people;
    }
    if (auto copied = copy(data, out, image, fmt::format("images/{}/{}", split, base_of(image)));
        !copied) {
      return tl::unexpected(copied.error());
    }
    if (auto wrote = write(out, fmt::format("labels/{}/{}.txt", split, name), text); !wrote) {
      return tl::unexpected(wrote.error());
    }
    ++counts.images;
    counts.val_images += val ? 1 : 0;
  }
  if (auto wrote = write(out, "data.yaml", yolo_data_yaml(out_dir, pose)); !wrote)
    return tl::unexpected(wrote.error());
  return counts;
}

tl::expected<Counts, std::string> export_coco(const dataset::Dataset& data,
                                              storage::ObjectStore& out) {
  Counts counts;
  for (const char* key : {"annotations/coco_person_keypoints.json", "annotations/instances.json"}) {
    if (data.find(key) == nullptr) {
      return tl::unexpected(
          fmt::format("the dataset has no {} (its spec's output.labels lacks coco)", key));
    }
    if (auto copied = copy(data, out, key, key); !copied) return tl::unexpected(copied.error());
  }
  for (const dataset::FileRef& file : data.files()) {
    if (!is_sample_json(file.key)) continue;
    const std::string image = image_of(data, stem_of(file.key), /*exr_too=*/true);
    if (image.empty()) continue;
    if (auto copied = copy(data, out, image, image); !copied) return tl::unexpected(copied.error());
    ++counts.images;
  }
  return counts;
}

// The part and uv layers of one sample EXR.
tl::expected<IuvImage, std::string> read_iuv(const dataset::Dataset& data, const std::string& key) {
  auto bytes = data.read(key);
  if (!bytes) return tl::unexpected(bytes.error());
  IuvImage iuv;
  std::vector<float>* targets[] = {&iuv.part, &iuv.u, &iuv.v};
  const char* channels[] = {"part.id", "uv.U", "uv.V"};
  for (int c = 0; c < 3; ++c) {
    auto layer = render::decode_exr_channel(*bytes, key, {channels[c]}, kMaxExrSide);
    if (!layer) {
      return tl::unexpected(layer.error() +
                            " (DensePose labels need part and uv among the job's output.layers)");
    }
    iuv.width = layer->width;
    iuv.height = layer->height;
    *targets[c] = std::move(layer->values);
  }
  return iuv;
}

tl::expected<Counts, std::string> export_densepose(const dataset::Dataset& data,
                                                   storage::ObjectStore& out) {
  const std::string person_key = "annotations/coco_person_keypoints.json";
  if (data.find(person_key) == nullptr) {
    return tl::unexpected(
        fmt::format("the dataset has no {} (its spec's output.labels lacks coco)", person_key));
  }
  auto coco = read_json(data, person_key);
  if (!coco) return tl::unexpected(coco.error());
  if (!coco->contains("images") || !(*coco)["images"].is_array() ||
      !coco->contains("annotations") || !(*coco)["annotations"].is_array()) {
    return tl::unexpected(person_key + ": expected images and annotations arrays");
  }
  std::map<uint64_t, std::vector<size_t>> by_image;  // image id -> its annotations' positions
  json& annotations = (*coco)["annotations"];
  for (size_t a = 0; a < annotations.size(); ++a) {
    by_image[annotations[a].value("image_id", uint64_t{0})].push_back(a);
  }
  Counts counts;
  for (const json& image : (*coco)["images"]) {
    const std::string file_name = image.value("file_name", "");
    const int width = image.value("width", 0), height = image.value("height", 0);
    if (auto copied = copy(data, out, file_name, file_name); !copied)
      return tl::unexpected(copied.error());
    ++counts.images;
    auto people = by_image.find(image.value("id", uint64_t{0}));
    if (people == by_image.end()) continue;
    const std::string exr = stem_of(file_name) + ".exr";
    auto iuv = read_iuv(data, exr);
    if (!iuv) return tl::unexpected(iuv.error());
    if (iuv->width != width || iuv->height != height) {
      return tl::unexpected(fmt::format("{}: {} x {}, but {} says {} x {}", exr, iuv->width,
                                        iuv->height, person_key, width, height));
    }
    for (size_t a : people->second) {
      json& annotation = annotations[a];
      const std::string path = fmt::format("{}.annotations[{}]", person_key, a);
      auto person = person_of_annotation(annotation, width, height, path);
      if (!person) return tl::unexpected(person.error());
      const json fields = densepose_fields(person->bbox, person->mask, *iuv);
      annotation.update(fields);
      ++counts.people;
      counts.densepose_people += fields.empty() ? 0 : 1;
    }
  }
  if (auto wrote = write(out, "annotations/densepose.json", coco->dump() + "\n"); !wrote) {
    return tl::unexpected(wrote.error());
  }
  return counts;
}

// OUT: a local directory, new or empty, that this process can write.
tl::expected<std::string, std::string> prepare_out(const std::string& out) {
  if (out.find("://") != std::string::npos)
    return tl::unexpected(out + ": OUT must be a local directory");
  std::error_code ec;
  const fs::path dir = fs::absolute(out, ec);
  if (ec) return tl::unexpected(fmt::format("{}: {}", out, ec.message()));
  fs::create_directories(dir, ec);
  if (ec)
    return tl::unexpected(fmt::format("{}: cannot create the directory: {}", out, ec.message()));
  if (!fs::is_empty(dir, ec) || ec) {
    return tl::unexpected(fmt::format("{}: not empty (export into a new or empty directory)", out));
  }
  if (access(dir.c_str(), W_OK) != 0) return tl::unexpected(fmt::format("{}: not writable", out));
  return dir.lexically_normal().string();
}

}  // namespace

const std::vector<std::string>& label_formats() {
  static const std::vector<std::string> formats = {"yolo-pose", "yolo-seg", "coco", "densepose"};
  return formats;
}

int cmd_export_labels(const Remote& remote, const ExportLabelsArgs& args) {
  const auto& formats = label_formats();
  if (std::find(formats.begin(), formats.end(), args.format) == formats.end()) {
    fmt::print(stderr, "error: --format {}: unknown (yolo-pose, yolo-seg, coco or densepose)\n",
               args.format);
    return kExitBadInput;
  }
  if (!(args.val_fraction >= 0 && args.val_fraction <= 1)) {
    fmt::print(stderr, "error: --val-fraction {}: must be between 0 and 1\n", args.val_fraction);
    return kExitBadInput;
  }
  auto opened = open_job_store(remote, args.job, "only a job that has ended can be exported");
  if (!opened) return opened.error();
  auto data = dataset::Dataset::open(*opened->store);
  if (!data) {
    fmt::print(stderr, "error: job {} ({}): {}\n", args.job, opened->state, data.error());
    return kExitFailure;
  }
  // A partial job's manifest names what it could not list; the export has the rest.
  for (const std::string& problem : data->problems()) {
    fmt::print(stderr, "warning: job {}: manifest.json: {}\n", args.job, problem);
  }
  auto out_dir = prepare_out(args.out);
  if (!out_dir) {
    fmt::print(stderr, "error: {}\n", out_dir.error());
    return kExitBadInput;
  }
  auto out = storage::open_store("file://" + *out_dir);
  if (!out) {
    fmt::print(stderr, "error: {}: {}\n", args.out, out.error().message);
    return kExitBadInput;
  }
  const bool yolo = args.format.starts_with("yolo-");
  auto counts =
      yolo ? export_yolo(*data, **out, *out_dir, args.format == "yolo-pose", args.val_fraction)
      : args.format == "coco" ? export_coco(*data, **out)
                              : export_densepose(*data, **out);
  if (!counts) {
    fmt::print(stderr, "error: job {}: export-labels --format {}: {}\n", args.job, args.format,
               counts.error());
    return kExitFailure;
  }
  if (yolo) {
    fmt::print("export-labels {}: {} images ({} train, {} val), {} people -> {}\n", args.format,
               counts->images, counts->images - counts->val_images, counts->val_images,
               counts->people, *out_dir);
  } else if (args.format == "densepose") {
    fmt::print("export-labels densepose: {} images, {} people, {} with DensePose points -> {}\n",
               counts->images, counts->people, counts->densepose_people, *out_dir);
  } else {
    fmt::print("export-labels coco: the two annotation files and {} images -> {}\n", counts->images,
               *out_dir);
  }
  return 0;
}

}  // namespace synthfarm::cli
