// taskqd: the supervisor. Its pool workers and per-task runners are forks of it
// (daemon/fork_child.h).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "config/load.h"
#include "daemon/logging.h"
#include "daemon/privileges.h"
#include "daemon/supervisor.h"

namespace {

int Fail(const taskq::Status& status) {
  std::fprintf(stderr, "taskqd: %s\n", status.message().c_str());
  return status.exit_code() == 0 ? 1 : status.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "taskqd: the taskq supervisor. Keeps a FIFO queue in shared memory and runs its tasks under "
      "the `pool`, `process` or `slurm` policy. Runs in the foreground; SIGTERM/SIGINT drain and "
      "exit, SIGHUP reloads the configuration.",
      "taskqd"};
  app.footer(
      "Configuration: built-in defaults, then the file (--config or $TASKQ_CONFIG), then the\n"
      "options above. Every key is documented in the shipped taskq.yaml.\n"
      "\n"
      "Signals:\n"
      "  SIGTERM, SIGINT  stop taking tasks; running tasks get `shutdown_grace`, then their\n"
      "                   process groups are killed and they are marked; queued tasks stay\n"
      "                   queued for the next start. A second signal kills at once.\n"
      "  SIGHUP           reload the file: policy, workers and limits change live (surplus\n"
      "                   workers finish their task first); an invalid file is logged and the\n"
      "                   running configuration stays; queue, storage, state_dir, capacity,\n"
      "                   mode, group, user, io_root and metrics_listen are only read at\n"
      "                   start.\n"
      "\n"
      "Environment:\n"
      "  TASKQ_CONFIG     configuration file when --config is not given\n"
      "  TASKQ_QUEUE      queue name when --queue is not given\n"
      "  NOTIFY_SOCKET    systemd Type=notify: READY=1 once the workers are up, STATUS=,\n"
      "                   RELOADING=1 / READY=1 around a reload, STOPPING=1 at shutdown\n"
      "  WATCHDOG_USEC    systemd WatchdogSec=: WATCHDOG=1 every half interval\n"
      "  JOURNAL_STREAM   stderr is the journal: log lines get <N> priorities, no timestamps\n"
      "\n"
      "Exit codes:\n"
      "  0  stopped cleanly, or --check-config/--print-config succeeded\n"
      "  2  invalid configuration or command line (the message names file:line:column)\n"
      "     (also: started as root without `user` configured; see --user)\n"
      "  3  the queue is unavailable (another taskqd serves it, or the segment cannot be used)\n"
      "\n"
      "Examples:\n"
      "  taskqd --config /etc/taskq/taskq.yaml\n"
      "  taskqd --check-config /etc/taskq/taskq.yaml\n"
      "  taskqd --config /etc/taskq/taskq.yaml --print-config\n"
      "  taskqd --queue build --policy process --max-parallel 8");
  app.set_version_flag("--version", "taskqd " TASKQ_VERSION);
  std::string config_path;
  std::string check_config;
  bool print_config = false;
  taskq::CommandLineOverrides overrides;
  app.add_option("-c,--config", config_path,
                 "YAML configuration file (default: built-in defaults; see taskq.yaml)")
      ->envname("TASKQ_CONFIG");
  app.add_option("-q,--queue", overrides.queue, "queue name (default: taskq-<uid>)")
      ->envname("TASKQ_QUEUE");
  app.add_option("--policy", overrides.policy, "execution policy: pool | process | slurm")
      ->check(CLI::IsMember({"pool", "process", "slurm"}));
  app.add_option("--workers", overrides.workers, "pool size (0 = one per CPU)")
      ->check(CLI::Range(0, 256));
  app.add_option("--max-parallel", overrides.max_parallel,
                 "process policy: tasks at once (0 = unbounded)")
      ->check(CLI::Range(0, 100000));
  app.add_option("--state-dir", overrides.state_dir, "state directory (logs, io files, doorbell)");
  app.add_option("--log-level", overrides.log_level, "trace | debug | info | warn | error | off");
  app.add_option("--user", overrides.user,
                 "user to run as (root must name one; `root` keeps root on purpose)");
  app.add_flag("--keep-running", overrides.keep_running,
               "on SIGTERM, leave running exec tasks to their runners: they finish and record "
               "their results, and the next taskqd adopts them (sets keep_running)");
  app.add_option("--check-config", check_config,
                 "validate a configuration file and exit: 0 valid, 2 invalid with one line "
                 "FILE:LINE:COLUMN: KEY: problem");
  app.add_flag("--print-config", print_config,
               "print the effective configuration (file, options, resolved defaults) as YAML "
               "and exit; --check-config accepts the output");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "taskqd: %s; see taskqd --help\n", taskq::EscapeControl(e.what()).c_str());
    return 2;
  }

  if (!check_config.empty()) {
    // The same checks as a start with this file, the command-line overrides included. The
    // message already starts with FILE:LINE:COLUMN, like a compiler's, so editors can jump there.
    taskq::Options resolved;
    taskq::Status loaded = taskq::LoadEffectiveOptions(check_config, overrides, &resolved);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.message().c_str());
      return loaded.exit_code() == 0 ? 2 : loaded.exit_code();
    }
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
  // Who to run as is settled before anything is created, and the defaults that depend on the
  // uid (queue name, state directory) are resolved again for the new user.
  bool switched = false;
  taskq::Status user = taskq::SwitchUser(resolved, &switched);
  if (!user.ok()) return Fail(user);
  if (switched) {
    loaded = taskq::LoadEffectiveOptions(config_path, overrides, &resolved);
    if (!loaded.ok()) return Fail(loaded);
  }
  if (resolved.run_as == "submitter" && ::geteuid() != 0) {
    // Switching to each submitter needs root; a daemon that cannot must not run their tasks as
    // itself instead.
    return Fail(taskq::Status::Invalid(
        "run_as: submitter needs taskqd to stay root (`user: root`); or set `run_as: daemon`"));
  }
  taskq::Status logging = taskq::SetUpLogging(resolved.log_level, "taskqd");
  if (!logging.ok()) return Fail(logging);
  taskq::Supervisor supervisor(config_path, overrides, resolved);
  return supervisor.Run();
}
