// sensor::plugin_model_loader in a program whose RUNPATH does not reach the plugin (as a
// machine without it installed): an error naming the library, no crash.
#include <gtest/gtest.h>

#include "sensor/learned_model.h"

namespace synthfarm::sensor {
namespace {

TEST(PluginModelLoader, NamesTheLibraryWhenItIsNotInstalled) {
  auto loader = plugin_model_loader(1);
  ASSERT_FALSE(loader.has_value());
  EXPECT_EQ(loader.error().rfind("learned camera models need libsynthfarm_sensor_torch.so", 0), 0u)
      << loader.error();
  EXPECT_NE(loader.error().find("cannot open shared object file"), std::string::npos)
      << loader.error();
  // The failure is remembered, not retried.
  auto again = plugin_model_loader(1);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error(), loader.error());
}

}  // namespace
}  // namespace synthfarm::sensor
