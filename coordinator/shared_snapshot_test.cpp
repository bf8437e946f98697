#include "coordinator/shared_snapshot.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace synthfarm::coordinator {
namespace {

using namespace std::chrono_literals;

// Eight subscribers asking at once get one build between them, the same bytes, and a new
// build only once the snapshot is older than its maximum age.
TEST(SharedSnapshot, OneBuildServesEverySubscriberWhileFresh) {
  std::atomic<int> builds{0};
  SharedSnapshot shared(300ms, [&] {
    std::this_thread::sleep_for(50ms);  // the others arrive while it builds
    return "snapshot " + std::to_string(++builds);
  });
  std::vector<std::shared_ptr<const std::string>> got(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) threads.emplace_back([&, i] { got[i] = shared.get(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(builds, 1);
  for (const auto& frame : got) EXPECT_EQ(frame, got[0]) << "the very same bytes";
  EXPECT_EQ(*shared.get(), "snapshot 1");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(*shared.get(), "snapshot 2");
  EXPECT_EQ(shared.builds(), 2u);
}

TEST(SharedSnapshot, AFailedBuildKeepsNothingAndTheNextCallerBuildsAgain) {
  int calls = 0;
  SharedSnapshot shared(1s, [&]() -> std::string {
    if (++calls == 1) throw std::runtime_error("redis went away");
    return "ok";
  });
  EXPECT_THROW(shared.get(), std::runtime_error);
  EXPECT_EQ(*shared.get(), "ok");
  EXPECT_EQ(shared.builds(), 1u);
}

}  // namespace
}  // namespace synthfarm::coordinator
