// Depth fusion timed (recon/tsdf.h): the room of tests/tsdf_room_scene.h rendered from 30
// views at 640 x 480, fused at 1 cm voxels (4 cm truncation), then the mesh extracted and
// written as .glb; best of --repeats runs each. The same depth maps then go to Open3D's
// ScalableTSDFVolume (bench/tsdf_open3d_peer.py, Debian's python3-open3d) in the same run,
// at the same thread count, and the ratios are printed. Without python3-open3d the peer
// is skipped with a message. The peer's OpenMP threads wait passively: spinning ones
// collapse on a machine shared with other work (27 s instead of 2 s for 30 views here).
//
//   build/bin/tsdf_fusion [--views 30 --width 640 --height 480 --voxel 0.01 --trunc 0.04
//                          --threads 0 --repeats 3 --python /usr/bin/python3 --glb out.glb]
#include <fmt/format.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "recon/tsdf.h"
#include "tests/tsdf_room_scene.h"

using namespace synthfarm;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A scratch directory removed on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tsdf_fusion.XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes the views as the peer script reads them.
void write_views(const std::vector<recon::DepthView>& views, const std::filesystem::path& dir) {
  nlohmann::json list = nlohmann::json::array();
  for (size_t k = 0; k < views.size(); ++k) {
    const recon::DepthView& v = views[k];
    const std::string file = fmt::format("view{:03d}.f32", k);
    std::ofstream(dir / file, std::ios::binary)
        .write(reinterpret_cast<const char*>(v.depth.data()),
               static_cast<std::streamsize>(4 * v.depth.size()));
    const Mat3& r = v.rotation;
    const Vec3 t = v.translation;
    list.push_back({{"depth", file},
                    {"width", v.K.width},
                    {"height", v.K.height},
                    {"K", {{v.K.fx, 0.0, v.K.cx}, {0.0, v.K.fy, v.K.cy}, {0.0, 0.0, 1.0}}},
                    {"world_to_camera",
                     {{r.m[0][0], r.m[0][1], r.m[0][2], t.x},
                      {r.m[1][0], r.m[1][1], r.m[1][2], t.y},
                      {r.m[2][0], r.m[2][1], r.m[2][2], t.z},
                      {0.0, 0.0, 0.0, 1.0}}}});
  }
  std::ofstream(dir / "views.json") << nlohmann::json{{"views", list}}.dump();
}

// Runs `command`, returning its standard output and exit status.
std::pair<std::string, int> run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {"", -1};
  std::array<char, 4096> buffer;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("TSDF fusion timed against Open3D's ScalableTSDFVolume");
  int views_count = 30, width = 640, height = 480, threads = 0, repeats = 3;
  double voxel = 0.01, trunc = 0.04;
  std::string python = "/usr/bin/python3", glb_path;
  app.add_option("--views", views_count);
  app.add_option("--width", width);
  app.add_option("--height", height);
  app.add_option("--voxel", voxel, "metres");
  app.add_option("--trunc", trunc, "metres");
  app.add_option("--threads", threads, "0: all cores");
  app.add_option("--repeats", repeats);
  app.add_option("--python", python, "the Python that has Debian's python3-open3d");
  app.add_option("--glb", glb_path, "also keep the fused mesh as this .glb");
  CLI11_PARSE(app, argc, argv);
  const int cores =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  auto start = std::chrono::steady_clock::now();
  auto views = testing::render_depth_views(testing::tsdf_room_scene(),
                                           testing::tsdf_room_cameras(width, height, views_count));
  if (!views) {
    fmt::print(stderr, "tsdf_fusion: {}\n", views.error());
    return 1;
  }
  fmt::print("rendered {} depth maps at {}x{} in {:.2f} s\n", views->size(), width, height,
             seconds_since(start));

  double best_integrate = std::numeric_limits<double>::infinity(), best_extract = best_integrate,
         best_glb = best_integrate;
  recon::FusedMesh mesh;
  size_t blocks = 0, glb_bytes = 0;
  for (int r = 0; r < repeats; ++r) {
    auto volume = recon::TsdfVolume::create(
        {.voxel_size_m = voxel, .truncation_m = trunc, .max_depth_m = 10, .threads = threads});
    if (!volume) {
      fmt::print(stderr, "tsdf_fusion: {}\n", volume.error());
      return 1;
    }
    start = std::chrono::steady_clock::now();
    for (const recon::DepthView& view : *views) {
      if (auto done = volume->integrate(view); !done) {
        fmt::print(stderr, "tsdf_fusion: {}\n", done.error());
        return 1;
      }
    }
    best_integrate = std::min(best_integrate, seconds_since(start));
    start = std::chrono::steady_clock::now();
    mesh = volume->extract_mesh();
    best_extract = std::min(best_extract, seconds_since(start));
    start = std::chrono::steady_clock::now();
    auto glb = recon::fused_mesh_glb(mesh, "tsdf room");
    best_glb = std::min(best_glb, seconds_since(start));
    if (!glb) {
      fmt::print(stderr, "tsdf_fusion: {}\n", glb.error());
      return 1;
    }
    glb_bytes = glb->size();
    blocks = volume->block_count();
    if (!glb_path.empty() && r == 0) std::ofstream(glb_path, std::ios::binary) << *glb;
  }
  fmt::print(
      "synthfarm TSDF ({} threads): integrate {} views {:.3f} s ({:.1f} ms/view), extract {:.3f} "
      "s, "
      "glb {:.3f} s; {} blocks, {} triangles, {:.1f} MB glb\n",
      cores, views->size(), best_integrate, 1000 * best_integrate / views->size(), best_extract,
      best_glb, blocks, mesh.triangle_count(), glb_bytes / 1e6);

  ScratchDir scratch;
  write_views(*views, scratch.path());
  const std::string script = std::string(SYNTHFARM_SOURCE_DIR) + "/bench/tsdf_open3d_peer.py";
  auto [out, status] =
      run(fmt::format("OMP_NUM_THREADS={} OMP_WAIT_POLICY=PASSIVE '{}' '{}' '{}' --voxel {} "
                      "--trunc {} --repeats {}",
                      cores, python, script, scratch.path().string(), voxel, trunc, repeats));
  if (status == 3) {
    fmt::print(
        "peer skipped: Open3D is not importable by {} (Debian: apt-get install python3-open3d)\n",
        python);
    return 0;
  }
  nlohmann::json peer = nlohmann::json::parse(out, nullptr, false);
  if (status != 0 || peer.is_discarded() || !peer.contains("integrate_s")) {
    fmt::print(stderr, "tsdf_fusion: the Open3D peer failed (exit {}): {}\n", status, out);
    return 1;
  }
  const double o3d_integrate = peer["integrate_s"], o3d_extract = peer["extract_s"];
  fmt::print(
      "Open3D {} ScalableTSDFVolume (OMP_NUM_THREADS={}): integrate {:.3f} s, extract {:.3f} s "
      "(marching cubes), {} triangles\n",
      peer["open3d"].get<std::string>(), cores, o3d_integrate, o3d_extract,
      peer["triangles"].get<int64_t>());
  fmt::print("ratio synthfarm / Open3D: integrate {:.2f}, extract {:.2f}\n",
             best_integrate / o3d_integrate, best_extract / o3d_extract);
  return 0;
}
