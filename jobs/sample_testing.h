// Test helpers beside sample.h: a SampleRenderer, and a render that fails the test (instead
// of throwing) when it errs. Test code only (it uses gtest); any module's tests may include it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <utility>

#include "jobs/sample.h"

namespace synthfarm::jobs::sample_testing {

inline std::unique_ptr<SampleRenderer> make_renderer(int threads, AssetReader read_asset = {},
                                                     sensor::LearnedModelLoader load_model = {}) {
  auto renderer = SampleRenderer::create(threads, std::move(read_asset), std::move(load_model));
  EXPECT_TRUE(renderer.has_value()) << renderer.error();
  return renderer ? std::move(*renderer) : nullptr;
}

inline SampleObjects render_ok(const SampleRenderer& renderer, const JobSpec& spec, uint64_t index) {
  auto objects = renderer.render(spec, index);
  EXPECT_TRUE(objects.has_value()) << objects.error();
  return objects ? *objects : SampleObjects{};
}

}  // namespace synthfarm::jobs::sample_testing
