// `synthfarm`: the command-line client.
//   synthfarm submit SPEC        queue a job; prints its id
//   synthfarm status [JOB]       jobs table, or one job
//   synthfarm wait JOB           progress bar until the job ends (exit 0 done, 1 failed)
//   synthfarm validate SPEC      check a spec without submitting it
//   synthfarm pause|resume|cancel|retry|delete JOB    job control
//   synthfarm render --local SPEC --out DIR [--samples A:B] [--threads N]
//                                render in-process, no Redis: the same bytes the farm writes
//   synthfarm export-scene SPEC --sample N -o FILE.glb
//                                one sample's posed scene and camera as binary glTF
// Exit codes: 0 success, 1 failure (job failed, server unreachable), 2 bad input.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "jobs/gltf.h"
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
  explicit ProgressBar(std::string label) : label_(std::move(label)), tty_(isatty(fileno(stderr))) {}
  void update(int64_t done, int64_t total, double rate, double eta_s, const std::string& state, bool force = false) {
    auto now = std::chrono::steady_clock::now();
    if (!tty_ && !force && now - last_ < std::chrono::seconds(5)) return;
    last_ = now;
    constexpr int kWidth = 30;
    int filled = total > 0 ? static_cast<int>(kWidth * done / total) : 0;
    std::string bar(filled, '#');
    bar.resize(kWidth, '-');
    int pct = total > 0 ? static_cast<int>(100 * done / total) : 0;
    std::string line = fmt::format("{} [{}] {:3d}% {}/{} samples  {:.2f} samples/s  ETA {}  {}", label_, bar, pct,
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
        fmt::print(stderr, "error: {}:{}:{}: {}: {}\n", path, e.value("line", 0), e.value("column", 0),
                   e.value("path", ""), e.value("message", ""));
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
  fmt::print(stderr, "queued {} shards; output: {}\n", body.value("shards", 0), body.value("storage", ""));
  return 0;
}

tl::expected<json, std::string> get_json(const std::string& url, const std::string& path, int& status) {
  auto client = client_for(url);
  auto res = client.Get(path);
  if (!res) return tl::unexpected(transport_error(url, res.error()));
  status = res->status;
  auto body = json::parse(res->body, nullptr, false);
  if (body.is_discarded()) return tl::unexpected(fmt::format("coordinator answered {} with non-JSON", res->status));
  if (res->status != 200) return tl::unexpected(body.value("error", fmt::format("HTTP {}", res->status)));
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
  fmt::print("{:<32} {:<10} {:>17} {:>10}  {}\n", "JOB", "STATE", "SAMPLES", "SAMPLES/S", "STORAGE");
  for (const auto& j : (*body)["jobs"]) {
    fmt::print("{:<32} {:<10} {:>17} {:>10.2f}  {}\n", j["id"].get<std::string>(), j["state"].get<std::string>(),
               fmt::format("{}/{}", j["samples_done"].get<int64_t>(), j["samples"].get<int64_t>()),
               j["samples_per_sec"].get<double>(), j["storage"].get<std::string>());
  }
  return 0;
}

// pause | resume | cancel | retry | delete
int cmd_control(const std::string& url, const std::string& action, const std::string& job) {
  auto client = client_for(url);
  auto res = action == "delete" ? client.Delete("/api/jobs/" + job)
                                : client.Post("/api/jobs/" + job + "/" + action, "", "application/json");
  if (!res) {
    fmt::print(stderr, "error: {}\n", transport_error(url, res.error()));
    return kExitFailure;
  }
  auto body = json::parse(res->body, nullptr, false);
  if (res->status != 200) {
    fmt::print(stderr, "error: {}\n", body.is_discarded() ? res->body : body.value("error", res->body));
    return res->status == 404 || res->status == 409 ? kExitBadInput : kExitFailure;
  }
  if (action == "retry") {
    fmt::print("{}: {} dead shard(s) queued again; job is {}\n", job, body.value("count", 0), body.value("state", ""));
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
      if (++unreachable % 10 == 1) fmt::print(stderr, "\nwarning: {} (still waiting)\n", body.error());
    } else {
      unreachable = 0;
      const auto& j = *body;
      std::string state = j["state"];
      bool ended = state == "done" || state == "failed" || state == "partial";
      bar.update(j["samples_done"].get<int64_t>(), j["samples"].get<int64_t>(), j["samples_per_sec"].get<double>(),
                 j["eta_s"].get<double>(), state, ended);
      if (ended) {
        bar.finish();
        if (state == "failed") {
          fmt::print(stderr, "job {} failed: {}\n", job, j.value("error", ""));
          return kExitFailure;
        }
        if (state == "partial") {
          fmt::print(stderr, "job {} partially done ({}): {}\n", job, j.value("error", ""), j.value("storage", ""));
          return kExitPartial;
        }
        fmt::print(stderr, "job {} done: {}\n", job, j.value("storage", ""));
        return 0;
      }
    }
    if (timeout_s > 0 && std::chrono::steady_clock::now() - start > std::chrono::duration<double>(timeout_s)) {
      bar.finish();
      fmt::print(stderr, "error: job {} did not end within {} s\n", job, timeout_s);
      return kExitFailure;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int cmd_render_local(const std::string& path, const std::string& out, const std::string& range, int threads) {
  std::string text;
  auto spec = load_spec(path, text);
  if (!spec) return kExitBadInput;
  uint64_t begin = 0, end = static_cast<uint64_t>(spec->samples);
  if (!range.empty()) {
    unsigned long long a = 0, b = 0;
    char extra = 0;
    if (std::sscanf(range.c_str(), "%llu:%llu%c", &a, &b, &extra) != 2 || a >= b ||
        b > static_cast<uint64_t>(spec->samples)) {
      fmt::print(stderr, "error: --samples: expected A:B with 0 <= A < B <= {}, got '{}'\n", spec->samples, range);
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
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double rate = static_cast<double>(i - begin + 1) / std::max(elapsed, 1e-9);
    bar.update(static_cast<int64_t>(i - begin + 1), static_cast<int64_t>(end - begin), rate,
               static_cast<double>(end - i - 1) / rate, "rendering", i + 1 == end);
  }
  bar.finish();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(stderr, "rendered {} samples in {:.2f} s ({:.3f} samples/s) -> {}\n", end - begin, elapsed,
             static_cast<double>(end - begin) / elapsed, *canonical);
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
  auto* wait = app.add_subcommand("wait", "show progress until the job ends; exit 0 when done, 1 when failed");
  wait->add_option("job", job, "job id")->required();
  wait->add_option("--timeout", timeout_s, "give up after this many seconds (0: never)");
  std::map<std::string, CLI::App*> controls;
  for (auto [name, help] : {std::pair<const char*, const char*>{"pause", "stop handing out the job's shards"},
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
  render->add_option("--threads", threads, "render threads; 0 = all cores")->check(CLI::Range(0, 1024));
  int64_t export_sample = 0;
  auto* export_scene =
      app.add_subcommand("export-scene", "write one sample's scene and camera as binary glTF");
  export_scene->add_option("spec", spec_path, "dataset spec")->required();
  export_scene->add_option("--sample", export_sample, "sample index")->capture_default_str();
  export_scene->add_option("-o,--out", out, "output .glb file")->required();

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
  if (*export_scene) return cmd_export_scene(spec_path, export_sample, out);
  return kExitBadInput;
}
