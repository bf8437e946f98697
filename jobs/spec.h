// The dataset specification: what a user asks for, validated and with every default
// filled in (the canonical JobSpec). Parsing is strict: unknown fields, wrong types and
// out-of-range values are errors that name the field path and the line.
// docs/spec.md documents every field; keep the two in step.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "base/rng.h"
#include "render/layers.h"

namespace synthfarm::jobs {

// A number drawn per sample. In YAML: a constant (`60`), or one of
// `{uniform: [a, b]}`, `{uniform_int: [a, b]}` (both ends included),
// `{normal: {mean: m, std: s, clip: [lo, hi]}}` (clip optional),
// `{choice: [v1, v2, ...], weights: [w1, w2, ...]}` (weights optional).
struct Distribution {
  enum class Kind { kConstant, kUniform, kUniformInt, kNormal, kChoice };
  Kind kind = Kind::kConstant;
  double a = 0;  // constant value; uniform low; normal mean
  double b = 0;  // uniform high; normal std
  double clip_lo = -1e300, clip_hi = 1e300;  // normal only
  std::vector<double> values;   // choice only
  std::vector<double> weights;  // choice only; empty = equal weights

  static Distribution constant(double v) { return {Kind::kConstant, v, 0, -1e300, 1e300, {}, {}}; }
  static Distribution uniform(double lo, double hi) { return {Kind::kUniform, lo, hi, -1e300, 1e300, {}, {}}; }
  static Distribution uniform_int(double lo, double hi) { return {Kind::kUniformInt, lo, hi, -1e300, 1e300, {}, {}}; }
  static Distribution normal(double mean, double std, double lo, double hi) {
    return {Kind::kNormal, mean, std, lo, hi, {}, {}};
  }
  static Distribution choice_of(std::vector<double> values) {
    return {Kind::kChoice, 0, 0, -1e300, 1e300, std::move(values), {}};
  }

