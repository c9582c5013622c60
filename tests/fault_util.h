// What the fault-injection suites (fault, doctor, chaos) share: JSON from the real `taskq`, task
// states, and looking for processes on the whole machine. A process counts as alive only while it
// can still run: a zombie that no init reaps (PID 1 of a container often does not) is gone.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/segment.h"
#include "tests/test_util.h"

namespace taskq::testing {

using Args = std::vector<std::string>;
using nlohmann::json;

inline constexpr int kFaultWaitMs = 60000;

// A test daemon's execution settings: `runners` workers (pool) or task processes (process), and
// short graces so that kills and cleanup never wait long.
inline std::string FaultSettings(const std::string& policy, int runners = 2,
                                 const std::string& extra = "") {
  return "policy: " + policy + "\nworkers: " + std::to_string(runners) +
         "\nmax_parallel: " + std::to_string(runners) +
         "\nshutdown_grace: 2s\nkill_grace: 500ms\n" + extra;
}

inline json ParseJson(const std::string& text) {
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

// `taskq --json args...` parsed (discarded JSON when the command failed).
inline json TaskqJson(Daemon& daemon, const Args& args) {
  Args all = {"--json"};
  all.insert(all.end(), args.begin(), args.end());
  const CommandResult r = daemon.Taskq(all);
  return r.exit_code == 0 ? ParseJson(r.out) : json(json::value_t::discarded);
}

// `taskq --json submit ...`: the new task's id, 0 on failure.
inline uint64_t SubmitTask(Daemon& daemon, const Args& args) {
  Args all = {"submit"};
  all.insert(all.end(), args.begin(), args.end());
  const json j = TaskqJson(daemon, all);
  return j.is_object() && j.contains("id") ? j["id"].get<uint64_t>() : 0;
}

inline json TaskOf(Daemon& daemon, uint64_t id) {
  return TaskqJson(daemon, {"status", std::to_string(id)});
}

inline std::string StateOf(Daemon& daemon, uint64_t id) {
  const json j = TaskOf(daemon, id);
  return j.is_object() ? j.value("state", "") : "";
}

inline bool ReachesState(Daemon& daemon, uint64_t id, const std::string& state) {
  return WaitUntil([&] { return StateOf(daemon, id) == state; }, kFaultWaitMs);
}

// A /proc file of `pid` ("stat", "environ"); "" when the process is gone, also mid-read (where
// an ifstream throws).
inline std::string ReadProc(pid_t pid, const char* name) {
  const std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// `/proc/PID/stat`'s state letter; 0 when there is no such process.
inline char ProcState(pid_t pid) {
  const std::string stat = ReadProc(pid, "stat");
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? 0 : stat[paren + 2];
}

inline bool ProcessGone(pid_t pid) {
  const char state = ProcState(pid);
  return state == 0 || state == 'Z' || state == 'X';
}

inline bool WaitGone(pid_t pid) {
  return WaitUntil([pid] { return ProcessGone(pid); }, kFaultWaitMs);
}

inline std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* d = readdir(proc)) {
    const std::string name = d->d_name;
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
      pids.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  closedir(proc);
  return pids;
}

// Live processes started for tasks of `queue`: every exec task and its descendants carry
// TASKQ_QUEUE=<queue> in their environment (the daemon sets it), whatever group they moved to.
inline std::vector<pid_t> TaskProcesses(const std::string& queue) {
  const std::string wanted = "TASKQ_QUEUE=" + queue;
  std::vector<pid_t> found;
  for (pid_t pid : AllPids()) {
    std::istringstream vars(ReadProc(pid, "environ"));
    for (std::string kv; std::getline(vars, kv, '\0');) {
      if (kv == wanted && !ProcessGone(pid)) {
        found.push_back(pid);
        break;
      }
    }
  }
  return found;
}

inline bool NoTaskProcessesLeft(const std::string& queue) {
  return WaitUntil([&] { return TaskProcesses(queue).empty(); }, kFaultWaitMs);
}

// Kills whatever task processes of `queue` are left (cleanup after a crash test).
inline void KillTaskProcesses(const std::string& queue) {
  for (pid_t pid : TaskProcesses(queue)) ::kill(pid, SIGKILL);
  NoTaskProcessesLeft(queue);
}

// The pids in the segment's worker table (pool workers alive as the supervisor sees them).
inline std::vector<pid_t> WorkerPids(Daemon& daemon) {
  std::vector<pid_t> pids;
  std::unique_ptr<Segment> segment;
  if (!Segment::Attach(daemon.options(), &segment).ok()) return pids;
  for (uint32_t i = 0; i < kMaxWorkers; ++i) {
    const pid_t pid = segment->header()->workers[i].pid.load();
    if (pid > 0) pids.push_back(pid);
  }
  return pids;
}

inline size_t CountLines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// An exec task that appends `tag` to `file` and then runs until `gate` exists.
inline Args AppendThenWaitTask(const std::string& file, const std::string& gate) {
  return {"exec",
          "--",
          "/bin/sh",
          "-c",
          "echo run >> \"$0\"; while [ ! -e \"$1\" ]; do sleep 0.02; done",
          file,
          gate};
}

}  // namespace taskq::testing
