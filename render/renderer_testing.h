// Test helpers beside renderer.h: a renderer, and a render that fails the test (instead of
// throwing) when it errs. Test code only (it uses gtest); any module's tests may include it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <utility>

#include "render/renderer.h"

namespace synthfarm::render::renderer_testing {

inline std::unique_ptr<Renderer> make_renderer() {
  auto renderer = Renderer::create();
  EXPECT_TRUE(renderer.has_value()) << renderer.error();
  return renderer ? std::move(*renderer) : nullptr;
}

inline Frame render_frame(const Renderer& renderer, const Scene& scene, const RenderSettings& settings) {
  auto frame = renderer.render(scene, settings);
  EXPECT_TRUE(frame.has_value()) << frame.error();
  return frame ? std::move(*frame) : Frame{};
}

}  // namespace synthfarm::render::renderer_testing
