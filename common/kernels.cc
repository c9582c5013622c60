#include "common/kernels.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <sstream>
#include <vector>

#include "fmt/format.h"

namespace taskq {

CpuResult RunCpuKernel(uint64_t count, uint64_t seed, const StopCheck& stop) {
  constexpr uint64_t kStopCheckEvery = 1u << 16;
  std::mt19937_64 generator(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<double> list;  // grows as the tutorial's Python list does: no reserve()
  for (uint64_t i = 0; i < count; ++i) {
    if (stop && i % kStopCheckEvery == kStopCheckEvery - 1 && stop()) {
      return CpuResult{0, list.size(), true};
    }
    list.push_back(uniform(generator));
  }
  uint64_t checksum = 0xcbf29ce484222325ull;  // FNV-1a over the values' bit patterns
  for (double value : list) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    checksum = (checksum ^ bits) * 0x100000001b3ull;
  }
  return CpuResult{checksum, list.size()};
}

namespace {

// The root itself is not followed if it is a symlink: whoever could swap the directory for a
// link (a renamed state_dir/io) must not lead the writes elsewhere. A symlink there fails ELOOP.
int OpenRoot(const std::string& root) {
  const int dir = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0 && errno == ENOTDIR) errno = ELOOP;
  return dir;
}

}  // namespace

int OpenBeneathByWalk(const std::string& root, const std::string& relative, int flags,
                      mode_t mode) {
  std::vector<std::string> parts;
  std::stringstream in(relative);
  for (std::string part; std::getline(in, part, '/');) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      errno = EXDEV;
      return -1;
    }
    parts.push_back(part);
  }
  if (parts.empty() || relative.front() == '/') {
    errno = EXDEV;
    return -1;
  }
  int dir = OpenRoot(root);
  for (size_t i = 0; dir >= 0 && i + 1 < parts.size(); ++i) {
    // O_NOFOLLOW with O_PATH opens a symlink itself; O_DIRECTORY then fails with ENOTDIR.
    int next = ::openat(dir, parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const int error = errno;
    ::close(dir);
    dir = next;
    errno = error == ENOTDIR ? ELOOP : error;
  }
  if (dir < 0) return -1;
  int fd = ::openat(dir, parts.back().c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
  const int error = errno;
  ::close(dir);
  errno = error;
  return fd;
}

int OpenBeneath(const std::string& root, const std::string& relative, int flags, mode_t mode) {
  if (relative.empty() || relative.front() == '/') {
    errno = EXDEV;
    return -1;
  }
  int dir = OpenRoot(root);
  if (dir < 0) return -1;
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  int fd = static_cast<int>(syscall(SYS_openat2, dir, relative.c_str(), &how, sizeof(how)));
  const int error = errno;
  ::close(dir);
  if (fd < 0 && error == ENOSYS) return OpenBeneathByWalk(root, relative, flags, mode);
  errno = error;
  return fd;
}

Status RunIoKernel(const std::string& io_root, const std::string& path, uint64_t bytes,
                   uint64_t block, bool fsync, uint64_t* written, const StopCheck& stop) {
  *written = 0;
  if (block == 0) return Status::Invalid("io block: must be at least 1 byte");
  const int flags = O_WRONLY | O_CREAT | O_TRUNC;
  int fd = io_root.empty() ? ::open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, 0600)
                           : OpenBeneath(io_root, path, flags, 0600);
  if (fd < 0) {
    const int error = errno;
    if (!io_root.empty() && (error == EXDEV || error == ELOOP)) {
      return Status::Failed(
          fmt::format("refused: {} leads out of security.io_root {} (symlink, '..' or mount point)",
                      path, io_root));
    }
    return Status::Failed(fmt::format("cannot create {}: {}", path, std::strerror(error)));
  }
  const size_t chunk = static_cast<size_t>(std::min<uint64_t>(block, 1u << 20));
  std::vector<char> buffer(std::min<uint64_t>(chunk, bytes), 'x');
  while (*written < bytes) {
    if (stop && stop()) {
      ::close(fd);
      return Status::Failed(fmt::format("stopped after {} of {} bytes", *written, bytes));
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), bytes - *written));
    ssize_t n = ::write(fd, buffer.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int saved = errno;
      ::close(fd);
      return Status::Failed(fmt::format("write to {} failed after {} bytes: {}", path, *written,
                                        std::strerror(saved)));
    }
    *written += static_cast<uint64_t>(n);
  }
  if (fsync && ::fsync(fd) != 0) {
    int saved = errno;
    ::close(fd);
    return Status::Failed(fmt::format("fsync of {} failed: {}", path, std::strerror(saved)));
  }
  if (::close(fd) != 0) {
    return Status::Failed(fmt::format("close of {} failed: {}", path, std::strerror(errno)));
  }
  return Status::Ok();
}

}  // namespace taskq
