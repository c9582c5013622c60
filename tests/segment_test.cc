// common/segment.h against real shared memory: FIFO order, wrap-around of the ring and the slot
// table with retention, a full queue, foreign or corrupt segments refused on attach, cancel,
// runner deaths, Check()/Repair() of deliberately broken structures, and recovery after a lock
// holder is SIGKILLed inside a critical section (TEST_CrashPoint). Each test has its own queue
// and state directory and removes its segment.
#include "common/segment.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/shm_sync.h"
#include "fmt/format.h"
#include "tests/test_util.h"

namespace taskq::testing {
namespace {

TaskSpec Cpu(uint64_t seed, uint32_t retries = 0) {
  TaskSpec spec;
  spec.kind = TaskKind::kCpu;
  spec.cpu.count = 1;
  spec.cpu.seed = seed;
  spec.retries = retries;
  return spec;
}

// The parts of the mapping behind the header, found as any process finds them (ComputeLayout),
// so tests can break the structure on purpose.
struct RawView {
  explicit RawView(Segment& segment) {
    auto* base = reinterpret_cast<char*>(segment.header());
    SegmentLayout layout = ComputeLayout(segment.capacity());
    directory = reinterpret_cast<SlotEntry*>(base + layout.directory_offset);
    links = reinterpret_cast<QueueLink*>(base + layout.links_offset);
    records = reinterpret_cast<TaskRecord*>(base + layout.records_offset);
  }
  SlotEntry* directory;
  QueueLink* links;
  TaskRecord* records;
};

// A pid that is certainly dead: a child we started and reaped.
pid_t DeadPid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

class SegmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.queue = UniqueQueueName();
    options_.state_dir = temp_.path();
    options_.capacity = 16;
    options_ = ResolveDefaults(options_);
  }

  void TearDown() override {
    segment_.reset();
    EXPECT_TRUE(Segment::Remove(options_).ok());
    EXPECT_FALSE(std::filesystem::exists(ShmPath())) << ShmPath() << " left behind";
  }

  std::string ShmPath() const { return LocateSegment(options_).Describe(); }

  // Creates the segment as a supervisor would. Retention: keep `retain_count` finished tasks
  // for a day (a fresh header keeps none).
  void Open(uint32_t retain_count = 0) {
    ASSERT_TRUE(Segment::OpenAsSupervisor(options_, &segment_).ok());
    segment_->header()->retain_count.store(retain_count);
    segment_->header()->retain_age_ms.store(86400000);
  }

  std::vector<uint64_t> Submit(std::vector<TaskSpec> specs) {
    std::vector<uint64_t> ids;
    Status s = segment_->Submit(specs, &ids);
    EXPECT_TRUE(s.ok()) << s.message();
    return ids;
  }

  std::vector<uint64_t> SubmitN(size_t n, uint64_t first_seed = 0) {
    std::vector<TaskSpec> specs;
    for (size_t i = 0; i < n; ++i) specs.push_back(Cpu(first_seed + i));
    return Submit(specs);
  }

  // Pops the next task; 0 when the queue is empty.
  uint64_t PopId(ClaimedTask* task = nullptr) {
    ClaimedTask local;
    ClaimedTask* t = task != nullptr ? task : &local;
    return segment_->Pop(getpid(), t) ? t->record.id : 0;
  }

  void CompleteOk(const ClaimedTask& task) {
    TaskOutcome outcome;
    outcome.state = TaskState::kSucceeded;
    segment_->Complete(task.slot, task.record.id, outcome);
  }

  TaskState StateOf(uint64_t id) {
    TaskInfo info;
    return segment_->Get(id, &info) ? info.state : TaskState::kFree;
  }

  std::string ReasonOf(uint64_t id) {
    TaskInfo info;
    return segment_->Get(id, &info) ? info.reason() : "";
  }

