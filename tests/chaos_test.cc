// The soak: per policy, a driver submits TASKQ_CHAOS_TASKS tasks (default 50,000 under each
// policy; TASKQ_CHAOS_PROCESS_TASKS sets the process policy's apart) in batches, keeping a few
// batches queued so that the chaos lasts as long as the run,
// through `taskq submit --batch -` while it SIGKILLs, at random, pool workers and task processes,
// clients in the middle of a submit (at a random moment, or inside the segment lock through a test
// crash point) and the supervisor itself (then starts it again). At the end every task a client
// was told about is in the segment, every task in the segment is finished, none ran more often than
// 1 + its retries, and `taskq doctor` finds nothing. A figures line goes to stdout and, when
// TASKQ_CHAOS_REPORT names a file, is appended there. The seed is TASKQ_CHAOS_SEED (else random,
// printed): the checks are invariants, so any interleaving must pass.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "fmt/format.h"
#include "tests/fault_util.h"

extern char** environ;

namespace taskq::testing {
namespace {

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

// Sends SIGKILL to `pid` only if it is still the process `is_target` recognises: the pidfd pins
// the process we checked, so a recycled pid is never hit.
bool KillIf(pid_t pid, const std::function<bool(pid_t)>& is_target) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return false;
  bool sent = is_target(pid) && syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0;
  ::close(pidfd);
  return sent;
}

pid_t ParentOf(pid_t pid) {
  const std::string stat = ReadProc(pid, "stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(paren + 2));
  char state = 0;
  pid_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  for (pid_t pid : AllPids()) {
    if (ParentOf(pid) == parent && !ProcessGone(pid)) out.push_back(pid);
  }
  return out;
}

// `taskq submit --batch -` reading `input_path`, killable at any moment. Returns the ids it
// printed before it ended (stdout is read to its end).
struct SubmitRun {
  std::vector<uint64_t> ids;
  bool killed = false;  // ended by a signal
};

SubmitRun RunSubmit(const std::string& config, const std::string& input_path,
                    const std::string& crash_point, int64_t kill_after_us) {
  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, input_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> argv = {TaskqPath(), "--config", config, "submit", "--batch", "-"};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    if (kv.rfind("TASKQ_", 0) != 0) env.push_back(kv);
  }
  if (!crash_point.empty()) env.push_back("TASKQ_TEST_CRASH_AT=" + crash_point);
  std::vector<char*> cargv, cenv;
  for (auto& s : argv) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  for (auto& s : env) cenv.push_back(s.data());
  cenv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  SubmitRun run;
  if (rc != 0) {
    ::close(out_pipe[0]);
    return run;
  }
  std::string out;
  const auto kill_at = std::chrono::steady_clock::now() + std::chrono::microseconds(kill_after_us);
  bool kill_pending = kill_after_us >= 0;
  char buffer[65536];
  for (;;) {
    int wait_ms = -1;
    if (kill_pending) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      kill_at - std::chrono::steady_clock::now())
                      .count();
      wait_ms = static_cast<int>(std::max<int64_t>(left, 0));
    }
    pollfd p{out_pipe[0], POLLIN, 0};
    const int ready = poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0 && kill_pending) {
      ::kill(pid, SIGKILL);  // our own child, not yet reaped: the pid is still ours
      kill_pending = false;
      continue;
    }
    const ssize_t n = read(out_pipe[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  run.killed = WIFSIGNALED(status);
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.find_first_not_of("0123456789") == std::string::npos) {
      run.ids.push_back(std::stoull(line));
    }
  }
  return run;
}

struct Figures {
  uint64_t lines_sent = 0, acked = 0, landed_unacked = 0;
  uint64_t worker_kills = 0, task_process_kills = 0, client_kills = 0, lock_holder_kills = 0,
           supervisor_kills = 0;
  std::map<std::string, uint64_t> outcomes;
  uint64_t rerun = 0;  // tasks with attempts > 1
  double seconds = 0;
};

class Chaos : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& policy() const { return GetParam(); }
};

