// Supervisor is taskqd's main process: one Boost.Asio loop that owns the segment, the doorbell,
// every child process (it alone reaps them), the timers, and the executor of the current policy.
// Signals: SIGCHLD reaps, SIGTERM/SIGINT drain and exit, SIGHUP reloads the configuration.
#pragma once

#include <memory>
#include <string>

#include "common/options.h"
#include "common/status.h"

namespace taskq {

// Settings given on taskqd's command line; they win over the file, also after a reload.
struct CommandLineOverrides {
  std::string queue;
  std::string policy;
  int64_t workers = -1;
  int64_t max_parallel = -1;
  std::string log_level;
  std::string state_dir;
  std::string user;
  bool keep_running = false;  // --keep-running: sets keep_running (never clears the file's)
};

// Loads the configuration (file or built-in default), applies the overrides and resolves the
// machine-dependent defaults. `config_path` "" means the built-in default configuration.
Status LoadEffectiveOptions(const std::string& config_path, const CommandLineOverrides& overrides,
                            Options* resolved);

class Supervisor {
 public:
  Supervisor(std::string config_path, CommandLineOverrides overrides, Options resolved);
  ~Supervisor();
  // Runs until shutdown; returns the process exit code.
  int Run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace taskq
