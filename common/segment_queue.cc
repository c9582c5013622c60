// Segment: the queue operations. Each one is a single critical section under the robust lock,
// ordered so that a process killed between any two stores leaves something Repair() can mend:
// a slot is kReserved (owner = the submitter) while it is written, and becomes kQueued only once
// its record is complete; it is linked in a queue list by the same transition
// (common/segment_lists.cc). Every walk over a list ends within `capacity` steps.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <utility>

#include "common/clock.h"
#include "common/daemon_warning.h"
#include "common/deadline.h"
#include "common/segment.h"
#include "common/shm_sync.h"
#include "fmt/format.h"

namespace taskq {
namespace {

void SetState(SlotEntry& e, TaskState s) {
  e.state.store(static_cast<uint32_t>(s), std::memory_order_release);
}

void CopyReason(const std::string& reason, TaskRecord* record) {
  std::snprintf(record->reason, sizeof(record->reason), "%s", reason.c_str());
}

}  // namespace

namespace {

// The wait before the next attempt of a retried task: retry_delay_ms, doubled per attempt of the
// series up to retry_delay_max_ms when that is set.
uint64_t RetryDelayMs(const TaskRecord& r) {
  uint64_t delay = r.retry_delay_ms;
  if (r.retry_delay_max_ms == 0 || delay == 0) return delay;
  const uint32_t first = std::max<uint32_t>(r.series_first_attempt, 1);
  for (uint32_t n = first; n < r.attempts && delay < r.retry_delay_max_ms; ++n) delay *= 2;
  return std::min<uint64_t>(delay, r.retry_delay_max_ms);
}

// Keeps how attempt `r.attempts` ended in the attempt log (the last kAttemptLog attempts).
void LogAttempt(TaskRecord* r, TaskState end, int32_t exit_code, int32_t signal) {
  if (r->attempts == 0) return;  // it never ran (a dependency failed, it was cancelled queued)
  AttemptEntry& e = r->attempt_log[(r->attempts - 1) % kAttemptLog];
  e.exit_code = exit_code;
  e.signal = static_cast<uint16_t>(signal > 0 && signal < 65536 ? signal : 0);
  e.state = static_cast<uint8_t>(end);
  e.reserved = 0;
}

// Retries left in the current series (from the first attempt or the last restart).
bool RetryLeft(const TaskRecord& r) {
  const uint32_t first = std::max<uint32_t>(r.series_first_attempt, 1);
  return r.attempts >= first && r.attempts - first < r.max_retries;
}

}  // namespace

Status ReadOnlyRefusal() {
  return Status::Unavailable(
      "this user may only read the queue's segment; ask the daemon (the taskq command does)");
}

void Segment::Lock() {
  if (!LockRobust(&header_->lock, [this] { RepairLocked(); })) {
    // Only EINVAL/ENOTRECOVERABLE land here, and we never leave the mutex unrecoverable.
    std::fprintf(stderr, "taskq: the segment lock is unusable; run `taskq doctor --repair`\n");
    std::abort();
  }
  groups_seq_at_lock_ = header_->groups_seq.load(std::memory_order_relaxed);
}

void Segment::Unlock() {
  AppendHoldToJournalLocked();
  // Every record written in this hold is whole now: its seq moves on to the next even value
  // before the lock is released, so a lock-free reader sees either the old or the new record.
  for (const uint32_t slot : writing_) entry(slot).seq.fetch_add(1, std::memory_order_release);
  writing_.clear();
  const bool wake_waiters = !ended_slots_.empty() || space_made_;
  const uint32_t workers = workers_to_wake_;
  workers_to_wake_ = 0;
  space_made_ = false;
  UnlockRobust(&header_->lock);
  // Under durability sync a waiter reports a result only once it is synced (ResultDurable):
  // with a waiter asleep, sync before the wake, or it would find the result not durable and
  // sleep again. Without one nobody waits for this sync: a polling waiter of the daemon's user
  // syncs itself, and the supervisor syncs every second (a runner that synced each result cut
  // pool throughput to a tenth, docs/PERFORMANCE.md).
  if (wake_waiters && durability() == Durability::kSync &&
      header_->waiters.load(std::memory_order_acquire) > 0) {
    (void)MakeDurable();
  }
  // After the unlock, so a woken process does not block on the lock just released.
  if (workers > 0) WakeWorkers(workers);
  if (wake_waiters) {
    WakeWaitersOf(ended_slots_);
    ended_slots_.clear();
  }
}

TaskTransition Segment::TransitionLocked(uint32_t slot, uint64_t id, TaskEvent event,
                                         const TaskFacts& facts, uint64_t now_us) {
  SlotEntry& e = entry(slot);
  if (e.id.load(std::memory_order_relaxed) != id) return TaskTransition{};
  const TaskState from = StateOf(e);
  const TaskTransition t = DecideTaskTransition(from, event, facts);
  if (!t.allowed) return t;
  const TaskState to = t.next;
  TaskRecord& r = WritableRecord(slot);
  if (from == TaskState::kQueued && to != TaskState::kQueued) {
    CountQueuedLocked(slot, -1);
    UnlinkLocked(slot);
    if (event == TaskEvent::kClaim) TEST_CrashPoint("pop-unlinked");
  }
  if (from == TaskState::kRunning && to != TaskState::kRunning) CountRunningLocked(-1);
  if (IsFinished(from) && !IsFinished(to) && header_->finished_live > 0) {
    header_->finished_live--;  // an evicted result
  }
  if ((t.effects & kEffectStartRun) != 0) {
    r.started_at_us = now_us;
    r.attempts++;
    r.attempt_log[(r.attempts - 1) % kAttemptLog] = AttemptEntry{-1, 0, 0, 0};  // under way
    r.flags &= ~(kFlagTimeoutFired | kFlagCancelKill | kFlagBatchJob | kFlagPaused);
    r.child_pid = 0;
    r.deadline_us = DeadlineAfter(now_us, r.timeout_ms);
    r.paused_at_us = 0;
    r.paused_us = 0;
  }
  if ((t.effects & kEffectMarkTimeout) != 0) r.flags |= kFlagTimeoutFired;
  if ((t.effects & kEffectRequestKill) != 0) r.flags |= kFlagCancelKill;
  if ((t.effects & kEffectHold) != 0) r.flags |= kFlagHeld;
  if ((t.effects & kEffectRelease) != 0) r.flags &= ~kFlagHeld;
  if ((t.effects & kEffectPause) != 0) {
    r.flags |= kFlagPaused;
    r.paused_at_us = now_us;
  }
  // A resume, or the end of a run that was paused (killed while stopped, its runner gone): the
  // pause is over and its time is paused time; the deadline moves by as much.
  if ((t.effects & kEffectResume) != 0 || (from == TaskState::kRunning && to != from)) {
    EndPauseLocked(&r, now_us);
  }
  if ((t.effects & kEffectRestart) != 0) {
    // A new series of attempts: the retries count again, the last end is gone.
    r.series_first_attempt = r.attempts + 1;
    r.flags &= ~(kFlagTimeoutFired | kFlagCancelKill | kFlagHeld);
    r.exit_code = -1;
    r.signal = 0;
    r.finished_at_us = 0;
    r.not_before_us = 0;
  }
  if ((t.effects & kEffectRetryDelay) != 0) {
    const uint64_t delay_ms = RetryDelayMs(r);
    r.not_before_us = delay_ms == 0 ? 0 : now_us + delay_ms * 1000;
  }
  if (IsFinished(to)) {
    r.finished_at_us = now_us;
    if (r.started_at_us == 0) r.started_at_us = now_us;
    e.owner_pid.store(0, std::memory_order_relaxed);
    header_->finished_live++;
    header_->finished_total++;
  }
  if (from == TaskState::kRunning && to == TaskState::kQueued) {
    e.owner_pid.store(0, std::memory_order_relaxed);
  }
  SetState(e, to);
  if (to == TaskState::kQueued && from != TaskState::kQueued) {
    // A new place at the back of the queue: submitted, retried, restarted or requeued.
    CountQueuedLocked(slot, +1);
    link(slot).order = header_->next_order++;
    EnqueueLocked(slot, now_us);
  } else if (to == TaskState::kQueued && (t.effects & (kEffectHold | kEffectRelease)) != 0) {
    EnqueueLocked(slot, now_us);  // held or released: the other list, same place in the order
  }
  if (to == TaskState::kRunning && from != TaskState::kRunning) CountRunningLocked(+1);
  if (IsFinished(to) && link(slot).dependents != 0) ReleaseDependentsLocked(slot, now_us);
  if (to == TaskState::kReserved) link(slot) = QueueLink{};  // a new task: no stale links
  if ((t.effects & kEffectWakeWaiters) != 0) ended_slots_.push_back(slot);
  if ((t.effects & kEffectWakeWorkers) != 0) ++workers_to_wake_;
  return t;
}

TaskRecord* Segment::RunningRecordLocked(uint32_t slot, uint64_t id) {
  SlotEntry& e = entry(slot);
  if (e.id.load() != id || StateOf(e) != TaskState::kRunning) return nullptr;
  return &WritableRecord(slot);
}

void Segment::CountRunningLocked(int delta) {
  const uint32_t running = header_->running_tasks.load(std::memory_order_relaxed);
  header_->running_tasks.store(delta < 0 ? (running > 0 ? running - 1 : 0) : running + 1,
                               std::memory_order_relaxed);
}

TaskRecord& Segment::WritableRecord(uint32_t slot) {
  std::atomic<uint32_t>& seq = entry(slot).seq;
  const uint32_t now = seq.load(std::memory_order_relaxed);
  if ((now & 1) == 0) {
    seq.store(now + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    writing_.push_back(slot);
    NoteJournaledLocked(slot);
  } else if (std::find(writing_.begin(), writing_.end(), slot) == writing_.end()) {
    writing_.push_back(slot);  // left odd by a holder that died mid-write: ours to end now
    NoteJournaledLocked(slot);
  }
  return records_[slot];
}

bool Segment::ClaimSlotLocked(uint64_t now_us, uint64_t* id, uint32_t* slot,
                              std::vector<uint64_t>* evicted) {
  const uint32_t retain_count = header_->retain_count.load(std::memory_order_relaxed);
  const uint64_t retain_age_us = header_->retain_age_ms.load(std::memory_order_relaxed) * 1000;
  // Ids map onto slots as (id - 1) % capacity. When the slot of the next id is busy (a task
  // still queued or running, or a result the retention policy keeps), that id is skipped: ids
  // stay unique and increasing, lookups stay O(1), and the oldest slot is reused first.
  for (uint32_t tries = 0; tries < capacity_; ++tries) {
    uint64_t candidate = header_->next_id;
    uint32_t s = SlotOf(candidate);
    SlotEntry& e = entry(s);
    TaskState state = StateOf(e);
    bool usable = state == TaskState::kFree;
    if (!usable && IsFinished(state)) {
      const TaskRecord& r = record(s);
      bool over_count = header_->finished_live > retain_count;
      bool too_old = r.finished_at_us + retain_age_us < now_us;
      if (over_count || too_old) {
        evicted->push_back(e.id.load(std::memory_order_relaxed));
        usable = true;  // the reserve transition takes it out of finished_live
      }
    }
    if (usable) {
      *id = candidate;
      *slot = s;
      header_->next_id = candidate + 1;
      return true;
    }
    header_->next_id = candidate + 1;
  }
  // Every slot holds a task or a result retention wants to keep. Results must not keep work
  // out (a capacity of 16 under the default retention of 10,000 once refused every submit with
  // nothing queued or running): the oldest result goes, retention or not. A queue whose slots
  // all hold queued or running tasks is full.
  for (uint32_t tries = 0; tries < capacity_; ++tries) {
    const uint64_t candidate = header_->next_id;
    const uint32_t s = SlotOf(candidate);
    header_->next_id = candidate + 1;
    if (!IsFinished(StateOf(entry(s)))) continue;
    evicted->push_back(entry(s).id.load(std::memory_order_relaxed));
    *id = candidate;
    *slot = s;
    return true;
  }
  return false;
}

bool Segment::QueueFieldsSaneLocked() const {
  // Every submitter can write the segment: bounds that loops and slot arithmetic rely on are
  // checked before each use, and Repair() rebuilds them when they are impossible.
  return header_->next_id != 0 && header_->next_id < kMaxTaskId && header_->next_order < kMaxTaskId;
}

void Segment::EnsureSaneLocked(const char* where) {
  if (QueueFieldsSaneLocked()) return;
  for (const std::string& fix : RepairLocked()) {
    WarnInDaemon(fmt::format("segment: impossible queue fields found by {}: {}", where, fix));
  }
}

uint64_t Segment::FindUnfinishedLabelledLocked(const std::string& label) {
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    const TaskState state = StateOf(entry(slot));
    if (state != TaskState::kQueued && state != TaskState::kRunning) continue;
    const TaskRecord& r = record(slot);
    if (r.label_count == 0) continue;
    TaskSpec spec;
    if (!DecodeSpec(r, &spec).ok()) continue;
    if (!spec.unique.empty() && "unique=" + spec.unique == label) return r.id;
    if (std::find(spec.labels.begin(), spec.labels.end(), label) != spec.labels.end()) return r.id;
  }
  return 0;
}

Status Segment::Submit(std::span<const TaskSpec> specs, std::vector<uint64_t>* ids,
                       std::optional<uint32_t> submitter_uid, std::vector<uint8_t>* existing) {
  if (read_only_) return ReadOnlyRefusal();
  // Encode outside the lock: it only touches a private record.
  std::vector<TaskRecord> encoded(specs.size());
  const uint64_t default_timeout = header_->default_timeout_ms.load(std::memory_order_relaxed);
  const uint32_t default_retries = header_->default_retries.load(std::memory_order_relaxed);
  const uint32_t my_uid = submitter_uid.value_or(geteuid());
  const int32_t me = getpid();
  for (size_t i = 0; i < specs.size(); ++i) {
    std::memset(static_cast<void*>(&encoded[i]), 0, sizeof(TaskRecord));
    TASKQ_RETURN_IF_ERROR(EncodeSpec(specs[i], &encoded[i]));
    encoded[i].timeout_ms = specs[i].timeout_ms.value_or(default_timeout);
    encoded[i].max_retries = specs[i].retries.value_or(default_retries);
    encoded[i].submitter_uid = my_uid;
    encoded[i].submitter_pid = me;
    encoded[i].exit_code = -1;
  }
  std::vector<uint64_t> evicted;
  size_t submitted = 0;
  Lock();
  EnsureSaneLocked("submit");
  const uint64_t now = NowUs();
  // Group names resolve under the lock, so a group cannot be removed between the lookup and
  // the insert; an unknown name refuses the whole batch before anything is queued.
  // A batch names few groups: each distinct run of names is looked up once.
  std::string_view last_name;
  int32_t row = -1;
  for (size_t i = 0; i < specs.size(); ++i) {
    const std::string_view name =
        specs[i].group.empty() ? std::string_view("default") : std::string_view(specs[i].group);
    if (i == 0 || name != last_name) {
      row = FindGroupLocked(std::string(name));
      last_name = name;
    }
    if (row < 0) {
      Unlock();
      return Status::Invalid(
          fmt::format("--group: no group '{}'; create it with `taskq group add {}` or in the "
                      "configuration's `groups:`, or see `taskq group list`",
                      name, name));
    }
    encoded[i].group = static_cast<uint32_t>(row);
  }
  uint64_t array_first = 0;  // this call's first array task
  for (; submitted < encoded.size(); ++submitted) {
    if (!specs[submitted].unique.empty()) {
      const uint64_t found = FindUnfinishedLabelledLocked("unique=" + specs[submitted].unique);
      if (found != 0) {
        ids->push_back(found);
        if (existing != nullptr) existing->push_back(1);
        continue;
      }
    }
    uint64_t id;
    uint32_t slot;
    if (!ClaimSlotLocked(now, &id, &slot, &evicted)) break;
    SlotEntry& e = entry(slot);
    // Reserved first, under the old id: a lock-free reader skips a reserved slot, so it never
    // pairs the new id with the old result.
    TransitionLocked(slot, e.id.load(std::memory_order_relaxed), TaskEvent::kReserve, {}, now);
    e.owner_pid.store(me, std::memory_order_relaxed);
    e.id.store(id, std::memory_order_relaxed);
    TEST_CrashPoint("submit-reserved");
    TaskRecord& r = WritableRecord(slot);
    std::memcpy(static_cast<void*>(&r), &encoded[submitted], sizeof(TaskRecord));
    r.id = id;
    r.submitted_at_us = now;
    if ((r.flags & kFlagArray) != 0) {
      if (array_first == 0) array_first = r.array_id != 0 ? r.array_id : id;
      if (r.array_id == 0) r.array_id = array_first;
    }
    TEST_CrashPoint("submit-written");
    // Queued and linked in one transition: a crash before it leaves a reserved slot (freed by
    // Repair()), one after it a queued task; a crash inside the linking, a list Repair() rebuilds.
    TransitionLocked(slot, id, TaskEvent::kPublish, {}, now);
    TEST_CrashPoint("submit-queued");
    header_->submitted_total++;
    ids->push_back(id);
    if (existing != nullptr) existing->push_back(0);
  }
  if (!evicted.empty()) space_made_ = true;  // --block waiters: space may have been made
  Unlock();                                  // wakes one worker per published task
  if (!evicted.empty()) RemoveTaskFiles(state_dir(), evicted);
  if (submitted < encoded.size()) {
    return Status::QueueFull(fmt::format(
        "queue is full ({} slots hold queued, running or retained tasks): wait and retry, use "
        "--block, or raise `capacity` / lower `retention`",
        capacity_));
  }
  return Status::Ok();
}

void Segment::WakeWorkers(uint32_t count) {
  header_->work_seq.fetch_add(1, std::memory_order_release);
  if (header_->idle_workers.load(std::memory_order_acquire) > 0) {
    FutexWake(&header_->work_seq, static_cast<int>(std::min<uint32_t>(count, INT32_MAX)));
  }
}

void Segment::WakeWaitersOf(const std::vector<uint32_t>& ended_slots) {
  // done_seq still moves at every end: an older client of this layout sleeps on it (it is no
  // longer woken, and looks again at its sleep's cap).
  header_->done_seq.fetch_add(1, std::memory_order_release);
  header_->space_seq.fetch_add(1, std::memory_order_release);
  // The ended states were stored before these loads (a sleeper registers before its futex call
  // compares the word): either it sees the new value or this sees it registered.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (header_->waiters.load(std::memory_order_relaxed) > 0) {
    // Each task's own word: a client waiting for one task wakes at its end, not at every end.
    for (const uint32_t slot : ended_slots) FutexWake(&entry(slot).state, INT32_MAX);
  }
  if (header_->space_waiters.load(std::memory_order_relaxed) > 0) {
    FutexWake(&header_->space_seq, INT32_MAX);
  }
}

