// The plain scene data the renderer draws (the render module's input): triangle meshes with
// materials, an instance id and a semantic class each; instances; lights, a sun, a sky or
// an environment map; an OpenCV pinhole (or thin-lens) camera; and the keypoint sets whose
// visibility the renderer labels. Plain data only: no Embree, no file format, nothing of
// the spec or of people. jobs/scene.h builds these from a spec; gltf/ imports them from
// files; tests build them by hand.
//
// Conventions
//   World: right-handed, metres, +z up, the floor/ground is the plane z = 0.
//   Camera: OpenCV (x right, y down, z forward). Pixel (u, v) coordinates are
//     continuous with (0, 0) at the top-left corner of the top-left pixel, so the centre
//     of pixel (i, j) is (i + 0.5, j + 0.5). K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]].
//   Instance ids: 0 = background (sky, nothing hit); meshes carry their instance's id.
//   Semantic classes: see SemanticClass.
//   Sun: `direction` points from the scene towards the sun; elevation above the horizon,
//     azimuth clockwise from +y (north) towards +x (east), both in degrees.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/colour.h"
#include "base/math.h"

namespace synthfarm::render {

// Semantic class ids written to the `semantic.id` layer and the per-sample JSON.
enum class SemanticClass : uint32_t {
  kBackground = 0,  // sky, nothing hit
  kPerson = 1,
  kFloor = 2,  // room floor, outdoor ground, studio floor
  kWall = 3,   // room walls, studio backdrop
  kProp = 4,   // boxes, spheres, cylinders
};
// "background", "person", "floor", "wall", "prop".
// (Inline: label writers such as the COCO builder need the names, not the renderer.)
inline std::string_view semantic_class_name(SemanticClass semantic) {
  switch (semantic) {
    case SemanticClass::kBackground:
      return "background";
    case SemanticClass::kPerson:
      return "person";
    case SemanticClass::kFloor:
      return "floor";
    case SemanticClass::kWall:
      return "wall";
    case SemanticClass::kProp:
      return "prop";
  }
  return "unknown";
}

// An image texture, decoded to linear RGBA floats (sRGB-encoded images are linearised on
// load when they hold colour). Row-major, the first row is the image's top row; texture
// coordinate (0, 0) is the image's top-left corner, as in glTF. Sampled bilinearly, wrapping.
struct Texture {
  std::string name;  // file or URI and image index, for messages
  int width = 0, height = 0;
  std::vector<float> texels;  // 4 per texel
};

// A procedural pattern node, evaluated at the world-space hit point, so it is
// resolution-independent. A node blends two colours by its kind's field; either colour can
// instead come from another node (a_input, b_input: an earlier index of Scene::patterns),
// so nodes form a small graph (bricks whose colour is fBm-weathered, marble clouded by
// noise). Parameters are drawn per sample by the scene generator.
struct Pattern {
  enum class Kind { kNoise, kFbm, kChecker, kBrick, kWood, kMarble };
  Kind kind = Kind::kNoise;
  Rgb a = {0.2f, 0.2f, 0.2f}, b = {0.8f, 0.8f, 0.8f};  // the two colours it blends
  int a_input = -1, b_input = -1;  // Scene::patterns index replacing a or b; -1 for none
  double scale = 1;                // features per metre
  int octaves = 4;                 // fBm octaves (noise, fbm, wood, marble)
  double distortion = 0;           // fBm warp strength (wood, marble)
  double mortar = 0.02;            // brick: mortar width relative to a brick height
  uint64_t seed = 0;               // lattice seed of the noise
};

// glTF 2.0's metallic-roughness model (the renderer's principled BSDF): a Lambertian base
// below a GGX specular layer (Schlick Fresnel, F0 = 0.08 * specular for dielectrics, the
// base colour for metals), plus emission.
struct Material {
  std::string name;
  Rgb base_color = {0.8f, 0.8f, 0.8f};  // linear
  float metallic = 0;                   // 0..1
  float roughness = 0.5f;               // perceptual roughness 0..1 (alpha = roughness^2)
  float specular = 0.5f;                // 0..1; 0.5 = F0 0.04, glTF's dielectric default
  Rgb emission = {0, 0, 0};             // emitted radiance, linear
  // Scene::textures indices, -1 for none. base_color_texture multiplies base_color;
  // metallic_roughness_texture is glTF's (G = roughness, B = metallic) and multiplies both;
  // emission_texture multiplies emission.
  int base_color_texture = -1;
  int metallic_roughness_texture = -1;
  int emission_texture = -1;
  int pattern = -1;  // Scene::patterns index: replaces the base colour, -1 for none
};

// Lights beside the sun and the sky. Radiometric units: intensity in W/sr for point and spot
// lights (a surface at distance r facing the light gets irradiance intensity / r^2), and
// emitted radiance for area lights. Area lights emit from their front face only (the side
// `normal` points to) and are invisible to camera rays only if `visible` is false.
struct Light {
  enum class Kind { kPoint, kSpot, kRect, kDisk };
  Kind kind = Kind::kPoint;
  Rgb color = {1, 1, 1};
  double intensity = 0;         // point, spot: W/sr; rect, disk: radiance scale
  Vec3 position;                // point, spot: the light; rect, disk: the centre
  Vec3 direction = {0, 0, -1};  // spot: the cone axis; rect, disk: the emitting normal
  double inner_cone_deg = 0, outer_cone_deg = 45;  // spot, half-angles (glTF)
  Vec3 u_axis = {1, 0, 0};  // rect: half-extent vectors in the plane (edge centre offsets)
  Vec3 v_axis = {0, 1, 0};
  // disk: its radius; point, spot: the radius of the emitting sphere (0 = a point). A
  // sphere emits the same power as the point of the same intensity (radiance
  // intensity / (pi radius^2)), a spot sphere with the cone's falloff towards the lit point.
  double radius = 0;
  bool visible = true;  // area and sphere lights seen by camera rays
};

// An equirectangular environment (latitude-longitude) of linear RGB radiance. Column 0 is
// azimuth -pi at the left edge, increasing towards +x; row 0 is the zenith (+z). Its
// radiance replaces the sky's; the renderer importance-samples it by luminance.
struct Environment {
  std::string name;
  int width = 0, height = 0;
  std::vector<float> texels;  // 3 per texel
  double intensity = 1;
  double rotation_deg = 0;  // about +z, counter-clockwise seen from above
};

// Shutter times run from 0 (open) through 0.5 (mid-shutter, the labelled moment) to 1
// (close). Where a point that is at `open`, `mid` and `close` at those three moments is at
// `time`: linear in each half of the shutter, exactly `mid` at 0.5.
inline Vec3 shutter_point(Vec3 open, Vec3 mid, Vec3 close, double time) {
  if (time < 0.5) return open + (mid - open) * (2.0 * time);
  if (time > 0.5) return mid + (close - mid) * (2.0 * time - 1.0);
  return mid;
}

// One diffuse triangle mesh. An instance (a human, a prop) may own several meshes.
struct Mesh {
  std::vector<float> positions;   // x, y, z per vertex, world metres
  std::vector<uint32_t> indices;  // three per triangle
  Rgb albedo;                     // Lambertian base colour, linear, in [0, 1)
  uint32_t instance_id = 0;
  SemanticClass semantic = SemanticClass::kBackground;
  // Optional per-vertex linear albedo (r, g, b per vertex), interpolated across each
  // triangle. When present it replaces `albedo`; with a `material`, it multiplies the
  // material's base colour (glTF's COLOR_0).
  std::vector<float> colors;
  // Optional part labels (the part and uv layers): the DensePose body part (1..24, 0 = none) of every triangle,
  // and the part's surface coordinates (u, v) at every triangle corner (6 per triangle).
  std::vector<uint8_t> parts;
  std::vector<float> uvs;
  // Optional: Scene::materials index (-1: Lambertian `albedo`/`colors`), per-vertex texture
  // coordinates (2 per vertex) and per-vertex shading normals (3 per vertex, world).
  int material = -1;
  std::vector<float> texcoords;
  std::vector<float> normals;
  // Optional: where every vertex is one frame later, for the
  // motion layer; empty for a mesh that does not move.
  std::vector<float> next_positions;
  // Optional, for motion blur (Scene::motion_blur): every vertex at shutter open ([0]) and
  // at shutter close ([1]), laid out as `positions`, which stays the mid-shutter geometry
  // (the one the labels see). Between the three the vertex moves linearly (open -> mid over
  // the first half of the shutter, mid -> close over the second), so mid-shutter is exact
  // and a person's limbs follow their arcs at three points rather than two. Both empty: the
  // mesh holds still.
  std::array<std::vector<float>, 2> shutter_positions;
  // Optional: this mesh is Scene::shapes[shape] placed by x -> shape_linear * x +
  // shape_offset: the same triangles in the same order, each vertex the shape's vertex so
  // mapped (a mirroring map may turn each triangle's winding round). The renderer then builds
  // the shape's BVH once and instances it for every mesh placed from it (Embree instancing);
  // everything else reads the mesh's own world-space arrays as for any mesh. -1: none.
  int shape = -1;
  Mat3 shape_linear;
  Vec3 shape_offset;

