// Writes the binary seeds of the fuzz corpus (fuzz/corpus/) with the project's own
// encoders, so the seeds are what synthfarm really sends and stores: Cap'n Proto telemetry
// and control messages, OpenEXR environment maps and samples, glTF scenes (the exporter) and a skinned
// glTF character (tinygltf, as the glTF tests write theirs). The text seeds (specs, BVH,
// JSON, XML, HTTP) are written by hand. Run once when a format changes:
//
//   cmake --build build --target fuzz_seed_gen && build/bin/fuzz_seed_gen fuzz/corpus
//
// corpus/telemetry/heartbeat_before_metrics.capnp is not written here: a heartbeat from an
// encoder older than Heartbeat.metrics, kept as it was for protocol_test's compatibility check.
//
// Every file is small (a few KB at most): libFuzzer's input length limit follows the
// largest seed, and a short input mutates faster.
#include <OpenEXR/ImfChannelList.h>
#include <OpenEXR/ImfFrameBuffer.h>
#include <OpenEXR/ImfHeader.h>
#include <OpenEXR/ImfOutputFile.h>
#include <OpenEXR/ImfTiledOutputFile.h>
#include <Imath/half.h>
#include <tiny_gltf.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gltf/gltf.h"
#include "gltf/gltf_testing.h"
#include "protocol/messages.h"
#include "render/image_io.h"

namespace {

using namespace synthfarm;
namespace fs = std::filesystem;

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
  std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
}

void telemetry(const fs::path& dir) {
  protocol::Heartbeat heartbeat{"worker-a1", "render-07", 4242, protocol::WorkerState::kRendering,
                                {"quickstart-575575", 3, 17, 12, 4}, 13, 2.5, 1'765'000'000'000, 8, std::nullopt};
  write(dir / "heartbeat_rendering.capnp", protocol::encode_telemetry(heartbeat));
  write(dir / "heartbeat_idle.capnp",
        protocol::encode_telemetry(protocol::Heartbeat{"w", "h", 1, protocol::WorkerState::kIdle, {}, 0, 0, 0, 1, std::nullopt}));
  // A heartbeat with the worker's metrics, with the bounds the worker really uses (shortened).
  protocol::WorkerMetrics metrics;
  metrics.render_seconds = {{0.05, 0.1, 0.25, 0.5, 1, 2.5, 600}, {0, 0, 1, 6, 5, 1, 0, 0}, 9.75};
  metrics.upload_seconds = {{0.005, 0.01, 0.1}, {10, 2, 1, 0}, 0.06};
  metrics.queue_wait_seconds = {{0.01, 1, 600}, {2, 0, 0, 1}, 3700.5};
  metrics.samples_rendered = 13;
  metrics.failures = {1, 1, 0, 2, 0};
  heartbeat.metrics = metrics;
  write(dir / "heartbeat_metrics.capnp", protocol::encode_telemetry(heartbeat));
  protocol::SampleProgress progress{"worker-a1", {"quickstart-575575", 3, 17, 12, 4}, 14, 812.5, 1'174'668, true,
                                    1'765'000'000'100};
  write(dir / "sample_progress.capnp", protocol::encode_telemetry(progress));
}

void control(const fs::path& dir) {
  write(dir / "cancel.capnp", protocol::encode_job_control({"quickstart-575575", protocol::JobControl::Action::kCancel,
                                                            1'765'000'000'000}));
  write(dir / "delete.capnp", protocol::encode_job_control({"x", protocol::JobControl::Action::kDelete, 0}));
}

