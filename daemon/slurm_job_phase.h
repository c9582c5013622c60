// Where a task's Slurm job is, as one state with a table of its steps (the `slurm` policy's
// part of the lifecycle tables; common/task_lifecycle.h has the task's own). The executor
// (daemon/slurm_executor.cc) translates what it sees — sbatch's answer, an squeue line, its own
// scancel — into these events and asks NextJobPhase() what follows; tests walk every pair
// (tests/slurm_job_phase_test.cc).
//
//   phase \ event     sbatch_started  sbatch_accepted  sbatch_failed  seen_running  scancel_sent
//   to_submit         submitting      -                -              -             -
//   submitting        -               pending          to_submit      -             -
//   pending           -               -                -              running       cancelling
//   running           -               -                -              running       cancelling
//   cancelling        -               -                -              cancelling    -
//
// (sbatch_failed is a transient failure: a retry follows after poll_interval; a permanent one
// ends the task. Any phase ends when squeue reports a final state, the job vanishes, or the
// controller stays unreachable: the task then leaves the executor.)
#pragma once

#include <cstdint>
#include <optional>

namespace taskq {

enum class JobPhase : uint8_t {
  kToSubmit,    // claimed, or waiting to retry sbatch after a transient failure
  kSubmitting,  // an sbatch runs for it
  kPending,     // Slurm has the job (its id is known) and has not started it
  kRunning,     // Slurm started it: its deadline is armed
  kCancelling,  // taskq sent scancel (a cancel, or the deadline); squeue will report the end
};
inline constexpr uint32_t kJobPhaseCount = 5;

enum class JobEvent : uint8_t {
  kSbatchStarted,
  kSbatchAccepted,
  kSbatchFailed,
  kSeenRunning,
  kScancelSent,
};
inline constexpr uint32_t kJobEventCount = 5;

const char* JobPhaseName(JobPhase phase);
const char* JobEventName(JobEvent event);

// The phase after `event`, or nullopt when the event does not apply in `phase` (nothing changes).
std::optional<JobPhase> NextJobPhase(JobPhase phase, JobEvent event);

// True in the phases where Slurm holds a job that scancel can stop.
inline bool HasJob(JobPhase phase) {
  return phase == JobPhase::kPending || phase == JobPhase::kRunning;
}

}  // namespace taskq
