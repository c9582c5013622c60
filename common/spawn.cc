#include "common/spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "common/clock.h"
#include "fmt/format.h"

namespace taskq {
namespace {

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

bool HasLimits(const TaskLimits& l) {
  return l.cpu_seconds != 0 || l.address_space_mb != 0 || l.open_files != 0 || l.output_mb != 0;
}

// Async-signal-safe: called in the forked child.
int SetLimits(const TaskLimits& limits) {
  const std::pair<int, uint64_t> wanted[] = {
      {RLIMIT_CPU, limits.cpu_seconds},
      {RLIMIT_AS, limits.address_space_mb << 20},
      {RLIMIT_NOFILE, limits.open_files},
      {RLIMIT_FSIZE, limits.output_mb << 20},
  };
  for (const auto& [resource, value] : wanted) {
    if (value == 0) continue;
    // RLIMIT_CPU: at the soft limit the kernel sends SIGXCPU, at the hard one SIGKILL; one
    // second apart, so the task's end says which limit it hit.
    const rlim_t hard = static_cast<rlim_t>(resource == RLIMIT_CPU ? value + 1 : value);
    rlimit rl{static_cast<rlim_t>(value), hard};
    if (setrlimit(static_cast<__rlimit_resource>(resource), &rl) != 0) return errno;
  }
  return 0;
}

// Opens a task's log for writing relative to its directory's descriptor, never through a
// symlink (neither the file nor the directory itself): -1 and errno on failure.
int OpenLogForWrite(const std::string& path, mode_t mode) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const int dir_fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd < 0) return -1;
  const int fd = ::openat(dir_fd, name.c_str(),
                          O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
  const int error = errno;
  ::close(dir_fd);
  errno = error;
  return fd;
}

// The task's stdout and stderr, opened by the parent before the child starts.
struct LogFds {
  int out = -1;
  int err = -1;
  ~LogFds() {
    if (out >= 0) ::close(out);
    if (err >= 0) ::close(err);
  }
};

Status OpenLogs(const SpawnRequest& request, LogFds* logs) {
  struct Wanted {
    const std::string* path;
    int given;
    int* fd;
  };
  for (const auto& [path, given, fd] :
       {Wanted{&request.stdout_path, request.stdout_fd, &logs->out},
        Wanted{&request.stderr_path, request.stderr_fd, &logs->err}}) {
    if (given >= 0) {
      *fd = ::fcntl(given, F_DUPFD_CLOEXEC, 3);  // ours to close, like an opened log
      if (*fd < 0) {
        return Status::Failed(
            fmt::format("cannot run '{}': dup of its log: {}", request.argv[0], strerror(errno)));
      }
      continue;
    }
    if (path->empty()) continue;
    *fd = OpenLogForWrite(*path, request.log_mode);
    if (*fd < 0) {
      return Status::Failed(
          fmt::format("cannot run '{}': log {}: {}", request.argv[0], *path, strerror(errno)));
    }
  }
  return Status::Ok();
}

// The child side of ForkExec: only async-signal-safe calls between fork and exec.
[[noreturn]] void ExecChild(const SpawnRequest& request, const LogFds& logs, char* const* argv,
                            char* const* envp, const Identity* identity, int error_pipe) {
  sigset_t empty;
  sigemptyset(&empty);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  int error = 0;
  auto redirect = [&](int target, const char* path, int flags, mode_t mode) {
    if (error != 0) return;
    int fd = ::open(path, flags, mode);
    if (fd < 0 || (fd != target && dup2(fd, target) < 0)) error = errno;
    if (fd >= 0 && fd != target) ::close(fd);
  };
  if (request.new_session && setsid() < 0) error = errno;
  redirect(0, "/dev/null", O_RDONLY, 0);
  if (error == 0 && logs.out >= 0 && dup2(logs.out, 1) < 0) error = errno;
  if (error == 0 && logs.err >= 0 && dup2(logs.err, 2) < 0) error = errno;
  // The identity switch comes after the logs (opened by taskqd) and before the working directory
  // (which the task's user must be allowed to enter).
  if (error == 0 && identity != nullptr && !BecomeIdentity(*identity).ok()) error = EPERM;
  if (error == 0 && !request.cwd.empty() && chdir(request.cwd.c_str()) != 0) error = errno;
  // Everything above stderr closes at exec, the error pipe included (that is the success signal).
  if (error == 0) syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  if (error == 0) error = SetLimits(request.limits);
  if (error == 0) {
    execvpe(argv[0], argv, envp);
    error = errno;
  }
  (void)!write(error_pipe, &error, sizeof(error));
  _exit(127);
}

Status ForkExec(const SpawnRequest& request, const LogFds& logs, char* const* argv,
                char* const* envp, const Identity* identity, pid_t* pid) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Status::Failed(
        fmt::format("cannot run '{}': pipe: {}", request.argv[0], strerror(errno)));
  }
  *pid = fork();
  if (*pid == 0) ExecChild(request, logs, argv, envp, identity, pipe_fds[1]);
  const int fork_error = errno;
  ::close(pipe_fds[1]);
  if (*pid < 0) {
    ::close(pipe_fds[0]);
    return Status::Failed(
        fmt::format("cannot run '{}': fork: {}", request.argv[0], strerror(fork_error)));
  }
  int child_error = 0;
  ssize_t n;
  while ((n = read(pipe_fds[0], &child_error, sizeof(child_error))) < 0 && errno == EINTR) {
  }
  ::close(pipe_fds[0]);
  if (n == static_cast<ssize_t>(sizeof(child_error))) {
    while (waitpid(*pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return Status::Failed(
        fmt::format("cannot run '{}': {}", request.argv[0], strerror(child_error)));
  }
  return Status::Ok();
}

uint64_t Micros(const timeval& tv) { return uint64_t(tv.tv_sec) * 1000000u + uint64_t(tv.tv_usec); }

}  // namespace

