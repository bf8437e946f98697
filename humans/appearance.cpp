#include "humans/appearance.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace synthfarm::humans {
namespace {

// Monk Skin Tone swatches decoded with the exact sRGB transfer function.
constexpr std::array<Rgb, 10> kMonkSwatches = {{{0.9216f, 0.8469f, 0.7758f},
                                                {0.8963f, 0.7991f, 0.7084f},
                                                {0.9301f, 0.8228f, 0.6308f},
                                                {0.8228f, 0.7011f, 0.4910f},
                                                {0.6795f, 0.5089f, 0.3050f},
                                                {0.3515f, 0.2086f, 0.0931f},
                                                {0.2232f, 0.1070f, 0.0561f},
                                                {0.1170f, 0.0529f, 0.0343f},
                                                {0.0423f, 0.0307f, 0.0232f},
                                                {0.0222f, 0.0176f, 0.0144f}}};

constexpr std::array<Rgb, 8> kTrousers = {{{0.05f, 0.08f, 0.16f},
                                           {0.02f, 0.02f, 0.02f},
                                           {0.15f, 0.15f, 0.15f},
                                           {0.35f, 0.28f, 0.16f},
                                           {0.15f, 0.08f, 0.04f},
                                           {0.02f, 0.03f, 0.09f},
                                           {0.60f, 0.60f, 0.58f},
                                           {0.12f, 0.16f, 0.08f}}};
constexpr std::array<Rgb, 5> kShoes = {{{0.02f, 0.02f, 0.02f},
                                        {0.70f, 0.70f, 0.68f},
                                        {0.12f, 0.06f, 0.03f},
                                        {0.20f, 0.20f, 0.22f},
                                        {0.40f, 0.05f, 0.04f}}};
constexpr std::array<Rgb, 7> kHair = {{{0.010f, 0.008f, 0.007f},
                                       {0.035f, 0.020f, 0.012f},
                                       {0.090f, 0.050f, 0.025f},
                                       {0.200f, 0.070f, 0.030f},
                                       {0.450f, 0.330f, 0.170f},
                                       {0.600f, 0.500f, 0.330f},
                                       {0.400f, 0.400f, 0.390f}}};

Rgb random_colour(Pcg32& rng) {
  double h = rng.next_double(), s = uniform(rng, 0.1, 0.85), v = uniform(rng, 0.2, 0.95);
  return hsv_to_linear(h, s, v);
}

// A weighted choice among N outcomes; `weights` need not sum to 1.
template <size_t N>
int choose(Pcg32& rng, const std::array<double, N>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  double x = rng.next_double() * total;
  for (size_t i = 0; i < N; ++i) {
    if (x < weights[i]) return int(i);
    x -= weights[i];
  }
  return int(N - 1);
}

Fabric random_fabric(Pcg32& rng, Rgb base) {
  Fabric f;
  f.base = base;
  f.pattern = static_cast<Pattern>(choose<3>(rng, {0.6, 0.25, 0.15}));
  f.accent = rng.next_below(3) == 0 ? Rgb{0.85f, 0.85f, 0.83f} : random_colour(rng);
  f.period_m = uniform(rng, 0.04, 0.14);
  return f;
}

// The fabric's colour at a point given by its distances (metres) along and around the part.
Rgb fabric_colour(const Fabric& f, double along_m, double around_m) {
  auto band = [&](double x) {
    double k = std::floor(2.0 * x / f.period_m);
    return k - 2.0 * std::floor(k / 2.0) != 0.0;
  };
  switch (f.pattern) {
    case Pattern::kSolid:
      return f.base;
    case Pattern::kStripes:
      return band(along_m) ? f.accent : f.base;
    case Pattern::kChecks:
      return band(along_m) != band(around_m) ? f.accent : f.base;
  }
  return f.base;
}

enum class Layer { kSkin, kShirt, kBottom, kShoes, kHair };

int j(Joint joint) { return index(joint); }

// Length (along v) and half circumference (across u) of a DensePose part of `body`, metres.
std::array<double, 2> part_extent(int part, const RestBody& body) {
  const auto& J = body.joints;
  const double h = body.shape.height_m;
  auto dist = [&](Joint a, Joint b) { return length(J[j(a)] - J[j(b)]); };
  switch (part) {
    case 1:
    case 2:
      return {dist(Joint::kPelvis, Joint::kNeck) + 0.1 * h, kPi * body.radius[j(Joint::kSpine2)]};
    case 3:
    case 4:
      return {0.1 * h, 2 * kPi * body.radius[j(Joint::kLeftHand)]};
    case 5:
    case 6:
      return {0.15 * h, 2 * kPi * body.radius[j(Joint::kLeftFoot)]};
    case 7: case 8: case 9: case 10:
      return {dist(Joint::kLeftHip, Joint::kLeftKnee), kPi * body.radius[j(Joint::kLeftHip)]};
    case 11: case 12: case 13: case 14:
      return {dist(Joint::kLeftKnee, Joint::kLeftAnkle), kPi * body.radius[j(Joint::kLeftKnee)]};
    case 15: case 16: case 17: case 18:
      return {dist(Joint::kLeftShoulder, Joint::kLeftElbow),
              kPi * body.radius[j(Joint::kLeftShoulder)]};
    case 19: case 20: case 21: case 22:
      return {dist(Joint::kLeftElbow, Joint::kLeftWrist), kPi * body.radius[j(Joint::kLeftElbow)]};
    default:
      return {0.2 * h, kPi * body.radius[j(Joint::kHead)]};
  }
}

// Hair covers the scalp: above a hairline that is high on the forehead, at the top of the
// ears on the sides and at the nape (long hair: lower) at the back. Head-joint frame,
// in units of the head radius.
bool is_scalp(Vec3 x, const RestBody& body, HairStyle style) {
  if (style == HairStyle::kNone) return false;
  const double r = body.radius[j(Joint::kHead)];
  const Vec3 rel = x - body.joints[j(Joint::kHead)];
  const double yn = std::clamp(rel.y / r, -1.0, 1.0), zn = rel.z / r;
  const double front = 1.3, side = 0.85, back = style == HairStyle::kLong ? -0.35 : 0.25;
  const double threshold = side + (front - side) * std::max(yn, 0.0) + (back - side) * std::max(-yn, 0.0);
  return zn > threshold;
}

// `neckline`: the vertex is in the front of the torso near the base of the neck.
Layer layer_of(const VertexRegion& reg, bool neckline, bool scalp, const Appearance& a) {
  const float c = reg.chain;
  const bool dress = a.lower == LowerGarment::kDress;
  switch (reg.region) {
    case Region::kHead:
    case Region::kNeck:
      return scalp ? Layer::kHair : Layer::kSkin;
    case Region::kTorso:
      if (neckline) return Layer::kSkin;
      if (dress) return Layer::kShirt;
      return c < 0.36f ? Layer::kBottom : Layer::kShirt;
    case Region::kUpperArm:
    case Region::kForearm:
      if (a.sleeves == Sleeves::kLong && c < 1.93f) return Layer::kShirt;
      if (a.sleeves == Sleeves::kShort && c < 0.45f) return Layer::kShirt;
      return Layer::kSkin;
    case Region::kHand:
      return Layer::kSkin;
    case Region::kThigh:
    case Region::kShin:
    case Region::kFoot: {
      if (c > 1.86f) return Layer::kShoes;
      switch (a.lower) {
        case LowerGarment::kTrousers:
          return Layer::kBottom;
        case LowerGarment::kShorts:
          return c < 0.5f ? Layer::kBottom : Layer::kSkin;
        case LowerGarment::kSkirt:
        case LowerGarment::kDress:
          return c < 0.15f ? Layer::kBottom : Layer::kSkin;
      }
    }
  }
  return Layer::kSkin;
}

// A closed shell over a patch of the body surface: the patch pushed out by `outer(v)`,
// a copy pushed out by `inner` facing inwards, and walls along the patch boundary.
ExtraMesh shell(const std::string& name, const RestBody& body, const std::vector<bool>& in_patch,
                const std::vector<double>& outer, double inner, Rgb colour) {
  const Topology& topo = topology();
  const auto normals = vertex_normals(body.vertices, topo.triangles);
  std::vector<std::array<uint32_t, 3>> patch;
  for (const auto& t : topo.triangles)
    if (in_patch[t[0]] && in_patch[t[1]] && in_patch[t[2]]) patch.push_back(t);
  // Drop triangles that would pinch the boundary into a bow-tie (a vertex with two
  // boundary loops through it) until every boundary vertex has one outgoing edge.
  for (;;) {
    std::set<std::pair<uint32_t, uint32_t>> edges;
    for (const auto& t : patch)
      for (int c = 0; c < 3; ++c) edges.insert({t[c], t[(c + 1) % 3]});
    std::map<uint32_t, int> out_boundary;
    for (const auto& [a, b] : edges)
      if (!edges.count({b, a})) ++out_boundary[a];
    std::vector<std::array<uint32_t, 3>> kept;
    for (const auto& t : patch) {
      bool pinched = false;
      for (uint32_t v : t) pinched |= out_boundary.count(v) && out_boundary[v] > 1;
      if (!pinched) kept.push_back(t);
    }
    if (kept.size() == patch.size()) break;
    patch.swap(kept);
  }
  ExtraMesh m;
  m.name = name;
  std::map<uint32_t, uint32_t> local;  // body vertex -> shell index (outer; inner = +n)
  for (const auto& t : patch)
    for (uint32_t v : t) local.emplace(v, 0);
  uint32_t n = 0;
  for (auto& [v, i] : local) i = n++;
  m.vertices.resize(2 * n);
  m.weights.resize(2 * n);
  for (const auto& [v, i] : local) {
    m.vertices[i] = body.vertices[v] + normals[v] * outer[v];
    m.vertices[n + i] = body.vertices[v] + normals[v] * inner;
    m.weights[i] = m.weights[n + i] = topo.weights[v];
  }
  std::set<std::pair<uint32_t, uint32_t>> edges;
  for (const auto& t : patch) {
    uint32_t a = local[t[0]], b = local[t[1]], c = local[t[2]];
    m.triangles.push_back({a, b, c});
    m.triangles.push_back({n + a, n + c, n + b});
    for (int k = 0; k < 3; ++k) edges.insert({t[k], t[(k + 1) % 3]});
  }
  for (const auto& [va, vb] : edges) {
    if (edges.count({vb, va})) continue;
    uint32_t a = local[va], b = local[vb];
    m.triangles.push_back({b, a, n + a});
    m.triangles.push_back({b, n + a, n + b});
  }
  m.albedo = colour;
  m.colors.assign(m.vertices.size(), colour);
  return m;
}

// A skirt: a flared elliptical tube from the hips down to the hem, with a thin wall and
// closed rims, weighted from the pelvis (waist) to the hips (hem).
ExtraMesh skirt(const RestBody& body, const Appearance& a) {
  const Topology& topo = topology();
  const double h = body.shape.height_m;
  const auto& J = body.joints;
  const double top_z = J[j(Joint::kPelvis)].z + 0.01 * h;
  const double knee_z = 0.5 * (J[j(Joint::kLeftKnee)].z + J[j(Joint::kRightKnee)].z);
  const double hem_z = knee_z + (0.08 - 0.16 * a.skirt_length) * h;
  constexpr int kAround = 64, kRings = 25;
  const double clearance = 0.012 * h / 1.7, wall = 0.004 * h / 1.7;
  // Semi-axes of each ring: the body's extent in a band around its height (torso and
  // legs only, not the hands) plus clearance, never narrower than the ring above.
  std::array<double, kRings> ax{}, ay{}, cy{}, z{};
  for (int k = 0; k < kRings; ++k) {
    z[k] = top_z + (hem_z - top_z) * k / (kRings - 1);
    double xmax = 0, ymin = 1e9, ymax = -1e9;
    for (uint32_t v = 0; v < topo.vertex_count; ++v) {
      Region r = topo.regions[v].region;
      if (r != Region::kTorso && r != Region::kThigh && r != Region::kShin) continue;
      const Vec3 p = body.vertices[v];
      if (std::abs(p.z - z[k]) > 0.015 * h) continue;
      xmax = std::max(xmax, std::abs(p.x));
      ymin = std::min(ymin, p.y);
      ymax = std::max(ymax, p.y);
    }
    if (ymax < ymin) ymin = ymax = 0;
    cy[k] = 0.5 * (ymin + ymax);
    ax[k] = xmax + clearance;
    ay[k] = 0.5 * (ymax - ymin) + clearance;
    if (k > 0) {
      const double flare = 0.004 * h;  // per ring, an A-line
      ax[k] = std::max(ax[k], ax[k - 1] + flare * 0.5);
      ay[k] = std::max(ay[k], ay[k - 1] + flare);
      cy[k] = cy[k - 1];
    }
  }
  ExtraMesh m;
  m.name = "skirt";
  m.albedo = a.bottom.base;
  const int ring_n = kAround;
  // Outer rings 0..kRings-1, then inner rings; vertex (surface s, ring k, angle i).
  auto vid = [&](int s, int k, int i) { return uint32_t((s * kRings + k) * ring_n + (i % ring_n)); };
  // Unit circle by rotation steps (no trigonometry per vertex).
  std::array<double, kAround> cs{}, sn{};
  const double step_c = portable_cos(2 * kPi / kAround), step_s = portable_sin(2 * kPi / kAround);
  cs[0] = 1, sn[0] = 0;
  for (int i = 1; i < kAround; ++i) {
    cs[i] = cs[i - 1] * step_c - sn[i - 1] * step_s;
    sn[i] = sn[i - 1] * step_c + cs[i - 1] * step_s;
  }
  for (int s = 0; s < 2; ++s)
    for (int k = 0; k < kRings; ++k)
      for (int i = 0; i < ring_n; ++i) {
        const double off = s == 0 ? 0.0 : -wall;
        m.vertices.push_back({(ax[k] + off) * cs[i], cy[k] + (ay[k] + off) * sn[i], z[k]});
        const double down = double(k) / (kRings - 1);
        const double left = std::clamp(0.5 + 0.5 * cs[i], 0.0, 1.0);
        SkinWeights w;
        w.joint = {uint8_t(j(Joint::kPelvis)), uint8_t(j(Joint::kLeftHip)),
                   uint8_t(j(Joint::kRightHip)), uint8_t(j(Joint::kPelvis))};
        w.weight = {1 - 0.7 * down, 0.7 * down * left, 0.7 * down * (1 - left), 0};
        m.weights.push_back(w);
        const double along = (top_z - z[k]);
        m.colors.push_back(fabric_colour(a.bottom, along, 2 * kPi * ax[k] * double(i) / ring_n));
      }
  // Counter-clockwise seen from outside in the body frame (cross(b - a, c - a) outward).
  auto quad = [&](uint32_t p00, uint32_t p01, uint32_t p11, uint32_t p10) {
    m.triangles.push_back({p00, p01, p11});
    m.triangles.push_back({p00, p11, p10});
  };
  for (int k = 0; k + 1 < kRings; ++k)
    for (int i = 0; i < ring_n; ++i) {
      quad(vid(0, k, i), vid(0, k + 1, i), vid(0, k + 1, i + 1), vid(0, k, i + 1));
      quad(vid(1, k, i), vid(1, k, i + 1), vid(1, k + 1, i + 1), vid(1, k + 1, i));
    }
  for (int i = 0; i < ring_n; ++i) {
    const int top = 0, hem = kRings - 1;
    quad(vid(1, top, i), vid(0, top, i), vid(0, top, i + 1), vid(1, top, i + 1));
    quad(vid(0, hem, i), vid(1, hem, i), vid(1, hem, i + 1), vid(0, hem, i + 1));
  }
  return m;
}

}  // namespace

