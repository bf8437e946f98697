// The commands that need no farm: validate a spec, render samples in-process (the bytes
// the farm writes), and export one sample's scene as binary glTF.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "dataset/tar_shard.h"
#include "jobs/manifest.h"
#include "jobs/object_keys.h"
#include "jobs/sample.h"
#include "jobs/scene.h"
#include "jobs/scene_export.h"
#include "sensor/learned_model.h"
#include "storage/object_store.h"

namespace synthfarm::cli {

int cmd_validate(const std::string& path) {
  std::string text;
  auto spec = load_spec(path, text);
  if (!spec) return kExitBadInput;
  fmt::print("{}: ok ({} samples)\n", path, spec->samples);
  return 0;
}

int cmd_render_local(const std::string& path, const std::string& out, const std::string& range,
                     int threads) {
  std::string text;
  auto spec = load_spec(path, text);
  if (!spec) return kExitBadInput;
  uint64_t begin = 0, end = static_cast<uint64_t>(spec->samples);
  if (!range.empty()) {
    unsigned long long a = 0, b = 0;
    char extra = 0;
    if (std::sscanf(range.c_str(), "%llu:%llu%c", &a, &b, &extra) != 2 || a >= b ||
        b > static_cast<uint64_t>(spec->samples)) {
      fmt::print(stderr, "error: --samples: expected A:B with 0 <= A < B <= {}, got '{}'\n",
                 spec->samples, range);
      return kExitBadInput;
    }
    begin = a;
    end = b;
  }
  std::string uri = out.find("://") == std::string::npos ? "file://" + out : out;
  auto canonical = storage::canonical_uri(uri);
  if (!canonical) {
    fmt::print(stderr, "error: --out: {}\n", canonical.error().message);
    return kExitBadInput;
  }
  auto store = storage::open_store(*canonical);
  if (!store) {
    fmt::print(stderr, "error: --out: {}\n", store.error().message);
    return kExitFailure;
  }
  spec->output.storage = *canonical;
  // LibTorch is opened only when a spec names a learned camera model (sensor.model).
  sensor::LearnedModelLoader load_model = [threads](const std::string& bytes, const std::string& name)
      -> tl::expected<std::shared_ptr<const sensor::LearnedModel>, std::string> {
    auto loader = sensor::plugin_model_loader(threads);
    if (!loader) return tl::unexpected(loader.error());
    return (*loader)(bytes, name);
  };
  auto renderer = jobs::SampleRenderer::create(threads, read_asset, std::move(load_model));
  if (!renderer) {
    fmt::print(stderr, "error: renderer: {}\n", renderer.error());
    return kExitFailure;
  }
  ProgressBar bar("render");
  auto start = std::chrono::steady_clock::now();
  // output.format webdataset: the samples of each shard into its tar, then the shard's
  // manifest (listing the samples rendered here, which may be part of the shard).
  const bool tars = spec->output.format == "webdataset";
  std::unique_ptr<dataset::TarShard> tar;
  uint64_t tar_first = begin;
  auto finish_tar = [&](uint64_t last) -> std::optional<std::string> {
    if (!tar) return std::nullopt;
    auto entry = tar->finish();
    tar.reset();
    if (!entry) return entry.error().message;
    const uint64_t shard = tar_first / static_cast<uint64_t>(spec->shard_size);
    jobs::ShardManifest manifest{"local", shard, tar_first, last - tar_first, {std::move(*entry)}};
    auto put = (*store)->put(jobs::shard_manifest_key(shard), jobs::shard_manifest_to_json(manifest));
    if (!put) return put.error().message;
    return std::nullopt;
  };
  for (uint64_t i = begin; i < end; ++i) {
    auto objects = (*renderer)->render(*spec, i);
    if (!objects) {
      bar.finish();
      fmt::print(stderr, "error: sample {}: {}\n", i, objects.error());
      return kExitFailure;
    }
    if (tars && tar && i % static_cast<uint64_t>(spec->shard_size) == 0) {
      if (auto failed = finish_tar(i)) {
        bar.finish();
        fmt::print(stderr, "error: shard of sample {}: {}\n", i - 1, *failed);
        return kExitFailure;
      }
    }
    if (tars && !tar) {
      auto opened = dataset::TarShard::open(**store, jobs::tar_key(i / static_cast<uint64_t>(spec->shard_size)), {});
      if (!opened) {
        bar.finish();
        fmt::print(stderr, "error: sample {}: {}\n", i, opened.error().message);
        return kExitFailure;
      }
      tar = std::move(*opened);
      tar_first = i;
    }
    for (const auto& [key, bytes] : objects->keyed(i)) {
      auto put = tar ? tar->add(jobs::tar_member_name(key), *bytes).map([](auto&&) {}) : (*store)->put(key, *bytes);
      if (!put) {
        bar.finish();
        fmt::print(stderr, "error: sample {}: {}\n", i, put.error().message);
        return kExitFailure;
      }
    }
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double rate = static_cast<double>(i - begin + 1) / std::max(elapsed, 1e-9);
    bar.update(static_cast<int64_t>(i - begin + 1), static_cast<int64_t>(end - begin), rate,
               static_cast<double>(end - i - 1) / rate, "rendering", i + 1 == end);
  }
  if (auto failed = finish_tar(end)) {
    bar.finish();
    fmt::print(stderr, "error: shard of sample {}: {}\n", end - 1, *failed);
    return kExitFailure;
  }
  bar.finish();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(stderr, "rendered {} samples in {:.2f} s ({:.3f} samples/s) -> {}\n", end - begin,
             elapsed, static_cast<double>(end - begin) / elapsed, *canonical);
  return 0;
}

// Writes sample `index`'s scene (meshes, instances, camera) as .glb, to look at in Blender.
int cmd_export_scene(const std::string& path, int64_t index, const std::string& out) {
  std::string text;
  auto spec = load_spec(path, text);
  if (!spec) return kExitBadInput;
  if (index < 0 || index >= spec->samples) {
    fmt::print(stderr, "error: --sample: expected 0 <= N < {}, got {}\n", spec->samples, index);
    return kExitBadInput;
  }
  auto assets = jobs::load_scene_assets(*spec, read_asset);
  if (!assets) {
    fmt::print(stderr, "error: {}\n", assets.error());
    return kExitFailure;
  }
  jobs::SampleScene scene;
  try {
    scene = jobs::build_scene(*spec, static_cast<uint64_t>(index), &*assets);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: sample {}: {}\n", index, e.what());
    return kExitFailure;
  }
  auto glb = jobs::export_sample_glb(scene);
  if (!glb) {
    fmt::print(stderr, "error: sample {}: {}\n", index, glb.error());
    return kExitFailure;
  }
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  file.write(glb->data(), static_cast<std::streamsize>(glb->size()));
  file.close();
  if (!file) {
    fmt::print(stderr, "error: cannot write {}\n", out);
    return kExitFailure;
  }
  size_t meshes = std::count_if(scene.meshes.begin(), scene.meshes.end(), [](const render::Mesh& m) {
    return !m.positions.empty() && !m.indices.empty();
  });
  fmt::print("{}: {} bytes, {} meshes, {} instances ({} people), camera {}x{} (sample {} of {})\n",
             out, glb->size(), meshes, scene.instances.size(), scene.humans.size(),
             scene.camera.width, scene.camera.height, index, spec->name);
  return 0;
}

}  // namespace synthfarm::cli
