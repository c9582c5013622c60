#include "worker/pilot_client.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdio>
#include <cstring>

#include "common/clock.h"
#include "common/spawn.h"
#include "daemon/slurm_commands.h"
#include "daemon/task_runner.h"
#include "fmt/format.h"

namespace taskq {
namespace {

constexpr auto kPumpInterval = std::chrono::milliseconds(100);
constexpr size_t kOutputChunk = 256 * 1024;
// Per stream and pump: up to 4 MiB (40 MB/s). Output waits in memory until sent, and what was
// sent is punched out of the memfd, so only a task writing faster than that grows the pilot.
constexpr int kChunksPerPump = 16;

// Everything in `fd` from its start (a memfd the task wrote).
std::string ReadAll(int fd) {
  std::string text;
  char buffer[64 * 1024];
  for (off_t at = 0;;) {
    const ssize_t n = ::pread(fd, buffer, sizeof(buffer), at);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
    at += n;
  }
  return text;
}

}  // namespace

PilotClient::PilotClient(PilotSettings settings)
    : settings_(std::move(settings)),
      signals_(io_, SIGCHLD, SIGTERM, SIGINT),
      heartbeat_(io_),
      pump_(io_) {}

bool PilotClient::Connect(std::string* why) {
  const size_t colon = settings_.address.rfind(':');
  if (colon == std::string::npos) {
    *why = "TASKQ_PILOT_ADDRESS is not HOST:PORT: " + settings_.address;
    return false;
  }
  std::string host = settings_.address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  boost::asio::ip::tcp::resolver resolver(io_);
  const auto endpoints = resolver.resolve(host, settings_.address.substr(colon + 1), ec);
  boost::asio::ip::tcp::socket socket(io_);
  if (!ec) boost::asio::connect(socket, endpoints, ec);
  if (ec) {
    *why = fmt::format("cannot connect to taskqd at {}: {}", settings_.address, ec.message());
    return false;
  }
  connection_ = std::make_shared<FrameConnection>(std::move(socket));
  return true;
}

int PilotClient::Run() {
  std::string why;
  if (!Connect(&why)) {
    std::fprintf(stderr, "taskq-worker: %s\n", why.c_str());
    return 3;
  }
  connection_->Start([this](Frame& frame) { OnFrame(frame); },
                     [this](const std::string& reason) {
                       Exit(stopping_ ? 0 : 3,
                            stopping_ ? "" : "lost the connection to taskqd: " + reason);
                     },
                     kMaxFrameBytes);
  connection_->Send(EncodeJsonFrame({{"type", "hello"},
                                     {"pilot", settings_.number},
                                     {"secret", settings_.secret},
                                     {"node", settings_.node}}));
  settings_.secret.assign(settings_.secret.size(), '0');
  idle_since_us_ = NowUs();
  ArmSignals();
  Pump();
  io_.run();
  return exit_code_;
}

// Slurm's scancel and walltime end send SIGTERM: the tasks die with the pilot, and taskqd, seeing
// the connection drop, requeues them.
void PilotClient::ArmSignals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    if (signal != SIGCHLD) {
      Exit(128 + signal, fmt::format("stopped by {}", SignalName(signal)));
      return;
    }
    Reap();
    ArmSignals();
  });
}

void PilotClient::OnFrame(Frame& frame) {
  if (frame.kind != 'J') return;
  const nlohmann::json& j = frame.json;
  const std::string type = j["type"].get<std::string>();
  if (type == "welcome") {
    if (j.contains("heartbeat_ms") && j["heartbeat_ms"].is_number_unsigned()) {
      heartbeat_ms_ = std::max<uint64_t>(100, j["heartbeat_ms"].get<uint64_t>());
    }
    if (j.contains("kill_grace_ms") && j["kill_grace_ms"].is_number_unsigned()) {
      kill_grace_ms_ = j["kill_grace_ms"].get<uint64_t>();
    }
    Beat();
  } else if (type == "lease" && j.contains("tasks") && j["tasks"].is_array()) {
    idle_sent_ = false;
    for (const auto& item : j["tasks"]) {
      PilotTask task;
      if (PilotTaskFromJson(item, &task)) StartTask(task);
    }
  } else if (type == "kill" && j.contains("id") && j["id"].is_number_unsigned()) {
    Kill(j["id"].get<uint64_t>());
  } else if (type == "stop") {
    stopping_ = true;
    if (running_.empty()) Exit(0, "");
  }
}

void PilotClient::StartTask(const PilotTask& task) {
  RunningTask running;
  running.task = task;
  running.out_fd = ::memfd_create(fmt::format("taskq-{}.out", task.id).c_str(), MFD_CLOEXEC);
  running.err_fd = ::memfd_create(fmt::format("taskq-{}.err", task.id).c_str(), MFD_CLOEXEC);
  SpawnRequest request;
  request.argv = task.argv;
  if (task.kind != "exec") request.argv.insert(request.argv.begin(), settings_.runner);
  request.env = task.env;
  request.cwd = task.cwd;
  request.stdout_fd = running.out_fd;
  request.stderr_fd = running.err_fd;
  const Status spawned =
      running.out_fd < 0 || running.err_fd < 0
          ? Status::Failed(fmt::format("cannot run '{}': memfd_create: {}",
                                       task.argv.empty() ? "" : task.argv[0], std::strerror(errno)))
          : Spawn(request, &running.pid);
  if (!spawned.ok()) {
    CloseOutput(running);
    TaskOutcome outcome;
    outcome.state = TaskState::kFailed;
    outcome.exit_code = 127;
    outcome.reason = spawned.message();
    connection_->Send(EncodeJsonFrame(OutcomeToJson(task.id, outcome)));
    return;
  }
  running_[running.pid] = std::move(running);
}

