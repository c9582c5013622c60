#include "common/task_lifecycle.h"

namespace taskq {
namespace {

constexpr TaskTransition Refuse() { return TaskTransition{}; }
constexpr TaskTransition To(TaskState next, uint32_t effects = kEffectNone) {
  return TaskTransition{true, next, effects, TaskState::kFree};
}

// An attempt ended in `end`: the task ends so, or is queued again when `end` is one the task
// retries and a retry is left. A killed run (cancelled) and a success are never retried.
TaskTransition EndAttempt(TaskState end, const TaskFacts& facts) {
  const bool retried = end != TaskState::kSucceeded && end != TaskState::kCancelled &&
                       facts.retry_allowed && (facts.retry_on & RetryBit(end)) != 0;
  TaskTransition t =
      retried ? To(TaskState::kQueued, kEffectRequeue | kEffectWakeWorkers | kEffectRetryDelay)
              : To(end, kEffectWakeWaiters);
  t.attempt_end = end;
  return t;
}

// How a run that reported its end finishes. A verdict that is not an end (a runner's bug) still
// ends the run, as failed, so no task stays running forever.
TaskState ExitState(const TaskFacts& facts) {
  TaskState verdict = IsFinished(facts.reported) ? facts.reported : TaskState::kFailed;
  if (verdict == TaskState::kSucceeded) return verdict;
  // A run someone killed ends cancelled; one killed at its deadline, timed_out, whatever way the
  // kill made it end. Its record says why.
  if (facts.kill_requested) return TaskState::kCancelled;
  if (facts.timeout_fired) return TaskState::kTimedOut;
  return verdict;
}

TaskTransition FromRunning(TaskEvent event, const TaskFacts& facts) {
  switch (event) {
    case TaskEvent::kExit:
      return EndAttempt(ExitState(facts), facts);
    case TaskEvent::kDeadline:
      return To(TaskState::kRunning, kEffectMarkTimeout);
    case TaskEvent::kCancel:
      return facts.killable ? To(TaskState::kRunning, kEffectRequestKill) : Refuse();
    case TaskEvent::kKill:
      return To(TaskState::kRunning, kEffectRequestKill);
    case TaskEvent::kPause:
      return facts.paused ? Refuse() : To(TaskState::kRunning, kEffectPause);
    case TaskEvent::kResume:
      return facts.paused ? To(TaskState::kRunning, kEffectResume) : Refuse();
    case TaskEvent::kRunnerDied:
      if (facts.kill_requested) return EndAttempt(TaskState::kCancelled, facts);
      if (facts.timeout_fired) return EndAttempt(TaskState::kTimedOut, facts);
      return EndAttempt(TaskState::kLost, facts);
    default:
      return Refuse();
  }
}

}  // namespace

const char* TaskEventName(TaskEvent event) {
  switch (event) {
    case TaskEvent::kReserve:
      return "reserve";
    case TaskEvent::kPublish:
      return "publish";
    case TaskEvent::kClaim:
      return "claim";
    case TaskEvent::kReject:
      return "reject";
    case TaskEvent::kExit:
      return "exit";
    case TaskEvent::kDeadline:
      return "deadline";
    case TaskEvent::kCancel:
      return "cancel";
    case TaskEvent::kKill:
      return "kill";
    case TaskEvent::kHold:
      return "hold";
    case TaskEvent::kRelease:
      return "release";
    case TaskEvent::kRunnerDied:
      return "runner_died";
    case TaskEvent::kPause:
      return "pause";
    case TaskEvent::kResume:
      return "resume";
    case TaskEvent::kRestart:
      return "restart";
  }
  return "?";
}

TaskTransition DecideTaskTransition(TaskState state, TaskEvent event, const TaskFacts& facts) {
  if (IsFinished(state)) {
    // A result stays until retention lets its slot go to a new id, or a user restarts it.
    if (event == TaskEvent::kReserve) return To(TaskState::kReserved);
    if (event == TaskEvent::kRestart) {
      return To(TaskState::kQueued, kEffectRestart | kEffectRequeue | kEffectWakeWorkers);
    }
    return Refuse();
  }
  switch (state) {
    case TaskState::kFree:
      return event == TaskEvent::kReserve ? To(TaskState::kReserved) : Refuse();
    case TaskState::kReserved:
      return event == TaskEvent::kPublish ? To(TaskState::kQueued, kEffectWakeWorkers) : Refuse();
    case TaskState::kQueued:
      switch (event) {
        case TaskEvent::kClaim:
          return To(TaskState::kRunning, kEffectStartRun);
        case TaskEvent::kReject:
          return To(TaskState::kFailed, kEffectWakeWaiters);
        case TaskEvent::kCancel:
          return To(TaskState::kCancelled, kEffectWakeWaiters);
        case TaskEvent::kHold:
          return To(TaskState::kQueued, kEffectHold);
        case TaskEvent::kRelease:
          return To(TaskState::kQueued, kEffectRelease | kEffectWakeWorkers);
        default:
          return Refuse();
      }
    case TaskState::kRunning:
      return FromRunning(event, facts);
    default:
      return Refuse();  // not a state at all (a scribbled word): Repair's business
  }
}

}  // namespace taskq
