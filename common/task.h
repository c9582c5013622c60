// TaskSpec is what a submitter asks for; TaskInfo is what a reader sees of a task. Both are plain
// values decoded from (and validated against) a TaskRecord in the segment, never pointers into it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/segment_format.h"
#include "common/status.h"

namespace taskq {

struct CpuSpec {
  uint64_t count = 1000000;  // pseudo-random numbers to append (the tutorial's list_append)
  uint64_t seed = 0;
};

struct IoSpec {
  uint64_t bytes = 64;    // the tutorial writes a short string
  std::string path;       // "" = <state_dir>/io/<id>.dat
  uint64_t block = 4096;  // write() size
  bool fsync = false;
};

struct ExecSpec {
  std::vector<std::string> argv;  // argv[0] is run as given: absolute, relative to cwd, or on PATH
  std::string cwd;                // "" = the daemon's state directory
  std::vector<std::string> env;   // extra K=V pairs, on top of the cleaned environment
};

struct TaskSpec {
  TaskKind kind = TaskKind::kCpu;
  CpuSpec cpu;
  IoSpec io;
  ExecSpec exec;
  std::optional<uint64_t> timeout_ms;  // unset = the daemon's default_timeout
  std::optional<uint32_t> retries;     // unset = the daemon's default_retries
  // --retry-on: the ends that are retried, bits 1 << TaskState (failed, timed_out, lost); 0 = lost.
  uint32_t retry_on = 0;
  uint32_t retry_delay_ms = 0;      // --retry-delay: before the next attempt
  uint32_t retry_delay_max_ms = 0;  // --retry-delay A..B: doubling from A up to B (0: constant)
  // Scheduling (issue 7).
  std::string group = "default";         // by name; Segment::Submit resolves it to a table row
  uint32_t priority = kDefaultPriority;  // 0..9, higher runs first
  uint64_t not_before_us = 0;            // Unix epoch µs; 0 = at once
  std::vector<uint64_t> after;           // ids that must have succeeded first (at most kMaxAfter)
  bool hold = false;                     // submitted held: runs only after `taskq release`
  // Labels (issue 16): KEY=VALUE strings for filters (`list --label K=V`).
  std::vector<std::string> labels;
  // `--unique KEY`: submitted only when no queued or running task has it (the label unique=KEY).
  std::string unique;
  // `--array` / `--each-line`: the array's first task (0 = the first array task of this submit
  // call, Segment::Submit fills it in) and this task's index; no index = not in an array.
  uint64_t array_id = 0;
  std::optional<uint64_t> array_index;
};

inline constexpr uint32_t kMaxLabels = 16;
inline constexpr size_t kMaxLabelKeyBytes = 32;
inline constexpr size_t kMaxLabelValueBytes = 128;
// "lost,failed,timed_out" -> retry_on bits. Fails naming --retry-on.
Status ParseRetryOn(const std::string& text, uint32_t* mask);
// retry_on bits -> "failed,timed_out,lost" (in that order).
std::string RetryOnText(uint32_t mask);

// "KEY=VALUE" with KEY of 1..32 of A-Z a-z 0-9 _ . - and VALUE of 0..128 printable bytes; the
// key `unique` is --unique's. Fails naming `field` (--label, --unique) and the fix.
Status CheckLabel(const std::string& label, const char* field);

inline constexpr uint64_t kMaxTimeoutMs = 3650ull * 24 * 3600 * 1000;  // ten years
inline constexpr uint32_t kMaxRetries = 100;

const char* TaskKindName(TaskKind kind);     // "cpu" | "io" | "exec"
const char* TaskStateName(TaskState state);  // "queued", "running", ...
bool ParseTaskState(const std::string& text, TaskState* state);

// Writes the spec into a record's spec fields (not id, state or times). Fails with a message that
// names the field when the spec does not fit a record or is malformed.
Status EncodeSpec(const TaskSpec& spec, TaskRecord* record);
// Reads the spec back out of a record that may have been scribbled on: every length, count and
// string is checked. Fails with a message naming the corrupt field.
Status DecodeSpec(const TaskRecord& record, TaskSpec* spec);

// Everything a reader may want to know about one task.
struct TaskInfo {
  TaskState state = TaskState::kFree;
  TaskRecord record{};
  TaskSpec spec;
  bool spec_valid = false;
  std::string state_dir;  // to locate logs and default io paths
  std::string group;      // the group's name ("" when its row is no longer in use)

  uint64_t id() const { return record.id; }
  std::string reason() const;
  std::string stdout_path() const;
  std::string stderr_path() const;
  std::string io_path() const;  // the file an io task writes
  // True while running but paused (`taskq pause`).
  bool paused() const;
  // The state as users read it: "paused" for a paused run, else TaskStateName(state).
  const char* shown_state() const;
  // The run's time so far (`now_us`) or in all, paused time left out; 0 before it started.
  uint64_t run_us(uint64_t now_us) const;
  // The time this run spent paused, the pause under way (to `now_us`) included.
  uint64_t paused_us(uint64_t now_us) const;
};

// How a group runs its tasks.
struct GroupSettings {
  Policy policy = Policy::kPool;
  uint32_t workers = 0;       // pool: processes; 0 = one per CPU
  uint32_t max_parallel = 0;  // process: tasks at once; 0 = unbounded
};

// A row of the group table as a reader sees it.
struct GroupInfo {
  uint32_t index = 0;
  std::string name;
  GroupSettings settings;
  bool paused = false;
  bool from_config = false;
};

// Paths of per-task files under the daemon's state directory. An exec task's output goes to
// logs/<id>.out|err; a task run more than once (retries, restarts) writes attempt N >= 2 to
// logs/<id>.<N>.out|err, and its first attempt gets the name <id>.1.out|err too (a hard link
// made when the second attempt starts), so every attempt's logs are kept.
std::string LogName(uint64_t id, uint32_t attempt, bool is_stderr);
std::string LogPath(const std::string& state_dir, uint64_t id, bool is_stderr,
                    uint32_t attempt = 1);
std::string DefaultIoPath(const std::string& state_dir, uint64_t id);

}  // namespace taskq
