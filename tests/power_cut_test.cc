// The power-cut harness (issue 17). A real taskqd with `durability: sync` and a file segment
// serves submitters and waiters; at hundreds of random moments the test notes a cut: what had
// been acknowledged by then (ids printed by `submit`, results reported by `submit --wait`) and
// how far the journal was synced and written. The journal only grows between compactions (the
// load stays far below the compaction bound), so the disk's content at a cut is a prefix of
// the final file: every synced byte, then whatever part of the unsynced tail the disk happened
// to write (torn at a random byte, with a random page of it never written, followed by stale
// garbage). Each cut is then booted: a fresh state directory gets that journal beside a segment
// file with scrambled pages from "another boot", a new taskqd rebuilds the queue, and the test
// checks that every acknowledged task is there with its own spec, every acknowledged result is
// unchanged, no record is torn (each task is one that was submitted, whole), and `taskq doctor`
// finds the segment healthy.
//
// Two runs: `sync` (submits and results acknowledged) and `flush` with `submit --sync` (only those
// acknowledged, among unsynced noise). TASKQ_POWER_CUTS sets the cuts of each (default 200).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "common/journal.h"
#include "tests/fault_util.h"

namespace taskq::testing {
namespace {

constexpr int kSubmitters = 3;
constexpr int kSubmitsEach = 80;
constexpr uint64_t kNoiseCount = 50000;  // the noise submitter's counts: 50000..50019

struct Acknowledged {
  std::map<uint64_t, uint64_t> submits;     // id -> its cpu --count
  std::map<uint64_t, std::string> results;  // id -> the state `submit --wait` reported
};

struct Cut {
  Acknowledged acked;
  uint64_t synced = 0;   // journal entries on stable storage
  uint64_t written = 0;  // journal entries appended (some maybe on the disk, some not)
  uint32_t generation = 0;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

int CutCount() {
  const char* n = std::getenv("TASKQ_POWER_CUTS");
  return n != nullptr && std::atoi(n) > 0 ? std::atoi(n) : 200;
}

// The journal as the disk holds it after a power cut at `cut`.
std::string DiskAfterCut(const std::string& journal, uint64_t first_number, const Cut& cut,
                         std::mt19937_64& rng) {
  constexpr size_t kEntry = sizeof(JournalEntry);
  const size_t synced = (cut.synced + 1 - first_number) * kEntry;
  const size_t written = std::min(journal.size(), (cut.written + 1 - first_number) * kEntry);
  std::string disk = journal.substr(0, synced);
  if (written > synced) {
    // Some of the unsynced tail reached the disk: a prefix torn at any byte...
    std::string tail = journal.substr(synced, rng() % (written - synced + 1));
    // ...with a page of it the disk never wrote (zeros), now and then...
    if (tail.size() > 4096 && rng() % 3 == 0) {
      const size_t page = (rng() % (tail.size() / 4096)) * 4096;
      std::fill(tail.begin() + static_cast<long>(page),
                tail.begin() + static_cast<long>(page) + 4096, '\0');
    }
    disk += tail;
  }
  // ...and stale blocks after the end, half the time.
  if (rng() % 2 == 0) {
    const size_t garbage = 1 + rng() % 3000;
    for (size_t i = 0; i < garbage; ++i) disk.push_back(static_cast<char>(rng()));
  }
  return disk;
}

// A segment file the old boot left: the real one with some pages overwritten at random.
std::string ScrambledSegment(std::string segment, std::mt19937_64& rng) {
  for (int i = 0; i < 8 && segment.size() >= 4096; ++i) {
    const size_t page = (rng() % (segment.size() / 4096)) * 4096;
    for (size_t b = 0; b < 4096; ++b) segment[page + b] = static_cast<char>(rng());
  }
  return segment;
}

// How a run acknowledges: under `sync` every submit (its id printed) and every `submit --wait`
// (its result reported); under `flush` only `submit --sync`, while a noise submitter adds batches
// that are never synced on their own, so cuts find long unsynced tails.
struct Plan {
  std::string durability;
  bool noise = false;
};

void RunPowerCuts(const Plan& plan) {
  const std::string settings = FaultSettings(
      "pool", 2, "storage: file\ndurability: " + plan.durability + "\ncapacity: 8192\n");
  Daemon live(settings);
  live.SetEnv("TASKQ_TEST_BOOT_ID", "boot-live");
  ASSERT_TRUE(live.Start());
  std::unique_ptr<Segment> segment;
  ASSERT_TRUE(Segment::Attach(live.options(), &segment).ok());
  const SegmentHeader* header = segment->header();

  std::mutex mu;
  Acknowledged acked;
  std::atomic<int> submitters_left{kSubmitters};
  std::vector<std::thread> threads;
  std::atomic<bool> noise_stop{false};
  std::thread noise([&] {
    std::string batch;
    for (int i = 0; i < 20; ++i) batch += "cpu --count " + std::to_string(kNoiseCount + i) + "\n";
    while (plan.noise && !noise_stop.load()) {
      (void)live.Taskq({"submit", "--batch", "-"}, batch);
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
  });
  for (int t = 0; t < kSubmitters; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSubmitsEach; ++i) {
        const uint64_t count = 1000 + static_cast<uint64_t>(t * kSubmitsEach + i);
        const bool wait = plan.durability == "sync" && i % 2 == 1;
        Args args = {"--json", "submit"};
        if (wait) args.push_back("--wait");
        if (plan.durability != "sync") args.push_back("--sync");
        for (const char* a : {"cpu", "--count"}) args.push_back(a);
        args.push_back(std::to_string(count));
        const CommandResult r = live.Taskq(args);
        const json j = ParseJson(r.out);
        if (r.exit_code != 0 || !j.is_object() || !j.contains("id")) continue;  // checked below
        std::lock_guard<std::mutex> lock(mu);
        const auto id = j["id"].get<uint64_t>();
        acked.submits[id] = count;
        if (wait) acked.results[id] = j.value("state", "");
      }
      submitters_left--;
    });
  }
  // The cuts, while the load runs.
  std::vector<Cut> cuts;
  std::mt19937_64 rng(20261205);
  const size_t wanted = static_cast<size_t>(CutCount());
  while (submitters_left.load() > 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 10000));
    Cut cut;
    {
      std::lock_guard<std::mutex> lock(mu);
      cut.acked = acked;  // first what was acknowledged, then how far the journal was synced
    }
    cut.generation = header->journal_generation.load();
    cut.synced = header->journal_synced.load();
    cut.written = header->journal_entries.load();
    cuts.push_back(std::move(cut));
  }
  for (std::thread& t : threads) t.join();
  noise_stop = true;
  noise.join();
  ASSERT_EQ(acked.submits.size(), static_cast<size_t>(kSubmitters * kSubmitsEach))
      << "some submits failed: see the daemon's log\n"
      << live.log();
  ASSERT_EQ(live.Stop(), 0);
  const std::string journal = ReadFile(live.state_dir() + "/journal");
  const std::string old_segment = ReadFile(LocateSegment(live.options()).file_path);
  ASSERT_GE(journal.size(), sizeof(JournalEntry));
  JournalEntry first;
  std::memcpy(static_cast<void*>(&first), journal.data(), sizeof(first));
  ASSERT_TRUE(JournalEntryIntact(first));

  // Thin the cuts to the number wanted, evenly over the load (the first and the last kept).
  std::vector<Cut> chosen;
  for (size_t i = 0; i < wanted && !cuts.empty(); ++i) {
    chosen.push_back(cuts[i * (cuts.size() - 1) / std::max<size_t>(wanted - 1, 1)]);
  }
  uint64_t acked_submits_checked = 0;
  uint64_t acked_results_checked = 0;
  uint64_t unsynced_entries_max = 0;
  uint64_t cuts_with_unsynced_tail = 0;
  for (size_t c = 0; c < chosen.size(); ++c) {
    const Cut& cut = chosen[c];
    SCOPED_TRACE("cut " + std::to_string(c) + ": synced " + std::to_string(cut.synced) +
                 ", written " + std::to_string(cut.written));
    ASSERT_EQ(cut.generation, chosen.front().generation) << "the journal was compacted mid-load";
    ASSERT_LE(cut.synced, cut.written);
    ASSERT_GE(cut.synced + 1, first.number);
    unsynced_entries_max = std::max(unsynced_entries_max, cut.written - cut.synced);
    if (cut.written > cut.synced) ++cuts_with_unsynced_tail;
    std::mt19937_64 cut_rng(c);
    Daemon booted(settings);
    booted.SetEnv("TASKQ_TEST_BOOT_ID", "boot-after-cut-" + std::to_string(c));
    ASSERT_EQ(::mkdir(booted.state_dir().c_str(), 0700), 0);
    WriteFile(booted.state_dir() + "/journal", DiskAfterCut(journal, first.number, cut, cut_rng));
    WriteFile(LocateSegment(booted.options()).file_path, ScrambledSegment(old_segment, cut_rng));
    ASSERT_TRUE(booted.Start()) << booted.log();
    const json list = TaskqJson(booted, {"list"});
    ASSERT_TRUE(list.is_array()) << booted.log();
    std::map<uint64_t, json> found;
    for (const json& task : list) {
      const auto id = task["id"].get<uint64_t>();
      found[id] = task;
      // Not torn: each task is one of those submitted, whole (a cpu task of a count submitted).
      ASSERT_EQ(task.value("kind", ""), "cpu") << task.dump();
      const uint64_t count = task["spec"].value("count", uint64_t{0});
      ASSERT_TRUE((count >= 1000 && count < 1000 + kSubmitters * kSubmitsEach) ||
                  (count >= kNoiseCount && count < kNoiseCount + 20))
          << task.dump();
    }
    for (const auto& [id, count] : cut.acked.submits) {
      ASSERT_TRUE(found.count(id)) << "acknowledged task " << id << " is gone";
      EXPECT_EQ(found[id]["spec"].value("count", uint64_t{0}), count) << found[id].dump();
      ++acked_submits_checked;
    }
    for (const auto& [id, state] : cut.acked.results) {
      EXPECT_EQ(found[id].value("state", ""), state) << "task " << id << ": " << found[id].dump();
      ++acked_results_checked;
    }
    const CommandResult doctor = booted.Taskq({"doctor"});
    EXPECT_EQ(doctor.exit_code, 0) << Describe(doctor);
    if (::testing::Test::HasFailure()) break;
  }
  // The figures docs/RELIABILITY.md quotes.
  std::printf(
      "power cuts (durability %s): %zu booted; %llu acknowledged submits and %llu acknowledged "
      "results "
      "checked; %llu cuts with entries written but not synced, up to %llu\n",
      plan.durability.c_str(), chosen.size(),
      static_cast<unsigned long long>(acked_submits_checked),
      static_cast<unsigned long long>(acked_results_checked),
      static_cast<unsigned long long>(cuts_with_unsynced_tail),
      static_cast<unsigned long long>(unsynced_entries_max));
  EXPECT_GE(chosen.size(), std::min<size_t>(wanted, 100));
}

TEST(PowerCut, EveryAcknowledgedTaskAndResultSurvivesUnderSync) { RunPowerCuts({"sync", false}); }

TEST(PowerCut, EverySyncSubmitSurvivesUnderFlushWithLongUnsyncedTails) {
  RunPowerCuts({"flush", true});
}

}  // namespace
}  // namespace taskq::testing
