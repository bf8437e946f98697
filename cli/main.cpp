// `synthfarm`: the command-line client.
//   synthfarm submit SPEC        queue a job; prints its id
//   synthfarm status [JOB]       jobs table, or one job
//   synthfarm wait JOB           progress bar until the job ends (exit 0 done, 1 failed)
//   synthfarm validate SPEC      check a spec without submitting it
//   synthfarm pause|resume|cancel|retry|delete JOB    job control
//   synthfarm render --local SPEC --out DIR [--samples A:B] [--threads N]
//                                render in-process, no Redis: the same bytes the farm writes
//   synthfarm fetch JOB DIR      download a finished job's dataset, every object checked
//                                against manifest.json's size and sha256; resumable
//   synthfarm export-scene SPEC --sample N -o FILE.glb
//                                one sample's posed scene and camera as binary glTF
//   synthfarm render-gltf SCENE.glb --out OUT.exr [--spp N --width W --height H --bounces B
//                         --threads T --background LEVEL --point-radius M --sun-angle DEG
//                         --clamp-indirect C --labels-only --no-instancing --png PREVIEW.png]
//                                render a static glTF scene with the path tracer and print
//                                `synthfarm render_seconds=S ...` (the render call alone)
// Exit codes: 0 success, 1 failure (job failed, server unreachable), 2 bad input.
#include <fmt/format.h>
#include <httplib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "jobs/gltf.h"
#include "jobs/gltf_scene.h"
#include "jobs/image_io.h"
#include "jobs/render.h"
#include "jobs/sample.h"
#include "jobs/scene.h"
#include "jobs/spec.h"
#include "storage/object_store.h"

