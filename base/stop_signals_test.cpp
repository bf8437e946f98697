#include "base/stop_signals.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <future>

#include "base/clock.h"

namespace synthfarm {
namespace {

// Unblocks the signals StopSignals blocked in this thread, so one test's mask does not
// leak into the next.
struct RestoreMask {
  ~RestoreMask() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
  }
};

TEST(StopSignalsTest, SigtermToTheProcessCallsOnStopOnce) {
  RestoreMask restore;
  StopSignals signals;
  std::promise<int> heard;
  int calls = 0;
  signals.start([&](int sig) {
    ++calls;
    heard.set_value(sig);
  });
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);  // process-directed, as `kill PID` sends it
  auto future = heard.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(future.get(), SIGTERM);
  signals.close();
  EXPECT_EQ(calls, 1);
}

TEST(StopSignalsTest, CloseWithoutASignalNeverCallsOnStop) {
  RestoreMask restore;
  bool called = false;
  auto start = std::chrono::steady_clock::now();
  {
    StopSignals signals;
    signals.start([&](int) { called = true; });
    signals.close();
    signals.close();  // idempotent
  }
  EXPECT_FALSE(called);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(ClockTest, ManualClockMovesOnlyWhenTold) {
  ManualClock clock(1000);
  EXPECT_EQ(clock.wall_ms(), 1000);
  clock.advance(250);
  EXPECT_EQ(clock.wall_ms(), 1250);
  clock.set(5);
  EXPECT_EQ(clock.wall_ms(), 5);
}

TEST(ClockTest, SystemClockIsTheUnixTimeInMilliseconds) {
  int64_t before = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  int64_t now = system_clock()->wall_ms();
  EXPECT_GE(now, before);
  EXPECT_LT(now - before, 1000);
}

}  // namespace
}  // namespace synthfarm
