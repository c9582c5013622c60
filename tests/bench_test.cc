// The policy lab end to end: `taskq bench` runs a tiny matrix on real taskqd daemons, and its CSV,
// JSON and SVG are checked for structure and consistency (never for speed); `--advise`'s rule is
// checked on known profiles and its end-to-end output for consistency; nothing is left in
// /dev/shm, /tmp or the process table.
#include <dirent.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "client/submit_args.h"
#include "lab/lab.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace taskq::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      field += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.push_back(field);
      field.clear();
    } else {
      field += c;
    }
  }
  fields.push_back(field);
  return fields;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// What the lab may leave behind: bench segments in /dev/shm, bench temp dirs, bench daemons.
std::set<std::string> Leftovers() {
  std::set<std::string> found;
  for (const char* dir : {"/dev/shm", "/tmp"}) {
    if (DIR* d = opendir(dir)) {
      while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name.rfind("taskq.bench-", 0) == 0 || name.rfind("taskq-bench-", 0) == 0) {
          found.insert(std::string(dir) + "/" + name);
        }
      }
      closedir(d);
    }
  }
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      std::string cmdline = ReadFile(std::string("/proc/") + e->d_name + "/cmdline");
      for (char& c : cmdline) c = c == '\0' ? ' ' : c;
      if (cmdline.find("/tmp/taskq-bench-") != std::string::npos) found.insert(cmdline);
    }
    closedir(d);
  }
  return found;
}

