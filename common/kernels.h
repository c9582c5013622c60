// The built-in task kernels: the tutorial's two workloads, run in-process by pool workers and by
// per-task runner processes alike.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"

namespace taskq {

struct CpuResult {
  uint64_t checksum = 0;  // depends only on (count, seed): tests and users can verify a run
  uint64_t count = 0;
  bool stopped = false;  // `stop` said so before the count was reached
};

// Asked now and then by a long kernel (every 64Ki numbers, every block): true stops it early,
// so a pool worker can end a killed task without dying (`taskq kill`).
using StopCheck = std::function<bool()>;

// The tutorial's list_append: appends `count` pseudo-random numbers in [0, 1) to a growing list,
// one at a time, then folds the list into a checksum (so the work cannot be optimised away).
CpuResult RunCpuKernel(uint64_t count, uint64_t seed, const StopCheck& stop = nullptr);

// The tutorial's test(): creates (or truncates) a file, writes `bytes` in `block`-sized writes,
// optionally fsyncs, and closes it. `*written` receives the bytes written. The file is created
// mode 0600 and never through a symlink in its last component. With `io_root` empty, `path` is
// opened as it is (a path taskqd made itself); otherwise `path` is relative and is opened
// beneath `io_root` (OpenBeneath): no "..", no symlink, no mount point leads out of it.
Status RunIoKernel(const std::string& io_root, const std::string& path, uint64_t bytes,
                   uint64_t block, bool fsync, uint64_t* written, const StopCheck& stop = nullptr);

// Opens `relative` beneath the directory `root` with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV); on kernels without openat2 (ENOSYS), walks the path one
// component at a time with O_NOFOLLOW and refuses ".." and symlinks. Returns the fd, or -1 with
// errno set (EXDEV or ELOOP when the path would leave `root`).
int OpenBeneath(const std::string& root, const std::string& relative, int flags, mode_t mode);
// The fallback of OpenBeneath, exposed so tests can run it on kernels that have openat2.
int OpenBeneathByWalk(const std::string& root, const std::string& relative, int flags, mode_t mode);

}  // namespace taskq