  // Forks a child that attaches the queue, sets the crash point `point` and runs `body`
  // (expected to be SIGKILLed at the point while holding the lock). Returns true when it was.
  bool RunChildKilledAt(const char* point, const std::function<void(Segment&)>& body) {
    pid_t pid = fork();
    if (pid == 0) {
      TEST_SetCrashPoint(point);
      std::unique_ptr<Segment> segment;
      if (!Segment::Attach(options_, &segment).ok()) _exit(10);
      body(*segment);
      _exit(0);  // the crash point was not reached
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return false;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

  TempDir temp_;
  Options options_;
  std::unique_ptr<Segment> segment_;
};

TEST_F(SegmentTest, PopsInSubmissionOrder) {
  Open();
  std::vector<uint64_t> ids = SubmitN(3);
  for (uint64_t id : SubmitN(1, 100)) ids.push_back(id);
  for (uint64_t id : SubmitN(5, 200)) ids.push_back(id);
  ASSERT_EQ(ids.size(), 9u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(segment_->Count().queue_depth, 9u);
  for (uint64_t id : ids) {
    ClaimedTask task;
    ASSERT_EQ(PopId(&task), id);
    EXPECT_EQ(task.record.attempts, 1u);
    EXPECT_EQ(task.record.runner_pid, getpid());
    EXPECT_EQ(StateOf(id), TaskState::kRunning);
  }
  EXPECT_EQ(PopId(), 0u);
  EXPECT_TRUE(segment_->Check().empty());
}

TEST_F(SegmentTest, ClaimedTaskCarriesItsSpec) {
  Open();
  TaskSpec io;
  io.kind = TaskKind::kIo;
  io.io.bytes = 12345;
  io.io.block = 100;
  io.io.fsync = true;
  io.io.path = temp_.path() + "/out.dat";
  TaskSpec exec;
  exec.kind = TaskKind::kExec;
  exec.exec.argv = {"/bin/echo", "hello world"};
  exec.exec.cwd = "/tmp";
  exec.exec.env = {"A=1"};
  std::vector<uint64_t> ids = Submit({Cpu(42), io, exec});
  ASSERT_EQ(ids.size(), 3u);
  ClaimedTask task;
  ASSERT_EQ(PopId(&task), ids[0]);
  EXPECT_EQ(task.spec.kind, TaskKind::kCpu);
  EXPECT_EQ(task.spec.cpu.seed, 42u);
  ASSERT_EQ(PopId(&task), ids[1]);
  EXPECT_EQ(task.spec.io.bytes, 12345u);
  EXPECT_EQ(task.spec.io.block, 100u);
  EXPECT_TRUE(task.spec.io.fsync);
  EXPECT_EQ(task.spec.io.path, io.io.path);
  ASSERT_EQ(PopId(&task), ids[2]);
  EXPECT_EQ(task.spec.exec.argv, exec.exec.argv);
  EXPECT_EQ(task.spec.exec.cwd, "/tmp");
  EXPECT_EQ(task.spec.exec.env, exec.exec.env);
}

// Rounds of submit / pop / complete go around the 16-slot table many times; retention
// keeps 5 finished tasks, evicting the rest as slots are needed.
TEST_F(SegmentTest, WrapsAroundWithRetentionEvictingFinishedTasks) {
  Open(/*retain_count=*/5);
  uint64_t last_id = 0;
  for (int round = 0; round < 300; ++round) {
    const size_t n = 1 + round % 10;
    std::vector<uint64_t> ids = SubmitN(n, round * 100);
    ASSERT_EQ(ids.size(), n) << "round " << round;
    ASSERT_GT(ids.front(), last_id);
    for (size_t i = 0; i < n; ++i) {
      ClaimedTask task;
      ASSERT_EQ(PopId(&task), ids[i]) << "round " << round;
      EXPECT_EQ(task.spec.cpu.seed, round * 100 + i);
      CompleteOk(task);
    }
    last_id = ids.back();
    // The tasks of this round are all kept; at least `retain_count` finished tasks are.
    for (uint64_t id : ids) ASSERT_EQ(StateOf(id), TaskState::kSucceeded) << id;
    std::vector<TaskInfo> listed = segment_->List();
    ASSERT_GE(listed.size(), std::min<size_t>(5, last_id));
    ASSERT_LE(listed.size(), 16u);
    EXPECT_EQ(segment_->header()->finished_live, listed.size());
  }
  EXPECT_GT(segment_->header()->next_order, 50u * segment_->capacity());
  const QueueList& ready =
      segment_->header()->lists[ReadyListOf(0, kDefaultPriority, UserLaneOf(geteuid()))];
  EXPECT_EQ(ready.head, 0u);
  EXPECT_EQ(ready.length, 0u);
  EXPECT_TRUE(segment_->Check().empty());
  // The oldest tasks were evicted, not kept.
  EXPECT_EQ(StateOf(1), TaskState::kFree);
}

// A model (a deque of expected ids) checked against random interleavings of submit, pop,
// complete and cancel, so slots are reused many times while tasks leave the list from its
// middle (cancelled) as well as from its head.
TEST_F(SegmentTest, MatchesAFifoModelUnderRandomOperations) {
  Open(/*retain_count=*/2);
  std::mt19937 random(12345);
  std::deque<uint64_t> model;
  std::set<uint64_t> seen;
  uint64_t popped = 0, cancelled = 0, full = 0;
  for (int step = 0; step < 5000; ++step) {
    switch (random() % 4) {
      case 0: {
        std::vector<TaskSpec> specs(1 + random() % 6, Cpu(step));
        std::vector<uint64_t> ids;
        Status s = segment_->Submit(specs, &ids);
        ASSERT_TRUE(s.ok() || s.code() == StatusCode::kQueueFull) << s.message();
        if (!s.ok()) {
          ++full;
          ASSERT_LT(ids.size(), specs.size());
        }
        for (uint64_t id : ids) {
          ASSERT_TRUE(seen.insert(id).second) << "id " << id << " handed out twice";
          ASSERT_TRUE(model.empty() || id > model.back());
          model.push_back(id);
        }
        break;
      }
      case 1:
      case 2: {
        ClaimedTask task;
        uint64_t id = PopId(&task);
        if (model.empty()) {
          ASSERT_EQ(id, 0u);
          break;
        }
        ASSERT_EQ(id, model.front()) << "step " << step;
        model.pop_front();
        CompleteOk(task);
        ++popped;
        break;
      }
      case 3: {
        if (model.empty()) break;
        size_t at = random() % model.size();
        ASSERT_TRUE(segment_->Cancel(model[at]).ok());
        EXPECT_EQ(StateOf(model[at]), TaskState::kCancelled);
        model.erase(model.begin() + static_cast<long>(at));
        ++cancelled;
        break;
      }
    }
    ASSERT_LE(segment_->Count().queue_depth, segment_->capacity());
  }
  while (!model.empty()) {
    ASSERT_EQ(PopId(), model.front());
    model.pop_front();
  }
  EXPECT_EQ(PopId(), 0u);
  EXPECT_GT(popped, 1000u);
  EXPECT_GT(cancelled, 100u);
  EXPECT_GT(full, 0u);
  EXPECT_GT(segment_->header()->next_order, 50u * segment_->capacity());
  EXPECT_TRUE(segment_->Check().empty());
}

TEST_F(SegmentTest, FullQueueSubmitsWhatFits) {
  Open(/*retain_count=*/100);
  std::vector<TaskSpec> specs;
  for (uint64_t i = 0; i < 20; ++i) specs.push_back(Cpu(i));
  std::vector<uint64_t> ids;
  Status s = segment_->Submit(specs, &ids);
  EXPECT_EQ(s.code(), StatusCode::kQueueFull);
  EXPECT_NE(s.message().find("queue is full"), std::string::npos) << s.message();
  ASSERT_EQ(ids.size(), 16u);
  for (uint64_t i = 0; i < 16; ++i) {
    EXPECT_EQ(ids[i], i + 1);
    TaskInfo info;
    ASSERT_TRUE(segment_->Get(ids[i], &info));
    EXPECT_EQ(info.spec.cpu.seed, i) << "task " << ids[i] << " holds another spec";
  }
  EXPECT_EQ(segment_->header()->submitted_total, 16u);

  // Still full: nothing is submitted and no id is returned.
  std::vector<uint64_t> more;
  EXPECT_EQ(segment_->Submit({Cpu(99)}, &more).code(), StatusCode::kQueueFull);
  EXPECT_TRUE(more.empty());
  // A finished task gives its slot to new work even while the retention policy would keep it
  // (results never keep work out, issue 17): exactly one more fits, in task 1's slot.
  ClaimedTask task;
  ASSERT_EQ(PopId(&task), 1u);
  CompleteOk(task);
  EXPECT_EQ(segment_->Submit({Cpu(99), Cpu(100)}, &more).code(), StatusCode::kQueueFull);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ((more[0] - 1) % 16, 0u);
  EXPECT_EQ(StateOf(1), TaskState::kFree);
  for (uint64_t id = 2; id <= 16; ++id) EXPECT_EQ(PopId(), id);
  EXPECT_EQ(PopId(), more[0]);
  EXPECT_TRUE(segment_->Check().empty());
}

TEST_F(SegmentTest, CancelsQueuedTasksOnly) {
  Open(/*retain_count=*/100);
  std::vector<uint64_t> ids = SubmitN(3);
  ClaimedTask running;
  ASSERT_EQ(PopId(&running), ids[0]);

  Status s = segment_->Cancel(ids[0]);
  EXPECT_EQ(s.code(), StatusCode::kFailed);
  EXPECT_NE(s.message().find("running"), std::string::npos) << s.message();
  EXPECT_EQ(StateOf(ids[0]), TaskState::kRunning);

  EXPECT_TRUE(segment_->Cancel(ids[1]).ok());
  EXPECT_EQ(StateOf(ids[1]), TaskState::kCancelled);
  EXPECT_EQ(ReasonOf(ids[1]), "cancelled while queued");
  EXPECT_EQ(segment_->Cancel(ids[1]).code(), StatusCode::kFailed);  // already finished

  EXPECT_EQ(segment_->Cancel(999).code(), StatusCode::kInvalid);
  EXPECT_EQ(segment_->Cancel(0).code(), StatusCode::kInvalid);

  // The cancelled task's ring entry is stale: Pop skips it.
  EXPECT_EQ(PopId(), ids[2]);
  EXPECT_EQ(PopId(), 0u);
  CompleteOk(running);
  EXPECT_EQ(segment_->Cancel(ids[0]).code(), StatusCode::kFailed);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kSucceeded);
  EXPECT_TRUE(segment_->Check().empty());
}

TEST_F(SegmentTest, RunnerDiedRequeuesWhileRetriesAllow) {
  Open(/*retain_count=*/100);
  std::vector<uint64_t> ids = Submit({Cpu(1, /*retries=*/1), Cpu(2)});
  ClaimedTask task;
  ASSERT_EQ(PopId(&task), ids[0]);
  EXPECT_EQ(segment_->RunnerDied(task.slot, ids[0], "runner killed", SIGKILL), TaskState::kQueued);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kQueued);
  EXPECT_NE(ReasonOf(ids[0]).find("requeued"), std::string::npos) << ReasonOf(ids[0]);
  // A late report from the dead runner changes nothing.
  CompleteOk(task);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kQueued);

