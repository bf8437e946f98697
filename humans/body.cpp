// The parametric body of body.h: the template mesh, built once from the neutral body's
// primitives (humans/internal/body_geometry.h) by polygonising, smoothing, binding each
// vertex to the primitives and labelling it; every body rebuilt from a Shape's primitives;
// skinning and normals.
#include "humans/body.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

#include "humans/body_binding.h"
#include "humans/internal/body_geometry.h"

namespace synthfarm::humans {

using namespace body_internal;  // the primitives and make_geometry (body_geometry.cpp)

namespace {

// Local coordinates of x in a primitive: the clamped axis parameter t and the offset from
// the axis point divided by the semi-axes there.
using Local = PrimitiveLocal;  // body_binding.h

Vec3 radii_at(const Primitive& p, double t) { return p.ra + (p.rb - p.ra) * t; }

Local local_coords(const Primitive& p, Vec3 x) {
  Vec3 ab = p.b - p.a;
  double len2 = dot(ab, ab);
  double t = len2 > 0 ? std::clamp(dot(x - p.a, ab) / len2, 0.0, 1.0) : 0.0;
  Vec3 r = radii_at(p, t);
  Vec3 o = x - (p.a + ab * t);
  return {t, {dot(o, p.e1) / r.x, dot(o, p.e2) / r.y, dot(o, p.e3) / r.z}};
}

Vec3 from_local(const Primitive& p, const Local& l) {
  Vec3 r = radii_at(p, l.t);
  return p.a + (p.b - p.a) * l.t + p.e1 * (l.q.x * r.x) + p.e2 * (l.q.y * r.y) +
         p.e3 * (l.q.z * r.z);
}

// Approximate signed distance to a primitive (ellipsoid bound of Quilez, exact on spheres).
double prim_distance(const Primitive& p, Vec3 x) {
  Local l = local_coords(p, x);
  Vec3 r = radii_at(p, l.t);
  double k0 = length(l.q);
  double k1 = length(Vec3{l.q.x / r.x, l.q.y / r.y, l.q.z / r.z});
  if (k1 < 1e-12) return -std::min({r.x, r.y, r.z});
  return k0 * (k0 - 1.0) / k1;
}

// ---- Template --------------------------------------------------------------------------

// Each template vertex is rebuilt from up to four primitives (body_binding.h).
using Binding = VertexBinding;
static_assert(kBodyPrimitiveCount == kPrimCount);
static_assert(int(BodyPrimitive::kNose) == kNose && int(BodyPrimitive::kLeftCollar) == kLCollar &&
              int(BodyPrimitive::kRightFingers) == kRFingers && int(BodyPrimitive::kLeftThigh) == kLThigh &&
              int(BodyPrimitive::kRightToes) == kRToes, "body_binding.h: BodyPrimitive out of step with Prim");
constexpr bool depth_flags_match() {
  for (int i = 0; i < kPrimCount; ++i)
    if (kPrimInfo[i].depth_is_up != kPrimitiveDepthIsUp[i]) return false;
  return true;
}
static_assert(depth_flags_match(), "body_binding.h: kPrimitiveDepthIsUp out of step with kPrimInfo");

struct Template {
  Topology topology;
  std::vector<Binding> bindings;
};

constexpr double kBlend = 0.006;  // smooth-union radius, metres (template, 1.70 m)

// The torso chain (crotch .. chest) is a hard union, since its pieces meet with equal
// cross-sections and a smooth union would bulge at every junction; the rest is a smooth
// union: -k log sum exp(-d / k).
double body_sdf(const Geometry& g, Vec3 x) {
  std::array<double, kPrimCount> d;
  int n = 0;
  double torso = 1e300;
  for (int i = 0; i < kPrimCount; ++i) {
    double di = prim_distance(g.prims[i], x);
    if (i <= kChest)
      torso = std::min(torso, di);
    else
      d[n++] = di;
  }
  d[n++] = torso;
  double dmin = *std::min_element(d.begin(), d.begin() + n);
  double sum = 0;
  for (int i = 0; i < n; ++i)
    if (d[i] - dmin < 30 * kBlend) sum += std::exp(-(d[i] - dmin) / kBlend);
  return dmin - kBlend * std::log(sum);
}

// Moves x onto the zero set along the distance field's gradient (one Newton step with a
// forward-difference gradient; the points are already close to the surface).
Vec3 project_to_surface(const Geometry& g, Vec3 x) {
  const double e = 1e-5;
  const double f = body_sdf(g, x);
  const Vec3 grad = Vec3{body_sdf(g, x + Vec3{e, 0, 0}) - f, body_sdf(g, x + Vec3{0, e, 0}) - f,
                         body_sdf(g, x + Vec3{0, 0, e}) - f} *
                    (1.0 / e);
  const double g2 = dot(grad, grad);
  return g2 < 1e-12 ? x : x - grad * (f / g2);
}

struct RawMesh {
  std::vector<Vec3> vertices;
  std::vector<std::array<uint32_t, 3>> triangles;
};

// Marching tetrahedra on a cubic grid split into six tetrahedra per cube along the main
// diagonal (Kuhn), which tiles space consistently, so the surface is crack-free and a
// closed 2-manifold. One vertex per grid edge crossing (welded by construction).
RawMesh polygonise(const Geometry& g, double cell) {
  Vec3 lo{1e9, 1e9, 1e9}, hi{-1e9, -1e9, -1e9};
  for (const Primitive& p : g.prims) {
    double r = std::max({p.ra.x, p.ra.y, p.ra.z, p.rb.x, p.rb.y, p.rb.z});
    for (Vec3 e : {p.a, p.b}) {
      lo = {std::min(lo.x, e.x - r), std::min(lo.y, e.y - r), std::min(lo.z, e.z - r)};
      hi = {std::max(hi.x, e.x + r), std::max(hi.y, e.y + r), std::max(hi.z, e.z + r)};
    }
  }
  lo = lo - Vec3{3 * cell, 3 * cell, 3 * cell};
  const int nx = static_cast<int>(std::ceil((hi.x - lo.x) / cell)) + 4;
  const int ny = static_cast<int>(std::ceil((hi.y - lo.y) / cell)) + 4;
  const int nz = static_cast<int>(std::ceil((hi.z - lo.z) / cell)) + 4;
  auto gid = [&](int x, int y, int z) -> int64_t { return (int64_t(z) * ny + y) * nx + x; };
  auto gpos = [&](int64_t id) {
    int64_t x = id % nx, y = (id / nx) % ny, z = id / (int64_t(nx) * ny);
    return lo + Vec3{double(x), double(y), double(z)} * cell;
  };
  std::vector<double> f(size_t(nx) * ny * nz);
  // Keep samples away from zero so that no vertex lands on a grid point (no zero-length
  // edges, no slivers of zero area).
  const double min_abs = 0.05 * cell;
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) {
        double v = body_sdf(g, lo + Vec3{double(x), double(y), double(z)} * cell);
        if (std::abs(v) < min_abs) v = v < 0 ? -min_abs : min_abs;
        f[gid(x, y, z)] = v;
      }