// A 4x2 RGB map through the renderer's encoder (ZIP, scanlines), and files the encoder
// never writes but the loader reads: Y only, tiled with PIZ, and a data window that does
// not start at (0, 0).
void environment_maps(const fs::path& dir) {
  render::Frame frame;
  frame.width = 4;
  frame.height = 2;
  for (int i = 0; i < 8; ++i) frame.rgb.insert(frame.rgb.end(), {0.25f * i, 1.0f, 2.0f - 0.25f * i});
  write(dir / "rgb_zip_4x2.exr", render::encode_exr(frame, {render::Layer::kRgb}));

  std::vector<half> grey = {half(0.5f), half(1.0f), half(2.0f), half(4.0f), half(8.0f), half(16.0f)};
  {
    Imf::Header header(3, 2);
    header.compression() = Imf::RLE_COMPRESSION;
    header.channels().insert("Y", Imf::Channel(Imf::HALF));
    Imf::OutputFile file((dir / "y_half_rle_3x2.exr").c_str(), header);
    Imf::FrameBuffer buffer;
    buffer.insert("Y", Imf::Slice(Imf::HALF, reinterpret_cast<char*>(grey.data()), sizeof(half), 3 * sizeof(half)));
    file.setFrameBuffer(buffer);
    file.writePixels(2);
  }
  {
    Imf::Header header(Imath::Box2i({0, 0}, {3, 1}), Imath::Box2i({1, 5}, {3, 6}));
    header.compression() = Imf::PIZ_COMPRESSION;
    header.setTileDescription(Imf::TileDescription(2, 2));
    std::vector<float> rgb(18);  // 3 x 2 texels
    for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = 0.1f * static_cast<float>(i);
    Imf::FrameBuffer buffer;
    // Addressed from the data window's origin (1, 5).
    char* base = reinterpret_cast<char*>(rgb.data()) - (1 + 5 * 3) * 3 * static_cast<ptrdiff_t>(sizeof(float));
    for (int c = 0; c < 3; ++c) {
      header.channels().insert(std::string(1, "RGB"[c]), Imf::Channel(Imf::FLOAT));
      buffer.insert(std::string(1, "RGB"[c]),
                    Imf::Slice(Imf::FLOAT, base + c * sizeof(float), 3 * sizeof(float), 9 * sizeof(float)));
    }
    Imf::TiledOutputFile file((dir / "rgb_tiled_piz_offset.exr").c_str(), header);
    file.setFrameBuffer(buffer);
    file.writeTiles(0, file.numXTiles() - 1, 0, file.numYTiles() - 1);
  }
  for (const char* name : {"y_half_rle_3x2.exr", "rgb_tiled_piz_offset.exr"}) {
    std::printf("%s (%ju bytes)\n", (dir / name).c_str(), static_cast<uintmax_t>(fs::file_size(dir / name)));
  }
}

// A 4x3 sample through the renderer's encoder with every label layer the sample viewer
// draws (the coordinator's layer images read such files from storage).
void sample_layers(const fs::path& dir) {
  render::Frame frame;
  frame.width = 4;
  frame.height = 3;
  for (uint32_t i = 0; i < 12; ++i) {
    const bool hit = i >= 4;  // the top row is sky
    frame.rgb.insert(frame.rgb.end(), {0.1f * i, 0.5f, 1.0f});
    frame.depth.push_back(hit ? 2.0f + 0.25f * i : INFINITY);
    frame.normal.insert(frame.normal.end(), {0.0f, hit ? 0.6f : 0.0f, hit ? -0.8f : 0.0f});
    frame.albedo.insert(frame.albedo.end(), {0.2f, 0.4f, 0.6f});
    frame.instance.push_back(hit ? 1 + i % 2 : 0);
    frame.semantic.push_back(hit ? 1 + i % 4 : 0);
    frame.part.push_back(hit ? 1 + i % 24 : 0);
    frame.uv.insert(frame.uv.end(), {hit ? 0.1f * i : 0.0f, hit ? 0.05f * i : 0.0f});
  }
  using render::Layer;
  write(dir / "sample_all_layers_4x3.exr",
        render::encode_exr(frame, {Layer::kRgb, Layer::kDepth, Layer::kNormal, Layer::kAlbedo, Layer::kInstance,
                                   Layer::kSemantic, Layer::kPart, Layer::kUv}));
  write(dir / "sample_depth_instance_4x3.exr", render::encode_exr(frame, {Layer::kDepth, Layer::kInstance}));
}

// One quad and a box, a camera, through the exporter (.glb).
void scenes(const fs::path& dir) {
  render::Scene scene;
  scene.camera = render::look_at_camera(64, 48, 60, {0, -4, 1.5}, {0, 0, 0.5});
  render::Mesh floor;
  floor.positions = {-2, -2, 0, 2, -2, 0, 2, 2, 0, -2, 2, 0};
  floor.indices = {0, 1, 2, 0, 2, 3};
  floor.albedo = {0.5, 0.5, 0.5};
  floor.instance_id = 1;
  floor.semantic = render::SemanticClass::kFloor;
  render::Mesh box;
  box.positions = {0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1};
  box.indices = {0, 2, 1, 0, 3, 2, 4, 5, 6, 4, 6, 7, 0, 1, 5, 0, 5, 4, 2, 3, 7, 2, 7, 6};
  box.colors = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0};
  box.instance_id = 2;
  box.semantic = render::SemanticClass::kProp;
  scene.meshes = {floor, box};
  scene.instances = {{1, render::SemanticClass::kFloor, "floor"}, {2, render::SemanticClass::kProp, "box"}};
  auto glb = gltf::export_glb(scene);
  if (!glb) {
    std::fprintf(stderr, "seed_gen: export_glb: %s\n", glb.error().c_str());
    std::exit(1);
  }
  write(dir / "floor_and_box.glb", *glb);
}