  // Requeued at the back.
  ASSERT_EQ(PopId(), ids[1]);
  ASSERT_EQ(PopId(&task), ids[0]);
  EXPECT_EQ(task.record.attempts, 2u);
  EXPECT_EQ(segment_->RunnerDied(task.slot, ids[0], "runner killed", SIGKILL), TaskState::kLost);
  TaskInfo info;
  ASSERT_TRUE(segment_->Get(ids[0], &info));
  EXPECT_EQ(info.state, TaskState::kLost);
  EXPECT_EQ(info.record.signal, SIGKILL);
  EXPECT_NE(info.reason().find("attempt 2 of 2"), std::string::npos) << info.reason();
  // Once finished, another death report is ignored.
  EXPECT_EQ(segment_->RunnerDied(task.slot, ids[0], "again", SIGKILL), TaskState::kLost);
  EXPECT_EQ(PopId(), 0u);
}

TEST_F(SegmentTest, RunnerDiedWithoutRetriesIsLost) {
  Open(/*retain_count=*/100);
  std::vector<uint64_t> ids = Submit({Cpu(1), Cpu(2, /*retries=*/3), Cpu(3)});
  ClaimedTask task;
  ASSERT_EQ(PopId(&task), ids[0]);
  EXPECT_EQ(segment_->RunnerDied(task.slot, ids[0], "gone", 0), TaskState::kLost);
  EXPECT_NE(ReasonOf(ids[0]).find("lost: gone (attempt 1 of 1)"), std::string::npos)
      << ReasonOf(ids[0]);
  // Retries left, but the caller forbids them (e.g. the task itself crashed the runner).
  ASSERT_EQ(PopId(&task), ids[1]);
  EXPECT_EQ(segment_->RunnerDied(task.slot, ids[1], "gone", 0, /*may_retry=*/false),
            TaskState::kLost);
  // A task whose deadline fired ends timed_out, not lost or requeued.
  ASSERT_EQ(PopId(&task), ids[2]);
  segment_->MarkTimeoutFired(task.slot, ids[2]);
  EXPECT_EQ(segment_->RunnerDied(task.slot, ids[2], "killed", SIGKILL), TaskState::kTimedOut);
  EXPECT_EQ(PopId(), 0u);
  EXPECT_EQ(segment_->header()->finished_live, 3u);
  EXPECT_TRUE(segment_->Check().empty());
}

// --- The queue lists (issue 18): what waits is kept off the ready lists ---

TEST_F(SegmentTest, ADelayedTopPriorityTaskNeitherRunsEarlyNorHoldsBackTheRest) {
  Open();
  TaskSpec delayed = Cpu(0);
  delayed.priority = 9;
  delayed.not_before_us = NowUs() + 3600ull * 1000000;  // an hour from now
  const std::vector<uint64_t> first = Submit({delayed});
  const std::vector<uint64_t> rest = SubmitN(3);
  const SegmentHeader* h = segment_->header();
  EXPECT_EQ(h->lists[kHeldList].length, 1u);
  EXPECT_EQ(h->lists[ReadyListOf(0, kDefaultPriority, UserLaneOf(geteuid()))].length, 3u);
  ClaimedTask task;
  ASSERT_EQ(PopId(&task), rest[0]);
  CompleteOk(task);
  // The delay ends (moved into the past); the sweep moves the task to its ready list, where its
  // priority puts it first.
  RawView raw(*segment_);
  raw.records[(first[0] - 1) % 16].not_before_us = NowUs() - 1;
  const HeldSweep sweep = segment_->SweepHeld();
  EXPECT_EQ(sweep.ready, 1u);
  EXPECT_EQ(h->lists[kHeldList].length, 0u);
  EXPECT_EQ(PopId(), first[0]);
  EXPECT_EQ(PopId(), rest[1]);
  EXPECT_EQ(PopId(), rest[2]);
  EXPECT_EQ(PopId(), 0u);
  EXPECT_TRUE(segment_->Check().empty());
}