  RawMesh mesh;
  std::unordered_map<uint64_t, uint32_t> edge_vertex;
  auto vertex_on = [&](int64_t a, int64_t b) -> uint32_t {
    if (a > b) std::swap(a, b);
    uint64_t key = uint64_t(a) * uint64_t(f.size()) + uint64_t(b);
    auto [it, inserted] = edge_vertex.try_emplace(key, uint32_t(mesh.vertices.size()));
    if (inserted) {
      double t = f[a] / (f[a] - f[b]);
      mesh.vertices.push_back(gpos(a) + (gpos(b) - gpos(a)) * t);
    }
    return it->second;
  };
  // Adds a triangle on the crossing edges, oriented so that its normal points from the
  // inside corner `in` to the outside corner `out` of a crossing edge it lies on.
  auto emit = [&](uint32_t v0, uint32_t v1, uint32_t v2, int64_t in, int64_t out) {
    const auto& P = mesh.vertices;
    Vec3 n = cross(P[v1] - P[v0], P[v2] - P[v0]);
    if (dot(n, gpos(out) - gpos(in)) < 0) std::swap(v1, v2);
    mesh.triangles.push_back({v0, v1, v2});
  };
  const int kOrder[6][2] = {{1, 2}, {2, 1}, {1, 4}, {4, 1}, {2, 4}, {4, 2}};
  for (int z = 0; z + 1 < nz; ++z)
    for (int y = 0; y + 1 < ny; ++y)
      for (int x = 0; x + 1 < nx; ++x) {
        int64_t corner[8];
        for (int c = 0; c < 8; ++c) corner[c] = gid(x + (c & 1), y + ((c >> 1) & 1), z + (c >> 2));
        for (const auto& o : kOrder) {
          int64_t t[4] = {corner[0], corner[o[0]], corner[o[0] | o[1]], corner[7]};
          int64_t in[4], out[4];
          int n_in = 0, n_out = 0;
          for (int64_t c : t) (f[c] < 0 ? in[n_in++] : out[n_out++]) = c;
          if (n_in == 0 || n_out == 0) continue;
          if (n_in == 1 || n_out == 1) {
            bool lone_in = n_in == 1;
            int64_t lone = lone_in ? in[0] : out[0];
            const int64_t* others = lone_in ? out : in;
            uint32_t v0 = vertex_on(lone, others[0]), v1 = vertex_on(lone, others[1]),
                     v2 = vertex_on(lone, others[2]);
            if (lone_in)
              emit(v0, v1, v2, lone, others[0]);
            else
              emit(v0, v1, v2, others[0], lone);
          } else {
            uint32_t q0 = vertex_on(in[0], out[0]), q1 = vertex_on(in[0], out[1]),
                     q2 = vertex_on(in[1], out[1]), q3 = vertex_on(in[1], out[0]);
            emit(q0, q1, q2, in[0], out[0]);
            emit(q0, q2, q3, in[1], out[0]);
          }
        }
      }
  return mesh;
}

// Keeps the largest connected piece and drops unused vertices.
void keep_largest_component(RawMesh& m) {
  std::vector<uint32_t> parent(m.vertices.size());
  std::iota(parent.begin(), parent.end(), 0u);
  auto find = [&](uint32_t v) {
    while (parent[v] != v) v = parent[v] = parent[parent[v]];
    return v;
  };
  for (const auto& t : m.triangles) {
    parent[find(t[1])] = find(t[0]);
    parent[find(t[2])] = find(t[0]);
  }
  std::vector<uint32_t> count(m.vertices.size(), 0);
  for (const auto& t : m.triangles) ++count[find(t[0])];
  uint32_t best = uint32_t(std::max_element(count.begin(), count.end()) - count.begin());
  std::vector<uint32_t> remap(m.vertices.size(), UINT32_MAX);
  RawMesh out;
  for (const auto& t : m.triangles) {
    if (find(t[0]) != best) continue;
    std::array<uint32_t, 3> nt;
    for (int c = 0; c < 3; ++c) {
      if (remap[t[c]] == UINT32_MAX) {
        remap[t[c]] = uint32_t(out.vertices.size());
        out.vertices.push_back(m.vertices[t[c]]);
      }
      nt[c] = remap[t[c]];
    }
    out.triangles.push_back(nt);
  }
  m = std::move(out);
}

std::vector<std::vector<uint32_t>> vertex_neighbours(const RawMesh& m) {
  std::vector<std::vector<uint32_t>> n(m.vertices.size());
  for (const auto& t : m.triangles)
    for (int c = 0; c < 3; ++c) {
      n[t[c]].push_back(t[(c + 1) % 3]);
      n[t[c]].push_back(t[(c + 2) % 3]);
    }
  for (auto& v : n) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
  return n;
}

// Laplacian relaxation, each step followed by a projection back onto the surface: evens
// out the marching-tetrahedra slivers without shrinking the body.
void relax(RawMesh& m, const Geometry& g, const std::vector<std::vector<uint32_t>>& nbr, int steps) {
  std::vector<Vec3> next(m.vertices.size());
  for (int s = 0; s < steps; ++s) {
    for (size_t v = 0; v < m.vertices.size(); ++v) {
      Vec3 c;
      for (uint32_t u : nbr[v]) c = c + m.vertices[u];
      c = c * (1.0 / double(nbr[v].size()));
      next[v] = project_to_surface(g, m.vertices[v] + (c - m.vertices[v]) * 0.6);
    }
    m.vertices.swap(next);
  }
}

// Taubin lambda/mu smoothing (no shrinkage): softens the creases where the primitives'
// tapers meet, which the projection onto the distance field would keep.
void taubin(RawMesh& m, const std::vector<std::vector<uint32_t>>& nbr, int steps) {
  std::vector<Vec3> next(m.vertices.size());
  for (int s = 0; s < 2 * steps; ++s) {
    const double factor = (s % 2 == 0) ? 0.5 : -0.53;
    for (size_t v = 0; v < m.vertices.size(); ++v) {
      Vec3 c;
      for (uint32_t u : nbr[v]) c = c + m.vertices[u];
      c = c * (1.0 / double(nbr[v].size()));
      next[v] = m.vertices[v] + (c - m.vertices[v]) * factor;
    }
    m.vertices.swap(next);
  }
}

// Dense per-vertex weights smoothed over the mesh: w <- (w + mean of neighbours) / 2.
void diffuse(std::vector<std::vector<double>>& w, const std::vector<std::vector<uint32_t>>& nbr,
             int steps) {
  std::vector<std::vector<double>> next = w;
  for (int s = 0; s < steps; ++s) {
    for (size_t v = 0; v < w.size(); ++v) {
      for (size_t i = 0; i < w[v].size(); ++i) {
        double sum = 0;
        for (uint32_t u : nbr[v]) sum += w[u][i];
        next[v][i] = 0.5 * w[v][i] + 0.5 * sum / double(nbr[v].size());
      }
    }
    w.swap(next);
  }
}

// The four largest entries of a dense weight vector, renormalised.
template <typename Out>
void top4(const std::vector<double>& w, Out& idx_out, std::array<double, 4>& weight_out) {
  std::vector<int> order(w.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return w[a] > w[b]; });
  double sum = 0;
  int n = 0;
  for (int k = 0; k < 4; ++k) {
    if (k > 0 && w[order[k]] < 0.01 * w[order[0]]) break;
    sum += w[order[k]];
    n = k + 1;
  }
  for (int k = 0; k < 4; ++k) {
    idx_out[k] = static_cast<uint8_t>(k < n ? order[k] : order[0]);
    weight_out[k] = k < n ? w[order[k]] / sum : 0.0;
  }
}

