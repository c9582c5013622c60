// Human and JSON output of tasks for the taskq commands.
#include <pwd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "client/cli.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "common/slurm_details.h"
#include "common/task_json.h"
#include "common/text.h"
#include "fmt/format.h"

namespace taskq::cli {

int Report(const Status& status) {
  std::fprintf(stderr, "taskq: %s\n", status.message().c_str());
  return status.exit_code();
}

std::unique_ptr<Client> ConnectOrReport(const GlobalArgs& global, int* code) {
  std::unique_ptr<Client> client;
  Status s = Client::Connect({global.queue, global.config}, &client);
  if (!s.ok()) {
    *code = Report(s);
    return nullptr;
  }
  return client;
}

// Local time, to the second: "2026-12-02 14:05:00".
std::string FormatEpochUs(uint64_t us) {
  const time_t seconds = static_cast<time_t>(us / 1000000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

std::string FormatDuration(uint64_t us) {
  if (us < 1000) return fmt::format("{} us", us);
  if (us < 1000000) return fmt::format("{:.1f} ms", us / 1000.0);
  if (us < 600000000) return fmt::format("{:.2f} s", us / 1e6);
  return fmt::format("{:.1f} min", us / 6e7);
}

std::string DescribeSpec(const TaskInfo& info) {
  if (!info.spec_valid) return "(corrupt spec)";
  const TaskSpec& s = info.spec;
  switch (s.kind) {
    case TaskKind::kCpu:
      return fmt::format("cpu --count {} --seed {}", s.cpu.count, s.cpu.seed);
    case TaskKind::kIo:
      return fmt::format("io --bytes {} --path {}{}", s.io.bytes,
                         ShellQuoteForDisplay(info.io_path()), s.io.fsync ? " --fsync" : "");
    case TaskKind::kExec: {
      std::string cmd;
      for (const auto& a : s.exec.argv) cmd += (cmd.empty() ? "" : " ") + ShellQuoteForDisplay(a);
      return "exec -- " + cmd;
    }
  }
  return "?";
}

namespace {

// A finished task's run time, paused time left out.
uint64_t RunUs(const TaskInfo& info) { return IsFinished(info.state) ? info.run_us(0) : 0; }

std::string Outcome(const TaskInfo& info) {
  const TaskRecord& r = info.record;
  if (info.state == TaskState::kSucceeded || info.state == TaskState::kFailed) {
    if (r.exit_code >= 0) return fmt::format("exit {}", r.exit_code);
  }
  if (r.signal != 0) return fmt::format("signal {}", r.signal);
  return "-";
}

}  // namespace

void PrintTaskBlock(const TaskInfo& info) {
  const TaskRecord& r = info.record;
  std::printf("id:          %llu\n", static_cast<unsigned long long>(r.id));
  std::printf("state:       %s%s\n", info.shown_state(),
              info.state == TaskState::kQueued && (r.flags & kFlagHeld) != 0
                  ? " (held: `taskq release` lets it run)"
              : info.paused() ? " (stopped: `taskq resume` lets it go on)"
                              : "");
  std::printf("spec:        %s\n", DescribeSpec(info).c_str());
  std::printf("outcome:     %s\n", Outcome(info).c_str());
  if (!info.reason().empty()) {
    std::printf("reason:      %s\n", EscapeControl(info.reason()).c_str());
  }
  if (r.started_at_us != 0 && r.started_at_us >= r.submitted_at_us) {
    std::printf("queue wait:  %s\n", FormatDuration(r.started_at_us - r.submitted_at_us).c_str());
  }
  if (r.paused_us != 0 || info.paused()) {
    std::printf("paused:      %s\n", FormatDuration(info.paused_us(NowUs())).c_str());
  }
  if (IsFinished(info.state) && RunUs(info) > 0) {
    std::printf("run time:    %s\n", FormatDuration(RunUs(info)).c_str());
    std::printf("cpu:         user %s, sys %s, max rss %llu KiB\n",
                FormatDuration(r.user_us).c_str(), FormatDuration(r.sys_us).c_str(),
                static_cast<unsigned long long>(r.max_rss_kb));
  }
  if (info.state == TaskState::kSucceeded && r.kind == static_cast<uint32_t>(TaskKind::kCpu)) {
    std::printf("result:      %llu numbers, checksum %016llx\n",
                static_cast<unsigned long long>(r.result_count),
                static_cast<unsigned long long>(r.result_checksum));
  }
  if (info.state == TaskState::kSucceeded && r.kind == static_cast<uint32_t>(TaskKind::kIo)) {
    std::printf("result:      %llu bytes to %s\n", static_cast<unsigned long long>(r.result_count),
                info.io_path().c_str());
  }
  if (r.kind == static_cast<uint32_t>(TaskKind::kExec)) {
    std::printf("logs:        %s, %s\n", info.stdout_path().c_str(), info.stderr_path().c_str());
  }
  SlurmDetails slurm;
  if ((r.flags & kFlagBatchJob) != 0 && r.child_pid > 0 &&
      FindSlurmDetails(info.state_dir, r.id, static_cast<uint32_t>(r.child_pid), &slurm)) {
    std::printf("slurm:       %s\n", EscapeControl(DescribeSlurmDetails(slurm)).c_str());
  }
  std::printf("runner pid:  %d\n", r.runner_pid);
  std::printf("attempts:    %u (retries allowed: %u, on %s)\n", r.attempts, r.max_retries,
              RetryOnText(r.retry_on).c_str());
  // How each attempt ended (the last kAttemptLog of them), when there was more than one.
  const uint32_t first = r.attempts > kAttemptLog ? r.attempts - kAttemptLog + 1 : 1;
  for (uint32_t n = first; r.attempts > 1 && n <= r.attempts; ++n) {
    const AttemptEntry& e = r.attempt_log[(n - 1) % kAttemptLog];
    if (e.state == 0 || e.state >= kTaskStateCount) continue;
    std::printf("  attempt %u: %s%s\n", n, TaskStateName(static_cast<TaskState>(e.state)),
                e.exit_code >= 0 ? fmt::format(" (exit {})", e.exit_code).c_str()
                : e.signal != 0  ? fmt::format(" (signal {})", e.signal).c_str()
                                 : "");
  }
  const struct passwd* who = getpwuid(r.submitter_uid);
  std::printf("submitter:   uid %u%s\n", r.submitter_uid,
              who != nullptr ? fmt::format(" ({})", who->pw_name).c_str() : "");
  std::printf("group:       %s, priority %u\n", info.group.c_str(), r.priority);
  if (r.after_count > 0) {
    std::string after;
    for (uint32_t i = 0; i < std::min(r.after_count, kMaxAfter); ++i) {
      after += (i == 0 ? "" : ",") + std::to_string(r.after[i]);
    }
    std::printf("after:       %s\n", after.c_str());
  }
  if (r.not_before_us != 0) {
    std::printf("not before:  %s\n", FormatEpochUs(r.not_before_us).c_str());
  }
  if (!info.spec.labels.empty() || !info.spec.unique.empty()) {
    std::string labels;
    std::vector<std::string> all = info.spec.labels;
    if (!info.spec.unique.empty()) all.push_back("unique=" + info.spec.unique);
    for (const std::string& label : all) {
      if (!labels.empty()) labels += ' ';
      labels += ShellQuoteForDisplay(label);
    }
    std::printf("labels:      %s\n", labels.c_str());
  }
  if ((r.flags & kFlagArray) != 0) {
    std::printf("array:       %llu, index %llu\n", static_cast<unsigned long long>(r.array_id),
                static_cast<unsigned long long>(r.array_index));
  }
}

void PrintTaskSummary(const TaskInfo& info) {
  std::string line = fmt::format("task {} {}", info.id(), info.shown_state());
  if (IsFinished(info.state) && RunUs(info) > 0) {
    line += " in " + FormatDuration(RunUs(info));
  }
  line += fmt::format(" ({})", Outcome(info));
  if (info.state != TaskState::kSucceeded && !info.reason().empty()) {
    line += ": " + info.reason();
  }
  std::printf("%s\n", line.c_str());
}

namespace {

// "12-04 20:40:01", local or UTC: the SUBMITTED column (its zone is in the header).
std::string FormatTableTime(uint64_t us, bool utc) {
  const time_t seconds = static_cast<time_t>(us / 1000000);
  std::tm tm{};
  if (utc) {
    gmtime_r(&seconds, &tm);
  } else {
    localtime_r(&seconds, &tm);
  }
  char text[32];
  std::strftime(text, sizeof(text), "%m-%d %H:%M:%S", &tm);
  return text;
}

std::string TableZone(bool utc) {
  if (utc) return "UTC";
  const time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char text[16];
  std::strftime(text, sizeof(text), "%Z", &tm);
  return text;
}

// Why a queued task has not started: held, waiting for tasks, or for a time; "-" when it is
// simply in line.
std::string WhyQueued(const TaskInfo& info, bool utc, uint64_t now_us) {
  const TaskRecord& r = info.record;
  std::vector<std::string> why;
  if ((r.flags & kFlagHeld) != 0) why.push_back("held");
  if (r.after_count > 0) {
    std::string after;
    for (uint32_t i = 0; i < std::min(r.after_count, kMaxAfter); ++i) {
      after += (i == 0 ? "" : ",") + std::to_string(r.after[i]);
    }
    why.push_back("after " + after);
  }
  if (r.not_before_us > now_us) why.push_back("at " + FormatTableTime(r.not_before_us, utc));
  std::string text;
  for (const std::string& part : why) text += (text.empty() ? "" : ", ") + part;
  return text.empty() ? "-" : text;
}

// The reason of an end other than success, cut to `width` (escaped: one line, no ESC).
std::string ShortReason(const TaskInfo& info, size_t width) {
  if (info.state == TaskState::kSucceeded || !IsFinished(info.state)) return "-";
  std::string reason = EscapeControl(info.reason());
  if (reason.empty()) return "-";
  if (reason.size() > width) reason = reason.substr(0, width - 3) + "...";
  return reason;
}

}  // namespace

void PrintTaskTable(const std::vector<TaskInfo>& tasks, bool utc) {
  const std::string submitted = fmt::format("SUBMITTED({})", TableZone(utc));
  std::printf("%-8s %-5s %-10s %-16s %-10s %-10s %-14s %-28s %-6s %s\n", "ID", "KIND", "STATE",
              submitted.c_str(), "WAIT", "RUN", "OUTCOME", "WHY/REASON", "UID", "SPEC");
  const uint64_t now = NowUs();
  for (const TaskInfo& info : tasks) {
    const TaskRecord& r = info.record;
    std::string wait = r.started_at_us >= r.submitted_at_us && r.started_at_us != 0
                           ? FormatDuration(r.started_at_us - r.submitted_at_us)
                           : "-";
    std::string run = IsFinished(info.state) && RunUs(info) > 0 ? FormatDuration(RunUs(info)) : "-";
    const std::string why =
        info.state == TaskState::kQueued ? WhyQueued(info, utc, now) : ShortReason(info, 28);
    std::printf("%-8llu %-5s %-10s %-16s %-10s %-10s %-14s %-28s %-6u %s\n",
                static_cast<unsigned long long>(info.id()),
                TaskKindName(static_cast<TaskKind>(r.kind)), info.shown_state(),
                FormatTableTime(r.submitted_at_us, utc).c_str(), wait.c_str(), run.c_str(),
                Outcome(info).c_str(), why.c_str(), r.submitter_uid, DescribeSpec(info).c_str());
  }
}

namespace {

// A Slurm task's job state, pending reason and node (common/slurm_details.h), when known.
nlohmann::json TaskWithSlurmDetails(const TaskInfo& info, SlurmDetailsFinder& finder) {
  nlohmann::json j = TaskToJson(info);
  SlurmDetails details;
  if (j.contains("slurm_job_id") &&
      finder.Find(info.state_dir, info.id(), j["slurm_job_id"].get<uint32_t>(), &details)) {
    j["slurm_state"] = details.state;
    j["slurm_reason"] = details.reason;
    j["slurm_node"] = details.node.empty() ? nlohmann::json() : nlohmann::json(details.node);
  }
  return j;
}

}  // namespace

void JsonResults::Add(nlohmann::json item) {
  if (lines_) {
    std::cout << JsonText(item) << std::endl;  // a stream: each result as it comes
  } else {
    items_.push_back(std::move(item));
  }
}

void JsonResults::Finish() {
  if (lines_ || (items_.empty() && !list_)) return;  // nothing to say: the errors went to stderr
  if (items_.size() == 1 && !list_) {
    std::cout << JsonText(items_[0]) << "\n";
  } else {
    std::cout << JsonText(items_) << "\n";
  }
  std::cout.flush();
}

void PrintJson(const GlobalArgs& global, const std::vector<TaskInfo>& tasks, bool as_array) {
  JsonResults out(global, as_array || tasks.size() != 1);
  SlurmDetailsFinder finder;  // one read of the pilots' nodes for the whole listing
  for (const TaskInfo& info : tasks) out.Add(TaskWithSlurmDetails(info, finder));
  out.Finish();
}

}  // namespace taskq::cli
