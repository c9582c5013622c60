// Segment: the queue's linked lists (issue 18). A queued task is in the ready list of its group
// and priority, ordered oldest first, or in the held list; Pop takes a list's head, so its cost
// does not grow with the number of tasks queued, delayed or waiting (docs/segment_format.md).
// Every walk here is bounded by the capacity: a chain broken by a holder that died mid-link
// cannot loop under the lock, and Repair() rebuilds the lists from the slot states.
#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "common/clock.h"
#include "common/segment.h"
#include "fmt/format.h"

namespace taskq {

bool Segment::ListEndsSaneLocked(uint32_t list) const {
  const QueueList& l = header_->lists[list];
  return l.head <= capacity_ && l.tail <= capacity_ && (l.head == 0) == (l.tail == 0);
}

void Segment::EnqueueLocked(uint32_t slot, uint64_t now_us) {
  const TaskRecord& r = record(slot);
  std::string why;
  // A record naming no group (scribbled) waits in the held list, where the sweep fails it.
  const bool ready = r.group < kMaxGroups && ReadinessLocked(r, now_us, &why) == Readiness::kReady;
  if (ready) {
    LinkLocked(slot, ReadyListOf(r.group, r.priority < kPriorityLevels ? r.priority : 0,
                                 UserLaneOf(r.submitter_uid)));
  } else {
    // Delayed, waiting on a dependency, held, or never to run (the sweep fails it with reason).
    LinkLocked(slot, kHeldList);
    LogHeldJoinLocked(slot);
    AttachToBlockingDependencyLocked(slot);
  }
}

void Segment::LogHeldJoinLocked(uint32_t slot) {
  const uint32_t n = header_->held_joined.load(std::memory_order_relaxed);
  if (n < kHeldJoinLog) {
    header_->held_join_log[n] = slot;
    header_->held_joined.store(n + 1, std::memory_order_relaxed);
  } else {
    header_->held_hint.store(1, std::memory_order_relaxed);  // too many to log: walk them all
  }
}

void Segment::AttachToBlockingDependencyLocked(uint32_t slot) {
  const uint32_t dep = BlockingDependencyLocked(record(slot));
  if (dep != UINT32_MAX) AttachDependentLocked(slot, dep);
}

uint32_t Segment::BlockingDependencyLocked(const TaskRecord& r) {
  const uint32_t n = std::min(r.after_count, kMaxAfter);
  for (uint32_t i = 0; i < n; ++i) {
    const uint64_t dep = r.after[i];
    if (dep == 0 || dep >= r.id) continue;
    const uint32_t dep_slot = SlotOf(dep);
    const SlotEntry& e = entry(dep_slot);
    const TaskState state = StateOf(e);
    if (e.id.load(std::memory_order_relaxed) == dep && state != TaskState::kFree &&
        !IsFinished(state)) {
      return dep_slot;
    }
  }
  return UINT32_MAX;
}

void Segment::AttachDependentLocked(uint32_t slot, uint32_t dep_slot) {
  DetachDependentLocked(slot);
  QueueLink& me = link(slot);
  QueueLink& dep = link(dep_slot);
  me.waits_on = dep_slot + 1;
  me.dep_prev = 0;
  me.dep_next = dep.dependents <= capacity_ ? dep.dependents : 0;
  if (me.dep_next != 0) link(me.dep_next - 1).dep_prev = slot + 1;
  dep.dependents = slot + 1;
}

void Segment::DetachDependentLocked(uint32_t slot) {
  QueueLink& me = link(slot);
  if (me.waits_on != 0 && me.waits_on <= capacity_ && me.dep_prev <= capacity_ &&
      me.dep_next <= capacity_) {
    if (me.dep_prev == 0) {
      QueueLink& dep = link(me.waits_on - 1);
      if (dep.dependents == slot + 1) dep.dependents = me.dep_next;
    } else if (link(me.dep_prev - 1).dep_next == slot + 1) {
      link(me.dep_prev - 1).dep_next = me.dep_next;
    }
    if (me.dep_next != 0 && link(me.dep_next - 1).dep_prev == slot + 1) {
      link(me.dep_next - 1).dep_prev = me.dep_prev;
    }
  }
  me.waits_on = me.dep_prev = me.dep_next = 0;
}

void Segment::LinkLocked(uint32_t slot, uint32_t list) {
  QueueLink& me = link(slot);
  if (me.list != kNoList) UnlinkLocked(slot);
  QueueList& l = header_->lists[list];
  if (!ListEndsSaneLocked(list)) {
    RebuildListsLocked();  // resets l; this slot is linked by the rebuild if it is queued
    if (link(slot).list != kNoList) UnlinkLocked(slot);
  }
  // Find the task to insert after: the last one with a smaller order. New work is the newest,
  // so this is the tail at once; a task released from the held list walks back to its place.
  // A task older than the head (a long delay ran out) goes first at once.
  uint32_t after = l.tail;
  if (l.head != 0 && link(l.head - 1).order > me.order) after = 0;
  for (uint32_t steps = 0; after != 0 && steps < capacity_; ++steps) {
    const QueueLink& other = link(after - 1);
    if (other.order <= me.order) break;
    after = other.prev <= capacity_ ? other.prev : 0;
  }
  const uint32_t before = after == 0 ? l.head : link(after - 1).next;
  me.prev = after;
  me.next = before <= capacity_ ? before : 0;
  me.list = list;
  if (after == 0) {
    l.head = slot + 1;
  } else {
    link(after - 1).next = slot + 1;
  }
  if (me.next == 0) {
    l.tail = slot + 1;
  } else {
    link(me.next - 1).prev = slot + 1;
  }
  ++l.length;
  if (list > kHeldList) header_->ready_lanes[LaneSetOfList(list)] |= LaneBit(list);
}

bool Segment::LinkedWhereItSaysLocked(uint32_t slot) {
  const QueueLink& me = link(slot);
  if (me.list >= kListCount || me.prev > capacity_ || me.next > capacity_) return false;
  if (!ListEndsSaneLocked(me.list)) return false;
  const QueueList& l = header_->lists[me.list];
  const bool prev_ok = me.prev == 0 ? l.head == slot + 1 : link(me.prev - 1).next == slot + 1;
  const bool next_ok = me.next == 0 ? l.tail == slot + 1 : link(me.next - 1).prev == slot + 1;
  return prev_ok && next_ok;
}

void Segment::UnlinkLocked(uint32_t slot) {
  QueueLink& me = link(slot);
  if (me.list == kNoList) return;
  if (!LinkedWhereItSaysLocked(slot)) {
    RebuildListsLocked();  // a scribbled link: start again from the slot states
    if (link(slot).list == kNoList) return;
  }
  QueueList& l = header_->lists[me.list];
  if (me.prev == 0) {
    l.head = me.next;
  } else {
    link(me.prev - 1).next = me.next;
  }
  if (me.next == 0) {
    l.tail = me.prev;
  } else {
    link(me.next - 1).prev = me.prev;
  }
  if (l.length > 0) --l.length;
  if (me.list > kHeldList && l.head == 0) {
    header_->ready_lanes[LaneSetOfList(me.list)] &= ~LaneBit(me.list);
  }
  me.prev = me.next = 0;
  me.list = kNoList;
  DetachDependentLocked(slot);
}

void Segment::ReleaseDependentsLocked(uint32_t slot, uint64_t now_us) {
  uint32_t at = link(slot).dependents;
  link(slot).dependents = 0;
  for (uint32_t steps = 0; at != 0 && at <= capacity_ && steps < capacity_; ++steps) {
    const uint32_t dependent = at - 1;
    QueueLink& d = link(dependent);
    if (d.waits_on != slot + 1) break;
    at = d.dep_next;
    d.waits_on = d.dep_prev = d.dep_next = 0;
    if (d.list != kHeldList || StateOf(entry(dependent)) != TaskState::kQueued) continue;
    EnqueueLocked(dependent, now_us);
    if (link(dependent).list != kHeldList) ++workers_to_wake_;
  }
  // A chain left before its end (broken, out of range, or a loop): the supervisor's next walk
  // of the held list finds every task that still waits.
  if (at != 0) header_->held_hint.store(1, std::memory_order_relaxed);
}

void Segment::RebuildListsLocked() {
  for (QueueList& l : header_->lists) l = QueueList{};
  for (uint32_t& lanes : header_->ready_lanes) lanes = 0;
  // The log of held joins may name slots of the lists just dropped: the next look walks them all.
  header_->held_joined.store(0, std::memory_order_relaxed);
  header_->held_hint.store(1, std::memory_order_relaxed);
  // (order, id, slot): equal orders (a queue replayed from the journal has none) go by id.
  std::vector<std::tuple<uint64_t, uint64_t, uint32_t>> queued;
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    // A free slot's link is left alone: touching every row would map the whole links region
    // into each supervisor at its start (its RSS); LinkLocked never trusts a stale row.
    if (StateOf(entry(slot)) == TaskState::kFree) continue;
    QueueLink& me = link(slot);
    me.prev = me.next = 0;
    me.list = kNoList;
    me.waits_on = me.dep_prev = me.dep_next = me.dependents = 0;
    if (StateOf(entry(slot)) == TaskState::kQueued) {
      const uint64_t id = entry(slot).id.load(std::memory_order_relaxed);
      if (me.order >= kMaxTaskId) me.order = std::min(id, kMaxTaskId - 1);  // scribbled
      queued.emplace_back(me.order, id, slot);
    }
  }
  std::sort(queued.begin(), queued.end());
  const uint64_t now = NowUs();
  for (const auto& [order, id, slot] : queued) {
    header_->next_order = std::max(header_->next_order, order + 1);
    EnqueueLocked(slot, now);
  }
}