void Segment::WakeEveryWaiter() {
  std::vector<uint32_t> unfinished;  // the words a waiter can sleep on
  if (header_->waiters.load(std::memory_order_acquire) > 0) {
    for (const uint64_t id : UnfinishedIds()) unfinished.push_back(SlotOf(id));
  }
  WakeWaitersOf(unfinished);
  AnswerPing();
}

void Segment::AnswerPing() {
  header_->pong_seq.fetch_add(1, std::memory_order_release);
  FutexWake(&header_->pong_seq, INT32_MAX);
}

void Segment::CountQueuedLocked(uint32_t slot, int delta) {
  const TaskRecord& r = record(slot);
  CountUserLocked(r.submitter_uid, delta);
  if (r.group >= kMaxGroups || r.priority >= kPriorityLevels) return;  // scribbled: Repair recounts
  uint64_t& count = header_->queued_by_priority[r.group][r.priority];
  if (delta > 0) {
    ++count;
  } else if (count > 0) {
    --count;
  }
}

void Segment::CountUserLocked(uint32_t uid, int delta) {
  SegmentHeader::UserCount* free_row = nullptr;
  for (SegmentHeader::UserCount& row : header_->queued_by_user) {
    if (row.queued != 0 && row.uid == uid) {
      if (delta > 0) {
        ++row.queued;
      } else {
        --row.queued;
      }
      return;
    }
    if (row.queued == 0 && free_row == nullptr) free_row = &row;
  }
  if (delta > 0 && free_row != nullptr) {
    free_row->uid = uid;
    free_row->queued = 1;
  }
}

