// The task lifecycle, written down once: what a task becomes when something happens to it.
//
// DecideTaskTransition() is a pure function of (state, event, facts): it touches no memory,
// clock or process, so tests walk every pair (tests/task_lifecycle_test.cc). The segment applies
// a decision through one call, Segment::TransitionLocked(), which checks the task's id and state
// under the lock, then derives the bookkeeping from the (from, to) pair alone: queued and running
// counters, finish stamps. Nothing else writes a task's state (Repair's scrapping of an
// unreadable state word is the one exception, in segment_repair.cc). Executors only translate
// what the OS reports (an exit status, a signal, a timer, an squeue line) into events.
//
// The table, state by state (an event not listed is refused):
//   free      reserve -> reserved
//   reserved  publish -> queued
//   queued    claim -> running; reject -> failed; cancel -> cancelled;
//             hold -> queued (+held mark); release -> queued (-held mark, wake a runner)
//   running   exit -> succeeded | cancelled (killed) | failed | timed_out (deadline) | lost,
//             or queued (+delay) when that end is in retry_on and a retry is left;
//             deadline -> running (+mark); cancel -> running (+kill, when killable: Slurm);
//             kill -> running (+kill); pause -> running (+paused mark, unless paused);
//             resume -> running (-paused mark, when paused); runner_died -> cancelled (killed) |
//             timed_out (deadline) | lost, or queued (+delay) as for exit
//   finished  reserve -> reserved (eviction of the result); restart -> queued (a new attempt
//             series: `taskq restart`)
//   (finished = succeeded, failed, timed_out, cancelled, lost)
//
// A run someone killed (`taskq kill`, kill_requested) that then ends in any way but success is
// cancelled: not failed by the signal, not lost with its worker, not retried.
//
// "-" is a refusal: the event came late (the task moved on) or names the wrong task, and the
// caller's effect is dropped. That is how a stale runner, a duplicate exit or a cancel racing a
// claim are made harmless, in one place.
#pragma once

#include <cstdint>

#include "common/segment_format.h"

namespace taskq {

enum class TaskEvent : uint8_t {
  kReserve,     // a submitter takes the slot for a new id (evicting a retained result)
  kPublish,     // the record is whole and its id is in the ring
  kClaim,       // a runner takes the task (ready: not delayed, dependencies succeeded)
  kReject,      // it can never run: unreadable record, or a dependency that did not succeed
  kExit,        // the runner reports how the run ended (exit status, signal, built-in result)
  kDeadline,    // its timeout passed: marked, and the executor kills it
  kCancel,      // a user asks for it to stop (running: only where its executor polls, Slurm)
  kKill,        // a user signals the running task (`taskq kill`): the executor delivers it
  kRunnerDied,  // its runner, worker, job or the supervisor itself vanished mid-run
  kHold,        // a user keeps a queued task back (`taskq hold`): not claimed until released
  kRelease,     // a user lets a held task run again (`taskq release`)
  kPause,       // a user stops a running task (`taskq pause`): its time stops counting
  kResume,      // a user lets a paused task go on (`taskq resume`)
  kRestart,     // a user runs a finished task again (`taskq restart`): new attempts, same id
};
inline constexpr uint32_t kTaskEventCount = 14;

// retry_on: the ends a task is retried after (--retry-on), as bits 1 << TaskState.
inline constexpr uint32_t RetryBit(TaskState s) { return 1u << static_cast<uint32_t>(s); }
inline constexpr uint32_t kRetryOnLost = RetryBit(TaskState::kLost);  // the default
inline constexpr uint32_t kRetryOnAll =
    RetryBit(TaskState::kFailed) | RetryBit(TaskState::kTimedOut) | RetryBit(TaskState::kLost);
const char* TaskEventName(TaskEvent event);

// What the decision needs beyond the state; every field has a safe default.
struct TaskFacts {
  TaskState reported = TaskState::kSucceeded;  // kExit: the runner's verdict
  bool timeout_fired = false;  // the deadline was marked, or has passed, for this run
  bool retry_allowed = false;  // kExit, kRunnerDied: attempts are left and the caller allows one
  uint32_t retry_on = kRetryOnLost;  // kExit, kRunnerDied: the ends that are retried
  bool killable = false;             // kCancel on a running task: its executor can stop it (Slurm)
  bool kill_requested = false;  // kExit, kRunnerDied: someone killed this run (kFlagCancelKill)
  bool paused = false;          // kPause, kResume: the run is paused now (kFlagPaused)
};

// Side effects beyond the state change; the segment carries them out.
enum TaskEffect : uint32_t {
  kEffectNone = 0,
  kEffectStartRun = 1u << 0,     // stamp the start, count the attempt, arm the deadline
  kEffectRequeue = 1u << 1,      // a new place at the back of the queue
  kEffectMarkTimeout = 1u << 2,  // record that the deadline fired (the outcome becomes timed_out)
  kEffectRequestKill = 1u << 3,  // ask the executor to kill the run (it polls the flag)
  kEffectWakeWaiters = 1u << 4,  // clients blocked in wait / --block
  kEffectWakeWorkers = 1u << 5,  // runners blocked on an empty queue
  kEffectHold = 1u << 6,         // set the held mark (kFlagHeld)
  kEffectRelease = 1u << 7,      // clear it
  kEffectPause = 1u << 8,        // set the paused mark and stamp when the pause began
  kEffectResume = 1u << 9,       // clear it; add the pause to paused time and to the deadline
  kEffectRetryDelay = 1u << 10,  // the next attempt waits retry_delay (not_before_us)
  kEffectRestart = 1u << 11,     // a new attempt series: retries count from here; results cleared
};

struct TaskTransition {
  bool allowed = false;
  TaskState next = TaskState::kFree;
  uint32_t effects = kEffectNone;
  // kExit, kRunnerDied: how the attempt ended (next, unless it is retried: then queued).
  TaskState attempt_end = TaskState::kFree;
};

TaskTransition DecideTaskTransition(TaskState state, TaskEvent event, const TaskFacts& facts);

}  // namespace taskq
