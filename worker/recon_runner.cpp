#include "worker/recon_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "jobs/object_keys.h"
#include "recon/coco_input.h"
#include "recon/depth_inputs.h"
#include "recon/fit_clip.h"
#include "recon/scan_input.h"
#include "recon/tsdf.h"

namespace synthfarm::worker {
namespace {

using nlohmann::json;

std::string file_name_of(const std::string& uri) {
  const size_t slash = uri.find_last_of('/');
  return slash == std::string::npos ? uri : uri.substr(slash + 1);
}

// Non-finite values never reach an output: a fitter that let one through is a bug, and
// the unit fails instead of storing it.
struct NonFinite {};
double finite(double v) {
  if (!std::isfinite(v)) throw NonFinite{};
  return v;
}
json vec_json(Vec3 v) { return json::array({finite(v.x), finite(v.y), finite(v.z)}); }

json shape_json(const humans::Shape& s) {
  return {{"height_m", finite(s.height_m)},     {"bmi", finite(s.bmi)},
          {"sex", finite(s.sex)},               {"age", finite(s.age)},
          {"shoulder_width", finite(s.shoulder_width)}, {"hip_width", finite(s.hip_width)},
          {"leg_length", finite(s.leg_length)}, {"arm_length", finite(s.arm_length)},
          {"head_size", finite(s.head_size)}};
}

// One fitted person: the fields poses.jsonl and shapes.jsonl are made of (docs/recon.md).
json fit_json(const recon::FitResult& fit, std::string_view frame) {
  if (fit.skipped) return {{"skipped", true}};  // too few labelled keypoints: nothing fitted
  json pose = json::object(), joints = json::object();
  for (int j = 0; j < humans::kJointCount; ++j) {
    const std::string name(humans::kJointNames[j]);
    pose[name] = vec_json(fit.pose_euler_deg[j]);
    joints[name] = vec_json(fit.joints[j]);
  }
  json rotation = json::array();
  for (const auto& row : fit.global_rotation.m) rotation.push_back({finite(row[0]), finite(row[1]), finite(row[2])});
  json residuals = json::array();
  double sum = 0;
  int n = 0;
  for (const auto& view : fit.residual_px) {
    json per_keypoint = json::array();
    for (double r : view) {
      if (std::isnan(r)) {
        per_keypoint.push_back(nullptr);  // an unlabelled keypoint
      } else {
        per_keypoint.push_back(finite(r));
        sum += r;
        ++n;
      }
    }
    residuals.push_back(std::move(per_keypoint));
  }
  return {{"shape", shape_json(fit.shape)},
          {"pose", std::move(pose)},
          {"global_rotation", std::move(rotation)},
          {"translation", vec_json(fit.translation)},
          {"joints_3d", std::move(joints)},
          {"joints_frame", frame},
          {"residuals_px", std::move(residuals)},
          {"mean_residual_px", n > 0 ? finite(sum / n) : 0.0},
          {"loss", std::isfinite(fit.loss) ? fit.loss : 0.0},
          {"converged", fit.converged && std::isfinite(fit.loss)},
          {"iterations", fit.iterations}};
}

// A COCO input, parsed and cut into the units of one mode.
struct CocoInput {
  recon::CocoFile file;
  recon::CocoUnits units;
};

}  // namespace

struct ReconRunner::Impl {
  std::shared_ptr<const recon::PeopleFitter> fitter;
  jobs::AssetReader read_input;
  int threads = 0;
  mutable std::mutex mutex;
  mutable std::map<std::string, std::shared_ptr<const CocoInput>> coco;  // by URI + mode; GUARDED_BY(mutex)

  tl::expected<std::string, std::string> read(const std::string& uri) const {
    if (!read_input) return tl::unexpected(uri + ": no file reader in this process");
    return read_input(uri);
  }