bool Segment::OthersQueuedLocked(uint32_t uid) const {
  for (const SegmentHeader::UserCount& row : header_->queued_by_user) {
    if (row.queued != 0 && row.uid != uid) return true;
  }
  return false;
}

bool Segment::OthersQueuedInLaneLocked(uint32_t uid) const {
  bool table_full = true;  // then users beyond it go uncounted: any of them may share the lane
  for (const SegmentHeader::UserCount& row : header_->queued_by_user) {
    if (row.queued == 0) table_full = false;
    if (row.queued != 0 && row.uid != uid && UserLaneOf(row.uid) == UserLaneOf(uid)) return true;
  }
  return table_full;
}

uint64_t Segment::QueuedBy(uint32_t uid) {
  uint64_t queued = 0;
  const bool locked = LockToRead();
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    if (StateOf(entry(slot)) == TaskState::kQueued && record(slot).submitter_uid == uid) ++queued;
  }
  if (locked) Unlock();
  return queued;
}

Segment::Readiness Segment::ReadinessLocked(const TaskRecord& r, uint64_t now_us,
                                            std::string* why) {
  if (r.not_before_us > now_us) return Readiness::kWaiting;
  const uint32_t n = std::min(r.after_count, kMaxAfter);
  for (uint32_t i = 0; i < n; ++i) {
    const uint64_t dep = r.after[i];
    if (dep == 0 || dep >= r.id) {
      *why = fmt::format("dependency {} is not an earlier task", dep);
      return Readiness::kNever;
    }
    const SlotEntry& e = entry(SlotOf(dep));
    const TaskState state = StateOf(e);
    if (e.id.load(std::memory_order_relaxed) != dep || state == TaskState::kFree) {
      *why = fmt::format("dependency {} is no longer known (evicted by retention)", dep);
      return Readiness::kNever;
    }
    if (state == TaskState::kSucceeded) continue;
    if (IsFinished(state)) {
      *why = fmt::format("dependency {} ended {}", dep, TaskStateName(state));
      return Readiness::kNever;
    }
    return Readiness::kWaiting;  // queued, reserved or running
  }
  // Held after the dependencies: a held task whose dependency failed can never run either.
  if ((r.flags & kFlagHeld) != 0) return Readiness::kWaiting;
  return Readiness::kReady;
}

