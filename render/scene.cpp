// Building blocks for render scenes: semantic class names, triangle-mesh primitives (quads,
// boxes, ellipsoids, capsules, cylinders) and a look-at camera. Only exactly rounded
// operations and base/math.h's portable functions, so the same scene has the same bits
// on any x86-64 machine.
#include "render/scene.h"

#include <algorithm>
#include <cmath>

namespace synthfarm::render {

namespace {

// sqrt(x^2 + y^2) from exactly rounded operations only (std::hypot comes from libm).
double planar_length(double x, double y) { return std::sqrt(x * x + y * y); }

}  // namespace


// ---------------------------------------------------------------------------------------
// Mesh construction.

namespace {

uint32_t push_vertex(Mesh& mesh, Vec3 p) {
  auto index = static_cast<uint32_t>(mesh.positions.size() / 3);
  mesh.positions.push_back(static_cast<float>(p.x));
  mesh.positions.push_back(static_cast<float>(p.y));
  mesh.positions.push_back(static_cast<float>(p.z));
  return index;
}

void push_triangle(Mesh& mesh, uint32_t a, uint32_t b, uint32_t c) {
  mesh.indices.push_back(a);
  mesh.indices.push_back(b);
  mesh.indices.push_back(c);
}

// Any unit vector perpendicular to unit `axis`.
Vec3 any_perpendicular(Vec3 axis) {
  Vec3 helper = std::abs(axis.z) < 0.9 ? Vec3{0, 0, 1} : Vec3{1, 0, 0};
  return normalize(cross(helper, axis));
}

// A closed surface swept around the axis (ex, ey, ez): a bottom hemi-ellipsoid centred on
// `a`, an optional elliptical cylinder from a to b, and a top hemi-ellipsoid centred on b.
void add_swept(Mesh& mesh, Vec3 a, Vec3 b, Vec3 ex, Vec3 ey, Vec3 ez, double rx, double ry,
               double rz, int slices, int cap_rings, bool cylinder) {
  slices = std::max(slices, 3);
  cap_rings = std::max(cap_rings, 1);
  std::vector<double> cos_theta(slices), sin_theta(slices);
  for (int s = 0; s < slices; ++s) {
    double theta = 2.0 * kPi * s / slices;
    cos_theta[s] = portable_cos(theta);
    sin_theta[s] = portable_sin(theta);
  }
  struct Ring {
    Vec3 centre;
    double radial;
  };
  std::vector<Ring> rings;
  double step = 0.5 * kPi / cap_rings;
  for (int k = 1; k <= cap_rings; ++k) {
    double phi = -0.5 * kPi + k * step;
    rings.push_back({a + ez * (portable_sin(phi) * rz), portable_cos(phi)});
  }
  for (int k = cylinder ? 0 : 1; k < cap_rings; ++k) {
    double phi = k * step;
    rings.push_back({b + ez * (portable_sin(phi) * rz), portable_cos(phi)});
  }
  uint32_t bottom = push_vertex(mesh, a - ez * rz);
  uint32_t first = static_cast<uint32_t>(mesh.positions.size() / 3);
  for (const Ring& ring : rings) {
    for (int s = 0; s < slices; ++s) {
      Vec3 radial = ex * (rx * cos_theta[s]) + ey * (ry * sin_theta[s]);
      push_vertex(mesh, ring.centre + radial * ring.radial);
    }
  }
  uint32_t top = push_vertex(mesh, b + ez * rz);
  auto at = [&](size_t ring, int s) {
    return first + static_cast<uint32_t>(ring * slices + static_cast<size_t>(s % slices));
  };
  for (int s = 0; s < slices; ++s) push_triangle(mesh, bottom, at(0, s + 1), at(0, s));
  for (size_t r = 0; r + 1 < rings.size(); ++r) {
    for (int s = 0; s < slices; ++s) {
      push_triangle(mesh, at(r, s), at(r, s + 1), at(r + 1, s + 1));
      push_triangle(mesh, at(r, s), at(r + 1, s + 1), at(r + 1, s));
    }
  }
  size_t last = rings.size() - 1;
  for (int s = 0; s < slices; ++s) push_triangle(mesh, top, at(last, s), at(last, s + 1));
}

}  // namespace

void add_quad(Mesh& mesh, Vec3 p0, Vec3 p1, Vec3 p2, Vec3 p3) {
  uint32_t a = push_vertex(mesh, p0), b = push_vertex(mesh, p1);
  uint32_t c = push_vertex(mesh, p2), d = push_vertex(mesh, p3);
  push_triangle(mesh, a, b, c);
  push_triangle(mesh, a, c, d);
}

void add_box(Mesh& mesh, Vec3 centre, const Mat3& frame, Vec3 half) {
  auto corner = [&](double sx, double sy, double sz) {
    return centre + frame * Vec3{sx * half.x, sy * half.y, sz * half.z};
  };
  // Each face counter-clockwise seen from outside.
  add_quad(mesh, corner(-1, -1, -1), corner(-1, 1, -1), corner(1, 1, -1), corner(1, -1, -1));
  add_quad(mesh, corner(-1, -1, 1), corner(1, -1, 1), corner(1, 1, 1), corner(-1, 1, 1));
  add_quad(mesh, corner(-1, -1, -1), corner(1, -1, -1), corner(1, -1, 1), corner(-1, -1, 1));
  add_quad(mesh, corner(-1, 1, -1), corner(-1, 1, 1), corner(1, 1, 1), corner(1, 1, -1));
  add_quad(mesh, corner(-1, -1, -1), corner(-1, -1, 1), corner(-1, 1, 1), corner(-1, 1, -1));
  add_quad(mesh, corner(1, -1, -1), corner(1, 1, -1), corner(1, 1, 1), corner(1, -1, 1));
}

void add_ellipsoid(Mesh& mesh, Vec3 centre, const Mat3& frame, Vec3 radii, int slices, int stacks) {
  add_swept(mesh, centre, centre, frame.column(0), frame.column(1), frame.column(2), radii.x,
            radii.y, radii.z, slices, std::max(stacks / 2, 1), /*cylinder=*/false);
}

void add_capsule(Mesh& mesh, Vec3 a, Vec3 b, Vec3 lateral, double radius_x, double radius_y,
                 int slices, int cap_rings) {
  Vec3 axis = b - a;
  double len = length(axis);
  Vec3 ez = len > 1e-9 ? axis * (1.0 / len) : Vec3{0, 0, 1};
  Vec3 ex = lateral - ez * dot(lateral, ez);
  ex = length(ex) > 1e-6 ? normalize(ex) : any_perpendicular(ez);
  Vec3 ey = cross(ez, ex);
  add_swept(mesh, a, b, ex, ey, ez, radius_x, radius_y, std::min(radius_x, radius_y), slices,
            cap_rings, /*cylinder=*/len > 1e-9);
}

void add_cylinder(Mesh& mesh, Vec3 base, double radius, double height, int slices) {
  slices = std::max(slices, 3);
  uint32_t bottom = push_vertex(mesh, base);
  uint32_t first = static_cast<uint32_t>(mesh.positions.size() / 3);
  for (int level = 0; level < 2; ++level) {
    for (int s = 0; s < slices; ++s) {
      double theta = 2.0 * kPi * s / slices;
      push_vertex(mesh, base + Vec3{radius * portable_cos(theta), radius * portable_sin(theta),
                                    level * height});
    }
  }
  uint32_t top = push_vertex(mesh, base + Vec3{0, 0, height});
  auto at = [&](int level, int s) {
    return first + static_cast<uint32_t>(level * slices + s % slices);
  };
  for (int s = 0; s < slices; ++s) {
    push_triangle(mesh, bottom, at(0, s + 1), at(0, s));
    push_triangle(mesh, at(0, s), at(0, s + 1), at(1, s + 1));
    push_triangle(mesh, at(0, s), at(1, s + 1), at(1, s));
    push_triangle(mesh, top, at(1, s), at(1, s + 1));
  }
}

Camera look_at_camera(int width, int height, double fov_deg, Vec3 eye, Vec3 target) {
  Camera camera;
  camera.width = width;
  camera.height = height;
  camera.fov_deg = fov_deg;
  double half = 0.5 * deg_to_rad(fov_deg);
  camera.fx = 0.5 * width * portable_cos(half) / portable_sin(half);
  camera.fy = camera.fx;
  camera.cx = 0.5 * width;
  camera.cy = 0.5 * height;
  Vec3 forward = normalize(target - eye);
  Vec3 right = normalize(cross(forward, Vec3{0, 0, 1}));
  Vec3 down = cross(forward, right);
  camera.rotation = Mat3::from_rows(right, down, forward);
  camera.position = eye;
  camera.height_m = eye.z;
  camera.distance_m = planar_length(target.x - eye.x, target.y - eye.y);
  return camera;
}

}  // namespace synthfarm::render
