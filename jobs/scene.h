// Procedural scene generation for one dataset sample.
//
// build_scene() turns (JobSpec, sample index) into a SampleScene: the render data of
// render/scene.h (meshes with a colour, an instance id and a semantic class each, a sun, a
// sky, an OpenCV pinhole camera, one keypoint set per person) plus who the people are
// (articulated humans with their skeleton joints, shape, motion and outfit). Every random
// draw comes from Pcg32::for_purpose(sample_seed(spec.seed, index), purpose, sub), and
// every transcendental function goes through base/math.h's portable_* functions, so the
// scene is bit-identical on any x86-64 machine.
//
// Conventions (beside render/scene.h's)
//   Instance ids: humans 1..N, then props, then room parts (floor/ground, walls, backdrop).
//   Skin tone: 1..10 on the Monk Skin Tone scale, 1 = lightest, 10 = darkest.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/keypoints.h"
#include "base/math.h"
#include "humans/body.h"
#include "humans/mocap_bvh.h"
#include "humans/skeleton.h"
#include "jobs/fitted_bodies.h"
#include "jobs/spec.h"
#include "render/scene.h"

namespace synthfarm::gltf {
struct GltfCharacter;  // gltf/gltf.h
}  // namespace synthfarm::gltf

namespace synthfarm::jobs {

class SceneMesh;  // jobs/scene_mesh.h

struct Human {
  uint32_t instance_id = 0;
  std::string body = "parametric";  // "parametric" (the body model) or "character" (glTF)
  // COCO keypoints, world metres, and how far under the body's surface each lies (0 for
  // points on the skin such as the eyes; about the limb radius for joint centres).
  std::array<Vec3, kKeypointCount> keypoints;
  std::array<double, kKeypointCount> keypoint_radius{};
  humans::Shape shape;       // as built (clamped); shape.height_m is this person's height
  int skin_tone = 0;        // 1 (lightest) .. 10 (darkest), Monk Skin Tone scale
  std::string motion;       // "static", "walk", "run", "idle", "wave", "sit", "bvh"
  std::string motion_clip;  // motion "bvh": the clip's URI and frame, "file:///m/walk.bvh#37.5";
                            // motion "fitted" (humans.poses): the line, "poses.jsonl:12"
  std::string shape_source;  // humans.shapes: the line the shape came from, "shapes.jsonl:3"
  double motion_speed = 1;  // pace multiplier
  double motion_phase = 0;  // cycles into the clip (sit: 0 standing .. 1 seated)
  std::string outfit;       // e.g. "long-sleeve shirt (stripes), trousers, shoes, short hair"
  double yaw_deg = 0;       // facing direction: 0 = +y, counter-clockwise seen from above
  // Root on the floor (pelvis projected to z = 0), world; in a clip's later frames it
  // follows the root as the person walks.
  Vec3 position;
  std::array<Vec3, humans::kJointCount> joints;          // world metres, skeleton.h order
  std::array<Vec3, humans::kJointCount> pose_euler_deg;  // local joint rotations (skeleton.h)
  // Body "character": which file and instant ("file:///c/alice.glb", "Walk", 0.53 s), and
  // every joint of its skin by the file's names, world metres. `shape`, `skin_tone`,
  // `joints` and `pose_euler_deg` are the parametric body's and stay unset. A keypoint the
  // character's joint map leaves out is NaN (unlabelled: v = 0, x = y = 0).
  std::string character;
  std::string character_animation;  // empty: the bind pose
  double character_time_s = 0;
  std::vector<std::string> character_joint_names;
  std::vector<Vec3> character_joints;
  int character_root = 0;  // index into character_joints of the first root joint
};

// One sample's scene as the generator builds it: what the renderer draws, and who the
// people in it are (for the labels). humans[h] is keypoints[h]'s person.
struct SampleScene : render::Scene {
  std::vector<Human> humans;  // in instance id order
};

// A motion-capture clip of the spec (humans.bvh), parsed, with its joint map resolved.
struct MocapClip {
  std::string uri;
  humans::BvhMotion motion;
  humans::JointMap map;
};


// A skinned glTF character of the spec (humans.characters), loaded, with its COCO joint map
// resolved (characters.h builds it).
struct CharacterAsset {
  std::string uri;
  std::shared_ptr<const gltf::GltfCharacter> character;
  // For each COCO keypoint the character joint standing for it, -1 for none (unlabelled),
  // and how deep under the skin that joint lies (metres; see characters.h).
  std::array<int, kKeypointCount> keypoint_joint{};
  std::array<double, kKeypointCount> keypoint_radius{};
};

// The files a spec points at, loaded once (sample.h does it) and shared read-only.
struct SceneAssets {
  std::vector<std::shared_ptr<const MocapClip>> bvh;              // spec.humans.bvh order
  std::vector<std::shared_ptr<const CharacterAsset>> characters;  // spec.humans.characters order
  std::map<std::string, std::shared_ptr<const render::Environment>>
      environments;  // by URI (lighting.environment)
  std::shared_ptr<const std::vector<FittedPose>> poses;    // humans.poses, when set
  std::shared_ptr<const std::vector<FittedShape>> shapes;  // humans.shapes, when set
  std::shared_ptr<const SceneMesh> scene_mesh;             // scene.mesh, when set
};

// The scene of frame `frame` (0 .. spec.clip.frames - 1; 0 for a still image) of sample
// `index` of `spec`. Deterministic: same inputs, same bits. Every frame of a sample has the
// same camera, room, props, lights and people (the same instance ids); only the people
// move, frame / clip.fps seconds on from the first frame (people.h). The camera is framed
// on the first frame, so people walking out of the picture leave it.
// `time_offset_s` moves the people that many seconds further (either way) without changing
// anything else, the camera included: motion blur (motion_blur.h) builds a frame's scene at
// shutter open and close with it. 0 gives the frame itself, bit for bit.
// Throws std::invalid_argument for values a validated spec cannot hold (unknown kind), or
// when the spec needs assets (motion "bvh", body "character") that `assets` does not hold.
SampleScene build_scene(const JobSpec& spec, uint64_t index, const SceneAssets* assets = nullptr,
                  int frame = 0, double time_offset_s = 0);

}  // namespace synthfarm::jobs