void Segment::FailWaitingLocked(uint32_t slot, const std::string& why, uint64_t now_us) {
  const uint64_t id = entry(slot).id.load(std::memory_order_relaxed);
  if (!TransitionLocked(slot, id, TaskEvent::kReject, {}, now_us).allowed) return;
  TaskRecord& r = WritableRecord(slot);
  CopyReason(why, &r);
  r.exit_code = -1;
}

bool Segment::Pop(int32_t runner_pid, ClaimedTask* task, uint32_t group) {
  if (group >= kMaxGroups) return false;
  Lock();
  const bool popped = PopLocked(runner_pid, task, group);
  Unlock();
  return popped;
}

bool Segment::CompleteAndPop(uint32_t slot, uint64_t id, const TaskOutcome& outcome,
                             int32_t runner_pid, ClaimedTask* next, uint32_t group) {
  if (outcome.state == TaskState::kLost || group >= kMaxGroups) {
    Finish(slot, id, outcome);
    return Pop(runner_pid, next, group);
  }
  // Dependents the completion released are woken by Unlock() (ReleaseDependentsLocked).
  Lock();
  CompleteLocked(slot, id, outcome);
  const bool popped = PopLocked(runner_pid, next, group);
  Unlock();
  return popped;
}

bool Segment::PopLocked(int32_t runner_pid, ClaimedTask* task, uint32_t group) {
  // Each pass takes one task off a ready list (claimed, rejected, or found not ready after all
  // and moved to the held list), so the loop ends.
  for (;;) {
    EnsureSaneLocked("pop");
    if (header_->groups[group].paused.load(std::memory_order_relaxed) != 0) return false;
    // The best priority with a ready task, and the oldest head among its users' lanes.
    uint32_t list = kNoList;
    bool rebuilt = false;
    for (int32_t p = kPriorityLevels - 1; p >= 0 && list == kNoList && !rebuilt; --p) {
      list = OldestReadyLocked(LaneSetOf(group, static_cast<uint32_t>(p)), std::nullopt, &rebuilt);
    }
    if (rebuilt) continue;
    if (list == kNoList) return false;
    const uint32_t head = header_->lists[list].head - 1;
    if (StateOf(entry(head)) != TaskState::kQueued || link(head).list != list) {
      WarnInDaemon("segment: a queue list named a task that is not queued in it; lists rebuilt");
      RebuildListsLocked();
      continue;
    }
    // The head, or another user's task when it is their turn: checked before it is claimed.
    const uint32_t slot = TakeTurnsLocked(head, group);
    const uint64_t now = NowUs();
    std::string why;
    switch (ReadinessLocked(record(slot), now, &why)) {
      case Readiness::kReady:
        break;
      case Readiness::kWaiting:  // a restarted dependency, say: back to the held list
        UnlinkLocked(slot);
        EnqueueLocked(slot, now);
        continue;
      case Readiness::kNever:
        FailWaitingLocked(slot, why, now);
        continue;
    }
    const uint64_t id = entry(slot).id.load(std::memory_order_relaxed);
    SlotEntry& e = entry(slot);
    TaskRecord& r = WritableRecord(slot);
    header_->last_served_uid[group] = r.submitter_uid;
    TaskSpec spec;
    const Status decoded = DecodeSpec(r, &spec);
    if (!decoded.ok()) {
      // A corrupt record fails alone; it must not stop the queue.
      WarnInDaemon(fmt::format("task {} rejected: {}", id, decoded.message()));
      TransitionLocked(slot, id, TaskEvent::kReject, {}, now);
      CopyReason("rejected: " + decoded.message(), &r);
      r.exit_code = -1;
      continue;
    }
    TransitionLocked(slot, id, TaskEvent::kClaim, {}, now);
    e.owner_pid.store(runner_pid, std::memory_order_relaxed);
    r.runner_pid = runner_pid;
    task->slot = slot;
    task->live_flags = &r.flags;
    task->live_record = &r;
    std::memcpy(static_cast<void*>(&task->record), &r, sizeof(TaskRecord));
    task->spec = std::move(spec);
    return true;
  }
}

