#include "common/shm_sync.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

namespace taskq {

void InitRobustMutex(pthread_mutex_t* mutex) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(mutex, &attr);
  pthread_mutexattr_destroy(&attr);
}

bool LockRobust(pthread_mutex_t* mutex, const std::function<void()>& repair) {
  int rc = pthread_mutex_lock(mutex);
  if (rc == 0) return true;
  if (rc == EOWNERDEAD) {
    // The holder died between two stores: the data may be half-updated. Repair it, then tell
    // glibc the mutex is usable again; never leave it ENOTRECOVERABLE (DESIGN §2).
    repair();
    pthread_mutex_consistent(mutex);
    return true;
  }
  return false;
}

void UnlockRobust(pthread_mutex_t* mutex) { pthread_mutex_unlock(mutex); }

bool FutexWait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_us) {
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout_us >= 0) {
    ts.tv_sec = timeout_us / 1000000;
    ts.tv_nsec = (timeout_us % 1000000) * 1000;
    tsp = &ts;
  }
  // Not FUTEX_PRIVATE_FLAG: sleepers and wakers are different processes.
  long rc =
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, tsp, nullptr, 0);
  return !(rc == -1 && errno == ETIMEDOUT);
}

void FutexWake(std::atomic<uint32_t>* word, int count) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

}  // namespace taskq
