// Wall-clock and monotonic time in microseconds. Task timestamps are wall clock (they are shown
// to people and compared across processes); intervals that must not jump use the monotonic clock.
#pragma once

#include <time.h>

#include <cstdint>

namespace taskq {

inline uint64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
}

inline uint64_t MonotonicUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
}

// Time since boot, suspend included: the clock /proc/PID/stat's starttime counts in.
inline uint64_t BootUs() {
  timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
}

}  // namespace taskq
