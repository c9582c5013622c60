// Segment: the group table (issue 7). A group is a named FIFO with its own policy and
// parallelism; its tasks share the one ring with every other group and Pop() takes only its
// own. Row 0 is `default`, which always exists and follows the top-level configuration.
// Clients and the supervisor both edit the table under the lock; the supervisor notices the
// change through `groups_seq` and starts or stops the group's runners.
#include <algorithm>
#include <cstring>

#include "common/segment.h"
#include "fmt/format.h"

namespace taskq {

namespace {

std::string NameOf(const GroupEntry& g) {
  return std::string(g.name, strnlen(g.name, sizeof(g.name)));
}

Status BadName(const std::string& name) {
  return Status::Invalid(fmt::format(
      "group name: must be 1 to {} of the characters A-Z a-z 0-9 _ . - and not start with '.' "
      "or '-', got '{}'; choose a name like \"io-jobs\"",
      kGroupNameBytes - 1, name));
}

}  // namespace

int32_t Segment::FindGroupLocked(const std::string& name) {
  for (uint32_t i = 0; i < kMaxGroups; ++i) {
    const GroupEntry& g = header_->groups[i];
    if (g.in_use.load(std::memory_order_relaxed) != 0 && NameOf(g) == name) {
      return static_cast<int32_t>(i);
    }
  }
  return -1;
}

void Segment::RecountQueuedLocked() {
  std::memset(header_->queued_by_priority, 0, sizeof(header_->queued_by_priority));
  std::memset(header_->queued_by_user, 0, sizeof(header_->queued_by_user));
  uint32_t running = 0;
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    const uint32_t state = entry(slot).state.load();
    if (state == static_cast<uint32_t>(TaskState::kQueued)) CountQueuedLocked(slot, +1);
    if (state == static_cast<uint32_t>(TaskState::kRunning)) ++running;
  }
  header_->running_tasks.store(running, std::memory_order_relaxed);
}

Status Segment::AddGroup(const std::string& name, const GroupSettings& settings, bool from_config,
                         bool update) {
  if (!IsValidGroupName(name)) return BadName(name);
  if (settings.workers > kMaxWorkers) {
    return Status::Invalid(fmt::format("--workers: must be 0..{} (0 = one per CPU), got {}",
                                       kMaxWorkers, settings.workers));
  }
  if (read_only_) return ReadOnlyRefusal();
  Lock();
  int32_t row = FindGroupLocked(name);
  if (row >= 0 && !update) {
    Unlock();
    return Status::Invalid(
        fmt::format("group '{}' exists; remove it first, or change it in the configuration", name));
  }
  if (row < 0) {
    // Prefer rows never used, so finished tasks of a removed group keep showing its name.
    for (int pass = 0; pass < 2 && row < 0; ++pass) {
      for (uint32_t i = 1; i < kMaxGroups && row < 0; ++i) {
        const GroupEntry& g = header_->groups[i];
        if (g.in_use.load() == 0 && (pass == 1 || g.ever_used.load() == 0)) {
          row = static_cast<int32_t>(i);
        }
      }
    }
    if (row < 0) {
      Unlock();
      return Status::Invalid(
          fmt::format("group '{}': the group table is full ({} groups); remove a group first", name,
                      kMaxGroups));
    }
    GroupEntry& g = header_->groups[row];
    std::memset(g.name, 0, sizeof(g.name));
    std::memcpy(g.name, name.data(), name.size());
    g.paused.store(0);
    g.ever_used.store(1);
  }
  GroupEntry& g = header_->groups[row];
  g.policy.store(static_cast<uint32_t>(settings.policy));
  g.workers.store(settings.workers);
  g.max_parallel.store(settings.max_parallel);
  g.from_config.store(from_config ? 1 : 0);
  g.in_use.store(1);
  header_->groups_seq.fetch_add(1);
  Unlock();
  return Status::Ok();
}

Status Segment::RemoveGroup(const std::string& name) {
  if (name == "default") {
    return Status::Invalid("group 'default' always exists and cannot be removed");
  }
  if (read_only_) return ReadOnlyRefusal();
  Lock();
  const int32_t row = FindGroupLocked(name);
  if (row < 0) {
    Unlock();
    return Status::Invalid(fmt::format("no group '{}'; see `taskq group list`", name));
  }
  uint64_t busy = 0;
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    const uint32_t s = entry(slot).state.load();
    if ((s == static_cast<uint32_t>(TaskState::kQueued) ||
         s == static_cast<uint32_t>(TaskState::kRunning) ||
         s == static_cast<uint32_t>(TaskState::kReserved)) &&
        record(slot).group == static_cast<uint32_t>(row)) {
      ++busy;
    }
  }
  if (busy > 0) {
    Unlock();
    return Status::Failed(fmt::format(
        "group '{}' still has {} queued or running tasks; wait for them or cancel them first", name,
        busy));
  }
  header_->groups[row].in_use.store(0);
  header_->groups[row].paused.store(0);
  header_->groups_seq.fetch_add(1);
  Unlock();
  return Status::Ok();
}

Status Segment::SetGroupPaused(const std::string& name, bool paused) {
  if (read_only_) return ReadOnlyRefusal();
  Lock();
  const int32_t row = FindGroupLocked(name);
  if (row < 0) {
    Unlock();
    return Status::Invalid(fmt::format("no group '{}'; see `taskq group list`", name));
  }
  header_->groups[row].paused.store(paused ? 1 : 0);
  header_->groups_seq.fetch_add(1);
  Unlock();
  if (!paused) WakeWorkers(UINT32_MAX);
  return Status::Ok();
}

std::vector<GroupInfo> Segment::Groups() {
  std::vector<GroupInfo> out;
  // Group rows are atomics changed rarely: a read-only reader reads them without the lock.
  const bool locked = LockToRead();
  for (uint32_t i = 0; i < kMaxGroups; ++i) {
    const GroupEntry& g = header_->groups[i];
    if (g.in_use.load() == 0) continue;
    GroupInfo info;
    info.index = i;
    info.name = NameOf(g);
    const uint32_t policy = g.policy.load();
    info.settings.policy = policy <= static_cast<uint32_t>(Policy::kSlurm)
                               ? static_cast<Policy>(policy)
                               : Policy::kPool;
    info.settings.workers = std::min(g.workers.load(), kMaxWorkers);
    info.settings.max_parallel = g.max_parallel.load();
    info.paused = g.paused.load() != 0;
    info.from_config = g.from_config.load() != 0;
    out.push_back(std::move(info));
  }
  if (locked) Unlock();
  return out;
}

std::string Segment::GroupName(uint32_t index) {
  if (index >= kMaxGroups) return "";
  char name[kGroupNameBytes];
  std::memcpy(name, header_->groups[index].name, sizeof(name));
  name[kGroupNameBytes - 1] = '\0';
  return name;
}

}  // namespace taskq
