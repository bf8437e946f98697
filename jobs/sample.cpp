// SampleRenderer: scene -> Embree render -> EXR / PNG / per-sample JSON.
//
// Per-sample JSON (keys sorted, compact; numbers in shortest round-trip form):
//   index, seed (the sample's seed), job_seed, width, height,
//   K [[fx,0,cx],[0,fy,cy],[0,0,1]] (pixels; pixel centres at integer + 0.5),
//   world_to_camera 4x4 row-major (OpenCV camera; world +z up, metres),
//   camera {fov_deg, height_m, distance_m, position [x,y,z]},
//   render {spp, max_bounces}, layers [names],
//   scene {kind, sky_intensity, sun {elevation_deg, azimuth_deg, intensity, direction}},
//   instances [{id, semantic_id, class, name, bbox [x,y,w,h], visible_pixels,
//               persons also:
//                 keypoints [x1,y1,v1, ..., x17,y17,v17] (COCO-17 order; v 0 outside the
//                   image, 1 occluded, 2 visible, by ray casting), num_keypoints (v > 0),
//                 keypoints_3d_camera [[x,y,z] x 17],
//                 shape {height_m, bmi, sex, age, shoulder_width, hip_width, leg_length,
//                   arm_length, head_size}, skin_tone, outfit,
//                 motion, motion_speed, motion_phase,
//                 pose {joint: [x,y,z]} (local Euler angles in degrees, human/skeleton.h),
//                 yaw_deg, position, joints_3d_world, joints_3d_camera {joint: [x,y,z]},
//                 joints_2d {joint: [u,v] or null behind the camera}}].
// bbox is tight around the instance's pixels in the instance layer (COCO: x, y of the
// top-left pixel, width and height in pixels); [0,0,0,0] when not visible. The person's
// mask is its id in the instance layer.
#include "jobs/sample.h"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "jobs/image_io.h"
#include "jobs/render.h"
#include "jobs/rng.h"
#include "jobs/scene.h"

