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
//   synthfarm export-labels JOB --format yolo-pose|yolo-seg|coco|densepose OUT [--val-fraction F]
//                                a finished job's labels as the common trainers read them
//                                (docs/export.md), into a new or empty directory
//   synthfarm export-scene SPEC --sample N -o FILE.glb
//                                one sample's posed scene and camera as binary glTF
//   synthfarm token create --role R --name N [--login-link URL] | list | revoke NAME |
//                   login-link NAME URL    API tokens (in Redis; see docs/security.md)
//   synthfarm render-gltf SCENE.glb --out OUT.exr [--spp N --width W --height H --bounces B
//                         --threads T --background LEVEL --point-radius M --sun-angle DEG
//                         --clamp-indirect C --labels-only --no-instancing --png PREVIEW.png]
//                                render a static glTF scene with the path tracer and print
//                                `synthfarm render_seconds=S ...` (the render call alone)
//   synthfarm scale slurm --max N [--shards-per-worker S --script FILE --sbatch-arg ARG
//                   --shrink-running --dry-run --watch SECONDS]
//                                submit or cancel Slurm array tasks of workers to match the
//                                queue (pending + leased shards / S, at most N)
//   synthfarm keygen --out PATH [--force]
//                                a ZeroMQ CURVE key pair: PATH.key (secret, mode 0600) and
//                                PATH.pub; prints the public key
//   synthfarm calibrate-sensor FRAMES... -o camera.yaml
//                                a sensor noise profile by photon transfer from raw frames
//                                (16-bit PGM or EXR raw.Y/Y) named iso<N>-dark-... and
//                                iso<N>-flat-<tag>-...; prints a table per ISO
// Exit codes: 0 success, 1 failure (job failed, server unreachable), 2 bad input, 3 partial.
// The API token comes from SYNTHFARM_TOKEN or the config file (cli/config.h), never from
// an argument.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <map>
#include <string>
#include <tuple>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/config.h"

using namespace synthfarm::cli;

