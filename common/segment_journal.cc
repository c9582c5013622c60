// The segment's side of durability (issue 17; common/journal.h has the file, docs/RELIABILITY.md
// the rules). Appends happen in Unlock(), under the segment lock, so the journal's order is the
// order in which holds changed the queue. Syncs happen outside it, under the header's sync lock:
// whoever syncs covers every entry appended before it started, so concurrent submitters and
// finishing runners share one fdatasync (group commit).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/clock.h"
#include "common/daemon_warning.h"
#include "common/journal.h"
#include "common/segment.h"
#include "common/shm_sync.h"
#include "fmt/format.h"

namespace taskq {

std::string HeaderBootId(const SegmentHeader& header) {
  return std::string(header.boot_id, strnlen(header.boot_id, sizeof(header.boot_id)));
}

Durability Segment::durability() const {
  return static_cast<Durability>(header_->durability.load(std::memory_order_acquire));
}

void Segment::NoteJournaledLocked(uint32_t slot) {
  if (header_->durability.load(std::memory_order_relaxed) == 0) return;
  // The entry this hold will append for the slot: numbered in the order of writing_.
  const uint64_t number =
      header_->journal_entries.load(std::memory_order_relaxed) + writing_.size();
  entry(slot).journaled.store(static_cast<uint32_t>(number), std::memory_order_release);
}

void Segment::SlotImageLocked(uint32_t slot, uint64_t number, JournalEntry* out) const {
  const SlotEntry& e = directory_[slot];
  out->number = number;
  out->kind = static_cast<uint32_t>(JournalKind::kSlot);
  out->slot = slot;
  out->id = e.id.load(std::memory_order_relaxed);
  out->state = e.state.load(std::memory_order_relaxed);
  out->owner_pid = e.owner_pid.load(std::memory_order_relaxed);
  out->next_id = header_->next_id;
  std::memcpy(out->body, static_cast<const void*>(&records_[slot]), sizeof(out->body));
  SealJournalEntry(out);
}

void Segment::GroupsImageLocked(uint64_t number, JournalEntry* out) const {
  std::memset(static_cast<void*>(out), 0, sizeof(*out));
  out->number = number;
  out->kind = static_cast<uint32_t>(JournalKind::kGroups);
  out->next_id = header_->next_id;
  std::memcpy(out->body, static_cast<const void*>(header_->groups), sizeof(out->body));
  SealJournalEntry(out);
}

void Segment::AppendHoldToJournalLocked() {
  if (header_->durability.load(std::memory_order_relaxed) == 0) return;
  const bool groups_changed =
      header_->groups_seq.load(std::memory_order_relaxed) != groups_seq_at_lock_;
  if (writing_.empty() && !groups_changed) return;
  uint64_t number = header_->journal_entries.load(std::memory_order_relaxed);
  journal_buffer_.resize(writing_.size() + (groups_changed ? 1 : 0));
  size_t i = 0;
  for (const uint32_t slot : writing_) {
    SlotImageLocked(slot, ++number, &journal_buffer_[i++]);
  }
  if (groups_changed) GroupsImageLocked(++number, &journal_buffer_[i++]);
  // Another process may have compacted the journal into a new file since this one opened it.
  const uint32_t generation = header_->journal_generation.load(std::memory_order_relaxed);
  if (journal_fd_ < 0 || journal_generation_ != generation) {
    if (journal_fd_ >= 0) ::close(journal_fd_);
    journal_fd_ = OpenJournalForAppend(state_dir());
    journal_generation_ = generation;
  }
  const size_t bytes = journal_buffer_.size() * sizeof(JournalEntry);
  const ssize_t n = journal_fd_ < 0 ? -1 : ::write(journal_fd_, journal_buffer_.data(), bytes);
  if (n != static_cast<ssize_t>(bytes)) {
    // The queue has changed already and cannot go back: what is not journaled is not durable.
    // Syncs report the error until the supervisor's next compaction writes everything afresh.
    const int err = n < 0 ? errno : ENOSPC;
    header_->journal_error.store(err == 0 ? EIO : err, std::memory_order_relaxed);
    WarnInDaemon(fmt::format("journal: cannot append {} entries: {}; compacting at the next tick",
                             journal_buffer_.size(), std::strerror(err)));
  }
  header_->journal_entries.store(number, std::memory_order_release);
}

Status Segment::MakeDurable() {
  if (header_->durability.load(std::memory_order_acquire) == 0) return Status::Ok();
  const uint64_t wanted = header_->journal_entries.load(std::memory_order_acquire);
  if (header_->journal_synced.load(std::memory_order_acquire) >= wanted) return Status::Ok();
  if (!LockRobust(&header_->sync_lock, [] {})) {
    return Status::Unavailable("journal: the sync lock is unusable; restart taskqd");
  }
  Status status;
  if (header_->journal_synced.load(std::memory_order_acquire) < wanted) {
    // Entries appended before this load are in the current file: compaction takes this lock
    // too, so the generation cannot move while it is held.
    const uint32_t generation = header_->journal_generation.load(std::memory_order_acquire);
    if (sync_fd_ < 0 || sync_generation_ != generation) {
      if (sync_fd_ >= 0) ::close(sync_fd_);
      sync_fd_ = OpenJournalForAppend(state_dir());
      sync_generation_ = generation;
    }
    const uint64_t covered = header_->journal_entries.load(std::memory_order_acquire);
    const int err = header_->journal_error.load(std::memory_order_relaxed);
    if (err != 0) {
      status = Status::Unavailable(
          fmt::format("journal: an append failed ({}); the task is queued but not durable yet",
                      std::strerror(err)));
    } else if (sync_fd_ < 0 || ::fdatasync(sync_fd_) != 0) {
      status = Status::Unavailable(
          fmt::format("journal: cannot sync {}/journal: {}; the task is queued but not durable yet",
                      state_dir(), std::strerror(errno)));
    } else {
      header_->journal_syncs.fetch_add(1, std::memory_order_relaxed);
      if (header_->journal_synced.load(std::memory_order_relaxed) < covered) {
        header_->journal_synced.store(covered, std::memory_order_release);
      }
    }
  }
  UnlockRobust(&header_->sync_lock);
  return status;
}

bool Segment::ResultDurable(uint64_t id) const {
  if (header_->durability.load(std::memory_order_acquire) !=
      static_cast<uint32_t>(Durability::kSync)) {
    return true;
  }
  const uint32_t journaled = directory_[SlotOf(id)].journaled.load(std::memory_order_acquire);
  const auto synced =
      static_cast<uint32_t>(header_->journal_synced.load(std::memory_order_acquire));
  return static_cast<int32_t>(synced - journaled) >= 0;
}

Status Segment::CompactJournal() {
  Lock();
  if (!LockRobust(&header_->sync_lock, [] {})) {
    Unlock();
    return Status::Unavailable("journal: the sync lock is unusable; restart taskqd");
  }
  uint64_t number = header_->journal_entries.load(std::memory_order_relaxed);
  std::vector<JournalEntry> entries;
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    const SlotEntry& e = entry(slot);
    if (e.state.load(std::memory_order_relaxed) == static_cast<uint32_t>(TaskState::kFree))
      continue;
    SlotImageLocked(slot, ++number, &entries.emplace_back());
  }
  GroupsImageLocked(++number, &entries.emplace_back());
  int fd = -1;
  const Status replaced = ReplaceJournal(state_dir(), entries, &fd);
  if (replaced.ok()) {
    for (uint32_t slot = 0; slot < capacity_; ++slot) {
      entry(slot).journaled.store(static_cast<uint32_t>(number), std::memory_order_relaxed);
    }
    header_->journal_entries.store(number, std::memory_order_release);
    header_->journal_synced.store(number, std::memory_order_release);
    header_->journal_compacted.store(number, std::memory_order_relaxed);
    header_->journal_error.store(0, std::memory_order_relaxed);
    header_->journal_generation.fetch_add(1, std::memory_order_release);
    if (journal_fd_ >= 0) ::close(journal_fd_);
    journal_fd_ = fd;
    journal_generation_ = header_->journal_generation.load(std::memory_order_relaxed);
  }
  UnlockRobust(&header_->sync_lock);
  Unlock();
  return replaced;
}