void PilotClient::Reap() {
  for (;;) {
    int status = 0;
    rusage usage{};
    const pid_t pid = ::wait4(-1, &status, WNOHANG, &usage);
    if (pid <= 0) break;
    auto it = running_.find(pid);
    if (it == running_.end()) continue;
    Finished(it->second, status, usage);
    running_.erase(it);
  }
  if (running_.empty()) {
    idle_since_us_ = NowUs();
    if (stopping_) Exit(0, "");
  }
}

void PilotClient::Finished(RunningTask& running, int wait_status, const rusage& usage) {
  TaskOutcome outcome;
  if (running.task.kind == "exec") {
    SendOutput(running, true);
    outcome = OutcomeFromWaitStatus(wait_status, usage);
  } else {
    SendOutput(running, true);  // stderr only reaches taskqd's log of exec tasks
    if (!ParseRunnerResult(ReadAll(running.out_fd), &outcome)) {
      outcome.state = TaskState::kFailed;
      outcome.reason = "taskq-run printed no result";
    }
    if (WIFEXITED(wait_status)) outcome.exit_code = WEXITSTATUS(wait_status);
    if (WIFEXITED(wait_status) && outcome.exit_code != 0 &&
        outcome.state == TaskState::kSucceeded) {
      outcome.state = TaskState::kFailed;
    }
    if (WIFSIGNALED(wait_status)) {
      outcome.state = TaskState::kLost;
      outcome.exit_code = -1;
      outcome.signal = WTERMSIG(wait_status);
      outcome.reason = fmt::format("killed by {}", SignalName(outcome.signal));
    }
  }
  outcome.finished_at_us = 0;
  connection_->Send(EncodeJsonFrame(OutcomeToJson(running.task.id, outcome)));
  CloseOutput(running);
}

void PilotClient::CloseOutput(RunningTask& running) {
  if (running.out_fd >= 0) ::close(running.out_fd);
  if (running.err_fd >= 0) ::close(running.err_fd);
  running.out_fd = running.err_fd = -1;
}

// New bytes of a running exec task's stdout/stderr, as output frames.
void PilotClient::SendOutput(RunningTask& running, bool all) {
  struct Stream {
    int fd;
    off_t* sent;
    char kind;
  };
  const bool exec = running.task.kind == "exec";
  for (Stream s : {Stream{running.out_fd, &running.out_sent, 'O'},
                   Stream{running.err_fd, &running.err_sent, 'E'}}) {
    if (!exec && s.kind == 'O') continue;  // taskq-run's result line, not output
    struct stat written {};
    if (s.fd < 0 || ::fstat(s.fd, &written) != 0 || written.st_size <= *s.sent) continue;
    std::string chunk(kOutputChunk, '\0');
    for (int chunks = 0; all || chunks < kChunksPerPump; ++chunks) {
      const ssize_t n = ::pread(s.fd, chunk.data(), chunk.size(), *s.sent);
      if (n <= 0) break;
      connection_->Send(EncodeOutputFrame(s.kind, running.task.id,
                                          std::string_view(chunk.data(), static_cast<size_t>(n))));
      // Sent: its memory goes back (a hole; the offsets stay).
      (void)::fallocate(s.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, *s.sent, n);
      *s.sent += n;
    }
  }
}

void PilotClient::Beat() {
  heartbeat_.expires_after(std::chrono::milliseconds(heartbeat_ms_));
  heartbeat_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    connection_->Send(EncodeJsonFrame({{"type", "heartbeat"}}));
    if (running_.empty() && !idle_sent_ && !stopping_ &&
        NowUs() - idle_since_us_ >= settings_.idle_timeout_ms * 1000) {
      idle_sent_ = true;  // taskqd answers `stop`, or a lease if work came meanwhile
      connection_->Send(EncodeJsonFrame({{"type", "idle"}}));
    }
    Beat();
  });
}

void PilotClient::Pump() {
  pump_.expires_after(kPumpInterval);
  pump_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    for (auto& [pid, running] : running_) SendOutput(running, false);
    Pump();
  });
}

void PilotClient::Kill(uint64_t id) {
  for (auto& [pid, running] : running_) {
    if (running.task.id != id) continue;
    ::kill(-pid, SIGTERM);
    auto timer =
        std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(kill_grace_ms_));
    const pid_t group = pid;
    timer->async_wait([this, timer, group](const boost::system::error_code& ec) {
      if (!ec && running_.count(group) != 0) ::kill(-group, SIGKILL);
    });
    return;
  }
}

void PilotClient::Exit(int code, const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "taskq-worker: %s\n", why.c_str());
  for (auto& [pid, running] : running_) ::kill(-pid, SIGKILL);
  for (auto& [pid, running] : running_) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CloseOutput(running);
  }
  running_.clear();
  exit_code_ = code;
  if (connection_) connection_->Close();
  io_.stop();
}

}  // namespace taskq
