// daemon/held_walk.h: when the supervisor walks the held list and which delays it hands over,
// decided from what the last walk found and the time given (no clock, no daemon).
#include "daemon/held_walk.h"

#include <gtest/gtest.h>

#include <chrono>

namespace taskq::testing {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr uint64_t kNow = 1'800'000'000'000'000;  // some Unix µs
constexpr auto kTick = milliseconds(50);

HeldSweep Found(uint32_t held, std::vector<HeldDelay> delays) {
  HeldSweep sweep;
  sweep.held = held;
  sweep.delays = std::move(delays);
  return sweep;
}

TEST(HeldWalkSchedule, TheFirstTickWalksThenOnlyAChange) {
  HeldWalkSchedule walks;
  EXPECT_TRUE(walks.WalkDue(false, kNow)) << "a found segment's held list is walked once at start";
  walks.Walked(Found(0, {}), kNow);
  EXPECT_FALSE(walks.WalkDue(false, kNow + 3'600'000'000)) << "nothing held: no walk, ever";
  EXPECT_TRUE(walks.WalkDue(true, kNow + 1)) << "a task joined the held list";
  EXPECT_EQ(walks.Sleep(kNow, kTick), kTick);
  EXPECT_TRUE(walks.TakeDue(kNow + 3'600'000'000).empty());
}

TEST(HeldWalkSchedule, DelaysAreHandedOverWhenDueEarliestFirstWithoutAWalk) {
  HeldWalkSchedule walks;
  walks.Walked(
      Found(4, {{kNow + 30'000, 7, 6}, {kNow + 20'000, 5, 4}, {kNow + 3'600'000'000, 9, 8}}), kNow);
  EXPECT_FALSE(walks.WalkDue(false, kNow + 25'000)) << "a delay falling due is no walk";
  EXPECT_EQ(walks.Sleep(kNow, kTick), microseconds(20'000)) << "the tick wakes for the delay";
  EXPECT_EQ(walks.Sleep(kNow + 10, kTick), microseconds(19'990));
  EXPECT_TRUE(walks.TakeDue(kNow + 19'999).empty());

  std::vector<HeldDelay> due = walks.TakeDue(kNow + 30'000);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].id, 5u);
  EXPECT_EQ(due[1].id, 7u);
  EXPECT_EQ(walks.delays(), 1u);
  EXPECT_EQ(walks.Sleep(kNow + 30'000, kTick), kTick) << "the next delay is an hour away";

  walks.StillWaiting({{kNow + 31'000, 7, 6}});  // the segment's clock read it a little early
  EXPECT_EQ(walks.Sleep(kNow + 30'500, kTick), microseconds(1'000)) << "at least 1 ms";
  EXPECT_EQ(walks.Sleep(kNow + 40'000, kTick), microseconds(1'000)) << "overdue: at once";
  due = walks.TakeDue(kNow + 31'000);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, 7u);
}

TEST(HeldWalkSchedule, TheDelaysOfNewJoinsJoinTheHeapWithoutAWalk) {
  HeldWalkSchedule walks;
  walks.Walked(Found(1, {{kNow + 3'600'000'000, 9, 8}}), kNow);
  walks.Joined(Found(2, {{kNow + 20'000, 5, 4}}));  // and one waiting on a dependency
  EXPECT_FALSE(walks.WalkDue(false, kNow + 1)) << "new joins are stepped, not walked";
  EXPECT_EQ(walks.delays(), 2u);
  EXPECT_EQ(walks.Sleep(kNow, kTick), microseconds(20'000)) << "the tick wakes for the new one";
  const std::vector<HeldDelay> due = walks.TakeDue(kNow + 20'000);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, 5u);
  EXPECT_TRUE(walks.WalkDue(false, kNow + HeldWalkSchedule::kSafetyWalkUs))
      << "the minute's walk still comes while they wait";
}

TEST(HeldWalkSchedule, AMinuteWithTasksHeldOrTheClockGoingBackMakesAWalk) {
  HeldWalkSchedule walks;
  walks.Walked(Found(2, {}), kNow);  // held or waiting on dependencies: no delay
  EXPECT_FALSE(walks.WalkDue(false, kNow + HeldWalkSchedule::kSafetyWalkUs - 1));
  EXPECT_TRUE(walks.WalkDue(false, kNow + HeldWalkSchedule::kSafetyWalkUs))
      << "every minute while anything is held (a broken dependency chain)";
  EXPECT_TRUE(walks.WalkDue(false, kNow - 1)) << "the wall clock went back";
}

}  // namespace
}  // namespace taskq::testing
