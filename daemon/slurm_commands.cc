#include "daemon/slurm_commands.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/task_policy.h"
#include "daemon/task_runner.h"
#include "fmt/format.h"

namespace taskq {
namespace {

const char* const kFinalStates[] = {"COMPLETED",     "FAILED",    "CANCELLED",   "TIMEOUT",
                                    "NODE_FAIL",     "PREEMPTED", "BOOT_FAIL",   "DEADLINE",
                                    "OUT_OF_MEMORY", "REVOKED",   "SPECIAL_EXIT"};

std::vector<std::string> Split(const std::string& line, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(line);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

}  // namespace

std::string SlurmJobName(const std::string& queue) { return "taskq-" + queue; }

std::string SlurmTool(const SlurmOptions& options, const char* tool) {
  return options.bin_dir.empty() ? std::string(tool) : options.bin_dir + "/" + tool;
}

std::vector<std::string> SbatchArgv(const SlurmOptions& options, const std::string& queue,
                                    const SlurmJobRequest& job) {
  std::vector<std::string> argv = {SlurmTool(options, "sbatch"),
                                   "--parsable",
                                   "--job-name=" + SlurmJobName(queue),
                                   fmt::format("--comment=taskq task {}", job.task_id),
                                   "--output=" + job.stdout_path,
                                   "--error=" + job.stderr_path,
                                   "--chdir=" + job.cwd,
                                   "--export=ALL",
                                   "--no-requeue",  // taskq decides about retries, not Slurm
                                   "--ntasks=1",
                                   fmt::format("--cpus-per-task={}", options.cpus_per_task)};
  if (!options.partition.empty()) argv.push_back("--partition=" + options.partition);
  if (job.time_limit_ms > 0) argv.push_back("--time=" + SlurmTimeLimit(job.time_limit_ms));
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  argv.push_back("--wrap=exec " + ShellQuote(job.command));
  return argv;
}

std::vector<std::string> SqueueArgv(const SlurmOptions& options, const std::string& queue) {
  // Only this user's jobs of this queue, finished ones included (until MinJobAge purges them).
  return {SlurmTool(options, "squeue"),
          "--noheader",
          "--states=all",
          "--user=" + std::to_string(geteuid()),
          "--name=" + SlurmJobName(queue),
          "--Format=JobID:|,State:|,Reason:|,exit_code:|,StartTime:|,EndTime:|,NodeList:|"};
}

std::vector<std::string> ScancelArgv(const SlurmOptions& options,
                                     const std::vector<uint32_t>& job_ids) {
  std::vector<std::string> argv = {SlurmTool(options, "scancel")};
  for (uint32_t id : job_ids) argv.push_back(std::to_string(id));
  return argv;
}

bool ParseSbatchOutput(const std::string& text, uint32_t* job_id) {
  size_t i = text.find_first_not_of(" \n");
  if (i == std::string::npos) return false;
  uint64_t value = 0;
  size_t digits = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 10; ++i, ++digits) {
    value = value * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  if (digits == 0 || value == 0 || value > INT32_MAX) return false;
  if (i < text.size() && text[i] != ';' && text[i] != '\n') return false;
  *job_id = static_cast<uint32_t>(value);
  return true;
}

std::map<uint32_t, SlurmJobStatus> ParseSqueueOutput(const std::string& text) {
  std::map<uint32_t, SlurmJobStatus> jobs;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = Split(line, '|');
    if (f.size() < 7) continue;
    SlurmJobStatus job;
    if (!ParseSbatchOutput(f[0], &job.job_id)) continue;  // array/het ids are not taskq's
    job.state = f[1];
    job.reason = f[2];
    try {
      job.wait_status = std::stoi(f[3]);
    } catch (const std::exception&) {
      job.wait_status = 0;
    }
    job.start_us = ParseSlurmTimeUs(f[4]);
    job.end_us = ParseSlurmTimeUs(f[5]);
    job.nodes = f[6];
    jobs[job.job_id] = job;
  }
  return jobs;
}

uint64_t ParseSlurmTimeUs(const std::string& text) {
  tm parts{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &parts);
  if (end == nullptr || *end != '\0') return 0;
  parts.tm_isdst = -1;
  const time_t seconds = mktime(&parts);
  return seconds <= 0 ? 0 : static_cast<uint64_t>(seconds) * 1000000;
}

std::string SlurmTimeLimit(uint64_t ms) { return std::to_string((ms + 59999) / 60000); }

bool IsTransientSlurmError(const std::string& stderr_text) {
  for (const char* sign :
       {"Unable to contact slurm controller", "Socket timed out", "Connection refused",
        "Zero Bytes were transmitted", "temporarily unable", "Resource temporarily unavailable",
        "Communication connection failure", "Transport endpoint", "Connection timed out"}) {
    if (stderr_text.find(sign) != std::string::npos) return true;
  }
  return false;
}

std::string ShellQuote(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) {
    if (!out.empty()) out += ' ';
    out += '\'';
    for (char c : word) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    out += '\'';
  }
  return out;
}

