// The wait probe of `--advise`: one task of the workload run as the lab's own child, so that the
// kernel's accounting of that process can be read after it exits and before it is reaped
// (waitid WNOWAIT): its CPU time and the time it was runnable but waited for a CPU
// (/proc/<pid>/schedstat), the time it was blocked on block I/O (delayacct_blkio_ticks, field 42
// of /proc/<pid>/stat, when kernel.task_delayacct is on) and its block I/O bytes
// (/proc/<pid>/io). The rest of its wall time it slept or waited on something else.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/spawn.h"
#include "fmt/format.h"
#include "lab/lab.h"

extern char** environ;

namespace taskq::lab {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Field `n` (1-based, as proc(5) counts) of /proc/<pid>/stat; the name in field 2 may hold spaces.
bool StatField(const std::string& stat, int n, double* value) {
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream in(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= n; ++i) {
    if (!(in >> field)) return false;
  }
  *value = std::strtod(field.c_str(), nullptr);
  return true;
}

// A line "name: value" of /proc/<pid>/io (never its first line, rchar).
uint64_t IoField(const std::string& io, const std::string& name) {
  size_t at = io.find("\n" + name + ": ");
  return at == std::string::npos ? 0
                                 : std::strtoull(io.c_str() + at + name.size() + 3, nullptr, 10);
}

std::vector<std::string> ProbeArgv(const std::string& taskq_run, const Workload& w,
                                   const std::string& dir) {
  const TaskSpec& spec = w.spec;
  switch (spec.kind) {
    case TaskKind::kCpu:
      return {taskq_run, "cpu", "--count", std::to_string(spec.cpu.count)};
    case TaskKind::kIo: {
      std::vector<std::string> argv = {
          taskq_run, "io", "--bytes", std::to_string(spec.io.bytes), "--path", dir + "/probe.dat"};
      if (spec.io.fsync) argv.push_back("--fsync");
      return argv;
    }
    case TaskKind::kExec:
      return spec.exec.argv;
  }
  return {};
}

}  // namespace

bool DelayAccountingOn() {
  std::ifstream in("/proc/sys/kernel/task_delayacct");
  int on = 1;  // kernels before 5.14 have no switch: accounting is on when built in
  if (in) in >> on;
  return on != 0;
}

namespace {

// Each figure is the median over the runs (times `runs`, so that sums divide back), so that one
// run a busy machine held up does not decide the class.
Status ProbeRuns(const SpawnRequest& request, uint32_t runs, ProbeFigures* out) {
  const bool delayacct = DelayAccountingOn();
  const double tick_s = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::vector<double> wall, cpu, cpu_wait, blkio, read, write, vol, invol;
  for (uint32_t i = 0; i < runs && !Interrupted(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    pid_t pid = 0;
    TASKQ_RETURN_IF_ERROR(Spawn(request, &pid));
    siginfo_t info{};
    while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
    }
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    const std::string proc = fmt::format("/proc/{}/", pid);
    std::istringstream schedstat(ReadAll(proc + "schedstat"));
    double on_cpu_ns = 0, run_delay_ns = 0, blkio_ticks = 0;
    schedstat >> on_cpu_ns >> run_delay_ns;
    const bool have_blkio = StatField(ReadAll(proc + "stat"), 42, &blkio_ticks);
    const std::string io = ReadAll(proc + "io");
    int code = 0;
    rusage ru{};
    wait4(pid, &code, 0, &ru);
    if (!WIFEXITED(code) || WEXITSTATUS(code) != 0) {
      return Status::Failed(fmt::format("probe: {} did not succeed", request.argv[0]));
    }
    cpu.push_back(on_cpu_ns / 1e9);
    cpu_wait.push_back(run_delay_ns / 1e9);
    blkio.push_back(delayacct && have_blkio ? blkio_ticks * tick_s : -1);
    const Usage usage = UsageFrom(ru);
    read.push_back(io.empty() ? usage.read_bytes : IoField(io, "read_bytes"));
    write.push_back(io.empty() ? usage.write_bytes : IoField(io, "write_bytes"));
    vol.push_back(static_cast<double>(usage.vol_ctxsw));
    invol.push_back(static_cast<double>(usage.invol_ctxsw));
  }
  const double n = static_cast<double>(wall.size());
  out->runs = static_cast<uint32_t>(wall.size());
  out->wall_s = n * Median(wall);
  out->cpu_s = n * Median(cpu);
  out->cpu_wait_s = n * Median(cpu_wait);
  out->blkio_wait_s = blkio.empty() || blkio.front() < 0 ? -1 : n * Median(blkio);
  out->read_bytes = n * Median(read);
  out->write_bytes = n * Median(write);
  out->vol_ctxsw = n * Median(vol);
  out->invol_ctxsw = n * Median(invol);
  return Status::Ok();
}

}  // namespace