namespace synthfarm::jobs {

namespace {

using nlohmann::json;

json vec_json(Vec3 v) { return json::array({v.x, v.y, v.z}); }

struct InstanceStats {
  int x0 = std::numeric_limits<int>::max(), y0 = std::numeric_limits<int>::max();
  int x1 = -1, y1 = -1;
  uint64_t pixels = 0;
};

std::string sample_json(const JobSpec& spec, uint64_t index, const Scene& scene,
                        const Frame& frame) {
  const Camera& cam = scene.camera;
  json j;
  j["index"] = index;
  j["seed"] = sample_seed(spec.seed, index);
  j["job_seed"] = spec.seed;
  j["width"] = cam.width;
  j["height"] = cam.height;
  j["K"] = json::array({json::array({cam.fx, 0.0, cam.cx}), json::array({0.0, cam.fy, cam.cy}),
                        json::array({0.0, 0.0, 1.0})});
  Vec3 t = cam.translation();
  const Mat3& r = cam.rotation;
  j["world_to_camera"] = json::array({json::array({r.m[0][0], r.m[0][1], r.m[0][2], t.x}),
                                      json::array({r.m[1][0], r.m[1][1], r.m[1][2], t.y}),
                                      json::array({r.m[2][0], r.m[2][1], r.m[2][2], t.z}),
                                      json::array({0.0, 0.0, 0.0, 1.0})});
  j["camera"] = {{"fov_deg", cam.fov_deg},
                 {"height_m", cam.height_m},
                 {"distance_m", cam.distance_m},
                 {"position", vec_json(cam.position)}};
  j["render"] = {{"spp", spec.render.spp}, {"max_bounces", spec.render.max_bounces}};
  json layers = json::array();
  for (Layer layer : spec.output.layers) layers.push_back(std::string(layer_name(layer)));
  j["layers"] = layers;
  j["scene"] = {{"kind", scene.kind},
                {"sky_intensity", scene.sky.intensity},
                {"sun",
                 {{"elevation_deg", scene.sun.elevation_deg},
                  {"azimuth_deg", scene.sun.azimuth_deg},
                  {"intensity", scene.sun.intensity},
                  {"direction", vec_json(scene.sun.direction)}}}};

  std::vector<InstanceStats> stats(scene.instances.size() + 1);
  for (int y = 0; y < frame.height; ++y) {
    for (int x = 0; x < frame.width; ++x) {
      uint32_t id = frame.instance[static_cast<size_t>(y) * frame.width + x];
      if (id == 0 || id >= stats.size()) continue;
      InstanceStats& s = stats[id];
      s.x0 = std::min(s.x0, x);
      s.y0 = std::min(s.y0, y);
      s.x1 = std::max(s.x1, x);
      s.y1 = std::max(s.y1, y);
      ++s.pixels;
    }
  }

  json instances = json::array();
  for (const Instance& instance : scene.instances) {
    const InstanceStats& s = stats[instance.id];
    json item;
    item["id"] = instance.id;
    item["semantic_id"] = static_cast<uint32_t>(instance.semantic);
    item["class"] = std::string(semantic_class_name(instance.semantic));
    item["name"] = instance.name;
    item["visible_pixels"] = s.pixels;
    item["bbox"] = s.pixels == 0 ? json::array({0, 0, 0, 0})
                                 : json::array({s.x0, s.y0, s.x1 - s.x0 + 1, s.y1 - s.y0 + 1});
    if (instance.human >= 0) {
      const auto h = static_cast<size_t>(instance.human);
      const Human& human = scene.humans[h];
      json keypoints = json::array(), keypoints_3d = json::array();
      int labelled = 0;
      for (int k = 0; k < kKeypointCount; ++k) {
        const Frame::Keypoint& kp = frame.keypoints[h][k];
        keypoints.push_back(kp.x);
        keypoints.push_back(kp.y);
        keypoints.push_back(kp.v);
        labelled += kp.v > 0 ? 1 : 0;
        keypoints_3d.push_back(vec_json(cam.to_camera(human.keypoints[k])));
      }
      item["keypoints"] = keypoints;
      item["num_keypoints"] = labelled;
      item["keypoints_3d_camera"] = keypoints_3d;
      const human::Shape& s = human.shape;
      item["shape"] = {{"height_m", s.height_m},     {"bmi", s.bmi},
                       {"sex", s.sex},               {"age", s.age},
                       {"shoulder_width", s.shoulder_width}, {"hip_width", s.hip_width},
                       {"leg_length", s.leg_length}, {"arm_length", s.arm_length},
                       {"head_size", s.head_size}};
      item["skin_tone"] = human.skin_tone;
      item["outfit"] = human.outfit;
      item["motion"] = human.motion;
      item["motion_speed"] = human.motion_speed;
      item["motion_phase"] = human.motion_phase;
      if (!human.motion_clip.empty()) item["motion_clip"] = human.motion_clip;
      item["yaw_deg"] = human.yaw_deg;
      item["position"] = vec_json(human.position);
      json pose = json::object(), world = json::object(), camera = json::object(), image = json::object();
      for (int k = 0; k < human::kJointCount; ++k) {
        std::string name(human::kJointNames[k]);
        pose[name] = vec_json(human.pose_euler_deg[k]);
        Vec3 c = cam.to_camera(human.joints[k]);
        world[name] = vec_json(human.joints[k]);
        camera[name] = vec_json(c);
        if (c.z > 1e-9) {
          auto [u, v] = cam.project(c);
          image[name] = json::array({u, v});
        } else {
          image[name] = nullptr;
        }
      }
      item["pose"] = pose;
      item["joints_3d_world"] = world;
      item["joints_3d_camera"] = camera;
      item["joints_2d"] = image;
    }
    instances.push_back(item);
  }
  j["instances"] = instances;
  return j.dump();
}

// The file name at the end of a URI, for error messages.
std::string_view file_name_of(std::string_view uri) {
  auto slash = uri.rfind('/');
  return slash == std::string_view::npos ? uri : uri.substr(slash + 1);
}

bool needs_mocap(const JobSpec& spec) {
  const auto& motions = spec.humans.motion.values;
  return std::find(motions.begin(), motions.end(), "bvh") != motions.end();
}

// humans.bvh[i], read, parsed and mapped onto the skeleton.
tl::expected<std::shared_ptr<const MocapClip>, std::string> load_mocap_clip(const HumansSpec& hs, size_t i,
                                                                           const AssetReader& read_asset) {
  const std::string& uri = hs.bvh[i];
  const std::string field = fmt::format("humans.bvh[{}]", i);
  if (!read_asset) return tl::unexpected(fmt::format("{}: {}: no file reader in this process", field, uri));
  auto bytes = read_asset(uri);
  if (!bytes) return tl::unexpected(fmt::format("{}: {}", field, bytes.error()));
  auto motion = human::parse_bvh(*bytes, file_name_of(uri));
  if (!motion) return tl::unexpected(fmt::format("{}: {}", field, motion.error().to_string()));
  auto map = human::resolve_joint_map(*motion, hs.bvh_preset, hs.bvh_joint_map);
  if (!map) return tl::unexpected(fmt::format("{}: {}", field, map.error().to_string()));
  return std::make_shared<const MocapClip>(MocapClip{uri, std::move(*motion), std::move(*map)});
}

class EmbreeSampleRenderer final : public SampleRenderer {
 public:
  EmbreeSampleRenderer(std::unique_ptr<Renderer> renderer, int threads, AssetReader read_asset)
      : renderer_(std::move(renderer)), threads_(threads), read_asset_(std::move(read_asset)) {}

