// What a surface point looks like (SurfaceLook): its material's BSDF inputs after textures
// and patterns, for both the path tracer (path_tracer.cpp) and the albedo label
// (label_pass.cpp). Defined here so that both passes' loops can inline them.
#pragma once

#include <array>
#include <cstddef>

#include "render/internal/bsdf.h"
#include "render/internal/embree_scene.h"
#include "render/scene.h"
#include "render/internal/textures.h"

namespace synthfarm::render::internal {

inline Spectrum to_spectrum(Rgb c) { return {c.r, c.g, c.b}; }

// What a surface point looks like: its BSDF inputs after textures and patterns.
struct SurfaceLook {
  Rgb base;  // linear base colour (the albedo label)
  double metallic = 0, roughness = 1, specular = 0.5;
  Spectrum emission;
  bool lambertian = true;  // Mesh::material -1: the historical Lambertian surface
};

// The mesh's material, texture `t` and pattern `p` of the scene; nullptr for none (an index
// of -1 or out of range).
inline const Material* material_of(const Scene& scene, const Mesh& mesh) {
  const int i = mesh.material;
  return i >= 0 && static_cast<size_t>(i) < scene.materials.size() ? &scene.materials[i] : nullptr;
}
inline const Texture* texture_of(const Scene& scene, int t) {
  return t >= 0 && static_cast<size_t>(t) < scene.textures.size() ? &scene.textures[t] : nullptr;
}
inline bool has_pattern(const Scene& scene, int p) {
  return p >= 0 && static_cast<size_t>(p) < scene.patterns.size();
}

inline SurfaceLook look_at(const Scene& scene, const Hit& hit) {
  SurfaceLook look;
  const Material* material = material_of(scene, *hit.mesh);
  if (material == nullptr) {
    look.base = hit.albedo();
    return look;
  }
  const Material& m = *material;
  look.lambertian = false;
  look.base = m.base_color;
  look.metallic = m.metallic;
  look.roughness = m.roughness;
  look.specular = m.specular;
  look.emission = to_spectrum(m.emission);
  auto texture = [&](int t) { return texture_of(scene, t); };
  if (has_pattern(scene, m.pattern)) {
    look.base = eval_pattern(scene.patterns, static_cast<size_t>(m.pattern), hit.point);
  }
  if (!hit.mesh->colors.empty()) {  // per-vertex colours multiply the base colour (glTF COLOR_0)
    const Rgb c = hit.albedo();
    look.base = {look.base.r * c.r, look.base.g * c.g, look.base.b * c.b};
  }
  const bool textured = texture(m.base_color_texture) || texture(m.metallic_roughness_texture) ||
                        texture(m.emission_texture);
  const std::array<double, 2> uv = textured ? hit.texcoord() : std::array<double, 2>{0, 0};
  if (const Texture* t = texture(m.base_color_texture)) {
    Rgba c = sample_texture(*t, uv[0], uv[1]);
    look.base = {look.base.r * c.r, look.base.g * c.g, look.base.b * c.b};
  }
  if (const Texture* t = texture(m.metallic_roughness_texture)) {
    Rgba c = sample_texture(*t, uv[0], uv[1]);
    look.roughness *= c.g;
    look.metallic *= c.b;
  }
  if (const Texture* t = texture(m.emission_texture)) {
    Rgba c = sample_texture(*t, uv[0], uv[1]);
    look.emission = look.emission * Spectrum{c.r, c.g, c.b};
  }
  return look;
}

inline PrincipledBsdf bsdf_of(const SurfaceLook& look) {
  Spectrum base = to_spectrum(look.base);
  if (look.lambertian) return PrincipledBsdf::lambertian(base);
  return PrincipledBsdf(base, look.metallic, look.roughness, look.specular);
}

// Whether a mesh looks the same all over: no texture, pattern or vertex colour varies it.
inline bool uniform_look(const Scene& scene, const Mesh& mesh) {
  const Material* m = material_of(scene, mesh);
  if (m == nullptr || !mesh.colors.empty()) return mesh.colors.empty();
  return !has_pattern(scene, m->pattern) && !texture_of(scene, m->base_color_texture) &&
         !texture_of(scene, m->metallic_roughness_texture) &&
         !texture_of(scene, m->emission_texture);
}

}  // namespace synthfarm::render::internal
