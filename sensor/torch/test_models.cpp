#include "sensor/torch/test_models.h"

#include <torch/script.h>

#include <sstream>

namespace synthfarm::sensor::test_models {
namespace {

std::string save(torch::jit::Module& module, std::optional<std::string_view> metadata) {
  torch::jit::ExtraFilesMap extra;
  if (metadata) extra["synthfarm.json"] = std::string(*metadata);
  std::ostringstream out;
  module.save(out, extra);
  return out.str();
}

}  // namespace

std::string script_model(std::string_view source, std::optional<std::string_view> metadata) {
  torch::jit::Module module("CameraModel");
  module.define(std::string(source));
  return save(module, metadata);
}

std::string noise_model(double sigma, std::string_view metadata) {
  torch::jit::Module module("NoiseModel");
  module.register_attribute("sigma", c10::FloatType::get(), sigma);
  module.define(R"(
def forward(self, image, params):
    return image + self.sigma * torch.randn_like(image)
)");
  return save(module, metadata);
}

std::string colour_matrix_model(const std::array<float, 9>& m) {
  torch::jit::Module module("ColourMatrix");
  module.register_parameter("matrix",
                            torch::tensor(std::vector<float>(m.begin(), m.end())).reshape({3, 3}),
                            /*is_buffer=*/false);
  module.define(R"(
def forward(self, image, params):
    h = image.size(2)
    w = image.size(3)
    return torch.matmul(self.matrix, image.reshape(3, h * w)).reshape(1, 3, h, w)
)");
  return save(module, kRgbMetadata);
}

std::string conv_model(int width, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::Generator generator = at::detail::createCPUGenerator(seed);
  auto weight = [&](int out, int in) {
    // He-style scale, kept small so the residual stays close to the input.
    return torch::randn({out, in, 3, 3}, generator) * (0.5 / std::sqrt(9.0 * in));
  };
  auto bias = [&](int out) { return torch::randn({out}, generator) * 0.01; };
  torch::jit::Module module("ConvCamera");
  module.register_parameter("w1", weight(width, 3), false);
  module.register_parameter("b1", bias(width), false);
  module.register_parameter("w2", weight(width, width), false);
  module.register_parameter("b2", bias(width), false);
  module.register_parameter("w3", weight(3, width), false);
  module.register_parameter("b3", bias(3), false);
  module.define(R"(
def forward(self, image, params):
    h = torch.relu(torch.conv2d(image, self.w1, self.b1, 1, 1))
    h = torch.relu(torch.conv2d(h, self.w2, self.b2, 1, 1))
    return image + torch.conv2d(h, self.w3, self.b3, 1, 1)
)");
  return save(module, kRgbMetadata);
}

int64_t conv_model_parameters(int width) {
  return (width * 3 * 9 + width) + (width * width * 9 + width) + (3 * width * 9 + 3);
}

}  // namespace synthfarm::sensor::test_models
