// A fake operating system for the executors (daemon/os.h): it records what it is asked to start
// and signal, starts nothing, and its clocks move only when the test moves them; and the fixture
// the executor tests on it share. Used by tests/executor_fake_test.cc (process, pool) and
// tests/slurm_fake_test.cc (slurm).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/segment.h"
#include "common/spawn.h"
#include "daemon/executor.h"
#include "daemon/os.h"
#include "fmt/format.h"
#include "tests/test_util.h"

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

// What every executor test on the fake has: a real segment in a temporary directory, the event
// loop, the fake and the executor under test (made by the derived fixture).
class ExecutorOnFakeOs : public ::testing::Test {
 protected:
  void TearDown() override {
    executor_.reset();
    segment_.reset();
    EXPECT_TRUE(Segment::Remove(options_).ok());
  }
  // Opens a segment of its own for `options_` (resolved first).
  void OpenSegment() {
    options_.queue = UniqueQueueName();
    options_.state_dir = temp_.path();
    options_.capacity = 16;
    options_ = ResolveDefaults(options_);
    ASSERT_TRUE(Segment::OpenAsSupervisor(options_, &segment_).ok());
  }
  // The executor under test, made by `make` (MakePoolExecutor, MakeSlurmExecutor, ...).
  void MakeExecutor(std::unique_ptr<Executor> (*make)(const ExecutorContext&, const Options&),
                    pid_t supervisor_pid = getpid()) {
    ExecutorContext context;
    context.io = &io_;
    context.segment = segment_.get();
    context.self_exe = "/usr/sbin/taskqd";
    context.supervisor_pid = supervisor_pid;
    context.os = &os_;
    executor_ = make(context, options_);
  }
  uint64_t SubmitSpec(const TaskSpec& spec) {
    std::vector<uint64_t> ids;
    EXPECT_TRUE(segment_->Submit({spec}, &ids).ok());
    return ids.empty() ? 0 : ids[0];
  }
  TaskInfo Info(uint64_t id) {
    TaskInfo info;
    EXPECT_TRUE(segment_->Get(id, &info));
    return info;
  }
  TaskState StateOf(uint64_t id) { return Info(id).state; }
  // Runs the event loop's due handlers until `done` holds (each round waits at most 1 ms for a
  // timer; the outcome never depends on how long a round takes).
  bool RunUntil(const std::function<bool()>& done) {
    for (int round = 0; round < 10000 && !done(); ++round) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(1));
    }
    return done();
  }

  TempDir temp_;
  Options options_;
  boost::asio::io_context io_;
  std::unique_ptr<Segment> segment_;
  FakeOs os_;
  std::unique_ptr<Executor> executor_;
};

inline int Exited(int code) { return code << 8; }  // a wait status as waitpid reports it
inline int KilledBy(int signal) { return signal; }

}  // namespace taskq::testing
