#include "tests/test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "client/client.h"
#include "common/segment.h"
#include "fmt/format.h"

extern char** environ;

namespace taskq::testing {
namespace {

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> Environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    std::string name = kv.substr(0, kv.find('='));
    if (extra.count(name) || name == "TASKQ_QUEUE" || name == "TASKQ_CONFIG") continue;
    env.push_back(kv);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

bool WaitPid(pid_t pid, int* status, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// The lines every fixture config starts with. As root, taskqd needs an explicit `user`: the
// suite runs as root in CI and keeps root on purpose (`user: root`) unless the test names one.
std::string BaseConfig(const std::string& queue, const std::string& state_dir,
                       const std::string& yaml_extra) {
  const bool names_user =
      yaml_extra.rfind("user:", 0) == 0 || yaml_extra.find("\nuser:") != std::string::npos;
  // Last, so that line numbers in the tests' own lines stay what they were.
  return "queue: " + queue + "\nstate_dir: " + state_dir + "\nlog_level: debug\n" + yaml_extra +
         "\n" + (geteuid() == 0 && !names_user ? "user: root\n" : "");
}

}  // namespace

TempDir::TempDir() {
  char pattern[] = "/tmp/taskq-test-XXXXXX";
  path_ = mkdtemp(pattern);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string UniqueQueueName() {
  // The pid alone repeats: the soak suites start over 100,000 processes, more than pid_max.
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}() % 1000000;
  return fmt::format("test-{}-{}-{}", getpid(), counter++, salt);
}

std::string TaskqdPath() { return TASKQ_BIN_DIR "/daemon/taskqd"; }
std::string TaskqPath() { return TASKQ_BIN_DIR "/client/taskq"; }

CommandResult RunCommand(const std::vector<std::string>& argv_in, const std::string& input,
                         const std::map<std::string, std::string>& env_extra) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    return {};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> env = Environment(env_extra);
  std::vector<char*> cargv = CStrings(argv);
  std::vector<char*> cenv = CStrings(env);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult result;
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = strerror(rc);
    return result;
  }
  // Feed stdin and drain both outputs without deadlocking on full pipes.
  size_t written = 0;
  if (input.empty()) {
    close(in_pipe[1]);
    in_pipe[1] = -1;
  }
  fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  bool out_open = true, err_open = true;
  char buffer[65536];
  while (out_open || err_open || in_pipe[1] >= 0) {
    pollfd fds[3] = {{out_open ? out_pipe[0] : -1, POLLIN, 0},
                     {err_open ? err_pipe[0] : -1, POLLIN, 0},
                     {in_pipe[1], POLLOUT, 0}};
    if (poll(fds, 3, -1) < 0 && errno == EINTR) continue;
    if (fds[0].revents) {
      ssize_t n = read(out_pipe[0], buffer, sizeof(buffer));
      if (n > 0)
        result.out.append(buffer, n);
      else
        out_open = false;
    }
    if (fds[1].revents) {
      ssize_t n = read(err_pipe[0], buffer, sizeof(buffer));
      if (n > 0)
        result.err.append(buffer, n);
      else
        err_open = false;
    }
    if (in_pipe[1] >= 0 && fds[2].revents) {
      ssize_t n = write(in_pipe[1], input.data() + written, input.size() - written);
      if (n > 0) written += n;
      if (n < 0 || written == input.size()) {
        close(in_pipe[1]);
        in_pipe[1] = -1;
      }
    }
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

Daemon::Daemon(const std::string& yaml_extra, const std::vector<std::string>& args)
    : queue_(UniqueQueueName()), args_(args) {
  state_dir_ = temp_.path() + "/state";
  config_path_ = temp_.path() + "/taskq.yaml";
  log_path_ = temp_.path() + "/taskqd.log";
  std::ofstream config(config_path_);
  config << BaseConfig(queue_, state_dir_, yaml_extra);
}

Daemon::~Daemon() {
  if (pid_ > 0) {
    if (Stop() < 0) Kill();
  }
  // This fixture's queue, even when a test left the config file broken or naming another queue.
  Options resolved;
  if (!Client::ResolveOptions({queue_, config_path_}, &resolved).ok()) {
    resolved.queue = queue_;
    resolved.state_dir = state_dir_;
    resolved = ResolveDefaults(resolved);
  }
  resolved.queue = queue_;
  resolved.state_dir = state_dir_;
  (void)Segment::Remove(resolved);
}

Options Daemon::options() const {
  Options resolved;
  (void)Client::ResolveOptions({queue_, config_path_}, &resolved);
  return resolved;
}

void Daemon::WriteConfig(const std::string& yaml_extra) {
  WriteRawConfig(BaseConfig(queue_, state_dir_, yaml_extra));
}

void Daemon::WriteRawConfig(const std::string& yaml) {
  const std::string temp = config_path_ + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << yaml;
  }
  std::rename(temp.c_str(), config_path_.c_str());
}

int Daemon::WaitExit(int timeout_ms) {
  if (pid_ <= 0) return -1;
  int status = 0;
  if (!WaitPid(pid_, &status, timeout_ms)) return -1;
  pid_ = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool Daemon::Signal(int signal) { return pid_ > 0 && kill(pid_, signal) == 0; }

int Daemon::CountInLog(const std::string& text) const {
  const std::string all = log();
  int n = 0;
  for (size_t at = all.find(text); at != std::string::npos; at = all.find(text, at + 1)) ++n;
  return n;
}

bool Daemon::WaitForLog(const std::string& text, int count, int timeout_ms) const {
  return WaitUntil([&] { return CountInLog(text) >= count; }, timeout_ms);
}

bool WaitUntil(const std::function<bool()>& condition, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool Daemon::Start() {
  std::vector<std::string> argv = {TaskqdPath(), "--config", config_path_};
  argv.insert(argv.end(), args_.begin(), args_.end());
  // systemd's variables of the test's own environment must not reach the daemon: it would
  // notify the test runner's service manager.
  std::map<std::string, std::string> extra = env_;
  std::vector<std::string> env;
  for (std::string& kv : Environment(extra)) {
    const std::string name = kv.substr(0, kv.find('='));
    const bool systemd_var =
        name == "NOTIFY_SOCKET" || name == "JOURNAL_STREAM" || name.rfind("WATCHDOG_", 0) == 0;
    if (systemd_var && env_.count(name) == 0) continue;
    env.push_back(std::move(kv));
  }
  std::vector<char*> cargv = CStrings(argv);
  std::vector<char*> cenv = CStrings(env);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  int rc = posix_spawn(&pid_, cargv[0], &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = 0;
    return false;
  }
  // Ready means: the segment exists, a supervisor holds it, and it says its workers are up.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return false;
    }
    std::unique_ptr<Segment> segment;
    if (Segment::Attach(options(), &segment).ok() && segment->SupervisorAlive() &&
        segment->header()->ready.load() != 0 && segment->header()->owner_pid.load() == pid_) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

int Daemon::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  if (!WaitPid(pid_, &status, 30000)) {
    Kill();
    return -1;
  }
  pid_ = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void Daemon::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = 0;
}

CommandResult Daemon::Taskq(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv = {TaskqPath(), "--config", config_path_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, input);
}

std::string Daemon::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string ReadmeBlock(const std::string& heading) {
  std::ifstream file(TASKQ_SOURCE_DIR "/README.md");
  const std::string readme((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
  const size_t section = readme.find(heading);
  if (section == std::string::npos) return "";
  const size_t open = readme.find("```sh\n", section);
  if (open == std::string::npos) return "";
  const size_t begin = open + 6;
  return readme.substr(begin, readme.find("```", begin) - begin);
}

CommandResult RunShellBlock(const std::string& block, const std::string& dir,
                            const std::string& config) {
  const std::string bin_dir = std::filesystem::path(TaskqPath()).parent_path().string();
  return RunCommand({"/bin/bash", "-c", "set -e\ncd '" + dir + "'\n" + block}, "",
                    {{"PATH", bin_dir + ":/usr/bin:/bin"}, {"TASKQ_CONFIG", config}});
}

std::string Describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "--- stderr:\n" +
         r.err;
}

}  // namespace taskq::testing