uint32_t Segment::OldestReadyLocked(uint32_t lane_set, std::optional<uint32_t> other_than_uid,
                                    bool* rebuilt) {
  uint32_t best = kNoList;
  uint32_t& lanes = header_->ready_lanes[lane_set];
  for (uint32_t left = lanes; left != 0; left &= left - 1) {
    const uint32_t list = ReadyListInSet(lane_set, static_cast<uint32_t>(std::countr_zero(left)));
    if (!ListEndsSaneLocked(list)) {
      RebuildListsLocked();
      *rebuilt = true;
      return kNoList;
    }
    const uint32_t head = header_->lists[list].head;
    if (head == 0) {
      lanes &= ~LaneBit(list);  // a stale bit (its list emptied by a rebuild, a scribble)
      continue;
    }
    if (other_than_uid && record(head - 1).submitter_uid == *other_than_uid) continue;
    if (best == kNoList || OlderLocked(head - 1, header_->lists[best].head - 1)) best = list;
  }
  return best;
}

bool Segment::OlderLocked(uint32_t a, uint32_t b) {
  // Equal orders (tasks replayed from the journal have none) go by id, as a rebuild links them.
  return std::pair(link(a).order, entry(a).id.load(std::memory_order_relaxed)) <
         std::pair(link(b).order, entry(b).id.load(std::memory_order_relaxed));
}

uint32_t Segment::TakeTurnsLocked(uint32_t best, uint32_t group) {
  // Fair sharing: when the group served the best task's user last and another user has tasks
  // queued, the oldest ready task of the same priority of another user goes first
  // (docs/SECURITY.md, fair sharing); every task in a ready list is ready. Each user lane is a
  // list of its own, so that is the oldest head of another lane: no walk past the first user's
  // tasks, however many there are.
  const uint32_t best_uid = record(best).submitter_uid;
  if (header_->last_served_uid[group] != best_uid || !OthersQueuedLocked(best_uid)) return best;
  const uint32_t best_list = link(best).list;
  if (best_list <= kHeldList || best_list >= kListCount) return best;
  bool rebuilt = false;
  const uint32_t other = OldestReadyLocked(LaneSetOfList(best_list), best_uid, &rebuilt);
  if (rebuilt) return best;    // `best` is queued and linked again: it goes
  uint32_t pick = UINT32_MAX;  // the oldest task of another user found so far
  if (other != kNoList && StateOf(entry(header_->lists[other].head - 1)) == TaskState::kQueued) {
    pick = header_->lists[other].head - 1;
  }
  // Users whose uids share the best task's lane (uid modulo kUserLanes) are in its list: walked
  // only when one of them may have tasks queued, from the best task to the first of theirs,
  // and no further than the other lanes' oldest.
  if (!OthersQueuedInLaneLocked(best_uid)) return pick != UINT32_MAX ? pick : best;
  uint32_t at = link(best).next;
  for (uint32_t steps = 0; at != 0 && at <= capacity_ && steps < capacity_; ++steps) {
    const uint32_t slot = at - 1;
    if (link(slot).list != best_list) break;  // a broken chain: give up the walk
    if (pick != UINT32_MAX && OlderLocked(pick, slot)) break;
    if (StateOf(entry(slot)) == TaskState::kQueued && record(slot).submitter_uid != best_uid) {
      return slot;
    }
    at = link(slot).next;
  }
  return pick != UINT32_MAX ? pick : best;
}

HeldSweep Segment::SweepHeld() {
  HeldSweep sweep;
  Lock();
  EnsureSaneLocked("sweep");
  // Cleared before the walk: a task that joins the held list during it (a dependent of a task it
  // fails, a rebuild) sets it again, and the supervisor walks once more.
  header_->held_hint.store(0, std::memory_order_relaxed);
  header_->held_joined.store(0, std::memory_order_relaxed);  // the walk sees every one of them
  if (!ListEndsSaneLocked(kHeldList)) RebuildListsLocked();
  const uint64_t now = NowUs();
  // Only the held list is walked: the cost follows the tasks that wait, not the queue.
  uint32_t at = header_->lists[kHeldList].head;
  for (uint32_t steps = 0; at != 0 && at <= capacity_ && steps < capacity_; ++steps) {
    const uint32_t slot = at - 1;
    if (!QueuedInHeldListLocked(slot)) {
      RebuildListsLocked();  // a broken chain; the next sweep walks the rebuilt list
      break;
    }
    at = link(slot).next;  // before the slot moves to another list
    StepHeldLocked(slot, now, &sweep);
  }
  Unlock();  // wakes the waiters of failed dependents
  if (sweep.ready > 0) WakeWorkers(UINT32_MAX);
  return sweep;
}

HeldSweep Segment::StepHeldJoins() {
  HeldSweep sweep;
  Lock();
  EnsureSaneLocked("held joins");
  // Taken out of the log before they are stepped: a task that joins meanwhile (a dependent of a
  // task a step fails) is logged afresh for the next look.
  const uint32_t n = std::min(header_->held_joined.load(std::memory_order_relaxed), kHeldJoinLog);
  const std::vector<uint32_t> joined(header_->held_join_log, header_->held_join_log + n);
  header_->held_joined.store(0, std::memory_order_relaxed);
  const uint64_t now = NowUs();
  // One that moved on since it joined (released, cancelled, stepped already: a task can join
  // twice) is skipped.
  for (const uint32_t slot : joined) StepIfStillHeldLocked(slot, std::nullopt, now, &sweep);
  Unlock();  // wakes the waiters of failed dependents
  if (sweep.ready > 0) WakeWorkers(UINT32_MAX);
  return sweep;
}

HeldSweep Segment::ReleaseDue(const std::vector<HeldDelay>& due) {
  HeldSweep sweep;
  Lock();
  EnsureSaneLocked("release due");
  const uint64_t now = NowUs();
  // One that ended, was released, cancelled or moved since the walk that found it is skipped.
  for (const HeldDelay& d : due) StepIfStillHeldLocked(d.slot, d.id, now, &sweep);
  Unlock();  // wakes the waiters of failed dependents
  if (sweep.ready > 0) WakeWorkers(UINT32_MAX);
  return sweep;
}

void Segment::StepIfStillHeldLocked(uint32_t slot, std::optional<uint64_t> id, uint64_t now_us,
                                    HeldSweep* sweep) {
  if (slot >= capacity_ || (id && entry(slot).id.load(std::memory_order_relaxed) != *id)) return;
  if (QueuedInHeldListLocked(slot)) StepHeldLocked(slot, now_us, sweep);
}

