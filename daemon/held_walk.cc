// The heap of HeldWalkSchedule (daemon/held_walk.h). Out of line: GCC 12, inlining the heap's
// sift into a caller with a constant heap (a test's), warns of impossible array bounds.
#include "daemon/held_walk.h"

namespace taskq {

void HeldWalkSchedule::Walked(HeldSweep&& sweep, uint64_t now_us) {
  waiting_ = sweep.held;
  walked_us_ = now_us;
  delays_ = Heap(Later{}, std::move(sweep.delays));
}

void HeldWalkSchedule::Joined(HeldSweep&& sweep) {
  waiting_ += sweep.held;  // an upper bound: only the minute's safety walk reads it
  for (const HeldDelay& d : sweep.delays) delays_.push(d);
}

std::vector<HeldDelay> HeldWalkSchedule::TakeDue(uint64_t now_us) {
  std::vector<HeldDelay> due;
  while (!delays_.empty() && delays_.top().due_us <= now_us) {
    due.push_back(delays_.top());
    delays_.pop();
  }
  return due;
}

void HeldWalkSchedule::StillWaiting(const std::vector<HeldDelay>& delays) {
  for (const HeldDelay& d : delays) delays_.push(d);
}

}  // namespace taskq