// ---- Labels ----------------------------------------------------------------------------

// The bone of a DensePose part in the template: proximal and distal ends and the frame
// used for the angle u.
struct PartAxis {
  Vec3 p, d, e1, e2, e3;
  enum Kind { kHalf, kHead, kWrap } kind = kHalf;
  bool front = true;  // kHalf: the +e2 half
  bool left = true;   // kHead: the x >= 0 half
};

std::array<PartAxis, kPartCount + 1> part_axes(const Geometry& g) {
  std::array<PartAxis, kPartCount + 1> a{};
  auto set = [&](int part, Vec3 p, Vec3 d, PartAxis::Kind kind, bool depth_up, bool front_or_left) {
    PartAxis& x = a[part];
    x.p = p;
    x.d = d;
    x.e3 = normalize(d - p);
    Vec3 hint = depth_up ? Vec3{0, 0, 1} : Vec3{0, 1, 0};
    x.e2 = normalize(hint - x.e3 * dot(hint, x.e3));
    x.e1 = cross(x.e2, x.e3);
    x.kind = kind;
    x.front = x.left = front_or_left;
  };
  const auto& j = g.joints;
  for (bool front : {false, true}) set(front ? 2 : 1, g.crotch_bottom, g.neck_base, PartAxis::kHalf, false, front);
  set(23, g.neck_base, g.skull_top, PartAxis::kHead, false, false);
  set(24, g.neck_base, g.skull_top, PartAxis::kHead, false, true);
  for (int k = 0; k < 2; ++k) {  // k = 0 left, 1 right
    bool left = k == 0;
    auto J = [&](Joint l) { return j[index(l) + k]; };
    set(left ? 4 : 3, J(Joint::kLeftWrist), g.finger_tip[k], PartAxis::kWrap, false, true);
    set(left ? 5 : 6, g.heel_back[k], g.toe_tip[k], PartAxis::kWrap, true, true);
    set(left ? 10 : 9, J(Joint::kLeftHip), J(Joint::kLeftKnee), PartAxis::kHalf, false, true);
    set(left ? 8 : 7, J(Joint::kLeftHip), J(Joint::kLeftKnee), PartAxis::kHalf, false, false);
    set(left ? 14 : 13, J(Joint::kLeftKnee), J(Joint::kLeftAnkle), PartAxis::kHalf, false, true);
    set(left ? 12 : 11, J(Joint::kLeftKnee), J(Joint::kLeftAnkle), PartAxis::kHalf, false, false);
    set(left ? 15 : 16, J(Joint::kLeftShoulder), J(Joint::kLeftElbow), PartAxis::kHalf, false, true);
    set(left ? 17 : 18, J(Joint::kLeftShoulder), J(Joint::kLeftElbow), PartAxis::kHalf, false, false);
    set(left ? 19 : 20, J(Joint::kLeftElbow), J(Joint::kLeftWrist), PartAxis::kHalf, false, true);
    set(left ? 21 : 22, J(Joint::kLeftElbow), J(Joint::kLeftWrist), PartAxis::kHalf, false, false);
  }
  return a;
}