Rgb monk_skin_tone(int tone) { return scaled(kMonkSwatches[std::clamp(tone, 1, 10) - 1], 0.8); }

Appearance draw_appearance(Pcg32& rng, int skin_tone) {
  Appearance a;
  a.skin_tone = std::clamp(skin_tone, 1, 10);
  a.skin = monk_skin_tone(a.skin_tone);
  a.sleeves = static_cast<Sleeves>(choose<3>(rng, {0.2, 0.45, 0.35}));
  a.lower = static_cast<LowerGarment>(choose<4>(rng, {0.45, 0.2, 0.2, 0.15}));
  a.shirt = random_fabric(rng, random_colour(rng));
  Rgb bottom_base = a.lower == LowerGarment::kTrousers && rng.next_below(4) != 0
                        ? pick(rng, kTrousers)
                        : random_colour(rng);
  a.bottom = random_fabric(rng, bottom_base);
  if (a.lower == LowerGarment::kTrousers) a.bottom.pattern = Pattern::kSolid;
  if (a.lower == LowerGarment::kDress) a.shirt = a.bottom;
  a.skirt_length = rng.next_double();
  a.shoes = pick(rng, kShoes);
  a.hair = static_cast<HairStyle>(choose<3>(rng, {0.1, 0.5, 0.4}));
  a.hair_color = pick(rng, kHair);
  return a;
}