bool Segment::JournalWantsCompaction() const {
  if (header_->durability.load(std::memory_order_relaxed) == 0) return false;
  if (header_->journal_error.load(std::memory_order_relaxed) != 0) return true;
  // Past four times the table, or 16,384 entries (17 MiB) for a small one: replay and disk stay
  // bounded, and a compaction (one write of the live slots) stays rare.
  const uint64_t since = header_->journal_entries.load(std::memory_order_relaxed) -
                         header_->journal_compacted.load(std::memory_order_relaxed);
  return since > std::max<uint64_t>(16384, uint64_t{4} * capacity_);
}

void Segment::ReplayEntryLocked(const JournalEntry& in, JournalReplay* replay) {
  replay->next_id = std::max({replay->next_id, in.next_id, in.id + 1});
  if (in.kind == static_cast<uint32_t>(JournalKind::kGroups)) {
    std::memcpy(static_cast<void*>(header_->groups), in.body, sizeof(in.body));
    return;
  }
  if (in.slot >= capacity_ || in.state >= kTaskStateCount || in.id > kMaxTaskId ||
      (in.id != 0 && SlotOf(in.id) != in.slot)) {
    replay->skipped++;  // a journal of another capacity, or damage the CRC did not catch
    return;
  }
  SlotEntry& e = entry(in.slot);
  e.id.store(in.id, std::memory_order_relaxed);
  e.state.store(in.state, std::memory_order_relaxed);
  e.owner_pid.store(in.owner_pid, std::memory_order_relaxed);
  std::memcpy(static_cast<void*>(&records_[in.slot]), in.body, sizeof(in.body));
}

