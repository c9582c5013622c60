// What the tests share (ninja's test.h): a private temp directory and queue name per test, a real
// taskqd started and stopped around a test, and running the real taskq binary.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "config/options.h"

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
  pid_t pid_ = 0;
};

// Parses one JSON object from text (the first line), or fails the test.
std::string FirstLine(const std::string& text);

}  // namespace taskq::testing