  tl::expected<std::shared_ptr<const CocoInput>, std::string> coco_input(const jobs::JobSpec& spec) const {
    const std::string key = spec.inputs.at(0) + "\n" + spec.fit.mode;
    {
      std::lock_guard lock(mutex);
      if (auto it = coco.find(key); it != coco.end()) return it->second;
    }
    auto bytes = read(spec.inputs[0]);
    if (!bytes) return tl::unexpected("inputs: " + bytes.error());
    auto file = recon::parse_coco_keypoints(*bytes, file_name_of(spec.inputs[0]));
    if (!file) return tl::unexpected("inputs: " + file.error());
    auto units = recon::group_units(*file, recon::coco_unit_kind(spec.fit.mode));
    if (!units) return tl::unexpected("inputs: " + units.error());
    auto input = std::make_shared<const CocoInput>(CocoInput{std::move(*file), std::move(*units)});
    std::lock_guard lock(mutex);
    if (coco.size() > 16) coco.clear();
    return coco.emplace(key, std::move(input)).first->second;
  }

  // `extra`: objects beside the unit's JSON (a track's BVH clip).
  tl::expected<json, std::string> fit_coco_unit(const jobs::JobSpec& spec, uint64_t unit,
                                                std::vector<std::pair<std::string, std::string>>& extra) const {
    auto input = coco_input(spec);
    if (!input) return tl::unexpected(input.error());
    const recon::CocoFile& file = (*input)->file;
    const recon::CocoUnits& units = (*input)->units;
    if (unit >= units.count()) {
      return tl::unexpected(fmt::format("inputs: {} holds {} units for fit mode {}, not {} (changed since the job "
                                        "was submitted?)",
                                        file.name, units.count(), spec.fit.mode, unit + 1));
    }
    json out = {{"unit", unit}, {"mode", spec.fit.mode}, {"input", file.name}};
    json people = json::array();
    auto person_ids = [&](size_t person) {
      const recon::CocoPerson& p = file.people[person];
      return json{{"annotation_id", p.id},
                  {"image_id", file.images[p.image].id},
                  {"track_id", p.track_id ? json(*p.track_id) : json(nullptr)}};
    };
    // An image without K but with its size: the spec's field of view at its centre (the
    // fitter guesses from the keypoints' extent when the size is unknown too).
    auto with_guess = [&](const recon::Intrinsics& K) {
      return K.fx == 0 && K.width > 0 && K.height > 0 ? recon::guessed_intrinsics(K, {}, spec.fit.fov_deg) : K;
    };
    if (units.kind == recon::CocoUnitKind::kImages) {
      const recon::ImageUnit& image = units.images[unit];
      std::vector<recon::ImagePerson> inputs = recon::image_unit_inputs(file, image);
      for (recon::ImagePerson& person : inputs) {
        person.K = with_guess(person.K);
      }
      const std::vector<recon::FitResult> fits = fitter->fit_images(inputs);
      for (size_t i = 0; i < fits.size(); ++i) {
        json person = fit_json(fits[i], "camera");
        person.update(person_ids(image.people[i]));
        people.push_back(std::move(person));
      }
      out["image"] = {{"id", file.images[image.image].id}, {"file_name", file.images[image.image].file_name}};
    } else if (units.kind == recon::CocoUnitKind::kInstants) {
      const recon::InstantUnit& instant = units.instants[unit];
      const recon::MultiviewInputs inputs = recon::instant_unit_inputs(file, instant);
      json person = fit_json(fitter->fit_multiview(inputs.keypoints, inputs.views), "world");
      person.update(person_ids(instant.people.front()));
      people.push_back(std::move(person));
      out["instant"] = instant.instant;
    } else {
      const recon::TrackUnit& track = units.tracks[unit];
      const recon::Intrinsics K = with_guess(track.K);
      const std::vector<recon::FitResult> frames =
          fitter->fit_sequence(recon::track_unit_inputs(file, track), K, spec.fit.fps);
      for (size_t f = 0; f < frames.size(); ++f) {
        json frame = fit_json(frames[f], "camera");
        frame["frame"] = track.first_frame + f;
        people.push_back(std::move(frame));
      }
      out["track_id"] = track.track_id;
      out["fps"] = spec.fit.fps;
      // The motion as a BVH clip of the person's own skeleton, for humans.bvh.
      const auto fitted = std::find_if(frames.begin(), frames.end(), [](const auto& f) { return !f.skipped; });
      if (fitted != frames.end()) {
        auto clip = recon::clip_from_fits(frames, fitted->shape, spec.fit.fps);
        if (!clip) return tl::unexpected(fmt::format("track {}: {}", track.track_id, clip.error()));
        auto bvh = humans::write_bvh(*clip);
        if (!bvh) return tl::unexpected(fmt::format("track {}: {}", track.track_id, bvh.error()));
        out["clip"] = jobs::unit_key("clips", unit, "bvh");
        extra.emplace_back(jobs::unit_key("clips", unit, "bvh"), std::move(*bvh));
      }
    }
    out["people"] = std::move(people);
    return out;
  }