Status LookUpIdentity(uint32_t uid, Identity* out) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return Status::Failed(fmt::format("uid {} has no account: refusing to run a task as it", uid));
  }
  out->uid = uid;
  out->gid = entry.pw_gid;
  out->name = entry.pw_name;
  out->home = entry.pw_dir != nullptr && entry.pw_dir[0] == '/' ? entry.pw_dir : "/";
  int count = 64;
  out->groups.assign(static_cast<size_t>(count), 0);
  if (getgrouplist(entry.pw_name, entry.pw_gid, out->groups.data(), &count) < 0) {
    out->groups.assign(static_cast<size_t>(count), 0);
    if (getgrouplist(entry.pw_name, entry.pw_gid, out->groups.data(), &count) < 0) count = 0;
  }
  out->groups.resize(static_cast<size_t>(count));
  return Status::Ok();
}

Status BecomeIdentity(const Identity& who) {
  if (setgroups(who.groups.size(), who.groups.data()) != 0 ||
      setresgid(who.gid, who.gid, who.gid) != 0 || setresuid(who.uid, who.uid, who.uid) != 0) {
    return Status::Failed(
        fmt::format("cannot become {} (uid {}): {}", who.name, who.uid, std::strerror(errno)));
  }
  if (who.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
    return Status::Failed(fmt::format("could regain root after becoming {}", who.name));
  }
  return Status::Ok();
}

