// Micro-benchmarks of the segment (common/segment*.cc) with Google Benchmark: the cost of the
// queue operations alone, without the daemon, the CLI or any task. Built as `segment_bench` when
// libbenchmark-dev is installed; run by `make bench`, never by ctest for its numbers.
//
//   SubmitPopComplete        one task through its life: Submit, Pop, Complete (no eviction)
//   SubmitPopCompleteEvict   the same at steady state with retention 0: each Submit evicts the
//                            oldest finished task (and unlinks its per-task files)
//   SubmitBatch/N            N tasks submitted under one lock, then popped and completed
//   ContendedSubmit/P        P forked processes submitting single tasks at once (items = tasks)
//   PopAtDepth/N, SubmitAtDepth/N
//                            one Pop (one Submit) with N tasks queued: 80 % ready, 10 % delayed
//                            an hour, 10 % waiting on --after a delayed task; priorities 0..9 and
//                            4 groups mixed (issue 18). Each step submits one ready task and pops
//                            one, so the depth stays N; only the named call is timed.
//   FairPopAtDepth/N         one Pop with two users' tasks queued, N each, the first user's all
//                            submitted before the second's, plus a third user's task delayed an
//                            hour: fair sharing makes the users take turns (issue 18). Each step
//                            submits a task for the user just served and pops one.
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/options.h"
#include "common/segment.h"