namespace {

struct TokenCommands {
  CLI::App *create, *list, *revoke, *login_link;
};

// `synthfarm token create|list|revoke|login-link`, parsed into `token_args`.
TokenCommands add_token_commands(CLI::App& app, TokenArgs& token_args) {
  auto* token = app.add_subcommand("token", "API tokens: create, list, revoke, login-link");
  token->require_subcommand(1);
  auto redis_options = [&](CLI::App* cmd) {
    cmd->add_option("--redis", token_args.redis, "Redis address")->envname("SYNTHFARM_REDIS")->capture_default_str();
    cmd->add_option("--redis-password-file", token_args.redis_password_file,
                    "file holding the Redis user's password (the user is in --redis)")
        ->envname("SYNTHFARM_REDIS_PASSWORD_FILE");
    cmd->add_option("--key-prefix", token_args.key_prefix, "prefix of every Redis key")->capture_default_str();
  };
  auto* token_create = token->add_subcommand("create", "make a token; prints it once");
  token_create->add_option("--role", token_args.role, "viewer, submitter or admin")->required();
  token_create->add_option("--name", token_args.name, "unique name; jobs record it as their submitter")->required();
  token_create->add_option("--login-link", token_args.dashboard_url,
                           "also print a link to this dashboard URL that logs a browser in once");
  redis_options(token_create);
  auto* token_list = token->add_subcommand("list", "every token's name, role and age");
  redis_options(token_list);
  auto* token_revoke = token->add_subcommand("revoke", "revoke a token and its dashboard sessions");
  token_revoke->add_option("name", token_args.name, "token name")->required();
  redis_options(token_revoke);
  auto* token_link = token->add_subcommand("login-link", "print a link that logs a browser in once as a token");
  token_link->add_option("name", token_args.name, "token name")->required();
  token_link->add_option("url", token_args.dashboard_url, "the dashboard's URL")->required();
  redis_options(token_link);
  for (auto* cmd : {token_create, token_link}) {
    cmd->add_option("--link-ttl", token_args.link_ttl_s, "seconds the login link stays valid")
        ->check(CLI::Range(10, 7 * 24 * 3600))
        ->capture_default_str();
  }
  return {token_create, token_list, token_revoke, token_link};
}

// `synthfarm render-gltf`, parsed into `gltf`.
CLI::App* add_render_gltf_command(CLI::App& app, RenderGltfArgs& gltf) {
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
  return render_gltf;
}

// `synthfarm scale slurm`, parsed into `scale`.
CLI::App* add_scale_commands(CLI::App& app, ScaleSlurmArgs& scale) {
  auto* group = app.add_subcommand("scale", "size a batch scheduler's worker jobs from the queue");
  group->require_subcommand(1);
  auto* slurm = group->add_subcommand(
      "slurm", "submit or cancel Slurm array tasks of ops/slurm/workers.sbatch to match the queue");
  slurm->add_option("--max", scale.max_workers, "at most this many worker tasks")
      ->required()
      ->check(CLI::Range(int64_t{0}, int64_t{100000}));
  slurm->add_option("--shards-per-worker", scale.shards_per_worker,
                    "pending + leased shards per wanted worker (KEDA's threshold)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))
      ->capture_default_str();
  slurm->add_option("--script", scale.script, "the worker batch script sbatch submits")->capture_default_str();
  slurm->add_option("--sbatch-arg", scale.sbatch_args,
                    "one more sbatch argument, e.g. --sbatch-arg=--partition=render (repeat for several)")
      ->allow_extra_args(false);
  slurm->add_option("--job-name", scale.job_name, "Slurm job name of the worker tasks (squeue -n)")
      ->capture_default_str();
  slurm->add_option("--worker-prefix", scale.worker_prefix,
                    "worker id prefix, as SYNTHFARM_WORKER_ID_PREFIX in the script")
      ->capture_default_str();
  slurm->add_flag("--shrink-running", scale.shrink_running,
                  "also stop running tasks whose workers hold shards (their shards are rendered again)");
  slurm->add_flag("--dry-run", scale.dry_run, "print what would be submitted or cancelled; change nothing");
  slurm->add_option("--watch", scale.watch_s, "repeat every SECONDS (0: once)")->check(CLI::NonNegativeNumber);
  return slurm;
}

// Where the coordinator is and the token: flags and environment first, then the config
// file; the token only from SYNTHFARM_TOKEN or the config file.
tl::expected<Remote, std::string> resolve_remote(const std::string& url, bool url_given, const std::string& ca_file,
                                                 bool ca_given) {
  auto config = load_config(config_path());
  if (!config) return tl::unexpected(config.error());
  Remote remote{url, "", ca_file};
  if (!url_given && !std::getenv("SYNTHFARM_URL") && config->url) remote.url = *config->url;
  if (!ca_given && !std::getenv("SYNTHFARM_CA_FILE") && config->ca_file) remote.ca_file = *config->ca_file;
  if (const char* t = std::getenv("SYNTHFARM_TOKEN"); t && *t) {
    remote.token = t;
  } else if (config->token) {
    remote.token = *config->token;
  }
  return remote;
}

// `fetch JOB DIR`, `verify JOB` and `gc JOB`: a finished job's dataset in storage.
std::tuple<CLI::App*, CLI::App*, CLI::App*> add_dataset_commands(CLI::App& app, std::string& job,
                                                                 std::string& fetch_dir) {
  auto* fetch = app.add_subcommand("fetch", "download a finished job's dataset and verify every sha256");
  fetch->add_option("job", job, "job id")->required();
  fetch->add_option("dir", fetch_dir, "destination directory or storage URI")->required();
  auto* verify = app.add_subcommand(
      "verify", "name every object under a job's prefix that its manifest.json does not list, and temp files");
  verify->add_option("job", job, "job id")->required();
  auto* gc = app.add_subcommand("gc", "remove a finished job's stray objects and temp files (see verify)");
  gc->add_option("job", job, "job id")->required();
  return {fetch, verify, gc};
}

// `export-labels JOB --format F OUT`, parsed into `args`.
CLI::App* add_export_labels_command(CLI::App& app, ExportLabelsArgs& args) {
  auto* cmd = app.add_subcommand(
      "export-labels", "write a finished job's labels as YOLO pose or segmentation, COCO or DensePose files");
  cmd->add_option("job", args.job, "job id")->required();
  cmd->add_option("--format", args.format, "yolo-pose, yolo-seg, coco or densepose")
      ->required()
      ->check(CLI::IsMember(label_formats()));
  cmd->add_option("out", args.out, "a new or empty local directory")->required();
  cmd->add_option("--val-fraction", args.val_fraction,
                  "YOLO: the share of samples in the val split (sample i is in val when "
                  "floor((i + 1) * F) > floor(i * F))")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  return cmd;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"synthfarm: synthetic datasets of people, rendered on a farm"};
  app.set_version_flag("--version", std::string("synthfarm ") + SYNTHFARM_VERSION);
  app.require_subcommand(1);
  std::string url = "http://127.0.0.1:8080";
  auto* url_option =
      app.add_option("--url", url, "coordinator URL")->envname("SYNTHFARM_URL")->capture_default_str();
  std::string ca_file;
  auto* ca_option = app.add_option("--ca-file", ca_file, "PEM CA bundle that signed an https:// coordinator's certificate")
                        ->envname("SYNTHFARM_CA_FILE");
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
  auto [fetch, verify, gc] = add_dataset_commands(app, job, fetch_dir);
  ExportLabelsArgs export_args;
  auto* export_labels = add_export_labels_command(app, export_args);
  int64_t export_sample = 0;
  auto* export_scene =
      app.add_subcommand("export-scene", "write one sample's scene and camera as binary glTF");
  export_scene->add_option("spec", spec_path, "dataset spec")->required();
  export_scene->add_option("--sample", export_sample, "sample index")->capture_default_str();
  export_scene->add_option("-o,--out", out, "output .glb file")->required();
  RenderGltfArgs gltf;
  auto* render_gltf = add_render_gltf_command(app, gltf);
  ScaleSlurmArgs scale;
  auto* scale_slurm = add_scale_commands(app, scale);

  TokenArgs token_args;
  TokenCommands tokens = add_token_commands(app, token_args);
  bool force = false;
  auto* keygen = app.add_subcommand("keygen", "write a CURVE key pair for a coordinator or worker");
  keygen->add_option("--out", out, "PATH: writes PATH.key (secret, mode 0600) and PATH.pub")->required();
  keygen->add_flag("--force", force, "replace existing key files");
  std::vector<std::string> calibration_frames;
  auto* calibrate = app.add_subcommand(
      "calibrate-sensor", "fit a sensor noise profile (photon transfer) from dark and flat raw frames");
  calibrate
      ->add_option("frames", calibration_frames,
                   "single-channel 16-bit PGM (P5) or OpenEXR (raw.Y or Y) frames; names carry iso<N> and "
                   "'dark' or 'flat-<tag>' (pairs of each), e.g. iso800-flat-a-1.pgm")
      ->required();
  calibrate->add_option("-o,--out", out, "the noise profile YAML to write")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitBadInput;
  }
  // s3:// stores take their endpoint from the environment, as every AWS client does; the
  // flag overrides it, set here before any thread starts.
  if (!s3_endpoint.empty()) setenv("AWS_ENDPOINT_URL_S3", s3_endpoint.c_str(), 1);
  if (*tokens.create) return cmd_token_create(token_args);
  if (*tokens.list) return cmd_token_list(token_args);
  if (*tokens.revoke) return cmd_token_revoke(token_args);
  if (*tokens.login_link) return cmd_token_login_link(token_args);
  if (*validate) return cmd_validate(spec_path);
  if (*render) return cmd_render_local(spec_path, out, range, threads);
  if (*export_scene) return cmd_export_scene(spec_path, export_sample, out);
  if (*render_gltf) return cmd_render_gltf(gltf);
  if (*keygen) return cmd_keygen(out, force);
  if (*calibrate) return cmd_calibrate_sensor(calibration_frames, out);

  // The commands below talk to a coordinator.
  auto remote = resolve_remote(url, url_option->count() > 0, ca_file, ca_option->count() > 0);
  if (!remote) {
    fmt::print(stderr, "error: {}\n", remote.error());
    return kExitBadInput;
  }
  if (*submit) return cmd_submit(*remote, spec_path);
  if (*status) return cmd_status(*remote, job);
  if (*wait) return cmd_wait(*remote, job, timeout_s);
  for (const auto& [name, cmd] : controls) {
    if (*cmd) return cmd_control(*remote, name, job);
  }
  if (*fetch) return cmd_fetch(*remote, job, fetch_dir);
  if (*scale_slurm) return cmd_scale_slurm(*remote, scale);
  if (*verify) return cmd_verify(*remote, job, false);
  if (*export_labels) return cmd_export_labels(*remote, export_args);
  if (*gc) return cmd_verify(*remote, job, true);
  return kExitBadInput;
}
