// The Slurm job phase table (daemon/slurm_job_phase.h) walked pair by pair against the table
// written out again here. No cluster needed.
#include "daemon/slurm_job_phase.h"

#include <gtest/gtest.h>

#include <optional>

namespace taskq {
namespace {

std::optional<JobPhase> Expected(JobPhase p, JobEvent e) {
  using P = JobPhase;
  using E = JobEvent;
  if (p == P::kToSubmit && e == E::kSbatchStarted) return P::kSubmitting;
  if (p == P::kSubmitting && e == E::kSbatchAccepted) return P::kPending;
  if (p == P::kSubmitting && e == E::kSbatchFailed) return P::kToSubmit;
  if ((p == P::kPending || p == P::kRunning) && e == E::kSeenRunning) return P::kRunning;
  if (p == P::kCancelling && e == E::kSeenRunning) return P::kCancelling;
  if ((p == P::kPending || p == P::kRunning) && e == E::kScancelSent) return P::kCancelling;
  return std::nullopt;
}

TEST(SlurmJobPhase, EveryPhaseEventPairMatchesTheTable) {
  int pairs = 0;
  for (uint32_t p = 0; p < kJobPhaseCount; ++p) {
    for (uint32_t e = 0; e < kJobEventCount; ++e) {
      const auto phase = static_cast<JobPhase>(p);
      const auto event = static_cast<JobEvent>(e);
      EXPECT_EQ(NextJobPhase(phase, event), Expected(phase, event))
          << JobPhaseName(phase) << " x " << JobEventName(event);
      ++pairs;
    }
  }
  EXPECT_EQ(pairs, 25);
}

TEST(SlurmJobPhase, ScancelIsSentOnceAndOnlyForAJobSlurmHolds) {
  EXPECT_FALSE(NextJobPhase(JobPhase::kToSubmit, JobEvent::kScancelSent));
  EXPECT_FALSE(NextJobPhase(JobPhase::kSubmitting, JobEvent::kScancelSent));
  EXPECT_FALSE(NextJobPhase(JobPhase::kCancelling, JobEvent::kScancelSent));
  EXPECT_TRUE(HasJob(JobPhase::kPending));
  EXPECT_TRUE(HasJob(JobPhase::kRunning));
  EXPECT_FALSE(HasJob(JobPhase::kCancelling));
}

TEST(SlurmJobPhase, EveryNameIsKnown) {
  for (uint32_t p = 0; p < kJobPhaseCount; ++p) {
    EXPECT_STRNE(JobPhaseName(static_cast<JobPhase>(p)), "?");
  }
  for (uint32_t e = 0; e < kJobEventCount; ++e) {
    EXPECT_STRNE(JobEventName(static_cast<JobEvent>(e)), "?");
  }
}

}  // namespace
}  // namespace taskq
