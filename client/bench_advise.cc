// `taskq bench --advise`: what kind of work is it, and which policy and how many workers suit it.
// Classifies from the per-task figures every finished task records (cpu_share = (user+sys)/run,
// bytes read and written, voluntary and involuntary context switches), then either measures the
// workload under both policies at 1, cores and 2 x cores workers and recommends the best cell, or
// (with --queue) reads the last N finished tasks and recommends from the class alone.
#include <algorithm>
#include <cstdio>
#include <set>

#include "client/bench.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "taskq/client.h"

namespace taskq::bench {
namespace {

WorkProfile ProfileOf(const CellResult& r) {
  WorkProfile p;
  for (const RepSample& s : r.reps) p.tasks += s.run_us.size();
  p.cpu_share = r.cpu_share;
  p.run_p50_us = r.run_p50_us;
  p.read_bytes_per_task = r.read_bytes_per_task;
  p.write_bytes_per_task = r.write_bytes_per_task;
  p.vol_ctxsw_per_task = r.vol_ctxsw_per_task;
  p.invol_ctxsw_per_task = r.invol_ctxsw_per_task;
  return p;
}

void PrintProfile(const std::string& what, const WorkProfile& p) {
  std::string why;
  std::string kind = Classify(p, &why);
  std::printf("%s: %s\n", what.c_str(), kind.c_str());
  std::printf("  tasks measured:        %zu\n", p.tasks);
  std::printf("  cpu share:             %.2f  ((user+sys) / run time)\n", p.cpu_share);
  std::printf("  run time p50:          %.1f ms\n", p.run_p50_us / 1000);
  std::printf("  read / written:        %.0f / %.0f bytes per task (block I/O)\n",
              p.read_bytes_per_task, p.write_bytes_per_task);
  std::printf("  context switches:      %.1f voluntary, %.1f involuntary per task\n",
              p.vol_ctxsw_per_task, p.invol_ctxsw_per_task);
  std::printf("  why:                   %s\n", why.c_str());
}

std::string AdviceFromClass(const std::string& kind, const WorkProfile& p, uint32_t cores) {
  std::string workers = kind == "cpu-bound" ? fmt::format(
                                                  "{} (one per core: more only queue "
                                                  "for the same cores)",
                                                  cores)
                        : kind == "io-bound" ? fmt::format(
                                                   "{} to {} (more than the cores: tasks "
                                                   "mostly wait)",
                                                   2 * cores, 4 * cores)
                                             : fmt::format("{} to {}", cores, 2 * cores);
  std::string policy = p.run_p50_us < 50000
                           ? "pool (tasks are short: a process per task would add ~1 ms each)"
                           : "either: tasks are long enough that a process per task costs little; "
                             "process gives isolation, pool the lowest latency";
  return fmt::format("recommend policy {}; workers {}", policy, workers);
}

}  // namespace

std::string Classify(const WorkProfile& p, std::string* why) {
  if (p.tasks == 0) {
    *why = "no finished tasks to judge";
    return "unknown";
  }
  if (p.cpu_share >= 0.6) {
    *why = fmt::format("the tasks were on a CPU {:.0f}% of their run time", 100 * p.cpu_share);
    return "cpu-bound";
  }
  if (p.invol_ctxsw_per_task >= 1 && p.invol_ctxsw_per_task > 2 * p.vol_ctxsw_per_task) {
    *why = fmt::format(
        "on a CPU {:.0f}% of their run time, but preempted {:.1f} times per task "
        "against {:.1f} voluntary waits: they waited for a CPU (more runnable "
        "work than cores), not for I/O",
        100 * p.cpu_share, p.invol_ctxsw_per_task, p.vol_ctxsw_per_task);
    return "cpu-bound";
  }
  if (p.cpu_share <= 0.35) {
    *why = fmt::format(
        "the tasks were on a CPU only {:.0f}% of their run time and waited the "
        "rest ({:.1f} voluntary switches per task: blocking{})",
        100 * p.cpu_share, p.vol_ctxsw_per_task,
        p.write_bytes_per_task + p.read_bytes_per_task > 0 ? " on block I/O" : "");
    return "io-bound";
  }
  *why = fmt::format(
      "the tasks were on a CPU {:.0f}% of their run time: part computing, part "
      "waiting",
      100 * p.cpu_share);
  return "mixed";
}

int RunAdvise(const LabOptions& lab, const std::vector<Workload>& workloads,
              const std::vector<uint32_t>& given_workers, uint32_t tasks, uint32_t last,
              const Outputs& outputs) {
  const uint32_t cores = OnlineCpus();
  if (!lab.queue.empty()) {
    std::unique_ptr<Client> client;
    Status s = Client::Connect({lab.queue, lab.config}, &client);
    if (!s.ok()) {
      std::fprintf(stderr, "taskq: %s\n", s.message().c_str());
      return s.exit_code();
    }
    std::vector<TaskInfo> done;
    for (TaskInfo& info : client->List()) {
      if (info.state == TaskState::kSucceeded) done.push_back(std::move(info));
    }
    if (done.size() > last) done.erase(done.begin(), done.end() - last);
    CellResult r;
    RepSample sample;
    for (const TaskInfo& info : done) {
      const TaskRecord& rec = info.record;
      if (rec.finished_at_us < rec.started_at_us || rec.started_at_us == 0) continue;
      sample.run_us.push_back(static_cast<double>(rec.finished_at_us - rec.started_at_us));
      sample.run_total_us += sample.run_us.back();
      sample.user_s += rec.user_us / 1e6;
      sample.sys_s += rec.sys_us / 1e6;
      sample.read_bytes += rec.read_bytes;
      sample.write_bytes += rec.write_bytes;
      sample.vol_ctxsw += rec.vol_ctxsw;
      sample.invol_ctxsw += rec.invol_ctxsw;
    }
    r.reps.push_back(sample);
    Summarise(&r);
    WorkProfile p = ProfileOf(r);
    PrintProfile(fmt::format("last {} succeeded tasks of queue '{}'", p.tasks, lab.queue), p);
    std::string why;
    std::printf("advice: %s\n", AdviceFromClass(Classify(p, &why), p, cores).c_str());
    return p.tasks > 0 ? 0 : 1;
  }

  std::set<uint32_t> counts = {1, cores, 2 * cores};
  if (given_workers.size() > 1)
    counts = std::set<uint32_t>(given_workers.begin(), given_workers.end());
  std::vector<CellResult> all;
  nlohmann::json advice = nlohmann::json::array();
  for (const Workload& w : workloads) {
    std::vector<Cell> cells;
    for (Policy p : {Policy::kProcess, Policy::kPool}) {
      for (uint32_t n : counts) {
        uint32_t t = tasks > 0 ? tasks : w.spec.kind == TaskKind::kCpu ? 8 * cores : 100;
        cells.push_back({w.label + "/" + PolicyName(p), w, p, n, t});
      }
    }
    std::vector<CellResult> results;
    Status ran = RunCells(lab, cells, &results);
    if (!ran.ok()) {
      std::fprintf(stderr, "taskq: %s\n", ran.message().c_str());
      return Interrupted() ? 130 : ran.exit_code();
    }
    ComputeSpeedups(&results);
    // Classify from the 1-worker cells: no contention for cores distorts the CPU share there.
    CellResult solo;
    solo.cell = results.front().cell;
    for (const CellResult& r : results) {
      if (r.cell.workers == 1) solo.reps.insert(solo.reps.end(), r.reps.begin(), r.reps.end());
    }
    Summarise(&solo);
    WorkProfile profile = ProfileOf(solo);
    std::string why;
    const std::string kind = Classify(profile, &why);
    PrintProfile(fmt::format("workload {} (1-worker runs)", w.label), profile);
    std::printf("  measured:\n");
    const CellResult* best = &results.front();
    for (const CellResult& r : results) {
      std::printf("    %-8s workers %-3u %8.1f tasks/s  speedup %.2fx\n", PolicyName(r.cell.policy),
                  r.cell.workers, r.throughput, r.speedup);
      if (r.throughput > best->throughput) best = &r;
    }
    // The fewest workers (and, on a tie, the pool) within 5% of the best throughput.
    const CellResult* pick = best;
    for (const CellResult& r : results) {
      if (r.throughput >= 0.95 * best->throughput &&
          (r.cell.workers < pick->cell.workers ||
           (r.cell.workers == pick->cell.workers && r.cell.policy == Policy::kPool))) {
        pick = &r;
      }
    }
    std::string line = fmt::format(
        "advice for {}: {}; policy {} with {} workers ({:.1f} tasks/s, best measured {:.1f} with "
        "{} x{}); by the class alone: {}",
        w.label, kind, PolicyName(pick->cell.policy), pick->cell.workers, pick->throughput,
        best->throughput, PolicyName(best->cell.policy), best->cell.workers,
        AdviceFromClass(kind, profile, cores));
    std::printf("%s\n\n", line.c_str());
    advice.push_back({{"workload", w.label},
                      {"class", kind},
                      {"why", why},
                      {"cpu_share", profile.cpu_share},
                      {"run_p50_us", profile.run_p50_us},
                      {"read_bytes_per_task", profile.read_bytes_per_task},
                      {"write_bytes_per_task", profile.write_bytes_per_task},
                      {"vol_ctxsw_per_task", profile.vol_ctxsw_per_task},
                      {"invol_ctxsw_per_task", profile.invol_ctxsw_per_task},
                      {"policy", PolicyName(pick->cell.policy)},
                      {"workers", pick->cell.workers}});
    all.insert(all.end(), results.begin(), results.end());
  }
  std::vector<AmdahlFit> fits = FitAmdahl(all, cores);
  Status written = WriteOutputs(outputs, all, fits, nlohmann::json{{"advice", advice}}.dump());
  if (!written.ok()) {
    std::fprintf(stderr, "taskq: %s\n", written.message().c_str());
    return written.exit_code();
  }
  return 0;
}

}  // namespace taskq::bench