// (u, v) of point x in a part. Points outside the part's half are clamped to its edge.
std::array<float, 2> part_uv(const PartAxis& a, Vec3 x) {
  Vec3 pd = a.d - a.p;
  double v = std::clamp(dot(x - a.p, pd) / dot(pd, pd), 0.0, 1.0);
  Vec3 o = x - a.p;
  double u = 0;
  switch (a.kind) {
    case PartAxis::kHalf: {
      double phi = std::atan2(dot(o, a.e2), dot(o, a.e1));  // (-pi, pi]
      if (!a.front) phi = -phi;
      if (phi < 0) phi = phi < -kPi / 2 ? kPi : 0.0;
      u = phi / kPi;
      break;
    }
    case PartAxis::kHead: {
      double side = a.left ? o.x : -o.x;
      u = std::atan2(std::max(side, 0.0), o.y) / kPi;
      break;
    }
    case PartAxis::kWrap:
      u = (std::atan2(dot(o, a.e2), dot(o, a.e1)) + kPi) / (2 * kPi);
      break;
  }
  return {static_cast<float>(std::clamp(u, 0.0, 1.0)), static_cast<float>(v)};
}

int part_of(int prim, Vec3 x, const Geometry& g) {
  const Primitive& p = g.prims[prim];
  Local l = local_coords(p, x);
  bool front = l.q.y > 0;
  bool left = kPrimInfo[prim].side > 0;
  switch (kPrimInfo[prim].region) {
    case Region::kTorso:
      return front ? 2 : 1;
    case Region::kNeck:
    case Region::kHead:
      return x.x < 0 ? 23 : 24;
    case Region::kUpperArm:
      return left ? (front ? 15 : 17) : (front ? 16 : 18);
    case Region::kForearm:
      return left ? (front ? 19 : 21) : (front ? 20 : 22);
    case Region::kHand:
      return left ? 4 : 3;
    case Region::kThigh:
      return left ? (front ? 10 : 8) : (front ? 9 : 7);
    case Region::kShin:
      return left ? (front ? 14 : 12) : (front ? 13 : 11);
    case Region::kFoot:
      return left ? 5 : 6;
  }
  return 1;
}

