// taskq: the client command line. Each subcommand is wired to one Run* function (client/cli.h).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "client/cli.h"

int main(int argc, char** argv) {
  using namespace taskq::cli;
  using taskq::AddFilterOptions;
  using taskq::TaskFilter;
  CLI::App app{
      "taskq: submit tasks to a taskqd queue, wait for them and read their results.\n"
      "Exit codes: 0 ok, 1 a waited task did not succeed, 2 usage or bad input, 3 no daemon or "
      "segment, 4 queue full, 5 wait timed out.",
      "taskq"};
  app.require_subcommand(1, 1);
  app.set_version_flag("--version", "taskq " TASKQ_VERSION);
  GlobalArgs global;
  app.add_option("-q,--queue", global.queue,
                 "queue name (default: $TASKQ_QUEUE, the config's, "
                 "or taskq-<uid>)");
  app.add_option("-c,--config", global.config,
                 "configuration file (default: $TASKQ_CONFIG or /etc/taskq/taskq.yaml)");
  app.add_flag("--json", global.json,
               "machine-readable output: one JSON object for one result, an array for several");
  app.add_flag("--jsonl", global.jsonl,
               "machine-readable output as a stream: one JSON object per line, as results come");
  // Global flags may also follow the command (`taskq stats --json`): every subcommand created
  // below inherits fallthrough and hands options it does not know to this parser.
  app.fallthrough();

  // Task ids are positive integers. Without this check CLI11 wraps "-1" into 2^64-1 and the
  // error then names a task nobody asked for.
  const CLI::Validator task_id(
      [](std::string& text) {
        return text.find_first_not_of("0123456789") == std::string::npos &&
                       text.find_first_not_of('0') != std::string::npos
                   ? std::string()
                   : "task ids are positive integers, got '" + text + "'";
      },
      "ID");

  SubmitCommand submit;
  CLI::App* submit_cmd =
      app.add_subcommand("submit", "submit a task: submit cpu|io|exec [options]");
  submit_cmd->fallthrough();
  submit_cmd->add_flag("--wait", submit.wait, "wait for the task(s); exit 0 only if all succeeded");
  submit_cmd->add_flag("--block", submit.block,
                       "on a full queue wait for space (bounded by --timeout) instead of exit 4");
  submit_cmd->add_flag("--sync", submit.sync,
                       "print the id(s) only once the task(s) are on stable storage (the queue "
                       "needs `durability: flush` or `sync`)");
  submit_cmd->add_flag("--hold", submit.hold,
                       "submit held: the task(s) run only after `taskq release ID`");
  submit_cmd->add_option("--batch", submit.batch,
                         "submit one task per line of FILE (- = stdin), same syntax as the "
                         "command line, e.g. `cpu --count 1000`; prints one id per line");
  submit_cmd
      ->add_option("--label", submit.labels,
                   "a label KEY=VALUE on every task submitted (repeatable)")
      ->allow_extra_args(false);
  submit_cmd->add_option("--unique", submit.unique,
                         "submit only if no queued or running task has KEY; else print its id "
                         "(JSON: \"existing\": true)");
  submit_cmd->add_option("--array", submit.array,
                         "one task per index FIRST-LAST[:STEP] (e.g. 1-1000): {} in the command "
                         "(or io --path) becomes the index, TASKQ_ARRAY_INDEX holds it");
  submit_cmd->add_option("--each-line", submit.each_line,
                         "one task per line of FILE (- = stdin): {} in the command becomes the "
                         "line, TASKQ_ARRAY_INDEX its number from 0, TASKQ_ARRAY_ITEM the line");
  AddKindSubcommands(submit_cmd, &submit.args);

  uint64_t status_id = 0;
  CLI::App* status_cmd = app.add_subcommand("status", "show one task");
  status_cmd->add_option("id", status_id, "task id")->required()->check(task_id);

  std::vector<uint64_t> wait_ids;
  bool wait_all = false;
  bool wait_quiet = false;
  double wait_timeout = -1;
  CLI::App* wait_cmd = app.add_subcommand("wait", "wait for tasks; exit 0 only if all succeeded");
  wait_cmd->add_option("ids", wait_ids, "task ids")->check(task_id);
  wait_cmd->add_flag("--all", wait_all, "every task queued or running now");
  wait_cmd->add_option("--timeout", wait_timeout, "give up after SEC seconds (exit 5)")
      ->check(CLI::Range(0.0, 1e9));
  wait_cmd->add_flag("--quiet", wait_quiet, "print nothing, only the exit code tells");
  TaskFilter wait_filter;
  AddFilterOptions(wait_cmd, &wait_filter);

  TaskFilter list_filter;
  int64_t list_limit = -1;
  CLI::App* list_cmd = app.add_subcommand("list", "list tasks, oldest first");
  AddFilterOptions(list_cmd, &list_filter);
  list_cmd->add_option("--limit", list_limit, "only the N newest")->check(CLI::Range(0, 1 << 30));
  bool list_utc = false;
  list_cmd->add_flag("--utc", list_utc, "times in UTC instead of local time");

  std::vector<uint64_t> cancel_ids;
  CLI::App* cancel_cmd = app.add_subcommand("cancel", "cancel queued tasks");
  cancel_cmd->add_option("ids", cancel_ids, "task ids")->check(task_id);
  TaskFilter cancel_filter;
  AddFilterOptions(cancel_cmd, &cancel_filter);

  std::vector<uint64_t> kill_ids;
  std::string kill_signal;
  CLI::App* kill_cmd = app.add_subcommand(
      "kill", "stop running tasks: SIGTERM to the task's process group, SIGKILL after kill_grace");
  kill_cmd->add_option("ids", kill_ids, "task ids")->check(task_id);
  TaskFilter kill_filter;
  AddFilterOptions(kill_cmd, &kill_filter);
  kill_cmd->add_option("--signal", kill_signal,
                       "send this signal instead, once: TERM, INT, HUP, QUIT, KILL, USR1, USR2 "
                       "or ALRM");

  std::vector<uint64_t> hold_ids;
  CLI::App* hold_cmd =
      app.add_subcommand("hold", "keep queued tasks back until `taskq release` (submit --hold)");
  hold_cmd->add_option("ids", hold_ids, "task ids")->required()->check(task_id);
  std::vector<uint64_t> release_ids;
  CLI::App* release_cmd = app.add_subcommand("release", "let held tasks run");
  release_cmd->add_option("ids", release_ids, "task ids")->required()->check(task_id);

  std::vector<uint64_t> restart_ids;
  CLI::App* restart_cmd = app.add_subcommand(
      "restart", "run finished tasks again as new attempts of the same ids (--failed: the failed)");
  restart_cmd->add_option("ids", restart_ids, "task ids")->check(task_id);
  TaskFilter restart_filter;
  AddFilterOptions(restart_cmd, &restart_filter);

  std::vector<uint64_t> pause_ids;
  CLI::App* pause_cmd = app.add_subcommand(
      "pause", "stop running tasks until `taskq resume` (SIGSTOP; paused time is not run time)");
  pause_cmd->add_option("ids", pause_ids, "task ids")->required()->check(task_id);
  std::vector<uint64_t> resume_ids;
  CLI::App* resume_cmd = app.add_subcommand("resume", "let paused tasks go on (SIGCONT)");
  resume_cmd->add_option("ids", resume_ids, "task ids")->required()->check(task_id);

  uint64_t logs_id = 0;
  bool logs_stderr = false;
  CLI::App* logs_cmd = app.add_subcommand("logs", "print an exec task's captured output");
  logs_cmd->add_option("id", logs_id, "task id")->required()->check(task_id);
  logs_cmd->add_flag("--stderr", logs_stderr, "standard error instead of standard output");
  uint32_t logs_attempt = 0;
  logs_cmd
      ->add_option("--attempt", logs_attempt,
                   "that attempt's output (1 = the first; default: the latest)")
      ->check(CLI::Range(1u, 1000000u));
  bool logs_follow = false;
  logs_cmd->add_flag("-f,--follow", logs_follow, "keep printing while the task runs");

  double top_interval = 1.0;
  int top_iterations = 0;
  CLI::App* top_cmd = app.add_subcommand(
      "top", "live view of workers, running tasks and counts (from the segment)");
  top_cmd->add_option("--interval", top_interval, "seconds between refreshes")
      ->check(CLI::Range(0.05, 3600.0));
  top_cmd->add_option("-n,--iterations", top_iterations, "refresh N times and exit (0 = forever)")
      ->check(CLI::Range(0, 1 << 30));

  CLI::App* stats_cmd = app.add_subcommand("stats", "counts per state, workers, throughput");

  std::string metrics_output;
  CLI::App* metrics_cmd = app.add_subcommand(
      "metrics", "the queue's metrics in the Prometheus text format (docs/METRICS.md)");
  metrics_cmd->add_option("-o,--output", metrics_output,
                          "write FILE (replaced atomically: for node_exporter's textfile "
                          "collector) instead of standard output");

  double ping_timeout = 2.0;
  CLI::App* ping_cmd =
      app.add_subcommand("ping", "check that the daemon answers (exit 0) or not (3)");
  ping_cmd->add_option("--timeout", ping_timeout, "seconds to wait for the answer");

  bool shutdown_no_wait = false;
  bool shutdown_purge = false;
  double shutdown_timeout = -1;
  CLI::App* shutdown_cmd = app.add_subcommand("shutdown", "ask the daemon to drain and exit");
  shutdown_cmd->add_flag("--no-wait", shutdown_no_wait, "return at once, do not wait for exit");
  shutdown_cmd->add_option("--timeout", shutdown_timeout,
                           "stop waiting after SEC seconds (exit 5)");
  shutdown_cmd->add_flag("--purge", shutdown_purge,
                         "then remove the queue's segment and state directory");

  CLI::App* reload_cmd = app.add_subcommand(
      "reload", "ask the daemon to re-read its configuration (like SIGHUP; for admins)");
  CLI::App* purge_cmd = app.add_subcommand(
      "purge", "remove a stopped queue's segment and state directory (all its tasks)");

  std::shared_ptr<BenchArgs> bench;
  CLI::App* bench_cmd = AddBenchCommand(&app, &bench);

  GroupCommand group;
  CLI::App* group_cmd =
      app.add_subcommand("group", "groups: each a FIFO with its own policy and parallelism");
  group_cmd->require_subcommand(1, 1);
  CLI::App* group_add = group_cmd->add_subcommand("add", "add a group");
  group_add->add_option("name", group.name, "group name")->required();
  group_add->add_option("--policy", group.policy, "pool | process (default pool)")
      ->check(CLI::IsMember({"pool", "process"}));
  group_add->add_option("--workers", group.workers, "pool: worker processes (0 = one per CPU)")
      ->check(CLI::Range(0, 256));
  group_add
      ->add_option("--max-parallel", group.max_parallel, "process: tasks at once (0 = unbounded)")
      ->check(CLI::Range(0, 100000));
  CLI::App* group_list = group_cmd->add_subcommand("list", "list groups with their counts");
  CLI::App* group_remove = group_cmd->add_subcommand(
      "remove", "remove a group (it must have no queued or running tasks)");
  group_remove->add_option("name", group.name, "group name")->required();
  CLI::App* group_pause =
      group_cmd->add_subcommand("pause", "start no more tasks of the group (running ones go on)");
  group_pause->add_option("name", group.name, "group name")->required();
  CLI::App* group_resume = group_cmd->add_subcommand("resume", "start the group's tasks again");
  group_resume->add_option("name", group.name, "group name")->required();
  for (CLI::App* sub : {group_add, group_list, group_remove, group_pause, group_resume}) {
    sub->fallthrough();
    sub->callback([&group, sub] { group.action = sub->get_name(); });
  }
  group_cmd->fallthrough();

  bool doctor_repair = false;
  CLI::App* doctor_cmd = app.add_subcommand("doctor", "check the segment's invariants");
  doctor_cmd->add_flag("--repair", doctor_repair, "fix what can be fixed");

  // What follows "--" is an exec task's command, never taskq's options (`-C`, `-c`): CLI11 sees
  // only what comes before it.
  std::vector<std::string> words(argv + 1, argv + argc);
  const bool had_dash = std::find(words.begin(), words.end(), "--") != words.end();
  std::vector<std::string> command = taskq::TakeCommandAfterDoubleDash(&words);
  std::vector<std::string> reversed(words.rbegin(), words.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::string message = e.what();
    // An unknown command leaves CLI11 saying only that a subcommand is required: name it.
    if (app.get_subcommands().empty() && !app.remaining().empty()) {
      const std::string word = app.remaining().front();
      message = (word.starts_with("-") ? "unknown option '" : "unknown command '") + word + "'";
    }
    std::fprintf(stderr, "taskq: %s; see taskq --help\n", taskq::EscapeControl(message).c_str());
    return 2;
  }
  if (global.jsonl) global.json = true;  // the same JSON, one object per line
  if (had_dash && !(submit_cmd->parsed() && submit.args.kind == "exec")) {
    std::fprintf(stderr, "taskq: only `submit exec` takes a command after --; see taskq --help\n");
    return 2;
  }
  submit.args.command.insert(submit.args.command.end(), command.begin(), command.end());
  if (submit_cmd->parsed()) return RunSubmit(global, submit);
  if (status_cmd->parsed()) return RunStatus(global, status_id);
  if (wait_cmd->parsed()) {
    return RunWait(global, wait_ids, wait_all, wait_timeout, wait_quiet, wait_filter);
  }
  if (list_cmd->parsed()) return RunList(global, list_filter, list_limit, list_utc);
  if (cancel_cmd->parsed()) return RunCancel(global, cancel_ids, cancel_filter);
  if (kill_cmd->parsed()) return RunKill(global, kill_ids, kill_signal, kill_filter);
  if (hold_cmd->parsed()) return RunHold(global, hold_ids, /*held=*/true);
  if (release_cmd->parsed()) return RunHold(global, release_ids, /*held=*/false);
  if (restart_cmd->parsed()) return RunRestart(global, restart_ids, restart_filter);
  if (pause_cmd->parsed()) return RunPause(global, pause_ids, /*paused=*/true);
  if (resume_cmd->parsed()) return RunPause(global, resume_ids, /*paused=*/false);
  if (logs_cmd->parsed()) {
    return logs_follow ? RunLogsFollow(global, logs_id, logs_stderr)
                       : RunLogs(global, logs_id, logs_stderr, logs_attempt);
  }
  if (top_cmd->parsed()) return RunTop(global, top_interval, top_iterations);
  if (stats_cmd->parsed()) return RunStats(global);
  if (metrics_cmd->parsed()) return RunMetrics(global, metrics_output);
  if (ping_cmd->parsed()) return RunPing(global, ping_timeout);
  if (shutdown_cmd->parsed()) {
    return RunShutdown(global, shutdown_no_wait, shutdown_timeout, shutdown_purge);
  }
  if (purge_cmd->parsed()) return RunPurge(global);
  if (reload_cmd->parsed()) return RunReload(global);
  if (group_cmd->parsed()) return RunGroup(global, group);
  if (doctor_cmd->parsed()) return RunDoctor(global, doctor_repair);
  if (bench_cmd->parsed()) return RunBench(global, *bench);
  return 2;
}