void Segment::StepHeldLocked(uint32_t slot, uint64_t now_us, HeldSweep* sweep) {
  if (record(slot).group >= kMaxGroups) {
    FailWaitingLocked(slot, "rejected: the record names no group (corrupt)", now_us);
    ++sweep->failed;
    return;
  }
  std::string why;
  switch (ReadinessLocked(record(slot), now_us, &why)) {
    case Readiness::kNever:
      FailWaitingLocked(slot, why, now_us);
      ++sweep->failed;
      break;
    case Readiness::kWaiting: {
      ++sweep->held;
      const uint64_t not_before = record(slot).not_before_us;
      if (not_before > now_us) {
        sweep->delays.push_back(
            HeldDelay{not_before, entry(slot).id.load(std::memory_order_relaxed), slot});
      }
      // In no chain (its dependency was restarted after it was examined): join one, so the
      // dependency's end releases it at once.
      if (link(slot).waits_on == 0) AttachToBlockingDependencyLocked(slot);
      break;
    }
    case Readiness::kReady:
      EnqueueLocked(slot, now_us);
      ++sweep->ready;
      break;
  }
}

void Segment::SetRunner(uint32_t slot, uint64_t id, int32_t runner_pid) {
  Lock();
  if (TaskRecord* r = RunningRecordLocked(slot, id)) {
    entry(slot).owner_pid.store(runner_pid, std::memory_order_relaxed);
    r->runner_pid = runner_pid;
  }
  Unlock();
}

void Segment::Complete(uint32_t slot, uint64_t id, const TaskOutcome& o) {
  Lock();
  CompleteLocked(slot, id, o);
  Unlock();  // wakes the waiters, and runners for the dependents it released
}

bool Segment::CompleteLocked(uint32_t slot, uint64_t id, const TaskOutcome& o) {
  TaskRecord* running = RunningRecordLocked(slot, id);
  if (running == nullptr) return false;
  TaskFacts facts;
  facts.reported = o.state;
  facts.timeout_fired = (running->flags & kFlagTimeoutFired) != 0;
  facts.kill_requested = (running->flags & kFlagCancelKill) != 0;
  facts.retry_allowed = RetryLeft(*running);
  facts.retry_on = running->retry_on != 0 ? running->retry_on : kRetryOnLost;
  const uint64_t now = o.finished_at_us != 0 ? o.finished_at_us : NowUs();
  const TaskTransition t = TransitionLocked(slot, id, TaskEvent::kExit, facts, now);
  if (!t.allowed) return false;
  TaskRecord& r = *running;
  LogAttempt(&r, t.attempt_end, o.exit_code, o.signal);
  if (t.next == TaskState::kQueued) {
    // Retried (--retry-on): the attempt's end is in the attempt log and the reason; the task
    // shows no exit code until its last attempt ended.
    r.exit_code = -1;
    r.signal = 0;
    const std::string ended =
        o.reason.empty() ? fmt::format("exit code {}", o.exit_code) : o.reason;
    const uint64_t delay_ms = RetryDelayMs(r);
    CopyReason(delay_ms == 0 ? fmt::format("attempt {} {} ({}); retried", r.attempts,
                                           TaskStateName(t.attempt_end), ended)
                             : fmt::format("attempt {} {} ({}); retried in {} ms", r.attempts,
                                           TaskStateName(t.attempt_end), ended, delay_ms),
               &r);
    return true;
  }
  r.exit_code = o.exit_code;
  r.signal = o.signal;
  r.user_us = o.user_us;
  r.sys_us = o.sys_us;
  r.max_rss_kb = o.max_rss_kb;
  r.read_bytes = o.read_bytes;
  r.write_bytes = o.write_bytes;
  r.vol_ctxsw = o.vol_ctxsw;
  r.invol_ctxsw = o.invol_ctxsw;
  r.result_checksum = o.result_checksum;
  r.result_count = o.result_count;
  // A killed run keeps the kill's reason (who, which signal) and adds how the run ended.
  if (t.next == TaskState::kCancelled && facts.kill_requested && o.state != TaskState::kCancelled) {
    const std::string ended =
        o.reason.empty() ? fmt::format("exit code {}", o.exit_code) : o.reason;
    CopyReason(fmt::format("{}; {}", std::string(r.reason, strnlen(r.reason, kReasonBytes)), ended),
               &r);
  } else {
    CopyReason(o.reason, &r);
  }
  return true;
}

bool Segment::SetChild(uint32_t slot, uint64_t id, int32_t child_pid) {
  Lock();
  TaskRecord* r = RunningRecordLocked(slot, id);
  if (r != nullptr) r->child_pid = child_pid;
  const bool kill_requested = r != nullptr && (r->flags & kFlagCancelKill) != 0;
  Unlock();
  return kill_requested;
}

void Segment::SetBatchJob(uint32_t slot, uint64_t id, uint32_t job_id) {
  Lock();
  if (TaskRecord* r = RunningRecordLocked(slot, id)) {
    r->flags |= kFlagBatchJob;
    r->child_pid = static_cast<int32_t>(job_id);
  }
  Unlock();
}

void Segment::MarkStarted(uint32_t slot, uint64_t id, uint64_t started_at_us) {
  Lock();
  if (TaskRecord* r = RunningRecordLocked(slot, id)) {
    r->started_at_us = started_at_us;
    r->deadline_us = DeadlineAfter(started_at_us, r->timeout_ms);
  }
  Unlock();
}

void Segment::Finish(uint32_t slot, uint64_t id, const TaskOutcome& outcome) {
  if (outcome.state == TaskState::kLost) {
    RunnerDied(slot, id, outcome.reason, outcome.signal);
  } else {
    Complete(slot, id, outcome);
  }
}

