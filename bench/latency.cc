// taskq_latency: submit-to-start latency of single tasks to an idle daemon, through the client
// library. Submits one task at a time, waits for it, pauses (so the daemon is idle again: pool
// workers asleep on their futex, the supervisor back in epoll), and repeats. Prints one JSON
// object with percentiles (µs) of
//   start       started_at - submitted_at (both stamped in the segment, wall clock µs)
//   done        finished_at - submitted_at
//   round_trip  Submit() call to Wait() return, measured by this process
// The queue comes from --queue / $TASKQ_QUEUE and --config / $TASKQ_CONFIG, as for taskq.
//
// `--kind floor` measures what no queue can beat on this machine, without a daemon: a process
// asleep on a futex word in shared memory (as an idle pool worker is) is woken by another after the
// same pause; "start" is wake call to the sleeper running, "done" the sleeper's answer back (a
// futex wake the other way), "round_trip" the same seen by the waker.
//
// `--kind spawn-floor` measures the cost of a fresh process on this machine, no daemon either:
// "start" is fork + _exit + waitpid of this small process, "done" posix_spawn of /bin/true +
// waitpid (what xargs and a `process` exec task pay at least), "round_trip" = "done".
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "common/clock.h"
#include "common/shm_sync.h"
#include "fmt/format.h"

extern char** environ;