// The supervisor walks the held list only when a task joined it, and hands over the delays a walk
// found when they fall due (daemon/held_walk.h): a walk reports every delay in list order, and
// a task joining the list marks it.
TEST_F(SegmentTest, AWalkOfTheHeldListFindsEveryDelayAndJoiningTasksAreLogged) {
  Open(/*retain_count=*/100);
  const uint64_t now = NowUs();
  TaskSpec in_an_hour = Cpu(0);
  in_an_hour.not_before_us = now + 3600ull * 1000000;
  TaskSpec in_a_minute = Cpu(1);
  in_a_minute.not_before_us = now + 60ull * 1000000;
  TaskSpec held = Cpu(2);
  held.hold = true;
  const std::vector<uint64_t> ids = Submit({in_an_hour, in_a_minute, held});
  EXPECT_TRUE(segment_->HeldJoinsLogged()) << "tasks joined the held list";
  EXPECT_FALSE(segment_->HeldListChanged()) << "three joins fit the log: no walk asked for";
  HeldSweep sweep = segment_->SweepHeld();
  EXPECT_EQ(sweep.held, 3u);
  ASSERT_EQ(sweep.delays.size(), 2u) << "the held one waits for no time";
  EXPECT_EQ(sweep.delays[0].id, ids[0]);
  EXPECT_EQ(sweep.delays[0].due_us, in_an_hour.not_before_us);
  EXPECT_EQ(sweep.delays[1].id, ids[1]);
  EXPECT_EQ(sweep.delays[1].due_us, in_a_minute.not_before_us);
  EXPECT_FALSE(segment_->HeldJoinsLogged()) << "the walk saw them: the log is cleared";

  // Handed over when due, a delayed task moves without a walk; one not due yet stays, and one
  // that is no longer there (cancelled) is skipped.
  const std::vector<HeldDelay> found = sweep.delays;
  sweep = segment_->ReleaseDue(found);
  EXPECT_EQ(sweep.ready, 0u);
  EXPECT_EQ(sweep.delays.size(), 2u) << "not due yet: still waiting";
  RawView raw(*segment_);
  raw.records[found[1].slot].not_before_us = NowUs() - 1;  // the minute is over
  sweep = segment_->ReleaseDue({found[1]});
  EXPECT_EQ(sweep.ready, 1u);
  EXPECT_FALSE(segment_->HeldJoinsLogged());
  ClaimedTask due_task;
  ASSERT_EQ(PopId(&due_task), ids[1]);
  CompleteOk(due_task);
  sweep = segment_->ReleaseDue({found[1]});
  EXPECT_EQ(sweep.ready + sweep.held + sweep.failed, 0u) << "gone since: skipped";

  // A release and a dependency's success move their tasks without the mark or a walk.
  const std::vector<uint64_t> dep = SubmitN(1);
  TaskSpec dependent = Cpu(3);
  dependent.after = {dep[0]};
  const std::vector<uint64_t> waiting = Submit({dependent});
  EXPECT_TRUE(segment_->HeldJoinsLogged());
  sweep = segment_->StepHeldJoins();
  EXPECT_EQ(sweep.held, 1u) << "only the new one is looked at";
  EXPECT_TRUE(sweep.delays.empty()) << "it waits for its dependency, not a time";
  EXPECT_FALSE(segment_->HeldJoinsLogged());
  ASSERT_TRUE(segment_->SetHeld(ids[2], false).ok());
  EXPECT_FALSE(segment_->HeldJoinsLogged());
  ClaimedTask task;
  ASSERT_EQ(PopId(&task), ids[2]) << "released: runnable at once";
  CompleteOk(task);
  ASSERT_EQ(PopId(&task), dep[0]);
  CompleteOk(task);
  EXPECT_FALSE(segment_->HeldJoinsLogged());
  EXPECT_EQ(PopId(), waiting[0]) << "its dependency's success released it";

  // A dependent whose dependency failed rejoins the held list: logged, and its step fails it
  // without a walk.
  const std::vector<uint64_t> dep2 = SubmitN(1);
  TaskSpec doomed = Cpu(4);
  doomed.after = {dep2[0]};
  const std::vector<uint64_t> never = Submit({doomed});
  segment_->SweepHeld();
  ASSERT_EQ(PopId(&task), dep2[0]);
  TaskOutcome failed;
  failed.state = TaskState::kFailed;
  failed.exit_code = 1;
  segment_->Complete(task.slot, task.record.id, failed);
  EXPECT_TRUE(segment_->HeldJoinsLogged());
  sweep = segment_->StepHeldJoins();
  EXPECT_EQ(sweep.failed, 1u);
  EXPECT_EQ(StateOf(never[0]), TaskState::kFailed);
  EXPECT_EQ(sweep.held, 0u) << "the task an hour away is not looked at again";
  EXPECT_FALSE(segment_->HeldListChanged());
  sweep = segment_->SweepHeld();
  EXPECT_EQ(sweep.held, 1u) << "a walk still finds the task an hour away";
  EXPECT_TRUE(segment_->Check().empty());
}

TEST_F(SegmentTest, MoreHeldJoinsThanTheLogHoldsAskForAWalkThatFindsThemAll) {
  options_.capacity = 4096;
  options_ = ResolveDefaults(options_);
  Open(/*retain_count=*/100);
  const uint64_t due = NowUs() + 3600ull * 1000000;
  std::vector<TaskSpec> delayed(kHeldJoinLog + 1, Cpu(0));
  for (TaskSpec& spec : delayed) spec.not_before_us = due;
  const std::vector<uint64_t> ids = Submit(delayed);
  EXPECT_TRUE(segment_->HeldListChanged()) << "the log is full: a walk is asked for";
  HeldSweep sweep = segment_->SweepHeld();
  EXPECT_EQ(sweep.held, kHeldJoinLog + 1);
  EXPECT_EQ(sweep.delays.size(), kHeldJoinLog + 1);
  EXPECT_FALSE(segment_->HeldListChanged());
  EXPECT_FALSE(segment_->HeldJoinsLogged()) << "the walk cleared the log too";

  // Each join costs a step of itself alone, however many wait: one more delayed submit is one.
  TaskSpec one_more = Cpu(1);
  one_more.not_before_us = due + 1;
  const std::vector<uint64_t> last = Submit({one_more});
  sweep = segment_->StepHeldJoins();
  EXPECT_EQ(sweep.held, 1u);
  ASSERT_EQ(sweep.delays.size(), 1u);
  EXPECT_EQ(sweep.delays[0].id, last[0]);
  EXPECT_EQ(sweep.delays[0].due_us, due + 1);
  EXPECT_TRUE(segment_->Check().empty());
}

// Fair sharing (issue 18): each user's ready tasks are a list of their own (a lane: uid modulo
// kUserLanes), so users of one priority take turns by comparing the heads of the lanes.
TEST_F(SegmentTest, UsersTakeTurnsFromTheirOwnLanesOldestFirst) {
  Open(/*retain_count=*/100);
  constexpr uint32_t kAlice = 60001, kBob = 60002, kCarol = 60003;
  ASSERT_NE(UserLaneOf(kAlice), UserLaneOf(kBob));
  auto submit_as = [&](uint32_t uid, size_t n) {
    std::vector<uint64_t> ids;
    const std::vector<TaskSpec> specs(n, Cpu(0));
    EXPECT_TRUE(segment_->Submit(specs, &ids, uid).ok());
    return ids;
  };
  const std::vector<uint64_t> alice = submit_as(kAlice, 4);
  const std::vector<uint64_t> bob = submit_as(kBob, 2);
  const SegmentHeader* h = segment_->header();
  EXPECT_EQ(h->lists[ReadyListOf(0, kDefaultPriority, UserLaneOf(kAlice))].length, 4u);
  EXPECT_EQ(h->lists[ReadyListOf(0, kDefaultPriority, UserLaneOf(kBob))].length, 2u);
  std::vector<uint64_t> order;
  ClaimedTask task;
  for (int i = 0; i < 6; ++i) {
    order.push_back(PopId(&task));
    CompleteOk(task);
  }
  // Alice's oldest first, then the users alternate while both have tasks; then Alice's rest.
  EXPECT_EQ(order, (std::vector<uint64_t>{alice[0], bob[0], alice[1], bob[1], alice[2], alice[3]}));
  EXPECT_EQ(h->ready_lanes[LaneSetOf(0, kDefaultPriority)], 0u) << "every lane emptied";

  // A user whose tasks all wait (held) does not take a turn: Alice's tasks go in order (that
  // the pop no longer walks her list for it is segment_bench's FairPopAtDepth).
  TaskSpec later = Cpu(1);
  later.not_before_us = NowUs() + 3600ull * 1000000;
  std::vector<uint64_t> ids;
  ASSERT_TRUE(segment_->Submit(std::vector<TaskSpec>{later}, &ids, kCarol).ok());
  const std::vector<uint64_t> more = submit_as(kAlice, 3);
  for (const uint64_t id : more) {
    ASSERT_EQ(PopId(&task), id);
    CompleteOk(task);
  }

  // Two users sharing a lane (uids equal modulo kUserLanes) still take turns, within it.
  const uint32_t kAlicesLaneMate = kAlice + kUserLanes;
  const std::vector<uint64_t> first = submit_as(kAlice, 2);
  const std::vector<uint64_t> mate = submit_as(kAlicesLaneMate, 1);
  order.clear();
  for (int i = 0; i < 3; ++i) {
    order.push_back(PopId(&task));
    CompleteOk(task);
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{mate[0], first[0], first[1]})) << "Alice went last";
  EXPECT_TRUE(segment_->Check().empty());
}

