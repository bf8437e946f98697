// Static glTF 2.0 scenes as renderable Scenes: for rendering a scene
// made elsewhere (Blender, any DCC tool) with synthfarm's path tracer, and for comparing
// that renderer with others on the same file (bench/cycles_compare.sh).
//
// load_gltf_scene() reads a .glb, or a .gltf with embedded (data:) buffers, into plain data
// (scene.h). Nothing here touches the file system; the glTF library stays inside
// gltf_scene.cpp. Like the character importer (gltf.h) it never trusts the file: every
// index, count and byte range is checked; a problem that makes the scene wrong is an error
// naming the file and the element ("room.glb: mesh 'Table' primitive 0 POSITION
// (accessor 12) has a NaN at vertex 40"); a feature that is merely not supported is left
// out with a warning (GltfScene::warnings), never silently.
//
// What is read (everything in synthfarm's frame: glTF (X, Y, Z) is synthfarm (X, -Z, Y),
// metres, as in gltf.h):
//   - Meshes of every node of the default scene (scenes[scene], else scene 0, else every
//     root node), with the node's world transform. Each glTF primitive becomes one Mesh (a
//     Mesh has one material); each mesh node one Instance (SemanticClass::kProp, named after
//     the node), ids 1..N in the same depth-first order as the camera below. TRIANGLES,
//     TRIANGLE_STRIP and TRIANGLE_FAN; points and lines are skipped with a warning. POSITION is
//     required; NORMAL (transformed by the inverse transpose), TEXCOORD_0 and COLOR_0 are used
//     when present. COLOR_0 (RGB or RGBA, float or normalised integers, each 0 .. 1) is linear
//     and multiplies the material's base colour, as glTF says (alpha ignored); a fused depth
//     capture (recon/tsdf.h) carries its colours so.
//   - Materials: glTF metallic-roughness (scene.h's Material): baseColorFactor (alpha
//     ignored), metallicFactor, roughnessFactor, emissiveFactor times
//     KHR_materials_emissive_strength's emissiveStrength (radiance, as Blender's importer
//     feeds Cycles' emission strength); KHR_materials_specular and KHR_materials_ior set the
//     dielectric reflectance: specular = F0(ior) / 0.08 * specularFactor *
//     luminance(specularColorFactor), F0(ior) = ((ior - 1) / (ior + 1))^2 (0.5 for glTF's
//     defaults), clamped to 1 (F0 0.08, the renderer's range) with a warning. A primitive without a
//     material gets glTF's default material (white, metallic 1, roughness 1). Normal, occlusion and
//     specular textures are ignored with a warning; so are alpha blending and masking (surfaces are
//     opaque).
//   - Textures: baseColorTexture and emissiveTexture (sRGB, linearised), metallicRoughness
//     (linear; G roughness, B metallic) when they read TEXCOORD_0, decoded from PNG or JPEG.
//     Fallback: a texture that cannot be used (undecodable image, an external image file,
//     a missing source, another texCoord set) is dropped, so its factor stands alone, with a
//     warning naming the material and the image. Sampling wraps (REPEAT) whatever the glTF
//     sampler says (other wrap modes: a warning).
//   - KHR_lights_punctual, converted from glTF's photometric units the way Blender's glTF
//     importer (PBR_WATTS_TO_LUMENS = 683 lm/W) and Cycles together read them, so that both
//     renderers see the same radiance:
//       point, spot  intensity I_v (candela) -> Light::intensity = I_v / 683 W/sr
//                    (Blender: P = I_v * 4 pi / 683 W; Cycles emits P / 4 pi W/sr);
//                    spot cone half-angles as given (innerConeAngle, outerConeAngle);
//       directional  illuminance E_v (lux) -> the Sun, Sun::intensity = E_v / (683 pi)
//                    (Blender: sun strength E_v / 683 W/m^2, the irradiance of a surface
//                    facing it; synthfarm's Sun::intensity is the radiance of a white
//                    Lambertian surface facing it, irradiance / pi). One directional light
//                    only (the Sun is single); more are ignored with a warning. A coloured
//                    sun keeps its luminance only (Sun has no colour), with a warning.
//     `range` is ignored (as Blender's importer does). Lights point down their node's -z.
//   - Camera: the first node with a camera met walking the scene's node tree depth-first
//     (pre-order, children in file order): a perspective one (orthographic is an error; no
//     camera is an error unless GltfSceneOptions::require_camera is off: a scene mesh that
//     render jobs place, jobs/scene_mesh.h, is looked at through the job's own camera). yfov is kept whatever the requested
//     image aspect: fy = fx = (height / 2) / tan(yfov / 2), cx = width / 2, cy = height / 2
//     (glTF's aspectRatio is only a hint for the viewport). Camera::rotation is the node's
//     world rotation with its scale removed (Gram-Schmidt on its -z and x axes).
//   - Background: Sky::uniform(options.background), grey radiance in every direction, the
//     same as a Cycles world of that grey colour and strength 1.
// Not read: animations, skins, morph targets (the rest pose is imported, with a warning),
// cameras' znear / zfar, KHR_texture_transform (a warning when used, an error when
// required). Any extensionsRequired entry other than KHR_lights_punctual,
// KHR_materials_emissive_strength, KHR_materials_specular and KHR_materials_ior is an error.
//
// Thread safety: reentrant; the returned Scene is plain data.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "render/scene.h"

namespace synthfarm::gltf {

struct GltfSceneOptions {
  int width = 640, height = 480;  // pixels: the image the camera's intrinsics are made for
  double background = 0.3;        // uniform background radiance (grey), >= 0
  // KHR_lights_punctual's lights are points and a direction; a renderer may give them an
  // extent (Blender's importer leaves its own defaults on them: 0.25 m, 0.526 degrees).
  double point_radius_m = 0;  // point and spot lights become spheres of this radius, >= 0
  double sun_angle_deg = 0;   // the directional light's angular diameter, 0 .. 90
  // A mesh that several nodes use becomes one Scene::shapes entry placed by each node
  // (Mesh::shape), so that the renderer builds its BVH once (instancing). Off: every node's
  // mesh stands alone (the same images, only more BVH memory and build time).
  bool instancing = true;
  // Whether a file without a camera is an error. Off: Scene::camera stays default (unset).
  bool require_camera = true;
};

struct GltfScene {
  render::Scene scene;
  std::vector<std::string> warnings;  // each names the file and what was left out or replaced
  size_t triangle_count = 0;
};

// Reads a static glTF scene. `file_name` is used only in messages (and to tell a .glb that
// lacks the binary header). Errors name the file and the element: a truncated or malformed
// file, a required extension not supported, an accessor out of range or with a non-finite
// value, an index beyond its vertices, a light or camera with impossible values, no camera,
// bad options.
tl::expected<GltfScene, std::string> load_gltf_scene(std::string_view bytes,
                                                     std::string_view file_name,
                                                     const GltfSceneOptions& options);

}  // namespace synthfarm::gltf
