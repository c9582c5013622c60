// The policy lab (`taskq bench`, DESIGN §8): what its parts share. A matrix of cells (workload ×
// policy × workers × tasks) is run on real taskqd daemons (bench_daemon, bench_matrix), reduced
// to figures (bench_stats), and written out (bench_report, bench_svg). The tutorial preset
// (bench_tutorial, bench_python) and the advice (bench_advise) are built on the same pieces.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/task.h"
#include "config/options.h"

namespace taskq::bench {

// What one task of a cell runs; seeds vary per task.
struct Workload {
  std::string label;  // "cpu", "io", "exec", "exec:/bin/echo hi", or a preset's own name
  TaskSpec spec;
};

struct Cell {
  std::string series;  // cells of one series share workload and policy: speedup is within it
  Workload workload;
  Policy policy = Policy::kPool;
  uint32_t workers = 1;  // pool: workers; process: max_parallel (0 = unbounded)
  uint32_t tasks = 1;
};

// One repetition of a cell on a fresh daemon.
struct RepSample {
  double wall_s = 0;        // first submit to last result, as the client saw it
  double startup_s = 0;     // taskqd spawned to ready (pool: workers up); 0 with --queue
  double first_task_s = 0;  // one probe task alone on the fresh daemon, submit to result
  double user_s = 0;        // sum over the batch's tasks
  double sys_s = 0;
  double daemon_user_s = 0;  // taskqd and every child it reaped, start to stop (like `time`)
  double daemon_sys_s = 0;
  std::vector<double> wait_us;  // per task: queue wait
  std::vector<double> run_us;   // per task: run time
  double run_total_us = 0;
  uint64_t read_bytes = 0, write_bytes = 0, vol_ctxsw = 0, invol_ctxsw = 0;
  uint32_t failed = 0;  // tasks that did not succeed
};

// A cell's figures over its repetitions.
struct CellResult {
  Cell cell;
  std::vector<RepSample> reps;
  double wall_median = 0, wall_min = 0, wall_max = 0, spread_pct = 0;
  double user_s = 0, sys_s = 0, daemon_user_s = 0, daemon_sys_s = 0;  // medians
  double throughput = 0;                                              // tasks / median wall
  double wait_p50_us = 0, wait_p99_us = 0, run_p50_us = 0, run_p99_us = 0;
  double startup_s = 0, first_task_s = 0;  // medians
  double speedup = 0, efficiency = 0;      // against the series' 1-worker cell
  double cpu_share = 0;                    // (user+sys) / run time, over all tasks
  double write_bytes_per_task = 0, read_bytes_per_task = 0;
  double vol_ctxsw_per_task = 0, invol_ctxsw_per_task = 0;
  uint32_t failed = 0;
};

// Amdahl's law fitted to one series: speedup(n) = 1 / (f + (1 - f) / n).
struct AmdahlFit {
  std::string series;
  bool valid = false;
  double serial_fraction = 0;
  int points = 0;  // worker counts used (n > 1, n <= cores)
  uint32_t max_workers = 0;
};

// How the lab reaches daemons.
struct LabOptions {
  std::string taskqd;  // path of the taskqd binary
  std::string queue;   // use this running daemon instead of starting ones
  std::string config;  // with `queue`: the configuration to resolve it
  uint32_t reps = 3;
  double cell_timeout_s = 600;
  bool progress = false;  // a progress line on stderr
};

// A private taskqd: generated config, own queue and state directory, removed at Stop().
class BenchDaemon {
 public:
  BenchDaemon() = default;
  ~BenchDaemon();
  BenchDaemon(const BenchDaemon&) = delete;
  BenchDaemon& operator=(const BenchDaemon&) = delete;
  // Spawns taskqd and waits until the segment says ready; `startup_s` gets the time it took.
  Status Start(const std::string& taskqd, Policy policy, uint32_t workers, uint32_t capacity,
               double* startup_s);
  // SIGTERM, wait, purge segment and temp dir. `usage` gets taskqd's rusage incl. children.
  void Stop(rusage* usage = nullptr);
  const std::string& queue() const { return queue_; }
  const std::string& config_path() const { return config_path_; }

 private:
  std::string LogTail() const;
  std::string dir_, queue_, config_path_;
  pid_t pid_ = 0;
};

// Where taskqd is: --taskqd, else next to this taskq (build tree ../daemon/taskqd or same bin dir).
Status FindTaskqd(const std::string& given, std::string* path);
uint32_t OnlineCpus();
// True once SIGINT/SIGTERM arrived while the lab ran (it then stops its daemons and exits).
bool Interrupted();
void InstallInterruptHandlers();

// Runs every cell `lab.reps` times; `label` prefixes the progress line.
Status RunCells(const LabOptions& lab, const std::vector<Cell>& cells,
                std::vector<CellResult>* results);

// Statistics.
double Percentile(std::vector<double> values, double p);  // p in [0, 100], nearest rank
double Median(std::vector<double> values);
void Summarise(CellResult* result);
// Speedup and efficiency against each series' 1-worker cell.
void ComputeSpeedups(std::vector<CellResult>* results);
std::vector<AmdahlFit> FitAmdahl(const std::vector<CellResult>& results, uint32_t cores);
double AmdahlSpeedup(double serial_fraction, double workers);

// Output.
void PrintTable(const std::vector<CellResult>& results, const std::vector<AmdahlFit>& fits);
Status WriteCsv(const std::string& path, const std::vector<CellResult>& results);
// `extra` (may be null JSON) is merged into the top-level object (the preset's comparisons).
Status WriteJson(const std::string& path, const std::vector<CellResult>& results,
                 const std::vector<AmdahlFit>& fits, const std::string& extra_json);
Status WriteSvg(const std::string& path, const std::vector<CellResult>& results,
                const std::vector<AmdahlFit>& fits);
std::string WorkersText(uint32_t workers);  // "0" -> "unbounded"
std::string CellName(const Cell& cell);

}  // namespace taskq::bench

namespace taskq::bench {

struct Outputs {
  std::string csv, json, svg;
};
// Writes whichever of CSV/JSON/SVG were asked for.
Status WriteOutputs(const Outputs& outputs, const std::vector<CellResult>& results,
                    const std::vector<AmdahlFit>& fits, const std::string& extra_json = "");

// `--preset tutorial` (bench_tutorial.cc); returns the exit code.
int RunTutorial(const LabOptions& lab, const Outputs& outputs, bool with_python,
                const std::string& python);

// What kind of work it is, from the per-task figures (bench_advise.cc).
struct WorkProfile {
  size_t tasks = 0;
  double cpu_share = 0;  // (user+sys) / run time over all tasks
  double run_p50_us = 0;
  double read_bytes_per_task = 0, write_bytes_per_task = 0;
  double vol_ctxsw_per_task = 0, invol_ctxsw_per_task = 0;
};
// "cpu-bound", "io-bound" or "mixed", with the reason in `why`.
std::string Classify(const WorkProfile& profile, std::string* why);
// `--advise`: measure `workloads` (or, with lab.queue, read the last `last` finished tasks).
int RunAdvise(const LabOptions& lab, const std::vector<Workload>& workloads,
              const std::vector<uint32_t>& workers, uint32_t tasks, uint32_t last,
              const Outputs& outputs);

}  // namespace taskq::bench
