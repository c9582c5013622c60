// `taskq bench --advise`: which policy and how many workers suit a workload, in one line. The
// work is classified by the wait probe (probe.cc; else from the daemon's task records),
// then measured under both policies at 1, cores, 2 x cores and the class's own worker count (or
// --workers); classify.cc turns both into the advice, and the cells of a comparison the
// noise leaves undecided are rerun up to --max-reps. With --queue, the last N finished tasks of
// a running queue are classified and the class alone advises.
#include <cstdio>
#include <set>

#include "client/client.h"
#include "fmt/format.h"
#include "lab/lab.h"
#include "nlohmann/json.hpp"

namespace taskq::lab {
namespace {

constexpr uint32_t kProbeRuns = 5;

WorkProfile RecordProfile(const CellResult& r) {
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

void PrintAdvice(const Advice& advice, const std::string& first_evidence) {
  std::printf("%s\n", advice.line.c_str());
  if (!first_evidence.empty()) std::printf("  %s\n", first_evidence.c_str());
  for (const std::string& line : advice.evidence) std::printf("  %s\n", line.c_str());
}

nlohmann::json AdviceJson(const std::string& workload, const Advice& a, const WorkProfile& p) {
  std::string why;
  const std::string kind = Classify(p, &why);
  return {{"workload", workload},
          {"use", a.line},
          {"policy", PolicyName(a.policy)},
          {"workers", a.workers},
          {"followed", a.followed},
          {"class", kind},
          {"why", why},
          {"from_probe", p.from_probe},
          {"cpu_share", p.cpu_share},
          {"cpu_wait_share", p.cpu_wait_share},
          {"blkio_share", p.blkio_share},
          {"run_p50_us", p.run_p50_us},
          {"read_bytes_per_task", p.read_bytes_per_task},
          {"write_bytes_per_task", p.write_bytes_per_task},
          {"vol_ctxsw_per_task", p.vol_ctxsw_per_task},
          {"invol_ctxsw_per_task", p.invol_ctxsw_per_task},
          {"evidence", a.evidence}};
}

int AdviseFromQueue(const LabOptions& lab, uint32_t last, uint32_t cores) {
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
  const WorkProfile p = RecordProfile(r);
  PrintAdvice(Advise({}, p, cores),
              fmt::format("from: the last {} succeeded tasks of queue '{}' (their records)",
                          p.tasks, lab.queue));
  return p.tasks > 0 ? 0 : 1;
}

}  // namespace

int RunAdvise(const LabOptions& lab, const std::vector<Workload>& workloads,
              const std::vector<uint32_t>& given_workers, uint32_t tasks, uint32_t last,
              const Outputs& outputs) {
  const uint32_t cores = OnlineCpus();
  if (!lab.queue.empty()) return AdviseFromQueue(lab, last, cores);

  const std::string load_before = LoadAverage();
  const std::string taskq_run = FindTaskqRun(lab.taskqd);
  std::vector<CellResult> all;
  nlohmann::json advice_json = nlohmann::json::array();
  for (const Workload& w : workloads) {
    ProbeFigures probe;
    Status probed = ProbeWorkload(taskq_run, w, kProbeRuns, &probe);
    std::string unusable;
    if (probed.ok() && !ProbeUsable(probe, &unusable)) probed = Status::Failed(unusable);
    WorkProfile profile = ProfileOf(probe, 0);
    std::set<uint32_t> counts = {1, cores, 2 * cores};
    if (!given_workers.empty()) {
      counts = std::set<uint32_t>(given_workers.begin(), given_workers.end());
    } else if (probed.ok()) {
      std::string kind_why, choice_why;
      Policy policy;
      uint32_t workers;
      ClassChoice(Classify(profile, &kind_why), profile, cores, &policy, &workers, &choice_why);
      counts.insert(workers);
    }
    std::vector<Cell> cells;
    for (Policy p : {Policy::kProcess, Policy::kPool}) {
      for (uint32_t n : counts) {
        uint32_t t = tasks > 0 ? tasks : w.spec.kind == TaskKind::kCpu ? 8 * cores : 100;
        cells.push_back({w.label + "/" + PolicyName(p), w, p, n, t});
      }
    }
    std::vector<CellResult> results;
    Status ran = RunCells(lab, cells, &results);
    // The 1-worker cells: no contention for cores distorts a task's figures there.
    CellResult solo;
    Advice advice;
    while (ran.ok()) {
      solo = CellResult{};
      solo.cell = results.front().cell;
      for (const CellResult& r : results) {
        if (r.cell.workers == 1) solo.reps.insert(solo.reps.end(), r.reps.begin(), r.reps.end());
      }
      Summarise(&solo);
      if (probed.ok()) {
        profile = ProfileOf(probe, solo.run_p50_us);
      } else {
        profile = RecordProfile(solo);
      }
      advice = Advise(results, profile, cores);
      bool more = false;
      for (size_t i : advice.rerun) {
        if (results[i].reps.size() >= lab.max_reps) continue;
        ran = RunOneMore(lab, &results[i]);
        more = ran.ok();
        if (!ran.ok()) break;
      }
      if (!more) break;
    }
    if (!ran.ok()) {
      std::fprintf(stderr, "taskq: %s\n", ran.message().c_str());
      return Interrupted() ? 130 : ran.exit_code();
    }
    ComputeSpeedups(&results);
    if (!probed.ok()) {
      advice.evidence.insert(
          advice.evidence.begin(),
          fmt::format("probe: not used ({}); classified from the task records", probed.message()));
    }
    PrintAdvice(
        advice,
        fmt::format("for: {}",
                    SeriesTitle(cells.front()).substr(0, SeriesTitle(cells.front()).rfind(", "))));
    advice_json.push_back(AdviceJson(w.label, advice, profile));
    all.insert(all.end(), results.begin(), results.end());
  }
  std::printf("%s\n", LoadLine(load_before, LoadAverage()).c_str());
  std::vector<AmdahlFit> fits = FitAmdahl(all, cores);
  Status written = WriteOutputs(outputs, all, fits, MatrixChart(all, fits, cores),
                                nlohmann::json{{"advice", advice_json}}.dump());
  if (!written.ok()) {
    std::fprintf(stderr, "taskq: %s\n", written.message().c_str());
    return written.exit_code();
  }
  return 0;
}

}  // namespace taskq::lab
