// What a synthfarm human looks like: skin tone, garments with their
// colours and patterns, shoes and hair, drawn from a random stream; and dressing a rest
// body (body.h) with them: per-vertex colours of the body mesh plus extra meshes (a hair
// shell, a skirt) that are skinned to the same skeleton. It knows nothing of scenes,
// lights or rendering.
//
// Conventions
//   Colours: linear RGB albedo in [0, 1) (base/colour.h Rgb). Garment colours are drawn in HSV
//     and decoded with gamma 2, like the rest of the scene generator.
//   Skin tone: 1 (lightest) .. 10 (darkest) on the Monk Skin Tone scale, whose sRGB
//     swatches are #f6ede4 #f3e7db #f7ead0 #eadaba #d7bd96 #a07e56 #825c43 #604134 #3a312a
//     #292420; the albedo is 0.8 x the swatch decoded to linear (swatches are printed
//     tones, not skin reflectance).
//   Patterns are evaluated from each vertex's DensePose part coordinates (body.h), so they
//     stay on the cloth when the body moves: stripes run around the limbs and the torso
//     (bands along v), checks combine v with u. Periods are given in metres of the rest
//     body.
//   Extra meshes are closed, consistently wound (outward) triangle meshes in the rest pose
//     of the body they were made for, with their own skin weights: pose them with
//     pose_extra() (skin_vertices() of body.h). They carry no DensePose labels.
//   Determinism: draw_appearance() consumes a fixed-per-outcome sequence of the stream and
//     uses only + - * /, so the same stream state gives the same Appearance everywhere;
//     dress() uses only + - * / sqrt. All functions are pure and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/colour.h"
#include "base/rng.h"
#include "humans/body.h"

namespace synthfarm::humans {

enum class Sleeves : uint8_t { kNone, kShort, kLong };
enum class LowerGarment : uint8_t { kTrousers, kShorts, kSkirt, kDress };
enum class Pattern : uint8_t { kSolid, kStripes, kChecks };
enum class HairStyle : uint8_t { kNone, kShort, kLong };

// A cloth: its base colour, a second colour for patterns and the pattern's period.
struct Fabric {
  Rgb base, accent;
  Pattern pattern = Pattern::kSolid;
  double period_m = 0.08;  // one stripe pair / one check pair, metres
  friend bool operator==(const Fabric&, const Fabric&) = default;
};

struct Appearance {
  int skin_tone = 5;  // 1..10, Monk scale
  Rgb skin;
  Sleeves sleeves = Sleeves::kShort;
  Fabric shirt;  // for a dress, the dress fabric (the dress covers the torso too)
  LowerGarment lower = LowerGarment::kTrousers;
  Fabric bottom;               // trousers, shorts, skirt or dress
  double skirt_length = 0.5;   // skirts and dresses: 0 above the knee .. 1 mid-shin
  Rgb shoes;
  HairStyle hair = HairStyle::kShort;
  Rgb hair_color;
  friend bool operator==(const Appearance&, const Appearance&) = default;
};

// Linear albedo of Monk skin tone `tone` (clamped to 1..10).
Rgb monk_skin_tone(int tone);

// A random outfit and hair for a person of the given skin tone (clamped to 1..10).
Appearance draw_appearance(Pcg32& rng, int skin_tone);

// A short description for the labels: "long-sleeve shirt (stripes), trousers, shoes, short
// hair".
std::string describe(const Appearance& appearance);

// An extra mesh bound to the skeleton.
struct ExtraMesh {
  std::string name;  // "hair", "skirt"
  std::vector<Vec3> vertices;  // rest pose, body frame
  std::vector<std::array<uint32_t, 3>> triangles;
  std::vector<SkinWeights> weights;  // per vertex
  Rgb albedo;                        // the main colour (for renderers without vertex colours)
  std::vector<Rgb> colors;           // per vertex, linear albedo (patterns)
};

struct DressedBody {
  std::vector<Rgb> body_colors;  // per body vertex (topology() order), linear albedo
  std::vector<ExtraMesh> extras;
};

// Colours the body and builds the extra meshes for `appearance`.
DressedBody dress(const RestBody& body, const Appearance& appearance);

// The posed vertices of an extra mesh of `body`.
void pose_extra(const ExtraMesh& extra, const RestBody& body, const Posed& posed,
                std::vector<Vec3>& out);

}  // namespace synthfarm::humans
