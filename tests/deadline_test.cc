// The one deadline mechanism (common/deadline.h) at its boundaries: none, 0 and 1 ms, 30 days,
// 50 days (past poll()'s int milliseconds, where the old pool exec wait overflowed), and the
// largest timeout the CLI accepts. Pure arithmetic: no clock is read.
#include "common/deadline.h"

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>

#include "common/task.h"

namespace taskq {
namespace {

constexpr uint64_t kNow = 1'800'000'000'000'000;  // a wall-clock time in µs (year 2027)
constexpr uint64_t kDayMs = 24ull * 3600 * 1000;

TEST(Deadline, NoTimeoutIsNoDeadline) {
  EXPECT_EQ(DeadlineAfter(kNow, 0), kNoDeadline);
  EXPECT_FALSE(DeadlinePassed(kNoDeadline, kNow));
  EXPECT_EQ(PollTimeoutMs(kNoDeadline, kNow), -1);
  EXPECT_EQ(MicrosUntil(kNoDeadline, kNow), UINT64_MAX);
}

TEST(Deadline, OneMillisecondWaitsOneMillisecondAndThenHasPassed) {
  const uint64_t d = DeadlineAfter(kNow, 1);
  EXPECT_EQ(d, kNow + 1000);
  EXPECT_EQ(PollTimeoutMs(d, kNow), 1);
  EXPECT_EQ(PollTimeoutMs(d, kNow + 1), 1);  // rounds up: never wakes early
  EXPECT_FALSE(DeadlinePassed(d, kNow + 999));
  EXPECT_TRUE(DeadlinePassed(d, kNow + 1000));
  EXPECT_EQ(PollTimeoutMs(d, kNow + 5000), 0);
  EXPECT_EQ(MicrosUntil(d, kNow + 5000), 0u);
}

TEST(Deadline, ThirtyDaysIsThirtyDays) {
  const uint64_t d = DeadlineAfter(kNow, 30 * kDayMs);
  EXPECT_EQ(d - kNow, 30 * kDayMs * 1000);
  // Past INT_MAX ms (24.8 days): the wait is chunked, it never wraps to a negative or short one.
  EXPECT_EQ(PollTimeoutMs(d, kNow), INT_MAX);
  EXPECT_FALSE(DeadlinePassed(d, kNow + 29 * kDayMs * 1000));
  EXPECT_EQ(PollTimeoutMs(d, kNow + 29 * kDayMs * 1000), static_cast<int>(kDayMs));
}

TEST(Deadline, FiftyDaysDoesNotFireAfterSevenHours) {
  // static_cast<int>(50 days in ms) is about 7 hours: the bug the chunked wait removes.
  const uint64_t d = DeadlineAfter(kNow, 50 * kDayMs);
  EXPECT_EQ(PollTimeoutMs(d, kNow), INT_MAX);
  EXPECT_FALSE(DeadlinePassed(d, kNow + 8ull * 3600 * 1000 * 1000));
}

TEST(Deadline, TheLargestTimeoutTheCliAcceptsFitsAndSaturatesBeyond) {
  const uint64_t d = DeadlineAfter(kNow, kMaxTimeoutMs);
  EXPECT_EQ(d - kNow, kMaxTimeoutMs * 1000);
  EXPECT_EQ(PollTimeoutMs(d, kNow), INT_MAX);
  EXPECT_EQ(DeadlineAfter(kNow, UINT64_MAX), UINT64_MAX);  // saturates, never wraps
  EXPECT_EQ(DeadlineAfter(UINT64_MAX - 5, 1), UINT64_MAX);
  EXPECT_FALSE(DeadlinePassed(DeadlineAfter(kNow, UINT64_MAX), kNow));
}

}  // namespace
}  // namespace taskq