namespace {

uint64_t Percentile(std::vector<uint64_t> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t k = static_cast<size_t>(q / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(k, values.size() - 1)];
}

int Usage() {
  std::fprintf(stderr,
               "usage: taskq_latency [--queue Q] [--config FILE] [--samples N] [--gap-us US] "
               "[--kind cpu|exec|floor|spawn-floor]\n");
  return 2;
}

// The futex ping-pong of --floor: one shared page, a child asleep on `go`, the parent waking it.
struct FloorPage {
  std::atomic<uint32_t> go{0};
  std::atomic<uint32_t> back{0};
  std::atomic<uint64_t> woken_at_us{0};
};

bool MeasureFloor(int samples, int gap_us, std::vector<uint64_t>* start,
                  std::vector<uint64_t>* done, std::vector<uint64_t>* round_trip) {
  void* page =
      mmap(nullptr, sizeof(FloorPage), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return false;
  auto* f = new (page) FloorPage();
  const pid_t child = fork();
  if (child < 0) return false;
  if (child == 0) {
    for (uint32_t seen = 0; static_cast<int>(seen) < samples;) {
      while (f->go.load() == seen) taskq::FutexWait(&f->go, seen, -1);
      f->woken_at_us.store(taskq::NowUs());
      seen = f->go.load();
      f->back.store(seen);
      taskq::FutexWake(&f->back, 1);
    }
    _exit(0);
  }
  for (uint32_t i = 1; static_cast<int>(i) <= samples; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
    const uint64_t t0 = taskq::NowUs();
    f->go.store(i);
    taskq::FutexWake(&f->go, 1);
    while (f->back.load() != i) taskq::FutexWait(&f->back, f->back.load(), -1);
    const uint64_t t1 = taskq::NowUs();
    start->push_back(f->woken_at_us.load() - t0);
    done->push_back(t1 - t0);
    round_trip->push_back(t1 - t0);
  }
  waitpid(child, nullptr, 0);
  munmap(page, sizeof(FloorPage));
  return true;
}

bool MeasureSpawnFloor(int samples, std::vector<uint64_t>* fork_us,
                       std::vector<uint64_t>* spawn_us) {
  for (int i = 0; i < samples; ++i) {
    uint64_t t0 = taskq::MonotonicUs();
    const pid_t child = fork();
    if (child < 0) return false;
    if (child == 0) _exit(0);
    waitpid(child, nullptr, 0);
    fork_us->push_back(taskq::MonotonicUs() - t0);
    t0 = taskq::MonotonicUs();
    pid_t pid = 0;
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) return false;
    waitpid(pid, nullptr, 0);
    spawn_us->push_back(taskq::MonotonicUs() - t0);
  }
  return true;
}

void PrintPercentiles(int samples, const std::string& kind, const std::vector<uint64_t>& start,
                      const std::vector<uint64_t>& done, const std::vector<uint64_t>& round_trip) {
  std::string out = fmt::format("{{\"samples\": {}, \"kind\": \"{}\"", samples, kind);
  for (auto [name, values] : {std::pair{"start", &start}, std::pair{"done", &done},
                              std::pair{"round_trip", &round_trip}}) {
    out += fmt::format(", \"{0}_p50_us\": {1}, \"{0}_p99_us\": {2}, \"{0}_max_us\": {3}", name,
                       Percentile(*values, 50), Percentile(*values, 99),
                       *std::max_element(values->begin(), values->end()));
  }
  std::printf("%s}\n", out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  taskq::ConnectOptions connect;
  int samples = 1000;
  int gap_us = 2000;
  std::string kind = "cpu";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return Usage();
    const char* value = argv[++i];
    if (arg == "--queue") {
      connect.queue = value;
    } else if (arg == "--config") {
      connect.config_path = value;
    } else if (arg == "--samples") {
      samples = std::atoi(value);
    } else if (arg == "--gap-us") {
      gap_us = std::atoi(value);
    } else if (arg == "--kind") {
      kind = value;
    } else {
      return Usage();
    }
  }
  if (samples < 1 || gap_us < 0 ||
      (kind != "cpu" && kind != "exec" && kind != "floor" && kind != "spawn-floor")) {
    return Usage();
  }
  std::vector<uint64_t> start, done, round_trip;
  if (kind == "spawn-floor") {
    if (!MeasureSpawnFloor(samples, &start, &done)) {
      std::perror("taskq_latency: --kind spawn-floor");
      return 1;
    }
    PrintPercentiles(samples, kind, start, done, done);
    return 0;
  }
  if (kind == "floor") {
    if (!MeasureFloor(samples, gap_us, &start, &done, &round_trip)) {
      std::perror("taskq_latency: --floor");
      return 1;
    }
    PrintPercentiles(samples, kind, start, done, round_trip);
    return 0;
  }
  std::unique_ptr<taskq::Client> client;
  taskq::Status s = taskq::Client::Connect(connect, &client);
  if (!s.ok()) {
    std::fprintf(stderr, "taskq_latency: %s\n", s.message().c_str());
    return s.exit_code();
  }
  taskq::TaskSpec spec;
  if (kind == "cpu") {
    spec.kind = taskq::TaskKind::kCpu;
    spec.cpu.count = 1;
  } else {
    spec.kind = taskq::TaskKind::kExec;
    spec.exec.argv = {"/bin/true"};
    spec.exec.cwd.assign(1, '/');  // not = "/": GCC 12 -Wrestrict false positive
  }
  for (int i = 0; i < samples; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
    std::vector<uint64_t> ids;
    std::vector<taskq::TaskInfo> tasks;
    const uint64_t t0 = taskq::MonotonicUs();
    s = client->Submit({spec}, {}, &ids);
    if (s.ok()) s = client->Wait(ids, 60000, &tasks);
    const uint64_t t1 = taskq::MonotonicUs();
    if (!s.ok() || tasks.size() != 1 || tasks[0].state != taskq::TaskState::kSucceeded) {
      std::fprintf(stderr, "taskq_latency: sample %d: %s\n", i,
                   s.ok() ? "task did not succeed" : s.message().c_str());
      return 1;
    }
    const taskq::TaskRecord& r = tasks[0].record;
    start.push_back(r.started_at_us - r.submitted_at_us);
    done.push_back(r.finished_at_us - r.submitted_at_us);
    round_trip.push_back(t1 - t0);
  }
  PrintPercentiles(samples, kind, start, done, round_trip);
  return 0;
}
