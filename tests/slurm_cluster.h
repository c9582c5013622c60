// A private Slurm for the slurm suites (scripts/slurm-up.sh [--nodes N]): slurm-up.sh runs as the
// test's child (the parent of the Slurm daemons) and is stopped by pid (slurm-down.sh).
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "tests/test_util.h"

extern char** environ;

namespace taskq::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

inline const std::string kScripts = TASKQ_SOURCE_DIR "/scripts";

// The private cluster: slurm-up.sh runs as our child (the parent of the Slurm daemons) for the
// whole suite.
class SlurmCluster {
 public:
  // `nodes` slurmd on this host (scripts/slurm-up.sh --nodes), each with `cpus` CPUs.
  explicit SlurmCluster(int nodes = 1, int cpus = 8) : nodes_(nodes), cpus_(cpus) {}

  // False with the reason when the cluster did not start; Unavailable() then tells a machine
  // that cannot run one (not root, Slurm not installed: the tests skip) from one where it failed
  // to start (the tests fail: that is a broken machine or a broken slurm-up.sh, not a skip).
  bool Start(std::string* why) {
    unavailable_ = true;
    if (geteuid() != 0) {
      *why = "slurmd must run as root here (CI runs as root)";
      return false;
    }
    for (const char* tool :
         {"/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/sbin/munged"}) {
      if (!Exists(tool)) {
        *why = fmt::format(
            "{} is missing: run `make deps` (installs slurmctld slurmd "
            "slurm-client munge)",
            tool);
        return false;
      }
    }
    unavailable_ = false;
    const std::string script = kScripts + "/slurm-up.sh";
    std::vector<std::string> args = {
        "/bin/bash",          script, "--nodes", std::to_string(nodes_), dir_.path() + "/slurm",
        std::to_string(cpus_)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&keeper_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
      *why = "cannot start slurm-up.sh";
      return false;
    }
    const std::string ready = dir_.path() + "/slurm/ready";
    const std::string failed = dir_.path() + "/slurm/failed";
    WaitUntil([&] { return Exists(ready) || Exists(failed) || !KeeperAlive(); }, 60000);
    if (!Exists(ready)) {
      // The log's end: slurm-up.sh writes the tails of the daemons' logs there on a failure.
      const std::string log = ReadFile(dir_.path() + "/slurm/slurm-up.log");
      *why = "the private Slurm did not start: " + ReadFile(failed) +
             " (end of slurm-up.log: " + log.substr(log.size() > 3000 ? log.size() - 3000 : 0) +
             ")";
      Stop();
      return false;
    }
    conf_ = dir_.path() + "/slurm/slurm.conf";
    ::setenv("SLURM_CONF", conf_.c_str(), 1);
    return true;
  }

  bool Unavailable() const { return unavailable_; }

  void Stop() {
    if (keeper_ <= 0) return;
    RunCommand({"/bin/bash", kScripts + "/slurm-down.sh", dir_.path() + "/slurm"});
    int status = 0;
    waitpid(keeper_, &status, 0);
    keeper_ = 0;
    ::unsetenv("SLURM_CONF");
  }

  // squeue's view of one job, e.g. "CANCELLED".
  std::string JobState(int job_id) {
    const CommandResult r = RunCommand(
        {"/usr/bin/squeue", "-h", "-t", "all", "-j", std::to_string(job_id), "-o", "%T"});
    return r.exit_code == 0 ? r.out.substr(0, r.out.find('\n')) : "squeue failed: " + r.err;
  }

  pid_t ControllerPid() {
    std::istringstream pids(
        ReadFile(dir_.path() + "/slurm/daemons.pid"));  // munged slurmctld slurmd
    pid_t munged = 0, slurmctld = 0;
    pids >> munged >> slurmctld;
    return slurmctld;
  }

  // Kills `node`'s slurmd (SIGKILL, as a crashed machine) and marks the node down at once instead
  // of after SlurmdTimeout: its jobs end NODE_FAIL and it stays down (no slurmd to return).
  bool KillNode(const std::string& node) {
    const pid_t pid = std::atoi(ReadFile(dir() + "/node-" + node + ".pid").c_str());
    if (pid <= 0 || ::kill(pid, SIGKILL) != 0) return false;
    return TakeNodeDown(node);
  }

  // Takes `node` down: Slurm ends its jobs NODE_FAIL and kills what they run.
  bool TakeNodeDown(const std::string& node) {
    const CommandResult r = RunCommand(
        {"/usr/bin/scontrol", "update", "NodeName=" + node, "State=DOWN", "Reason=taskq-test"});
    return r.exit_code == 0;
  }

  std::string dir() const { return dir_.path() + "/slurm"; }

  // Takes the node down (its jobs end NODE_FAIL) and waits until it is back (ReturnToService=2).
  bool FailNode() {
    const std::string node = Run({"/usr/bin/sinfo", "-h", "-N", "-o", "%N"});
    Run({"/usr/bin/scontrol", "update", "NodeName=" + node, "State=DOWN", "Reason=taskq-test"});
    return WaitUntil([&] { return Run({"/usr/bin/sinfo", "-h", "-N", "-o", "%t"}) == "idle"; });
  }

 private:
  static std::string Run(const std::vector<std::string>& argv) {
    const std::string out = RunCommand(argv).out;
    return out.substr(0, out.find('\n'));
  }

  bool KeeperAlive() {
    int status = 0;
    return waitpid(keeper_, &status, WNOHANG) == 0;
  }

  int nodes_ = 1;
  int cpus_ = 8;
  TempDir dir_;
  bool unavailable_ = true;
  pid_t keeper_ = 0;
  std::string conf_;
};

}  // namespace taskq::testing