  // The spec's input files, parsed (cached per URI and joint map). Errors name the spec
  // field, the file and what is wrong with it.
  tl::expected<SceneAssets, std::string> load_assets(const JobSpec& spec) const {
    SceneAssets assets;
    const HumansSpec& hs = spec.humans;
    if (!needs_mocap(spec)) return assets;
    std::string map_key = hs.bvh_preset;
    for (const auto& [ours, theirs] : hs.bvh_joint_map) map_key += "|" + ours + "=" + theirs;
    for (size_t i = 0; i < hs.bvh.size(); ++i) {
      const std::string& uri = hs.bvh[i];
      const std::string key = uri + "\n" + map_key;
      {
        std::lock_guard lock(mutex_);
        if (auto it = clips_.find(key); it != clips_.end()) {
          assets.bvh.push_back(it->second);
          continue;
        }
      }
      auto clip = load_mocap_clip(hs, i, read_asset_);  // I/O without the lock
      if (!clip) return tl::unexpected(clip.error());
      std::lock_guard lock(mutex_);
      assets.bvh.push_back(clips_.try_emplace(key, std::move(*clip)).first->second);
    }
    return assets;
  }

  tl::expected<SampleObjects, std::string> render(const JobSpec& spec, uint64_t index,
                                                  const std::atomic<bool>* cancel) const override {
    try {
      auto assets = load_assets(spec);
      if (!assets) return tl::unexpected(fmt::format("sample {}: {}", index, assets.error()));
      Scene scene = build_scene(spec, index, &*assets);
      RenderSettings settings;
      settings.spp = spec.render.spp;
      settings.max_bounces = spec.render.max_bounces;
      settings.seed = sample_seed(spec.seed, index);
      settings.threads = threads_;
      settings.cancel = cancel;
      auto frame = renderer_->render(scene, settings);
      if (!frame) return tl::unexpected(fmt::format("sample {}: {}", index, frame.error()));
      SampleObjects objects;
      objects.exr = encode_exr(*frame, spec.output.layers);
      if (spec.output.preview_png) objects.png = encode_png(*frame);
      objects.json = sample_json(spec, index, scene, *frame);
      return objects;
    } catch (const std::exception& e) {
      return tl::unexpected(fmt::format("sample {}: {}", index, e.what()));
    } catch (...) {
      return tl::unexpected(fmt::format("sample {}: unknown exception", index));
    }
  }

 private:
  std::unique_ptr<Renderer> renderer_;
  int threads_;
  AssetReader read_asset_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<const MocapClip>> clips_;  // GUARDED_BY(mutex_)
};

}  // namespace

tl::expected<SceneAssets, std::string> load_scene_assets(const JobSpec& spec, const AssetReader& read_asset) {
  SceneAssets assets;
  if (!needs_mocap(spec)) return assets;
  for (size_t i = 0; i < spec.humans.bvh.size(); ++i) {
    auto clip = load_mocap_clip(spec.humans, i, read_asset);
    if (!clip) return tl::unexpected(clip.error());
    assets.bvh.push_back(std::move(*clip));
  }
  return assets;
}

std::string sample_key(uint64_t index, std::string_view extension) {
  return fmt::format("samples/{:08d}.{}", index, extension);
}

tl::expected<std::unique_ptr<SampleRenderer>, std::string> SampleRenderer::create(int threads,
                                                                                AssetReader read_asset) {
  if (threads < 0)
    return tl::unexpected(fmt::format("render threads must be >= 0, got {}", threads));
  auto renderer = Renderer::create();
  if (!renderer) return tl::unexpected(renderer.error());
  return std::make_unique<EmbreeSampleRenderer>(std::move(*renderer), threads, std::move(read_asset));
}

}  // namespace synthfarm::jobs
