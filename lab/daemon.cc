// The lab's private daemons: a real taskqd on its own queue, configuration and state directory,
// started, waited for (segment header: ready, owner_pid = ours) and stopped and purged, so that
// nothing is left in /dev/shm or /tmp.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "client/client.h"
#include "common/segment.h"
#include "fmt/format.h"
#include "lab/lab.h"

extern char** environ;

namespace taskq::lab {
namespace {

std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted.store(true); }

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string SelfDir() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : self.parent_path().string();
}

}  // namespace

bool Interrupted() { return g_interrupted.load(); }

void InstallInterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

Status FindTaskqd(const std::string& given, std::string* path) {
  if (!given.empty()) {
    if (access(given.c_str(), X_OK) != 0) {
      return Status::Invalid(fmt::format("--taskqd: {} is not an executable", given));
    }
    *path = given;
    return Status::Ok();
  }
  const std::string dir = SelfDir();
  for (const std::string& candidate :
       {dir + "/../daemon/taskqd", dir + "/taskqd", dir + "/../sbin/taskqd"}) {
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) {
      *path = std::filesystem::weakly_canonical(candidate).string();
      return Status::Ok();
    }
  }
  return Status::Unavailable(
      fmt::format("cannot find taskqd next to {} (tried ../daemon/taskqd and the same "
                  "directory): give --taskqd PATH",
                  dir.empty() ? "taskq" : dir));
}

LabDaemon::~LabDaemon() { Stop(); }

Status LabDaemon::Start(const std::string& taskqd, Policy policy, uint32_t workers,
                        uint32_t capacity, double* startup_s) {
  static std::atomic<int> counter{0};
  char pattern[] = "/tmp/taskq-bench-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return Status::Failed("cannot create a temp directory");
  dir_ = pattern;
  queue_ = fmt::format("bench-{}-{}", getpid(), counter++);
  config_path_ = dir_ + "/taskq.yaml";
  {
    std::ofstream config(config_path_);
    config << "queue: " << queue_ << "\nstate_dir: " << dir_ << "/state\n"
           << "capacity: " << capacity << "\nlog_level: warn\n"
           << "policy: " << PolicyName(policy) << "\n";
    // As root the lab's daemon stays root on purpose (it runs only the lab's own tasks).
    if (geteuid() == 0) config << "user: root\n";
    if (policy == Policy::kPool) {
      config << "workers: " << std::max(1u, workers) << "\n";
    } else {
      config << "max_parallel: " << workers << "\n";
    }
  }
  std::vector<std::string> args = {taskqd, "--config", config_path_};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = dir_ + "/taskqd.log";
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  const auto t0 = std::chrono::steady_clock::now();
  int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = 0;
    Stop();
    return Status::Failed(fmt::format("cannot start {}: {}", taskqd, std::strerror(rc)));
  }
  Options resolved;
  TASKQ_RETURN_IF_ERROR(Client::ResolveOptions({queue_, config_path_}, &resolved));
  while (SecondsSince(t0) < 30 && !Interrupted()) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      std::string tail = LogTail();
      Stop();
      return Status::Failed("taskqd exited during start-up: " + tail);
    }
    std::unique_ptr<Segment> segment;
    if (Segment::Attach(resolved, &segment).ok() && segment->SupervisorAlive() &&
        segment->header()->ready.load() != 0 && segment->header()->owner_pid.load() == pid_) {
      *startup_s = SecondsSince(t0);
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  std::string tail = LogTail();
  Stop();
  return Status::Unavailable("taskqd did not become ready: " + tail);
}

void LabDaemon::Stop(rusage* usage) {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    rusage ru{};
    const auto t0 = std::chrono::steady_clock::now();
    pid_t r = 0;
    while ((r = wait4(pid_, &status, WNOHANG, &ru)) == 0 && SecondsSince(t0) < 30) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (r == 0) {
      kill(pid_, SIGKILL);
      wait4(pid_, &status, 0, &ru);
    }
    if (usage != nullptr) *usage = ru;
    pid_ = 0;
  }
  if (!queue_.empty()) {
    Options resolved;
    if (Client::ResolveOptions({queue_, config_path_}, &resolved).ok()) {
      (void)Segment::Remove(resolved);
    }
    queue_.clear();
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

std::string LabDaemon::LogTail() const {
  std::ifstream in(dir_ + "/taskqd.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > 400) text = text.substr(text.size() - 400);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  for (char& c : text) c = c == '\n' ? ' ' : c;
  return text.empty() ? "(no log output)" : text;
}

}  // namespace taskq::lab
