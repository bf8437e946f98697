#include "worker/lease_fence.h"

#include <gtest/gtest.h>

#include <memory>

namespace synthfarm::worker {
namespace {

TEST(LeaseFenceTest, MarginIsTenPercentAtLeastOneSecondAtMostAThirdOfTheLease) {
  EXPECT_EQ(LeaseFence::margin_ms(30000), 3000);
  EXPECT_EQ(LeaseFence::margin_ms(5000), 1000);
  EXPECT_EQ(LeaseFence::margin_ms(3000), 1000);
  EXPECT_EQ(LeaseFence::margin_ms(2000), 666);
  EXPECT_EQ(LeaseFence::margin_ms(1500), 500);
}

TEST(LeaseFenceTest, DeadlineIsTheClaimsSendTimePlusLeaseMinusMargin) {
  auto clock = std::make_shared<ManualBootClock>(10000);
  LeaseFence fence(clock, 30000, 9000);  // claim sent 1 s ago
  EXPECT_EQ(fence.deadline_boot_ms(), 9000 + 30000 - 3000);
  clock->advance(25999);  // 35999: one millisecond before the deadline
  EXPECT_FALSE(fence.check());
  clock->advance(1);
  auto refused = fence.check();
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->find("lease ended 0 ms ago"), std::string::npos) << *refused;
}

TEST(LeaseFenceTest, OnlyASucceededRenewalMovesTheDeadlineFromWhenItWasSent) {
  auto clock = std::make_shared<ManualBootClock>(0);
  LeaseFence fence(clock, 3000, 0);  // deadline 2000
  clock->advance(1500);
  fence.renewed(1000);  // sent at 1000, answered at 1500: 1000 + 3000 - 1000
  EXPECT_EQ(fence.deadline_boot_ms(), 3000);
  fence.renewed(500);  // an older renewal answered late never moves it back
  EXPECT_EQ(fence.deadline_boot_ms(), 3000);
  // Renewals that fail or go unanswered call nothing: time runs out.
  clock->advance(1500);
  EXPECT_TRUE(fence.check());
}

TEST(LeaseFenceTest, OnceRefusedItStaysRefusedEvenIfARenewalIsAnsweredLate) {
  auto clock = std::make_shared<ManualBootClock>(0);
  LeaseFence fence(clock, 10000, 0);  // deadline 9000
  clock->advance(60000);               // a SIGSTOP of a minute
  fence.renewed(59000);                // a renewal sent just before the stop, answered after it
  EXPECT_EQ(fence.deadline_boot_ms(), 9000);
  EXPECT_TRUE(fence.check());
  EXPECT_TRUE(fence.check());
}

TEST(LeaseFenceTest, GuardIsTheSameCheck) {
  auto clock = std::make_shared<ManualBootClock>(0);
  LeaseFence fence(clock, 10000, 0);
  storage::CommitGuard guard = fence.guard();
  EXPECT_FALSE(guard());
  clock->advance(9000);
  ASSERT_TRUE(guard());
  EXPECT_TRUE(fence.check()) << "a guard's refusal is the fence's";
}

}  // namespace
}  // namespace synthfarm::worker
