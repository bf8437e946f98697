#include "jobs/people.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "jobs/characters.h"
#include "gltf/gltf.h"
#include "humans/appearance.h"
#include "humans/body.h"
#include "humans/motion.h"
#include "humans/skeleton.h"
#include "base/rng.h"

namespace synthfarm::jobs {

using gltf::GltfCharacter;
using gltf::PosedCharacter;

using render::Mesh;

namespace {

using humans::Joint;

// Body frame (left-handed, see skeleton.h) to the world: mirror x, then turn by yaw.
struct Placement {
  Mat3 yaw;
  Vec3 operator()(Vec3 p) const { return yaw * Vec3{-p.x, p.y, p.z}; }
};

void append(Mesh& mesh, const std::vector<Vec3>& vertices, const Placement& place) {
  mesh.positions.reserve(mesh.positions.size() + 3 * vertices.size());
  for (const Vec3& v : vertices) {
    Vec3 w = place(v);
    mesh.positions.push_back(static_cast<float>(w.x));
    mesh.positions.push_back(static_cast<float>(w.y));
    mesh.positions.push_back(static_cast<float>(w.z));
  }
}

// Triangles with reversed winding: the mirror turns outward-facing triangles inward.
void append_triangles(Mesh& mesh, const std::vector<std::array<uint32_t, 3>>& triangles) {
  mesh.indices.reserve(mesh.indices.size() + 3 * triangles.size());
  for (const auto& t : triangles) {
    mesh.indices.push_back(t[0]);
    mesh.indices.push_back(t[2]);
    mesh.indices.push_back(t[1]);
  }
}

}  // namespace

double growth_fraction(double age) {
  // Median standing height by age over the adult median (WHO / CDC growth charts, both
  // sexes averaged), linear in between.
  constexpr std::array<std::pair<double, double>, 9> kCurve = {
      {{2, 0.51}, {4, 0.59}, {6, 0.67}, {8, 0.75}, {10, 0.81}, {12, 0.87}, {14, 0.94},
       {16, 0.98}, {18, 1.0}}};
  if (age <= kCurve.front().first) return kCurve.front().second;
  for (size_t i = 1; i < kCurve.size(); ++i) {
    if (age <= kCurve[i].first) {
      auto [a0, f0] = kCurve[i - 1];
      auto [a1, f1] = kCurve[i];
      return f0 + (f1 - f0) * (age - a0) / (a1 - a0);
    }
  }
  return 1.0;
}

namespace {

// A glTF character (humans.characters) in place of the parametric body: which file, which
// animation and where in it all draw from the person's own streams.
Person build_character(const JobSpec& spec, uint64_t seed, uint64_t who, double yaw_deg,
                       const SceneAssets* assets, double time_s) {
  if (assets == nullptr || assets->characters.empty()) {
    throw std::invalid_argument("body 'character' needs the files of humans.characters, and none were loaded");
  }
  Pcg32 rng = Pcg32::for_purpose(seed, "humans.characters", who);
  const CharacterAsset& asset =
      *assets->characters[rng.next_below(static_cast<uint32_t>(assets->characters.size()))];
  const GltfCharacter& character = *asset.character;
  const double phase = draw_field(spec.humans.motion_phase, seed, "humans.motion_phase", who);
  int animation = GltfCharacter::kBindPose;
  double start_s = 0;
  if (!character.animations.empty()) {
    animation = static_cast<int>(rng.next_below(static_cast<uint32_t>(character.animations.size())));
    start_s = (phase - std::floor(phase)) * character.duration_s(animation);
  }
  // Animations loop, like the procedural clips: a clip longer than the animation plays it
  // again from its start, and a moment before the start (a shutter opening before the
  // first frame) comes from its end.
  double at_s = start_s + time_s;
  if (animation >= 0 && time_s != 0) {
    const double duration = character.duration_s(animation);
    if (duration > 0) at_s -= duration * std::floor(at_s / duration);
  }
  Person out = character_person(asset, animation, at_s, start_s, yaw_deg);
  out.info.motion = animation >= 0 ? "animation" : "bind_pose";
  out.info.motion_phase = phase;
  out.info.motion_speed = 1;
  return out;
}

// A person's shape: one fitted to a real person (humans.shapes), or drawn from the shape
// fields, a child's height scaled down by the growth curve.
humans::Shape draw_shape(const JobSpec& spec, uint64_t seed, uint64_t who, const SceneAssets* assets, Human& info) {
  const HumansSpec& hs = spec.humans;
  auto draw = [&](const Distribution& d, std::string_view field) { return draw_field(d, seed, field, who); };
  humans::Shape shape;
  if (!hs.shapes.empty()) {
    if (assets == nullptr || !assets->shapes) {
      throw std::invalid_argument("humans.shapes needs its file, and it was not loaded");
    }
    Pcg32 rng = Pcg32::for_purpose(seed, "humans.shapes", who);
    const FittedShape& fitted = (*assets->shapes)[rng.next_below(static_cast<uint32_t>(assets->shapes->size()))];
    info.shape_source = fitted.source;
    return fitted.shape;
  }
  shape.age = draw(hs.age, "humans.age");
  shape.height_m = draw(hs.height_m, "humans.height_m") * growth_fraction(shape.age);
  shape.bmi = draw(hs.bmi, "humans.bmi");
  shape.sex = draw(hs.sex, "humans.sex");
  shape.shoulder_width = draw(hs.shoulder_width, "humans.shoulder_width");
  shape.hip_width = draw(hs.hip_width, "humans.hip_width");
  shape.leg_length = draw(hs.leg_length, "humans.leg_length");
  shape.arm_length = draw(hs.arm_length, "humans.arm_length");
  shape.head_size = draw(hs.head_size, "humans.head_size");
  return shape;
}

}  // namespace

Person build_person(const JobSpec& spec, uint64_t seed, int index, double yaw_deg, const SceneAssets* assets,
                    double time_s) {
  const HumansSpec& hs = spec.humans;
  const auto who = static_cast<uint64_t>(index);
  auto draw = [&](const Distribution& d, std::string_view field) { return draw_field(d, seed, field, who); };
  if (draw_field(hs.body, seed, "humans.body", who) == "character") {
    return build_character(spec, seed, who, yaw_deg, assets, time_s);
  }

  Person out;
  Human& info = out.info;
  const humans::Shape shape = draw_shape(spec, seed, who, assets, info);
  const humans::RestBody body = humans::build_rest_body(shape);
  info.shape = body.shape;
  info.skin_tone = static_cast<int>(std::clamp(std::round(draw(hs.skin_tone, "humans.skin_tone")), 1.0, 10.0));
  info.motion = draw_field(hs.motion, seed, "humans.motion", who);
  info.motion_speed = draw(hs.motion_speed, "humans.motion_speed");
  info.motion_phase = draw(hs.motion_phase, "humans.motion_phase");
  info.yaw_deg = yaw_deg - 360.0 * std::floor(yaw_deg / 360.0);

  // Pose: a natural static pose, the person's clip at its phase, or a frame of a
  // motion-capture clip (the phase is the fraction of the clip). At time 0 the root stands
  // where scene.cpp places the person; later frames of a clip travel on from there.
  auto clip = humans::clip_from_name(info.motion);
  if (!clip && info.motion != "bvh") throw std::invalid_argument("unknown humans.motion '" + info.motion + "'");
  humans::Pose pose;
  if (!hs.poses.empty()) {  // a pose fitted to a real person (humans.poses): held still
    if (assets == nullptr || !assets->poses) throw std::invalid_argument("humans.poses needs its file, and it was not loaded");
    Pcg32 rng = Pcg32::for_purpose(seed, "humans.poses", who);
    const FittedPose& fitted = (*assets->poses)[rng.next_below(static_cast<uint32_t>(assets->poses->size()))];
    pose = humans::Pose::from_euler(fitted.euler_deg, Vec3{});
    info.motion = "fitted";
    info.motion_clip = fitted.source;
  } else if (!clip) {
    if (assets == nullptr || assets->bvh.empty()) {
      throw std::invalid_argument("motion 'bvh' needs the clips of humans.bvh, and none were loaded");
    }
    Pcg32 rng = Pcg32::for_purpose(seed, "humans.bvh", who);
    const MocapClip& mocap = *assets->bvh[rng.next_below(static_cast<uint32_t>(assets->bvh.size()))];
    const double cycle = info.motion_phase - std::floor(info.motion_phase);
    const double last = mocap.motion.frame_count - 1;
    const double start = cycle * last;
    // Motion capture is not periodic: a clip that runs past the file's end holds its last frame.
    const double frame = std::min(start + time_s / mocap.motion.frame_time_s, last);
    pose = humans::retarget_frame(mocap.motion, mocap.map, body.joints, frame);
    if (time_s == 0) {
      pose.root_translation.x = pose.root_translation.y = 0;
    } else {
      const humans::Pose first = humans::retarget_frame(mocap.motion, mocap.map, body.joints, start);
      pose.root_translation.x -= first.root_translation.x;
      pose.root_translation.y -= first.root_translation.y;
    }
    info.motion_clip = fmt::format("{}#{:.2f}", mocap.uri, frame);
  } else if (*clip == humans::Clip::kStatic) {
    Pcg32 rng = Pcg32::for_purpose(seed, "human.pose", who);
    pose = humans::random_static_pose(rng, body.joints, body.radius);
  } else {
    Pcg32 rng = Pcg32::for_purpose(seed, "human.style", who);
    humans::MotionStyle style = humans::draw_motion_style(rng);
    humans::ClipParams params;
    params.speed = info.motion_speed;
    params.phase = info.motion_phase;
    params.in_place = time_s == 0;
    double travelled = 0;
    if (time_s != 0) {
      travelled = humans::clip_pose(*clip, params, body.joints, style).root_translation.y;
      params.phase += time_s / humans::clip_cycle_seconds(*clip, style, info.motion_speed);
    }
    pose = humans::clip_pose(*clip, params, body.joints, style);
    pose.root_translation.y -= travelled;
    info.motion_phase = params.phase;
  }
  for (int j = 0; j < humans::kJointCount; ++j) info.pose_euler_deg[j] = humans::matrix_to_euler(pose.local[j]);
  const humans::Posed posed = humans::forward_kinematics(body.joints, pose);

  // Appearance: skin, clothes and hair as per-vertex colours and extra skinned meshes.
  Pcg32 look_rng = Pcg32::for_purpose(seed, "human.appearance", who);
  const humans::Appearance look = humans::draw_appearance(look_rng, info.skin_tone);
  const humans::DressedBody dressed = humans::dress(body, look);
  info.outfit = humans::describe(look);

  const Placement place{Mat3::rotation_z(deg_to_rad(info.yaw_deg))};
  const humans::Topology& topo = humans::topology();
  std::vector<Vec3> vertices;
  humans::skin(body, posed, vertices);
  // The motion model keeps its sole points on the floor; the mesh's true lowest point
  // differs by a little (shoe shape, heel roundness). Snap the mesh onto the floor, keeping
  // any height the motion asks for (the flight phase of a run).
  double lowest = vertices.front().z;
  for (const Vec3& v : vertices) lowest = std::min(lowest, v.z);
  const double lift = humans::sole_height(body.joints, pose) - lowest;
  for (Vec3& v : vertices) v.z += lift;
  humans::Posed lifted = posed;
  for (Vec3& p : lifted.position) p.z += lift;

  Mesh& skin = out.meshes.emplace_back();
  skin.albedo = dressed.body_colors.empty() ? Rgb{0.5f, 0.5f, 0.5f} : dressed.body_colors.front();
  append(skin, vertices, place);
  append_triangles(skin, topo.triangles);
  skin.colors.reserve(3 * dressed.body_colors.size());
  for (const Rgb& c : dressed.body_colors) skin.colors.insert(skin.colors.end(), {c.r, c.g, c.b});
  skin.parts = topo.triangle_part;
  skin.uvs.reserve(6 * topo.corner_uv.size());
  for (const auto& c : topo.corner_uv) {  // corners 0, 2, 1, as the triangles were reversed
    skin.uvs.insert(skin.uvs.end(), {c[0], c[1], c[4], c[5], c[2], c[3]});
  }
  for (const humans::ExtraMesh& extra : dressed.extras) {
    std::vector<Vec3> posed_extra;
    humans::pose_extra(extra, body, lifted, posed_extra);
    Mesh& mesh = out.meshes.emplace_back();
    mesh.albedo = extra.albedo;
    append(mesh, posed_extra, place);
    append_triangles(mesh, extra.triangles);
    for (const Rgb& c : extra.colors) mesh.colors.insert(mesh.colors.end(), {c.r, c.g, c.b});
  }

  // Labels: joints, and COCO keypoints (face ones just under the skin, body ones at joint
  // centres: humans::coco_keypoints).
  for (int j = 0; j < humans::kJointCount; ++j) info.joints[j] = place(lifted.position[j]);
  const std::array<Vec3, kKeypointCount> keypoints = humans::coco_keypoints(vertices, lifted);
  for (int k = 0; k < kKeypointCount; ++k) info.keypoints[k] = place(keypoints[k]);
  for (int k = 0; k < 5; ++k) {
    // Seen at a slant the ray crosses more than the face depth of skin: allow 2.5 times as
    // much (the head is 15 cm or more deep, so a face seen from behind stays occluded).
    info.keypoint_radius[k] = 2.5 * humans::kFaceKeypointDepth;
  }
  for (int k = 0; k < 12; ++k) {
    // The surface lies about one radius from the joint centre; 1.5 allows for the
    // elliptical cross-sections (the hip joints sit deep in the pelvis).
    info.keypoint_radius[5 + k] = 1.5 * body.radius[humans::index(humans::kBodyKeypointJoints[k])];
  }

  for (const Mesh& m : out.meshes) {
    for (size_t i = 0; i < m.positions.size(); i += 3) {
      out.footprint = std::max(out.footprint, std::sqrt(double{m.positions[i]} * m.positions[i] +
                                                        double{m.positions[i + 1]} * m.positions[i + 1]));
    }
  }
  return out;
}

}  // namespace synthfarm::jobs
