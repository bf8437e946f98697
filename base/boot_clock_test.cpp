#include "base/boot_clock.h"

#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <thread>

namespace synthfarm {
namespace {

int64_t raw_ms(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

TEST(BootClockTest, ReadsClockBoottimeNotTheWallClock) {
  auto clock = system_boot_clock();
  const int64_t before = raw_ms(CLOCK_BOOTTIME);
  const int64_t now = clock->boot_ms();
  const int64_t after = raw_ms(CLOCK_BOOTTIME);
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
  // Milliseconds since boot, not since 1970: far below any wall time of this century.
  EXPECT_LT(now, raw_ms(CLOCK_REALTIME) / 2);
}

TEST(BootClockTest, AdvancesWithElapsedTimeAndNeverGoesBack) {
  auto clock = system_boot_clock();
  const int64_t t0 = clock->boot_ms();
  int64_t last = t0;
  for (int i = 0; i < 1000; ++i) {
    const int64_t t = clock->boot_ms();
    ASSERT_GE(t, last);
    last = t;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GE(clock->boot_ms() - t0, 50);
}

TEST(BootClockTest, ManualClockMovesOnlyWhenTold) {
  ManualBootClock clock(1000);
  EXPECT_EQ(clock.boot_ms(), 1000);
  clock.advance(250);
  EXPECT_EQ(clock.boot_ms(), 1250);
}

}  // namespace
}  // namespace synthfarm
