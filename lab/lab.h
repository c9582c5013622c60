// The policy lab (`taskq bench`, DESIGN §8; library taskq_lab, its command line in
// client/cmd_bench.cc): what its parts share. A matrix of cells (workload × policy × workers ×
// tasks) is run on real taskqd daemons (daemon.cc, matrix.cc), reduced to figures (stats.cc),
// judged against the noise of the machine (verdict.cc), and written out (report.cc; chart.cc and
// svg.cc for the chart). The tutorial preset (tutorial.cc runs it, tutorial_report.cc judges it,
// python.cc) and the advice (advise.cc runs it, probe.cc watches one task, classify.cc decides)
// are built on the same pieces; the judging parts take figures, not timings, so tests feed them
// recorded ones.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/status.h"
#include "common/task.h"

namespace taskq::lab {

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

// A cell's figures over its repetitions. min, max and spread are over the repetitions kept: all of
// them below 5, else all but the fastest and the slowest fifth (set aside as outliers), so that
// more repetitions can narrow a spread that one disturbed run widened.
struct CellResult {
  Cell cell;
  std::vector<RepSample> reps;
  double wall_median = 0, wall_min = 0, wall_max = 0;
  double spread_pct = 0;   // (max - min) / median of wall time, in %
  uint32_t set_aside = 0;  // repetitions left out of min/max as outliers
  double startup_spread_pct = 0;
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

// Amdahl's law fitted to one series, with the machine's cores as a ceiling:
// speedup(n) = 1 / (f + (1 - f) / min(n, cores)). Fitted over the points with n > 1; r_squared is
// over every point (n = 1 included). A fit is drawn and quoted only when it `fits`.
struct AmdahlFit {
  std::string series;
  bool valid = false;  // there were points to fit
  double serial_fraction = 0;
  double r_squared = 0;
  bool fits = false;  // valid, at least 3 points and r_squared >= kGoodFit
  int points = 0;     // worker counts with n > 1
  uint32_t cores = 1;
  uint32_t max_workers = 0;
};
constexpr double kGoodFit = 0.9;

// One measured point of a series: speedup (or time) at `workers`, low..high from the min-max of
// the repetitions.
struct SpeedupPoint {
  double workers = 0, value = 0, low = 0, high = 0;
};

// How the lab reaches daemons.
struct LabOptions {
  std::string taskqd;  // path of the taskqd binary
  std::string queue;   // use this running daemon instead of starting ones
  std::string config;  // with `queue`: the configuration to resolve it
  uint32_t reps = 3;
  uint32_t max_reps = 9;  // an inconclusive comparison reruns its cells up to this many times
  double cell_timeout_s = 600;
  bool progress = false;  // a progress line on stderr
};

// A private taskqd: generated config, own queue and state directory, removed at Stop().
class LabDaemon {
 public:
  LabDaemon() = default;
  ~LabDaemon();
  LabDaemon(const LabDaemon&) = delete;
  LabDaemon& operator=(const LabDaemon&) = delete;
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
// True once SIGINT/SIGTERM arrived while the lab ran (it then stops its daemons and exits).
bool Interrupted();
void InstallInterruptHandlers();

// Runs every cell `lab.reps` times; `label` prefixes the progress line.
Status RunCells(const LabOptions& lab, const std::vector<Cell>& cells,
                std::vector<CellResult>* results);
// One more repetition of an already run cell (then re-summarised).
Status RunOneMore(const LabOptions& lab, CellResult* result);

// Statistics.
double Percentile(std::vector<double> values, double p);  // p in [0, 100], nearest rank
double Median(std::vector<double> values);
// (max - min) / median in % over `values` with outliers set aside as for CellResult; `set_aside`
// (may be null) gets how many were.
double SpreadPct(std::vector<double> values, uint32_t* set_aside = nullptr);
void Summarise(CellResult* result);
// Speedup and efficiency against each series' 1-worker cell.
void ComputeSpeedups(std::vector<CellResult>* results);
std::vector<AmdahlFit> FitAmdahl(const std::vector<CellResult>& results, uint32_t cores);
AmdahlFit FitAmdahlPoints(const std::string& series, const std::vector<SpeedupPoint>& points,
                          uint32_t cores);
double AmdahlSpeedup(double serial_fraction, double workers, uint32_t cores);
// The series' points: speedup against its 1-worker cell, bars from each cell's min-max.
std::vector<SpeedupPoint> SpeedupPoints(const std::vector<CellResult>& results,
                                        const std::string& series);

// Comparing two figures on a noisy machine (verdict.cc). A comparison is conclusive when
// its effect (how far the measured ratio is from the claim's threshold, in %) is larger than
// the noise (the largest spread of the cells compared). A cell of one repetition has no known
// noise: nothing is concluded from it.
struct Judgement {
  double effect_pct = 0, noise_pct = 0;
  bool noise_known = true;
  bool conclusive() const { return noise_known && effect_pct > noise_pct; }
};
Judgement Judge(double ratio, double threshold, std::vector<const CellResult*> cells);
Judgement JudgeSpreads(double ratio, double threshold, std::vector<double> spreads_pct);
// "INCONCLUSIVE (noise ±12 %)", or "INCONCLUSIVE (noise unknown: 1 repetition)".
std::string InconclusiveText(const Judgement& judgement);
std::string NoiseText(const Judgement& judgement);  // "±12 %" or "unknown: 1 repetition"
// The machine's load averages (/proc/loadavg, "1.36 0.43 0.15"), or "unknown".
std::string LoadAverage();
// "machine load before: ... after: ...; N cores" with a warning when the load exceeds the cores.
std::string LoadLine(const std::string& before, const std::string& after);
// How a table shows a spread: "12%", or "-" below 2 repetitions (no spread to speak of).
std::string SpreadText(double spread_pct, size_t reps);
// How a table shows seconds (3 decimals, 4 below 0.1 s): verdicts quote the same text.
std::string TableSeconds(double seconds);

// Output.
void PrintTable(const std::vector<CellResult>& results, const std::vector<AmdahlFit>& fits);
Status WriteCsv(const std::string& path, const std::vector<CellResult>& results);
// `extra` (may be null JSON) is merged into the top-level object (the preset's comparisons).
Status WriteJson(const std::string& path, const std::vector<CellResult>& results,
                 const std::vector<AmdahlFit>& fits, const std::string& extra_json);
std::string WorkersText(uint32_t workers);  // "0" -> "unbounded"
std::string CellName(const Cell& cell);
// A series in plain words for legends: "cpu work (list_append 1M), a process per task".
std::string SeriesTitle(const Cell& cell);

// The chart (chart.cc builds it, svg.cc draws it): panels of series against a log
// scale of x (workers, or tasks), each point with a min-max error bar.
struct ChartSeries {
  std::string name;  // plain words: it is the legend
  std::vector<SpeedupPoint> points;
  AmdahlFit fit;  // drawn only when fit.fits
};
struct ChartPanel {
  std::string heading, x_label, y_label;
  bool log_y = false;
  bool ideal = false;  // the line y = x (perfect speedup)
  uint32_t cores = 0;  // a vertical line at the core count (0: none)
  std::string y_unit;  // "x" or "s"
  std::vector<ChartSeries> series;
};
struct Chart {
  std::string title;  // states the conclusion
  std::vector<ChartPanel> panels;
  std::vector<size_t> undecided;  // cells (indexes) a clause of the title could not decide
};
// The matrix's chart: speedup for cpu and exec work, time per task (log scale) for io work.
// REQUIRES: ComputeSpeedups(&results).
Chart MatrixChart(const std::vector<CellResult>& results, const std::vector<AmdahlFit>& fits,
                  uint32_t cores);
std::string RenderSvg(const Chart& chart);
Status WriteSvg(const std::string& path, const Chart& chart);

}  // namespace taskq::lab

namespace taskq::lab {

struct Outputs {
  std::string csv, json, svg;
};
// Writes whichever of CSV/JSON/SVG were asked for.
Status WriteOutputs(const Outputs& outputs, const std::vector<CellResult>& results,
                    const std::vector<AmdahlFit>& fits, const Chart& chart,
                    const std::string& extra_json = "");

// `--preset tutorial` (tutorial.cc); returns the exit code.
int RunTutorial(const LabOptions& lab, const Outputs& outputs, bool with_python,
                const std::string& python);

// The tutorial preset's figures: tutorial.cc measures them, tutorial_report.cc
// turns them into tables, verdicts and a chart without timing anything (tests feed it recorded
// figures).
struct PyStats {
  bool ok = false;
  double real = 0, user = 0, sys = 0, elapsed = 0, pool_create = 0;  // medians
  double real_spread_pct = 0, elapsed_spread_pct = 0;
  size_t reps = 0;
};
struct TutorialFigures {
  uint32_t cores = 1;
  bool with_python = false;
  std::vector<CellResult> cells;          // TutorialCells(cores), in that order
  std::map<std::string, PyStats> python;  // by job ("serial2", "threads2", "bproc10", ...)
  std::string load_before, load_after;
};
std::vector<Cell> TutorialCells(uint32_t cores);
struct Verdict {
  std::string claim;
  std::string outcome;  // "HELD", "NOT HELD", "REVERSES", "INCONCLUSIVE (noise ±12 %)", ...
  std::string detail;   // quotes only figures the tables show
  bool conclusive = true;
  std::vector<size_t> cells;  // indexes into TutorialFigures::cells to rerun when inconclusive
  std::vector<std::string> python;  // keys of TutorialFigures::python to rerun when inconclusive
};
struct TutorialReport {
  std::string text;  // tables, verdicts, load
  std::vector<Verdict> verdicts;
  Chart chart;
  std::vector<AmdahlFit> fits;
};
TutorialReport JudgeTutorial(const TutorialFigures& figures);

// What kind of work it is (classify.cc): from the per-task figures the daemon records, or
// from the wait probe, whose shares of the wall time add up to 1 with what it slept.
struct WorkProfile {
  size_t tasks = 0;
  double cpu_share = 0;  // on a CPU: (user+sys) / run time
  double run_p50_us = 0;
  double read_bytes_per_task = 0, write_bytes_per_task = 0;
  double vol_ctxsw_per_task = 0, invol_ctxsw_per_task = 0;
  double cpu_wait_share = -1;  // runnable, waiting for a CPU (schedstat); -1: not measured
  double blkio_share = -1;     // blocked on block I/O (delay accounting); -1: not measured
  bool from_probe = false;
};
// Class names: "cpu-bound", "waiting on a CPU", "block I/O", "waits, not I/O", "mixed",
// "unknown"; the reason, with its figures, in `why`.
std::string Classify(const WorkProfile& profile, std::string* why);

// The probe (probe.cc): `runs` tasks of the workload as the lab's own children.
struct ProbeFigures {
  uint32_t runs = 0;
  double wall_s = 0, cpu_s = 0, cpu_wait_s = 0;  // sums over the runs, start-up taken off
  double raw_wall_s = 0;                         // before the start-up was taken off
  double blkio_wait_s = -1;                      // -1: delay accounting is off
  double read_bytes = 0, write_bytes = 0, vol_ctxsw = 0, invol_ctxsw = 0;
};
bool DelayAccountingOn();  // kernel.task_delayacct
// `taskq_run` runs the built-in kinds (cpu, io); exec workloads run their own command.
Status ProbeWorkload(const std::string& taskq_run, const Workload& workload, uint32_t runs,
                     ProbeFigures* figures);
// False (with the reason) when the figures cannot be told from a process's start-up.
bool ProbeUsable(const ProbeFigures& probe, std::string* why);
WorkProfile ProfileOf(const ProbeFigures& probe, double run_p50_us);
std::string FindTaskqRun(const std::string& taskqd);  // "" when there is none

// One recommendation from the measured cells and the class (classify.cc).
struct Advice {
  Policy policy = Policy::kPool;
  uint32_t workers = 1;
  std::string line;                   // "use: pool, 2 workers"
  std::vector<std::string> evidence;  // lines under it
  std::string followed;               // "both", "measurement" or "class"
  std::vector<size_t> rerun;          // cells to rerun: the comparison was within the noise
};
// The class's own choice of policy and workers.
void ClassChoice(const std::string& kind, const WorkProfile& profile, uint32_t cores,
                 Policy* policy, uint32_t* workers, std::string* why);
// `results` are one workload's cells (throughput and spread summarised).
Advice Advise(const std::vector<CellResult>& results, const WorkProfile& profile, uint32_t cores);
// `--advise`: measure `workloads` (or, with lab.queue, read the last `last` finished tasks).
int RunAdvise(const LabOptions& lab, const std::vector<Workload>& workloads,
              const std::vector<uint32_t>& workers, uint32_t tasks, uint32_t last,
              const Outputs& outputs);

}  // namespace taskq::lab
