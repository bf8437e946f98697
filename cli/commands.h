// The synthfarm command's subcommands, one function each, grouped in files by what they
// need: farm_commands.cpp (a coordinator), fetch_command.cpp (a coordinator and storage),
// local_commands.cpp (the spec and the renderer in-process), render_gltf_command.cpp (a
// glTF file and the renderer), keygen_command.cpp (ZeroMQ CURVE keys). main.cpp parses the
// command line and calls one of them.
// Each returns the process exit code (common.h).
#pragma once

#include <cstdint>
#include <string>

namespace synthfarm::cli {

int cmd_submit(const std::string& url, const std::string& path);
int cmd_status(const std::string& url, const std::string& job);
// pause | resume | cancel | retry | delete
int cmd_control(const std::string& url, const std::string& action, const std::string& job);
int cmd_wait(const std::string& url, const std::string& job, double timeout_s);
int cmd_fetch(const std::string& url, const std::string& job, const std::string& dir);

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

// Writes OUT.key and OUT.pub; refuses to replace them unless `force`.
int cmd_keygen(const std::string& out, bool force);

}  // namespace synthfarm::cli
