// Fault injection with real processes, under both policies: a runner SIGKILLed mid-task, timeouts
// that must take the task's whole process tree with them, a SIGKILLed supervisor and its restart,
// a client killed while it holds the segment lock, and a full queue. Each test proves one promise
// of docs/RELIABILITY.md. States are waited for, never slept for.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "common/clock.h"
#include "common/spawn.h"
#include "tests/fault_util.h"

extern char** environ;

namespace taskq::testing {
namespace {

class Fault : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& policy() const { return GetParam(); }
};

// Succeeds on its second attempt: the first one leaves `marker` and runs until it is killed.
Args SecondAttemptSucceeds(const std::string& marker, bool retry) {
  Args task = {"exec"};
  if (retry) task.insert(task.end(), {"--retries", "1"});
  task.insert(task.end(), {"--", "/bin/sh", "-c",
                           "if [ -e \"$0\" ]; then exit 0; fi; : > \"$0\"; exec sleep 30", marker});
  return task;
}

// Waits until `id` runs and its first attempt has started its command; returns the runner pid
// that `taskq status --json` reports (pool: the worker; process: the task's own process).
pid_t RunnerOf(Daemon& daemon, uint64_t id, const std::string& marker) {
  EXPECT_TRUE(ReachesState(daemon, id, "running")) << daemon.log();
  EXPECT_TRUE(WaitUntil([&] { return std::filesystem::exists(marker); }, kFaultWaitMs));
  const json task = TaskOf(daemon, id);
  return task.is_object() && task["pid"].is_number() ? task["pid"].get<pid_t>() : 0;
}

// Starts the daemon, submits a SecondAttemptSucceeds task and SIGKILLs the runner of its first
// attempt; *id and *runner say which. Call through ASSERT_NO_FATAL_FAILURE.
void KillFirstRunner(Daemon& daemon, bool retry, uint64_t* id, pid_t* runner) {
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string marker = daemon.dir() + "/marker";
  *id = SubmitTask(daemon, SecondAttemptSucceeds(marker, retry));
  ASSERT_NE(*id, 0u);
  *runner = RunnerOf(daemon, *id, marker);
  ASSERT_GT(*runner, 0);
  ASSERT_EQ(::kill(*runner, SIGKILL), 0);
}

// The pool is back at `workers` processes and a later task still runs.
void ExpectServiceRestored(Daemon& daemon, const std::string& policy, int workers) {
  if (policy == "pool") {
    EXPECT_TRUE(WaitUntil(
        [&] {
          const json stats = TaskqJson(daemon, {"stats"});
          return stats.is_object() && stats["workers"] == workers;
        },
        kFaultWaitMs))
        << TaskqJson(daemon, {"stats"}).dump();
  }
  const CommandResult later = daemon.Taskq({"submit", "--wait", "cpu", "--count", "1000"});
  EXPECT_EQ(later.exit_code, 0) << Describe(later);
}

// ---- a runner killed mid-task ------------------------------------------------------------------

TEST_P(Fault, KilledRunnerIsRetriedAndSucceeds) {
  Daemon daemon(FaultSettings(policy()));
  uint64_t id = 0;
  pid_t runner = 0;
  ASSERT_NO_FATAL_FAILURE(KillFirstRunner(daemon, /*retry=*/true, &id, &runner));

  ASSERT_TRUE(ReachesState(daemon, id, "succeeded")) << TaskOf(daemon, id).dump();
  const json task = TaskOf(daemon, id);
  EXPECT_EQ(task["attempts"], 2) << task.dump();
  EXPECT_NE(task["pid"], runner) << "the second attempt has a runner of its own: " << task.dump();
  ExpectServiceRestored(daemon, policy(), 2);
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()));
}

