// The PeopleFitter (fitter.h): fit_images and fit_multiview as fit.h problems, chunks of
// people on the fitter's threads, results made safe (never a NaN where a number is
// promised), describe(), and the plugin's exported factory.
#include "recon/torch/fitter.h"

#include <dlfcn.h>

#include <cmath>
#include <limits>
#include <thread>

#include "humans/skeleton.h"

namespace synthfarm::recon::torch_fit {
namespace {


// Keypoints with v > 0 but non-finite coordinates count as unlabelled.
std::array<double, 51> clean(const Keypoints& k) {
  std::array<double, 51> out = k.xyv;
  for (int i = 0; i < kKeypointCount; ++i) {
    const bool ok = std::isfinite(out[3 * i]) && std::isfinite(out[3 * i + 1]) && std::isfinite(out[3 * i + 2]);
    if (!ok || out[3 * i + 2] <= 0) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = 0;
  }
  return out;
}

int labelled(const std::array<double, 51>& xyv) {
  int n = 0;
  for (int i = 0; i < kKeypointCount; ++i) n += xyv[3 * i + 2] > 0 ? 1 : 0;
  return n;
}


// The image's intrinsics, or a guess from its size (or from the keypoints' extent when the
// size is unknown too): recon::guessed_intrinsics.
Camera camera_for(const Intrinsics& k, const std::array<double, 51>& xyv) {
  const Intrinsics g = guessed_intrinsics(k, std::span(&xyv, 1));
  Camera c;
  c.fx = g.fx, c.fy = g.fy, c.cx = g.cx, c.cy = g.cy;
  return c;
}

Camera camera_for(const View& v) {
  Camera c;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) c.rotation[3 * i + j] = v.rotation.m[i][j];
  c.translation = {v.translation.x, v.translation.y, v.translation.z};
  c.fx = v.K.fx, c.fy = v.K.fy, c.cx = v.K.cx, c.cy = v.K.cy;
  return c;
}

// The interface's result from a fitted body; any non-finite number left (a body that never
// had a finite loss) becomes a default and the fit counts as not converged.
FitResult to_result(const BodyResult& b) {
  FitResult r;
  bool finite = std::isfinite(b.loss);
  auto take = [&](double v, double fallback) {
    if (std::isfinite(v)) return v;
    finite = false;
    return fallback;
  };
  const humans::Shape d;
  const double defaults[9] = {d.height_m, d.bmi, d.sex, d.age, 1, 1, 1, 1, 1};
  double s[9];
  for (int k = 0; k < 9; ++k) s[k] = take(b.shape[k], defaults[k]);
  r.shape = {s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]};
  for (int j = 1; j < humans::kJointCount; ++j) {
    const Vec3 deg{take(b.euler_rad[j][0], 0) * 180.0 / kPi, take(b.euler_rad[j][1], 0) * 180.0 / kPi,
                   take(b.euler_rad[j][2], 0) * 180.0 / kPi};
    r.pose_euler_deg[j] = humans::matrix_to_euler(humans::euler_to_matrix(deg));  // canonical ranges
  }
  bool rotation_ok = true;
  for (double v : b.global_rotation) rotation_ok = rotation_ok && std::isfinite(v);
  if (rotation_ok) {
    for (int a = 0; a < 9; ++a) r.global_rotation.m[a / 3][a % 3] = b.global_rotation[a];
  } else {
    finite = false;
  }
  r.translation = {take(b.translation[0], 0), take(b.translation[1], 0), take(b.translation[2], 0)};
  for (int j = 0; j < humans::kJointCount; ++j)
    r.joints[j] = {take(b.joints[j][0], 0), take(b.joints[j][1], 0), take(b.joints[j][2], 0)};
  for (const auto& view : b.residual_px) {
    std::array<double, kKeypointCount> px{};
    for (int k = 0; k < kKeypointCount; ++k) {
      // NaN marks an unlabelled keypoint (people_fit.h); a labelled one is always a number.
      px[k] = std::isnan(view[k]) ? view[k] : take(view[k], 0);
    }
    r.residual_px.push_back(px);
  }
  r.loss = take(b.loss, 0);
  r.converged = b.converged && finite;
  r.iterations = b.iterations;
  return r;
}

// The BLAS that LibTorch calls (whatever libblas.so.3 is) and its thread count.
std::string blas_description() {
  void* blas = dlopen("libblas.so.3", RTLD_NOW | RTLD_NOLOAD);
  if (blas == nullptr) return "BLAS: libblas.so.3 not loaded";
  using Config = char* (*)();
  using Threads = int (*)();
  auto config = reinterpret_cast<Config>(dlsym(blas, "openblas_get_config"));
  auto threads = reinterpret_cast<Threads>(dlsym(blas, "openblas_get_num_threads"));
  std::string out = config != nullptr ? std::string("BLAS: OpenBLAS (") + config() + ")"
                                      : std::string("BLAS: libblas.so.3 (not OpenBLAS: the reference BLAS is ~10x slower)");
  if (threads != nullptr) out += ", " + std::to_string(threads()) + " BLAS threads";
  dlclose(blas);
  return out;
}

}  // namespace