// Position along a polyline: segment index + parameter of the nearest segment.
double along_polyline(std::span<const Vec3> pts, Vec3 x) {
  double best = 1e300, chain = 0;
  for (size_t s = 0; s + 1 < pts.size(); ++s) {
    Vec3 ab = pts[s + 1] - pts[s];
    double t = std::clamp(dot(x - pts[s], ab) / dot(ab, ab), 0.0, 1.0);
    Vec3 c = pts[s] + ab * t;
    double d = dot(x - c, x - c);
    if (d < best) {
      best = d;
      chain = double(s) + t;
    }
  }
  return chain;
}

float chain_of(Region region, int side, Vec3 x, const Geometry& g) {
  const int k = side > 0 ? 0 : 1;
  auto J = [&](Joint l) { return g.joints[index(l) + k]; };
  auto ratio = [](double z, double lo, double hi) { return std::clamp((z - lo) / (hi - lo), 0.0, 1.0); };
  switch (region) {
    case Region::kTorso:
      return float(ratio(x.z, g.crotch_bottom.z, g.neck_base.z));
    case Region::kNeck:
    case Region::kHead:
      return float(ratio(x.z, g.neck_base.z, g.skull_top.z));
    case Region::kUpperArm:
    case Region::kForearm:
    case Region::kHand: {
      Vec3 pts[] = {J(Joint::kLeftShoulder), J(Joint::kLeftElbow), J(Joint::kLeftWrist), g.finger_tip[k]};
      return float(along_polyline(pts, x));
    }
    case Region::kThigh:
    case Region::kShin:
    case Region::kFoot: {
      Vec3 pts[] = {J(Joint::kLeftHip), J(Joint::kLeftKnee), J(Joint::kLeftAnkle), g.toe_tip[k]};
      return float(along_polyline(pts, x));
    }
  }
  return 0;
}