std::vector<std::string> Segment::CheckListsLocked() {
  std::vector<std::string> problems;
  std::vector<uint8_t> seen(capacity_, 0);
  for (uint32_t list = kHeldList; list < kListCount; ++list) {
    if (!ListEndsSaneLocked(list)) {
      problems.push_back(fmt::format("queue list {} has impossible ends", list));
      continue;
    }
    uint32_t prev = 0;
    uint64_t length = 0;
    uint32_t at = header_->lists[list].head;
    for (; at != 0 && at <= capacity_ && length <= capacity_; at = link(at - 1).next) {
      const uint32_t slot = at - 1;
      const QueueLink& me = link(slot);
      const uint64_t id = entry(slot).id.load();
      if (me.list != list || me.prev != prev) {
        problems.push_back(fmt::format("queue list {} is broken at task {}", list, id));
        break;
      }
      if (StateOf(entry(slot)) != TaskState::kQueued) {
        problems.push_back(fmt::format("task {} is in a queue list but not queued", id));
      } else if (seen[slot]++ != 0) {
        problems.push_back(fmt::format("task {} is in the queue twice", id));
        break;
      }
      prev = at;
      ++length;
    }
    if (at > capacity_ || length > capacity_ || prev != header_->lists[list].tail ||
        length != header_->lists[list].length) {
      problems.push_back(fmt::format("queue list {} does not end where its header says", list));
    }
    // A pop finds a ready list by its lane bit: one not set strands its tasks.
    if (list > kHeldList && length > 0 &&
        (header_->ready_lanes[LaneSetOfList(list)] & LaneBit(list)) == 0) {
      problems.push_back(fmt::format("queue list {} is not marked as holding tasks", list));
    }
  }
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    if (StateOf(entry(slot)) == TaskState::kQueued && seen[slot] == 0) {
      problems.push_back(
          fmt::format("queued task {} is missing from the queue", entry(slot).id.load()));
    }
  }
  return problems;
}

}  // namespace taskq
