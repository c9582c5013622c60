// The wait probe of `--advise`: one task of the workload run as the lab's own child, so that the
// kernel's accounting of that process can be read after it exits and before it is reaped
// (waitid WNOWAIT): its CPU time and the time it was runnable but waited for a CPU
// (/proc/<pid>/schedstat), the time it was blocked on block I/O (delayacct_blkio_ticks, field 42
// of /proc/<pid>/stat, when kernel.task_delayacct is on) and its block I/O bytes
// (/proc/<pid>/io). The rest of its wall time it slept or waited on something else.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/bench.h"
#include "common/spawn.h"
#include "fmt/format.h"

extern char** environ;

namespace taskq::bench {
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

uint64_t IoField(const std::string& io, const std::string& name) {
  size_t at = io.find(name + ": ");
  return at == std::string::npos ? 0
                                 : std::strtoull(io.c_str() + at + name.size() + 2, nullptr, 10);
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
  const bool delayacct = DelayAccountingOn();
  const double tick_s = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  Status status = Status::Ok();
  for (uint32_t i = 0; i < runs && status.ok() && !Interrupted(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    pid_t pid = 0;
    status = Spawn(request, &pid);
    if (!status.ok()) break;
    siginfo_t info{};
    waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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
      status = Status::Failed(fmt::format("probe: {} did not succeed", request.argv[0]));
      break;
    }
    ++out->runs;
    out->wall_s += wall;
    out->cpu_s += on_cpu_ns / 1e9;
    out->cpu_wait_s += run_delay_ns / 1e9;
    out->blkio_wait_s =
        delayacct && have_blkio ? std::max(0.0, out->blkio_wait_s) + blkio_ticks * tick_s : -1;
    const Usage usage = UsageFrom(ru);
    out->read_bytes += io.empty() ? usage.read_bytes : IoField(io, "read_bytes");
    out->write_bytes += io.empty() ? usage.write_bytes : IoField(io, "write_bytes");
    out->vol_ctxsw += static_cast<double>(usage.vol_ctxsw);
    out->invol_ctxsw += static_cast<double>(usage.invol_ctxsw);
  }
  std::filesystem::remove_all(dir, ec);
  return status;
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

}  // namespace taskq::bench