Template build_template() {
  const Geometry g = make_geometry(Shape{});
  RawMesh m = polygonise(g, 0.0225);
  keep_largest_component(m);
  auto nbr = vertex_neighbours(m);
  relax(m, g, nbr, 8);
  taubin(m, nbr, 8);
  const size_t n = m.vertices.size();

  Template tpl;
  Topology& topo = tpl.topology;
  topo.vertex_count = static_cast<uint32_t>(n);
  topo.triangles = m.triangles;

  // Primitive weights: softmin of the distances among the nearest primitive and its
  // neighbours, then diffused over the mesh (so they follow the surface, not space).
  constexpr double kSoft = 0.008;  // metres
  const auto& pn = prim_neighbours();
  std::vector<std::vector<double>> w(n, std::vector<double>(kPrimCount, 0.0));
  for (size_t v = 0; v < n; ++v) {
    std::array<double, kPrimCount> d;
    for (int i = 0; i < kPrimCount; ++i) d[i] = prim_distance(g.prims[i], m.vertices[v]);
    int dom = int(std::min_element(d.begin(), d.end()) - d.begin());
    w[v][dom] = 1;
    for (int i : pn[dom]) w[v][i] = std::exp(-(d[i] - d[dom]) / kSoft);
  }
  diffuse(w, nbr, 3);
  tpl.bindings.resize(n);
  topo.vertex_part.resize(n);
  topo.vertex_uv.resize(n);
  topo.regions.resize(n);
  const auto axes = part_axes(g);
  for (size_t v = 0; v < n; ++v) {
    Binding& b = tpl.bindings[v];
    top4(w[v], b.prim, b.weight);
    for (int k = 0; k < 4; ++k) b.local[k] = local_coords(g.prims[b.prim[k]], m.vertices[v]);
    const int dom = b.prim[0];
    const int part = part_of(dom, m.vertices[v], g);
    topo.vertex_part[v] = static_cast<uint8_t>(part);
    topo.vertex_uv[v] = part_uv(axes[part], m.vertices[v]);
    const PrimInfo& info = kPrimInfo[dom];
    topo.regions[v] = {info.region, static_cast<int8_t>(info.side),
                       chain_of(info.region, info.side, m.vertices[v], g)};
  }

  // Skin weights: the primitive weights gathered by owning joint, diffused further so
  // that joints bend smoothly.
  std::vector<std::vector<double>> jw(n, std::vector<double>(kJointCount, 0.0));
  for (size_t v = 0; v < n; ++v)
    for (int i = 0; i < kPrimCount; ++i) jw[v][index(kPrimInfo[i].owner)] += w[v][i];
  diffuse(jw, nbr, 12);
  topo.weights.resize(n);
  for (size_t v = 0; v < n; ++v) top4(jw[v], topo.weights[v].joint, topo.weights[v].weight);

  // One part per triangle (the majority of its corners), corner uv in that part.
  const size_t nt = topo.triangles.size();
  topo.triangle_part.resize(nt);
  topo.corner_uv.resize(nt);
  for (size_t t = 0; t < nt; ++t) {
    const auto& tri = topo.triangles[t];
    uint8_t p0 = topo.vertex_part[tri[0]], p1 = topo.vertex_part[tri[1]], p2 = topo.vertex_part[tri[2]];
    uint8_t part = (p1 == p2) ? p1 : p0;
    topo.triangle_part[t] = part;
    std::array<float, 6> uv;
    for (int c = 0; c < 3; ++c) {
      auto cuv = topo.vertex_part[tri[c]] == part ? topo.vertex_uv[tri[c]]
                                                  : part_uv(axes[part], m.vertices[tri[c]]);
      uv[2 * c] = cuv[0];
      uv[2 * c + 1] = cuv[1];
    }
    if (axes[part].kind == PartAxis::kWrap) {  // a triangle across the seam: one side only
      float lo = std::min({uv[0], uv[2], uv[4]}), hi = std::max({uv[0], uv[2], uv[4]});
      if (hi - lo > 0.5f)
        for (int c = 0; c < 3; ++c)
          if (uv[2 * c] < 0.5f) uv[2 * c] = 1.0f;
    }
    topo.corner_uv[t] = uv;
  }

  // Face keypoints: the frontmost head vertex near the nose line / eye lines, and the
  // outermost head vertex on each ear line (all slightly forward of the head joint).
  const Primitive& headp = g.prims[kHeadPrim];
  const Vec3 hc = headp.a, hr = headp.ra;
  auto frontmost_near = [&](double x, double z) {
    uint32_t best = 0;
    double best_score = 1e300;
    for (size_t v = 0; v < n; ++v) {
      if (topo.regions[v].region != Region::kHead) continue;
      Vec3 p = m.vertices[v];
      if (p.y < hc.y) continue;
      double score = (p.x - x) * (p.x - x) + (p.z - z) * (p.z - z) - 0.05 * p.y * hr.y;
      if (score < best_score) best_score = score, best = uint32_t(v);
    }
    return best;
  };
  auto outermost_near = [&](double sx, double y, double z) {
    uint32_t best = 0;
    double best_score = 1e300;
    for (size_t v = 0; v < n; ++v) {
      if (topo.regions[v].region != Region::kHead) continue;
      Vec3 p = m.vertices[v];
      double score = (p.y - y) * (p.y - y) + (p.z - z) * (p.z - z) - 0.05 * sx * p.x * hr.x;
      if (score < best_score) best_score = score, best = uint32_t(v);
    }
    return best;
  };
  const Primitive& nose = g.prims[kNose];
  topo.face_keypoints[int(FaceKeypoint::kNose)] = frontmost_near(0, nose.a.z);
  const double eye_z = hc.z + 0.05 * hr.z;
  topo.face_keypoints[int(FaceKeypoint::kLeftEye)] = frontmost_near(0.4 * hr.x, eye_z);
  topo.face_keypoints[int(FaceKeypoint::kRightEye)] = frontmost_near(-0.4 * hr.x, eye_z);
  const double ear_y = g.joints[idx(Joint::kHead)].y + 0.1 * hr.y, ear_z = hc.z - 0.05 * hr.z;
  topo.face_keypoints[int(FaceKeypoint::kLeftEar)] = outermost_near(1, ear_y, ear_z);
  topo.face_keypoints[int(FaceKeypoint::kRightEar)] = outermost_near(-1, ear_y, ear_z);
  return tpl;
}

