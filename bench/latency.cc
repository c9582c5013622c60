// taskq_latency: submit-to-start latency of single tasks to an idle daemon, through the client
// library. Submits one task at a time, waits for it, pauses (so the daemon is idle again: pool
// workers asleep on their futex, the supervisor back in epoll), and repeats. Prints one JSON
// object with percentiles (µs) of
//   start       started_at - submitted_at (both stamped in the segment, wall clock µs)
//   done        finished_at - submitted_at
//   round_trip  Submit() call to Wait() return, measured by this process
// The queue comes from --queue / $TASKQ_QUEUE and --config / $TASKQ_CONFIG, as for taskq.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "fmt/format.h"
#include "taskq/client.h"

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
               "[--kind cpu|exec]\n");
  return 2;
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
  if (samples < 1 || gap_us < 0 || (kind != "cpu" && kind != "exec")) return Usage();
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
  std::vector<uint64_t> start, done, round_trip;
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
  std::string out = fmt::format("{{\"samples\": {}, \"kind\": \"{}\"", samples, kind);
  for (auto [name, values] : {std::pair{"start", &start}, std::pair{"done", &done},
                              std::pair{"round_trip", &round_trip}}) {
    out += fmt::format(", \"{0}_p50_us\": {1}, \"{0}_p99_us\": {2}, \"{0}_max_us\": {3}", name,
                       Percentile(*values, 50), Percentile(*values, 99),
                       *std::max_element(values->begin(), values->end()));
  }
  std::printf("%s}\n", out.c_str());
  return 0;
}
