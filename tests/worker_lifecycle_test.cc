// The pool worker lifecycle table (common/worker_lifecycle.h) walked pair by pair against the
// table written out again here, and ApplyWorkerEvent on a real WorkerEntry.
#include "common/worker_lifecycle.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace taskq {
namespace {

std::optional<WorkerState> Expected(WorkerState s, WorkerEvent e) {
  using S = WorkerState;
  using E = WorkerEvent;
  if (e == E::kReaped || e == E::kReset) return S::kEmpty;
  if (s == S::kEmpty && e == E::kSpawn) return S::kStarting;
  if (s == S::kStarting && e == E::kSpawnFailed) return S::kEmpty;
  if (s == S::kStarting && e == E::kAttached) return S::kIdle;
  if ((s == S::kIdle || s == S::kBusy) && e == E::kClaim) return S::kBusy;
  if ((s == S::kIdle || s == S::kBusy) && e == E::kIdle) return S::kIdle;
  if (s != S::kEmpty && e == E::kRetire) return S::kExiting;
  return std::nullopt;
}

TEST(WorkerLifecycle, EveryStateEventPairMatchesTheTable) {
  int pairs = 0;
  for (uint32_t s = 0; s < kWorkerStateCount; ++s) {
    for (uint32_t e = 0; e < kWorkerEventCount; ++e) {
      const auto state = static_cast<WorkerState>(s);
      const auto event = static_cast<WorkerEvent>(e);
      EXPECT_EQ(DecideWorkerTransition(state, event), Expected(state, event))
          << WorkerStateName(state) << " x " << WorkerEventName(event);
      ++pairs;
    }
  }
  EXPECT_EQ(pairs, 40);
}

TEST(WorkerLifecycle, ApplyChangesTheRowOnlyWhenTheTableAllows) {
  WorkerEntry row{};
  EXPECT_FALSE(ApplyWorkerEvent(row, WorkerEvent::kClaim));  // an empty row runs nothing
  EXPECT_EQ(row.state.load(), static_cast<uint32_t>(WorkerState::kEmpty));
  EXPECT_TRUE(ApplyWorkerEvent(row, WorkerEvent::kSpawn));
  EXPECT_FALSE(ApplyWorkerEvent(row, WorkerEvent::kSpawn));  // a row is taken once
  EXPECT_TRUE(ApplyWorkerEvent(row, WorkerEvent::kAttached));
  EXPECT_TRUE(ApplyWorkerEvent(row, WorkerEvent::kClaim, std::memory_order_relaxed));
  EXPECT_EQ(row.state.load(), static_cast<uint32_t>(WorkerState::kBusy));
  EXPECT_TRUE(ApplyWorkerEvent(row, WorkerEvent::kRetire));
  EXPECT_FALSE(ApplyWorkerEvent(row, WorkerEvent::kIdle));  // an exiting worker stays exiting
  EXPECT_TRUE(ApplyWorkerEvent(row, WorkerEvent::kReaped));
  EXPECT_EQ(row.state.load(), static_cast<uint32_t>(WorkerState::kEmpty));
}

TEST(WorkerLifecycle, AnUnreadableStateWordIsClearedByReset) {
  WorkerEntry row{};
  row.state.store(77);
  EXPECT_FALSE(ApplyWorkerEvent(row, WorkerEvent::kClaim));
  EXPECT_TRUE(ApplyWorkerEvent(row, WorkerEvent::kReset));
  EXPECT_EQ(row.state.load(), static_cast<uint32_t>(WorkerState::kEmpty));
}

TEST(WorkerLifecycle, EveryNameIsKnown) {
  for (uint32_t s = 0; s < kWorkerStateCount; ++s) {
    EXPECT_STRNE(WorkerStateName(static_cast<WorkerState>(s)), "?");
  }
  for (uint32_t e = 0; e < kWorkerEventCount; ++e) {
    EXPECT_STRNE(WorkerEventName(static_cast<WorkerEvent>(e)), "?");
  }
}

}  // namespace
}  // namespace taskq
