// SampleRenderer: scene -> Embree render -> EXR / PNG / per-sample JSON.
//
// Per-sample JSON (keys sorted, compact; numbers in shortest round-trip form):
//   index, seed (the sample's seed), job_seed, width, height,
//   K [[fx,0,cx],[0,fy,cy],[0,0,1]] (pixels; pixel centres at integer + 0.5),
//   distortion {model "brown_conrady" | "fisheye", coefficients [OpenCV's order: k1,k2,p1,p2,
//     k3,k4,k5,k6 | k1..k4]} only when the sample has a lens (jobs/lens_stage.h): every layer,
//     box, mask, keypoint and joints_2d is then the distorted image's, and K its intrinsics,
//   world_to_camera 4x4 row-major (OpenCV camera; world +z up, metres),
//   camera {fov_deg, height_m, distance_m, position [x,y,z]},
//   render {spp, max_bounces}, layers [names],
//   scene {kind, sky_intensity, sun {elevation_deg, azimuth_deg, intensity, direction}},
//   instances [{id, semantic_id, class, name, bbox [x,y,w,h], visible_pixels, area,
//               segmentation {size [h,w], counts "..."},
//               persons also:
//                 keypoints [x1,y1,v1, ..., x17,y17,v17] (COCO-17 order; v 0 outside the
//                   image, 1 occluded, 2 visible, by ray casting), num_keypoints (v > 0),
//                 keypoints_3d_camera [[x,y,z] x 17],
//                 shape {height_m, bmi, sex, age, shoulder_width, hip_width, leg_length,
//                   arm_length, head_size}, skin_tone, outfit,
//                 motion, motion_speed, motion_phase,
//                 pose {joint: [x,y,z]} (local Euler angles in degrees, human/skeleton.h),
//                 yaw_deg, position, joints_3d_world, joints_3d_camera {joint: [x,y,z]},
//                 joints_2d {joint: [u,v] or null behind the camera}}],
//   shutter {open_s, close_s, labels_at "mid", camera_velocity_m_s} with motion blur only
//     (jobs/motion_blur.h: every label is that of mid-shutter).
// bbox is tight around the instance's pixels in the instance layer (COCO: x, y of the
// top-left pixel, width and height in pixels); [0,0,0,0] when not visible. The instance's
// mask is its id in the instance layer; `segmentation` is that mask in COCO's compressed
// RLE (jobs/coco.h), `area` its pixel count (= visible_pixels), so the dataset's COCO files
// are built from sample JSONs alone.
#include "jobs/sample.h"

#include "jobs/object_keys.h"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <span>
#include <nlohmann/json.hpp>

#include "jobs/characters.h"
#include "jobs/scene_mesh.h"
#include "jobs/fitted_bodies.h"
#include "jobs/coco.h"
#include "jobs/lens_stage.h"
#include "jobs/motion_blur.h"
#include "jobs/sensor_stage.h"
#include "sensor/calibration.h"
#include "render/image_io.h"
#include "render/renderer.h"
#include "base/rng.h"
#include "jobs/scene.h"

