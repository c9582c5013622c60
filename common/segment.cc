// Segment: creating, attaching, validating and removing the mapping. Queue operations are in
// segment_queue.cc, repair and checks in segment_repair.cc.
#include "common/segment.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/clock.h"
#include "common/shm_sync.h"
#include "fmt/format.h"

namespace bip = boost::interprocess;

namespace taskq {

struct Segment::Mapping {
  bip::shared_memory_object shm;
  bip::file_mapping file;
  bip::mapped_region region;
};

std::string SegmentLocation::Describe() const {
  return storage == Storage::kShm ? "/dev/shm/" + shm_name : file_path;
}

SegmentLocation LocateSegment(const Options& resolved, uint32_t layout_version) {
  SegmentLocation location;
  location.storage = resolved.storage;
  location.shm_name = fmt::format("taskq.{}.v{}", resolved.queue, layout_version);
  location.file_path = fmt::format("{}/segment.v{}", resolved.state_dir, layout_version);
  return location;
}

Segment::~Segment() {
  mapping_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the supervisor's lock
  if (journal_fd_ >= 0) ::close(journal_fd_);
  if (sync_fd_ >= 0) ::close(sync_fd_);
}

std::string Segment::state_dir() const {
  return std::string(header_->state_dir, strnlen(header_->state_dir, kStateDirBytes));
}

namespace {

// The supervisor lock: a write lock on the segment's first byte, owned by an open file
// description (OFD) the supervisor opens for it alone and never maps, so the kernel drops it when
// the supervisor's descriptor goes (children close it as they start; see Segment::lock_fd_).
// Probing it with F_OFD_GETLK takes nothing: a probe that took a shared lock, even for a
// microsecond, could make a starting supervisor's exclusive attempt fail ("another taskqd already
// serves") right after its predecessor died.
struct flock SupervisorLockRange(short type) {
  struct flock range {};
  range.l_type = type;
  range.l_whence = SEEK_SET;
  range.l_start = 0;
  range.l_len = 1;
  return range;
}

}  // namespace

bool Segment::SupervisorAlive() const {
  if (supervisor_) return true;
  struct flock probe = SupervisorLockRange(F_WRLCK);
  if (fcntl(fd_, F_OFD_GETLK, &probe) != 0) return false;
  return probe.l_type != F_UNLCK;
}

Status Segment::Validate(uint64_t file_size) const {
  const std::string where = "segment";
  if (file_size < sizeof(SegmentHeader)) {
    return Status::Unavailable(fmt::format(
        "{} is {} bytes, smaller than a taskq header: not a taskq segment; remove it with "
        "`taskq purge` if it is stale",
        where, file_size));
  }
  if (header_->magic != kSegmentMagic) {
    return Status::Unavailable(
        fmt::format("{} has the wrong magic number: not a taskq segment (or a half-created one); "
                    "remove it with `taskq purge` if it is stale",
                    where));
  }
  if (header_->layout_version != kLayoutVersion) {
    return Status::Unavailable(fmt::format(
        "{} has layout version {}, this build reads {}: stop the other taskq version first", where,
        header_->layout_version, kLayoutVersion));
  }
  SegmentLayout layout = ComputeLayout(header_->capacity);
  if (header_->header_size != sizeof(SegmentHeader) || header_->record_size != sizeof(TaskRecord) ||
      header_->capacity < kMinCapacity || header_->capacity > kMaxCapacity ||
      header_->total_size != layout.total_size || file_size < layout.total_size) {
    return Status::Unavailable(
        fmt::format("{} has inconsistent sizes (capacity {}, total {} bytes, file {} bytes): "
                    "corrupt; remove it with `taskq purge`",
                    where, header_->capacity, header_->total_size, file_size));
  }
  return Status::Ok();
}

void Segment::InitializeFresh(const Options& resolved) {
  SegmentLayout layout = ComputeLayout(resolved.capacity);
  std::memset(static_cast<void*>(header_), 0, sizeof(SegmentHeader));
  header_->layout_version = kLayoutVersion;
  header_->header_size = sizeof(SegmentHeader);
  header_->record_size = sizeof(TaskRecord);
  header_->capacity = resolved.capacity;
  header_->total_size = layout.total_size;
  InitRobustMutex(&header_->lock);
  InitRobustMutex(&header_->sync_lock);
  header_->next_id = 1;
  GroupEntry& default_group = header_->groups[0];
  std::snprintf(default_group.name, kGroupNameBytes, "default");
  default_group.policy.store(static_cast<uint32_t>(resolved.policy));
  default_group.workers.store(resolved.workers);
  default_group.max_parallel.store(resolved.max_parallel);
  default_group.ever_used.store(1);
  default_group.in_use.store(1);
  std::snprintf(header_->state_dir, kStateDirBytes, "%s", resolved.state_dir.c_str());
  // The rest of the file is zero (ftruncate of a new file): every slot is kFree.
  std::atomic_thread_fence(std::memory_order_release);
  header_->magic = kSegmentMagic;
}

namespace {

// Names the group to join when the segment has one that may open it, else its owner.
Status PermissionDenied(const Options& resolved, const SegmentLocation& location) {
  const std::string path =
      location.storage == Storage::kShm ? "/dev/shm/" + location.shm_name : location.file_path;
  struct stat st {};
  std::string group = resolved.group;
  if (::stat(path.c_str(), &st) == 0) {
    if ((st.st_mode & 0040) != 0) {
      struct group* g = ::getgrgid(st.st_gid);
      group = g != nullptr ? g->gr_name : std::to_string(st.st_gid);
    } else {
      struct passwd* owner = ::getpwuid(st.st_uid);
      return Status::Unavailable(fmt::format(
          "permission denied: queue '{}' ({}) is private to {} (mode {:04o}); ask its owner to "
          "set `group` in its configuration",
          resolved.queue, location.Describe(),
          owner != nullptr ? owner->pw_name : "uid " + std::to_string(st.st_uid),
          st.st_mode & 07777));
    }
  }
  if (group.empty()) group = "of the queue";
  return Status::Unavailable(fmt::format(
      "permission denied: ask to be added to group {} (queue '{}', {}), then log in again", group,
      resolved.queue, location.Describe()));
}

}  // namespace

Status Segment::Map(const Options& resolved, bool create, std::unique_ptr<Segment>* out) {
  SegmentLocation location = LocateSegment(resolved);
  std::unique_ptr<Segment> segment(new Segment());
  segment->mapping_ = std::make_unique<Mapping>();
  Mapping& m = *segment->mapping_;
  bool created = false;
  // A client opens read-only first and reopens read-write only when it owns the segment: only
  // the daemon's user writes the queue (docs/SECURITY.md).
  auto open_segment = [&](bip::mode_t access) {
    if (location.storage == Storage::kShm) {
      try {
        m.shm = bip::shared_memory_object(bip::open_only, location.shm_name.c_str(), access);
      } catch (const bip::interprocess_exception& e) {
        if (!create || e.get_error_code() != bip::not_found_error) throw;
        bip::permissions perms(resolved.mode);
        m.shm = bip::shared_memory_object(bip::create_only, location.shm_name.c_str(),
                                          bip::read_write, perms);
        created = true;
      }
      segment->fd_ = m.shm.get_mapping_handle().handle;
    } else {
      if (create && !std::filesystem::exists(location.file_path)) {
        int fd = ::open(location.file_path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC,
                        resolved.mode);
        if (fd < 0) throw bip::interprocess_exception(bip::error_info(errno));
        ::close(fd);
        created = true;
      }
      m.file = bip::file_mapping(location.file_path.c_str(), access);
      segment->fd_ = m.file.get_mapping_handle().handle;
    }
  };
  try {
    open_segment(create ? bip::read_write : bip::read_only);
    struct stat owner {};
    if (!create && fstat(segment->fd_, &owner) == 0 && owner.st_uid == ::geteuid()) {
      open_segment(bip::read_write);
    } else if (!create) {
      segment->read_only_ = true;
    }
  } catch (const bip::interprocess_exception& e) {
    int native = e.get_native_error();
    if (native == EACCES || native == EPERM) return PermissionDenied(resolved, location);
    if (e.get_error_code() == bip::not_found_error || native == ENOENT) {
      return Status::Unavailable(fmt::format(
          "no queue '{}' ({} does not exist): start the daemon with `taskqd --queue {}`",
          resolved.queue, location.Describe(), resolved.queue));
    }
    return Status::Unavailable(fmt::format("cannot open queue '{}' ({}): {}", resolved.queue,
                                           location.Describe(), e.what()));
  }
  fcntl(segment->fd_, F_SETFD, FD_CLOEXEC);

  struct stat st {};
  if (fstat(segment->fd_, &st) != 0) {
    return Status::Unavailable(
        fmt::format("cannot stat {}: {}", location.Describe(), std::strerror(errno)));
  }
  segment->owner_uid_ = st.st_uid;
  if (create) {
    // Exactly one supervisor: the lock is taken before anything is initialised or repaired. A
    // killed predecessor's children forked an instant before its death hold the lock until
    // they closed their descriptors: give them a moment before calling the queue taken.
    // Reopening through /proc makes a new open file description of the same file.
    segment->lock_fd_ =
        ::open(fmt::format("/proc/self/fd/{}", segment->fd_).c_str(), O_RDWR | O_CLOEXEC);
    if (segment->lock_fd_ < 0) {
      return Status::Unavailable(fmt::format("cannot open {} again for its lock: {}",
                                             location.Describe(), std::strerror(errno)));
    }
    const struct flock lock = SupervisorLockRange(F_WRLCK);
    bool locked = false;
    for (int attempt = 0; attempt < 50 && !locked; ++attempt) {
      struct flock request = lock;
      locked = fcntl(segment->lock_fd_, F_OFD_SETLK, &request) == 0;
      if (!locked && errno != EAGAIN && errno != EACCES) break;
      if (!locked) ::usleep(10000);
    }
    if (!locked) {
      return Status::Unavailable(fmt::format(
          "another taskqd already serves queue '{}' ({}); stop it first, or pick another --queue",
          resolved.queue, location.Describe()));
    }
    segment->supervisor_ = true;
    gid_t gid = static_cast<gid_t>(-1);
    TASKQ_RETURN_IF_ERROR(LookUpGroup(resolved.group, &gid));
    if (created) {
      // The umask filters the creation mode: set it explicitly, and hand it to the group.
      if (gid != static_cast<gid_t>(-1) && fchown(segment->fd_, static_cast<uid_t>(-1), gid) != 0) {
        return Status::Unavailable(fmt::format(
            "cannot give {} to group '{}': {}; taskqd's user must be a member of the group",
            location.Describe(), resolved.group, std::strerror(errno)));
      }
      fchmod(segment->fd_, resolved.mode);
      SegmentLayout layout = ComputeLayout(resolved.capacity);
      if (ftruncate(segment->fd_, static_cast<off_t>(layout.total_size)) != 0) {
        return Status::Unavailable(fmt::format("cannot size {} to {} bytes: {}",
                                               location.Describe(), layout.total_size,
                                               std::strerror(errno)));
      }
      st.st_size = static_cast<off_t>(layout.total_size);
    } else if (st.st_uid != geteuid()) {
      return Status::Unavailable(fmt::format(
          "{} belongs to uid {}, not to this user (uid {}): refusing a segment someone else "
          "created; remove it or run taskqd as its owner",
          location.Describe(), st.st_uid, geteuid()));
    } else if ((st.st_mode & 07777) != resolved.mode) {
      return Status::Unavailable(fmt::format(
          "{} has mode {:04o} but the configuration says {:04o}: fix it with chmod or the "
          "`mode`/`group` settings",
          location.Describe(), st.st_mode & 07777, resolved.mode));
    } else if (gid != static_cast<gid_t>(-1) && st.st_gid != gid) {
      return Status::Unavailable(fmt::format(
          "{} belongs to group {} but the configuration says group '{}' ({}): fix it with chgrp "
          "or the `group` setting",
          location.Describe(), st.st_gid, resolved.group, gid));
    }
  } else if ((st.st_mode & 0022) != 0) {
    return Status::Unavailable(fmt::format(
        "{} is writable by others than its owner (mode {:04o}): refusing it, they could forge "
        "the queue; only the daemon's user may write it",
        location.Describe(), st.st_mode & 07777));
  }
  if (st.st_size < static_cast<off_t>(sizeof(SegmentHeader))) {
    segment->header_ = nullptr;
    return Status::Unavailable(
        fmt::format("{} is {} bytes: not a taskq segment; remove it with `taskq purge --queue {}`",
                    location.Describe(), st.st_size, resolved.queue));
  }
  const bip::mode_t map_access = segment->read_only_ ? bip::read_only : bip::read_write;
  try {
    m.region = (location.storage == Storage::kShm)
                   ? bip::mapped_region(m.shm, map_access, 0, st.st_size)
                   : bip::mapped_region(m.file, map_access, 0, st.st_size);
  } catch (const bip::interprocess_exception& e) {
    return Status::Unavailable(fmt::format("cannot map {}: {}", location.Describe(), e.what()));
  }
  segment->header_ = static_cast<SegmentHeader*>(m.region.get_address());
  if (created) segment->InitializeFresh(resolved);
  segment->created_ = created;
  Status valid = segment->Validate(static_cast<uint64_t>(st.st_size));
  if (!valid.ok()) {
    return Status::Unavailable(
        fmt::format("queue '{}' ({}): {}", resolved.queue, location.Describe(), valid.message()));
  }
  SegmentLayout layout = ComputeLayout(segment->header_->capacity);
  auto* base = static_cast<char*>(m.region.get_address());
  segment->capacity_ = segment->header_->capacity;
  segment->directory_ = reinterpret_cast<SlotEntry*>(base + layout.directory_offset);
  segment->links_ = reinterpret_cast<QueueLink*>(base + layout.links_offset);
  segment->records_ = reinterpret_cast<TaskRecord*>(base + layout.records_offset);
  *out = std::move(segment);
  return Status::Ok();
}

void Segment::ForgetTablePages() {
  const SegmentLayout layout = ComputeLayout(capacity_);  // each part starts on a page boundary
  const size_t mapped = mapping_->region.get_size();
  if (layout.directory_offset >= mapped) return;
  // A shared file mapping: MADV_DONTNEED drops page table entries only, never the data.
  ::madvise(reinterpret_cast<char*>(header_) + layout.directory_offset,
            mapped - layout.directory_offset, MADV_DONTNEED);
}

Status Segment::OpenAsSupervisor(const Options& resolved, std::unique_ptr<Segment>* out) {
  std::unique_ptr<Segment> segment;
  TASKQ_RETURN_IF_ERROR(Map(resolved, /*create=*/true, &segment));
  if (segment->capacity_ != resolved.capacity) {
    return Status::Unavailable(fmt::format(
        "queue '{}' exists with capacity {}, the configuration says {}: capacity changes need "
        "`taskq purge` (drops all tasks) or the old value",
        resolved.queue, segment->capacity_, resolved.capacity));
  }
  // A file segment kept from another boot (durability memory: nothing to rebuild it from) holds
  // mutex images that name threads of that boot, and a lock taken when the machine went would
  // never be released: they start afresh (DESIGN §2), before anything locks; Repair follows.
  if (!segment->created_ && !HeaderBootId(*segment->header_).empty() &&
      HeaderBootId(*segment->header_) != CurrentBootId()) {
    InitRobustMutex(&segment->header_->lock);
    InitRobustMutex(&segment->header_->sync_lock);
  }
  std::snprintf(segment->header_->state_dir, kStateDirBytes, "%s", resolved.state_dir.c_str());
  *out = std::move(segment);
  return Status::Ok();
}

Status Segment::Attach(const Options& resolved, std::unique_ptr<Segment>* out) {
  return Map(resolved, /*create=*/false, out);
}

Status Segment::Remove(const Options& resolved) {
  std::unique_ptr<Segment> segment;
  Status attached = Map(resolved, /*create=*/false, &segment);
  if (attached.ok() && segment->SupervisorAlive()) {
    return Status::Failed(
        fmt::format("queue '{}' is served by a running taskqd (pid {}); run `taskq shutdown` first",
                    resolved.queue, segment->header()->owner_pid.load()));
  }
  segment.reset();
  SegmentLocation location = LocateSegment(resolved);
  bool removed = location.storage == Storage::kShm
                     ? bip::shared_memory_object::remove(location.shm_name.c_str())
                     : ::unlink(location.file_path.c_str()) == 0;
  if (!removed && attached.code() != StatusCode::kUnavailable) {
    return Status::Failed(fmt::format("cannot remove {}", location.Describe()));
  }
  // The journal would otherwise rebuild the purged tasks at the next start.
  RemoveJournal(resolved.state_dir);
  return Status::Ok();
}

void RemoveTaskFiles(const std::string& state_dir, const std::vector<uint64_t>& ids) {
  for (uint64_t id : ids) {
    ::unlink(LogPath(state_dir, id, false).c_str());
    ::unlink(LogPath(state_dir, id, true).c_str());
    ::unlink(DefaultIoPath(state_dir, id).c_str());
    // A task run more than once: <id>.1.out|err (the first attempt's second name) and the
    // later attempts' <id>.N.out|err, numbered without gaps (one miss ends them).
    ::unlink(fmt::format("{}/logs/{}.1.out", state_dir, id).c_str());
    ::unlink(fmt::format("{}/logs/{}.1.err", state_dir, id).c_str());
    for (uint32_t attempt = 2;; ++attempt) {
      const bool out = ::unlink(LogPath(state_dir, id, false, attempt).c_str()) == 0;
      const bool err = ::unlink(LogPath(state_dir, id, true, attempt).c_str()) == 0;
      if (!out && !err) break;
    }
  }
}

namespace {
// The crash point this process stops at: TASKQ_TEST_CRASH_AT, read once per process (the points
// sit under the lock on every submit and pop), unless a test forks a child and sets it there.
std::string& CrashPointWanted() {
  static std::string wanted = [] {
    const char* value = std::getenv("TASKQ_TEST_CRASH_AT");
    return std::string(value != nullptr ? value : "");
  }();
  return wanted;
}
}  // namespace

void TEST_SetCrashPoint(const char* point) { CrashPointWanted() = point != nullptr ? point : ""; }

void TEST_CrashPoint(const char* point) {
  const std::string& wanted = CrashPointWanted();
  if (!wanted.empty() && wanted == point) ::kill(::getpid(), SIGKILL);
}

}  // namespace taskq