namespace {

using nlohmann::json;
using namespace synthfarm;

constexpr int kExitFailure = 1;
constexpr int kExitPartial = 3;  // `wait`: the job ended partial (on_dead_shards: partial)

// Input files a spec points at (humans.bvh), read through storage.
tl::expected<std::string, std::string> read_asset(const std::string& uri) {
  auto bytes = storage::read_uri(uri);
  if (!bytes) return tl::unexpected(bytes.error().message);
  return std::move(*bytes);
}
constexpr int kExitBadInput = 2;

std::string read_file(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--";
  auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h {:02d}m", s / 3600, (s / 60) % 60);
  if (s >= 60) return fmt::format("{}m {:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

// One line, redrawn in place on a terminal; on a pipe, printed at most every few seconds.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label)
      : label_(std::move(label)), tty_(isatty(fileno(stderr))) {}
  void update(int64_t done, int64_t total, double rate, double eta_s, const std::string& state,
              bool force = false) {
    auto now = std::chrono::steady_clock::now();
    if (!tty_ && !force && now - last_ < std::chrono::seconds(5)) return;
    last_ = now;
    constexpr int kWidth = 30;
    int filled = total > 0 ? static_cast<int>(kWidth * done / total) : 0;
    std::string bar(filled, '#');
    bar.resize(kWidth, '-');
    int pct = total > 0 ? static_cast<int>(100 * done / total) : 0;
    std::string line =
        fmt::format("{} [{}] {:3d}% {}/{} samples  {:.2f} samples/s  ETA {}  {}", label_, bar, pct,
                    done, total, rate, format_duration(eta_s), state);
    if (tty_) {
      fmt::print(stderr, "\r{}\x1b[K", line);
    } else {
      fmt::print(stderr, "{}\n", line);
    }
    std::fflush(stderr);
  }
  void finish() {
    if (tty_) fmt::print(stderr, "\n");
  }

 private:
  std::string label_;
  bool tty_;
  std::chrono::steady_clock::time_point last_{};
};

void print_spec_errors(const std::vector<jobs::SpecError>& errors) {
  for (const auto& e : errors) fmt::print(stderr, "error: {}\n", e.to_string());
}

// Reads and validates a spec file; on failure prints every problem (file:line:column:
// field: message) and returns nullopt. `text` receives the file's bytes.
std::optional<jobs::JobSpec> load_spec(const std::string& path, std::string& text) {
  bool ok = false;
  text = read_file(path, ok);
  if (!ok) {
    fmt::print(stderr, "error: cannot read {}\n", path);
    return std::nullopt;
  }
  auto spec = jobs::parse_spec(text, path);
  if (!spec) {
    print_spec_errors(spec.error());
    return std::nullopt;
  }
  return std::move(*spec);
}

httplib::Client client_for(const std::string& url) {
  httplib::Client client(url);
  client.set_connection_timeout(5);
  client.set_read_timeout(30);
  return client;
}

std::string transport_error(const std::string& url, httplib::Error err) {
  return fmt::format("cannot reach the coordinator at {}: {}", url, httplib::to_string(err));
}

int cmd_validate(const std::string& path) {
  std::string text;
  auto spec = load_spec(path, text);
  if (!spec) return kExitBadInput;
  fmt::print("{}: ok ({} samples)\n", path, spec->samples);
  return 0;
}

int cmd_submit(const std::string& url, const std::string& path) {
  // Validate here first so errors name the user's file; the server validates again.
  std::string text;
  if (!load_spec(path, text)) return kExitBadInput;
  auto client = client_for(url);
  auto res = client.Post("/api/jobs", text, "application/yaml");
  if (!res) {
    fmt::print(stderr, "error: {}\n", transport_error(url, res.error()));
    return kExitFailure;
  }
  auto body = json::parse(res->body, nullptr, false);
  if (res->status == 400) {
    if (body.contains("errors")) {
      for (const auto& e : body["errors"]) {
        fmt::print(stderr, "error: {}:{}:{}: {}: {}\n", path, e.value("line", 0),
                   e.value("column", 0), e.value("path", ""), e.value("message", ""));
      }
    } else {
      fmt::print(stderr, "error: {}\n", body.value("error", res->body));
    }
    return kExitBadInput;
  }
  if (res->status != 201 || body.is_discarded()) {
    fmt::print(stderr, "error: coordinator answered {}: {}\n", res->status,
               body.is_discarded() ? res->body : body.value("error", res->body));
    return kExitFailure;
  }
  fmt::print("{}\n", body["id"].get<std::string>());
  std::fflush(stdout);  // the id first, even when both streams go to one pipe
  fmt::print(stderr, "queued {} shards; output: {}\n", body.value("shards", 0),
             body.value("storage", ""));
  return 0;
}

tl::expected<json, std::string> get_json(const std::string& url, const std::string& path,
                                         int& status) {
  auto client = client_for(url);
  auto res = client.Get(path);
  if (!res) return tl::unexpected(transport_error(url, res.error()));
  status = res->status;
  auto body = json::parse(res->body, nullptr, false);
  if (body.is_discarded())
    return tl::unexpected(fmt::format("coordinator answered {} with non-JSON", res->status));
  if (res->status != 200)
    return tl::unexpected(body.value("error", fmt::format("HTTP {}", res->status)));
  return body;
}

int cmd_status(const std::string& url, const std::string& job) {
  int status = 0;
  if (!job.empty()) {
    auto body = get_json(url, "/api/jobs/" + job, status);
    if (!body) {
      fmt::print(stderr, "error: {}\n", body.error());
      return status == 404 ? kExitBadInput : kExitFailure;
    }
    body->erase("spec");
    fmt::print("{}\n", body->dump(2));
    return 0;
  }
  auto body = get_json(url, "/api/jobs", status);
  if (!body) {
    fmt::print(stderr, "error: {}\n", body.error());
    return kExitFailure;
  }
  fmt::print("{:<32} {:<10} {:>17} {:>10}  {}\n", "JOB", "STATE", "SAMPLES", "SAMPLES/S",
             "STORAGE");
  for (const auto& j : (*body)["jobs"]) {
    fmt::print("{:<32} {:<10} {:>17} {:>10.2f}  {}\n", j["id"].get<std::string>(),
               j["state"].get<std::string>(),
               fmt::format("{}/{}", j["samples_done"].get<int64_t>(), j["samples"].get<int64_t>()),
               j["samples_per_sec"].get<double>(), j["storage"].get<std::string>());
  }
  return 0;
}

// pause | resume | cancel | retry | delete
int cmd_control(const std::string& url, const std::string& action, const std::string& job) {
  auto client = client_for(url);
  auto res = action == "delete"
                 ? client.Delete("/api/jobs/" + job)
                 : client.Post("/api/jobs/" + job + "/" + action, "", "application/json");
  if (!res) {
    fmt::print(stderr, "error: {}\n", transport_error(url, res.error()));
    return kExitFailure;
  }
  auto body = json::parse(res->body, nullptr, false);
  if (res->status != 200) {
    fmt::print(stderr, "error: {}\n",
               body.is_discarded() ? res->body : body.value("error", res->body));
    return res->status == 404 || res->status == 409 ? kExitBadInput : kExitFailure;
  }
  if (action == "retry") {
    fmt::print("{}: {} dead shard(s) queued again; job is {}\n", job, body.value("count", 0),
               body.value("state", ""));
  } else {
    fmt::print("{}: {}\n", job, body.value("state", ""));
  }
  return 0;
}

int cmd_wait(const std::string& url, const std::string& job, double timeout_s) {
  ProgressBar bar(job);
  auto start = std::chrono::steady_clock::now();
  int unreachable = 0;
  for (;;) {
    int status = 0;
    auto body = get_json(url, "/api/jobs/" + job, status);
    if (!body) {
      if (status == 404) {
        bar.finish();
        fmt::print(stderr, "error: {}\n", body.error());
        return kExitBadInput;
      }
      if (++unreachable % 10 == 1)
        fmt::print(stderr, "\nwarning: {} (still waiting)\n", body.error());
    } else {
      unreachable = 0;
      const auto& j = *body;
      std::string state = j["state"];
      bool ended = state == "done" || state == "failed" || state == "partial";
      bar.update(j["samples_done"].get<int64_t>(), j["samples"].get<int64_t>(),
                 j["samples_per_sec"].get<double>(), j["eta_s"].get<double>(), state, ended);
      if (ended) {
        bar.finish();
        if (state == "failed") {
          fmt::print(stderr, "job {} failed: {}\n", job, j.value("error", ""));
          return kExitFailure;
        }
        if (state == "partial") {
          fmt::print(stderr, "job {} partially done ({}): {}\n", job, j.value("error", ""),
                     j.value("storage", ""));
          return kExitPartial;
        }
        fmt::print(stderr, "job {} done: {}\n", job, j.value("storage", ""));
        return 0;
      }
    }
    if (timeout_s > 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::duration<double>(timeout_s)) {
      bar.finish();
      fmt::print(stderr, "error: job {} did not end within {} s\n", job, timeout_s);
      return kExitFailure;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
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
  auto renderer = jobs::SampleRenderer::create(threads, read_asset);
  if (!renderer) {
    fmt::print(stderr, "error: renderer: {}\n", renderer.error());
    return kExitFailure;
  }
  ProgressBar bar("render");
  auto start = std::chrono::steady_clock::now();
  for (uint64_t i = begin; i < end; ++i) {
    auto objects = (*renderer)->render(*spec, i);
    if (!objects) {
      bar.finish();
      fmt::print(stderr, "error: sample {}: {}\n", i, objects.error());
      return kExitFailure;
    }
    for (const auto& [key, bytes] : objects->keyed(i)) {
      auto put = (*store)->put(key, *bytes);
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
  bar.finish();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(stderr, "rendered {} samples in {:.2f} s ({:.3f} samples/s) -> {}\n", end - begin,
             elapsed, static_cast<double>(end - begin) / elapsed, *canonical);
  return 0;
}

// Downloads job `job`'s dataset into `dir` (a path or a storage URI): every object that
// manifest.json lists, read through storage/ from where the job stored it (the `storage`
// of GET /api/jobs/JOB), each checked against the manifest's size and sha256 before it is
// written. An object already in `dir` with the right size and sha256 is kept, so a fetch
// that was interrupted resumes; manifest.json itself is written last, once every object
// checked out. A mismatch names the object, and the others are still checked.
int cmd_fetch(const std::string& url, const std::string& job, const std::string& dir) {
  int status = 0;
  auto body = get_json(url, "/api/jobs/" + job, status);
  if (!body) {
    fmt::print(stderr, "error: {}\n", body.error());
    return status == 404 ? kExitBadInput : kExitFailure;
  }
  const std::string state = body->value("state", "");
  if (state != "done" && state != "partial" && state != "failed") {
    fmt::print(
        stderr,
        "error: job {} is {}: only a job that has ended can be fetched (synthfarm wait {})\n", job,
        state, job);
    return kExitBadInput;
  }
  const std::string source_uri = body->value("storage", "");
  auto source = storage::open_store(source_uri);
  if (!source) {
    fmt::print(stderr, "error: job {}: storage {}: {}\n", job, source_uri, source.error().message);
    return kExitFailure;
  }
  auto manifest_bytes = (*source)->get("manifest.json");
  if (!manifest_bytes) {
    fmt::print(stderr, "error: job {} ({}) has no dataset manifest: {}\n", job, state,
               manifest_bytes.error().message);
    return kExitFailure;
  }
  const json manifest = json::parse(*manifest_bytes, nullptr, false);
  if (manifest.is_discarded() || !manifest.contains("objects") || !manifest["objects"].is_array()) {
    fmt::print(stderr, "error: {}/manifest.json: not a dataset manifest\n", source_uri);
    return kExitFailure;
  }
  std::string dest_uri = dir.find("://") == std::string::npos ? "file://" + dir : dir;
  auto canonical = storage::canonical_uri(dest_uri);
  auto dest = canonical ? storage::open_store(*canonical) : tl::unexpected(canonical.error());
  if (!dest) {
    fmt::print(stderr, "error: {}: {}\n", dir, dest.error().message);
    return kExitBadInput;
  }

  const json& objects = manifest["objects"];
  // Progress on one line redrawn in place on a terminal; nothing on a pipe but the summary.
  const bool tty = isatty(fileno(stderr));
  auto progress = [&](size_t done) {
    if (tty) fmt::print(stderr, "\rfetch {}/{} objects\x1b[K", done, objects.size());
  };
  uint64_t fetched = 0, kept = 0, fetched_bytes = 0;
  std::vector<std::string> failures;
  for (size_t i = 0; i < objects.size(); ++i) {
    const json& o = objects[i];
    if (!o.is_object() || !o.contains("key") || !o["key"].is_string() || !o.contains("size") ||
        !o["size"].is_number_unsigned() || !o.contains("sha256") || !o["sha256"].is_string()) {
      failures.push_back(fmt::format("manifest.json: objects[{}] lacks key, size or sha256", i));
      continue;
    }
    const std::string key = o["key"];
    const auto size = o["size"].get<uint64_t>();
    const std::string sha256 = o["sha256"];
    // Keys come from the manifest: never let one write outside `dir`.
    if (auto valid = storage::validate_key(key); !valid || key == "manifest.json") {
      failures.push_back(
          fmt::format("{}: refused: {}", key, valid ? "reserved name" : valid.error().message));
      continue;
    }
    auto local = (*dest)->head(key);
    if (local && local->has_value() && (*local)->size == size) {
      auto bytes = (*dest)->get(key);
      if (bytes && storage::sha256_hex(*bytes) == sha256) {
        ++kept;
        progress(i + 1);
        continue;
      }
    }
    auto bytes = (*source)->get(key);
    if (!bytes) {
      failures.push_back(fmt::format("{}: cannot read: {}", key, bytes.error().message));
      continue;
    }
    if (bytes->size() != size) {
      failures.push_back(fmt::format("{}: size mismatch: manifest.json says {} bytes, {} has {}",
                                     key, size, source_uri, bytes->size()));
      continue;
    }
    if (const std::string actual = storage::sha256_hex(*bytes); actual != sha256) {
      failures.push_back(fmt::format("{}: sha256 mismatch: manifest.json says {}, {} has {}", key,
                                     sha256, source_uri, actual));
      continue;
    }
    if (auto put = (*dest)->put(key, *bytes); !put) {
      if (tty) fmt::print(stderr, "\n");
      fmt::print(stderr, "error: {}: cannot write: {}\n", key, put.error().message);
      return kExitFailure;
    }
    ++fetched;
    fetched_bytes += bytes->size();
    progress(i + 1);
  }
  if (tty) fmt::print(stderr, "\n");
  if (!failures.empty()) {
    for (const std::string& f : failures) fmt::print(stderr, "error: {}\n", f);
    fmt::print(stderr,
               "error: job {}: {} of {} object(s) failed; manifest.json not written to {}\n", job,
               failures.size(), objects.size(), (*dest)->uri());
    return kExitFailure;
  }
  if (auto put = (*dest)->put("manifest.json", *manifest_bytes); !put) {
    fmt::print(stderr, "error: manifest.json: cannot write: {}\n", put.error().message);
    return kExitFailure;
  }
  fmt::print(stderr, "fetched {} object(s) ({:.1f} MB), {} already present and verified -> {}\n",
             fetched, static_cast<double>(fetched_bytes) / 1e6, kept, (*dest)->uri());
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
  jobs::Scene scene;
  try {
    scene = jobs::build_scene(*spec, static_cast<uint64_t>(index), &*assets);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: sample {}: {}\n", index, e.what());
    return kExitFailure;
  }
  auto glb = jobs::export_glb(scene);
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
  size_t meshes = std::count_if(scene.meshes.begin(), scene.meshes.end(), [](const jobs::Mesh& m) {
    return !m.positions.empty() && !m.indices.empty();
  });
  fmt::print("{}: {} bytes, {} meshes, {} instances ({} people), camera {}x{} (sample {} of {})\n",
             out, glb->size(), meshes, scene.instances.size(), scene.humans.size(),
             scene.camera.width, scene.camera.height, index, spec->name);
  return 0;
}

struct RenderGltfArgs {
  std::string scene, out, png;
  int spp = 64, width = 640, height = 480, bounces = 4, threads = 0, repeat = 1;
  double background = 0.3;  // uniform grey background radiance
  double point_radius = 0;  // metres; point and spot lights as spheres
  bool no_instancing = false;
  double sun_angle = 0;  // degrees, the sun disk's angular diameter
  double clamp_indirect = 0;
  bool labels_only = false;
};

bool write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  return static_cast<bool>(file);
}

// Renders a static glTF scene with the path tracer (the glTF scene importer, gltf_scene.h,
// then jobs::Renderer), for comparisons with other renderers on the same file. Prints one
// line in the same form as bench/cycles_render.py's: `synthfarm render_seconds=S spp=N
// width=W height=H`, then the BVH build and trace split of the same call. S times the render
// call alone (the BVH build included, file loading and encoding not); with --repeat the
// fastest of the repeats. Writes a float EXR: R, G, B, or with --labels-only the label
// layers (depth, normal, albedo, instance, semantic).
int cmd_render_gltf(const RenderGltfArgs& a) {
  if (a.labels_only && !a.png.empty()) {
    fmt::print(stderr, "error: --png: a labels-only render has no colour to preview\n");
    return kExitBadInput;
  }
  bool ok = false;
  const std::string bytes = read_file(a.scene, ok);
  if (!ok) {
    fmt::print(stderr, "error: cannot read {}\n", a.scene);
    return kExitBadInput;
  }
  jobs::GltfSceneOptions options;
  options.width = a.width;
  options.height = a.height;
  options.background = a.background;
  options.point_radius_m = a.point_radius;
  options.instancing = !a.no_instancing;
  options.sun_angle_deg = a.sun_angle;
  const std::string name = a.scene.substr(a.scene.find_last_of('/') + 1);
  auto loaded = jobs::load_gltf_scene(bytes, name, options);
  if (!loaded) {
    fmt::print(stderr, "error: {}\n", loaded.error());
    return kExitBadInput;
  }
  for (const std::string& w : loaded->warnings) fmt::print(stderr, "warning: {}\n", w);
  auto renderer = jobs::Renderer::create();
  if (!renderer) {
    fmt::print(stderr, "error: renderer: {}\n", renderer.error());
    return kExitFailure;
  }
  std::vector<jobs::Layer> layers = {jobs::Layer::kRgb};
  if (a.labels_only) {
    layers = {jobs::Layer::kDepth, jobs::Layer::kNormal, jobs::Layer::kAlbedo,
              jobs::Layer::kInstance, jobs::Layer::kSemantic};
  }
  jobs::RenderSettings settings;
  settings.spp = a.spp;
  settings.max_bounces = a.bounces;
  settings.threads = a.threads;
  settings.clamp_indirect = a.clamp_indirect;
  settings.labels_only = a.labels_only;
  settings.layers = 0;
  for (jobs::Layer layer : layers) settings.layers |= jobs::layer_bit(layer);
  jobs::RenderTimings timings, best_timings;
  settings.timings = &timings;
  double best_s = 0;
  jobs::Frame frame;  // reused by the repeats, as a worker reuses it for a clip's frames
  for (int r = 0; r < a.repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    auto rendered = (*renderer)->render(loaded->scene, settings, frame);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!rendered) {
      fmt::print(stderr, "error: {}: {}\n", name, rendered.error());
      return kExitFailure;
    }
    if (r == 0 || seconds < best_s) {
      best_s = seconds;
      best_timings = timings;
    }
  }
  if (frame.invalid_samples > 0) {
    fmt::print(stderr, "warning: {}: {} radiance samples were NaN or infinite and dropped\n", name,
               frame.invalid_samples);
  }
  try {
    if (!write_bytes(a.out, jobs::encode_exr(frame, layers))) {
      fmt::print(stderr, "error: cannot write {}\n", a.out);
      return kExitFailure;
    }
    if (!a.png.empty() && !write_bytes(a.png, jobs::encode_png(frame))) {
      fmt::print(stderr, "error: cannot write {}\n", a.png);
      return kExitFailure;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: encoding: {}\n", e.what());
    return kExitFailure;
  }
  fmt::print("synthfarm render_seconds={:.3f} spp={} width={} height={}\n", best_s,
             a.labels_only ? 0 : a.spp, a.width, a.height);
  fmt::print(
      "synthfarm build_seconds={:.4f} trace_seconds={:.5f} triangles={} labels_only={} "
      "bvh_bytes={} instanced_meshes={}\n",
      best_timings.build_s, best_timings.trace_s, loaded->triangle_count, a.labels_only ? 1 : 0,
      best_timings.bvh_bytes, best_timings.instanced_meshes);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"synthfarm: synthetic datasets of people, rendered on a farm"};
  app.set_version_flag("--version", std::string("synthfarm ") + SYNTHFARM_VERSION);
  app.require_subcommand(1);
  std::string url = "http://127.0.0.1:8080";
  app.add_option("--url", url, "coordinator URL")->envname("SYNTHFARM_URL")->capture_default_str();
  std::string s3_endpoint;
  app.add_option("--s3-endpoint", s3_endpoint,
                 "S3-compatible server for s3:// locations, e.g. http://127.0.0.1:9000 (default: "
                 "AWS_ENDPOINT_URL, else AWS)");
  app.fallthrough();  // global options may follow the subcommand (`render ... --s3-endpoint URL`)

  std::string spec_path, job, out, range;
  int threads = 0;
  bool local = false;
  double timeout_s = 0;

  auto* submit = app.add_subcommand("submit", "queue a job; prints its id");
  submit->add_option("spec", spec_path, "dataset spec (YAML or JSON)")->required();
  auto* status = app.add_subcommand("status", "show jobs, or one job");
  status->add_option("job", job, "job id");
  auto* wait = app.add_subcommand(
      "wait", "show progress until the job ends; exit 0 when done, 1 when failed");
  wait->add_option("job", job, "job id")->required();
  wait->add_option("--timeout", timeout_s, "give up after this many seconds (0: never)");
  std::map<std::string, CLI::App*> controls;
  for (auto [name, help] :
       {std::pair<const char*, const char*>{"pause", "stop handing out the job's shards"},
        {"resume", "hand out a paused job's shards again"},
        {"cancel", "end the job; workers drop its shards within about a second"},
        {"retry", "queue the job's dead-lettered shards again"},
        {"delete", "remove the job and its queue entries (its files stay)"}}) {
    auto* cmd = app.add_subcommand(name, help);
    cmd->add_option("job", job, "job id")->required();
    controls[name] = cmd;
  }
  auto* validate = app.add_subcommand("validate", "check a spec without submitting it");
  validate->add_option("spec", spec_path, "dataset spec")->required();
  auto* render = app.add_subcommand("render", "render samples in this process, without Redis");
  render->add_flag("--local", local, "render in-process (the only mode for now)")->required();
  render->add_option("spec", spec_path, "dataset spec")->required();
  render->add_option("--out", out, "output directory or storage URI")->required();
  render->add_option("--samples", range, "sample range A:B (B excluded); default all");
  render->add_option("--threads", threads, "render threads; 0 = all cores")
      ->check(CLI::Range(0, 1024));
  std::string fetch_dir;
  auto* fetch =
      app.add_subcommand("fetch", "download a finished job's dataset and verify every sha256");
  fetch->add_option("job", job, "job id")->required();
  fetch->add_option("dir", fetch_dir, "destination directory or storage URI")->required();
  int64_t export_sample = 0;
  auto* export_scene =
      app.add_subcommand("export-scene", "write one sample's scene and camera as binary glTF");
  export_scene->add_option("spec", spec_path, "dataset spec")->required();
  export_scene->add_option("--sample", export_sample, "sample index")->capture_default_str();
  export_scene->add_option("-o,--out", out, "output .glb file")->required();
  RenderGltfArgs gltf;
  auto* render_gltf = app.add_subcommand(
      "render-gltf", "render a static glTF scene with the path tracer; prints the render time");
  render_gltf->add_option("scene", gltf.scene, ".glb, or .gltf with embedded buffers")->required();
  render_gltf->add_option("--out", gltf.out, "output float EXR")->required();
  render_gltf->add_option("--spp", gltf.spp, "samples per pixel")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  render_gltf->add_option("--width", gltf.width, "pixels")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  render_gltf->add_option("--height", gltf.height, "pixels")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  render_gltf->add_option("--bounces", gltf.bounces, "indirect bounces after the first hit")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  render_gltf->add_option("--threads", gltf.threads, "render threads; 0 = all cores")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  render_gltf->add_option("--background", gltf.background, "uniform grey background radiance")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  render_gltf
      ->add_option("--point-radius", gltf.point_radius,
                   "metres: point and spot lights become spheres (0: points, as glTF has them)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  render_gltf
      ->add_option("--sun-angle", gltf.sun_angle,
                   "degrees: angular diameter of the directional light (0: a direction)")
      ->check(CLI::Range(0.0, 90.0))
      ->capture_default_str();
  render_gltf
      ->add_option("--clamp-indirect", gltf.clamp_indirect,
                   "clamp indirect light contributions (sum of R, G, B; 0: no clamp)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  render_gltf->add_flag("--labels-only", gltf.labels_only,
                        "label layers only (one ray per pixel, no light transport)");
  render_gltf->add_flag("--no-instancing", gltf.no_instancing,
                        "give every node its own copy of its mesh (default: a mesh several "
                        "nodes use is built once and instanced)");
  render_gltf->add_option("--png", gltf.png, "also write an 8-bit sRGB preview");
  render_gltf->add_option("--repeat", gltf.repeat, "render this many times; report the fastest")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitBadInput;
  }
  // s3:// stores take their endpoint from the environment, as every AWS client does; the
  // flag overrides it, set here before any thread starts.
  if (!s3_endpoint.empty()) setenv("AWS_ENDPOINT_URL_S3", s3_endpoint.c_str(), 1);
  if (*submit) return cmd_submit(url, spec_path);
  if (*status) return cmd_status(url, job);
  if (*wait) return cmd_wait(url, job, timeout_s);
  if (*validate) return cmd_validate(spec_path);
  for (const auto& [name, cmd] : controls) {
    if (*cmd) return cmd_control(url, name, job);
  }
  if (*render) return cmd_render_local(spec_path, out, range, threads);
  if (*fetch) return cmd_fetch(url, job, fetch_dir);
  if (*export_scene) return cmd_export_scene(spec_path, export_sample, out);
  if (*render_gltf) return cmd_render_gltf(gltf);
  return kExitBadInput;
}
