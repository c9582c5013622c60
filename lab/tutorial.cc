// `taskq bench --preset tutorial`: the tutorial's two experiments (/work/shared/TUTORIAL.md) on
// real daemons, optionally beside the Python re-creations; tutorial_report.cc judges them.
//   A: list_append, 10,000,000 numbers per job, 1/2/4 jobs, each job its own process (taskq:
//      one task per job, workers = jobs), in both readings: "full" (every job 10M: N jobs do N
//      times the work) and "split" (20M in all, divided among the jobs; 2 jobs are the same in
//      both readings and run once).
//   B: create/write/close a small file, few calls (10) and many (1000): Process (a process per
//      call, unbounded) against Pool (one worker per core), start-up included and not.
// A verdict the noise leaves undecided has its cells rerun, one repetition at a time, up to
// --max-reps.
#include <chrono>
#include <cstdio>
#include <set>

#include "fmt/format.h"
#include "lab/lab.h"
#include "lab/python.h"
#include "nlohmann/json.hpp"

namespace taskq::lab {
namespace {

constexpr uint64_t kCount = 10000000;
constexpr uint32_t kFewCalls = 10, kManyCalls = 1000;

struct PythonJob {
  std::string key, script;
  std::vector<std::string> args;
};

std::vector<PythonJob> PythonJobs(const std::string& script_dir) {
  const std::string a = script_dir + "/list_append.py", b = script_dir + "/process_vs_pool.py";
  const std::string c10 = std::to_string(kCount), c5 = std::to_string(kCount / 2);
  return {
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
}

PyStats Reduce(const std::vector<PythonRun>& runs) {
  std::vector<double> real, user, sys, elapsed, create;
  for (const PythonRun& run : runs) {
    real.push_back(run.real_s);
    user.push_back(run.user_s);
    sys.push_back(run.sys_s);
    elapsed.push_back(run.elapsed_s);
    create.push_back(run.pool_create_s);
  }
  if (real.empty()) return {};
  return {true,           Median(real),    Median(user),       Median(sys), Median(elapsed),
          Median(create), SpreadPct(real), SpreadPct(elapsed), runs.size()};
}

// Runs each job `reps` more times (only `keys`, when not empty), appending to `runs`.
void RunPythonJobs(const LabOptions& lab, const std::string& python, const std::string& script_dir,
                   uint32_t reps, const std::set<std::string>& keys,
                   std::map<std::string, std::vector<PythonRun>>* runs, std::string* error) {
  const std::vector<PythonJob> jobs = PythonJobs(script_dir);
  for (size_t i = 0; i < jobs.size() && error->empty() && !Interrupted(); ++i) {
    if (!keys.empty() && keys.count(jobs[i].key) == 0) continue;
    if (lab.progress) {
      std::fprintf(stderr, "\r\033[K[python %zu/%zu] %s", i + 1, jobs.size(), jobs[i].key.c_str());
      std::fflush(stderr);
    }
    for (uint32_t rep = 0; rep < reps && error->empty() && !Interrupted(); ++rep) {
      PythonRun run;
      Status s = RunPython(python, jobs[i].script, jobs[i].args, &run);
      if (s.ok()) {
        (*runs)[jobs[i].key].push_back(run);
      } else {
        *error = s.message();
      }
    }
  }
  if (lab.progress) std::fprintf(stderr, "\r\033[K");
}

}  // namespace

int RunTutorial(const LabOptions& lab, const Outputs& outputs, bool with_python,
                const std::string& python) {
  const auto t0 = std::chrono::steady_clock::now();
  TutorialFigures figures;
  figures.cores = OnlineCpus();
  figures.with_python = with_python;
  figures.load_before = LoadAverage();
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
  Status ran = RunCells(lab, TutorialCells(figures.cores), &figures.cells);
  // Rerun the cells of every inconclusive verdict, one repetition each round, until the verdicts
  // are decided or the cells have --max-reps repetitions.
  TutorialReport report;
  while (ran.ok()) {
    report = JudgeTutorial(figures);
    std::set<size_t> again;
    for (const Verdict& v : report.verdicts) {
      if (v.conclusive) continue;
      for (size_t i : v.cells) {
        if (figures.cells[i].reps.size() < lab.max_reps) again.insert(i);
      }
    }
    if (again.empty()) break;
    for (size_t i : again) {
      ran = RunOneMore(lab, &figures.cells[i]);
      if (!ran.ok()) break;
    }
  }
  if (!ran.ok()) {
    std::fprintf(stderr, "taskq: %s\n", ran.message().c_str());
    return Interrupted() ? 130 : ran.exit_code();
  }
  // The Python side, its undecided comparisons rerun the same way.
  std::string py_error;
  std::map<std::string, std::vector<PythonRun>> py_runs;
  std::set<std::string> py_keys;  // empty: every job
  for (uint32_t reps = lab.reps; with_python && py_error.empty() && !Interrupted(); reps = 1) {
    RunPythonJobs(lab, python, script_dir, reps, py_keys, &py_runs, &py_error);
    for (const auto& [key, runs] : py_runs) figures.python[key] = Reduce(runs);
    py_keys.clear();
    for (const Verdict& v : JudgeTutorial(figures).verdicts) {
      for (const std::string& key : v.conclusive ? std::vector<std::string>{} : v.python) {
        if (py_runs[key].size() < lab.max_reps) py_keys.insert(key);
      }
    }
    if (py_keys.empty()) break;
  }
  if (!py_error.empty()) std::fprintf(stderr, "taskq bench: python: %s\n", py_error.c_str());
  if (Interrupted()) return 130;
  figures.load_after = LoadAverage();
  ComputeSpeedups(&figures.cells);
  report = JudgeTutorial(figures);
  std::fputs(report.text.c_str(), stdout);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("Ran in %.1f s (%u to %u repetitions of each run; nothing scaled down).\n", total,
              lab.reps, lab.max_reps);

  nlohmann::json extra;
  extra["preset"] = "tutorial";
  extra["with_python"] = with_python;
  extra["elapsed_s"] = total;
  extra["load_before"] = figures.load_before;
  extra["load_after"] = figures.load_after;
  extra["conclusion"] = report.chart.title;
  extra["verdicts"] = nlohmann::json::array();
  for (const Verdict& v : report.verdicts) {
    extra["verdicts"].push_back({{"claim", v.claim},
                                 {"verdict", v.outcome},
                                 {"conclusive", v.conclusive},
                                 {"detail", v.detail}});
  }
  nlohmann::json pyj = nlohmann::json::object();
  for (auto& [k, v] : figures.python) {
    if (v.ok)
      pyj[k] = {{"real_s", v.real},
                {"user_s", v.user},
                {"sys_s", v.sys},
                {"elapsed_s", v.elapsed},
                {"pool_create_s", v.pool_create},
                {"real_spread_pct", v.real_spread_pct},
                {"reps", v.reps}};
  }
  extra["python"] = pyj;
  extra["published"] = {{"A",
                         {{"2 threads", {2.003, 1.838, 0.161}},
                          {"2 processes", {1.045, 1.824, 0.231}},
                          {"4 processes", {0.540, 1.792, 0.269}}}},
                        {"B", {{"process", 0.1003}, {"pool", 0.1965}}}};
  Status written = WriteOutputs(outputs, figures.cells, report.fits, report.chart, extra.dump());
  if (!written.ok()) {
    std::fprintf(stderr, "taskq: %s\n", written.message().c_str());
    return written.exit_code();
  }
  return py_error.empty() ? 0 : 1;
}

}  // namespace taskq::lab