TEST_F(SegmentTest, TheTurnGoesToTheOldestTaskOfAnotherUserWhicheverLaneItIsIn) {
  Open(/*retain_count=*/100);
  constexpr uint32_t kAlice = 60001, kBob = 60002, kAlicesLaneMate = kAlice + kUserLanes;
  auto submit_as = [&](uint32_t uid, size_t n) {
    std::vector<uint64_t> ids;
    EXPECT_TRUE(segment_->Submit(std::vector<TaskSpec>(n, Cpu(0)), &ids, uid).ok());
    return ids;
  };
  const std::vector<uint64_t> alice = submit_as(kAlice, 2);
  const std::vector<uint64_t> mate = submit_as(kAlicesLaneMate, 1);
  const std::vector<uint64_t> bob = submit_as(kBob, 1);
  std::vector<uint64_t> order;
  ClaimedTask task;
  for (int i = 0; i < 4; ++i) {
    order.push_back(PopId(&task));
    CompleteOk(task);
  }
  // After Alice, the lane mate's task is older than Bob's (the head of his lane): it goes first.
  EXPECT_EQ(order, (std::vector<uint64_t>{alice[0], mate[0], alice[1], bob[0]}));
}

TEST_F(SegmentTest, EqualOrdersInTwoLanesGoByIdAsAJournalReplayLinksThem) {
  Open(/*retain_count=*/100);
  std::vector<uint64_t> first, second;
  ASSERT_TRUE(segment_->Submit(std::vector<TaskSpec>{Cpu(0)}, &first, 60017).ok());
  ASSERT_TRUE(segment_->Submit(std::vector<TaskSpec>{Cpu(1)}, &second, 60002).ok());
  ASSERT_LT(UserLaneOf(60002), UserLaneOf(60017)) << "the younger task's lane is looked at first";
  RawView raw(*segment_);
  const uint32_t capacity = segment_->capacity();
  raw.links[(first[0] - 1) % capacity].order = raw.links[(second[0] - 1) % capacity].order = 0;
  EXPECT_EQ(PopId(), first[0]);
  EXPECT_EQ(PopId(), second[0]);
}

TEST_F(SegmentTest, AnotherUsersTaskWhoseDependencyWasRestartedWaitsInsteadOfTakingItsTurn) {
  Open(/*retain_count=*/100);
  constexpr uint32_t kAlice = 60001, kBob = 60002;
  std::vector<uint64_t> alice, bob;
  ASSERT_TRUE(segment_->Submit(std::vector<TaskSpec>{Cpu(0), Cpu(1)}, &alice, kAlice).ok());
  TaskSpec dependent = Cpu(2);
  dependent.after = {alice[0]};
  ASSERT_TRUE(segment_->Submit(std::vector<TaskSpec>{dependent}, &bob, kBob).ok());
  ClaimedTask task;
  ASSERT_EQ(PopId(&task), alice[0]);
  CompleteOk(task);  // releases Bob's task to its ready list
  ASSERT_TRUE(segment_->Restart(alice[0], "again").ok());
  // Alice was served last: Bob's task would be her turn's pick, but its dependency runs again.
  ASSERT_EQ(PopId(&task), alice[1]);
  CompleteOk(task);
  EXPECT_EQ(StateOf(bob[0]), TaskState::kQueued);
  ASSERT_EQ(PopId(&task), alice[0]);
  CompleteOk(task);
  EXPECT_EQ(PopId(), bob[0]);
  EXPECT_TRUE(segment_->Check().empty());
}

TEST_F(SegmentTest, AReadyListWhoseLaneBitIsClearIsFoundByCheckAndRepaired) {
  Open(/*retain_count=*/100);
  const std::vector<uint64_t> ids = SubmitN(2);
  segment_->header()->ready_lanes[LaneSetOf(0, kDefaultPriority)] = 0;  // scribbled
  const std::vector<std::string> problems = segment_->Check();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("is not marked as holding tasks"), std::string::npos) << problems[0];
  EXPECT_EQ(segment_->Repair().size(), 1u);
  EXPECT_TRUE(segment_->Check().empty());
  EXPECT_EQ(PopId(), ids[0]);
  segment_->header()->ready_lanes[LaneSetOf(0, 9)] = ~0u;  // set bits of empty lists: skipped
  EXPECT_EQ(PopId(), ids[1]);
  EXPECT_EQ(segment_->header()->ready_lanes[LaneSetOf(0, 9)], 0u) << "a pop clears stale bits";
}

TEST_F(SegmentTest, ADependentIsReleasedByItsDependencysSuccessWithoutASweep) {
  Open(/*retain_count=*/100);
  const std::vector<uint64_t> a = SubmitN(1);
  TaskSpec dependent = Cpu(1);
  dependent.after = {a[0]};
  const std::vector<uint64_t> b = Submit({dependent});
  EXPECT_EQ(segment_->header()->lists[kHeldList].length, 1u);
  ClaimedTask task;
  ASSERT_EQ(PopId(&task), a[0]);
  EXPECT_EQ(PopId(), 0u);  // b waits
  TaskOutcome ok;
  ok.state = TaskState::kSucceeded;
  ClaimedTask next;
  ASSERT_TRUE(segment_->CompleteAndPop(task.slot, a[0], ok, getpid(), &next));
  EXPECT_EQ(next.record.id, b[0]);
  EXPECT_TRUE(segment_->Check().empty());
}

// True while thread `tid` of this process is blocked in the futex system call.
bool AsleepInFutex(pid_t tid) {
  std::ifstream in(fmt::format("/proc/self/task/{}/syscall", tid));
  std::string number;
  return static_cast<bool>(in >> number) && number == std::to_string(SYS_futex);
}

