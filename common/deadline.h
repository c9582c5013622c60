// One deadline mechanism for every kind and policy. A run's deadline is an absolute wall-clock
// time in 64-bit microseconds, `TaskRecord::deadline_us` (0 = none), set by the claim (or, for a
// Slurm job, when Slurm starts it) from the task's `timeout_ms`. Executors only turn it into
// their own wait (poll, an Asio timer, an interval timer, an squeue poll) through these helpers,
// which saturate instead of overflowing: a 30-day or ten-year timeout waits in bounded chunks and
// fires on time, never early.
#pragma once

#include <climits>
#include <cstdint>
#include <limits>

namespace taskq {

inline constexpr uint64_t kNoDeadline = 0;

// The deadline `timeout_ms` after `start_us`; kNoDeadline when timeout_ms is 0.
constexpr uint64_t DeadlineAfter(uint64_t start_us, uint64_t timeout_ms) {
  if (timeout_ms == 0) return kNoDeadline;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const uint64_t span_us = timeout_ms > kMax / 1000 ? kMax : timeout_ms * 1000;
  return start_us > kMax - span_us ? kMax : start_us + span_us;
}

constexpr bool DeadlinePassed(uint64_t deadline_us, uint64_t now_us) {
  return deadline_us != kNoDeadline && now_us >= deadline_us;
}

// The deadline of a run that may be paused (`taskq pause`; paused_at_us = 0 when not): a pause
// stops the run's clock, so while it lasts the deadline moves on with time; resume then adds the
// pause to deadline_us for good.
constexpr uint64_t DeadlineWithPause(uint64_t deadline_us, uint64_t paused_at_us, uint64_t now_us) {
  if (deadline_us == kNoDeadline || paused_at_us == 0 || now_us <= paused_at_us) {
    return deadline_us;
  }
  const uint64_t pause = now_us - paused_at_us;
  return deadline_us > std::numeric_limits<uint64_t>::max() - pause
             ? std::numeric_limits<uint64_t>::max()
             : deadline_us + pause;
}

// A run's time so far (now_us) or in all (finished_us), less the time it spent paused.
constexpr uint64_t RunMicros(uint64_t started_us, uint64_t end_us, uint64_t paused_us,
                             uint64_t paused_at_us) {
  if (started_us == 0 || end_us <= started_us) return 0;
  uint64_t paused = paused_us;
  if (paused_at_us != 0 && end_us > paused_at_us) paused += end_us - paused_at_us;
  const uint64_t span = end_us - started_us;
  return span > paused ? span - paused : 0;
}

// Microseconds left; 0 once passed, UINT64_MAX when there is no deadline.
constexpr uint64_t MicrosUntil(uint64_t deadline_us, uint64_t now_us) {
  if (deadline_us == kNoDeadline) return std::numeric_limits<uint64_t>::max();
  return deadline_us > now_us ? deadline_us - now_us : 0;
}

// poll()'s timeout for the next wait: -1 with no deadline, else the milliseconds left rounded
// up (so the wait never ends early) and capped at INT_MAX (~24.8 days): the caller polls again
// until DeadlinePassed().
constexpr int PollTimeoutMs(uint64_t deadline_us, uint64_t now_us) {
  if (deadline_us == kNoDeadline) return -1;
  const uint64_t left_us = MicrosUntil(deadline_us, now_us);
  const uint64_t left_ms = left_us / 1000 + (left_us % 1000 != 0 ? 1 : 0);
  return left_ms > static_cast<uint64_t>(INT_MAX) ? INT_MAX : static_cast<int>(left_ms);
}

}  // namespace taskq
