// The built-in task kernels: the tutorial's two workloads, run in-process by pool workers and by
// per-task runner processes alike.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace taskq {

struct CpuResult {
  uint64_t checksum = 0;  // depends only on (count, seed): tests and users can verify a run
  uint64_t count = 0;
};

// The tutorial's list_append: appends `count` pseudo-random numbers in [0, 1) to a growing list,
// one at a time, then folds the list into a checksum (so the work cannot be optimised away).
CpuResult RunCpuKernel(uint64_t count, uint64_t seed);

// The tutorial's test(): creates (or truncates) `path`, writes `bytes` in `block`-sized writes,
// optionally fsyncs, and closes it. `*written` receives the bytes written. The file is created
// mode 0600 and never through a symlink in its last component.
Status RunIoKernel(const std::string& path, uint64_t bytes, uint64_t block, bool fsync,
                   uint64_t* written);

}  // namespace taskq