std::string describe(const Appearance& a) {
  auto pattern = [](const Fabric& f) -> std::string {
    switch (f.pattern) {
      case Pattern::kSolid: return "";
      case Pattern::kStripes: return " (stripes)";
      case Pattern::kChecks: return " (checks)";
    }
    return "";
  };
  std::string top;
  switch (a.sleeves) {
    case Sleeves::kNone: top = "sleeveless"; break;
    case Sleeves::kShort: top = "short-sleeve"; break;
    case Sleeves::kLong: top = "long-sleeve"; break;
  }
  std::string out;
  if (a.lower == LowerGarment::kDress) {
    out = top + " dress" + pattern(a.bottom);
  } else {
    static constexpr const char* kLower[] = {"trousers", "shorts", "skirt"};
    out = top + " shirt" + pattern(a.shirt) + ", " + kLower[int(a.lower)] + pattern(a.bottom);
  }
  out += ", shoes";
  switch (a.hair) {
    case HairStyle::kNone: out += ", no hair"; break;
    case HairStyle::kShort: out += ", short hair"; break;
    case HairStyle::kLong: out += ", long hair"; break;
  }
  return out;
}

DressedBody dress(const RestBody& body, const Appearance& a) {
  const Topology& topo = topology();
  DressedBody out;
  out.body_colors.resize(topo.vertex_count);
  std::vector<bool> scalp(topo.vertex_count, false);
  for (uint32_t v = 0; v < topo.vertex_count; ++v) {
    const VertexRegion& reg = topo.regions[v];
    const int part = topo.vertex_part[v];
    scalp[v] = (reg.region == Region::kHead || reg.region == Region::kNeck) &&
               is_scalp(body.vertices[v], body, a.hair);
    // A round neckline: the middle of the torso front (u = 0.5) just below the neck.
    const bool neckline = part == 2 && reg.chain > 0.9f && std::abs(topo.vertex_uv[v][0] - 0.5f) < 0.12f;
    const auto extent = part_extent(part, body);
    const double along = topo.vertex_uv[v][1] * extent[0], around = topo.vertex_uv[v][0] * extent[1];
    switch (layer_of(reg, neckline, scalp[v], a)) {
      case Layer::kSkin: out.body_colors[v] = a.skin; break;
      case Layer::kShirt: out.body_colors[v] = fabric_colour(a.shirt, along, around); break;
      case Layer::kBottom: out.body_colors[v] = fabric_colour(a.bottom, along, around); break;
      case Layer::kShoes: out.body_colors[v] = a.shoes; break;
      case Layer::kHair: out.body_colors[v] = a.hair_color; break;
    }
  }
  if (a.hair != HairStyle::kNone) {
    const double s = body.shape.height_m / 1.7;
    const double r = body.radius[j(Joint::kHead)];
    std::vector<double> outer(topo.vertex_count, 0.0);
    for (uint32_t v = 0; v < topo.vertex_count; ++v) {
      const Vec3 rel = body.vertices[v] - body.joints[j(Joint::kHead)];
      const double back = std::max(0.0, -rel.y / r);
      outer[v] = a.hair == HairStyle::kShort ? 0.010 * s : (0.014 + 0.020 * back) * s;
    }
    out.extras.push_back(shell("hair", body, scalp, outer, 0.002 * s, a.hair_color));
  }
  if (a.lower == LowerGarment::kSkirt || a.lower == LowerGarment::kDress)
    out.extras.push_back(skirt(body, a));
  return out;
}

void pose_extra(const ExtraMesh& extra, const RestBody& body, const Posed& posed,
                std::vector<Vec3>& out) {
  skin_vertices(extra.vertices, extra.weights, body.joints, posed, out);
}

}  // namespace synthfarm::humans
