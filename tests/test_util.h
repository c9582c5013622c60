// What the tests share (ninja's test.h): a private temp directory and queue name per test, a real
// taskqd started and stopped around a test, and running the real taskq binary.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/options.h"

namespace taskq::testing {

// A directory under /tmp removed (recursively) at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A queue name no other test (or test run) uses.
std::string UniqueQueueName();

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

// Runs `argv` to completion with optional stdin text and extra environment.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "",
                         const std::map<std::string, std::string>& env = {});

// A command's exit code, stdout and stderr, for a failed assertion's message.
std::string Describe(const CommandResult& r);

std::string TaskqdPath();
std::string TaskqPath();

// A real taskqd on its own queue and state directory, with a YAML config written from
// `yaml_extra` on top of the queue and state_dir lines. Stops the daemon and purges the queue
// (segment and state directory) at destruction: nothing is left in /dev/shm.
class Daemon {
 public:
  explicit Daemon(const std::string& yaml_extra = "", const std::vector<std::string>& args = {});
  ~Daemon();
  Daemon(const Daemon&) = delete;

  // Starts taskqd and waits until it is ready. Returns false (with the log) if it did not come up.
  bool Start();
  // SIGTERM and wait for exit; returns the exit code.
  int Stop();
  // SIGKILL (a crash) and reap.
  void Kill();
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Runs `taskq --config <ours> args...`.
  CommandResult Taskq(const std::vector<std::string>& args, const std::string& input = "");

  // Extra environment for the daemon started by Start() (e.g. NOTIFY_SOCKET). Without it the
  // daemon gets no NOTIFY_SOCKET, WATCHDOG_* or JOURNAL_STREAM of the test's own environment.
  void SetEnv(const std::string& name, const std::string& value) { env_[name] = value; }
  // Rewrites the config file (atomically: a SIGHUP never reads half of it) with the queue,
  // state_dir and log_level lines and then `yaml_extra`, as the constructor does.
  void WriteConfig(const std::string& yaml_extra);
  // Replaces the config file with exactly `yaml` (atomically).
  void WriteRawConfig(const std::string& yaml);
  // Waits for the daemon to exit by itself (after a signal sent with Signal()); returns its exit
  // code, or -1 when it still runs after `timeout_ms`.
  int WaitExit(int timeout_ms = 60000);
  // Sends `signal` to the running daemon; false when it does not run.
  bool Signal(int signal);
  // Waits until the log contains `text` at least `count` times; false after `timeout_ms`.
  bool WaitForLog(const std::string& text, int count = 1, int timeout_ms = 60000) const;
  // How often `text` occurs in the log now.
  int CountInLog(const std::string& text) const;
  const std::string& log_path() const { return log_path_; }

  const std::string& queue() const { return queue_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& state_dir() const { return state_dir_; }
  const std::string& dir() const { return temp_.path(); }
  std::string log() const;
  Options options() const;  // as a client resolves them

 private:
  TempDir temp_;
  std::string queue_;
  std::string config_path_;
  std::string state_dir_;
  std::string log_path_;
  std::vector<std::string> args_;
  std::map<std::string, std::string> env_;
  pid_t pid_ = 0;
};

// Polls `condition` (every few ms) until it is true; false after `timeout_ms`. Tests wait for
// states this way, never for a fixed time.
bool WaitUntil(const std::function<bool()>& condition, int timeout_ms = 60000);

// Parses one JSON object from text (the first line), or fails the test.
std::string FirstLine(const std::string& text);

// The first ```sh block after the heading `heading` in README.md ("" when there is none): the
// tests run README's commands verbatim.
std::string ReadmeBlock(const std::string& heading);

// Runs `block` with bash (set -e) in `dir`, with the built taskq first on PATH and TASKQ_CONFIG
// naming `config`.
CommandResult RunShellBlock(const std::string& block, const std::string& dir,
                            const std::string& config);

}  // namespace taskq::testing
