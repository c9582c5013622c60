// The task lifecycle table (common/task_lifecycle.h) walked exhaustively: every (state, event)
// pair under every combination of facts, against the table written out here a second time in
// the plainest terms. A change to the lifecycle must change both.
#include "common/task_lifecycle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/task.h"

namespace taskq {
namespace {

std::vector<TaskState> AllStates() {
  std::vector<TaskState> states;
  for (uint32_t s = 0; s < kTaskStateCount; ++s) states.push_back(static_cast<TaskState>(s));
  return states;
}

std::vector<TaskEvent> AllEvents() {
  std::vector<TaskEvent> events;
  for (uint32_t e = 0; e < kTaskEventCount; ++e) events.push_back(static_cast<TaskEvent>(e));
  return events;
}

// Every combination of the facts that matter, with each possible verdict.
std::vector<TaskFacts> AllFacts() {
  std::vector<TaskFacts> all;
  for (TaskState reported : AllStates()) {
    for (int bits = 0; bits < 64; ++bits) {
      TaskFacts f;
      f.reported = reported;
      f.timeout_fired = (bits & 1) != 0;
      f.retry_allowed = (bits & 2) != 0;
      f.killable = (bits & 4) != 0;
      f.kill_requested = (bits & 8) != 0;
      f.paused = (bits & 16) != 0;
      f.retry_on = (bits & 32) != 0 ? kRetryOnAll : kRetryOnLost;
      all.push_back(f);
    }
  }
  return all;
}

// The expected table, written independently of the implementation.
TaskTransition Expected(TaskState state, TaskEvent event, const TaskFacts& f) {
  using S = TaskState;
  using E = TaskEvent;
  const bool finished = state == S::kSucceeded || state == S::kFailed || state == S::kTimedOut ||
                        state == S::kCancelled || state == S::kLost;
  if ((state == S::kFree || finished) && event == E::kReserve) return {true, S::kReserved, 0};
  if (finished && event == E::kRestart) {
    return {true, S::kQueued, kEffectRestart | kEffectRequeue | kEffectWakeWorkers};
  }
  // An attempt that ended in `end`: retried when `end` is a failure retry_on names and a retry
  // is left; otherwise the task ends so.
  auto ended = [&f](S end) -> TaskTransition {
    const bool failure = end == S::kFailed || end == S::kTimedOut || end == S::kLost;
    const bool named = (end == S::kFailed && (f.retry_on & kRetryOnAll) == kRetryOnAll) ||
                       (end == S::kTimedOut && (f.retry_on & kRetryOnAll) == kRetryOnAll) ||
                       end == S::kLost;
    if (failure && named && f.retry_allowed) {
      return {true, S::kQueued, kEffectRequeue | kEffectWakeWorkers | kEffectRetryDelay, end};
    }
    return {true, end, kEffectWakeWaiters, end};
  };
  if (state == S::kReserved && event == E::kPublish) {
    return {true, S::kQueued, kEffectWakeWorkers};
  }
  if (state == S::kQueued) {
    if (event == E::kClaim) return {true, S::kRunning, kEffectStartRun};
    if (event == E::kReject) return {true, S::kFailed, kEffectWakeWaiters};
    if (event == E::kCancel) return {true, S::kCancelled, kEffectWakeWaiters};
    if (event == E::kHold) return {true, S::kQueued, kEffectHold};
    if (event == E::kRelease) return {true, S::kQueued, kEffectRelease | kEffectWakeWorkers};
  }
  if (state == S::kRunning) {
    if (event == E::kExit) {
      S verdict = f.reported;
      const bool ends = verdict == S::kSucceeded || verdict == S::kFailed ||
                        verdict == S::kTimedOut || verdict == S::kCancelled || verdict == S::kLost;
      if (!ends) verdict = S::kFailed;
      if (f.kill_requested && verdict != S::kSucceeded) {
        verdict = S::kCancelled;
      } else if (f.timeout_fired && verdict != S::kSucceeded) {
        verdict = S::kTimedOut;
      }
      return ended(verdict);
    }
    if (event == E::kDeadline) return {true, S::kRunning, kEffectMarkTimeout};
    if (event == E::kCancel && f.killable) return {true, S::kRunning, kEffectRequestKill};
    if (event == E::kKill) return {true, S::kRunning, kEffectRequestKill};
    if (event == E::kPause && !f.paused) return {true, S::kRunning, kEffectPause};
    if (event == E::kResume && f.paused) return {true, S::kRunning, kEffectResume};
    if (event == E::kRunnerDied) {
      if (f.kill_requested) return ended(S::kCancelled);
      if (f.timeout_fired) return ended(S::kTimedOut);
      return ended(S::kLost);
    }
  }
  return {};
}

TEST(TaskLifecycle, EveryStateEventAndFactsPairMatchesTheTable) {
  size_t pairs = 0;
  size_t allowed = 0;
  for (TaskState state : AllStates()) {
    for (TaskEvent event : AllEvents()) {
      for (const TaskFacts& facts : AllFacts()) {
        const TaskTransition want = Expected(state, event, facts);
        const TaskTransition got = DecideTaskTransition(state, event, facts);
        const std::string where =
            std::string(TaskStateName(state)) + " x " + TaskEventName(event) + " (reported " +
            TaskStateName(facts.reported) + ", timeout " + std::to_string(facts.timeout_fired) +
            ", retry " + std::to_string(facts.retry_allowed) + ", killable " +
            std::to_string(facts.killable) + ", kill requested " +
            std::to_string(facts.kill_requested) + ", paused " + std::to_string(facts.paused) +
            ", retry_on " + std::to_string(facts.retry_on) + ")";
        ASSERT_EQ(got.allowed, want.allowed) << where;
        ++pairs;
        if (!got.allowed) continue;
        ++allowed;
        EXPECT_EQ(got.next, want.next) << where;
        EXPECT_EQ(got.effects, want.effects) << where;
        EXPECT_EQ(got.attempt_end, want.attempt_end) << where;
      }
    }
  }
  EXPECT_EQ(pairs, size_t{kTaskStateCount} * kTaskEventCount * kTaskStateCount * 64);
  EXPECT_GT(allowed, 0u);
}

// Properties any lifecycle must keep, checked over the same space.
TEST(TaskLifecycle, AResultIsFinalAndOnlyReserveOrRestartLeavesIt) {
  for (TaskState state : AllStates()) {
    if (!IsFinished(state)) continue;
    for (TaskEvent event : AllEvents()) {
      for (const TaskFacts& facts : AllFacts()) {
        const TaskTransition t = DecideTaskTransition(state, event, facts);
        EXPECT_EQ(t.allowed, event == TaskEvent::kReserve || event == TaskEvent::kRestart)
            << TaskStateName(state);
      }
    }
  }
}

TEST(TaskLifecycle, ARunAlwaysEndsWhenItsRunnerReportsOrDies) {
  for (const TaskFacts& facts : AllFacts()) {
    for (TaskEvent event : {TaskEvent::kExit, TaskEvent::kRunnerDied}) {
      const TaskTransition t = DecideTaskTransition(TaskState::kRunning, event, facts);
      ASSERT_TRUE(t.allowed);
      EXPECT_TRUE(IsFinished(t.next) || t.next == TaskState::kQueued) << TaskEventName(event);
      // Nobody waits forever: an end wakes the waiters, a requeue wakes a worker.
      EXPECT_NE(t.effects & (kEffectWakeWaiters | kEffectWakeWorkers), 0u);
    }
  }
}

TEST(TaskLifecycle, AFiredDeadlineNeverBecomesRetryOrLoss) {
  TaskFacts facts;
  facts.timeout_fired = true;
  facts.retry_allowed = true;
  EXPECT_EQ(DecideTaskTransition(TaskState::kRunning, TaskEvent::kRunnerDied, facts).next,
            TaskState::kTimedOut);
  facts.reported = TaskState::kSucceeded;  // finished just as the deadline fired: it succeeded
  EXPECT_EQ(DecideTaskTransition(TaskState::kRunning, TaskEvent::kExit, facts).next,
            TaskState::kSucceeded);
}

// `taskq kill`: whatever way the killed run ends but success, it is cancelled — never failed by
// the signal, lost with its worker, retried, or timed out by a deadline that fired meanwhile.
TEST(TaskLifecycle, AKilledRunEndsCancelled) {
  TaskFacts facts;
  facts.kill_requested = true;
  facts.retry_allowed = true;
  facts.timeout_fired = true;
  EXPECT_EQ(DecideTaskTransition(TaskState::kRunning, TaskEvent::kRunnerDied, facts).next,
            TaskState::kCancelled);
  for (TaskState reported : {TaskState::kFailed, TaskState::kLost, TaskState::kTimedOut}) {
    facts.reported = reported;
    EXPECT_EQ(DecideTaskTransition(TaskState::kRunning, TaskEvent::kExit, facts).next,
              TaskState::kCancelled);
  }
  EXPECT_FALSE(DecideTaskTransition(TaskState::kQueued, TaskEvent::kKill, facts).allowed)
      << "a queued task is cancelled, not killed";
}

TEST(TaskLifecycle, EveryEventHasAName) {
  for (TaskEvent event : AllEvents()) EXPECT_STRNE(TaskEventName(event), "?");
}

}  // namespace
}  // namespace taskq
