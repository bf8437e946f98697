// Looks, a stage of the scene generator (scene_gen/internal/stages.h): the material of
// every prop and structure part, plain, a procedural pattern or metal. Patterns and metals
// are drawn per surface from streams of their own, so they never change the geometry or
// the people of a sample.
#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/colour.h"
#include "base/rng.h"
#include "jobs/scene_gen/internal/stages.h"
#include "jobs/spec.h"
#include "render/scene.h"

namespace synthfarm::jobs::scene_gen {

using render::Material;
using render::Mesh;
using render::Pattern;
using render::Scene;

namespace {

constexpr std::array<Rgb, 4> kMetals = {{{0.91f, 0.92f, 0.92f},    // aluminium
                                         {0.56f, 0.57f, 0.58f},    // steel
                                         {0.95f, 0.64f, 0.54f},    // copper
                                         {1.00f, 0.71f, 0.29f}}};  // gold

// A pattern for a surface named `name` (floor, ground, wall, backdrop, box, sphere,
// cylinder) of base colour `base` in a scene of `kind`, or none when it stays plain.
std::optional<Pattern> pattern_for(const std::string& name, const std::string& kind, Rgb base, Pcg32& rng) {
  using K = Pattern::Kind;
  Pattern p;
  p.seed = (static_cast<uint64_t>(rng.next_u32()) << 32) | rng.next_u32();
  p.a = scaled(base, uniform(rng, 0.45, 0.75));
  p.b = scaled(base, uniform(rng, 1.0, 1.3));
  if (name == "floor" && kind == "room") {
    const uint32_t which = rng.next_below(3);
    p.kind = which == 0 ? K::kWood : which == 1 ? K::kChecker : K::kMarble;
    p.scale = p.kind == K::kWood ? uniform(rng, 2, 6) : p.kind == K::kChecker ? uniform(rng, 1.5, 4) : uniform(rng, 0.5, 2);
    p.distortion = uniform(rng, 1, 4);
  } else if (name == "ground") {
    p.kind = K::kFbm;
    p.scale = uniform(rng, 0.3, 3);
    p.octaves = 5;
  } else if (name == "wall") {
    const bool brick = rng.next_below(2) == 0;
    p.kind = brick ? K::kBrick : K::kFbm;
    p.scale = brick ? uniform(rng, 10, 16) : uniform(rng, 1, 6);  // brick courses per metre
    p.mortar = uniform(rng, 0.08, 0.18);
    if (brick) p.a = scaled({0.62f, 0.60f, 0.56f}, uniform(rng, 0.7, 1.1));  // mortar
  } else if (name == "box" || name == "sphere" || name == "cylinder") {
    const uint32_t which = rng.next_below(4);
    p.kind = which == 0 ? K::kMarble : which == 1 ? K::kChecker : which == 2 ? K::kWood : K::kNoise;
    p.scale = uniform(rng, 3, 12);
    p.distortion = uniform(rng, 1, 5);
  } else {
    return std::nullopt;  // a studio's floor and backdrop are seamless paper
  }
  return p;
}

}  // namespace

// Gives every prop and structure part a material: plain, patterned (probability
// scene.patterns) or, for props, metal (probability scene.metal).
void add_looks(const JobSpec& spec, uint64_t seed, Scene& scene, std::vector<PendingInstance>& structure,
               std::vector<PendingInstance>& props) {
  const double p_pattern = std::clamp(draw_field(spec.scene.patterns, seed, "scene.patterns"), 0.0, 1.0);
  const double p_metal = std::clamp(draw_field(spec.scene.metal, seed, "scene.metal"), 0.0, 1.0);
  auto dress = [&](PendingInstance& instance, Pcg32& rng, bool may_be_metal) {
    Mesh& mesh = instance.meshes.front();
    Material m;
    m.name = instance.name;
    m.base_color = mesh.albedo;
    m.roughness = static_cast<float>(uniform(rng, 0.35, 0.95));
    const bool metal = may_be_metal && rng.next_double() < p_metal;
    const bool patterned = !metal && rng.next_double() < p_pattern;
    if (metal) {
      m.metallic = 1;
      m.base_color = pick(rng, kMetals);
      m.roughness = static_cast<float>(uniform(rng, 0.08, 0.5));
      mesh.albedo = m.base_color;
    } else if (patterned) {
      if (auto pattern = pattern_for(instance.name, scene.kind, mesh.albedo, rng)) {
        if (pattern->kind == Pattern::Kind::kMarble || pattern->kind == Pattern::Kind::kChecker) {
          m.roughness = static_cast<float>(uniform(rng, 0.1, 0.4));  // polished stone, tiles
        }
        // Half the patterns get a second node: fBm weathering their main colour (b).
        if (pattern->kind != Pattern::Kind::kFbm && rng.next_below(2) == 0) {
          Pattern weathering;
          weathering.kind = Pattern::Kind::kFbm;
          weathering.seed = (static_cast<uint64_t>(rng.next_u32()) << 32) | rng.next_u32();
          weathering.a = scaled(pattern->b, uniform(rng, 0.6, 0.85));
          weathering.b = scaled(pattern->b, uniform(rng, 1.0, 1.15));
          weathering.scale = uniform(rng, 1, 8);
          weathering.octaves = 3;
          pattern->b_input = static_cast<int>(scene.patterns.size());
          scene.patterns.push_back(weathering);
        }
        m.pattern = static_cast<int>(scene.patterns.size());
        scene.patterns.push_back(*pattern);
      }
    }
    mesh.material = static_cast<int>(scene.materials.size());
    scene.materials.push_back(std::move(m));
  };
  for (size_t k = 0; k < structure.size(); ++k) {
    Pcg32 rng = Pcg32::for_purpose(seed, "looks.structure", k);
    dress(structure[k], rng, false);
  }
  for (size_t k = 0; k < props.size(); ++k) {
    Pcg32 rng = Pcg32::for_purpose(seed, "looks.props", k);
    dress(props[k], rng, true);
  }
}

}  // namespace synthfarm::jobs::scene_gen