// Two bones and a three-ring tube skinned to them, with a rotation animation: the
// smallest file that exercises joints, weights, inverse bind matrices and channels.
void character(const fs::path& dir) {
  namespace tg = tinygltf;
  tg::Model m;
  m.asset.version = "2.0";
  gltf::gltf_testing::ModelBuilder b(m);
  std::vector<float> positions;
  std::vector<uint16_t> joints;
  std::vector<float> weights;
  for (int ring = 0; ring < 3; ++ring) {
    for (int k = 0; k < 3; ++k) {
      const float angle = 2.0944f * static_cast<float>(k);
      positions.insert(positions.end(), {0.1f * std::cos(angle), static_cast<float>(ring), 0.1f * std::sin(angle)});
      // Ring 0 follows the lower bone, ring 2 the upper, ring 1 half each.
      joints.insert(joints.end(), {static_cast<uint16_t>(ring == 2 ? 1 : 0), static_cast<uint16_t>(ring == 1 ? 1 : 0), 0, 0});
      weights.insert(weights.end(), {ring == 1 ? 0.5f : 1.0f, ring == 1 ? 0.5f : 0.0f, 0, 0});
    }
  }
  std::vector<uint16_t> indices;
  for (uint16_t ring = 0; ring < 2; ++ring) {
    for (uint16_t k = 0; k < 3; ++k) {
      const uint16_t a = static_cast<uint16_t>(ring * 3 + k), c = static_cast<uint16_t>(ring * 3 + (k + 1) % 3);
      indices.insert(indices.end(), {a, c, static_cast<uint16_t>(a + 3), c, static_cast<uint16_t>(c + 3),
                                     static_cast<uint16_t>(a + 3)});
    }
  }
  tg::Primitive prim;
  prim.mode = TINYGLTF_MODE_TRIANGLES;
  prim.attributes = {
      {"POSITION", b.accessor(positions, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC3)},
      {"JOINTS_0", b.accessor(joints, TINYGLTF_COMPONENT_TYPE_UNSIGNED_SHORT, TINYGLTF_TYPE_VEC4)},
      {"WEIGHTS_0", b.accessor(weights, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC4)}};
  prim.indices = b.accessor(indices, TINYGLTF_COMPONENT_TYPE_UNSIGNED_SHORT, TINYGLTF_TYPE_SCALAR);
  prim.material = 0;
  tg::Material material;
  material.pbrMetallicRoughness.baseColorFactor = {0.8, 0.6, 0.4, 1};
  m.materials.push_back(material);
  tg::Mesh mesh;
  mesh.primitives.push_back(prim);
  m.meshes.push_back(mesh);
  m.nodes.resize(3);
  m.nodes[0].name = "mixamorig:Hips";
  m.nodes[0].children = {1};
  m.nodes[1].name = "mixamorig:Spine";
  m.nodes[1].translation = {0, 1, 0};
  m.nodes[2].name = "Body";
  m.nodes[2].mesh = 0;
  m.nodes[2].skin = 0;
  tg::Skin skin;
  skin.joints = {0, 1};
  skin.inverseBindMatrices = b.accessor(std::vector<float>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1,
                                                           1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, -1, 0, 1},
                                        TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_MAT4);
  m.skins.push_back(skin);
  tg::Animation animation;
  animation.name = "Bend";
  tg::AnimationSampler sampler;
  sampler.input = b.accessor(std::vector<float>{0, 1}, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_SCALAR);
  sampler.output = b.accessor(std::vector<float>{0, 0, 0, 1, 0, 0, 0.7071068f, 0.7071068f},
                              TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC4);
  sampler.interpolation = "LINEAR";
  animation.samplers.push_back(sampler);
  tg::AnimationChannel channel;
  channel.sampler = 0;
  channel.target_node = 1;
  channel.target_path = "rotation";
  animation.channels.push_back(channel);
  m.animations.push_back(animation);
  tg::Scene scene;
  scene.nodes = {0, 2};
  m.scenes.push_back(scene);
  m.defaultScene = 0;
  write(dir / "tube_two_bones.glb", gltf::gltf_testing::to_glb(m));
  write(dir / "tube_two_bones.gltf", gltf::gltf_testing::to_gltf_json(m));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR   (fuzz/corpus)\n", argv[0]);
    return 2;
  }
  const fs::path corpus = argv[1];
  telemetry(corpus / "telemetry");
  control(corpus / "control");
  environment_maps(corpus / "exr_environment");
  sample_layers(corpus / "layer_exr");
  scenes(corpus / "gltf_scene");
  character(corpus / "gltf_character");
  return 0;
}
