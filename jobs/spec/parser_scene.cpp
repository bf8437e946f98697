// The Parser's scene and lighting sections (internal/parser.h): what surrounds the people
// and what lights them.
#include "jobs/spec/internal/parser.h"

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace synthfarm::jobs::spec_internal {

void Parser::scene(const Field& field, SceneSpec& out) {
  static constexpr std::array<std::string_view, 5> kKeys = {"kind", "props", "patterns", "metal",
                                                            "mesh"};
  static constexpr std::array<std::string_view, 2> kGltfExtensions = {".glb", ".gltf"};
  std::vector<Field> procedural;  // fields of the generated scene, which a mesh replaces
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "mesh") {
      set(out.mesh, file_uri(value, kGltfExtensions));
      return;
    }
    procedural.push_back(value);
    if (key == "kind") {
      set(out.kind, choice(value, "scene kind", kSceneKinds, {}));
    } else if (key == "patterns") {
      set(out.patterns, value, {0, 1});
    } else if (key == "metal") {
      set(out.metal, value, {0, 1});
    } else {
      set(out.props, value, {0, 64, true});
    }
  });
  if (out.mesh.empty()) return;
  for (const Field& value : procedural) {
    fail(value, "does not apply with scene.mesh: the mesh is the whole scene (no generated "
                "room, props or patterns); leave it out or drop scene.mesh");
  }
}

void Parser::lighting(const Field& field, LightingSpec& out) {
  static constexpr std::array<std::string_view, 13> kKeys = {
      "sun_elevation_deg", "sun_azimuth_deg",      "sun_intensity", "sky_intensity",
      "sky",               "turbidity",            "area_lights",   "area_light_intensity",
      "lamps",             "lamp_intensity",       "environment",   "environment_intensity",
      "environment_rotation_deg"};
  static constexpr std::array<std::string_view, 2> kSkies = {"preetham", "gradient"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "sky") {
      set(out.sky, choice(value, "sky", kSkies, {}));
    } else if (key == "turbidity") {
      set(out.turbidity, value, {2, 10});
    } else if (key == "area_lights") {
      set(out.area_lights, value, {0, 8, true});
    } else if (key == "area_light_intensity") {
      set(out.area_light_intensity, value, {0, 1000});
    } else if (key == "lamps") {
      set(out.lamps, value, {0, 8, true});
    } else if (key == "lamp_intensity") {
      set(out.lamp_intensity, value, {0, 10000});
    } else if (key == "environment") {
      static constexpr std::array<std::string_view, 1> kSky = {"sky"};
      static constexpr std::array<std::string_view, 1> kExrExtensions = {".exr"};
      set(out.environment, choice(value, "environment (sky or a file:// or s3:// URI of an .exr file)", kSky, {},
                                  [](const std::string& word) { return is_file_uri(word, kExrExtensions); }));
    } else if (key == "environment_intensity") {
      set(out.environment_intensity, value, {0, 1000});
    } else if (key == "environment_rotation_deg") {
      set(out.environment_rotation_deg, value, {0, 360});
    } else if (key == "sun_elevation_deg") {
      set(out.sun_elevation_deg, value, {0, 90});
    } else if (key == "sun_azimuth_deg") {
      set(out.sun_azimuth_deg, value, {0, 360});
    } else if (key == "sun_intensity") {
      set(out.sun_intensity, value, {0, 1000});
    } else {
      set(out.sky_intensity, value, {0, 1000});
    }
  });
}

}  // namespace synthfarm::jobs::spec_internal