TEST_F(SegmentTest, AClientAsleepOnATasksOwnWordWakesAtThatTasksEnd) {
  Open(/*retain_count=*/100);
  const std::vector<uint64_t> ids = SubmitN(2);
  ClaimedTask a, b;
  ASSERT_EQ(PopId(&a), ids[0]);
  ASSERT_EQ(PopId(&b), ids[1]);
  EXPECT_EQ(segment_->TaskStateWord(ids[1] + 100), nullptr) << "no such task";
  std::atomic<uint32_t>* word = segment_->TaskStateWord(ids[0]);
  ASSERT_NE(word, nullptr);
  const uint32_t running = static_cast<uint32_t>(TaskState::kRunning);
  ASSERT_EQ(word->load(), running);
  std::atomic<pid_t> tid{0};
  std::atomic<bool> woken{false};
  std::thread waiter([&] {
    // As Client::WaitStates sleeps: counted in `waiters`, on the task's word. Without a wake at
    // the task's end this sleep lasts a minute and returns false.
    tid = static_cast<pid_t>(::syscall(SYS_gettid));
    segment_->header()->waiters.fetch_add(1);
    woken = FutexWait(word, running, 60'000'000);
    segment_->header()->waiters.fetch_sub(1);
  });
  // Both ends come once the waiter is asleep in the kernel (so a missing wake cannot be hidden
  // by a sleep that compared the word after the end).
  const bool asleep = WaitUntil([&] { return tid != 0 && AsleepInFutex(tid); }, 10000);
  CompleteOk(b);  // another task's end: its own word only
  CompleteOk(a);
  waiter.join();
  EXPECT_TRUE(asleep);
  EXPECT_TRUE(woken);
  EXPECT_EQ(word->load(), static_cast<uint32_t>(TaskState::kSucceeded));
}

TEST_F(SegmentTest, ATaskWithTwoDependenciesWaitsForBothAndAFailedOneFailsItAtTheSweep) {
  Open(/*retain_count=*/100);
  const std::vector<uint64_t> deps = SubmitN(3);  // 1, 2, 3
  TaskSpec both = Cpu(10);
  both.after = {deps[0], deps[1]};
  TaskSpec on_third = Cpu(11);
  on_third.after = {deps[2]};
  const std::vector<uint64_t> waiting = Submit({both, on_third});
  ClaimedTask t1, t2, t3;
  ASSERT_EQ(PopId(&t1), deps[0]);
  ASSERT_EQ(PopId(&t2), deps[1]);
  ASSERT_EQ(PopId(&t3), deps[2]);
  CompleteOk(t2);  // the second dependency first: the first still blocks
  EXPECT_EQ(PopId(), 0u);
  CompleteOk(t1);
  EXPECT_EQ(PopId(), waiting[0]);  // released by the completion, no sweep
  TaskOutcome failed;
  failed.state = TaskState::kFailed;
  failed.exit_code = 1;
  segment_->Complete(t3.slot, t3.record.id, failed);
  EXPECT_EQ(PopId(), 0u);  // never runnable: the sweep fails it with the reason
  const HeldSweep sweep = segment_->SweepHeld();
  EXPECT_EQ(sweep.failed, 1u);
  EXPECT_EQ(StateOf(waiting[1]), TaskState::kFailed);
  EXPECT_NE(ReasonOf(waiting[1]).find("dependency 3 ended failed"), std::string::npos)
      << ReasonOf(waiting[1]);
  EXPECT_TRUE(segment_->Check().empty());
}

TEST_F(SegmentTest, AReleasedTaskKeepsItsPlaceInTheQueue) {
  Open();
  const std::vector<uint64_t> ids = SubmitN(3);
  ASSERT_TRUE(segment_->SetHeld(ids[0], true).ok());
  EXPECT_EQ(PopId(), ids[1]);
  ASSERT_TRUE(segment_->SetHeld(ids[0], false).ok());
  EXPECT_EQ(PopId(), ids[0]);  // older than task 3: it goes first
  EXPECT_EQ(PopId(), ids[2]);
  EXPECT_EQ(PopId(), 0u);
  EXPECT_TRUE(segment_->Check().empty());
}

TEST_F(SegmentTest, GroupsAndPrioritiesEachKeepTheirOwnFifo) {
  Open();
  ASSERT_TRUE(segment_->AddGroup("other", GroupSettings{}, false, false).ok());
  std::vector<TaskSpec> specs;
  for (uint32_t i = 0; i < 8; ++i) {
    TaskSpec spec = Cpu(i);
    spec.priority = i % 2 == 0 ? 2 : 7;
    if (i % 4 == 3) spec.group = "other";
    specs.push_back(spec);
  }
  const std::vector<uint64_t> ids = Submit(specs);  // 1..8: priorities 2 7 2 7 2 7 2 7
  // default: 7 (ids 2, 6), then 2 (1, 3, 5, 7); other: 7 (4, 8).
  std::vector<uint64_t> popped;
  for (uint64_t id; (id = PopId()) != 0;) popped.push_back(id);
  EXPECT_EQ(popped, (std::vector<uint64_t>{ids[1], ids[5], ids[0], ids[2], ids[4], ids[6]}));
  ClaimedTask task;
  ASSERT_TRUE(segment_->Pop(getpid(), &task, 1));
  EXPECT_EQ(task.record.id, ids[3]);
  ASSERT_TRUE(segment_->Pop(getpid(), &task, 1));
  EXPECT_EQ(task.record.id, ids[7]);
  EXPECT_TRUE(segment_->Check().empty());
}

TEST_F(SegmentTest, CorruptRecordFailsAloneOnPop) {
  Open(/*retain_count=*/100);
  std::vector<uint64_t> ids = SubmitN(3);
  RawView raw(*segment_);
  raw.records[(ids[1] - 1) % 16].kind = 99;
  raw.records[(ids[1] - 1) % 16].payload_len = 100000;
  EXPECT_EQ(PopId(), ids[0]);
  EXPECT_EQ(PopId(), ids[2]);
  EXPECT_EQ(StateOf(ids[1]), TaskState::kFailed);
  EXPECT_NE(ReasonOf(ids[1]).find("rejected"), std::string::npos) << ReasonOf(ids[1]);
}

// --- Check() and Repair() on structures broken on purpose ---

TEST_F(SegmentTest, RepairPutsAQueuedTaskMissingFromItsListBack) {
  Open();
  std::vector<uint64_t> ids = SubmitN(3);
  RawView raw(*segment_);
  // Task 2 (slot 1) unlinked from between tasks 1 and 3, as a runner killed mid-pop leaves it.
  raw.links[0].next = 3;
  raw.links[2].prev = 1;
  raw.links[1] = QueueLink{};
  segment_->header()->lists[ReadyListOf(0, kDefaultPriority, UserLaneOf(geteuid()))].length = 2;
  std::vector<std::string> problems = segment_->Check();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("queued task 2 is missing from the queue"), std::string::npos)
      << problems[0];
  EXPECT_EQ(segment_->Repair().size(), 1u);
  EXPECT_TRUE(segment_->Check().empty());
  EXPECT_TRUE(segment_->Repair().empty());
  EXPECT_EQ(segment_->header()->lock_repairs, 0u);  // explicit repairs are not lock deaths
  // Back in its place: the rebuilt list follows each task's order, so FIFO holds.
  EXPECT_EQ(PopId(), ids[0]);
  EXPECT_EQ(PopId(), ids[1]);
  EXPECT_EQ(PopId(), ids[2]);
  EXPECT_EQ(PopId(), 0u);
}