namespace synthfarm::jobs {

using render::Camera;
using render::Environment;
using render::Frame;
using render::Instance;
using render::Layer;
using render::Light;
using render::Mesh;
using render::RenderSettings;
using render::Renderer;
using render::Scene;
using render::SemanticClass;
using render::Sky;
using render::decode_environment_exr;
using render::encode_exr;
using render::encode_png;
using render::layer_bit;
using render::semantic_class_name;

namespace {

using nlohmann::json;

json vec_json(Vec3 v) { return json::array({v.x, v.y, v.z}); }

struct InstanceStats {
  int x0 = std::numeric_limits<int>::max(), y0 = std::numeric_limits<int>::max();
  int x1 = -1, y1 = -1;
  uint64_t pixels = 0;
};

// {name: [x, y, z]} of joints in camera space, and {name: [u, v] or null} in the image.
void joints_json(const Camera& cam, const LensStage& lens, std::span<const std::string> names,
                 std::span<const Vec3> world_points, json& item) {
  json world = json::object(), camera = json::object(), image = json::object();
  for (size_t k = 0; k < names.size(); ++k) {
    const Vec3 c = cam.to_camera(world_points[k]);
    world[names[k]] = vec_json(world_points[k]);
    camera[names[k]] = vec_json(c);
    if (auto uv = lens.project(cam, c)) {
      image[names[k]] = json::array({(*uv)[0], (*uv)[1]});
    } else {
      image[names[k]] = nullptr;
    }
  }
  item["joints_3d_world"] = world;
  item["joints_3d_camera"] = camera;
  item["joints_2d"] = image;
}

std::string sample_json(const JobSpec& spec, uint64_t index, int frame_number, const SampleScene& scene,
                        const Frame& frame, const LensStage& lens, const json& extra) {
  const Camera& cam = scene.camera;
  json j = extra;
  j["index"] = index;
  if (spec.clip.frames > 1) {
    j["clip"] = {{"frame", frame_number},
                 {"frames", spec.clip.frames},
                 {"fps", spec.clip.fps},
                 {"time_s", static_cast<double>(frame_number) / spec.clip.fps}};
  }
  j["seed"] = sample_seed(spec.seed, index);
  j["job_seed"] = spec.seed;
  j["width"] = cam.width;
  j["height"] = cam.height;
  j["K"] = json::array({json::array({cam.fx, 0.0, cam.cx}), json::array({0.0, cam.fy, cam.cy}),
                        json::array({0.0, 0.0, 1.0})});
  if (lens.active()) {
    j["distortion"] = {{"model", sensor::lens_model_name(lens.distortion().model)},
                       {"coefficients", lens.coefficients()}};
  }
  Vec3 t = cam.translation();
  const Mat3& r = cam.rotation;
  j["world_to_camera"] = json::array({json::array({r.m[0][0], r.m[0][1], r.m[0][2], t.x}),
                                      json::array({r.m[1][0], r.m[1][1], r.m[1][2], t.y}),
                                      json::array({r.m[2][0], r.m[2][1], r.m[2][2], t.z}),
                                      json::array({0.0, 0.0, 0.0, 1.0})});
  j["camera"] = {{"fov_deg", cam.fov_deg},
                 {"height_m", cam.height_m},
                 {"distance_m", cam.distance_m},
                 {"position", vec_json(cam.position)},
                 {"aperture_radius_m", cam.aperture_radius_m},
                 {"focus_distance_m", cam.focus_distance_m}};
  j["render"] = {{"spp", spec.render.spp}, {"max_bounces", spec.render.max_bounces}};
  json layers = json::array();
  for (Layer layer : spec.output.layers) layers.push_back(std::string(layer_name(layer)));
  j["layers"] = layers;
  json lights = json::array();
  for (const Light& light : scene.lights) {
    static constexpr std::array<const char*, 4> kKinds = {"point", "spot", "rect", "disk"};
    lights.push_back({{"kind", kKinds[static_cast<size_t>(light.kind)]},
                      {"position", vec_json(light.position)},
                      {"direction", vec_json(light.direction)},
                      {"intensity", light.intensity},
                      {"color", {light.color.r, light.color.g, light.color.b}}});
  }
  j["scene"] = {{"kind", scene.kind},
                {"sky", scene.sky.model == Sky::Model::kPreetham ? "preetham"
                        : scene.sky.model == Sky::Model::kUniform ? "uniform"
                                                                  : "gradient"},
                {"turbidity", scene.sky.turbidity},
                {"environment", scene.environment ? json(scene.environment->name) : json(nullptr)},
                {"lights", lights},
                {"sky_intensity", scene.sky.intensity},
                {"sun",
                 {{"elevation_deg", scene.sun.elevation_deg},
                  {"azimuth_deg", scene.sun.azimuth_deg},
                  {"intensity", scene.sun.intensity},
                  {"direction", vec_json(scene.sun.direction)}}}};

  if (!spec.scene.mesh.empty()) j["scene"]["mesh"] = spec.scene.mesh;  // kind "mesh"

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

  uint32_t max_id = 0;
  for (const Instance& instance : scene.instances) max_id = std::max(max_id, instance.id);
  const std::vector<coco::RleMask> masks =
      coco::encode_id_masks(frame.instance, frame.width, frame.height, max_id);

  json instances = json::array();
  for (const Instance& instance : scene.instances) {
    const InstanceStats& s = stats[instance.id];
    json item;
    item["id"] = instance.id;
    item["semantic_id"] = static_cast<uint32_t>(instance.semantic);
    item["class"] = std::string(semantic_class_name(instance.semantic));
    item["name"] = instance.name;
    item["visible_pixels"] = s.pixels;
    item["area"] = s.pixels;
    // Instance ids start at 1 (0 is the background in the instance layer).
    item["segmentation"] = {{"size", {frame.height, frame.width}},
                            {"counts", coco::rle_to_string(masks.at(instance.id - 1).counts)}};
    item["bbox"] = s.pixels == 0 ? json::array({0, 0, 0, 0})
                                 : json::array({s.x0, s.y0, s.x1 - s.x0 + 1, s.y1 - s.y0 + 1});
    // People are instances 1..N, in scene.humans order (scene.h).
    const auto person = std::find_if(scene.humans.begin(), scene.humans.end(),
                                     [&](const Human& h) { return h.instance_id == instance.id; });
    if (person != scene.humans.end()) {
      const auto h = static_cast<size_t>(person - scene.humans.begin());
      const Human& human = *person;
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
      item["body"] = human.body;
      item["motion"] = human.motion;
      item["motion_speed"] = human.motion_speed;
      item["motion_phase"] = human.motion_phase;
      item["yaw_deg"] = human.yaw_deg;
      item["position"] = vec_json(human.position);
      if (human.body == "character") {
        item["character"] = human.character;
        item["animation"] = human.character_animation;
        item["time_s"] = human.character_time_s;
        joints_json(cam, lens, human.character_joint_names, human.character_joints, item);
      } else {
        const humans::Shape& s = human.shape;
        item["shape"] = {{"height_m", s.height_m},     {"bmi", s.bmi},
                         {"sex", s.sex},               {"age", s.age},
                         {"shoulder_width", s.shoulder_width}, {"hip_width", s.hip_width},
                         {"leg_length", s.leg_length}, {"arm_length", s.arm_length},
                         {"head_size", s.head_size}};
        item["skin_tone"] = human.skin_tone;
        item["outfit"] = human.outfit;
        if (!human.motion_clip.empty()) item["motion_clip"] = human.motion_clip;
        if (!human.shape_source.empty()) item["shape_source"] = human.shape_source;
        static const std::vector<std::string> kNames(humans::kJointNames.begin(), humans::kJointNames.end());
        json pose = json::object();
        for (int k = 0; k < humans::kJointCount; ++k) pose[kNames[k]] = vec_json(human.pose_euler_deg[k]);
        item["pose"] = pose;
        joints_json(cam, lens, kNames, human.joints, item);
      }
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

// The motion layer's input: every person's vertices one frame later. A scene's frames have
// the same meshes in the same order (same people, same clothes); only people move.
void add_next_positions(Scene& scene, const Scene& next) {
  if (next.meshes.size() != scene.meshes.size()) return;
  for (size_t i = 0; i < scene.meshes.size(); ++i) {
    Mesh& mesh = scene.meshes[i];
    if (mesh.semantic != SemanticClass::kPerson || next.meshes[i].positions.size() != mesh.positions.size()) continue;
    mesh.next_positions = next.meshes[i].positions;
  }
}

bool wants_rgb(const JobSpec& spec) {
  const auto& layers = spec.output.layers;
  return std::find(layers.begin(), layers.end(), Layer::kRgb) != layers.end();
}

bool needs_characters(const JobSpec& spec) {
  const auto& bodies = spec.humans.body.values;
  return std::find(bodies.begin(), bodies.end(), "character") != bodies.end();
}

// humans.bvh[i], read, parsed and mapped onto the skeleton.
tl::expected<std::shared_ptr<const MocapClip>, std::string> load_mocap_clip(const HumansSpec& hs, size_t i,
                                                                           const AssetReader& read_asset) {
  const std::string& uri = hs.bvh[i];
  const std::string field = fmt::format("humans.bvh[{}]", i);
  if (!read_asset) return tl::unexpected(fmt::format("{}: {}: no file reader in this process", field, uri));
  auto bytes = read_asset(uri);
  if (!bytes) return tl::unexpected(fmt::format("{}: {}", field, bytes.error()));
  auto motion = humans::parse_bvh(*bytes, file_name_of(uri));
  if (!motion) return tl::unexpected(fmt::format("{}: {}", field, motion.error().to_string()));
  auto map = humans::resolve_joint_map(*motion, hs.bvh_preset, hs.bvh_joint_map);
  if (!map) return tl::unexpected(fmt::format("{}: {}", field, map.error().to_string()));
  return std::make_shared<const MocapClip>(MocapClip{uri, std::move(*motion), std::move(*map)});
}

// humans.characters[i], read, parsed and its keypoint joints resolved.
tl::expected<std::shared_ptr<const CharacterAsset>, std::string> load_character_asset(
    const HumansSpec& hs, size_t i, const AssetReader& read_asset) {
  const std::string& uri = hs.characters[i];
  const std::string field = fmt::format("humans.characters[{}]", i);
  if (!read_asset) return tl::unexpected(fmt::format("{}: {}: no file reader in this process", field, uri));
  auto bytes = read_asset(uri);
  if (!bytes) return tl::unexpected(fmt::format("{}: {}", field, bytes.error()));
  auto asset = load_character(*bytes, uri, hs.character_preset, hs.character_joint_map);
  if (!asset) return tl::unexpected(fmt::format("{}: {}", field, asset.error()));
  return std::make_shared<const CharacterAsset>(std::move(*asset));
}

// lighting.environment's map `uri`, read and decoded.
tl::expected<std::shared_ptr<const Environment>, std::string> load_environment(const std::string& uri,
                                                                              const AssetReader& read_asset) {
  const std::string file = uri.substr(uri.find_last_of('/') + 1);
  if (!read_asset) return tl::unexpected(fmt::format("lighting.environment: {}: no file reader in this process", uri));
  auto bytes = read_asset(uri);
  if (!bytes) return tl::unexpected(fmt::format("lighting.environment: {}", bytes.error()));
  auto environment = decode_environment_exr(*bytes, file);
  if (!environment) return tl::unexpected(fmt::format("lighting.environment: {}", environment.error()));
  environment->name = uri;
  return std::make_shared<const Environment>(std::move(*environment));
}

// humans.poses / humans.shapes: a fit_people job's poses.jsonl or shapes.jsonl, read and
// parsed (fitted_bodies.h).
template <typename Fitted, typename Parse>
tl::expected<std::shared_ptr<const std::vector<Fitted>>, std::string> load_fitted(
    std::string_view field, const std::string& uri, const AssetReader& read_asset, Parse&& parse) {
  if (!read_asset) return tl::unexpected(fmt::format("{}: {}: no file reader in this process", field, uri));
  auto bytes = read_asset(uri);
  if (!bytes) return tl::unexpected(fmt::format("{}: {}", field, bytes.error()));
  auto fitted = parse(*bytes, uri);
  if (!fitted) return tl::unexpected(fmt::format("{}: {}", field, fitted.error()));
  return std::make_shared<const std::vector<Fitted>>(std::move(*fitted));
}

tl::expected<std::shared_ptr<const std::vector<FittedPose>>, std::string> load_fitted_poses(
    const std::string& uri, const AssetReader& read_asset) {
  return load_fitted<FittedPose>("humans.poses", uri, read_asset, parse_fitted_poses);
}

tl::expected<std::shared_ptr<const std::vector<FittedShape>>, std::string> load_fitted_shapes(
    const std::string& uri, const AssetReader& read_asset) {
  return load_fitted<FittedShape>("humans.shapes", uri, read_asset, parse_fitted_shapes);
}

// sensor.noise.profile's calibrate-sensor file, read and parsed.
tl::expected<std::shared_ptr<const sensor::NoiseProfile>, std::string> load_noise_profile(
    const std::string& uri, const AssetReader& read_asset) {
  if (!read_asset) return tl::unexpected(fmt::format("sensor.noise.profile: {}: no file reader in this process", uri));
  auto bytes = read_asset(uri);
  if (!bytes) return tl::unexpected(fmt::format("sensor.noise.profile: {}", bytes.error()));
  auto profile = sensor::noise_profile_from_yaml(*bytes, file_name_of(uri));
  if (!profile) return tl::unexpected(fmt::format("sensor.noise.profile: {}", profile.error()));
  return std::make_shared<const sensor::NoiseProfile>(*profile);
}

// sensor.model's TorchScript file, read and loaded.
tl::expected<std::shared_ptr<const sensor::LearnedModel>, std::string> load_camera_model(
    const std::string& uri, const AssetReader& read_asset, const sensor::LearnedModelLoader& load_model) {
  if (!load_model) return tl::unexpected(fmt::format("sensor.model: {}: this process cannot run learned models", uri));
  if (!read_asset) return tl::unexpected(fmt::format("sensor.model: {}: no file reader in this process", uri));
  auto bytes = read_asset(uri);
  if (!bytes) return tl::unexpected(fmt::format("sensor.model: {}", bytes.error()));
  auto model = load_model(*bytes, std::string(file_name_of(uri)));
  if (!model) return tl::unexpected(fmt::format("sensor.model: {}", model.error()));
  return *model;
}

// The text a joint map is cached under, beside the file's URI.
template <typename Map>
std::string map_key(std::string_view preset, const Map& map) {
  std::string key(preset);
  for (const auto& [ours, theirs] : map) key += "|" + ours + "=" + theirs;
  return key;
}

// Where each kind of file a spec names comes from: read and parsed straight away, or
// through a worker's cache. Errors name the spec field and the file.
template <typename T>
using Loaded = tl::expected<std::shared_ptr<const T>, std::string>;
struct AssetLoaders {
  std::function<Loaded<MocapClip>(size_t)> clip;            // humans.bvh[i]
  std::function<Loaded<CharacterAsset>(size_t)> character;  // humans.characters[i]
  std::function<Loaded<Environment>(const std::string&)> environment;
  std::function<Loaded<std::vector<FittedPose>>(const std::string&)> poses;
  std::function<Loaded<std::vector<FittedShape>>(const std::string&)> shapes;
  std::function<Loaded<SceneMesh>(const std::string&)> scene_mesh;
};

// scene.mesh, read and voxelised.
Loaded<SceneMesh> load_fixed_mesh(const std::string& uri, const AssetReader& read_asset) {
  if (!read_asset) return tl::unexpected(fmt::format("scene.mesh: {}: no file reader in this process", uri));
  auto bytes = read_asset(uri);
  if (!bytes) return tl::unexpected(fmt::format("scene.mesh: {}", bytes.error()));
  auto mesh = load_scene_mesh(*bytes, uri);
  if (!mesh) return tl::unexpected(fmt::format("scene.mesh: {}", mesh.error()));
  return *mesh;
}

// Loads the spec's files through `load`: the clips of humans.bvh and the characters of
// humans.characters, each only when some draw can use it, the maps of
// lighting.environment, the fitted poses and shapes, and the scene mesh.
tl::expected<SceneAssets, std::string> gather_assets(const JobSpec& spec, const AssetLoaders& load) {
  SceneAssets assets;
  if (!spec.humans.poses.empty()) {
    auto poses = load.poses(spec.humans.poses);
    if (!poses) return tl::unexpected(poses.error());
    assets.poses = std::move(*poses);
  }
  if (!spec.humans.shapes.empty()) {
    auto shapes = load.shapes(spec.humans.shapes);
    if (!shapes) return tl::unexpected(shapes.error());
    assets.shapes = std::move(*shapes);
  }
  if (!spec.scene.mesh.empty()) {
    auto mesh = load.scene_mesh(spec.scene.mesh);
    if (!mesh) return tl::unexpected(mesh.error());
    assets.scene_mesh = std::move(*mesh);
  }
  for (const std::string& map : spec.lighting.environment.values) {
    if (map == "sky" || assets.environments.contains(map)) continue;
    auto environment = load.environment(map);
    if (!environment) return tl::unexpected(environment.error());
    assets.environments.emplace(map, std::move(*environment));
  }
  if (needs_mocap(spec)) {
    for (size_t i = 0; i < spec.humans.bvh.size(); ++i) {
      auto clip = load.clip(i);
      if (!clip) return tl::unexpected(clip.error());
      assets.bvh.push_back(std::move(*clip));
    }
  }
  if (needs_characters(spec)) {
    for (size_t i = 0; i < spec.humans.characters.size(); ++i) {
      auto character = load.character(i);
      if (!character) return tl::unexpected(character.error());
      assets.characters.push_back(std::move(*character));
    }
  }
  return assets;
}

class EmbreeSampleRenderer final : public SampleRenderer {
 public:
  EmbreeSampleRenderer(std::unique_ptr<Renderer> renderer, int threads, AssetReader read_asset,
                       sensor::LearnedModelLoader load_model)
      : renderer_(std::move(renderer)),
        threads_(threads),
        read_asset_(std::move(read_asset)),
        load_model_(std::move(load_model)) {}

  // The sensor section's files, loaded (cached per URI).
  tl::expected<SensorAssets, std::string> load_sensor_assets(const SensorSpec& sensor) const {
    SensorAssets assets;
    if (!sensor.enabled) return assets;
    if (!sensor.noise.profile_uri.empty()) {
      auto profile = cached(profiles_, sensor.noise.profile_uri,
                            [&] { return load_noise_profile(sensor.noise.profile_uri, read_asset_); });
      if (!profile) return tl::unexpected(profile.error());
      assets.profile = **profile;
    }
    if (!sensor.model.empty()) {
      auto model = cached(models_, sensor.model, [&] { return load_camera_model(sensor.model, read_asset_, load_model_); });
      if (!model) return tl::unexpected(model.error());
      assets.model = *model;
    }
    return assets;
  }

  // The spec's input files, parsed (cached per URI and joint map). Errors name the spec
  // field, the file and what is wrong with it.
  tl::expected<SceneAssets, std::string> load_assets(const JobSpec& spec) const {
    const HumansSpec& hs = spec.humans;
    AssetLoaders load;
    load.clip = [&](size_t i) {
      return cached(clips_, hs.bvh[i] + "\n" + map_key(hs.bvh_preset, hs.bvh_joint_map),
                    [&] { return load_mocap_clip(hs, i, read_asset_); });
    };
    load.character = [&](size_t i) {
      return cached(characters_, hs.characters[i] + "\n" + map_key(hs.character_preset, hs.character_joint_map),
                    [&] { return load_character_asset(hs, i, read_asset_); });
    };
    load.environment = [&](const std::string& uri) {
      return cached(environments_, uri, [&] { return load_environment(uri, read_asset_); });
    };
    load.poses = [&](const std::string& uri) {
      return cached(poses_, uri, [&] { return load_fitted_poses(uri, read_asset_); });
    };
    load.shapes = [&](const std::string& uri) {
      return cached(shapes_, uri, [&] { return load_fitted_shapes(uri, read_asset_); });
    };
    load.scene_mesh = [&](const std::string& uri) {
      return cached(scene_meshes_, uri, [&] { return load_fixed_mesh(uri, read_asset_); });
    };
    return gather_assets(spec, load);
  }

  tl::expected<SampleObjects, std::string> render(const JobSpec& spec, uint64_t index,
                                                  const std::atomic<bool>* cancel) const override {
    try {
      auto assets = load_assets(spec);
      if (!assets) return tl::unexpected(fmt::format("sample {}: {}", index, assets.error()));
      auto sensor_assets = load_sensor_assets(spec.sensor);
      if (!sensor_assets) return tl::unexpected(fmt::format("sample {}: {}", index, sensor_assets.error()));
      const bool camera_stage = spec.sensor.enabled && wants_rgb(spec);
      std::optional<SensorDraw> camera;  // drawn on frame 0, kept for the clip
      SampleObjects objects;
      const bool motion = std::find(spec.output.layers.begin(), spec.output.layers.end(), Layer::kMotion) !=
                          spec.output.layers.end();
      Frame frame;  // one for the clip: its layers' memory is reused frame after frame
      Frame wide;   // the undistorted render when the sample has a lens (lens_stage.h)
      std::optional<LensStage> lens;  // one camera per sample: made on the first frame
      for (int f = 0; f < spec.clip.frames; ++f) {
        SampleScene scene = build_scene(spec, index, &*assets, f);
        if (!lens) {
          auto made = LensStage::create(spec, index, scene.camera);
          if (!made) return tl::unexpected(fmt::format("sample {}: {}", index, made.error()));
          lens = std::move(*made);
        }
        const Camera output_camera = scene.camera;
        if (lens->active()) scene.camera = lens->wide_camera(output_camera);
        if (motion) add_next_positions(scene, build_scene(spec, index, &*assets, f + 1));
        const std::optional<SampleShutter> shutter =
            add_motion_blur(spec, index, &*assets, f, scene);
        RenderSettings settings;
        settings.spp = spec.render.spp;
        settings.max_bounces = spec.render.max_bounces;
        // Every frame its own noise: a clip's frames are separate images of one moment each.
        settings.seed = f == 0 ? sample_seed(spec.seed, index)
                               : mix64(sample_seed(spec.seed, index) ^ static_cast<uint64_t>(f));
        settings.threads = threads_;
        settings.cancel = cancel;
        // Only the layers asked for (and the instance ids the JSON's boxes come from); no
        // light transport at all when rgb is not among them (labels only).
        settings.layers = layer_bit(Layer::kInstance);
        for (Layer layer : spec.output.layers) settings.layers |= layer_bit(layer);
        settings.labels_only = !wants_rgb(spec);
        if (auto rendered = renderer_->render(scene, settings, lens->active() ? wide : frame); !rendered) {
          return tl::unexpected(spec.clip.frames > 1
                                    ? fmt::format("sample {} frame {}: {}", index, f, rendered.error())
                                    : fmt::format("sample {}: {}", index, rendered.error()));
        }
        if (lens->active()) {
          scene.camera = output_camera;
          lens->apply(scene, wide, frame);
        }
        FrameObjects& out = f == 0 ? static_cast<FrameObjects&>(objects) : objects.later_frames.emplace_back();
        json extra = json::object();
        if (camera_stage) {
          const uint64_t seed = sample_seed(spec.seed, index);
          if (!camera) camera = draw_sensor(spec.sensor, *sensor_assets, seed, frame);
          auto image = run_sensor(spec.sensor, *sensor_assets, *camera, frame,
                                  mix64(seed ^ purpose_hash("sensor.noise.pixels") ^ static_cast<uint64_t>(f)));
          if (!image) return tl::unexpected(fmt::format("sample {}: {}", index, image.error()));
          out.exr = encode_exr(frame, spec.output.layers, sensor_channels(spec.sensor, *image));
          if (!image->image.jpeg.empty()) {
            out.jpg = std::move(image->image.jpeg);
          } else if (spec.output.preview_png) {
            out.png = render::encode_png_rgb8(image->image.srgb8, frame.width, frame.height);
          }
          extra["sensor"] = sensor_json(spec.sensor, *camera);
        } else {
          out.exr = encode_exr(frame, spec.output.layers);
          if (spec.output.preview_png && wants_rgb(spec)) out.png = encode_png(frame);
        }
        if (shutter) extra["shutter"] = shutter_json(*shutter);
        out.json = sample_json(spec, index, f, scene, frame, *lens, extra);
      }
      return objects;
    } catch (const std::exception& e) {
      return tl::unexpected(fmt::format("sample {}: {}", index, e.what()));
    } catch (...) {
      return tl::unexpected(fmt::format("sample {}: unknown exception", index));
    }
  }

 private:
  // The value cached under `key`, loaded by `load` (without the lock held: it reads files)
  // when absent. Errors are not cached: a file fixed in storage is read again.
  template <typename T, typename Load>
  tl::expected<std::shared_ptr<const T>, std::string> cached(std::map<std::string, std::shared_ptr<const T>>& cache,
                                                            const std::string& key, Load&& load) const {
    {
      std::lock_guard lock(mutex_);
      if (auto it = cache.find(key); it != cache.end()) return it->second;
    }
    auto value = load();
    if (!value) return tl::unexpected(value.error());
    std::lock_guard lock(mutex_);
    return cache.try_emplace(key, std::move(*value)).first->second;
  }

  std::unique_ptr<Renderer> renderer_;
  int threads_;
  AssetReader read_asset_;
  sensor::LearnedModelLoader load_model_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<const MocapClip>> clips_;            // GUARDED_BY(mutex_)
  mutable std::map<std::string, std::shared_ptr<const CharacterAsset>> characters_;  // GUARDED_BY(mutex_)
  mutable std::map<std::string, std::shared_ptr<const Environment>> environments_;   // GUARDED_BY(mutex_)
  mutable std::map<std::string, std::shared_ptr<const std::vector<FittedPose>>> poses_;    // GUARDED_BY(mutex_)
  mutable std::map<std::string, std::shared_ptr<const std::vector<FittedShape>>> shapes_;  // GUARDED_BY(mutex_)
  mutable std::map<std::string, std::shared_ptr<const SceneMesh>> scene_meshes_;  // GUARDED_BY(mutex_)
  mutable std::map<std::string, std::shared_ptr<const sensor::NoiseProfile>> profiles_;  // GUARDED_BY(mutex_)
  mutable std::map<std::string, std::shared_ptr<const sensor::LearnedModel>> models_;    // GUARDED_BY(mutex_)
};

}  // namespace

tl::expected<SceneAssets, std::string> load_scene_assets(const JobSpec& spec, const AssetReader& read_asset) {
  AssetLoaders load;
  load.clip = [&](size_t i) { return load_mocap_clip(spec.humans, i, read_asset); };
  load.character = [&](size_t i) { return load_character_asset(spec.humans, i, read_asset); };
  load.environment = [&](const std::string& uri) { return load_environment(uri, read_asset); };
  load.poses = [&](const std::string& uri) { return load_fitted_poses(uri, read_asset); };
  load.shapes = [&](const std::string& uri) { return load_fitted_shapes(uri, read_asset); };
  load.scene_mesh = [&](const std::string& uri) { return load_fixed_mesh(uri, read_asset); };
  return gather_assets(spec, load);
}

std::vector<std::pair<std::string, const std::string*>> SampleObjects::keyed(uint64_t index) const {
  std::vector<std::pair<std::string, const std::string*>> out;
  auto add = [&](const FrameObjects& frame, int number) {
    for (auto [ext, bytes] : {std::pair<const char*, const std::string*>{"exr", &frame.exr},
                              {"png", &frame.png},
                              {"jpg", &frame.jpg},
                              {"json", &frame.json}}) {
      if (bytes->empty()) continue;
      out.emplace_back(later_frames.empty() ? sample_key(index, ext) : frame_key(index, number, ext), bytes);
    }
  };
  add(*this, 0);
  for (size_t f = 0; f < later_frames.size(); ++f) add(later_frames[f], static_cast<int>(f) + 1);
  return out;
}

tl::expected<std::unique_ptr<SampleRenderer>, std::string> SampleRenderer::create(
    int threads, AssetReader read_asset, sensor::LearnedModelLoader load_model) {
  if (threads < 0)
    return tl::unexpected(fmt::format("render threads must be >= 0, got {}", threads));
  auto renderer = Renderer::create();
  if (!renderer) return tl::unexpected(renderer.error());
  return std::make_unique<EmbreeSampleRenderer>(std::move(*renderer), threads, std::move(read_asset),
                                                std::move(load_model));
}

}  // namespace synthfarm::jobs