const Template& template_data() {
  static const Template kTemplate = build_template();
  return kTemplate;
}

}  // namespace

Shape Shape::clamped() const {
  Shape s = *this;
  s.height_m = std::clamp(height_m, 0.9, 2.1);
  s.bmi = std::clamp(bmi, 12.0, 60.0);
  s.sex = std::clamp(sex, 0.0, 1.0);
  s.age = std::clamp(age, 2.0, 100.0);
  for (double* r : {&s.shoulder_width, &s.hip_width, &s.leg_length, &s.arm_length, &s.head_size})
    *r = std::clamp(*r, 0.85, 1.15);
  return s;
}

size_t Topology::memory_bytes() const {
  return sizeof(Topology) + triangles.capacity() * sizeof(triangles[0]) +
         weights.capacity() * sizeof(SkinWeights) + vertex_part.capacity() +
         vertex_uv.capacity() * sizeof(vertex_uv[0]) + triangle_part.capacity() +
         corner_uv.capacity() * sizeof(corner_uv[0]) + regions.capacity() * sizeof(VertexRegion) +
         template_data().bindings.capacity() * sizeof(Binding);
}

const Topology& topology() { return template_data().topology; }

std::span<const VertexBinding> vertex_bindings() { return template_data().bindings; }

RestBody build_rest_body(const Shape& requested) {
  const Template& tpl = template_data();
  RestBody body;
  body.shape = requested.clamped();
  const Geometry g = make_geometry(body.shape);
  const size_t n = tpl.bindings.size();
  body.vertices.resize(n);
  double zmin = 1e300, zmax = -1e300;
  for (size_t v = 0; v < n; ++v) {
    const Binding& b = tpl.bindings[v];
    Vec3 x;
    for (int k = 0; k < 4; ++k) {
      if (b.weight[k] == 0) continue;
      x = x + from_local(g.prims[b.prim[k]], b.local[k]) * b.weight[k];
    }
    body.vertices[v] = x;
    zmin = std::min(zmin, x.z);
    zmax = std::max(zmax, x.z);
  }
  // Soles on z = 0 and exactly the requested height.
  const double scale = body.shape.height_m / (zmax - zmin);
  const Vec3 base{0, 0, zmin};
  for (Vec3& x : body.vertices) x = (x - base) * scale;
  for (int j = 0; j < kJointCount; ++j) {
    body.joints[j] = (g.joints[j] - base) * scale;
    body.radius[j] = g.radius[j] * scale;
  }
  return body;
}

