#include "common/worker_lifecycle.h"

namespace taskq {

const char* WorkerEventName(WorkerEvent event) {
  switch (event) {
    case WorkerEvent::kSpawn:
      return "spawn";
    case WorkerEvent::kSpawnFailed:
      return "spawn_failed";
    case WorkerEvent::kAttached:
      return "attached";
    case WorkerEvent::kClaim:
      return "claim";
    case WorkerEvent::kIdle:
      return "idle";
    case WorkerEvent::kRetire:
      return "retire";
    case WorkerEvent::kReaped:
      return "reaped";
    case WorkerEvent::kReset:
      return "reset";
  }
  return "?";
}

const char* WorkerStateName(WorkerState state) {
  switch (state) {
    case WorkerState::kEmpty:
      return "empty";
    case WorkerState::kStarting:
      return "starting";
    case WorkerState::kIdle:
      return "idle";
    case WorkerState::kBusy:
      return "busy";
    case WorkerState::kExiting:
      return "exiting";
  }
  return "?";
}

std::optional<WorkerState> DecideWorkerTransition(WorkerState state, WorkerEvent event) {
  using S = WorkerState;
  switch (event) {
    case WorkerEvent::kReaped:
    case WorkerEvent::kReset:
      return S::kEmpty;  // whatever the row held, its process is gone
    case WorkerEvent::kSpawn:
      if (state == S::kEmpty) return S::kStarting;
      break;
    case WorkerEvent::kSpawnFailed:
      if (state == S::kStarting) return S::kEmpty;
      break;
    case WorkerEvent::kAttached:
      if (state == S::kStarting) return S::kIdle;
      break;
    case WorkerEvent::kClaim:
      if (state == S::kIdle || state == S::kBusy) return S::kBusy;
      break;
    case WorkerEvent::kIdle:
      if (state == S::kIdle || state == S::kBusy) return S::kIdle;
      break;
    case WorkerEvent::kRetire:
      if (state != S::kEmpty) return S::kExiting;
      break;
  }
  return std::nullopt;
}

bool ApplyWorkerEvent(WorkerEntry& row, WorkerEvent event, std::memory_order order) {
  uint32_t raw = row.state.load(std::memory_order_relaxed);
  for (;;) {
    // A scribbled word is read as empty: only reaped/reset apply then, and they clear it.
    const auto state =
        raw < kWorkerStateCount ? static_cast<WorkerState>(raw) : WorkerState::kEmpty;
    const std::optional<WorkerState> next = DecideWorkerTransition(state, event);
    if (!next) return false;
    if (row.state.compare_exchange_weak(raw, static_cast<uint32_t>(*next), order,
                                        std::memory_order_relaxed)) {
      return true;
    }
  }
}

}  // namespace taskq
