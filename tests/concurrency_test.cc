// Many submitters, one runner: a real taskqd with a single worker (pool) or a single task
// process at a time (process), four `taskq submit --batch -` clients running at once, thousands
// of tasks. Every task must run exactly once, and with one runner each client's tasks must start
// in the order that client submitted them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "common/segment.h"
#include "tests/test_util.h"

namespace taskq::testing {
namespace {

using nlohmann::json;

constexpr int kClients = 4;
constexpr int kBatchLines = 50;  // tasks per `taskq submit --batch -` run: many runs interleave

struct PolicyCase {
  const char* policy;
  int tasks;  // in total, over all clients
};

// The process policy starts a runner process (`taskqd --run-task`) per task, one at a time here:
// on a loaded 2-core machine about 50 ms per task (10,000 took 568 s), so it runs 2,000 tasks.
// The pool runs 10,000.
// Under AddressSanitizer every `taskq` and runner start costs ~10x more (a process-policy task
// ~0.7 s): the sanitizer run checks the same properties on a tenth of the tasks.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kPoolTasks = 1000;
constexpr int kProcessTasks = 200;
#else
constexpr int kPoolTasks = 10000;
constexpr int kProcessTasks = 2000;
#endif

// One submitting client: runs `taskq submit --batch -` again and again, kBatchLines tasks a
// time, and keeps the ids in the order it got them.
struct Client {
  std::vector<uint64_t> ids;
  std::string error;
};

void RunClient(Daemon& daemon, int client, int tasks, Client* out) {
  for (int first = 0; first < tasks && out->error.empty(); first += kBatchLines) {
    std::string batch;
    for (int i = first; i < std::min(tasks, first + kBatchLines); ++i) {
      batch += "cpu --count 1 --seed " + std::to_string(client * 1000000 + i) + "\n";
    }
    CommandResult r = daemon.Taskq({"submit", "--batch", "-"}, batch);
    if (r.exit_code != 0) {
      out->error = "client " + std::to_string(client) + ": exit " + std::to_string(r.exit_code) +
                   ": " + r.err;
      return;
    }
    std::istringstream lines(r.out);
    for (uint64_t id; lines >> id;) out->ids.push_back(id);
  }
}

void PrintTo(const PolicyCase& c, std::ostream* os) { *os << c.policy << " x " << c.tasks; }

class ConcurrencyTest : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(ConcurrencyTest, EveryTaskRunsOnceInEachClientsOrder) {
  const PolicyCase c = GetParam();
  const int per_client = c.tasks / kClients;
  const int total = per_client * kClients;
  Daemon daemon(std::string("policy: ") + c.policy +
                "\nworkers: 1\nmax_parallel: 1\ncapacity: 16384\nretention:\n  count: 20000\n"
                "shutdown_grace: 2s\nkill_grace: 1s\n");
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const auto started = std::chrono::steady_clock::now();

