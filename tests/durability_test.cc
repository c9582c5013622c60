// Durability levels (issue 17): with `durability: flush` or `sync` every change of the queue is
// journaled in <state_dir>/journal, and a reboot (simulated: the shm segment removed, or a file
// segment left by another boot id) rebuilds the queue from it. The power-cut harness that cuts
// the journal at hundreds of points is tests/power_cut_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/journal.h"
#include "tests/fault_util.h"

namespace taskq::testing {
namespace {

off_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

json Stats(Daemon& daemon) { return TaskqJson(daemon, {"stats"}); }

// The machine went down: the supervisor and every task process die at once, and what memory
// held is gone. A shm segment goes with the boot; a file segment stays, from another boot.
void Reboot(Daemon& daemon, const std::string& storage, const std::string& next_boot) {
  const std::vector<pid_t> workers = WorkerPids(daemon);
  daemon.Kill();
  for (pid_t pid : workers) ::kill(pid, SIGKILL);
  for (pid_t pid : workers) WaitGone(pid);
  KillTaskProcesses(daemon.queue());
  if (storage == "shm") {
    ::shm_unlink(LocateSegment(daemon.options()).shm_name.c_str());
  }
  daemon.SetEnv("TASKQ_TEST_BOOT_ID", next_boot);
}

class Durability : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& storage() const { return GetParam(); }
  std::string Settings(const std::string& level) const {
    return FaultSettings("pool", 2, "storage: " + storage() + "\ndurability: " + level + "\n");
  }
};

TEST_P(Durability, ARebootRebuildsTheQueueFromTheJournal) {
  Daemon daemon(Settings("sync"));
  daemon.SetEnv("TASKQ_TEST_BOOT_ID", "boot-1");
  ASSERT_TRUE(daemon.Start());
  const uint64_t ok = SubmitTask(daemon, {"--wait", "exec", "--", "/bin/echo", "kept"});
  const uint64_t failed = SubmitTask(daemon, {"exec", "--", "/bin/sh", "-c", "exit 3"});
  ASSERT_TRUE(ReachesState(daemon, failed, "failed"));
  ASSERT_EQ(daemon.Taskq({"group", "add", "nightly", "--workers", "1"}).exit_code, 0);
  const uint64_t held = SubmitTask(
      daemon, {"--hold", "--label", "team=web", "cpu", "--group", "nightly", "--count", "12345"});
  const uint64_t running = SubmitTask(daemon, {"exec", "--", "/bin/sleep", "300"});
  ASSERT_GT(ok, 0u);
  ASSERT_GT(failed, 0u);
  ASSERT_GT(held, 0u);
  ASSERT_TRUE(ReachesState(daemon, running, "running"));

  Reboot(daemon, storage(), "boot-2");
  ASSERT_TRUE(daemon.Start());
  EXPECT_TRUE(daemon.WaitForLog("journal: rebuilt 4 tasks")) << daemon.log();
  EXPECT_EQ(StateOf(daemon, ok), "succeeded");
  EXPECT_EQ(daemon.Taskq({"logs", std::to_string(ok)}).out, "kept\n");
  const json f = TaskOf(daemon, failed);
  EXPECT_EQ(f.value("state", ""), "failed") << f.dump();
  EXPECT_EQ(f["exit_code"], 3) << f.dump();
  const json h = TaskOf(daemon, held);
  EXPECT_EQ(h.value("state", ""), "queued") << h.dump();
  EXPECT_EQ(h.value("group", ""), "nightly") << h.dump();
  EXPECT_EQ(h["labels"]["team"], "web") << h.dump();
  // What ran went with the machine; the next boot says so instead of pretending.
  const json r = TaskOf(daemon, running);
  EXPECT_EQ(r.value("state", ""), "lost") << r.dump();
  EXPECT_NE(r.value("reason", "").find("the machine restarted while it ran"), std::string::npos)
      << r.dump();
  EXPECT_EQ(daemon.Taskq({"doctor"}).exit_code, 0) << daemon.Taskq({"doctor"}).out;
  // The queue goes on: ids continue past the rebuilt ones, the held task runs when released.
  const uint64_t next = SubmitTask(daemon, {"cpu", "--count", "10"});
  EXPECT_GT(next, running);
  ASSERT_EQ(daemon.Taskq({"release", std::to_string(held)}).exit_code, 0);
  const CommandResult waited = daemon.Taskq({"wait", std::to_string(held), std::to_string(next)});
  EXPECT_EQ(waited.exit_code, 0) << Describe(waited);
  const json stats = Stats(daemon);
  EXPECT_EQ(stats.value("durability", ""), "sync") << stats.dump();
  EXPECT_EQ(stats["journal"]["synced"], stats["journal"]["entries"]) << stats.dump();
}

TEST_P(Durability, MemoryKeepsNoJournalAndSyncSubmitsNeedOne) {
  Daemon daemon(Settings("memory"));
  ASSERT_TRUE(daemon.Start());
  EXPECT_FALSE(FileSize(daemon.state_dir() + "/journal") >= 0);
  const CommandResult refused = daemon.Taskq({"submit", "--sync", "cpu"});
  EXPECT_EQ(refused.exit_code, 2) << Describe(refused);
  EXPECT_EQ(FirstLine(refused.err),
            "taskq: --sync: queue '" + daemon.queue() +
                "' keeps no journal (durability: memory); set `durability: flush` or `sync` in "
                "its configuration and restart taskqd")
      << refused.err;
  EXPECT_EQ(Stats(daemon).value("durability", ""), "memory");
}

TEST_P(Durability, ABatchCostsOneFdatasync) {
  Daemon daemon(Settings("sync"));
  ASSERT_TRUE(daemon.Start());
  const uint64_t before = Stats(daemon)["journal"]["syncs"].get<uint64_t>();
  std::string batch;
  for (int i = 0; i < 2000; ++i) batch += "cpu --count 10\n";
  const auto start = std::chrono::steady_clock::now();
  const CommandResult submitted = daemon.Taskq({"submit", "--hold", "--batch", "-"}, batch);
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_EQ(submitted.exit_code, 0) << Describe(submitted);
  const uint64_t syncs = Stats(daemon)["journal"]["syncs"].get<uint64_t>() - before;
  // Eight chunks of 256, one fdatasync for all of them; the supervisor's once-a-second sync may
  // add one per second the batch took (it never holds the ids back).
  EXPECT_GE(syncs, 1u);
  EXPECT_LE(syncs, 1u + static_cast<uint64_t>(seconds) + 1u) << "took " << seconds << " s";
  const json stats = Stats(daemon);
  EXPECT_EQ(stats["journal"]["synced"], stats["journal"]["entries"]) << stats.dump();
}

TEST_P(Durability, FlushJournalsEveryChangeAndCompactionKeepsItBounded) {
  // capacity 16: compaction once 16,384 entries were appended since the last one.
  Daemon daemon(Settings("flush") + "capacity: 16\nretention:\n  count: 4\n");
  ASSERT_TRUE(daemon.Start());
  const std::string journal = daemon.state_dir() + "/journal";
  std::string batch;
  for (int i = 0; i < 500; ++i) batch += "cpu --count 10\n";
  // Each task appends three entries (queued, running, finished): 12 batches pass the bound.
  // (Ids skip a slot still taken, so the last id is read from the output, not counted.)
  uint64_t last = 0;
  for (int round = 0; round < 12; ++round) {
    const CommandResult submitted = daemon.Taskq({"submit", "--block", "--batch", "-"}, batch);
    ASSERT_EQ(submitted.exit_code, 0) << Describe(submitted);
    last =
        std::stoull(submitted.out.substr(submitted.out.rfind('\n', submitted.out.size() - 2) + 1));
  }
  ASSERT_TRUE(WaitUntil([&] { return Stats(daemon)["finished_total"] == 6000; }));
  const uint64_t entries = Stats(daemon)["journal"]["entries"].get<uint64_t>();
  EXPECT_GT(entries, 16384u);
  // The first tick past the bound compacts the file to the live slots (17 entries at most);
  // what was appended after that tick stays until the next bound. When that tick came (after
  // the load, or in its middle on a slow machine) is not the test's business: whenever it came,
  // the file holds at most the live slots plus the entries appended past the bound.
  const off_t bound = static_cast<off_t>((entries - 16384 + 64) * sizeof(JournalEntry));
  EXPECT_TRUE(WaitUntil([&] { return FileSize(journal) < bound; }))
      << FileSize(journal) << " bytes, bound " << bound << " after " << entries << " entries";
  EXPECT_TRUE(WaitUntil([&] {
    const json s = Stats(daemon);
    return s["journal"]["synced"] == s["journal"]["entries"];
  }));
  Reboot(daemon, storage(), "boot-3");
  ASSERT_TRUE(daemon.Start());
  EXPECT_EQ(StateOf(daemon, last), "succeeded");
  EXPECT_GT(SubmitTask(daemon, {"cpu"}), last);
}

TEST_P(Durability, PurgeRemovesTheJournal) {
  Daemon daemon(Settings("flush"));
  ASSERT_TRUE(daemon.Start());
  ASSERT_GT(SubmitTask(daemon, {"cpu"}), 0u);
  ASSERT_GT(FileSize(daemon.state_dir() + "/journal"), 0);
  ASSERT_EQ(daemon.Stop(), 0);
  const CommandResult purged = daemon.Taskq({"purge"});
  ASSERT_EQ(purged.exit_code, 0) << Describe(purged);
  EXPECT_EQ(FileSize(daemon.state_dir() + "/journal"), -1);
  ASSERT_TRUE(daemon.Start());
  EXPECT_EQ(SubmitTask(daemon, {"cpu"}), 1u) << "the purged tasks came back";
}

// DESIGN §2: a mutex image restored from a file after a reboot is not valid. Without a journal
// the file segment is kept across the boot, and a lock held when the machine went (here: held by
// this test, as a stand-in for a process of the old boot) must not keep the next taskqd out.
TEST(DurabilityMemory, AFileSegmentFromAnotherBootKeepsItsTasksAndStartsItsLocksAfresh) {
  Daemon daemon(FaultSettings("pool", 2, "storage: file\ndurability: memory\n"));
  daemon.SetEnv("TASKQ_TEST_BOOT_ID", "boot-1");
  ASSERT_TRUE(daemon.Start());
  const uint64_t id = SubmitTask(daemon, {"--hold", "cpu"});
  ASSERT_GT(id, 0u);
  ASSERT_EQ(daemon.Stop(), 0);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {  // takes the segment lock and keeps it until killed
    std::unique_ptr<Segment> segment;
    if (!Segment::Attach(daemon.options(), &segment).ok()) ::_exit(1);
    if (pthread_mutex_lock(&segment->header()->lock) != 0) ::_exit(1);
    (void)!::write(ready[1], "x", 1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  daemon.SetEnv("TASKQ_TEST_BOOT_ID", "boot-2");
  const bool started = daemon.Start();
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  ASSERT_TRUE(started) << daemon.log();
  EXPECT_EQ(StateOf(daemon, id), "queued");
  ASSERT_EQ(daemon.Taskq({"release", std::to_string(id)}).exit_code, 0);
  EXPECT_TRUE(ReachesState(daemon, id, "succeeded"));
}

INSTANTIATE_TEST_SUITE_P(Storages, Durability, ::testing::Values("file", "shm"),
                         [](const auto& info) { return info.param; });

// README's "Durability" block, verbatim, run by bash (set -e) with taskq on PATH, on a flush
// queue, in a directory holding the script it names.
TEST(DurabilityReadme, BlockRuns) {
  const std::string block = ReadmeBlock("### Durability");
  ASSERT_FALSE(block.empty());
  Daemon daemon(FaultSettings("pool", 2, "storage: file\ndurability: flush\n"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  std::ofstream(daemon.dir() + "/backup.sh") << "#!/bin/sh\nexit 0\n";
  std::filesystem::permissions(daemon.dir() + "/backup.sh", std::filesystem::perms::owner_all);
  const CommandResult r = RunShellBlock(block, daemon.dir(), daemon.config_path());
  ASSERT_EQ(r.exit_code, 0) << Describe(r) << "\n" << block;
  EXPECT_EQ(r.out.rfind("1\ndurability:  flush: journal of ", 0), 0u) << r.out;
  EXPECT_TRUE(ReachesState(daemon, 1, "succeeded"));
}

TEST(DurabilityConfig, ABadLevelNamesTheChoices) {
  Daemon daemon("durability: fsync\n");
  const CommandResult checked = RunCommand({TaskqdPath(), "--check-config", daemon.config_path()});
  EXPECT_EQ(checked.exit_code, 2) << Describe(checked);
  EXPECT_NE(checked.err.find("durability"), std::string::npos) << checked.err;
  EXPECT_NE(checked.err.find("must be one of memory, flush, sync"), std::string::npos)
      << checked.err;
}

}  // namespace
}  // namespace taskq::testing