  tl::expected<json, std::string> fit_scan_unit(const jobs::JobSpec& spec, uint64_t unit) const {
    if (unit >= spec.inputs.size()) {
      return tl::unexpected(fmt::format("unit {}: the job has {} scans", unit, spec.inputs.size()));
    }
    const std::string& uri = spec.inputs[unit];
    const std::string field = spec.inputs.size() == 1 ? "inputs" : fmt::format("inputs[{}]", unit);
    auto bytes = read(uri);
    if (!bytes) return tl::unexpected(field + ": " + bytes.error());
    auto scan = recon::read_scan(*bytes, file_name_of(uri));
    if (!scan) return tl::unexpected(field + ": " + scan.error());
    const recon::ScanFitResult fit = fitter->fit_scan(scan->points, scan->triangles);
    json person = fit_json(fit.fit, "scan");
    person["mean_point_to_surface_m"] = finite(fit.mean_point_to_surface_m);
    return json{{"unit", unit}, {"mode", "scan"}, {"input", file_name_of(uri)}, {"people", json::array({person})}};
  }

  // One capture: its views fused (recon/tsdf.h) and the closed mesh as a glTF asset, with
  // a summary beside it.
  tl::expected<std::vector<std::pair<std::string, std::string>>, std::string> fuse_unit(const jobs::JobSpec& spec,
                                                                                        uint64_t unit) const {
    if (unit >= spec.inputs.size()) {
      return tl::unexpected(fmt::format("the job has {} captures", spec.inputs.size()));
    }
    const std::string& uri = spec.inputs[unit];
    const std::string field = spec.inputs.size() == 1 ? "inputs" : fmt::format("inputs[{}]", unit);
    auto bytes = read(uri);
    if (!bytes) return tl::unexpected(field + ": " + bytes.error());
    const std::string folder = uri.substr(0, uri.find_last_of('/') + 1);
    const recon::CaptureReader read_beside = [&](const std::string& relative) { return read(folder + relative); };
    auto views = recon::parse_depth_capture(*bytes, file_name_of(uri), read_beside, spec.fusion.colour);
    if (!views) return tl::unexpected(field + ": " + views.error());
    recon::TsdfParams params;
    params.voxel_size_m = spec.fusion.voxel_m;
    params.truncation_m = spec.fusion.truncation_m;
    params.threads = threads;
    auto volume = recon::TsdfVolume::create(params);
    if (!volume) return tl::unexpected("fusion: " + volume.error());
    for (const recon::DepthView& view : *views) {
      if (auto fused = volume->integrate(view); !fused) return tl::unexpected(field + ": " + fused.error());
    }
    const recon::FusedMesh mesh = volume->extract_mesh();
    if (mesh.triangle_count() == 0) {
      return tl::unexpected(field + ": the capture's depth measured no surface: nothing to mesh");
    }
    // The first view as the asset's camera, so the mesh renders as a scene as it is.
    const recon::DepthView& first = views->front();
    const recon::View camera{first.K, first.rotation, first.translation};
    auto glb = recon::fused_mesh_glb(mesh, fmt::format("fused_{:08d}", unit), camera);
    if (!glb) return tl::unexpected("fusion: " + glb.error());
    size_t closing = 0;
    for (uint8_t c : mesh.closing) closing += c;
    std::array<double, 3> lo{1e300, 1e300, 1e300}, hi{-1e300, -1e300, -1e300};
    for (size_t i = 0; i < mesh.positions.size(); ++i) {
      lo[i % 3] = std::min<double>(lo[i % 3], mesh.positions[i]);
      hi[i % 3] = std::max<double>(hi[i % 3], mesh.positions[i]);
    }
    const json summary = {{"unit", unit},
                          {"input", file_name_of(uri)},
                          {"views", views->size()},
                          {"voxel_m", spec.fusion.voxel_m},
                          {"truncation_m", spec.fusion.truncation_m},
                          {"blocks", volume->block_count()},
                          {"vertices", mesh.positions.size() / 3},
                          {"triangles", mesh.triangle_count()},
                          {"closing_triangles", closing},
                          {"colour", !mesh.colors.empty()},
                          {"bounds_m", {{"min", lo}, {"max", hi}}},
                          {"mesh", jobs::unit_key("meshes", unit, "glb")}};
    std::vector<std::pair<std::string, std::string>> objects;
    objects.emplace_back(jobs::unit_key("meshes", unit, "glb"), std::move(*glb));
    objects.emplace_back(jobs::unit_key("meshes", unit, "json"), summary.dump(1) + "\n");
    return objects;
  }
};

ReconRunner::ReconRunner(std::shared_ptr<const recon::PeopleFitter> fitter, jobs::AssetReader read_input,
                         int threads)
    : impl_(std::make_unique<Impl>()) {
  impl_->fitter = std::move(fitter);
  impl_->read_input = std::move(read_input);
  impl_->threads = threads;
}

ReconRunner::~ReconRunner() = default;

std::vector<std::string> ReconRunner::tasks() const {
  // Depth fusion needs no plugin: every worker runs it.
  if (impl_->fitter) return {"fit_people", "fuse_depth"};
  return {"fuse_depth"};
}

tl::expected<UnitObjects, std::string> ReconRunner::run(const jobs::JobSpec& spec, uint64_t unit) const {
  if (spec.task == "fuse_depth") {
    auto objects = impl_->fuse_unit(spec, unit);
    if (!objects) return tl::unexpected(fmt::format("unit {}: {}", unit, objects.error()));
    return UnitObjects{std::move(*objects), -1};
  }
  if (spec.task != "fit_people") return tl::unexpected("this worker does not run task " + spec.task);
  if (!impl_->fitter) return tl::unexpected(std::string("this worker cannot fit people (no LibTorch plugin)"));
  try {
    UnitObjects out;
    std::vector<std::pair<std::string, std::string>> extra;
    auto fitted =
        spec.fit.mode == "scan" ? impl_->fit_scan_unit(spec, unit) : impl_->fit_coco_unit(spec, unit, extra);
    if (!fitted) return tl::unexpected(fmt::format("unit {}: {}", unit, fitted.error()));
    double sum = 0;
    int people = 0;
    for (const json& person : (*fitted)["people"]) {
      if (!person.contains("mean_residual_px")) continue;  // skipped
      sum += person["mean_residual_px"].get<double>();
      ++people;
    }
    out.mean_residual_px = people > 0 ? sum / people : -1;
    out.objects.emplace_back(jobs::unit_key("fits", unit, "json"), fitted->dump() + "\n");
    for (auto& object : extra) out.objects.push_back(std::move(object));
    return out;
  } catch (const NonFinite&) {
    return tl::unexpected(fmt::format("unit {}: the fit produced a non-finite value; nothing stored", unit));
  }
}

}  // namespace synthfarm::worker