  // All clients start together.
  std::vector<Client> clients(kClients);
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::condition_variable go;
  bool ready = false;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      {
        std::unique_lock<std::mutex> lock(mutex);
        go.wait(lock, [&] { return ready; });
      }
      RunClient(daemon, i, per_client, &clients[i]);
    });
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    ready = true;
  }
  go.notify_all();
  for (std::thread& t : threads) t.join();
  const auto submitted = std::chrono::steady_clock::now();
  for (const Client& client : clients) ASSERT_EQ(client.error, "");

  std::unique_ptr<Segment> segment;
  ASSERT_TRUE(Segment::Attach(daemon.options(), &segment).ok());
  auto finished = [&] {
    StateCounts counts = segment->Count();
    uint64_t done = 0;
    for (uint32_t s = static_cast<uint32_t>(TaskState::kSucceeded); s < kTaskStateCount; ++s) {
      done += counts.by_state[s];
    }
    return done >= static_cast<uint64_t>(total);
  };
  ASSERT_TRUE(WaitUntil(finished, 900000)) << "tasks did not finish; log:\n" << daemon.log();
  const auto ran = std::chrono::steady_clock::now();
  auto seconds = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::printf(
      "[ figures  ] policy %s: %d tasks from %d clients: submitted in %.2f s, all done "
      "after %.2f s\n",
      c.policy, total, kClients, seconds(started, submitted), seconds(started, ran));

  CommandResult list = daemon.Taskq({"--json", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  json tasks = json::parse(list.out);
  ASSERT_TRUE(tasks.is_array());
  std::printf("[ figures  ] policy %s: daemon start %.2f s, `taskq list --json` %.2f s\n", c.policy,
              seconds(begin, started), seconds(ran, std::chrono::steady_clock::now()));
  ASSERT_EQ(tasks.size(), static_cast<size_t>(total));

  std::map<uint64_t, json> by_id;
  for (const json& task : tasks) {
    const uint64_t id = task.at("id").get<uint64_t>();
    ASSERT_TRUE(by_id.emplace(id, task).second) << "task " << id << " listed twice";
    ASSERT_EQ(task.at("state"), "succeeded") << task.dump();
    ASSERT_EQ(task.at("attempts"), 1) << task.dump();
    ASSERT_TRUE(task.at("started_at").is_number()) << task.dump();
  }
  std::set<uint64_t> submitted_ids;
  for (int i = 0; i < kClients; ++i) {
    const std::vector<uint64_t>& ids = clients[i].ids;
    ASSERT_EQ(ids.size(), static_cast<size_t>(per_client)) << "client " << i;
    uint64_t previous_start = 0;
    for (size_t n = 0; n < ids.size(); ++n) {
      ASSERT_TRUE(submitted_ids.insert(ids[n]).second) << "id " << ids[n] << " given twice";
      auto it = by_id.find(ids[n]);
      ASSERT_NE(it, by_id.end()) << "submitted task " << ids[n] << " is not listed";
      // The task is the one this client asked for.
      ASSERT_EQ(it->second.at("spec").at("seed"), static_cast<uint64_t>(i * 1000000 + n));
      const uint64_t start = it->second.at("started_at").get<uint64_t>();
      ASSERT_GE(start, previous_start) << "client " << i << ": task " << ids[n] << " (its " << n
                                       << "th) started before the one it submitted earlier";
      previous_start = start;
    }
  }
  EXPECT_EQ(submitted_ids.size(), by_id.size());
  // How often, in queue order, the next task came from another client: a figure (how much the
  // submitters interleaved depends on scheduling), not an assertion.
  std::map<uint64_t, int> client_of;
  for (int i = 0; i < kClients; ++i) {
    for (uint64_t id : clients[i].ids) client_of[id] = i;
  }
  int switches = 0;
  for (auto it = client_of.begin(); std::next(it) != client_of.end(); ++it) {
    switches += it->second != std::next(it)->second ? 1 : 0;
  }
  std::printf("[ figures  ] policy %s: the queue switched between clients %d times\n", c.policy,
              switches);
  // One runner: a task starts only after the one before it (in id order, the queue's order)
  // finished.
  uint64_t previous_finish = 0;
  for (const auto& [id, task] : by_id) {
    const uint64_t start = task.at("started_at").get<uint64_t>();
    ASSERT_GE(start, previous_finish) << "task " << id << " overlapped the task before it";
    previous_finish = task.at("finished_at").get<uint64_t>();
  }
  const auto checked = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon.Stop(), 0);
  std::printf("[ figures  ] policy %s: checks %.2f s, daemon stop %.2f s\n", c.policy,
              seconds(ran, checked), seconds(checked, std::chrono::steady_clock::now()));
}

INSTANTIATE_TEST_SUITE_P(Policies, ConcurrencyTest,
                         ::testing::Values(PolicyCase{"pool", kPoolTasks},
                                           PolicyCase{"process", kProcessTasks}),
                         [](const auto& info) { return std::string(info.param.policy); });

}  // namespace
}  // namespace taskq::testing
