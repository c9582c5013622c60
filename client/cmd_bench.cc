// taskq bench: the policy lab's command line (the lab itself is lab/). Parses the matrix
// (workloads × policies × workers × tasks × repetitions), runs it on private daemons (or the
// --queue daemon) and prints/writes the figures; `--preset tutorial` and `--advise` are separate
// runs built on the same parts.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>

#include "client/cli.h"
#include "fmt/format.h"
#include "lab/lab.h"

namespace taskq::cli {

struct BenchArgs {
  std::vector<std::string> workloads;
  std::vector<std::string> policies;
  std::string workers;
  uint32_t tasks = 0;
  uint32_t reps = 3;
  uint32_t max_reps = 9;
  uint64_t cpu_count = 1000000;
  uint64_t io_bytes = 64;
  bool io_fsync = false;
  lab::Outputs outputs;
  std::string preset;
  bool with_python = false;
  bool advise = false;
  uint32_t last = 100;
  std::string taskqd;
  std::string python = "python3";
  double cell_timeout_s = 600;
};

CLI::App* AddBenchCommand(CLI::App* app, std::shared_ptr<BenchArgs>* out) {
  auto args = std::make_shared<BenchArgs>();
  *out = args;
  CLI::App* cmd = app->add_subcommand(
      "bench", "the policy lab: measure workloads under both policies and several worker counts");
  cmd->add_option("--workload", args->workloads,
                  "cpu | io | exec | \"exec:CMD ARGS\" (repeatable; default cpu and io)");
  cmd->add_option("--policy", args->policies, "process | pool (repeatable; default both)");
  cmd->add_option("--workers", args->workers,
                  "worker counts, e.g. 1,2,4 (default 1,2,4 capped at 2 x cores; 1 is always run)");
  cmd->add_option("--tasks", args->tasks, "tasks per cell (default cpu 16, io 200, exec 50)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--reps", args->reps, "repetitions per cell (default 3)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--max-reps", args->max_reps,
                  "rerun the cells of an inconclusive comparison up to this many repetitions "
                  "(default 9)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--cpu-count", args->cpu_count, "numbers per cpu task (default 1,000,000)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1000000000}));
  cmd->add_option("--io-bytes", args->io_bytes, "bytes per io task (default 64)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 30));
  cmd->add_flag("--io-fsync", args->io_fsync, "io tasks fsync before close");
  cmd->add_option("--csv", args->outputs.csv, "write the cells as CSV to FILE");
  cmd->add_option("--json", args->outputs.json,
                  "write cells, fits and comparisons as JSON to FILE");
  cmd->add_option("--svg", args->outputs.svg, "write a speedup chart to FILE");
  cmd->add_option("--preset", args->preset,
                  "tutorial: the tutorial's two experiments beside its published figures");
  cmd->add_flag("--with-python", args->with_python,
                "with --preset tutorial: also run the Python re-creations (bench/tutorial/*.py)");
  cmd->add_flag("--advise", args->advise,
                "classify the work (CPU- or I/O-bound) and recommend a policy and worker count");
  cmd->add_option("--last", args->last, "with --advise --queue: the last N finished tasks")
      ->check(CLI::Range(1, 1 << 22));
  cmd->add_option("--taskqd", args->taskqd, "the taskqd binary (default: next to taskq)");
  cmd->add_option("--python", args->python, "Python interpreter for --with-python");
  cmd->add_option("--cell-timeout", args->cell_timeout_s, "give up on a repetition after SEC")
      ->check(CLI::Range(1.0, 86400.0));
  return cmd;
}

namespace {

Status ParseWorkers(const std::string& text, std::vector<uint32_t>* workers) {
  std::set<uint32_t> set;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    unsigned long n = std::strtoul(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || n < 1 || n > 1024) {
      return Status::Invalid(
          fmt::format("--workers: '{}' is not a count 1..1024 (e.g. 1,2,4)", item));
    }
    set.insert(static_cast<uint32_t>(n));
  }
  set.insert(1);
  workers->assign(set.begin(), set.end());
  return Status::Ok();
}

Status ParseWorkload(const std::string& text, const BenchArgs& args, lab::Workload* w) {
  w->label = text;
  TaskSpec& spec = w->spec;
  if (text == "cpu") {
    spec.kind = TaskKind::kCpu;
    spec.cpu.count = args.cpu_count;
  } else if (text == "io") {
    spec.kind = TaskKind::kIo;
    spec.io.bytes = args.io_bytes;
    spec.io.fsync = args.io_fsync;
    if (args.io_fsync) w->label = "io+fsync";
  } else if (text == "exec" || text.rfind("exec:", 0) == 0) {
    spec.kind = TaskKind::kExec;
    std::string command = text == "exec" ? "/bin/true" : text.substr(5);
    TASKQ_RETURN_IF_ERROR(SplitWords(command, &spec.exec.argv));
    if (spec.exec.argv.empty()) return Status::Invalid("--workload exec: empty command");
  } else {
    return Status::Invalid(
        fmt::format("--workload: unknown '{}'; use cpu, io, exec or \"exec:CMD ARGS\"", text));
  }
  return Status::Ok();
}

uint32_t DefaultTasks(const lab::Workload& w) {
  switch (w.spec.kind) {
    case TaskKind::kCpu:
      return 16;
    case TaskKind::kIo:
      return 200;
    case TaskKind::kExec:
      return 50;
  }
  return 16;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "taskq bench: %s\n", message.c_str());
  return 2;
}

}  // namespace

int RunBench(const GlobalArgs& global, BenchArgs& args) {
  if (!args.preset.empty() && args.preset != "tutorial") {
    return Usage(fmt::format("--preset: unknown '{}'; the only preset is 'tutorial'", args.preset));
  }
  if (args.with_python && args.preset != "tutorial") {
    return Usage("--with-python needs --preset tutorial");
  }
  if (!args.preset.empty() && args.advise) return Usage("--preset and --advise do not combine");
  if (!args.preset.empty() && !global.queue.empty()) {
    return Usage("--preset tutorial starts its own daemons: drop --queue");
  }
  std::vector<lab::Workload> workloads;
  for (const std::string& text :
       args.workloads.empty() ? std::vector<std::string>{"cpu", "io"} : args.workloads) {
    lab::Workload w;
    Status s = ParseWorkload(text, args, &w);
    if (!s.ok()) return Usage(s.message());
    workloads.push_back(w);
  }
  std::vector<Policy> policies;
  for (const std::string& text :
       args.policies.empty() ? std::vector<std::string>{"process", "pool"} : args.policies) {
    Policy p;
    if (!ParsePolicy(text, &p))
      return Usage(fmt::format("--policy: unknown '{}'; use process or pool", text));
    if (std::find(policies.begin(), policies.end(), p) == policies.end()) policies.push_back(p);
  }
  const uint32_t cores = OnlineCpus();
  std::vector<uint32_t> workers;
  if (args.workers.empty()) {
    for (uint32_t n : {1u, 2u, 4u}) {
      if (n == 1 || n <= 2 * cores) workers.push_back(n);
    }
  } else if (Status s = ParseWorkers(args.workers, &workers); !s.ok()) {
    return Usage(s.message());
  }

  lab::LabOptions setup;
  setup.reps = args.reps;
  setup.max_reps = std::max(args.reps, args.max_reps);
  setup.cell_timeout_s = args.cell_timeout_s;
  setup.progress = isatty(STDERR_FILENO) != 0;
  setup.queue = global.queue;
  setup.config = global.config;
  if (setup.queue.empty()) {
    Status found = lab::FindTaskqd(args.taskqd, &setup.taskqd);
    if (!found.ok()) return Report(found);
  }
  lab::InstallInterruptHandlers();

  if (args.preset == "tutorial") {
    return lab::RunTutorial(setup, args.outputs, args.with_python, args.python);
  }
  if (args.advise) {
    // Without --workers the advice picks its own counts (1, cores, 2 x cores and the class's).
    return lab::RunAdvise(setup, workloads,
                          args.workers.empty() ? std::vector<uint32_t>{} : workers, args.tasks,
                          args.last, args.outputs);
  }

  std::vector<lab::Cell> cells;
  if (!setup.queue.empty()) {
    // The running daemon's policy and size are what they are: one cell per workload.
    std::unique_ptr<Client> client;
    Status s = Client::Connect({setup.queue, setup.config}, &client);
    if (!s.ok()) return Report(s);
    QueueStats stats = client->Stats();
    if (!stats.daemon_running)
      return Report(Status::Unavailable("no taskqd serves queue " + setup.queue));
    for (const lab::Workload& w : workloads) {
      lab::Cell cell{w.label + "/" + PolicyName(stats.daemon.policy), w, stats.daemon.policy,
                     stats.daemon.policy == Policy::kPool ? stats.daemon.workers_wanted
                                                          : stats.daemon.max_parallel,
                     args.tasks > 0 ? args.tasks : DefaultTasks(w)};
      cells.push_back(cell);
    }
    std::fprintf(stderr,
                 "taskq bench: using the running daemon of queue '%s' (%s): one cell per "
                 "workload, no start-up figures\n",
                 setup.queue.c_str(), PolicyName(stats.daemon.policy));
  } else {
    for (const lab::Workload& w : workloads) {
      for (Policy p : policies) {
        for (uint32_t n : workers) {
          cells.push_back({w.label + "/" + PolicyName(p), w, p, n,
                           args.tasks > 0 ? args.tasks : DefaultTasks(w)});
        }
      }
    }
  }
  const std::string load_before = lab::LoadAverage();
  std::vector<lab::CellResult> results;
  Status ran = lab::RunCells(setup, cells, &results);
  if (!ran.ok()) {
    int code = Report(ran);
    return lab::Interrupted() ? 130 : code;
  }
  // Rerun the cells of a conclusion the noise leaves undecided, up to --max-reps.
  lab::Chart chart;
  for (;;) {
    lab::ComputeSpeedups(&results);
    chart = lab::MatrixChart(results, {}, cores);
    bool more = false;
    for (size_t i : chart.undecided) {
      if (results[i].reps.size() >= setup.max_reps) continue;
      ran = lab::RunOneMore(setup, &results[i]);
      if (!ran.ok()) {
        int code = Report(ran);
        return lab::Interrupted() ? 130 : code;
      }
      more = true;
    }
    if (!more) break;
  }
  std::vector<lab::AmdahlFit> fits = lab::FitAmdahl(results, cores);
  chart = lab::MatrixChart(results, fits, cores);
  lab::PrintTable(results, fits);
  std::printf("%s\n", lab::LoadLine(load_before, lab::LoadAverage()).c_str());
  std::printf("conclusion: %s\n", chart.title.c_str());
  Status written = lab::WriteOutputs(args.outputs, results, fits, chart);
  if (!written.ok()) return Report(written);
  for (const auto& r : results) {
    if (r.failed > 0) return 1;
  }
  return 0;
}

}  // namespace taskq::cli