  size_t triangle_count() const { return indices.size() / 3; }
  Vec3 vertex(uint32_t i) const {
    return {positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]};
  }
  // Whether the mesh has shutter positions that fit its vertices.
  bool moves_in_shutter() const {
    return shutter_positions[0].size() == positions.size() &&
           shutter_positions[1].size() == positions.size() && !positions.empty();
  }
};

// Geometry helpers (also used by tests to build analytic scenes). Each appends triangles.
// A planar quad p0 p1 p2 p3 (in order around its boundary).
void add_quad(Mesh& mesh, Vec3 p0, Vec3 p1, Vec3 p2, Vec3 p3);
// A box with the given centre, orientation (columns = box axes) and half extents.
void add_box(Mesh& mesh, Vec3 centre, const Mat3& frame, Vec3 half_extents);
// An ellipsoid with semi-axes radii.x/y/z along the columns of `frame`.
void add_ellipsoid(Mesh& mesh, Vec3 centre, const Mat3& frame, Vec3 radii, int slices, int stacks);
// A capsule from a to b with an elliptical cross-section: radius_x along `lateral`
// (projected perpendicular to the axis), radius_y along the third axis.
void add_capsule(Mesh& mesh, Vec3 a, Vec3 b, Vec3 lateral, double radius_x, double radius_y,
                 int slices, int cap_rings);
