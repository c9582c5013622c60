// Segment: checking and repairing the invariants, so that what `doctor` reports is what
// `doctor --repair` (and every locker that finds the lock's holder dead) mends.
// RepairLocked() fixes as it walks, CheckLocked() only reports.
// Invariants:
//  1. next_id and next_order are below 2^62 (they only grow by one per task);
//  2. every slot's state is a known TaskState and its id maps onto it ((id - 1) % capacity);
//  3. no slot is kReserved outside the lock (a reserved slot seen under the lock was abandoned
//     by a submitter that died in its critical section);
//  4. every kQueued task is in exactly one queue list, and the lists are whole chains;
//  5. next_id is above every id in the table; finished_live counts the finished tasks.
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/segment.h"
#include "common/shm_sync.h"
#include "common/spawn.h"
#include "fmt/format.h"

namespace taskq {
namespace {

struct Walk {
  std::vector<std::string> problems;
  void Note(std::string what) { problems.push_back(std::move(what)); }
};

}  // namespace

std::vector<std::string> Segment::RepairLocked() {
  Walk walk;
  header_->lock_repairs++;
  // A holder that died mid-write left its slots' seq odd: the records are as it left them (the
  // checks below mend what matters), and lock-free readers may copy them again.
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    const uint32_t seq = entry(slot).seq.load(std::memory_order_relaxed);
    if ((seq & 1) != 0 && std::find(writing_.begin(), writing_.end(), slot) == writing_.end()) {
      entry(slot).seq.store(seq + 1, std::memory_order_release);
    }
  }
  if (header_->next_order >= kMaxTaskId) {
    walk.Note(
        fmt::format("queue order {} is impossible; tasks reordered by id", header_->next_order));
    header_->next_order = 0;
    for (uint32_t slot = 0; slot < capacity_; ++slot) {
      link(slot).order = std::min(entry(slot).id.load(), kMaxTaskId - 1);
    }
  }
  uint64_t max_id = 0;
  uint64_t finished = 0;
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    SlotEntry& e = entry(slot);
    uint32_t raw = e.state.load();
    uint64_t id = e.id.load();
    if (raw == static_cast<uint32_t>(TaskState::kFree)) continue;
    if (raw >= kTaskStateCount || id == 0 || id > kMaxTaskId || SlotOf(id) != slot) {
      walk.Note(
          fmt::format("slot {} holds state {} and id {}: corrupt; slot freed", slot, raw, id));
      e.id.store(0);
      e.state.store(static_cast<uint32_t>(TaskState::kFree));
      continue;
    }
    max_id = std::max(max_id, id);
    auto state = static_cast<TaskState>(raw);
    if (state == TaskState::kReserved) {
      walk.Note(fmt::format("task {} was being submitted by pid {}, which died; slot freed", id,
                            e.owner_pid.load()));
      e.id.store(0);
      e.state.store(static_cast<uint32_t>(TaskState::kFree));
    } else if (IsFinished(state)) {
      ++finished;
    }
  }
  // The lists are rebuilt every time, from the slot states as mended above, in each task's
  // order: a task a dying runner had unlinked, or a submitter had not linked yet, is back in
  // its place. Only damage is reported.
  const std::vector<std::string> broken = CheckListsLocked();
  if (!broken.empty()) {
    walk.Note(fmt::format(
        "{}{}; queue lists rebuilt", broken.front(),
        broken.size() > 1 ? fmt::format(" (and {} more)", broken.size() - 1) : std::string()));
  }
  RebuildListsLocked();
  if (header_->next_id <= max_id || header_->next_id >= kMaxTaskId) {
    walk.Note(fmt::format("next id {} is not above the largest id {} (or impossible); set to {}",
                          header_->next_id, max_id, max_id + 1));
    header_->next_id = max_id + 1;
  }
  if (header_->finished_live != finished) {
    walk.Note(fmt::format("finished count {} recounted as {}", header_->finished_live, finished));
    header_->finished_live = finished;
  }
  GroupEntry& default_group = header_->groups[0];
  if (default_group.in_use.load() == 0 ||
      std::strncmp(default_group.name, "default", kGroupNameBytes) != 0) {
    walk.Note("group row 0 was not `default`; restored");
    std::memset(default_group.name, 0, sizeof(default_group.name));
    std::snprintf(default_group.name, kGroupNameBytes, "default");
    default_group.in_use.store(1);
  }
  for (GroupEntry& g : header_->groups) g.name[kGroupNameBytes - 1] = '\0';
  // The per-priority counts are hints; recount them silently (a repair after a killed locker
  // always lands here, and a drifted hint is not worth a report of its own).
  RecountQueuedLocked();
  return walk.problems;
}

std::vector<std::string> Segment::CheckLocked() {
  Walk walk;
  if (header_->next_order >= kMaxTaskId) {
    walk.Note(fmt::format("queue order {} is impossible", header_->next_order));
  }
  uint64_t finished = 0;
  uint64_t max_id = 0;
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    SlotEntry& e = entry(slot);
    uint32_t raw = e.state.load();
    uint64_t id = e.id.load();
    if (raw == static_cast<uint32_t>(TaskState::kFree)) continue;
    if (raw >= kTaskStateCount || id == 0 || id > kMaxTaskId || SlotOf(id) != slot) {
      walk.Note(fmt::format("slot {} holds state {} and id {}: corrupt", slot, raw, id));
      continue;
    }
    max_id = std::max(max_id, id);
    auto state = static_cast<TaskState>(raw);
    int32_t owner = e.owner_pid.load();
    if (state == TaskState::kReserved) {
      walk.Note(fmt::format("task {} is half-submitted by pid {}", id, owner));
    } else if (state == TaskState::kRunning && !ProcessAlive(owner)) {
      walk.Note(fmt::format("task {} is running but its runner (pid {}) is gone", id, owner));
    } else if (IsFinished(state)) {
      ++finished;
    }
  }
  if (header_->next_id <= max_id || header_->next_id >= kMaxTaskId) {
    walk.Note(fmt::format("next id {} is not above the largest id {} (or impossible)",
                          header_->next_id, max_id));
  }
  if (header_->finished_live != finished) {
    walk.Note(fmt::format("finished count is {} but {} finished tasks are in the table",
                          header_->finished_live, finished));
  }
  if (header_->groups[0].in_use.load() == 0) walk.Note("group `default` is missing");
  for (std::string& problem : CheckListsLocked()) walk.Note(std::move(problem));
  return walk.problems;
}

std::vector<std::string> Segment::Repair() {
  std::vector<std::string> fixes;
  if (read_only_) return {ReadOnlyRefusal().message()};
  Lock();
  fixes = RepairLocked();
  header_->lock_repairs--;  // an explicit repair is not a lock-holder death
  Unlock();
  return fixes;
}

std::vector<std::string> Segment::Check() {
  // A reader that may not lock checks a snapshot taken while tasks move: a problem it reports
  // may be transient (`doctor` says so).
  if (read_only_) return CheckLocked();
  Lock();
  std::vector<std::string> problems = CheckLocked();
  Unlock();
  return problems;
}

}  // namespace taskq