TEST_P(Fault, KilledRunnerWithoutRetriesIsLostNamingTheSignal) {
  Daemon daemon(FaultSettings(policy()));
  uint64_t id = 0;
  pid_t runner = 0;
  ASSERT_NO_FATAL_FAILURE(KillFirstRunner(daemon, /*retry=*/false, &id, &runner));

  ASSERT_TRUE(ReachesState(daemon, id, "lost")) << TaskOf(daemon, id).dump();
  const json task = TaskOf(daemon, id);
  EXPECT_EQ(task["attempts"], 1) << task.dump();
  EXPECT_EQ(task["signal"], SIGKILL) << task.dump();
  EXPECT_NE(task.value("reason", "").find("SIGKILL"), std::string::npos) << task.dump();
  ExpectServiceRestored(daemon, policy(), 2);
  // The killed attempt's command (a `sleep` in the pool worker's case) does not live on.
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()));
}

// ---- timeouts ----------------------------------------------------------------------------------

TEST_P(Fault, TimeoutKillsTheWholeProcessGroup) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string started = daemon.dir() + "/started";
  const uint64_t id = SubmitTask(daemon, {"exec", "--timeout", "1.5", "--", "/bin/sh", "-c",
                                          "sleep 100 & : > \"$0\"; sleep 100", started});
  ASSERT_NE(id, 0u);
  // While it runs, the shell and its two sleeps are the task's processes.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return TaskProcesses(daemon.queue()).size() >= 3 || StateOf(daemon, id) == "timed_out";
      },
      kFaultWaitMs));
  ASSERT_TRUE(ReachesState(daemon, id, "timed_out")) << TaskOf(daemon, id).dump();
  EXPECT_EQ(TaskOf(daemon, id)["timeout_ms"], 1500);
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()))
      << "left: " << TaskProcesses(daemon.queue()).size() << " processes";
}

TEST_P(Fault, TasksIgnoringSigtermAreKilledAfterKillGrace) {
  Daemon daemon(FaultSettings(policy()));  // kill_grace: 500ms
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  // The whole task ignores SIGTERM: only the SIGKILL after kill_grace ends it. The shell notes
  // that its trap is set; the 8 s timeout leaves a slow start (an ASan runner on a loaded
  // machine) room to get there first.
  const std::string trapped = daemon.dir() + "/trapped";
  const uint64_t deaf =
      SubmitTask(daemon, {"exec", "--timeout", "8", "--", "/bin/sh", "-c",
                          "trap '' TERM; : > \"$0\"; sleep 100; sleep 100", trapped});
  // Only a background child ignores it: the leader dies of SIGTERM, the child must not survive.
  const uint64_t deaf_child = SubmitTask(daemon, {"exec", "--timeout", "0.3", "--", "/bin/sh", "-c",
                                                  "(trap '' TERM; sleep 100) & exec sleep 100"});
  ASSERT_NE(deaf, 0u);
  ASSERT_NE(deaf_child, 0u);
  ASSERT_TRUE(ReachesState(daemon, deaf, "timed_out")) << TaskOf(daemon, deaf).dump();
  ASSERT_TRUE(ReachesState(daemon, deaf_child, "timed_out")) << TaskOf(daemon, deaf_child).dump();
  const json task = TaskOf(daemon, deaf);
  ASSERT_EQ(::access(trapped.c_str(), F_OK), 0) << "the timeout came before the trap was set";
  EXPECT_GE(task["run_us"].get<uint64_t>(), (8000 + 500) * 1000u)
      << "ended before timeout + kill_grace: " << task.dump();
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()))
      << "left: " << TaskProcesses(daemon.queue()).size() << " processes";
}

