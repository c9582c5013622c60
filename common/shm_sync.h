// The two synchronisation primitives that live inside the segment, both chosen because they
// survive a process that dies at any instruction (DESIGN §2):
//  - a robust, process-shared pthread mutex: a dead holder is reported (EOWNERDEAD) to the next
//    locker, which repairs the data and marks the mutex consistent;
//  - futex sequence words: a sleeper waits while the word still holds the value it saw; a waker
//    bumps the word and wakes. A killed sleeper cannot lose anyone else's wakeup.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <functional>

namespace taskq {

// Initialises a robust, process-shared mutex in place. REQUIRES: nobody else uses it yet.
void InitRobustMutex(pthread_mutex_t* mutex);

// Locks `mutex`; when the previous holder died while holding it, calls `repair` with the lock
// held and then marks the mutex consistent. Returns false only on an unexpected errno (logged by
// the caller); the lock is then not held.
bool LockRobust(pthread_mutex_t* mutex, const std::function<void()>& repair);
void UnlockRobust(pthread_mutex_t* mutex);

// Sleeps while `*word == expected`, at most `timeout_us` (negative = no limit). Returns false
// when the time ran out. Spurious returns are allowed: callers re-check their condition.
bool FutexWait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_us);
// Wakes up to `count` sleepers on `word` (INT32_MAX = all).
void FutexWake(std::atomic<uint32_t>* word, int count);

}  // namespace taskq
