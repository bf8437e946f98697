// The canonical spec as JSON (spec_to_json, jobs/spec.h): every field in document order,
// defaults filled in, numbers written the way a user would write them.
#include "jobs/spec.h"

#include "jobs/spec/internal/yaml_scalars.h"

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace synthfarm::jobs {

using render::Layer;
using spec_internal::is_whole;
namespace {

using Json = nlohmann::ordered_json;

// Whole numbers as JSON integers, so the output reads like what a user writes.
Json number_json(double value) {
  if (is_whole(value) && std::fabs(value) < 9007199254740992.0) {
    return static_cast<int64_t>(value);
  }
  return value;
}

Json numbers_json(const std::vector<double>& values) {
  Json out = Json::array();
  for (double v : values) out.push_back(number_json(v));
  return out;
}

Json distribution_json(const Distribution& d) {
  switch (d.kind) {
    case Distribution::Kind::kConstant:
      return number_json(d.a);
    case Distribution::Kind::kUniform:
      return Json{{"uniform", numbers_json({d.a, d.b})}};
    case Distribution::Kind::kUniformInt:
      return Json{{"uniform_int", numbers_json({d.a, d.b})}};
    case Distribution::Kind::kNormal: {
      Json normal = Json::object();
      normal["mean"] = number_json(d.a);
      normal["std"] = number_json(d.b);
      if (d.clip_lo != -1e300 || d.clip_hi != 1e300) {
        normal["clip"] = numbers_json({d.clip_lo, d.clip_hi});
      }
      return Json{{"normal", std::move(normal)}};
    }
    case Distribution::Kind::kChoice: {
      Json out = Json::object();
      out["choice"] = numbers_json(d.values);
      if (!d.weights.empty()) out["weights"] = numbers_json(d.weights);
      return out;
    }
  }
  return nullptr;
}

Json choice_json(const Choice& c) {
  if (c.values.size() == 1 && c.weights.empty()) return c.values[0];
  Json out = Json::object();
  out["choice"] = c.values;
  if (!c.weights.empty()) out["weights"] = numbers_json(c.weights);
  return out;
}

Json sensor_json(const SensorSpec& sensor) {
  Json out = Json::object();
  out["exposure"] = sensor.exposure;
  out["ev"] = distribution_json(sensor.ev);
  out["iso"] = distribution_json(sensor.iso);
  out["shutter_s"] = distribution_json(sensor.shutter_s);
  out["f_number"] = distribution_json(sensor.f_number);
  out["camera"] = choice_json(sensor.camera);
  out["red_gain"] = distribution_json(sensor.red_gain);
  out["blue_gain"] = distribution_json(sensor.blue_gain);
  out["cfa"] = choice_json(sensor.cfa);
  const SensorNoiseSpec& noise = sensor.noise;
  Json n = Json::object();
  n["model"] = noise.model;
  n["shot"] = numbers_json({noise.shot.first, noise.shot.second});
  n["read_slope"] = number_json(noise.read_slope);
  n["read_intercept"] = number_json(noise.read_intercept);
  n["read_jitter"] = number_json(noise.read_jitter);
  if (!noise.profile_uri.empty()) {
    n["profile"] = noise.profile_uri;
  } else if (noise.has_profile) {
    n["profile"] = {{"s_gain", number_json(noise.s_gain)},
                    {"s_offset", number_json(noise.s_offset)},
                    {"o_gain", number_json(noise.o_gain)},
                    {"o_offset", number_json(noise.o_offset)}};
  }
  n["row"] = distribution_json(noise.row);
  n["bit_depth"] = noise.bit_depth;
  out["noise"] = std::move(n);
  out["demosaic"] = sensor.demosaic;
  out["tone_curve"] = sensor.tone_curve;
  out["jpeg_quality"] = distribution_json(sensor.jpeg_quality);
  out["vignetting"] = distribution_json(sensor.vignetting);
  out["chromatic_aberration"] = distribution_json(sensor.chromatic_aberration);
  out["sharpen"] = distribution_json(sensor.sharpen);
  const SensorDistortionSpec& lens = sensor.distortion;
  out["distortion"] = {{"model", choice_json(lens.model)},  {"k1", distribution_json(lens.k1)},
                       {"k2", distribution_json(lens.k2)},   {"k3", distribution_json(lens.k3)},
                       {"k4", distribution_json(lens.k4)},   {"k5", distribution_json(lens.k5)},
                       {"k6", distribution_json(lens.k6)},   {"p1", distribution_json(lens.p1)},
                       {"p2", distribution_json(lens.p2)}};
  out["motion_blur"] = sensor.motion_blur;
  out["camera_speed_m_s"] = distribution_json(sensor.camera_speed_m_s);
  if (!sensor.model.empty()) out["model"] = sensor.model;
  out["layers"] = sensor.layers;
  return out;
}

}  // namespace

std::string spec_to_json(const JobSpec& spec) {
  Json j = Json::object();
  if (spec.reconstruction()) {
    // A reconstruction spec has only its own sections: the render ones would be errors.
    j["task"] = spec.task;
    j["inputs"] = spec.inputs;
    if (spec.task == "fit_people") {
      j["fit"] = {{"mode", spec.fit.mode}, {"fov_deg", spec.fit.fov_deg}, {"fps", spec.fit.fps}};
    } else {
      j["fusion"] = {{"voxel_m", spec.fusion.voxel_m},
                     {"truncation_m", spec.fusion.truncation_m},
                     {"colour", spec.fusion.colour}};
    }
  }
  j["name"] = spec.name;
  if (!spec.reconstruction() || spec.samples > 0) j["samples"] = spec.samples;
  j["shard_size"] = spec.shard_size;
  j["seed"] = spec.seed;
  j["priority"] = spec.priority;
  j["max_attempts"] = spec.max_attempts;
  j["on_dead_shards"] = spec.on_dead_shards;

  Json layers = Json::array();
  for (Layer layer : spec.output.layers) layers.push_back(std::string(layer_name(layer)));
  j["output"] = Json::object();
  j["output"]["storage"] = spec.output.storage;
  if (spec.reconstruction()) return j.dump(-1, ' ', false, Json::error_handler_t::replace);
  j["output"]["layers"] = std::move(layers);
  j["output"]["labels"] = spec.output.labels;
  j["output"]["preview"] = spec.output.preview_png;
  j["output"]["format"] = spec.output.format;

  const CameraSpec& camera = spec.camera;
  j["camera"] = Json::object();
  j["camera"]["resolution"] = {camera.width, camera.height};
  j["camera"]["fov_deg"] = distribution_json(camera.fov_deg);
  j["camera"]["height_m"] = distribution_json(camera.height_m);
  j["camera"]["distance_m"] = distribution_json(camera.distance_m);
  j["camera"]["keep_in_frame"] = camera.keep_in_frame;
  j["camera"]["f_number"] = distribution_json(camera.f_number);

  j["render"] = Json::object();
  j["render"]["spp"] = spec.render.spp;
  j["render"]["max_bounces"] = spec.render.max_bounces;

  j["scene"] = Json::object();
  if (!spec.scene.mesh.empty()) {
    j["scene"]["mesh"] = spec.scene.mesh;  // the generated scene's fields do not apply
  } else {
    j["scene"]["kind"] = choice_json(spec.scene.kind);
    j["scene"]["props"] = distribution_json(spec.scene.props);
    j["scene"]["patterns"] = distribution_json(spec.scene.patterns);
    j["scene"]["metal"] = distribution_json(spec.scene.metal);
  }

  const LightingSpec& lighting = spec.lighting;
  j["lighting"] = Json::object();
  j["lighting"]["sun_elevation_deg"] = distribution_json(lighting.sun_elevation_deg);
  j["lighting"]["sun_azimuth_deg"] = distribution_json(lighting.sun_azimuth_deg);
  j["lighting"]["sun_intensity"] = distribution_json(lighting.sun_intensity);
  j["lighting"]["sky_intensity"] = distribution_json(lighting.sky_intensity);
  j["lighting"]["sky"] = choice_json(lighting.sky);
  j["lighting"]["turbidity"] = distribution_json(lighting.turbidity);
  j["lighting"]["area_lights"] = distribution_json(lighting.area_lights);
  j["lighting"]["area_light_intensity"] = distribution_json(lighting.area_light_intensity);
  j["lighting"]["lamps"] = distribution_json(lighting.lamps);
  j["lighting"]["lamp_intensity"] = distribution_json(lighting.lamp_intensity);
  j["lighting"]["environment"] = choice_json(lighting.environment);
  j["lighting"]["environment_intensity"] = distribution_json(lighting.environment_intensity);
  j["lighting"]["environment_rotation_deg"] = distribution_json(lighting.environment_rotation_deg);

  const HumansSpec& humans = spec.humans;
  j["humans"] = Json::object();
  j["humans"]["count"] = distribution_json(humans.count);
  j["humans"]["height_m"] = distribution_json(humans.height_m);
  j["humans"]["bmi"] = distribution_json(humans.bmi);
  j["humans"]["skin_tone"] = distribution_json(humans.skin_tone);
  j["humans"]["sex"] = distribution_json(humans.sex);
  j["humans"]["age"] = distribution_json(humans.age);
  j["humans"]["shoulder_width"] = distribution_json(humans.shoulder_width);
  j["humans"]["hip_width"] = distribution_json(humans.hip_width);
  j["humans"]["leg_length"] = distribution_json(humans.leg_length);
  j["humans"]["arm_length"] = distribution_json(humans.arm_length);
  j["humans"]["head_size"] = distribution_json(humans.head_size);
  j["humans"]["motion"] = choice_json(humans.motion);
  j["humans"]["motion_speed"] = distribution_json(humans.motion_speed);
  j["humans"]["motion_phase"] = distribution_json(humans.motion_phase);
  j["humans"]["bvh"] = humans.bvh;
  Json map = Json::object();
  map["preset"] = humans.bvh_preset;
  for (const auto& [ours, theirs] : humans.bvh_joint_map) map[ours] = theirs;
  j["humans"]["bvh_joint_map"] = map;
  j["humans"]["body"] = choice_json(humans.body);
  j["humans"]["characters"] = humans.characters;
  Json character_map = Json::object();
  character_map["preset"] = humans.character_preset;
  for (const auto& [keypoint, joint] : humans.character_joint_map) character_map[keypoint] = joint;
  j["humans"]["character_joint_map"] = character_map;
  // Absent unless set, so render specs keep the canonical form (and hashes) they had.
  if (!humans.poses.empty()) j["humans"]["poses"] = humans.poses;
  if (!humans.shapes.empty()) j["humans"]["shapes"] = humans.shapes;
  j["clip"] = {{"frames", spec.clip.frames}, {"fps", spec.clip.fps}};
  // Absent unless asked for, so the canonical form of a spec without a camera stage (and
  // every hash of it) is what it was before the stage existed.
  if (spec.sensor.enabled) j["sensor"] = sensor_json(spec.sensor);
  // Every string in a parsed spec is valid UTF-8; replace rather than throw for one built
  // in code.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace synthfarm::jobs