TEST_P(Fault, DefaultTimeoutComesFromTheConfig) {
  Daemon daemon(FaultSettings(policy(), 2, "default_timeout: 300ms\n"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult r =
      daemon.Taskq({"submit", "--wait", "--json", "exec", "--", "/bin/sleep", "30"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  const json task = ParseJson(r.out);
  EXPECT_EQ(task.value("state", ""), "timed_out") << Describe(r);
  EXPECT_EQ(task["timeout_ms"], 300) << Describe(r);
  // An explicit --timeout 0 means no limit.
  const CommandResult unlimited = daemon.Taskq(
      {"submit", "--wait", "--json", "exec", "--timeout", "0", "--", "/bin/sleep", "0.5"});
  EXPECT_EQ(unlimited.exit_code, 0) << Describe(unlimited);
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()));
}

// ---- a killed supervisor -----------------------------------------------------------------------

// A supervisor SIGKILLed with three tasks running and one queued. The two in-process tasks (io
// tasks blocked opening a FIFO nobody reads yet) die with their runners: the one with a retry
// runs again, the one without is `lost`. The exec task's runner outlives the supervisor and is
// adopted: its command runs once, to its end. The queued task runs once, the finished one never
// again.
void KilledSupervisorRestarts(const std::string& policy, const std::string& storage) {
  Daemon daemon(FaultSettings(policy, 3, "storage: " + storage + "\n"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string dir = daemon.dir();
  const std::string gate = dir + "/gate";
  auto append = [&](const std::string& file) {
    return Args{"exec", "--", "/bin/sh", "-c", "echo run >> \"$0\"", file};
  };
  const std::string io_dir = daemon.state_dir() + "/io";
  ::mkdir(io_dir.c_str(), 0700);
  for (const char* name : {"/retry.fifo", "/once.fifo"}) {
    ASSERT_EQ(::mkfifo((io_dir + name).c_str(), 0600), 0);
  }
  auto write_fifo = [](const std::string& name) {
    return Args{"io", "--path", name, "--bytes", "1000", "--block", "1000"};
  };
  const uint64_t done = SubmitTask(daemon, append(dir + "/done"));
  ASSERT_TRUE(ReachesState(daemon, done, "succeeded"));
  Args retried = write_fifo("retry.fifo");
  retried.insert(retried.begin() + 1, {"--retries", "1"});
  const uint64_t retry = SubmitTask(daemon, retried);
  const uint64_t once = SubmitTask(daemon, write_fifo("once.fifo"));
  const uint64_t kept = SubmitTask(daemon, AppendThenWaitTask(dir + "/kept", gate));
  const uint64_t queued = SubmitTask(daemon, append(dir + "/queued"));
  ASSERT_TRUE(ReachesState(daemon, retry, "running"));
  ASSERT_TRUE(ReachesState(daemon, once, "running"));
  ASSERT_TRUE(ReachesState(daemon, kept, "running"));
  ASSERT_TRUE(WaitUntil([&] { return CountLines(dir + "/kept") == 1; }, kFaultWaitMs));
  ASSERT_EQ(StateOf(daemon, queued), "queued") << "all three runners are busy";
  const pid_t in_process_runners[] = {TaskOf(daemon, retry).value("pid", 0),
                                      TaskOf(daemon, once).value("pid", 0)};

  daemon.Kill();
  // Runners of in-process tasks die with their supervisor (nobody has to reap them).
  for (pid_t runner : in_process_runners) {
    ASSERT_GT(runner, 1);
    EXPECT_TRUE(WaitGone(runner)) << "runner " << runner;
  }
  // Results stay readable while no daemon runs.
  EXPECT_EQ(StateOf(daemon, done), "succeeded");
  EXPECT_EQ(StateOf(daemon, retry), "running");

  ASSERT_TRUE(daemon.Start()) << daemon.log();
  ASSERT_TRUE(ReachesState(daemon, once, "lost")) << TaskOf(daemon, once).dump();
  EXPECT_NE(TaskOf(daemon, once).value("reason", "").find("restarted"), std::string::npos)
      << TaskOf(daemon, once).dump();
  // The retry's second attempt blocks opening its FIFO again, until this reader comes.
  ASSERT_TRUE(WaitUntil([&] { return TaskOf(daemon, retry)["attempts"] == 2; }, kFaultWaitMs))
      << TaskOf(daemon, retry).dump();
  const int reader = ::open((io_dir + "/retry.fifo").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  char buffer[4096];
  while (::read(reader, buffer, sizeof buffer) > 0) {
  }
  ::close(reader);
  std::ofstream(gate) << "open\n";
  ASSERT_TRUE(ReachesState(daemon, retry, "succeeded")) << TaskOf(daemon, retry).dump();
  ASSERT_TRUE(ReachesState(daemon, kept, "succeeded")) << TaskOf(daemon, kept).dump();
  ASSERT_TRUE(ReachesState(daemon, queued, "succeeded")) << TaskOf(daemon, queued).dump();
  EXPECT_EQ(TaskOf(daemon, retry)["attempts"], 2);
  EXPECT_EQ(TaskOf(daemon, kept)["attempts"], 1) << "an adopted task is the same attempt";
  const json first = TaskOf(daemon, done);
  EXPECT_EQ(first.value("state", ""), "succeeded") << first.dump();
  EXPECT_EQ(first["attempts"], 1) << first.dump();
  EXPECT_EQ(CountLines(dir + "/done"), 1u) << "a finished task never runs again";
  EXPECT_EQ(CountLines(dir + "/kept"), 1u) << "the adopted command ran once";
  EXPECT_EQ(CountLines(dir + "/queued"), 1u);
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()));
  EXPECT_EQ(daemon.Taskq({"doctor"}).exit_code, 0);
}

TEST_P(Fault, KilledSupervisorRestartsWithoutLosingOrRepeatingWork) {
  KilledSupervisorRestarts(policy(), "shm");
}

// The queue in a mapped file (storage: file, the one that survives a reboot) recovers the same.
TEST_P(Fault, KilledSupervisorRestartsFromAFileSegment) {
  KilledSupervisorRestarts(policy(), "file");
}

// Recovery tells a stranger from a runner by start time, against a heartbeat 3 s old: the start
// time must be good to a clock tick, not to /proc/stat's whole-second boot time.
TEST(ProcessStart, IsDatedToAClockTick) {
  const long tick_us = 1000000 / sysconf(_SC_CLK_TCK);
  const uint64_t before = NowUs();
  const char* argv[] = {"/bin/sleep", "100", nullptr};
  pid_t child = 0;
  ASSERT_EQ(posix_spawn(&child, argv[0], nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  const uint64_t after = NowUs();
  const uint64_t started = ProcessStartUs(child);
  ::kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_GE(started + 2 * tick_us, before);
  EXPECT_LE(started, after + 2 * tick_us);
  EXPECT_EQ(ProcessStartUs(child), UINT64_MAX) << "a reaped process has no start time";
}

// A recorded runner pid that now names an unrelated process (pids are reused; after a reboot with
// `storage: file` every recorded pid is stale) is left alone by the restart's recovery, and not
// adopted as an exec task's runner.
TEST_P(Fault, RestartLeavesAProcessThatReusedARunnerPidAlone) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t id =
      SubmitTask(daemon, AppendThenWaitTask(daemon.dir() + "/runs", daemon.dir() + "/gate"));
  ASSERT_TRUE(ReachesState(daemon, id, "running"));
  // The exec task's runner outlives the supervisor (to be adopted): it dies here instead, before
  // it can record anything, and so does its command.
  const pid_t runner = TaskOf(daemon, id).value("pid", 0);
  ASSERT_GT(runner, 1);
  daemon.Kill();
  ::kill(runner, SIGKILL);
  EXPECT_TRUE(WaitGone(runner));
  KillTaskProcesses(daemon.queue());
  std::unique_ptr<Segment> segment;
  ASSERT_TRUE(Segment::Attach(daemon.options(), &segment).ok());
  const uint64_t last_heartbeat_us = segment->header()->heartbeat_us.load();
  // A stranger that starts well after the dead supervisor's last sign of life, in a session of
  // its own like a task's command, takes over the runner's pid in the record.
  ASSERT_TRUE(WaitUntil([&] { return NowUs() > last_heartbeat_us + 5000000; }, kFaultWaitMs));
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  const char* argv[] = {"/bin/sleep", "100", nullptr};
  pid_t stranger = 0;
  ASSERT_EQ(posix_spawn(&stranger, argv[0], nullptr, &attr, const_cast<char**>(argv), environ), 0);
  posix_spawnattr_destroy(&attr);
  segment->SetRunner(static_cast<uint32_t>((id - 1) % segment->capacity()), id, stranger);
  ASSERT_EQ(TaskOf(daemon, id)["pid"], stranger);

  ASSERT_TRUE(daemon.Start()) << daemon.log();
  EXPECT_TRUE(ReachesState(daemon, id, "lost")) << TaskOf(daemon, id).dump();
  EXPECT_FALSE(ProcessGone(stranger)) << "the restart killed an unrelated process";
  ::kill(stranger, SIGKILL);
  waitpid(stranger, nullptr, 0);
}

// ---- back-pressure -----------------------------------------------------------------------------

TEST_P(Fault, FullQueueFailsAtOnceBlockWaitsAndTheDaemonAnswers) {
  Daemon daemon(FaultSettings(policy(), 1, "capacity: 16\nretention:\n  count: 0\n"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string gate = daemon.dir() + "/gate";
  std::vector<uint64_t> ids;
  for (int i = 0; i < 16; ++i) {
    ids.push_back(SubmitTask(daemon, AppendThenWaitTask(daemon.dir() + "/runs", gate)));
    ASSERT_NE(ids.back(), 0u) << i;
  }
  const CommandResult full = daemon.Taskq({"submit", "cpu"});
  EXPECT_EQ(full.exit_code, 4) << Describe(full);
  EXPECT_NE(full.err.find("full"), std::string::npos) << Describe(full);

  auto blocked = std::async(std::launch::async, [&] {
    return daemon.Taskq({"submit", "--block", "cpu", "--count", "5", "--timeout", "60"});
  });
  // While the submitter waits for room, the daemon keeps answering.
  for (int i = 0; i < 3; ++i) {
    const CommandResult ping = daemon.Taskq({"ping", "--timeout", "30"});
    EXPECT_EQ(ping.exit_code, 0) << Describe(ping);
  }
  EXPECT_EQ(blocked.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  std::ofstream(gate) << "open\n";
  const CommandResult unblocked = blocked.get();
  ASSERT_EQ(unblocked.exit_code, 0) << Describe(unblocked);
  const uint64_t late = std::stoull(unblocked.out);
  EXPECT_TRUE(ReachesState(daemon, late, "succeeded"));
  EXPECT_EQ(daemon.Taskq({"wait", "--all", "--timeout", "60"}).exit_code, 0);
}

TEST_P(Fault, RetentionEvictsTheOldestFinishedFirst) {
  Daemon daemon(FaultSettings(policy(), 2, "capacity: 16\nretention:\n  count: 4\n"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  for (int i = 1; i <= 16; ++i) {
    ASSERT_EQ(SubmitTask(daemon, {"cpu", "--count", "10"}), uint64_t(i));
  }
  ASSERT_EQ(daemon.Taskq({"wait", "--all", "--timeout", "60"}).exit_code, 0);
  for (int extra = 0; extra < 3; ++extra) {
    const uint64_t id = SubmitTask(daemon, {"cpu", "--count", "10"});
    ASSERT_EQ(id, uint64_t(17 + extra));
    ASSERT_TRUE(ReachesState(daemon, id, "succeeded"));
    // Exactly the oldest finished tasks are gone; every newer one is still readable.
    for (uint64_t old = 1; old <= 16; ++old) {
      EXPECT_EQ(daemon.Taskq({"status", std::to_string(old)}).exit_code == 0, old > 1u + extra)
          << "task " << old << " after submitting " << id;
    }
  }
}

// Issue 17: with capacity 16 and the default retention (10,000 results for a day) the queue
// stayed full with nothing queued or running. Results give way to work, oldest first.
TEST_P(Fault, ResultsNeverKeepWorkOut) {
  Daemon daemon(FaultSettings(policy(), 2, "capacity: 16\n"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  for (int i = 1; i <= 16; ++i) {
    ASSERT_EQ(SubmitTask(daemon, {"cpu", "--count", "10"}), uint64_t(i));
  }
  ASSERT_EQ(daemon.Taskq({"wait", "--all", "--timeout", "60"}).exit_code, 0);
  const CommandResult more = daemon.Taskq({"submit", "--block", "cpu", "--timeout", "5"});
  ASSERT_EQ(more.exit_code, 0) << Describe(more);
  const uint64_t id = std::stoull(more.out);
  EXPECT_TRUE(ReachesState(daemon, id, "succeeded"));
  EXPECT_NE(daemon.Taskq({"status", "1"}).exit_code, 0);  // the oldest result made room
  EXPECT_EQ(daemon.Taskq({"status", "2"}).exit_code, 0);  // the rest are kept
  EXPECT_EQ(daemon.Taskq({"doctor"}).exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, Fault, ::testing::Values("pool", "process"),
                         [](const auto& info) { return info.param; });

// ---- a client killed while it holds the segment lock -------------------------------------------

class KilledClient : public ::testing::TestWithParam<std::string> {};

TEST_P(KilledClient, NextLockerRepairsAndNothingIsLostOrDoubled) {
  const std::string point = GetParam();
  Daemon daemon(FaultSettings("pool"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string log = daemon.dir() + "/runs";
  const std::string line = "exec -- /bin/sh -c 'echo $TASKQ_TASK_ID >> " + log + "'\n";
  const CommandResult crashed =
      RunCommand({TaskqPath(), "--config", daemon.config_path(), "submit", "--batch", "-"},
                 line + line + line, {{"TASKQ_TEST_CRASH_AT", point}});
  ASSERT_EQ(crashed.exit_code, 128 + SIGKILL) << Describe(crashed);
  EXPECT_EQ(crashed.out, "") << "no id was handed out";

  // The next client takes the abandoned lock, repairs, and submits as usual.
  const CommandResult next = daemon.Taskq({"submit", "--wait", "--batch", "-"}, line + line);
  ASSERT_EQ(next.exit_code, 0) << Describe(next);
  EXPECT_EQ(daemon.Taskq({"wait", "--all", "--timeout", "60"}).exit_code, 0);
  const json stats = TaskqJson(daemon, {"stats"});
  EXPECT_GE(stats["lock_repairs"].get<uint64_t>(), 1u) << stats.dump();

  // Killed before a task was complete and queued: it is gone. Killed after it was queued (but
  // before the ring's tail moved on): it was whole, so the repair queues it and it runs once.
  const json list = TaskqJson(daemon, {"list"});
  ASSERT_TRUE(list.is_array());
  const size_t landed = point == "submit-queued" ? 1 : 0;
  EXPECT_EQ(list.size(), 2 + landed) << list.dump();
  for (const json& task : list) {
    EXPECT_EQ(task.value("state", ""), "succeeded") << task.dump();
    EXPECT_EQ(task["attempts"], 1) << task.dump();
  }
  EXPECT_EQ(CountLines(log), 2 + landed);
  const CommandResult doctor = daemon.Taskq({"doctor"});
  EXPECT_EQ(doctor.exit_code, 0) << Describe(doctor);
}

INSTANTIATE_TEST_SUITE_P(CrashPoints, KilledClient,
                         ::testing::Values("submit-reserved", "submit-written", "submit-queued"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Issue 17: a client killed during `submit --batch` of 10,000 lines left thousands of queued
// tasks whose ids it never printed. A batch lands in chunks of 256, each under one lock hold, and
// each chunk's ids are printed as soon as it landed: killed after its first chunk, the client
// has printed exactly the ids in the queue.
TEST(KilledBatchClient, PrintedTheIdOfEveryTaskThatLanded) {
  Daemon daemon(FaultSettings("pool", 1, "capacity: 16384\n"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  std::string batch;
  for (int i = 0; i < 10000; ++i) batch += "cpu --count 1\n";
  const CommandResult crashed =
      RunCommand({TaskqPath(), "--config", daemon.config_path(), "submit", "--batch", "-"}, batch,
                 {{"TASKQ_TEST_CRASH_AT", "submit-chunk-printed"}});
  ASSERT_EQ(crashed.exit_code, 128 + SIGKILL) << Describe(crashed);
  std::vector<uint64_t> printed;
  std::istringstream lines(crashed.out);
  for (std::string line; std::getline(lines, line);) printed.push_back(std::stoull(line));
  EXPECT_EQ(printed.size(), 256u);
  ASSERT_EQ(daemon.Taskq({"wait", "--all", "--timeout", "60"}).exit_code, 0);
  const json list = TaskqJson(daemon, {"list"});
  ASSERT_TRUE(list.is_array());
  std::vector<uint64_t> queued;
  for (const json& task : list) queued.push_back(task["id"].get<uint64_t>());
  std::sort(queued.begin(), queued.end());
  EXPECT_EQ(queued, printed);
}

}  // namespace
}  // namespace taskq::testing