// A closed upright cylinder standing on `base` (its bottom centre).
void add_cylinder(Mesh& mesh, Vec3 base, double radius, double height, int slices);

// What an instance is, for the labels.
struct Instance {
  uint32_t id = 0;
  SemanticClass semantic = SemanticClass::kBackground;
  std::string name;  // "person", "box", "sphere", "cylinder", "floor", "ground", "wall", "backdrop"
};

struct Camera {
  int width = 0, height = 0;              // pixels
  double fov_deg = 0;                     // horizontal
  double height_m = 0;                    // eye height above the floor
  double distance_m = 0;                  // horizontal distance to the point it was aimed at
  double fx = 0, fy = 0, cx = 0, cy = 0;  // intrinsics, pixels
  Mat3 rotation;  // world_to_camera rotation; rows are the camera x, y, z axes in world
  Vec3 position;  // centre of projection, world
  // Thin-lens depth of field: lens radius in metres (0 = pinhole) and the distance along the
  // optical axis that is in focus. Labels always use the pinhole ray through the pixel centre.
  double aperture_radius_m = 0;
  double focus_distance_m = 1;
  // Motion blur (Scene::motion_blur): the centre of projection at shutter open ([0]) and
  // close ([1]); `position` stays the mid-shutter one, which the labels and the keypoints
  // use. It moves linearly open -> mid -> close like a mesh's vertices; the rotation holds.
  // Empty: the camera holds still.
  std::optional<std::array<Vec3, 2>> shutter_positions;

  // The centre of projection at shutter time `time` (0 = open, 0.5 = mid, 1 = close).
  Vec3 position_at(double time) const {
    if (!shutter_positions) return position;
    return shutter_point((*shutter_positions)[0], position, (*shutter_positions)[1], time);
  }
  // world_to_camera translation: -rotation * position.
  Vec3 translation() const { return -(rotation * position); }
  Vec3 to_camera(Vec3 world) const { return rotation * (world - position); }
  // Pixel coordinates of a camera-space point with z > 0.
  std::array<double, 2> project(Vec3 camera_point) const {
    return {fx * camera_point.x / camera_point.z + cx, fy * camera_point.y / camera_point.z + cy};
  }
};

// A pinhole camera at `eye` looking at `target`, world +z up (the view must not be vertical).
Camera look_at_camera(int width, int height, double fov_deg, Vec3 eye, Vec3 target);

