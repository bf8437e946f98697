// Test helpers for writing glTF files with tinygltf (shared by the glTF and character
// tests): the files the importer reads in tests are written by another library, never by
// synthfarm's own exporter.
#pragma once

#include <gtest/gtest.h>
#include <tiny_gltf.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "base/math.h"

namespace synthfarm::gltf::gltf_testing {

namespace tg = tinygltf;

inline tg::Model parse_glb(const std::string& bytes) {
  tg::TinyGLTF loader;
  tg::Model model;
  std::string err, warn;
  bool ok = loader.LoadBinaryFromMemory(&model, &err, &warn,
                                        reinterpret_cast<const unsigned char*>(bytes.data()),
                                        static_cast<unsigned int>(bytes.size()), "");
  EXPECT_TRUE(ok) << err;
  return model;
}

inline std::string to_glb(const tg::Model& model) {
  std::ostringstream out;
  tg::TinyGLTF writer;
  EXPECT_TRUE(writer.WriteGltfSceneToStream(&model, out, false, true));
  return out.str();
}

inline std::string to_gltf_json(const tg::Model& model) {
  std::ostringstream out;
  tg::TinyGLTF writer;
  EXPECT_TRUE(writer.WriteGltfSceneToStream(&model, out, true, false));
  return out.str();
}

// Appends typed data to buffer 0 of a model as one buffer view and one accessor.
class ModelBuilder {
 public:
  explicit ModelBuilder(tg::Model& model) : model_(model) {
    if (model_.buffers.empty()) model_.buffers.emplace_back();
  }
  template <typename T>
  int accessor(const std::vector<T>& data, int component_type, int type, int target = 0) {
    auto& bin = model_.buffers[0].data;
    while (bin.size() % 4 != 0) bin.push_back(0);
    tg::BufferView view;
    view.buffer = 0;
    view.byteOffset = bin.size();
    view.byteLength = data.size() * sizeof(T);
    view.target = target;
    bin.resize(bin.size() + view.byteLength);
    std::memcpy(bin.data() + view.byteOffset, data.data(), view.byteLength);
    model_.bufferViews.push_back(view);
    tg::Accessor a;
    a.bufferView = static_cast<int>(model_.bufferViews.size() - 1);
    a.componentType = component_type;
    a.type = type;
    a.count =
        data.size() / static_cast<size_t>(tg::GetNumComponentsInType(static_cast<uint32_t>(type)));
    if (type == TINYGLTF_TYPE_VEC3 && component_type == TINYGLTF_COMPONENT_TYPE_FLOAT) {
      a.minValues = {1e9, 1e9, 1e9};
      a.maxValues = {-1e9, -1e9, -1e9};
      for (size_t i = 0; i < data.size(); ++i) {
        a.minValues[i % 3] = std::min<double>(a.minValues[i % 3], static_cast<double>(data[i]));
        a.maxValues[i % 3] = std::max<double>(a.maxValues[i % 3], static_cast<double>(data[i]));
      }
    }
    if (type == TINYGLTF_TYPE_SCALAR && component_type == TINYGLTF_COMPONENT_TYPE_FLOAT) {
      a.minValues = {static_cast<double>(*std::min_element(data.begin(), data.end()))};
      a.maxValues = {static_cast<double>(*std::max_element(data.begin(), data.end()))};
    }
    model_.accessors.push_back(a);
    return static_cast<int>(model_.accessors.size() - 1);
  }

 private:
  tg::Model& model_;
};

// Float data of a tightly packed accessor.
inline std::vector<float> floats(const tg::Model& model, int accessor_index) {
  const tg::Accessor& a = model.accessors.at(static_cast<size_t>(accessor_index));
  const tg::BufferView& view = model.bufferViews.at(static_cast<size_t>(a.bufferView));
  const auto& data = model.buffers.at(static_cast<size_t>(view.buffer)).data;
  size_t n =
      a.count * static_cast<size_t>(tg::GetNumComponentsInType(static_cast<uint32_t>(a.type)));
  std::vector<float> out(n);
  std::memcpy(out.data(), data.data() + view.byteOffset + a.byteOffset, n * sizeof(float));
  return out;
}

// A glTF point (+y up) in synthfarm's frame (+z up).
inline Vec3 gltf_to_world(Vec3 p) { return {p.x, -p.z, p.y}; }

// Component-wise EXPECT_NEAR of two points.
inline void expect_near(Vec3 a, Vec3 b, double tolerance, const std::string& what = "") {
  EXPECT_NEAR(a.x, b.x, tolerance) << what;
  EXPECT_NEAR(a.y, b.y, tolerance) << what;
  EXPECT_NEAR(a.z, b.z, tolerance) << what;
}

}  // namespace synthfarm::gltf::gltf_testing
