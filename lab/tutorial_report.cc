// The tutorial preset's report, from figures already measured (or recorded: tests feed it some):
// two tables in the tutorial's terms, one verdict per claim that quotes only figures the tables
// show and says INCONCLUSIVE when the noise of the cells it compares exceeds the effect, and a
// chart of both experiments whose title states the conclusion.
#include <algorithm>
#include <cmath>

#include "fmt/format.h"
#include "lab/lab.h"

namespace taskq::lab {
namespace {

constexpr uint64_t kCount = 10000000;  // the tutorial's size per job
constexpr uint32_t kFewCalls = 10, kManyCalls = 1000;
// Indexes into TutorialCells(): per policy (process, then pool) five A cells, then B.
constexpr size_t kA1x10 = 0, kA2x10 = 1, kA4x10 = 2, kA1x20 = 3, kA4x5 = 4, kPerPolicy = 5;
constexpr size_t kBFewProcess = 10, kBFewPool = 11, kBManyProcess = 12, kBManyPool = 13;

const double kTwoThreads[3] = {2.003, 1.838, 0.161};
const double kTwoProcesses[3] = {1.045, 1.824, 0.231};
const double kFourProcesses[3] = {0.540, 1.792, 0.269};
constexpr double kPublishedProcessB = 0.1003, kPublishedPoolB = 0.1965;

std::string PolicyWords(Policy p) {
  return p == Policy::kPool ? "a pool of workers (pool policy)"
                            : "a process per task (process policy)";
}

Cell CpuCell(Policy policy, uint32_t jobs, uint64_t count) {
  Cell cell;
  const bool split = jobs * count == 2 * kCount;
  cell.series = fmt::format("list_append {} numbers, {}", split ? "20M in all" : "10M per job",
                            PolicyWords(policy));
  cell.workload.label = fmt::format("cpu {:g}M", count / 1e6);
  cell.workload.spec.kind = TaskKind::kCpu;
  cell.workload.spec.cpu.count = count;
  cell.policy = policy;
  cell.workers = jobs;
  cell.tasks = jobs;
  return cell;
}

Cell IoCell(Policy policy, uint32_t calls, uint32_t cores) {
  Cell cell;
  cell.series = fmt::format("{} small writes, {}", calls, PolicyWords(policy));
  cell.workload.label = "io 64B";
  cell.workload.spec.kind = TaskKind::kIo;
  cell.workload.spec.io.bytes = 64;
  cell.policy = policy;
  cell.workers = policy == Policy::kPool ? cores : 0;  // Pool(): one per CPU; Process: all at once
  cell.tasks = calls;
  return cell;
}

std::string Published(const double* p) {
  return p ? fmt::format("{:.3f} / {:.3f} / {:.3f}", p[0], p[1], p[2]) : "";
}

}  // namespace

std::vector<Cell> TutorialCells(uint32_t cores) {
  std::vector<Cell> cells;
  for (Policy p : {Policy::kProcess, Policy::kPool}) {
    cells.push_back(CpuCell(p, 1, kCount));
    cells.push_back(CpuCell(p, 2, kCount));
    cells.push_back(CpuCell(p, 4, kCount));
    cells.push_back(CpuCell(p, 1, 2 * kCount));
    cells.push_back(CpuCell(p, 4, kCount / 2));
  }
  for (uint32_t calls : {kFewCalls, kManyCalls}) {
    for (Policy p : {Policy::kProcess, Policy::kPool}) cells.push_back(IoCell(p, calls, cores));
  }
  return cells;
}

TutorialReport JudgeTutorial(const TutorialFigures& f) {
  TutorialReport report;
  std::string& out = report.text;
  const std::vector<CellResult>& c = f.cells;
  auto py = [&](const std::string& key) -> const PyStats* {
    auto it = f.python.find(key);
    return it != f.python.end() && it->second.ok ? &it->second : nullptr;
  };
  size_t reps = c.empty() ? 0 : c.front().reps.size();
  for (const CellResult& r : c) reps = std::min(reps, r.reps.size());

  // Experiment A.
  out += fmt::format(
      "Experiment A. CPU-bound: list_append, 10,000,000 numbers per job (the tutorial's size); "
      "{} cores; medians of {} or more runs; seconds; spread = (max-min)/median\n",
      f.cores, reps);
  out += fmt::format("  {:<36} {:>8} {:>6} {:>8} {:>8} {:>9}   {}\n", "variant", "real", "spread",
                     "user", "sys", "start-up", "tutorial real/user/sys");
  auto row = [&](const std::string& name, double real, const std::string& spread, double user,
                 double sys, const std::string& startup, const double* published) {
    out +=
        fmt::format("  {:<36} {:>8} {:>6} {:>8} {:>8} {:>9}   {}\n", name, TableSeconds(real),
                    spread, TableSeconds(user), TableSeconds(sys), startup, Published(published));
  };
  for (const auto& [key, name, published] :
       std::vector<std::tuple<std::string, std::string, const double*>>{
           {"serial1", "python: 1 job in 1 process", nullptr},
           {"serial2", "python: 2 jobs, one after the other", nullptr},
           {"threads2", "python: 2 threads", kTwoThreads},
           {"procs2", "python: 2 processes", kTwoProcesses},
           {"procs4full", "python: 4 processes (full: 4x10M)", kFourProcesses},
           {"procs4split", "python: 4 processes (split: 4x5M)", kFourProcesses}}) {
    if (const PyStats* p = py(key))
      row(name, p->real, SpreadText(p->real_spread_pct, p->reps), p->user, p->sys, "-", published);
  }
  auto name_of = [&](size_t i) {
    const Policy p = c[i].cell.policy;
    const size_t k = i % kPerPolicy;
    const char* what = k == kA1x10   ? "1 job (10M)"
                       : k == kA1x20 ? "1 job (20M)"
                       : k == kA2x10 ? "2 jobs (2x10M)"
                       : k == kA4x10 ? "4 jobs (full: 4x10M)"
                                     : "4 jobs (split: 4x5M)";
    return fmt::format("taskq {}: {}", PolicyName(p), what);
  };
  for (size_t base : {size_t{0}, kPerPolicy}) {
    for (size_t k : {kA1x10, kA1x20, kA2x10, kA4x10, kA4x5}) {
      const CellResult& r = c[base + k];
      const bool process = base == 0;
      row(name_of(base + k), r.wall_median, SpreadText(r.spread_pct, r.reps.size()), r.user_s,
          r.sys_s, TableSeconds(r.startup_s),
          process && k == kA2x10                  ? kTwoProcesses
          : process && k >= kA4x10 && k != kA1x20 ? kFourProcesses
                                                  : nullptr);
    }
  }
  out +=
      "  python rows: real/user/sys of the whole program as `time` shows them; taskq rows: the "
      "batch on a running daemon (user/sys = the tasks' CPU), start-up apart.\n";
  if (!f.with_python) {
    out += "  not run: python rows, among them the tutorial's 2 threads (add --with-python).\n";
  }
  out += "\n";

  // Experiment B.
  out += fmt::format(
      "Experiment B. I/O: create, write a short string, close; Process = one process per call "
      "(taskq: process policy, unbounded), Pool = {} workers; seconds\n",
      f.cores);
  out += fmt::format("  {:<32} {:>9} {:>6} {:>10} {:>10} {:>6} {:>10} {:>9}   {}\n", "variant",
                     "10 calls", "spread", "incl.start", "1000 calls", "spread", "incl.start",
                     "start-up", "tutorial");
  auto b_row = [&](const std::string& name, double few, const std::string& few_spread,
                   double few_total, double many, const std::string& many_spread, double many_total,
                   const std::string& startup, double published) {
    out += fmt::format("  {:<32} {:>9} {:>6} {:>10} {:>10} {:>6} {:>10} {:>9}   {:.4f}\n", name,
                       TableSeconds(few), few_spread, TableSeconds(few_total), TableSeconds(many),
                       many_spread, TableSeconds(many_total), startup, published);
  };
  const PyStats *bp10 = py("bproc10"), *bp1000 = py("bproc1000"), *bl10 = py("bpool10"),
                *bl1000 = py("bpool1000");
  if (bp10 && bp1000 && bl10 && bl1000) {
    b_row("python: Process", bp10->elapsed, SpreadText(bp10->elapsed_spread_pct, bp10->reps),
          bp10->elapsed, bp1000->elapsed, SpreadText(bp1000->elapsed_spread_pct, bp1000->reps),
          bp1000->elapsed, "-", kPublishedProcessB);
    b_row("python: Pool (creation apart)", bl10->elapsed - bl10->pool_create,
          SpreadText(bl10->elapsed_spread_pct, bl10->reps), bl10->elapsed,
          bl1000->elapsed - bl1000->pool_create,
          SpreadText(bl1000->elapsed_spread_pct, bl1000->reps), bl1000->elapsed,
          TableSeconds(bl10->pool_create), kPublishedPoolB);
  }
  for (size_t few : {kBFewProcess, kBFewPool}) {
    const CellResult &a = c[few], &b = c[few + 2];
    b_row(fmt::format("taskq {}", PolicyName(a.cell.policy)), a.wall_median,
          SpreadText(a.spread_pct, a.reps.size()), a.wall_median + a.startup_s, b.wall_median,
          SpreadText(b.spread_pct, b.reps.size()), b.wall_median + b.startup_s,
          TableSeconds(a.startup_s),
          a.cell.policy == Policy::kProcess ? kPublishedProcessB : kPublishedPoolB);
  }
  out +=
      "  incl.start: plus start-up (Python: Pool creation; taskq: taskqd spawn to ready, pool "
      "workers included). The tutorial does not say how many calls it timed.\n\n";

  // Verdicts.
  auto add = [&](const std::string& claim, const std::string& outcome, const std::string& detail,
                 const Judgement* j, std::vector<size_t> cells,
                 std::vector<std::string> python = {}) {
    Verdict v{claim, outcome, detail, true, cells, python};
    if (j != nullptr && !j->conclusive()) {
      v.outcome = InconclusiveText(*j);
      v.conclusive = false;
      v.detail += j->noise_known
                      ? fmt::format("; effect {:.0f} % is not beyond the noise", j->effect_pct)
                      : "; one repetition: no noise to judge the effect by";
    }
    report.verdicts.push_back(v);
  };
  if (const PyStats* t = py("threads2"), *s = py("serial2"); t && s) {
    const double ratio = s->real / t->real;
    Judgement j = JudgeSpreads(ratio, 1.25, {t->real_spread_pct, s->real_spread_pct});
    j.noise_known = t->reps >= 2 && s->reps >= 2;
    add("threads give no speedup for CPU-bound work", ratio < 1.25 ? "HELD" : "NOT HELD",
        fmt::format("python 2 threads {} s vs 2 jobs one after the other {} s: {:.2f}x (tutorial: "
                    "no speedup)",
                    TableSeconds(t->real), TableSeconds(s->real), ratio),
        &j, {}, {"threads2", "serial2"});
  } else {
    add("threads give no speedup for CPU-bound work", "UNTESTED",
        "taskq runs processes, not threads: add --with-python to run Python threads", nullptr, {});
  }
  const CellResult &one = c[kA1x20], &two = c[kA2x10], &four = c[kA4x5];
  const double s2 = one.wall_median / two.wall_median, s4 = one.wall_median / four.wall_median;
  {
    const Judgement j = Judge(s2, 1.6, {&one, &two});
    add("2 processes: real time drops by almost 2x", s2 >= 1.6 ? "HELD" : "NOT HELD",
        fmt::format("{} {} s -> {} {} s = {:.2f}x (tutorial 2.003 -> 1.045 s = 1.92x)",
                    name_of(kA1x20), TableSeconds(one.wall_median), name_of(kA2x10),
                    TableSeconds(two.wall_median), s2),
        &j, {kA1x20, kA2x10});
  }
  {
    const std::string detail = fmt::format(
        "{} {} s -> {} {} s = {:.2f}x on {} cores (tutorial 2.003/0.540 = 3.71x)", name_of(kA1x20),
        TableSeconds(one.wall_median), name_of(kA4x5), TableSeconds(four.wall_median), s4, f.cores);
    if (f.cores < 4) {
      add("4 processes: about 3.8x", "CANNOT HOLD HERE",
          detail + fmt::format(": {} cores allow at most {}x", f.cores, f.cores), nullptr, {});
    } else {
      const Judgement j = Judge(s4, 3.2, {&one, &four});
      add("4 processes: about 3.8x", s4 >= 3.2 ? "HELD" : "NOT HELD", detail, &j, {kA1x20, kA4x5});
    }
  }
  {
    const double published = kFourProcesses[1] / kTwoProcesses[1];
    const CellResult &f2 = c[kA2x10], &f4 = c[kA4x10], &s4c = c[kA4x5];
    const double full = f4.user_s / f2.user_s, split = s4c.user_s / f2.user_s;
    const bool fits_split = std::abs(split - published) < std::abs(full - published);
    const Judgement j = Judge(full / split, 1, {&f2, &f4, &s4c});
    add("which reading the figures fit", fits_split ? "SPLIT" : "FULL",
        fmt::format("user time 4 jobs / 2 jobs: tutorial {:.2f}; measured {} / {} = {:.2f} (full "
                    "reading), {} / {} = {:.2f} (split reading)",
                    published, TableSeconds(f4.user_s), TableSeconds(f2.user_s), full,
                    TableSeconds(s4c.user_s), TableSeconds(f2.user_s), split),
        &j, {kA2x10, kA4x10, kA4x5});
  }
  {
    const CellResult &proc = c[kBFewProcess], &pool = c[kBFewPool];
    const double tp = proc.wall_median + proc.startup_s, tl = pool.wall_median + pool.startup_s;
    const Judgement j = JudgeSpreads(
        tl / tp, 1,
        {proc.spread_pct, pool.spread_pct, proc.startup_spread_pct, pool.startup_spread_pct});
    add(fmt::format("Process beats Pool for I/O (few tasks: {}, start-up included)", kFewCalls),
        tp < tl ? "HELD" : "NOT HELD",
        fmt::format("incl.start: taskq process {} s vs pool {} s (tutorial 0.1003 vs 0.1965 s)",
                    TableSeconds(tp), TableSeconds(tl)),
        &j, {kBFewProcess, kBFewPool});
  }
  {
    const CellResult &proc = c[kBManyProcess], &pool = c[kBManyPool];
    const bool reverses = pool.wall_median < proc.wall_median;
    const double ratio =
        reverses ? proc.wall_median / pool.wall_median : pool.wall_median / proc.wall_median;
    const Judgement j = Judge(ratio, 1, {&proc, &pool});
    add(fmt::format("... and for many tasks ({})", kManyCalls), reverses ? "REVERSES" : "HELD",
        fmt::format("1000 calls: taskq process {} s vs pool {} s: {} {:.1f}x faster",
                    TableSeconds(proc.wall_median), TableSeconds(pool.wall_median),
                    reverses ? "pool" : "process", ratio),
        &j, {kBManyProcess, kBManyPool});
  }
  {
    const CellResult &proc = c[kBFewProcess], &pool = c[kBFewPool];
    const double ratio = proc.startup_s > 0 ? pool.startup_s / proc.startup_s : 0;
    const Judgement j = JudgeSpreads(ratio, 1, {proc.startup_spread_pct, pool.startup_spread_pct});
    add("creating a Pool costs more", ratio > 1 ? "HELD" : "NOT HELD",
        fmt::format("start-up: taskqd ready in {} s with {} pool workers vs {} s with the process "
                    "policy",
                    TableSeconds(pool.startup_s), f.cores, TableSeconds(proc.startup_s)),
        &j, {kBFewProcess, kBFewPool});
  }
  out += fmt::format("Verdicts on the tutorial's claims (this machine, {} cores):\n", f.cores);
  for (const Verdict& v : report.verdicts) {
    out += fmt::format("  [{}] {}: {}\n", v.outcome, v.claim, v.detail);
  }
  out += LoadLine(f.load_before, f.load_after) + "\n";

  // The chart: A's speedup for fixed work, B's time per call.
  ChartPanel a{"Experiment A: 20M numbers (list_append) split among 1, 2 and 4 jobs",
               "jobs = workers (log scale)",
               "speedup (1 job = 1x)",
               false,
               true,
               f.cores,
               "x",
               {}};
  for (size_t base : {size_t{0}, kPerPolicy}) {
    ChartSeries s{
        PolicyWords(c[base].cell.policy), SpeedupPoints(c, c[base + kA1x20].cell.series), {}};
    s.fit = FitAmdahlPoints(s.name, s.points, f.cores);
    report.fits.push_back(s.fit);
    a.series.push_back(s);
  }
  ChartPanel b{"Experiment B: create, write 64 B, close: time per call",
               "calls in the batch (log scale)",
               "time per call (log scale)",
               true,
               false,
               0,
               "s",
               {}};
  for (size_t few : {kBFewProcess, kBFewPool}) {
    ChartSeries s{few == kBFewPool ? fmt::format("a pool of {} workers (pool policy)", f.cores)
                                   : "a process per call (process policy, unbounded)",
                  {},
                  {}};
    for (size_t i : {few, few + 2}) {
      const double n = c[i].cell.tasks;
      s.points.push_back({n, c[i].wall_median / n, c[i].wall_min / n, c[i].wall_max / n});
    }
    b.series.push_back(s);
  }
  report.chart.panels = {a, b};
  const Verdict &v2 = report.verdicts[1], &many = report.verdicts[5];  // 2 processes; 1000 calls
  std::string title = v2.conclusive ? fmt::format(
                                          "On {} cores 20M numbers ran {:.2f}x faster "
                                          "as 2 processes than as 1 ({:.2f}x as 4; process policy)",
                                          f.cores, s2, s4)
                                    : fmt::format("2 processes against 1: {}", v2.outcome);
  const CellResult &mp = c[kBManyProcess], &ml = c[kBManyPool];
  title +=
      many.conclusive
          ? fmt::format("; for 1000 small writes {} was {:.1f}x faster",
                        ml.wall_median < mp.wall_median ? "a pool" : "a process per call",
                        std::max(mp.wall_median / ml.wall_median, ml.wall_median / mp.wall_median))
          : fmt::format("; pool against a process per call for 1000 small writes: {}",
                        many.outcome);
  report.chart.title = title;
  out += "conclusion: " + title + "\n";
  return report;
}

}  // namespace taskq::lab
