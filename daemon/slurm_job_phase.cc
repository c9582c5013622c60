#include "daemon/slurm_job_phase.h"

namespace taskq {

const char* JobPhaseName(JobPhase phase) {
  switch (phase) {
    case JobPhase::kToSubmit:
      return "to_submit";
    case JobPhase::kSubmitting:
      return "submitting";
    case JobPhase::kPending:
      return "pending";
    case JobPhase::kRunning:
      return "running";
    case JobPhase::kCancelling:
      return "cancelling";
  }
  return "?";
}

const char* JobEventName(JobEvent event) {
  switch (event) {
    case JobEvent::kSbatchStarted:
      return "sbatch_started";
    case JobEvent::kSbatchAccepted:
      return "sbatch_accepted";
    case JobEvent::kSbatchFailed:
      return "sbatch_failed";
    case JobEvent::kSeenRunning:
      return "seen_running";
    case JobEvent::kScancelSent:
      return "scancel_sent";
  }
  return "?";
}

std::optional<JobPhase> NextJobPhase(JobPhase phase, JobEvent event) {
  using P = JobPhase;
  switch (event) {
    case JobEvent::kSbatchStarted:
      if (phase == P::kToSubmit) return P::kSubmitting;
      break;
    case JobEvent::kSbatchAccepted:
      if (phase == P::kSubmitting) return P::kPending;
      break;
    case JobEvent::kSbatchFailed:
      if (phase == P::kSubmitting) return P::kToSubmit;
      break;
    case JobEvent::kSeenRunning:
      if (phase == P::kPending || phase == P::kRunning) return P::kRunning;
      if (phase == P::kCancelling) return P::kCancelling;  // it started before scancel took
      break;
    case JobEvent::kScancelSent:
      if (HasJob(phase)) return P::kCancelling;
      break;
  }
  return std::nullopt;
}

}  // namespace taskq