TaskState Segment::RunnerDied(uint32_t slot, uint64_t id, const std::string& why, int32_t signal,
                              bool may_retry) {
  Lock();
  TaskRecord* running = RunningRecordLocked(slot, id);
  if (running == nullptr) {
    const TaskState now_state = StateOf(entry(slot));
    Unlock();
    return now_state;
  }
  TaskRecord& r = *running;
  const uint64_t now = NowUs();
  TaskFacts facts;
  facts.timeout_fired = (r.flags & kFlagTimeoutFired) != 0 ||
                        DeadlinePassed(DeadlineWithPause(r.deadline_us, r.paused_at_us, now), now);
  facts.retry_allowed = may_retry && RetryLeft(r);
  facts.retry_on = r.retry_on != 0 ? r.retry_on : kRetryOnLost;
  facts.kill_requested = (r.flags & kFlagCancelKill) != 0;
  r.signal = signal;
  if ((r.flags & kFlagBatchJob) == 0) r.child_pid = 0;  // a batch job id stays for the record
  const TaskTransition t = TransitionLocked(slot, id, TaskEvent::kRunnerDied, facts, now);
  const TaskState result = t.next;
  if (t.allowed) LogAttempt(&r, t.attempt_end, -1, signal);
  if (result == TaskState::kQueued) r.signal = 0;
  switch (result) {
    case TaskState::kCancelled:  // the kill's reason stays; add how the runner went
      CopyReason(fmt::format("{}; {}", std::string(r.reason, strnlen(r.reason, kReasonBytes)), why),
                 &r);
      break;
    case TaskState::kTimedOut:
      CopyReason(fmt::format("timed out after {} ms; killed", r.timeout_ms), &r);
      break;
    case TaskState::kQueued:
      CopyReason(fmt::format("attempt {} {} ({}); requeued", r.attempts,
                             TaskStateName(t.attempt_end), why),
                 &r);
      break;
    default:
      CopyReason(fmt::format("lost: {} (attempt {} of {})", why, r.attempts, r.max_retries + 1),
                 &r);
      break;
  }
  Unlock();  // wakes a worker for a requeued task, the waiters for an ended one
  return result;
}

void Segment::MarkTimeoutFired(uint32_t slot, uint64_t id) {
  Lock();
  TransitionLocked(slot, id, TaskEvent::kDeadline, {}, NowUs());
  Unlock();
}

Status Segment::LockTask(uint64_t id, uint32_t* slot) {
  if (id == 0) return Status::Invalid("task id: must be 1 or more");
  if (read_only_) return ReadOnlyRefusal();
  Lock();
  *slot = SlotOf(id);
  const SlotEntry& e = entry(*slot);
  if (e.id.load() != id || StateOf(e) == TaskState::kFree) {
    Unlock();
    return Status::Invalid(fmt::format("no task {} (never submitted, or evicted)", id));
  }
  return Status::Ok();
}

Status Segment::Cancel(uint64_t id) {
  uint32_t slot = 0;
  TASKQ_RETURN_IF_ERROR(LockTask(id, &slot));
  const TaskState state = StateOf(entry(slot));
  TaskFacts facts;
  facts.killable = (record(slot).flags & kFlagBatchJob) != 0;  // its executor cancels the job
  if (!TransitionLocked(slot, id, TaskEvent::kCancel, facts, NowUs()).allowed) {
    Unlock();
    if (state == TaskState::kRunning) {
      return Status::Failed(fmt::format(
          "task {} is running: cancel removes queued tasks; stop it with `taskq kill {}`", id, id));
    }
    return Status::Failed(
        fmt::format("task {} is {}: only queued tasks can be cancelled", id, TaskStateName(state)));
  }
  if (state == TaskState::kQueued) CopyReason("cancelled while queued", &WritableRecord(slot));
  Unlock();  // wakes the waiters of a cancelled task
  return Status::Ok();
}

bool ClaimedTask::KillRequested() const {
  if (live_flags == nullptr) return false;
  const uint32_t flags =
      std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(live_flags)).load(std::memory_order_relaxed);
  return (flags & kFlagCancelKill) != 0;
}

uint64_t ClaimedTask::LiveDeadline(uint64_t now_us) const {
  if (live_record == nullptr) return record.deadline_us;
  auto* live = const_cast<TaskRecord*>(live_record);
  const uint64_t deadline = std::atomic_ref<uint64_t>(live->deadline_us).load();
  const uint64_t paused_at = std::atomic_ref<uint64_t>(live->paused_at_us).load();
  return DeadlineWithPause(deadline, paused_at, now_us);
}

Status Segment::RequestKill(uint64_t id, const std::string& why, TaskRecord* running) {
  uint32_t slot = 0;
  TASKQ_RETURN_IF_ERROR(LockTask(id, &slot));
  const TaskState state = StateOf(entry(slot));
  if (!TransitionLocked(slot, id, TaskEvent::kKill, {}, NowUs()).allowed) {
    Unlock();
    if (state == TaskState::kQueued || state == TaskState::kReserved) {
      return Status::Failed(fmt::format(
          "task {} is queued: kill stops running tasks; remove it with `taskq cancel {}`", id, id));
    }
    return Status::Failed(
        fmt::format("task {} is {}: it has already ended", id, TaskStateName(state)));
  }
  TaskRecord& r = WritableRecord(slot);
  CopyReason(why, &r);
  std::memcpy(static_cast<void*>(running), &r, sizeof(TaskRecord));
  running->id = id;
  Unlock();
  return Status::Ok();
}

void Segment::EndPauseLocked(TaskRecord* r, uint64_t now_us) {
  if ((r->flags & kFlagPaused) == 0) return;
  r->deadline_us = DeadlineWithPause(r->deadline_us, r->paused_at_us, now_us);
  r->paused_us += now_us > r->paused_at_us ? now_us - r->paused_at_us : 0;
  r->paused_at_us = 0;
  r->flags &= ~kFlagPaused;
}

Status Segment::SetPaused(uint64_t id, bool paused, TaskRecord* running) {
  uint32_t slot = 0;
  TASKQ_RETURN_IF_ERROR(LockTask(id, &slot));
  const TaskState state = StateOf(entry(slot));
  TaskFacts facts;
  facts.paused = (record(slot).flags & kFlagPaused) != 0;
  if (state == TaskState::kRunning && facts.paused == paused) {
    Unlock();
    return Status::Failed(
        fmt::format("task {} is {} already", id, paused ? "paused" : "not paused"));
  }
  if ((record(slot).flags & kFlagBatchJob) != 0) {
    Unlock();
    return Status::Failed(fmt::format(
        "task {} runs as a Slurm job: pausing it needs `scontrol suspend`, which only Slurm's "
        "operators may run",
        id));
  }
  const TaskEvent event = paused ? TaskEvent::kPause : TaskEvent::kResume;
  if (!TransitionLocked(slot, id, event, facts, NowUs()).allowed) {
    Unlock();
    return Status::Failed(fmt::format("task {} is {}: only running tasks can be {}", id,
                                      TaskStateName(state), paused ? "paused" : "resumed"));
  }
  std::memcpy(static_cast<void*>(running), &record(slot), sizeof(TaskRecord));
  running->id = id;
  Unlock();
  return Status::Ok();
}

bool ClaimedTask::PauseRequested() const {
  if (live_flags == nullptr) return false;
  const uint32_t flags =
      std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(live_flags)).load(std::memory_order_relaxed);
  return (flags & kFlagPaused) != 0;
}

