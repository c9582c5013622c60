#include "common/kernels.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "fmt/format.h"

namespace taskq {

CpuResult RunCpuKernel(uint64_t count, uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<double> list;  // grows as the tutorial's Python list does: no reserve()
  for (uint64_t i = 0; i < count; ++i) list.push_back(uniform(generator));
  uint64_t checksum = 0xcbf29ce484222325ull;  // FNV-1a over the values' bit patterns
  for (double value : list) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    checksum = (checksum ^ bits) * 0x100000001b3ull;
  }
  return CpuResult{checksum, list.size()};
}

Status RunIoKernel(const std::string& path, uint64_t bytes, uint64_t block, bool fsync,
                   uint64_t* written) {
  *written = 0;
  if (block == 0) return Status::Invalid("io block: must be at least 1 byte");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Status::Failed(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  }
  const size_t chunk = static_cast<size_t>(std::min<uint64_t>(block, 1u << 20));
  std::vector<char> buffer(std::min<uint64_t>(chunk, bytes), 'x');
  while (*written < bytes) {
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
