// The policy lab's judgement on recorded figures, nothing timed: cells measured once on a quiet
// machine (docs/POLICY-LAB.md, 2026-11-25) and once on a loaded one (issue 21: load about 3,
// 13-54 % spread) go through the tutorial's report and the advice, and the verdicts, the one
// advice line and the chart's SVG are checked.
#include "lab/lab.h"

#include <gtest/gtest.h>

#include <regex>

namespace taskq::testing {
namespace {

using lab::CellResult;

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

CellResult Recorded(const lab::Cell& cell, const std::vector<double>& walls, double startup_s,
                    double user_s = 0) {
  CellResult r;
  r.cell = cell;
  for (double wall : walls) {
    lab::RepSample s;
    s.wall_s = wall;
    s.startup_s = startup_s;
    s.user_s = user_s;
    r.reps.push_back(s);
  }
  lab::Summarise(&r);
  return r;
}

// Walls per cell of lab::TutorialCells(2), in its order: process then pool (1x10M, 2x10M,
// 4x10M, 1x20M, 4x5M), then io (10 calls process, pool; 1000 calls process, pool).
lab::TutorialFigures Figures(const std::vector<std::vector<double>>& walls,
                             const std::vector<double>& startups,
                             const std::vector<double>& users) {
  lab::TutorialFigures f;
  f.cores = 2;
  f.load_before = "0.10 0.20 0.30";
  f.load_after = "0.40 0.30 0.30";
  const std::vector<lab::Cell> cells = lab::TutorialCells(2);
  for (size_t i = 0; i < cells.size(); ++i) {
    f.cells.push_back(Recorded(cells[i], walls[i], startups[i], users[i]));
  }
  return f;
}

lab::TutorialFigures Quiet() {
  return Figures({{0.178, 0.179, 0.181},
                  {0.180, 0.181, 0.182},
                  {0.365, 0.367, 0.369},
                  {0.355, 0.356, 0.358},
                  {0.184, 0.185, 0.187},
                  {0.180, 0.181, 0.182},
                  {0.176, 0.177, 0.179},
                  {0.355, 0.357, 0.360},
                  {0.356, 0.357, 0.359},
                  {0.180, 0.181, 0.182},
                  {0.0133, 0.0135, 0.0137},
                  {0.0004, 0.0004, 0.0004},
                  {1.550, 1.5565, 1.560},
                  {0.610, 0.6176, 0.620}},
                 {0.0031, 0.0031, 0.0031, 0.0031, 0.0031, 0.0080, 0.0080, 0.0080, 0.0080, 0.0080,
                  0.0031, 0.0078, 0.0031, 0.0078},
                 {0.099, 0.208, 0.389, 0.189, 0.211, 0.115, 0.213, 0.413, 0.195, 0.230, 0.01, 0.01,
                  0.013, 0.003});
}

// Issue 21's run: 1 job 0.548 s, 2 jobs 0.461 s, wide spreads, and a 4-job point far above what
// the 2-job point predicts.
lab::TutorialFigures Loaded() {
  return Figures(
      {{0.30, 0.27, 0.41},
       {0.461, 0.38, 0.60},
       {0.80, 0.71, 1.05},
       {0.548, 0.42, 0.65},
       {0.301, 0.25, 0.37},
       {0.30, 0.26, 0.39},
       {0.47, 0.36, 0.58},
       {0.85, 0.70, 1.10},
       {0.55, 0.43, 0.66},
       {0.33, 0.26, 0.45},
       {0.020, 0.012, 0.035},
       {0.0015, 0.0006, 0.004},
       {2.10, 1.60, 2.90},
       {1.40, 0.90, 2.30}},
      {0.005, 0.004, 0.006, 0.004, 0.005, 0.012, 0.009, 0.015, 0.010, 0.011, 0.004, 0.009, 0.006,
       0.010},
      {0.12, 0.24, 0.45, 0.22, 0.24, 0.13, 0.25, 0.47, 0.23, 0.26, 0.01, 0.01, 0.015, 0.004});
}

// Every "<number> s" a verdict quotes is in the tables above the verdicts.
void ExpectQuotedFiguresInTables(const lab::TutorialReport& report) {
  const std::string tables = report.text.substr(0, report.text.find("Verdicts"));
  const std::regex seconds(R"(([0-9]+\.[0-9]+) s\b)");
  for (const lab::Verdict& v : report.verdicts) {
    for (std::sregex_iterator it(v.detail.begin(), v.detail.end(), seconds), end; it != end; ++it) {
      const std::string figure = (*it)[1];
      if (v.detail.find("tutorial") != std::string::npos &&
          v.detail.find("tutorial") < static_cast<size_t>(it->position())) {
        continue;  // the tutorial's own published figures
      }
      EXPECT_NE(tables.find(" " + figure + " "), std::string::npos)
          << figure << " quoted by [" << v.outcome << "] " << v.claim << " is not in the tables";
    }
  }
}

const lab::Verdict& Find(const lab::TutorialReport& report, const std::string& claim) {
  for (const lab::Verdict& v : report.verdicts) {
    if (v.claim.rfind(claim, 0) == 0) return v;
  }
  ADD_FAILURE() << "no verdict on " << claim;
  return report.verdicts.front();
}

TEST(BenchLabRecorded, QuietMachineGivesVerdictsFromTableFigures) {
  const lab::TutorialReport report = lab::JudgeTutorial(Quiet());
  const lab::Verdict& two = Find(report, "2 processes");
  EXPECT_EQ(two.outcome, "HELD") << two.detail;
  EXPECT_NE(two.detail.find("0.356 s -> taskq process: 2 jobs (2x10M) 0.181 s"), std::string::npos)
      << two.detail;
  EXPECT_EQ(Find(report, "4 processes").outcome, "CANNOT HOLD HERE");
  EXPECT_EQ(Find(report, "which reading").outcome, "SPLIT");
  EXPECT_EQ(Find(report, "... and for many tasks").outcome, "REVERSES");
  EXPECT_EQ(Find(report, "threads").outcome, "UNTESTED");
  for (const lab::Verdict& v : report.verdicts) {
    EXPECT_TRUE(v.conclusive) << v.claim << ": " << v.outcome;
  }
  ExpectQuotedFiguresInTables(report);
  // Rows not run are a note, not a row of zeros.
  EXPECT_EQ(report.text.find("0.000    0.000"), std::string::npos) << report.text;
  EXPECT_EQ(report.text.find("  python: "), std::string::npos) << report.text;
  EXPECT_NE(report.text.find("not run: python rows"), std::string::npos) << report.text;
  EXPECT_NE(report.text.find("machine load (1/5/15 min averages): before 0.10 0.20 0.30, after "
                             "0.40 0.30 0.30"),
            std::string::npos);
  EXPECT_NE(report.chart.title.find("ran 1.97x faster as 2 processes"), std::string::npos)
      << report.chart.title;
}

TEST(BenchLabRecorded, LoadedMachineSaysInconclusiveAndAsksForReruns) {
  const lab::TutorialReport report = lab::JudgeTutorial(Loaded());
  const lab::Verdict& two = Find(report, "2 processes");
  EXPECT_FALSE(two.conclusive);
  EXPECT_EQ(two.outcome.rfind("INCONCLUSIVE (noise ±", 0), 0u) << two.outcome;
  EXPECT_NE(two.outcome.find(" %)"), std::string::npos) << two.outcome;
  // The cells it compares (1 job of 20M and 2 jobs, process policy) are the ones to rerun.
  EXPECT_EQ(two.cells, (std::vector<size_t>{3, 1}));
  // 0.548 s and 0.461 s are both in the table, and the verdict quotes exactly those.
  EXPECT_NE(two.detail.find("0.548 s -> taskq process: 2 jobs (2x10M) 0.461 s"), std::string::npos)
      << two.detail;
  ExpectQuotedFiguresInTables(report);
  EXPECT_NE(report.chart.title.find("2 processes against 1: INCONCLUSIVE (noise ±"),
            std::string::npos)
      << report.chart.title;
}

TEST(BenchLabRecorded, PythonComparisonsAreJudgedAndRerunLikeCells) {
  lab::TutorialFigures quiet = Quiet();
  quiet.with_python = true;
  quiet.python["serial2"] = {true, 1.073, 0.735, 0.337, 1.07, 0, 2, 2, 3};
  quiet.python["threads2"] = {true, 1.058, 0.737, 0.336, 1.05, 0, 3, 3, 3};
  lab::TutorialReport report = lab::JudgeTutorial(quiet);
  EXPECT_EQ(Find(report, "threads").outcome, "HELD");
  EXPECT_NE(report.text.find("  python: 2 threads"), std::string::npos) << report.text;
  EXPECT_EQ(report.text.find("not run: python rows"), std::string::npos) << report.text;
  ExpectQuotedFiguresInTables(report);

  lab::TutorialFigures loaded = Loaded();
  loaded.with_python = true;
  loaded.python["serial2"] = {true, 3.389, 2.2, 1.2, 3.3, 0, 40, 40, 3};
  loaded.python["threads2"] = {true, 3.506, 2.1, 1.4, 3.4, 0, 45, 45, 3};
  report = lab::JudgeTutorial(loaded);
  const lab::Verdict& threads = Find(report, "threads");
  EXPECT_EQ(threads.outcome, "INCONCLUSIVE (noise ±45 %)") << threads.detail;
  EXPECT_EQ(threads.python, (std::vector<std::string>{"threads2", "serial2"}));
  ExpectQuotedFiguresInTables(report);
}

TEST(BenchLabRecorded, ChartShowsBothExperimentsWithBarsAndHonestFits) {
  const std::string quiet = lab::RenderSvg(lab::JudgeTutorial(Quiet()).chart);
  EXPECT_EQ(Count(quiet, "class=\"panel\""), 2u);
  EXPECT_EQ(Count(quiet, "class=\"point\""), 10u) << "A: 2 policies x 3 jobs; B: 2 x 2 batches";
  EXPECT_EQ(Count(quiet, "class=\"errorbar\""), 10u);
  EXPECT_NE(quiet.find("speedup (1 job = 1x)"), std::string::npos);
  EXPECT_NE(quiet.find("time per call (log scale)"), std::string::npos);
  EXPECT_NE(quiet.find("a process per task (process policy)"), std::string::npos);
  EXPECT_NE(quiet.find("a pool of 2 workers (pool policy)"), std::string::npos);
  for (const char* code : {"A-split", "A-full", "B-10", "B-1000"}) {
    EXPECT_EQ(quiet.find(code), std::string::npos) << code;
  }
  EXPECT_NE(quiet.find("<title>On 2 cores 20M numbers ran 1.97x faster"), std::string::npos);
  // List_append scales to the cores: both fits are good and drawn, with their R².
  EXPECT_EQ(Count(quiet, "class=\"amdahl\""), 2u);
  EXPECT_NE(quiet.find("serial fraction 0.03, R² 1.00"), std::string::npos);
  // The error bars span the fastest to the slowest repetition.
  EXPECT_NE(quiet.find("data-low=\"0.00133\" data-high=\"0.00137\""), std::string::npos);

  // Loaded: 1.19x at 2 jobs and 1.82x at 4 on 2 cores do not follow Amdahl's law: not drawn.
  const std::string loaded = lab::RenderSvg(lab::JudgeTutorial(Loaded()).chart);
  EXPECT_EQ(Count(loaded, "class=\"errorbar\""), 10u);
  EXPECT_EQ(loaded.find("data-series=\"a process per task (process policy)\" data-serial"),
            std::string::npos);
  EXPECT_NE(loaded.find("a process per task (process policy) (no Amdahl fit drawn: R² "),
            std::string::npos);
}

TEST(BenchLabRecorded, OneRepetitionHasNoNoiseFigureToConcludeFrom) {
  lab::Cell cell = lab::TutorialCells(2).front();
  const CellResult once = Recorded(cell, {0.30}, 0.003);
  const CellResult thrice = Recorded(cell, {0.10, 0.11, 0.12}, 0.003);
  const lab::Judgement j = lab::Judge(3.0, 1, {&once, &thrice});
  EXPECT_FALSE(j.conclusive()) << "a 3x effect, but one of the cells ran once";
  EXPECT_EQ(lab::InconclusiveText(j), "INCONCLUSIVE (noise unknown: 1 repetition)");
  const lab::Judgement clear = lab::Judge(1.5, 1, {&thrice});
  EXPECT_TRUE(clear.conclusive());
  EXPECT_NEAR(clear.noise_pct, 100 * 0.02 / 0.11, 1e-9);
  EXPECT_EQ(lab::InconclusiveText(lab::Judge(1.1, 1, {&thrice})), "INCONCLUSIVE (noise ±18 %)");
}

std::vector<CellResult> AdviceCells(const std::vector<std::vector<double>>& walls) {
  std::vector<CellResult> cells;
  size_t i = 0;
  for (Policy p : {Policy::kProcess, Policy::kPool}) {
    for (uint32_t n : {1u, 2u, 4u}) {
      lab::Cell cell;
      cell.series = std::string("cpu/") + PolicyName(p);
      cell.workload.label = "cpu";
      cell.policy = p;
      cell.workers = n;
      cell.tasks = 16;
      cells.push_back(Recorded(cell, walls[i++], 0.003));
    }
  }
  return cells;
}

const lab::WorkProfile kCpuBound{.tasks = 3,
                                 .cpu_share = 0.97,
                                 .run_p50_us = 15000,
                                 .cpu_wait_share = 0.01,
                                 .blkio_share = -1,
                                 .from_probe = true};

size_t UseLines(const lab::Advice& advice) {
  size_t n = advice.line.rfind("use: ", 0) == 0 ? 1 : 0;
  for (const std::string& line : advice.evidence) n += line.rfind("use: ", 0) == 0 ? 1 : 0;
  return n;
}

std::string Evidence(const lab::Advice& advice) {
  std::string text;
  for (const std::string& line : advice.evidence) text += line + "\n";
  return text;
}

TEST(BenchLabRecorded, AdviceIsOneLineAndSaysWhatItFollowed) {
  // Clean: 2 pool workers are best and the class (CPU-bound, 2 cores, short tasks) agrees.
  lab::Advice agree = lab::Advise(AdviceCells({{0.291, 0.292, 0.293},
                                               {0.144, 0.145, 0.146},
                                               {0.144, 0.145, 0.146},
                                               {0.241, 0.242, 0.243},
                                               {0.122, 0.123, 0.124},
                                               {0.126, 0.127, 0.128}}),
                                  kCpuBound, 2);
  EXPECT_EQ(agree.line, "use: pool, 2 workers");
  EXPECT_EQ(UseLines(agree), 1u);
  EXPECT_EQ(agree.followed, "both");
  EXPECT_NE(Evidence(agree).find("class: cpu-bound"), std::string::npos) << Evidence(agree);
  EXPECT_NE(Evidence(agree).find("97% on a CPU"), std::string::npos) << Evidence(agree);
  EXPECT_TRUE(agree.rerun.empty());

  // Clean, but 4 workers measure 40% faster than the class's 2: the measurement wins, and says so.
  lab::Advice measured = lab::Advise(AdviceCells({{0.291, 0.292, 0.293},
                                                  {0.144, 0.145, 0.146},
                                                  {0.144, 0.145, 0.146},
                                                  {0.241, 0.242, 0.243},
                                                  {0.140, 0.141, 0.142},
                                                  {0.100, 0.101, 0.102}}),
                                     kCpuBound, 2);
  EXPECT_EQ(measured.line, "use: pool, 4 workers");
  EXPECT_EQ(measured.followed, "measurement");
  EXPECT_NE(Evidence(measured).find("followed: the measurement, not the class"), std::string::npos)
      << Evidence(measured);

  // Noisy (as gzip's 3.18x on 2 cores): 4 workers 10% ahead with ±50% noise: the class decides,
  // the two cells are asked for again, and there is still one answer.
  lab::Advice noisy = lab::Advise(AdviceCells({{0.29, 0.20, 0.35},
                                               {0.15, 0.10, 0.19},
                                               {0.15, 0.10, 0.19},
                                               {0.24, 0.18, 0.30},
                                               {0.14, 0.09, 0.17},
                                               {0.127, 0.09, 0.16}}),
                                  kCpuBound, 2);
  EXPECT_EQ(noisy.line, "use: pool, 2 workers");
  EXPECT_EQ(UseLines(noisy), 1u);
  EXPECT_EQ(noisy.followed, "class");
  EXPECT_NE(Evidence(noisy).find("not beyond the noise"), std::string::npos) << Evidence(noisy);
  EXPECT_EQ(noisy.rerun, (std::vector<size_t>{4, 5}));

  // `sleep` is advised as waiting, not I/O: more workers than cores.
  const lab::WorkProfile sleeping{
      .tasks = 3, .cpu_share = 0.01, .run_p50_us = 200000, .cpu_wait_share = 0.002};
  lab::Advice sleep_advice = lab::Advise({}, sleeping, 2);
  EXPECT_EQ(sleep_advice.line, "use: process, 8 workers");
  EXPECT_NE(Evidence(sleep_advice).find("class: waits, not I/O"), std::string::npos);
  EXPECT_EQ(Evidence(sleep_advice).find("blocking on block I/O"), std::string::npos);
}

}  // namespace
}  // namespace taskq::testing