Status Segment::Restart(uint64_t id, const std::string& why) {
  uint32_t slot = 0;
  TASKQ_RETURN_IF_ERROR(LockTask(id, &slot));
  const TaskState state = StateOf(entry(slot));
  if (!TransitionLocked(slot, id, TaskEvent::kRestart, {}, NowUs()).allowed) {
    Unlock();
    return Status::Failed(fmt::format(
        "task {} is {}: only finished tasks can be restarted (a running one: `taskq kill {}` "
        "first)",
        id, TaskStateName(state), id));
  }
  CopyReason(why, &WritableRecord(slot));
  Unlock();  // wakes a runner
  return Status::Ok();
}

Status Segment::SetHeld(uint64_t id, bool held) {
  uint32_t slot = 0;
  TASKQ_RETURN_IF_ERROR(LockTask(id, &slot));
  const TaskState state = StateOf(entry(slot));
  const bool was_held = (record(slot).flags & kFlagHeld) != 0;
  if (held == was_held && state == TaskState::kQueued) {
    Unlock();
    return Status::Failed(fmt::format("task {} is {} already", id, held ? "held" : "not held"));
  }
  const TaskEvent event = held ? TaskEvent::kHold : TaskEvent::kRelease;
  if (!TransitionLocked(slot, id, event, {}, NowUs()).allowed) {
    Unlock();
    return Status::Failed(fmt::format("task {} is {}: only queued tasks can be {}", id,
                                      TaskStateName(state), held ? "held" : "released"));
  }
  Unlock();  // a release wakes a runner
  return Status::Ok();
}

void Segment::FillInfo(uint32_t slot, TaskInfo* info) {
  info->spec_valid = DecodeSpec(info->record, &info->spec).ok();
  info->state_dir = state_dir();
  info->group = info->record.group < kMaxGroups ? GroupName(info->record.group) : "";
  (void)slot;
}

TaskInfo Segment::InfoLocked(uint32_t slot) {
  TaskInfo info;
  info.state = StateOf(entry(slot));
  std::memcpy(static_cast<void*>(&info.record), &record(slot), sizeof(TaskRecord));
  info.record.id = entry(slot).id.load(std::memory_order_relaxed);
  FillInfo(slot, &info);
  return info;
}

bool Segment::CopySlotLockFree(uint32_t slot, uint64_t id, TaskInfo* info) {
  const SlotEntry& e = entry(slot);
  // A writer holds a slot odd for the few stores of one lock hold; one that died there leaves it
  // odd until the next locker repairs it, so give up after a while instead of spinning forever.
  for (int attempt = 0; attempt < 20000; ++attempt) {
    if (attempt >= 64) sched_yield();
    const uint32_t before = e.seq.load(std::memory_order_acquire);
    if ((before & 1) != 0) continue;
    const uint64_t slot_id = e.id.load(std::memory_order_acquire);
    const uint32_t raw = e.state.load(std::memory_order_acquire);
    if (slot_id == 0 || (id != 0 && slot_id != id) || raw >= kTaskStateCount) return false;
    const auto state = static_cast<TaskState>(raw);
    if (state == TaskState::kFree || state == TaskState::kReserved) return false;
    std::memcpy(static_cast<void*>(&info->record), &records_[slot], sizeof(TaskRecord));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (e.seq.load(std::memory_order_relaxed) != before ||
        e.id.load(std::memory_order_relaxed) != slot_id ||
        e.state.load(std::memory_order_relaxed) != raw) {
      continue;
    }
    info->state = state;
    info->record.id = slot_id;
    FillInfo(slot, info);
    return true;
  }
  return false;
}

bool Segment::Get(uint64_t id, TaskInfo* info) {
  if (id == 0) return false;
  uint32_t slot = SlotOf(id);
  if (!LockToRead()) return CopySlotLockFree(slot, id, info);
  bool found = entry(slot).id.load() == id && StateOf(entry(slot)) != TaskState::kFree &&
               StateOf(entry(slot)) != TaskState::kReserved;
  if (found) *info = InfoLocked(slot);
  Unlock();
  return found;
}

std::vector<TaskInfo> Segment::List() {
  std::vector<TaskInfo> out;
  const bool locked = LockToRead();
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    TaskState s = StateOf(entry(slot));
    if (s == TaskState::kFree || s == TaskState::kReserved) continue;
    if (locked) {
      out.push_back(InfoLocked(slot));
    } else {
      TaskInfo info;
      if (CopySlotLockFree(slot, 0, &info)) out.push_back(std::move(info));
    }
  }
  if (locked) Unlock();
  std::sort(out.begin(), out.end(),
            [](const TaskInfo& a, const TaskInfo& b) { return a.id() < b.id(); });
  return out;
}

StateCounts Segment::Count(bool by_group) {
  StateCounts counts;
  // Without the lock (a read-only reader) the counts are a snapshot taken while tasks move; a
  // group read from a record being rewritten is only bounds-checked, which a display tolerates.
  const bool locked = LockToRead();
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    uint32_t s = entry(slot).state.load(std::memory_order_relaxed);
    if (s >= kTaskStateCount || s <= static_cast<uint32_t>(TaskState::kReserved)) continue;
    counts.by_state[s]++;
    if (!by_group) continue;
    const uint32_t g = record(slot).group;
    if (g >= kMaxGroups) continue;
    if (s == static_cast<uint32_t>(TaskState::kQueued)) {
      counts.queued_by_group[g]++;
    } else if (s == static_cast<uint32_t>(TaskState::kRunning)) {
      counts.running_by_group[g]++;
    } else {
      counts.finished_by_group[g]++;
    }
  }
  counts.queue_depth = counts.by_state[static_cast<uint32_t>(TaskState::kQueued)];
  if (locked) Unlock();
  return counts;
}

std::vector<std::pair<uint32_t, uint64_t>> Segment::RunningOwnedBy(int32_t pid) {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  Lock();
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    SlotEntry& e = entry(slot);
    if (StateOf(e) == TaskState::kRunning && e.owner_pid.load() == pid) {
      out.emplace_back(slot, e.id.load());
    }
  }
  Unlock();
  return out;
}

std::vector<std::pair<uint32_t, TaskRecord>> Segment::Running() {
  std::vector<std::pair<uint32_t, TaskRecord>> out;
  Lock();
  // running_tasks moves with every state write (SetState) and Repair recounts it: at 0 there is
  // nothing to find, and the scan would make the whole slot directory resident (RSS of an idle
  // supervisor, which asks at every start).
  const uint32_t running = header_->running_tasks.load(std::memory_order_relaxed);
  for (uint32_t slot = 0; running > 0 && slot < capacity_; ++slot) {
    if (StateOf(entry(slot)) == TaskState::kRunning) {
      TaskRecord copy;
      std::memcpy(static_cast<void*>(&copy), &record(slot), sizeof(TaskRecord));
      copy.runner_pid = entry(slot).owner_pid.load();
      out.emplace_back(slot, copy);
    }
  }
  Unlock();
  return out;
}

}  // namespace taskq
