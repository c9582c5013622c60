#include "daemon/recovery.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/spawn.h"
#include "common/worker_lifecycle.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {
namespace {

bool OwnedByUs(pid_t pid) {
  struct stat st {};
  return ::stat(("/proc/" + std::to_string(pid)).c_str(), &st) == 0 && st.st_uid == ::geteuid();
}

// True when `pid` runs this same taskqd binary (a worker or runner of the dead supervisor).
bool IsOurRunner(pid_t pid, const std::string& self_exe) {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  // After an upgrade the old binary is gone and its runners' exe reads "PATH (deleted)".
  return !ec && (exe.string() == self_exe || exe.string() == self_exe + " (deleted)");
}

// Kills a leftover runner: our own binary by pid, a task's process group (we start tasks with
// setsid, so a session leader's pid is its group) by group. Anything else is left alone: its pid
// was reused by an unrelated process.
void KillLeftover(pid_t pid, const std::string& self_exe, uint64_t started_before_us) {
  if (pid <= 1 || !ProcessAlive(pid) || ProcessStartUs(pid) >= started_before_us) return;
  if (IsOurRunner(pid, self_exe)) {
    ::kill(pid, SIGKILL);
  } else if (!KillTaskGroup(pid)) {
    return;
  }
  // It is not our child: wait until its parent (init) has reaped it.
  const uint64_t give_up = MonotonicUs() + 2000000;
  while (ProcessAlive(pid) && MonotonicUs() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// A pidfd of `pid` when it is still a runner of the previous supervisor (this binary, started
// before `started_before_us`); -1 otherwise. The checks come after the pidfd is open, so they
// are about the process the pidfd holds, not a process that reused its pid meanwhile.
int OpenKeeper(pid_t pid, const std::string& self_exe, uint64_t started_before_us) {
  if (pid <= 1) return -1;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return -1;
  if (ProcessAlive(pid) && IsOurRunner(pid, self_exe) && ProcessStartUs(pid) < started_before_us)
    return pidfd;
  ::close(pidfd);
  return -1;
}

}  // namespace

bool KillTaskGroup(pid_t leader) {
  if (leader <= 1 || ::getsid(leader) != leader || !OwnedByUs(leader)) return false;
  return ::kill(-leader, SIGKILL) == 0;
}

std::vector<KeptTask> RecoverOrphans(Segment& segment, const std::string& self_exe,
                                     uint64_t previous_heartbeat_us) {
  // The heartbeat is written once a second, and a worker may spawn a command in the instant its
  // supervisor dies: anything the old one started began before this.
  const uint64_t before_us = previous_heartbeat_us + 3000000;
  std::vector<KeptTask> kept;
  std::set<pid_t> keepers;
  for (auto& [slot, record] : segment.Running()) {
    if (record.kind != static_cast<uint32_t>(TaskKind::kExec) ||
        (record.flags & kFlagBatchJob) != 0)
      continue;
    const int pidfd = OpenKeeper(record.runner_pid, self_exe, before_us);
    if (pidfd < 0) continue;
    kept.push_back({slot, record.id, record.runner_pid, pidfd});
    keepers.insert(record.runner_pid);
  }
  SegmentHeader* h = segment.header();
  for (uint32_t i = 0; i < kMaxWorkers; ++i) {
    pid_t old = h->workers[i].pid.load();
    // A worker runs our own binary: a pid that now names anything else was reused.
    if (old != 0 && keepers.count(old) == 0 && IsOurRunner(old, self_exe))
      KillLeftover(old, self_exe, before_us);
    h->workers[i].pid.store(0);
    ApplyWorkerEvent(h->workers[i], WorkerEvent::kReset);
    h->workers[i].current_id.store(0);
  }
  h->idle_workers.store(0);
  for (auto& [slot, record] : segment.Running()) {
    if (keepers.count(record.runner_pid) != 0) continue;     // adopted: it goes on
    const bool slurm = (record.flags & kFlagBatchJob) != 0;  // child_pid is a job id, not a pid
    if (slurm && record.child_pid > 0) {
      // Its job may still run: the group's slurm executor re-attaches to it by job id
      // (LoseUnadoptedSlurmTasks handles a group that no longer runs on Slurm).
      spdlog::info("task {} was in slurm job {} when the previous taskqd died: re-attaching",
                   record.id, record.child_pid);
      continue;
    }
    if (record.child_pid > 0 && !slurm) KillLeftover(record.child_pid, self_exe, before_us);
    KillLeftover(record.runner_pid, self_exe, before_us);
    const std::string why = slurm ? "taskqd restarted while its sbatch ran (no job id recorded)"
                                  : "taskqd restarted while it ran";
    TaskState now = segment.RunnerDied(slot, record.id, why, 0);
    spdlog::warn("task {} was running when the previous taskqd died: now {}", record.id,
                 TaskStateName(now));
  }
  return kept;
}

void LoseUnadoptedSlurmTasks(Segment& segment, pid_t supervisor_pid) {
  for (auto& [slot, record] : segment.Running()) {
    if ((record.flags & kFlagBatchJob) == 0 || record.runner_pid == supervisor_pid) continue;
    const std::string why = fmt::format(
        "taskqd restarted while slurm job {} ran and its group no longer runs on Slurm; scancel "
        "it if it still runs",
        record.child_pid);
    const TaskState now = segment.RunnerDied(slot, record.id, why, 0);
    spdlog::warn("task {}: {}; now {}", record.id, why, TaskStateName(now));
  }
}

}  // namespace taskq