namespace {

// A fresh queue of its own (shm segment, temporary state directory), removed on destruction.
class Queue {
 public:
  explicit Queue(uint32_t capacity, uint32_t retain_count) {
    char dir[] = "/tmp/taskq-segbench-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    dir_ = dir;
    taskq::Options options;
    options.queue = "segbench-" + std::to_string(getpid());
    options.state_dir = dir_;
    options.capacity = capacity;
    options.retain_count = retain_count;
    options_ = taskq::ResolveDefaults(options);
    taskq::Status s = taskq::Segment::OpenAsSupervisor(options_, &segment_);
    if (!s.ok()) {
      std::fprintf(stderr, "segment_bench: %s\n", s.message().c_str());
      std::abort();
    }
  }
  ~Queue() {
    segment_.reset();
    (void)taskq::Segment::Remove(options_);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  taskq::Segment& segment() { return *segment_; }

 private:
  std::string dir_;
  taskq::Options options_;
  std::unique_ptr<taskq::Segment> segment_;
};

taskq::TaskSpec TrivialSpec() {
  taskq::TaskSpec spec;
  spec.kind = taskq::TaskKind::kCpu;
  spec.cpu.count = 1;
  return spec;
}

constexpr uint32_t kCapacity = 1u << 18;

void DrainOne(taskq::Segment& segment) {
  taskq::ClaimedTask task;
  if (!segment.Pop(1, &task)) std::abort();
  segment.Complete(task.slot, task.record.id, taskq::TaskOutcome{});
}

void SubmitPopComplete(benchmark::State& state) {
  auto queue = std::make_unique<Queue>(kCapacity, UINT32_MAX);
  const std::vector<taskq::TaskSpec> specs{TrivialSpec()};
  std::vector<uint64_t> ids;
  uint64_t used = 0;
  for (auto _ : state) {
    if (++used == kCapacity) {  // full of retained results: start a fresh queue, untimed
      state.PauseTiming();
      queue.reset();
      queue = std::make_unique<Queue>(kCapacity, UINT32_MAX);
      used = 1;
      state.ResumeTiming();
    }
    ids.clear();
    if (!queue->segment().Submit(specs, &ids).ok()) std::abort();
    DrainOne(queue->segment());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(SubmitPopComplete);

void SubmitPopCompleteEvict(benchmark::State& state) {
  Queue queue(4096, 0);
  const std::vector<taskq::TaskSpec> specs{TrivialSpec()};
  std::vector<uint64_t> ids;
  for (auto _ : state) {
    ids.clear();
    if (!queue.segment().Submit(specs, &ids).ok()) std::abort();
    DrainOne(queue.segment());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(SubmitPopCompleteEvict);

void SubmitBatch(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  auto queue = std::make_unique<Queue>(kCapacity, UINT32_MAX);
  const std::vector<taskq::TaskSpec> specs(batch, TrivialSpec());
  std::vector<uint64_t> ids;
  uint64_t used = 0;
  for (auto _ : state) {
    used += batch;
    if (used >= kCapacity) {
      state.PauseTiming();
      queue.reset();
      queue = std::make_unique<Queue>(kCapacity, UINT32_MAX);
      used = batch;
      state.ResumeTiming();
    }
    ids.clear();
    if (!queue->segment().Submit(specs, &ids).ok()) std::abort();
    for (size_t i = 0; i < batch; ++i) DrainOne(queue->segment());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
}
BENCHMARK(SubmitBatch)->Arg(16)->Arg(256)->Arg(4096);

void ContendedSubmit(benchmark::State& state) {
  const int processes = static_cast<int>(state.range(0));
  constexpr int kPerProcess = 20000;
  const std::vector<taskq::TaskSpec> specs{TrivialSpec()};
  for (auto _ : state) {
    Queue queue(kCapacity, UINT32_MAX);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<pid_t> children;
    for (int p = 0; p < processes; ++p) {
      pid_t pid = fork();
      if (pid == 0) {
        std::vector<uint64_t> ids;
        for (int i = 0; i < kPerProcess; ++i) {
          ids.clear();
          if (!queue.segment().Submit(specs, &ids).ok()) _exit(1);
        }
        _exit(0);
      }
      children.push_back(pid);
    }
    bool ok = true;
    for (pid_t pid : children) {
      int status = 0;
      waitpid(pid, &status, 0);
      ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (!ok) state.SkipWithError("a submitting child failed");
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  state.SetItemsProcessed(state.iterations() * processes * kPerProcess);
}
BENCHMARK(ContendedSubmit)->Arg(1)->Arg(2)->Arg(4)->UseManualTime()->Unit(benchmark::kMillisecond);

// The queue of PopAtDepth/SubmitAtDepth: N tasks in the mix described at the top.
class DeepQueue {
 public:
  explicit DeepQueue(uint32_t depth) : queue_(depth + depth / 4 + 4096, 0), random_(depth) {
    taskq::Segment& segment = queue_.segment();
    for (const char* name : {"g1", "g2", "g3"}) {
      if (!segment.AddGroup(name, taskq::GroupSettings{}, false, false).ok()) std::abort();
    }
    const uint64_t hour_from_now = taskq::NowUs() + 3600ull * 1000000;
    uint64_t last_delayed = 0;
    std::vector<taskq::TaskSpec> batch;
    std::vector<uint64_t> ids;
    for (uint32_t i = 0; i < depth; ++i) {
      taskq::TaskSpec spec = ReadySpec();
      if (i % 10 == 0) spec.not_before_us = hour_from_now;
      if (i % 10 == 5 && last_delayed != 0) spec.after = {last_delayed};
      batch.push_back(spec);
      if (batch.size() == 4096 || i + 1 == depth) {
        ids.clear();
        if (!segment.Submit(batch, &ids).ok()) std::abort();
        for (size_t k = 0; k < batch.size(); ++k) {
          if (batch[k].not_before_us != 0) last_delayed = ids[k];
        }
        batch.clear();
      }
    }
  }
  taskq::Segment& segment() { return queue_.segment(); }
  taskq::TaskSpec ReadySpec() {
    taskq::TaskSpec spec = TrivialSpec();
    spec.priority = static_cast<uint32_t>(random_() % 10);
    static const char* const kGroups[] = {"", "g1", "g2", "g3"};
    spec.group = kGroups[random_() % 4];
    return spec;
  }

 private:
  Queue queue_;
  std::mt19937_64 random_;
};

// One step at depth: submit a ready task, pop one from the next group, complete it. `timed`
// says which call the manual time measures.
enum class Timed { kPop, kSubmit };
void AtDepth(benchmark::State& state, Timed timed) {
  DeepQueue queue(static_cast<uint32_t>(state.range(0)));
  taskq::Segment& segment = queue.segment();
  std::vector<uint64_t> ids;
  uint32_t group = 0;
  for (auto _ : state) {
    const std::vector<taskq::TaskSpec> specs{queue.ReadySpec()};
    ids.clear();
    const auto t0 = std::chrono::steady_clock::now();
    if (!segment.Submit(specs, &ids).ok()) std::abort();
    const auto t1 = std::chrono::steady_clock::now();
    taskq::ClaimedTask task;
    // Some group has a ready task (the one just submitted, at least).
    bool popped = false;
    std::chrono::steady_clock::time_point t2, t3;
    for (uint32_t tries = 0; tries < 4 && !popped; ++tries, group = (group + 1) % 4) {
      t2 = std::chrono::steady_clock::now();
      popped = segment.Pop(1, &task, group);
      t3 = std::chrono::steady_clock::now();
    }
    if (!popped) std::abort();
    segment.Complete(task.slot, task.record.id, taskq::TaskOutcome{});
    state.SetIterationTime(
        std::chrono::duration<double>(timed == Timed::kPop ? t3 - t2 : t1 - t0).count());
  }
  state.SetItemsProcessed(state.iterations());
}
void PopAtDepth(benchmark::State& state) { AtDepth(state, Timed::kPop); }
void SubmitAtDepth(benchmark::State& state) { AtDepth(state, Timed::kSubmit); }
BENCHMARK(PopAtDepth)->Arg(1000)->Arg(100000)->Arg(1000000)->UseManualTime();
BENCHMARK(SubmitAtDepth)->Arg(1000)->Arg(100000)->Arg(1000000)->UseManualTime();

// Two users' tasks taking turns at one priority (and a third user's, held): the pop that serves
// the second user after the first has to find the second's oldest ready task.
void FairPopAtDepth(benchmark::State& state) {
  const uint32_t depth = static_cast<uint32_t>(state.range(0));
  Queue queue(2 * depth + 4096, 0);
  taskq::Segment& segment = queue.segment();
  constexpr uint32_t kFirst = 60001, kSecond = 60002, kThird = 60003;
  std::vector<uint64_t> ids;
  for (const uint32_t uid : {kFirst, kSecond}) {
    for (uint32_t done = 0; done < depth; done += 4096) {
      const std::vector<taskq::TaskSpec> batch(std::min(4096u, depth - done), TrivialSpec());
      if (!segment.Submit(batch, &ids, uid).ok()) std::abort();
    }
  }
  taskq::TaskSpec delayed = TrivialSpec();
  delayed.not_before_us = taskq::NowUs() + 3600ull * 1000000;
  if (!segment.Submit(std::vector<taskq::TaskSpec>{delayed}, &ids, kThird).ok()) std::abort();
  const std::vector<taskq::TaskSpec> one{TrivialSpec()};
  for (auto _ : state) {
    taskq::ClaimedTask task;
    const auto t0 = std::chrono::steady_clock::now();
    if (!segment.Pop(1, &task)) std::abort();
    const auto t1 = std::chrono::steady_clock::now();
    const uint32_t served = task.record.submitter_uid;
    segment.Complete(task.slot, task.record.id, taskq::TaskOutcome{});
    if (!segment.Submit(one, &ids, served).ok()) std::abort();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(FairPopAtDepth)->Arg(1000)->Arg(100000)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
