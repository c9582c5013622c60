// The configuration as an operator meets it, through the real taskqd binary: --check-config on
// the shipped file and on one bad file of each kind (one line FILE:LINE:COLUMN: KEY: ..., exit 2),
// --print-config output that --check-config accepts, and a shipped file that documents every key.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/test_util.h"

namespace taskq::testing {
namespace {

std::string ShippedConfig() { return TASKQ_SOURCE_DIR "/config/taskq.yaml"; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ConfigCli : public ::testing::Test {
 protected:
  // Writes `yaml` to a file and runs `taskqd --check-config` on it.
  CommandResult Check(const std::string& yaml) {
    path_ = dir_.path() + "/bad.yaml";
    std::ofstream(path_) << yaml;
    return RunCommand({TaskqdPath(), "--check-config", path_});
  }
  // The one-line error for a bad file: exit 2, nothing on stdout, exactly one line on stderr
  // that starts with FILE:LINE:COLUMN: KEY: .
  void ExpectError(const CommandResult& r, int line, int column, const std::string& key,
                   const std::string& what) {
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(r.out, "");
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
    const std::string prefix =
        path_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + key + ": ";
    EXPECT_EQ(r.err.rfind(prefix, 0), 0u)
        << "expected it to start with '" << prefix << "': " << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(ConfigCli, ShippedConfigIsValid) {
  const CommandResult r = RunCommand({TaskqdPath(), "--check-config", ShippedConfig()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ShippedConfig() + ": valid\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(ConfigCli, UnknownKeyNamesItsPlace) {
  ExpectError(Check("queue: q\nworkerz: 2\n"), 2, 1, "workerz", "unknown key");
}

TEST_F(ConfigCli, UnknownNestedKeyNamesItsPath) {
  ExpectError(Check("queue: q\nlimits:\n  cpu_second: 1\n"), 3, 3, "limits.cpu_second",
              "unknown key");
}

TEST_F(ConfigCli, WrongTypeNamesItsPlace) {
  ExpectError(Check("workers: many\n"), 1, 10, "workers", "must be an integer");
  ExpectError(Check("policy: [pool]\n"), 1, 9, "policy", "must be one of pool, process");
  ExpectError(Check("security:\n  exec_enabled: maybe\n"), 2, 17, "security.exec_enabled",
              "must be true or false");
  ExpectError(Check("retention: 5\n"), 1, 12, "retention", "must be a map");
  ExpectError(Check("shutdown_grace: 2x\n"), 1, 17, "shutdown_grace", "must be a duration");
  ExpectError(Check("leftovers: keep\n"), 1, 12, "leftovers", "must be one of kill, wait");
}

TEST_F(ConfigCli, OutOfRangeNamesItsPlace) {
  ExpectError(Check("capacity: 8\n"), 1, 11, "capacity", "16..4194304");
  ExpectError(Check("default_retries: 101\n"), 1, 18, "default_retries", "0..100");
  ExpectError(Check("retention:\n  count: -1\n"), 2, 10, "retention.count", "got -1");
  ExpectError(Check("log_level: loud\n"), 1, 12, "log_level", "got loud");
  // The worker table has 256 rows: a larger pool is refused at its place in the file too.
  ExpectError(Check("queue: q\nworkers: 300\n"), 2, 10, "workers", "got 300");
}

TEST_F(ConfigCli, SyntaxErrorAndMissingFile) {
  const CommandResult syntax = Check("queue: a\n  b: [\n");
  EXPECT_EQ(syntax.exit_code, 2);
  EXPECT_EQ(syntax.err.rfind(path_ + ":2:", 0), 0u) << syntax.err;
  const CommandResult missing =
      RunCommand({TaskqdPath(), "--check-config", dir_.path() + "/absent.yaml"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find(dir_.path() + "/absent.yaml"), std::string::npos) << missing.err;
  EXPECT_EQ(missing.err.find('\n'), missing.err.size() - 1) << missing.err;
}

// Starting with a bad file fails the same way, before anything is created.
TEST_F(ConfigCli, StartWithBadFileExits2) {
  Check("queue: q\nworkerz: 2\n");
  const CommandResult r = RunCommand({TaskqdPath(), "--config", path_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(path_ + ":2:1: workerz: unknown key"), std::string::npos) << r.err;
}

TEST_F(ConfigCli, PrintConfigIsAcceptedByCheckConfig) {
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{},
        {"--config", ShippedConfig()},
        {"--queue", "printed", "--policy", "process", "--max-parallel", "3"}}) {
    std::vector<std::string> argv = {TaskqdPath(), "--print-config"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const CommandResult printed = RunCommand(argv);
    ASSERT_EQ(printed.exit_code, 0) << printed.err;
    const std::string path = dir_.path() + "/printed.yaml";
    std::ofstream(path, std::ios::trunc) << printed.out;
    const CommandResult checked = RunCommand({TaskqdPath(), "--check-config", path});
    EXPECT_EQ(checked.exit_code, 0) << printed.out << checked.err;
    // Printing the printed file changes nothing: it is the effective configuration.
    const CommandResult again = RunCommand({TaskqdPath(), "--print-config", "--config", path});
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(again.out, printed.out);
  }
  const CommandResult overridden =
      RunCommand({TaskqdPath(), "--print-config", "--queue", "printed", "--policy", "process"});
  EXPECT_NE(overridden.out.find("queue: \"printed\""), std::string::npos) << overridden.out;
  EXPECT_NE(overridden.out.find("policy: process"), std::string::npos) << overridden.out;
}

// Every key --print-config writes appears in the shipped file with a comment right above it.
TEST_F(ConfigCli, ShippedConfigDocumentsEveryKey) {
  const CommandResult printed = RunCommand({TaskqdPath(), "--print-config"});
  ASSERT_EQ(printed.exit_code, 0);
  const std::string shipped = ReadFile(ShippedConfig());
  std::vector<std::string> shipped_lines;
  std::istringstream shipped_in(shipped);
  for (std::string line; std::getline(shipped_in, line);) shipped_lines.push_back(line);
  std::istringstream in(printed.out);
  const std::regex key_line(R"(^(\s*)([a-z_]+):.*$)");
  int keys = 0;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, key_line)) continue;
    ++keys;
    const std::string wanted = m[1].str() + m[2].str() + ":";
    bool found = false;
    for (size_t i = 0; i < shipped_lines.size(); ++i) {
      if (shipped_lines[i].rfind(wanted, 0) != 0) continue;
      found = true;
      ASSERT_GT(i, 0u);
      const std::string& above = shipped_lines[i - 1];
      EXPECT_NE(above.find_first_not_of(' '), std::string::npos);
      EXPECT_EQ(above[above.find_first_not_of(' ')], '#')
          << "key '" << m[2] << "' has no comment above it in config/taskq.yaml";
    }
    EXPECT_TRUE(found) << "key '" << m[2] << "' is missing from config/taskq.yaml";
  }
  EXPECT_GE(keys, 30);
}

TEST_F(ConfigCli, HelpIsComplete) {
  const CommandResult r = RunCommand({TaskqdPath(), "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* text :
       {"--config", "--check-config", "--print-config", "--queue", "--policy", "--workers",
        "--max-parallel", "--state-dir", "--log-level", "SIGHUP", "SIGTERM", "NOTIFY_SOCKET",
        "JOURNAL_STREAM", "TASKQ_CONFIG", "Exit codes"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << "taskqd --help lacks " << text;
  }
  EXPECT_EQ(r.out.find("--worker "), std::string::npos) << "internal options are shown";
}

}  // namespace
}  // namespace taskq::testing