void skin_vertices(std::span<const Vec3> rest_vertices, std::span<const SkinWeights> weights,
                   const RestJoints& rest_joints, const Posed& posed, std::vector<Vec3>& out) {
  if (rest_vertices.size() != weights.size())
    throw std::invalid_argument("skin_vertices: one SkinWeights per vertex expected");
  // x -> G x + (p - G rest): one affine map per joint.
  std::array<Vec3, kJointCount> offset;
  for (int j = 0; j < kJointCount; ++j)
    offset[j] = posed.position[j] - posed.rotation[j] * rest_joints[j];
  out.resize(rest_vertices.size());
  for (size_t v = 0; v < rest_vertices.size(); ++v) {
    const SkinWeights& w = weights[v];
    const Vec3 x = rest_vertices[v];
    Vec3 y;
    for (int k = 0; k < 4; ++k) {
      if (w.weight[k] == 0) continue;
      const int j = w.joint[k];
      y = y + (posed.rotation[j] * x + offset[j]) * w.weight[k];
    }
    out[v] = y;
  }
}

void skin(const RestBody& body, const Posed& posed, std::vector<Vec3>& out) {
  skin_vertices(body.vertices, topology().weights, body.joints, posed, out);
}

std::array<Vec3, 17> coco_keypoints(std::span<const Vec3> vertices, const Posed& posed) {
  std::array<Vec3, 17> out;
  const Vec3 head = posed.position[index(Joint::kHead)];
  for (size_t k = 0; k < 5; ++k) {
    const Vec3 skin_point = vertices[topology().face_keypoints[k]];
    out[k] = skin_point + normalize(head - skin_point) * kFaceKeypointDepth;
  }
  for (size_t k = 0; k < kBodyKeypointJoints.size(); ++k) {
    out[5 + k] = posed.position[index(kBodyKeypointJoints[k])];
  }
  return out;
}

std::vector<Vec3> vertex_normals(std::span<const Vec3> vertices,
                                 std::span<const std::array<uint32_t, 3>> triangles) {
  std::vector<Vec3> n(vertices.size());
  for (const auto& t : triangles) {
    Vec3 a = vertices[t[0]], b = vertices[t[1]], c = vertices[t[2]];
    Vec3 fn = cross(b - a, c - a);  // |fn| = 2 area: area weighting
    for (uint32_t i : t) n[i] = n[i] + fn;
  }
  for (Vec3& v : n) {
    double l = length(v);
    v = l > 0 ? v * (1.0 / l) : Vec3{0, 0, 1};
  }
  return n;
}

}  // namespace synthfarm::humans