Status ProbeWorkload(const std::string& taskq_run, const Workload& w, uint32_t runs,
                     ProbeFigures* out) {
  *out = ProbeFigures{};
  if (w.spec.kind != TaskKind::kExec && taskq_run.empty()) {
    return Status::Unavailable("no taskq-run beside taskqd to probe a built-in task with");
  }
  std::error_code ec;
  const std::string dir =
      (std::filesystem::temp_directory_path(ec) / fmt::format("taskq-bench-probe-{}", getpid()))
          .string();
  std::filesystem::create_directories(dir, ec);
  SpawnRequest request;
  request.argv = ProbeArgv(taskq_run, w, dir);
  for (char** e = environ; *e != nullptr; ++e) request.env.push_back(*e);
  request.cwd = dir;
  request.stdout_path = "/dev/null";
  request.stderr_path = "/dev/null";
  Status status = ProbeRuns(request, runs, out);
  // A built-in task runs inside a worker or a runner that is already up; in the probe it pays
  // for starting taskq-run. That start-up, measured on an empty task, is taken off.
  if (status.ok() && w.spec.kind != TaskKind::kExec) {
    request.argv = {taskq_run, "cpu", "--count", "1"};
    ProbeFigures empty;
    status = ProbeRuns(request, runs, &empty);
    const double scale = empty.runs > 0 ? static_cast<double>(out->runs) / empty.runs : 0;
    out->raw_wall_s = out->wall_s;
    out->wall_s = std::max(0.0, out->wall_s - scale * empty.wall_s);
    out->cpu_s = std::max(0.0, out->cpu_s - scale * empty.cpu_s);
    out->cpu_wait_s = std::max(0.0, out->cpu_wait_s - scale * empty.cpu_wait_s);
    if (out->blkio_wait_s >= 0 && empty.blkio_wait_s >= 0) {
      out->blkio_wait_s = std::max(0.0, out->blkio_wait_s - scale * empty.blkio_wait_s);
    }
    out->vol_ctxsw = std::max(0.0, out->vol_ctxsw - scale * empty.vol_ctxsw);
    out->invol_ctxsw = std::max(0.0, out->invol_ctxsw - scale * empty.invol_ctxsw);
  } else {
    out->raw_wall_s = out->wall_s;
  }
  std::filesystem::remove_all(dir, ec);
  return status;
}

bool ProbeUsable(const ProbeFigures& p, std::string* why) {
  if (p.runs == 0) {
    *why = "no run finished";
    return false;
  }
  if (p.wall_s < 0.25 * p.raw_wall_s || p.wall_s / p.runs < 1e-3) {
    *why = fmt::format(
        "a task ({:.2f} ms) is too short beside the start-up of a process to watch it ({:.2f} "
        "ms in all)",
        1e3 * p.wall_s / p.runs, 1e3 * p.raw_wall_s / p.runs);
    return false;
  }
  return true;
}

WorkProfile ProfileOf(const ProbeFigures& p, double run_p50_us) {
  WorkProfile profile;
  if (p.runs == 0 || p.wall_s <= 0) return profile;
  const double n = p.runs;
  profile.tasks = p.runs;
  profile.cpu_share = std::min(1.0, p.cpu_s / p.wall_s);
  profile.cpu_wait_share = std::min(1.0, p.cpu_wait_s / p.wall_s);
  profile.blkio_share = p.blkio_wait_s < 0 ? -1 : std::min(1.0, p.blkio_wait_s / p.wall_s);
  profile.run_p50_us = run_p50_us > 0 ? run_p50_us : p.wall_s / n * 1e6;
  profile.read_bytes_per_task = p.read_bytes / n;
  profile.write_bytes_per_task = p.write_bytes / n;
  profile.vol_ctxsw_per_task = p.vol_ctxsw / n;
  profile.invol_ctxsw_per_task = p.invol_ctxsw / n;
  profile.from_probe = true;
  return profile;
}

std::string FindTaskqRun(const std::string& taskqd) {
  std::vector<std::string> candidates;
  if (!taskqd.empty()) {
    candidates.push_back((std::filesystem::path(taskqd).parent_path() / "taskq-run").string());
  }
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back((self.parent_path() / "../daemon/taskq-run").string());
    candidates.push_back((self.parent_path() / "taskq-run").string());
  }
  for (const std::string& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) return std::filesystem::weakly_canonical(c, ec).string();
  }
  return "";
}

}  // namespace taskq::lab
