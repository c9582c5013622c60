#include "daemon/run_as.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/spawn.h"
#include "fmt/format.h"

namespace taskq {
namespace {

// What the child reports back through its pipe: a fixed-size record, no allocation needed.
struct ChildReport {
  int32_t state = static_cast<int32_t>(TaskState::kFailed);
  int32_t exit_code = 1;
  uint64_t result_count = 0;
  uint64_t result_checksum = 0;
  char reason[480] = {};
};

// Makes <io_root>/<name> exist as a real directory owned by the user (mode 0700), relative to
// io_root's descriptor and never through a symlink; refuses one that belongs to someone else.
Status PrepareUserIoDir(const Options& options, const Identity& who) {
  const int root = ::open(options.io_root.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root < 0) {
    return Status::Failed(fmt::format("cannot open io_root {}: {}", options.io_root,
                                      std::strerror(errno == ENOTDIR ? ELOOP : errno)));
  }
  if (::mkdirat(root, who.name.c_str(), 0700) == 0) {
    if (::fchownat(root, who.name.c_str(), who.uid, who.gid, AT_SYMLINK_NOFOLLOW) != 0) {
      const int error = errno;
      ::close(root);
      return Status::Failed(fmt::format("cannot give {}/{} to {}: {}", options.io_root, who.name,
                                        who.name, std::strerror(error)));
    }
  }
  struct stat st {};
  const int got = ::fstatat(root, who.name.c_str(), &st, AT_SYMLINK_NOFOLLOW);
  ::close(root);
  if (got != 0 || !S_ISDIR(st.st_mode) || st.st_uid != who.uid) {
    return Status::Failed(
        fmt::format("{}/{} is not a directory owned by {}: refusing to write there; remove it",
                    options.io_root, who.name, who.name));
  }
  return Status::Ok();
}

[[noreturn]] void RunChild(const ClaimedTask& task, const Options& options, const Identity& who,
                           int report_fd) {
  ChildReport report;
  Status became = BecomeIdentity(who);
  if (became.ok()) {
    // The user's own directory is the root of its io paths; the default file is <id>.dat there.
    Options mine = options;
    mine.io_root = options.io_root + "/" + who.name;
    ClaimedTask copy = task;
    if (copy.spec.io.path.empty()) copy.spec.io.path = fmt::format("{}.dat", task.record.id);
    const TaskOutcome outcome = RunBuiltinInProcess(copy, mine);
    report.state = static_cast<int32_t>(outcome.state);
    report.exit_code = outcome.exit_code;
    report.result_count = outcome.result_count;
    report.result_checksum = outcome.result_checksum;
    std::snprintf(report.reason, sizeof(report.reason), "%s", outcome.reason.c_str());
  } else {
    std::snprintf(report.reason, sizeof(report.reason), "%s", became.message().c_str());
  }
  (void)!::write(report_fd, &report, sizeof(report));
  _exit(0);
}

TaskOutcome RunIoAs(const ClaimedTask& task, const Options& options, uint32_t uid) {
  Identity who;
  Status s = LookUpIdentity(uid, &who);
  if (s.ok()) s = PrepareUserIoDir(options, who);
  if (!s.ok()) return RefusedOutcome(s);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return RefusedOutcome(Status::Failed(fmt::format("pipe: {}", std::strerror(errno))));
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pipe_fds[0]);
    RunChild(task, options, who, pipe_fds[1]);
  }
  ::close(pipe_fds[1]);
  ChildReport report;
  bool reported = false;
  if (child > 0) {
    ssize_t n;
    while ((n = ::read(pipe_fds[0], &report, sizeof(report))) < 0 && errno == EINTR) {
    }
    reported = n == static_cast<ssize_t>(sizeof(report));
  }
  ::close(pipe_fds[0]);
  if (child < 0)
    return RefusedOutcome(Status::Failed(fmt::format("fork: {}", std::strerror(errno))));
  int wait_status = 0;
  rusage usage{};
  while (::wait4(child, &wait_status, 0, &usage) < 0 && errno == EINTR) {
  }
  TaskOutcome outcome = OutcomeFromWaitStatus(wait_status, usage);  // with its resource usage
  if (!reported) {
    // RunBuiltinInProcess arms ITIMER_REAL for a deadline: SIGALRM is the timeout.
    if (WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGALRM) {
      outcome.state = TaskState::kTimedOut;
      outcome.reason = fmt::format("timed out after {} ms", task.record.timeout_ms);
    }
    return outcome;
  }
  outcome.state = static_cast<TaskState>(report.state);
  outcome.exit_code = report.exit_code;
  outcome.result_count = report.result_count;
  outcome.result_checksum = report.result_checksum;
  report.reason[sizeof(report.reason) - 1] = '\0';
  outcome.reason = report.reason;
  return outcome;
}

}  // namespace

std::optional<uint32_t> RunAsUid(const ClaimedTask& task, const Options& options) {
  if (options.run_as != "submitter" || task.record.submitter_uid == ::geteuid())
    return std::nullopt;
  return task.record.submitter_uid;
}

TaskOutcome RunBuiltin(const ClaimedTask& task, const Options& options, UsageMark* mark) {
  const std::optional<uint32_t> uid = RunAsUid(task, options);
  if (!uid || task.spec.kind != TaskKind::kIo) return RunBuiltinInProcess(task, options, mark);
  if (mark != nullptr) mark->valid = false;  // the child's time is not the worker's
  return RunIoAs(task, options, *uid);
}

}  // namespace taskq