TEST_F(SegmentTest, RepairMendsAListThatLoopsBack) {
  Open();
  std::vector<uint64_t> ids = SubmitN(2);
  RawView raw(*segment_);
  // The tail points back at the head: a walk must stop, and a pop must not hand task 1 out twice.
  raw.links[1].next = 1;
  std::vector<std::string> problems = segment_->Check();
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems[0].find("is broken at task 1"), std::string::npos) << problems[0];
  EXPECT_EQ(segment_->Repair().size(), 1u);
  EXPECT_TRUE(segment_->Check().empty());
  EXPECT_EQ(PopId(), ids[0]);
  EXPECT_EQ(PopId(), ids[1]);
  EXPECT_EQ(PopId(), 0u);  // task 1 is not handed out twice
}

TEST_F(SegmentTest, RepairMendsEveryBrokenInvariantAtOnce) {
  Open(/*retain_count=*/100);
  std::vector<uint64_t> ids = SubmitN(6);
  ClaimedTask task;
  ASSERT_EQ(PopId(&task), ids[0]);
  CompleteOk(task);
  RawView raw(*segment_);
  SegmentHeader* h = segment_->header();
  // A slot with an unknown state, one whose id does not map onto it, a half-submitted task of a
  // dead client, an impossible queue order, a queue list whose head lost its link, a next id
  // below a live id, a wrong finished count.
  raw.directory[10].id.store(11);
  raw.directory[10].state.store(42);
  raw.directory[11].id.store(5);
  raw.directory[11].state.store(static_cast<uint32_t>(TaskState::kQueued));
  raw.directory[12].id.store(13);
  raw.directory[12].owner_pid.store(DeadPid());
  raw.directory[12].state.store(static_cast<uint32_t>(TaskState::kReserved));
  h->next_order = kMaxTaskId + 5;
  raw.links[1] = QueueLink{};  // task 2, the list's head
  h->next_id = 2;
  h->finished_live = 7;

  // Check reports what Repair mends ...
  std::string reported;
  for (const std::string& p : segment_->Check()) reported += p + "\n";
  for (const char* expected : {"queue order", "is broken at task 2", "next id 2"}) {
    EXPECT_NE(reported.find(expected), std::string::npos) << "no '" << expected << "' in\n"
                                                          << reported;
  }
  // ... and Repair mends it all.
  std::vector<std::string> fixes = segment_->Repair();
  std::string all;
  for (const std::string& f : fixes) all += f + "\n";
  for (const char* expected :
       {"queue order", "slot 10 holds state 42 and id 11", "slot 11 holds state 2 and id 5",
        "task 13 was being submitted", "queue lists rebuilt", "next id 2",
        "finished count 7 recounted as 1"}) {
    EXPECT_NE(all.find(expected), std::string::npos) << "no '" << expected << "' in\n" << all;
  }
  EXPECT_TRUE(segment_->Check().empty());
  EXPECT_TRUE(segment_->Repair().empty());
  // The queued tasks come back in id order, and the next id is above every live one.
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_EQ(PopId(), ids[i]);
  EXPECT_EQ(PopId(), 0u);
  std::vector<uint64_t> next = SubmitN(1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_GT(next[0], 13u);
}

// --- Foreign and corrupt segments ---

class ForeignSegmentTest : public SegmentTest {
 protected:
  // Writes `bytes` as the queue's segment, as another program (or a crash) might have.
  void WriteSegmentFile(const std::string& bytes, mode_t mode = 0600) {
    int fd = ::open(ShmPath().c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode);
    ASSERT_GE(fd, 0) << ShmPath() << ": " << std::strerror(errno);
    ASSERT_EQ(fchmod(fd, mode), 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }

  std::string ReadSegmentFile() {
    std::string out;
    int fd = ::open(ShmPath().c_str(), O_RDONLY | O_CLOEXEC);
    char buffer[65536];
    for (ssize_t n; fd >= 0 && (n = ::read(fd, buffer, sizeof(buffer))) > 0;) out.append(buffer, n);
    if (fd >= 0) ::close(fd);
    return out;
  }

  // A real segment's bytes with `mutate` applied to its header.
  std::string ValidSegmentWith(const std::function<void(SegmentHeader*)>& mutate) {
    std::filesystem::remove(ShmPath());
    std::unique_ptr<Segment> segment;
    EXPECT_TRUE(Segment::OpenAsSupervisor(options_, &segment).ok());
    segment.reset();
    std::string bytes = ReadSegmentFile();
    mutate(reinterpret_cast<SegmentHeader*>(bytes.data()));
    return bytes;
  }

  // Attach and OpenAsSupervisor both refuse the file with `needle` in a message naming it, and
  // leave its bytes alone.
  void ExpectRefused(const std::string& needle) {
    const std::string before = ReadSegmentFile();
    std::unique_ptr<Segment> attached;
    Status a = Segment::Attach(options_, &attached);
    EXPECT_EQ(a.code(), StatusCode::kUnavailable);
    EXPECT_TRUE(attached == nullptr);
    EXPECT_NE(a.message().find(needle), std::string::npos) << a.message();
    EXPECT_NE(a.message().find(ShmPath()), std::string::npos) << a.message();
    EXPECT_EQ(a.message().find('\n'), std::string::npos) << a.message();
    Status s = Segment::OpenAsSupervisor(options_, &segment_);
    EXPECT_EQ(s.code(), StatusCode::kUnavailable);
    EXPECT_TRUE(segment_ == nullptr);
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
    EXPECT_EQ(ReadSegmentFile(), before) << "a refused segment was modified";
  }
};

TEST_F(ForeignSegmentTest, RefusesAMissingQueue) {
  std::unique_ptr<Segment> attached;
  Status s = Segment::Attach(options_, &attached);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("no queue '" + options_.queue + "'"), std::string::npos)
      << s.message();
}

TEST_F(ForeignSegmentTest, RefusesRandomBytes) {
  std::mt19937 random(7);
  std::string bytes(sizeof(SegmentHeader) + 64 * 1024, '\0');  // more than a header
  for (char& c : bytes) c = static_cast<char>(random());
  WriteSegmentFile(bytes);
  ExpectRefused("wrong magic number");
}

TEST_F(ForeignSegmentTest, RefusesAFileSmallerThanAHeader) {
  WriteSegmentFile("not a taskq segment at all\n");
  ExpectRefused("not a taskq segment");
}

TEST_F(ForeignSegmentTest, RefusesAnEmptyFile) {
  WriteSegmentFile("");  // a creator killed between shm_open and ftruncate
  ExpectRefused("is 0 bytes");
}

TEST_F(ForeignSegmentTest, RefusesAHalfCreatedSegment) {
  WriteSegmentFile(ValidSegmentWith([](SegmentHeader* h) { h->magic = 0; }));
  ExpectRefused("half-created");
}

TEST_F(ForeignSegmentTest, RefusesAnotherLayoutVersion) {
  WriteSegmentFile(
      ValidSegmentWith([](SegmentHeader* h) { h->layout_version = kLayoutVersion + 1; }));
  ExpectRefused("layout version " + std::to_string(kLayoutVersion + 1) + ", this build reads " +
                std::to_string(kLayoutVersion));
}

TEST_F(ForeignSegmentTest, RefusesInconsistentSizes) {
  WriteSegmentFile(ValidSegmentWith([](SegmentHeader* h) { h->capacity = 4096; }));
  ExpectRefused("inconsistent sizes (capacity 4096");
  WriteSegmentFile(ValidSegmentWith([](SegmentHeader* h) { h->capacity = 0; }));
  ExpectRefused("inconsistent sizes (capacity 0");
  WriteSegmentFile(ValidSegmentWith([](SegmentHeader* h) { h->record_size = 512; }));
  ExpectRefused("inconsistent sizes");
  WriteSegmentFile(ValidSegmentWith([](SegmentHeader* h) { h->total_size *= 2; }));
  ExpectRefused("inconsistent sizes");
}

TEST_F(ForeignSegmentTest, RefusesATruncatedSegment) {
  std::string bytes = ValidSegmentWith([](SegmentHeader*) {});
  bytes.resize(bytes.size() - 4096);
  WriteSegmentFile(bytes);
  ExpectRefused("inconsistent sizes");
}

TEST_F(ForeignSegmentTest, ClientRefusesAWorldWritableSegment) {
  WriteSegmentFile(ValidSegmentWith([](SegmentHeader*) {}), 0666);
  std::unique_ptr<Segment> attached;
  Status s = Segment::Attach(options_, &attached);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("writable by others"), std::string::npos) << s.message();
  // The supervisor refuses a mode other than its configuration's.
  s = Segment::OpenAsSupervisor(options_, &segment_);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("mode 0666"), std::string::npos) << s.message();
}

