// The Slurm command lines the `slurm` policy runs (sbatch, squeue, scancel) and the parsing of
// what they print. Pure functions: no process is started here (daemon/slurm_executor.cc does
// that), so tests can check every line and every parse without a cluster.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/segment.h"

namespace taskq {

// One job as `squeue -t all` reports it (SqueueArgv's format).
struct SlurmJobStatus {
  uint32_t job_id = 0;
  std::string state;      // PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, ...
  std::string reason;     // None, Priority, NonZeroExitCode, ...
  int wait_status = 0;    // the raw wait status: 768 = exit 3, 15 = killed by SIGTERM
  uint64_t start_us = 0;  // 0 when not started
  uint64_t end_us = 0;    // 0 when not finished
  std::string nodes;
};

// What a job is asked to run and with which limits.
struct SlurmJobRequest {
  std::vector<std::string> command;  // run with exec on the compute node
  std::vector<std::string> env;      // the job's complete environment (sbatch --export=ALL)
  std::string cwd;
  std::string stdout_path;
  std::string stderr_path;
  uint64_t time_limit_ms = 0;  // 0 = the partition's limit
  uint64_t task_id = 0;
};

// The job name every task of `queue` gets, so squeue can list exactly taskq's jobs.
std::string SlurmJobName(const std::string& queue);
// `bin_dir`/`tool`, or `tool` (found on PATH) when bin_dir is empty.
std::string SlurmTool(const SlurmOptions& options, const char* tool);

std::vector<std::string> SbatchArgv(const SlurmOptions& options, const std::string& queue,
                                    const SlurmJobRequest& job);
std::vector<std::string> SqueueArgv(const SlurmOptions& options, const std::string& queue);
std::vector<std::string> ScancelArgv(const SlurmOptions& options,
                                     const std::vector<uint32_t>& job_ids);

// The job that runs a claimed task: its argv (cpu/io: `runner` = taskq-run with the task's
// arguments), environment, cwd, log files and time limit. Pilots run the same request.
SlurmJobRequest BuildSlurmJobRequest(const ClaimedTask& claimed, const Options& options,
                                     const std::string& runner, const std::string& state_dir);

// `sbatch --parsable` prints "<id>" or "<id>;<cluster>".
bool ParseSbatchOutput(const std::string& text, uint32_t* job_id);
// One job per line of SqueueArgv's output; malformed lines are skipped.
std::map<uint32_t, SlurmJobStatus> ParseSqueueOutput(const std::string& text);
// "2026-12-02T12:04:11" in local time; 0 for N/A, NONE, Unknown and anything malformed.
uint64_t ParseSlurmTimeUs(const std::string& text);
// --time in whole minutes, rounded up (Slurm keeps time limits in minutes).
std::string SlurmTimeLimit(uint64_t ms);
// True when sbatch/squeue failed because the controller could not be reached (worth retrying),
// false when it refused the request (bad partition, bad option: retrying cannot help).
bool IsTransientSlurmError(const std::string& stderr_text);
// A command line as a POSIX shell word list: 'a' 'b c' 'it'\''s'.
std::string ShellQuote(const std::vector<std::string>& words);

// True for the states a job never leaves (COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, ...).
bool IsFinalJobState(const std::string& state);

// The result line taskq-run prints (one JSON object) into a task outcome; false when there is
// no such line. The last non-empty line of `stdout_text` is used.
bool ParseRunnerResult(const std::string& stdout_text, TaskOutcome* outcome);

}  // namespace taskq
