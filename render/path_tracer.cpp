// The path tracer: FrameTracer::radiance() (next-event estimation with MIS, Russian
// roulette), the per-frame shading setup of the meshes, and shade_tile(), which traces a
// tile's camera rays in coherent streams and averages each pixel's paths. See renderer.h for
// the light transport and how its sampling is kept deterministic.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>

#include "render/internal/bsdf.h"
#include "render/internal/embree_scene.h"
#include "render/internal/frame_tracer.h"
#include "render/internal/passes.h"
#include "render/internal/surface_look.h"
#include "render/internal/lights.h"
#include "render/internal/sampler.h"

namespace synthfarm::render::internal {

namespace {

// Paths continue unconditionally for this many bounces before Russian roulette.
constexpr int kRouletteDepth = 3;
// Path vertices below this depth trace a shadow ray to every light they sample; deeper ones
// trace one, chosen by the lights' unoccluded contributions (see FrameTracer::radiance).
constexpr int kEveryShadowDepth = 1;

// One light's next-event estimate at a path vertex before its shadow ray: the contribution
// it makes if the segment to the light is clear. Filled whole when a light offers one (no
// default values: a vertex keeps three of them uninitialised until then).
struct ShadowCandidate {
  Spectrum contribution;  // throughput * f * L * (MIS weight / pdf)
  Vec3 direction;         // unit, world
  double distance;        // how far the shadow ray must reach; +infinity for the sun and sky
};

double power_heuristic(double a, double b) {
  if (std::isinf(a)) return 1;
  double a2 = a * a, b2 = b * b;
  return a2 + b2 > 0 ? a2 / (a2 + b2) : 0;
}

// A light sample's power-heuristic weight divided by its density a (b: the BSDF's density of
// the same direction): a / (a^2 + b^2), one division.
double mis_weight_over_pdf(double a, double b) {
  const double d = a * a + b * b;
  return d > 0 ? a / d : 0;
}

}  // namespace

Spectrum FrameTracer::radiance(Vec3 origin, Vec3 direction, const Hit& first,
                               const SobolSampler& sampler, float time) const {
  Spectrum sum, throughput{1, 1, 1};
  double bsdf_pdf = 0;  // density of the BSDF sample that made this ray (not for depth 0)
  const Sun& sun = scene_.sun;
  for (int depth = 0;; ++depth) {
    const Hit hit = depth == 0 ? first : trace(origin, direction, time);
    const double t_max = hit.valid ? hit.distance : std::numeric_limits<double>::infinity();
    // Light met by this ray left the previous vertex: `depth - 1` bounces so far.
    if (auto light = local_lights_.intersect(origin, direction, t_max, depth == 0)) {
      double w = depth == 0 ? 1.0
                            : power_heuristic(bsdf_pdf, local_lights_.pdf(light->light, origin,
                                                                          direction, light->t));
      add(sum, throughput * light->radiance * w, depth - 1);
      break;
    }
    if (!hit.valid) {
      double w = depth == 0 || !background_->importance_sampled()
                     ? 1.0
                     : power_heuristic(bsdf_pdf, background_->pdf(direction));
      add(sum, throughput * background_->radiance(direction) * w, depth - 1);
      break;
    }
    std::optional<PrincipledBsdf> varying;  // the BSDF of a look that varies over the mesh
    const PrincipledBsdf* bsdf = nullptr;
    const MeshShading& mesh = shading_[static_cast<size_t>(hit.mesh - scene_.meshes.data())];
    if (mesh.bsdf) {
      if (!mesh.emission.is_black()) add(sum, throughput * mesh.emission, depth - 1);
      bsdf = &*mesh.bsdf;
    } else {
      const SurfaceLook look = look_at(scene_, hit);
      if (!look.emission.is_black()) add(sum, throughput * look.emission, depth - 1);
      bsdf = &varying.emplace(bsdf_of(look));
      if (mesh.row != nullptr) varying->use_albedo_row(mesh.row);
    }
    if (depth > settings_.max_bounces) break;

    const Vec3 ng = hit.normal, wo = -direction;
    Vec3 ns = hit.shading_normal();
    if (dot(ns, wo) <= 0) ns = ng;
    const ShadingFrame frame = ShadingFrame::from_normal(ns);
    const Vec3 wo_local = frame.to_local(wo);
    const PrincipledBsdf::Outgoing out = bsdf->outgoing(wo_local);
    const Vec3 start = offset_origin(hit.point, ng);
    const uint32_t slot = kSlotsCamera + static_cast<uint32_t>(depth) * kSlotsPerBounce;

    ShadowCandidate candidates[3];
    int count = 0;
    // The sun: irradiance pi * intensity from its disk (or its direction when it has none).
    if (sun.intensity > 0) {
      const Vec3 wi = sun_direction(sampler, slot + kSlotSun);
      if (dot(ng, wi) > 0) {
        Spectrum f = bsdf->eval(out, frame.to_local(wi));
        if (!f.is_black())
          candidates[count++] = {throughput * f * (kPi * sun.intensity), wi, kInfinity};
      }
    }
    // One local light, chosen by power.
    if (!local_lights_.empty()) {
      const double u_choice =
          local_lights_.needs_choice() ? sampler.get1d(slot + kSlotLightChoice) : 0.0;
      // Point and spot lights need no point on the light: their slot is left unread.
      const std::array<double, 2> u_point = local_lights_.needs_point()
                                                ? sampler.get2d(slot + kSlotLightPoint)
                                                : std::array<double, 2>{0, 0};
      auto ls = local_lights_.sample(start, u_choice, u_point);
      if (ls && dot(ng, ls->wi) > 0) {
        const BsdfEval e = bsdf->eval_pdf(out, frame.to_local(ls->wi));
        if (!e.f.is_black()) {
          const double w = ls->delta ? 1.0 / ls->pdf : mis_weight_over_pdf(ls->pdf, e.pdf);
          candidates[count++] = {throughput * e.f * ls->radiance * w, ls->wi,
                                 ls->distance * (1 - 1e-4)};
        }
      }
    }
    // The background, when importance-sampled.
    if (background_->importance_sampled()) {
      auto bs = background_->sample(sampler.get2d(slot + kSlotBackground));
      if (bs && dot(ng, bs->wi) > 0) {
        const BsdfEval e = bsdf->eval_pdf(out, frame.to_local(bs->wi));
        if (!e.f.is_black()) {
          candidates[count++] = {
              throughput * e.f * bs->radiance * mis_weight_over_pdf(bs->pdf, e.pdf), bs->wi,
              kInfinity};
        }
      }
    }
    if (depth < kEveryShadowDepth || count == 1) {
      for (int i = 0; i < count; ++i) {
        const ShadowCandidate& c = candidates[i];
        if (!occluded(start, c.direction, c.distance, time)) add(sum, c.contribution, depth);
      }
    } else if (count > 1) {
      double weights[3], total = 0;
      for (int i = 0; i < count; ++i) {
        const Spectrum& c = candidates[i].contribution;
        total += weights[i] = c.r + c.g + c.b;
      }
      if (total > 0) {
        double u = sampler.get1d(slot + kSlotShadow) * total;
        int chosen = 0;
        while (chosen + 1 < count && u >= weights[chosen]) u -= weights[chosen++];
        const ShadowCandidate& c = candidates[chosen];
        if (weights[chosen] > 0 && !occluded(start, c.direction, c.distance, time)) {
          add(sum, c.contribution * (total / weights[chosen]), depth);
        }
      }
    }

    // Continue the path by sampling the BSDF.
    const double u_lobe = bsdf->is_lambertian() ? 0.0 : sampler.get1d(slot + kSlotLobe);
    auto bs = bsdf->sample(out, u_lobe, sampler.get2d(slot + kSlotDirection));
    if (!bs) break;
    Vec3 wi = frame.to_world(bs->wi);
    if (dot(wi, ng) <= 0) break;  // below the true surface (shading normals)
    throughput = throughput * bs->weight;
    bsdf_pdf = bs->pdf;
    if (depth + 1 >= kRouletteDepth) {
      // sqrt: a path that has lost most of its throughput still goes on fairly often, so
      // the survivors are weighed up by less (fewer bright outliers: on the room benchmark
      // 8% less RMSE for 1-3% more time than q = max throughput).
      const double q = std::sqrt(throughput.max());
      if (!(q > 0)) break;
      if (q < 1) {
        if (sampler.get1d(slot + kSlotRoulette) >= q) break;
        throughput = throughput * (1.0 / q);
      }
    }
    origin = start;
    direction = normalize(wi);
  }
  return sum;
}

// material_rows_ (every material's row, as if its roughness had no texture), then
// shading_.
void FrameTracer::prepare_shading() {
  material_rows_.reserve(scene_.materials.size());
  for (const Material& m : scene_.materials) {
    material_rows_.push_back(
        PrincipledBsdf(to_spectrum(m.base_color), m.metallic, m.roughness, m.specular)
            .albedo_row());
  }
  shading_.resize(scene_.meshes.size());
  for (size_t i = 0; i < scene_.meshes.size(); ++i) {
    const Mesh& mesh = scene_.meshes[i];
    MeshShading& shading = shading_[i];
    const Material* m = material_of(scene_, mesh);
    if (m != nullptr && !texture_of(scene_, m->metallic_roughness_texture)) {
      shading.row = &material_rows_[static_cast<size_t>(m - scene_.materials.data())];
    }
    if (!uniform_look(scene_, mesh)) continue;
    Hit any;  // look_at() reads only the mesh's material (or albedo) when the look is uniform
    any.mesh = &mesh;
    const SurfaceLook look = look_at(scene_, any);
    shading.bsdf.emplace(bsdf_of(look));
    shading.emission = look.emission;
    if (shading.row != nullptr) shading.bsdf->use_albedo_row(shading.row);
  }
}

// Colour: spp paths per pixel from the pixel's own sampler. A pixel's camera rays are traced
// together, kStreamSize at a time, as one coherent stream (they start at the same point and
// stay within the pixel; with motion blur each at its own moment of the shutter); each path
// then goes on alone, at its camera ray's moment. Returns the dropped samples.
uint64_t shade_tile(const FrameTracer& tracer, const TileRect& tile, Frame& frame) {
  const RenderSettings& settings = tracer.settings();
  uint64_t invalid = 0;
  std::array<RTCRayHit, kStreamSize> rays;
  std::array<Vec3, kStreamSize> origins, directions;
  std::array<float, kStreamSize> times;
  TriangleCache triangle;
  for (int y = tile.y0; y < tile.y1; ++y) {
    for (int x = tile.x0; x < tile.x1; ++x) {
      const size_t pixel = static_cast<size_t>(y) * frame.width + x;
      SobolSampler sampler(settings.seed, pixel);
      Spectrum sum;
      int valid = 0;
      for (int first = 0; first < settings.spp; first += kStreamSize) {
        const int count = std::min(kStreamSize, settings.spp - first);
        for (int i = 0; i < count; ++i) {
          sampler.start_sample(static_cast<uint32_t>(first + i));
          times[i] = tracer.shutter_time(sampler);
          tracer.camera_ray(x, y, sampler, times[i], origins[i], directions[i]);
          set_ray(rays[i].ray, origins[i], directions[i], kInfinity, static_cast<unsigned>(i),
                  times[i]);
          clear_hit(rays[i].hit);
        }
        tracer.trace_stream(rays.data(), count);
        for (int i = 0; i < count; ++i) {
          sampler.start_sample(static_cast<uint32_t>(first + i));
          const Hit hit = tracer.resolve(rays[i], &triangle);
          const Spectrum l = tracer.radiance(origins[i], directions[i], hit, sampler, times[i]);
          if (std::isfinite(l.r) && std::isfinite(l.g) && std::isfinite(l.b)) {
            sum += l;
            ++valid;
          } else {
            ++invalid;
          }
        }
      }
      const double inv = valid > 0 ? 1.0 / valid : 0.0;
      frame.rgb[3 * pixel] = static_cast<float>(sum.r * inv);
      frame.rgb[3 * pixel + 1] = static_cast<float>(sum.g * inv);
      frame.rgb[3 * pixel + 2] = static_cast<float>(sum.b * inv);
    }
  }
  return invalid;
}

}  // namespace synthfarm::render::internal