Status Spawn(const SpawnRequest& request, pid_t* pid) {
  if (request.argv.empty()) return Status::Invalid("spawn: empty argv");
  std::vector<char*> argv = CStrings(request.argv);
  Identity identity;
  std::vector<std::string> env = request.env;
  if (request.run_as_uid) {
    TASKQ_RETURN_IF_ERROR(LookUpIdentity(*request.run_as_uid, &identity));
    env.push_back("HOME=" + identity.home);
    env.push_back("USER=" + identity.name);
    env.push_back("LOGNAME=" + identity.name);
  }
  std::vector<char*> envp = CStrings(env);
  LogFds logs;
  TASKQ_RETURN_IF_ERROR(OpenLogs(request, &logs));
  // posix_spawn can neither set limits nor switch users: fork for those.
  if (HasLimits(request.limits) || request.run_as_uid) {
    return ForkExec(request, logs, argv.data(), envp.data(),
                    request.run_as_uid ? &identity : nullptr, pid);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (logs.out >= 0) posix_spawn_file_actions_adddup2(&actions, logs.out, 1);
  if (logs.err >= 0) posix_spawn_file_actions_adddup2(&actions, logs.err, 2);
  if (!request.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, request.cwd.c_str());
  // Asio's and Boost's descriptors are not all close-on-exec: close everything above stderr.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (request.new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);

  int rc = posix_spawnp(pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return Status::Failed(fmt::format("cannot run '{}': {}", request.argv[0], strerror(rc)));
  }
  return Status::Ok();
}

Status ApplyLimitsToSelf(const TaskLimits& limits) {
  int error = SetLimits(limits);
  if (error != 0) return Status::Failed(fmt::format("setrlimit: {}", strerror(error)));
  return Status::Ok();
}

Usage UsageFrom(const rusage& ru) {
  Usage u;
  u.user_us = Micros(ru.ru_utime);
  u.sys_us = Micros(ru.ru_stime);
  u.max_rss_kb = static_cast<uint64_t>(ru.ru_maxrss);
  u.read_bytes = static_cast<uint64_t>(ru.ru_inblock) * 512;
  u.write_bytes = static_cast<uint64_t>(ru.ru_oublock) * 512;
  u.vol_ctxsw = static_cast<uint64_t>(ru.ru_nvcsw);
  u.invol_ctxsw = static_cast<uint64_t>(ru.ru_nivcsw);
  return u;
}

Usage UsageDelta(const rusage& before, const rusage& after) {
  Usage a = UsageFrom(after);
  Usage b = UsageFrom(before);
  return Usage{
      a.user_us - b.user_us,        a.sys_us - b.sys_us,           a.max_rss_kb,
      a.read_bytes - b.read_bytes,  a.write_bytes - b.write_bytes, a.vol_ctxsw - b.vol_ctxsw,
      a.invol_ctxsw - b.invol_ctxsw};
}

namespace {

// The state letter of /proc/PID/stat ('R', 'S', 'T', 'Z', ...), or '\0' when it cannot be read.
char ProcessStateLetter(pid_t pid) {
  char path[32];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  FILE* file = std::fopen(path, "re");
  if (file == nullptr) return '\0';
  char stat[512];
  const size_t n = std::fread(stat, 1, sizeof(stat) - 1, file);
  std::fclose(file);
  stat[n] = '\0';
  // "pid (comm) S ...": the state follows the last ')' (comm may hold parentheses).
  const char* paren = std::strrchr(stat, ')');
  if (paren == nullptr || paren[1] == '\0') return '\0';
  return paren[2];
}

}  // namespace

bool ProcessAlive(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
  const char state = ProcessStateLetter(pid);  // '\0' (no /proc): trust kill()
  return state != 'Z' && state != 'X';
}

pid_t ProcessParent(pid_t pid) {
  char path[32];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  FILE* file = std::fopen(path, "re");
  if (file == nullptr) return 0;
  char stat[512];
  const size_t n = std::fread(stat, 1, sizeof(stat) - 1, file);
  std::fclose(file);
  stat[n] = '\0';
  // "pid (comm) S PPID ...": fields 3.. follow the last ')' (comm may hold parentheses).
  const char* paren = std::strrchr(stat, ')');
  int parent = 0;
  if (paren == nullptr || std::sscanf(paren + 1, " %*c %d", &parent) != 1) return 0;
  return static_cast<pid_t>(parent);
}

bool ProcessStopped(pid_t pid) {
  if (pid <= 0) return false;
  const char state = ProcessStateLetter(pid);
  return state == 'T' || state == 't';
}

uint64_t ProcessStartUs(pid_t pid) {
  char path[32];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  FILE* file = std::fopen(path, "re");
  if (file == nullptr) return UINT64_MAX;
  char stat[1024];
  const size_t n = std::fread(stat, 1, sizeof(stat) - 1, file);
  std::fclose(file);
  stat[n] = '\0';
  // Field 22 (starttime, clock ticks after boot); fields 3.. follow the last ')'.
  const char* at = std::strrchr(stat, ')');
  unsigned long long ticks = 0;
  if (at == nullptr ||
      std::sscanf(at + 2,
                  "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
                  "%*d %llu",
                  &ticks) != 1) {
    return UINT64_MAX;
  }
  // starttime counts from boot (CLOCK_BOOTTIME). /proc/stat's btime is whole seconds, up to 1 s
  // off; the boot clock read beside the wall clock dates the start to a tick.
  const long hz = ::sysconf(_SC_CLK_TCK);
  if (hz <= 0) return UINT64_MAX;
  const uint64_t started_after_boot_us = ticks * 1000000ull / static_cast<unsigned long long>(hz);
  const uint64_t boot_us = BootUs();
  const uint64_t age_us = boot_us > started_after_boot_us ? boot_us - started_after_boot_us : 0;
  return NowUs() - age_us;
}

std::string SignalName(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", signal);
}

}  // namespace taskq