TEST_P(Chaos, EverySubmittedTaskIsAccountedFor) {
  const uint64_t pool_tasks = EnvNumber("TASKQ_CHAOS_TASKS", 50000);
  const uint64_t tasks = std::max<uint64_t>(
      policy() == "pool" ? pool_tasks : EnvNumber("TASKQ_CHAOS_PROCESS_TASKS", pool_tasks), 100);
  const uint64_t seed = EnvNumber("TASKQ_CHAOS_SEED", std::random_device{}());
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  const uint64_t batch = std::clamp<uint64_t>(tasks / 100, 10, 1000);

  Daemon daemon;
  // Every result is kept for the final check: room and retention for all of them.
  const uint64_t capacity = std::max<uint64_t>(tasks + 64, 1024);
  daemon.WriteRawConfig(fmt::format(
      "queue: {}\nstate_dir: {}\nlog_level: info\npolicy: {}\nworkers: 2\nmax_parallel: 4\n"
      "capacity: {}\nretention:\n  count: {}\n  age: 1d\nkill_grace: 200ms\nshutdown_grace: 5s\n{}",
      daemon.queue(), daemon.state_dir(), policy(), capacity, capacity,
      geteuid() == 0 ? "user: root\n" : ""));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string witness = daemon.dir() + "/witness";
  const std::string input = daemon.dir() + "/batch.txt";

  Figures figures;
  std::set<uint64_t> acked;
  const auto started = std::chrono::steady_clock::now();
  const uint64_t batches = (tasks + batch - 1) / batch;
  const uint64_t supervisor_kills_wanted = 4;
  for (uint64_t b = 0; b < batches; ++b) {
    const uint64_t n = std::min(batch, tasks - b * batch);
    // Pace: the kills below must land while tasks run, not after everything is merely queued.
    WaitUntil(
        [&] {
          const json stats = TaskqJson(daemon, {"stats"});
          if (!stats.is_object() || stats["counts"]["queued"].get<uint64_t>() <= 3 * batch) {
            return true;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a `taskq` start each
          return false;
        },
        60 * 1000);
    {
      std::ofstream lines(input, std::ios::trunc);
      for (uint64_t i = 0; i < n; ++i) {
        const int pick = static_cast<int>(rng() % 100);
        const char* retries = chance(0.2) ? " --retries 1" : "";
        if (pick < 85) {
          lines << "cpu --count 1" << retries << "\n";
        } else if (pick < 95) {
          lines << "exec" << retries << " -- /bin/true\n";
        } else if (pick < 97) {
          lines << "exec -- /bin/false\n";
        } else {
          // Leaves one line per run: a witness of how often it really ran.
          lines << "exec" << retries << " -- /bin/sh -c 'echo $TASKQ_TASK_ID >> " << witness
                << "'\n";
        }
      }
    }
    std::string crash_point;
    int64_t kill_after_us = -1;
    if (chance(0.05)) {
      static const char* kPoints[] = {"submit-reserved", "submit-written", "submit-queued"};
      crash_point = kPoints[rng() % 3];
    } else if (chance(0.1)) {
      kill_after_us = static_cast<int64_t>(rng() % 20000);
    }
    const SubmitRun run = RunSubmit(daemon.config_path(), input, crash_point, kill_after_us);
    figures.lines_sent += n;
    acked.insert(run.ids.begin(), run.ids.end());
    if (run.killed) (crash_point.empty() ? figures.client_kills : figures.lock_holder_kills)++;
    ASSERT_TRUE(run.killed || run.ids.size() == n)
        << "a submit that was not killed must land its whole batch: " << run.ids.size() << " of "
        << n << "\n"
        << daemon.log();

    // Runners: a pool worker or a task process of this queue (at whatever point it is).
    if (chance(0.6)) {
      const pid_t supervisor = daemon.pid();
      std::vector<pid_t> runners = policy() == "pool" ? WorkerPids(daemon) : ChildrenOf(supervisor);
      if (!runners.empty() && chance(0.5)) {
        const pid_t victim = runners[rng() % runners.size()];
        if (KillIf(victim, [&](pid_t p) { return ParentOf(p) == supervisor; })) {
          (policy() == "pool" ? figures.worker_kills : figures.task_process_kills)++;
        }
      } else {
        const std::vector<pid_t> commands = TaskProcesses(daemon.queue());
        if (!commands.empty()) {
          const pid_t victim = commands[rng() % commands.size()];
          if (KillIf(victim, [&](pid_t p) {
                const std::vector<pid_t> now = TaskProcesses(daemon.queue());
                return std::find(now.begin(), now.end(), p) != now.end();
              })) {
            figures.task_process_kills++;
          }
        }
      }
    }
    // The supervisor, a few times over the run.
    if ((b + 1) % std::max<uint64_t>(batches / (supervisor_kills_wanted + 1), 1) == 0 &&
        figures.supervisor_kills < supervisor_kills_wanted && b + 1 < batches) {
      daemon.Kill();
      figures.supervisor_kills++;
      ASSERT_TRUE(daemon.Start()) << "restart " << figures.supervisor_kills << "\n" << daemon.log();
    }
  }

  // Calm: everything that landed finishes.
  ASSERT_TRUE(WaitUntil(
      [&] {
        const json stats = TaskqJson(daemon, {"stats"});
        return stats.is_object() && stats["counts"]["queued"] == 0 &&
               stats["counts"]["running"] == 0;
      },
      15 * 60 * 1000))
      << TaskqJson(daemon, {"stats"}).dump() << "\n"
      << daemon.log();
  figures.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const CommandResult listed = daemon.Taskq({"--json", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const json list = ParseJson(listed.out);
  ASSERT_TRUE(list.is_array());
  std::set<uint64_t> present;
  std::map<uint64_t, uint64_t> attempts_of;
  for (const json& task : list) {
    const uint64_t id = task["id"].get<uint64_t>();
    EXPECT_TRUE(present.insert(id).second) << "listed twice: " << id;
    const std::string state = task.value("state", "");
    figures.outcomes[state]++;
    const uint64_t attempts = task["attempts"].get<uint64_t>();
    const uint64_t retries = task["retries"].get<uint64_t>();
    attempts_of[id] = attempts;
    EXPECT_LE(attempts, 1 + retries) << task.dump();
    EXPECT_GE(attempts, 1u) << task.dump();
    if (attempts > 1) figures.rerun++;
    if (state == "failed") {
      // Only /bin/false fails: a half-written record would be "rejected" here.
      EXPECT_EQ(task["exit_code"], 1) << task.dump();
      EXPECT_EQ(task.value("kind", ""), "exec") << task.dump();
    }
  }
  for (uint64_t id : acked) {
    EXPECT_TRUE(present.count(id)) << "acknowledged task " << id << " lost";
  }
  figures.acked = acked.size();
  figures.landed_unacked = present.size() - std::min(present.size(), acked.size());
  EXPECT_LE(present.size(), figures.lines_sent);
  uint64_t finished = 0;
  for (const char* state : {"succeeded", "failed", "timed_out", "cancelled", "lost"}) {
    finished += figures.outcomes[state];
  }
  EXPECT_EQ(finished, present.size()) << "every task ends in a final state";

  // Witnesses: never more runs than attempts.
  std::map<uint64_t, uint64_t> runs;
  {
    std::ifstream in(witness);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) runs[std::stoull(line)]++;
    }
  }
  for (auto [id, count] : runs) {
    EXPECT_LE(count, attempts_of[id]) << "task " << id << " ran " << count << " times";
  }

  const CommandResult doctor = daemon.Taskq({"doctor"});
  EXPECT_EQ(doctor.exit_code, 0) << Describe(doctor);
  ASSERT_EQ(daemon.Stop(), 0);
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()));

  const std::string line = fmt::format(
      "chaos policy={} tasks={} acked={} landed_unacked={} kills: workers={} task_processes={} "
      "clients={} lock_holders={} supervisor={} outcomes: succeeded={} failed={} timed_out={} "
      "cancelled={} lost={} rerun={} seconds={:.1f} seed={}",
      policy(), figures.lines_sent, figures.acked, figures.landed_unacked, figures.worker_kills,
      figures.task_process_kills, figures.client_kills, figures.lock_holder_kills,
      figures.supervisor_kills, figures.outcomes["succeeded"], figures.outcomes["failed"],
      figures.outcomes["timed_out"], figures.outcomes["cancelled"], figures.outcomes["lost"],
      figures.rerun, figures.seconds, seed);
  std::printf("%s\n", line.c_str());
  if (const char* report = std::getenv("TASKQ_CHAOS_REPORT")) {
    std::ofstream(report, std::ios::app) << line << "\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, Chaos, ::testing::Values("pool", "process"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace taskq::testing
