// A fake operating system for the executors (daemon/os.h): it records what it is asked to start
// and signal, starts nothing, and its clocks move only when the test moves them. Shared by
// tests/executor_fake_test.cc (process, pool) and tests/slurm_fake_test.cc (slurm).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/spawn.h"
#include "daemon/os.h"
#include "fmt/format.h"

namespace taskq::testing {

using Signal = std::pair<pid_t, int>;  // (process group, signal)

// Records what it was asked to start and signal; its clocks move only when the test moves them.
class FakeOs : public Os {
 public:
  Status StartRunner(Segment&, const ClaimedTask& task, const Options&, pid_t,
                     pid_t* pid) override {
    if (!refuse_start.ok()) return refuse_start;
    *pid = next_pid++;
    started.emplace_back(*pid, task.record.id);
    slot_of[task.record.id] = task.slot;
    return Status::Ok();
  }
  Status StartWorker(const Options&, uint32_t row, uint32_t, pid_t, pid_t* pid) override {
    if (!refuse_start.ok()) return refuse_start;
    *pid = next_pid++;
    workers.emplace_back(*pid, row);
    return Status::Ok();
  }
  Status StartHelper(const SpawnRequest& request, pid_t* pid) override {
    if (!refuse_helper.ok()) return refuse_helper;
    *pid = next_pid++;
    helpers.emplace_back(*pid, request);
    return Status::Ok();
  }
  void SignalGroup(pid_t group, int signal) override {
    if (group <= 1) return;
    signals.emplace_back(group, signal);
    order.push_back(fmt::format("group {} {}", group, signal));
  }
  void SignalProcess(pid_t pid, int signal) override {
    if (pid <= 1) return;
    process_signals.emplace_back(pid, signal);
    order.push_back(fmt::format("process {} {}", pid, signal));
  }
  bool KillTaskGroup(pid_t leader) override {
    if (leader <= 1) return false;
    task_groups_killed.push_back(leader);
    order.push_back(fmt::format("task group {}", leader));
    return true;
  }
  uint64_t NowUs() override { return now_us; }
  uint64_t MonotonicUs() override { return monotonic_us; }

  std::vector<std::pair<pid_t, uint64_t>> started;      // (runner pid, task id)
  std::map<uint64_t, uint32_t> slot_of;                 // task id -> its slot, from the claim
  std::vector<std::pair<pid_t, uint32_t>> workers;      // (worker pid, its row)
  std::vector<std::pair<pid_t, SpawnRequest>> helpers;  // (helper pid, how it was asked to run)
  std::vector<Signal> signals;                          // to process groups
  std::vector<Signal> process_signals;                  // to single processes
  std::vector<pid_t> task_groups_killed;                // KillTaskGroup
  std::vector<std::string> order;                       // every signal and kill, in order
  Status refuse_start = Status::Ok();                   // StartRunner and StartWorker
  Status refuse_helper = Status::Ok();                  // StartHelper
  pid_t next_pid = 100000;
  uint64_t now_us = taskq::NowUs();
  uint64_t monotonic_us = 1000000000;
};

inline int Exited(int code) { return code << 8; }  // a wait status as waitpid reports it
inline int KilledBy(int signal) { return signal; }

}  // namespace taskq::testing
