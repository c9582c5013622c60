// The write-ahead journal beside the segment (issue 17; docs/RELIABILITY.md "Durability"). The
// segment is the queue; the journal is what a reboot leaves of it. Each lock hold that wrote
// records appends their images here before it unlocks, so the journal's order is the lock's.
//
// The file `<state_dir>/journal` is a run of fixed-size entries, each the whole image of one slot
// (its directory row and its 1 KiB record) or of the group table, sealed with a CRC-32 and
// numbered consecutively. The newest image of a slot wins. Replay stops at the first entry that
// is short, fails its CRC or breaks the numbering: a power cut tears only what was never synced,
// and nothing after a torn entry was ever acknowledged. Compaction writes the live images to
// `journal.new` and renames it over the old file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/segment_format.h"
#include "common/status.h"

namespace taskq {

inline constexpr uint32_t kJournalMagic = 0x4c4e524a;  // "JRNL" little-endian
enum class JournalKind : uint32_t { kSlot = 1, kGroups = 2 };

struct JournalEntry {
  uint32_t magic;
  uint32_t crc;     // CRC-32 of every byte after this field
  uint64_t number;  // consecutive: each entry's is its predecessor's + 1
  uint32_t kind;    // JournalKind
  uint32_t slot;    // kSlot: the slot the image belongs to
  uint64_t id;      // kSlot: the directory row (id, state, owner pid)
  uint32_t state;
  int32_t owner_pid;
  uint64_t next_id;          // the header's next_id when the entry was written
  unsigned char body[1024];  // kSlot: the TaskRecord; kGroups: GroupEntry[kMaxGroups]
};
static_assert(sizeof(TaskRecord) == 1024 && sizeof(GroupEntry) * kMaxGroups == 1024);
static_assert(sizeof(JournalEntry) == 1072);

// Sets magic and crc (after every other field is written).
void SealJournalEntry(JournalEntry* entry);
// True when the entry is whole: magic, CRC, a known kind.
bool JournalEntryIntact(const JournalEntry& entry);

// What a scan found. Entries past `valid_bytes` were torn (or never written whole).
struct JournalScan {
  uint64_t entries = 0;
  uint64_t first_number = 0;
  uint64_t last_number = 0;
  uint64_t valid_bytes = 0;
  uint64_t file_bytes = 0;
};
// Reads `<state_dir>/journal` (relative to the directory's descriptor, never through a symlink)
// and calls `apply` on each intact entry, in order, up to the first one that is not. A missing
// journal is an empty one (`exists` false).
Status ScanJournal(const std::string& state_dir,
                   const std::function<void(const JournalEntry&)>& apply, JournalScan* scan,
                   bool* exists);

// Opens `<state_dir>/journal` for appending (O_APPEND, O_NOFOLLOW). -1 with errno on failure.
int OpenJournalForAppend(const std::string& state_dir);
// Replaces the journal: writes `entries` to `journal.new`, syncs it, renames it over `journal`
// and syncs the directory. On success `*fd` is an append descriptor of the new file.
Status ReplaceJournal(const std::string& state_dir, const std::vector<JournalEntry>& entries,
                      int* fd);
// Removes the journal (durability memory keeps none, and a stale one must not come back).
void RemoveJournal(const std::string& state_dir);

// This boot's id (/proc/sys/kernel/random/boot_id). TASKQ_TEST_BOOT_ID stands for it in tests
// (a power-cut test simulates the reboot).
std::string CurrentBootId();

}  // namespace taskq
