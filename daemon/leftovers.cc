#include "daemon/leftovers.h"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/deadline.h"

namespace taskq {
namespace {

constexpr useconds_t kPollUs = 2000;       // while leftovers are being ended
constexpr useconds_t kWaitPollUs = 20000;  // `wait`: as often as a paused kernel looks

// This process's children from /proc/self/task/*/children (every thread's; a runner has one).
// Where the kernel lacks that file, /proc/PID/stat's parent field of every process says it.
std::vector<pid_t> LiveChildren() {
  std::vector<pid_t> children;
  bool listed = false;
  if (DIR* tasks = opendir("/proc/self/task")) {
    while (const dirent* entry = readdir(tasks)) {
      if (entry->d_name[0] == '.') continue;
      std::ifstream in(std::string("/proc/self/task/") + entry->d_name + "/children");
      if (!in) continue;
      listed = true;
      for (pid_t pid = 0; in >> pid;) children.push_back(pid);
    }
    closedir(tasks);
  }
  if (listed) return children;
  const pid_t self = getpid();
  if (DIR* proc = opendir("/proc")) {
    while (const dirent* entry = readdir(proc)) {
      const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
      if (pid <= 0) continue;
      if (ProcessParent(pid) == self) children.push_back(pid);
    }
    closedir(proc);
  }
  return children;
}

// Reaps every child that has exited, adding it to `report`; false once no child is left.
bool ReapExited(LeftoverReport* report) {
  for (;;) {
    int status = 0;
    rusage usage{};
    const pid_t pid = wait4(-1, &status, WNOHANG, &usage);
    if (pid > 0) {
      ++report->ended;
      const Usage u = UsageFrom(usage);
      report->usage.user_us += u.user_us;
      report->usage.sys_us += u.sys_us;
      report->usage.max_rss_kb = std::max(report->usage.max_rss_kb, u.max_rss_kb);
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    return pid == 0;  // 0: children left, none exited; -1 (ECHILD): none left
  }
}

// SIGTERM (and SIGCONT, so a stopped one can act on it) to each child not told yet; SIGKILL to
// every child once `hard`. A child already reaped cannot be hit: an unreaped zombie keeps its pid.
void Signal(bool hard, std::set<pid_t>* told) {
  for (const pid_t child : LiveChildren()) {
    if (hard) {
      ::kill(child, SIGKILL);
    } else if (told->insert(child).second) {
      ::kill(child, SIGTERM);
      ::kill(child, SIGCONT);
    }
  }
}

// Ends every child: SIGTERM, then SIGKILL once `grace_ms` passed (at once when 0), until none is
// left. Children of the ones that die come to this subreaper and are ended in the next round.
void EndAll(uint64_t grace_ms, LeftoverReport* report) {
  report->killed = true;
  const uint64_t hard_at = grace_ms == 0 ? 0 : DeadlineAfter(NowUs(), grace_ms);
  std::set<pid_t> told;
  while (ReapExited(report)) {
    Signal(hard_at == 0 || DeadlinePassed(hard_at, NowUs()), &told);
    ::usleep(kPollUs);
  }
}

}  // namespace

bool BecomeSubreaper() { return prctl(PR_SET_CHILD_SUBREAPER, 1) == 0; }

LeftoverReport SettleLeftovers(Leftovers mode, bool at_once, uint64_t grace_ms,
                               const LeftoverWatch& watch) {
  LeftoverReport report;
  if (!ReapExited(&report)) return report;  // nothing left: the common case, one syscall
  if (at_once) {
    EndAll(0, &report);
    return report;
  }
  if (mode == Leftovers::kWait) {
    for (;;) {
      if (!ReapExited(&report)) return report;  // they all exited by themselves
      if (watch.kill_requested && watch.kill_requested()) {
        EndAll(0, &report);
        return report;
      }
      const uint64_t now = NowUs();
      if (watch.live_deadline && DeadlinePassed(watch.live_deadline(), now)) {
        report.timed_out = true;
        EndAll(grace_ms, &report);
        return report;
      }
      ::usleep(kWaitPollUs);
    }
  }
  EndAll(grace_ms, &report);
  return report;
}

}  // namespace taskq
