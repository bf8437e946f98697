// The stages of the procedural scene generator and the plain data passed between them.
// jobs/scene.cpp's build_scene() calls the stages in order; each lives in its own file of
// jobs/scene_gen/ (placement, framing, structure, props, looks, lighting). Private to
// those files: nothing outside jobs/scene.cpp and jobs/scene_gen/ includes this.
//
// Determinism: every stage draws only from the named streams it always drew from
// (Pcg32::for_purpose(seed, purpose, sub)); a stream a stage shares with its helpers is
// passed by reference, never derived again.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/math.h"
#include "base/rng.h"
#include "jobs/people.h"
#include "jobs/scene.h"
#include "jobs/scene_mesh.h"
#include "jobs/spec.h"
#include "render/scene.h"

namespace synthfarm::jobs::scene_gen {

// ---------------------------------------------------------------------------------------
// Shared by the stages (placement.cpp defines them).

// sqrt(x^2 + y^2) from exactly rounded operations only (std::hypot comes from libm).
double planar_length(double x, double y);

// The floor a person (or a prop, or the camera) takes up: nothing else is placed on it.
struct Footprint {
  Vec3 centre;  // z ignored
  double radius;
};

bool overlaps(const std::vector<Footprint>& placed, Vec3 p, double radius, double gap);

// Builds up one instance (several meshes) before ids are assigned.
struct PendingInstance {
  render::SemanticClass semantic;
  std::string name;
  std::vector<render::Mesh> meshes;
};

int draw_count(const Distribution& d, Pcg32& rng, int max);

// ---------------------------------------------------------------------------------------
// Placement (placement.cpp): the people on the floor.

struct People {
  std::vector<Person> humans;         // placed; instance ids not yet assigned
  std::vector<Footprint> footprints;  // footprints[i] is humans[i]'s, at the first frame
};

// The sample's people (humans.count of them), each built facing `facing_deg` give or take
// 120 degrees and placed on the floor around the origin without overlapping.
People place_people(const JobSpec& spec, uint64_t seed, double facing_deg,
                    const SceneAssets* assets);

// A later frame of a clip (frame > 0), or a moment of the shutter around a frame
// (`time_offset_s`, negative before it): the same people (same draws, same places),
// rebuilt `frame` / clip.fps + `time_offset_s` seconds on; each one's position follows its
// root on the floor.
void move_people_to_frame(const JobSpec& spec, uint64_t seed, double facing_deg,
                          const SceneAssets* assets, int frame, double time_offset_s,
                          std::vector<Person>& humans);

// ---------------------------------------------------------------------------------------
// Framing (framing.cpp): the camera.

// The camera's bearing around the people, radians; drawn before them, as they mostly
// face it.
double draw_camera_azimuth(uint64_t seed);

// The centre of the people's bounding box (of a person-sized box at the origin when there
// are none): what the camera aims at and focuses on.
Vec3 centre_of_people(const std::vector<Person>& humans);

// Sets scene.camera: up to 8 draws of field of view, eye height and distance from
// `group_centre` along `camera_azimuth`, keeping the one with the most people fully in
// frame (camera.keep_in_frame "humans"), then the depth of field. In a scene mesh
// (`fixed`), up to 32 draws, the later ones swinging round the people and then coming
// closer, and a draw counts only when the eye is over the floor, clear of the mesh and
// sees `group_centre` (scene_mesh.h); when none does, the best is kept all the same.
void frame_camera(const JobSpec& spec, uint64_t seed, double camera_azimuth, Vec3 group_centre,
                  const People& people, const SceneMesh* fixed, render::Scene& scene);

// ---------------------------------------------------------------------------------------
// Structure (structure.cpp): the scene's kind, and the room, outdoor ground or studio
// cove around the people.

// scene.kind, drawn; throws std::invalid_argument for one that is not room, outdoor or
// studio.
std::string draw_kind(const JobSpec& spec, uint64_t seed);

struct Structure {
  std::vector<PendingInstance> parts;  // floor or ground, then walls or the backdrop
  // Whether a prop of radius r standing at p (z ignored) is inside, clear of the walls.
  std::function<bool(Vec3, double)> inside;
  double top = 0;  // rooms: the top of the walls (where ceiling lights hang)
};

// The structure of a scene of `kind` around the people (`footprints`, centred on
// `group_centre`) and the camera: rooms enclose both, a studio's cove stands behind the
// people as seen from the camera.
Structure build_structure(uint64_t seed, const std::string& kind, Vec3 group_centre,
                          const render::Camera& camera, const std::vector<Footprint>& footprints);

// ---------------------------------------------------------------------------------------
// Props (props.cpp).

// The props of a scene of `kind`, inside `structure`: not on the people (`footprints`),
// the camera, or the lines of sight from the camera to them. A prop that finds no place
// is left out.
std::vector<PendingInstance> place_props(const JobSpec& spec, uint64_t seed,
                                         const std::string& kind, Vec3 group_centre,
                                         const render::Camera& camera,
                                         const std::vector<Footprint>& footprints,
                                         const Structure& structure);

// ---------------------------------------------------------------------------------------
// Looks (looks.cpp): a material for every prop and structure part.

// Gives every prop and structure part a material: plain, patterned (probability
// scene.patterns) or, for props, metal (probability scene.metal).
void add_looks(const JobSpec& spec, uint64_t seed, render::Scene& scene,
               std::vector<PendingInstance>& structure, std::vector<PendingInstance>& props);

// ---------------------------------------------------------------------------------------
// Lighting (lighting.cpp): sun, sky or environment map, and local lights.

// The sun and the sky, or the environment map lighting.environment names (then the sun is
// off). Throws std::invalid_argument when that map is not in `assets`.
void add_sun_and_sky(const JobSpec& spec, uint64_t seed, const SceneAssets* assets,
                     render::Scene& scene);

// Area lights (rooms: under the top of the walls at `structure_top`; studios: softboxes by
// the camera) and lamps, around the people's centre `group_centre`. In a scene mesh
// (`fixed`), area lights hang under the surface above them, lamps stay under it, and a
// light that does not see the people (behind a wall) is drawn again nearer them, up to 16
// times, then left out.
void add_lights(const JobSpec& spec, uint64_t seed, render::Scene& scene, double structure_top,
                Vec3 group_centre, const render::Camera& camera, const SceneMesh* fixed);

// ---------------------------------------------------------------------------------------
// Scene mesh (fixed_mesh.cpp): the spec's scene.mesh in place of structure and props.

// The scene mesh's parts as the structure's instances: its floor ("scene mesh floor",
// SemanticClass::kFloor) and the rest ("scene mesh", kWall), their materials, textures and
// shapes appended to `scene` (the parts' indices moved to match).
std::vector<PendingInstance> mesh_structure(const SceneMesh& mesh, render::Scene& scene);

}  // namespace synthfarm::jobs::scene_gen
