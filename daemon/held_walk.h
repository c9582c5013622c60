// When the supervisor looks at the queue's held list (tasks waiting for a delay, a dependency or
// a `taskq release`). A dependency's end and a release move their tasks themselves; what is left
// is what time or a change decides:
//   - the tasks that joined the list since the last look (a delayed submit, a dependent whose
//     dependency failed, a retry waiting for its delay) are logged in the segment, and only they
//     are stepped (Segment::StepHeldJoins): a stream of delayed submits costs per submit, not a
//     look at every held task per tick;
//   - a walk of the whole list (Segment::SweepHeld) on the first tick (a found segment's list
//     was walked by an earlier supervisor), when the segment asks for one
//     (Segment::HeldListChanged: more joins than its log holds, a chain that broke), and once a
//     minute while anything is held (a dependency chain broken some other way than by a lock
//     holder dying mid-link, whose repair rebuilds the lists and so marks them, still releases
//     its tasks);
//   - between walks, the delays the last walk found wait in a heap here, and those whose time
//     has come are handed to Segment::ReleaseDue: a delayed task costs O(log n) when it falls
//     due, not a readiness check of every held task every 50 ms as until round 2 (issue 18).
// The supervisor's tick sleeps until the earliest delay when that is sooner than its 50 ms.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <queue>
#include <vector>

#include "common/segment.h"

namespace taskq {

class HeldWalkSchedule {
 public:
  static constexpr uint64_t kSafetyWalkUs = 60'000'000;

  // Whether to walk the whole held list now.
  bool WalkDue(bool list_changed, uint64_t now_us) const {
    if (walked_us_ == 0 || list_changed) return true;  // never walked, or the segment asks
    if (waiting_ == 0 && delays_.empty()) return false;
    if (now_us < walked_us_) return true;  // the wall clock went back: the delays are stale
    return now_us - walked_us_ >= kSafetyWalkUs;
  }

  // A walk's findings replace what the last one found.
  void Walked(HeldSweep&& sweep, uint64_t now_us);

  // What a step of the new joins found joins what the last walk found.
  void Joined(HeldSweep&& sweep);

  // The delays whose time has come, taken out of the heap (for Segment::ReleaseDue).
  std::vector<HeldDelay> TakeDue(uint64_t now_us);

  // Delays that ReleaseDue found still waiting (the clocks of two readings): back in the heap.
  void StillWaiting(const std::vector<HeldDelay>& delays);

  // How long the supervisor's tick may sleep: `tick`, or less when a delay ends sooner (at
  // least 1 ms: a delay is released on time, not by a busy loop).
  std::chrono::microseconds Sleep(uint64_t now_us, std::chrono::microseconds tick) const {
    if (delays_.empty()) return tick;
    const uint64_t due = delays_.top().due_us;
    if (due <= now_us) return std::chrono::microseconds(1000);
    return std::clamp(std::chrono::microseconds(due - now_us), std::chrono::microseconds(1000),
                      tick);
  }

  size_t delays() const { return delays_.size(); }

 private:
  struct Later {
    bool operator()(const HeldDelay& a, const HeldDelay& b) const { return a.due_us > b.due_us; }
  };
  using Heap = std::priority_queue<HeldDelay, std::vector<HeldDelay>, Later>;

  uint32_t waiting_ = 0;    // tasks the last walk left in the held list
  uint64_t walked_us_ = 0;  // Unix µs of the last walk, 0 before the first
  Heap delays_;
};

}  // namespace taskq