TEST_F(ForeignSegmentTest, SecondSupervisorIsRefused) {
  Open();
  std::unique_ptr<Segment> second;
  Status s = Segment::OpenAsSupervisor(options_, &second);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("another taskqd"), std::string::npos) << s.message();
  EXPECT_EQ(Segment::Remove(options_).code(), StatusCode::kFailed);
}

// --- A lock holder SIGKILLed inside a critical section ---

struct CrashCase {
  const char* point;
  bool child_task_survives;  // the child's task was complete (queued) when it died
};

void PrintTo(const CrashCase& c, std::ostream* os) { *os << c.point; }

class SegmentCrashTest : public SegmentTest, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(SegmentCrashTest, NextLockerRepairsAndNoTaskIsLostOrDuplicated) {
  const CrashCase c = GetParam();
  Open();
  std::vector<uint64_t> before = SubmitN(3);
  ASSERT_TRUE(RunChildKilledAt(c.point, [](Segment& s) {
    std::vector<uint64_t> ids;
    (void)s.Submit({Cpu(777), Cpu(778)}, &ids);
  }));
  EXPECT_EQ(segment_->header()->lock_repairs, 0u);
  // The next operation finds the holder dead, repairs, and goes on.
  StateCounts counts = segment_->Count();
  EXPECT_EQ(segment_->header()->lock_repairs, 1u);
  EXPECT_TRUE(segment_->Check().empty());
  EXPECT_EQ(counts.by_state[static_cast<int>(TaskState::kReserved)], 0u);

  std::vector<uint64_t> expected = before;
  if (c.child_task_survives) expected.push_back(before.back() + 1);
  std::vector<uint64_t> listed;
  for (const TaskInfo& info : segment_->List()) {
    EXPECT_EQ(info.state, TaskState::kQueued) << info.id();
    EXPECT_TRUE(info.spec_valid) << "task " << info.id() << " is half-written";
    listed.push_back(info.id());
  }
  EXPECT_EQ(listed, expected);

  // The queue keeps working: a new task gets a fresh id and everything pops once, in order.
  std::vector<uint64_t> after = SubmitN(1, 900);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_GT(after[0], expected.back());
  expected.push_back(after[0]);
  for (uint64_t id : expected) {
    ClaimedTask task;
    ASSERT_EQ(PopId(&task), id);
    if (id == before.back() + 1) {
      EXPECT_EQ(task.spec.cpu.seed, 777u);
    }
  }
  EXPECT_EQ(PopId(), 0u);
  EXPECT_EQ(segment_->header()->lock_repairs, 1u);
}

INSTANTIATE_TEST_SUITE_P(SubmitPoints, SegmentCrashTest,
                         ::testing::Values(CrashCase{"submit-reserved", false},
                                           CrashCase{"submit-written", false},
                                           CrashCase{"submit-queued", true}),
                         [](const auto& info) {
                           std::string name = info.param.point;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST_F(SegmentTest, RunnerKilledWhilePoppingLeavesTheTaskQueued) {
  Open();
  std::vector<uint64_t> ids = SubmitN(3);
  ASSERT_TRUE(RunChildKilledAt("pop-unlinked", [](Segment& s) {
    ClaimedTask task;
    (void)s.Pop(getpid(), &task);
  }));
  std::vector<TaskInfo> listed = segment_->List();
  EXPECT_EQ(segment_->header()->lock_repairs, 1u);
  EXPECT_TRUE(segment_->Check().empty());
  ASSERT_EQ(listed.size(), 3u);
  for (const TaskInfo& info : listed) {
    EXPECT_EQ(info.state, TaskState::kQueued);
    EXPECT_EQ(info.record.attempts, 0u);
  }
  // Each task is handed out exactly once, still in FIFO order: the one the dead runner had
  // unlinked goes back to the head of its list.
  std::vector<uint64_t> popped;
  for (uint64_t id; (id = PopId()) != 0;) popped.push_back(id);
  EXPECT_EQ(popped, ids);
}

TEST_F(SegmentTest, CrashPointIsReadInTheChildAfterTheParentPassedIt) {
  // The parent passes every submit crash point first (unset), then the child sets the variable:
  // the point must still fire in the child.
  Open();
  SubmitN(1);
  ASSERT_TRUE(RunChildKilledAt("submit-written", [](Segment& s) {
    std::vector<uint64_t> ids;
    (void)s.Submit({Cpu(1)}, &ids);
  }));
  segment_->Count();
  EXPECT_EQ(segment_->header()->lock_repairs, 1u);
}

}  // namespace
}  // namespace taskq::testing
