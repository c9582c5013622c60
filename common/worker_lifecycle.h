// The pool worker lifecycle, written down once (the companion of common/task_lifecycle.h).
//
// A worker row of the segment's worker table (WorkerEntry) moves through these states; the
// supervisor (daemon/pool.cc), the worker itself (daemon/worker.cc) and a restarted supervisor's
// recovery (daemon/recovery.cc, supervisor.cc at exit) all change it only through
// ApplyWorkerEvent(), which consults DecideWorkerTransition(), a pure function that tests walk
// pair by pair (tests/worker_lifecycle_test.cc).
//
//   state \ event  spawn     spawn_failed  attached  claim  idle  retire   reaped  reset
//   empty          starting  -             -         -      -     -        empty   empty
//   starting       -         empty         idle      -      -     exiting  empty   empty
//   idle           -         -             -         busy   idle  exiting  empty   empty
//   busy           -         -             -         busy   idle  exiting  empty   empty
//   exiting        -         -             -         -      -     exiting  empty   empty
//
// "reaped" is the supervisor seeing the worker's exit; "reset" a new supervisor (or one that is
// shutting down) clearing a row whatever it held. A refused event changes nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "common/segment_format.h"

namespace taskq {

enum class WorkerEvent : uint8_t {
  kSpawn,        // the supervisor takes an empty row for a new worker
  kSpawnFailed,  // fork failed: the row is free again
  kAttached,     // the worker mapped the segment and waits for work
  kClaim,        // it took a task (also the next one, claimed as the previous one ended)
  kIdle,         // it found no task
  kRetire,       // it leaves its loop (max_tasks_per_worker, a reload, shutdown)
  kReaped,       // the supervisor saw it exit
  kReset,        // a supervisor clears the row at start or exit
};
inline constexpr uint32_t kWorkerEventCount = 8;
inline constexpr uint32_t kWorkerStateCount = 5;
const char* WorkerEventName(WorkerEvent event);
const char* WorkerStateName(WorkerState state);

std::optional<WorkerState> DecideWorkerTransition(WorkerState state, WorkerEvent event);

// Applies `event` to the row's state when the table allows it; false (nothing changed) when it
// does not. The busy/idle steps of a worker's loop pass memory_order_relaxed: only the worker
// itself writes them, and readers (status, metrics) only display them.
bool ApplyWorkerEvent(WorkerEntry& row, WorkerEvent event,
                      std::memory_order order = std::memory_order_seq_cst);

}  // namespace taskq