class BenchTest : public ::testing::Test {
 protected:
  void SetUp() override { before_ = Leftovers(); }
  void TearDown() override {
    std::set<std::string> after = Leftovers();
    for (const std::string& item : after) {
      EXPECT_TRUE(before_.count(item)) << "left behind: " << item;
    }
  }
  CommandResult Bench(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {TaskqPath(), "bench"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }
  TempDir dir_;
  std::set<std::string> before_;
};

TEST_F(BenchTest, TinyMatrixWritesConsistentCsvJsonAndSvg) {
  const std::string csv = dir_.path() + "/b.csv", json = dir_.path() + "/b.json",
                    svg = dir_.path() + "/b.svg";
  CommandResult r =
      Bench({"--workload", "cpu", "--workload", "io", "--policy", "process", "--policy",    "pool",
             "--workers",  "1,2", "--tasks",    "4",  "--reps",   "1",       "--cpu-count", "20000",
             "--csv",      csv,   "--json",     json, "--svg",    svg});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("REAL"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "") << "no progress line when stderr is not a terminal";

  // CSV: a header and one row per cell (2 workloads x 2 policies x 2 worker counts).
  std::istringstream lines(ReadFile(csv));
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  const std::vector<std::string> header = SplitCsvLine(line);
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const char* name :
       {"series", "workload", "policy", "workers", "tasks", "real_median_s", "user_s", "sys_s",
        "throughput_per_s", "wait_p50_us", "wait_p99_us", "run_p50_us", "run_p99_us", "speedup",
        "efficiency", "startup_s", "first_task_s", "cpu_share", "failed"}) {
    ASSERT_TRUE(col.count(name)) << "CSV lacks column " << name;
  }
  std::vector<std::vector<std::string>> rows;
  while (std::getline(lines, line)) {
    if (!line.empty()) rows.push_back(SplitCsvLine(line));
  }
  ASSERT_EQ(rows.size(), 8u);
  std::set<std::string> cells;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), header.size());
    const double workers = std::stod(row[col["workers"]]);
    const double speedup = std::stod(row[col["speedup"]]);
    const double efficiency = std::stod(row[col["efficiency"]]);
    EXPECT_EQ(row[col["tasks"]], "4");
    EXPECT_EQ(row[col["failed"]], "0");
    EXPECT_GT(std::stod(row[col["real_median_s"]]), 0);
    EXPECT_GT(std::stod(row[col["throughput_per_s"]]), 0);
    EXPECT_LE(std::stod(row[col["real_min_s"]]), std::stod(row[col["real_median_s"]]));
    EXPECT_LE(std::stod(row[col["real_median_s"]]), std::stod(row[col["real_max_s"]]));
    EXPECT_LE(std::stod(row[col["wait_p50_us"]]), std::stod(row[col["wait_p99_us"]]));
    EXPECT_LE(std::stod(row[col["run_p50_us"]]), std::stod(row[col["run_p99_us"]]));
    EXPECT_GT(std::stod(row[col["startup_s"]]), 0);
    if (workers == 1) {
      EXPECT_NEAR(speedup, 1.0, 1e-9);
    }
    EXPECT_NEAR(efficiency, speedup / workers, 1e-5);
    cells.insert(row[col["workload"]] + "/" + row[col["policy"]] + "/" + row[col["workers"]]);
  }
  EXPECT_EQ(cells.size(), 8u) << "each cell once";

  // JSON: the same cells, each repetition with 4 finished tasks, and one fit per series.
  nlohmann::json j = nlohmann::json::parse(ReadFile(json));
  ASSERT_EQ(j["cells"].size(), rows.size());
  EXPECT_EQ(j["machine"]["cpus"].get<int>(), static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  for (size_t i = 0; i < rows.size(); ++i) {
    const nlohmann::json& c = j["cells"][i];
    EXPECT_EQ(c["workload"], rows[i][col["workload"]]);
    EXPECT_EQ(c["policy"], rows[i][col["policy"]]);
    EXPECT_EQ(c["tasks"], 4);
    // One repetition each, more for the cells the conclusion compares (rerun while undecided).
    ASSERT_GE(c["samples"].size(), 1u);
    EXPECT_LE(c["samples"].size(), 9u);
    EXPECT_EQ(c["reps"], c["samples"].size());
    for (const auto& sample : c["samples"]) EXPECT_EQ(sample["tasks_finished"], 4);
    EXPECT_NEAR(c["speedup"].get<double>(), std::stod(rows[i][col["speedup"]]), 1e-5);
    EXPECT_NEAR(c["efficiency"].get<double>(),
                c["speedup"].get<double>() / c["workers"].get<double>(), 1e-9);
  }
  ASSERT_EQ(j["amdahl"].size(), 4u);
  for (const auto& fit : j["amdahl"]) {
    if (fit["valid"].get<bool>()) {
      EXPECT_GE(fit["serial_fraction"].get<double>(), 0.0);
      EXPECT_LE(fit["serial_fraction"].get<double>(), 1.0);
      EXPECT_LE(fit["r_squared"].get<double>(), 1.0);
    }
  }

  // SVG: the cpu series as speedup, the io series as time per task, each point with its error
  // bar, the ideal line, plain-language names, a title that states a conclusion.
  const std::string chart = ReadFile(svg);
  EXPECT_EQ(chart.rfind("<svg", 0), 0u);
  EXPECT_NE(chart.find("</svg>"), std::string::npos);
  EXPECT_EQ(Count(chart, "class=\"panel\""), 2u);
  EXPECT_EQ(Count(chart, "class=\"series\""), 4u);
  EXPECT_EQ(Count(chart, "class=\"point\""), 8u);
  EXPECT_EQ(Count(chart, "class=\"errorbar\""), 8u);
  EXPECT_EQ(Count(chart, "class=\"ideal\""), 1u);
  EXPECT_NE(chart.find("cpu work (list_append 0.02M), a pool of workers"), std::string::npos);
  EXPECT_EQ(chart.find("cpu/pool"), std::string::npos) << "series names need no decoding";
  EXPECT_EQ(Count(chart, "<"), Count(chart, ">"));
  EXPECT_NE(r.out.find("conclusion: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("machine load (1/5/15 min averages): before "), std::string::npos) << r.out;
}

// The rule itself, on profiles with known figures: the end-to-end runs below cannot pin the class
// of fsync work, which depends on the disk (CI measured 35% CPU on one, 5% on another).
TEST(BenchClassify, WhereTheWallTimeWentDecidesTheClass) {
  std::string why;
  lab::WorkProfile none;
  EXPECT_EQ(lab::Classify(none, &why), "unknown");

  lab::WorkProfile busy{.tasks = 8, .cpu_share = 0.99, .invol_ctxsw_per_task = 1.5};
  EXPECT_EQ(lab::Classify(busy, &why), "cpu-bound");
  EXPECT_NE(why.find("99%"), std::string::npos) << why;

  // Half the run time off a CPU, but preempted rather than blocked: more work than cores.
  lab::WorkProfile crowded{
      .tasks = 8, .cpu_share = 0.5, .vol_ctxsw_per_task = 0.5, .invol_ctxsw_per_task = 40};
  EXPECT_EQ(lab::Classify(crowded, &why), "waiting on a CPU");
  EXPECT_NE(why.find("preempted"), std::string::npos) << why;
  // The same seen by the probe: schedstat says it was runnable 45% of the time.
  lab::WorkProfile starved{.tasks = 3, .cpu_share = 0.4, .cpu_wait_share = 0.45};
  EXPECT_EQ(lab::Classify(starved, &why), "waiting on a CPU");
  EXPECT_NE(why.find("schedstat"), std::string::npos) << why;

  lab::WorkProfile fsyncing{.tasks = 8,
                            .cpu_share = 0.05,
                            .write_bytes_per_task = 4096,
                            .vol_ctxsw_per_task = 4,
                            .invol_ctxsw_per_task = 0.2};
  EXPECT_EQ(lab::Classify(fsyncing, &why), "block I/O");
  EXPECT_NE(why.find("delay accounting is off"), std::string::npos) << why;
  // On a loaded machine an fsync task waits for a CPU after each wake-up: that time is the
  // machine's, and what is left is still I/O.
  lab::WorkProfile fsync_when_busy{.tasks = 5,
                                   .cpu_share = 0.02,
                                   .write_bytes_per_task = 4096,
                                   .vol_ctxsw_per_task = 4,
                                   .cpu_wait_share = 0.9};
  EXPECT_EQ(lab::Classify(fsync_when_busy, &why), "block I/O") << why;
  EXPECT_NE(why.find("not waiting for a CPU"), std::string::npos) << why;
  // With delay accounting the blocked time itself decides.
  lab::WorkProfile blocked = fsyncing;
  blocked.cpu_wait_share = 0.01;
  blocked.blkio_share = 0.8;
  EXPECT_EQ(lab::Classify(blocked, &why), "block I/O");

  // `sleep`: off a CPU, no block I/O: it waits, but not for I/O.
  lab::WorkProfile sleeping{.tasks = 3, .cpu_share = 0.01, .vol_ctxsw_per_task = 1};
  EXPECT_EQ(lab::Classify(sleeping, &why), "waits, not I/O");
  sleeping.cpu_wait_share = 0.001;
  sleeping.blkio_share = 0;
  EXPECT_EQ(lab::Classify(sleeping, &why), "waits, not I/O");

  lab::WorkProfile both{
      .tasks = 8, .cpu_share = 0.45, .vol_ctxsw_per_task = 4, .invol_ctxsw_per_task = 0.2};
  EXPECT_EQ(lab::Classify(both, &why), "mixed");
}

TEST_F(BenchTest, AdviseMeasuresEachWorkloadAndGivesOneAnswerEach) {
  const std::string json = dir_.path() + "/advice.json";
  CommandResult r = Bench({"--advise", "--workload", "cpu", "--workload", "io", "--io-fsync",
                           "--cpu-count", "3000000", "--tasks", "4", "--reps", "1", "--max-reps",
                           "2", "--workers", "1,2", "--json", json});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json j = nlohmann::json::parse(ReadFile(json));
  ASSERT_EQ(j["advice"].size(), 2u);
  EXPECT_EQ(Count(r.out, "\nuse: ") + (r.out.rfind("use: ", 0) == 0 ? 1 : 0), 2u) << r.out;
  EXPECT_EQ(r.out.rfind("use: ", 0), 0u) << "the answer comes first: " << r.out;
  const std::set<std::string> classes = {"cpu-bound", "waiting on a CPU", "block I/O",
                                         "waits, not I/O", "mixed"};
  for (const auto& a : j["advice"]) {
    for (const char* key : {"use", "followed", "class", "why", "cpu_share", "cpu_wait_share",
                            "blkio_share", "write_bytes_per_task", "vol_ctxsw_per_task",
                            "invol_ctxsw_per_task", "policy", "workers", "evidence"}) {
      EXPECT_TRUE(a.contains(key)) << key;
    }
    EXPECT_TRUE(classes.count(a["class"].get<std::string>())) << a.dump();
    EXPECT_EQ(a["use"], "use: " + a["policy"].get<std::string>() + ", " +
                            std::to_string(a["workers"].get<int>()) +
                            (a["workers"] == 1 ? " worker" : " workers"));
    EXPECT_NE(r.out.find(a["use"].get<std::string>()), std::string::npos) << r.out;
    // The class printed is the rule applied to the figures printed beside it.
    lab::WorkProfile p{.tasks = 8,
                       .cpu_share = a["cpu_share"].get<double>(),
                       .read_bytes_per_task = a["read_bytes_per_task"].get<double>(),
                       .write_bytes_per_task = a["write_bytes_per_task"].get<double>(),
                       .vol_ctxsw_per_task = a["vol_ctxsw_per_task"].get<double>(),
                       .invol_ctxsw_per_task = a["invol_ctxsw_per_task"].get<double>(),
                       .cpu_wait_share = a["cpu_wait_share"].get<double>(),
                       .blkio_share = a["blkio_share"].get<double>()};
    std::string why;
    EXPECT_EQ(lab::Classify(p, &why), a["class"]) << a.dump();
  }
  // A list_append never blocks: on a CPU, or waiting for one when the machine is busy.
  const std::string cpu_class = j["advice"][0]["class"];
  EXPECT_TRUE(cpu_class == "cpu-bound" || cpu_class == "waiting on a CPU") << r.out;
  EXPECT_NE(r.out.find("followed: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("machine load"), std::string::npos) << r.out;
}

// `sleep` is the work that waits without doing I/O; the probe sees it off a CPU, with no bytes.
TEST_F(BenchTest, AdviseCallsSleepWaitsNotIo) {
  CommandResult r =
      Bench({"--advise", "--workload", "exec:/bin/sleep 0.2", "--tasks", "4", "--reps", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("use: ", 0), 0u) << r.out;
  EXPECT_EQ(Count(r.out, "use: "), 1u) << r.out;
  EXPECT_NE(r.out.find("class: waits, not I/O"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wall time of a task (probe, 5 runs)"), std::string::npos) << r.out;
}

// Every `taskq bench` command docs/POLICY-LAB.md shows (a line of a fenced block starting with
// "taskq ") runs as written, its output files put in the test's directory.
TEST_F(BenchTest, EveryCommandOfThePolicyLabPageRuns) {
  std::istringstream doc(ReadFile(TASKQ_SOURCE_DIR "/docs/POLICY-LAB.md"));
  std::set<std::string> commands;
  bool fenced = false;
  for (std::string line; std::getline(doc, line);) {
    if (line.rfind("```", 0) == 0) {
      fenced = !fenced;
    } else if (fenced && line.rfind("taskq ", 0) == 0) {
      commands.insert(line.substr(0, line.find("  #")));
    }
  }
  ASSERT_GE(commands.size(), 3u) << "the page shows its commands in fenced blocks";
  for (const std::string& command : commands) {
    std::vector<std::string> words;
    ASSERT_TRUE(SplitWords(command, &words).ok()) << command;
    std::vector<std::string> argv = {TaskqPath()};
    std::vector<std::string> svgs;
    for (size_t i = 1; i < words.size(); ++i) {
      const bool output =
          i > 1 && (words[i - 1] == "--svg" || words[i - 1] == "--json" || words[i - 1] == "--csv");
      argv.push_back(output ? dir_.path() + "/" + words[i] : words[i]);
      if (output && words[i - 1] == "--svg") svgs.push_back(argv.back());
    }
    CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.out << r.err;
    for (const std::string& svg : svgs) {
      EXPECT_EQ(ReadFile(svg).rfind("<svg", 0), 0u) << command;
    }
  }
}

TEST_F(BenchTest, BadFlagsExitTwoWithOneLine) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--workers", "0"},
                                               {"--workers", "1,x"},
                                               {"--policy", "threads"},
                                               {"--workload", "gpu"},
                                               {"--preset", "nope"},
                                               {"--with-python"},
                                               {"--frobnicate"},
                                               {"--reps", "0"},
                                               {"--max-reps", "0"}}) {
    CommandResult r = Bench(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_EQ(Count(r.err, "\n"), 1u) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
}  // namespace taskq::testing
