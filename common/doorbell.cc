#include "common/doorbell.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace taskq {

std::string DoorbellPath(const std::string& state_dir) { return state_dir + "/doorbell"; }

bool RingDoorbell(const std::string& state_dir, char what) {
  int fd = ::open(DoorbellPath(state_dir).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = ::write(fd, &what, 1);
  ::close(fd);
  return n == 1 || errno == EAGAIN;
}

}  // namespace taskq
