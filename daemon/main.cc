// taskqd: the supervisor, and (started by it) the pool workers and per-task runners.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "config/load.h"
#include "daemon/logging.h"
#include "daemon/supervisor.h"
#include "daemon/worker.h"

namespace {

// "SLOT:ID" of --run-task.
bool ParseSlotAndId(const std::string& text, uint32_t* slot, uint64_t* id) {
  unsigned long long s = 0, i = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%llu:%llu%c", &s, &i, &tail) != 2) return false;
  *slot = static_cast<uint32_t>(s);
  *id = i;
  return true;
}

int Fail(const taskq::Status& status) {
  std::fprintf(stderr, "taskqd: %s\n", status.message().c_str());
  return status.exit_code() == 0 ? 1 : status.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "taskqd: the taskq supervisor. Keeps a FIFO queue in shared memory and runs its tasks under "
      "the `pool` or `process` policy. Runs in the foreground; SIGTERM/SIGINT drain and exit, "
      "SIGHUP reloads the configuration.",
      "taskqd"};
  std::string config_path;
  std::string check_config;
  bool print_config = false;
  taskq::CommandLineOverrides overrides;
  app.add_option("-c,--config", config_path,
                 "YAML configuration file (default: built-in defaults; see taskq.yaml)")
      ->envname("TASKQ_CONFIG");
  app.add_option("-q,--queue", overrides.queue, "queue name (default: taskq-<uid>)")
      ->envname("TASKQ_QUEUE");
  app.add_option("--policy", overrides.policy, "execution policy: pool | process")
      ->check(CLI::IsMember({"pool", "process"}));
  app.add_option("--workers", overrides.workers, "pool size (0 = one per CPU)")
      ->check(CLI::Range(0, 256));
  app.add_option("--max-parallel", overrides.max_parallel,
                 "process policy: tasks at once (0 = unbounded)")
      ->check(CLI::Range(0, 100000));
  app.add_option("--state-dir", overrides.state_dir, "state directory (logs, io files, doorbell)");
  app.add_option("--log-level", overrides.log_level, "trace | debug | info | warn | error | off");
  app.add_option("--check-config", check_config,
                 "validate a configuration file and exit (0 valid, 2 invalid)");
  app.add_flag("--print-config", print_config,
               "print the effective configuration as YAML and exit");
  // Internal modes, used by the supervisor for its own runner processes.
  int64_t worker_row = -1;
  std::string run_task;
  int64_t supervisor_pid = 0;
  app.add_option("--worker", worker_row, "internal: run as pool worker in this row")
      ->group("");
  app.add_option("--run-task", run_task, "internal: run one claimed task SLOT:ID")->group("");
  app.add_option("--supervisor-pid", supervisor_pid, "internal")->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "taskqd: %s; see taskqd --help\n", e.what());
    return 2;
  }

  if (!check_config.empty()) {
    taskq::Options options;
    taskq::Status loaded = taskq::LoadOptionsFromFile(check_config, &options);
    if (!loaded.ok()) return Fail(loaded);
    std::printf("%s: valid\n", check_config.c_str());
    return 0;
  }
  taskq::Options resolved;
  taskq::Status loaded = taskq::LoadEffectiveOptions(config_path, overrides, &resolved);
  if (!loaded.ok()) return Fail(loaded);
  if (print_config) {
    std::cout << taskq::OptionsToYaml(resolved);
    return 0;
  }
  if (worker_row >= 0) {
    return taskq::WorkerMain(resolved, static_cast<uint32_t>(worker_row),
                             static_cast<pid_t>(supervisor_pid));
  }
  if (!run_task.empty()) {
    uint32_t slot = 0;
    uint64_t id = 0;
    if (!ParseSlotAndId(run_task, &slot, &id)) {
      return Fail(taskq::Status::Invalid("--run-task: expected SLOT:ID"));
    }
    return taskq::RunTaskMain(resolved, slot, id, static_cast<pid_t>(supervisor_pid));
  }
  taskq::Status logging = taskq::SetUpLogging(resolved.log_level, "taskqd");
  if (!logging.ok()) return Fail(logging);
  taskq::Supervisor supervisor(config_path, overrides, resolved);
  return supervisor.Run();
}
