#include "common/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/crc.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "fmt/format.h"

namespace taskq {
namespace {

constexpr const char* kJournalName = "journal";
constexpr const char* kJournalNewName = "journal.new";

uint32_t EntryCrc(const JournalEntry& entry) {
  boost::crc_32_type crc;
  const auto* bytes = reinterpret_cast<const unsigned char*>(&entry);
  constexpr size_t kFrom = offsetof(JournalEntry, number);
  crc.process_bytes(bytes + kFrom, sizeof(JournalEntry) - kFrom);
  return crc.checksum();
}

// The state directory's descriptor: every journal file is opened relative to it. Not O_PATH, as
// elsewhere: the directory itself is fsynced after a rename.
int OpenStateDir(const std::string& state_dir) {
  return ::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

Status WriteAll(int fd, const void* data, size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable(std::strerror(n < 0 ? errno : ENOSPC));
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

void SealJournalEntry(JournalEntry* entry) {
  entry->magic = kJournalMagic;
  entry->crc = EntryCrc(*entry);
}

bool JournalEntryIntact(const JournalEntry& entry) {
  if (entry.magic != kJournalMagic || entry.crc != EntryCrc(entry)) return false;
  return entry.kind == static_cast<uint32_t>(JournalKind::kSlot) ||
         entry.kind == static_cast<uint32_t>(JournalKind::kGroups);
}

Status ScanJournal(const std::string& state_dir,
                   const std::function<void(const JournalEntry&)>& apply, JournalScan* scan,
                   bool* exists) {
  *scan = JournalScan{};
  *exists = false;
  const int dir = OpenStateDir(state_dir);
  if (dir < 0) {
    return Status::Unavailable(
        fmt::format("cannot open state directory {}: {}", state_dir, std::strerror(errno)));
  }
  const int fd = ::openat(dir, kJournalName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  const int open_errno = errno;
  ::close(dir);
  if (fd < 0) {
    if (open_errno == ENOENT) return Status::Ok();
    return Status::Unavailable(
        fmt::format("cannot open {}/{}: {}", state_dir, kJournalName, std::strerror(open_errno)));
  }
  *exists = true;
  struct stat st {};
  if (::fstat(fd, &st) == 0) scan->file_bytes = static_cast<uint64_t>(st.st_size);
  JournalEntry entry;
  for (;;) {
    const ssize_t n = ::pread(fd, &entry, sizeof(entry), static_cast<off_t>(scan->valid_bytes));
    if (n != static_cast<ssize_t>(sizeof(entry)) || !JournalEntryIntact(entry)) break;
    if (scan->entries > 0 && entry.number != scan->last_number + 1) break;
    if (scan->entries == 0) scan->first_number = entry.number;
    scan->last_number = entry.number;
    scan->entries++;
    scan->valid_bytes += sizeof(entry);
    apply(entry);
  }
  ::close(fd);
  return Status::Ok();
}

int OpenJournalForAppend(const std::string& state_dir) {
  const int dir = OpenStateDir(state_dir);
  if (dir < 0) return -1;
  const int fd = ::openat(dir, kJournalName, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
  const int saved = errno;
  ::close(dir);
  errno = saved;
  return fd;
}

Status ReplaceJournal(const std::string& state_dir, const std::vector<JournalEntry>& entries,
                      int* fd) {
  const int dir = OpenStateDir(state_dir);
  if (dir < 0) {
    return Status::Unavailable(
        fmt::format("cannot open state directory {}: {}", state_dir, std::strerror(errno)));
  }
  auto fail = [&](const char* step, int err, int file) {
    if (file >= 0) ::close(file);
    ::unlinkat(dir, kJournalNewName, 0);
    ::close(dir);
    return Status::Unavailable(
        fmt::format("cannot {} {}/{}: {}", step, state_dir, kJournalNewName, std::strerror(err)));
  };
  ::unlinkat(dir, kJournalNewName, 0);  // left by a compaction that died
  const int file = ::openat(dir, kJournalNewName,
                            O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (file < 0) return fail("create", errno, -1);
  const Status written = WriteAll(file, entries.data(), entries.size() * sizeof(JournalEntry));
  if (!written.ok()) return fail("write", errno != 0 ? errno : ENOSPC, file);
  if (::fdatasync(file) != 0) return fail("sync", errno, file);
  if (::renameat(dir, kJournalNewName, dir, kJournalName) != 0) return fail("rename", errno, file);
  ::fsync(dir);  // the rename itself must survive the power cut
  ::close(dir);
  *fd = file;
  return Status::Ok();
}

void RemoveJournal(const std::string& state_dir) {
  const int dir = OpenStateDir(state_dir);
  if (dir < 0) return;
  ::unlinkat(dir, kJournalName, 0);
  ::unlinkat(dir, kJournalNewName, 0);
  ::close(dir);
}

std::string CurrentBootId() {
  if (const char* test = std::getenv("TASKQ_TEST_BOOT_ID"); test != nullptr && *test != '\0') {
    return test;
  }
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

}  // namespace taskq