struct Sun {
  Vec3 direction = {0, 0, 1};  // unit, towards the sun
  double elevation_deg = 90, azimuth_deg = 0;
  // Angular diameter of the sun's disk (degrees; the real sun is about 0.53): shadows get
  // penumbrae. 0 = a delta directional light with hard shadows.
  double angular_diameter_deg = 0;
  // A white Lambertian surface facing the sun, unshadowed, has radiance `intensity` from
  // the sun alone (irradiance pi * intensity).
  double intensity = 0;
};

// The sky seen by rays that leave the scene (when Scene::environment is not set).
//   kGradient (default): horizon colour blending to the zenith colour with sqrt(elevation
//     sine); a flat ground colour below the horizon; all times `intensity`.
//   kUniform: `zenith` times `intensity` in every direction (a furnace).
//   kPreetham: the Preetham, Shirley & Smits 1999 clear-sky model for the scene's sun
//     direction and `turbidity` (2 = very clear .. 10 = hazy), normalised so the zenith has
//     luminance `intensity`; `ground` times `intensity` below the horizon. The sun itself is
//     Scene::sun (a delta light), not part of the sky. The renderer evaluates this model
//     (sky.h) and importance-samples it; radiance() below cannot, as it needs the sun.
struct Sky {
  enum class Model { kGradient, kPreetham, kUniform };
  Rgb zenith = {0.30f, 0.48f, 0.90f};
  Rgb horizon = {0.85f, 0.90f, 1.00f};
  Rgb ground = {0.35f, 0.33f, 0.30f};
  double intensity = 1;
  Model model = Model::kGradient;
  double turbidity = 3;  // kPreetham only, 2 .. 10

  // Radiance seen along unit direction `d` (world) for kGradient and kUniform; a kPreetham
  // sky answers as kGradient here (the renderer uses sky.h's SkyModel for it).
  Rgb radiance(Vec3 d) const {
    if (model == Model::kUniform) {
      return {static_cast<float>(zenith.r * intensity), static_cast<float>(zenith.g * intensity),
              static_cast<float>(zenith.b * intensity)};
    }
    if (d.z < 0) {
      return {static_cast<float>(ground.r * intensity), static_cast<float>(ground.g * intensity),
              static_cast<float>(ground.b * intensity)};
    }
    double t = std::sqrt(d.z);
    auto mix = [&](float h, float z) { return static_cast<float>((h + (z - h) * t) * intensity); };
    return {mix(horizon.r, zenith.r), mix(horizon.g, zenith.g), mix(horizon.b, zenith.b)};
  }
  static Sky uniform(double radiance) {
    return {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}, radiance, Model::kUniform, 3};
  }
};

// A triangle mesh in its own object space that several Scene meshes are placed from
// (Mesh::shape): repeated props, glTF meshes that several nodes use.
struct MeshShape {
  std::vector<float> positions;   // x, y, z per vertex, object space
  std::vector<uint32_t> indices;  // three per triangle
};

// Points of one instance whose visibility the renderer labels (Frame::keypoints): a
// person's COCO keypoints, for one. depth[k] is how far under the instance's surface point
// k lies (0 on the skin; about the limb radius for a joint centre). A point that is NaN is
// unlabelled (v = 0).
struct KeypointSet {
  uint32_t instance_id = 0;
  std::vector<Vec3> points;   // world metres
  std::vector<double> depth;  // metres; same size as points
};

struct Scene {
  std::string kind;  // "room", "outdoor", "studio" (or anything, for hand-built scenes)
  Camera camera;
  Sun sun;
  Sky sky;
  std::vector<Mesh> meshes;
  std::vector<MeshShape> shapes;    // Mesh::shape indices
  std::vector<Material> materials;  // Mesh::material indices
  std::vector<Texture> textures;    // Material texture indices
  std::vector<Pattern> patterns;    // Material::pattern indices
  std::vector<Light> lights;
  std::shared_ptr<const Environment> environment;  // replaces the sky when set
  std::vector<Instance> instances;                 // sorted by id, ids 1..instances.size()
  std::vector<KeypointSet> keypoints;              // labelled into Frame::keypoints, in order
  // Motion blur: every camera path samples a moment of the shutter, uniformly from open to
  // close, and sees the meshes (Mesh::shutter_positions) and the camera
  // (Camera::shutter_positions) where they are then. Labels and keypoints stay those of
  // mid-shutter (`positions`, Camera::position). Off: shutter positions are ignored.
  bool motion_blur = false;
};

}  // namespace synthfarm::render
