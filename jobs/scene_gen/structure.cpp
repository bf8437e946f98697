// Structure, a stage of the scene generator (scene_gen/internal/stages.h): the scene's
// kind and what surrounds the people, a room, an outdoor ground or a studio cove, with
// the region props must stay inside. All drawn from the "structure" stream, in order.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "base/colour.h"
#include "base/math.h"
#include "base/rng.h"
#include "jobs/scene_gen/internal/stages.h"
#include "jobs/spec.h"
#include "render/scene.h"

namespace synthfarm::jobs::scene_gen {

using render::Camera;
using render::Mesh;
using render::SemanticClass;
using render::add_quad;

namespace {

constexpr std::array<Rgb, 6> kRoomFloors = {{{0.45f, 0.30f, 0.17f},
                                             {0.20f, 0.11f, 0.06f},
                                             {0.30f, 0.30f, 0.29f},
                                             {0.55f, 0.50f, 0.42f},
                                             {0.15f, 0.18f, 0.22f},
                                             {0.70f, 0.70f, 0.68f}}};
constexpr std::array<Rgb, 6> kRoomWalls = {{{0.75f, 0.74f, 0.70f},
                                            {0.68f, 0.62f, 0.52f},
                                            {0.55f, 0.60f, 0.62f},
                                            {0.62f, 0.66f, 0.55f},
                                            {0.80f, 0.80f, 0.80f},
                                            {0.50f, 0.40f, 0.35f}}};
constexpr std::array<Rgb, 6> kGrounds = {{{0.08f, 0.16f, 0.04f},
                                          {0.08f, 0.08f, 0.08f},
                                          {0.25f, 0.18f, 0.11f},
                                          {0.55f, 0.47f, 0.33f},
                                          {0.30f, 0.29f, 0.27f},
                                          {0.35f, 0.33f, 0.30f}}};
constexpr std::array<Rgb, 6> kStudio = {{{0.80f, 0.80f, 0.80f},
                                         {0.35f, 0.35f, 0.35f},
                                         {0.05f, 0.45f, 0.10f},
                                         {0.04f, 0.10f, 0.45f},
                                         {0.03f, 0.03f, 0.03f},
                                         {0.60f, 0.52f, 0.40f}}};

// Adds a part of one mesh of colour `albedo` to `structure` and returns that mesh.
Mesh& add_part(Structure& structure, SemanticClass semantic, std::string name, Rgb albedo) {
  PendingInstance part{semantic, std::move(name), {}};
  part.meshes.emplace_back().albedo = albedo;
  structure.parts.push_back(std::move(part));
  return structure.parts.back().meshes.back();
}

// kind "room".
void build_room(Pcg32& structure_rng, Vec3 centre, const Camera& camera,
                const std::vector<Footprint>& footprints, Structure& structure) {
  // Axis-aligned, enclosing the people and the camera; no ceiling, so sun and sky enter.
  double need_x = std::abs(camera.position.x - centre.x),
         need_y = std::abs(camera.position.y - centre.y);
  for (const Footprint& f : footprints) {
    need_x = std::max(need_x, std::abs(f.centre.x - centre.x) + f.radius);
    need_y = std::max(need_y, std::abs(f.centre.y - centre.y) + f.radius);
  }
  double ex = need_x + uniform(structure_rng, 0.8, 3.0);
  double ey = need_y + uniform(structure_rng, 0.8, 3.0);
  double wall_h = uniform(structure_rng, 2.5, 3.5);
  structure.top = wall_h;
  Rgb floor_colour = pick(structure_rng, kRoomFloors);
  Rgb wall_colour = pick(structure_rng, kRoomWalls);
  int missing =
      structure_rng.next_below(2) == 0 ? -1 : static_cast<int>(structure_rng.next_below(4));
  double x0 = centre.x - ex, x1 = centre.x + ex, y0 = centre.y - ey, y1 = centre.y + ey;
  add_quad(add_part(structure, SemanticClass::kFloor, "floor", floor_colour), {x0, y0, 0},
           {x1, y0, 0}, {x1, y1, 0}, {x0, y1, 0});
  const std::array<std::pair<Vec3, Vec3>, 4> walls = {{{{x0, y1, 0}, {x1, y1, 0}},
                                                       {{x1, y1, 0}, {x1, y0, 0}},
                                                       {{x1, y0, 0}, {x0, y0, 0}},
                                                       {{x0, y0, 0}, {x0, y1, 0}}}};
  for (int w = 0; w < 4; ++w) {
    if (w == missing) continue;
    auto [a, b] = walls[w];
    add_quad(add_part(structure, SemanticClass::kWall, "wall", wall_colour), a, b,
             b + Vec3{0, 0, wall_h}, a + Vec3{0, 0, wall_h});
  }
  structure.inside = [=](Vec3 p, double r) {
    return std::abs(p.x - centre.x) < ex - r - 0.05 && std::abs(p.y - centre.y) < ey - r - 0.05;
  };
}

// kind "outdoor": a ground far wider than any view; props stay near the people.
void build_ground(Pcg32& structure_rng, Vec3 centre, Structure& structure) {
  constexpr double kHalf = 200.0;
  Rgb ground = pick(structure_rng, kGrounds);
  add_quad(add_part(structure, SemanticClass::kFloor, "ground", ground),
           centre + Vec3{-kHalf, -kHalf, 0}, centre + Vec3{kHalf, -kHalf, 0},
           centre + Vec3{kHalf, kHalf, 0}, centre + Vec3{-kHalf, kHalf, 0});
  structure.inside = [=](Vec3 p, double) {
    return planar_length(p.x - centre.x, p.y - centre.y) < 12.0;
  };
}

// kind "studio".
void build_cove(Pcg32& structure_rng, Vec3 centre, const Camera& camera,
                const std::vector<Footprint>& footprints, Structure& structure) {
  // A cove behind the people as seen from the camera: the floor curves up into a wall.
  Vec3 back = normalize(Vec3{centre.x - camera.position.x, centre.y - camera.position.y, 0});
  Vec3 side = {-back.y, back.x, 0};
  double depth = 0;
  for (const Footprint& f : footprints)
    depth = std::max(depth, dot(f.centre - centre, back) + f.radius);
  double wall_at = depth + uniform(structure_rng, 1.0, 2.5);
  double radius = uniform(structure_rng, 0.5, 1.5);
  Rgb colour = pick(structure_rng, kStudio);
  constexpr double kHalfWidth = 15.0, kWallHeight = 6.0, kFront = 25.0;
  auto at = [&](double along, double across, double z) {
    return centre + back * along + side * across + Vec3{0, 0, z};
  };
  double curve_start = wall_at - radius;
  add_quad(add_part(structure, SemanticClass::kFloor, "floor", colour),
           at(-kFront, -kHalfWidth, 0), at(curve_start, -kHalfWidth, 0),
           at(curve_start, kHalfWidth, 0), at(-kFront, kHalfWidth, 0));
  Mesh& cove = add_part(structure, SemanticClass::kWall, "backdrop", colour);
  constexpr int kCurveSteps = 8;
  for (int k = 0; k < kCurveSteps; ++k) {
    double a0 = 0.5 * kPi * k / kCurveSteps, a1 = 0.5 * kPi * (k + 1) / kCurveSteps;
    double s0 = curve_start + radius * portable_sin(a0), z0 = radius - radius * portable_cos(a0);
    double s1 = curve_start + radius * portable_sin(a1), z1 = radius - radius * portable_cos(a1);
    add_quad(cove, at(s0, -kHalfWidth, z0), at(s1, -kHalfWidth, z1), at(s1, kHalfWidth, z1),
             at(s0, kHalfWidth, z0));
  }
  add_quad(cove, at(wall_at, -kHalfWidth, radius), at(wall_at, -kHalfWidth, kWallHeight),
           at(wall_at, kHalfWidth, kWallHeight), at(wall_at, kHalfWidth, radius));
  structure.inside = [=](Vec3 p, double r) {
    double along = dot(p - centre, back), across = dot(p - centre, side);
    return along < curve_start - r - 0.05 && along > -kFront + r && std::abs(across) < 6.0;
  };
}

}  // namespace

std::string draw_kind(const JobSpec& spec, uint64_t seed) {
  std::string kind = draw_field(spec.scene.kind, seed, "scene.kind");
  if (kind != "room" && kind != "outdoor" && kind != "studio") {
    throw std::invalid_argument("unknown scene.kind '" + kind + "'");
  }
  return kind;
}

Structure build_structure(uint64_t seed, const std::string& kind, Vec3 group_centre,
                          const Camera& camera, const std::vector<Footprint>& footprints) {
  Pcg32 structure_rng = Pcg32::for_purpose(seed, "structure");
  Structure structure;
  const Vec3 centre = {group_centre.x, group_centre.y, 0};
  if (kind == "room") {
    build_room(structure_rng, centre, camera, footprints, structure);
  } else if (kind == "outdoor") {
    build_ground(structure_rng, centre, structure);
  } else {  // studio
    build_cove(structure_rng, centre, camera, footprints, structure);
  }
  return structure;
}

}  // namespace synthfarm::jobs::scene_gen
