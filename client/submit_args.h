// The `submit KIND ...` grammar, shared by the command line and by `submit --batch`, whose lines
// use exactly the same syntax (e.g. `cpu --count 1000`, `exec --timeout 5 -- /bin/sleep 1`).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/task.h"

namespace taskq {

// What one `submit KIND ...` says: the task, and how to submit it.
struct SubmitArgs {
  TaskSpec spec;
  double timeout_s = -1;  // task run-time limit (and, with --block, the blocking limit)
  int64_t retries = -1;
  std::string retry_on;              // --retry-on lost,failed,timed_out
  std::string retry_delay;           // --retry-delay 1s or 1s..1m
  std::vector<std::string> command;  // exec: everything after --
  std::vector<std::string> env;      // exec: --env K=V
  std::string cwd;                   // exec: --cwd
  std::string kind;                  // which subcommand was given
  // Scheduling (issue 7).
  std::string group;            // --group NAME ("" = default)
  int64_t priority = -1;        // --priority 0..9 (-1 = default 5)
  std::vector<uint64_t> after;  // --after ID[,ID...]
  std::string delay;            // --delay DURATION
  std::string at;               // --at TIME
};

// "90", "1.5s", "500ms", "5m", "2h", "1d" -> microseconds. False on anything else.
bool ParseDurationUs(const std::string& text, uint64_t* us);
// "HH:MM[:SS]" (today, or tomorrow once passed), "YYYY-MM-DD[T| ]HH:MM[:SS]" (local time) or
// "@EPOCH_SECONDS" -> Unix epoch µs. False on anything else.
bool ParseAtTime(const std::string& text, uint64_t now_us, uint64_t* epoch_us);

// "5s" -> 5000, 0; "1s..1m" -> 1000, 60000 (doubling from the first up to the max).
Status ParseRetryDelay(const std::string& text, uint32_t* first_ms, uint32_t* max_ms);

// Adds the kind subcommands (cpu, io, exec) with their options to `submit`, filling `args`.
// How to submit (--wait, --block, --batch) is `submit`'s own business, not a kind's.
void AddKindSubcommands(CLI::App* submit, SubmitArgs* args);

// Turns parsed arguments into a validated TaskSpec (timeouts, retries, exec argv/env/cwd).
// `default_cwd` is used for exec tasks without --cwd (the submitter's working directory).
Status FinishSpec(SubmitArgs* args, const std::string& default_cwd);

// Removes the first "--" and everything after it from `words` (in order, program name first if
// any) and returns what followed: an exec task's command. Nothing after "--" is ever parsed as
// taskq's own option (`exec -- make -C src`, `exec -- sh -c CMD`).
std::vector<std::string> TakeCommandAfterDoubleDash(std::vector<std::string>* words);

// Splits a batch line into words: whitespace separates, single and double quotes group,
// backslash escapes. Fails on an unterminated quote.
Status SplitWords(const std::string& line, std::vector<std::string>* words);

// Parses batch lines ("cpu --count 5") into specs. Blank lines and '#' comments give
// `*skip = true`. One parser serves every line of a batch: building the CLI11 grammar costs far
// more than parsing a line with it (it dominated `submit --batch` of many tasks).
class BatchLineParser {
 public:
  BatchLineParser();
  Status Parse(const std::string& line, const std::string& default_cwd, TaskSpec* spec, bool* skip);
  // Parse() without its fast path: every line through the CLI11 grammar (tests compare the two).
  Status ParseWithGrammar(std::vector<std::string> words, const std::string& default_cwd,
                          TaskSpec* spec);

 private:
  // The common lines, `exec -- CMD ARGS...` and `cpu [--count N] [--seed N]`, without CLI11
  // (issue 18: a million simple lines a second); false = not such a line, use the grammar.
  bool ParseSimple(const std::vector<std::string>& words, const std::string& default_cwd,
                   TaskSpec* spec, Status* result);

  CLI::App app_{"batch line", "submit"};
  SubmitArgs args_;
};

// One line with a parser of its own.
Status ParseBatchLine(const std::string& line, const std::string& default_cwd, TaskSpec* spec,
                      bool* skip);

}  // namespace taskq
