// Placement, a stage of the scene generator (scene_gen/internal/stages.h): the people on
// the floor and the footprints they take up, which the later stages keep clear.
#include <algorithm>
#include <cmath>
#include <vector>

#include "base/math.h"
#include "base/rng.h"
#include "jobs/scene_gen/internal/stages.h"
#include "jobs/spec.h"

namespace synthfarm::jobs::scene_gen {

double planar_length(double x, double y) { return std::sqrt(x * x + y * y); }

bool overlaps(const std::vector<Footprint>& placed, Vec3 p, double radius, double gap) {
  for (const Footprint& f : placed) {
    if (planar_length(p.x - f.centre.x, p.y - f.centre.y) < f.radius + radius + gap) return true;
  }
  return false;
}

int draw_count(const Distribution& d, Pcg32& rng, int max) {
  return static_cast<int>(std::clamp(std::round(d.sample(rng)), 0.0, static_cast<double>(max)));
}

}  // namespace synthfarm::jobs::scene_gen
