// `taskq bench --preset tutorial`: the tutorial's two experiments (/work/shared/TUTORIAL.md) on
// real daemons, optionally beside the Python re-creations, with the tutorial's published figures
// and a one-line verdict per claim.
//   A: list_append, 10,000,000 numbers per job, 1/2/4 jobs, each job its own process (taskq:
//      one task per job, workers = jobs), in both readings: "full" (every job 10M: N jobs do N
//      times the work) and "split" (20M in all, divided among the jobs).
//   B: create/write/close a small file, few calls (10) and many (1000): Process (a process per
//      call, unbounded) against Pool (one worker per core), start-up included and not.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include "client/bench.h"
#include "client/bench_python.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace taskq::bench {
namespace {

constexpr uint64_t kCount = 10000000;  // the tutorial's size per job
constexpr uint32_t kFewCalls = 10, kManyCalls = 1000;

struct Row {
  std::string variant;
  double real = 0, user = 0, sys = 0, startup = -1;
  const double* published = nullptr;  // real, user, sys
};

const double kTwoThreads[3] = {2.003, 1.838, 0.161};
const double kTwoProcesses[3] = {1.045, 1.824, 0.231};
const double kFourProcesses[3] = {0.540, 1.792, 0.269};
constexpr double kPublishedProcessB = 0.1003, kPublishedPoolB = 0.1965;

Cell CpuCell(const std::string& reading, Policy policy, uint32_t jobs, uint64_t count) {
  Cell cell;
  cell.series = fmt::format("A-{}/{}", reading, PolicyName(policy));
  cell.workload.label = fmt::format("cpu {}M", count / 1000000.0);
  cell.workload.spec.kind = TaskKind::kCpu;
  cell.workload.spec.cpu.count = count;
  cell.policy = policy;
  cell.workers = jobs;
  cell.tasks = jobs;
  return cell;
}

Cell IoCell(Policy policy, uint32_t calls) {
  Cell cell;
  cell.series = fmt::format("B-{}/{}", calls, PolicyName(policy));
  cell.workload.label = "io 64B";
  cell.workload.spec.kind = TaskKind::kIo;
  cell.workload.spec.io.bytes = 64;
  cell.policy = policy;
  cell.workers = policy == Policy::kPool ? OnlineCpus() : 0;  // Pool(): one per CPU; Process: all
  cell.tasks = calls;
  return cell;
}

struct PyStats {
  bool ok = false;
  double real = 0, user = 0, sys = 0, elapsed = 0, pool_create = 0;
};

PyStats RunPyReps(const std::string& python, const std::string& script,
                  const std::vector<std::string>& args, uint32_t reps, std::string* error) {
  std::vector<double> real, user, sys, elapsed, create;
  for (uint32_t i = 0; i < reps && !Interrupted(); ++i) {
    PythonRun run;
    Status s = RunPython(python, script, args, &run);
    if (!s.ok()) {
      *error = s.message();
      return {};
    }
    real.push_back(run.real_s);
    user.push_back(run.user_s);
    sys.push_back(run.sys_s);
    elapsed.push_back(run.elapsed_s);
    create.push_back(run.pool_create_s);
  }
  if (real.empty()) return {};
  return {true, Median(real), Median(user), Median(sys), Median(elapsed), Median(create)};
}

void PrintRows(const std::vector<Row>& rows) {
  std::printf("  %-34s %8s %8s %8s %9s   %s\n", "variant", "real", "user", "sys", "start-up",
              "tutorial real/user/sys");
  for (const Row& r : rows) {
    std::string published = r.published ? fmt::format("{:.3f} / {:.3f} / {:.3f}", r.published[0],
                                                      r.published[1], r.published[2])
                                        : "";
    std::string startup = r.startup >= 0 ? fmt::format("{:.3f}", r.startup) : "-";
    std::printf("  %-34s %8.3f %8.3f %8.3f %9s   %s\n", r.variant.c_str(), r.real, r.user, r.sys,
                startup.c_str(), published.c_str());
  }
}

}  // namespace

