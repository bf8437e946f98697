// The synthfarm command's subcommands, one function each, grouped in files by what they
// need: farm_commands.cpp (a coordinator), fetch_command.cpp and verify_command.cpp (a
// coordinator and storage), export_labels_command.cpp (a coordinator and a dataset read
// through dataset/), scale_command.cpp (a coordinator and Slurm's client programs),
// local_commands.cpp (the spec and the renderer in-process), render_gltf_command.cpp (a
// glTF file and the renderer), keygen_command.cpp (ZeroMQ CURVE keys), calibrate_command.cpp
// (raw frames and the sensor's calibration). main.cpp parses the command line and calls one
// of them.
// Each returns the process exit code (common.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace synthfarm::cli {

// Where the coordinator is and how to prove who we are (see config.h).
struct Remote {
  std::string url;
  std::string token;    // API token; empty: none (a coordinator with --auth off)
  std::string ca_file;  // PEM bundle to verify an https:// coordinator; empty: the system's
};

int cmd_submit(const Remote& remote, const std::string& path);
int cmd_status(const Remote& remote, const std::string& job);
// pause | resume | cancel | retry | delete
int cmd_control(const Remote& remote, const std::string& action, const std::string& job);
int cmd_wait(const Remote& remote, const std::string& job, double timeout_s);
int cmd_fetch(const Remote& remote, const std::string& job, const std::string& dir);
// verify: names every stray object under the job's prefix (not in manifest.json), every
// temp file, and listed objects that are missing or of another size; exit 1 if any.
// gc (`collect_garbage`): removes the strays and temp files; refused until the job ended.
int cmd_verify(const Remote& remote, const std::string& job, bool collect_garbage);

// `synthfarm export-labels JOB --format F OUT`: a finished job's labels as Ultralytics YOLO
// pose or segmentation files, COCO or DensePose-COCO, in the new or empty directory OUT
// (docs/export.md).
struct ExportLabelsArgs {
  std::string job, format, out;
  double val_fraction = 0.1;  // YOLO: the share of samples in the val split
};
// The formats --format accepts.
const std::vector<std::string>& label_formats();
int cmd_export_labels(const Remote& remote, const ExportLabelsArgs& args);

// `synthfarm scale slurm` (scale_command.cpp): a job array of workers sized from the
// coordinator's queue; one round, or one every `watch_s` seconds.
struct ScaleSlurmArgs {
  int64_t max_workers = 0;
  int64_t shards_per_worker = 2;
  std::string script = "ops/slurm/workers.sbatch";
  std::vector<std::string> sbatch_args;  // more sbatch options, one argument each
  std::string job_name = "synthfarm-worker";
  std::string worker_prefix = "slurm-";  // as SYNTHFARM_WORKER_ID_PREFIX in the script
  bool shrink_running = false;
  bool dry_run = false;
  double watch_s = 0;
};
int cmd_scale_slurm(const Remote& remote, const ScaleSlurmArgs& args);

int cmd_validate(const std::string& path);
int cmd_render_local(const std::string& path, const std::string& out, const std::string& range,
                     int threads);
int cmd_export_scene(const std::string& path, int64_t index, const std::string& out);

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
int cmd_render_gltf(const RenderGltfArgs& args);

// `synthfarm token ...`: API tokens, kept in Redis (the commands talk to Redis directly:
// whoever holds the Redis credentials administers the farm's tokens).
struct TokenArgs {
  std::string redis = "redis://127.0.0.1:6379";
  std::string redis_password_file;  // under an ACL: the coordinator user's (it may write sf:auth:*)
  std::string key_prefix = "sf";
  std::string name;
  std::string role;
  std::string dashboard_url;  // token create --login-link / token login-link: the dashboard's URL
  int64_t link_ttl_s = 900;
};
int cmd_token_create(const TokenArgs& args);
int cmd_token_list(const TokenArgs& args);
int cmd_token_revoke(const TokenArgs& args);
int cmd_token_login_link(const TokenArgs& args);

// Writes OUT.key and OUT.pub; refuses to replace them unless `force`.
int cmd_keygen(const std::string& out, bool force);

// `synthfarm calibrate-sensor FRAMES... -o camera.yaml`: a noise profile by photon transfer
// from dark and flat raw frames (16-bit PGM or OpenEXR raw.Y / Y) named iso<N>-dark-... and
// iso<N>-flat-<tag>-...
int cmd_calibrate_sensor(const std::vector<std::string>& frames, const std::string& out);

}  // namespace synthfarm::cli