Status Segment::StartJournal(const Options& resolved, bool rebuild, JournalReplay* replay) {
  *replay = JournalReplay{};
  const std::string dir = state_dir();
  std::snprintf(header_->boot_id, sizeof(header_->boot_id), "%s", CurrentBootId().c_str());
  if (resolved.durability == Durability::kMemory) {
    header_->durability.store(0, std::memory_order_release);
    RemoveJournal(dir);  // a journal left by an earlier `sync` would bring back old tasks
    return Status::Ok();
  }
  if (rebuild) {
    // A fresh segment (shm after a reboot) or one from another boot (file): the journal is the
    // queue. Its images are laid into the empty table; what ran is gone with the old boot.
    JournalScan scan;
    bool exists = false;
    Lock();
    const Status read = ScanJournal(
        dir, [&](const JournalEntry& in) { ReplayEntryLocked(in, replay); }, &scan, &exists);
    uint32_t running = 0;
    for (uint32_t slot = 0; slot < capacity_; ++slot) {
      SlotEntry& e = entry(slot);
      const auto state = static_cast<TaskState>(e.state.load(std::memory_order_relaxed));
      if (state == TaskState::kFree) continue;
      replay->tasks++;
      if (state == TaskState::kRunning) {
        running++;
        replay->running.emplace_back(slot, e.id.load(std::memory_order_relaxed));
      }
    }
    header_->running_tasks.store(running, std::memory_order_relaxed);
    // The journal keeps no queue order: Repair() below links the queued tasks by id (it
    // resets the rest of each used slot's links; free slots' rows are never trusted).
    for (uint32_t slot = 0; slot < capacity_; ++slot) {
      if (StateOf(entry(slot)) != TaskState::kFree) link(slot).order = 0;
    }
    header_->next_order = 0;
    if (replay->next_id > header_->next_id) header_->next_id = replay->next_id;
    header_->submitted_total = header_->next_id - 1;
    header_->journal_entries.store(scan.last_number, std::memory_order_relaxed);
    replay->entries = scan.entries;
    replay->torn_bytes = scan.file_bytes - scan.valid_bytes;
    Unlock();
    if (!read.ok()) return read;
    if (replay->tasks > 0) Repair();  // the lists, the counts, the slots left reserved
  }
  header_->durability.store(static_cast<uint32_t>(resolved.durability), std::memory_order_release);
  // Compaction at every start: the journal then says exactly what the table holds, whatever
  // durability the last run had.
  TASKQ_RETURN_IF_ERROR(CompactJournal());
  for (const auto& [slot, id] : replay->running) {
    RunnerDied(slot, id, "the machine restarted while it ran", 0);
  }
  return Status::Ok();
}

bool SegmentFromAnotherBoot(const Options& resolved) {
  // Only a file segment outlives a boot. Its pages reached the disk in no particular order, so
  // after a power cut any of them may be old: with a journal to rebuild from, it is not read.
  if (resolved.storage != Storage::kFile || resolved.durability == Durability::kMemory) {
    return false;
  }
  // Without a journal the file is all there is (durability was memory before): keep it.
  struct stat journal {};
  if (::lstat((resolved.state_dir + "/journal").c_str(), &journal) != 0 ||
      !S_ISREG(journal.st_mode)) {
    return false;
  }
  const SegmentLocation location = LocateSegment(resolved);
  const int fd = ::open(location.file_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  auto header = std::make_unique<SegmentHeader>();
  const ssize_t n = ::pread(fd, static_cast<void*>(header.get()), sizeof(SegmentHeader), 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof(SegmentHeader))) return true;
  if (header->magic != kSegmentMagic || header->layout_version != kLayoutVersion) return true;
  return HeaderBootId(*header) != CurrentBootId();
}

}  // namespace taskq