FitResult skipped_result(size_t views) {
  FitResult r;
  r.skipped = true;
  std::array<double, kKeypointCount> nan;
  nan.fill(std::numeric_limits<double>::quiet_NaN());
  r.residual_px.assign(views, nan);
  return r;
}

TorchPeopleFitter::TorchPeopleFitter(int threads, std::shared_ptr<const Context> context)
    : threads_(threads), context_(std::move(context)) {}

std::vector<FitResult> TorchPeopleFitter::fit_images(std::span<const ImagePerson> people) const {
  std::vector<FitResult> results(people.size());
  std::vector<size_t> fitted;  // indices of the people to fit
  std::vector<Observation> observations;
  for (size_t i = 0; i < people.size(); ++i) {
    Observation o;
    o.xyv = clean(people[i].keypoints);
    if (labelled(o.xyv) < kMinLabelledKeypoints) {
      results[i] = skipped_result(1);
      continue;
    }
    o.camera = camera_for(people[i].K, o.xyv);
    fitted.push_back(i);
    observations.push_back(o);
  }
  const size_t chunks = (fitted.size() + kChunk - 1) / kChunk;
  auto run_chunk = [&](size_t c) {
    Problem p;
    const size_t begin = c * kChunk, end = std::min(fitted.size(), begin + kChunk);
    p.bodies = static_cast<int>(end - begin);
    for (size_t i = begin; i < end; ++i) {
      p.observations.push_back(observations[i]);
      p.observations.back().body = static_cast<int>(i - begin);
    }
    const std::vector<BodyResult> r = fit(*context_, p);
    for (size_t i = begin; i < end; ++i) results[fitted[i]] = to_result(r[i - begin]);
  };
  const size_t workers = std::min<size_t>(std::max(threads_, 1), chunks);
  if (workers <= 1) {
    for (size_t c = 0; c < chunks; ++c) run_chunk(c);
  } else {
    std::vector<std::thread> pool;
    for (size_t w = 0; w < workers; ++w)
      pool.emplace_back([&, w] {
        for (size_t c = w; c < chunks; c += workers) run_chunk(c);
      });
    for (std::thread& t : pool) t.join();
  }
  return results;
}

FitResult TorchPeopleFitter::fit_multiview(std::span<const Keypoints> keypoints, std::span<const View> views) const {
  if (keypoints.size() != views.size() || views.empty()) return skipped_result(keypoints.size());
  Problem p;
  p.bodies = 1;
  p.world_z_up = true;
  std::vector<size_t> used;
  int total = 0;
  for (size_t v = 0; v < views.size(); ++v) {
    Observation o;
    o.xyv = clean(keypoints[v]);
    if (labelled(o.xyv) == 0 || !usable_intrinsics(views[v].K)) continue;
    o.camera = camera_for(views[v]);
    total += labelled(o.xyv);
    used.push_back(v);
    p.observations.push_back(o);
  }
  if (total < kMinLabelledKeypoints) return skipped_result(views.size());
  const BodyResult b = fit(*context_, p)[0];
  FitResult r = to_result(b);
  // One residual row per view, in the caller's order (NaN for views not used).
  std::array<double, kKeypointCount> nan;
  nan.fill(std::numeric_limits<double>::quiet_NaN());
  std::vector<std::array<double, kKeypointCount>> per_view(views.size(), nan);
  for (size_t i = 0; i < used.size(); ++i) per_view[used[i]] = r.residual_px[i];
  r.residual_px = std::move(per_view);
  return r;
}

std::string TorchPeopleFitter::describe() const {
  return "people fitter: LibTorch " + std::string(TORCH_VERSION) + ", " + blas_description() +
         ", 1 intra-op thread, " + std::to_string(threads_) + " fitting thread(s) of " +
         std::to_string(kChunk) + " people, pose prior " + std::to_string(context_->pose_prior.components()) +
         " components";
}

tl::expected<std::shared_ptr<const PeopleFitter>, std::string> make_torch_fitter(int threads) {
  if (threads < 1 || threads > 1024) {
    return tl::unexpected("people fitter: threads must be 1..1024, got " + std::to_string(threads));
  }
  try {
    at::set_num_threads(1);
    const auto samples = farm_pose_samples();
    auto context = std::make_shared<const Context>(Context{BodyModel::create(), PosePrior(fit_gmm(samples, 8), samples)});
    return std::make_shared<const TorchPeopleFitter>(threads, std::move(context));
  } catch (const std::exception& e) {
    return tl::unexpected(std::string("people fitter: LibTorch failed to start: ") + e.what());
  } catch (...) {
    return tl::unexpected(std::string("people fitter: LibTorch failed to start"));
  }
}

FitResult fit_result_of(const BodyResult& body) { return to_result(body); }

}  // namespace synthfarm::recon::torch_fit