  // One draw. Deterministic for a given generator state.
  double sample(Pcg32& rng) const;
  // The smallest and largest value a draw can take (used by validation).
  double min_value() const;
  double max_value() const;
  friend bool operator==(const Distribution&, const Distribution&) = default;
};

// A string drawn per sample: `room` or `{choice: [room, outdoor], weights: [3, 1]}`.
struct Choice {
  std::vector<std::string> values;
  std::vector<double> weights;  // empty = equal weights
  const std::string& sample(Pcg32& rng) const;
  friend bool operator==(const Choice&, const Choice&) = default;
};

// One sample's draw of a spec field. Every field draws from its own stream, named after
// the field (and `sub`: the person, the framing attempt), so turning one field from a
// constant into a distribution never shifts the values of the others.
double draw_field(const Distribution& d, uint64_t sample_seed, std::string_view field, uint64_t sub = 0);
const std::string& draw_field(const Choice& c, uint64_t sample_seed, std::string_view field,
                              uint64_t sub = 0);

// Names of the image layers (layers.h) in the spec and the EXR channel prefixes.
std::string_view layer_name(render::Layer layer);
std::optional<render::Layer> layer_from_name(std::string_view name);

struct OutputSpec {
  // Where the dataset goes: file:///abs/path or s3://bucket/prefix. Empty in a parsed
  // spec means "the coordinator's default"; the coordinator fills it in at submission.
  std::string storage;
  std::vector<render::Layer> layers = {render::Layer::kRgb, render::Layer::kDepth, render::Layer::kNormal,
                                       render::Layer::kInstance};
  std::vector<std::string> labels = {"sample_json", "coco"};
  bool preview_png = true;
  // "files": one object per file (samples/{index:08d}.exr, ...); "webdataset": one tar per
  // shard (shards/{shard:06d}.tar) holding the same files in sample order.
  std::string format = "files";
  friend bool operator==(const OutputSpec&, const OutputSpec&) = default;
};

struct CameraSpec {
  int width = 640;   // pixels, 1..16384
  int height = 480;  // pixels, 1..16384
  Distribution fov_deg = Distribution::uniform(45, 70);     // horizontal, 10..150
  Distribution height_m = Distribution::uniform(1.2, 2.0);  // eye height above the floor, 0.1..20
  Distribution distance_m = Distribution::uniform(3.0, 6.0);  // to the group of humans, 0.5..100
  std::string keep_in_frame = "humans";  // "humans" (aim at the people) or "none"
  // Thin-lens depth of field: the f-number of a full-frame (36 mm wide) equivalent lens,
  // focused on the people; 0 = pinhole (all sharp). 0..64.
  Distribution f_number = Distribution::constant(0);
  friend bool operator==(const CameraSpec&, const CameraSpec&) = default;
};

struct RenderSpec {
  int spp = 16;         // samples per pixel, 1..65536
  int max_bounces = 2;  // indirect bounces after the first hit, 0..64
  friend bool operator==(const RenderSpec&, const RenderSpec&) = default;
};

struct SceneSpec {
  Choice kind = {{"room", "outdoor", "studio"}, {0.6, 0.3, 0.1}};
  Distribution props = Distribution::uniform_int(2, 8);  // count, 0..64
  // Probability that a floor, wall or prop gets a procedural pattern (wood, brick, marble,
  // checker, noise) instead of a plain colour, and that a prop is metal. 0..1 each.
  Distribution patterns = Distribution::constant(0.7);
  Distribution metal = Distribution::constant(0.2);
  // A fixed scene mesh (a file:// or s3:// .glb or .gltf, for one a fuse_depth job's
  // meshes/{unit}.glb) in place of the generated structure and props: z up, metres, the
  // floor at z = 0 (jobs/scene_mesh.h). Empty: a generated scene of `kind`.
  std::string mesh;
  friend bool operator==(const SceneSpec&, const SceneSpec&) = default;
};

struct LightingSpec {
  Distribution sun_elevation_deg = Distribution::uniform(15, 75);  // 0..90
  Distribution sun_azimuth_deg = Distribution::uniform(0, 360);    // 0..360
  Distribution sun_intensity = Distribution::constant(3.0);        // radiance scale, 0..1000
  Distribution sky_intensity = Distribution::constant(1.0);        // 0..1000
  Choice sky = {{"preetham"}, {}};                                 // preetham | gradient
  Distribution turbidity = Distribution::uniform(2, 6);            // Preetham haze, 2..10
  // Rect and disk panels (rooms: under the ceiling line; studios: softboxes facing the
  // people; none outdoors), emitted radiance; point and spot lamps, W/sr.
  Distribution area_lights = Distribution::uniform_int(0, 2);      // count, 0..8
  Distribution area_light_intensity = Distribution::uniform(2, 8);  // 0..1000
  Distribution lamps = Distribution::uniform_int(0, 1);            // count, 0..8
  Distribution lamp_intensity = Distribution::uniform(2, 20);      // 0..10000
  // What surrounds the scene: "sky" (the sun and the sky above) or an equirectangular
  // OpenEXR map (a file:// or s3:// URI), drawn per sample. A map replaces the sky, and the
  // sun is off (the map carries its own).
  Choice environment = {{"sky"}, {}};
  Distribution environment_intensity = Distribution::constant(1.0);    // 0..1000
  Distribution environment_rotation_deg = Distribution::uniform(0, 360);  // 0..360
  friend bool operator==(const LightingSpec&, const LightingSpec&) = default;
};

struct HumansSpec {
  Distribution count = Distribution::uniform_int(1, 4);                  // 0..16
  // Adult standing height; a child (age < 18) is scaled down by a growth curve.
  Distribution height_m = Distribution::normal(1.70, 0.10, 1.45, 2.05);  // 0.5..2.5
  Distribution bmi = Distribution::uniform(18, 35);                      // 12..60
  Distribution skin_tone = Distribution::uniform_int(1, 10);             // 1..10
  Distribution sex = Distribution::uniform(0, 1);                        // 0 female .. 1 male
  Distribution age = Distribution::uniform(18, 70);                      // years, 4..90
  // Proportion ratios around a typical body (1), each 0.85..1.15.
  Distribution shoulder_width = Distribution::normal(1, 0.04, 0.85, 1.15);
  Distribution hip_width = Distribution::normal(1, 0.04, 0.85, 1.15);
  Distribution leg_length = Distribution::normal(1, 0.03, 0.85, 1.15);
  Distribution arm_length = Distribution::normal(1, 0.03, 0.85, 1.15);
  Distribution head_size = Distribution::normal(1, 0.03, 0.85, 1.15);
  // "static", "walk", "run", "idle", "wave", "sit"
  Choice motion = {{"static", "walk", "idle", "wave"}, {0.4, 0.3, 0.15, 0.15}};
  Distribution motion_speed = Distribution::uniform(0.8, 1.2);  // pace multiplier, 0.25..3
  Distribution motion_phase = Distribution::uniform(0, 1);      // cycles, 0..1000
  // Motion-capture clips for motion "bvh": file:// or s3:// URIs of .bvh files, and how
  // their joints map to the skeleton: a preset ("auto", "cmu", "mixamo") plus overrides
  // (synthfarm joint name -> the file's joint name).
  std::vector<std::string> bvh;
  std::string bvh_preset = "auto";
  std::map<std::string, std::string> bvh_joint_map;
  // Which body each person has: "parametric" (synthfarm's body model) or "character" (one
  // of `characters`, picked per person: file:// or s3:// URIs of skinned glTF 2.0 files).
  // The character joint map says which joint stands for each COCO keypoint: a preset
  // ("auto" = "mixamo" when the joint names are Mixamo's, "mixamo", "none") plus
  // overrides (COCO keypoint name -> the file's joint name).
  Choice body = {{"parametric"}, {}};
  std::vector<std::string> characters;
  std::string character_preset = "auto";
  std::map<std::string, std::string> character_joint_map;
  // Bodies learnt from real data by a fit_people job (docs/recon.md): its poses.jsonl
  // (each person draws one fitted pose instead of the motion's) and shapes.jsonl (each
  // person draws one fitted shape instead of the shape fields' draws). file:// or s3://.
  std::string poses;
  std::string shapes;
  friend bool operator==(const HumansSpec&, const HumansSpec&) = default;
};

// A sample can be a short clip: `frames` frames `1 / fps` seconds apart, with the same
// people (identities, instance ids), props and camera; the people move on in time.
struct ClipSpec {
  int frames = 1;  // 1..240; 1 = a still image
  int fps = 30;    // 1..240
  friend bool operator==(const ClipSpec&, const ClipSpec&) = default;
};

// The camera after the lens: exposure, colour, Bayer sensor, noise, ISP, JPEG, lens
// distortion, motion blur and an optional learned model (sensor/, docs/sensor.md). Absent
// from a spec (enabled = false), the preview is the clean render's sRGB image, as before.
struct SensorNoiseSpec {
  // "poisson_gaussian": heteroscedastic noise of variance a * x + b on the raw (x: the raw
  // value, white level 1); "none". Without a profile, a is drawn log-uniform in `shot` and
  // log b = read_slope * log a + read_intercept + N(0, read_jitter) (Brooks et al. 2019).
  std::string model = "poisson_gaussian";
  std::pair<double, double> shot = {0.0001, 0.012};  // 1e-7..1, lo <= hi
  double read_slope = 2.18;
  double read_intercept = 1.2;
  double read_jitter = 0.26;  // 0..5
  // A camera profile instead: a = S(iso) = s_gain * iso + s_offset, b = O(iso) = o_gain *
  // iso^2 + o_offset (DNG NoiseProfile / Android SENSOR_NOISE_PROFILE form), given inline
  // or as a calibrate-sensor YAML (file:// or s3://, read when the job runs).
  bool has_profile = false;
  double s_gain = 0, s_offset = 0, o_gain = 0, o_offset = 0;
  std::string profile_uri;
  Distribution row = Distribution::constant(0);  // std of a per-row offset, 0..0.1
  int bit_depth = 12;                           // quantisation of the raw, 0 (none) or 8..16
  friend bool operator==(const SensorNoiseSpec&, const SensorNoiseSpec&) = default;
};

struct SensorDistortionSpec {
  // "none", "brown_conrady" (OpenCV k1, k2, p1, p2, k3, k4, k5, k6: rational model when any of
  // k4..k6 is set) or "fisheye" (Kannala-Brandt, OpenCV's fisheye k1..k4).
  Choice model = {{"none"}, {}};
  Distribution k1 = Distribution::constant(0), k2 = Distribution::constant(0),
               k3 = Distribution::constant(0), k4 = Distribution::constant(0),
               k5 = Distribution::constant(0), k6 = Distribution::constant(0);
  Distribution p1 = Distribution::constant(0), p2 = Distribution::constant(0);
  friend bool operator==(const SensorDistortionSpec&, const SensorDistortionSpec&) = default;
};

struct SensorSpec {
  bool enabled = false;  // true when the spec has a sensor section
  // Exposure: "auto" (the scene's luminance to middle grey, plus ev) or "manual"
  // (iso * shutter_s / f_number^2 times the sensor's calibration constant).
  std::string exposure = "auto";
  Distribution ev = Distribution::constant(0);                        // -10..10
  Distribution iso = Distribution::choice_of({100, 200, 400, 800, 1600});  // 25..409600
  Distribution shutter_s = Distribution::constant(1.0 / 60);          // 1e-6..1
  Distribution f_number = Distribution::constant(2.8);                // 0.5..64, manual exposure only
  // Colour: a camera preset's matrices, or "random" (a random convex combination of the
  // presets, Brooks et al.); white-balance gains drawn as Brooks et al. do.
  Choice camera = {{"random"}, {}};
  Distribution red_gain = Distribution::uniform(1.9, 2.4);   // 0.1..10
  Distribution blue_gain = Distribution::uniform(1.5, 1.9);  // 0.1..10
  Choice cfa = {{"rggb"}, {}};                               // rggb | bggr | grbg | gbrg
  SensorNoiseSpec noise;
  std::string demosaic = "malvar";     // malvar | bilinear
  std::string tone_curve = "smoothstep";  // smoothstep | none (sRGB transfer only)
  Distribution jpeg_quality = Distribution::constant(0);     // 0 (PNG) or 1..100
  Distribution vignetting = Distribution::constant(0);       // fall-off at the corner, 0..1
  Distribution chromatic_aberration = Distribution::constant(0);  // px at the corner, 0..10
  Distribution sharpen = Distribution::constant(0);          // unsharp-mask amount, 0..4
  SensorDistortionSpec distortion;
  bool motion_blur = false;  // sample people and camera over shutter_s in the path tracer
  // The camera's own motion during the shutter (a pan along its x axis, direction drawn
  // per sample), m/s, 0..20; only with motion_blur.
  Distribution camera_speed_m_s = Distribution::constant(0);
  std::string model;         // a TorchScript camera model (file:// or s3:// URI); empty = none
  std::vector<std::string> layers;  // extra EXR layers: "camera" (camera.R/G/B), "raw" (raw.Y)
  friend bool operator==(const SensorSpec&, const SensorSpec&) = default;
};

// What a reconstruction job does with its inputs (task fit_people or fuse_depth,
// docs/recon.md). Absent from a render spec.
struct FitSpec {
  // image: each person of each image on their own; multiview: the images of one `instant`
  // together, with their cameras; sequence: each track (track_id) over its frames, written
  // as a BVH clip too; scan: each .ply / .obj input.
  std::string mode = "image";
  double fov_deg = 55;  // horizontal field of view guessed for images without K, 10..150
  double fps = 30;      // sequence: the frame rate of the input and of the BVH clips, 1..240
  friend bool operator==(const FitSpec&, const FitSpec&) = default;
};

struct FusionSpec {
  double voxel_m = 0.01;      // voxel edge, 0.002..0.2
  double truncation_m = 0.04;  // truncation distance, 2..64 voxels
  bool colour = true;         // vertex colours when the capture has RGB
  friend bool operator==(const FusionSpec&, const FusionSpec&) = default;
};

struct JobSpec {
  // "render" (make a dataset), "fit_people" (fit the body to real keypoints or scans) or
  // "fuse_depth" (fuse depth captures into meshes).
  std::string task = "render";
  // Reconstruction only: the input files (file:// or s3://). fit_people: one COCO person
  // keypoints .json (image, multiview, sequence) or .ply / .obj scans; fuse_depth: capture
  // .json files (depth frames and their cameras).
  std::vector<std::string> inputs;
  FitSpec fit;
  FusionSpec fusion;
  std::string name;            // required; [a-z0-9][a-z0-9._-]{0,63}
  // required for render; 1..100000000. Reconstruction: the work units of the inputs
  // (images, instants, tracks, scans, captures), counted by the coordinator.
  int64_t samples = 0;
  int64_t shard_size = 50;     // 1..100000
  uint64_t seed = 0;
  int priority = 0;            // -1000..1000, higher first
  int max_attempts = 3;        // 1..100
  // What a job with dead-lettered shards ends as: "fail" (state failed) or "partial"
  // (state partial: the dataset of the completed shards is the expected outcome).
  std::string on_dead_shards = "fail";
  OutputSpec output;
  CameraSpec camera;
  RenderSpec render;
  SceneSpec scene;
  LightingSpec lighting;
  HumansSpec humans;
  ClipSpec clip;
  SensorSpec sensor;
  bool reconstruction() const { return task != "render"; }
  friend bool operator==(const JobSpec&, const JobSpec&) = default;
};

// Where in the user's text a problem is, and what it is.
struct SpecError {
  std::string source;  // file name or "request body"
  std::string path;    // field path, e.g. "camera.resolution[0]"; empty for syntax errors
  int line = 0;        // 1-based; 0 when unknown
  int column = 0;      // 1-based; 0 when unknown
  std::string message;
  // "spec.yaml:12:3: camera.resolution[0]: must be between 1 and 16384, got 0"
  std::string to_string() const;
};

// Parses YAML (or JSON, which is YAML) into a validated JobSpec. Returns every problem
// found, not just the first, in document order.
tl::expected<JobSpec, std::vector<SpecError>> parse_spec(std::string_view text,
                                                         std::string_view source = "spec");

// The canonical spec as JSON (every field, defaults filled in), for the API and manifests.
std::string spec_to_json(const JobSpec& spec);

// Every storage location a spec names, with its field path: output.storage (when set),
// inputs (or inputs[i]), humans.bvh[i], humans.characters[i], humans.poses, humans.shapes,
// each environment map of lighting.environment, sensor.noise.profile and sensor.model.
// Whoever runs a job checks each against its storage allow-list.
struct SpecLocation {
  std::string path;  // e.g. "humans.bvh[1]"
  std::string uri;
};
std::vector<SpecLocation> spec_locations(const JobSpec& spec);

}  // namespace synthfarm::jobs