int RunTutorial(const LabOptions& lab, const Outputs& outputs, bool with_python,
                const std::string& python) {
  const auto t0 = std::chrono::steady_clock::now();
  const uint32_t cores = OnlineCpus();
  std::string script_dir;
  if (with_python) {
    script_dir = FindPythonScripts();
    if (script_dir.empty()) {
      std::fprintf(stderr,
                   "taskq bench: --with-python: cannot find bench/tutorial/*.py (set "
                   "TASKQ_BENCH_DIR)\n");
      return 3;
    }
  }
  // The taskq cells.
  std::vector<Cell> cells;
  for (Policy p : {Policy::kProcess, Policy::kPool}) {
    for (uint32_t n : {1u, 2u, 4u}) cells.push_back(CpuCell("full", p, n, kCount));
    for (uint32_t n : {1u, 2u, 4u}) cells.push_back(CpuCell("split", p, n, 2 * kCount / n));
  }
  for (uint32_t calls : {kFewCalls, kManyCalls}) {
    for (Policy p : {Policy::kProcess, Policy::kPool}) cells.push_back(IoCell(p, calls));
  }
  std::vector<CellResult> results;
  Status ran = RunCells(lab, cells, &results);
  if (!ran.ok()) {
    std::fprintf(stderr, "taskq: %s\n", ran.message().c_str());
    return Interrupted() ? 130 : ran.exit_code();
  }
  ComputeSpeedups(&results);
  for (CellResult& r : results) {  // the full reading: N jobs do N times the work
    if (r.cell.series.rfind("A-full", 0) == 0) {
      r.speedup *= r.cell.workers;
      r.efficiency = r.speedup / r.cell.workers;
    }
  }
  std::map<std::string, const CellResult*> by;  // "series:workers"
  for (const CellResult& r : results) by[fmt::format("{}:{}", r.cell.series, r.cell.workers)] = &r;
  auto cell = [&](const std::string& series, uint32_t n) {
    return by.at(fmt::format("{}:{}", series, n));
  };

  // The Python side.
  std::map<std::string, PyStats> py;
  std::string py_error;
  if (with_python) {
    const std::string a = script_dir + "/list_append.py", b = script_dir + "/process_vs_pool.py";
    const std::string c10 = std::to_string(kCount), c5 = std::to_string(kCount / 2);
    struct Job {
      std::string key, script;
      std::vector<std::string> args;
    };
    const std::vector<Job> jobs = {
        {"serial1", a, {"--mode", "serial", "--jobs", "1", "--count", c10}},
        {"serial2", a, {"--mode", "serial", "--jobs", "2", "--count", c10}},
        {"threads2", a, {"--mode", "threads", "--jobs", "2", "--count", c10}},
        {"procs2", a, {"--mode", "processes", "--jobs", "2", "--count", c10}},
        {"procs4full", a, {"--mode", "processes", "--jobs", "4", "--count", c10}},
        {"procs4split", a, {"--mode", "processes", "--jobs", "4", "--count", c5}},
        {"bproc10", b, {"--mode", "process", "--calls", std::to_string(kFewCalls)}},
        {"bpool10", b, {"--mode", "pool", "--calls", std::to_string(kFewCalls)}},
        {"bproc1000", b, {"--mode", "process", "--calls", std::to_string(kManyCalls)}},
        {"bpool1000", b, {"--mode", "pool", "--calls", std::to_string(kManyCalls)}},
    };
    for (size_t i = 0; i < jobs.size() && py_error.empty() && !Interrupted(); ++i) {
      if (lab.progress) {
        std::fprintf(stderr, "\r\033[K[python %zu/%zu] %s", i + 1, jobs.size(),
                     jobs[i].key.c_str());
        std::fflush(stderr);
      }
      py[jobs[i].key] = RunPyReps(python, jobs[i].script, jobs[i].args, lab.reps, &py_error);
    }
    if (lab.progress) std::fprintf(stderr, "\r\033[K");
    if (!py_error.empty()) std::fprintf(stderr, "taskq bench: python: %s\n", py_error.c_str());
  }
  if (Interrupted()) return 130;
  auto has = [&](const std::string& k) { return py.count(k) && py[k].ok; };

  // Experiment A table.
  std::printf(
      "Experiment A. CPU-bound: list_append, 10,000,000 numbers per job (the tutorial's "
      "size); %u cores; medians of %u runs; seconds\n",
      cores, lab.reps);
  std::vector<Row> rows;
  auto py_row = [&](const std::string& key, const std::string& name, const double* published) {
    if (has(key)) rows.push_back({name, py[key].real, py[key].user, py[key].sys, -1, published});
  };
  py_row("serial1", "python: 1 job in 1 process", nullptr);
  py_row("serial2", "python: 2 jobs, one after the other", nullptr);
  py_row("threads2", "python: 2 threads", kTwoThreads);
  py_row("procs2", "python: 2 processes", kTwoProcesses);
  py_row("procs4full", "python: 4 processes (full: 4x10M)", kFourProcesses);
  py_row("procs4split", "python: 4 processes (split: 4x5M)", kFourProcesses);
  if (!with_python) {
    rows.push_back({"tutorial: 2 threads (not run)", 0, 0, 0, -1, kTwoThreads});
  }
  for (Policy p : {Policy::kProcess, Policy::kPool}) {
    const std::string pn = PolicyName(p);
    auto add = [&](const std::string& reading, uint32_t n, const std::string& what,
                   const double* published) {
      const CellResult* r = cell("A-" + reading + "/" + pn, n);
      rows.push_back({fmt::format("taskq {}: {}", pn, what), r->wall_median, r->user_s, r->sys_s,
                      r->startup_s, published});
    };
    add("full", 1, "1 job (10M)", nullptr);
    add("split", 1, "1 job (20M)", nullptr);
    add("full", 2, "2 jobs", p == Policy::kProcess ? kTwoProcesses : nullptr);
    add("full", 4, "4 jobs (full: 4x10M)", p == Policy::kProcess ? kFourProcesses : nullptr);
    add("split", 4, "4 jobs (split: 4x5M)", p == Policy::kProcess ? kFourProcesses : nullptr);
  }
  PrintRows(rows);
  std::printf(
      "  python rows: real/user/sys of the whole program as `time` shows them; taskq rows: "
      "the batch on a running daemon (user/sys = the tasks' CPU), start-up apart.\n\n");

  // Experiment B table.
  std::printf(
      "Experiment B. I/O: create, write a short string, close; Process = one process per "
      "call (taskq: process policy, unbounded), Pool = %u workers; seconds\n",
      cores);
  std::printf("  %-34s %10s %10s %10s %12s   %s\n", "variant", "10 calls", "incl.start",
              "1000 calls", "incl.start", "tutorial");
  auto b_row = [&](const std::string& name, double few, double few_total, double many,
                   double many_total, double published) {
    std::printf("  %-34s %10.4f %10.4f %10.4f %12.4f   %s\n", name.c_str(), few, few_total, many,
                many_total, published > 0 ? fmt::format("{:.4f}", published).c_str() : "");
  };
  if (has("bproc10") && has("bproc1000")) {
    b_row("python: Process", py["bproc10"].elapsed, py["bproc10"].elapsed, py["bproc1000"].elapsed,
          py["bproc1000"].elapsed, kPublishedProcessB);
    b_row("python: Pool (creation included)", py["bpool10"].elapsed - py["bpool10"].pool_create,
          py["bpool10"].elapsed, py["bpool1000"].elapsed - py["bpool1000"].pool_create,
          py["bpool1000"].elapsed, kPublishedPoolB);
  }
  for (Policy p : {Policy::kProcess, Policy::kPool}) {
    const CellResult* few =
        cell(fmt::format("B-{}/{}", kFewCalls, PolicyName(p)), IoCell(p, 1).workers);
    const CellResult* many =
        cell(fmt::format("B-{}/{}", kManyCalls, PolicyName(p)), IoCell(p, 1).workers);
    b_row(fmt::format("taskq {}", PolicyName(p)), few->wall_median,
          few->wall_median + few->startup_s, many->wall_median, many->wall_median + many->startup_s,
          p == Policy::kProcess ? kPublishedProcessB : kPublishedPoolB);
  }
  std::printf(
      "  incl.start: plus start-up (Python: Pool creation; taskq: taskqd spawn to ready, "
      "pool workers included). The tutorial does not say how many calls it timed.\n\n");

  // Verdicts.
  nlohmann::json verdicts = nlohmann::json::array();
  auto verdict = [&](const std::string& claim, const char* held, const std::string& detail) {
    std::printf("  [%s] %s: %s\n", held, claim.c_str(), detail.c_str());
    verdicts.push_back({{"claim", claim}, {"verdict", held}, {"detail", detail}});
  };
  std::printf("Verdicts on the tutorial's claims (this machine, %u cores):\n", cores);
  if (has("threads2") && has("serial2")) {
    double s = py["serial2"].real / py["threads2"].real;
    verdict(
        "threads give no speedup for CPU-bound work", s < 1.25 ? "HELD" : "NOT HELD",
        fmt::format("python 2 threads {:.2f} s vs the same 2 jobs one after the other {:.2f} s: "
                    "{:.2f}x (tutorial: 2 threads 2.003 s, no speedup)",
                    py["threads2"].real, py["serial2"].real, s));
  } else {
    verdict("threads give no speedup for CPU-bound work", "UNTESTED",
            "taskq runs processes, not threads: add --with-python to run Python threads");
  }
  {
    const CellResult* one = cell("A-split/process", 1);
    const CellResult* two = cell("A-split/process", 2);
    double s = one->wall_median / two->wall_median;
    std::string py_part =
        has("procs2") && has("serial2")
            ? fmt::format("; python {:.2f}x", py["serial2"].real / py["procs2"].real)
            : "";
    verdict("2 processes: real time drops by almost 2x", s >= 1.6 ? "HELD" : "NOT HELD",
            fmt::format("taskq process policy {:.3f} s -> {:.3f} s = {:.2f}x{} (tutorial 2.003 -> "
                        "1.045 s = 1.92x)",
                        one->wall_median, two->wall_median, s, py_part));
  }
  {
    const CellResult* one = cell("A-split/process", 1);
    const CellResult* four = cell("A-split/process", 4);
    double s = one->wall_median / four->wall_median;
    const char* held = s >= 3.2 ? "HELD" : cores < 4 ? "NOT HELD HERE" : "NOT HELD";
    verdict("4 processes: about 3.8x", held,
            fmt::format("taskq {:.2f}x with 4 processes on {} cores (ceiling {}x){}; tutorial "
                        "2.003/0.540 = 3.71x on >= 4 cores",
                        s, cores, std::min(4u, cores),
                        cores < 4 ? ": needs 4 cores, cannot hold on this machine" : ""));
  }
  {
    const double published = kFourProcesses[1] / kTwoProcesses[1];
    const CellResult* f2 = cell("A-full/process", 2);
    const CellResult* f4 = cell("A-full/process", 4);
    const CellResult* s4 = cell("A-split/process", 4);
    double full = f4->user_s / f2->user_s, split = s4->user_s / f2->user_s;
    bool fits_split = std::abs(split - published) < std::abs(full - published);
    verdict(
        "which reading the figures fit", fits_split ? "SPLIT" : "FULL",
        fmt::format("user time 4 jobs / 2 jobs: tutorial {:.2f}; measured full reading {:.2f}, "
                    "split reading {:.2f}: the tutorial's 4-process run did the same total work "
                    "as its 2-process run",
                    published, full, split));
  }
  {
    const CellResult* proc = cell(fmt::format("B-{}/process", kFewCalls), 0);
    const CellResult* pool = cell(fmt::format("B-{}/pool", kFewCalls), cores);
    double tp = proc->wall_median + proc->startup_s, tl = pool->wall_median + pool->startup_s;
    std::string py_part = has("bproc10") && has("bpool10")
                              ? fmt::format("; python Process {:.4f} s vs Pool {:.4f} s",
                                            py["bproc10"].elapsed, py["bpool10"].elapsed)
                              : "";
    verdict(fmt::format("Process beats Pool for I/O (few tasks: {}, start-up included)", kFewCalls),
            tp < tl ? "HELD" : "NOT HELD",
            fmt::format("taskq process {:.4f} s vs pool {:.4f} s ({:.2f}x){} (tutorial 0.1003 vs "
                        "0.1965 s, 1.96x)",
                        tp, tl, tl / tp, py_part));
  }
  {
    const CellResult* proc = cell(fmt::format("B-{}/process", kManyCalls), 0);
    const CellResult* pool = cell(fmt::format("B-{}/pool", kManyCalls), cores);
    std::string py_part = has("bproc1000") && has("bpool1000")
                              ? fmt::format("; python Process {:.3f} s vs Pool {:.3f} s",
                                            py["bproc1000"].elapsed, py["bpool1000"].elapsed)
                              : "";
    bool reverses = pool->wall_median < proc->wall_median;
    verdict(
        fmt::format("... and for many tasks ({})", kManyCalls), reverses ? "REVERSES" : "HELD",
        fmt::format("taskq process {:.3f} s ({:.0f} tasks/s) vs pool {:.3f} s ({:.0f} tasks/s): "
                    "{} {:.1f}x faster{}",
                    proc->wall_median, proc->throughput, pool->wall_median, pool->throughput,
                    reverses ? "pool" : "process",
                    reverses ? proc->wall_median / pool->wall_median
                             : pool->wall_median / proc->wall_median,
                    py_part));
  }
  {
    const CellResult* proc = cell(fmt::format("B-{}/process", kFewCalls), 0);
    const CellResult* pool = cell(fmt::format("B-{}/pool", kFewCalls), cores);
    double extra = pool->startup_s - proc->startup_s;
    std::string py_part = has("bpool10") ? fmt::format("; python Pool({}) creation {:.1f} ms",
                                                       cores, py["bpool10"].pool_create * 1000)
                                         : "";
    verdict(
        "creating a Pool costs more", extra > 0 ? "HELD" : "NOT HELD",
        fmt::format("taskqd ready in {:.1f} ms with {} pool workers vs {:.1f} ms with the "
                    "process policy: {:+.1f} ms{}",
                    pool->startup_s * 1000, cores, proc->startup_s * 1000, extra * 1000, py_part));
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\nRan in %.1f s (%u repetitions of each run; nothing scaled down).\n", total,
              lab.reps);

  std::vector<AmdahlFit> fits = FitAmdahl(results, cores);
  nlohmann::json extra;
  extra["preset"] = "tutorial";
  extra["with_python"] = with_python;
  extra["elapsed_s"] = total;
  extra["verdicts"] = verdicts;
  nlohmann::json pyj = nlohmann::json::object();
  for (auto& [k, v] : py) {
    if (v.ok)
      pyj[k] = {{"real_s", v.real},
                {"user_s", v.user},
                {"sys_s", v.sys},
                {"elapsed_s", v.elapsed},
                {"pool_create_s", v.pool_create}};
  }
  extra["python"] = pyj;
  extra["published"] = {{"A",
                         {{"2 threads", {2.003, 1.838, 0.161}},
                          {"2 processes", {1.045, 1.824, 0.231}},
                          {"4 processes", {0.540, 1.792, 0.269}}}},
                        {"B", {{"process", kPublishedProcessB}, {"pool", kPublishedPoolB}}}};
  Status written = WriteOutputs(outputs, results, fits, extra.dump());
  if (!written.ok()) {
    std::fprintf(stderr, "taskq: %s\n", written.message().c_str());
    return written.exit_code();
  }
  return py_error.empty() ? 0 : 1;
}

}  // namespace taskq::bench