bool IsFinalJobState(const std::string& state) {
  for (const char* final_state : kFinalStates) {
    if (state == final_state) return true;
  }
  return false;
}

bool ParseRunnerResult(const std::string& stdout_text, TaskOutcome* outcome) {
  size_t end = stdout_text.find_last_not_of(" \n");
  if (end == std::string::npos) return false;
  size_t begin = stdout_text.rfind('\n', end);
  begin = begin == std::string::npos ? 0 : begin + 1;
  const nlohmann::json j =
      nlohmann::json::parse(stdout_text.substr(begin, end + 1 - begin), nullptr, false);
  if (!j.is_object()) return false;
  auto number = [&](const char* key) -> uint64_t {
    return j.contains(key) && j[key].is_number_unsigned() ? j[key].get<uint64_t>() : 0;
  };
  if (j.contains("error") && j["error"].is_string()) {
    outcome->state = TaskState::kFailed;
    outcome->exit_code = 1;
    outcome->reason = j["error"].get<std::string>();
  }
  if (j.contains("checksum") && j["checksum"].is_string()) {
    try {
      outcome->result_checksum = std::stoull(j["checksum"].get<std::string>(), nullptr, 16);
    } catch (const std::exception&) {
      return false;
    }
  }
  outcome->result_count = number("count");
  outcome->user_us = number("user_us");
  outcome->sys_us = number("sys_us");
  outcome->max_rss_kb = number("max_rss_kb");
  outcome->read_bytes = number("read_bytes");
  outcome->write_bytes = number("write_bytes");
  outcome->vol_ctxsw = number("vol_ctxsw");
  outcome->invol_ctxsw = number("invol_ctxsw");
  return true;
}

SlurmJobRequest BuildSlurmJobRequest(const ClaimedTask& claimed, const Options& options,
                                     const std::string& runner, const std::string& state_dir) {
  SpawnRequest exec = BuildExecRequest(claimed, options);
  SlurmJobRequest job;
  job.task_id = claimed.record.id;
  job.cwd = exec.cwd;
  job.stdout_path = exec.stdout_path;
  job.stderr_path = exec.stderr_path;
  job.env = exec.env;
  // sbatch runs with the job's environment and needs the daemon's SLURM_CONF.
  for (const char* name : {"SLURM_CONF"}) {
    const char* value = std::getenv(name);
    const std::string prefix = std::string(name) + "=";
    const bool present = std::any_of(job.env.begin(), job.env.end(),
                                     [&](const auto& kv) { return kv.rfind(prefix, 0) == 0; });
    if (value != nullptr && !present) job.env.push_back(prefix + value);
  }
  const TaskSpec& spec = claimed.spec;
  if (spec.kind == TaskKind::kExec) {
    job.command = spec.exec.argv;
  } else if (spec.kind == TaskKind::kCpu) {
    job.command = {runner,    "cpu",
                   "--count", std::to_string(spec.cpu.count),
                   "--seed",  std::to_string(spec.cpu.seed)};
  } else {
    // A path the submitter chose is opened beneath io_root on the node too (--root: no "..",
    // symlink or mount point leads out); the default path is one taskqd made itself.
    std::string relative;
    const Status beneath = IoPathBeneathRoot(spec.io.path, options.io_root, &relative);
    if (!beneath.ok()) relative = spec.io.path;  // not reached: CheckBeforeRun refused it
    job.command = {runner,    "io",
                   "--bytes", std::to_string(spec.io.bytes),
                   "--block", std::to_string(spec.io.block)};
    if (relative.empty()) {
      job.command.insert(job.command.end(),
                         {"--path", DefaultIoPath(state_dir, claimed.record.id)});
    } else {
      job.command.insert(job.command.end(), {"--root", options.io_root, "--path", relative});
    }
    if (spec.io.fsync) job.command.push_back("--fsync");
  }
  // Slurm's limit is a backstop in whole minutes; taskq scancels at the deadline itself.
  job.time_limit_ms = claimed.record.timeout_ms > 0
                          ? claimed.record.timeout_ms + options.kill_grace_ms
                          : options.slurm.time_limit_ms;
  return job;
}

}  // namespace taskq
