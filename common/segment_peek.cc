// Light readers of the slot directory, for clients that wait on many tasks: no record is copied
// and, for PeekState, no lock is taken (a waiter polling 100,000 ids must not stall the runners
// that finish them).
#include <algorithm>

#include "common/segment.h"

namespace taskq {

std::optional<TaskState> Segment::PeekState(uint64_t id) {
  if (id == 0) return std::nullopt;
  const SlotEntry& e = entry(SlotOf(id));
  // Ids are never reused: when the slot holds `id` before and after the state is read, the state
  // is that task's.
  if (e.id.load(std::memory_order_acquire) != id) return std::nullopt;
  const uint32_t raw = e.state.load(std::memory_order_acquire);
  if (e.id.load(std::memory_order_acquire) != id || raw >= kTaskStateCount) return std::nullopt;
  const auto state = static_cast<TaskState>(raw);
  if (state == TaskState::kFree || state == TaskState::kReserved) return std::nullopt;
  return state;
}

std::atomic<uint32_t>* Segment::TaskStateWord(uint64_t id) {
  if (id == 0) return nullptr;
  SlotEntry& e = entry(SlotOf(id));
  return e.id.load(std::memory_order_acquire) == id ? &e.state : nullptr;
}

std::vector<uint64_t> Segment::UnfinishedIds() {
  std::vector<uint64_t> ids;
  const bool locked = LockToRead();
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    const SlotEntry& e = entry(slot);
    const auto state = static_cast<TaskState>(e.state.load(std::memory_order_relaxed));
    if (state == TaskState::kQueued || state == TaskState::kRunning) {
      ids.push_back(e.id.load(std::memory_order_relaxed));
    }
  }
  if (locked) Unlock();
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace taskq
